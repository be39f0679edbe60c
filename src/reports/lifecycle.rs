//! A report's lifecycle, pure: statuses, channels, what each action does and the deadlines it sets.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::auth::Caller;
use crate::calendar::WorkCalendar;
use crate::reports::catalog::{Category, Severity};

crate::text_enum! {
    /// Where a report is in the ward's process. Vietnamese terms are the ones staff use.
    #[derive(serde::Serialize, serde::Deserialize, poem_openapi::Enum)]
    #[serde(rename_all = "snake_case")]
    #[oai(rename_all = "snake_case")]
    pub enum Status {
        /// Sent by the resident, not yet looked at.
        Submitted = "submitted",
        /// *Tiếp nhận*: acknowledged by the ward.
        Received = "received",
        /// *Chuyển xử lý*: routed to a unit (and maybe a person).
        Assigned = "assigned",
        /// *Đang xử lý*.
        InProgress = "in_progress",
        /// *Đã xử lý*: done, with evidence and a public reply; may be reopened for 7 days.
        Resolved = "resolved",
        /// *Từ chối*: not the ward's to handle, or not a real problem (reason given).
        Rejected = "rejected",
        /// The same problem as another report, which carries on.
        Duplicate = "duplicate",
        /// Resolved and past the reopen window.
        Closed = "closed",
        /// The resident says it is not fixed; goes back to a unit.
        Reopened = "reopened",
    }
}

impl Status {
    /// Still the ward's to handle. SQL spells the same set as [`open_statuses_sql!`], which a test
    /// holds to this.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Status::Submitted
                | Status::Received
                | Status::Assigned
                | Status::InProgress
                | Status::Reopened
        )
    }
    pub const OPEN: [Status; 5] = [
        Status::Submitted,
        Status::Received,
        Status::Assigned,
        Status::InProgress,
        Status::Reopened,
    ];
}

/// How the report reached the ward: the app (online) or staff entering it for a walk-in or a call.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, poem_openapi::Enum,
)]
#[serde(rename_all = "lowercase")]
#[oai(rename_all = "lowercase")]
pub enum Channel {
    App,
    Counter,
    Phone,
    /// A third-party civic app through the Open311 facade (counts as online).
    Open311,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::App => "app",
            Channel::Counter => "counter",
            Channel::Phone => "phone",
            Channel::Open311 => "open311",
        }
    }
    pub fn parse(s: &str) -> Option<Channel> {
        Some(match s {
            "app" => Channel::App,
            "counter" => Channel::Counter,
            "phone" => Channel::Phone,
            "open311" => Channel::Open311,
            _ => return None,
        })
    }
}

/// Who submits a report: a signed-in person, or a third-party app through Open311.
#[derive(Debug, Clone, Copy)]
pub enum Submitter<'a> {
    Account(&'a Caller),
    /// An Open311 client app. `staff_note` (the contact details the app sent, a link to its photo)
    /// goes into the history as an internal note, which only staff read.
    Open311 {
        staff_note: &'a str,
    },
}

/// A staff action on a report.
#[derive(Debug, Clone)]
pub enum Action {
    Receive,
    Assign {
        unit_id: Uuid,
        assignee_id: Option<Uuid>,
    },
    Start,
    Resolve {
        public_reply: String,
        evidence: Vec<Uuid>,
    },
    Reject {
        reason: String,
    },
    MarkDuplicate {
        of: Uuid,
    },
    Close,
}

impl Action {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Action::Receive => "receive",
            Action::Assign { .. } => "assign",
            Action::Start => "start",
            Action::Resolve { .. } => "resolve",
            Action::Reject { .. } => "reject",
            Action::MarkDuplicate { .. } => "duplicate",
            Action::Close => "close",
        }
    }

    /// The history entry this action writes.
    pub(crate) fn kind(&self) -> EventKind {
        match self {
            Action::Receive => EventKind::Receive,
            Action::Assign { .. } => EventKind::Assign,
            Action::Start => EventKind::Start,
            Action::Resolve { .. } => EventKind::Resolve,
            Action::Reject { .. } => EventKind::Reject,
            Action::MarkDuplicate { .. } => EventKind::Duplicate,
            Action::Close => EventKind::Close,
        }
    }
}

/// The lifecycle: which status an action leads to from which status. Anything else is a 409.
pub fn next_status(from: Status, action: &Action) -> Option<Status> {
    use Status::*;
    match (from, action) {
        (Submitted, Action::Receive) => Some(Received),
        (Submitted | Received | Assigned | InProgress | Reopened, Action::Assign { .. }) => {
            Some(Assigned)
        }
        (Assigned, Action::Start) => Some(InProgress),
        (Assigned | InProgress, Action::Resolve { .. }) => Some(Resolved),
        (Submitted | Received | Assigned | InProgress | Reopened, Action::Reject { .. }) => {
            Some(Rejected)
        }
        (Submitted | Received | Assigned | InProgress | Reopened, Action::MarkDuplicate { .. }) => {
            Some(Duplicate)
        }
        (Resolved, Action::Close) => Some(Closed),
        _ => None,
    }
}

/// What staff may do to a report in status `from` (action names as the API spells them).
pub fn allowed_actions(from: Status) -> Vec<&'static str> {
    let samples = [
        Action::Receive,
        Action::Assign {
            unit_id: Uuid::nil(),
            assignee_id: None,
        },
        Action::Start,
        Action::Resolve {
            public_reply: String::new(),
            evidence: Vec::new(),
        },
        Action::Reject {
            reason: String::new(),
        },
        Action::MarkDuplicate { of: Uuid::nil() },
        Action::Close,
    ];
    samples
        .iter()
        .filter(|a| next_status(from, a).is_some())
        .map(Action::name)
        .collect()
}

/// Days after resolution during which the reporter may reopen.
pub const REOPEN_WINDOW_DAYS: i64 = 7;

/// Acknowledge-by and resolve-by for a report of `category` at `severity` filed at `at`.
pub fn deadlines(
    cal: &WorkCalendar,
    at: DateTime<Utc>,
    category: &Category,
    severity: Severity,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let (ack, resolve) = category.deadlines_hours(severity);
    let minutes = |h: f64| chrono::Duration::minutes((h * 60.0).round() as i64);
    (
        cal.add_working(at, minutes(ack)),
        cal.add_working(at, minutes(resolve)),
    )
}

/// The open statuses ([`Status::is_open`]) as an SQL list, for queries that must name them in
/// their text (an index's planner needs the constants); written once, here.
#[macro_export]
macro_rules! open_statuses_sql {
    () => {
        "('submitted', 'received', 'assigned', 'in_progress', 'reopened')"
    };
}

crate::text_enum! {
    /// What a history entry records: a step of the lifecycle (named as its action is), or what
    /// someone said or did about the report. The API shows the same spelling.
    pub enum EventKind {
        /// Filed: the first entry (to `submitted`).
        Status = "status",
        Receive = "receive",
        Assign = "assign",
        Start = "start",
        Resolve = "resolve",
        Reject = "reject",
        Duplicate = "duplicate",
        /// Closed by the ward, or when the reopen window passed.
        Close = "close",
        /// The reporter said it is not fixed.
        Reopen = "reopen",
        /// Another resident has the same problem.
        MeToo = "me_too",
        /// Words between a resident (or an Open311 app's user) and the ward.
        Comment = "comment",
        /// Staff's words for staff.
        InternalNote = "internal_note",
        /// Staff changed the severity (with the reason).
        Severity = "severity",
    }
}

crate::text_enum! {
    /// Who may read a history entry.
    pub enum Visibility {
        /// Anyone who may see the report.
        Public = "public",
        /// Its author, staff, and the reporter when the ward wrote it.
        Reporter = "reporter",
        /// Staff only.
        Internal = "internal",
    }
}

crate::text_column!(Channel);

#[cfg(test)]
mod status_set_tests {
    use super::Status;

    #[test]
    fn the_sql_open_set_is_the_enums() {
        let sql: Vec<&str> = crate::store::column::sql_list(crate::open_statuses_sql!());
        let open: Vec<&str> = Status::ALL
            .iter()
            .copied()
            .filter(|s| s.is_open())
            .map(Status::as_str)
            .collect();
        assert_eq!(sql, open);
        for &s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
    }
}
