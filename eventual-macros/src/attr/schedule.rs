//! `#[workflow(schedule = "cron(0 12 * * ? *)", overlap = "skip", catch_up = "once")]`: a
//! static schedule, its expression checked with the runtime's own parser.

use super::Args;
use crate::ctxt::Ctxt;
use syn::LitStr;

/// What happens to missed firings after downtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CatchUp {
    Once,
    All,
    None,
}

/// A workflow's static schedule, checked.
pub(crate) struct ScheduleArgs {
    /// The expression as EventBridge Scheduler takes it (trimmed).
    pub(crate) expression: String,
    /// Whether a firing starts even while the previous execution still runs.
    pub(crate) allow_overlap: bool,
    pub(crate) catch_up: CatchUp,
}

/// The schedule of `args`, if one is given and valid. `overlap` and `catch_up` without a
/// `schedule` are errors: they would silently do nothing.
pub(crate) fn schedule_args(cx: &Ctxt, args: &Args) -> Option<ScheduleArgs> {
    let allow_overlap = args
        .overlap
        .as_ref()
        .and_then(|lit| one_of(cx, lit, "overlap", &[("skip", false), ("allow", true)]));
    let catch_up = args.catch_up.as_ref().and_then(|lit| {
        one_of(
            cx,
            lit,
            "catch_up",
            &[
                ("once", CatchUp::Once),
                ("all", CatchUp::All),
                ("none", CatchUp::None),
            ],
        )
    });
    let Some(schedule) = &args.schedule else {
        for (option, lit) in [("overlap", &args.overlap), ("catch_up", &args.catch_up)] {
            if let Some(lit) = lit {
                cx.error_spanned_by(
                    lit,
                    format!(
                        "`{option}` applies to a scheduled workflow; add \
                         `schedule = \"rate(5 minutes)\"` or `schedule = \"cron(...)\"`"
                    ),
                );
            }
        }
        return None;
    };
    match eventual_schedule::ScheduleExpression::parse(&schedule.value()) {
        Ok(expression) => Some(ScheduleArgs {
            expression: expression.to_string(),
            allow_overlap: allow_overlap.unwrap_or(false),
            catch_up: catch_up.unwrap_or(CatchUp::Once),
        }),
        Err(error) => {
            cx.error_spanned_by(schedule, format!("`schedule`: {error}"));
            None
        }
    }
}

/// The value `lit` names among `accepted`, or an error listing them.
fn one_of<T: Copy>(cx: &Ctxt, lit: &LitStr, option: &str, accepted: &[(&str, T)]) -> Option<T> {
    let text = lit.value();
    let found = accepted
        .iter()
        .find(|(name, _)| *name == text)
        .map(|(_, value)| *value);
    if found.is_none() {
        let names: Vec<String> = accepted
            .iter()
            .map(|(name, _)| format!("\"{name}\""))
            .collect();
        cx.error_spanned_by(
            lit,
            format!(
                "unknown `{option}` value \"{text}\"; expected one of: {}",
                names.join(", ")
            ),
        );
    }
    found
}
