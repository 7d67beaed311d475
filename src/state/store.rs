//! Where state, lock and audit trail live: local files next to `.glidepath/state.json`, or S3
//! with a DynamoDB lock (`s3://BUCKET/KEY?lock_table=TABLE`). Commands talk to this only.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::audit::{self, AuditRecord};
use super::journal::{self, Journal};
use super::lock::{self, LockInfo};
use super::remote::{S3Location, S3Store};
use super::{State, StateError};

pub enum Store {
    Local(PathBuf),
    Remote(Arc<S3Store>),
}

/// A held lock; dropping it releases it.
pub enum Held {
    Local(lock::Lock),
    Remote { store: Arc<S3Store>, info: LockInfo },
}

impl Held {
    pub fn info(&self) -> &LockInfo {
        match self {
            Held::Local(lock) => &lock.info,
            Held::Remote { info, .. } => info,
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Held::Remote { store, info } = self {
            let _ = store.unlock(&info.id);
        }
    }
}

impl Store {
    pub fn open(location: &Path) -> Result<Store, StateError> {
        match S3Location::parse(&location.to_string_lossy())? {
            Some(remote) => Ok(Store::Remote(Arc::new(S3Store::connect(remote)?))),
            None => Ok(Store::Local(location.to_path_buf())),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Store::Local(path) => path.display().to_string(),
            Store::Remote(store) => store.location.describe(),
        }
    }

    /// The state of `catalog`, with the changes of an apply that was killed before it could fold
    /// its journal in (local state).
    pub fn load(&self, catalog: &str) -> Result<State, StateError> {
        match self {
            Store::Local(path) => {
                let mut state = super::load(path, catalog)?;
                journal::replay(path, &mut state)?;
                Ok(state)
            }
            Store::Remote(store) => match store.get()? {
                Some(text) => {
                    let mut state = super::parse(&text, &store.location.describe(), catalog)?;
                    store.replay_journal(&mut state)?;
                    Ok(state)
                }
                None => Ok(State::new(catalog)),
            },
        }
    }

    /// The state as it is, whatever catalog it belongs to (for reading it); `None` if none yet.
    pub fn peek(&self) -> Result<Option<State>, StateError> {
        let shown = self.describe();
        let text = match self {
            Store::Local(path) => match std::fs::read_to_string(path) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(StateError::Read { path: shown, reason: e.to_string() }),
            },
            Store::Remote(store) => match store.get()? {
                Some(text) => text,
                None => return Ok(None),
            },
        };
        let mut state = super::parse_any(&text, &shown)?;
        match self {
            Store::Local(path) => journal::replay(path, &mut state)?,
            Store::Remote(store) => store.replay_journal(&mut state)?,
        };
        Ok(Some(state))
    }

    /// A journal for the changes of one apply. The state it extends is stored first when it is
    /// new (its lineage must survive a crash) or has a killed apply's journal replayed into it
    /// (folded in before that journal is replaced).
    pub fn start_journal(&self, state: &mut State) -> Result<Journal, StateError> {
        let stale = match self {
            Store::Local(path) => !path.exists() || journal::path_of(path).exists(),
            Store::Remote(store) => store.get()?.is_none() || !store.read_journal()?.is_empty(),
        };
        if stale {
            state.serial += 1;
            self.save(state)?;
            self.end_journal()?;
        }
        Ok(match self {
            Store::Local(path) => Journal::create(path, state)?,
            Store::Remote(store) => Journal::on_s3(Arc::clone(store), state),
        })
    }

    /// Drops the journal once the state holds all of it.
    pub fn end_journal(&self) -> Result<(), StateError> {
        match self {
            Store::Local(path) => journal::remove(path),
            Store::Remote(store) => store.clear_journal(),
        }
    }

    pub fn save(&self, state: &State) -> Result<(), StateError> {
        match self {
            Store::Local(path) => super::save(path, state),
            Store::Remote(store) => store.put(super::to_text(state)),
        }
    }

    pub fn lock(&self, operation: &str) -> Result<Held, StateError> {
        match self {
            Store::Local(path) => lock::acquire(path, operation).map(Held::Local),
            Store::Remote(store) => {
                let info = LockInfo::new(operation);
                store.lock(&info)?;
                Ok(Held::Remote { store: Arc::clone(store), info })
            }
        }
    }

    pub fn force_unlock(&self, id: &str) -> Result<LockInfo, StateError> {
        match self {
            Store::Local(path) => lock::force_unlock(path, id),
            Store::Remote(store) => {
                let holder =
                    store.holder()?.ok_or_else(|| StateError::NotLocked { path: store.location.describe() })?;
                store.unlock(id)?;
                Ok(holder)
            }
        }
    }

    pub fn append_audit(&self, record: &AuditRecord) -> Result<(), StateError> {
        match self {
            Store::Local(path) => audit::append(path, record),
            Store::Remote(store) => store.append_audit(record),
        }
    }

    pub fn read_audit(&self) -> Result<Vec<AuditRecord>, StateError> {
        match self {
            Store::Local(path) => audit::read(path),
            Store::Remote(store) => store.read_audit(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_locations_need_a_lock_table() {
        let parsed = S3Location::parse("s3://tfstate/shop/glidepath.json?lock_table=locks").unwrap().unwrap();
        assert_eq!(
            (parsed.bucket.as_str(), parsed.key.as_str(), parsed.lock_table.as_str()),
            ("tfstate", "shop/glidepath.json", "locks")
        );
        assert!(S3Location::parse("s3://tfstate/shop.json").unwrap_err().to_string().contains("lock_table"));
        assert!(S3Location::parse(".glidepath/state.json").unwrap().is_none());
    }
}
