//! Civil dates and the clock for accountable policy (SPEC §11): `until=`
//! on a suppression, `enforce_after:` on a persona, and "today".
//!
//! API:
//! - [`Date::parse`] (also `FromStr`): strict `YYYY-MM-DD`, four-digit year
//!   0001–9999, two-digit month and day, a day that exists in that month.
//!   Anything else is a [`DateError`] that says what is wrong with it.
//! - `Date` is `Ord` (earlier < later) and displays as `YYYY-MM-DD`.
//! - [`Date::days_until`]: signed whole days from one date to another.
//! - [`today`]: the `VALVE_TODAY` override when given, else the UTC date of
//!   the system clock. The caller reads the environment once and passes the
//!   value in, so the function is pure enough to test.
//!
//! The arithmetic is our own over the proleptic Gregorian calendar (the
//! Gregorian leap rule applied to every year); it counts days from
//! 0001-01-01 with 400-year cycles of 146,097 days. No time zones: valve's
//! dates are UTC dates (SPEC §11 "The clock").
//!
//! Decision: an empty `VALVE_TODAY` counts as unset, as an empty `CI` does
//! (SPEC §4), so `VALVE_TODAY= valve check` uses the real clock.
//!
//! This module does no I/O beyond reading the system clock in `today`, and
//! it does not read the environment itself.

use std::ffi::OsStr;
use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::Error;

/// The environment variable that pins today's date (SPEC §11).
pub const VALVE_TODAY: &str = "VALVE_TODAY";

/// Days in 400 Gregorian years: 303 common years and 97 leap years.
const DAYS_PER_400_YEARS: i64 = 146_097;
/// Days from 0001-01-01 to 1970-01-01.
const EPOCH_OFFSET: i64 = 719_162;
const SECONDS_PER_DAY: u64 = 86_400;

/// A calendar date without a time or zone. Field order makes the derived
/// ordering chronological.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl serde::Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Why a text is not a date. Displays as one sentence naming the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateError {
    /// The rejected text, cut to a few dozen characters.
    pub input: String,
    pub problem: DateProblem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateProblem {
    /// Not four digits, dash, two digits, dash, two digits.
    Shape,
    /// Year 0000: the calendar starts at 0001.
    YearZero,
    /// Month outside 01–12.
    Month(u8),
    /// Day 00, or past the month's last day (`max`).
    Day {
        year: u16,
        month: u8,
        day: u8,
        max: u8,
    },
}

const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Most characters of a rejected text an error repeats.
const MAX_INPUT_SHOWN: usize = 40;

impl fmt::Display for DateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not a date: ", self.input)?;
        match self.problem {
            DateProblem::Shape => write!(f, "write it as YYYY-MM-DD, e.g. 2027-03-31"),
            DateProblem::YearZero => write!(f, "there is no year 0000; years start at 0001"),
            DateProblem::Month(m) => write!(f, "there is no month {m:02}; months are 01 to 12"),
            DateProblem::Day {
                year,
                month,
                day,
                max,
            } => {
                let name = MONTH_NAMES[usize::from(month - 1)];
                if day == 0 {
                    write!(f, "days start at 01")
                } else {
                    write!(f, "{name} {year:04} has {max} days")
                }
            }
        }
    }
}

impl std::error::Error for DateError {}

/// Whether `year` has a 29 February.
pub fn is_leap_year(year: u16) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// The number of days in `month` (1–12) of `year`.
pub fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days in the months before `month` (1–12) of a common year.
fn days_before_month(month: u8) -> u16 {
    const BEFORE: [u16; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    BEFORE[usize::from(month.clamp(1, 12) - 1)]
}

impl Date {
    /// The earliest date: 0001-01-01.
    pub const MIN: Date = Date {
        year: 1,
        month: 1,
        day: 1,
    };
    /// The latest date: 9999-12-31.
    pub const MAX: Date = Date {
        year: 9999,
        month: 12,
        day: 31,
    };

    /// A date from its parts, if they name a day that exists.
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        let valid = (1..=9999).contains(&year)
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month);
        valid.then_some(Date { year, month, day })
    }

    /// Parses exactly `YYYY-MM-DD`: no sign, no spaces, no single digits.
    pub fn parse(text: &str) -> Result<Date, DateError> {
        let fail = |problem| DateError {
            input: text.chars().take(MAX_INPUT_SHOWN).collect(),
            problem,
        };
        let b = text.as_bytes();
        let shaped = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && [0, 1, 2, 3, 5, 6, 8, 9]
                .iter()
                .all(|&i| b[i].is_ascii_digit());
        if !shaped {
            return Err(fail(DateProblem::Shape));
        }
        let digits = |range: std::ops::Range<usize>| {
            b[range]
                .iter()
                .fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'))
        };
        let year = digits(0..4);
        // Two digits are at most 99: the casts cannot truncate.
        let month = digits(5..7) as u8;
        let day = digits(8..10) as u8;
        if year == 0 {
            return Err(fail(DateProblem::YearZero));
        }
        if !(1..=12).contains(&month) {
            return Err(fail(DateProblem::Month(month)));
        }
        let max = days_in_month(year, month);
        if day == 0 || day > max {
            return Err(fail(DateProblem::Day {
                year,
                month,
                day,
                max,
            }));
        }
        Ok(Date { year, month, day })
    }

    pub fn year(self) -> u16 {
        self.year
    }

    pub fn month(self) -> u8 {
        self.month
    }

    pub fn day(self) -> u8 {
        self.day
    }

    /// Days since 1970-01-01 (negative before it).
    pub fn days_since_epoch(self) -> i64 {
        let y = i64::from(self.year) - 1;
        let before_year = 365 * y + y / 4 - y / 100 + y / 400;
        let leap_day = i64::from(self.month > 2 && is_leap_year(self.year));
        let before_month = i64::from(days_before_month(self.month)) + leap_day;
        before_year + before_month + i64::from(self.day) - 1 - EPOCH_OFFSET
    }

    /// The date `days` days after 1970-01-01, if it is in 0001–9999.
    pub fn from_days_since_epoch(days: i64) -> Option<Date> {
        let n = days.checked_add(EPOCH_OFFSET)?;
        if n < 0 {
            return None;
        }
        // Peel off whole 400-, 100-, 4- and 1-year blocks from 0001-01-01.
        // The last century of a cycle and the last year of a 4-year block
        // are one day longer, hence the `min(3)`s.
        let cycles = n / DAYS_PER_400_YEARS;
        let mut rest = n % DAYS_PER_400_YEARS;
        let centuries = (rest / 36_524).min(3);
        rest -= centuries * 36_524;
        let quads = rest / 1_461;
        rest -= quads * 1_461;
        let years = (rest / 365).min(3);
        rest -= years * 365;
        let year = 1 + 400 * cycles + 100 * centuries + 4 * quads + years;
        let year = u16::try_from(year).ok().filter(|y| *y <= 9999)?;
        // `rest` is now the 0-based day of the year.
        let mut month = 12;
        while month > 1 {
            let leap = u16::from(month > 2 && is_leap_year(year));
            if i64::from(days_before_month(month) + leap) <= rest {
                break;
            }
            month -= 1;
        }
        let leap = u16::from(month > 2 && is_leap_year(year));
        let day = rest - i64::from(days_before_month(month) + leap) + 1;
        Date::new(year, month, u8::try_from(day).ok()?)
    }

    /// Whole days from `self` to `later`: positive when `later` is after.
    pub fn days_until(self, later: Date) -> i64 {
        later.days_since_epoch() - self.days_since_epoch()
    }

    /// The UTC date of a moment.
    pub fn from_system_time(time: SystemTime) -> Option<Date> {
        let days = match time.duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_secs() / SECONDS_PER_DAY).ok()?,
            Err(before) => {
                // A moment before 1970 lies in the day that contains it.
                let secs = before.duration().as_secs();
                let whole = i64::try_from(secs.div_ceil(SECONDS_PER_DAY)).ok()?;
                -whole
            }
        };
        Date::from_days_since_epoch(days)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl FromStr for Date {
    type Err = DateError;

    fn from_str(text: &str) -> Result<Date, DateError> {
        Date::parse(text)
    }
}

/// Today's date: `valve_today` (the value of `VALVE_TODAY`, read once by
/// the caller) when set and non-empty, else the system clock's UTC date.
/// An invalid value is an error (exit 2) that says how to fix it.
pub fn today(valve_today: Option<&OsStr>) -> Result<Date, Error> {
    match valve_today.filter(|v| !v.is_empty()) {
        Some(value) => parse_override(value),
        None => Date::from_system_time(SystemTime::now()).ok_or_else(|| {
            Error::usage(
                "the system clock is outside the years 0001 to 9999",
                format!("set the clock, or set {VALVE_TODAY}=YYYY-MM-DD"),
            )
        }),
    }
}

fn parse_override(value: &OsStr) -> Result<Date, Error> {
    let help = format!(
        "set {VALVE_TODAY} to a date as YYYY-MM-DD (e.g. {VALVE_TODAY}=2027-03-31), \
         or unset it to use today's UTC date"
    );
    let Some(text) = value.to_str() else {
        return Err(Error::usage(
            format!("{VALVE_TODAY} is not valid UTF-8"),
            help,
        ));
    };
    Date::parse(text).map_err(|e| Error::usage(format!("{VALVE_TODAY}: {e}"), help))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn d(text: &str) -> Date {
        match Date::parse(text) {
            Ok(date) => date,
            Err(e) => panic!("{text}: {e}"),
        }
    }

    fn problem(text: &str) -> DateProblem {
        match Date::parse(text) {
            Ok(date) => panic!("{text} parsed as {date}"),
            Err(e) => e.problem,
        }
    }

    #[test]
    fn parses_and_displays_the_same_text() {
        for text in ["2027-03-31", "0001-01-01", "9999-12-31", "2000-02-29"] {
            assert_eq!(d(text).to_string(), text);
        }
        assert_eq!(
            (
                d("2027-03-31").year(),
                d("2027-03-31").month(),
                d("2027-03-31").day()
            ),
            (2027, 3, 31)
        );
        assert_eq!("2024-02-29".parse::<Date>(), Ok(d("2024-02-29")));
    }

    #[test]
    fn rejects_every_other_shape() {
        for text in [
            "27-1-1",
            "2027-1-01",
            "2027-01-1",
            "2027/01/01",
            " 2027-01-01",
            "2027-01-01 ",
            "+2027-01-01",
            "20270101",
            "2027-01-01T00:00:00Z",
            "",
            "२०२७-०१-०१",
            "2027-0a-01",
        ] {
            assert_eq!(problem(text), DateProblem::Shape, "{text:?}");
        }
    }

    #[test]
    fn rejects_days_that_do_not_exist() {
        assert_eq!(
            problem("2027-02-30"),
            DateProblem::Day {
                year: 2027,
                month: 2,
                day: 30,
                max: 28
            }
        );
        assert_eq!(problem("2027-13-01"), DateProblem::Month(13));
        assert_eq!(problem("2027-00-10"), DateProblem::Month(0));
        assert!(matches!(
            problem("2027-04-31"),
            DateProblem::Day { max: 30, .. }
        ));
        assert!(matches!(
            problem("2027-01-00"),
            DateProblem::Day { day: 0, .. }
        ));
        assert!(matches!(
            problem("2027-01-32"),
            DateProblem::Day { max: 31, .. }
        ));
        assert_eq!(problem("0000-01-01"), DateProblem::YearZero);
    }

    #[test]
    fn errors_name_the_text_and_the_fix() {
        let msg = |t: &str| {
            Date::parse(t)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            msg("2027-02-30"),
            "`2027-02-30` is not a date: February 2027 has 28 days"
        );
        assert_eq!(
            msg("27-1-1"),
            "`27-1-1` is not a date: write it as YYYY-MM-DD, e.g. 2027-03-31"
        );
        assert_eq!(
            msg("2027-13-01"),
            "`2027-13-01` is not a date: there is no month 13; months are 01 to 12"
        );
        assert_eq!(
            msg("2027-05-00"),
            "`2027-05-00` is not a date: days start at 01"
        );
        let long = "9".repeat(1000);
        assert!(msg(&long).len() < 120);
    }

    #[test]
    fn leap_years_follow_the_gregorian_rule() {
        assert!(is_leap_year(2000), "divisible by 400");
        assert!(!is_leap_year(2100), "century not divisible by 400");
        assert!(!is_leap_year(1900));
        assert!(is_leap_year(2024));
        assert!(!is_leap_year(2027));
        assert!(Date::parse("2000-02-29").is_ok());
        assert!(Date::parse("2100-02-29").is_err());
        assert!(Date::parse("1900-02-29").is_err());
        assert!(Date::parse("2024-02-29").is_ok());
    }

    #[test]
    fn month_ends_are_the_last_valid_day() {
        let ends = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        for (i, &end) in ends.iter().enumerate() {
            let month = i as u8 + 1;
            assert_eq!(days_in_month(2027, month), end);
            assert!(Date::new(2027, month, end).is_some());
            assert!(Date::new(2027, month, end + 1).is_none());
            let last = Date::new(2027, month, end).map(|d| d.days_since_epoch());
            let next = if month == 12 {
                Date::new(2028, 1, 1)
            } else {
                Date::new(2027, month + 1, 1)
            };
            assert_eq!(next.map(|d| d.days_since_epoch()), last.map(|n| n + 1));
        }
        assert_eq!(days_in_month(2028, 2), 29);
    }

    #[test]
    fn the_epoch_is_day_zero() {
        assert_eq!(d("1970-01-01").days_since_epoch(), 0);
        assert_eq!(d("1970-01-02").days_since_epoch(), 1);
        assert_eq!(d("1969-12-31").days_since_epoch(), -1);
        assert_eq!(d("2000-03-01").days_since_epoch(), 11_017);
        assert_eq!(d("0001-01-01").days_since_epoch(), -EPOCH_OFFSET);
        assert_eq!(Date::from_days_since_epoch(0), Some(d("1970-01-01")));
    }

    #[test]
    fn days_between_dates_count_leap_days() {
        assert_eq!(d("2024-02-28").days_until(d("2024-03-01")), 2);
        assert_eq!(d("2027-02-28").days_until(d("2027-03-01")), 1);
        assert_eq!(d("2100-02-28").days_until(d("2100-03-01")), 1);
        assert_eq!(d("2000-02-28").days_until(d("2000-03-01")), 2);
        assert_eq!(d("2000-01-01").days_until(d("2001-01-01")), 366);
        assert_eq!(d("2100-01-01").days_until(d("2101-01-01")), 365);
        assert_eq!(d("2027-03-31").days_until(d("2027-03-01")), -30);
        assert_eq!(d("2026-01-01").days_until(d("2026-01-01")), 0);
        assert_eq!(d("1970-01-01").days_until(d("2000-01-01")), 10_957);
        assert_eq!(Date::MIN.days_until(Date::MAX), 3_652_058);
    }

    #[test]
    fn days_convert_back_to_the_same_date() {
        let mut date = Date::MIN;
        let mut n = date.days_since_epoch();
        // Every day of the calendar, in order.
        while let Some(next) = Date::from_days_since_epoch(n + 1) {
            assert!(next > date);
            assert_eq!(next.days_since_epoch(), n + 1, "{next}");
            date = next;
            n += 1;
        }
        assert_eq!(date, Date::MAX);
        assert_eq!(Date::from_days_since_epoch(-EPOCH_OFFSET - 1), None);
        assert_eq!(Date::from_days_since_epoch(i64::MAX), None);
        assert_eq!(Date::from_days_since_epoch(i64::MIN), None);
    }

    #[test]
    fn dates_order_chronologically() {
        assert!(d("2027-03-31") < d("2027-04-01"));
        assert!(d("2026-12-31") < d("2027-01-01"));
        assert!(d("2027-01-09") < d("2027-01-10"));
        let mut dates = vec![d("2030-01-01"), d("1999-12-31"), d("2000-01-01")];
        dates.sort();
        assert_eq!(dates, [d("1999-12-31"), d("2000-01-01"), d("2030-01-01")]);
    }

    #[test]
    fn system_time_is_read_as_a_utc_date() {
        let at = |secs: u64| Date::from_system_time(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), Some(d("1970-01-01")));
        assert_eq!(at(86_399), Some(d("1970-01-01")));
        assert_eq!(at(86_400), Some(d("1970-01-02")));
        // 2027-03-31T23:59:59Z and a second later.
        assert_eq!(at(1_806_537_599), Some(d("2027-03-31")));
        assert_eq!(at(1_806_537_600), Some(d("2027-04-01")));
        let before = |secs: u64| Date::from_system_time(UNIX_EPOCH - Duration::from_secs(secs));
        assert_eq!(before(1), Some(d("1969-12-31")));
        assert_eq!(before(86_400), Some(d("1969-12-31")));
        assert_eq!(before(86_401), Some(d("1969-12-30")));
    }

    #[test]
    fn valve_today_overrides_the_clock() {
        let pinned = today(Some(OsStr::new("2027-03-31")));
        assert_eq!(pinned.ok(), Some(d("2027-03-31")));
    }

    #[test]
    fn unset_or_empty_valve_today_reads_the_clock() {
        let clock = Date::from_system_time(SystemTime::now());
        for value in [None, Some(OsStr::new(""))] {
            let got = today(value).ok();
            // The day may turn between the two readings.
            let after = Date::from_system_time(SystemTime::now());
            assert!(got == clock || got == after, "{got:?}");
        }
    }

    #[test]
    fn invalid_valve_today_is_an_error_with_a_fix() {
        let Err(Error::Usage { message, help }) = today(Some(OsStr::new("2027-02-30"))) else {
            panic!("an invalid VALVE_TODAY must be a usage error");
        };
        assert_eq!(
            message,
            "VALVE_TODAY: `2027-02-30` is not a date: February 2027 has 28 days"
        );
        assert!(help.is_some_and(|h| h.contains("VALVE_TODAY=2027-03-31") && h.contains("unset")));
        assert!(today(Some(OsStr::new("tomorrow"))).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_valve_today_is_an_error() {
        use std::os::unix::ffi::OsStrExt;
        let value = OsStr::from_bytes(b"2027-03-3\xff");
        assert!(matches!(today(Some(value)), Err(Error::Usage { .. })));
    }
}
