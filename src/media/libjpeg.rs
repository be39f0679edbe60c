//! JPEG decode and encode through the system's libjpeg-turbo, via the C shim `jpeg_shim.c` beside
//! this file (compiled by `build.rs` against the real `<jpeglib.h>`, linked with `-ljpeg`).
//!
//! Why: libjpeg-turbo's SIMD codec, and above all its DCT-domain scaling, which decodes a
//! 4000×3000 photo straight to 2500×1875 (5/8) without ever computing the full-size pixels, make the
//! photo pipeline markedly cheaper than a full decode followed by a resize.
//!
//! Safety model: libjpeg reports fatal errors with `longjmp`, which must never cross a Rust frame.
//! All libjpeg calls therefore happen inside the shim's three entry points, each of which does its
//! own `setjmp`, destroys its libjpeg object on every path and returns a status code; libjpeg
//! never calls back into Rust. The shim never prints, exits or aborts.

use std::ffi::{c_char, c_int};
use std::fmt;

/// Status codes of the shim (`WL_*` in `jpeg_shim.c`).
const WL_OK: c_int = 0;
const WL_CORRUPT: c_int = 1;
const WL_UNSUPPORTED: c_int = 2;
const WL_TOO_LARGE: c_int = 3;
const WL_BAD_ARGUMENT: c_int = 4;
const WL_DATA_LOST: c_int = 5;

/// Colour spaces reported by the header read (`WL_CS_*` in `jpeg_shim.c`).
const WL_CS_GRAY: u32 = 1;
const WL_CS_RGB: u32 = 2;
const WL_CS_CMYK: u32 = 3;

/// Size of `wl_jpeg_status.message` (`WL_MESSAGE_LEN`).
const MESSAGE_LEN: usize = 200;

/// Mirror of `wl_jpeg_header`.
#[repr(C)]
#[derive(Default)]
struct RawHeader {
    width: u32,
    height: u32,
    components: u32,
    color_space: u32,
    progressive: u32,
    arithmetic: u32,
}

/// Mirror of `wl_jpeg_limits`.
#[repr(C)]
struct RawLimits {
    max_pixels: u64,
    max_dimension: u32,
    max_scans: u32,
    max_memory: u64,
}

/// Mirror of `wl_jpeg_status`.
#[repr(C)]
struct RawStatus {
    out_width: u32,
    out_height: u32,
    warnings: u64,
    libjpeg_code: i32,
    message: [c_char; MESSAGE_LEN],
}

impl RawStatus {
    fn new() -> Self {
        Self {
            out_width: 0,
            out_height: 0,
            warnings: 0,
            libjpeg_code: 0,
            message: [0; MESSAGE_LEN],
        }
    }

    /// The shim's message, read up to its NUL (or the whole array, should one be missing).
    fn message(&self) -> String {
        let bytes: Vec<u8> = self
            .message
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c.to_ne_bytes()[0])
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The error for a non-OK status code.
    fn error(&self, code: c_int) -> JpegError {
        let message = self.message();
        match code {
            WL_UNSUPPORTED => JpegError::Unsupported(message),
            WL_TOO_LARGE => JpegError::TooLarge(message),
            WL_DATA_LOST => JpegError::DataLost(message),
            WL_BAD_ARGUMENT => JpegError::Internal(message),
            WL_CORRUPT => JpegError::Corrupt(message),
            other => JpegError::Internal(format!("unknown status {other}: {message}")),
        }
    }
}

/// Mirror of `wl_jpeg_output`.
#[repr(C)]
struct RawOutput {
    data: *mut u8,
    len: usize,
    cap: usize,
}

unsafe extern "C" {
    fn wl_jpeg_read_header(
        data: *const u8,
        len: usize,
        header: *mut RawHeader,
        status: *mut RawStatus,
    ) -> c_int;
    fn wl_jpeg_decode_rgb(
        data: *const u8,
        len: usize,
        scale_num: u32,
        limits: *const RawLimits,
        stop_on_data_loss: c_int,
        out: *mut u8,
        out_len: usize,
        status: *mut RawStatus,
    ) -> c_int;
    fn wl_jpeg_encode_rgb(
        rgb: *const u8,
        rgb_len: usize,
        width: u32,
        height: u32,
        quality: c_int,
        output: *mut RawOutput,
        status: *mut RawStatus,
    ) -> c_int;
    fn wl_jpeg_free(data: *mut u8);
}

/// Why libjpeg refused. The messages are libjpeg's own, for logs rather than for users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JpegError {
    /// Not a JPEG libjpeg can parse, or damaged beyond decoding.
    #[error("corrupt JPEG: {0}")]
    Corrupt(String),
    /// Pixel data was missing or garbled (truncated file, bad Huffman code…): libjpeg would
    /// have filled the gap with grey rather than fail.
    #[error("truncated or corrupt JPEG data: {0}")]
    DataLost(String),
    /// A valid JPEG using a feature this build cannot decode: 12-bit samples, lossless or
    /// hierarchical coding, an unusual colour space.
    #[error("unsupported JPEG: {0}")]
    Unsupported(String),
    /// Over the pixel, dimension, scan or memory limit (or libjpeg ran out of memory).
    #[error("JPEG too large: {0}")]
    TooLarge(String),
    /// A bug on our side (bad arguments to the shim); never caused by the input alone.
    #[error("libjpeg shim: {0}")]
    Internal(String),
}

/// How the pixels are stored in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorModel {
    /// One channel.
    Gray,
    /// YCbCr (nearly every photo) or plain RGB.
    Rgb,
    /// CMYK or YCCK (print workflows); decoded to RGB by a naive, profile-less conversion.
    Cmyk,
    /// Anything else (two channels, unknown transforms); [`decode_rgb`] refuses it.
    Other,
}

/// What the frame header says, read without decoding any pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Full width in pixels, as declared in the frame header.
    pub width: u32,
    /// Full height in pixels, as declared in the frame header.
    pub height: u32,
    /// Colour components in the file (1 grey, 3 YCbCr/RGB, 4 CMYK/YCCK).
    pub components: u32,
    /// How those components are to be read.
    pub color: ColorModel,
    /// Progressive files need a whole-image coefficient buffer (about 2–8 bytes per pixel).
    pub progressive: bool,
    /// Arithmetic-coded rather than Huffman (rare; decodable by Debian's libjpeg-turbo).
    pub arithmetic: bool,
}

/// Bounds for [`decode_rgb`], all enforced inside the shim before any large allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// `width × height` as declared in the frame header (full size, before scaling).
    pub max_pixels: u64,
    /// Either side, as declared.
    pub max_dimension: u32,
    /// Progressive scans. Cameras write about 10; crafted files millions, each a full pass.
    pub max_scans: u32,
    /// Bytes libjpeg may allocate for its own buffers (the progressive coefficient buffer is the
    /// big one); the output pixels are allocated here and bounded by `max_pixels`.
    pub max_memory: u64,
}

/// A decoded image: packed 8-bit RGB, `width × height × 3` bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Decoded {
    /// Width of `rgb` in pixels (the scaled size).
    pub width: u32,
    /// Height of `rgb` in pixels (the scaled size).
    pub height: u32,
    /// Packed rows, 3 bytes per pixel, no padding.
    pub rgb: Vec<u8>,
    /// Corrupt-data warnings libjpeg raised and survived. With `stop_on_data_loss` these are only
    /// the harmless kind (stray bytes between markers, unknown JFIF revision…).
    pub warnings: u64,
}

impl fmt::Debug for Decoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoded")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("rgb_bytes", &self.rgb.len())
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// Reads the frame header (dimensions, colour model) without decoding anything.
///
/// # Errors
///
/// [`JpegError::Corrupt`] or [`JpegError::DataLost`] if there is no complete frame header;
/// [`JpegError::Unsupported`] for SOF types libjpeg does not decode (lossless, hierarchical).
pub fn read_header(bytes: &[u8]) -> Result<Header, JpegError> {
    if bytes.is_empty() {
        return Err(JpegError::Corrupt("empty input".into()));
    }
    let mut raw = RawHeader::default();
    let mut status = RawStatus::new();
    // SAFETY: `bytes` is a live slice of `bytes.len()` bytes that the shim only reads; `raw` and
    // `status` are exclusively borrowed `#[repr(C)]` mirrors of the shim's structs. The shim
    // keeps no pointer past the call.
    let code =
        unsafe { wl_jpeg_read_header(bytes.as_ptr(), bytes.len(), &raw mut raw, &raw mut status) };
    if code != WL_OK {
        return Err(status.error(code));
    }
    let color = match raw.color_space {
        WL_CS_GRAY => ColorModel::Gray,
        WL_CS_RGB => ColorModel::Rgb,
        WL_CS_CMYK => ColorModel::Cmyk,
        _ => ColorModel::Other,
    };
    Ok(Header {
        width: raw.width,
        height: raw.height,
        components: raw.components,
        color,
        progressive: raw.progressive != 0,
        arithmetic: raw.arithmetic != 0,
    })
}

/// The size libjpeg decodes `width × height` to at `scale_num/8`: each side rounded up.
#[must_use]
pub fn scaled_size(width: u32, height: u32, scale_num: u32) -> (u32, u32) {
    let side = |s: u32| {
        let scaled = (u64::from(s) * u64::from(scale_num)).div_ceil(8);
        u32::try_from(scaled).unwrap_or(u32::MAX)
    };
    (side(width), side(height))
}

/// The smallest `scale_num` (of `scale_num/8`, 1..=8) whose decode still has a longer side of at
/// least `target_long_side`, so a later resize only ever shrinks; 8 (full size) for an image
/// already within the target. E.g. 4000×3000 for 2048 → 5 (2500×1875).
#[must_use]
pub fn scale_for(width: u32, height: u32, target_long_side: u32) -> u32 {
    (1..=8)
        .find(|&m| {
            let (w, h) = scaled_size(width, height, m);
            w.max(h) >= target_long_side
        })
        .unwrap_or(8)
}

/// Decodes at `scale_num/8` of the full size (DCT-domain scaling) to packed RGB.
///
/// Grey, YCbCr and RGB files are converted by libjpeg; CMYK and YCCK by the shim (naively, without
/// an ICC profile, treating Adobe-marked files as inverted). With `stop_on_data_loss`, a truncated
/// or corrupt scan is refused ([`JpegError::DataLost`]) instead of being filled with grey.
///
/// # Errors
///
/// [`JpegError::TooLarge`] if the header is over `limits` (checked before anything is allocated),
/// if there are more progressive scans than allowed, or libjpeg's buffers would exceed
/// `limits.max_memory`; [`JpegError::Unsupported`] for 12-bit, lossless and odd colour spaces;
/// [`JpegError::Corrupt`]/[`JpegError::DataLost`] for broken data.
pub fn decode_rgb(
    bytes: &[u8],
    scale_num: u32,
    limits: &DecodeLimits,
    stop_on_data_loss: bool,
) -> Result<Decoded, JpegError> {
    if !(1..=16).contains(&scale_num) {
        return Err(JpegError::Internal(format!(
            "scale {scale_num}/8 out of range"
        )));
    }
    let header = read_header(bytes)?;
    if header.width > limits.max_dimension
        || header.height > limits.max_dimension
        || u64::from(header.width) * u64::from(header.height) > limits.max_pixels
    {
        return Err(JpegError::TooLarge(format!(
            "{}×{}",
            header.width, header.height
        )));
    }
    let (width, height) = scaled_size(header.width, header.height, scale_num);
    let len = usize::try_from(u64::from(width) * u64::from(height) * 3)
        .map_err(|_| JpegError::TooLarge(format!("{width}×{height}")))?;
    // Zeroed pages come straight from the kernel for a buffer this size, so this costs no pass.
    let mut rgb = vec![0u8; len];
    let raw_limits = RawLimits {
        max_pixels: limits.max_pixels,
        max_dimension: limits.max_dimension,
        max_scans: limits.max_scans,
        max_memory: limits.max_memory,
    };
    let mut status = RawStatus::new();
    // SAFETY: `bytes` is a live slice the shim only reads; `rgb` is an exclusively borrowed buffer
    // of exactly `rgb.len()` bytes, and the shim writes nothing unless the decoded size times 3
    // fits in it (it checks before decoding). `raw_limits` and `status` are `#[repr(C)]` mirrors,
    // borrowed for the call only; the shim keeps no pointer afterwards.
    let code = unsafe {
        wl_jpeg_decode_rgb(
            bytes.as_ptr(),
            bytes.len(),
            scale_num,
            &raw const raw_limits,
            c_int::from(stop_on_data_loss),
            rgb.as_mut_ptr(),
            rgb.len(),
            &raw mut status,
        )
    };
    if code != WL_OK {
        return Err(status.error(code));
    }
    if (status.out_width, status.out_height) != (width, height) {
        // The shim checked the buffer, so nothing overflowed; the size formula just disagrees.
        return Err(JpegError::Internal(format!(
            "decoded {}×{}, expected {width}×{height}",
            status.out_width, status.out_height
        )));
    }
    Ok(Decoded {
        width,
        height,
        rgb,
        warnings: status.warnings,
    })
}

/// Encodes packed 8-bit RGB as a baseline JPEG: 4:2:0, standard Huffman tables, and no marker but
/// JFIF APP0 (no EXIF, ICC, XMP or comment, since none is ever written).
///
/// # Errors
///
/// [`JpegError::Internal`] if `rgb` is shorter than `width × height × 3`, a side is 0 or over
/// 65 500, or `quality` is outside 1..=100; [`JpegError::TooLarge`] if memory runs out.
pub fn encode_rgb(rgb: &[u8], width: u32, height: u32, quality: u8) -> Result<Vec<u8>, JpegError> {
    let mut output = RawOutput {
        data: std::ptr::null_mut(),
        len: 0,
        cap: 0,
    };
    let mut status = RawStatus::new();
    // SAFETY: `rgb` is a live slice the shim only reads, and it checks `width × height × 3 <=
    // rgb.len()` before reading. `output` and `status` are exclusively borrowed `#[repr(C)]`
    // mirrors. On success the shim leaves a malloc'd buffer of `output.len` initialised bytes in
    // `output.data`, which we copy and free below; on failure it has freed it already.
    let code = unsafe {
        wl_jpeg_encode_rgb(
            rgb.as_ptr(),
            rgb.len(),
            width,
            height,
            c_int::from(quality),
            &raw mut output,
            &raw mut status,
        )
    };
    if code != WL_OK {
        return Err(status.error(code));
    }
    if output.data.is_null() || output.len > output.cap {
        return Err(JpegError::Internal("encoder returned no buffer".into()));
    }
    // SAFETY: the shim returned OK, so `output.data` points to a malloc'd block of `output.cap`
    // bytes whose first `output.len` were written by libjpeg; nothing else references it.
    let jpeg = unsafe { std::slice::from_raw_parts(output.data, output.len) }.to_vec();
    // SAFETY: `output.data` came from the shim's malloc/realloc, and is freed exactly once here.
    unsafe { wl_jpeg_free(output.data) };
    Ok(jpeg)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: DecodeLimits = DecodeLimits {
        max_pixels: 50_000_000,
        max_dimension: 12_000,
        max_scans: 100,
        max_memory: 512 * 1024 * 1024,
    };

    /// A smooth gradient, so the JPEG round trip stays close.
    fn gradient(width: u32, height: u32) -> Vec<u8> {
        let mut rgb = Vec::with_capacity(width as usize * height as usize * 3);
        for y in 0..height {
            for x in 0..width {
                rgb.extend_from_slice(&[(x * 255 / width) as u8, (y * 255 / height) as u8, 128]);
            }
        }
        rgb
    }

    #[test]
    fn round_trip_and_scaling() {
        let rgb = gradient(400, 300);
        let jpeg = encode_rgb(&rgb, 400, 300, 82).unwrap();
        assert_eq!(&jpeg[..4], &[0xFF, 0xD8, 0xFF, 0xE0], "SOI then JFIF APP0");
        // Only APP0 among application markers.
        assert!(
            !jpeg
                .windows(2)
                .any(|w| w[0] == 0xFF && (0xE1..=0xEF).contains(&w[1]))
        );
        let header = read_header(&jpeg).unwrap();
        assert_eq!(
            (header.width, header.height, header.color),
            (400, 300, ColorModel::Rgb)
        );
        let full = decode_rgb(&jpeg, 8, &LIMITS, true).unwrap();
        assert_eq!((full.width, full.height), (400, 300));
        let max_diff = full
            .rgb
            .iter()
            .zip(&rgb)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        assert!(max_diff < 16, "{max_diff}");
        let half = decode_rgb(&jpeg, 4, &LIMITS, true).unwrap();
        assert_eq!((half.width, half.height), (200, 150));
        let odd = decode_rgb(&jpeg, 5, &LIMITS, true).unwrap();
        assert_eq!((odd.width, odd.height), (250, 188));
    }

    #[test]
    fn the_output_buffer_grows_for_incompressible_input() {
        // Noise at quality 100 takes more than the shim's first guess (half a byte per pixel).
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let noise: Vec<u8> = (0..300 * 200 * 3)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect();
        let jpeg = encode_rgb(&noise, 300, 200, 100).unwrap();
        assert!(jpeg.len() > 300 * 200 / 2 + 4096, "{}", jpeg.len());
        let back = decode_rgb(&jpeg, 8, &LIMITS, true).unwrap();
        assert_eq!((back.width, back.height), (300, 200));
    }

    #[test]
    fn scale_choice() {
        assert_eq!(scale_for(4000, 3000, 2048), 5);
        assert_eq!(scaled_size(4000, 3000, 5), (2500, 1875));
        assert_eq!(scale_for(8064, 6048, 2048), 3);
        assert_eq!(scale_for(2048, 1536, 2048), 8);
        assert_eq!(scale_for(640, 480, 2048), 8);
        assert_eq!(scale_for(4000, 3000, 320), 1);
    }

    #[test]
    fn truncation_and_garbage_are_errors_not_grey() {
        let rgb = gradient(256, 256);
        let jpeg = encode_rgb(&rgb, 256, 256, 90).unwrap();
        for cut in [jpeg.len() / 2, jpeg.len() - 2, 300, 20, 3] {
            let result = decode_rgb(&jpeg[..cut], 8, &LIMITS, true);
            assert!(result.is_err(), "cut at {cut}: {result:?}");
        }
        // Without stop_on_data_loss libjpeg fills the rest with grey and the warning is reported.
        let lenient = decode_rgb(&jpeg[..jpeg.len() / 2], 8, &LIMITS, false).unwrap();
        assert!(lenient.warnings > 0);
        assert!(matches!(
            read_header(b"not a jpeg"),
            Err(JpegError::Corrupt(_))
        ));
        assert!(read_header(&[]).is_err());
    }

    #[test]
    fn limits_are_checked_from_the_header() {
        let jpeg = encode_rgb(&gradient(64, 64), 64, 64, 82).unwrap();
        let tight = DecodeLimits {
            max_pixels: 64 * 64 - 1,
            ..LIMITS
        };
        assert!(matches!(
            decode_rgb(&jpeg, 8, &tight, true),
            Err(JpegError::TooLarge(_))
        ));
        let narrow = DecodeLimits {
            max_dimension: 63,
            ..LIMITS
        };
        assert!(matches!(
            decode_rgb(&jpeg, 8, &narrow, true),
            Err(JpegError::TooLarge(_))
        ));
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert!(matches!(
            encode_rgb(&[0; 10], 4, 4, 82),
            Err(JpegError::Internal(_))
        ));
        assert!(matches!(
            encode_rgb(&[0; 48], 4, 4, 0),
            Err(JpegError::Internal(_))
        ));
        assert!(matches!(
            encode_rgb(&[], 0, 0, 82),
            Err(JpegError::Internal(_))
        ));
        let jpeg = encode_rgb(&gradient(16, 16), 16, 16, 82).unwrap();
        assert!(matches!(
            decode_rgb(&jpeg, 0, &LIMITS, true),
            Err(JpegError::Internal(_))
        ));
    }
}
