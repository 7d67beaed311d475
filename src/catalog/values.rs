//! Scalar value types that catalogs write as strings: durations, percentages, resource quantities.
//! Each parser returns the reason a string is malformed, phrased for the user.

use std::fmt;

use serde::Serialize;

/// A length of time, written `30s`, `5m`, `1h30m`, `500ms`; rendered in the same Go-compatible form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Duration {
    pub millis: u64,
}

const MAX_DURATION_MILLIS: u64 = 366 * 24 * 3_600_000;

impl Duration {
    pub fn from_secs(secs: u64) -> Self {
        Duration { millis: secs * 1000 }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("a duration cannot be empty".into());
        }
        let mut millis: u64 = 0;
        let mut rest = text;
        while !rest.is_empty() {
            let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 {
                return Err(format!("`{text}` is not a duration: expected a number before `{rest}`"));
            }
            let number: u64 = rest[..digits].parse().map_err(|_| format!("`{text}`: number too large"))?;
            rest = &rest[digits..];
            let unit_len = rest.chars().take_while(|c| c.is_ascii_alphabetic()).count();
            let unit = &rest[..unit_len];
            let factor = match unit {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "" => return Err(format!("`{text}` has no unit: write e.g. `{number}s` or `{number}m`")),
                other => return Err(format!("`{other}` is not a duration unit (use ms, s, m or h)")),
            };
            millis = millis.saturating_add(number.saturating_mul(factor));
            rest = &rest[unit_len..];
        }
        // Nothing in a delivery setup waits a year; longer values only overflow what renders them.
        if millis > MAX_DURATION_MILLIS {
            return Err(format!("`{text}` is longer than a year"));
        }
        Ok(Duration { millis })
    }

    pub fn as_secs(&self) -> u64 {
        self.millis / 1000
    }

    /// Whole seconds, rounded up, for Kubernetes fields that count seconds.
    pub fn as_secs_ceil(&self) -> u64 {
        self.millis.div_ceil(1000)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.millis == 0 {
            return write!(f, "0s");
        }
        if !self.millis.is_multiple_of(1000) {
            return write!(f, "{}ms", self.millis);
        }
        let mut secs = self.millis / 1000;
        let hours = secs / 3600;
        secs %= 3600;
        let minutes = secs / 60;
        secs %= 60;
        if hours > 0 {
            write!(f, "{hours}h")?;
        }
        if minutes > 0 {
            write!(f, "{minutes}m")?;
        }
        if secs > 0 {
            write!(f, "{secs}s")?;
        }
        Ok(())
    }
}

/// A percentage written `1%` or `0.5%`; kept as a fraction (0.01) for PromQL comparisons.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
pub struct Percent {
    pub fraction: f64,
}

impl Percent {
    pub fn parse(text: &str) -> Result<Self, String> {
        let number = text
            .trim()
            .strip_suffix('%')
            .ok_or_else(|| format!("`{text}` is not a percentage: write it with a `%`, e.g. `1%`"))?;
        let value: f64 =
            number.trim().parse().map_err(|_| format!("`{text}` is not a percentage: `{number}` is not a number"))?;
        if !(0.0..=100.0).contains(&value) {
            return Err(format!("`{text}` is outside 0%–100%"));
        }
        Ok(Percent { fraction: value / 100.0 })
    }

    pub fn percent(&self) -> f64 {
        self.fraction * 100.0
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", trim_float(self.percent()))
    }
}

/// Shortest decimal form of a float: 1.0 → "1", 0.25 → "0.25".
pub fn trim_float(value: f64) -> String {
    let text = format!("{:.6}", value);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Which kind of Kubernetes resource a quantity measures: CPU allows millicores, memory binary units.
#[derive(Debug, Clone, Copy)]
pub enum QuantityKind {
    Cpu,
    Memory,
}

/// Checks a Kubernetes resource quantity (`250m`, `1.5`, `512Mi`, `2Gi`) and returns it unchanged.
pub fn parse_quantity(text: &str, kind: QuantityKind) -> Result<String, String> {
    let digits = text.chars().take_while(|c| c.is_ascii_digit() || *c == '.').count();
    let (number, suffix) = text.split_at(digits);
    if number.is_empty() || number.parse::<f64>().is_err() {
        return Err(format!("`{text}` is not a quantity: it must start with a number"));
    }
    let allowed: &[&str] = match kind {
        QuantityKind::Cpu => &["", "m"],
        QuantityKind::Memory => &["", "k", "M", "G", "T", "Ki", "Mi", "Gi", "Ti"],
    };
    if !allowed.contains(&suffix) {
        let hint = match kind {
            QuantityKind::Cpu => "CPU is written in cores (`1`, `0.5`) or millicores (`250m`)",
            QuantityKind::Memory => "memory is written with Ki, Mi, Gi (binary) or k, M, G (decimal), e.g. `512Mi`",
        };
        return Err(format!("`{text}` has unit `{suffix}`: {hint}"));
    }
    if number.parse::<f64>().unwrap_or(0.0) <= 0.0 {
        return Err(format!("`{text}` must be greater than zero"));
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print_canonically() {
        assert_eq!(Duration::parse("90s").unwrap().to_string(), "1m30s");
        assert_eq!(Duration::parse("1h30m").unwrap().millis, 5_400_000);
        assert_eq!(Duration::parse("500ms").unwrap().to_string(), "500ms");
        assert_eq!(Duration::parse("10m").unwrap().as_secs(), 600);
        assert!(Duration::parse("5").unwrap_err().contains("no unit"));
        assert!(Duration::parse("5 minutes").is_err());
        assert!(Duration::parse("3d").unwrap_err().contains("not a duration unit"));
        assert!(Duration::parse("600000h").unwrap_err().contains("longer than a year"));
        assert!(Duration::parse("99999999999999999999h").is_err());
    }

    #[test]
    fn percentages_become_fractions() {
        assert_eq!(Percent::parse("1%").unwrap().fraction, 0.01);
        assert_eq!(Percent::parse("0.5%").unwrap().to_string(), "0.5%");
        assert!(Percent::parse("1").unwrap_err().contains("with a `%`"));
        assert!(Percent::parse("150%").is_err());
    }

    #[test]
    fn quantities_follow_kubernetes_units() {
        assert!(parse_quantity("250m", QuantityKind::Cpu).is_ok());
        assert!(parse_quantity("512Mi", QuantityKind::Memory).is_ok());
        assert!(parse_quantity("512MB", QuantityKind::Memory).unwrap_err().contains("Mi"));
        assert!(parse_quantity("lots", QuantityKind::Cpu).is_err());
        assert!(parse_quantity("0", QuantityKind::Cpu).is_err());
    }
}
