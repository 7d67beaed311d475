//! The state lock: one apply at a time per state file. A lock file is created exclusively next
//! to the state, says who holds it, and is removed when the apply ends; a crashed apply's lock
//! is recognisable (its process is gone) and `force-unlock ID` removes it.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::StateError;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LockInfo {
    pub id: String,
    pub who: String,
    pub host: String,
    pub pid: u32,
    pub operation: String,
    /// When it was taken, UTC (RFC 3339).
    pub created: String,
}

impl LockInfo {
    /// A lock for `operation` by this process.
    pub fn new(operation: &str) -> Self {
        LockInfo {
            // 12 hex digits: short enough to type into `force-unlock`, random enough that two
            // holders never share one.
            id: uuid::Uuid::new_v4().simple().to_string()[..12].to_string(),
            who: user(),
            host: host(),
            pid: std::process::id(),
            operation: operation.to_string(),
            created: now(),
        }
    }

    /// Whether the holder is a process on this host that no longer runs (an apply that crashed).
    pub fn holder_gone(&self) -> bool {
        self.host == host() && !Path::new(&format!("/proc/{}", self.pid)).exists()
    }

    pub fn describe(&self) -> String {
        let mut text = format!(
            "held by {} on {} (pid {}) for `{}` since {}, lock id {}",
            self.who, self.host, self.pid, self.operation, self.created, self.id
        );
        if self.holder_gone() {
            text.push_str(&format!(
                "; that process is gone (a crashed apply?): `glidepath force-unlock {}` releases it",
                self.id
            ));
        }
        text
    }
}

/// A held lock; dropping it releases it.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
    pub info: LockInfo,
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

pub fn lock_path(state: &Path) -> PathBuf {
    let mut name = state.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".lock");
    state.with_file_name(name)
}

/// The operating-system user (see [`user_and_source`]), or `unknown` when nothing names one.
pub fn user() -> String {
    user_and_source().map(|(user, _)| user).unwrap_or_else(|| "unknown".into())
}

/// The operating-system user and where the name came from: `$USER`, else `$LOGNAME`, else
/// `id -un` (containers and CI runners often set neither variable).
pub fn user_and_source() -> Option<(String, &'static str)> {
    for (variable, source) in [("USER", "$USER"), ("LOGNAME", "$LOGNAME")] {
        if let Some(name) = std::env::var(variable).ok().filter(|v| !v.trim().is_empty()) {
            return Some((name.trim().to_string(), source));
        }
    }
    std::process::Command::new("id")
        .arg("-un")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .map(|name| (name, "id -un"))
}

pub fn host() -> String {
    let name = gethostname::gethostname().to_string_lossy().trim().to_string();
    if name.is_empty() {
        "unknown".into()
    } else {
        name
    }
}

/// Takes the lock or fails at once, naming the holder.
pub fn acquire(state: &Path, operation: &str) -> Result<Lock, StateError> {
    let path = lock_path(state);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| StateError::Write { path: dir.display().to_string(), reason: e.to_string() })?;
    }
    let info = LockInfo::new(operation);
    let write_error = |e: std::io::Error| StateError::Write { path: path.display().to_string(), reason: e.to_string() };
    // The lock is written whole to a file of this process, then linked into place: linking fails
    // when a lock exists, so taking the lock stays exclusive, and a crash can never leave an
    // empty lock file behind.
    let mut temp_name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    temp_name.push(format!(".{}-{}", std::process::id(), info.id));
    let temp = path.with_file_name(temp_name);
    let text = serde_json::to_string_pretty(&info).expect("lock info serializes");
    let mut file =
        crate::redact::private_file(OpenOptions::new().write(true).create_new(true), &temp).map_err(write_error)?;
    let written = file.write_all(text.as_bytes()).and_then(|_| file.sync_all());
    drop(file);
    let linked = written.and_then(|_| std::fs::hard_link(&temp, &path));
    let _ = std::fs::remove_file(&temp);
    match linked {
        Ok(()) => Ok(Lock { path, info }),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let holder = read(&path);
            Err(StateError::Locked {
                path: state.display().to_string(),
                holder: holder.map(|h| h.describe()).unwrap_or_else(|| {
                    format!(
                        "by an unreadable lock file {} (a crash while taking the lock?): once no apply runs, \
                         `glidepath force-unlock {UNREADABLE_ID}` removes it",
                        path.display()
                    )
                }),
            })
        }
        Err(e) => Err(write_error(e)),
    }
}

/// The id `force-unlock` takes for a lock file that cannot be read (empty or corrupt).
pub const UNREADABLE_ID: &str = "unreadable";

pub fn read(path: &Path) -> Option<LockInfo> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// Removes the lock if its id is `id`.
pub fn force_unlock(state: &Path, id: &str) -> Result<LockInfo, StateError> {
    let path = lock_path(state);
    let Some(info) = read(&path) else {
        if !path.exists() {
            return Err(StateError::NotLocked { path: state.display().to_string() });
        }
        // A lock file nobody can read names no holder: it is released by the id `unreadable`.
        if id != UNREADABLE_ID {
            return Err(StateError::WrongLock {
                path: state.display().to_string(),
                id: id.to_string(),
                holder: format!("an unreadable lock file; `glidepath force-unlock {UNREADABLE_ID}` removes it"),
            });
        }
        std::fs::remove_file(&path)
            .map_err(|e| StateError::Write { path: path.display().to_string(), reason: e.to_string() })?;
        return Ok(LockInfo {
            id: UNREADABLE_ID.into(),
            who: "unknown".into(),
            host: "unknown".into(),
            pid: 0,
            operation: "unknown".into(),
            created: "unknown".into(),
        });
    };
    if info.id != id {
        return Err(StateError::WrongLock {
            path: state.display().to_string(),
            id: id.to_string(),
            holder: info.describe(),
        });
    }
    std::fs::remove_file(&path)
        .map_err(|e| StateError::Write { path: path.display().to_string(), reason: e.to_string() })?;
    Ok(info)
}

/// Now, UTC, as RFC 3339 to the second.
pub fn now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    rfc3339(secs)
}

/// Seconds since the Unix epoch as RFC 3339 in UTC (`2026-11-25T02:34:56Z`).
pub fn rfc3339(secs: u64) -> String {
    let at = i64::try_from(secs).ok().and_then(|s| jiff::Timestamp::from_second(s).ok()).unwrap_or(jiff::Timestamp::MAX);
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 17: an empty lock file (a crash between create and write, or an older glidepath)
    /// is reported with the way out, and that way out works.
    #[test]
    fn an_empty_lock_file_can_be_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        std::fs::write(lock_path(&state), "").unwrap();
        let blocked = acquire(&state, "apply").unwrap_err().to_string();
        assert!(blocked.contains("force-unlock unreadable"), "{blocked}");
        let wrong = force_unlock(&state, "deadbeef").unwrap_err().to_string();
        assert!(wrong.contains("force-unlock unreadable"), "{wrong}");
        force_unlock(&state, UNREADABLE_ID).unwrap();
        assert!(!lock_path(&state).exists());
        let lock = acquire(&state, "apply").unwrap();
        let text = std::fs::read_to_string(lock_path(&state)).unwrap();
        assert!(text.contains(&lock.info.id), "the lock is written whole: {text}");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left: {leftovers:?}");
    }

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_574_096), "2026-11-25T02:34:56Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn a_second_lock_fails_naming_the_holder_and_force_unlock_releases_it() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        let held = acquire(&state, "apply").unwrap();
        let err = acquire(&state, "apply").unwrap_err().to_string();
        assert!(err.contains(&held.info.id) && err.contains("pid"), "{err}");
        assert!(force_unlock(&state, "not-it").is_err());
        std::mem::forget(held); // as if the process had crashed
        let info = read(&lock_path(&state)).unwrap();
        force_unlock(&state, &info.id).unwrap();
        assert!(acquire(&state, "apply").is_ok());
    }
}
