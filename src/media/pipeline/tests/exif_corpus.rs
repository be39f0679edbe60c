//! The EXIF layouts photos arrive with, each held to what the pipeline must take from it: the
//! orientation (the public copy is turned upright), the GPS hint and the capture time.
//!
//! Each layout mirrors the bytes a real writer produces: phone cameras (with a thumbnail IFD and
//! an Interop IFD), Pillow 13's `Image.save(exif=…)`, piexif 1.1's `dump` and `insert`, and the
//! vendors' MakerNotes, whose insides no reader can trust once an editor has moved them.

use super::tiff::{
    Entry, Ifd, Next, Order, Tiff, Value, ascii, long, pointer, rationals, short, undefined,
};
use super::*;

const TAKEN: &str = "2024:05:17 08:30:15";

/// [`saigon_gps`] as Pillow writes it: each rational reduced (36.84″ is 921/25).
fn pillow_gps() -> Vec<Entry> {
    vec![
        ascii(1, "N"),
        rationals(2, &[(10, 1), (46, 1), (921, 25)]),
        ascii(3, "E"),
        rationals(4, &[(106, 1), (42, 1), (81, 25)]),
    ]
}

/// The photo: 64×32, top half red, bottom half blue.
fn photo() -> Vec<u8> {
    jpeg_of(&two_tone(64, 32))
}

/// The embedded thumbnail: a small JPEG of its own, with SOI and EOI, inside the EXIF segment.
fn thumbnail() -> Vec<u8> {
    jpeg_of(&two_tone(16, 8))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Thumbnail {
    None,
    Whole,
    /// IFD1 still claims the whole JPEG, but the segment ends early (an editor cut it off).
    CutOff,
}

/// A phone camera's EXIF: IFD0 with the usual tags, the Exif IFD (exposure, version, time, an
/// optional MakerNote and the Interop pointer), the Interop IFD, the GPS IFD, and IFD1 with
/// the thumbnail after them all. IFD1 says orientation 1: only IFD0's counts.
struct Camera {
    order: Order,
    orientation: Entry,
    gps: Vec<Entry>,
    maker_note: Option<Entry>,
    thumbnail: Thumbnail,
}

impl Camera {
    fn new(order: Order, orientation: u16) -> Camera {
        Camera {
            order,
            orientation: short(0x0112, orientation),
            gps: saigon_gps(),
            maker_note: None,
            thumbnail: Thumbnail::Whole,
        }
    }

    fn tiff(self) -> Vec<u8> {
        let ifd0 = Ifd::new(vec![
            ascii(0x010F, "PhoneMaker"),
            ascii(0x0110, "Ward One"),
            self.orientation,
            rationals(0x011A, &[(72, 1)]),
            rationals(0x011B, &[(72, 1)]),
            short(0x0128, 2),
            ascii(0x0132, TAKEN),
            pointer(0x8769, 1),
            pointer(0x8825, 3),
        ]);
        let mut exif = vec![
            rationals(0x829A, &[(1, 120)]),
            undefined(0x9000, b"0232".to_vec()),
            ascii(0x9003, TAKEN),
        ];
        exif.extend(self.maker_note);
        exif.push(pointer(0xA005, 2));
        let mut ifds = vec![
            ifd0,
            Ifd::new(exif),
            Ifd::new(vec![ascii(0x0001, "R98")]),
            Ifd::new(self.gps),
        ];
        let mut chunks = vec![];
        if self.thumbnail != Thumbnail::None {
            let jpeg = thumbnail();
            let length = u32::try_from(jpeg.len()).unwrap();
            ifds[0].next = Next::Ifd(4);
            ifds.push(Ifd::new(vec![
                short(0x0103, 6),
                short(0x0112, 1),
                rationals(0x011A, &[(72, 1)]),
                rationals(0x011B, &[(72, 1)]),
                short(0x0128, 2),
                Entry {
                    tag: 0x0201,
                    value: Value::ChunkAt(0),
                },
                long(0x0202, length),
            ]));
            chunks.push(match self.thumbnail {
                Thumbnail::CutOff => jpeg[..jpeg.len() / 3].to_vec(),
                _ => jpeg,
            });
        }
        Tiff {
            order: self.order,
            ifds,
            chunks,
        }
        .bytes()
    }
}

/// What Pillow 13 writes for `Image.save(exif=…)`: IFD0, the Exif IFD and the GPS IFD, each with
/// a zero link and followed by its own data. A fresh `Image.Exif()` is big-endian; the EXIF of a
/// little-endian photo keeps its byte order when saved again. (Byte for byte what Pillow writes
/// for the same fields.)
fn pillow(order: Order, orientation: u16) -> Vec<u8> {
    Tiff {
        order,
        ifds: vec![
            Ifd::new(vec![
                ascii(0x010F, "PhoneMaker"),
                short(0x0112, orientation),
                pointer(0x8769, 1),
                pointer(0x8825, 2),
            ]),
            Ifd::new(vec![ascii(0x9003, TAKEN)]),
            Ifd::new(pillow_gps()),
        ],
        chunks: vec![],
    }
    .bytes()
}

/// What piexif 1.1's `dump` writes (always big-endian; little-endian too, as other tools built on
/// its layout do): IFD0, linked to IFD1 when there is a thumbnail, then the Exif and GPS IFDs
/// *without* their next-IFD links, so the bytes after each are read as one, then IFD1 and the
/// thumbnail it points to. (Byte for byte what `piexif.dump` gives for the same fields.)
fn piexif(order: Order, orientation: u16, with_thumbnail: bool) -> Vec<u8> {
    let mut ifds = vec![
        Ifd::new(vec![
            short(0x0112, orientation),
            pointer(0x8769, 1),
            pointer(0x8825, 2),
        ]),
        Ifd::new(vec![ascii(0x9003, TAKEN)]).next(Next::Omitted),
        Ifd::new(saigon_gps()).next(Next::Omitted),
    ];
    let mut chunks = vec![];
    if with_thumbnail {
        let jpeg = without_jfif(&thumbnail()); // piexif drops the thumbnail's APPn segments
        ifds[0].next = Next::Ifd(3);
        ifds.push(Ifd::new(vec![
            Entry {
                tag: 0x0201,
                value: Value::ChunkAt(0),
            },
            long(0x0202, u32::try_from(jpeg.len()).unwrap()),
        ]));
        chunks.push(jpeg);
    }
    Tiff {
        order,
        ifds,
        chunks,
    }
    .bytes()
}

/// A vendor's IFD with no header, as Canon and Samsung write their notes: three entries whose
/// out-of-line values sit at `offsets` (counted from the TIFF header for Canon, from the note
/// itself for Samsung), and in any case not where this reader would look.
fn maker_note_ifd(order: Order, offsets: [u32; 2]) -> Entry {
    let mut note = order.u16(3).to_vec();
    for (tag, kind, count, offset) in [
        (0x0001, 3, 40, offsets[0]),
        (0x0006, 2, 32, offsets[1]),
        (0x0010, 4, 1, 0x8000_0001), // a model id, inline
    ] {
        note.extend_from_slice(&order.u16(tag));
        note.extend_from_slice(&order.u16(kind));
        note.extend_from_slice(&order.u32(count));
        note.extend_from_slice(&order.u32(offset));
    }
    note.extend_from_slice(&order.u32(0));
    note.extend_from_slice(&[0xA5; 64]); // the values, wherever they are meant to be
    undefined(0x927C, note)
}

/// Nikon's kind: a header, then a TIFF of its own, in the other byte order here, whose offsets
/// count from that inner header rather than the photo's.
fn maker_note_own_tiff(order: Order) -> Entry {
    let inner = Tiff {
        order: match order {
            Order::Little => Order::Big,
            Order::Big => Order::Little,
        },
        ifds: vec![Ifd::new(vec![
            undefined(0x0001, b"0211".to_vec()),
            ascii(0x0002, "FINE   "),
            ascii(0x0004, "AUTO        "),
            rationals(0x0084, &[(180, 10), (550, 10), (35, 10), (56, 10)]),
        ])],
        chunks: vec![],
    }
    .bytes();
    undefined(0x927C, [b"Nikon\0\x02\x11\0\0".as_slice(), &inner].concat())
}

/// A note whose bytes an editor dropped while keeping its entry: the count runs past the end.
fn maker_note_cut_off() -> Entry {
    Entry {
        tag: 0x927C,
        value: Value::Raw {
            kind: 7,
            count: 48_000,
            offset: 0x200,
        },
    }
}

/// Splices the APP1 "Exif" segment after the JFIF APP0 segment, as Pillow and some editors do.
fn with_exif_after_jfif(jpeg: &[u8], tiff: &[u8]) -> Vec<u8> {
    assert_eq!(&jpeg[2..4], &[0xFF, 0xE0], "the encoder writes JFIF first");
    let app0_end = 4 + usize::from(u16::from_be_bytes([jpeg[4], jpeg[5]]));
    let with = with_app1_exif(&jpeg[app0_end - 2..], tiff);
    [&jpeg[..app0_end], &with[2..]].concat()
}

/// The JPEG without its JFIF APP0 segment.
fn without_jfif(jpeg: &[u8]) -> Vec<u8> {
    assert_eq!(&jpeg[2..4], &[0xFF, 0xE0], "the encoder writes JFIF first");
    let app0_end = 4 + usize::from(u16::from_be_bytes([jpeg[4], jpeg[5]]));
    [&jpeg[..2], &jpeg[app0_end..]].concat()
}

/// The APP1 "Exif" segment in place of the JFIF APP0 segment, as `piexif.insert` puts it.
fn in_place_of_jfif(jpeg: &[u8], tiff: &[u8]) -> Vec<u8> {
    with_app1_exif(&without_jfif(jpeg), tiff)
}

/// One photo of the corpus and what the pipeline must make of it.
struct Case {
    name: &'static str,
    photo: Vec<u8>,
    /// 1 (as stored), 6 (turn clockwise) or 8 (turn counter-clockwise).
    orientation: u16,
    gps: bool,
    taken: bool,
}

fn case(name: &'static str, photo: Vec<u8>, orientation: u16) -> Case {
    Case {
        name,
        photo,
        orientation,
        gps: true,
        taken: true,
    }
}

fn corpus() -> Vec<Case> {
    use Order::{Big, Little};
    let camera = |order, orientation| Camera::new(order, orientation);
    let with_note = |order, orientation, note| Camera {
        maker_note: Some(note),
        ..Camera::new(order, orientation)
    };
    let mut no_latitude_ref = saigon_gps();
    no_latitude_ref.remove(0);
    vec![
        case(
            "camera, little-endian, with a thumbnail IFD",
            with_app1_exif(&photo(), &camera(Little, 6).tiff()),
            6,
        ),
        case(
            "camera, big-endian, with a thumbnail IFD",
            with_app1_exif(&photo(), &camera(Big, 8).tiff()),
            8,
        ),
        case(
            "camera, big-endian, no thumbnail, after JFIF",
            with_exif_after_jfif(
                &photo(),
                &Camera {
                    thumbnail: Thumbnail::None,
                    ..camera(Big, 6)
                }
                .tiff(),
            ),
            6,
        ),
        case(
            "camera, little-endian, thumbnail cut off",
            with_app1_exif(
                &photo(),
                &Camera {
                    thumbnail: Thumbnail::CutOff,
                    ..camera(Little, 8)
                }
                .tiff(),
            ),
            8,
        ),
        case(
            "camera, upright",
            with_app1_exif(&photo(), &camera(Big, 1).tiff()),
            1,
        ),
        case(
            "Pillow, a fresh Exif (big-endian), after JFIF",
            with_exif_after_jfif(&photo(), &pillow(Big, 6)),
            6,
        ),
        case(
            "Pillow, a little-endian photo's Exif saved again, after JFIF",
            with_exif_after_jfif(&photo(), &pillow(Little, 8)),
            8,
        ),
        case(
            "piexif, big-endian, inserted in place of JFIF",
            in_place_of_jfif(&photo(), &piexif(Big, 6, false)),
            6,
        ),
        case(
            "piexif, big-endian, with a thumbnail",
            in_place_of_jfif(&photo(), &piexif(Big, 8, true)),
            8,
        ),
        case(
            "piexif, little-endian",
            with_app1_exif(&photo(), &piexif(Little, 6, false)),
            6,
        ),
        case(
            "piexif, little-endian, after JFIF",
            with_exif_after_jfif(&photo(), &piexif(Little, 8, false)),
            8,
        ),
        case(
            "piexif, little-endian, with a thumbnail",
            with_app1_exif(&photo(), &piexif(Little, 6, true)),
            6,
        ),
        case(
            "MakerNote: bare IFD, offsets past the end (Canon), little-endian",
            with_app1_exif(
                &photo(),
                &with_note(
                    Little,
                    6,
                    maker_note_ifd(Little, [0x00FF_FF00, 0x7FFF_FFF0]),
                )
                .tiff(),
            ),
            6,
        ),
        case(
            "MakerNote: bare IFD, offsets from the note (Samsung), big-endian",
            with_app1_exif(
                &photo(),
                &with_note(Big, 8, maker_note_ifd(Big, [0x26, 0x76])).tiff(),
            ),
            8,
        ),
        case(
            "MakerNote: its own TIFF header (Nikon), big-endian",
            with_app1_exif(
                &photo(),
                &with_note(Big, 6, maker_note_own_tiff(Big)).tiff(),
            ),
            6,
        ),
        case(
            "MakerNote: its own TIFF header (Nikon), little-endian",
            with_app1_exif(
                &photo(),
                &with_note(Little, 8, maker_note_own_tiff(Little)).tiff(),
            ),
            8,
        ),
        case(
            "MakerNote: cut off, its count past the end",
            with_app1_exif(&photo(), &with_note(Little, 6, maker_note_cut_off()).tiff()),
            6,
        ),
        case(
            "orientation as a LONG, little-endian",
            with_app1_exif(
                &photo(),
                &Camera {
                    orientation: long(0x0112, 6),
                    ..camera(Little, 6)
                }
                .tiff(),
            ),
            6,
        ),
        case(
            "orientation as a LONG, big-endian",
            with_app1_exif(
                &photo(),
                &Camera {
                    orientation: long(0x0112, 8),
                    ..camera(Big, 8)
                }
                .tiff(),
            ),
            8,
        ),
        Case {
            gps: false,
            ..case(
                "GPS without its latitude reference",
                with_app1_exif(
                    &photo(),
                    &Camera {
                        gps: no_latitude_ref,
                        ..camera(Big, 6)
                    }
                    .tiff(),
                ),
                6,
            )
        },
        Case {
            gps: false,
            ..case(
                "GPS rationals with zero denominators",
                with_app1_exif(
                    &photo(),
                    &Camera {
                        gps: vec![
                            ascii(1, "N"),
                            rationals(2, &[(10, 0), (46, 0), (0, 0)]),
                            ascii(3, "E"),
                            rationals(4, &[(106, 0), (42, 0), (0, 0)]),
                        ],
                        ..camera(Little, 8)
                    }
                    .tiff(),
                ),
                8,
            )
        },
        case(
            "PNG with Pillow's eXIf chunk",
            png_of(
                &DynamicImage::ImageRgb8(two_tone(64, 32)).into_rgba8(),
                Some(pillow(Big, 6)),
            ),
            6,
        ),
        case(
            "WebP with a camera's EXIF chunk",
            webp_of(&two_tone(64, 32), Some(camera(Big, 8).tiff())),
            8,
        ),
    ]
}

/// Every layout of the corpus, each checked in full; the failures are listed together.
#[test]
fn every_layout_keeps_its_orientation_gps_and_time() {
    let failed: Vec<&str> = corpus()
        .into_iter()
        .filter_map(|case| {
            let name = case.name;
            std::panic::catch_unwind(move || check(case))
                .is_err()
                .then_some(name)
        })
        .collect();
    assert!(failed.is_empty(), "layouts that lost data: {failed:#?}");
}

fn check(
    Case {
        name,
        photo,
        orientation,
        gps,
        taken,
    }: Case,
) {
    let out = process(&photo, &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
    // Stored 64×32 with its red half on top: turned clockwise (6) the red ends on the right,
    // counter-clockwise (8) on the left.
    let (size, red, blue) = match orientation {
        6 => ((32, 64), (20..30, 5..60), (2..12, 5..60)),
        8 => ((32, 64), (2..12, 5..60), (20..30, 5..60)),
        _ => ((64, 32), (5..60, 2..12), (5..60, 20..30)),
    };
    assert_eq!((out.public_width, out.public_height), size, "{name}");
    let public = decode_jpeg(&out.public);
    assert_eq!(public.dimensions(), size, "{name}");
    assert!(is_red(mean_colour(&public, red.0, red.1)), "{name}");
    assert!(is_blue(mean_colour(&public, blue.0, blue.1)), "{name}");
    if gps {
        let (lat, lon) = out
            .location_hint
            .unwrap_or_else(|| panic!("{name}: no GPS hint"));
        assert!((lat - 10.7769).abs() < 1e-6, "{name}: {lat}");
        assert!((lon - 106.7009).abs() < 1e-6, "{name}: {lon}");
    } else {
        assert_eq!(out.location_hint, None, "{name}");
    }
    let time = NaiveDate::from_ymd_opt(2024, 5, 17)
        .unwrap()
        .and_hms_opt(8, 30, 15);
    assert_eq!(out.captured_at, time.filter(|_| taken), "{name}");
    assert_no_metadata(&out.public);
    assert_no_metadata(&out.thumbnail);
}
