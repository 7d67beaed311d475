//! `glidepath rollback`: abort or undo a service's rollout in one environment, audited.

use super::args::RollbackArgs;
use super::{CliError, EXIT_OK};
use crate::catalog;
use crate::kinds::KubeKind;
use crate::kinds::ProviderId;
use crate::plan::Selection;
use crate::providers::kube::{Access as KubeAccess, KubeProvider, RolledBack};
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
    let what = match &outcome {
        RolledBack::Aborted => "aborted the update in flight: the stable version takes all traffic again".to_string(),
        RolledBack::Undone { from_revision, to_revision } => {
            format!("returned from revision {from_revision} to revision {to_revision}")
        }
    };
    store.append_audit(&rollback_record(&args.catalog.catalog, &address, "rolled back", None))?;
    outln!("{} in {}: {what}.", service.name, args.env);
    outln!(
        "Argo Rollouts notifies the service's routes (on-rollout-aborted / on-rollout-updated). The catalog still names the new version: fix it before the next apply, or glidepath will roll forward again."
    );
    if let Some(migrations) = &service.migrations {
        outln!("{}", migration_note(&migrations.command, migrations.backward_compatible));
    }
    Ok(EXIT_OK)
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
