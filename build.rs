//! Rebuild when a migration is added or changed: `sqlx::migrate!` embeds them at compile time, and
//! cargo does not otherwise know to look there.
//!
//! Also compiles the libjpeg-turbo shim (`src/media/jpeg_shim.c`) against the system's
//! `<jpeglib.h>`, so every libjpeg struct layout comes from the real header, and links the system
//! libjpeg (Debian: `libjpeg62-turbo-dev` to build, `libjpeg62-turbo` to run).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=src/media/jpeg_shim.c");
    cc::Build::new()
        .file("src/media/jpeg_shim.c")
        .warnings(true)
        .extra_warnings(true)
        .compile("wl_jpeg_shim");
    println!("cargo:rustc-link-lib=jpeg");
}
