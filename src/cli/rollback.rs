//! `glidepath rollback`: abort or undo a service's rollout in one environment, audited; in a
//! GitOps environment, also restore the catalog and quarantine the image rolled back from.

use super::args::{RenderArgs, RollbackArgs};
use super::commands::render_to_dir;
use super::promote::{hcl_file_of, write_validated};
use super::{CliError, EXIT_OK};
use crate::catalog::{self, edit, Delivery};
use crate::kinds::KubeKind;
use crate::kinds::ProviderId;
use crate::plan::Selection;
use crate::providers::kube::{Access as KubeAccess, KubeProvider, RollbackOutcome, RolledBack};
use crate::render::aws::ecr_repository_uri;
use crate::render::Address;
use crate::state;
use crate::state::audit::{self, AuditRecord, ChangeOutcome};
use crate::state::store::Store;

/// Rolls a service back in one environment and records it in the audit trail.
pub fn rollback(args: &RollbackArgs) -> Result<u8, CliError> {
    let model = catalog::load(&args.catalog.catalog)?;
    if model.environment(&args.env).is_none() {
        return Err(CliError::Usage(format!("--env {}: the catalog has no such environment", args.env)));
    }
    let service = model
        .services
        .iter()
        .find(|s| s.name == args.service)
        .ok_or_else(|| CliError::Usage(format!("{}: no such service in the catalog", args.service)))?;
    let access = KubeAccess::from_env(args.kube_context.clone(), false)
        .ok_or_else(|| CliError::Usage("rollback needs a cluster: set KUBECONFIG".into()))?;
    let selection = Selection::only(ProviderId::KUBE, vec![args.env.clone()]);
    let mut provider = KubeProvider::connect(&model, &selection, &access)?;
    let store = Store::open(&args.state)?;
    let _lock = store.lock("rollback")?;
    let address = Address::scoped(&args.env, &service.name, KubeKind::Rollout, service.name.clone());
    let outcome = match provider.rollback(&args.env, &service.name) {
        Ok(done) => done,
        Err(e) => {
            let record = rollback_record(&args.catalog.catalog, &address, "failed", Some(e.to_string()));
            store.append_audit(&record)?;
            return Err(e.into());
        }
    };
    let what = match &outcome.done {
        RolledBack::Aborted => "aborted the update in flight: the stable version takes all traffic again".to_string(),
        RolledBack::Undone { from_revision, to_revision } => {
            format!("returned from revision {from_revision} to revision {to_revision}")
        }
    };
    store.append_audit(&rollback_record(&args.catalog.catalog, &address, "rolled back", None))?;
    outln!("{} in {}: {what}.", service.name, args.env);
    let gitops = model.environment(&args.env).is_some_and(|e| e.delivery == Delivery::Gitops);
    if gitops {
        restore_catalog(args, &model, service, &outcome, &what)?;
    } else {
        outln!(
            "Argo Rollouts notifies the service's routes (on-rollout-aborted / on-rollout-updated). The catalog still names the new version: fix it before the next apply, or glidepath will roll forward again."
        );
    }
    if let Some(migrations) = &service.migrations {
        outln!("{}", migration_note(&migrations.command, migrations.backward_compatible));
    }
    Ok(EXIT_OK)
}

/// GitOps mode: Argo CD would sync the bad version straight back from git (argoproj/argo-cd#9570),
/// so the catalog gets the version now serving back and quarantines the one rolled back from;
/// both in the file that declares the service, ready for a commit (a pull request where the
/// environment needs approval). With `--out`, the GitOps tree is rendered again too.
fn restore_catalog(
    args: &RollbackArgs,
    model: &catalog::Model,
    service: &catalog::Service,
    outcome: &RollbackOutcome,
    what: &str,
) -> Result<(), CliError> {
    let env = model.environment(&args.env).expect("checked above");
    let repository = ecr_repository_uri(model, service);
    let reference = |image: &str| -> Option<String> {
        let rest = image.strip_prefix(&repository)?;
        rest.strip_prefix('@').or_else(|| rest.strip_prefix(':')).map(str::to_string)
    };
    let named = service.per_env.get(&args.env).map(|s| s.image_tag.clone()).unwrap_or_default();
    let good = outcome.good_image.as_deref().and_then(reference).ok_or_else(|| {
        CliError::Usage(format!(
            "rolled back in the cluster, but the version now serving ({}) is not an image of {repository}: set image_tag.{} of {} by hand and quarantine {named}",
            outcome.good_image.as_deref().unwrap_or("unknown"),
            args.env,
            service.name
        ))
    })?;
    // What the catalog names is what the rendered tree deploys: that is the version to keep out.
    let bad = if named != good {
        named.clone()
    } else {
        outcome.bad_image.as_deref().and_then(reference).unwrap_or_default()
    };
    let path = hcl_file_of(
        service,
        &format!("set image_tag.{} = \"{good}\" and add a quarantine entry for {bad} by hand", args.env),
    )?;
    let original =
        std::fs::read_to_string(&path).map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
    let mut edited = original.clone();
    if named != good {
        edited = edit::set_image_tag(&edited, &service.name, &args.env, &good).map_err(|e| {
            CliError::Usage(format!("{}: {e}; set image_tag.{} = \"{good}\" by hand", path.display(), args.env))
        })?;
    }
    if !bad.is_empty() && bad != good {
        let reason = format!(
            "rolled back in {} by {} at {}: {what}",
            args.env,
            audit::who(&args.catalog.catalog),
            state::lock::now()
        );
        edited = edit::add_quarantine(&edited, &bad, &service.name, std::slice::from_ref(&args.env), &reason)
            .map_err(|e| CliError::Usage(format!("{}: {e}; add the quarantine entry by hand", path.display())))?;
    }
    write_validated(&args.catalog.catalog, &path, &original, &edited)?;
    outln!(
        "{} is a GitOps environment: {} now names {good} for {} in {} again and quarantines {bad} there, so the next sync keeps {good} and nothing renders {bad} until the entry is cleared (glidepath quarantine clear {bad} --service {} --reason \"…\").",
        args.env,
        path.display(),
        service.name,
        args.env,
        service.name
    );
    let mut paths = vec![path.display().to_string()];
    if let Some(out) = &args.out {
        render_to_dir(&RenderArgs { catalog: args.catalog.clone(), out: out.clone() })?;
        paths.push(out.join("gitops").display().to_string());
    }
    let message = format!("rollback {} in {}: {bad} -> {good}, {bad} quarantined", service.name, args.env);
    if env.approval {
        outln!("{} needs approval: commit on a branch and open a pull request:", args.env);
        outln!("  git switch -c rollback/{}-{}", service.name, args.env);
        outln!("  git add {}", paths.join(" "));
        outln!("  git commit -m '{message}'");
        outln!("  git push -u origin HEAD   # then open the pull request");
    } else {
        outln!("Commit it to the branch Argo CD follows:");
        outln!("  git add {}", paths.join(" "));
        outln!("  git commit -m '{message}'");
        outln!("  git push");
    }
    Ok(())
}

/// What a rollback cannot undo: the pods go back, the schema does not.
fn migration_note(command: &[String], backward_compatible: bool) -> String {
    let declared = if backward_compatible {
        "The catalog declares it backward compatible, so the version now serving should run against it."
    } else {
        "It is NOT declared backward compatible: check that the version now serving works against the migrated schema."
    };
    format!(
        "Not undone: the migration ({}) already ran when the new version was applied; rollback changes pods, never the database. {declared} Undo it, if needed, with the migration tool's own down migration.",
        command.join(" ")
    )
}

fn rollback_record(catalog: &std::path::Path, address: &Address, result: &str, error: Option<String>) -> AuditRecord {
    AuditRecord {
        time: state::lock::now(),
        who: audit::who(catalog),
        host: state::lock::host(),
        aws: None,
        revision: audit::revision(catalog),
        plan_digest: String::new(),
        result: format!("rollback: {result}"),
        changes: vec![ChangeOutcome {
            address: address.to_string(),
            action: "rollback".into(),
            outcome: if error.is_some() { "failed".into() } else { "applied".into() },
            error,
            image: None,
        }],
    }
}
