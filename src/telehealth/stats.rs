//! The station's figures without clinical content: how many consultations and how they ended, how
//! long residents waited, how long calls lasted, the no-show rate of bookings, ratings, and each
//! doctor's workload. For admins and the station's doctors.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::schedule::{is_station_doctor, station};
use crate::auth::{Caller, Role};
use crate::error::{Error, Result};
use crate::telehealth::Ctx;
use crate::telehealth::repo::consultations::ConsultationStatus;
use crate::telehealth::repo::stats as repo;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DoctorLoad {
    pub doctor_id: Uuid,
    pub name: String,
    pub consultations: i64,
    pub minutes_in_call: i64,
    pub average_rating: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct StationFigures {
    pub station_id: Uuid,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Consultations created in the window, by status.
    pub consultations: BTreeMap<String, i64>,
    /// From joining the waiting room to being admitted.
    pub median_wait_seconds: Option<i64>,
    pub median_call_seconds: Option<i64>,
    /// Appointments starting in the window, by status.
    pub appointments: BTreeMap<String, i64>,
    /// No-shows among appointments that reached their time (fulfilled + no-show).
    pub no_show_rate: Option<f64>,
    pub ratings: i64,
    pub average_rating: Option<f64>,
    pub records_signed: i64,
    pub doctors: Vec<DoctorLoad>,
    /// Calls whose apps sent quality summaries, and the shares of them relayed through TURN and
    /// of poor quality.
    pub calls_measured: i64,
    pub relayed_share: Option<f64>,
    pub poor_quality_share: Option<f64>,
}

pub fn median(mut v: Vec<i64>) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    })
}

pub async fn station_figures(
    state: &Ctx,
    caller: &Caller,
    station_id: Uuid,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<StationFigures> {
    caller.require(&[Role::Admin, Role::Doctor])?;
    station(&state.db, station_id).await?;
    if caller.role == Role::Doctor
        && !is_station_doctor(&state.db, station_id, caller.account_id).await?
    {
        return Err(Error::Forbidden);
    }
    let now = state.clock.now();
    let to = to.unwrap_or(now);
    let from = from.unwrap_or(to - Duration::days(30));
    if to <= from || to - from > Duration::days(366) {
        return Err(Error::validation(
            "to",
            "invalid_range",
            "Khoảng thời gian không hợp lệ (tối đa 366 ngày)",
            "Invalid range (at most 366 days)",
        ));
    }
    let rows = repo::consultations(&state.db, station_id, from, to).await?;
    let mut out = StationFigures {
        station_id,
        from,
        to,
        ..StationFigures::default()
    };
    let mut waits = vec![];
    let mut calls = vec![];
    let mut ratings = vec![];
    let mut per_doctor: BTreeMap<Uuid, (i64, i64, Vec<i32>)> = BTreeMap::new();
    for c in rows {
        let ended = c.status == ConsultationStatus::Ended;
        let rating = c.rating;
        *out.consultations
            .entry(c.status.as_str().to_string())
            .or_default() += 1;
        if let Some(a) = c.admitted_at {
            waits.push((a - c.queued_at).num_seconds().max(0));
        }
        let call = match (c.call_started_at, c.ended_at) {
            (Some(s), Some(e)) if ended => Some((e - s).num_seconds().max(0)),
            _ => None,
        };
        if let Some(secs) = call {
            calls.push(secs);
        }
        if let Some(r) = rating {
            ratings.push(r);
        }
        if let Some(d) = c.doctor_id
            && ended
        {
            let e = per_doctor.entry(d).or_default();
            e.0 += 1;
            e.1 += call.unwrap_or(0);
            if let Some(r) = rating {
                e.2.push(r);
            }
        }
    }
    out.median_wait_seconds = median(waits);
    out.median_call_seconds = median(calls);
    out.ratings = ratings.len() as i64;
    out.average_rating = average(&ratings);
    let appointments = repo::appointments(&state.db, station_id, from, to).await?;
    out.appointments = appointments
        .into_iter()
        .map(|(status, n)| (status.as_str().to_string(), n))
        .collect();
    let fulfilled = out.appointments.get("fulfilled").copied().unwrap_or(0);
    let no_show = out.appointments.get("noshow").copied().unwrap_or(0);
    if fulfilled + no_show > 0 {
        out.no_show_rate = Some(no_show as f64 / (fulfilled + no_show) as f64);
    }
    out.records_signed = repo::records_signed(&state.db, station_id, from, to).await?;
    let calls = super::quality::station_calls(state, station_id, from, to).await?;
    out.calls_measured = calls.measured;
    if calls.measured > 0 {
        out.relayed_share = Some(calls.relayed as f64 / calls.measured as f64);
        out.poor_quality_share = Some(calls.poor as f64 / calls.measured as f64);
    }
    let names: BTreeMap<Uuid, String> = super::schedule::doctors(&state.db)
        .await?
        .into_iter()
        .map(|d| (d.account_id, d.name))
        .collect();
    out.doctors = per_doctor
        .into_iter()
        .map(|(doctor_id, (n, secs, r))| DoctorLoad {
            doctor_id,
            name: names.get(&doctor_id).cloned().unwrap_or_default(),
            consultations: n,
            minutes_in_call: secs / 60,
            average_rating: average(&r),
        })
        .collect();
    Ok(out)
}

fn average(v: &[i32]) -> Option<f64> {
    if v.is_empty() {
        None
    } else {
        Some(v.iter().map(|x| f64::from(*x)).sum::<f64>() / v.len() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![5]), Some(5));
        assert_eq!(median(vec![9, 1, 5]), Some(5));
        assert_eq!(median(vec![4, 1, 3, 2]), Some(2));
    }
}
