//! Writes a `DesiredSet` as files: `DIR/<env>/<owner>/<kind>.<name>.yaml` for the cluster,
//! `DIR/aws/<type>.<name>.json` for AWS (and `DIR/aws/buildspec.<project>.yaml` for CodeBuild),
//! the CI workflows and the GitOps layout under `DIR/gitops/`. The directory is replaced whole, never half-written.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::address::Scope;
use super::{DesiredSet, Resource};
use crate::catalog::Model;

/// Marks a directory as glidepath's output, so a re-render may replace it.
const MARKER: &str = ".glidepath-render";

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{0} exists and was not written by glidepath render; choose an empty or new directory")]
    NotOurs(String),
    #[error("cannot write {path}: {reason}")]
    Io { path: String, reason: String },
    #[error("cannot serialize {address}: {reason}")]
    Serialize { address: String, reason: String },
}

fn io_error(path: &Path) -> impl Fn(io::Error) -> OutputError + '_ {
    move |e| OutputError::Io { path: path.display().to_string(), reason: e.to_string() }
}

/// Relative file path and contents of every rendered file, in path order.
pub fn files(model: &Model, desired: &DesiredSet) -> Result<BTreeMap<PathBuf, String>, OutputError> {
    let mut files = BTreeMap::new();
    each_file(model, desired, &mut |path, text| {
        files.insert(path.to_path_buf(), text);
        Ok(())
    })?;
    Ok(files)
}

/// Hands every rendered file to `write` as soon as it is made (relative path, contents), so a
/// caller that writes them holds one at a time, not the whole tree. A path given twice is given
/// again (the later contents win, as in [`files`]), except that a resource's file may never
/// take another file's path.
fn each_file(
    model: &Model,
    desired: &DesiredSet,
    write: &mut dyn FnMut(&Path, String) -> Result<(), OutputError>,
) -> Result<(), OutputError> {
    let mut seen: HashSet<PathBuf> = HashSet::new();
    let mut give = |path: PathBuf, text: String, unique: bool| -> Result<(), OutputError> {
        if !seen.insert(path.clone()) && unique {
            return Err(OutputError::Io {
                path: path.display().to_string(),
                reason: "two resources map to this file name".into(),
            });
        }
        write(&path, text)
    };
    // Each group is made, handed over and dropped before the next: only the GitOps layout is
    // held whole while it is written (it is computed across services).
    let gitops = super::gitops::files(model, desired)
        .map_err(|e| OutputError::Serialize { address: "gitops".into(), reason: e.to_string() })?;
    for (path, text) in gitops {
        give(PathBuf::from("gitops").join(path), text, false)?;
    }
    // One GitHub Actions workflow per service, at the path GitHub reads it from.
    let workflows = super::workflow::workflows(model)
        .map_err(|e| OutputError::Serialize { address: "workflows".into(), reason: e.to_string() })?;
    for (path, text) in workflows {
        give(path, text, false)?;
    }
    // Each CodePipeline project's buildspec as written, beside the project's JSON file.
    let buildspecs = super::pipeline::buildspecs(model)
        .map_err(|e| OutputError::Serialize { address: "buildspecs".into(), reason: e.to_string() })?;
    for (path, text) in buildspecs {
        give(path, text, false)?;
    }
    for (address, resource) in &desired.resources {
        let (kind, name) = (address.kind(), address.name());
        let (path, text) = match (&address.scope, resource) {
            (Some(Scope { env, owner }), Resource::Kube(object)) => {
                let text = serde_norway::to_string(&object.body)
                    .map_err(|e| OutputError::Serialize { address: address.to_string(), reason: e.to_string() })?;
                (PathBuf::from(env).join(owner).join(format!("{}.{}.yaml", kind.to_lowercase(), file_safe(name))), text)
            }
            (None, Resource::Kube(_)) => {
                return Err(OutputError::Serialize {
                    address: address.to_string(),
                    reason: "a cluster object without an environment".into(),
                })
            }
            (_, Resource::Aws(aws)) => {
                let mut text = serde_json::to_string_pretty(aws)
                    .map_err(|e| OutputError::Serialize { address: address.to_string(), reason: e.to_string() })?;
                text.push('\n');
                (PathBuf::from("aws").join(format!("{kind}.{}.json", file_safe(name))), text)
            }
        };
        give(path, text, true)?;
    }
    Ok(())
}

/// File names keep letters, digits, `.`, `_` and `-`; anything else becomes `_`.
fn file_safe(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect()
}

/// Writes the tree into `dir`: builds it beside `dir`, then swaps it in, so readers see the old
/// tree or the new one, never a mix. Returns the number of files written.
pub fn write_tree(model: &Model, desired: &DesiredSet, dir: &Path) -> Result<usize, OutputError> {
    if dir.exists() && !dir.join(MARKER).exists() && fs::read_dir(dir).map_err(io_error(dir))?.next().is_some() {
        return Err(OutputError::NotOurs(dir.display().to_string()));
    }
    let name = dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "render".into());
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io_error(parent))?;
    let staging = parent.join(format!(".{name}.glidepath-new"));
    let retired = parent.join(format!(".{name}.glidepath-old"));
    for leftover in [&staging, &retired] {
        if leftover.exists() {
            fs::remove_dir_all(leftover).map_err(io_error(leftover))?;
        }
    }
    // Each file is written as it is made (one linear pass; the tree is never held in memory).
    // A failure leaves only the staging directory, which the next render removes.
    let written = write_files(&staging, |write| each_file(model, desired, write))?;
    fs::write(staging.join(MARKER), "Written by `glidepath render`; replaced whole on every render.\n")
        .map_err(io_error(&staging))?;
    if dir.exists() {
        fs::rename(dir, &retired).map_err(io_error(dir))?;
    }
    fs::rename(&staging, dir).map_err(io_error(dir))?;
    if retired.exists() {
        fs::remove_dir_all(&retired).map_err(io_error(&retired))?;
    }
    Ok(written)
}

/// Writes every file `make` hands over under `root`, returning how many distinct files it wrote.
/// The files are written by a few threads while `make` makes the next ones: creating 155,000
/// files is mostly the kernel's work (inode allocation), which one thread did alone. Directories
/// are made here, in order, before their files are handed on; each path always goes to the
/// same writer, in order, so a file given twice ends with its later contents.
fn write_files(
    root: &Path,
    make: impl FnOnce(&mut dyn FnMut(&Path, String) -> Result<(), OutputError>) -> Result<(), OutputError>,
) -> Result<usize, OutputError> {
    let mut made: HashSet<PathBuf> = HashSet::new();
    let mut written: HashSet<PathBuf> = HashSet::new();
    std::thread::scope(|scope| {
        let (queues, writers): (Vec<_>, Vec<_>) = (0..crate::parallel::threads())
            .map(|_| {
                let (send, receive) = std::sync::mpsc::sync_channel::<(PathBuf, String)>(256);
                let writer = scope.spawn(move || -> Result<(), OutputError> {
                    for (path, text) in receive {
                        fs::write(&path, text).map_err(io_error(&path))?;
                    }
                    Ok(())
                });
                (send, writer)
            })
            .unzip();
        let made_all = make(&mut |relative, text| {
            let path = root.join(relative);
            let directory = path.parent().expect("files live in directories");
            if !made.contains(directory) {
                fs::create_dir_all(directory).map_err(io_error(&path))?;
                made.insert(directory.to_path_buf());
            }
            written.insert(relative.to_path_buf());
            let queue = &queues[writer_of(relative, queues.len())];
            // A writer that stopped stopped at an error, which is reported below.
            queue.send((path, text)).or(Ok(()))
        });
        drop(queues);
        let wrote: Vec<Result<(), OutputError>> = writers.into_iter().map(crate::parallel::joined).collect();
        made_all?;
        wrote.into_iter().collect::<Result<(), OutputError>>()
    })?;
    Ok(written.len())
}

/// Which of `writers` writes `path`: always the same one.
fn writer_of(path: &Path, writers: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    path.hash(&mut hasher);
    (hasher.finish() % writers as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writers_write_every_file_and_report_a_file_they_cannot_write() {
        let root = tempfile::tempdir().unwrap();
        let names: Vec<PathBuf> = (0..500).map(|i| PathBuf::from(format!("d{}/f{i}.yaml", i % 7))).collect();
        let written = write_files(root.path(), |write| {
            names.iter().try_for_each(|name| write(name, format!("{}\n", name.display())))
        })
        .unwrap();
        assert_eq!(written, 500);
        for name in &names {
            assert_eq!(fs::read_to_string(root.path().join(name)).unwrap(), format!("{}\n", name.display()));
        }
        // A file given again, many times over among others, ends with its last contents.
        let again = tempfile::tempdir().unwrap();
        let written = write_files(again.path(), |write| {
            (0..2000).try_for_each(|i| write(&PathBuf::from(format!("d/f{}.yaml", i % 10)), format!("{i}")))
        })
        .unwrap();
        assert_eq!(written, 10);
        for last in 1990..2000 {
            let path = again.path().join(format!("d/f{}.yaml", last % 10));
            assert_eq!(fs::read_to_string(path).unwrap(), last.to_string());
        }
        // A directory where a file is to go: the writer's error names it.
        fs::create_dir_all(root.path().join("d0/taken.yaml")).unwrap();
        let error = write_files(root.path(), |write| {
            names.iter().chain([&PathBuf::from("d0/taken.yaml")]).try_for_each(|name| write(name, String::new()))
        })
        .unwrap_err();
        assert!(error.to_string().contains("d0/taken.yaml"), "{error}");
    }
}
