//! Editing a catalog file in place (for `promote`, a GitOps `rollback` and `quarantine clear`),
//! keeping its formatting and comments: only the values concerned change, so the pull request
//! shows those lines. HCL through hcl-edit's syntax tree; YAML (image tags only) by splicing the
//! text at the spans the catalog's own YAML reader records (no YAML library writes YAML back with
//! its comments and layout).

mod hcl;
mod yaml;

pub use hcl::{add_quarantine, clear_quarantine, set_image_tag};
pub use yaml::set_image_tag_yaml;
