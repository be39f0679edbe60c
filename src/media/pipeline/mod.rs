//! The photo pipeline every resident's report photo goes through before anyone else sees it.
//!
//! Residents photograph potholes, flooded lanes and illegal dumping from their phones, so the raw
//! file routinely carries the exact spot they were standing on, the phone model and sometimes the
//! owner's name. Nothing of the original is ever served: [`process`] decodes the pixels, applies
//! the EXIF orientation, bounds the size and re-encodes fresh JPEGs that carry no metadata at all.
//! What the metadata is good for (where and when the photo was taken) is extracted first and handed
//! back as data, so staff can use it without it leaking to the public feed.
//!
//! Decoding untrusted images is the dangerous part, so the checks run cheapest first: byte count,
//! magic bytes, structure, then the dimensions from the header (a 30000×30000 PNG can be under a hundred
//! bytes and would want 2.7 GB of pixels), and only then the decode itself, with `image`'s own
//! limits set as a second line of defence.

use std::fmt;
use std::io::Cursor;

use chrono::{NaiveDate, NaiveDateTime};
use exif::{In, Tag, Value};
use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::codecs::png::PngDecoder;
use image::codecs::webp::WebPDecoder;
use image::error::ImageError;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, RgbImage, RgbaImage};
use sha2::{Digest, Sha256};

use super::libjpeg::{self, JpegError};

/// Longest side of the public copy. Enough for a phone screen at full width and for zooming into a
/// street sign, while keeping a 12-megapixel photo to a few hundred kilobytes.
pub const PUBLIC_MAX_SIDE: u32 = 2048;
/// Longest side of the thumbnail shown in feeds and lists.
pub const THUMBNAIL_MAX_SIDE: u32 = 320;
/// Artefacts stay invisible at viewing size, for markedly fewer bytes than the 90–95 phones use.
const JPEG_QUALITY: u8 = 82;

/// What an upload may cost us before a single pixel is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Size of the file as uploaded.
    pub max_bytes: u64,
    /// `width × height` as declared in the header; decoded memory is about 3–8 bytes per pixel.
    pub max_pixels: u64,
    /// Either side, so that a 1×50 000 000 strip cannot slip under `max_pixels`.
    pub max_dimension: u32,
}

impl Default for Limits {
    /// 20 MiB, 50 megapixels, 12 000 px on a side: comfortably above any phone camera (a 48 MP
    /// sensor shoots 8064×6048), far below what would let one upload exhaust the server's memory.
    fn default() -> Self {
        Self {
            max_bytes: 20 * 1024 * 1024,
            max_pixels: 50_000_000,
            max_dimension: 12_000,
        }
    }
}

/// The outcome of [`process`]: what may be published, and what was learnt from the metadata.
#[derive(Clone, PartialEq)]
pub struct Processed {
    /// JPEG, auto-oriented, all metadata stripped, longest side ≤ [`PUBLIC_MAX_SIDE`], never upscaled.
    pub public: Vec<u8>,
    /// Width of `public` in pixels.
    pub public_width: u32,
    /// Height of `public` in pixels.
    pub public_height: u32,
    /// JPEG, longest side ≤ [`THUMBNAIL_MAX_SIDE`], no metadata.
    pub thumbnail: Vec<u8>,
    /// Hex SHA-256 of the original bytes, so the same photo uploaded twice is stored once.
    pub content_hash: String,
    /// `"jpeg"`, `"png"` or `"webp"`, from the magic bytes.
    pub source_format: &'static str,
    /// `(latitude, longitude)` in decimal degrees from the EXIF GPS tags, if present and sane.
    pub location_hint: Option<(f64, f64)>,
    /// EXIF `DateTimeOriginal`: the camera's local wall-clock time, no zone.
    pub captured_at: Option<NaiveDateTime>,
}

impl fmt::Debug for Processed {
    /// Byte counts instead of bytes: a `{:?}` in a log line must not dump megabytes of JPEG.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Processed")
            .field("public_bytes", &self.public.len())
            .field("public_width", &self.public_width)
            .field("public_height", &self.public_height)
            .field("thumbnail_bytes", &self.thumbnail.len())
            .field("content_hash", &self.content_hash)
            .field("source_format", &self.source_format)
            .field("location_hint", &self.location_hint)
            .field("captured_at", &self.captured_at)
            .finish()
    }
}

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// Not JPEG, PNG or WebP by its magic bytes, or a variant of them the decoders cannot read.
    ///
    /// HEIC/HEIF (the iPhone default) lands here too: there is no maintained pure-Rust HEVC
    /// decoder, and binding libheif would bring a C/C++ codec stack to parse untrusted input.
    /// iOS usually converts to JPEG when a photo goes through a browser's file picker anyway.
    #[error("unsupported image type: send a JPEG, PNG or WebP photo")]
    UnsupportedType,
    /// More bytes than [`Limits::max_bytes`].
    #[error("image file too large")]
    TooLarge,
    /// Declared dimensions over [`Limits::max_pixels`] or [`Limits::max_dimension`].
    #[error("image dimensions too large")]
    TooManyPixels,
    /// Truncated or malformed data (the message is for logs, not for residents).
    #[error("corrupt image: {0}")]
    Corrupt(String),
}

/// Sniffs the type from the first bytes (magic numbers), never from the client's `Content-Type`,
/// which is whatever the client says it is.
///
/// Returns `"jpeg"`, `"png"`, `"webp"`, or `"heic"` (recognised only to report it as unsupported).
#[must_use]
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    /// ISO-BMFF brands of HEIF still images (HEVC-coded or generic HEIF).
    const HEIF_BRANDS: [&[u8; 4]; 10] = [
        b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1",
    ];
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("jpeg")
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("png")
    } else if head.len() >= 12 && &head[0..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Some("webp")
    } else if head.len() >= 12
        && &head[4..8] == b"ftyp"
        && HEIF_BRANDS.iter().any(|brand| &head[8..12] == *brand)
    {
        Some("heic")
    } else {
        None
    }
}

/// Runs the whole pipeline on bytes already in memory.
///
/// The caller streams the upload to a temporary file with a size cap, reads it back and calls this
/// inside `spawn_blocking`: it is CPU-bound for tens to hundreds of milliseconds.
///
/// # Errors
///
/// [`MediaError::TooLarge`], [`MediaError::UnsupportedType`] and [`MediaError::TooManyPixels`] are
/// decided before any pixel is decoded; [`MediaError::Corrupt`] when the data does not decode.
pub fn process(bytes: &[u8], limits: &Limits) -> Result<Processed, MediaError> {
    process_owned(bytes.to_vec(), limits)
}

/// [`process`], taking the upload's bytes so they are freed as soon as the pixels are decoded:
/// shrinking and encoding, the costliest steps in memory, run without them.
pub fn process_owned(bytes: Vec<u8>, limits: &Limits) -> Result<Processed, MediaError> {
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limits.max_bytes {
        return Err(MediaError::TooLarge);
    }
    let source_format = match sniff(&bytes) {
        Some(format @ ("jpeg" | "png" | "webp")) => format,
        _ => return Err(MediaError::UnsupportedType),
    };
    if source_format == "jpeg" {
        // Decoders fill a truncated scan with grey rather than fail (libjpeg only warns, and the
        // decode below refuses that too); a half-uploaded photo must be refused, not published
        // with its bottom half blank. This walk is the cheap first check, before any pixel.
        check_jpeg_structure(&bytes)?;
    }

    let metadata = read_exif(&bytes);
    let orientation = metadata
        .as_ref()
        .and_then(|exif| exif.get_field(Tag::Orientation, In::PRIMARY))
        .and_then(|field| field.value.get_uint(0))
        .and_then(|value| u8::try_from(value).ok())
        .and_then(Orientation::from_exif)
        .unwrap_or(Orientation::NoTransforms);
    let location_hint = metadata.as_ref().and_then(gps_location);
    let captured_at = metadata.as_ref().and_then(date_time_original);

    let content_hash = hex::encode(Sha256::digest(&bytes));
    let (pixels, public_size) = match source_format {
        "jpeg" => decode_jpeg(&bytes, limits)?,
        "png" => bounded(flatten_to_rgb(decode(
            PngDecoder::new(Cursor::new(&bytes)),
            limits,
        )?)?),
        _ => bounded(flatten_to_rgb(decode(
            WebPDecoder::new(Cursor::new(&bytes)),
            limits,
        )?)?),
    };
    drop(bytes);

    let public = public_copy(pixels, public_size, orientation)?;
    // From the public copy rather than the original: a quarter of the pixels to read for a
    // 12-megapixel photo, and no visible difference at 320 px.
    let thumbnail = match shrink(&public, THUMBNAIL_MAX_SIDE)? {
        Some(smaller) => smaller,
        None => public.clone(),
    };

    Ok(Processed {
        public_width: public.width(),
        public_height: public.height(),
        public: encode_jpeg(&public)?,
        thumbnail: encode_jpeg(&thumbnail)?,
        content_hash,
        source_format,
        location_hint,
        captured_at,
    })
}

/// Walks the JPEG marker segments up to EOI without decoding anything, so a truncated upload is
/// caught even though the decoder would tolerate it.
fn check_jpeg_structure(bytes: &[u8]) -> Result<(), MediaError> {
    let truncated = || MediaError::Corrupt("JPEG ends before its end-of-image marker".into());
    let mut pos = 2; // after SOI, which sniffing already saw
    loop {
        // Decoders skip stray bytes between segments (a common encoder bug); so do we.
        let marker_start = bytes
            .get(pos..)
            .and_then(|rest| rest.iter().position(|&b| b == 0xFF))
            .ok_or_else(truncated)?;
        pos += marker_start;
        while bytes.get(pos) == Some(&0xFF) {
            pos += 1; // fill bytes
        }
        let marker = *bytes.get(pos).ok_or_else(truncated)?;
        pos += 1;
        match marker {
            0xD9 => return Ok(()),   // EOI
            0x01 | 0xD0..=0xD8 => {} // standalone markers
            _ => {
                let length = bytes
                    .get(pos..pos + 2)
                    .map(|len| usize::from(u16::from_be_bytes([len[0], len[1]])))
                    .ok_or_else(truncated)?;
                if length < 2 {
                    return Err(MediaError::Corrupt(
                        "JPEG segment with invalid length".into(),
                    ));
                }
                pos += length;
                if pos > bytes.len() {
                    return Err(truncated());
                }
                if marker == 0xDA {
                    // Entropy-coded data follows SOS; inside it 0xFF is always followed by a
                    // stuffed 0x00 or a restart marker, so the next other 0xFF xx ends the scan.
                    pos = scan_end(bytes, pos).ok_or_else(truncated)?;
                }
            }
        }
    }
}

/// Offset of the first marker after the entropy-coded data starting at `pos`.
fn scan_end(bytes: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        pos += bytes.get(pos..)?.iter().position(|&b| b == 0xFF)?;
        match bytes.get(pos + 1)? {
            0x00 | 0xD0..=0xD7 | 0xFF => pos += 1,
            _ => return Some(pos),
        }
    }
}

/// EXIF from any of the three containers; absent or unreadable metadata is simply no metadata.
/// Broken EXIF is read as far as it goes: writers such as Python's piexif leave out the next-IFD
/// link after the sub-IFDs, and losing the orientation with the rest would publish a portrait
/// photo sideways.
fn read_exif(bytes: &[u8]) -> Option<exif::Exif> {
    let mut reader = exif::Reader::new();
    reader.continue_on_error(true);
    reader
        .read_from_container(&mut Cursor::new(bytes))
        .or_else(|e| {
            e.distill_partial_result(|errors| {
                tracing::debug!(errors = ?errors, "EXIF read in part");
            })
        })
        .ok()
}

/// `(latitude, longitude)` from the GPS IFD, or `None` unless every part is present and the result
/// is a real place. (0, 0) is refused too: it is what broken GPS stacks write when they have no fix.
fn gps_location(metadata: &exif::Exif) -> Option<(f64, f64)> {
    let latitude = gps_coordinate(metadata, Tag::GPSLatitude, Tag::GPSLatitudeRef, b'N', b'S')?;
    let longitude = gps_coordinate(
        metadata,
        Tag::GPSLongitude,
        Tag::GPSLongitudeRef,
        b'E',
        b'W',
    )?;
    let valid = (-90.0..=90.0).contains(&latitude)
        && (-180.0..=180.0).contains(&longitude)
        && !(latitude == 0.0 && longitude == 0.0);
    valid.then_some((latitude, longitude))
}

/// One GPS axis: three rationals (degrees, minutes, seconds) and a hemisphere letter.
fn gps_coordinate(
    metadata: &exif::Exif,
    value_tag: Tag,
    ref_tag: Tag,
    positive: u8,
    negative: u8,
) -> Option<f64> {
    let sign = match &metadata.get_field(ref_tag, In::PRIMARY)?.value {
        Value::Ascii(parts) => match parts.first()?.first()?.to_ascii_uppercase() {
            letter if letter == positive => 1.0,
            letter if letter == negative => -1.0,
            _ => return None,
        },
        _ => return None,
    };
    let Value::Rational(parts) = &metadata.get_field(value_tag, In::PRIMARY)?.value else {
        return None;
    };
    let [degrees, minutes, seconds] = parts.as_slice() else {
        return None;
    };
    let [degrees, minutes, seconds] = [degrees, minutes, seconds].map(|part| part.to_f64());
    // A zero denominator gives NaN or infinity; minutes and seconds past 60 are not a position.
    let sane = [degrees, minutes, seconds]
        .iter()
        .all(|part| part.is_finite())
        && (0.0..60.0).contains(&minutes)
        && (0.0..60.0).contains(&seconds);
    sane.then_some(sign * (degrees + minutes / 60.0 + seconds / 3600.0))
}

/// EXIF `DateTimeOriginal` (`"YYYY:MM:DD HH:MM:SS"`), dropped if blank or impossible.
fn date_time_original(metadata: &exif::Exif) -> Option<NaiveDateTime> {
    let Value::Ascii(parts) = &metadata
        .get_field(Tag::DateTimeOriginal, In::PRIMARY)?
        .value
    else {
        return None;
    };
    let stamp = exif::DateTime::from_ascii(parts.first()?).ok()?;
    NaiveDate::from_ymd_opt(
        i32::from(stamp.year),
        u32::from(stamp.month),
        u32::from(stamp.day),
    )?
    .and_hms_opt(
        u32::from(stamp.hour),
        u32::from(stamp.minute),
        u32::from(stamp.second),
    )
}

/// Checks the dimensions the decoder read from the header, then decodes with `image`'s limits set.
///
/// Constructing a decoder reads only the header, so a decompression bomb is refused here with
/// nothing allocated beyond a copy of the compressed input.
fn decode<D: ImageDecoder>(
    decoder: Result<D, ImageError>,
    limits: &Limits,
) -> Result<DynamicImage, MediaError> {
    let mut decoder = decoder.map_err(image_error)?;
    let (width, height) = decoder.dimensions();
    if width > limits.max_dimension
        || height > limits.max_dimension
        || u64::from(width) * u64::from(height) > limits.max_pixels
    {
        return Err(MediaError::TooManyPixels);
    }
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(limits.max_dimension);
    image_limits.max_image_height = Some(limits.max_dimension);
    // 8 bytes per pixel covers the widest layout these formats decode to (16-bit RGBA PNG).
    image_limits.max_alloc = Some(limits.max_pixels.saturating_mul(8));
    decoder.set_limits(image_limits).map_err(image_error)?;
    DynamicImage::from_decoder(decoder).map_err(image_error)
}

/// Pixels with the size the public copy will have: [`fit`] of their own size.
fn bounded(pixels: RgbImage) -> (RgbImage, (u32, u32)) {
    let size = fit(pixels.width(), pixels.height(), PUBLIC_MAX_SIDE);
    (pixels, size)
}

/// A JPEG to 8-bit RGB with libjpeg-turbo (see [`libjpeg`]), decoded straight to the smallest
/// `n/8` scale whose longer side still covers [`PUBLIC_MAX_SIDE`]: a 4000×3000 photo comes out at
/// 2500×1875 (5/8), the skipped resolution never computed and never held in memory. Grey and
/// CMYK photos are converted to RGB.
///
/// Returns the pixels and the size of the public copy, [`fit`] of the size declared in the header
/// (not of the scaled pixels, whose sides are rounded up to whole pixels), so it is exactly what a
/// full-size decode would give. A truncated or corrupt scan is refused, never filled with grey.
fn decode_jpeg(bytes: &[u8], limits: &Limits) -> Result<(RgbImage, (u32, u32)), MediaError> {
    let header = libjpeg::read_header(bytes).map_err(jpeg_error)?;
    if header.width > limits.max_dimension
        || header.height > limits.max_dimension
        || u64::from(header.width) * u64::from(header.height) > limits.max_pixels
    {
        return Err(MediaError::TooManyPixels);
    }
    let jpeg_limits = libjpeg::DecodeLimits {
        max_pixels: limits.max_pixels,
        max_dimension: limits.max_dimension,
        // Cameras write about 10 scans; each one is a pass over the whole coefficient buffer.
        max_scans: 100,
        // libjpeg's own buffers: the whole-image coefficient buffer of a progressive file is
        // 2 bytes per sample, at most 8 bytes per pixel (4:4:4:4 CMYK), plus working rows.
        max_memory: limits
            .max_pixels
            .saturating_mul(8)
            .saturating_add(16 * 1024 * 1024),
    };
    let scale = libjpeg::scale_for(header.width, header.height, PUBLIC_MAX_SIDE);
    let decoded = libjpeg::decode_rgb(bytes, scale, &jpeg_limits, true).map_err(jpeg_error)?;
    let pixels = RgbImage::from_raw(decoded.width, decoded.height, decoded.rgb)
        .ok_or_else(|| MediaError::Corrupt("JPEG decoded to a short buffer".into()))?;
    Ok((pixels, fit(header.width, header.height, PUBLIC_MAX_SIDE)))
}

/// libjpeg's refusals in the pipeline's terms.
fn jpeg_error(error: JpegError) -> MediaError {
    match error {
        JpegError::TooLarge(_) => MediaError::TooManyPixels,
        // 12-bit, lossless, arithmetic coding in a build without it, odd colour spaces.
        JpegError::Unsupported(_) => MediaError::UnsupportedType,
        other @ (JpegError::Corrupt(_) | JpegError::DataLost(_) | JpegError::Internal(_)) => {
            MediaError::Corrupt(other.to_string())
        }
    }
}

/// Limits tripped by the decoder count as too many pixels; anything it cannot read is corrupt.
fn image_error(error: ImageError) -> MediaError {
    match error {
        ImageError::Limits(_) => MediaError::TooManyPixels,
        // A JPEG/PNG/WebP feature the pure-Rust decoders lack (arithmetic coding, 12-bit JPEG…).
        ImageError::Unsupported(_) => MediaError::UnsupportedType,
        other => MediaError::Corrupt(other.to_string()),
    }
}

/// 8-bit RGB, because JPEG has no alpha: transparent areas become white, as they look on a page,
/// rather than the black a plain channel drop would give.
fn flatten_to_rgb(image: DynamicImage) -> Result<RgbImage, MediaError> {
    if !image.color().has_alpha() {
        return Ok(image.into_rgb8()); // free when the decoder already produced RGB8, as for JPEG
    }
    let rgba: RgbaImage = image.into_rgba8();
    let (width, height) = rgba.dimensions();
    let mut rgb = Vec::with_capacity(rgba.as_raw().len() / 4 * 3);
    for pixel in rgba.as_raw().chunks_exact(4) {
        let alpha = u16::from(pixel[3]);
        for &channel in &pixel[..3] {
            let blended = (u16::from(channel) * alpha + 255 * (255 - alpha) + 127) / 255;
            rgb.push(u8::try_from(blended).unwrap_or(u8::MAX));
        }
    }
    RgbImage::from_raw(width, height, rgb)
        .ok_or_else(|| MediaError::Corrupt("alpha flattening produced a short buffer".into()))
}

/// Largest `(width, height)` with the same aspect ratio whose longer side is at most `max_side`;
/// the input itself when it already fits (never upscale).
fn fit(width: u32, height: u32, max_side: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= max_side {
        return (width, height);
    }
    let scale = |side: u32| {
        let scaled =
            (u64::from(side) * u64::from(max_side) + u64::from(long) / 2) / u64::from(long);
        u32::try_from(scaled).unwrap_or(max_side).clamp(1, max_side)
    };
    (scale(width), scale(height))
}

/// A copy shrunk so its longer side is at most `max_side`, or `None` if it already fits.
fn shrink(image: &RgbImage, max_side: u32) -> Result<Option<RgbImage>, MediaError> {
    let (width, height) = image.dimensions();
    shrink_to(image, fit(width, height, max_side))
}

/// A copy resized to `(target_width, target_height)`, or `None` if it already has that size.
fn shrink_to(
    image: &RgbImage,
    (target_width, target_height): (u32, u32),
) -> Result<Option<RgbImage>, MediaError> {
    let (width, height) = image.dimensions();
    if (target_width, target_height) == (width, height) {
        return Ok(None);
    }
    let resize_error = |error: &dyn fmt::Display| MediaError::Corrupt(format!("resize: {error}"));
    let source = ImageRef::new(width, height, image.as_raw(), PixelType::U8x3)
        .map_err(|error| resize_error(&error))?;
    let mut target = Image::new(target_width, target_height, PixelType::U8x3);
    // Lanczos3: the sharpest of the usual filters when shrinking several times over, and
    // fast_image_resize's SIMD convolution keeps it cheap.
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    Resizer::new()
        .resize(&source, &mut target, &options)
        .map_err(|error| resize_error(&error))?;
    RgbImage::from_raw(target_width, target_height, target.into_vec())
        .map(Some)
        .ok_or_else(|| MediaError::Corrupt("resize produced a short buffer".into()))
}

/// The public copy: resized to `size` (the original's size bounded to [`PUBLIC_MAX_SIDE`]) as
/// stored, then turned upright.
///
/// The resize runs on the stored pixels and the rotation on the small result. That is the same
/// picture as rotating first (the filter is separable and symmetric, and [`fit`] treats both sides
/// alike) but moves a twelfth of the pixels for a 12-megapixel photo.
fn public_copy(
    pixels: RgbImage,
    size: (u32, u32),
    orientation: Orientation,
) -> Result<RgbImage, MediaError> {
    let bounded = match shrink_to(&pixels, size)? {
        Some(smaller) => smaller,
        None => pixels,
    };
    if orientation == Orientation::NoTransforms {
        return Ok(bounded);
    }
    let mut upright = DynamicImage::ImageRgb8(bounded);
    upright.apply_orientation(orientation);
    Ok(upright.into_rgb8())
}

/// A fresh baseline JPEG (4:2:0, libjpeg-turbo): JFIF APP0, tables and the scan, no EXIF, XMP,
/// ICC profile or comment, because none is ever handed to the encoder.
fn encode_jpeg(image: &RgbImage) -> Result<Vec<u8>, MediaError> {
    libjpeg::encode_rgb(image.as_raw(), image.width(), image.height(), JPEG_QUALITY)
        .map_err(|error| MediaError::Corrupt(format!("re-encoding failed: {error}")))
}

#[cfg(test)]
mod tests;
