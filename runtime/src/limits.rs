//! How much a tool may run: rate (per tool and principal), concurrency, time and output.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock, Reference as _};
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed, StateStore};
use governor::{Quota, RateLimiter};
use serde::Serialize;

/// A sustained rate: `count` calls per `period_ms` milliseconds (`rate = "60/min"`).
/// Both are at least 1 when the macro writes one (it refuses 0); a `Rate` built by hand
/// with a count of 0 admits no call at all, never every call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    /// Calls allowed per period.
    pub count: u32,
    /// The period, in milliseconds.
    pub period_ms: u64,
}

impl Rate {
    /// The period.
    pub const fn period(&self) -> Duration {
        Duration::from_millis(self.period_ms)
    }

    fn quota(&self, burst: Option<u32>) -> Option<Quota> {
        let count = NonZeroU32::new(self.count)?;
        // `period / count` is at least 1ns because count <= u32::MAX and period >= 1ms.
        let replenish = interval(self.period(), count);
        let burst = burst.and_then(NonZeroU32::new).unwrap_or(count);
        // A bucket (interval x burst) past what GCRA's nanosecond arithmetic holds is
        // refused by the policy check; one built by hand is capped there, never a panic.
        let burst = burst.min(max_burst(replenish));
        Some(Quota::with_period(replenish)?.allow_burst(burst))
    }

    #[cfg_attr(not(feature = "policy"), allow(dead_code))]
    /// Whether GCRA's arithmetic holds this rate with `burst` (the bucket, interval x
    /// burst, fits in nanoseconds with room to add the clock to it).
    pub(crate) fn fits(&self, burst: Option<u32>) -> bool {
        let Some(count) = NonZeroU32::new(self.count) else {
            return true;
        };
        burst.unwrap_or(self.count) <= max_burst(interval(self.period(), count)).get()
    }
}

/// As written in `#[secure_tool(rate = "..")]`: `60/min`, `5/sec`, `2/hour`, `2/1500ms`.
impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.period_ms {
            1_000 => write!(f, "{}/sec", self.count),
            60_000 => write!(f, "{}/min", self.count),
            3_600_000 => write!(f, "{}/hour", self.count),
            ms => write!(f, "{}/{ms}ms", self.count),
        }
    }
}

impl Serialize for Rate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// One call's interval: at least 1 ns, and at most a quarter of what GCRA's nanosecond
/// clock holds (about 146 years: a rate slower than one call in that is
/// kept as one in 146 years, never a panic in the limiter).
fn interval(period: Duration, count: NonZeroU32) -> Duration {
    (period / count.get()).clamp(Duration::from_nanos(1), Duration::from_nanos(u64::MAX >> 2))
}

/// The largest burst whose bucket (`interval * burst` nanoseconds) leaves half of
/// `u64` for the clock it is added to.
fn max_burst(interval: Duration) -> NonZeroU32 {
    let interval = u64::try_from(interval.as_nanos())
        .unwrap_or(u64::MAX)
        .max(1);
    let most = (u64::MAX / 2) / interval;
    NonZeroU32::new(u32::try_from(most).unwrap_or(u32::MAX).max(1)).unwrap_or(NonZeroU32::MIN)
}

/// A duration in milliseconds, as a tool's `timeout` declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Millis(pub u64);

impl Millis {
    /// As a [`Duration`].
    pub const fn duration(self) -> Duration {
        Duration::from_millis(self.0)
    }
}

/// A size in bytes, as a tool's `max_output` and `max_input` declare it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Bytes(pub u64);

impl Bytes {
    /// As a `usize`, saturating on 32-bit targets (a cap above the address space is no cap).
    pub fn get(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }
}

/// How much one tool may run. `#[secure_tool(..)]` writes one of these for each tool, with
/// a field per limit key (`None`: not declared); [`Security::manifest`](crate::Security::manifest)
/// shows the effective ones, the server's defaults filled in.
///
/// A new limit is a field here, a row in the macro's table of keys (`macros/src/attr.rs`)
/// and the pipeline stage that enforces it. Generated code writes every field, so the
/// struct cannot be `#[non_exhaustive]`: build one with `..Limits::NONE`, which keeps
/// compiling when a limit is added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Limits {
    /// Sustained rate per caller.
    pub rate: Option<Rate>,
    /// Calls a caller may make at once before the rate applies (default: the rate's count).
    pub burst: Option<u32>,
    /// Longest a call may run (async tools only).
    #[serde(rename = "timeout_ms")]
    pub timeout: Option<Millis>,
    /// Calls of this tool that may run at once, across callers.
    pub concurrency: Option<u32>,
    /// Largest output.
    pub max_output: Option<Bytes>,
    /// Largest raw arguments (overrides the server's raw size limit; any one string may
    /// then be as long as this too).
    pub max_input: Option<Bytes>,
    /// Sustained rate of the tool across every caller, on top of the per-caller `rate`:
    /// what a caller rotating identities cannot multiply.
    pub rate_global: Option<Rate>,
}

impl Limits {
    /// No limit declared.
    pub const NONE: Self = Self {
        rate: None,
        burst: None,
        timeout: None,
        concurrency: None,
        max_output: None,
        max_input: None,
        rate_global: None,
    };

    /// Each limit of `self`, else the one of `declared`: a policy's overrides over the
    /// code's declaration.
    pub(crate) fn or(self, declared: Self) -> Self {
        Self {
            rate: self.rate.or(declared.rate),
            burst: self.burst.or(declared.burst),
            timeout: self.timeout.or(declared.timeout),
            concurrency: self.concurrency.or(declared.concurrency),
            max_output: self.max_output.or(declared.max_output),
            max_input: self.max_input.or(declared.max_input),
            rate_global: self.rate_global.or(declared.rate_global),
        }
    }

    /// The keys (as `#[secure_tool]` spells them) of the limits that are set.
    pub(crate) fn keys_set(&self) -> Vec<&'static str> {
        [
            ("rate", self.rate.is_some()),
            ("burst", self.burst.is_some()),
            ("timeout", self.timeout.is_some()),
            ("concurrency", self.concurrency.is_some()),
            ("max_output", self.max_output.is_some()),
            ("max_input", self.max_input.is_some()),
            ("rate_global", self.rate_global.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, set)| set.then_some(key))
        .collect()
    }

    /// These limits with the server's `defaults` where nothing was declared: what a call
    /// of the tool runs under. A sync tool has no timeout (nothing can interrupt it).
    pub(crate) fn effective(self, defaults: &Defaults, asynchronous: bool) -> Self {
        let millis = |d: Duration| Millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let bytes = |n: usize| Bytes(u64::try_from(n).unwrap_or(u64::MAX));
        Self {
            rate: self.rate,
            burst: self.burst.or(self.rate.map(|r| r.count)),
            timeout: if asynchronous {
                self.timeout.or(defaults.timeout.map(millis))
            } else {
                None
            },
            concurrency: self.concurrency,
            max_output: Some(self.max_output.unwrap_or(bytes(defaults.max_output))),
            max_input: Some(self.max_input.unwrap_or(bytes(defaults.max_input))),
            rate_global: self.rate_global,
        }
    }
}

/// A server's limits for tools that declare none (from its `Security`).
pub(crate) struct Defaults {
    pub(crate) timeout: Option<Duration>,
    pub(crate) max_output: usize,
    pub(crate) max_input: usize,
}

/// The manifest's words: `rate 60/min (burst 60)  timeout 2s  concurrency 2  output <= 1 MiB  input <= 256 KiB`.
impl fmt::Display for Limits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.rate, self.burst) {
            (Some(rate), Some(burst)) => write!(f, "rate {rate} (burst {burst})")?,
            (Some(rate), None) => write!(f, "rate {rate}")?,
            (None, _) => f.write_str("rate unlimited")?,
        }
        match self.timeout {
            Some(Millis(ms)) if ms % 1000 == 0 => write!(f, "  timeout {}s", ms / 1000)?,
            Some(Millis(ms)) => write!(f, "  timeout {ms}ms")?,
            None => f.write_str("  no timeout")?,
        }
        if let Some(concurrency) = self.concurrency {
            write!(f, "  concurrency {concurrency}")?;
        }
        if let Some(Bytes(n)) = self.max_output {
            write!(f, "  output <= {}", size_text(n))?;
        }
        if let Some(Bytes(n)) = self.max_input {
            write!(f, "  input <= {}", size_text(n))?;
        }
        if let Some(rate) = self.rate_global {
            write!(f, "  all callers {rate}")?;
        }
        Ok(())
    }
}

fn size_text(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} B"),
    }
}

/// The live limiter state of one tool inside one [`Security`](crate::Security).
pub(crate) struct ToolState {
    rate: Arc<RateState>,
    global: Arc<GlobalState>,
    slots: Option<Slots>,
}

/// A tool's concurrency cap: the calls running (shared with the state a reload makes, so
/// a new cap counts the calls already in flight) and the cap.
struct Slots {
    running: Arc<AtomicU32>,
    cap: u32,
}

/// One running call's concurrency slot, given back when dropped.
pub(crate) struct Permit(Arc<AtomicU32>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Slots {
    fn take(&self) -> Option<Permit> {
        self.running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |running| {
                (running < self.cap).then_some(running + 1)
            })
            .ok()
            .map(|_| Permit(Arc::clone(&self.running)))
    }
}

/// A tool's per-caller rate limit, as its limits declare it.
enum RateState {
    Unlimited,
    /// A rate of 0 calls: every call is refused (fail closed, never unlimited); retry
    /// after a period.
    Closed(Duration),
    Limited(Keyed),
}

/// The per-caller limiters of one tool, bounded in memory: a caller's entry is dropped
/// once it is idle (its bucket full again, so forgetting it changes nothing), and at most
/// `cap` callers have an entry of their own; past that, new callers share one.
struct Keyed {
    limiter: RateLimiter<u64, Capped, DefaultClock>,
    /// The limiter's table, to carry each caller's state into the limiter a reload makes.
    table: Arc<Table>,
    /// The limiter's parameters and the moment its clock counts from, to carry state.
    gcra: Gcra,
    /// Keys callers by a keyed (randomly seeded) hash of their id: an entry is two
    /// words, no string is kept or compared, and nobody can choose ids that collide.
    /// Kept across reloads, so a caller's key stays the same.
    hasher: std::hash::RandomState,
    calls: AtomicU32,
    /// When idle entries were last dropped, in milliseconds since `born`.
    swept: AtomicU64,
    born: std::time::Instant,
}

/// governor's concurrent map of per-key state, with a cap on its keys: a key new to a
/// full map is measured under [`OVERFLOW`] instead, so a spray of fresh identities costs
/// no memory and gets one budget between them, not one each.
struct Capped(Arc<Table>);

/// The map of a [`Capped`] store.
struct Table {
    map: governor::state::keyed::DashMapStateStore<u64, std::hash::BuildHasherDefault<Hashed>>,
    cap: usize,
    /// How many more calls may add an entry before the table must be counted again.
    room: AtomicUsize,
}

/// What GCRA needs to move a theoretical arrival time from one limiter to another: the
/// bucket (`interval * burst`) and the reading the limiter's clock counts from.
#[derive(Clone, Copy)]
struct Gcra {
    bucket: u64,
    born: <DefaultClock as Clock>::Instant,
}

impl Gcra {
    fn new(quota: Quota) -> Self {
        let interval = u64::try_from(quota.replenish_interval().as_nanos())
            .unwrap_or(u64::MAX)
            .max(1);
        Self {
            bucket: interval.saturating_mul(u64::from(quota.burst_size().get())),
            born: DefaultClock::default().now(),
        }
    }

    /// The theoretical arrival time `tat` (of the limiter `self` describes) as the
    /// limiter `new` counts it, clamped to `new`'s bucket; `None` when it lies in the past
    /// (a full bucket, which needs no entry).
    fn carry(
        &self,
        tat: Nanos,
        new: &Self,
        now: <DefaultClock as Clock>::Instant,
    ) -> Option<Nanos> {
        // Both in nanoseconds since `new.born`, which is the later of the two.
        let since = |at: <DefaultClock as Clock>::Instant| u64::from(at.duration_since(new.born));
        let shift = u64::from(new.born.duration_since(self.born));
        let tat = tat.as_u64().checked_sub(shift)?;
        let now = since(now);
        (tat > now).then(|| Nanos::from(tat.min(now.saturating_add(new.bucket))))
    }
}

impl Capped {
    /// Count the table; `true` (and the room renewed) when it is not full.
    fn has_room(&self) -> bool {
        self.0.has_room()
    }
}

impl Table {
    /// Count the table; `true` (and the room renewed) when it is not full.
    fn has_room(&self) -> bool {
        let free = self.cap.saturating_sub(self.map.len());
        self.room.store(free.saturating_sub(1), Ordering::Relaxed);
        free > 0
    }
}

/// The map's hasher: its keys are hashes already.
#[derive(Default)]
struct Hashed(u64);

impl std::hash::Hasher for Hashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed here; fold anything else in, just in case.
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

impl StateStore for Capped {
    type Key = u64;

    fn measure_and_replace<T, F, E>(&self, key: &u64, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        // Each call adds at most one entry, so while `room` lasts no call needs to ask
        // whether its caller is new: one lookup, as governor's own map makes. Once it is
        // spent, the table is counted again, and a full one admits new callers under
        // `OVERFLOW` only.
        let spare = self
            .0
            .room
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |room| {
                room.checked_sub(1)
            })
            .is_ok();
        let key = if spare || self.has_room() || self.0.map.contains_key(key) {
            key
        } else {
            &OVERFLOW
        };
        self.0.map.measure_and_replace(key, f)
    }
}

impl governor::state::keyed::ShrinkableKeyedStateStore<u64> for Capped {
    fn retain_recent(&self, drop_below: Nanos) {
        self.0.map.retain_recent(drop_below);
        let _ = self.has_room();
    }

    fn shrink_to_fit(&self) {
        // Only once most of the room is unused: shrinking rehashes every shard.
        if self.0.map.len() * 4 < self.0.map.capacity() {
            self.0.map.shrink_to_fit();
        }
    }

    fn len(&self) -> usize {
        self.0.map.len()
    }

    fn is_empty(&self) -> bool {
        self.0.map.is_empty()
    }
}

/// governor's direct (one-key) state, shared with the [`GlobalState`] that owns the
/// limiter, to carry it into the limiter a reload makes.
struct Direct(Arc<InMemoryState>);

impl StateStore for Direct {
    type Key = NotKeyed;

    fn measure_and_replace<T, F, E>(&self, key: &NotKeyed, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        self.0.measure_and_replace(key, f)
    }
}

/// The state in `state` (read without changing it).
fn read(state: &InMemoryState) -> Option<Nanos> {
    state
        .measure_and_replace(&NotKeyed::NonKey, |tat| {
            Ok::<_, std::convert::Infallible>((tat, tat.unwrap_or_default()))
        })
        .unwrap_or_else(|never| match never {})
}

/// Put `tat` into `state`.
fn write(state: &InMemoryState, tat: Nanos) {
    let _ = state.measure_and_replace(&NotKeyed::NonKey, |_| {
        Ok::<_, std::convert::Infallible>(((), tat))
    });
}

/// The key under which callers beyond the cap are limited together (a caller's own key
/// is a keyed hash; one landing here by chance would only share this budget).
const OVERFLOW: u64 = u64::MAX;

/// Drop idle entries every this many calls, or after this long, whichever comes first.
const SWEEP_EVERY: u32 = 4096;
const SWEEP_AFTER_MS: u64 = 1_000;

/// The default number of callers per tool with a rate entry of their own.
pub(crate) const DEFAULT_MAX_KEYS: usize = 100_000;

/// The tool's rate across every caller.
enum GlobalState {
    Unlimited,
    Closed(Duration),
    Limited {
        limiter: RateLimiter<NotKeyed, Direct, DefaultClock>,
        state: Arc<InMemoryState>,
        gcra: Gcra,
    },
}

/// Why a call was not admitted by the limits.
pub(crate) enum Limited {
    /// Over the caller's rate; retry after this long.
    Rate(Duration),
    /// Over the tool's rate across every caller; retry after this long.
    Global(Duration),
    /// Over the concurrency cap.
    Busy,
}

impl Limited {
    /// How long to wait before a retry can succeed (`None`: when a call finishes).
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Rate(wait) | Self::Global(wait) => Some(*wait),
            Self::Busy => None,
        }
    }
}

impl ToolState {
    pub(crate) fn new(limits: &Limits, max_keys: usize) -> Self {
        Self {
            rate: Arc::new(RateState::new(limits, max_keys, None)),
            global: Arc::new(GlobalState::new(limits.rate_global, None)),
            slots: Self::slots(limits, None),
        }
    }

    fn slots(limits: &Limits, running: Option<&Slots>) -> Option<Slots> {
        limits.concurrency.filter(|n| *n > 0).map(|cap| Slots {
            running: running.map_or_else(Arc::default, |slots| Arc::clone(&slots.running)),
            cap,
        })
    }

    /// The state for `new` limits, taken over from this state (built for `old`). A limit
    /// that did not change keeps its state as it is. A changed rate never refills a
    /// budget: each caller's theoretical arrival time is carried into the new limiter,
    /// clamped to the new burst (so a caller who spent its bucket stays refused until
    /// the new rate lets it in). A changed concurrency cap counts the calls already
    /// running.
    pub(crate) fn carry(&self, old: &Limits, new: &Limits, max_keys: usize) -> Self {
        Self {
            rate: if (old.rate, old.burst) == (new.rate, new.burst) {
                Arc::clone(&self.rate)
            } else {
                Arc::new(RateState::new(new, max_keys, Some(&self.rate)))
            },
            global: if old.rate_global == new.rate_global {
                Arc::clone(&self.global)
            } else {
                Arc::new(GlobalState::new(new.rate_global, Some(&self.global)))
            },
            slots: Self::slots(new, self.slots.as_ref()),
        }
    }

    /// Take one unit of rate for `principal` (then one of the tool's rate across every
    /// caller) and one concurrency slot, or say why not. The caller's unit is taken
    /// first: a caller over its own rate never spends the budget the others share.
    pub(crate) fn admit(&self, principal: &Arc<str>) -> Result<Option<Permit>, Limited> {
        match &*self.rate {
            RateState::Unlimited => {}
            RateState::Closed(period) => return Err(Limited::Rate(*period)),
            RateState::Limited(keyed) => keyed.check(principal).map_err(Limited::Rate)?,
        }
        match &*self.global {
            GlobalState::Unlimited => {}
            GlobalState::Closed(period) => return Err(Limited::Global(*period)),
            GlobalState::Limited { limiter, .. } => {
                if let Err(not_until) = limiter.check() {
                    return Err(Limited::Global(
                        not_until.wait_time_from(DefaultClock::default().now()),
                    ));
                }
            }
        }
        self.admit_slot()
    }

    /// Take one concurrency slot (the rate was checked elsewhere), or say why not.
    pub(crate) fn admit_slot(&self) -> Result<Option<Permit>, Limited> {
        match &self.slots {
            None => Ok(None),
            Some(slots) => slots.take().map(Some).ok_or(Limited::Busy),
        }
    }

    /// How many callers have a rate entry of their own (for tests and benchmarks).
    pub(crate) fn keys(&self) -> usize {
        match &*self.rate {
            RateState::Limited(keyed) => keyed.limiter.len(),
            _ => 0,
        }
    }

    /// Drop every idle caller's entry now.
    pub(crate) fn sweep(&self) {
        if let RateState::Limited(keyed) = &*self.rate {
            keyed.sweep();
        }
    }
}

impl RateState {
    /// The state of `limits`' rate, carrying each caller's state from `previous`.
    fn new(limits: &Limits, max_keys: usize, previous: Option<&Self>) -> Self {
        // A rate no quota can express (0 calls) refuses every call.
        match limits.rate {
            None => Self::Unlimited,
            Some(rate) => match rate.quota(limits.burst) {
                Some(quota) => {
                    let table = Arc::new(Table {
                        map: governor::state::keyed::DashMapStateStore::default(),
                        cap: max_keys.max(1),
                        room: AtomicUsize::new(max_keys.max(1)),
                    });
                    // Read just before the limiter's own start: a carried time is off by
                    // the nanoseconds between, on the strict side.
                    let gcra = Gcra::new(quota);
                    let keyed = Keyed {
                        limiter: RateLimiter::new(
                            quota,
                            Capped(Arc::clone(&table)),
                            DefaultClock::default(),
                        ),
                        table,
                        gcra,
                        hasher: match previous {
                            Some(Self::Limited(old)) => old.hasher.clone(),
                            _ => std::hash::RandomState::new(),
                        },
                        calls: AtomicU32::new(0),
                        swept: AtomicU64::new(0),
                        born: std::time::Instant::now(),
                    };
                    if let Some(Self::Limited(old)) = previous {
                        keyed.take_over(old);
                    }
                    Self::Limited(keyed)
                }
                None => Self::Closed(rate.period().max(Duration::from_secs(1))),
            },
        }
    }
}

impl Keyed {
    /// One call of `principal`: `Err` with the wait when it is over its rate.
    fn check(&self, principal: &Arc<str>) -> Result<(), Duration> {
        let calls = self.calls.fetch_add(1, Ordering::Relaxed);
        // The clock is read every 64th call only; the sweep runs every `SWEEP_EVERY` calls
        // or, on a quieter tool, once `SWEEP_AFTER_MS` have passed.
        if calls % 64 == 63 {
            let now_ms = u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX);
            if calls % SWEEP_EVERY == SWEEP_EVERY - 1
                || now_ms.saturating_sub(self.swept.load(Ordering::Relaxed)) >= SWEEP_AFTER_MS
            {
                self.swept.store(now_ms, Ordering::Relaxed);
                self.sweep();
            }
        }
        let key = std::hash::BuildHasher::hash_one(&self.hasher, &**principal);
        self.limiter
            .check_key(&key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    fn sweep(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// Carry every caller's state from `old` (the same tool under other limits).
    fn take_over(&self, old: &Self) {
        let now = DefaultClock::default().now();
        let keys: Vec<u64> = old.table.map.iter().map(|entry| *entry.key()).collect();
        for key in keys {
            let Some(tat) = old.table.map.get(&key).and_then(|state| read(&state)) else {
                continue;
            };
            if let Some(tat) = old.gcra.carry(tat, &self.gcra, now) {
                let state = self.table.map.entry(key).or_default();
                write(&state, tat);
            }
        }
        let _ = self.table.has_room();
    }
}

impl GlobalState {
    /// The state of `rate`, carrying the state of `previous`.
    fn new(rate: Option<Rate>, previous: Option<&Self>) -> Self {
        match rate {
            None => Self::Unlimited,
            Some(rate) => match rate.quota(None) {
                Some(quota) => {
                    let state = Arc::new(InMemoryState::default());
                    let gcra = Gcra::new(quota);
                    let limiter = RateLimiter::new(
                        quota,
                        Direct(Arc::clone(&state)),
                        DefaultClock::default(),
                    );
                    if let Some(Self::Limited {
                        state: old,
                        gcra: old_gcra,
                        ..
                    }) = previous
                        && let Some(tat) = read(old)
                        && let Some(tat) = old_gcra.carry(tat, &gcra, DefaultClock::default().now())
                    {
                        write(&state, tat);
                    }
                    Self::Limited {
                        limiter,
                        state,
                        gcra,
                    }
                }
                None => Self::Closed(rate.period().max(Duration::from_secs(1))),
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

    #[test]
    fn burst_then_refuse_per_principal() {
        let limits = Limits {
            rate: Some(Rate {
                count: 3,
                period_ms: 60_000,
            }),
            ..Limits::NONE
        };
        let state = ToolState::new(&limits, DEFAULT_MAX_KEYS);
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
    fn a_rate_of_zero_admits_nothing() {
        let limits = Limits {
            rate: Some(Rate {
                count: 0,
                period_ms: 60_000,
            }),
            ..Limits::NONE
        };
        let state = ToolState::new(&limits, DEFAULT_MAX_KEYS);
        let who: Arc<str> = "x".into();
        assert!(matches!(state.admit(&who), Err(Limited::Rate(_))));
    }

    #[test]
    fn limits_read_as_they_were_written() {
        let rate = |count, period_ms| Rate { count, period_ms }.to_string();
        assert_eq!(rate(60, 60_000), "60/min");
        assert_eq!(rate(5, 1_000), "5/sec");
        assert_eq!(rate(2, 3_600_000), "2/hour");
        assert_eq!(rate(2, 1_500), "2/1500ms");
        assert_eq!(size_text(1 << 20), "1 MiB");
        assert_eq!(size_text(64 * 1024), "64 KiB");
        assert_eq!(size_text(1000), "1000 B");
    }

    fn rate(count: u32, period_ms: u64, burst: Option<u32>) -> Limits {
        Limits {
            rate: Some(Rate { count, period_ms }),
            burst,
            ..Limits::NONE
        }
    }

    #[test]
    fn tightening_a_rate_never_refills_a_budget() {
        let old = rate(10, 60_000, None);
        let state = ToolState::new(&old, DEFAULT_MAX_KEYS);
        let (alice, bob): (Arc<str>, Arc<str>) = ("alice".into(), "bob".into());
        for _ in 0..10 {
            assert!(state.admit(&alice).is_ok());
        }
        assert!(state.admit(&bob).is_ok());
        // Tightened to 5/min (and, next, a burst of 2): alice spent her bucket and stays
        // refused; bob spent one call of ten and keeps what the new bucket allows.
        for new in [rate(5, 60_000, None), rate(10, 60_000, Some(2))] {
            let next = state.carry(&old, &new, DEFAULT_MAX_KEYS);
            assert!(
                matches!(next.admit(&alice), Err(Limited::Rate(_))),
                "a tightened limit gave a spent caller a fresh bucket"
            );
            assert!(next.admit(&bob).is_ok());
            // A caller the old limiter never saw gets the new bucket.
            let carol: Arc<str> = "carol".into();
            let admitted = (0..20).filter(|_| next.admit(&carol).is_ok()).count();
            assert_eq!(admitted as u32, new.burst.unwrap_or(5));
        }
        // Loosened: the spent time is kept, clamped to the new (larger) bucket, so the
        // wait is at most the new rate's interval.
        let loose = rate(6_000, 60_000, None);
        let next = state.carry(&old, &loose, DEFAULT_MAX_KEYS);
        match next.admit(&alice) {
            Err(Limited::Rate(wait)) => assert!(wait <= Duration::from_millis(10), "{wait:?}"),
            Ok(_) => {}
            Err(_) => panic!("refused by something else"),
        }
    }

    #[test]
    fn tightening_the_global_rate_never_refills_it() {
        let old = Limits {
            rate_global: Some(Rate {
                count: 4,
                period_ms: 60_000,
            }),
            ..Limits::NONE
        };
        let state = ToolState::new(&old, DEFAULT_MAX_KEYS);
        for i in 0..4 {
            assert!(state.admit(&Arc::from(format!("p{i}"))).is_ok());
        }
        let new = Limits {
            rate_global: Some(Rate {
                count: 2,
                period_ms: 60_000,
            }),
            ..Limits::NONE
        };
        let next = state.carry(&old, &new, DEFAULT_MAX_KEYS);
        assert!(matches!(
            next.admit(&Arc::from("late")),
            Err(Limited::Global(_))
        ));
    }

    #[test]
    fn a_changed_concurrency_cap_counts_the_calls_in_flight() {
        let cap = |n| Limits {
            concurrency: Some(n),
            ..Limits::NONE
        };
        let who: Arc<str> = "x".into();
        let state = ToolState::new(&cap(2), DEFAULT_MAX_KEYS);
        let first = state.admit(&who).ok().flatten().unwrap();
        let second = state.admit(&who).ok().flatten().unwrap();
        // Raised to 3 with two running: one more, not three.
        let raised = state.carry(&cap(2), &cap(3), DEFAULT_MAX_KEYS);
        let third = raised.admit(&who).ok().flatten().unwrap();
        assert!(matches!(raised.admit(&who), Err(Limited::Busy)));
        // Lowered to 1 with three running: none until two of them end.
        let lowered = raised.carry(&cap(3), &cap(1), DEFAULT_MAX_KEYS);
        assert!(matches!(lowered.admit(&who), Err(Limited::Busy)));
        drop((first, second));
        assert!(matches!(lowered.admit(&who), Err(Limited::Busy)));
        drop(third);
        assert!(lowered.admit(&who).is_ok());
    }

    #[test]
    fn a_burst_too_large_for_gcra_is_capped_never_a_panic() {
        let limits = rate(1, 3_600_000, Some(u32::MAX));
        assert!(!limits.rate.unwrap().fits(limits.burst));
        let state = ToolState::new(&limits, DEFAULT_MAX_KEYS);
        assert!(state.admit(&Arc::from("x")).is_ok());
        let next = state.carry(&rate(1, 60_000, None), &limits, DEFAULT_MAX_KEYS);
        assert!(next.admit(&Arc::from("x")).is_ok());
    }

    #[test]
    fn concurrency_cap_refuses_instead_of_queueing() {
        let limits = Limits {
            concurrency: Some(1),
            ..Limits::NONE
        };
        let state = ToolState::new(&limits, DEFAULT_MAX_KEYS);
        let who: Arc<str> = "x".into();
        let permit = state.admit(&who).ok().flatten().expect("first slot");
        assert!(matches!(state.admit(&who), Err(Limited::Busy)));
        drop(permit);
        assert!(state.admit(&who).is_ok());
    }
}

#[cfg(test)]
mod bounds {
    use super::*;

    fn per_minute(count: u32) -> Limits {
        Limits {
            rate: Some(Rate {
                count,
                period_ms: 60_000,
            }),
            ..Limits::NONE
        }
    }

    #[test]
    fn a_spray_of_identities_is_capped_and_shares_one_budget() {
        let state = ToolState::new(&per_minute(2), 100);
        for i in 0..100 {
            assert!(state.admit(&Arc::from(format!("p{i}"))).is_ok());
        }
        assert_eq!(state.keys(), 100);
        // The table is full: new identities share one overflow entry and its budget.
        let admitted = (100..10_000)
            .filter(|i| state.admit(&Arc::from(format!("p{i}"))).is_ok())
            .count();
        assert_eq!(admitted, 2, "the overflow entry has one caller's budget");
        assert_eq!(state.keys(), 101);
        // A caller that has an entry keeps its own budget.
        assert!(state.admit(&Arc::from("p7")).is_ok());
        assert!(state.admit(&Arc::from("p7")).is_err());
    }

    #[test]
    fn idle_callers_are_forgotten() {
        // One call is refilled after 60 ms: after that, an entry is idle.
        let state = ToolState::new(&per_minute(1000), DEFAULT_MAX_KEYS);
        for i in 0..5_000 {
            assert!(state.admit(&Arc::from(format!("p{i}"))).is_ok());
        }
        assert!(state.keys() > 4_000);
        std::thread::sleep(Duration::from_millis(150));
        state.sweep();
        assert_eq!(state.keys(), 0);
    }

    #[test]
    fn the_global_rate_holds_whoever_calls() {
        let limits = Limits {
            rate_global: Some(Rate {
                count: 5,
                period_ms: 60_000,
            }),
            ..per_minute(100)
        };
        let state = ToolState::new(&limits, DEFAULT_MAX_KEYS);
        let admitted = (0..50)
            .filter(|i| state.admit(&Arc::from(format!("p{i}"))).is_ok())
            .count();
        assert_eq!(admitted, 5);
        match state.admit(&Arc::from("late")) {
            Err(Limited::Global(wait)) => assert_eq!(retry_secs(wait), 12),
            _ => panic!("the sixth call in a minute must be refused for everyone"),
        }
    }
}
