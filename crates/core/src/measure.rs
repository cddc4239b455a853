//! Measurements: one structured line a trial prints so that the acceptance gate can read what a
//! check measured (pods healthy n of N, rules ok n of N, ...) from the JUnit report.
//!
//! The line is `carbon-e2e-measure {"key":"platform.pods_healthy","value":412.0,"of":420.0}`
//! at the start of a line of the trial's stdout; nextest keeps that output in the JUnit's
//! `system-out` (the `ci` profile stores success output too), and `carbon-gate` parses it back
//! with [`Measurement::parse`]. Printing and parsing live here, side by side, so the format has
//! one owner.

use serde::{Deserialize, Serialize};

/// What starts every measurement line.
pub const PREFIX: &str = "carbon-e2e-measure ";

/// One measured value: `value` alone (a count), or `value` of `of` (a share).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// `<suite>.<what>`, e.g. `platform.pods_healthy`: the gate's categories name the keys
    /// they read.
    pub key: String,
    /// What was measured.
    pub value: f64,
    /// Out of how many, when the value is a part of a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of: Option<f64>,
}

impl Measurement {
    /// A measurement of `key`.
    pub fn new(key: impl Into<String>, value: f64, of: Option<f64>) -> Self {
        Self {
            key: key.into(),
            value,
            of,
        }
    }

    /// The line, without its newline.
    pub fn line(&self) -> String {
        // Serialising a struct of a string and finite numbers cannot fail; a non-finite number
        // is written as null by serde_json, which `parse` then refuses.
        format!(
            "{PREFIX}{}",
            serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
        )
    }

    /// Prints the line on stdout, where the trial's output goes (nextest keeps it in JUnit).
    pub fn emit(&self) {
        println!("{}", self.line());
    }

    /// The measurement a line holds, if it is one (leading whitespace allowed; anything that
    /// is not a well-formed measurement with finite numbers is `None`).
    pub fn parse(line: &str) -> Option<Self> {
        let json = line.trim_start().strip_prefix(PREFIX)?;
        let m: Self = serde_json::from_str(json.trim()).ok()?;
        (m.value.is_finite() && m.of.is_none_or(f64::is_finite) && !m.key.is_empty()).then_some(m)
    }

    /// Every measurement in a trial's output, in order.
    pub fn all_in(output: &str) -> Vec<Self> {
        output.lines().filter_map(Self::parse).collect()
    }
}

/// Prints a measurement of `key` (see [`Measurement::emit`]). Checks that live in a suite's
/// library, outside any `Ctx`, call this; trials call `Ctx::measure`.
pub fn emit(key: &str, value: f64, of: Option<f64>) {
    Measurement::new(key, value, of).emit();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_reads_back_as_the_same_measurement() {
        let m = Measurement::new("platform.pods_healthy", 412.0, Some(420.0));
        let line = m.line();
        assert_eq!(
            line,
            r#"carbon-e2e-measure {"key":"platform.pods_healthy","value":412.0,"of":420.0}"#
        );
        assert_eq!(Measurement::parse(&line), Some(m));
        let count = Measurement::new("platform.pods_running", 7.0, None);
        assert_eq!(Measurement::parse(&count.line()), Some(count));
    }

    #[test]
    fn other_lines_and_malformed_measurements_are_not_measurements() {
        let out = "trial x\n[  0.010s] carbon-e2e-measure {\"key\":\"a\",\"value\":1}\n\
                   carbon-e2e-measure {\"key\":\"b\"}\ncarbon-e2e-measure {\"key\":\"\",\"value\":1}\n\
                   carbon-e2e-measure {\"key\":\"c\",\"value\":2,\"of\":3}\n";
        assert_eq!(
            Measurement::all_in(out),
            vec![Measurement::new("c", 2.0, Some(3.0))]
        );
        let nan = Measurement::new("n", f64::NAN, None);
        assert_eq!(Measurement::parse(&nan.line()), None);
    }
}
