//! `glidepath promote SERVICE --to ENV (--from ENV | --image REF | --tag TAG)`: moves an image
//! to an environment by editing `image_tag` in the catalog, so promotion is a reviewed one-line
//! pull request and the next plan applies it (or Argo CD syncs the overlay rendered from it).
//! HCL and YAML catalog files are both edited in place, formatting and comments kept.

use std::path::PathBuf;

use super::args::PromoteArgs;
use super::{CliError, EXIT_OK};
use crate::catalog::{self, edit};
use crate::render::aws::ecr_repository_uri;

pub fn promote(args: &PromoteArgs) -> Result<u8, CliError> {
    let model = catalog::load(&args.catalog.catalog)?;
    let service = model
        .services
        .iter()
        .find(|s| s.name == args.service)
        .ok_or_else(|| CliError::Usage(format!("{}: no such service in the catalog", args.service)))?;
    let current = |env: &str| -> Result<String, CliError> {
        service
            .per_env
            .get(env)
            .map(|s| s.image_tag.clone())
            .ok_or_else(|| CliError::Usage(format!("{} is not deployed to environment {env}", service.name)))
    };
    let before = current(&args.to)?;
    let repository = ecr_repository_uri(&model, service);
    let tag = match (&args.from, &args.image, &args.tag) {
        (Some(from), _, _) => current(from)?,
        (_, Some(image), _) => {
            let reference = image.strip_prefix(&repository).ok_or_else(|| {
                CliError::Usage(format!("{image} is not an image of {}'s repository {repository}", service.name))
            })?;
            match (reference.strip_prefix('@'), reference.strip_prefix(':')) {
                (Some(digest), _) => digest.to_string(),
                (_, Some(tag)) => tag.to_string(),
                _ => {
                    return Err(CliError::Usage(format!("{image}: expected {repository}@sha256:… or {repository}:TAG")))
                }
            }
        }
        (_, _, Some(tag)) => tag.clone(),
        _ => unreachable!("clap requires one of --from, --image, --tag"),
    };
    if tag == before {
        outln!("{} in {} already runs {tag}: nothing to change.", service.name, args.to);
        return Ok(EXIT_OK);
    }
    // Refused here with the entry's reason, before any edit (the edited catalog would not
    // validate either: catalog::quarantined-image).
    if let Some(q) = model.quarantined(&service.name, &args.to, &tag) {
        return Err(CliError::Usage(format!(
            "{tag} of {} is quarantined in {}: {} ({}). Promote another version, or clear it with a reason: glidepath quarantine clear {tag} --service {} --reason \"…\"",
            service.name, args.to, q.reason, q.location, service.name
        )));
    }

    // The file that declares the service, HCL or YAML, edited in place either way.
    let path = declaring_file(service);
    let original =
        std::fs::read_to_string(&path).map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
    let edited = match path.extension().and_then(|e| e.to_str()) {
        Some("hcl") => edit::set_image_tag(&original, &service.name, &args.to, &tag),
        Some("yaml" | "yml") => edit::set_image_tag_yaml(&original, &service.name, &args.to, &tag),
        _ => Err("not an HCL or YAML catalog file".to_string()),
    }
    .map_err(|e| CliError::Usage(format!("{}: {e}; set image_tag.{} by hand", path.display(), args.to)))?;
    // The edit must leave a catalog that validates, or it is undone.
    write_validated(&args.catalog.catalog, &path, &original, &edited)?;
    outln!(
        "{} in {}: image_tag {before} → {tag} ({}). Review with `git diff`, open a pull request, then plan.",
        service.name,
        args.to,
        path.display()
    );
    Ok(EXIT_OK)
}

/// The file that declares `service` (its location is `FILE:LINE:COL`).
fn declaring_file(service: &catalog::Service) -> PathBuf {
    PathBuf::from(service.location.rsplitn(3, ':').last().unwrap_or_default())
}

/// The HCL file that declares `service`, which rollback and quarantine edit (in YAML catalogs
/// those edits are made by hand: `otherwise` says how).
pub(super) fn hcl_file_of(service: &catalog::Service, otherwise: &str) -> Result<PathBuf, CliError> {
    let path = declaring_file(service);
    if path.extension().and_then(|e| e.to_str()) != Some("hcl") {
        return Err(CliError::Usage(format!(
            "{} is declared in {}: glidepath edits HCL catalogs; {otherwise}",
            service.name,
            path.display()
        )));
    }
    Ok(path)
}

/// Writes `edited` over `path`, and puts `original` back if the catalog then does not validate.
pub(super) fn write_validated(
    catalog_path: &std::path::Path,
    path: &std::path::Path,
    original: &str,
    edited: &str,
) -> Result<catalog::Model, CliError> {
    let write = |text: &str| {
        std::fs::write(path, text).map_err(|e| CliError::Usage(format!("cannot write {}: {e}", path.display())))
    };
    write(edited)?;
    match catalog::load(catalog_path) {
        Ok(model) => Ok(model),
        Err(error) => {
            write(original)?;
            Err(error.into())
        }
    }
}
