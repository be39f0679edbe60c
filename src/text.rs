//! Free text as people type it, made safe to show: every free-text field (descriptions, comments,
//! names, notes, reasons, Open311 text) goes through [`clean`] before it is checked for length
//! and emptiness, so a text made only of invisible characters is empty, and a name cannot carry a
//! bidi override that reorders what staff and doctors read.

use unicode_normalization::UnicodeNormalization;

/// Why a text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// A control character (other than line breaks and tabs in multi-line text), or a Unicode
    /// format character (`\p{Cf}`: zero-width spaces, bidi overrides and isolates, soft hyphens,
    /// the BOM …) that is not a joiner inside a word.
    Invisible,
}

/// Zero-width joiner and non-joiner: needed inside words of some scripts and in emoji sequences.
fn is_joiner(c: char) -> bool {
    c == '\u{200C}' || c == '\u{200D}'
}

/// Unicode's format characters (general category Cf). The list is the whole category as of
/// Unicode 15; it changes rarely and only by additions in new scripts.
pub fn is_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{0600}'..='\u{0605}' | '\u{061C}' | '\u{06DD}' | '\u{070F}'
        | '\u{0890}'..='\u{0891}' | '\u{08E2}' | '\u{180E}' | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}' | '\u{110BD}' | '\u{110CD}'
        | '\u{13430}'..='\u{1343F}' | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0001}' | '\u{E0020}'..='\u{E007F}')
}

/// The text to store: NFC (so "ễ" typed as e + two combining marks and "ễ" precomposed are one
/// text), without leading and trailing white space, `\r\n` as `\n`. Refused if it carries a
/// control character (line breaks and tabs allowed when `multiline`) or a format character other
/// than a joiner between two visible characters.
pub fn clean(raw: &str, multiline: bool) -> Result<String, Refused> {
    let text: String = raw.replace("\r\n", "\n").nfc().collect();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let allowed_control = multiline && (c == '\n' || c == '\t');
        if c.is_control() && !allowed_control {
            return Err(Refused::Invisible);
        }
        if is_format(c) {
            let joined = is_joiner(c)
                && i > 0
                && i + 1 < chars.len()
                && !chars[i - 1].is_whitespace()
                && !chars[i + 1].is_whitespace()
                && !is_format(chars[i - 1])
                && !is_format(chars[i + 1]);
            if !joined {
                return Err(Refused::Invisible);
            }
        }
    }
    Ok(text.trim().to_string())
}

/// [`clean`], with a refused text read as empty: for required fields, whose "1 to N characters"
/// error then says what is wrong.
pub fn clean_required(raw: &str, multiline: bool) -> String {
    clean(raw, multiline).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_and_bidi_text_is_refused() {
        assert_eq!(clean("\u{200B}\u{200B}", true), Err(Refused::Invisible));
        assert_eq!(clean("Nguyễn\u{202E}cba", false), Err(Refused::Invisible));
        assert_eq!(clean("a\u{2066}b", false), Err(Refused::Invisible));
        assert_eq!(clean("\u{FEFF}Lan", false), Err(Refused::Invisible));
        assert_eq!(clean("tab\there", false), Err(Refused::Invisible));
        assert_eq!(clean("a\u{0007}", true), Err(Refused::Invisible));
    }

    #[test]
    fn joiners_inside_words_line_breaks_and_nfc_are_kept() {
        // Family emoji: people joined by ZWJ.
        assert!(clean("👨\u{200D}👩\u{200D}👧", false).is_ok());
        assert_eq!(clean("\u{200D}", false), Err(Refused::Invisible));
        assert_eq!(clean("a \u{200D} b", false), Err(Refused::Invisible));
        assert_eq!(
            clean("dòng 1\r\ndòng 2\t.", true).unwrap(),
            "dòng 1\ndòng 2\t."
        );
        // e + circumflex + tilde → ễ.
        assert_eq!(
            clean("  Nguye\u{0302}\u{0303}n  ", false).unwrap(),
            "Nguyễn"
        );
        assert_eq!(clean_required("\u{200B}", true), "");
    }
}
