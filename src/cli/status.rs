//! `glidepath status --env ENV`: what the Argo Rollouts controller is doing with each service now.

use super::args::{Format, StatusArgs};
use super::views;
use super::{CliError, EXIT_OK};
use crate::catalog;
use crate::kinds::ProviderId;
use crate::plan::Selection;
use crate::providers::kube::{Access as KubeAccess, KubeProvider};

pub fn status(args: &StatusArgs) -> Result<u8, CliError> {
    let model = catalog::load(&args.catalog.catalog)?;
    let env = model
        .environment(&args.env)
        .ok_or_else(|| CliError::Usage(format!("--env {}: the catalog has no such environment", args.env)))?;
    let access = KubeAccess::from_env(args.kube_context.clone(), false)
        .ok_or_else(|| CliError::Usage("status needs a cluster: set KUBECONFIG".into()))?;
    let selection = Selection::only(ProviderId::KUBE, vec![args.env.clone()]);
    let provider = KubeProvider::connect(&model, &selection, &access)?;
    let progress = provider.rollout_progress(&model, &args.env)?;
    let heading = format!("{} in namespace {} ({})", args.env, env.namespace, provider.describe());
    let text = match args.format {
        Format::Human => views::status::human(&heading, &progress, views::table::stdout_width()),
        Format::Json => views::status::json(&args.env, &env.namespace, &progress),
        Format::Markdown => views::status::markdown(&heading, &progress),
    };
    out!("{text}");
    Ok(EXIT_OK)
}
