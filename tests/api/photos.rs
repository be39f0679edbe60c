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

/// Issue 16: the same photo sent several times at once by its owner (a double tap, an app that
/// retries before the first answer), with no `Idempotency-Key` or with a key each: every upload
/// answers with the same photo, and there is one row. The database decides the race (a unique
/// index on owner and content hash), not a look before the insert.
#[tokio::test]
async fn the_same_photo_sent_at_once_is_one_photo() {
    const AT_ONCE: usize = 8;
    // As many photo workers as uploads, and small photos: the uploads reach the database together.
    let app = TestApp::spawn_with(|s| s.photo_concurrency = AT_ONCE as u32).await;
    let token = app.resident_token("0912600005").await;
    let send = |bytes: Vec<u8>, key: Option<String>| {
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
    let rows = async |hash_of: &[u8]| -> i64 {
        use sha2::Digest;
        let hash = hex::encode(sha2::Sha256::digest(hash_of));
        wardline::on_db!(&app.state.db, pool => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM media WHERE content_hash = $1").bind(hash).fetch_one(pool).await)
        .unwrap()
    };

    let bytes = jpeg(64, 48, 21);
    let answers = futures::future::join_all((0..AT_ONCE).map(|_| send(bytes.clone(), None))).await;
    for answer in &answers {
        assert_eq!(answer.status, 201, "{:?}", answer.body);
        assert_eq!(answer.body["id"], answers[0].body["id"]);
    }
    assert_eq!(rows(&bytes).await, 1, "one row per photo and owner");

    // Each with its own key: the same photo, and each key answers with it when retried.
    let bytes = jpeg(64, 48, 22);
    let keys: Vec<String> = (0..AT_ONCE).map(|i| format!("photo-at-once-{i}")).collect();
    let answers = futures::future::join_all(
        keys.iter()
            .map(|key| send(bytes.clone(), Some(key.clone()))),
    )
    .await;
    for answer in &answers {
        assert_eq!(answer.status, 201, "{:?}", answer.body);
        assert_eq!(answer.body["id"], answers[0].body["id"]);
    }
    assert_eq!(rows(&bytes).await, 1, "one row per photo and owner");
    for key in keys {
        let again = send(bytes.clone(), Some(key)).await;
        assert_eq!(again.status, 201, "{:?}", again.body);
        assert_eq!(again.body["id"], answers[0].body["id"]);
    }
    app.stop().await;
}

/// Migration 0017 makes (owner, content hash) unique. Duplicates written before it (by uploads
/// that raced) merge into the owner's oldest row for the photo: reports show that row instead, a
/// report that had the photo twice keeps it once, and a retried upload's key names that row.
#[tokio::test]
async fn the_unique_photo_migration_merges_earlier_duplicates() {
    use chrono::Duration;
    use uuid::Uuid;
    use wardline::app::AppState;
    use wardline::auth::Role;
    use wardline::store::Db;
    let dir = tempfile::tempdir().unwrap();
    let settings = crate::helpers::test_settings(dir.path()).await;
    let db = Db::connect(&settings.database_url(), 2).await.unwrap();
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(db.backend());
    let migrator = sqlx::migrate::Migrator::new(source).await.unwrap();
    wardline::on_db!(&db, pool => migrator.run_to(16, pool).await).unwrap();
    let state = AppState::compose(settings, db.clone(), wardline::bus::LocalBus::new()).unwrap();
    let mut owners = vec![];
    for phone in ["0960000171", "0960000172"] {
        let (account, _) = state
            .auth
            .create_account(phone, "Cư dân", Role::Resident)
            .await
            .unwrap();
        owners.push(account.account_id);
    }
    let (alice, bob) = (owners[0], owners[1]);
    let now = state.clock.now();
    let (hash, other_hash) = ("ab".repeat(32), "cd".repeat(32));
    // Alice's photo three times over, ids in upload order but the *last* id the oldest row; her
    // other photo once; Bob's copy of the first photo is his own.
    let [dup_a, dup_b, oldest, single, bobs] = [(); 5].map(|_| Uuid::now_v7());
    let media = [
        (dup_a, alice, &hash, now - Duration::minutes(2)),
        (dup_b, alice, &hash, now - Duration::minutes(1)),
        (oldest, alice, &hash, now - Duration::minutes(3)),
        (single, alice, &other_hash, now),
        (bobs, bob, &hash, now - Duration::minutes(9)),
    ];
    let category = Uuid::now_v7();
    let reports = [(); 3].map(|_| Uuid::now_v7());
    // Report 0 shows two duplicates, report 1 the oldest row and a duplicate, report 2 one duplicate.
    let attached = [
        (reports[0], dup_a, 0),
        (reports[0], dup_b, 1),
        (reports[1], oldest, 0),
        (reports[1], dup_b, 1),
        (reports[2], dup_b, 0),
        (reports[2], single, 1),
    ];
    let cells = wardline::geo::cells(wardline::geo::Point {
        lat: 10.77,
        lon: 106.70,
    });
    wardline::on_db!(&db, pool => async {
        for (id, owner, hash, at) in &media {
            sqlx::query(
                "INSERT INTO media (media_id, owner_id, content_hash, public_key, thumb_key, width, height, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, 64, 48, $6, $6)",
            )
            .bind(id)
            .bind(owner)
            .bind(hash.as_str())
            .bind(format!("photos/{}/{hash}.jpg", &hash[..2]))
            .bind(format!("thumbs/{}/{hash}.jpg", &hash[..2]))
            .bind(at)
            .execute(pool)
            .await?;
        }
        sqlx::query(
            "INSERT INTO categories (category_id, code, name_vi, name_en, group_code, created_at, updated_at)
             VALUES ($1, 'merge_test', 'Thử', 'Test', 'urban_order', $2, $2)",
        )
        .bind(category)
        .bind(now)
        .execute(pool)
        .await?;
        for report in reports {
            sqlx::query(
                "INSERT INTO reports (report_id, category_id, reporter_id, channel, description, lat, lon,
                     h3_r10, h3_r8, h3_r6, h3_r4, status, severity, ack_by, resolve_by, created_at, updated_at)
                 VALUES ($1, $2, $3, 'app', 'Ổ gà', 10.77, 106.70, $4, $5, $6, $7, 'submitted', 'normal', $8, $8, $8, $8)",
            )
            .bind(report)
            .bind(category)
            .bind(alice)
            .bind(cells.r10)
            .bind(cells.r8)
            .bind(cells.r6)
            .bind(cells.r4)
            .bind(now)
            .execute(pool)
            .await?;
        }
        for (report, media_id, position) in attached {
            sqlx::query(
                "INSERT INTO report_media (report_id, media_id, role, position, created_at, updated_at)
                 VALUES ($1, $2, 'report', $3, $4, $4)",
            )
            .bind(report)
            .bind(media_id)
            .bind(position)
            .bind(now)
            .execute(pool)
            .await?;
        }
        // Completed upload keys: one naming a duplicate, one Alice's other photo.
        for (key, media_id) in [("k-dup", dup_a), ("k-single", single)] {
            sqlx::query(
                "INSERT INTO idempotency_keys (account_id, scope, idem_key, request_hash, status_code, response_body, created_at, updated_at)
                 VALUES ($1, 'media', $2, 'h', 201, $3, $4, $4)",
            )
            .bind(alice)
            .bind(key)
            .bind(media_id.to_string())
            .bind(now)
            .execute(pool)
            .await?;
        }
        Ok::<_, sqlx::Error>(())
    }
    .await)
    .unwrap();

    db.migrate().await.unwrap();

    let mut left: Vec<Uuid> = wardline::on_db!(&db, pool => sqlx::query_scalar::<_, Uuid>(
        "SELECT media_id FROM media").fetch_all(pool).await)
    .unwrap();
    left.sort();
    let mut expected = vec![oldest, single, bobs];
    expected.sort();
    assert_eq!(
        left, expected,
        "each owner's oldest row for each photo is kept"
    );
    let shown = async |report: Uuid| -> Vec<Uuid> {
        wardline::on_db!(&db, pool => sqlx::query_scalar::<_, Uuid>(
            "SELECT media_id FROM report_media WHERE report_id = $1 ORDER BY position")
            .bind(report).fetch_all(pool).await)
        .unwrap()
    };
    assert_eq!(shown(reports[0]).await, [oldest]);
    assert_eq!(shown(reports[1]).await, [oldest]);
    assert_eq!(shown(reports[2]).await, [oldest, single]);
    let named = async |key: &str| -> String {
        wardline::on_db!(&db, pool => sqlx::query_scalar::<_, String>(
            "SELECT response_body FROM idempotency_keys WHERE account_id = $1 AND scope = 'media' AND idem_key = $2")
            .bind(alice).bind(key).fetch_one(pool).await)
        .unwrap()
    };
    assert_eq!(named("k-dup").await, oldest.to_string());
    assert_eq!(named("k-single").await, single.to_string());
    // The index holds from now on.
    let again = wardline::on_db!(&db, pool => sqlx::query(
        "INSERT INTO media (media_id, owner_id, content_hash, public_key, thumb_key, width, height, created_at, updated_at)
         VALUES ($1, $2, $3, 'p', 't', 1, 1, $4, $4)")
        .bind(Uuid::now_v7()).bind(alice).bind(&hash).bind(now).execute(pool).await.map(|_| ()));
    assert!(
        again.is_err(),
        "a second row for the same owner and photo is refused"
    );
    db.close().await;
}
