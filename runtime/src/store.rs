//! Where rate-limit state lives. In process by default (`limits.rs`, governor); with the
//! feature `redis`, in one Redis that every replica of a server shares, so a limit holds
//! across replicas instead of once per replica.
//!
//! The Redis store runs the same GCRA as governor (same emission interval, same burst,
//! same retry-after), as one Lua script run by its SHA: every check and update of a call
//! (the caller's rate, then the tool's rate across callers) is one atomic step on Redis's
//! clock, so replicas agree whatever their own clocks say. Each key expires when its state
//! is fresh again, so Redis holds only callers that are still limited.

use std::sync::OnceLock;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::limits::{Limited, Limits, Rate};

/// One GCRA step over every key given: refuse with the first key whose next admission
/// lies in the future (its index and the wait in microseconds), or admit and move every
/// key's theoretical arrival time on by one emission interval.
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
    tat = math.max(tonumber(stored), now)
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

/// Rate limits in Redis, shared by every process that uses the same Redis.
pub(crate) struct RedisStore {
    client: redis::Client,
    manager: OnceLock<ConnectionManager>,
    script: redis::Script,
    /// The longest a call waits for Redis.
    pub(crate) deadline: Duration,
    /// Admit a call whose limit cannot be checked (default: refuse it).
    pub(crate) fail_open: bool,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("deadline", &self.deadline)
            .field("fail_open", &self.fail_open)
            .finish_non_exhaustive()
    }
}

/// Why a limit could not be checked.
#[derive(Debug)]
pub(crate) struct Unavailable;

impl RedisStore {
    /// A store at `url` (`redis://host:port/db`). Nothing connects until the first call.
    pub(crate) fn new(url: &str) -> redis::RedisResult<Self> {
        Ok(Self {
            client: redis::Client::open(url)?,
            manager: OnceLock::new(),
            script: redis::Script::new(GCRA),
            deadline: Duration::from_millis(250),
            fail_open: false,
        })
    }

    /// The connection manager, made on first use (inside the runtime): it connects
    /// lazily and reconnects on its own after Redis comes back.
    fn manager(&self) -> Result<ConnectionManager, Unavailable> {
        if let Some(manager) = self.manager.get() {
            return Ok(manager.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.deadline))
            .set_response_timeout(Some(self.deadline))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let manager = ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            .map_err(|_| Unavailable)?;
        Ok(self.manager.get_or_init(|| manager).clone())
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
            keys.push((
                format!("secure-tool:rate:{tool}:{rate}:{burst}:{principal}"),
                interval,
                tolerance,
                false,
            ));
        }
        if let Some(rate) = limits.rate_global {
            let (interval, tolerance) = gcra(rate, rate.count);
            keys.push((
                format!("secure-tool:global:{tool}:{rate}"),
                interval,
                tolerance,
                true,
            ));
        }
        if keys.is_empty() {
            return Ok(None);
        }
        let mut invocation = self.script.prepare_invoke();
        for (key, interval, tolerance, _) in &keys {
            invocation.key(key).arg(*interval).arg(*tolerance);
        }
        let mut manager = self.manager()?;
        let answer: (usize, u64) = match tokio::time::timeout(
            self.deadline,
            invocation.invoke_async(&mut manager),
        )
        .await
        {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) | Err(_) => return Err(Unavailable),
        };
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
}

/// governor's emission interval and tolerance for `rate` with `burst`, in microseconds.
fn gcra(rate: Rate, burst: u32) -> (f64, f64) {
    #[allow(clippy::cast_precision_loss, reason = "periods are far below 2^52 µs")]
    let interval = (rate.period_ms as f64 * 1000.0 / f64::from(rate.count.max(1))).max(0.001);
    (interval, interval * f64::from(burst.max(1) - 1))
}
