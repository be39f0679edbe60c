//! A small TIFF writer for EXIF fixtures: the directory layouts that cameras, Pillow and piexif
//! write, in either byte order, built in code so that no binary fixture is committed.
//!
//! A blob is the 8-byte header, then each IFD in the order given, each followed by its own data
//! (the values too long to sit in an entry), then the trailing chunks (an embedded thumbnail).
//! That is the order Pillow, piexif and most cameras use; offsets are worked out when writing.

/// Byte order: "II" (Intel, little-endian) or "MM" (Motorola, big-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Order {
    Little,
    Big,
}

impl Order {
    pub(super) fn u16(self, value: u16) -> [u8; 2] {
        match self {
            Order::Little => value.to_le_bytes(),
            Order::Big => value.to_be_bytes(),
        }
    }

    pub(super) fn u32(self, value: u32) -> [u8; 4] {
        match self {
            Order::Little => value.to_le_bytes(),
            Order::Big => value.to_be_bytes(),
        }
    }

    /// Byte order mark, 42, and the offset of IFD0, right after the header.
    fn header(self) -> Vec<u8> {
        let mut out = match self {
            Order::Little => b"II".to_vec(),
            Order::Big => b"MM".to_vec(),
        };
        out.extend_from_slice(&self.u16(42));
        out.extend_from_slice(&self.u32(8));
        out
    }
}

/// A field's value. Offsets to other parts of the blob are resolved when it is written.
pub(super) enum Value {
    /// Written with its terminating NUL.
    Ascii(String),
    Short(Vec<u16>),
    Long(Vec<u32>),
    Rational(Vec<(u32, u32)>),
    Undefined(Vec<u8>),
    /// A LONG: the offset of the blob's IFD with this index (the Exif and GPS pointers).
    IfdAt(usize),
    /// A LONG: the offset of the blob's trailing chunk with this index (a thumbnail's JPEG).
    ChunkAt(usize),
    /// A type, count and value-or-offset written as they are: a field that points where it
    /// should not, or whose count runs past the end.
    Raw {
        kind: u16,
        count: u32,
        offset: u32,
    },
}

impl Value {
    /// TIFF type and count.
    fn kind_count(&self) -> (u16, u32) {
        let count = |n: usize| u32::try_from(n).unwrap();
        match self {
            Value::Ascii(text) => (2, count(text.len() + 1)),
            Value::Short(values) => (3, count(values.len())),
            Value::Long(values) => (4, count(values.len())),
            Value::Rational(values) => (5, count(values.len())),
            Value::Undefined(bytes) => (7, count(bytes.len())),
            Value::IfdAt(_) | Value::ChunkAt(_) => (4, 1),
            Value::Raw { kind, count, .. } => (*kind, *count),
        }
    }

    /// How many bytes the value takes: in the entry itself when at most 4.
    fn len(&self) -> usize {
        match self {
            Value::Ascii(text) => text.len() + 1,
            Value::Short(values) => 2 * values.len(),
            Value::Long(values) => 4 * values.len(),
            Value::Rational(values) => 8 * values.len(),
            Value::Undefined(bytes) => bytes.len(),
            Value::IfdAt(_) | Value::ChunkAt(_) | Value::Raw { .. } => 4,
        }
    }

    fn encode(&self, order: Order, ifds: &[usize], chunks: &[usize]) -> Vec<u8> {
        let offset = |at: usize| order.u32(u32::try_from(at).unwrap()).to_vec();
        match self {
            Value::Ascii(text) => [text.as_bytes(), &[0]].concat(),
            Value::Short(values) => values.iter().flat_map(|&v| order.u16(v)).collect(),
            Value::Long(values) => values.iter().flat_map(|&v| order.u32(v)).collect(),
            Value::Rational(values) => values
                .iter()
                .flat_map(|&(num, denom)| [order.u32(num), order.u32(denom)].concat())
                .collect(),
            Value::Undefined(bytes) => bytes.clone(),
            Value::IfdAt(index) => offset(ifds[*index]),
            Value::ChunkAt(index) => offset(chunks[*index]),
            Value::Raw { offset, .. } => order.u32(*offset).to_vec(),
        }
    }
}

/// One directory entry.
pub(super) struct Entry {
    pub(super) tag: u16,
    pub(super) value: Value,
}

pub(super) fn ascii(tag: u16, text: &str) -> Entry {
    Entry {
        tag,
        value: Value::Ascii(text.into()),
    }
}

pub(super) fn short(tag: u16, value: u16) -> Entry {
    Entry {
        tag,
        value: Value::Short(vec![value]),
    }
}

pub(super) fn long(tag: u16, value: u32) -> Entry {
    Entry {
        tag,
        value: Value::Long(vec![value]),
    }
}

pub(super) fn rationals(tag: u16, values: &[(u32, u32)]) -> Entry {
    Entry {
        tag,
        value: Value::Rational(values.to_vec()),
    }
}

pub(super) fn undefined(tag: u16, bytes: Vec<u8>) -> Entry {
    Entry {
        tag,
        value: Value::Undefined(bytes),
    }
}

/// A pointer to the blob's IFD number `index` (0x8769 Exif, 0x8825 GPS, 0xA005 Interop).
pub(super) fn pointer(tag: u16, index: usize) -> Entry {
    Entry {
        tag,
        value: Value::IfdAt(index),
    }
}

/// What follows an IFD's entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Next {
    /// Nothing: piexif ends its Exif and GPS IFDs without the 4-byte link, so whatever comes
    /// next is read as one.
    Omitted,
    /// A zero link: no next IFD.
    End,
    /// A link to the blob's IFD with this index (IFD0 to the thumbnail's IFD1).
    Ifd(usize),
}

pub(super) struct Ifd {
    pub(super) entries: Vec<Entry>,
    pub(super) next: Next,
}

impl Ifd {
    /// An IFD ending with a zero link, as the specification wants.
    pub(super) fn new(entries: Vec<Entry>) -> Ifd {
        Ifd {
            entries,
            next: Next::End,
        }
    }

    pub(super) fn next(self, next: Next) -> Ifd {
        Ifd { next, ..self }
    }

    /// Entries, link and the data after them (each value padded to an even length).
    fn len(&self) -> usize {
        let link = if self.next == Next::Omitted { 0 } else { 4 };
        let data: usize = self
            .entries
            .iter()
            .map(|entry| entry.value.len())
            .filter(|&len| len > 4)
            .map(|len| len.next_multiple_of(2))
            .sum();
        2 + 12 * self.entries.len() + link + data
    }

    fn write(&self, out: &mut Vec<u8>, order: Order, ifds: &[usize], chunks: &[usize]) {
        let link = if self.next == Next::Omitted { 0 } else { 4 };
        let mut data_at = out.len() + 2 + 12 * self.entries.len() + link;
        let mut data = Vec::new();
        out.extend_from_slice(&order.u16(u16::try_from(self.entries.len()).unwrap()));
        for entry in &self.entries {
            let (kind, count) = entry.value.kind_count();
            out.extend_from_slice(&order.u16(entry.tag));
            out.extend_from_slice(&order.u16(kind));
            out.extend_from_slice(&order.u32(count));
            let mut bytes = entry.value.encode(order, ifds, chunks);
            if bytes.len() <= 4 {
                bytes.resize(4, 0);
                out.extend_from_slice(&bytes);
            } else {
                out.extend_from_slice(&order.u32(u32::try_from(data_at).unwrap()));
                bytes.resize(bytes.len().next_multiple_of(2), 0);
                data_at += bytes.len();
                data.extend_from_slice(&bytes);
            }
        }
        match self.next {
            Next::Omitted => {}
            Next::End => out.extend_from_slice(&order.u32(0)),
            Next::Ifd(index) => {
                out.extend_from_slice(&order.u32(u32::try_from(ifds[index]).unwrap()));
            }
        }
        out.extend_from_slice(&data);
    }
}

/// A whole TIFF blob, as carried in an APP1 "Exif" segment, a PNG eXIf or a WebP EXIF chunk.
pub(super) struct Tiff {
    pub(super) order: Order,
    /// IFD0 first; the others are reached through pointers and links.
    pub(super) ifds: Vec<Ifd>,
    /// Written after the last IFD, in this order.
    pub(super) chunks: Vec<Vec<u8>>,
}

impl Tiff {
    pub(super) fn bytes(&self) -> Vec<u8> {
        let mut at = 8;
        let ifds: Vec<usize> = self
            .ifds
            .iter()
            .map(|ifd| {
                let start = at;
                at += ifd.len();
                start
            })
            .collect();
        let chunks: Vec<usize> = self
            .chunks
            .iter()
            .map(|chunk| {
                let start = at;
                at += chunk.len();
                start
            })
            .collect();
        let mut out = self.order.header();
        for (ifd, &start) in self.ifds.iter().zip(&ifds) {
            assert_eq!(out.len(), start);
            ifd.write(&mut out, self.order, &ifds, &chunks);
        }
        for chunk in &self.chunks {
            out.extend_from_slice(chunk);
        }
        assert_eq!(out.len(), at);
        out
    }
}

/// A camera's blob in `order`: IFD0 (with `ifd0`), then the Exif and GPS IFDs it points to, every
/// IFD linked.
pub(super) fn camera(
    order: Order,
    mut ifd0: Vec<Entry>,
    exif: Vec<Entry>,
    gps: Vec<Entry>,
) -> Vec<u8> {
    ifd0.push(pointer(0x8769, 1));
    ifd0.push(pointer(0x8825, 2));
    Tiff {
        order,
        ifds: vec![Ifd::new(ifd0), Ifd::new(exif), Ifd::new(gps)],
        chunks: vec![],
    }
    .bytes()
}

/// [`camera`] in little-endian.
pub(super) fn tiff(ifd0: Vec<Entry>, exif: Vec<Entry>, gps: Vec<Entry>) -> Vec<u8> {
    camera(Order::Little, ifd0, exif, gps)
}
