//! Test photos made in code: plain JPEGs, a JPEG with GPS metadata, hostile files; and a multipart
//! upload helper.

use image::{ImageEncoder, RgbImage};
use serde_json::Value;

use crate::helpers::{Resp, TestApp};

pub fn jpeg(width: u32, height: u32, seed: u8) -> Vec<u8> {
    let img = RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, seed])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .write_image(img.as_raw(), width, height, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

/// A JPEG whose EXIF says it was taken at 10°46'36.84"N 106°42'3.24"E (central Hồ Chí Minh City).
pub fn jpeg_with_gps(seed: u8) -> Vec<u8> {
    // Little-endian TIFF: IFD0 with one entry pointing at the GPS IFD, then the rationals.
    let mut t: Vec<u8> = b"II\x2a\x00\x08\x00\x00\x00".to_vec();
    let entry = |t: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: u32| {
        t.extend_from_slice(&tag.to_le_bytes());
        t.extend_from_slice(&kind.to_le_bytes());
        t.extend_from_slice(&count.to_le_bytes());
        t.extend_from_slice(&value.to_le_bytes());
    };
    t.extend_from_slice(&1u16.to_le_bytes());
    entry(&mut t, 0x8825, 4, 1, 26);
    t.extend_from_slice(&0u32.to_le_bytes());
    t.extend_from_slice(&4u16.to_le_bytes());
    entry(&mut t, 1, 2, 2, u32::from_le_bytes(*b"N\0\0\0"));
    entry(&mut t, 2, 5, 3, 80);
    entry(&mut t, 3, 2, 2, u32::from_le_bytes(*b"E\0\0\0"));
    entry(&mut t, 4, 5, 3, 104);
    t.extend_from_slice(&0u32.to_le_bytes());
    for (n, d) in [
        (10u32, 1u32),
        (46, 1),
        (3684, 100),
        (106, 1),
        (42, 1),
        (324, 100),
    ] {
        t.extend_from_slice(&n.to_le_bytes());
        t.extend_from_slice(&d.to_le_bytes());
    }
    let plain = jpeg(640, 480, seed);
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((2 + 6 + t.len()) as u16).to_be_bytes());
    out.extend_from_slice(b"Exif\0\0");
    out.extend_from_slice(&t);
    out.extend_from_slice(&plain[2..]);
    out
}

/// A PNG header claiming 30000×30000 pixels (2.7 GB decoded): must be refused from the header.
pub fn png_bomb() -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&30000u32.to_be_bytes());
    ihdr.extend_from_slice(&30000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    out.extend_from_slice(&(ihdr.len() as u32).to_be_bytes());
    let mut chunk = b"IHDR".to_vec();
    chunk.extend_from_slice(&ihdr);
    out.extend_from_slice(&chunk);
    out.extend_from_slice(&crc32(&chunk).to_be_bytes());
    // A token IDAT (an empty zlib stream): the fuse of the bomb.
    let idat = b"IDAT\x78\x9c\x03\x00\x00\x00\x00\x01";
    out.extend_from_slice(&8u32.to_be_bytes());
    out.extend_from_slice(idat);
    out.extend_from_slice(&crc32(idat).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(b"IEND");
    out.extend_from_slice(&crc32(b"IEND").to_be_bytes());
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Upload one file as multipart field `file`.
pub async fn upload(app: &TestApp, token: &str, bytes: &[u8], content_type: &str) -> Resp {
    let boundary = "wardline-test-boundary";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jpg\"\r\nContent-Type: {content_type}\r\n\r\n").into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = app
        .client
        .post(app.url("/v1/media"))
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    Resp::read(r).await
}

pub async fn upload_ok(app: &TestApp, token: &str, bytes: &[u8]) -> Value {
    let r = upload(app, token, bytes, "image/jpeg").await;
    assert_eq!(r.status.as_u16(), 201, "{:?}", r.body);
    r.body
}

/// Issue 20, server 1: a photo whose answer was lost and is sent again, with its
/// `Idempotency-Key` or without, comes back as the first upload: one row, never a second.
#[tokio::test]
async fn the_same_photo_sent_again_is_the_same_photo() {
    let app = TestApp::spawn().await;
    let token = app.resident_token("0912600001").await;
    let bytes = jpeg(640, 480, 9);
    let send = |key: Option<&'static str>, bytes: Vec<u8>| {
        let boundary = "wardline-test-boundary";
        let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").into_bytes();
        body.extend_from_slice(&bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let mut req = app
            .client
            .post(app.url("/v1/media"))
            .bearer_auth(&token)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        async move { Resp::read(req.send().await.unwrap()).await }
    };
    let first = send(Some("photo-1"), bytes.clone()).await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    let again = send(Some("photo-1"), bytes.clone()).await;
    assert_eq!(again.status, 201, "{:?}", again.body);
    assert_eq!(again.body["id"], first.body["id"]);
    // Without a key (an older app), the same bytes from the same owner: the same photo.
    let plain = send(None, bytes.clone()).await;
    assert_eq!(plain.body["id"], first.body["id"]);
    // The key names one photo: another file under it is refused.
    let other = send(Some("photo-1"), jpeg(320, 240, 3)).await;
    other.assert_problem(422, "validation_failed");
    assert_eq!(other.body["errors"][0]["code"], "idempotency_key_reused");
    // Another owner's identical photo is theirs, not the first owner's.
    let neighbour = app.resident_token("0912600002").await;
    let theirs = upload_ok(&app, &neighbour, &bytes).await;
    assert_ne!(theirs["id"], first.body["id"]);
    let rows: i64 = wardline::on_db!(&app.state.db, pool => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM media").fetch_one(pool).await)
    .unwrap();
    assert_eq!(rows, 2, "one row per photo and owner");
    app.stop().await;
}

/// Issue 20, server 3: a photo carries its content hash as `ETag`, and a phone that has it gets
/// 304 without the bytes; only after the same access check as the photo itself.
#[tokio::test]
async fn photos_revalidate_by_their_content_hash() {
    let app = TestApp::spawn().await;
    let token = app.resident_token("0912600003").await;
    let photo = upload_ok(&app, &token, &jpeg(320, 240, 5)).await;
    let id = photo["id"].as_str().unwrap();
    let first = app
        .client
        .get(app.url(&format!("/v1/media/{id}/public.jpg")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    let again = app
        .client
        .get(app.url(&format!("/v1/media/{id}/public.jpg")))
        .bearer_auth(&token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert!(again.bytes().await.unwrap().is_empty());
    // The thumbnail is another representation: another tag.
    let thumb = app
        .client
        .get(app.url(&format!("/v1/media/{id}/thumbnail.jpg")))
        .bearer_auth(&token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(thumb.status(), 200);
    // Someone who may not see the (unattached) photo learns nothing from its tag.
    let stranger = app
        .client
        .get(app.url(&format!("/v1/media/{id}/public.jpg")))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), 404);
    app.stop().await;
}
