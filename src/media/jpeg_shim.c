/*
 * A narrow C shim over the system libjpeg(-turbo) for the photo pipeline (src/media/libjpeg.rs).
 *
 * Why C and not direct FFI from Rust: libjpeg reports fatal errors by calling error_exit(), which
 * must not return; the only portable way out is longjmp. A longjmp must never cross a Rust frame,
 * so every libjpeg call happens inside the functions of this file, each of which does its own
 * setjmp and returns a plain status code. No callback into Rust is ever made from libjpeg.
 * Compiling against the real <jpeglib.h> also means the struct layouts (which differ between
 * libjpeg 6b/8/9 and libjpeg-turbo builds) are never re-declared by hand.
 *
 * Guarantees, for every entry point:
 *   - never exit(), abort() or print: error_exit longjmps back, emit_message only counts;
 *   - every libjpeg object is destroyed and every malloc freed on every path, error paths
 *     included (allocations are made from libjpeg's own pools where possible, which
 *     jpeg_destroy_* releases);
 *   - sizes are checked before any pixel buffer is touched.
 */

#include <limits.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h> /* jpeglib.h needs FILE and size_t */
#include <stdlib.h>
#include <string.h>

/* jpeglib.h first: it pulls in jconfig.h, whose feature macros decide what jerror.h declares. */
#include <jpeglib.h>
#include <jerror.h>

/* ---- status codes (mirrored in libjpeg.rs) ---- */

#define WL_OK 0
/* The data is not a JPEG libjpeg can read, or is damaged. */
#define WL_CORRUPT 1
/* A valid JPEG using a feature this build cannot decode (12-bit, lossless, ...). */
#define WL_UNSUPPORTED 2
/* Over the caller's pixel or memory limit, or libjpeg ran out of memory. */
#define WL_TOO_LARGE 3
/* A caller bug: bad arguments, buffer too small. */
#define WL_BAD_ARGUMENT 4
/* A warning that means pixel data was lost or garbled (truncated or corrupt scan). */
#define WL_DATA_LOST 5

/* ---- colour spaces reported by wl_jpeg_read_header (mirrored in libjpeg.rs) ---- */

#define WL_CS_GRAY 1
#define WL_CS_RGB 2   /* YCbCr or RGB in the file: decodes straight to RGB */
#define WL_CS_CMYK 3  /* CMYK or YCCK in the file: converted to RGB by this shim */
#define WL_CS_OTHER 4 /* anything else (2-channel, unknown): refused */

#define WL_MESSAGE_LEN 200

/* What a header read returns. Field types are fixed-width so the Rust mirror is exact. */
typedef struct {
  uint32_t width;
  uint32_t height;
  uint32_t components;
  uint32_t color_space; /* WL_CS_* */
  uint32_t progressive; /* 1 if progressive (needs a whole-image coefficient buffer) */
  uint32_t arithmetic;  /* 1 if arithmetic-coded */
} wl_jpeg_header;

/* Limits for a decode. */
typedef struct {
  uint64_t max_pixels;     /* width * height as declared in the frame header */
  uint32_t max_dimension;  /* either side */
  uint32_t max_scans;      /* progressive scans; real files have < 20, crafted ones millions */
  uint64_t max_memory;     /* bytes libjpeg may allocate for its own buffers (0: no limit) */
} wl_jpeg_limits;

/* Result details shared by every call. */
typedef struct {
  uint32_t out_width;       /* decode: width of the pixels written */
  uint32_t out_height;      /* decode: height of the pixels written */
  uint64_t warnings;        /* libjpeg corrupt-data warnings seen (benign ones included) */
  int32_t libjpeg_code;     /* libjpeg message code of the error (or first serious warning) */
  char message[WL_MESSAGE_LEN]; /* NUL-terminated, for logs */
} wl_jpeg_status;

/* Encoder output: a malloc'd buffer the caller must hand back to wl_jpeg_free. */
typedef struct {
  uint8_t *data;
  size_t len;
  size_t cap;
} wl_jpeg_output;

/* ---- error manager ---- */

typedef struct {
  struct jpeg_error_mgr pub; /* must be first: libjpeg casts cinfo->err to this */
  jmp_buf jump;
  int status;            /* WL_* to return when jumping */
  int stop_on_data_loss; /* longjmp on the first warning that loses pixel data */
  wl_jpeg_status *out;
  /* Progressive scan limit, checked by the progress monitor. */
  struct jpeg_progress_mgr progress;
  uint32_t max_scans;
} shim_error_mgr;

static void copy_message(j_common_ptr cinfo, wl_jpeg_status *out) {
  char buffer[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, buffer);
  snprintf(out->message, sizeof out->message, "%s", buffer);
}

static int is_unsupported(int code) {
  switch (code) {
  case JERR_BAD_PRECISION:     /* 12-bit (and 16-bit) samples */
  case JERR_SOF_UNSUPPORTED:   /* lossless, hierarchical */
  case JERR_ARITH_NOTIMPL:     /* arithmetic coding, if the build lacks it */
  case JERR_NOT_COMPILED:
  case JERR_CONVERSION_NOTIMPL:
    return 1;
  default:
    return 0;
  }
}

/* Warnings after which some pixels are invented (grey or garbage) rather than decoded. */
static int loses_data(int code) {
  switch (code) {
  case JWRN_HIT_MARKER:     /* premature end of data segment */
  case JWRN_HUFF_BAD_CODE:
#if JPEG_LIB_VERSION >= 70 || defined(C_ARITH_CODING_SUPPORTED) || defined(D_ARITH_CODING_SUPPORTED)
  case JWRN_ARITH_BAD_CODE:
#endif
  case JWRN_JPEG_EOF:       /* truncated file: libjpeg inserts a fake EOI and fills grey */
  case JWRN_MUST_RESYNC:
  case JWRN_BOGUS_PROGRESSION:
    return 1;
  default:
    return 0;
  }
}

/* Never returns: records the error and jumps back to the entry point's setjmp. */
static void shim_error_exit(j_common_ptr cinfo) {
  shim_error_mgr *err = (shim_error_mgr *)cinfo->err;
  int code = err->pub.msg_code;
  if (err->out != NULL) {
    err->out->libjpeg_code = code;
    copy_message(cinfo, err->out);
  }
  if (code == JERR_OUT_OF_MEMORY || code == JERR_NO_BACKING_STORE || code == JERR_IMAGE_TOO_BIG ||
      code == JERR_WIDTH_OVERFLOW)
    err->status = WL_TOO_LARGE; /* over max_memory_to_use, or a frame libjpeg cannot hold */
  else if (is_unsupported(code))
    err->status = WL_UNSUPPORTED;
  else
    err->status = WL_CORRUPT;
  longjmp(err->jump, 1);
}

/* Silent. Counts warnings (msg_level < 0) as the default handler would, and optionally turns the
 * first data-losing one into an error so a truncated or corrupt photo is refused early. */
static void shim_emit_message(j_common_ptr cinfo, int msg_level) {
  shim_error_mgr *err = (shim_error_mgr *)cinfo->err;
  if (msg_level >= 0)
    return; /* trace messages */
  err->pub.num_warnings++;
  if (!loses_data(err->pub.msg_code))
    return;
  if (err->out != NULL && err->out->libjpeg_code == 0) {
    err->out->libjpeg_code = err->pub.msg_code;
    copy_message(cinfo, err->out);
  }
  if (err->stop_on_data_loss) {
    err->status = WL_DATA_LOST;
    longjmp(err->jump, 1);
  }
}

static void shim_output_message(j_common_ptr cinfo) {
  (void)cinfo; /* never print to stderr */
}

/* Progress monitor: bounds the number of progressive scans (each one re-walks the whole
 * coefficient buffer, so a few KB of crafted scans can cost minutes of CPU). */
static void shim_progress(j_common_ptr cinfo) {
  shim_error_mgr *err = (shim_error_mgr *)cinfo->err;
  if (!cinfo->is_decompressor || err->max_scans == 0)
    return;
  j_decompress_ptr dinfo = (j_decompress_ptr)cinfo;
  if (dinfo->input_scan_number > 0 && (uint32_t)dinfo->input_scan_number > err->max_scans) {
    if (err->out != NULL) {
      err->out->libjpeg_code = 0;
      snprintf(err->out->message, sizeof err->out->message, "more than %u progressive scans",
               err->max_scans);
    }
    err->status = WL_TOO_LARGE;
    longjmp(err->jump, 1);
  }
}

static void init_error_mgr(shim_error_mgr *err, wl_jpeg_status *out) {
  memset(err, 0, sizeof *err);
  jpeg_std_error(&err->pub);
  err->pub.error_exit = shim_error_exit;
  err->pub.emit_message = shim_emit_message;
  err->pub.output_message = shim_output_message;
  err->out = out;
  err->status = WL_CORRUPT;
  if (out != NULL) {
    memset(out, 0, sizeof *out);
  }
}

static int bad_argument(wl_jpeg_status *status, const char *what) {
  if (status != NULL)
    snprintf(status->message, sizeof status->message, "%s", what);
  return WL_BAD_ARGUMENT;
}

static uint32_t classify(const struct jpeg_decompress_struct *cinfo) {
  switch (cinfo->jpeg_color_space) {
  case JCS_GRAYSCALE:
    return WL_CS_GRAY;
  case JCS_YCbCr:
  case JCS_RGB:
    return WL_CS_RGB;
  case JCS_CMYK:
  case JCS_YCCK:
    return WL_CS_CMYK;
  default:
    return WL_CS_OTHER;
  }
}

/* libjpeg's mem source takes an unsigned long length. */
static int length_fits(size_t len) { return (unsigned long)len == len && len > 0; }

/* ---- header ---- */

/* Reads the frame header without decoding anything (and without keeping any marker). */
int wl_jpeg_read_header(const uint8_t *data, size_t len, wl_jpeg_header *header,
                        wl_jpeg_status *status) {
  if (data == NULL || header == NULL || status == NULL || !length_fits(len))
    return bad_argument(status, "wl_jpeg_read_header: bad arguments");
  memset(header, 0, sizeof *header);

  struct jpeg_decompress_struct cinfo;
  shim_error_mgr err;
  /* Zeroed so that jpeg_destroy_* is safe even if jpeg_create_* itself fails. */
  memset(&cinfo, 0, sizeof cinfo);
  init_error_mgr(&err, status);
  err.stop_on_data_loss = 1; /* a header that runs off the end is not a photo */
  cinfo.err = &err.pub;
  /* Every local read after a longjmp (cinfo, err) is address-taken and only written through
   * libjpeg: the pattern of libjpeg's own example.c. */
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return err.status;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, (unsigned long)len);
  (void)jpeg_read_header(&cinfo, TRUE);

  header->width = cinfo.image_width;
  header->height = cinfo.image_height;
  header->components = (uint32_t)cinfo.num_components;
  header->color_space = classify(&cinfo);
  header->progressive = cinfo.progressive_mode ? 1 : 0;
  header->arithmetic = cinfo.arith_code ? 1 : 0;
  status->warnings = (uint64_t)err.pub.num_warnings;
  jpeg_destroy_decompress(&cinfo);
  return WL_OK;
}

/* ---- decode ---- */

/* CMYK (or YCCK, which libjpeg turns into CMYK) to RGB, naively: R = (1-C)(1-K), ... .
 * Adobe writes inverted CMYK (0 = full ink), which is what Photoshop's CMYK JPEGs carry. */
static void cmyk_row_to_rgb(const JSAMPLE *cmyk, uint8_t *rgb, JDIMENSION width, int inverted) {
  for (JDIMENSION x = 0; x < width; x++) {
    unsigned c = cmyk[4 * x], m = cmyk[4 * x + 1], y = cmyk[4 * x + 2], k = cmyk[4 * x + 3];
    if (!inverted) {
      c = 255 - c;
      m = 255 - m;
      y = 255 - y;
      k = 255 - k;
    }
    /* Now 255 = no ink. (a*b + 127) / 255 rounds to nearest. */
    rgb[3 * x] = (uint8_t)((c * k + 127) / 255);
    rgb[3 * x + 1] = (uint8_t)((m * k + 127) / 255);
    rgb[3 * x + 2] = (uint8_t)((y * k + 127) / 255);
  }
}

/*
 * Decodes at scale_num/8 of the full size (1..16; DCT-domain scaling, so the skipped resolution
 * is never computed) into `out`, 3 bytes per pixel, rows packed. The output size is
 * ceil(width * scale_num / 8) x ceil(height * scale_num / 8); status->out_width/out_height say
 * which, and out_len must hold at least out_width * out_height * 3 bytes (checked before any
 * pixel is decoded).
 *
 * Grey and YCbCr/RGB come out as RGB via libjpeg; CMYK/YCCK via cmyk_row_to_rgb.
 * With stop_on_data_loss, a truncated or corrupt scan is an error (WL_DATA_LOST); without it the
 * decode completes and status->warnings tells the caller what libjpeg papered over.
 */
int wl_jpeg_decode_rgb(const uint8_t *data, size_t len, uint32_t scale_num,
                       const wl_jpeg_limits *limits, int stop_on_data_loss, uint8_t *out,
                       size_t out_len, wl_jpeg_status *status) {
  if (data == NULL || limits == NULL || out == NULL || status == NULL || !length_fits(len) ||
      scale_num < 1 || scale_num > 16)
    return bad_argument(status, "wl_jpeg_decode_rgb: bad arguments");

  struct jpeg_decompress_struct cinfo;
  shim_error_mgr err;
  /* Zeroed so that jpeg_destroy_* is safe even if jpeg_create_* itself fails. */
  memset(&cinfo, 0, sizeof cinfo);
  init_error_mgr(&err, status);
  err.stop_on_data_loss = stop_on_data_loss;
  err.max_scans = limits->max_scans;
  cinfo.err = &err.pub;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo); /* frees every pool allocation, row buffers included */
    return err.status;
  }
  jpeg_create_decompress(&cinfo);
  if (limits->max_memory > 0)
    cinfo.mem->max_memory_to_use =
        limits->max_memory > (uint64_t)LONG_MAX ? LONG_MAX : (long)limits->max_memory;
  err.progress.progress_monitor = shim_progress;
  cinfo.progress = &err.progress;
  jpeg_mem_src(&cinfo, data, (unsigned long)len);
  (void)jpeg_read_header(&cinfo, TRUE);

  uint64_t pixels = (uint64_t)cinfo.image_width * (uint64_t)cinfo.image_height;
  if (cinfo.image_width > limits->max_dimension || cinfo.image_height > limits->max_dimension ||
      pixels > limits->max_pixels) {
    snprintf(status->message, sizeof status->message, "%ux%u over the limit",
             cinfo.image_width, cinfo.image_height);
    jpeg_destroy_decompress(&cinfo);
    return WL_TOO_LARGE;
  }

  uint32_t space = classify(&cinfo);
  int cmyk = space == WL_CS_CMYK;
  if (space == WL_CS_OTHER) {
    snprintf(status->message, sizeof status->message, "unsupported colour space %d",
             (int)cinfo.jpeg_color_space);
    jpeg_destroy_decompress(&cinfo);
    return WL_UNSUPPORTED;
  }
  cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
  cinfo.scale_num = scale_num;
  cinfo.scale_denom = 8;
  jpeg_calc_output_dimensions(&cinfo);
  JDIMENSION width = cinfo.output_width, height = cinfo.output_height;
  status->out_width = width;
  status->out_height = height;
  if (cinfo.output_components != (cmyk ? 4 : 3) ||
      (uint64_t)width * height * 3 > (uint64_t)out_len) {
    jpeg_destroy_decompress(&cinfo);
    return bad_argument(status, "wl_jpeg_decode_rgb: output buffer too small");
  }

  (void)jpeg_start_decompress(&cinfo);
  /* Pool allocation: released by jpeg_destroy_decompress on both paths. */
  JSAMPARRAY cmyk_row =
      cmyk ? (*cinfo.mem->alloc_sarray)((j_common_ptr)&cinfo, JPOOL_IMAGE, width * 4, 1) : NULL;
  int inverted = cinfo.saw_Adobe_marker;
  size_t stride = (size_t)width * 3;
  while (cinfo.output_scanline < height) {
    JDIMENSION row = cinfo.output_scanline;
    JDIMENSION got;
    if (cmyk) {
      got = jpeg_read_scanlines(&cinfo, cmyk_row, 1);
      if (got == 1)
        cmyk_row_to_rgb(cmyk_row[0], out + row * stride, width, inverted);
    } else {
      /* Up to 4 rows per call lets libjpeg hand over a whole upsampled row group at once. */
      JSAMPROW rows[4];
      JDIMENSION n = height - row < 4 ? height - row : 4;
      for (JDIMENSION i = 0; i < n; i++)
        rows[i] = out + (row + i) * stride;
      got = jpeg_read_scanlines(&cinfo, rows, n);
    }
    if (got == 0) {
      /* Only a suspending data source returns no rows; the memory source never suspends, so
       * this is a guard against looping forever rather than an expected path. */
      snprintf(status->message, sizeof status->message, "decoder made no progress");
      jpeg_destroy_decompress(&cinfo);
      return WL_CORRUPT;
    }
  }
  (void)jpeg_finish_decompress(&cinfo);
  status->warnings = (uint64_t)err.pub.num_warnings;
  jpeg_destroy_decompress(&cinfo);
  return WL_OK;
}

/* ---- encode ---- */

/* A growable malloc'd destination. Its state lives in the caller's wl_jpeg_output (not in a local
 * of the function that called setjmp), so it is intact after a longjmp and can be freed. */
typedef struct {
  struct jpeg_destination_mgr pub;
  wl_jpeg_output *output;
} shim_destination;

static void dest_init(j_compress_ptr cinfo) {
  shim_destination *dest = (shim_destination *)cinfo->dest;
  dest->pub.next_output_byte = dest->output->data;
  dest->pub.free_in_buffer = dest->output->cap;
}

static boolean dest_grow(j_compress_ptr cinfo) {
  shim_destination *dest = (shim_destination *)cinfo->dest;
  wl_jpeg_output *output = dest->output;
  /* libjpeg calls this only when the buffer is full. */
  size_t new_cap = output->cap * 2;
  if (new_cap < output->cap)
    ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 100);
  uint8_t *grown = realloc(output->data, new_cap);
  if (grown == NULL)
    ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 101);
  output->data = grown;
  dest->pub.next_output_byte = grown + output->cap;
  dest->pub.free_in_buffer = new_cap - output->cap;
  output->cap = new_cap;
  return TRUE;
}

static void dest_term(j_compress_ptr cinfo) {
  shim_destination *dest = (shim_destination *)cinfo->dest;
  dest->output->len = dest->output->cap - dest->pub.free_in_buffer;
}

/*
 * Encodes packed 8-bit RGB (rows of width * 3 bytes) as a baseline JPEG: JFIF APP0, quantisation
 * and Huffman tables, one sequential scan, 4:2:0 chroma (libjpeg's defaults), standard Huffman
 * tables. No other marker is written: nothing is ever passed to jpeg_write_marker.
 * On success output->data holds output->len bytes and must be released with wl_jpeg_free; on
 * failure output->data is NULL.
 */
int wl_jpeg_encode_rgb(const uint8_t *rgb, size_t rgb_len, uint32_t width, uint32_t height,
                       int quality, wl_jpeg_output *output, wl_jpeg_status *status) {
  if (output == NULL || status == NULL)
    return bad_argument(status, "wl_jpeg_encode_rgb: bad arguments");
  memset(output, 0, sizeof *output);
  if (rgb == NULL || width == 0 || height == 0 || width > JPEG_MAX_DIMENSION ||
      height > JPEG_MAX_DIMENSION || quality < 1 || quality > 100 ||
      (uint64_t)width * height * 3 > (uint64_t)rgb_len)
    return bad_argument(status, "wl_jpeg_encode_rgb: bad arguments");

  /* A first guess that fits most photos at quality 82 without growing: ~1/6 of the raw size. */
  size_t cap = (size_t)width * height / 2 + 4096;
  output->data = malloc(cap);
  if (output->data == NULL) {
    snprintf(status->message, sizeof status->message, "out of memory");
    return WL_TOO_LARGE;
  }
  output->cap = cap;

  struct jpeg_compress_struct cinfo;
  shim_error_mgr err;
  shim_destination dest;
  memset(&cinfo, 0, sizeof cinfo);
  init_error_mgr(&err, status);
  cinfo.err = &err.pub;
  if (setjmp(err.jump)) {
    jpeg_destroy_compress(&cinfo);
    free(output->data);
    memset(output, 0, sizeof *output);
    return err.status;
  }
  jpeg_create_compress(&cinfo);
  dest.pub.init_destination = dest_init;
  dest.pub.empty_output_buffer = dest_grow;
  dest.pub.term_destination = dest_term;
  dest.output = output;
  cinfo.dest = &dest.pub;

  cinfo.image_width = width;
  cinfo.image_height = height;
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo); /* YCbCr 4:2:0, JFIF header, ISLOW DCT, standard Huffman tables */
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  size_t stride = (size_t)width * 3;
  while (cinfo.next_scanline < height) {
    JSAMPROW rows[16];
    JDIMENSION row = cinfo.next_scanline;
    JDIMENSION n = height - row < 16 ? height - row : 16;
    for (JDIMENSION i = 0; i < n; i++)
      rows[i] = (JSAMPROW)(rgb + (row + i) * stride); /* libjpeg only reads input rows */
    (void)jpeg_write_scanlines(&cinfo, rows, n);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return WL_OK;
}

/* Releases what wl_jpeg_encode_rgb returned. NULL is fine. */
void wl_jpeg_free(uint8_t *data) { free(data); }
