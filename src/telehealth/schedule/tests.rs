use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{Duration, FixedOffset, NaiveDate};
use uuid::Uuid;

use super::availability::local_midnight;
use super::{Calendar, Window, check_windows, format_clock, free_slots, parse_clock, window_for};

fn vn() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).unwrap_or_else(|| unreachable!())
}

fn w(weekday: u32, start: u32, end: u32, slot: u32) -> Window {
    Window {
        station_id: Uuid::nil(),
        weekday,
        start_minute: start,
        end_minute: end,
        slot_minutes: slot,
    }
}

#[test]
fn overlapping_windows_are_refused_touching_ones_are_not() {
    assert!(check_windows(&[w(1, 480, 600, 15), w(1, 600, 660, 15)]).is_ok());
    assert!(check_windows(&[w(1, 480, 600, 15), w(1, 590, 660, 15)]).is_err());
    assert!(check_windows(&[w(1, 480, 600, 15), w(2, 480, 600, 15)]).is_ok());
    assert!(check_windows(&[w(8, 480, 600, 15)]).is_err());
    assert!(check_windows(&[w(1, 600, 480, 15)]).is_err());
    assert!(check_windows(&[w(1, 480, 490, 15)]).is_err());
    assert!(check_windows(&[w(1, 480, 600, 3)]).is_err());
    assert!(check_windows(&[w(1, 480, 1441, 15)]).is_err());
}

#[test]
fn clock_text_round_trips() {
    assert_eq!(parse_clock("07:30", "x").ok(), Some(450));
    assert_eq!(parse_clock("24:00", "x").ok(), Some(1440));
    assert!(parse_clock("7h30", "x").is_err());
    assert!(parse_clock("25:00", "x").is_err());
    assert_eq!(format_clock(450), "07:30");
}

#[test]
fn slots_follow_windows_skip_leave_holidays_and_taken_ones() {
    let doctor = Uuid::now_v7();
    // Monday 2026-11-30, 08:00–09:00 local in 15-minute slots.
    let windows = HashMap::from([(doctor, vec![w(1, 480, 540, 15)])]);
    let monday = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_default();
    let from = local_midnight(monday, vn()) - Duration::days(1);
    let to = from + Duration::days(14);
    let taken_at = local_midnight(monday, vn()) + Duration::minutes(495);
    let taken = HashSet::from([(doctor, taken_at)]);
    let leave = HashSet::from([(doctor, monday + Duration::days(7))]);
    let holidays = BTreeSet::new();
    let cal = Calendar {
        windows: &windows,
        leave: &leave,
        holidays: &holidays,
        taken: &taken,
        offset: vn(),
    };
    let slots = free_slots(&cal, None, from, to);
    // Four slots on the first Monday, one taken; the second Monday is leave.
    assert_eq!(slots.len(), 3, "{slots:?}");
    assert_eq!(
        slots[0]
            .start
            .with_timezone(&vn())
            .format("%a %H:%M")
            .to_string(),
        "Mon 08:00"
    );
    assert!(slots.iter().all(|s| s.start != taken_at));
    assert_eq!(slots[0].end - slots[0].start, Duration::minutes(15));
    let holidays = BTreeSet::from([monday]);
    let cal = Calendar {
        holidays: &holidays,
        ..cal
    };
    assert!(free_slots(&cal, None, from, to).is_empty());
}

#[test]
fn a_start_is_a_slot_only_on_the_grid() {
    let windows = [w(1, 480, 540, 15)];
    let monday = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_default();
    let at = |m: i64| local_midnight(monday, vn()) + Duration::minutes(m);
    assert!(window_for(&windows, Uuid::nil(), at(480), vn()).is_some());
    assert!(window_for(&windows, Uuid::nil(), at(525), vn()).is_some());
    assert!(window_for(&windows, Uuid::nil(), at(540), vn()).is_none());
    assert!(window_for(&windows, Uuid::nil(), at(487), vn()).is_none());
    assert!(window_for(&windows, Uuid::nil(), at(480) + Duration::seconds(1), vn()).is_none());
    assert!(window_for(&windows, Uuid::now_v7(), at(480), vn()).is_none());
    assert!(window_for(&windows, Uuid::nil(), at(480 + 1440), vn()).is_none());
}
