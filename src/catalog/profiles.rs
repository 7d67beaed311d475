//! Profiles ("modules"): named bundles of service settings a service picks with `use = "NAME"`.
//! Built-in profiles ship inside the binary (the repository's `modules/`); a catalog directory's
//! own `modules/` adds profiles and may replace a built-in one of the same name.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::source::SourceFile;
use super::tree::Node;

/// The repository's `modules/*.hcl`, compiled in so every catalog can use them.
pub const BUILTIN_MODULES: &[(&str, &str)] = &[
    ("modules/critical.hcl", include_str!("../../modules/critical.hcl")),
    ("modules/standard.hcl", include_str!("../../modules/standard.hcl")),
    ("modules/internal.hcl", include_str!("../../modules/internal.hcl")),
];

pub fn builtin_files() -> Vec<Arc<SourceFile>> {
    BUILTIN_MODULES.iter().map(|(path, text)| SourceFile::new(format!("<built-in>/{path}"), *text)).collect()
}

/// Where a profile came from; a catalog's own profile may replace a built-in one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    BuiltIn,
    Catalog,
}

#[derive(Debug, Default)]
pub struct ProfileSet {
    profiles: BTreeMap<String, (Node, Origin)>,
}

impl ProfileSet {
    /// Adds a profile; returns the existing one's node when the name is already taken at the same origin.
    pub fn insert(&mut self, name: String, node: Node, origin: Origin) -> Result<(), Node> {
        match self.profiles.get(&name) {
            Some((existing, existing_origin)) if *existing_origin == origin => Err(existing.clone()),
            _ => {
                self.profiles.insert(name, (node, origin));
                Ok(())
            }
        }
    }

    pub fn get(&self, name: &str) -> Option<&Node> {
        self.profiles.get(name).map(|(node, _)| node)
    }

    pub fn names(&self) -> Vec<&str> {
        self.profiles.keys().map(String::as_str).collect()
    }
}
