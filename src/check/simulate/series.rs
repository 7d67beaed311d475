//! Recorded metric series: `Sample`, and parsing CSV and Prometheus range-query JSON into samples.

use serde::Serialize;
use serde_json::Value;

use super::report::serialize_value;
use super::SimulateError;

/// One recorded value of the metric's query, `t_secs` seconds from the start of the series.
/// `value: None` is no data (an empty CSV cell).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    pub t_secs: f64,
    #[serde(serialize_with = "serialize_value")]
    pub value: Option<f64>,
}

/// Parses a recorded series. A text starting with `{` is a Prometheus range-query response
/// (`/api/v1/query_range`, `resultType: matrix`, one series; timestamps become offsets from its
/// first sample; `"NaN"` values are kept; an empty `result` is no data everywhere, an empty
/// series). Anything else is CSV with a `timestamp,value` header: timestamps are seconds from the
/// start, or RFC 3339 times (`2026-11-25T10:00:00Z`) taken relative to the first row; an empty
/// value is no data. Blank lines and `#` comments are skipped; timestamps must increase.
pub fn parse_series(text: &str) -> Result<Vec<Sample>, SimulateError> {
    let text = text.trim_start_matches('\u{feff}');
    if text.trim_start().starts_with('{') {
        parse_prometheus_json(text)
    } else {
        parse_csv(text)
    }
}

fn parse_csv(text: &str) -> Result<Vec<Sample>, SimulateError> {
    let csv_err = |line: usize, reason: String| SimulateError::Csv { line, reason };
    // The csv crate reads quoting (`"2026-11-25T10:00:00Z"`, a quoted comma), skips blank lines
    // and `#` comments, and numbers every record by its line in the file. Rows of another width
    // than the header are read (`flexible`) so the error can say how to write no data.
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    // A line of spaces is blank too (the csv crate skips only empty ones).
    let blank = |record: &csv::StringRecord| record.iter().all(str::is_empty);
    let mut records = reader
        .records()
        .map(|record| {
            record.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line() as usize);
                csv_err(line, e.to_string())
            })
        })
        .filter(|record| !record.as_ref().is_ok_and(blank));
    let line_of = |record: &csv::StringRecord| record.position().map_or(0, |p| p.line() as usize);
    let header = records.next().ok_or_else(|| SimulateError::Series("the CSV is empty".into()))??;
    let header_line = line_of(&header);
    let columns: Vec<String> = header.iter().map(|c| c.to_ascii_lowercase()).collect();
    let position = |name: &str| columns.iter().position(|c| c == name);
    let (Some(ts_col), Some(value_col)) = (position("timestamp"), position("value")) else {
        let header: Vec<&str> = header.iter().collect();
        return Err(csv_err(header_line, format!("expected the header `timestamp,value`, got `{}`", header.join(","))));
    };

    #[derive(PartialEq, Clone, Copy)]
    enum TimeKind {
        Seconds,
        Rfc3339,
    }
    let mut kind: Option<TimeKind> = None;
    let mut first_rfc3339: Option<f64> = None;
    let mut samples: Vec<Sample> = Vec::new();
    for record in records {
        let record = record?;
        let line = line_of(&record);
        let cells: Vec<&str> = record.iter().collect();
        if cells.len() != columns.len() {
            return Err(csv_err(
                line,
                format!(
                    "{} column(s), but the header has {} (write no data as an empty value: `60,`)",
                    cells.len(),
                    columns.len()
                ),
            ));
        }
        let ts_text = cells[ts_col];
        let (this_kind, raw) = match ts_text.parse::<f64>() {
            Ok(secs) if secs.is_finite() => (TimeKind::Seconds, secs),
            Ok(_) => return Err(csv_err(line, format!("timestamp `{ts_text}` is not a finite number"))),
            Err(_) => match parse_rfc3339(ts_text) {
                Ok(unix) => (TimeKind::Rfc3339, unix),
                Err(reason) => {
                    return Err(csv_err(
                        line,
                        format!("timestamp `{ts_text}` is neither seconds nor an RFC 3339 time ({reason})"),
                    ))
                }
            },
        };
        match kind {
            None => kind = Some(this_kind),
            Some(k) if k != this_kind => {
                return Err(csv_err(line, "timestamps mix seconds and RFC 3339 times".into()));
            }
            _ => {}
        }
        let t_secs = match this_kind {
            TimeKind::Seconds => raw,
            TimeKind::Rfc3339 => raw - *first_rfc3339.get_or_insert(raw),
        };
        let value_text = cells[value_col];
        let value = if value_text.is_empty() {
            None
        } else {
            Some(parse_sample_value(value_text).map_err(|reason| csv_err(line, reason))?)
        };
        if let Some(last) = samples.last() {
            if t_secs <= last.t_secs {
                return Err(csv_err(line, format!("timestamp `{ts_text}` does not come after the previous row's")));
            }
        }
        samples.push(Sample { t_secs, value });
    }
    Ok(samples)
}

/// A sample value as Prometheus writes it: a decimal number, `NaN`, `+Inf` or `-Inf`.
fn parse_sample_value(text: &str) -> Result<f64, String> {
    text.trim().parse::<f64>().map_err(|_| format!("value `{text}` is not a number (or NaN, +Inf, -Inf)"))
}

fn parse_prometheus_json(text: &str) -> Result<Vec<Sample>, SimulateError> {
    let bad = |reason: String| SimulateError::PrometheusJson(reason);
    let doc: Value = serde_json::from_str(text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    match doc.get("status").and_then(Value::as_str) {
        Some("success") => {}
        Some(status) => {
            let error = doc.get("error").and_then(Value::as_str).unwrap_or("no error message");
            return Err(bad(format!("the query did not succeed (status `{status}`): {error}")));
        }
        None => return Err(bad("no `status` field; expected a /api/v1/query_range response".into())),
    }
    let data = doc.get("data").ok_or_else(|| bad("no `data` field".into()))?;
    match data.get("resultType").and_then(Value::as_str) {
        Some("matrix") => {}
        Some(other) => {
            return Err(bad(format!(
                "resultType is `{other}`; record the query with a range query (resultType matrix)"
            )))
        }
        None => return Err(bad("no `data.resultType` field".into())),
    }
    let result = data.get("result").and_then(Value::as_array).ok_or_else(|| bad("no `data.result` list".into()))?;
    let series = match result.as_slice() {
        [] => return Ok(Vec::new()),
        [one] => one,
        many => {
            let labels: Vec<String> =
                many.iter().take(3).map(|s| s.get("metric").map(Value::to_string).unwrap_or_default()).collect();
            return Err(bad(format!(
                "the query returned {} series ({}{}); the replay takes one — aggregate the query (e.g. with sum())",
                many.len(),
                labels.join(", "),
                if many.len() > 3 { ", ..." } else { "" }
            )));
        }
    };
    let values =
        series.get("values").and_then(Value::as_array).ok_or_else(|| bad("the series has no `values` list".into()))?;
    let mut samples: Vec<Sample> = Vec::with_capacity(values.len());
    let mut first: Option<f64> = None;
    for (i, pair) in values.iter().enumerate() {
        let at = |reason: String| bad(format!("values[{i}]: {reason}"));
        let [ts, value] = pair.as_array().map(Vec::as_slice).unwrap_or_default() else {
            return Err(at(format!("expected [timestamp, \"value\"], got {pair}")));
        };
        let ts = match ts {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.parse::<f64>().ok(),
            _ => None,
        }
        .filter(|t| t.is_finite())
        .ok_or_else(|| at(format!("timestamp {ts} is not a number")))?;
        let value = match value {
            Value::String(s) => parse_sample_value(s).map_err(&at)?,
            Value::Number(n) => n.as_f64().ok_or_else(|| at(format!("value {n} is not a number")))?,
            other => return Err(at(format!("value {other} is not a string"))),
        };
        let t_secs = ts - *first.get_or_insert(ts);
        if let Some(last) = samples.last() {
            if t_secs <= last.t_secs {
                return Err(at("timestamps must increase".into()));
            }
        }
        samples.push(Sample { t_secs, value: Some(value) });
    }
    Ok(samples)
}

/// Seconds since the Unix epoch of an RFC 3339 time: `2026-11-25T10:00:00Z`,
/// `2026-11-25T10:00:00.5+01:00` (a space may replace the `T`).
pub fn parse_rfc3339(text: &str) -> Result<f64, String> {
    let at: jiff::Timestamp = text.trim().parse().map_err(|e: jiff::Error| e.to_string())?;
    Ok(at.as_second() as f64 + f64::from(at.subsec_nanosecond()) / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_seconds_and_gaps() {
        let text = "# recorded by hand\ntimestamp,value\n0,0.004\n\n30,\n60,NaN\n90, 0.05 \n";
        let series = parse_series(text).unwrap();
        assert_eq!(series.len(), 4);
        assert_eq!(series[0], Sample { t_secs: 0.0, value: Some(0.004) });
        assert_eq!(series[1], Sample { t_secs: 30.0, value: None });
        assert!(series[2].value.unwrap().is_nan());
        assert_eq!(series[3], Sample { t_secs: 90.0, value: Some(0.05) });
        // Columns in another order.
        assert_eq!(parse_series("value,timestamp\n0.5,10\n").unwrap(), vec![Sample { t_secs: 10.0, value: Some(0.5) }]);
    }

    #[test]
    fn csv_with_rfc3339_times_is_relative_to_the_first_row() {
        let text = "timestamp,value\n2026-11-25T10:00:00Z,0.001\n2026-11-25T10:01:30Z,0.002\n2026-11-25T11:02:00+01:00,0.003\n";
        let series = parse_series(text).unwrap();
        let times: Vec<f64> = series.iter().map(|s| s.t_secs).collect();
        assert_eq!(times, vec![0.0, 90.0, 120.0]);
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0.0));
        assert_eq!(parse_rfc3339("2024-11-25T10:00:00Z"), Ok(1_732_528_800.0));
        assert_eq!(parse_rfc3339("2000-03-01T00:00:00.25Z"), Ok(951_868_800.25));
        assert!(parse_rfc3339("2026-02-30T00:00:00Z").is_err());
        assert!(parse_rfc3339("2026-11-25T10:00:00").is_err());
        assert_eq!(parse_rfc3339("2024-11-25 11:00:00+01:00"), Ok(1_732_528_800.0));
    }

    #[test]
    fn csv_errors_name_the_line() {
        let err = |text: &str| parse_series(text).unwrap_err().to_string();
        assert!(err("time,val\n0,1\n").contains("line 1: expected the header `timestamp,value`"));
        assert!(err("timestamp,value\n0,1\n0,2\n").contains("line 3"));
        assert!(err("timestamp,value\n0,1\n60,abc\n").contains("line 3: value `abc`"));
        assert!(err("timestamp,value\n0,1\nyesterday,1\n").contains("line 3: timestamp `yesterday`"));
        assert!(err("timestamp,value\n0,1\n2026-11-25T10:00:00Z,1\n").contains("mix"));
        assert!(err("timestamp,value\n60\n").contains("line 2: 1 column(s)"));
    }

    #[test]
    fn csv_quoting_comments_and_blank_lines_are_read_as_csv_writers_write_them() {
        let text = "# exported from Grafana\n\"Timestamp\",\"Value\"\n\n\"2026-11-25T10:00:00Z\",\"0.5\"\n   \n# a gap\n2026-11-25T10:01:00Z,\n";
        let samples = parse_series(text).unwrap();
        assert_eq!(samples.len(), 2);
        assert_eq!((samples[0].t_secs, samples[0].value), (0.0, Some(0.5)));
        assert_eq!((samples[1].t_secs, samples[1].value), (60.0, None));
        // A quoted comma is one cell, so the row has the header's two columns and fails on its value.
        let err = parse_series("timestamp,value\n0,\"1,5\"\n").unwrap_err().to_string();
        assert!(err.contains("line 2: value `1,5`"), "{err}");
    }

    #[test]
    fn prometheus_matrix_json() {
        let text = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"service":"payment-service"},"values":[[1732528800,"0.004"],[1732528830.5,"NaN"],[1732528860,"+Inf"]]}]}}"#;
        let series = parse_series(text).unwrap();
        assert_eq!(series.len(), 3);
        assert_eq!(series[0], Sample { t_secs: 0.0, value: Some(0.004) });
        assert_eq!(series[1].t_secs, 30.5);
        assert!(series[1].value.unwrap().is_nan());
        assert_eq!(series[2].value, Some(f64::INFINITY));

        let empty = r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        assert_eq!(parse_series(empty).unwrap(), vec![]);

        let err = |text: &str| parse_series(text).unwrap_err().to_string();
        assert!(err(r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#).contains("parse error"));
        assert!(err(r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#).contains("range query"));
        assert!(err(r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"1"},"values":[]},{"metric":{"a":"2"},"values":[]}]}}"#)
            .contains("2 series"));
        assert!(err(r#"{"status":"success""#).contains("not valid JSON"));
    }
}
