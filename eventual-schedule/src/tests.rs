use super::{Date, ScheduleExpression};

/// Milliseconds since the epoch of a UTC date and time.
fn utc(year: u32, month: u32, day: u32, hour: u64, minute: u64) -> u64 {
    let days = Date { year, month, day }.days();
    ((days * 24 + hour) * 60 + minute) * 60_000
}

fn next(expression: &str, after: u64) -> Option<u64> {
    ScheduleExpression::parse(expression)
        .unwrap_or_else(|error| panic!("{error}"))
        .next_after(after)
}

fn error(expression: &str) -> String {
    match ScheduleExpression::parse(expression) {
        Ok(parsed) => panic!("`{expression}` parsed as {parsed:?}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn civil_dates_match_known_day_numbers() {
    // Day numbers from Python's `date - date(1970, 1, 1)`.
    for (days, (year, month, day)) in [
        (0, (1970, 1, 1)),
        (11_016, (2000, 2, 29)),
        (19_783, (2024, 3, 1)),
        (20_788, (2026, 12, 1)),
        (84_005, (2199, 12, 31)),
    ] {
        let date = Date::from_days(days);
        assert_eq!((date.year, date.month, date.day), (year, month, day));
        assert_eq!(Date { year, month, day }.days(), days);
    }
    for days in 0..100_000 {
        assert_eq!(Date::from_days(days).days(), days);
    }
}

#[test]
fn daily_cron_fires_at_the_next_noon_strictly_after() {
    let noon = "cron(0 12 * * ? *)";
    assert_eq!(
        next(noon, utc(2026, 12, 1, 11, 59)),
        Some(utc(2026, 12, 1, 12, 0))
    );
    assert_eq!(
        next(noon, utc(2026, 12, 1, 12, 0)),
        Some(utc(2026, 12, 2, 12, 0))
    );
    assert_eq!(
        next(noon, utc(2026, 12, 31, 13, 0)),
        Some(utc(2027, 1, 1, 12, 0))
    );
}

#[test]
fn steps_ranges_and_lists() {
    let quarter = "cron(0/15 * * * ? *)";
    assert_eq!(
        next(quarter, utc(2026, 12, 1, 10, 7)),
        Some(utc(2026, 12, 1, 10, 15))
    );
    assert_eq!(
        next(quarter, utc(2026, 12, 1, 23, 45)),
        Some(utc(2026, 12, 2, 0, 0))
    );
    let office = "cron(*/30 9-17 * * ? *)";
    assert_eq!(
        next(office, utc(2026, 12, 1, 17, 30)),
        Some(utc(2026, 12, 2, 9, 0))
    );
    let listed = "cron(5,10 1,13 * * ? *)";
    assert_eq!(
        next(listed, utc(2026, 12, 1, 1, 5)),
        Some(utc(2026, 12, 1, 1, 10))
    );
    assert_eq!(
        next(listed, utc(2026, 12, 1, 1, 10)),
        Some(utc(2026, 12, 1, 13, 5))
    );
    let stepped_range = "cron(0 0-12/6 * * ? *)";
    assert_eq!(
        next(stepped_range, utc(2026, 12, 1, 6, 0)),
        Some(utc(2026, 12, 1, 12, 0))
    );
    assert_eq!(
        next(stepped_range, utc(2026, 12, 1, 12, 0)),
        Some(utc(2026, 12, 2, 0, 0))
    );
}

#[test]
fn day_of_week_counts_sunday_as_one_and_takes_names() {
    // 2026-12-04 is a Friday, 2026-12-06 a Sunday.
    let weekdays = "cron(0 8 ? * MON-FRI *)";
    assert_eq!(
        next(weekdays, utc(2026, 12, 4, 9, 0)),
        Some(utc(2026, 12, 7, 8, 0))
    );
    assert_eq!(
        next("cron(0 10 ? * 1 *)", utc(2026, 12, 1, 0, 0)),
        Some(utc(2026, 12, 6, 10, 0))
    );
    assert_eq!(
        next("cron(0 10 ? * sun *)", utc(2026, 12, 1, 0, 0)),
        Some(utc(2026, 12, 6, 10, 0))
    );
}

#[test]
fn days_of_month_skip_months_without_them() {
    let last = "cron(0 0 31 * ? *)";
    assert_eq!(
        next(last, utc(2026, 12, 31, 0, 0)),
        Some(utc(2027, 1, 31, 0, 0))
    );
    assert_eq!(
        next(last, utc(2027, 1, 31, 0, 0)),
        Some(utc(2027, 3, 31, 0, 0))
    );
    assert_eq!(
        next("cron(0 0 29 2 ? *)", utc(2025, 1, 1, 0, 0)),
        Some(utc(2028, 2, 29, 0, 0))
    );
    assert_eq!(next("cron(0 0 31 2 ? *)", utc(2025, 1, 1, 0, 0)), None);
}

#[test]
fn years_and_month_names_bound_the_firings() {
    let twice = "cron(30 2 1 JAN,JUL ? 2027)";
    let first = next(twice, utc(2026, 12, 1, 0, 0));
    assert_eq!(first, Some(utc(2027, 1, 1, 2, 30)));
    let second = next(twice, utc(2027, 1, 1, 2, 30));
    assert_eq!(second, Some(utc(2027, 7, 1, 2, 30)));
    assert_eq!(next(twice, utc(2027, 7, 1, 2, 30)), None);
    assert_eq!(next("cron(0 0 1 1 ? 2199)", utc(2199, 1, 1, 0, 0)), None);
}

#[test]
fn rates_fire_on_multiples_of_their_period_since_the_epoch() {
    let seconds = |s: u64| s * 1000;
    assert_eq!(
        next("rate(5 minutes)", utc(2026, 12, 1, 10, 7) + seconds(30)),
        Some(utc(2026, 12, 1, 10, 10))
    );
    assert_eq!(
        next("rate(5 minutes)", utc(2026, 12, 1, 10, 10)),
        Some(utc(2026, 12, 1, 10, 15))
    );
    assert_eq!(next("rate(1 minute)", 0), Some(60_000));
    assert_eq!(
        next("rate(1 hour)", utc(2026, 12, 1, 5, 1)),
        Some(utc(2026, 12, 1, 6, 0))
    );
    assert_eq!(
        next("rate(1 day)", utc(2026, 12, 1, 5, 0)),
        Some(utc(2026, 12, 2, 0, 0))
    );
    assert_eq!(next("rate(2 days)", 0), Some(utc(1970, 1, 3, 0, 0)));
}

#[test]
fn the_text_is_kept_for_deployment() {
    let parsed = ScheduleExpression::parse(" cron(0 12 * * ? *) ").unwrap();
    assert_eq!(parsed.to_string(), "cron(0 12 * * ? *)");
    assert_eq!(parsed.as_str(), "cron(0 12 * * ? *)");
}

#[test]
fn refusals_name_the_expression_the_field_and_the_reason() {
    for (expression, reason) in [
        ("every 5 minutes", "expected `rate(value unit)`, `cron("),
        ("at(2027-02-29T00:00:00)", "2027-02 has no day 29"),
        (
            "at(2027-03-14 15:09)",
            "a one-time schedule is `at(yyyy-mm-ddThh:mm:ss)`",
        ),
        ("at(2027-03-14T24:00:00)", "`24:00:00` is not a time of day"),
        (
            "at(2200-01-01T00:00:00)",
            "year: `2200` is outside 1970-2199",
        ),
        ("rate(1 minutes)", "write `rate(1 minute)`"),
        ("rate(5 minute)", "write `rate(5 minutes)`"),
        (
            "rate(0 minutes)",
            "the rate's value `0` is not a positive whole number",
        ),
        ("rate(5 weeks)", "unknown rate unit `weeks`"),
        ("rate(5)", "a rate is `rate(value unit)`"),
        ("cron(0 12 * * ?)", "a cron has six fields"),
        (
            "cron(0 12 ? * ? *)",
            "only one of day-of-month and day-of-week may be `?`",
        ),
        (
            "cron(0 12 * * * *)",
            "one of day-of-month and day-of-week must be `?`",
        ),
        ("cron(0 12 ? * ? *)", "only one"),
        (
            "cron(? 12 * * ? *)",
            "minutes: `?` is only allowed in day-of-month or day-of-week",
        ),
        (
            "cron(0 12 L,15 * ? *)",
            "day-of-month: `L`: `L`, `W` and `#` stand alone in their field",
        ),
        (
            "cron(0 12 ? * 2-6L *)",
            "day-of-week: `6L`: `L`, `W` and `#` stand alone",
        ),
        ("cron(0 12 32W * ? *)", "day-of-month: `32` is outside 1-31"),
        (
            "cron(0 12 ? * 6#6 *)",
            "day-of-week: in `6#6`, `#6` is not an occurrence 1-5",
        ),
        ("cron(0 12 ? * 8L *)", "day-of-week: `8` is outside 1-7"),
        ("cron(60 12 * * ? *)", "minutes: `60` is outside 0-59"),
        ("cron(0 24 * * ? *)", "hours: `24` is outside 0-23"),
        (
            "cron(0 12 * FOO ? *)",
            "month: `FOO` is neither a number nor one of JAN, FEB",
        ),
        ("cron(0 12 * * ? 2200)", "year: `2200` is outside 1970-2199"),
        (
            "cron(0 17-9 * * ? *)",
            "hours: the range `17-9` starts after it ends",
        ),
        (
            "cron(*/0 12 * * ? *)",
            "minutes: the step `0` in `*/0` is not a positive number",
        ),
    ] {
        let message = error(expression);
        assert!(
            message.starts_with(&format!(
                "schedule expression `{expression}` is not valid: "
            )),
            "{message}"
        );
        assert!(message.contains(reason), "`{expression}`: {message}");
    }
}

#[test]
fn last_day_of_the_month_follows_month_lengths_and_leap_years() {
    let last = "cron(0 12 L * ? *)";
    assert_eq!(
        next(last, utc(2027, 2, 1, 0, 0)),
        Some(utc(2027, 2, 28, 12, 0))
    );
    assert_eq!(
        next(last, utc(2028, 2, 1, 0, 0)),
        Some(utc(2028, 2, 29, 12, 0))
    );
    assert_eq!(
        next(last, utc(2027, 4, 30, 12, 0)),
        Some(utc(2027, 5, 31, 12, 0))
    );
}

#[test]
fn nearest_weekday_stays_within_its_month() {
    let fifteenth = "cron(0 12 15W * ? *)";
    // 2027-05-15 is a Saturday: the Friday before.
    assert_eq!(
        next(fifteenth, utc(2027, 5, 1, 0, 0)),
        Some(utc(2027, 5, 14, 12, 0))
    );
    // 2027-08-15 is a Sunday: the Monday after.
    assert_eq!(
        next(fifteenth, utc(2027, 8, 1, 0, 0)),
        Some(utc(2027, 8, 16, 12, 0))
    );
    // 2027-06-15 is a Tuesday: the day itself.
    assert_eq!(
        next(fifteenth, utc(2027, 6, 1, 0, 0)),
        Some(utc(2027, 6, 15, 12, 0))
    );
    // 2027-05-01 is a Saturday: not April 30th but Monday the 3rd.
    assert_eq!(
        next("cron(0 12 1W * ? *)", utc(2027, 4, 2, 0, 0)),
        Some(utc(2027, 5, 3, 12, 0))
    );
    // 2027-10-31 is a Sunday and the month's last day: Friday the 29th.
    let thirty_first = "cron(0 12 31W * ? *)";
    assert_eq!(
        next(thirty_first, utc(2027, 10, 1, 0, 0)),
        Some(utc(2027, 10, 29, 12, 0))
    );
    // February has no 31st: the next firing is in March.
    assert_eq!(
        next(thirty_first, utc(2027, 2, 1, 0, 0)),
        Some(utc(2027, 3, 31, 12, 0))
    );
}

#[test]
fn last_and_nth_weekdays_of_the_month() {
    // Last Friday: 2027-01-29, then 2027-02-26.
    assert_eq!(
        next("cron(0 12 ? * 6L *)", utc(2027, 1, 1, 0, 0)),
        Some(utc(2027, 1, 29, 12, 0))
    );
    assert_eq!(
        next("cron(0 12 ? * FRIL *)", utc(2027, 1, 30, 0, 0)),
        Some(utc(2027, 2, 26, 12, 0))
    );
    // April 2027 ends on a Friday: the 30th, not the 23rd a week earlier.
    assert_eq!(
        next("cron(0 12 ? * 6L *)", utc(2027, 4, 1, 0, 0)),
        Some(utc(2027, 4, 30, 12, 0))
    );
    // First Monday of January 2027 is the 4th.
    assert_eq!(
        next("cron(0 12 ? * MON#1 *)", utc(2027, 1, 1, 0, 0)),
        Some(utc(2027, 1, 4, 12, 0))
    );
    // A fifth Monday: none in January or February 2027, the first is March 29th.
    assert_eq!(
        next("cron(0 12 ? * 2#5 *)", utc(2027, 1, 1, 0, 0)),
        Some(utc(2027, 3, 29, 12, 0))
    );
    // `L` alone in day-of-week is Saturday; 2027-01-01 is a Friday.
    assert_eq!(
        next("cron(0 12 ? * L *)", utc(2027, 1, 1, 0, 0)),
        Some(utc(2027, 1, 2, 12, 0))
    );
}

#[test]
fn a_one_time_schedule_fires_once() {
    let at = "at(2027-03-14T15:09:26)";
    let when = utc(2027, 3, 14, 15, 9) + 26_000;
    assert_eq!(next(at, 0), Some(when));
    assert_eq!(next(at, when - 1), Some(when));
    assert_eq!(next(at, when), None);
    assert_eq!(ScheduleExpression::parse(at).unwrap().as_str(), at);
}
