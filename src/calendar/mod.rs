//! The ward's working-time calendar, against which report deadlines are counted.
//!
//! The legal deadlines for handling a field report (phản ánh hiện trường) run in working time —
//! ngày làm việc, within giờ hành chính — not wall-clock time: a report filed on Friday afternoon
//! with a two-hour deadline is due on Monday morning, and the Tết break stops the clock for a week.
//! [`WorkCalendar`] is a weekly schedule of local-time intervals minus holidays, and answers the
//! three questions the deadline code needs: when does this much working time end
//! ([`WorkCalendar::add_working`]), how much working time lies between two instants
//! ([`WorkCalendar::working_between`]), and is the office open now ([`WorkCalendar::is_working`]).
//!
//! Everything is pure and in UTC at the edges; local time is derived from a fixed UTC offset.
//! Vietnam has been on UTC+07:00 all year, without daylight saving, since 1975, so a
//! [`FixedOffset`] is exact and no time-zone database is needed.
//!
//! Spans of any length cost time in proportion to the days that hold holidays, not to the
//! duration: holiday-free stretches are skipped a whole week at a time.

use std::collections::BTreeSet;

use chrono::{
    DateTime, Datelike, Days, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta,
    Timelike, Utc, Weekday,
};

/// One working interval, `[start, end)` in seconds since local midnight. `end` may be 86 400
/// (24:00), which a [`NaiveTime`] cannot express.
type Span = (u32, u32);

const SECS_PER_DAY: u32 = 86_400;

/// The ward's default weekly schedule (giờ hành chính), in [`WorkCalendar::parse`] syntax.
pub const DEFAULT_SCHEDULE: &str = "mon-fri 07:30-11:30,13:30-17:00";

/// Vietnam's UTC offset, in [`WorkCalendar::parse`] syntax.
pub const DEFAULT_UTC_OFFSET: &str = "+07:00";

/// Vietnam's UTC offset; checked at compile time.
const VN_OFFSET: FixedOffset = match FixedOffset::east_opt(7 * 3600) {
    Some(offset) => offset,
    None => panic!("invalid UTC offset"),
};

/// The default schedule's working day, Monday to Friday: 07:30–11:30 and 13:30–17:00.
const DEFAULT_DAY: [Span; 2] = [
    (7 * 3600 + 30 * 60, 11 * 3600 + 30 * 60),
    (13 * 3600 + 30 * 60, 17 * 3600),
];

/// Builds a table date; an invalid date fails the build, since this only runs in `const` context.
const fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(year, month, day) {
        Some(date) => date,
        None => panic!("invalid date in the holiday table"),
    }
}

/// Vietnam's public holidays (ngày nghỉ lễ, tết) for 2025–2028, each with what it is.
///
/// Source rule: Labour Code 2019 (Bộ luật Lao động số 45/2019/QH14), Art. 112 — Tết Dương lịch
/// (1/1); Tết Âm lịch, 5 days; Giỗ Tổ Hùng Vương (10/3 âm lịch); Ngày Chiến thắng (30/4); Quốc tế
/// Lao động (1/5); Quốc khánh (2/9 plus one adjacent day, chosen each year by the government) —
/// and Art. 111(3): a holiday that falls on the weekly rest day (Saturday or Sunday in state
/// offices) is taken on the next working day (nghỉ bù).
///
/// * Where the government's schedule for civil servants (công chức) is known it is used as
///   published: 2025 Tết 25/1–2/2 with Monday 27/1 swapped for Saturday 15/2; 2025 30/4–4/5 with
///   Friday 2/5 swapped for Saturday 26/4; 2025 Quốc khánh 30/8–2/9 (adjacent day 1/9); 2026 Tết
///   14/2–22/2; 2026 Giỗ Tổ on Sunday 26/4, nghỉ bù Monday 27/4.
/// * Otherwise Tết is lunar New Year's Eve plus mùng 1–4, and the Quốc khánh adjacent day is the
///   one that joins a weekend where there is one (2027: Friday 3/9; 2028: Friday 1/9), else the
///   day before (2026: 1/9). Lunar dates come from the new moons at UTC+07:00: mùng 1 Tết is
///   29/1/2025, 17/2/2026, 6/2/2027, 26/1/2028; Giỗ Tổ is 7/4/2025, 26/4/2026, 16/4/2027,
///   4/4/2028. These years are estimates until the government publishes its schedule.
///
/// Statutory days that fall on a weekend are listed too (harmless for a Monday–Friday week, and
/// needed by a ward that also works Saturdays); the nghỉ bù days assume a Monday–Friday week.
/// Swapped-in working Saturdays (ngày làm bù, 15/2/2025 and 26/4/2025) are not modelled: the
/// calendar only removes time. Corrections belong in settings (the holiday list given to
/// [`WorkCalendar::parse`], starting from [`default_holidays_setting`]), not in this table.
pub const VN_PUBLIC_HOLIDAYS: &[(NaiveDate, &str)] = &[
    // 2025 — as published.
    (ymd(2025, 1, 1), "Tết Dương lịch"),
    (ymd(2025, 1, 27), "Tết Ất Tỵ (swapped for Saturday 15/2)"),
    (
        ymd(2025, 1, 28),
        "Tết Ất Tỵ, 29 tháng Chạp (New Year's Eve)",
    ),
    (ymd(2025, 1, 29), "Tết Ất Tỵ, mùng 1"),
    (ymd(2025, 1, 30), "Tết Ất Tỵ, mùng 2"),
    (ymd(2025, 1, 31), "Tết Ất Tỵ, mùng 3"),
    (ymd(2025, 2, 1), "Tết Ất Tỵ, mùng 4 (Saturday)"),
    (ymd(2025, 4, 7), "Giỗ Tổ Hùng Vương"),
    (ymd(2025, 4, 30), "Ngày Chiến thắng"),
    (ymd(2025, 5, 1), "Quốc tế Lao động"),
    (
        ymd(2025, 5, 2),
        "30/4–1/5 break (swapped for Saturday 26/4)",
    ),
    (ymd(2025, 9, 1), "Quốc khánh, adjacent day"),
    (ymd(2025, 9, 2), "Quốc khánh"),
    // 2026 — Tết and Giỗ Tổ as published, the rest by rule.
    (ymd(2026, 1, 1), "Tết Dương lịch"),
    (
        ymd(2026, 2, 16),
        "Tết Bính Ngọ, 29 tháng Chạp (New Year's Eve)",
    ),
    (ymd(2026, 2, 17), "Tết Bính Ngọ, mùng 1"),
    (ymd(2026, 2, 18), "Tết Bính Ngọ, mùng 2"),
    (ymd(2026, 2, 19), "Tết Bính Ngọ, mùng 3"),
    (ymd(2026, 2, 20), "Tết Bính Ngọ, mùng 4"),
    (ymd(2026, 4, 26), "Giỗ Tổ Hùng Vương (Sunday)"),
    (ymd(2026, 4, 27), "nghỉ bù for Giỗ Tổ Hùng Vương"),
    (ymd(2026, 4, 30), "Ngày Chiến thắng"),
    (ymd(2026, 5, 1), "Quốc tế Lao động"),
    (ymd(2026, 9, 1), "Quốc khánh, adjacent day (estimate)"),
    (ymd(2026, 9, 2), "Quốc khánh"),
    // 2027 — by rule.
    (ymd(2027, 1, 1), "Tết Dương lịch"),
    (
        ymd(2027, 2, 5),
        "Tết Đinh Mùi, 29 tháng Chạp (New Year's Eve)",
    ),
    (ymd(2027, 2, 6), "Tết Đinh Mùi, mùng 1 (Saturday)"),
    (ymd(2027, 2, 7), "Tết Đinh Mùi, mùng 2 (Sunday)"),
    (ymd(2027, 2, 8), "Tết Đinh Mùi, mùng 3"),
    (ymd(2027, 2, 9), "Tết Đinh Mùi, mùng 4"),
    (ymd(2027, 2, 10), "nghỉ bù for Tết mùng 1"),
    (ymd(2027, 2, 11), "nghỉ bù for Tết mùng 2"),
    (ymd(2027, 4, 16), "Giỗ Tổ Hùng Vương"),
    (ymd(2027, 4, 30), "Ngày Chiến thắng"),
    (ymd(2027, 5, 1), "Quốc tế Lao động (Saturday)"),
    (ymd(2027, 5, 3), "nghỉ bù for Quốc tế Lao động"),
    (ymd(2027, 9, 2), "Quốc khánh"),
    (ymd(2027, 9, 3), "Quốc khánh, adjacent day (estimate)"),
    // 2028 — by rule.
    (ymd(2028, 1, 1), "Tết Dương lịch (Saturday)"),
    (ymd(2028, 1, 3), "nghỉ bù for Tết Dương lịch"),
    (
        ymd(2028, 1, 25),
        "Tết Mậu Thân, 29 tháng Chạp (New Year's Eve)",
    ),
    (ymd(2028, 1, 26), "Tết Mậu Thân, mùng 1"),
    (ymd(2028, 1, 27), "Tết Mậu Thân, mùng 2"),
    (ymd(2028, 1, 28), "Tết Mậu Thân, mùng 3"),
    (ymd(2028, 1, 29), "Tết Mậu Thân, mùng 4 (Saturday)"),
    (ymd(2028, 1, 31), "nghỉ bù for Tết mùng 4"),
    (ymd(2028, 4, 4), "Giỗ Tổ Hùng Vương"),
    (ymd(2028, 4, 30), "Ngày Chiến thắng (Sunday)"),
    (ymd(2028, 5, 1), "Quốc tế Lao động"),
    (ymd(2028, 5, 2), "nghỉ bù for Ngày Chiến thắng"),
    (ymd(2028, 9, 1), "Quốc khánh, adjacent day (estimate)"),
    (ymd(2028, 9, 2), "Quốc khánh (Saturday)"),
    (ymd(2028, 9, 4), "nghỉ bù for Quốc khánh"),
];

/// [`VN_PUBLIC_HOLIDAYS`] in the holiday-list syntax of [`WorkCalendar::parse`], so that settings
/// can start from the built-in table and correct it.
pub fn default_holidays_setting() -> String {
    VN_PUBLIC_HOLIDAYS
        .iter()
        .map(|(date, _)| date.format("%Y-%m-%d").to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Why a calendar setting was rejected. Messages quote the offending text so an operator can find
/// it in the settings file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// The schedule has no working time at all; deadlines could never fall due.
    #[error(
        "the schedule has no working time; give at least one interval, e.g. `{DEFAULT_SCHEDULE}`"
    )]
    EmptyWeek,
    /// A `;`-separated clause is not `<days> <intervals>`.
    #[error("schedule clause `{0}` is not `<days> <HH:MM-HH:MM>[,<HH:MM-HH:MM>…]`")]
    BadClause(String),
    /// A day name is not recognised.
    #[error("unknown day `{0}` (use mon, tue, wed, thu, fri, sat, sun, or t2–t7, cn)")]
    BadDay(String),
    /// A day range runs backwards (ranges do not wrap around the week).
    #[error("day range `{0}` runs backwards; ranges go Monday to Sunday, e.g. `mon-fri`")]
    BadDayRange(String),
    /// A time of day is not `HH:MM` between 00:00 and 24:00.
    #[error("bad time `{0}` (expected HH:MM from 00:00 to 24:00)")]
    BadTime(String),
    /// An interval ends at or before its start.
    #[error("interval `{0}` ends at or before its start")]
    EmptyInterval(String),
    /// Two intervals on the same day overlap (touching, like 11:30 and 11:30, is fine).
    #[error("intervals {first} and {second} overlap on {day}")]
    Overlap {
        /// The day both intervals apply to.
        day: Weekday,
        /// The earlier interval, `HH:MM-HH:MM`.
        first: String,
        /// The later interval, `HH:MM-HH:MM`.
        second: String,
    },
    /// A holiday is not a `YYYY-MM-DD` date.
    #[error("bad holiday date `{0}` (expected YYYY-MM-DD)")]
    BadDate(String),
    /// The UTC offset is not `±HH:MM`.
    #[error("bad UTC offset `{0}` (expected ±HH:MM, e.g. +07:00)")]
    BadOffset(String),
}

/// The ward's working time: a weekly schedule of intervals in local time, minus holidays.
///
/// Constructed only by [`WorkCalendar::ward_default`] and [`WorkCalendar::parse`], which both
/// guarantee at least one working interval per week, so every computation terminates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkCalendar {
    offset: FixedOffset,
    /// Indexed by [`Weekday::num_days_from_monday`]; sorted, non-overlapping.
    week: [Vec<Span>; 7],
    holidays: BTreeSet<NaiveDate>,
    /// Working time in a holiday-free week; always positive.
    weekly: TimeDelta,
}

impl WorkCalendar {
    /// Monday–Friday 07:30–11:30 and 13:30–17:00 at UTC+07:00, with Vietnam's public holidays for
    /// 2025–2028 from [`VN_PUBLIC_HOLIDAYS`].
    pub fn ward_default() -> WorkCalendar {
        let mut week: [Vec<Span>; 7] = Default::default();
        for day in &mut week[..5] {
            day.extend_from_slice(&DEFAULT_DAY);
        }
        let holidays = VN_PUBLIC_HOLIDAYS.iter().map(|(date, _)| *date).collect();
        Self::from_parts(VN_OFFSET, week, holidays)
    }

    /// Builds a calendar from settings.
    ///
    /// * `schedule`: `;`-separated clauses of days then comma-separated intervals, e.g.
    ///   `"mon-fri 07:30-11:30,13:30-17:00; sat 07:30-11:30"`. Days are `mon`…`sun` (or full
    ///   English names, or Vietnamese `t2`…`t7`, `cn`), single or as a Monday-first range, several
    ///   joined by commas (`mon,wed,fri`). Times are `HH:MM`; an interval may end at `24:00`.
    ///   A day named in several clauses gets all their intervals.
    /// * `holidays`: dates `YYYY-MM-DD` separated by commas, semicolons or whitespace; may be empty.
    /// * `utc_offset`: `±HH:MM` (also `±HHMM`, `±HH`, `Z`).
    ///
    /// Rejects unknown days, backwards ranges, malformed times, intervals that end at or before
    /// they start, overlapping intervals, bad dates and a week with no working time at all.
    pub fn parse(
        schedule: &str,
        holidays: &str,
        utc_offset: &str,
    ) -> Result<WorkCalendar, CalendarError> {
        let offset = parse_offset(utc_offset)?;
        let week = parse_schedule(schedule)?;
        let holidays = parse_holidays(holidays)?;
        Ok(Self::from_parts(offset, week, holidays))
    }

    /// The same schedule with `holidays` replacing the holiday list.
    pub fn with_holidays(self, holidays: impl IntoIterator<Item = NaiveDate>) -> WorkCalendar {
        Self::from_parts(self.offset, self.week, holidays.into_iter().collect())
    }

    /// The holidays (days without working time regardless of the schedule).
    pub fn holidays(&self) -> &BTreeSet<NaiveDate> {
        &self.holidays
    }

    /// The offset that turns UTC into the ward's local time.
    pub fn utc_offset(&self) -> FixedOffset {
        self.offset
    }

    /// Working time in a week without holidays (37 h 30 min for the default schedule).
    pub fn weekly_working_time(&self) -> TimeDelta {
        self.weekly
    }

    /// The instant that is `work` of working time after `start`.
    ///
    /// If `start` is outside working time, counting begins at the next working moment. A zero (or
    /// negative) `work` gives the next working moment at or after `start`. When the count ends
    /// exactly at the close of an interval the result is that close (11:30, not 13:30): a deadline
    /// is met by anything done before it. Results beyond chrono's range saturate to
    /// [`DateTime::<Utc>::MAX_UTC`].
    pub fn add_working(&self, start: DateTime<Utc>, work: TimeDelta) -> DateTime<Utc> {
        self.add_working_local(start, work)
            .and_then(|local| self.to_utc(local))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// Working time elapsed between two instants; zero if `b <= a`.
    pub fn working_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> TimeDelta {
        if b <= a {
            return TimeDelta::zero();
        }
        let (a, b) = (self.to_local_saturating(a), self.to_local_saturating(b));
        let (first, last) = (a.date(), b.date());
        let mut total = TimeDelta::zero();
        let mut day = first;
        while day <= last {
            // Days strictly between `a` and `b` count whole; skip holiday-free weeks of them.
            if day > first {
                let weeks = (last.signed_duration_since(day).num_days() / 7)
                    .max(0)
                    .unsigned_abs()
                    .min(self.holiday_free_weeks(day));
                if weeks > 0 {
                    let (Some(next), Some(time)) = (
                        day.checked_add_days(Days::new(weeks * 7)),
                        i32::try_from(weeks)
                            .ok()
                            .and_then(|w| self.weekly.checked_mul(w)),
                    ) else {
                        return total;
                    };
                    total += time;
                    day = next;
                    continue;
                }
            }
            for &(s, e) in self.spans_on(day) {
                let (Some(s), Some(e)) = (at(day, s), at(day, e)) else {
                    return total;
                };
                let (from, to) = (s.max(a), e.min(b));
                if to > from {
                    total += to - from;
                }
            }
            match day.succ_opt() {
                Some(next) => day = next,
                None => break,
            }
        }
        total
    }

    /// Whether `t` falls inside working time (intervals are closed at the start, open at the end).
    pub fn is_working(&self, t: DateTime<Utc>) -> bool {
        let Some(local) = self.to_local(t) else {
            return false;
        };
        let secs = local.time().num_seconds_from_midnight();
        self.spans_on(local.date())
            .iter()
            .any(|&(s, e)| s <= secs && secs < e)
    }

    fn from_parts(
        offset: FixedOffset,
        week: [Vec<Span>; 7],
        holidays: BTreeSet<NaiveDate>,
    ) -> WorkCalendar {
        let weekly_secs: u32 = week.iter().flatten().map(|&(s, e)| e - s).sum();
        WorkCalendar {
            offset,
            week,
            holidays,
            weekly: TimeDelta::seconds(i64::from(weekly_secs)),
        }
    }

    fn add_working_local(&self, start: DateTime<Utc>, work: TimeDelta) -> Option<NaiveDateTime> {
        // Constructors guarantee this; without it the loop below would never end.
        if self.weekly <= TimeDelta::zero() {
            return None;
        }
        let mut remaining = work.max(TimeDelta::zero());
        let mut cur = self.to_local(start)?;
        let mut day = cur.date();
        loop {
            // Once at a day's start, jump over whole holiday-free weeks while more than a week of
            // work remains. At least a little work is always left over, so the result still lands
            // inside an interval rather than on the far side of a weekend.
            if cur <= day.and_time(NaiveTime::MIN) {
                let fit = self.weeks_strictly_within(remaining);
                let weeks = if fit > 0 {
                    fit.min(self.holiday_free_weeks(day))
                } else {
                    0
                };
                if weeks > 0 {
                    day = day.checked_add_days(Days::new(weeks * 7))?;
                    remaining -= self.weekly.checked_mul(i32::try_from(weeks).ok()?)?;
                    cur = day.and_time(NaiveTime::MIN);
                }
            }
            for &(s, e) in self.spans_on(day) {
                let end = at(day, e)?;
                if end <= cur {
                    continue;
                }
                let from = at(day, s)?.max(cur);
                let available = end - from;
                if remaining <= available {
                    return from.checked_add_signed(remaining);
                }
                remaining -= available;
                cur = end;
            }
            day = day.succ_opt()?;
        }
    }

    /// The largest `n` with `n` weeks of working time strictly less than `remaining`.
    fn weeks_strictly_within(&self, remaining: TimeDelta) -> u64 {
        let rem = remaining.num_seconds();
        let week = self.weekly.num_seconds();
        if rem <= 0 || week <= 0 {
            return 0;
        }
        // Whole seconds only, so this may undercount by one week; the day loop absorbs that.
        ((rem - 1) / week).unsigned_abs()
    }

    /// How many whole weeks starting at `day` contain no holiday.
    fn holiday_free_weeks(&self, day: NaiveDate) -> u64 {
        match self.holidays.range(day..).next() {
            Some(holiday) => (holiday.signed_duration_since(day).num_days() / 7).unsigned_abs(),
            None => u64::MAX,
        }
    }

    /// The working intervals of a local date: none on holidays.
    fn spans_on(&self, day: NaiveDate) -> &[Span] {
        if self.holidays.contains(&day) {
            &[]
        } else {
            &self.week[day.weekday().num_days_from_monday() as usize]
        }
    }

    fn offset_delta(&self) -> TimeDelta {
        TimeDelta::seconds(i64::from(self.offset.local_minus_utc()))
    }

    fn to_local(&self, t: DateTime<Utc>) -> Option<NaiveDateTime> {
        t.naive_utc().checked_add_signed(self.offset_delta())
    }

    /// Local time, clamped to chrono's range at its extremes (where no ward works anyway).
    fn to_local_saturating(&self, t: DateTime<Utc>) -> NaiveDateTime {
        self.to_local(t)
            .unwrap_or(if self.offset.local_minus_utc() > 0 {
                NaiveDateTime::MAX
            } else {
                NaiveDateTime::MIN
            })
    }

    fn to_utc(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        local
            .checked_sub_signed(self.offset_delta())
            .map(|utc| utc.and_utc())
    }
}

/// Local midnight of `day` plus `secs` (up to 24:00, which is the next midnight).
fn at(day: NaiveDate, secs: u32) -> Option<NaiveDateTime> {
    day.and_time(NaiveTime::MIN)
        .checked_add_signed(TimeDelta::seconds(i64::from(secs)))
}

fn fmt_hm(secs: u32) -> String {
    format!("{:02}:{:02}", secs / 3600, secs % 3600 / 60)
}

fn fmt_span((s, e): Span) -> String {
    format!("{}-{}", fmt_hm(s), fmt_hm(e))
}

fn parse_schedule(schedule: &str) -> Result<[Vec<Span>; 7], CalendarError> {
    let mut week: [Vec<Span>; 7] = Default::default();
    for clause in schedule.split([';', '\n']) {
        let clause = clause.trim();
        if clause.is_empty() {
            continue;
        }
        // Days are the words before the first one holding a time, so spaces may go anywhere:
        // `mon - fri 07:30 - 11:30, 13:30-17:00`.
        let words: Vec<&str> = clause.split_whitespace().collect();
        let split = words
            .iter()
            .position(|w| w.contains(':'))
            .ok_or_else(|| CalendarError::BadClause(clause.to_owned()))?;
        let (days, times) = (words[..split].concat(), words[split..].concat());
        if days.is_empty() {
            return Err(CalendarError::BadClause(clause.to_owned()));
        }
        let days = parse_days(&days)?;
        let spans = times
            .split(',')
            .map(parse_span)
            .collect::<Result<Vec<_>, _>>()?;
        for (index, on) in days.iter().enumerate() {
            if *on {
                week[index].extend_from_slice(&spans);
            }
        }
    }
    for (index, spans) in week.iter_mut().enumerate() {
        spans.sort_unstable();
        if let Some(pair) = spans.windows(2).find(|pair| pair[1].0 < pair[0].1) {
            return Err(CalendarError::Overlap {
                day: weekday(index),
                first: fmt_span(pair[0]),
                second: fmt_span(pair[1]),
            });
        }
    }
    if week.iter().all(Vec::is_empty) {
        return Err(CalendarError::EmptyWeek);
    }
    Ok(week)
}

/// Parses `mon-fri,sat` into flags indexed from Monday.
fn parse_days(text: &str) -> Result<[bool; 7], CalendarError> {
    let mut days = [false; 7];
    for part in text.split(',') {
        let (from, to) = match part.split_once('-') {
            Some((a, b)) => (day_index(a)?, day_index(b)?),
            None => {
                let d = day_index(part)?;
                (d, d)
            }
        };
        if to < from {
            return Err(CalendarError::BadDayRange(part.to_owned()));
        }
        days[from..=to].iter_mut().for_each(|d| *d = true);
    }
    Ok(days)
}

fn day_index(name: &str) -> Result<usize, CalendarError> {
    let index = match name.trim().to_ascii_lowercase().as_str() {
        "mon" | "monday" | "t2" => 0,
        "tue" | "tuesday" | "t3" => 1,
        "wed" | "wednesday" | "t4" => 2,
        "thu" | "thursday" | "t5" => 3,
        "fri" | "friday" | "t6" => 4,
        "sat" | "saturday" | "t7" => 5,
        "sun" | "sunday" | "cn" => 6,
        _ => return Err(CalendarError::BadDay(name.to_owned())),
    };
    Ok(index)
}

fn weekday(index: usize) -> Weekday {
    [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ][index % 7]
}

fn parse_span(text: &str) -> Result<Span, CalendarError> {
    let (start, end) = text
        .split_once('-')
        .ok_or_else(|| CalendarError::BadTime(text.to_owned()))?;
    let span = (parse_time(start)?, parse_time(end)?);
    if span.1 <= span.0 {
        return Err(CalendarError::EmptyInterval(text.to_owned()));
    }
    Ok(span)
}

/// `HH:MM` as seconds since midnight; `24:00` is allowed as an interval's end.
fn parse_time(text: &str) -> Result<u32, CalendarError> {
    let bad = || CalendarError::BadTime(text.to_owned());
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    let digits = |s: &str, max_len: usize| {
        !s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(h, 2) || !digits(m, 2) || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    let secs = h * 3600 + m * 60;
    if m > 59 || secs > SECS_PER_DAY {
        return Err(bad());
    }
    Ok(secs)
}

fn parse_holidays(text: &str) -> Result<BTreeSet<NaiveDate>, CalendarError> {
    text.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(|s| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| CalendarError::BadDate(s.to_owned()))
        })
        .collect()
}

fn parse_offset(text: &str) -> Result<FixedOffset, CalendarError> {
    let bad = || CalendarError::BadOffset(text.to_owned());
    let trimmed = text.trim();
    if trimmed.eq_ignore_ascii_case("z") {
        return Ok(Utc.fix());
    }
    if !trimmed.is_ascii() {
        return Err(bad());
    }
    let (sign, rest) = match trimmed.split_at_checked(1) {
        Some(("+", rest)) => (1, rest),
        Some(("-", rest)) => (-1, rest),
        _ => return Err(bad()),
    };
    let (h, m) = match (rest.len(), rest.as_bytes().get(2)) {
        (2, _) => (rest, "00"),
        (4, _) => rest.split_at(2),
        (5, Some(b':')) => (&rest[..2], &rest[3..]),
        _ => return Err(bad()),
    };
    if !(h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit())) {
        return Err(bad());
    }
    let (hours, minutes): (i32, i32) =
        (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if hours > 23 || minutes > 59 {
        return Err(bad());
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60)).ok_or_else(bad)
}

#[cfg(test)]
mod tests;
