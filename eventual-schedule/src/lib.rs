//! Amazon EventBridge Scheduler's recurring schedule expressions, parsed and stepped to their
//! next firing in UTC.
//!
//! The three forms, exactly as EventBridge Scheduler writes them:
//! - `rate(value unit)`: `rate(1 minute)`, `rate(5 minutes)`, `rate(1 hour)`, `rate(2 days)`
//!   (singular unit for 1, plural otherwise, as EventBridge requires);
//! - `cron(minutes hours day-of-month month day-of-week year)`: six fields, `?` in exactly one
//!   of day-of-month and day-of-week, each field `*`, a value, a range `a-b`, a step `*/n`,
//!   `a/n` or `a-b/n`, or a comma-separated list of those. Months may be `JAN`-`DEC`, days of
//!   the week `SUN`-`SAT` (1 is Sunday), years 1970-2199. The day fields also take, each
//!   standing alone:
//!   - day-of-month `L`, the last day of the month, and `nW`, the weekday nearest to day `n`
//!     within its month (`1W` on a Saturday is Monday the 3rd; `31W` on a Sunday is Friday the
//!     29th; a month without day `n` does not fire);
//!   - day-of-week `L`, the last day of the week (Saturday), `dL`, the last weekday `d` of the
//!     month (`6L`, the last Friday), and `d#n`, the `n`-th weekday `d` of the month (`2#1`,
//!     the first Monday; a month without a fifth one does not fire);
//! - `at(yyyy-mm-ddThh:mm:ss)`: one firing at that time (UTC).
//!
//! Rate schedules fire on multiples of their period counted from the Unix epoch, so every
//! engine, and every restart of one, computes the same firings without remembering when the
//! schedule was created.
//!
//! ```
//! use eventual_schedule::ScheduleExpression;
//! let noon = ScheduleExpression::parse("cron(0 12 * * ? *)").unwrap();
//! // 1970-01-01T00:00Z -> 1970-01-01T12:00Z
//! assert_eq!(noon.next_after(0), Some(12 * 3_600_000));
//! let every_five = ScheduleExpression::parse("rate(5 minutes)").unwrap();
//! assert_eq!(every_five.next_after(60_000), Some(300_000));
//! ```

use std::fmt;
use std::str::FromStr;

const MINUTE_MS: u64 = 60_000;
const MINUTES_PER_DAY: u64 = 24 * 60;
/// The years EventBridge accepts in the year field.
const FIRST_YEAR: u32 = 1970;
const LAST_YEAR: u32 = 2199;

/// A parsed schedule expression; [`fmt::Display`] gives back the text it was parsed from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleExpression {
    text: String,
    kind: Kind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    /// Fires every `period_ms`, on multiples of it since the epoch.
    Rate {
        period_ms: u64,
    },
    Cron(Box<Cron>),
    /// Fires once, at `at_ms`.
    At {
        at_ms: u64,
    },
}

/// Why a schedule expression was refused: the expression and the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleError {
    expression: String,
    reason: String,
}

impl ScheduleError {
    fn new(expression: &str, reason: impl Into<String>) -> Self {
        ScheduleError {
            expression: expression.to_string(),
            reason: reason.into(),
        }
    }

    /// Why the expression was refused, without the expression.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "schedule expression `{}` is not valid: {}",
            self.expression, self.reason
        )
    }
}

impl std::error::Error for ScheduleError {}

impl ScheduleExpression {
    /// Parses `rate(...)`, `cron(...)` or `at(...)`.
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        let trimmed = text.trim();
        let kind = if let Some(body) = inside(trimmed, "rate") {
            parse_rate(body).map_err(|reason| ScheduleError::new(text, reason))?
        } else if let Some(body) = inside(trimmed, "cron") {
            Kind::Cron(Box::new(
                Cron::parse(body).map_err(|reason| ScheduleError::new(text, reason))?,
            ))
        } else if let Some(body) = inside(trimmed, "at") {
            parse_at(body).map_err(|reason| ScheduleError::new(text, reason))?
        } else {
            return Err(ScheduleError::new(
                text,
                "expected `rate(value unit)`, `cron(minutes hours day-of-month month \
                 day-of-week year)` or `at(yyyy-mm-ddThh:mm:ss)`",
            ));
        };
        Ok(ScheduleExpression {
            text: trimmed.to_string(),
            kind,
        })
    }

    /// The first firing strictly after `after_ms` (milliseconds since the Unix epoch, UTC), or
    /// `None` when the expression never fires again (a cron whose years have all passed, an
    /// `at` whose time has passed).
    pub fn next_after(&self, after_ms: u64) -> Option<u64> {
        match &self.kind {
            Kind::Rate { period_ms } => (after_ms / period_ms)
                .checked_add(1)?
                .checked_mul(*period_ms),
            Kind::Cron(cron) => cron.next_after(after_ms),
            Kind::At { at_ms } => (*at_ms > after_ms).then_some(*at_ms),
        }
    }

    /// The expression's text, as EventBridge Scheduler takes it.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl FromStr for ScheduleExpression {
    type Err = ScheduleError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for ScheduleExpression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The text between `name(` and the closing `)`.
fn inside<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.strip_prefix(name)?
        .trim_start()
        .strip_prefix('(')?
        .strip_suffix(')')
}

fn parse_rate(body: &str) -> Result<Kind, String> {
    let words: Vec<&str> = body.split_whitespace().collect();
    let [value, unit] = words.as_slice() else {
        return Err(format!(
            "a rate is `rate(value unit)`, such as `rate(5 minutes)`; got `rate({body})`"
        ));
    };
    let value: u64 = value
        .parse()
        .ok()
        .filter(|value| *value > 0)
        .ok_or_else(|| format!("the rate's value `{value}` is not a positive whole number"))?;
    let (singular, unit_ms) = match *unit {
        "minute" | "minutes" => ("minute", MINUTE_MS),
        "hour" | "hours" => ("hour", 60 * MINUTE_MS),
        "day" | "days" => ("day", MINUTES_PER_DAY * MINUTE_MS),
        other => {
            return Err(format!(
                "unknown rate unit `{other}`; expected minute(s), hour(s) or day(s)"
            ))
        }
    };
    // EventBridge refuses `rate(1 minutes)` and `rate(5 minute)`: refuse them here too, so a
    // schedule that runs locally also deploys.
    let expected = if value == 1 {
        singular.to_string()
    } else {
        format!("{singular}s")
    };
    if *unit != expected {
        return Err(format!(
            "write `rate({value} {expected})`: the unit is singular for 1 and plural otherwise"
        ));
    }
    let period_ms = value
        .checked_mul(unit_ms)
        .ok_or_else(|| format!("the rate `{value} {unit}` is too long"))?;
    Ok(Kind::Rate { period_ms })
}

/// `yyyy-mm-ddThh:mm:ss`, as EventBridge Scheduler's one-time schedules write it.
fn parse_at(body: &str) -> Result<Kind, String> {
    let shape = || format!("a one-time schedule is `at(yyyy-mm-ddThh:mm:ss)`; got `at({body})`");
    let (date, time) = body.trim().split_once('T').ok_or_else(shape)?;
    let numbers = |text: &str, separator: char| -> Result<Vec<u32>, String> {
        text.split(separator)
            .map(|part| {
                (!part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit()))
                    .then(|| part.parse().ok())
                    .flatten()
                    .ok_or_else(shape)
            })
            .collect()
    };
    let (date, time) = (numbers(date, '-')?, numbers(time, ':')?);
    let ([year, month, day], [hour, minute, second]) = (date.as_slice(), time.as_slice()) else {
        return Err(shape());
    };
    let (year, month, day) = (*year, *month, *day);
    YEAR.value(&year.to_string())?;
    MONTH.value(&month.to_string())?;
    if day == 0 || day > days_in_month(year, month) {
        return Err(format!("{year:04}-{month:02} has no day {day}"));
    }
    if *hour > 23 || *minute > 59 || *second > 59 {
        return Err(format!(
            "`{hour:02}:{minute:02}:{second:02}` is not a time of day"
        ));
    }
    let date = Date { year, month, day };
    let seconds = date.days() * MINUTES_PER_DAY * 60
        + u64::from(*hour) * 3_600
        + u64::from(*minute) * 60
        + u64::from(*second);
    Ok(Kind::At {
        at_ms: seconds * 1_000,
    })
}

/// A set of small integers (every cron field fits in 0..256 once years are offset).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct ValueSet([u64; 4]);

impl ValueSet {
    fn insert(&mut self, value: u32) {
        self.0[(value / 64) as usize] |= 1 << (value % 64);
    }

    fn contains(&self, value: u32) -> bool {
        value < 256 && self.0[(value / 64) as usize] & (1 << (value % 64)) != 0
    }
}

/// One cron field's rules: its name for errors, its bounds, and the names it accepts.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    /// Whether the field takes `L`, `W` or `#` (the two day fields).
    special_days: bool,
}

const MINUTES: Field = Field {
    name: "minutes",
    min: 0,
    max: 59,
    names: &[],
    special_days: false,
};
const HOURS: Field = Field {
    name: "hours",
    min: 0,
    max: 23,
    names: &[],
    special_days: false,
};
const DAY_OF_MONTH: Field = Field {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
    special_days: true,
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
    special_days: false,
};
const DAY_OF_WEEK: Field = Field {
    name: "day-of-week",
    min: 1,
    max: 7,
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
    special_days: true,
};
const YEAR: Field = Field {
    name: "year",
    min: FIRST_YEAR,
    max: LAST_YEAR,
    names: &[],
    special_days: false,
};

impl Field {
    /// Parses one field (not `?`, which the caller handles) into the set of values it allows.
    /// Years are stored offset by [`FIRST_YEAR`].
    fn parse(&self, text: &str) -> Result<ValueSet, String> {
        let offset = if self.name == YEAR.name {
            FIRST_YEAR
        } else {
            0
        };
        let mut set = ValueSet::default();
        for item in text.split(',') {
            let (range, step) = match item.split_once('/') {
                Some((range, step)) => {
                    let step: u32 =
                        step.parse().ok().filter(|step| *step > 0).ok_or_else(|| {
                            format!(
                                "{}: the step `{step}` in `{item}` is not a positive number",
                                self.name
                            )
                        })?;
                    (range, Some(step))
                }
                None => (item, None),
            };
            let (first, last) = if range == "*" {
                (self.min, self.max)
            } else if let Some((start, end)) = range.split_once('-') {
                let (start, end) = (self.value(start)?, self.value(end)?);
                if start > end {
                    return Err(format!(
                        "{}: the range `{range}` starts after it ends",
                        self.name
                    ));
                }
                (start, end)
            } else {
                let value = self.value(range)?;
                // `a/n` runs from `a` to the field's end, as in EventBridge's `0/15`.
                (value, if step.is_some() { self.max } else { value })
            };
            let mut value = first;
            while value <= last {
                set.insert(value - offset);
                value += step.unwrap_or(1);
            }
        }
        Ok(set)
    }

    fn value(&self, text: &str) -> Result<u32, String> {
        let value = match text.parse::<u32>() {
            Ok(value) => value,
            Err(_) => {
                let upper = text.to_ascii_uppercase();
                match self.names.iter().position(|name| *name == upper) {
                    Some(index) => self.min + index as u32,
                    // `L`, `W` and `#` inside a list or range: they only stand alone.
                    None if self.special_days && text.contains(['L', 'W', '#']) => {
                        return Err(format!(
                            "{}: `{text}`: `L`, `W` and `#` stand alone in their field; they \
                             do not combine with lists, ranges or steps",
                            self.name
                        ))
                    }
                    None if self.names.is_empty() => {
                        return Err(format!("{}: `{text}` is not a number", self.name))
                    }
                    None => {
                        return Err(format!(
                            "{}: `{text}` is neither a number nor one of {}",
                            self.name,
                            self.names.join(", ")
                        ))
                    }
                }
            }
        };
        if !(self.min..=self.max).contains(&value) {
            return Err(format!(
                "{}: `{text}` is outside {}-{}",
                self.name, self.min, self.max
            ));
        }
        Ok(value)
    }
}

/// Which of the two day fields decides (the other one is `?`).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Days {
    OfMonth(DayOfMonth),
    OfWeek(DayOfWeek),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum DayOfMonth {
    Values(ValueSet),
    /// `L`.
    Last,
    /// `nW`.
    NearestWeekday(u32),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum DayOfWeek {
    /// Sunday is 1.
    Values(ValueSet),
    /// `dL`: weekday `d`, in the last seven days of the month.
    LastInMonth(u32),
    /// `d#n`.
    Nth { weekday: u32, nth: u32 },
}

/// Whether `text` could be one value (a number or a name), not a list, range or step: `L`,
/// `W` and `#` apply to one value only.
fn is_single_value(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_alphanumeric()) && text != "L"
}

/// The last week of a month has at most five of a weekday.
const MAX_NTH_WEEKDAY: u32 = 5;
const SATURDAY: u32 = 7;

impl DayOfMonth {
    fn parse(text: &str) -> Result<Self, String> {
        if text == "L" {
            return Ok(DayOfMonth::Last);
        }
        if let Some(day) = text
            .strip_suffix('W')
            .filter(|day| !day.contains(['L', ',']))
        {
            return Ok(DayOfMonth::NearestWeekday(DAY_OF_MONTH.value(day)?));
        }
        DAY_OF_MONTH.parse(text).map(DayOfMonth::Values)
    }

    fn matches(&self, date: &Date) -> bool {
        match self {
            DayOfMonth::Values(days) => days.contains(date.day),
            DayOfMonth::Last => date.day == date.days_in_month(),
            DayOfMonth::NearestWeekday(day) => {
                let last = date.days_in_month();
                if *day > last {
                    return false;
                }
                let target = Date { day: *day, ..*date };
                let nearest = match target.weekday() {
                    1 if *day == last => day - 2,
                    1 => day + 1,
                    SATURDAY if *day == 1 => 3,
                    SATURDAY => day - 1,
                    _ => *day,
                };
                date.day == nearest
            }
        }
    }
}

impl DayOfWeek {
    fn parse(text: &str) -> Result<Self, String> {
        if text == "L" {
            let mut saturday = ValueSet::default();
            saturday.insert(SATURDAY);
            return Ok(DayOfWeek::Values(saturday));
        }
        if let Some((weekday, nth)) = text
            .split_once('#')
            .filter(|(weekday, _)| is_single_value(weekday))
        {
            let nth = nth
                .parse()
                .ok()
                .filter(|nth| (1..=MAX_NTH_WEEKDAY).contains(nth))
                .ok_or_else(|| {
                    format!(
                        "day-of-week: in `{text}`, `#{nth}` is not an occurrence \
                         1-{MAX_NTH_WEEKDAY}"
                    )
                })?;
            let weekday = DAY_OF_WEEK.value(weekday)?;
            return Ok(DayOfWeek::Nth { weekday, nth });
        }
        if let Some(weekday) = text.strip_suffix('L').filter(|day| is_single_value(day)) {
            return Ok(DayOfWeek::LastInMonth(DAY_OF_WEEK.value(weekday)?));
        }
        DAY_OF_WEEK.parse(text).map(DayOfWeek::Values)
    }

    fn matches(&self, date: &Date) -> bool {
        let weekday = date.weekday();
        match self {
            DayOfWeek::Values(days) => days.contains(weekday),
            DayOfWeek::LastInMonth(day) => weekday == *day && date.day + 7 > date.days_in_month(),
            DayOfWeek::Nth { weekday: day, nth } => {
                weekday == *day && (date.day - 1) / 7 + 1 == *nth
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Cron {
    minutes: ValueSet,
    hours: ValueSet,
    days: Days,
    months: ValueSet,
    /// Offset by [`FIRST_YEAR`].
    years: ValueSet,
}

impl Cron {
    fn parse(body: &str) -> Result<Cron, String> {
        let fields: Vec<&str> = body.split_whitespace().collect();
        let [minutes, hours, day_of_month, month, day_of_week, year] = fields.as_slice() else {
            return Err(format!(
                "a cron has six fields (minutes hours day-of-month month day-of-week year), \
                 got {}",
                fields.len()
            ));
        };
        let days = match (*day_of_month, *day_of_week) {
            ("?", "?") => {
                return Err(
                    "only one of day-of-month and day-of-week may be `?`; give the other"
                        .to_string(),
                )
            }
            ("?", day_of_week) => Days::OfWeek(DayOfWeek::parse(day_of_week)?),
            (day_of_month, "?") => Days::OfMonth(DayOfMonth::parse(day_of_month)?),
            _ => {
                return Err(
                    "one of day-of-month and day-of-week must be `?` (EventBridge does not \
                     combine them)"
                        .to_string(),
                )
            }
        };
        let question = [minutes, hours, month, year]
            .into_iter()
            .zip([&MINUTES, &HOURS, &MONTH, &YEAR])
            .find(|(text, _)| text.contains('?'));
        if let Some((_, field)) = question {
            return Err(format!(
                "{}: `?` is only allowed in day-of-month or day-of-week",
                field.name
            ));
        }
        Ok(Cron {
            minutes: MINUTES.parse(minutes)?,
            hours: HOURS.parse(hours)?,
            days,
            months: MONTH.parse(month)?,
            years: YEAR.parse(year)?,
        })
    }

    fn next_after(&self, after_ms: u64) -> Option<u64> {
        // Walk forward by the coarsest unit that does not match: a year, a month, a day, an
        // hour, a minute. Each step moves to the start of the next unit, so no firing is
        // skipped, and an expression that never fires stops at the last year.
        let mut minute = after_ms / MINUTE_MS + 1;
        loop {
            let day = minute / MINUTES_PER_DAY;
            let date = Date::from_days(day);
            if date.year > LAST_YEAR {
                return None;
            }
            let hour = (minute % MINUTES_PER_DAY / 60) as u32;
            if !self.years.contains(date.year - FIRST_YEAR) {
                minute = Date::start_of_year(date.year + 1).days() * MINUTES_PER_DAY;
            } else if !self.months.contains(date.month) {
                minute = date.start_of_next_month().days() * MINUTES_PER_DAY;
            } else if !self.day_matches(&date) {
                minute = (day + 1) * MINUTES_PER_DAY;
            } else if !self.hours.contains(hour) {
                minute = day * MINUTES_PER_DAY + u64::from(hour + 1) * 60;
            } else if !self.minutes.contains((minute % 60) as u32) {
                minute += 1;
            } else {
                return minute.checked_mul(MINUTE_MS);
            }
        }
    }

    fn day_matches(&self, date: &Date) -> bool {
        match &self.days {
            Days::OfMonth(rule) => rule.matches(date),
            Days::OfWeek(rule) => rule.matches(date),
        }
    }
}

/// A proleptic Gregorian date (UTC), converted with Howard Hinnant's civil-date algorithms.
#[derive(Clone, Copy)]
struct Date {
    year: u32,
    month: u32,
    day: u32,
}

impl Date {
    fn from_days(days: u64) -> Date {
        let z = days + 719_468;
        let era = z / 146_097;
        let day_of_era = z % 146_097;
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let shifted_month = (5 * day_of_year + 2) / 153;
        let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
        let month = if shifted_month < 10 {
            shifted_month + 3
        } else {
            shifted_month - 9
        } as u32;
        let year = (year_of_era + era * 400) as u32 + u32::from(month <= 2);
        Date { year, month, day }
    }

    /// Days since 1970-01-01.
    fn days(&self) -> u64 {
        let year = u64::from(self.year) - u64::from(self.month <= 2);
        let era = year / 400;
        let year_of_era = year - era * 400;
        let month = u64::from(self.month);
        let shifted_month = if month > 2 { month - 3 } else { month + 9 };
        let day_of_year = (153 * shifted_month + 2) / 5 + u64::from(self.day) - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }

    /// Sunday is 1, as in cron's day-of-week.
    fn weekday(&self) -> u32 {
        // 1970-01-01 was a Thursday, day 5.
        ((self.days() + 4) % 7) as u32 + 1
    }

    fn days_in_month(&self) -> u32 {
        days_in_month(self.year, self.month)
    }

    fn start_of_year(year: u32) -> Date {
        Date {
            year,
            month: 1,
            day: 1,
        }
    }

    fn start_of_next_month(&self) -> Date {
        if self.month == 12 {
            Date::start_of_year(self.year + 1)
        } else {
            Date {
                year: self.year,
                month: self.month + 1,
                day: 1,
            }
        }
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests;
