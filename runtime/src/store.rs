//! Where rate-limit state lives. In process by default (`limits.rs`, governor); with the
//! feature `redis`, in one Redis that every replica of a server shares, so a limit holds
//! across replicas instead of once per replica.
//!
//! The Redis store runs the same GCRA as governor (same emission interval, same burst,
//! same retry-after), as one Lua script run by its SHA: every check and update of a call
//! (the caller's rate, then the tool's rate across callers) is one atomic step on Redis's
//! clock, so replicas agree whatever their own clocks say. Each key expires when its state
//! is fresh again, so Redis holds only callers that are still limited.
//!
//! Keys are bounded and stable: `{PREFIX:TOOL}:rate:HASH` for a caller (HASH: 128 bits of
//! SHA-256 of the caller's id, 32 hex digits, whatever the id's length) and
//! `{PREFIX:TOOL}:global` for the tool across callers. The limit's numbers are not part of
//! a key, so replicas that reload a changed limit at different moments share one state
//! (the script clamps a stored time to the bucket of the limit it is run with); the
//! braces are one hash tag, so both keys of a call sit on one Redis Cluster slot.

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::limits::{Limited, Limits, Rate};

/// One GCRA step over every key given: refuse with the first key whose next admission
/// lies in the future (its index and the wait in microseconds), or admit and move every
/// key's theoretical arrival time on by one emission interval. A stored time past the
/// bucket of the limit it is checked against now (a limit tightened by a reload) is
/// clamped to that bucket: tightening never refills, and never strands a caller.
///
/// `ARGV[2i-1]` is key i's emission interval and `ARGV[2i]` its tolerance
/// (`interval * (burst - 1)`), both in microseconds.
const GCRA: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local next_tat = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local tolerance = tonumber(ARGV[2 * i])
  local stored = redis.call('GET', key)
  local tat = now
  if stored then
    tat = math.min(math.max(tonumber(stored), now), now + tolerance + interval)
  end
  local earliest = tat - tolerance
  if now < earliest then
    return {i, math.ceil(earliest - now)}
  end
  next_tat[i] = tat + interval
end
for i, key in ipairs(KEYS) do
  local ttl = math.ceil((next_tat[i] - now) / 1000) + 1
  redis.call('SET', key, string.format('%.0f', next_tat[i]), 'PX', ttl)
end
return {0, 0}
";

/// The default key prefix.
pub(crate) const DEFAULT_PREFIX: &str = "secure-tool";

/// Where the shared store is, as the operator configured it (see `SecurityBuilder::redis`).
#[derive(Clone, Default)]
pub(crate) struct Settings {
    /// One Redis (`redis://` or `rediss://`).
    pub(crate) url: Option<String>,
    /// The seed nodes of a Redis Cluster.
    pub(crate) cluster: Vec<String>,
    /// PEM certificates trusted for `rediss://` on top of the system's roots.
    pub(crate) ca: Option<Vec<u8>>,
    pub(crate) prefix: Option<String>,
    pub(crate) deadline: Option<Duration>,
    pub(crate) fail_open: bool,
}

impl std::fmt::Debug for Settings {
    // Never the URLs: they may carry a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("single", &self.url.is_some())
            .field("cluster_nodes", &self.cluster.len())
            .field("ca", &self.ca.is_some())
            .field("prefix", &self.prefix)
            .field("deadline", &self.deadline)
            .field("fail_open", &self.fail_open)
            .finish()
    }
}

impl Settings {
    /// Whether a store is configured.
    pub(crate) fn is_set(&self) -> bool {
        self.url.is_some() || !self.cluster.is_empty()
    }

    /// Check a URL without keeping any of its text in the error (it may hold a password).
    pub(crate) fn check_url(url: &str) -> redis::RedisResult<()> {
        redis::parse_redis_url(url).map(|_| ()).ok_or_else(|| {
            redis::RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "not a Redis URL (redis://, rediss:// or unix://)",
            ))
        })?;
        redis::Client::open(url).map(|_| ())
    }

    /// Read an operator's CA file: PEM certificates, at least one.
    pub(crate) fn read_ca(path: &Path) -> redis::RedisResult<Vec<u8>> {
        let pem = std::fs::read(path)?;
        use rustls_pki_types::pem::PemObject as _;
        let certificates = rustls_pki_types::CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| invalid("the Redis CA file is not PEM certificates"))?;
        if certificates.is_empty() {
            return Err(invalid("the Redis CA file holds no PEM certificate"));
        }
        Ok(pem)
    }

    /// Check a key prefix: printable ASCII without braces (they would break the hash
    /// tag), 1 to 64 characters.
    pub(crate) fn check_prefix(prefix: &str) -> redis::RedisResult<()> {
        let fits = (1..=64).contains(&prefix.len())
            && prefix
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'{' && b != b'}');
        if fits {
            Ok(())
        } else {
            Err(invalid(
                "a Redis key prefix is 1 to 64 printable ASCII characters, without braces or spaces",
            ))
        }
    }
}

fn invalid(message: &'static str) -> redis::RedisError {
    redis::RedisError::from((redis::ErrorKind::InvalidClientConfig, message))
}

/// The connection to one Redis or to a cluster, made on first use.
enum Backend {
    Single {
        client: redis::Client,
        manager: OnceLock<ConnectionManager>,
    },
    Cluster {
        client: Box<redis::cluster::ClusterClient>,
        connection: tokio::sync::OnceCell<redis::cluster_async::ClusterConnection>,
    },
    /// The settings were checked when given, yet no client could be made from them:
    /// every limited call fails closed (or open, when configured).
    Broken,
}

/// Rate limits in Redis, shared by every process that uses the same Redis.
pub(crate) struct RedisStore {
    backend: Backend,
    script: redis::Script,
    prefix: Box<str>,
    /// The longest a call waits for Redis.
    pub(crate) deadline: Duration,
    /// Admit a call whose limit cannot be checked (default: refuse it).
    pub(crate) fail_open: bool,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("deadline", &self.deadline)
            .field("fail_open", &self.fail_open)
            .finish_non_exhaustive()
    }
}

/// Why a limit could not be checked.
#[derive(Debug)]
pub(crate) struct Unavailable;

impl RedisStore {
    /// The store `settings` describe. Nothing connects until the first call.
    pub(crate) fn new(settings: &Settings) -> Self {
        let deadline = settings.deadline.unwrap_or(Duration::from_millis(250));
        let backend = Self::backend(settings, deadline).unwrap_or_else(|error| {
            // The error's kind and text, never a URL (redis-rs does not put one in).
            tracing::error!(
                target: crate::audit::AUDIT_TARGET,
                %error,
                "the Redis rate-limit store cannot be configured; limited calls are refused"
            );
            Backend::Broken
        });
        Self {
            backend,
            script: redis::Script::new(GCRA),
            prefix: Box::from(settings.prefix.as_deref().unwrap_or(DEFAULT_PREFIX)),
            deadline,
            fail_open: settings.fail_open,
        }
    }

    fn backend(settings: &Settings, deadline: Duration) -> redis::RedisResult<Backend> {
        let urls: Vec<&str> = settings
            .url
            .iter()
            .map(String::as_str)
            .chain(settings.cluster.iter().map(String::as_str))
            .collect();
        let tls = urls.iter().any(|url| is_tls(url));
        if settings.ca.is_some() && !tls {
            // A CA file for a connection that will not use TLS: the operator meant TLS.
            return Err(invalid(
                "a CA file was given for a Redis URL without TLS (use rediss://)",
            ));
        }
        let certificates = settings.ca.as_ref().map(|ca| redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(with_system_roots(ca)),
        });
        if !settings.cluster.is_empty() {
            let tls = settings
                .cluster
                .iter()
                .any(|url| url.starts_with("rediss://"));
            let mut builder = redis::cluster::ClusterClient::builder(settings.cluster.clone())
                .connection_timeout(deadline)
                .response_timeout(deadline)
                .retries(2);
            if tls {
                builder = builder.tls(redis::cluster::TlsMode::Secure);
            }
            if let Some(certificates) = certificates {
                builder = builder.certs(certificates);
            }
            return Ok(Backend::Cluster {
                client: Box::new(builder.build()?),
                connection: tokio::sync::OnceCell::new(),
            });
        }
        let url = settings
            .url
            .as_deref()
            .ok_or_else(|| invalid("no Redis URL"))?;
        let client = match certificates {
            Some(certificates) if tls => redis::Client::build_with_tls(url, certificates)?,
            _ => redis::Client::open(url)?,
        };
        Ok(Backend::Single {
            client,
            manager: OnceLock::new(),
        })
    }

    /// One GCRA step of `keys` on whichever Redis holds them.
    async fn invoke(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<(usize, u64), Unavailable> {
        match &self.backend {
            Backend::Single { client, manager } => {
                let mut manager = match manager.get() {
                    Some(manager) => manager.clone(),
                    None => {
                        let config = ConnectionManagerConfig::new()
                            .set_connection_timeout(Some(self.deadline))
                            .set_response_timeout(Some(self.deadline))
                            .set_number_of_retries(2)
                            .set_max_delay(Duration::from_millis(500));
                        let made = ConnectionManager::new_lazy_with_config(client.clone(), config)
                            .map_err(|_| Unavailable)?;
                        manager.get_or_init(|| made).clone()
                    }
                };
                invocation
                    .invoke_async(&mut manager)
                    .await
                    .map_err(|_| Unavailable)
            }
            Backend::Cluster { client, connection } => {
                let mut connection = connection
                    .get_or_try_init(|| client.get_async_connection())
                    .await
                    .map_err(|_| Unavailable)?
                    .clone();
                invocation
                    .invoke_async(&mut connection)
                    .await
                    .map_err(|_| Unavailable)
            }
            Backend::Broken => Err(Unavailable),
        }
    }

    /// One call of `tool` by `principal` under `limits`: `Ok(None)` admitted, `Ok(Some)`
    /// refused by a limit, `Err` when Redis did not answer within the deadline.
    pub(crate) async fn check(
        &self,
        tool: &str,
        limits: &Limits,
        principal: &str,
    ) -> Result<Option<Limited>, Unavailable> {
        // A rate of 0 calls refuses every call, as in process, without asking Redis.
        for (rate, global) in [(limits.rate, false), (limits.rate_global, true)] {
            if let Some(rate) = rate.filter(|r| r.count == 0) {
                let wait = rate.period().max(Duration::from_secs(1));
                return Ok(Some(if global {
                    Limited::Global(wait)
                } else {
                    Limited::Rate(wait)
                }));
            }
        }
        let mut keys: Vec<(String, f64, f64, bool)> = Vec::with_capacity(2);
        if let Some(rate) = limits.rate {
            let burst = limits.burst.unwrap_or(rate.count);
            let (interval, tolerance) = gcra(rate, burst);
            keys.push((self.caller_key(tool, principal), interval, tolerance, false));
        }
        if let Some(rate) = limits.rate_global {
            let (interval, tolerance) = gcra(rate, rate.count);
            keys.push((self.tool_key(tool), interval, tolerance, true));
        }
        if keys.is_empty() {
            return Ok(None);
        }
        let mut invocation = self.script.prepare_invoke();
        for (key, interval, tolerance, _) in &keys {
            invocation.key(key).arg(*interval).arg(*tolerance);
        }
        let answer = tokio::time::timeout(self.deadline, self.invoke(&invocation))
            .await
            .map_err(|_| Unavailable)??;
        Ok(match answer {
            (0, _) => None,
            (index, wait_us) => {
                let wait = Duration::from_micros(wait_us.max(1));
                match keys.get(index - 1) {
                    Some((.., true)) => Some(Limited::Global(wait)),
                    _ => Some(Limited::Rate(wait)),
                }
            }
        })
    }

    /// `{PREFIX:TOOL}:rate:HASH`: a fixed-size key whatever the caller's id.
    fn caller_key(&self, tool: &str, principal: &str) -> String {
        use sha2::Digest as _;
        let hash = sha2::Sha256::digest(principal.as_bytes());
        let hex: String = hash[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("{{{}:{tool}}}:rate:{hex}", self.prefix)
    }

    /// `{PREFIX:TOOL}:global`.
    fn tool_key(&self, tool: &str) -> String {
        format!("{{{}:{tool}}}:global", self.prefix)
    }
}

/// Whether `url` asks for TLS (`rediss://`, `valkeys://`, in any case).
fn is_tls(url: &str) -> bool {
    redis::parse_redis_url(url).is_some_and(|url| matches!(url.scheme(), "rediss" | "valkeys"))
}

/// The system's root certificates and the operator's `ca`, as one PEM bundle: redis-rs
/// trusts only the bundle it is given.
fn with_system_roots(ca: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    let mut pem = Vec::new();
    for certificate in rustls_native_certs::load_native_certs().certs {
        let text = base64::engine::general_purpose::STANDARD.encode(certificate.as_ref());
        pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
        for line in text.as_bytes().chunks(64) {
            pem.extend_from_slice(line);
            pem.push(b'\n');
        }
        pem.extend_from_slice(b"-----END CERTIFICATE-----\n");
    }
    pem.extend_from_slice(ca);
    pem.push(b'\n');
    pem
}

/// governor's emission interval and tolerance for `rate` with `burst`, in microseconds.
fn gcra(rate: Rate, burst: u32) -> (f64, f64) {
    #[allow(clippy::cast_precision_loss, reason = "periods are far below 2^52 µs")]
    let interval = (rate.period_ms as f64 * 1000.0 / f64::from(rate.count.max(1))).max(0.001);
    (interval, interval * f64::from(burst.max(1) - 1))
}
