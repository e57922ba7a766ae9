//! Durations written as text in attributes (`"30s"`, `"1h 30m"`), turned into milliseconds at
//! expansion time.

/// Milliseconds of `text`, or a message saying what is accepted.
pub(crate) fn parse_millis(text: &str) -> Result<u64, String> {
    let duration = humantime::parse_duration(text.trim()).map_err(|error| {
        format!(
            "invalid duration \"{text}\": {error}; expected a number with a unit, such as \
             \"500ms\", \"30s\", \"5m\", \"1h\" or \"1d\""
        )
    })?;
    u64::try_from(duration.as_millis()).map_err(|_| format!("duration \"{text}\" is too long"))
}
