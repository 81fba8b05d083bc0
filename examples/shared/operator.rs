//! The operator's flags both example servers take: `--policy FILE`, `--audit-log FILE`,
//! `--redis URL` and `--redis-fail-open`, applied to a `SecurityBuilder` in one place.

use std::path::PathBuf;

use secure_tool::{PolicyWatch, Security, SecurityBuilder};

/// The operator's choices from the command line.
#[derive(Default)]
pub struct Operator {
    /// `--policy FILE`: the `secure-tool.toml`, checked at start-up and reloaded live.
    pub policy: Option<PathBuf>,
    /// `--audit-log FILE`: the JSON-lines audit trail.
    pub audit_log: Option<PathBuf>,
    /// `--redis URL`: the store every replica shares its rate limits in.
    pub redis: Option<String>,
    /// `--redis-fail-open`: admit calls whose limit cannot be checked.
    pub redis_fail_open: bool,
}

impl Operator {
    /// Take `arg` if it is one of the operator's flags (its value from `value`):
    /// `Ok(false)` when it is not.
    pub fn take(
        &mut self,
        arg: &str,
        value: impl FnOnce() -> Result<String, String>,
    ) -> Result<bool, String> {
        match arg {
            "--policy" => self.policy = Some(value()?.into()),
            "--audit-log" => self.audit_log = Some(value()?.into()),
            "--redis" => self.redis = Some(value()?),
            "--redis-fail-open" => self.redis_fail_open = true,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// `security` with the policy (its errors name the file and line), the audit trail
    /// and the shared rate-limit store. Build the server's tool router first: the policy
    /// names its tools.
    pub fn apply(&self, mut security: SecurityBuilder) -> Result<SecurityBuilder, String> {
        if let Some(path) = &self.policy {
            security = security.policy_file(path).map_err(|e| e.to_string())?;
        }
        if let Some(path) = &self.audit_log {
            security = security
                .audit_log(path)
                .map_err(|e| format!("cannot open --audit-log {}: {e}", path.display()))?;
        }
        if let Some(url) = &self.redis {
            // Every process started with the same `--redis` shares every rate limit.
            security = security
                .redis(url)
                .map_err(|e| format!("invalid --redis URL: {e}"))?
                .redis_fail_open(self.redis_fail_open);
        }
        Ok(security)
    }

    /// Reload the policy on SIGHUP and when its file changes, while the result lives.
    pub fn watch(&self, security: &Security) -> anyhow::Result<Option<PolicyWatch>> {
        Ok(match self.policy {
            Some(_) => Some(security.watch_policy()?),
            None => None,
        })
    }
}
