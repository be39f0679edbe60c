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
mod tests {
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
}
