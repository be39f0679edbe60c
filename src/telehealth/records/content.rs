//! What a doctor writes in a record (SOAP notes, ICD-10 diagnoses, prescription items) and its
//! validation.

use chrono::{Duration, NaiveDate};

use crate::error::{Error, FieldError, Result};
use crate::telehealth::validate_text;

/// A diagnosis: an ICD-10 code with its text.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, poem_openapi::Object,
)]
pub struct Diagnosis {
    /// ICD-10 code, e.g. `J06.9` (422 `invalid_icd10` otherwise).
    #[oai(validator(max_length = 40))]
    pub code: String,
    #[oai(validator(max_length = 300))]
    pub text: String,
}

/// One prescribed medicine (FHIR MedicationRequest).
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, poem_openapi::Object,
)]
pub struct PrescriptionItem {
    /// Drug name (generic preferred), e.g. `Paracetamol`.
    #[oai(validator(max_length = 200))]
    pub drug: String,
    /// e.g. `500 mg`.
    #[oai(default, validator(max_length = 100))]
    #[serde(default)]
    pub strength: String,
    /// e.g. `1 viên` (one tablet).
    #[oai(validator(max_length = 100))]
    pub dose: String,
    /// e.g. `3 lần/ngày`.
    #[oai(validator(max_length = 100))]
    pub frequency: String,
    /// e.g. `5 ngày`.
    #[oai(validator(max_length = 100))]
    pub duration: String,
    /// e.g. `Uống sau ăn`.
    #[oai(default, validator(max_length = 500))]
    #[serde(default)]
    pub instructions: String,
}

/// What a doctor writes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Content {
    pub subjective: String,
    pub objective: String,
    pub assessment: String,
    pub plan: String,
    pub diagnoses: Vec<Diagnosis>,
    pub prescriptions: Vec<PrescriptionItem>,
    pub follow_up_on: Option<NaiveDate>,
    pub in_person_advised: bool,
}

/// ICD-10 code shape: a letter, two digits (the third character may be a letter in some national
/// extensions), then optionally a dot and up to four characters.
pub fn is_icd10(code: &str) -> bool {
    let b = code.as_bytes();
    if b.len() < 3 || b.len() > 8 {
        return false;
    }
    let head = b[0].is_ascii_uppercase() && b[1].is_ascii_digit() && b[2].is_ascii_alphanumeric();
    let tail = match &b[3..] {
        [] => true,
        [b'.', rest @ ..] => {
            !rest.is_empty()
                && rest.len() <= 4
                && rest
                    .iter()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        }
        _ => false,
    };
    head && tail && !b[2].is_ascii_lowercase()
}

impl Content {
    /// Check every field; all problems are reported at once.
    pub fn validate(mut self, consultation_day: NaiveDate) -> Result<Content> {
        let mut errors: Vec<FieldError> = vec![];
        for (field, value) in [
            ("subjective", &mut self.subjective),
            ("objective", &mut self.objective),
            ("assessment", &mut self.assessment),
            ("plan", &mut self.plan),
        ] {
            match validate_text(value, field, 10_000) {
                Ok(v) => *value = v,
                Err(Error::Validation(mut e)) => errors.append(&mut e),
                Err(e) => return Err(e),
            }
        }
        if self.diagnoses.len() > 20 {
            errors.push(FieldError::new(
                "diagnoses",
                "too_many",
                "Tối đa 20 chẩn đoán",
                "At most 20 diagnoses",
            ));
        }
        for (i, d) in self.diagnoses.iter_mut().enumerate() {
            d.code = d.code.trim().to_ascii_uppercase();
            if !is_icd10(&d.code) {
                errors.push(FieldError::new(
                    &format!("diagnoses[{i}].code"),
                    "invalid_icd10",
                    "Mã ICD-10 không hợp lệ (ví dụ J06.9)",
                    "Not an ICD-10 code (e.g. J06.9)",
                ));
            }
            match validate_text(&d.text, &format!("diagnoses[{i}].text"), 300) {
                Ok(t) => d.text = t,
                Err(Error::Validation(mut e)) => errors.append(&mut e),
                Err(e) => return Err(e),
            }
        }
        if self.prescriptions.len() > 30 {
            errors.push(FieldError::new(
                "prescriptions",
                "too_many",
                "Tối đa 30 thuốc",
                "At most 30 items",
            ));
        }
        for (i, p) in self.prescriptions.iter_mut().enumerate() {
            for (name, value, required) in [
                ("drug", &mut p.drug, true),
                ("strength", &mut p.strength, false),
                ("dose", &mut p.dose, true),
                ("frequency", &mut p.frequency, true),
                ("duration", &mut p.duration, true),
                ("instructions", &mut p.instructions, false),
            ] {
                let field = format!("prescriptions[{i}].{name}");
                match validate_text(value, &field, 500) {
                    Ok(v) if required && v.is_empty() => {
                        errors.push(FieldError::new(&field, "required", "Bắt buộc", "Required"))
                    }
                    Ok(v) => *value = v,
                    Err(Error::Validation(mut e)) => errors.append(&mut e),
                    Err(e) => return Err(e),
                }
            }
        }
        if let Some(day) = self.follow_up_on
            && (day < consultation_day || day > consultation_day + Duration::days(366))
        {
            errors.push(FieldError::new(
                "follow_up_on",
                "invalid_follow_up",
                "Ngày tái khám phải trong vòng một năm sau buổi khám",
                "Follow-up must be within a year after the consultation",
            ));
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(Error::Validation(errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icd10_codes_are_recognised() {
        for ok in ["J06.9", "A09", "E11.65", "I10", "U07.1", "S52.5"] {
            assert!(is_icd10(ok), "{ok}");
        }
        for bad in [
            "j06.9",
            "J6",
            "J06.",
            "J06.12345",
            "06.9",
            "J06-9",
            "J06.9 ",
            "",
        ] {
            assert!(!is_icd10(bad), "{bad}");
        }
    }

    #[test]
    fn content_validation_reports_every_field() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap_or_default();
        let bad = Content {
            diagnoses: vec![Diagnosis {
                code: "nope".into(),
                text: "x".into(),
            }],
            prescriptions: vec![PrescriptionItem {
                drug: "".into(),
                strength: "".into(),
                dose: "1".into(),
                frequency: "2".into(),
                duration: "3".into(),
                instructions: "".into(),
            }],
            follow_up_on: Some(day - Duration::days(1)),
            ..Content::default()
        };
        let Err(Error::Validation(errors)) = bad.validate(day) else {
            panic!("should fail");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["diagnoses[0].code", "prescriptions[0].drug", "follow_up_on"]
        );
        let good = Content {
            subjective: " Ho 3 ngày ".into(),
            diagnoses: vec![Diagnosis {
                code: "j06.9".into(),
                text: "Viêm họng cấp".into(),
            }],
            ..Content::default()
        };
        let Ok(good) = good.validate(day) else {
            panic!("should pass");
        };
        assert_eq!(good.diagnoses[0].code, "J06.9");
        assert_eq!(good.subjective, "Ho 3 ngày");
    }
}
