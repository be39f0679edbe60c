//! Unit tests of `calendar`.

use super::*;
use chrono::TimeZone;

fn ward() -> WorkCalendar {
    WorkCalendar::ward_default()
}

/// A local wall-clock time (`YYYY-MM-DD HH:MM[:SS]`) in the calendar's zone, as UTC.
fn local(cal: &WorkCalendar, text: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M"))
        .unwrap();
    cal.utc_offset()
        .from_local_datetime(&naive)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn show(cal: &WorkCalendar, t: DateTime<Utc>) -> String {
    t.with_timezone(&cal.utc_offset())
        .format("%a %Y-%m-%d %H:%M:%S")
        .to_string()
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

/// Deterministic pseudo-random numbers (a 64-bit LCG), so failures reproduce.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 11
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn friday_afternoon_plus_two_hours_is_monday_morning() {
    let cal = ward();
    let due = cal.add_working(local(&cal, "2027-03-05 16:00"), TimeDelta::hours(2));
    assert_eq!(show(&cal, due), "Mon 2027-03-08 08:30:00");
    assert_eq!(
        cal.working_between(local(&cal, "2027-03-05 16:00"), due),
        TimeDelta::hours(2)
    );
}

#[test]
fn lunch_break_is_skipped() {
    let cal = ward();
    let t = |s: &str| local(&cal, s);
    assert_eq!(
        cal.add_working(t("2027-03-02 11:00"), TimeDelta::hours(1)),
        t("2027-03-02 14:00")
    );
    // Ending exactly at the close of the morning gives the close, not the reopening…
    assert_eq!(
        cal.add_working(t("2027-03-02 10:30"), TimeDelta::hours(1)),
        t("2027-03-02 11:30")
    );
    // …but "the next working moment" at the close is after lunch.
    assert_eq!(
        cal.add_working(t("2027-03-02 11:30"), TimeDelta::zero()),
        t("2027-03-02 13:30")
    );
    assert_eq!(
        cal.add_working(t("2027-03-02 12:15"), TimeDelta::minutes(1)),
        t("2027-03-02 13:31")
    );
    assert!(!cal.is_working(t("2027-03-02 12:00")));
    assert!(cal.is_working(t("2027-03-02 13:30")));
    assert!(!cal.is_working(t("2027-03-02 11:30")));
    assert_eq!(
        cal.working_between(t("2027-03-02 11:00"), t("2027-03-02 14:00")),
        TimeDelta::hours(1)
    );
    assert_eq!(
        cal.working_between(t("2027-03-02 00:00"), t("2027-03-03 00:00")),
        TimeDelta::minutes(450)
    );
}

#[test]
fn weekend_report_counts_from_monday_morning() {
    let cal = ward();
    let t = |s: &str| local(&cal, s);
    for filed in [
        "2027-03-06 10:00",
        "2027-03-05 17:00",
        "2027-03-07 23:59:59",
        "2027-03-08 06:00",
    ] {
        assert_eq!(
            cal.add_working(t(filed), TimeDelta::zero()),
            t("2027-03-08 07:30"),
            "{filed}"
        );
        assert_eq!(
            cal.add_working(t(filed), TimeDelta::minutes(30)),
            t("2027-03-08 08:00"),
            "{filed}"
        );
        assert_eq!(
            cal.working_between(t(filed), t("2027-03-08 08:00")),
            TimeDelta::minutes(30),
            "{filed}"
        );
        assert!(!cal.is_working(t(filed)));
    }
    // A full week's work from Saturday ends at Friday's close.
    assert_eq!(
        cal.add_working(t("2027-03-06 10:00"), cal.weekly_working_time()),
        t("2027-03-12 17:00")
    );
    assert_eq!(cal.weekly_working_time(), TimeDelta::minutes(37 * 60 + 30));
}

#[test]
fn tet_2027_is_skipped() {
    let cal = ward();
    let t = |s: &str| local(&cal, s);
    // Tết Đinh Mùi: eve Fri 5/2, mùng 1–2 on the weekend, mùng 3–4 Mon–Tue 8–9/2,
    // nghỉ bù Wed–Thu 10–11/2. Thursday 4/2 and Friday 12/2 are ordinary working days.
    for day in [5, 8, 9, 10, 11] {
        assert!(cal.holidays().contains(&d(2027, 2, day)), "{day}/2");
        assert!(
            !cal.is_working(t(&format!("2027-02-{day:02} 09:00"))),
            "{day}/2"
        );
    }
    assert!(cal.is_working(t("2027-02-04 09:00")));
    assert!(cal.is_working(t("2027-02-12 09:00")));
    assert_eq!(
        cal.add_working(t("2027-02-04 16:00"), TimeDelta::hours(2)),
        t("2027-02-12 08:30")
    );
    assert_eq!(
        cal.add_working(t("2027-02-04 07:30"), TimeDelta::hours(8)),
        t("2027-02-12 08:00")
    );
    assert_eq!(
        cal.add_working(t("2027-02-05 09:00"), TimeDelta::zero()),
        t("2027-02-12 07:30")
    );
    assert_eq!(
        cal.working_between(t("2027-02-04 00:00"), t("2027-02-13 00:00")),
        TimeDelta::hours(15)
    );
    // Without the holidays the same span holds seven working days.
    let plain = cal.clone().with_holidays([]);
    assert_eq!(
        plain.working_between(t("2027-02-04 00:00"), t("2027-02-13 00:00")),
        TimeDelta::minutes(7 * 450)
    );
}

#[test]
fn inputs_and_outputs_are_utc() {
    let cal = ward();
    assert_eq!(cal.utc_offset().local_minus_utc(), 7 * 3600);
    // 2027-03-01 is a Monday; 00:30Z is 07:30 at UTC+07:00, the opening.
    assert!(cal.is_working(utc("2027-03-01T00:30:00Z")));
    assert!(!cal.is_working(utc("2027-03-01T00:29:59Z")));
    assert!(cal.is_working(utc("2027-03-01T09:59:59Z")));
    assert!(!cal.is_working(utc("2027-03-01T10:00:00Z")));
    // Sunday evening UTC is already Monday morning locally.
    assert_eq!(
        cal.add_working(utc("2027-02-28T20:00:00Z"), TimeDelta::zero()),
        utc("2027-03-01T00:30:00Z")
    );
    assert_eq!(
        cal.add_working(utc("2027-03-01T00:30:00Z"), TimeDelta::hours(4)),
        utc("2027-03-01T04:30:00Z")
    );
    assert_eq!(
        cal.add_working(utc("2027-03-01T00:30:00Z"), TimeDelta::minutes(270)),
        utc("2027-03-01T07:00:00Z")
    );
    // Friday 2027-03-05 16:00 local is 09:00Z; Monday 08:30 local is 01:30Z.
    assert_eq!(
        cal.add_working(utc("2027-03-05T09:00:00Z"), TimeDelta::hours(2)),
        utc("2027-03-08T01:30:00Z")
    );
    // Sub-minute precision survives.
    let start = utc("2027-03-01T01:00:00.250Z");
    let work = TimeDelta::seconds(90) + TimeDelta::milliseconds(500);
    let due = cal.add_working(start, work);
    assert_eq!(due, utc("2027-03-01T01:01:30.750Z"));
    assert_eq!(cal.working_between(start, due), work);
    // Another offset: the same schedule at UTC-05:30.
    let west = WorkCalendar::parse(DEFAULT_SCHEDULE, "", "-05:30").unwrap();
    assert!(west.is_working(utc("2027-03-01T13:00:00Z")));
    assert!(!west.is_working(utc("2027-03-01T12:59:59Z")));
}

#[test]
fn holiday_table_is_consistent() {
    let dates: Vec<NaiveDate> = VN_PUBLIC_HOLIDAYS.iter().map(|(date, _)| *date).collect();
    assert!(
        dates.windows(2).all(|w| w[0] < w[1]),
        "sorted, no duplicates"
    );
    assert!(
        dates
            .iter()
            .all(|date| (2025..=2028).contains(&date.year()))
    );
    for (date, what) in VN_PUBLIC_HOLIDAYS {
        let labelled_weekend = what.contains("(Saturday)") || what.contains("(Sunday)");
        let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
        assert_eq!(labelled_weekend, weekend, "{date} {what}");
        if what.contains("(Saturday)") {
            assert_eq!(date.weekday(), Weekday::Sat, "{date} {what}");
        }
    }
    // Eleven statutory days a year land on weekdays once nghỉ bù is applied; 2025 has one
    // more because two days were swapped for Saturdays while Tết mùng 4 fell on a Saturday.
    for (year, expected) in [(2025, 12), (2026, 11), (2027, 11), (2028, 11)] {
        let weekdays = dates
            .iter()
            .filter(|date| date.year() == year && date.weekday().num_days_from_monday() < 5)
            .count();
        assert_eq!(weekdays, expected, "{year}");
    }
    // Spot checks against the published and computed dates.
    for (y, m, day) in [
        (2025, 1, 29),
        (2025, 4, 7),
        (2025, 9, 1),
        (2026, 2, 17),
        (2026, 4, 27),
        (2027, 4, 16),
        (2028, 1, 26),
        (2028, 4, 4),
        (2028, 5, 2),
        (2028, 9, 4),
    ] {
        assert!(dates.contains(&d(y, m, day)), "{y}-{m}-{day}");
    }
    // The settings rendering of the table rebuilds the default calendar exactly.
    let parsed = WorkCalendar::parse(
        DEFAULT_SCHEDULE,
        &default_holidays_setting(),
        DEFAULT_UTC_OFFSET,
    )
    .unwrap();
    assert_eq!(parsed, ward());
    assert!(default_holidays_setting().starts_with("2025-01-01,2025-01-27,"));
}

#[test]
fn working_between_inverts_add_working() {
    let cal = ward();
    let mut rng = Lcg(0x5eed);
    let base = utc("2024-12-20T00:00:00Z");
    for _ in 0..3000 {
        let start = base
            + TimeDelta::seconds(rng.below(4 * 366 * 86_400) as i64)
            + TimeDelta::nanoseconds(rng.below(1_000_000_000) as i64);
        let work = match rng.below(4) {
            0 => TimeDelta::zero(),
            1 => TimeDelta::minutes(rng.below(600) as i64),
            2 => TimeDelta::seconds(rng.below(400 * 3600) as i64),
            _ => TimeDelta::milliseconds(rng.below(3000 * 3_600_000) as i64),
        };
        let due = cal.add_working(start, work);
        assert!(due >= start);
        assert_eq!(
            cal.working_between(start, due),
            work,
            "{} + {work}",
            show(&cal, start)
        );
        if work > TimeDelta::zero() {
            // Nothing earlier would do: the last moment before `due` was working time.
            assert!(
                cal.is_working(due - TimeDelta::nanoseconds(1)),
                "{}",
                show(&cal, due)
            );
        } else {
            assert!(cal.is_working(due), "{}", show(&cal, due));
        }
        // The other direction: the earliest instant with as much work as `b`.
        let b = start + TimeDelta::seconds(rng.below(90 * 86_400) as i64);
        let between = cal.working_between(start, b);
        let back = cal.add_working(start, between);
        assert!(back <= b || between.is_zero());
        assert_eq!(cal.working_between(start, back), between);
    }
    assert_eq!(cal.working_between(base, base), TimeDelta::zero());
    assert_eq!(
        cal.working_between(base + TimeDelta::days(30), base),
        TimeDelta::zero()
    );
}

/// Brute force, one minute at a time: an oracle for both directions over half a year that
/// holds Tết Dương lịch, Tết, Giỗ Tổ and 30/4–1/5 with its nghỉ bù.
#[test]
fn agrees_with_minute_by_minute_count() {
    let cal = ward();
    let origin = local(&cal, "2026-12-15 00:00");
    let minutes = 190 * 24 * 60;
    let at_minute = |i: usize| origin + TimeDelta::minutes(i as i64);
    // prefix[i] = working minutes in [origin, origin + i minutes).
    let mut prefix = vec![0_i64; minutes + 1];
    for i in 0..minutes {
        prefix[i + 1] = prefix[i] + i64::from(cal.is_working(at_minute(i)));
    }
    // 127 working days of 450 minutes: 136 weekdays in the 190 days, 9 of them holidays.
    assert_eq!(prefix[minutes], 127 * 450);
    let mut rng = Lcg(42);
    for _ in 0..2000 {
        let a = rng.below(minutes as u64) as usize;
        let b = rng.below(minutes as u64) as usize;
        let expected = if b > a { prefix[b] - prefix[a] } else { 0 };
        assert_eq!(
            cal.working_between(at_minute(a), at_minute(b)),
            TimeDelta::minutes(expected),
            "{} .. {}",
            show(&cal, at_minute(a)),
            show(&cal, at_minute(b))
        );
        let work = rng.below(20_000) as i64;
        if prefix[a] + work + 1 > prefix[minutes] {
            continue;
        }
        // Earliest end with `work` minutes done (for zero: the first working minute).
        let target = prefix[a] + work.max(1);
        let end = prefix.partition_point(|&p| p < target) - usize::from(work == 0);
        assert_eq!(
            cal.add_working(at_minute(a), TimeDelta::minutes(work)),
            at_minute(end),
            "{} + {work} min",
            show(&cal, at_minute(a))
        );
    }
}

/// The week-skipping fast path must agree with plain day-by-day stepping. A holiday on every
/// Sunday removes no working time but disables the fast path entirely.
#[test]
fn week_skipping_matches_day_by_day() {
    let plain = WorkCalendar::parse(DEFAULT_SCHEDULE, "", DEFAULT_UTC_OFFSET).unwrap();
    let sundays = (0..2200).map(|w| d(2024, 12, 29) + TimeDelta::weeks(w));
    let slow = plain.clone().with_holidays(sundays);
    let mut rng = Lcg(7);
    for _ in 0..300 {
        let start = utc("2025-01-01T00:00:00Z")
            + TimeDelta::seconds(rng.below(365 * 86_400) as i64)
            + TimeDelta::milliseconds(rng.below(1000) as i64);
        let work = TimeDelta::seconds(rng.below(20_000 * 3600) as i64);
        let due = plain.add_working(start, work);
        assert_eq!(
            due,
            slow.add_working(start, work),
            "{} + {work}",
            show(&plain, start)
        );
        assert_eq!(plain.working_between(start, due), work);
        assert_eq!(slow.working_between(start, due), work);
    }
    // Whole weeks exactly: ends at a Friday close, not the Monday after.
    let monday = local(&plain, "2025-03-03 07:30");
    for weeks in [1, 2, 52, 520] {
        let due = plain.add_working(monday, plain.weekly_working_time() * weeks);
        assert_eq!(
            due.with_timezone(&plain.utc_offset()).weekday(),
            Weekday::Fri
        );
        assert_eq!(
            due,
            slow.add_working(monday, slow.weekly_working_time() * weeks)
        );
    }
}

#[test]
fn large_spans_terminate_quickly() {
    let cal = ward();
    let start = local(&cal, "2025-01-02 08:00");
    let due = cal.add_working(start, TimeDelta::hours(400));
    assert_eq!(cal.working_between(start, due), TimeDelta::hours(400));
    // 400 h is 53⅓ working days; past Tết 2025 that lands in late March (checked by hand).
    assert_eq!(show(&cal, due), "Tue 2025-03-25 10:30:00");
    let far = cal.add_working(start, TimeDelta::hours(10_000_000));
    assert_eq!(
        cal.working_between(start, far),
        TimeDelta::hours(10_000_000)
    );
    // Beyond chrono's range the answer saturates rather than panicking.
    assert_eq!(
        cal.add_working(start, TimeDelta::MAX),
        DateTime::<Utc>::MAX_UTC
    );
    assert_eq!(
        cal.add_working(DateTime::<Utc>::MAX_UTC, TimeDelta::zero()),
        DateTime::<Utc>::MAX_UTC
    );
    let all = cal.working_between(DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
    // About 524 000 years of 37.5-hour weeks.
    assert!(all > TimeDelta::hours(1_000_000_000), "{all}");
    // Negative work counts as none.
    assert_eq!(cal.add_working(start, TimeDelta::hours(-3)), start);
    // A year of holidays is crossed, not looped on.
    let year_off = cal
        .clone()
        .with_holidays(d(2030, 1, 1).iter_days().take(365));
    assert_eq!(
        year_off.add_working(local(&cal, "2029-12-31 16:00"), TimeDelta::hours(2)),
        local(&cal, "2031-01-01 08:30")
    );
}

#[test]
fn parses_settings() {
    let cal = WorkCalendar::parse(
        "mon-fri 07:30-11:30,13:30-17:00; sat 07:30-11:30",
        "2027-02-05, 2027-02-06;2027-02-08\n2027-02-09",
        "+07:00",
    )
    .unwrap();
    assert_eq!(cal.weekly_working_time(), TimeDelta::minutes(41 * 60 + 30));
    assert_eq!(cal.holidays().len(), 4);
    assert!(cal.is_working(local(&cal, "2027-03-06 09:00")));
    assert!(!cal.is_working(local(&cal, "2027-03-06 13:30")));
    assert!(!cal.is_working(local(&cal, "2027-02-06 09:00")));
    assert_eq!(
        cal.add_working(local(&cal, "2027-03-05 16:00"), TimeDelta::hours(2)),
        local(&cal, "2027-03-06 08:30")
    );

    // Same week, other spellings.
    let base = WorkCalendar::parse(DEFAULT_SCHEDULE, "", "+07:00").unwrap();
    for (schedule, offset) in [
        ("T2-T6 07:30-11:30,13:30-17:00", "+0700"),
        ("  Mon - Fri  07:30 - 11:30 , 13:30-17:00 ;", "+07"),
        (
            "monday-wednesday 07:30-11:30,13:30-17:00\nthu,fri 13:30-17:00; thu,fri 07:30-11:30",
            " +07:00 ",
        ),
    ] {
        assert_eq!(
            WorkCalendar::parse(schedule, "", offset).unwrap(),
            base,
            "{schedule}"
        );
    }

    // Intervals may touch and may run to midnight.
    let night =
        WorkCalendar::parse("sun 20:00-24:00; mon 00:00-04:00,04:00-06:00", "", "Z").unwrap();
    assert_eq!(night.utc_offset().local_minus_utc(), 0);
    assert_eq!(
        night.add_working(utc("2027-03-07T23:00:00Z"), TimeDelta::hours(2)),
        utc("2027-03-08T01:00:00Z")
    );
    assert_eq!(
        night.add_working(utc("2027-03-08T03:00:00Z"), TimeDelta::hours(2)),
        utc("2027-03-08T05:00:00Z")
    );
    assert!(night.is_working(utc("2027-03-07T23:59:59Z")));
    assert_eq!(
        night.working_between(utc("2027-03-07T00:00:00Z"), utc("2027-03-09T00:00:00Z")),
        TimeDelta::hours(10)
    );
    assert_eq!(
        WorkCalendar::parse("sat-sun 08:00-09:00", "", "-05:30")
            .unwrap()
            .utc_offset()
            .local_minus_utc(),
        -(5 * 3600 + 30 * 60)
    );
}

#[test]
fn rejects_garbage() {
    use CalendarError as E;
    let schedule = |s: &str| WorkCalendar::parse(s, "", "+07:00").unwrap_err();
    assert_eq!(schedule(""), E::EmptyWeek);
    assert_eq!(schedule(" ; \n ;"), E::EmptyWeek);
    assert_eq!(schedule("funday 08:00-12:00"), E::BadDay("funday".into()));
    assert_eq!(schedule("mon-fry 08:00-12:00"), E::BadDay("fry".into()));
    assert_eq!(
        schedule("fri-mon 08:00-12:00"),
        E::BadDayRange("fri-mon".into())
    );
    assert_eq!(schedule("mon-fri"), E::BadClause("mon-fri".into()));
    assert_eq!(schedule("07:30-11:30"), E::BadClause("07:30-11:30".into()));
    assert_eq!(schedule("mon 8-12"), E::BadClause("mon 8-12".into()));
    assert_eq!(schedule("mon 25:00-26:00"), E::BadTime("25:00".into()));
    assert_eq!(schedule("mon 08:00-12:60"), E::BadTime("12:60".into()));
    assert_eq!(schedule("mon 08:00-24:01"), E::BadTime("24:01".into()));
    assert_eq!(schedule("mon 8:0-12:00"), E::BadTime("8:0".into()));
    assert_eq!(schedule("mon 08:00-12:00,"), E::BadTime("".into()));
    assert_eq!(schedule("mon 08:00"), E::BadTime("08:00".into()));
    assert_eq!(
        schedule("mon 12:00-08:00"),
        E::EmptyInterval("12:00-08:00".into())
    );
    assert_eq!(
        schedule("mon 08:00-08:00"),
        E::EmptyInterval("08:00-08:00".into())
    );
    let overlap = E::Overlap {
        day: Weekday::Mon,
        first: "08:00-12:00".into(),
        second: "11:00-13:00".into(),
    };
    assert_eq!(schedule("mon 08:00-12:00,11:00-13:00"), overlap);
    assert_eq!(
        schedule("mon-fri 08:00-12:00; wed 07:00-08:30"),
        E::Overlap {
            day: Weekday::Wed,
            first: "07:00-08:30".into(),
            second: "08:00-12:00".into()
        }
    );
    assert_eq!(
        schedule("mon-fri 08:00-12:00; mon-fri 08:00-12:00").to_string(),
        "intervals 08:00-12:00 and 08:00-12:00 overlap on Mon"
    );

    let holidays = |s: &str| WorkCalendar::parse(DEFAULT_SCHEDULE, s, "+07:00").unwrap_err();
    assert_eq!(holidays("2027-02-30"), E::BadDate("2027-02-30".into()));
    assert_eq!(
        holidays("2027-02-05,2027/02/06"),
        E::BadDate("2027/02/06".into())
    );
    assert_eq!(holidays("tết"), E::BadDate("tết".into()));

    let offset = |s: &str| WorkCalendar::parse(DEFAULT_SCHEDULE, "", s).unwrap_err();
    for bad in [
        "",
        "07:00",
        "+7",
        "+24:00",
        "+07:60",
        "ICT",
        "+07:0",
        "+0:700",
        "+07-00",
        "+۰۷:۰۰",
    ] {
        assert_eq!(offset(bad), E::BadOffset(bad.into()), "{bad}");
    }

    // Messages quote the offending text.
    assert!(
        schedule("funday 08:00-12:00")
            .to_string()
            .contains("`funday`")
    );
    assert!(holidays("2027-13-01").to_string().contains("`2027-13-01`"));
    assert!(schedule("").to_string().contains(DEFAULT_SCHEDULE));
}
