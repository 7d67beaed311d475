//! `glidepath drift`: for a nightly job. Reads live state and reports what changed since the
//! last apply, environments running images their predecessor never ran, and in GitOps
//! environments the Applications Argo CD reports out of step with git.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use serde_json::json;

use super::args::{DriftArgs, Format};
use super::commands::prepare;
use super::views::shown;
use super::{CliError, EXIT_CHANGES, EXIT_OK};
use crate::catalog::Delivery;
use crate::kinds::{Kind, KubeKind};
use crate::plan::drift::{drifted, out_of_sync, unpromoted};
use crate::render::Address;

pub fn drift(args: &DriftArgs) -> Result<u8, CliError> {
    let selection = args.select.selection();
    let model = crate::catalog::load(&args.select.catalog.catalog)?;
    let mut planned = prepare(&args.select, &selection, crate::state::store::Store::open(&args.select.state)?)?;
    if !planned.any_live() {
        return Err(CliError::Usage(
            "drift compares live state with the last apply: configure AWS or a kubeconfig (nothing live was read)"
                .into(),
        ));
    }
    let recorded: BTreeMap<Address, serde_json::Value> = planned
        .state
        .resources
        .iter()
        .filter(|(a, _)| selection.includes(a) && planned.read_live(a))
        .map(|(a, e)| (a.clone(), e.body.value()))
        .collect();
    let live_bodies = planned.live_bodies();
    let live: BTreeMap<Address, serde_json::Value> = live_bodies
        .iter()
        .filter(|(a, _)| recorded.contains_key(**a))
        .map(|(a, b)| ((*a).clone(), (*b).clone()))
        .collect();
    let changed = drifted(&recorded, &live);

    let mut running = BTreeMap::new();
    let rollout = Kind::Kube(KubeKind::Rollout);
    for (address, body) in live_bodies.iter().filter(|(a, _)| a.kind == rollout && planned.read_live(a)) {
        if let (Some(scope), Some(image)) = (&address.scope, crate::render::kube::app_image(body)) {
            running.insert((scope.owner.clone(), scope.env.clone()), image);
        }
    }
    let mut ran: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for record in planned.store.read_audit()? {
        for change in record.changes.iter().filter(|c| c.outcome == "applied") {
            if let (Ok(Address { scope: Some(scope), .. }), Some(image)) =
                (change.address.parse::<Address>(), &change.image)
            {
                ran.entry((scope.owner, scope.env)).or_default().insert(image.clone());
            }
        }
    }
    let order: Vec<String> = model.environments.iter().map(|e| e.name.clone()).collect();
    let unpromoted = unpromoted(&order, &running, &ran);

    // GitOps environments: Argo CD applies them, so the state holds nothing of theirs; what Argo
    // CD reports in the Applications is the comparison with git (the rendered tree).
    let mut applications = Vec::new();
    let mut notes = Vec::new();
    if let Some(cluster) = planned.cluster.as_mut() {
        let gitops = model.environments.iter().filter(|e| {
            e.delivery == Delivery::Gitops && (selection.envs.is_empty() || selection.envs.contains(&e.name))
        });
        for env in gitops {
            let Some(live) = cluster.applications(&env.name)? else {
                notes.push(format!(
                    "{} is a GitOps environment, but its cluster has no Argo CD Applications API: not compared with git",
                    env.name
                ));
                continue;
            };
            let mut expected: Vec<String> = model
                .services
                .iter()
                .filter(|s| s.environments.contains(&env.name))
                .map(|s| format!("{}-{}", s.name, env.name))
                .collect();
            // The environment's shared objects have an Application only when it has any.
            let shared = format!("{}-{}", model.platform.name, env.name);
            if live.iter().any(|a| a["metadata"]["name"] == shared.as_str()) {
                expected.insert(0, shared);
            }
            applications.extend(out_of_sync(&env.name, &expected, &live));
        }
    }
    let found = !changed.is_empty() || !unpromoted.is_empty() || !applications.is_empty();

    match args.format {
        Format::Json => outln!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"format_version": "1.0", "drifted": changed, "unpromoted": unpromoted, "applications": applications, "notes": notes})
            )
            .expect("drift serializes")
        ),
        _ => {
            let mut out = String::new();
            for d in &changed {
                writeln!(out, "~ {}  ({} since the last apply)", d.address, d.kind).ok();
                for f in &d.fields {
                    writeln!(out, "    ~ {}: {} → {}", f.path, shown(&f.path, &f.before), shown(&f.path, &f.after))
                        .ok();
                }
            }
            for u in &unpromoted {
                writeln!(out, "! {} in {} runs {}, which {} never ran", u.service, u.environment, u.image, u.previous)
                    .ok();
            }
            for a in &applications {
                writeln!(out, "~ Application {} in {}: {}, health {} (Argo CD)", a.application, a.environment, a.sync, a.health)
                    .ok();
                for r in &a.resources {
                    writeln!(out, "    ~ {r}").ok();
                }
            }
            for note in &notes {
                writeln!(out, "note: {note}").ok();
            }
            if !found {
                writeln!(out, "No drift: {} recorded resources match live state.", recorded.len()).ok();
            } else {
                writeln!(
                    out,
                    "\nDrift: {} resource(s) changed or missing, {} unpromoted image(s), {} Application(s) out of step with git.",
                    changed.len(),
                    unpromoted.len(),
                    applications.len()
                )
                .ok();
            }
            out!("{out}");
        }
    }
    Ok(if args.detailed_exitcode && found { EXIT_CHANGES } else { EXIT_OK })
}
