//! Unit tests of `pipeline`.

use self::tiff::{Entry, ascii, rationals, short, tiff};
use super::*;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{ExtendedColorType, ImageEncoder, ImageFormat, Rgb};

mod exif_corpus;
mod tiff;

// ---- fixtures, all generated here so no binary file is committed ----

const RED: [u8; 3] = [220, 20, 20];
const BLUE: [u8; 3] = [20, 20, 220];

/// Top half red, bottom half blue: enough to tell every orientation apart.
fn two_tone(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |_, y| {
        Rgb(if y < height / 2 { RED } else { BLUE })
    })
}

fn jpeg_of(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(image)
        .unwrap();
    out
}

fn png_of(image: &RgbaImage, exif: Option<Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = PngEncoder::new(&mut out);
    if let Some(exif) = exif {
        encoder.set_exif_metadata(exif).unwrap();
    }
    encoder
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            ExtendedColorType::Rgba8,
        )
        .unwrap();
    out
}

fn webp_of(image: &RgbImage, exif: Option<Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = WebPEncoder::new_lossless(&mut out);
    if let Some(exif) = exif {
        encoder.set_exif_metadata(exif).unwrap();
    }
    encoder
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            ExtendedColorType::Rgb8,
        )
        .unwrap();
    out
}

/// Ho Chi Minh City, 10.7769 N 106.7009 E, as a camera writes it: degrees, minutes, seconds.
fn saigon_gps() -> Vec<Entry> {
    vec![
        ascii(1, "N"),
        rationals(2, &[(10, 1), (46, 1), (3684, 100)]),
        ascii(3, "E"),
        rationals(4, &[(106, 1), (42, 1), (324, 100)]),
    ]
}

fn camera_exif(orientation: u16) -> Vec<u8> {
    tiff(
        vec![ascii(0x010F, "PhoneMaker"), short(0x0112, orientation)],
        vec![ascii(0x9003, "2024:05:17 08:30:15")],
        saigon_gps(),
    )
}

/// Splices an APP1 "Exif" segment right after SOI, where cameras put it.
fn with_app1_exif(jpeg: &[u8], tiff: &[u8]) -> Vec<u8> {
    let length = u16::try_from(2 + 6 + tiff.len()).unwrap();
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(b"Exif\0\0");
    out.extend_from_slice(tiff);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
}

/// A valid PNG header declaring `width`×`height` RGB8, followed by a token IDAT: a bomb's
/// fuse, a few dozen bytes that would expand to `width × height × 3` bytes of pixels.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit, RGB, deflate, adaptive, no interlace
    png_chunk(&mut out, b"IHDR", &ihdr);
    png_chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    png_chunk(&mut out, b"IEND", &[]);
    out
}

fn decode_jpeg(bytes: &[u8]) -> RgbImage {
    image::load_from_memory_with_format(bytes, ImageFormat::Jpeg)
        .unwrap()
        .into_rgb8()
}

/// Every marker segment before the scan must be JFIF APP0 or codec tables: no APP1 (EXIF,
/// XMP), APP2 (ICC), APP13 (IPTC) or COM, and no tell-tale strings anywhere in the file.
fn assert_no_metadata(jpeg: &[u8]) {
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    let mut pos = 2;
    loop {
        assert_eq!(jpeg[pos], 0xFF, "marker expected at {pos}");
        let marker = jpeg[pos + 1];
        let length = usize::from(u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]));
        match marker {
            0xE0 => assert_eq!(&jpeg[pos + 4..pos + 9], b"JFIF\0"),
            0xDB | 0xC0 | 0xC2 | 0xC4 | 0xDD => {}
            0xDA => break,
            other => panic!("unexpected segment 0xFF{other:02X} in re-encoded JPEG"),
        }
        pos += 2 + length;
    }
    let contains = |needle: &[u8]| jpeg.windows(needle.len()).any(|w| w == needle);
    assert!(!contains(b"Exif\0"));
    assert!(!contains(b"http://ns.adobe.com/xap"));
    assert!(!contains(b"ICC_PROFILE"));
    assert!(
        exif::Reader::new()
            .read_from_container(&mut Cursor::new(jpeg))
            .is_err()
    );
}

fn mean_colour(image: &RgbImage, xs: std::ops::Range<u32>, ys: std::ops::Range<u32>) -> [u32; 3] {
    let mut sum = [0u32; 3];
    let mut count = 0;
    for y in ys {
        for x in xs.clone() {
            for (total, channel) in sum.iter_mut().zip(image.get_pixel(x, y).0) {
                *total += u32::from(channel);
            }
            count += 1;
        }
    }
    sum.map(|total| total / count)
}

fn is_red(colour: [u32; 3]) -> bool {
    colour[0] > 150 && colour[2] < 90
}

fn is_blue(colour: [u32; 3]) -> bool {
    colour[2] > 150 && colour[0] < 90
}

// ---- the pipeline ----

#[test]
fn jpeg_with_exif_yields_hint_is_turned_upright_and_stripped() {
    let original = with_app1_exif(&jpeg_of(&two_tone(64, 32)), &camera_exif(6));
    assert!(
        read_exif(&original).is_some(),
        "fixture must carry readable EXIF"
    );

    let out = process(&original, &Limits::default()).unwrap();

    let (lat, lon) = out.location_hint.unwrap();
    assert!((lat - 10.7769).abs() < 1e-6, "{lat}");
    assert!((lon - 106.7009).abs() < 1e-6, "{lon}");
    assert_eq!(
        out.captured_at,
        NaiveDate::from_ymd_opt(2024, 5, 17)
            .unwrap()
            .and_hms_opt(8, 30, 15)
    );
    assert_eq!(out.source_format, "jpeg");
    // Orientation 6: the stored image must be turned 90° clockwise, so its top (red) ends up
    // on the right.
    assert_eq!((out.public_width, out.public_height), (32, 64));
    let public = decode_jpeg(&out.public);
    assert_eq!(public.dimensions(), (32, 64));
    assert!(is_red(mean_colour(&public, 20..30, 5..60)));
    assert!(is_blue(mean_colour(&public, 2..12, 5..60)));
    assert_eq!(decode_jpeg(&out.thumbnail).dimensions(), (32, 64));
    assert_no_metadata(&out.public);
    assert_no_metadata(&out.thumbnail);
    let contains = |needle: &[u8]| out.public.windows(needle.len()).any(|w| w == needle);
    assert!(!contains(b"PhoneMaker"));
}

#[test]
fn orientation_is_applied_to_the_bounded_copy() {
    // Orientation 8: turned 90° counter-clockwise, so the red top ends up on the left, and the
    // 2400×1200 stored image is displayed (and bounded) as 1200×2400.
    let original = with_app1_exif(&jpeg_of(&two_tone(2400, 1200)), &camera_exif(8));
    let out = process(&original, &Limits::default()).unwrap();
    assert_eq!((out.public_width, out.public_height), (1024, 2048));
    let public = decode_jpeg(&out.public);
    assert_eq!(public.dimensions(), (1024, 2048));
    assert!(is_red(mean_colour(&public, 100..400, 100..1900)));
    assert!(is_blue(mean_colour(&public, 600..900, 100..1900)));
    let thumbnail = decode_jpeg(&out.thumbnail);
    assert_eq!(thumbnail.dimensions(), (160, 320));
    assert!(is_red(mean_colour(&thumbnail, 10..60, 10..300)));
}

#[test]
fn every_orientation_is_applied() {
    // (orientation, displayed size, where the red top half of the stored image ends up)
    let cases = [
        (1, (64, 32), "top"),
        (2, (64, 32), "top"),
        (3, (64, 32), "bottom"),
        (4, (64, 32), "bottom"),
        (5, (32, 64), "left"),
        (6, (32, 64), "right"),
        (7, (32, 64), "right"),
        (8, (32, 64), "left"),
    ];
    for (orientation, size, red_side) in cases {
        let original = with_app1_exif(&jpeg_of(&two_tone(64, 32)), &camera_exif(orientation));
        let out = process(&original, &Limits::default()).unwrap();
        let public = decode_jpeg(&out.public);
        assert_eq!(public.dimensions(), size, "orientation {orientation}");
        let (w, h) = size;
        let red = match red_side {
            "top" => mean_colour(&public, 4..w - 4, 2..h / 2 - 4),
            "bottom" => mean_colour(&public, 4..w - 4, h / 2 + 4..h - 2),
            "left" => mean_colour(&public, 2..w / 2 - 4, 4..h - 4),
            _ => mean_colour(&public, w / 2 + 4..w - 2, 4..h - 4),
        };
        assert!(is_red(red), "orientation {orientation}: {red:?}");
    }
}

#[test]
fn png_alpha_is_composited_on_white_and_exif_read() {
    // Left half fully transparent, right half opaque black.
    let image = RgbaImage::from_fn(40, 30, |x, _| {
        image::Rgba(if x < 20 { [0, 0, 0, 0] } else { [0, 0, 0, 255] })
    });
    let original = png_of(&image, Some(tiff(vec![], vec![], saigon_gps())));
    let out = process(&original, &Limits::default()).unwrap();
    assert_eq!(out.source_format, "png");
    assert_eq!((out.public_width, out.public_height), (40, 30));
    let public = decode_jpeg(&out.public);
    assert!(mean_colour(&public, 2..16, 2..28).iter().all(|&c| c > 240));
    assert!(mean_colour(&public, 24..38, 2..28).iter().all(|&c| c < 15));
    assert!(out.location_hint.is_some());
    assert_eq!(out.captured_at, None);
    assert_no_metadata(&out.public);
}

#[test]
fn webp_is_accepted_oriented_and_stripped() {
    let original = webp_of(&two_tone(50, 40), Some(camera_exif(6)));
    assert_eq!(sniff(&original), Some("webp"));
    let out = process(&original, &Limits::default()).unwrap();
    assert_eq!(out.source_format, "webp");
    assert_eq!((out.public_width, out.public_height), (40, 50));
    assert!(out.location_hint.is_some());
    assert_no_metadata(&out.public);
    assert_no_metadata(&out.thumbnail);
}

#[test]
fn twelve_megapixels_are_bounded_to_2048_and_320() {
    let image = RgbImage::from_fn(4000, 3000, |x, y| {
        Rgb([(x / 16) as u8, (y / 12) as u8, ((x + y) / 28) as u8])
    });
    let out = process(&jpeg_of(&image), &Limits::default()).unwrap();
    assert_eq!((out.public_width, out.public_height), (2048, 1536));
    // From the header: decoding 3 megapixels in an unoptimised test build costs a second.
    let header = image::ImageReader::with_format(Cursor::new(&out.public), ImageFormat::Jpeg);
    assert_eq!(header.into_dimensions().unwrap(), (2048, 1536));
    assert_eq!(decode_jpeg(&out.thumbnail).dimensions(), (320, 240));
    assert_eq!(out.location_hint, None);
    assert_eq!(out.captured_at, None);
}

#[test]
fn small_photos_are_not_upscaled() {
    let out = process(&jpeg_of(&two_tone(100, 50)), &Limits::default()).unwrap();
    assert_eq!((out.public_width, out.public_height), (100, 50));
    assert_eq!(decode_jpeg(&out.thumbnail).dimensions(), (100, 50));
}

#[test]
fn truncated_files_are_corrupt() {
    let jpeg = jpeg_of(&two_tone(256, 256));
    for cut in [jpeg.len() / 2, jpeg.len() - 2, 300] {
        let result = process(&jpeg[..cut], &Limits::default());
        assert!(
            matches!(result, Err(MediaError::Corrupt(_))),
            "cut at {cut}: {result:?}"
        );
    }
    let png = png_of(
        &RgbaImage::from_pixel(64, 64, image::Rgba([9, 9, 9, 255])),
        None,
    );
    let result = process(&png[..png.len() / 2], &Limits::default());
    assert!(matches!(result, Err(MediaError::Corrupt(_))), "{result:?}");
    let webp = webp_of(&two_tone(64, 64), None);
    let result = process(&webp[..webp.len() / 2], &Limits::default());
    assert!(matches!(result, Err(MediaError::Corrupt(_))), "{result:?}");
}

#[test]
fn random_bytes_are_unsupported() {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect();
    assert_eq!(sniff(&noise), None);
    assert!(matches!(
        process(&noise, &Limits::default()),
        Err(MediaError::UnsupportedType)
    ));
    assert!(matches!(
        process(&[], &Limits::default()),
        Err(MediaError::UnsupportedType)
    ));
    // A GIF is a real image, just not one we take.
    assert!(matches!(
        process(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", &Limits::default()),
        Err(MediaError::UnsupportedType)
    ));
}

#[test]
fn heic_is_recognised_and_refused() {
    let mut heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic".to_vec();
    heic.resize(512, 0);
    assert_eq!(sniff(&heic), Some("heic"));
    assert!(matches!(
        process(&heic, &Limits::default()),
        Err(MediaError::UnsupportedType)
    ));
}

#[test]
fn decompression_bombs_are_refused_from_the_header() {
    let bomb = png_claiming(30_000, 30_000);
    assert!(bomb.len() < 100);
    let started = std::time::Instant::now();
    assert!(matches!(
        process(&bomb, &Limits::default()),
        Err(MediaError::TooManyPixels)
    ));
    // Allocating and zeroing 2.7 GB would take far longer than this, even if it succeeded.
    assert!(started.elapsed() < std::time::Duration::from_millis(500));

    // Same through the JPEG frame header: patch SOF0 of a real JPEG to claim 30000×30000.
    let mut jpeg = jpeg_of(&two_tone(16, 16));
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    jpeg[sof + 5..sof + 7].copy_from_slice(&30_000u16.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&30_000u16.to_be_bytes());
    assert!(matches!(
        process(&jpeg, &Limits::default()),
        Err(MediaError::TooManyPixels)
    ));
}

#[test]
fn one_side_over_max_dimension_is_refused() {
    // 12 001 × 10 is only 120 010 pixels, but no phone shoots a strip like that.
    let strip = png_claiming(12_001, 10);
    assert!(matches!(
        process(&strip, &Limits::default()),
        Err(MediaError::TooManyPixels)
    ));
    let tight = Limits {
        max_pixels: 16 * 16 - 1,
        ..Limits::default()
    };
    let result = process(&jpeg_of(&two_tone(16, 16)), &tight);
    assert!(matches!(result, Err(MediaError::TooManyPixels)));
}

#[test]
fn files_over_max_bytes_are_too_large() {
    let jpeg = jpeg_of(&two_tone(64, 64));
    let limits = Limits {
        max_bytes: jpeg.len() as u64 - 1,
        ..Limits::default()
    };
    assert!(matches!(process(&jpeg, &limits), Err(MediaError::TooLarge)));
    let limits = Limits {
        max_bytes: jpeg.len() as u64,
        ..Limits::default()
    };
    assert!(process(&jpeg, &limits).is_ok());
}

#[test]
fn the_same_bytes_hash_the_same() {
    let jpeg = jpeg_of(&two_tone(64, 64));
    let first = process(&jpeg, &Limits::default()).unwrap();
    let second = process(&jpeg.clone(), &Limits::default()).unwrap();
    assert_eq!(first.content_hash, second.content_hash);
    assert_eq!(first.content_hash, hex::encode(Sha256::digest(&jpeg)));
    assert_eq!(first.content_hash.len(), 64);
    // The hash is of the original, so re-tagging the photo is a different upload.
    let retagged = with_app1_exif(&jpeg, &camera_exif(1));
    let third = process(&retagged, &Limits::default()).unwrap();
    assert_ne!(first.content_hash, third.content_hash);
}

// ---- the parts ----

#[test]
fn sniffing_uses_magic_bytes_only() {
    assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("jpeg"));
    assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR"), Some("png"));
    assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8L"), Some("webp"));
    assert_eq!(sniff(b"RIFF\x10\0\0\0WAVEfmt "), None);
    assert_eq!(sniff(b"\0\0\0\x1cftypheix\0\0\0\0"), Some("heic"));
    assert_eq!(sniff(b"\0\0\0\x1cftypmif1\0\0\0\0"), Some("heic"));
    assert_eq!(sniff(b"\0\0\0\x1cftypisom\0\0\0\0"), None); // an MP4 video
    assert_eq!(sniff(b"<svg xmlns="), None);
    assert_eq!(sniff(&[0xFF, 0xD8]), None);
    assert_eq!(sniff(&[]), None);
}

fn gps_of(gps: Vec<Entry>) -> Option<(f64, f64)> {
    let metadata = exif::Reader::new()
        .read_raw(tiff(vec![], vec![], gps))
        .unwrap();
    gps_location(&metadata)
}

#[test]
fn gps_is_converted_and_validated() {
    let (lat, lon) = gps_of(saigon_gps()).unwrap();
    assert!((lat - 10.7769).abs() < 1e-6 && (lon - 106.7009).abs() < 1e-6);
    // Southern and western hemispheres are negative.
    let (lat, lon) = gps_of(vec![
        ascii(1, "S"),
        rationals(2, &[(33, 1), (52, 1), (0, 1)]),
        ascii(3, "W"),
        rationals(4, &[(151, 1), (12, 1), (0, 1)]),
    ])
    .unwrap();
    assert!(lat < -33.0 && lon < -151.0);

    let garbage = [
        // latitude out of range
        vec![
            ascii(1, "N"),
            rationals(2, &[(95, 1), (0, 1), (0, 1)]),
            ascii(3, "E"),
            rationals(4, &[(106, 1), (0, 1), (0, 1)]),
        ],
        // longitude out of range
        vec![
            ascii(1, "N"),
            rationals(2, &[(10, 1), (0, 1), (0, 1)]),
            ascii(3, "E"),
            rationals(4, &[(181, 1), (0, 1), (0, 1)]),
        ],
        // zero denominator (NaN / infinity)
        vec![
            ascii(1, "N"),
            rationals(2, &[(10, 0), (0, 1), (0, 1)]),
            ascii(3, "E"),
            rationals(4, &[(106, 1), (0, 1), (0, 1)]),
        ],
        vec![
            ascii(1, "N"),
            rationals(2, &[(0, 0), (0, 1), (0, 1)]),
            ascii(3, "E"),
            rationals(4, &[(106, 1), (0, 1), (0, 1)]),
        ],
        // 75 minutes
        vec![
            ascii(1, "N"),
            rationals(2, &[(10, 1), (75, 1), (0, 1)]),
            ascii(3, "E"),
            rationals(4, &[(106, 1), (0, 1), (0, 1)]),
        ],
        // no hemisphere
        vec![
            rationals(2, &[(10, 1), (0, 1), (0, 1)]),
            ascii(3, "E"),
            rationals(4, &[(106, 1), (0, 1), (0, 1)]),
        ],
        // nonsense hemisphere
        vec![
            ascii(1, "X"),
            rationals(2, &[(10, 1), (0, 1), (0, 1)]),
            ascii(3, "E"),
            rationals(4, &[(106, 1), (0, 1), (0, 1)]),
        ],
        // only two components
        vec![
            ascii(1, "N"),
            rationals(2, &[(10, 1), (0, 1)]),
            ascii(3, "E"),
            rationals(4, &[(106, 1), (0, 1), (0, 1)]),
        ],
        // no longitude
        vec![ascii(1, "N"), rationals(2, &[(10, 1), (0, 1), (0, 1)])],
        // Null Island: a GPS with no fix
        vec![
            ascii(1, "N"),
            rationals(2, &[(0, 1), (0, 1), (0, 1)]),
            ascii(3, "E"),
            rationals(4, &[(0, 1), (0, 1), (0, 1)]),
        ],
    ];
    for (i, gps) in garbage.into_iter().enumerate() {
        assert_eq!(gps_of(gps), None, "case {i}");
    }
}

#[test]
fn impossible_capture_dates_are_dropped() {
    for stamp in ["2024:02:30 08:00:00", "    :  :     :  :  ", "yesterday"] {
        let blob = tiff(vec![], vec![ascii(0x9003, stamp)], vec![]);
        let metadata = exif::Reader::new().read_raw(blob).unwrap();
        assert_eq!(date_time_original(&metadata), None, "{stamp}");
    }
}

#[test]
fn fitting_keeps_aspect_and_never_upscales() {
    assert_eq!(fit(4000, 3000, 2048), (2048, 1536));
    assert_eq!(fit(3000, 4000, 2048), (1536, 2048));
    assert_eq!(fit(2048, 10, 2048), (2048, 10));
    assert_eq!(fit(100_000, 10, 2048), (2048, 1));
    assert_eq!(fit(640, 480, 2048), (640, 480));
    assert_eq!(fit(2048, 1536, 320), (320, 240));
}

#[test]
fn structure_check_accepts_complete_jpegs() {
    let jpeg = jpeg_of(&two_tone(64, 64));
    assert!(check_jpeg_structure(&jpeg).is_ok());
    // Trailing bytes after EOI (some phones append data there) are not our concern.
    let mut trailing = jpeg.clone();
    trailing.extend_from_slice(b"trailer");
    assert!(check_jpeg_structure(&trailing).is_ok());
    assert!(check_jpeg_structure(&jpeg[..jpeg.len() - 1]).is_err());
}
