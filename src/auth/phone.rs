//! Phone numbers, parsed once at the edge into E.164 (`+84912345678`).

use crate::error::Error;

/// A phone number in E.164 form. Cannot hold anything else.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

impl Phone {
    /// Accepts Vietnamese national numbers (`0912 345 678`, `028 3829 1234`), `84…`, `+84…`,
    /// `0084…`, and other countries' numbers in international form. Spaces, dots, dashes and
    /// parentheses are ignored.
    pub fn parse(raw: &str) -> Result<Phone, Error> {
        let invalid = || {
            Error::validation(
                "phone",
                "invalid_phone",
                "Số điện thoại không hợp lệ (ví dụ: 0912 345 678)",
                "Invalid phone number (e.g. 0912 345 678)",
            )
        };
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.len() > 32 {
            return Err(invalid());
        }
        let mut digits = String::with_capacity(16);
        let mut plus = false;
        for (i, c) in trimmed.chars().enumerate() {
            match c {
                '0'..='9' => digits.push(c),
                '+' if i == 0 => plus = true,
                ' ' | '.' | '-' | '(' | ')' => {}
                _ => return Err(invalid()),
            }
        }
        let international = if plus {
            digits
        } else if let Some(rest) = digits.strip_prefix("00") {
            rest.to_string()
        } else if let Some(rest) = digits.strip_prefix('0') {
            // Vietnamese national: mobiles have 9 digits after the 0, landlines 10.
            if !(rest.len() == 9 || rest.len() == 10) {
                return Err(invalid());
            }
            format!("84{rest}")
        } else if digits.starts_with("84") && (digits.len() == 11 || digits.len() == 12) {
            digits
        } else {
            return Err(invalid());
        };
        if let Some(national) = international.strip_prefix("84")
            && (!(national.len() == 9 || national.len() == 10) || national.starts_with('0'))
        {
            return Err(invalid());
        }
        if international.len() < 8 || international.len() > 15 || international.starts_with('0') {
            return Err(invalid());
        }
        Ok(Phone(format!("+{international}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_forms_normalise_to_e164() {
        for raw in [
            "0912 345 678",
            "0912.345.678",
            "+84 912 345 678",
            "84912345678",
            "0084912345678",
            " 0912-345-678 ",
        ] {
            assert_eq!(Phone::parse(raw).unwrap().as_str(), "+84912345678", "{raw}");
        }
        assert_eq!(
            Phone::parse("028 3829 1234").unwrap().as_str(),
            "+842838291234"
        );
        assert_eq!(
            Phone::parse("+1 (415) 555-2671").unwrap().as_str(),
            "+14155552671"
        );
    }

    #[test]
    fn garbage_is_refused() {
        for raw in [
            "",
            "abc",
            "0912",
            "09123456789012",
            "+84 0912 345 678",
            "12345",
            "+",
            "0912345678x",
            "+84912+345678",
            "١٢٣٤٥٦٧٨٩٠",
        ] {
            assert!(Phone::parse(raw).is_err(), "{raw}");
        }
    }
}
