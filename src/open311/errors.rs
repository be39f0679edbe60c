//! The spec's errors: a status and descriptions, from our errors and field names.

use super::doc::{Doc, Node};
use crate::error::{Error, current_lang};

/// An Open311 error: the HTTP status (also the `code` of each entry) and the descriptions.
#[derive(Debug, Clone, PartialEq)]
pub struct O311Error {
    pub status: u16,
    pub descriptions: Vec<String>,
    pub retry_after: Option<u64>,
}

pub type O311Result<T> = Result<T, O311Error>;

impl O311Error {
    pub fn new(status: u16, description: impl Into<String>) -> O311Error {
        O311Error {
            status,
            descriptions: vec![description.into()],
            retry_after: None,
        }
    }
    /// 400 with a text in the request's language.
    pub fn bad(vi: &str, en: &str) -> O311Error {
        O311Error::new(400, current_lang().pick(vi, en))
    }

    pub fn doc(&self) -> Doc {
        Doc {
            root: "errors",
            body: Node::List(
                "error",
                self.descriptions
                    .iter()
                    .map(|d| {
                        Node::Obj(vec![
                            ("code", Node::Int(i64::from(self.status))),
                            ("description", Node::str(d.clone())),
                        ])
                    })
                    .collect(),
            ),
        }
    }
}

impl From<Error> for O311Error {
    fn from(err: Error) -> Self {
        if let Error::Internal(e) = &err {
            tracing::error!(error = ?e, "internal error");
        }
        let problem = err.to_problem();
        let status = match &err {
            // The spec answers bad input with 400, whether malformed or invalid.
            Error::BadRequest(_) | Error::Validation(_) | Error::Conflict(_) => 400,
            // …and missing or refused keys with 403.
            Error::Unauthorized(_) | Error::Forbidden => 403,
            _ => problem.status,
        };
        let descriptions = match &err {
            Error::Validation(fields) => fields
                .iter()
                .map(|f| format!("{}: {}", open311_field(&f.field), f.message))
                .collect(),
            Error::Conflict(code) => vec![format!("{}: {}", code, problem.detail)],
            _ => vec![problem.detail],
        };
        O311Error {
            status,
            descriptions,
            retry_after: match err {
                Error::RateLimited { retry_after, .. } => Some(retry_after),
                Error::Unavailable(_) => Some(5),
                _ => None,
            },
        }
    }
}

impl From<sqlx::Error> for O311Error {
    fn from(err: sqlx::Error) -> Self {
        Error::from(err).into()
    }
}

/// Our field names as an Open311 client knows them.
fn open311_field(field: &str) -> String {
    match field {
        "lon" => "long".into(),
        "category_code" => "service_code".into(),
        f => match f.strip_prefix("answers.") {
            Some(code) => format!("attribute[{code}]"),
            None => f.to_string(),
        },
    }
}
