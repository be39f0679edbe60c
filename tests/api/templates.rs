//! Reply templates: admins keep them, staff read the ones that fit a report.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wardline::auth::Role;

use crate::helpers::TestApp;

fn titles(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn templates_seeded_fitted_edited_and_archived() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.member(Role::Admin, "0915000001").await;
    let (_, staff) = app.member(Role::Staff, "0915000002").await;
    let resident = app.resident_token("0915000003").await;

    // A fresh ward starts with generic ones (resolved, rejected, in progress).
    let all = app.get("/v1/admin/reply-templates", Some(&admin)).await;
    assert_eq!(all.status, StatusCode::OK, "{:?}", all.body);
    assert_eq!(all.body.as_array().unwrap().len(), 3, "{:?}", all.body);
    assert!(
        all.body
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t.get("category_code").is_none())
    );

    // The category's own comes before the generic ones; texts are cleaned (NFC, trimmed).
    let c = app
        .post(
            "/v1/admin/reply-templates",
            Some(&admin),
            json!({ "category_code": "trash", "status": "resolved", "title": "  Đã thu gom rác ",
                    "body_vi": "Đã thu gom rác tại {id}.\nCảm ơn bạn.", "body_en": "Collected at {id}." }),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{:?}", c.body);
    assert_eq!(c.body["title"], "Đã thu gom rác");
    assert_eq!(c.body["body_vi"], "Đã thu gom rác tại {id}.\nCảm ơn bạn.");
    let id = c.body["id"].as_str().unwrap().to_string();

    let fit = app
        .get(
            "/v1/staff/reply-templates?category=trash&status=resolved",
            Some(&staff),
        )
        .await;
    assert_eq!(fit.status, StatusCode::OK, "{:?}", fit.body);
    assert_eq!(titles(&fit.body), ["Đã thu gom rác", "Đã xử lý xong"]);
    // Another category and another status see only the generic ones that fit.
    let other = app
        .get(
            "/v1/staff/reply-templates?category=noise&status=rejected",
            Some(&staff),
        )
        .await;
    assert_eq!(titles(&other.body), ["Không thuộc thẩm quyền của phường"]);

    // Edit: make it fit any status; clearing the category makes it generic.
    let r = app
        .call(
            Method::PUT,
            &format!("/v1/admin/reply-templates/{id}"),
            Some(&admin),
            Some(json!({ "status": null, "position": 9 })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(r.body.get("status").is_none(), "{:?}", r.body);
    assert_eq!(r.body["category_code"], "trash");
    assert_eq!(r.body["position"], 9);
    let fit = app
        .get(
            "/v1/staff/reply-templates?category=trash&status=rejected",
            Some(&staff),
        )
        .await;
    assert_eq!(
        titles(&fit.body),
        ["Đã thu gom rác", "Không thuộc thẩm quyền của phường"]
    );

    // Archive: gone from both lists; archiving again is not found.
    let path = format!("/v1/admin/reply-templates/{id}");
    let r = app.call(Method::DELETE, &path, Some(&admin), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let r = app.call(Method::DELETE, &path, Some(&admin), None).await;
    r.assert_problem(404, "template_not_found");
    let r = app
        .call(
            Method::PUT,
            &path,
            Some(&admin),
            Some(json!({ "title": "x" })),
        )
        .await;
    r.assert_problem(404, "template_not_found");
    let all = app.get("/v1/admin/reply-templates", Some(&admin)).await;
    assert_eq!(all.body.as_array().unwrap().len(), 3);

    // Who may: residents are refused, signed-out callers asked to sign in.
    let r = app.get("/v1/staff/reply-templates", Some(&resident)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.get("/v1/staff/reply-templates", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app
        .post(
            "/v1/admin/reply-templates",
            Some(&staff),
            json!({ "title": "x", "body_vi": "y" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Seeding happens once: a restart does not add the defaults again.
    let app = app.restart().await;
    let all = app.get("/v1/admin/reply-templates", Some(&admin)).await;
    assert_eq!(all.body.as_array().unwrap().len(), 3, "{:?}", all.body);
}

#[tokio::test]
async fn templates_refuse_hostile_input() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.member(Role::Admin, "0915100001").await;
    let (_, staff) = app.member(Role::Staff, "0915100002").await;
    let create = |body: Value| {
        let admin = admin.clone();
        let app = &app;
        async move {
            app.post("/v1/admin/reply-templates", Some(&admin), body)
                .await
        }
    };

    let r = create(json!({ "category_code": "no_such", "title": "t", "body_vi": "b" })).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(
        r.body["errors"][0]["code"], "unknown_category",
        "{:?}",
        r.body
    );
    let r = create(json!({ "status": "fixed", "title": "t", "body_vi": "b" })).await;
    assert_eq!(
        r.body["errors"][0]["code"], "unknown_status",
        "{:?}",
        r.body
    );
    // Invisible and bidi characters, empty texts, too long ones.
    for body in [
        json!({ "title": "Đã\u{202E}xử lý", "body_vi": "b" }),
        json!({ "title": "t", "body_vi": "\u{200B}\u{200B}" }),
        json!({ "title": "t\nu", "body_vi": "b" }),
        json!({ "title": "   ", "body_vi": "b" }),
        json!({ "title": "t".repeat(121), "body_vi": "b" }),
        json!({ "title": "t", "body_vi": "b".repeat(2001) }),
        json!({ "title": "t", "body_vi": "b", "body_en": "\u{0007}" }),
    ] {
        let r = create(body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {:?}",
            r.body
        );
        assert_eq!(r.body["errors"][0]["code"], "invalid_text", "{:?}", r.body);
    }
    let r = create(json!({ "title": "t" })).await;
    assert_eq!(r.body["errors"][0]["field"], "body_vi", "{:?}", r.body);
    assert_eq!(r.body["errors"][0]["code"], "required");
    let r = create(json!({ "title": "t", "body_vi": "b", "position": -1 })).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    let r =
        create(json!({ "title": "t", "body_vi": "b".repeat(2000), "status": "rejected" })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);

    // Staff's filters are checked too; an unknown template id is not found.
    let r = app
        .get("/v1/staff/reply-templates?category=no_such", Some(&staff))
        .await;
    assert_eq!(
        r.body["errors"][0]["code"], "unknown_category",
        "{:?}",
        r.body
    );
    let r = app
        .get("/v1/staff/reply-templates?status=bogus", Some(&staff))
        .await;
    assert_eq!(
        r.body["errors"][0]["code"], "unknown_status",
        "{:?}",
        r.body
    );
    let r = app
        .call(
            Method::PUT,
            "/v1/admin/reply-templates/0190a5d0-0000-7000-8000-000000000000",
            Some(&admin),
            Some(json!({ "title": "t" })),
        )
        .await;
    r.assert_problem(404, "template_not_found");
    let r = app
        .call(
            Method::DELETE,
            "/v1/admin/reply-templates/not-a-uuid",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}
