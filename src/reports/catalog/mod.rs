//! The service catalog: what residents can report, who handles it, how fast (by severity), and the
//! extra questions each category asks. A fresh install starts with the common ward categories.

mod cache;
mod repo;
mod seed;
mod validation;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use cache::Cache;
pub use repo::{by_code, by_id, create, list, update};
pub use seed::seed_defaults;
pub use validation::check_answers;

/// How urgent a report is; it sets the deadlines (*thời hạn xử lý*).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, poem_openapi::Enum,
)]
#[serde(rename_all = "lowercase")]
#[oai(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Normal,
    High,
    /// Danger to people (open manhole, fallen wire, deep flooding).
    Urgent,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Normal => "normal",
            Severity::High => "high",
            Severity::Urgent => "urgent",
        }
    }
    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s {
            "low" => Severity::Low,
            "normal" => Severity::Normal,
            "high" => Severity::High,
            "urgent" => Severity::Urgent,
            _ => return None,
        })
    }
    pub const ALL: [Severity; 4] = [
        Severity::Urgent,
        Severity::High,
        Severity::Normal,
        Severity::Low,
    ];

    /// The ward's default working hours to acknowledge (*tiếp nhận*) and to resolve (*xử lý xong*),
    /// for categories that set none of their own. A working day is 7.5 h.
    pub fn deadlines_hours(self) -> (f64, f64) {
        match self {
            Severity::Urgent => (1.0, 7.5),
            Severity::High => (4.0, 22.5),
            Severity::Normal => (7.5, 37.5),
            Severity::Low => (15.0, 75.0),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, poem_openapi::Enum)]
#[serde(rename_all = "snake_case")]
#[oai(rename_all = "snake_case")]
pub enum QuestionKind {
    /// Free text, up to 1000 characters, several lines allowed.
    Text,
    Number,
    SingleChoice,
    MultiChoice,
    /// One short line (up to 200 characters).
    String,
    /// A date and time (RFC 3339, e.g. `2026-05-01T08:00:00+07:00`).
    Datetime,
}

/// An extra question a category asks (Open311 "attributes").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, poem_openapi::Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Question {
    /// Stable key of the answer, `[a-z0-9_]{1,40}`.
    #[oai(validator(max_length = 40))]
    pub key: String,
    #[oai(validator(max_length = 200))]
    pub label_vi: String,
    #[oai(validator(max_length = 200))]
    pub label_en: String,
    pub kind: QuestionKind,
    #[serde(default)]
    #[oai(default)]
    pub required: bool,
    /// Allowed values for the choice kinds.
    #[serde(default)]
    #[oai(default, validator(max_items = 30))]
    pub choices: Vec<String>,
}

/// Working hours to acknowledge and to resolve a report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DeadlineHours {
    pub ack: f64,
    pub resolve: f64,
}

/// The longest deadline a category may set: 100 working days.
const MAX_DEADLINE_HOURS: f64 = 750.0;

#[derive(Debug, Clone)]
pub struct Category {
    pub category_id: Uuid,
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    pub group_code: String,
    pub unit_id: Option<Uuid>,
    pub photo_required: bool,
    pub anonymous: bool,
    pub duplicate_radius_m: i32,
    pub public_decimals: Option<i32>,
    pub default_severity: Severity,
    pub questions: Vec<Question>,
    /// This category's own deadlines, where they differ from the ward's defaults.
    pub deadline_hours: BTreeMap<Severity, DeadlineHours>,
    pub active: bool,
}

impl Category {
    /// Working hours to acknowledge and to resolve a report of this category at `severity`.
    pub fn deadlines_hours(&self, severity: Severity) -> (f64, f64) {
        match self.deadline_hours.get(&severity) {
            Some(h) => (h.ack, h.resolve),
            None => severity.deadlines_hours(),
        }
    }

    /// Whether the public sees this category's reports only roughly placed (no address, no khu phố).
    pub fn rounds_public_place(&self) -> bool {
        self.public_decimals.is_some()
    }

    /// Where the public may see a report of this category: rounded as the category says, and
    /// without its address when it rounds (the public feed, Open311 and webhooks all show this).
    pub fn public_place(&self, lat: f64, lon: f64, address: &str) -> (crate::geo::Point, String) {
        let point = crate::geo::Point { lat, lon }.rounded(self.public_decimals);
        let address = if self.rounds_public_place() {
            String::new()
        } else {
            address.to_string()
        };
        (point, address)
    }
}

/// What an admin may set on a category (all of it on create; any of it on update).
#[derive(Debug, Clone, Default)]
pub struct CategoryFields {
    pub name_vi: Option<String>,
    pub name_en: Option<String>,
    pub group_code: Option<String>,
    pub unit_id: Option<Option<Uuid>>,
    pub photo_required: Option<bool>,
    pub anonymous: Option<bool>,
    pub duplicate_radius_m: Option<i32>,
    pub public_decimals: Option<Option<i32>>,
    pub default_severity: Option<Severity>,
    pub questions: Option<Vec<Question>>,
    /// Replaces the category's own deadlines (empty: the ward's defaults for every severity).
    pub deadline_hours: Option<BTreeMap<Severity, DeadlineHours>>,
    pub active: Option<bool>,
}

/// The farthest any of `categories`' public rounding moves a point (degrees): how much further a
/// public box query must look (see [`crate::geo::BBox::grown`]).
pub fn public_margin(categories: &[Category]) -> f64 {
    categories
        .iter()
        .map(|c| crate::geo::Point::rounding_margin(c.public_decimals))
        .fold(0.0, f64::max)
}

crate::text_column!(Severity);

#[cfg(test)]
mod tests {
    use super::*;

    fn category(public_decimals: Option<i32>) -> Category {
        Category {
            category_id: Uuid::nil(),
            code: "pothole".into(),
            name_vi: "Ổ gà".into(),
            name_en: "Pothole".into(),
            group_code: "roads".into(),
            unit_id: None,
            photo_required: false,
            anonymous: false,
            duplicate_radius_m: 30,
            public_decimals,
            default_severity: Severity::Normal,
            questions: vec![],
            deadline_hours: BTreeMap::new(),
            active: true,
        }
    }

    /// A category that rounds shows the public a rounded point and no address; one that does not
    /// shows both as filed. Open311, the feed and webhooks all rely on this one rule.
    #[test]
    fn the_public_place_is_rounded_and_without_address_only_when_the_category_rounds() {
        let (point, address) = category(Some(3)).public_place(10.776_543, 106.701_234, "12 Lê Lợi");
        assert_eq!((point.lat, point.lon), (10.777, 106.701));
        assert_eq!(address, "");
        assert!(category(Some(3)).rounds_public_place());

        let (point, address) = category(None).public_place(10.776_543, 106.701_234, "12 Lê Lợi");
        assert_eq!((point.lat, point.lon), (10.776_543, 106.701_234));
        assert_eq!(address, "12 Lê Lợi");
        assert!(!category(None).rounds_public_place());
    }
}
