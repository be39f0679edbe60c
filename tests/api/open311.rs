//! Open311 GeoReport v2: every call in JSON and XML (the XML read with a real parser, element names
//! checked), the spec's error lists for hostile input, API keys (admin-only, revocable, rate
//! limited), and an independent Python client from PyPI.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wardline::auth::Role;

use crate::helpers::TestApp;

/// A raw answer: status, content type, body text.
pub struct Raw {
    pub status: StatusCode,
    content_type: String,
    retry_after: Option<String>,
    pub text: String,
}

impl Raw {
    fn json(&self) -> Value {
        assert!(
            self.content_type.starts_with("application/json"),
            "{} {}",
            self.content_type,
            self.text
        );
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }

    fn xml(&self) -> roxmltree::Document<'_> {
        assert!(
            self.content_type.starts_with("text/xml"),
            "{} {}",
            self.content_type,
            self.text
        );
        roxmltree::Document::parse(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }

    /// The spec's error list in JSON, with this status as every code.
    fn assert_json_error(&self, status: u16) -> Vec<String> {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        let v = self.json();
        let list = v.as_array().unwrap_or_else(|| panic!("not a list: {v}"));
        assert!(!list.is_empty());
        list.iter()
            .map(|e| {
                assert_eq!(e["code"], status, "{v}");
                assert_eq!(e.as_object().unwrap().len(), 2, "{v}");
                e["description"].as_str().unwrap().to_string()
            })
            .collect()
    }

    /// The spec's error list in XML: `<errors><error><code/><description/></error></errors>`.
    fn assert_xml_error(&self, status: u16) -> Vec<String> {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        let doc = self.xml();
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "errors");
        let errors: Vec<_> = root.children().filter(|n| n.is_element()).collect();
        assert!(!errors.is_empty());
        errors
            .iter()
            .map(|e| {
                assert_eq!(e.tag_name().name(), "error");
                assert_eq!(names(e), ["code", "description"]);
                assert_eq!(child_text(e, "code"), status.to_string());
                child_text(e, "description")
            })
            .collect()
    }
}

/// Element children's names, in order.
fn names(n: &roxmltree::Node) -> Vec<String> {
    n.children()
        .filter(|c| c.is_element())
        .map(|c| c.tag_name().name().to_string())
        .collect()
}

fn child<'a, 'i>(n: &roxmltree::Node<'a, 'i>, name: &str) -> roxmltree::Node<'a, 'i> {
    n.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
        .unwrap_or_else(|| panic!("no <{name}> in <{}>", n.tag_name().name()))
}

fn child_text(n: &roxmltree::Node, name: &str) -> String {
    child(n, name).text().unwrap_or("").to_string()
}

/// The element children of the root, checking the root's and the items' names.
fn items<'a, 'i>(
    doc: &'a roxmltree::Document<'i>,
    root: &str,
    item: &str,
) -> Vec<roxmltree::Node<'a, 'i>> {
    let r = doc.root_element();
    assert_eq!(r.tag_name().name(), root);
    let out: Vec<_> = r.children().filter(|c| c.is_element()).collect();
    for c in &out {
        assert_eq!(c.tag_name().name(), item);
    }
    out
}

async fn raw(app: &TestApp, method: Method, path: &str, form: Option<&[(&str, &str)]>) -> Raw {
    let mut req = app.client.request(method, app.url(path));
    if let Some(pairs) = form {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs.iter())
            .finish();
        req = req
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
    }
    let r = req.send().await.unwrap();
    let header = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    Raw {
        status: r.status(),
        content_type: header("content-type").unwrap_or_default(),
        retry_after: header("retry-after"),
        text: r.text().await.unwrap(),
    }
}

async fn get(app: &TestApp, path: &str) -> Raw {
    raw(app, Method::GET, path, None).await
}

pub async fn post(app: &TestApp, path: &str, form: &[(&str, &str)]) -> Raw {
    raw(app, Method::POST, path, Some(form)).await
}

/// An admin issues a key to a client app; returns (admin token, client id, key).
pub async fn issue_key(app: &TestApp, admin_phone: &str) -> (String, String, String) {
    let (_, admin) = app.member(Role::Admin, admin_phone).await;
    let r = app
        .post(
            "/v1/admin/open311/clients",
            Some(&admin),
            json!({ "name": "FixMyStreet Việt Nam", "contact": "ops@example.org" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let key = r.body["api_key"].as_str().unwrap().to_string();
    let id = r.body["client"]["id"].as_str().unwrap().to_string();
    (admin, id, key)
}

/// A category asking one question of every Open311 datatype.
async fn survey_category(app: &TestApp, admin: &str) {
    let q = |key: &str, kind: &str, required: bool, choices: &[&str]| {
        json!({ "key": key, "label_vi": format!("Câu {key}"), "label_en": format!("Question {key}"),
                "kind": kind, "required": required, "choices": choices })
    };
    let r = app
        .post(
            "/v1/admin/categories",
            Some(admin),
            json!({
                "code": "survey", "name_vi": "Khảo sát", "name_en": "Survey", "group": "other",
                "questions": [
                    q("plate", "string", false, &[]),
                    q("count", "number", true, &[]),
                    q("seen_at", "datetime", false, &[]),
                    q("details", "text", false, &[]),
                    q("size", "single_choice", true, &["small", "large"]),
                    q("kinds", "multi_choice", false, &["glass", "metal", "paper"]),
                ]
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

const REQUEST_FIELDS: [&str; 17] = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
];

#[tokio::test]
async fn every_call_round_trips_in_json_and_xml() {
    let app = TestApp::spawn().await;
    let (admin, _, key) = issue_key(&app, "0960000001").await;
    survey_category(&app, &admin).await;

    // discovery
    let d = get(&app, "/open311/v2/discovery.json").await.json();
    assert_eq!(
        d["endpoints"][0]["formats"],
        json!(["text/xml", "application/json"])
    );
    assert!(
        d["endpoints"][0]["url"]
            .as_str()
            .unwrap()
            .ends_with("/open311/v2")
    );
    let x = get(&app, "/open311/v2/discovery.xml").await;
    let doc = x.xml();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "discovery");
    assert_eq!(
        names(&root),
        ["changeset", "contact", "key_service", "endpoints"]
    );
    let endpoint = child(&child(&root, "endpoints"), "endpoint");
    assert_eq!(names(&child(&endpoint, "formats")), ["format", "format"]);

    // services
    let s = get(&app, "/open311/v2/services.json").await.json();
    let list = s.as_array().unwrap();
    let survey = list.iter().find(|s| s["service_code"] == "survey").unwrap();
    assert_eq!(survey["metadata"], true);
    assert_eq!(survey["type"], "realtime");
    let pothole = list
        .iter()
        .find(|s| s["service_code"] == "pavement_damage")
        .unwrap();
    assert_eq!(pothole["metadata"], false);
    let x = get(&app, "/open311/v2/services.xml").await;
    let doc = x.xml();
    let services = items(&doc, "services", "service");
    assert_eq!(services.len(), list.len());
    assert_eq!(
        names(&services[0]),
        [
            "service_code",
            "service_name",
            "description",
            "metadata",
            "type",
            "keywords",
            "group"
        ]
    );
    assert!(
        services
            .iter()
            .any(|s| child_text(s, "service_code") == "survey"
                && child_text(s, "metadata") == "true")
    );

    // service definition
    let def = get(&app, "/open311/v2/services/survey.json").await.json();
    assert_eq!(def["service_code"], "survey");
    let types: Vec<&str> = def["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["datatype"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "string",
            "number",
            "datetime",
            "text",
            "singlevaluelist",
            "multivaluelist"
        ]
    );
    assert_eq!(
        def["attributes"][4]["values"],
        json!([{ "key": "small", "name": "small" }, { "key": "large", "name": "large" }])
    );
    assert_eq!(def["attributes"][1]["required"], true);
    let x = get(&app, "/open311/v2/services/survey.xml").await;
    let doc = x.xml();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "service_definition");
    assert_eq!(names(&root), ["service_code", "attributes"]);
    let attrs: Vec<_> = child(&root, "attributes")
        .children()
        .filter(|c| c.is_element())
        .collect();
    assert_eq!(attrs.len(), 6);
    assert!(attrs.iter().all(|a| a.tag_name().name() == "attribute"));
    assert_eq!(
        names(&attrs[5]),
        [
            "variable",
            "code",
            "datatype",
            "required",
            "datatype_description",
            "order",
            "description",
            "values"
        ]
    );
    let values: Vec<_> = child(&attrs[5], "values")
        .children()
        .filter(|c| c.is_element())
        .collect();
    assert_eq!(values.len(), 3);
    assert_eq!(names(&values[0]), ["key", "name"]);
    assert_eq!(child_text(&values[2], "key"), "paper");

    // create, in both formats, with every kind of attribute
    let form = |desc: &'static str| -> Vec<(&'static str, &'static str)> {
        vec![
            ("service_code", "survey"),
            ("lat", "10.7769"),
            ("long", "106.7009"),
            ("address_string", "12 Lê Lợi"),
            ("description", desc),
            ("email", "secret.reporter@example.org"),
            ("first_name", "Nguyễn"),
            ("last_name", "Bí Mật"),
            ("phone", "+84 912 345 678"),
            ("media_url", "https://photos.example.org/p/1.jpg"),
            ("attribute[plate]", "59-X1 123.45"),
            ("attribute[count]", "3"),
            ("attribute[seen_at]", "2026-05-01T08:00:00+07:00"),
            ("attribute[details]", "Nhiều dòng\nchi tiết"),
            ("attribute[size]", "large"),
            ("attribute[kinds][]", "glass"),
            ("attribute[kinds][]", "metal"),
        ]
    };
    let mut f = form("Rác thải chất đống ở góc đường");
    f.push(("api_key", &key));
    let created = post(&app, "/open311/v2/requests.json", &f).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    let c = created.json();
    let id1 = c[0]["service_request_id"].as_str().unwrap().to_string();
    let token1 = c[0]["token"].as_str().unwrap().to_string();
    assert_eq!(
        c[0].as_object().unwrap().keys().collect::<Vec<_>>().len(),
        4
    );
    assert!(c[0]["service_notice"].is_null());

    let mut f = form("Thêm một đống rác gần đó");
    f.push(("api_key", &key));
    let created = post(&app, "/open311/v2/requests.xml", &f).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    let doc = created.xml();
    let reqs = items(&doc, "service_requests", "request");
    assert_eq!(
        names(&reqs[0]),
        [
            "service_request_id",
            "token",
            "service_notice",
            "account_id"
        ]
    );
    let id2 = child_text(&reqs[0], "service_request_id");
    // The same service nearby and open: named as a possible duplicate.
    assert!(
        child_text(&reqs[0], "service_notice").contains(&id1),
        "{}",
        created.text
    );

    // It is a real report, channel open311, with typed answers, for staff to handle.
    let staff_view = app.get(&format!("/v1/reports/{id1}"), Some(&admin)).await;
    assert_eq!(staff_view.status, StatusCode::OK);
    let report = &staff_view.body["report"];
    assert_eq!(report["channel"], "open311");
    assert_eq!(report["category_code"], "survey");
    assert_eq!(
        report["answers"],
        json!({ "count": 3.0, "details": "Nhiều dòng\nchi tiết", "kinds": ["glass", "metal"],
                 "plate": "59-X1 123.45", "seen_at": "2026-05-01T08:00:00+07:00", "size": "large" })
    );
    assert!(report["reporter"].is_null());
    let internal = staff_view.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["internal"] == true)
        .expect("the contact note, for staff");
    assert!(
        internal["note"]
            .as_str()
            .unwrap()
            .contains("secret.reporter@example.org")
    );
    // …which the public never sees.
    let public_view = app.get(&format!("/v1/reports/{id1}"), None).await;
    assert!(!public_view.body.to_string().contains("secret.reporter"));

    // tokens
    let t = get(&app, &format!("/open311/v2/tokens/{token1}.json"))
        .await
        .json();
    assert_eq!(t, json!([{ "service_request_id": id1, "token": token1 }]));
    let x = get(&app, &format!("/open311/v2/tokens/{token1}.xml")).await;
    let doc = x.xml();
    let reqs = items(&doc, "service_requests", "request");
    assert_eq!(names(&reqs[0]), ["service_request_id", "token"]);
    assert_eq!(child_text(&reqs[0], "service_request_id"), id1);

    // Staff handle the first: receive, then reject with a public reason.
    for body in [
        json!({ "action": "receive" }),
        json!({ "action": "reject", "reason": "Không thuộc thẩm quyền của phường" }),
    ] {
        let r = app
            .post(
                &format!("/v1/staff/reports/{id1}/transition"),
                Some(&admin),
                body,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }

    // one request
    let one = get(&app, &format!("/open311/v2/requests/{id1}.json"))
        .await
        .json();
    let r = &one[0];
    let keys: Vec<&str> = r.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    let mut expected = REQUEST_FIELDS.to_vec();
    expected.sort();
    let mut got = keys.clone();
    got.sort();
    assert_eq!(got, expected);
    assert_eq!(r["status"], "closed");
    assert_eq!(r["status_notes"], "Không thuộc thẩm quyền của phường");
    assert_eq!(r["service_code"], "survey");
    assert_eq!(r["lat"], 10.7769);
    assert_eq!(r["long"], 106.7009);
    assert!(
        r["requested_datetime"]
            .as_str()
            .unwrap()
            .ends_with("+07:00")
    );
    assert!(r["expected_datetime"].as_str().unwrap().ends_with("+07:00"));
    assert!(r.get("extended_attributes").is_none());
    let x = get(&app, &format!("/open311/v2/requests/{id2}.xml")).await;
    let doc = x.xml();
    let reqs = items(&doc, "service_requests", "request");
    assert_eq!(reqs.len(), 1);
    assert_eq!(names(&reqs[0]), REQUEST_FIELDS);
    assert_eq!(child_text(&reqs[0], "status"), "open");
    assert_eq!(child_text(&reqs[0], "service_request_id"), id2);
    // Reporter identity never appears, in either format.
    for text in [&x.text, &one.to_string()] {
        for secret in ["secret.reporter", "Bí Mật", "912 345", "photos.example.org"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
    }

    // search, with extensions
    let all = get(
        &app,
        "/open311/v2/requests.json?service_code=survey&extensions=true",
    )
    .await
    .json();
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["service_request_id"], id2.as_str(), "newest first");
    let ext = &all[1]["extended_attributes"];
    assert_eq!(ext["detailed_status"], "rejected");
    assert_eq!(ext["extended_status"], "NO_FURTHER_ACTION");
    assert_eq!(ext["channel"], "open311");
    let notes = all[1]["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 3, "{notes:?}");
    assert_eq!(notes[2]["status"], "rejected");
    let closed = get(&app, "/open311/v2/requests.json?status=closed")
        .await
        .json();
    assert_eq!(closed.as_array().unwrap().len(), 1);
    let open = get(
        &app,
        "/open311/v2/requests.json?status=open&service_code=survey",
    )
    .await
    .json();
    assert_eq!(open[0]["service_request_id"], id2.as_str());
    let by_ids = get(
        &app,
        &format!("/open311/v2/requests.json?service_request_id={id1},{id2}&status=open"),
    )
    .await
    .json();
    assert_eq!(by_ids.as_array().unwrap().len(), 2, "ids override status");
    let page2 = get(
        &app,
        "/open311/v2/requests.json?service_code=survey&page_size=1&page=2",
    )
    .await
    .json();
    assert_eq!(page2[0]["service_request_id"], id1.as_str());
    let near = get(
        &app,
        "/open311/v2/requests.json?lat=10.7769&long=106.7009&radius=50",
    )
    .await
    .json();
    assert_eq!(near.as_array().unwrap().len(), 2);
    let far = get(
        &app,
        "/open311/v2/requests.json?lat=21.0&long=105.8&radius=50",
    )
    .await
    .json();
    assert_eq!(far.as_array().unwrap().len(), 0);
    let future = urlencoded(&(app.state.clock.now() + chrono::Duration::hours(1)).to_rfc3339());
    let none = get(
        &app,
        &format!("/open311/v2/requests.json?updated_after={future}"),
    )
    .await
    .json();
    assert_eq!(none, json!([]));
    let x = get(
        &app,
        "/open311/v2/requests.xml?extensions=true&service_code=survey",
    )
    .await;
    let doc = x.xml();
    let reqs = items(&doc, "service_requests", "request");
    assert_eq!(reqs.len(), 2);
    let mut with_ext = REQUEST_FIELDS.to_vec();
    with_ext.extend(["extended_attributes", "notes"]);
    assert_eq!(names(&reqs[1]), with_ext);
    let ext = child(&reqs[1], "extended_attributes");
    assert_eq!(child_text(&ext, "detailed_status"), "rejected");
    assert_eq!(names(&child(&ext, "photos")), Vec::<String>::new());
    let notes = child(&reqs[1], "notes");
    assert_eq!(names(&notes), ["note", "note", "note"]);
    assert_eq!(
        names(&child(&notes, "note")),
        ["datetime", "type", "status", "summary"]
    );

    // updates: the public history, then a comment from the app
    let u = get(&app, "/open311/v2/servicerequestupdates.json")
        .await
        .json();
    let u = u.as_array().unwrap();
    let statuses: Vec<&str> = u
        .iter()
        .filter(|e| e["service_request_id"] == id1.as_str())
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["OPEN", "INVESTIGATING", "NO_FURTHER_ACTION"]);
    let x = get(&app, "/open311/v2/servicerequestupdates.xml").await;
    let doc = x.xml();
    let ups = items(&doc, "service_request_updates", "request_update");
    assert_eq!(ups.len(), u.len());
    assert_eq!(
        names(&ups[0]),
        [
            "update_id",
            "service_request_id",
            "status",
            "updated_datetime",
            "description",
            "media_url"
        ]
    );
    let c = post(
        &app,
        "/open311/v2/servicerequestupdates.json",
        &[
            ("api_key", &key),
            ("service_request_id", &id2),
            ("description", "Hôm nay rác vẫn còn"),
        ],
    )
    .await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    assert!(c.json()[0]["update_id"].is_string());
    let c = post(
        &app,
        "/open311/v2/servicerequestupdates.xml",
        &[
            ("api_key", &key),
            ("service_request_id", &id2),
            ("description", "Thêm ảnh sau"),
        ],
    )
    .await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    let doc = c.xml();
    let ups = items(&doc, "service_request_updates", "request_update");
    assert_eq!(names(&ups[0]), ["update_id"]);
    let staff_view = app.get(&format!("/v1/reports/{id2}"), Some(&admin)).await;
    assert!(
        staff_view.body["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "comment" && e["note"] == "Hôm nay rác vẫn còn")
    );
    // A closed request takes no more comments.
    let late = post(
        &app,
        "/open311/v2/servicerequestupdates.json",
        &[
            ("api_key", &key),
            ("service_request_id", &id1),
            ("description", "Còn không?"),
        ],
    )
    .await;
    late.assert_json_error(400);

    // English on request.
    let en = app
        .client
        .get(app.url("/open311/v2/services.json"))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert!(
        en.as_array()
            .unwrap()
            .iter()
            .any(|s| s["service_name"] == "Survey")
    );
}

fn urlencoded(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn hostile_input_gets_the_spec_error_list_in_the_asked_format() {
    let app = TestApp::spawn().await;
    let (admin, client_id, key) = issue_key(&app, "0960000011").await;
    let ok_form = |extra: &[(&'static str, String)]| -> Vec<(&'static str, String)> {
        let mut f = vec![
            ("api_key", key.clone()),
            ("service_code", "street_light".to_string()),
            ("lat", "10.7769".to_string()),
            ("long", "106.7009".to_string()),
            ("description", "Đèn đường chập chờn".to_string()),
            ("attribute[state]", "flickering".to_string()),
        ];
        for (k, v) in extra {
            f.retain(|(name, _)| name != k);
            f.push((k, v.clone()));
        }
        f
    };
    let send = |f: Vec<(&'static str, String)>, xml: bool| {
        let app = &app;
        async move {
            let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let path = if xml {
                "/open311/v2/requests.xml"
            } else {
                "/open311/v2/requests.json"
            };
            post(app, path, &pairs).await
        }
    };
    let check = |r: Raw, xml: bool, status: u16| -> String {
        if xml {
            r.assert_xml_error(status).join(" | ")
        } else {
            r.assert_json_error(status).join(" | ")
        }
    };

    for xml in [false, true] {
        // missing api_key: 403
        let mut f = ok_form(&[]);
        f.retain(|(k, _)| *k != "api_key");
        let d = check(send(f, xml).await, xml, 403);
        assert!(d.contains("api_key"), "{d}");
        // a made-up key: 403
        check(
            send(ok_form(&[("api_key", "o311_nope".into())]), xml).await,
            xml,
            403,
        );
        // unknown service: 404
        check(
            send(ok_form(&[("service_code", "no_such".into())]), xml).await,
            xml,
            404,
        );
        // malformed and out-of-range coordinates, NaN: 400
        for (k, v) in [
            ("lat", "ten"),
            ("long", "106,70"),
            ("lat", "NaN"),
            ("lat", "91"),
            ("long", "inf"),
            ("lat", "1e400"),
            ("long", ""),
        ] {
            let d = check(send(ok_form(&[(k, v.into())]), xml).await, xml, 400);
            assert!(d.contains("lat") || d.contains("long"), "{k}={v}: {d}");
        }
        // description over 4000 characters: 400
        let d = check(
            send(ok_form(&[("description", "ổ".repeat(4001))]), xml).await,
            xml,
            400,
        );
        assert!(d.contains("description"), "{d}");
        // a required attribute missing, an unknown one, a value not in the list, a bad key
        for (k, v) in [
            ("attribute[state]", ""),
            ("attribute[colour]", "red"),
            ("attribute[state]", "exploded"),
            ("attribute[state", "x"),
        ] {
            let mut f = ok_form(&[(k, v.into())]);
            if v.is_empty() {
                f.retain(|(name, _)| *name != "attribute[state]");
            }
            let d = check(send(f, xml).await, xml, 400);
            assert!(d.contains("attribute"), "{k}={v}: {d}");
        }
        // bad contact fields and media_url
        for (k, v) in [
            ("email", "not-an-email"),
            ("phone", "call me maybe"),
            ("media_url", "javascript:alert(1)"),
            ("first_name", "a\u{0}b"),
        ] {
            let d = check(send(ok_form(&[(k, v.into())]), xml).await, xml, 400);
            assert!(d.contains(k), "{k}: {d}");
        }
        // a photo-only service without media_url
        let d = check(
            send(ok_form(&[("service_code", "pavement_damage".into())]), xml).await,
            xml,
            400,
        );
        assert!(d.contains("media_url"), "{d}");
        // start_date after end_date
        let ext = if xml { "xml" } else { "json" };
        let r = get(
            &app,
            &format!(
                "/open311/v2/requests.{ext}?start_date=2026-05-02T00:00:00Z&end_date=2026-05-01T00:00:00Z"
            ),
        )
        .await;
        assert!(check(r, xml, 400).contains("start_date"));
        for q in [
            "start_date=yesterday",
            "status=pending",
            "extensions=maybe",
            "page_size=0",
            "page=-1",
            "page=99999999999999999999",
            "lat=10.7&long=106.7&radius=nan",
            "service_request_id=%00",
            "lat=10.7&radius=5",
            "lat=10.7&long=106.7&radius=-1",
            "service_request_id=not-a-uuid",
            "updated_after=2026-05-02T00:00:00Z&updated_before=2026-05-01T00:00:00Z",
        ] {
            check(
                get(&app, &format!("/open311/v2/requests.{ext}?{q}")).await,
                xml,
                400,
            );
        }
        check(
            get(
                &app,
                &format!("/open311/v2/requests.{ext}?service_code=nope"),
            )
            .await,
            xml,
            404,
        );
        let r = get(
            &app,
            &format!(
                "/open311/v2/servicerequestupdates.{ext}?start_date=2026-05-02&end_date=2026-05-01"
            ),
        )
        .await;
        check(r, xml, 400);
        // ids and tokens
        check(
            get(&app, &format!("/open311/v2/requests/nope.{ext}")).await,
            xml,
            400,
        );
        check(
            get(
                &app,
                &format!("/open311/v2/requests/{}.{ext}", uuid::Uuid::now_v7()),
            )
            .await,
            xml,
            404,
        );
        check(
            get(&app, &format!("/open311/v2/tokens/nope.{ext}")).await,
            xml,
            404,
        );
        check(
            get(
                &app,
                &format!("/open311/v2/tokens/{}.{ext}", "t".repeat(5000)),
            )
            .await,
            xml,
            404,
        );
        check(
            get(&app, &format!("/open311/v2/requests/%00%FF.{ext}")).await,
            xml,
            400,
        );
        check(
            get(&app, &format!("/open311/v2/services/no_such.{ext}")).await,
            xml,
            404,
        );
        // an unknown resource under /open311/: 404 in the spec's shape
        check(
            get(&app, &format!("/open311/v2/nothing.{ext}")).await,
            xml,
            404,
        );
        // a JSON body instead of the form
        let r = app
            .client
            .post(app.url(&format!("/open311/v2/requests.{ext}")))
            .json(&json!({ "api_key": key }))
            .send()
            .await
            .unwrap();
        let r = Raw {
            status: r.status(),
            content_type: r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string(),
            retry_after: None,
            text: r.text().await.unwrap(),
        };
        check(r, xml, 400);
        // comments: unknown request, empty text
        let f = [
            ("api_key", key.clone()),
            ("service_request_id", uuid::Uuid::now_v7().to_string()),
            ("description", "x".to_string()),
        ];
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        check(
            post(
                &app,
                &format!("/open311/v2/servicerequestupdates.{ext}"),
                &pairs,
            )
            .await,
            xml,
            404,
        );
    }
    // A suffix that is neither: JSON by default.
    get(&app, "/open311/v2/services/road_damage.html")
        .await
        .assert_json_error(400);
    get(&app, "/open311/v2/services.html")
        .await
        .assert_json_error(404);

    // Nothing above created a report.
    let all = get(&app, "/open311/v2/requests.json").await.json();
    assert_eq!(all, json!([]));
    // The valid form works, then the key is revoked and refused.
    let ok = send(ok_form(&[]), false).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    let r = app
        .post(
            &format!("/v1/admin/open311/clients/{client_id}/revoke"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(r.body["revoked_at"].is_string());
    let d = check(send(ok_form(&[]), true).await, true, 403);
    assert!(d.contains("api_key"), "{d}");
    // Reads need no key.
    assert_eq!(
        get(&app, "/open311/v2/requests.json").await.json()[0]["service_code"],
        "street_light"
    );
}

#[tokio::test]
async fn keys_are_rate_limited_per_client_app() {
    let app = TestApp::spawn_with(|s| s.open311_writes_per_hour = 2).await;
    let (_, _, key) = issue_key(&app, "0960000021").await;
    let (_, _, other) = {
        let (_, admin) = app.member(Role::Admin, "0960000022").await;
        let r = app
            .post(
                "/v1/admin/open311/clients",
                Some(&admin),
                json!({ "name": "Bảng điều khiển thành phố" }),
            )
            .await;
        (admin, (), r.body["api_key"].as_str().unwrap().to_string())
    };
    let form = |k: &str| -> Vec<(String, String)> {
        vec![
            ("api_key".into(), k.into()),
            ("service_code".into(), "noise".into()),
            ("lat".into(), "10.77".into()),
            ("long".into(), "106.70".into()),
            ("description".into(), "Karaoke đến 1 giờ sáng".into()),
        ]
    };
    let send = |f: Vec<(String, String)>, path: &'static str| {
        let app = &app;
        async move {
            let pairs: Vec<(&str, &str)> =
                f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            post(app, path, &pairs).await
        }
    };
    for _ in 0..2 {
        assert_eq!(
            send(form(&key), "/open311/v2/requests.json").await.status,
            StatusCode::OK
        );
    }
    let limited = send(form(&key), "/open311/v2/requests.xml").await;
    limited.assert_xml_error(429);
    let retry: u64 = limited.retry_after.as_deref().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry));
    // Another app has its own budget.
    assert_eq!(
        send(form(&other), "/open311/v2/requests.json").await.status,
        StatusCode::OK
    );
    // An hour later the window has moved on.
    app.state.clock.advance(chrono::Duration::minutes(61));
    assert_eq!(
        send(form(&key), "/open311/v2/requests.json").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn key_management_is_for_admins_only() {
    let app = TestApp::spawn().await;
    let (admin, client_id, key) = issue_key(&app, "0960000031").await;
    let resident = app.resident_token("0969000001").await;
    let (_, staff) = app.member(Role::Staff, "0960000032").await;
    let (_, doctor) = app.member(Role::Doctor, "0960000033").await;
    let body = json!({ "name": "Một ứng dụng" });
    let revoke = format!("/v1/admin/open311/clients/{client_id}/revoke");

    app.get("/v1/admin/open311/clients", None)
        .await
        .assert_problem(401, "missing_token");
    app.post("/v1/admin/open311/clients", None, body.clone())
        .await
        .assert_problem(401, "missing_token");
    app.post(&revoke, None, json!({}))
        .await
        .assert_problem(401, "missing_token");
    for token in [&resident, &staff, &doctor] {
        app.get("/v1/admin/open311/clients", Some(token))
            .await
            .assert_problem(403, "forbidden");
        app.post("/v1/admin/open311/clients", Some(token), body.clone())
            .await
            .assert_problem(403, "forbidden");
        app.post(&revoke, Some(token), json!({}))
            .await
            .assert_problem(403, "forbidden");
    }

    let list = app.get("/v1/admin/open311/clients", Some(&admin)).await;
    assert_eq!(list.status, StatusCode::OK);
    let text = list.body.to_string();
    assert!(!text.contains(&key), "the key is shown only once");
    assert_eq!(list.body[0]["key_prefix"], &key[..13]);
    assert!(list.body[0]["last_used_at"].is_null());
    // Stored hashed: the key is nowhere in the database.
    let stored: Vec<String> = wardline::on_db!(&app.state.db, pool => sqlx::query_scalar::<_, String>("SELECT key_hash FROM open311_clients").fetch_all(pool).await).unwrap();
    assert_eq!(stored, [hex_sha256(&key)]);

    app.post(
        "/v1/admin/open311/clients",
        Some(&admin),
        json!({ "name": "  " }),
    )
    .await
    .assert_problem(422, "validation_failed");
    app.post(&revoke, Some(&admin), json!({})).await;
    app.post(&revoke, Some(&admin), json!({}))
        .await
        .assert_problem(409, "already_revoked");
    app.post(
        &format!("/v1/admin/open311/clients/{}/revoke", uuid::Uuid::now_v7()),
        Some(&admin),
        json!({}),
    )
    .await
    .assert_problem(404, "open311_client_not_found");
    let r = post(
        &app,
        "/open311/v2/requests.json",
        &[("api_key", &key), ("service_code", "noise")],
    )
    .await;
    r.assert_json_error(403);
}

fn hex_sha256(s: &str) -> String {
    wardline::auth::tokens::sha256_hex(s)
}

/// `georeport` from PyPI (the one Open311 client that runs on current Python) lists the services
/// and reads requests back; it has no call to create one, so the script posts with the standard
/// library the way the spec describes. `scripts/test-all` installs it into a cached venv and
/// names its Python in `WARDLINE_TEST_OPEN311_PYTHON`.
#[tokio::test]
async fn an_independent_python_client_lists_posts_and_reads_back() {
    let Ok(python) = std::env::var("WARDLINE_TEST_OPEN311_PYTHON") else {
        assert!(
            std::env::var("WARDLINE_TEST_REQUIRE_SERVICES").is_err(),
            "scripts/test-all must set WARDLINE_TEST_OPEN311_PYTHON"
        );
        eprintln!("skipped: WARDLINE_TEST_OPEN311_PYTHON is not set (scripts/test-all sets it)");
        return;
    };
    let app = TestApp::spawn().await;
    let (admin, _, key) = issue_key(&app, "0960000041").await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/open311_client/roundtrip.py"
    );
    let base = format!("{}/open311/v2", app.base);
    // Off the runtime's thread: the server under test runs on it.
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&python)
            .arg(script)
            .arg(&base)
            .arg(&key)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The script prints the ids it created; they are real reports with the answer it sent.
    let ids: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("created "))
        .collect();
    assert_eq!(ids.len(), 2, "{stdout}");
    for id in ids {
        let r = app.get(&format!("/v1/reports/{id}"), Some(&admin)).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.body["report"]["channel"], "open311");
        assert_eq!(r.body["report"]["answers"]["state"], "flickering");
    }
}

/// Migration 0005 rebuilds `reports` on SQLite (a CHECK cannot be changed in place) and swaps the
/// constraint on PostgreSQL: a database with reports in it keeps every report, its history and its
/// followers, and then takes reports from Open311.
#[tokio::test]
async fn the_open311_migration_keeps_existing_reports() {
    use wardline::app::AppState;
    use wardline::store::Db;
    let dir = tempfile::tempdir().unwrap();
    let settings = crate::helpers::test_settings(dir.path()).await;
    let db = Db::connect(&settings.database_url(), 2).await.unwrap();
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(db.backend());
    let migrator = sqlx::migrate::Migrator::new(source).await.unwrap();
    wardline::on_db!(&db, pool => migrator.run_to(3, pool).await).unwrap();
    let state = AppState::compose(settings, db.clone(), wardline::bus::LocalBus::new()).unwrap();
    let (account, _) = state
        .auth
        .create_account("0960000051", "Cư dân", Role::Resident)
        .await
        .unwrap();
    // A category, a report, its history and its follower, written as the schema then stood
    // (today's code reads columns that later migrations add).
    let now = state.clock.now();
    let (category_id, report_id) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let description = "Karaoke đến nửa đêm";
    let cells = wardline::geo::cells(wardline::geo::Point {
        lat: 10.77,
        lon: 106.70,
    });
    wardline::on_db!(&db, pool => async {
        sqlx::query(
            "INSERT INTO categories (category_id, code, name_vi, name_en, group_code, created_at, updated_at)
             VALUES ($1, 'noise', 'Tiếng ồn', 'Noise', 'urban_order', $2, $2)",
        )
        .bind(category_id)
        .bind(now)
        .execute(pool)
        .await?;
        sqlx::query(
            "INSERT INTO reports (report_id, category_id, reporter_id, channel, description, lat, lon,
                 h3_r10, h3_r8, h3_r6, h3_r4, status, severity, ack_by, resolve_by, created_at, updated_at)
             VALUES ($1, $2, $3, 'app', $4, 10.77, 106.70, $5, $6, $7, $8, 'submitted', 'normal', $9, $9, $9, $9)",
        )
        .bind(report_id)
        .bind(category_id)
        .bind(account.account_id)
        .bind(description)
        .bind(cells.r10)
        .bind(cells.r8)
        .bind(cells.r6)
        .bind(cells.r4)
        .bind(now)
        .execute(pool)
        .await?;
        sqlx::query(
            "INSERT INTO report_events (report_event_id, report_id, actor_id, kind, to_status, visibility, created_at, updated_at)
             VALUES ($1, $2, $3, 'status', 'submitted', 'public', $4, $4)",
        )
        .bind(uuid::Uuid::now_v7())
        .bind(report_id)
        .bind(account.account_id)
        .bind(now)
        .execute(pool)
        .await?;
        sqlx::query(
            "INSERT INTO report_subscribers (report_id, account_id, kind, created_at, updated_at)
             VALUES ($1, $2, 'reporter', $3, $3)",
        )
        .bind(report_id)
        .bind(account.account_id)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ())
    }
    .await)
    .unwrap();

    db.migrate().await.unwrap();
    let after = wardline::reports::repo::report(&db, report_id)
        .await
        .unwrap()
        .expect("the report survived");
    assert_eq!(after.description, description);
    assert_eq!(after.reporter_id, Some(account.account_id));
    assert_eq!(
        wardline::reports::repo::events(&db, report_id)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        wardline::reports::repo::is_subscriber(&db, report_id, account.account_id)
            .await
            .unwrap()
    );
    // The new channel is accepted; foreign keys are on again (an unknown category is refused).
    let n = wardline::on_db!(&db, pool => sqlx::query("UPDATE reports SET channel = 'open311' WHERE report_id = $1").bind(report_id).execute(pool).await.map(|r| r.rows_affected())).unwrap();
    assert_eq!(n, 1);
    let bad = wardline::on_db!(&db, pool => sqlx::query("UPDATE reports SET category_id = $2 WHERE report_id = $1").bind(report_id).bind(uuid::Uuid::now_v7()).execute(pool).await.map(|_| ()));
    assert!(
        bad.is_err(),
        "foreign keys are enforced after the migration"
    );
    db.close().await;
}

/// Reports from the ward's own app through Open311: `media_url` is the metadata-free public copy of
/// the first photo, served by this server; the resident's account and phone never appear.
#[tokio::test]
async fn app_reports_show_their_public_photo_and_never_the_reporter() {
    let app = TestApp::spawn().await;
    let resident = app.resident_token("0969000061").await;
    let photo = crate::photos::upload_ok(&app, &resident, &crate::photos::jpeg(64, 64, 7)).await;
    let photo_id = photo["id"].as_str().unwrap().to_string();
    let r = app
        .post(
            "/v1/reports",
            Some(&resident),
            json!({
                "category_code": "road_damage", "description": "Ổ gà trước nhà văn hoá",
                "lat": 10.7769, "lon": 106.7009, "media_ids": [photo_id], "answers": { "size": "small" }
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let account_id = app.get("/v1/me", Some(&resident)).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();

    let one = get(
        &app,
        &format!("/open311/v2/requests/{id}.json?extensions=true"),
    )
    .await
    .json();
    let media_url = one[0]["media_url"].as_str().unwrap().to_string();
    assert_eq!(
        media_url,
        format!("{}/v1/media/{photo_id}/public.jpg", app.base)
    );
    assert_eq!(
        one[0]["extended_attributes"]["photos"],
        json!([media_url.clone()])
    );
    assert_eq!(one[0]["extended_attributes"]["channel"], "app");
    let fetched = app.client.get(&media_url).send().await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert!(
        fetched
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .starts_with("image/jpeg")
    );

    let x = get(
        &app,
        &format!("/open311/v2/requests/{id}.xml?extensions=true"),
    )
    .await;
    let doc = x.xml();
    let reqs = items(&doc, "service_requests", "request");
    assert_eq!(child_text(&reqs[0], "media_url"), media_url);
    let photos = child(&child(&reqs[0], "extended_attributes"), "photos");
    assert_eq!(names(&photos), ["photo"]);
    let list = get(&app, "/open311/v2/requests.json?extensions=true").await;
    for text in [&x.text, &one.to_string(), &list.text] {
        assert!(!text.contains(&account_id), "{text}");
        assert!(!text.contains("969000061"), "{text}");
    }
}

/// Every `null` an Open311 JSON answer carries is on a property the published spec marks
/// `nullable` (Schemathesis found `status_notes`, `address_id`, `zipcode`, `service_notice`,
/// `media_url`… documented as plain strings). Walks the answer alongside its schema.
#[tokio::test]
async fn open311_nulls_are_nullable_in_the_spec() {
    let app = TestApp::spawn().await;
    let (_, _, key) = issue_key(&app, "0960000091").await;
    let spec = app.get("/openapi.json", None).await.body;
    let schemas = &spec["components"]["schemas"];

    fn walk(value: &Value, schema: &Value, schemas: &Value, at: &str, bad: &mut Vec<String>) {
        // A described reference comes as `allOf: [{$ref}, {description}]`.
        let schema = match schema["allOf"][0].as_object() {
            Some(_) => &schema["allOf"][0],
            None => schema,
        };
        let schema = match schema["$ref"].as_str() {
            Some(r) => &schemas[r.trim_start_matches("#/components/schemas/")],
            None => schema,
        };
        match value {
            Value::Object(fields) => {
                for (k, v) in fields {
                    let prop = &schema["properties"][k];
                    assert!(!prop.is_null(), "{at}.{k} is not in the spec");
                    if v.is_null() {
                        if prop["nullable"] != true {
                            bad.push(format!("{at}.{k}"));
                        }
                    } else {
                        walk(v, prop, schemas, &format!("{at}.{k}"), bad);
                    }
                }
            }
            Value::Array(items) => {
                for v in items {
                    walk(v, &schema["items"], schemas, &format!("{at}[]"), bad);
                }
            }
            _ => {}
        }
    }

    // A new request (no photo, no unit, no notice): most fields without a value.
    let created = post(
        &app,
        "/open311/v2/requests.json",
        &[
            ("api_key", &key),
            ("service_code", "street_light"),
            ("lat", "10.7769"),
            ("long", "106.7009"),
            ("description", "Đèn đường chập chờn"),
            ("attribute[state]", "flickering"),
        ],
    )
    .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    let id = created.json()[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut bad = vec![];
    let array_of =
        |name: &str| json!({ "items": { "$ref": format!("#/components/schemas/{name}") } });
    for (path, value, schema) in [
        (
            "POST requests.json",
            created.json(),
            array_of("Open311RequestCreated"),
        ),
        (
            "requests.json",
            get(&app, "/open311/v2/requests.json?extensions=true")
                .await
                .json(),
            array_of("Open311Request"),
        ),
        (
            "requests/{id}.json",
            get(
                &app,
                &format!("/open311/v2/requests/{id}.json?extensions=true"),
            )
            .await
            .json(),
            array_of("Open311Request"),
        ),
        (
            "servicerequestupdates.json",
            get(&app, "/open311/v2/servicerequestupdates.json")
                .await
                .json(),
            array_of("Open311RequestUpdate"),
        ),
    ] {
        assert!(
            value.as_array().is_some_and(|a| !a.is_empty()),
            "{path}: {value}"
        );
        walk(&value, &schema, schemas, path, &mut bad);
    }
    assert!(
        bad.is_empty(),
        "null where the spec says not nullable: {bad:?}"
    );
}
