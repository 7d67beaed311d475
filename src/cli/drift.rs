//! `glidepath drift`: for a nightly job. Reads live state and reports what changed since the
//! last apply, and environments running images their predecessor never ran.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use serde_json::json;

use super::args::{DriftArgs, Format};
use super::commands::prepare;
use super::views::shown;
use super::{CliError, EXIT_CHANGES, EXIT_OK};
use crate::kinds::{Kind, KubeKind};
use crate::plan::drift::{drifted, unpromoted};
use crate::render::Address;

pub fn drift(args: &DriftArgs) -> Result<u8, CliError> {
    let selection = args.select.selection();
    let model = crate::catalog::load(&args.select.catalog.catalog)?;
    let planned = prepare(&args.select, &selection, crate::state::store::Store::open(&args.select.state)?)?;
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
        .map(|(a, e)| (a.clone(), e.body.clone()))
        .collect();
    let live: BTreeMap<Address, serde_json::Value> =
        planned.live.iter().filter(|(a, _)| recorded.contains_key(*a)).map(|(a, b)| (a.clone(), b.clone())).collect();
    let changed = drifted(&recorded, &live);

    let mut running = BTreeMap::new();
    let rollout = Kind::Kube(KubeKind::Rollout);
    for (address, body) in planned.live.iter().filter(|(a, _)| a.kind == rollout && planned.read_live(a)) {
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

    match args.format {
        Format::Json => outln!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"format_version": "1.0", "drifted": changed, "unpromoted": unpromoted})
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
            if changed.is_empty() && unpromoted.is_empty() {
                writeln!(out, "No drift: {} recorded resources match live state.", recorded.len()).ok();
            } else {
                writeln!(
                    out,
                    "\nDrift: {} resource(s) changed or missing, {} unpromoted image(s).",
                    changed.len(),
                    unpromoted.len()
                )
                .ok();
            }
            out!("{out}");
        }
    }
    Ok(if args.detailed_exitcode && (!changed.is_empty() || !unpromoted.is_empty()) { EXIT_CHANGES } else { EXIT_OK })
}
