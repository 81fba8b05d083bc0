//! Live reload of the policy file: on SIGHUP and when what its path names changes on
//! disk (an edit, a rename over it, a swap of a symbolic link on the way to it).

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use notify::Watcher as _;

use super::PolicyError;
use crate::security::Security;

/// Reloads a [`Security`]'s policy file while it lives: on SIGHUP (Unix) and when the
/// file changes on disk. Stops when dropped. Made by [`Security::watch_policy`].
#[must_use = "the policy is watched only while this is kept"]
pub struct PolicyWatch {
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for PolicyWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyWatch").finish_non_exhaustive()
    }
}

impl Drop for PolicyWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How long the file must be quiet before it is read: an editor's save is several
/// events (truncate, write, rename), and a half-written file would be refused.
const SETTLE: Duration = Duration::from_millis(150);

impl Security {
    /// Read the policy file again and, when it differs from the policy in force and
    /// passes every check, put it in force at once: calls in flight finish under the
    /// policy they started with, and the rate-limit state of every limit that did not
    /// change is kept. A file that fails a check is refused: the policy in force stays,
    /// and the refusal is an audit event with the error (as is every reload, with the
    /// new file's digest).
    ///
    /// # Errors
    ///
    /// When no policy file was loaded, or the file cannot be read or fails a check.
    pub fn reload_policy(&self) -> Result<(), PolicyError> {
        // One reload at a time: each is judged against, and diffed with, the policy the
        // one before it put in force, and the last file read is the one that stays.
        let _one = self.reload_lock();
        let current = self.policy();
        let Some(path) = current.origin() else {
            return Err(PolicyError {
                path: None,
                line: 0,
                column: 0,
                message: "no policy file was loaded, so there is none to reload".into(),
            });
        };
        match super::load(path, &self.defaults()) {
            Ok(policy) if policy.digest == current.digest => Ok(()),
            Ok(policy) => {
                let tools: Vec<_> = crate::decl::served().iter().map(|r| r.decl).collect();
                let changes = super::diff::changes(&current, &policy, &tools, &self.defaults());
                let digest = policy.digest.clone();
                self.install(policy);
                crate::audit::policy_reload(self.audit_log(), digest.as_ref(), Ok(&changes));
                Ok(())
            }
            Err(error) => {
                crate::audit::policy_reload(
                    self.audit_log(),
                    current.digest.as_ref(),
                    Err(error.to_string()),
                );
                Err(error)
            }
        }
    }

    /// Reload the policy file ([`reload_policy`](Self::reload_policy)) on SIGHUP and
    /// whenever what its path names changes, until the returned [`PolicyWatch`] is
    /// dropped. Call it inside a Tokio runtime. A refused file is logged and audited; the
    /// watch goes on.
    ///
    /// What the path names is followed through symbolic links: a Kubernetes ConfigMap
    /// (`policy.toml -> ..data/policy.toml`, where the `..data` link is swapped) or a
    /// deploy's `current -> release-N` link takes effect within a second of the swap,
    /// without a signal. The directory of every link on the way is watched, the target
    /// and its content digest are checked again on each change there (and every few
    /// seconds, for file systems that send no events), and once right after the watch
    /// starts, so an edit between start-up and the watch is not missed.
    ///
    /// # Errors
    ///
    /// When no policy file was loaded, its directory cannot be watched, or SIGHUP cannot
    /// be handled (Unix).
    pub fn watch_policy(&self) -> Result<PolicyWatch, PolicyError> {
        let policy = self.policy();
        let Some(path) = policy.origin().map(Path::to_owned) else {
            return Err(PolicyError {
                path: None,
                line: 0,
                column: 0,
                message: "no policy file was loaded, so there is none to watch".into(),
            });
        };
        let failed = |what: &str, error: &dyn std::fmt::Display| PolicyError {
            path: Some(path.clone()),
            line: 0,
            column: 0,
            message: format!("{what}: {error}"),
        };
        #[cfg(unix)]
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .map_err(|error| failed("cannot handle SIGHUP to reload the policy", &error))?;
        let (wake, mut woken) = tokio::sync::mpsc::channel::<()>(1);
        let mut watch = Watch::new(&path, wake.clone())
            .map_err(|error| failed("cannot watch the policy file for changes", &error))?;
        // Once right away: an edit between start-up and this watch is not missed.
        let _ = wake.try_send(());
        drop(wake);
        let security = self.clone();
        let task = tokio::spawn(async move {
            let mut poll = tokio::time::interval(POLL);
            poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            poll.tick().await;
            loop {
                #[cfg(unix)]
                let signalled = hangup.recv();
                #[cfg(not(unix))]
                let signalled = std::future::pending::<Option<()>>();
                let forced = tokio::select! {
                    Some(()) = woken.recv() => {
                        // Let the writer finish, then take every event it caused as one.
                        tokio::time::sleep(SETTLE).await;
                        while woken.try_recv().is_ok() {}
                        false
                    }
                    _ = poll.tick() => false,
                    Some(()) = signalled => true,
                    else => return,
                };
                watch.follow();
                // On SIGHUP the file is read again whatever it holds; otherwise only when
                // what the path names is not what was last looked at.
                if (forced || watch.changed(&security))
                    && let Err(error) = security.reload_policy()
                {
                    tracing::error!(target: crate::audit::AUDIT_TARGET, %error, "policy reload refused");
                }
            }
        });
        Ok(PolicyWatch { task })
    }
}

/// How often the file is checked when no event says it changed.
const POLL: Duration = Duration::from_secs(5);

/// The watch on a policy file's path: the directories of the path and of every symbolic
/// link on the way to the file, and the names in them that matter.
struct Watch {
    path: PathBuf,
    watcher: notify::RecommendedWatcher,
    /// The directories watched.
    directories: BTreeSet<PathBuf>,
    /// The names (in those directories) whose change may change what the path names.
    names: Arc<Mutex<BTreeSet<OsString>>>,
    /// The digest of the file last looked at (`None`: it could not be read).
    seen: Option<String>,
}

impl Watch {
    fn new(path: &Path, wake: tokio::sync::mpsc::Sender<()>) -> notify::Result<Self> {
        let path = std::path::absolute(path)?;
        let names: Arc<Mutex<BTreeSet<OsString>>> = Arc::default();
        let interesting = Arc::clone(&names);
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let Ok(event) = event else { return };
            if event.kind.is_access() {
                return;
            }
            let names = interesting.lock().unwrap_or_else(PoisonError::into_inner);
            if event
                .paths
                .iter()
                .any(|p| p.file_name().is_some_and(|name| names.contains(name)))
            {
                // Full: a wake-up is already pending, which covers this event too.
                let _ = wake.try_send(());
            }
        })?;
        let mut watch = Self {
            path,
            watcher,
            directories: BTreeSet::new(),
            names,
            seen: None,
        };
        watch.follow();
        if watch.directories.is_empty() {
            return Err(notify::Error::generic(
                "no directory of the path can be watched",
            ));
        }
        Ok(watch)
    }

    /// Watch the directories the path goes through now (a swap may have changed them).
    fn follow(&mut self) {
        let mut directories = BTreeSet::new();
        let mut names = BTreeSet::new();
        chain(&self.path, &mut directories, &mut names, 0);
        for gone in self.directories.difference(&directories) {
            let _ = self.watcher.unwatch(gone);
        }
        let mut watched = BTreeSet::new();
        for directory in directories {
            if self.directories.contains(&directory)
                || self
                    .watcher
                    .watch(&directory, notify::RecursiveMode::NonRecursive)
                    .is_ok()
            {
                watched.insert(directory);
            }
        }
        self.directories = watched;
        *self.names.lock().unwrap_or_else(PoisonError::into_inner) = names;
    }

    /// Whether the file the path names now differs from the one last looked at (and
    /// from the policy in force).
    fn changed(&mut self, security: &Security) -> bool {
        let now = std::fs::read(&self.path).ok().map(|bytes| digest(&bytes));
        if now == self.seen {
            return false;
        }
        self.seen.clone_from(&now);
        now.as_deref() != security.policy().digest()
    }
}

/// `sha256:<hex>`, as a policy's digest is written.
fn digest(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    let hash = sha2::Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Follow `path` link by link: the directory holding each link (where a swap renames
/// one over it) and the file's own directory go into `directories`, each link's name and
/// the file's into `names`.
fn chain(
    path: &Path,
    directories: &mut BTreeSet<PathBuf>,
    names: &mut BTreeSet<OsString>,
    depth: u32,
) {
    // As the kernel does, give up on a loop of links.
    if depth > 40 {
        return;
    }
    let components: Vec<_> = path.components().collect();
    let mut prefix = PathBuf::new();
    for (index, component) in components.iter().enumerate() {
        prefix.push(component);
        let Ok(target) = std::fs::read_link(&prefix) else {
            continue;
        };
        let parent = prefix
            .parent()
            .map_or_else(|| PathBuf::from("/"), Path::to_owned);
        if let Some(name) = prefix.file_name() {
            names.insert(name.to_owned());
        }
        let rest: PathBuf = components[index + 1..].iter().collect();
        let next = parent.join(target).join(rest);
        directories.insert(parent);
        return chain(&next, directories, names, depth + 1);
    }
    // No link left: the file itself.
    if let Some(parent) = path.parent() {
        directories.insert(parent.to_owned());
    }
    if let Some(name) = path.file_name() {
        names.insert(name.to_owned());
    }
}
