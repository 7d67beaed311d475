//! The local state file (`.glidepath/state.json`): what glidepath last applied, per address.
//! Written atomically (temp file, fsync, rename) so a crash leaves the old state or the new one.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::plan::{Action, Change, Recorded};
use crate::render::Address;
pub use body::CompactBody;

pub const DEFAULT_PATH: &str = ".glidepath/state.json";
const FORMAT_VERSION: u32 = 1;

pub mod audit;
pub mod body;
pub mod journal;
pub mod lock;
pub mod remote;
pub mod store;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("remote state {location}: {action} failed: {reason}")]
    Remote { location: String, action: String, reason: String },
    #[error("state {path} is locked: {holder}")]
    Locked { path: String, holder: String },
    #[error("state {path} is not locked")]
    NotLocked { path: String },
    #[error("state {path} is not locked with id {id}: it is {holder}")]
    WrongLock { path: String, id: String, holder: String },
    #[error("cannot read state {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("state {path} is not a glidepath state file: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("state {path} belongs to catalog `{found}`, not `{expected}`; use --state to pick another file")]
    OtherCatalog { path: String, found: String, expected: String },
    #[error("cannot write state {path}: {reason}")]
    Write { path: String, reason: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateEntry {
    /// `sha256:` of the canonical JSON body, to spot drift without comparing bodies.
    pub digest: String,
    /// As applied, with secrets redacted; held as text until read (`body::CompactBody`).
    pub body: CompactBody,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    /// Identifies one state's history; a file from another lineage is another deployment.
    pub lineage: String,
    /// Increases by one with every write.
    pub serial: u64,
    pub catalog: String,
    pub resources: BTreeMap<Address, StateEntry>,
    /// Resources an apply started to create in more than one call (an S3 bucket, then its tags)
    /// and has not seen finished: the next plan adopts what it finds there as this catalog's
    /// and completes it, instead of calling it someone else's (see `apply::execute`).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub creating: BTreeSet<Address>,
}

impl State {
    pub fn new(catalog: &str) -> Self {
        // A random v4 UUID as 32 hex digits, the form lineages have always had.
        let lineage = uuid::Uuid::new_v4().simple().to_string();
        State {
            version: FORMAT_VERSION,
            lineage,
            serial: 0,
            catalog: catalog.to_string(),
            resources: BTreeMap::new(),
            creating: BTreeSet::new(),
        }
    }

    /// The recorded bodies as the "live" side of a plan against `desired`, but for the addresses
    /// `read_live` says a live provider read. Where a recorded digest is that of the desired body,
    /// the entry says so instead of holding a body: the plan takes the desired body for it (the
    /// recorded one has its secrets redacted and would look changed), and nothing is parsed or
    /// copied for the many resources a plan finds unchanged.
    /// Settled resources (`plan::gather`) are recorded as desired by definition.
    pub fn bodies_against(
        &self,
        desired: &crate::plan::Gathered,
        read_live: impl Fn(&Address) -> bool,
    ) -> BTreeMap<Address, Recorded<'static>> {
        self.resources
            .iter()
            .filter(|(a, _)| !read_live(a))
            .map(|(a, e)| {
                let same = desired.settled.contains_key(a)
                    || desired.held.resources.get(a).is_some_and(|r| digest(&r.body_ref()) == e.digest);
                let recorded = if same { Recorded::AsDesired } else { Recorded::Body(Cow::Owned(e.body.value())) };
                (a.clone(), recorded)
            })
            .collect()
    }

    /// Whether `address` is recorded with body digest `digest`, its creation finished: a plan
    /// against this state needs nothing more of it (`plan::gather`).
    pub fn records(&self, address: &Address, digest: &str) -> bool {
        !self.creating.contains(address) && self.resources.get(address).is_some_and(|e| e.digest == digest)
    }

    /// Records one change as carried out; `stored` is the body as the server stored it, when the
    /// provider returned one.
    pub fn record_change(&mut self, change: &Change, stored: Option<Value>) {
        // Carried out: whatever was being created is now recorded (or deleted) as a whole.
        self.creating.remove(&change.address);
        let after = stored.or_else(|| change.after.clone());
        match (&after, change.action) {
            (_, Action::Delete) | (None, _) => {
                self.resources.remove(&change.address);
            }
            (Some(body), _) => {
                // The digest is of the body as applied; the body is kept with secrets redacted
                // (`bodies_against` puts the desired body back where the digests agree).
                let entry = StateEntry { digest: digest(body), body: CompactBody::new(&crate::redact::body(body)) };
                self.resources.insert(change.address.clone(), entry);
            }
        }
    }
}

pub use crate::digest::digest;

/// Reads the state at `path`; a missing file is an empty state for `catalog`. The text is read
/// whole (parsing it as it is read took twice as long) and freed once parsed, before a plan
/// renders anything.
pub fn load(path: &Path, catalog: &str) -> Result<State, StateError> {
    let shown = path.display().to_string();
    match fs::read_to_string(path) {
        Ok(text) => parse(&text, &shown, catalog),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::new(catalog)),
        Err(e) => Err(StateError::Read { path: shown, reason: e.to_string() }),
    }
}

/// A state document, checked to be glidepath's, of this format and of this catalog.
pub fn parse(text: &str, shown: &str, catalog: &str) -> Result<State, StateError> {
    let state = parse_any(text, shown)?;
    if state.catalog != catalog {
        return Err(StateError::OtherCatalog {
            path: shown.to_string(),
            found: state.catalog,
            expected: catalog.to_string(),
        });
    }
    Ok(state)
}

/// A state document of any catalog, checked to be glidepath's and of this format.
pub fn parse_any(text: &str, shown: &str) -> Result<State, StateError> {
    let state: State = serde_json::from_str(text)
        .map_err(|e| StateError::Corrupt { path: shown.to_string(), reason: e.to_string() })?;
    if state.version != FORMAT_VERSION {
        return Err(StateError::Corrupt {
            path: shown.to_string(),
            reason: format!("format version {} (this glidepath reads {FORMAT_VERSION})", state.version),
        });
    }
    Ok(state)
}

/// The state as written to disk or S3.
pub fn to_text(state: &State) -> String {
    let mut text = serde_json::to_string_pretty(state).expect("state serializes");
    text.push('\n');
    text
}

/// Writes `state` to `path` atomically.
pub fn save(path: &Path, state: &State) -> Result<(), StateError> {
    let fail = |e: std::io::Error| StateError::Write { path: path.display().to_string(), reason: e.to_string() };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(fail)?;
    }
    let temp = temp_path(path);
    let text = to_text(state);
    let mut file = crate::redact::private_file(fs::OpenOptions::new().write(true).create(true).truncate(true), &temp)
        .map_err(fail)?;
    file.write_all(text.as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    fs::rename(&temp, path).map_err(fail)?;
    Ok(())
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}
