//! `glidepath check`, `glidepath simulate` and `glidepath explain`.

use super::args::{CheckArgs, ExplainArgs, Format, SimulateArgs};
use super::commands::load;
use super::views;
use super::{CliError, EXIT_OK, EXIT_WOULD_ABORT, EXIT_WOULD_PAUSE};
use crate::check::{self, simulate};
use crate::kinds::KubeKind;
use crate::render::Address;
use crate::rules;

/// The safety report and policy findings; exit 1 when an unwaived error remains.
pub fn check_command(args: &CheckArgs) -> Result<u8, CliError> {
    let model = crate::catalog::load(&args.catalog.catalog)?;
    let result = check::check_catalog(&model)?;
    let text = match args.format {
        Format::Human => views::check::human(&result, views::table::stdout_width()),
        Format::Json => views::check::json(&result),
        Format::Markdown => views::check::markdown(&result),
    };
    out!("{text}");
    if result.fails() {
        return Err(CliError::CheckFailed(result.findings.iter().filter(|f| f.fails()).count()));
    }
    Ok(EXIT_OK)
}

/// Replays a recorded series through one metric of the service's SLO analysis in one environment.
pub fn simulate(args: &SimulateArgs) -> Result<u8, CliError> {
    let (model, desired) = load(&args.catalog)?;
    let service = model
        .services
        .iter()
        .find(|s| s.name == args.service)
        .ok_or_else(|| CliError::Usage(format!("--service {}: no such service in the catalog", args.service)))?;
    let address = Address::scoped(
        &args.env,
        &service.name,
        KubeKind::AnalysisTemplate,
        crate::catalog::names::slo_template(&service.name),
    );
    let template = desired
        .resources
        .get(&address)
        .map(|r| r.body())
        .ok_or_else(|| CliError::Usage(format!("{} is not deployed to environment {}", service.name, args.env)))?;
    let specs = simulate::metric_specs(&template).map_err(|e| CliError::Usage(e.to_string()))?;
    let spec = match &args.metric {
        Some(name) => specs.iter().find(|m| &m.name == name).ok_or_else(|| {
            let known: Vec<&str> = specs.iter().map(|m| m.name.as_str()).collect();
            CliError::Usage(format!("--metric {name}: the analysis has {}", known.join(", ")))
        })?,
        None => specs.first().ok_or_else(|| CliError::Usage("the analysis has no metrics".into()))?,
    };
    let text = std::fs::read_to_string(&args.metrics)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", args.metrics.display())))?;
    let series =
        simulate::parse_series(&text).map_err(|e| CliError::Usage(format!("{}: {e}", args.metrics.display())))?;
    let result = simulate::simulate(spec, &series, args.start).map_err(|e| CliError::Usage(e.to_string()))?;
    match args.format {
        Format::Json => outln!("{}", serde_json::to_string_pretty(&result).expect("simulation serializes")),
        _ => out!("{}", simulate::render_human(&result)),
    }
    Ok(simulate_exit_code(&result.verdict))
}

/// `simulate`'s exit code, its verdict for scripts: 0 when the analysis would not stop the
/// rollout (it passes, or the series ends with no verdict), 3 when it would abort it, 4 when it
/// would pause it for a manual decision. 1 stays "error" and 2 "changes" (`--detailed-exitcode`).
fn simulate_exit_code(verdict: &simulate::Verdict) -> u8 {
    match verdict {
        simulate::Verdict::Failed { .. } | simulate::Verdict::Error { .. } => EXIT_WOULD_ABORT,
        simulate::Verdict::Inconclusive { .. } => EXIT_WOULD_PAUSE,
        simulate::Verdict::Successful { .. } | simulate::Verdict::Running => EXIT_OK,
    }
}

/// A rule's documentation, or every code with what it finds.
pub fn explain(args: &ExplainArgs) -> Result<u8, CliError> {
    let Some(query) = &args.code else {
        let mut list = String::new();
        for rule in rules::ALL {
            let severity = match rule.severity {
                check::Severity::Error => "error",
                check::Severity::Warning => "warning",
            };
            list.push_str(&format!("{:<38} {severity:<7} {}\n", rule.code, rule.what));
        }
        out!("{list}");
        return Ok(EXIT_OK);
    };
    let rule = rules::lookup(query).or_else(|| {
        rules::ALL.iter().copied().find(|r| r.code.as_str().split_once("::").is_some_and(|(_, name)| name == query))
    });
    let Some(rule) = rule else {
        let codes: Vec<&str> = rules::ALL.iter().map(|r| r.code.as_str()).collect();
        let hint = match crate::catalog::decode::closest(query, &codes) {
            Some(code) => format!("did you mean `{code}`?"),
            None => "`glidepath explain` lists every code".to_string(),
        };
        return Err(CliError::Usage(format!("no rule has the code `{query}`; {hint}")));
    };
    out!("{}", rule.explain());
    Ok(EXIT_OK)
}
