//! Object storage on the configured backend: local disk, or the real S3 server (which checks
//! signatures, so presigned URLs are really verified).

use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use wardline::objects::{Access, ObjectError};

use crate::helpers::TestApp;

#[tokio::test]
async fn put_get_stream_delete_and_exists() {
    let app = TestApp::spawn().await;
    let o = &app.state.objects;
    o.put("photos/ab/one.jpg", Bytes::from_static(b"hello"))
        .await
        .unwrap();
    assert_eq!(
        o.get("photos/ab/one.jpg").await.unwrap(),
        Bytes::from_static(b"hello")
    );
    assert!(o.exists("photos/ab/one.jpg").await.unwrap());

    // Streaming, larger than one multipart part (5 MiB) so the multipart path runs on S3.
    let chunk = Bytes::from(vec![7u8; 1024 * 1024]);
    let stream = futures::stream::iter((0..6).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    let n = o
        .put_stream("photos/big.bin", Box::pin(stream), 10 * 1024 * 1024)
        .await
        .unwrap();
    assert_eq!(n, 6 * 1024 * 1024);
    assert_eq!(
        o.get("photos/big.bin").await.unwrap().len(),
        6 * 1024 * 1024
    );

    // Over the limit: refused, and nothing is left under the key.
    let chunk = Bytes::from(vec![1u8; 1024 * 1024]);
    let stream = futures::stream::iter((0..3).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    let r = o
        .put_stream("photos/too-big.bin", Box::pin(stream), 2 * 1024 * 1024)
        .await;
    assert!(matches!(r, Err(ObjectError::TooLarge)), "{r:?}");
    assert!(!o.exists("photos/too-big.bin").await.unwrap());
    // A body that breaks midway leaves nothing either.
    let parts: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from_static(b"part")),
        Err(std::io::Error::other("client went away")),
    ];
    let r = o
        .put_stream(
            "photos/broken.bin",
            Box::pin(futures::stream::iter(parts)),
            1024,
        )
        .await;
    assert!(matches!(r, Err(ObjectError::Body(_))), "{r:?}");
    assert!(!o.exists("photos/broken.bin").await.unwrap());

    o.delete("photos/ab/one.jpg").await.unwrap();
    o.delete("photos/ab/one.jpg").await.unwrap();
    assert!(matches!(
        o.get("photos/ab/one.jpg").await,
        Err(ObjectError::NotFound)
    ));
    app.stop().await;
}

#[tokio::test]
async fn presigned_urls_work_for_their_method_and_time_only() {
    let app = TestApp::spawn().await;
    let o = &app.state.objects;
    let put_url = o
        .presign(Access::Put, "uploads/p.txt", Duration::from_secs(300))
        .await
        .unwrap();
    let r = app
        .client
        .put(&put_url)
        .body("presigned body")
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "{} {}",
        r.status(),
        r.text().await.unwrap_or_default()
    );
    assert_eq!(
        o.get("uploads/p.txt").await.unwrap(),
        Bytes::from_static(b"presigned body")
    );

    let get_url = o
        .presign(Access::Get, "uploads/p.txt", Duration::from_secs(300))
        .await
        .unwrap();
    let r = app.client.get(&get_url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), "presigned body");

    // A GET URL does not allow PUT.
    let r = app
        .client
        .put(&get_url)
        .body("overwrite")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    assert_eq!(
        o.get("uploads/p.txt").await.unwrap(),
        Bytes::from_static(b"presigned body")
    );

    // Tampered signatures are refused.
    let tampered = tamper(&get_url);
    let r = app.client.get(&tampered).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "{tampered}");

    // Expired URLs are refused.
    let short = o
        .presign(Access::Get, "uploads/p.txt", Duration::from_secs(1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = app.client.get(&short).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}

/// Flip one character of the signature part of the URL.
fn tamper(url: &str) -> String {
    if let Some(pos) = url.find("X-Amz-Signature=") {
        let i = pos + "X-Amz-Signature=".len();
        let mut s = url.to_string();
        let c = if &s[i..i + 1] == "a" { "b" } else { "a" };
        s.replace_range(i..i + 1, c);
        s
    } else {
        let i = url.len() - 5;
        let mut s = url.to_string();
        let c = if &s[i..i + 1] == "a" { "b" } else { "a" };
        s.replace_range(i..i + 1, c);
        s
    }
}
