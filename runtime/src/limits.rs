//! How much a tool may run: rate (per tool and principal), concurrency, time and output.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

/// A sustained rate: `count` calls per `period` (`#[secure_tool(rate = "60/min")]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    count: NonZeroU32,
    period: Duration,
}

impl Rate {
    /// `count` calls per `period`. Used by generated code; both are checked non-zero at
    /// compile time.
    pub const fn new(count: NonZeroU32, period: Duration) -> Self {
        Self { count, period }
    }

    /// Calls allowed per period.
    pub const fn count(&self) -> NonZeroU32 {
        self.count
    }

    /// The period.
    pub const fn period(&self) -> Duration {
        self.period
    }

    fn quota(&self, burst: Option<NonZeroU32>) -> Quota {
        // `period / count` is at least 1ns because count <= u32::MAX and period >= 1ms.
        let replenish = (self.period / self.count.get()).max(Duration::from_nanos(1));
        Quota::with_period(replenish)
            .expect("non-zero replenish interval")
            .allow_burst(burst.unwrap_or(self.count))
    }
}

/// Everything `#[secure_tool(...)]` declared about one tool, built once from its
/// declaration when the tool is first seen (see `decl::entry`) and shared by every
/// call after that.
#[derive(Debug)]
pub struct ToolPolicy {
    /// The tool's name, as listed in `tools/list` (for audit events and logs).
    pub name: &'static str,
    /// Scopes the caller must all hold. Empty only when `public`.
    pub scopes: &'static [&'static str],
    /// `public`: no scope check.
    pub public: bool,
    /// Sustained rate per principal.
    pub rate: Option<Rate>,
    /// Burst size (defaults to the rate's count).
    pub burst: Option<NonZeroU32>,
    /// Longest a call may run (async tools only).
    pub timeout: Option<Duration>,
    /// Calls of this tool that may run at once, across principals.
    pub concurrency: Option<NonZeroU32>,
    /// Largest output in bytes.
    pub max_output: Option<usize>,
    /// Largest raw arguments in bytes (overrides `Security`'s raw size limit; any one
    /// string may then be as long as this too).
    pub max_input: Option<usize>,
}

/// The live limiter state of one tool inside one [`Security`](crate::Security).
pub(crate) struct ToolState {
    limiter: Option<DefaultKeyedRateLimiter<Arc<str>>>,
    semaphore: Option<Arc<Semaphore>>,
    calls: AtomicU32,
}

/// Why a call was not admitted by the limits.
pub(crate) enum Limited {
    /// Over the rate; retry after this long.
    Rate(Duration),
    /// Over the concurrency cap.
    Busy,
}

/// A forgotten principal's limiter entry is dropped once it is full again; do that sweep
/// every this many calls so the keyed store cannot grow without bound.
const SWEEP_EVERY: u32 = 4096;

impl ToolState {
    pub(crate) fn new(policy: &ToolPolicy) -> Self {
        Self {
            limiter: policy
                .rate
                .map(|rate| RateLimiter::keyed(rate.quota(policy.burst))),
            semaphore: policy
                .concurrency
                .map(|n| Arc::new(Semaphore::new(n.get() as usize))),
            calls: AtomicU32::new(0),
        }
    }

    /// Take one unit of rate for `principal` and one concurrency slot, or say why not.
    pub(crate) fn admit(
        &self,
        principal: &Arc<str>,
    ) -> Result<Option<OwnedSemaphorePermit>, Limited> {
        if let Some(limiter) = &self.limiter {
            if let Err(not_until) = limiter.check_key(principal) {
                return Err(Limited::Rate(
                    not_until.wait_time_from(DefaultClock::default().now()),
                ));
            }
            if self.calls.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
                limiter.retain_recent();
            }
        }
        match &self.semaphore {
            None => Ok(None),
            Some(semaphore) => match Arc::clone(semaphore).try_acquire_owned() {
                Ok(permit) => Ok(Some(permit)),
                Err(TryAcquireError::NoPermits | TryAcquireError::Closed) => Err(Limited::Busy),
            },
        }
    }
}

/// Round a wait up to whole seconds, at least one: what "retry after Ns" says.
pub(crate) fn retry_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn nz(n: u32) -> NonZeroU32 {
        match NonZeroU32::new(n) {
            Some(n) => n,
            None => panic!("zero"),
        }
    }

    #[test]
    fn burst_then_refuse_per_principal() {
        let policy = ToolPolicy {
            name: "t",
            scopes: &[],
            public: true,
            rate: Some(Rate::new(nz(3), Duration::from_secs(60))),
            burst: None,
            timeout: None,
            concurrency: None,
            max_output: None,
            max_input: None,
        };
        let state = ToolState::new(&policy);
        let alice: Arc<str> = "alice".into();
        let bob: Arc<str> = "bob".into();
        for _ in 0..3 {
            assert!(state.admit(&alice).is_ok());
        }
        match state.admit(&alice) {
            Err(Limited::Rate(wait)) => assert_eq!(retry_secs(wait), 20),
            _ => panic!("fourth call in a minute must be limited"),
        }
        assert!(
            state.admit(&bob).is_ok(),
            "principals have separate buckets"
        );
    }

    #[test]
    fn concurrency_cap_refuses_instead_of_queueing() {
        let policy = ToolPolicy {
            name: "t",
            scopes: &[],
            public: true,
            rate: None,
            burst: None,
            timeout: None,
            concurrency: Some(nz(1)),
            max_output: None,
            max_input: None,
        };
        let state = ToolState::new(&policy);
        let who: Arc<str> = "x".into();
        let permit = state.admit(&who).ok().flatten().expect("first slot");
        assert!(matches!(state.admit(&who), Err(Limited::Busy)));
        drop(permit);
        assert!(state.admit(&who).is_ok());
    }
}
