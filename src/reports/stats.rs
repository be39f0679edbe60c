//! The figures the ward is judged on: reports received and resolved, the on-time rate, median time
//! to acknowledge and to resolve (in working hours), the online share, and satisfaction.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::on_db;
use crate::reports::{Channel, Ctx, Status};

/// How to group the figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename_all = "lowercase")]
pub enum GroupBy {
    Category,
    Area,
    Unit,
    /// Calendar month in the ward's time zone.
    Month,
}

/// One row of figures.
#[derive(Debug, Clone, PartialEq, poem_openapi::Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Figures {
    /// The group (category code, area or unit name, `YYYY-MM`), or `all`.
    pub group: String,
    pub received: i64,
    pub resolved: i64,
    /// Resolved by the resolve-by deadline.
    pub resolved_on_time: i64,
    /// `resolved_on_time / resolved`; absent when nothing was resolved.
    pub on_time_rate: Option<f64>,
    /// Open and past the deadline now.
    pub overdue_open: i64,
    /// Median working hours from receipt to acknowledgement (*tiếp nhận*).
    pub median_ack_hours: Option<f64>,
    /// Median working hours from receipt to resolution.
    pub median_resolve_hours: Option<f64>,
    /// Share of reports that came through the app rather than the counter or the phone.
    pub online_share: Option<f64>,
    pub rated: i64,
    pub satisfaction_avg: Option<f64>,
}

#[derive(sqlx::FromRow)]
struct Row {
    category_code: String,
    area_name: Option<String>,
    unit_name: Option<String>,
    channel: Channel,
    status: Status,
    resolve_by: DateTime<Utc>,
    acknowledged_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    missed_deadline: bool,
    rating: Option<i32>,
    created_at: DateTime<Utc>,
    #[allow(dead_code)]
    report_id: Uuid,
}

#[derive(Default)]
struct Acc {
    received: i64,
    resolved: i64,
    on_time: i64,
    overdue_open: i64,
    online: i64,
    ack_hours: Vec<f64>,
    resolve_hours: Vec<f64>,
    ratings: Vec<i32>,
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    let m = if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    };
    Some((m * 100.0).round() / 100.0)
}

fn ratio(a: i64, b: i64) -> Option<f64> {
    (b > 0).then(|| ((a as f64 / b as f64) * 10_000.0).round() / 10_000.0)
}

/// Figures for reports received in `[from, to)`, grouped (or one `all` row), plus the total row.
pub async fn compute(
    state: &Ctx,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    group_by: Option<GroupBy>,
) -> Result<Vec<Figures>> {
    if from >= to || (to - from).num_days() > 3660 {
        return Err(Error::validation(
            "from",
            "invalid_period",
            "Khoảng thời gian không hợp lệ (tối đa 10 năm)",
            "Invalid period (up to 10 years)",
        ));
    }
    let rows = on_db!(&state.db, pool => sqlx::query_as::<_, Row>(
        "SELECT r.report_id, c.code AS category_code, a.name AS area_name, u.name AS unit_name, r.channel, r.status,
                r.resolve_by, r.acknowledged_at, r.resolved_at, r.missed_deadline, r.rating, r.created_at
         FROM reports r
         JOIN categories c ON c.category_id = r.category_id
         LEFT JOIN areas a ON a.area_id = r.area_id
         LEFT JOIN units u ON u.unit_id = r.unit_id
         WHERE r.created_at >= $1 AND r.created_at < $2 AND r.status NOT IN ('duplicate')",
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await)?;
    let now = state.clock.now();
    let cal = &state.calendar;
    let offset = cal.utc_offset();
    let mut groups: BTreeMap<String, Acc> = BTreeMap::new();
    let mut total = Acc::default();
    for r in rows {
        let key = match group_by {
            None => "all".to_string(),
            Some(GroupBy::Category) => r.category_code.clone(),
            Some(GroupBy::Area) => r.area_name.clone().unwrap_or_else(|| "none".into()),
            Some(GroupBy::Unit) => r.unit_name.clone().unwrap_or_else(|| "unrouted".into()),
            Some(GroupBy::Month) => r
                .created_at
                .with_timezone(&offset)
                .format("%Y-%m")
                .to_string(),
        };
        for acc in [groups.entry(key).or_default(), &mut total] {
            acc.received += 1;
            // Online: the ward's app and third-party apps through Open311.
            if matches!(r.channel, Channel::App | Channel::Open311) {
                acc.online += 1;
            }
            if let Some(ack) = r.acknowledged_at {
                acc.ack_hours
                    .push(cal.working_between(r.created_at, ack).num_seconds() as f64 / 3600.0);
            }
            match r.resolved_at {
                Some(done) if matches!(r.status, Status::Resolved | Status::Closed) => {
                    acc.resolved += 1;
                    // On time only if no resolution of it was late (a reopening resets the
                    // deadline, not the ward's record).
                    if done <= r.resolve_by && !r.missed_deadline {
                        acc.on_time += 1;
                    }
                    acc.resolve_hours.push(
                        cal.working_between(r.created_at, done).num_seconds() as f64 / 3600.0,
                    );
                }
                _ => {
                    if r.status.is_open() && now > r.resolve_by {
                        acc.overdue_open += 1;
                    }
                }
            }
            if let Some(stars) = r.rating {
                acc.ratings.push(stars);
            }
        }
    }
    let figures = |group: String, a: Acc| Figures {
        group,
        received: a.received,
        resolved: a.resolved,
        resolved_on_time: a.on_time,
        on_time_rate: ratio(a.on_time, a.resolved),
        overdue_open: a.overdue_open,
        median_ack_hours: median(a.ack_hours),
        median_resolve_hours: median(a.resolve_hours),
        online_share: ratio(a.online, a.received),
        rated: a.ratings.len() as i64,
        satisfaction_avg: (!a.ratings.is_empty()).then(|| {
            ((a.ratings.iter().map(|&s| f64::from(s)).sum::<f64>() / a.ratings.len() as f64)
                * 100.0)
                .round()
                / 100.0
        }),
    };
    let mut out: Vec<Figures> = if group_by.is_some() {
        groups.into_iter().map(|(k, a)| figures(k, a)).collect()
    } else {
        vec![]
    };
    out.push(figures("all".into(), total));
    Ok(out)
}

/// The same figures as CSV (one header line, one line per group), for spreadsheets.
pub fn to_csv(rows: &[Figures]) -> String {
    let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    let mut out = String::from(
        "group,received,resolved,resolved_on_time,on_time_rate,overdue_open,median_ack_hours,median_resolve_hours,online_share,rated,satisfaction_avg\n",
    );
    for r in rows {
        // Group names are admin-entered: quote them and double any quote (RFC 4180), and defuse
        // spreadsheet formulas.
        let mut g = r.group.replace('"', "\"\"");
        if g.starts_with(['=', '+', '-', '@']) {
            g.insert(0, '\'');
        }
        out.push_str(&format!(
            "\"{g}\",{},{},{},{},{},{},{},{},{},{}\n",
            r.received,
            r.resolved,
            r.resolved_on_time,
            opt(r.on_time_rate),
            r.overdue_open,
            opt(r.median_ack_hours),
            opt(r.median_resolve_hours),
            opt(r.online_share),
            r.rated,
            opt(r.satisfaction_avg)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_ratios() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(ratio(1, 3), Some(0.3333));
        assert_eq!(ratio(1, 0), None);
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let f = Figures {
            group: "=cmd\"x".into(),
            received: 1,
            resolved: 0,
            resolved_on_time: 0,
            on_time_rate: None,
            overdue_open: 0,
            median_ack_hours: None,
            median_resolve_hours: None,
            online_share: Some(1.0),
            rated: 0,
            satisfaction_avg: None,
        };
        let csv = to_csv(&[f]);
        assert!(
            csv.lines()
                .nth(1)
                .unwrap()
                .starts_with("\"'=cmd\"\"x\",1,0,0,,0,,,1,0,"),
            "{csv}"
        );
    }
}
