//! Live reload of the policy file: on SIGHUP and when the file changes on disk.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::Watcher as _;

use super::PolicyError;
use crate::Security;

/// Reloads a [`Security`]'s policy file while it lives: on SIGHUP (Unix) and when the
/// file changes on disk. Stops when dropped. Made by [`Security::watch_policy`].
#[must_use = "the policy is watched only while this is kept"]
pub struct PolicyWatch {
    _watcher: Option<notify::RecommendedWatcher>,
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
                let changes = super::diff::changes(&current, &policy, &tools);
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
    /// whenever it changes on disk, until the returned [`PolicyWatch`] is dropped. Call it
    /// inside a Tokio runtime. A refused file is logged and audited; the watch goes on.
    ///
    /// # Errors
    ///
    /// When no policy file was loaded, or the file's directory cannot be watched.
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
        let (wake, mut woken) = tokio::sync::mpsc::channel::<()>(1);
        let watcher = watch_file(&path, wake.clone()).map_err(|error| PolicyError {
            path: Some(path.clone()),
            line: 0,
            column: 0,
            message: format!("cannot watch the policy file for changes: {error}"),
        })?;
        let security = self.clone();
        let task = tokio::spawn(async move {
            #[cfg(unix)]
            let mut hangup =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
            loop {
                #[cfg(unix)]
                let signalled = async {
                    match hangup.as_mut() {
                        Some(signal) => signal.recv().await,
                        None => std::future::pending().await,
                    }
                };
                #[cfg(not(unix))]
                let signalled = std::future::pending::<Option<()>>();
                tokio::select! {
                    Some(()) = woken.recv() => {
                        // Let the writer finish, then take every event it caused as one.
                        tokio::time::sleep(SETTLE).await;
                        while woken.try_recv().is_ok() {}
                    }
                    Some(()) = signalled => {}
                    else => return,
                }
                if let Err(error) = security.reload_policy() {
                    tracing::error!(target: crate::AUDIT_TARGET, %error, "policy reload refused");
                }
            }
        });
        drop(wake);
        Ok(PolicyWatch {
            _watcher: Some(watcher),
            task,
        })
    }
}

/// Watch the directory holding `path` (editors replace a file by renaming a new one over
/// it, which a watch on the file itself would miss) and wake on events about the file.
fn watch_file(
    path: &Path,
    wake: tokio::sync::mpsc::Sender<()>,
) -> notify::Result<notify::RecommendedWatcher> {
    let file: Arc<PathBuf> = Arc::new(std::path::absolute(path)?);
    let name = file.file_name().map(ToOwned::to_owned);
    let directory = file
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_owned);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if event.kind.is_access() {
            return;
        }
        if event
            .paths
            .iter()
            .any(|p| p.file_name().map(ToOwned::to_owned) == name)
        {
            // Full: a wake-up is already pending, which covers this event too.
            let _ = wake.try_send(());
        }
    })?;
    watcher.watch(&directory, notify::RecursiveMode::NonRecursive)?;
    Ok(watcher)
}
