//! Issue 20, server 2: resumable photo uploads (tus 1.0). A connection killed at 40 % of a photo
//! keeps what arrived, `HEAD` says where to resume, the rest completes the photo, which attaches
//! to a report; limits, owners, offsets, hostile headers and expiry.

use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::helpers::{Resp, TestApp, assert_documented};
use crate::photos::jpeg;

/// A JPEG of noise (incompressible): `width`×`height` makes about 2–3 bytes a pixel.
pub fn noisy_jpeg(width: u32, height: u32, seed: u32) -> Vec<u8> {
    use image::ImageEncoder;
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    let img = image::RgbImage::from_fn(width, height, |_, _| {
        // xorshift32: the same picture for the same seed.
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        image::Rgb([x as u8, (x >> 8) as u8, (x >> 16) as u8])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .write_image(img.as_raw(), width, height, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

/// One tus request: `headers` besides `Tus-Resumable: 1.0.0` (unless given) and the bearer token.
pub async fn tus(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Resp {
    let mut req = app.client.request(method.clone(), app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("tus-resumable"))
    {
        req = req.header("Tus-Resumable", "1.0.0");
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.body(b);
    }
    let resp = Resp::read(req.send().await.expect("request")).await;
    assert_documented(&method, path, &resp);
    resp
}

/// Start an upload of `length` bytes; its path.
pub async fn start(app: &TestApp, token: &str, length: usize) -> String {
    let len = length.to_string();
    let r = tus(
        app,
        Method::POST,
        "/v1/media/uploads",
        Some(token),
        &[
            ("Upload-Length", &len),
            // filename "pờ gà.jpg", filetype image/jpeg
            (
                "Upload-Metadata",
                "filename cOG7nSBnw6AuanBn,filetype aW1hZ2UvanBlZw==",
            ),
        ],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.headers["tus-resumable"], "1.0.0");
    assert_eq!(r.headers["upload-offset"], "0");
    assert!(
        r.headers["upload-expires"]
            .to_str()
            .unwrap()
            .ends_with(" GMT")
    );
    r.headers["location"].to_str().unwrap().to_string()
}

/// `PATCH` `bytes` at `offset`.
pub async fn patch(app: &TestApp, token: &str, path: &str, offset: usize, bytes: &[u8]) -> Resp {
    let offset = offset.to_string();
    tus(
        app,
        Method::PATCH,
        path,
        Some(token),
        &[
            ("Upload-Offset", &offset),
            ("Content-Type", "application/offset+octet-stream"),
        ],
        Some(bytes.to_vec()),
    )
    .await
}

/// A problem answer to a `HEAD` (which has no body): its status, type and protocol header.
pub fn head_problem(r: &Resp, status: u16) {
    assert_eq!(r.status.as_u16(), status, "{:?}", r.headers);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/problem+json")
    );
    assert_eq!(r.headers["tus-resumable"], "1.0.0");
}

/// The offset `HEAD` reports.
pub async fn offset_of(app: &TestApp, token: &str, path: &str) -> Resp {
    tus(app, Method::HEAD, path, Some(token), &[], None).await
}

async fn pieces(app: &TestApp) -> usize {
    app.state.objects.list("uploads/").await.unwrap().len()
}

async fn upload_rows(app: &TestApp) -> i64 {
    wardline::on_db!(&app.state.db, pool => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM media_uploads").fetch_one(pool).await)
    .unwrap()
}

#[tokio::test]
async fn a_killed_upload_resumes_from_the_last_byte_the_server_has() {
    let app = TestApp::spawn().await;
    let token = app.resident_token("0912700001").await;
    let photo = noisy_jpeg(1000, 750, 7);
    assert!(
        (1_000_000..=3_000_000).contains(&photo.len()),
        "a 1–3 MB photo: {}",
        photo.len()
    );
    let path = start(&app, &token, photo.len()).await;

    // A raw client sends the head and 40 % of the body, then its connection dies.
    let cut = photo.len() * 2 / 5;
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "PATCH {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n\
         Content-Type: application/offset+octet-stream\r\nContent-Length: {}\r\n\r\n",
        photo.len()
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    sock.write_all(&photo[..cut]).await.unwrap();
    sock.flush().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    drop(sock);

    // HEAD says how much the server kept: every byte that arrived (once it has stored them).
    let mut have = 0;
    for _ in 0..100 {
        let r = offset_of(&app, &token, &path).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.headers["cache-control"], "no-store");
        assert_eq!(
            r.headers["upload-length"].to_str().unwrap(),
            photo.len().to_string()
        );
        have = r.headers["upload-offset"]
            .to_str()
            .unwrap()
            .parse::<usize>()
            .unwrap();
        if have > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(have, cut, "the bytes that arrived before the cut are kept");
    assert!(pieces(&app).await >= 1);

    // The rest, from there: the photo is made and named.
    let done = patch(&app, &token, &path, have, &photo[have..]).await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    let media_id = done.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        done.headers["wardline-media-id"].to_str().unwrap(),
        media_id
    );
    assert_eq!(
        done.headers["upload-offset"].to_str().unwrap(),
        photo.len().to_string()
    );
    assert_eq!(
        pieces(&app).await,
        0,
        "the pieces are deleted once the photo is made"
    );
    // HEAD after the end names the photo too (an app whose answer was lost).
    let r = offset_of(&app, &token, &path).await;
    assert_eq!(r.headers["wardline-media-id"].to_str().unwrap(), media_id);
    // The last PATCH sent again (its answer lost) gets the same photo.
    let again = patch(&app, &token, &path, photo.len(), &[]).await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    assert_eq!(again.body["id"], media_id.as_str());

    // It attaches to a report.
    let r = app
        .post(
            "/v1/reports",
            Some(&token),
            json!({
                "category_code": "road_damage",
                "description": "Ổ gà lớn trước số 12 Lê Lợi, xe máy dễ ngã",
                "lat": 10.7769, "lon": 106.7009, "accuracy_m": 8.0,
                "address": "12 Lê Lợi",
                "media_ids": [media_id],
                "answers": { "size": "large" }
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);

    // The same bytes again, resumable or not: the same photo.
    let second = start(&app, &token, photo.len()).await;
    let r = patch(&app, &token, &second, 0, &photo).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["id"], media_id.as_str());
    let plain = crate::photos::upload_ok(&app, &token, &photo).await;
    assert_eq!(plain["id"], media_id.as_str());
    app.stop().await;
}

#[tokio::test]
async fn offsets_owners_sizes_and_types_are_checked() {
    let app = TestApp::spawn().await;
    let token = app.resident_token("0912700002").await;
    let other = app.resident_token("0912700003").await;
    let (_, staff) = app.member(wardline::auth::Role::Staff, "0912700004").await;
    let photo = jpeg(320, 240, 4);
    let path = start(&app, &token, photo.len()).await;

    // Discovery.
    let r = tus(&app, Method::OPTIONS, "/v1/media/uploads", None, &[], None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(r.headers["tus-version"], "1.0.0");
    assert_eq!(
        r.headers["tus-extension"],
        "creation,expiration,termination"
    );
    assert_eq!(r.headers["tus-max-size"], "20971520");

    // A wrong offset: 409, and nothing stored.
    let r = patch(&app, &token, &path, 5, &photo[5..10]).await;
    r.assert_problem(409, "upload_offset_mismatch");
    assert_eq!(r.headers["tus-resumable"], "1.0.0");
    let r = patch(&app, &token, &path, 0, &photo[..100]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert_eq!(r.headers["upload-offset"], "100");
    let r = patch(&app, &token, &path, 0, &photo[..100]).await;
    r.assert_problem(409, "upload_offset_mismatch");

    // Only the owner: everyone else, staff included, is told it does not exist.
    for t in [&other, &staff] {
        head_problem(&offset_of(&app, t, &path).await, 404);
        patch(&app, t, &path, 100, &photo[100..200])
            .await
            .assert_problem(404, "upload_not_found");
        tus(&app, Method::DELETE, &path, Some(t), &[], None)
            .await
            .assert_problem(404, "upload_not_found");
    }
    head_problem(&tus(&app, Method::HEAD, &path, None, &[], None).await, 401);

    // The wrong body type: 415; another protocol version: 412 naming ours.
    let r = tus(
        &app,
        Method::PATCH,
        &path,
        Some(&token),
        &[
            ("Upload-Offset", "100"),
            ("Content-Type", "application/octet-stream"),
        ],
        Some(photo[100..200].to_vec()),
    )
    .await;
    r.assert_problem(415, "unsupported_media_type");
    let r = tus(
        &app,
        Method::HEAD,
        &path,
        Some(&token),
        &[("Tus-Resumable", "0.2.2")],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(r.headers["tus-version"], "1.0.0");
    let r = tus(
        &app,
        Method::POST,
        "/v1/media/uploads",
        Some(&token),
        &[("Tus-Resumable", "0.2.2"), ("Upload-Length", "10")],
        None,
    )
    .await;
    r.assert_problem(412, "tus_version_unsupported");

    // Too large: announced (413 at once), or sent past the announced length.
    let r = tus(
        &app,
        Method::POST,
        "/v1/media/uploads",
        Some(&token),
        &[("Upload-Length", "20971521")],
        None,
    )
    .await;
    r.assert_problem(413, "payload_too_large");
    let mut longer = photo[100..].to_vec();
    longer.extend_from_slice(b"and more");
    patch(&app, &token, &path, 100, &longer)
        .await
        .assert_problem(413, "payload_too_large");
    // A type that is not a photo, announced: 415 before any byte.
    let r = tus(
        &app,
        Method::POST,
        "/v1/media/uploads",
        Some(&token),
        &[
            ("Upload-Length", "10"),
            ("Upload-Metadata", "filetype YXBwbGljYXRpb24vcGRm"),
        ],
        None,
    )
    .await;
    r.assert_problem(415, "unsupported_photo_type");

    // The rest completes it; termination of another one.
    let r = patch(&app, &token, &path, 100, &photo[100..]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let spare = start(&app, &token, 1000).await;
    patch(&app, &token, &spare, 0, &photo[..500]).await;
    assert_eq!(pieces(&app).await, 1);
    let r = tus(&app, Method::DELETE, &spare, Some(&token), &[], None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert_eq!(pieces(&app).await, 0);
    head_problem(&offset_of(&app, &token, &spare).await, 404);

    // Bytes that are not a photo end their upload with the pipeline's answer.
    let junk = start(&app, &token, 64).await;
    let r = patch(&app, &token, &junk, 0, &[7u8; 64]).await;
    assert!(
        r.status == StatusCode::UNSUPPORTED_MEDIA_TYPE
            || r.status == StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        r.body
    );
    head_problem(&offset_of(&app, &token, &junk).await, 404);
    assert_eq!(pieces(&app).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn hostile_upload_headers_get_clean_4xx() {
    let app = TestApp::spawn().await;
    let token = app.resident_token("0912700005").await;
    let create = |headers: Vec<(&'static str, &'static str)>| {
        let (app, token) = (&app, &token);
        async move {
            tus(
                app,
                Method::POST,
                "/v1/media/uploads",
                Some(token),
                &headers,
                None,
            )
            .await
        }
    };
    for bad in ["-1", "99999999999999999999999", "abc", "1e6", ""] {
        let r = create(vec![("Upload-Length", bad)]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "Upload-Length {bad:?}");
        r.assert_problem(400, "bad_request");
    }
    create(vec![]).await.assert_problem(400, "bad_request");
    create(vec![("Upload-Length", "0")])
        .await
        .assert_problem(422, "validation_failed");
    for meta in [
        "filename !!!",
        "filename eA==,filename eA==",
        "x y z",
        ",",
        "filename gA==",
    ] {
        let r = create(vec![("Upload-Length", "10"), ("Upload-Metadata", meta)]).await;
        r.assert_problem(400, "bad_request");
        assert_eq!(r.body["errors"][0]["field"], "Upload-Metadata", "{meta}");
    }
    let path = start(&app, &token, 1000).await;
    for bad in ["-1", "99999999999999999999999", "x", ""] {
        let r = tus(
            &app,
            Method::PATCH,
            &path,
            Some(&token),
            &[
                ("Upload-Offset", bad),
                ("Content-Type", "application/offset+octet-stream"),
            ],
            Some(b"abc".to_vec()),
        )
        .await;
        r.assert_problem(400, "bad_request");
    }
    // A huge but well-formed offset is only a mismatch.
    patch(&app, &token, &path, usize::MAX, b"abc")
        .await
        .assert_problem(409, "upload_offset_mismatch");
    // An id that is no upload.
    head_problem(
        &offset_of(&app, &token, "/v1/media/uploads/not-a-uuid").await,
        400,
    );
    app.stop().await;
}

#[tokio::test]
async fn unfinished_uploads_expire_and_are_swept_with_their_pieces() {
    let app = TestApp::spawn().await;
    let token = app.resident_token("0912700006").await;
    let photo = jpeg(320, 240, 8);
    let path = start(&app, &token, photo.len()).await;
    patch(&app, &token, &path, 0, &photo[..1000]).await;
    let finished = start(&app, &token, photo.len()).await;
    let r = patch(&app, &token, &finished, 0, &photo).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(pieces(&app).await, 1);
    assert_eq!(
        wardline::media::resumable::sweep(&app.state.media)
            .await
            .unwrap(),
        0,
        "nothing has expired yet"
    );

    app.state.clock.advance(chrono::Duration::hours(25));
    let token = app.resident_token("0912700006").await;
    head_problem(&offset_of(&app, &token, &path).await, 404);
    assert_eq!(
        wardline::media::resumable::sweep(&app.state.media)
            .await
            .unwrap(),
        2
    );
    assert_eq!(pieces(&app).await, 0);
    assert_eq!(upload_rows(&app).await, 0);
    // The photo the finished one made stays.
    let id = r.body["id"].as_str().unwrap();
    let r = app
        .get(&format!("/v1/media/{id}/public.jpg"), Some(&token))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn upload_limits_hold_and_a_retried_create_is_the_same_upload() {
    let app = TestApp::spawn_with(|s| {
        s.max_open_uploads = 2;
        s.uploads_per_resident_per_hour = 1;
    })
    .await;
    let token = app.resident_token("0912700007").await;
    let keyed = async |key: &str| {
        tus(
            &app,
            Method::POST,
            "/v1/media/uploads",
            Some(&token),
            &[("Upload-Length", "5000"), ("Idempotency-Key", key)],
            None,
        )
        .await
    };
    let a = keyed("photo-a").await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let again = keyed("photo-a").await;
    assert_eq!(again.status, StatusCode::CREATED, "{:?}", again.body);
    assert_eq!(again.headers["location"], a.headers["location"]);
    let b = keyed("photo-b").await;
    assert_eq!(b.status, StatusCode::CREATED, "{:?}", b.body);
    let c = keyed("photo-c").await;
    c.assert_problem(429, "too_many_open_uploads");
    assert!(c.headers.contains_key("retry-after"));

    // One photo an hour: the finished upload uses it; the next upload is refused at its start.
    let path = b.headers["location"].to_str().unwrap().to_string();
    tus(&app, Method::DELETE, &path, Some(&token), &[], None).await;
    let photo = jpeg(320, 240, 9);
    let p = start(&app, &token, photo.len()).await;
    let r = patch(&app, &token, &p, 0, &photo).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = tus(
        &app,
        Method::POST,
        "/v1/media/uploads",
        Some(&token),
        &[("Upload-Length", "5000")],
        None,
    )
    .await;
    r.assert_problem(429, "upload_rate_limited");
    app.stop().await;
}
