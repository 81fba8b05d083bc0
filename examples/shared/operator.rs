//! The operator's flags both example servers take: `--policy FILE`, `--audit-log FILE`,
//! and the shared rate-limit store (`--redis URL` or `--redis-url-env NAME`, or
//! `--redis-cluster URL`..., with `--redis-ca FILE`, `--redis-prefix NAME` and
//! `--redis-fail-open`), applied to a `SecurityBuilder` in one place.

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
    /// `--redis-url-env NAME`: the same URL, read from the environment variable `NAME`
    /// (so `ps` does not show its password).
    pub redis_url_env: Option<String>,
    /// `--redis-cluster URL` (repeatable): the seed nodes of a Redis Cluster.
    pub redis_cluster: Vec<String>,
    /// `--redis-ca FILE`: PEM certificates trusted for `rediss://`, on top of the system's.
    pub redis_ca: Option<PathBuf>,
    /// `--redis-prefix NAME`: the prefix of every key (default `secure-tool`).
    pub redis_prefix: Option<String>,
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
            "--redis-url-env" => self.redis_url_env = Some(value()?),
            "--redis-cluster" => self.redis_cluster.push(value()?),
            "--redis-ca" => self.redis_ca = Some(value()?.into()),
            "--redis-prefix" => self.redis_prefix = Some(value()?),
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
        // Every process started with the same store shares every rate limit. A URL is
        // never repeated in a message: it may hold a password.
        let from_env = match &self.redis_url_env {
            Some(name) => Some(std::env::var(name).map_err(|_| {
                format!(
                    "--redis-url-env {name}: the environment variable is not set (or not UTF-8)"
                )
            })?),
            None => None,
        };
        let stores = usize::from(self.redis.is_some())
            + usize::from(from_env.is_some())
            + usize::from(!self.redis_cluster.is_empty());
        if stores > 1 {
            return Err("give one of --redis, --redis-url-env and --redis-cluster".into());
        }
        if let Some(url) = self.redis.as_ref().or(from_env.as_ref()) {
            security = security
                .redis(url)
                .map_err(|e| format!("invalid Redis URL: {e}"))?;
        }
        if !self.redis_cluster.is_empty() {
            security = security
                .redis_cluster(&self.redis_cluster)
                .map_err(|e| format!("invalid --redis-cluster URL: {e}"))?;
        }
        if let Some(path) = &self.redis_ca {
            let tls = |url: &str| {
                let url = url.to_ascii_lowercase();
                url.starts_with("rediss://") || url.starts_with("valkeys://")
            };
            let urls = self
                .redis
                .iter()
                .chain(&from_env)
                .chain(&self.redis_cluster);
            if !urls.clone().any(|url| tls(url)) || urls.clone().any(|url| !tls(url)) {
                return Err("--redis-ca goes with rediss:// URLs (Redis over TLS)".into());
            }
            security = security
                .redis_ca(path)
                .map_err(|e| format!("--redis-ca {}: {e}", path.display()))?;
        }
        if let Some(prefix) = &self.redis_prefix {
            security = security
                .redis_prefix(prefix)
                .map_err(|e| format!("--redis-prefix: {e}"))?;
        }
        Ok(security.redis_fail_open(self.redis_fail_open))
    }

    /// Reload the policy on SIGHUP and when its file changes, while the result lives.
    pub fn watch(&self, security: &Security) -> anyhow::Result<Option<PolicyWatch>> {
        Ok(match self.policy {
            Some(_) => Some(security.watch_policy()?),
            None => None,
        })
    }
}
