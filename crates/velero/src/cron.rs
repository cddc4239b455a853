//! When a Velero schedule runs next. Velero reads `Schedule.spec.schedule` with robfig/cron's
//! standard parser, and this module reads the same language: five whitespace-separated fields
//! (minute, hour, day of month, month, day of week) of numbers, `*` or `?`, ranges `a-b`, steps
//! `*/n`, `a/n`, `a-b/n`, comma lists, month and weekday names (`jan`, `mon`, any case); the
//! descriptors `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`
//! and `@every <Go duration>`; an optional `CRON_TZ=<zone> ` or `TZ=<zone> ` prefix. Like that
//! parser, when either day field is a plain `*` a day must match both fields, otherwise either.
//!
//! Why not a crate: the maintained one (`croner` 4) builds on chrono or jiff beside the
//! workspace's `time`, reads neither `@every` nor the `CRON_TZ=` prefix, and its day rule would
//! have to be configured to match Velero's; the schedule check needs one function, "the first
//! run strictly after t", which is this file, table-tested below.
//!
//! Times are unix seconds. A schedule without a zone runs on the Velero server's local clock,
//! which in Velero's image is UTC, so that is what is assumed. For any other zone the tables
//! would be needed; [`Cron::due_after`] then gives a bound that holds for every zone on Earth
//! (offsets lie within -12 h..+14 h) instead of the exact time, so a late schedule is still
//! caught, only up to a day later.

use std::fmt;

use time::{Date, OffsetDateTime, Weekday};

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    kind: CronKind,
    zone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum CronKind {
    /// `@every <duration>`: a fixed delay, in whole seconds (at least 1).
    Every(u64),
    /// Five fields, as sets of allowed values.
    Fields(Fields),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Fields {
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
    /// Whether the day-of-month field was a plain `*` (or `?`, or `*/1`).
    dom_star: bool,
    /// Whether the day-of-week field was.
    dow_star: bool,
}

/// One field's bounds and names.
struct Bounds {
    what: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: Bounds = Bounds {
    what: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Bounds = Bounds {
    what: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Bounds = Bounds {
    what: "day of month",
    min: 1,
    max: 31,
    names: &[],
};
// Names are listed from the field's minimum: `jan` is 1, `sun` is 0.
const MONTH: Bounds = Bounds {
    what: "month",
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
};
const DOW: Bounds = Bounds {
    what: "day of week",
    min: 0,
    max: 6,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

/// How far ahead a schedule is searched for its next run (the parser Velero uses gives up
/// after five years too: `0 0 30 2 *` never runs).
const SEARCH_DAYS: i64 = 5 * 366;

/// The widest a zone's offset from UTC reaches, east and west.
const MAX_EAST_SECS: i64 = 14 * 3600;
const MAX_WEST_SECS: i64 = 12 * 3600;

impl Cron {
    /// Reads a schedule as Velero does.
    ///
    /// # Errors
    /// What is wrong with `text`, naming the field.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut spec = text.trim();
        let mut zone = None;
        if let Some(rest) = spec
            .strip_prefix("CRON_TZ=")
            .or_else(|| spec.strip_prefix("TZ="))
        {
            let (z, after) = rest
                .split_once(char::is_whitespace)
                .ok_or_else(|| format!("`{text}`: a zone prefix and nothing after it"))?;
            zone = Some(z.to_string());
            spec = after.trim();
        }
        let kind = if let Some(descriptor) = spec.strip_prefix('@') {
            descriptor_kind(descriptor).map_err(|e| format!("`{text}`: {e}"))?
        } else {
            let fields: Vec<&str> = spec.split_whitespace().collect();
            let [minute, hour, dom, month, dow] = fields[..] else {
                return Err(format!(
                    "`{text}`: {} field(s), not 5 (minute hour day-of-month month day-of-week)",
                    fields.len()
                ));
            };
            let field =
                |s: &str, b: &Bounds| field_bits(s, b).map_err(|e| format!("`{text}`: {e}"));
            let (dom, dom_star) = field(dom, &DOM)?;
            let (dow, dow_star) = field(dow, &DOW)?;
            CronKind::Fields(Fields {
                minute: field(minute, &MINUTE)?.0,
                hour: field(hour, &HOUR)?.0,
                dom,
                month: field(month, &MONTH)?.0,
                dow,
                dom_star,
                dow_star,
            })
        };
        Ok(Self { kind, zone })
    }

    /// The zone of a `CRON_TZ=`/`TZ=` prefix.
    pub fn zone(&self) -> Option<&str> {
        self.zone.as_deref()
    }

    /// Whether its times are computed exactly: no zone, or UTC.
    pub fn is_exact(&self) -> bool {
        matches!(
            self.zone.as_deref(),
            None | Some("UTC" | "Etc/UTC" | "GMT" | "Etc/GMT" | "Local")
        )
    }

    /// The first run strictly after `t`, reading the fields on the UTC clock; `None` when the
    /// fields match no date within five years.
    pub fn next_after(&self, t: i64) -> Option<i64> {
        match &self.kind {
            CronKind::Every(secs) => t.checked_add_unsigned(*secs),
            CronKind::Fields(f) => f.next_after(t),
        }
    }

    /// The time by which the first run after `reference` must have happened: exactly
    /// [`Self::next_after`] when [`Self::is_exact`], else the latest that run can be in any zone.
    pub fn due_after(&self, reference: i64) -> Option<i64> {
        match &self.kind {
            CronKind::Fields(f) if !self.is_exact() => {
                // A wall time w matching the fields happens at w - offset; the first matching w
                // after reference + 14 h happens after reference in every zone and at most 12 h
                // after w, so the zone's own next run is no later than that.
                Some(f.next_after(reference + MAX_EAST_SECS)? + MAX_WEST_SECS)
            }
            _ => self.next_after(reference),
        }
    }
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.kind, &self.zone) {
            (CronKind::Every(s), _) => write!(f, "every {s} s"),
            (CronKind::Fields(_), Some(z)) => write!(f, "cron in zone {z}"),
            (CronKind::Fields(_), None) => f.write_str("cron in UTC"),
        }
    }
}

fn descriptor_kind(descriptor: &str) -> Result<CronKind, String> {
    let fields =
        |minute: u64, hour: u64, dom: Option<u32>, month: Option<u32>, dow: Option<u32>| {
            let all = |b: &Bounds| bits(b.min, b.max, 1);
            CronKind::Fields(Fields {
                minute,
                hour,
                dom: dom.map_or_else(|| all(&DOM), |d| 1 << d),
                month: month.map_or_else(|| all(&MONTH), |m| 1 << m),
                dow: dow.map_or_else(|| all(&DOW), |d| 1 << d),
                dom_star: dom.is_none(),
                dow_star: dow.is_none(),
            })
        };
    // The set holding only 0: minute 0, hour 0.
    let zero = bits(0, 0, 1);
    let every_hour = bits(0, 23, 1);
    Ok(match descriptor {
        "yearly" | "annually" => fields(zero, zero, Some(1), Some(1), None),
        "monthly" => fields(zero, zero, Some(1), None, None),
        "weekly" => fields(zero, zero, None, None, Some(0)),
        "daily" | "midnight" => fields(zero, zero, None, None, None),
        "hourly" => fields(zero, every_hour, None, None, None),
        _ => {
            let Some(duration) = descriptor.strip_prefix("every ") else {
                return Err(format!("unknown descriptor @{descriptor}"));
            };
            let secs = crate::go_duration_secs(duration)
                .ok_or_else(|| format!("`{duration}` is not a Go duration (e.g. 1h30m)"))?;
            // The parser raises anything shorter to one second.
            CronKind::Every(secs.max(1))
        }
    })
}

/// The bits a field allows, and whether it was a plain `*`.
fn field_bits(text: &str, b: &Bounds) -> Result<(u64, bool), String> {
    let mut all = 0;
    let mut star = false;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s
                    .parse()
                    .map_err(|_| format!("{}: step `{s}` is not a number", b.what))?;
                if step == 0 {
                    return Err(format!("{}: a step of 0 in `{part}`", b.what));
                }
                (r, Some(step))
            }
            None => (part, None),
        };
        let (start, end, is_star) = if range == "*" || range == "?" {
            (b.min, b.max, true)
        } else {
            match range.split_once('-') {
                Some((lo, hi)) => (value(lo, b)?, value(hi, b)?, false),
                // `a/n` runs from a to the field's end.
                None if step.is_some() => (value(range, b)?, b.max, false),
                None => {
                    let v = value(range, b)?;
                    (v, v, false)
                }
            }
        };
        if start > end {
            return Err(format!("{}: range `{part}` runs backwards", b.what));
        }
        // A step over 1 makes `*` a list of values, not "any".
        star |= is_star && step.unwrap_or(1) == 1;
        all |= bits(start, end, step.unwrap_or(1));
    }
    Ok((all, star))
}

fn value(text: &str, b: &Bounds) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    let v = match b.names.iter().position(|n| *n == lower) {
        Some(i) => b.min + u32::try_from(i).unwrap_or(u32::MAX),
        None => text
            .parse()
            .map_err(|_| format!("{}: `{text}` is not a number or name", b.what))?,
    };
    if v < b.min || v > b.max {
        return Err(format!("{}: {v} is outside {}..={}", b.what, b.min, b.max));
    }
    Ok(v)
}

fn bits(start: u32, end: u32, step: u32) -> u64 {
    (start..=end)
        .step_by(step as usize)
        .fold(0, |acc, v| acc | 1 << v)
}

fn has(set: u64, v: u32) -> bool {
    set & (1 << v) != 0
}

impl Fields {
    fn day_matches(&self, date: Date) -> bool {
        let dom = has(self.dom, u32::from(date.day()));
        let dow = has(self.dow, u32::from(weekday_number(date.weekday())));
        if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    fn next_after(&self, t: i64) -> Option<i64> {
        // Runs are on whole minutes; the first candidate is the minute after t's.
        let start = OffsetDateTime::from_unix_timestamp(t.div_euclid(60) * 60 + 60).ok()?;
        let mut date = start.date();
        let (mut from_hour, mut from_minute) = (u32::from(start.hour()), u32::from(start.minute()));
        for _ in 0..SEARCH_DAYS {
            if has(self.month, u32::from(u8::from(date.month()))) && self.day_matches(date) {
                for hour in (from_hour..24).filter(|h| has(self.hour, *h)) {
                    let first = if hour == from_hour { from_minute } else { 0 };
                    if let Some(minute) = (first..60).find(|m| has(self.minute, *m)) {
                        let at = date.midnight().assume_utc().unix_timestamp();
                        return Some(at + i64::from(hour * 3600 + minute * 60));
                    }
                }
            }
            date = date.next_day()?;
            (from_hour, from_minute) = (0, 0);
        }
        None
    }
}

fn weekday_number(w: Weekday) -> u8 {
    w.number_days_from_sunday()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use time::format_description::well_known::Rfc3339;

    fn at(text: &str) -> i64 {
        OffsetDateTime::parse(text, &Rfc3339)
            .unwrap()
            .unix_timestamp()
    }

    fn show(t: i64) -> String {
        OffsetDateTime::from_unix_timestamp(t)
            .unwrap()
            .format(&Rfc3339)
            .unwrap()
    }

    // 2026-11-27 is a Friday.
    #[rstest]
    #[case::daily_before("0 2 * * *", "2026-11-27T01:59:59Z", "2026-11-27T02:00:00Z")]
    #[case::daily_at_the_minute("0 2 * * *", "2026-11-27T02:00:00Z", "2026-11-28T02:00:00Z")]
    #[case::daily_just_after("0 2 * * *", "2026-11-27T02:00:01Z", "2026-11-28T02:00:00Z")]
    #[case::half_past("30 2 * * *", "2026-11-27T02:10:00Z", "2026-11-27T02:30:00Z")]
    #[case::weekly_sunday("0 4 * * 0", "2026-11-27T06:00:00Z", "2026-11-29T04:00:00Z")]
    #[case::weekday_names("0 4 * * SUN", "2026-11-27T06:00:00Z", "2026-11-29T04:00:00Z")]
    #[case::workdays("15 1 * * mon-fri", "2026-11-27T06:00:00Z", "2026-11-30T01:15:00Z")]
    #[case::every_6h("0 */6 * * *", "2026-11-27T06:00:00Z", "2026-11-27T12:00:00Z")]
    #[case::from_3_every_6h("0 3/6 * * *", "2026-11-27T06:00:00Z", "2026-11-27T09:00:00Z")]
    #[case::list_and_range("5,10-12 * * * *", "2026-11-27T06:06:00Z", "2026-11-27T06:10:00Z")]
    #[case::month_end("0 0 31 * *", "2026-11-27T06:00:00Z", "2026-12-31T00:00:00Z")]
    #[case::month_name("0 0 1 jan *", "2026-11-27T06:00:00Z", "2027-01-01T00:00:00Z")]
    #[case::leap_day("0 0 29 2 *", "2026-11-27T06:00:00Z", "2028-02-29T00:00:00Z")]
    // Both day fields restricted: either matches (the 1st, or a Monday); both would be
    // Monday 2027-03-01.
    #[case::dom_or_dow("0 0 1 * 1", "2026-11-27T06:00:00Z", "2026-11-30T00:00:00Z")]
    // One of them `*`: both must (every day that is a Monday), not either (tomorrow).
    #[case::star_dom_and_dow("0 0 * * 1", "2026-11-27T06:00:00Z", "2026-11-30T00:00:00Z")]
    // `*/2` is not a star: days 1,3,5.. or Mondays.
    #[case::stepped_star_is_a_list("0 0 */2 * 1", "2026-11-27T06:00:00Z", "2026-11-29T00:00:00Z")]
    #[case::question_mark("0 0 ? * 1", "2026-11-27T06:00:00Z", "2026-11-30T00:00:00Z")]
    #[case::daily_descriptor("@daily", "2026-11-27T06:00:00Z", "2026-11-28T00:00:00Z")]
    #[case::midnight("@midnight", "2026-11-27T06:00:00Z", "2026-11-28T00:00:00Z")]
    #[case::hourly("@hourly", "2026-11-27T06:00:00Z", "2026-11-27T07:00:00Z")]
    #[case::weekly("@weekly", "2026-11-27T06:00:00Z", "2026-11-29T00:00:00Z")]
    #[case::monthly("@monthly", "2026-11-27T06:00:00Z", "2026-12-01T00:00:00Z")]
    #[case::yearly("@yearly", "2026-11-27T06:00:00Z", "2027-01-01T00:00:00Z")]
    #[case::every("@every 1h30m", "2026-11-27T06:00:10Z", "2026-11-27T07:30:10Z")]
    #[case::utc_prefix(
        "CRON_TZ=UTC 0 2 * * *",
        "2026-11-27T06:00:00Z",
        "2026-11-28T02:00:00Z"
    )]
    #[case::year_end("59 23 31 12 *", "2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z")]
    fn next_run(#[case] cron: &str, #[case] after: &str, #[case] want: &str) {
        let c = Cron::parse(cron).unwrap();
        assert_eq!(
            c.next_after(at(after)).map(show).as_deref(),
            Some(want),
            "{cron}"
        );
        assert_eq!(
            c.due_after(at(after)),
            c.next_after(at(after)),
            "{cron} is exact"
        );
    }

    #[test]
    fn an_impossible_date_never_runs() {
        let c = Cron::parse("0 0 30 2 *").unwrap();
        assert_eq!(c.next_after(at("2026-11-27T06:00:00Z")), None);
    }

    #[rstest]
    #[case::too_few("0 2 * *", "4 field(s), not 5")]
    #[case::seconds_field("0 0 2 * * *", "6 field(s), not 5")]
    #[case::minute_range("60 2 * * *", "minute: 60 is outside 0..=59")]
    #[case::dow_seven("0 2 * * 7", "day of week: 7 is outside 0..=6")]
    #[case::backwards("0 5-2 * * *", "hour: range `5-2` runs backwards")]
    #[case::zero_step("*/0 * * * *", "minute: a step of 0")]
    #[case::bad_name("0 2 * foo *", "month: `foo` is not a number or name")]
    #[case::descriptor("@fortnightly", "unknown descriptor @fortnightly")]
    #[case::every_days("@every 1d", "`1d` is not a Go duration")]
    #[case::zone_only("CRON_TZ=UTC", "a zone prefix and nothing after it")]
    fn refused(#[case] cron: &str, #[case] want: &str) {
        let err = Cron::parse(cron).unwrap_err();
        assert!(err.contains(want), "{cron}: {err}");
    }

    /// Another zone: the bound is never earlier than the true run in any zone, and a daily
    /// schedule is still due within two days.
    #[rstest]
    #[case::berlin_winter(
        "CRON_TZ=Europe/Berlin 0 2 * * *",
        "2026-11-27T06:00:00Z",
        "2026-11-28T01:00:00Z"
    )]
    #[case::kiritimati(
        "TZ=Pacific/Kiritimati 0 2 * * *",
        "2026-11-27T06:00:00Z",
        "2026-11-27T12:00:00Z"
    )]
    #[case::baker_island(
        "TZ=Etc/GMT+12 0 2 * * *",
        "2026-11-27T06:00:00Z",
        "2026-11-27T14:00:00Z"
    )]
    fn other_zones_are_bounded(#[case] cron: &str, #[case] after: &str, #[case] truth: &str) {
        let c = Cron::parse(cron).unwrap();
        assert!(!c.is_exact());
        let due = c.due_after(at(after)).unwrap();
        assert!(
            due >= at(truth),
            "{cron}: bound {} before the run {truth}",
            show(due)
        );
        assert!(due - at(after) <= 2 * 86_400, "{cron}: bound {}", show(due));
    }
}
