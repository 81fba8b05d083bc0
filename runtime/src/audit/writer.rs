//! The audit trail's file and the thread that writes it: lines come through a bounded
//! queue, so a call never waits for the disk, and every line that is accepted is either
//! written whole or counted as dropped.
//!
//! What an operator does to the file is expected: a rename by logrotate (or by hand) is
//! noticed by comparing the path's device and inode with the open file's, as Python's
//! `WatchedFileHandler` does, and the trail reopens at the path. The file is opened with
//! `O_APPEND`; a new one is made with mode 0600, a rotated one with the mode of the file
//! it replaces. The lines queued together are written together (one check of the path,
//! one read of the file's length, as few appends as rotation allows). An append that fails
//! is cut back off the file, so no torn line is left, and retried line by line: every line
//! that fits is written, each one that does not is counted.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

/// Where the writer reports its own troubles (never with a line's content).
const TARGET: &str = "secure_tool::audit";

/// After a rotation failed, how long before it is tried again (the file grows meanwhile).
const ROTATE_RETRY: Duration = Duration::from_secs(30);

/// How long the writer waits for a line before it checks the path again.
const IDLE: Duration = Duration::from_millis(500);

/// How long the writer lets lines gather after the first of a batch arrives: what a line
/// may wait before it is written. A `flush`, a `close` or a queue half full wakes the
/// writer at once.
/// Each batch costs the same few system calls (a `stat` of the path, one of the file, the
/// append, the pause itself), so the longer the pause, the less each line costs.
pub(crate) const LINGER: Duration = Duration::from_millis(10);

/// The most lines written between two updates of the progress counter.
const BATCH: u64 = 1024;

/// A line as the writer thread renders it (calls never format JSON).
pub(crate) trait Render: Send + 'static {
    /// Append the line's JSON object to `out`, compact (no newline inside).
    fn render(&self, out: &mut Vec<u8>);
}

/// What the writer's queue carries.
enum Message<L> {
    Line(L),
    /// Write what came before, sync the file and stop.
    Close,
}

/// The trail's settings, as the writer needs them.
pub(crate) struct Settings {
    pub(crate) path: PathBuf,
    pub(crate) max_bytes: u64,
    pub(crate) keep: u32,
    pub(crate) capacity: usize,
    /// How long lines gather before they are written ([`LINGER`]).
    pub(crate) linger: Duration,
}

/// The sending side: the queue, the drop counters, and how far the writer has come.
pub(crate) struct Sink<L: Render> {
    queue: SyncSender<Message<L>>,
    /// The writer thread: woken by `flush` and `close` from the pause in which it lets
    /// lines gather.
    writer: std::thread::Thread,
    /// Set by `close`: lines sent after it are counted as dropped.
    closed: AtomicBool,
    counters: Arc<Counters>,
    progress: Arc<Progress>,
}

/// Lines lost, shared with the writer.
#[derive(Default)]
struct Counters {
    /// Drops not yet written to the trail as an `audit_dropped` line.
    pending: AtomicU64,
    /// Drops already written to the trail.
    written: AtomicU64,
}

/// How many accepted lines the writer has dealt with (written or counted), and whether
/// it has stopped.
#[derive(Default)]
struct Progress {
    state: Mutex<ProgressState>,
    changed: Condvar,
    /// How many accepted lines the writer has dealt with: changed only under `state`'s
    /// lock (so a waiter's check and an advance are ordered), read by senders without it.
    handled: AtomicU64,
    /// Lines accepted into the queue.
    sent: AtomicU64,
    /// Half the queue: with this many lines waiting, a sender cuts the writer's pause
    /// short, so a burst fills the queue only when the writer cannot keep up, not because
    /// it was pausing.
    half: u64,
    /// The writer is in its pause: the first sender to find the queue half full takes
    /// this and wakes it; the others do nothing (no shared write on every line).
    lingering: AtomicBool,
}

#[derive(Default)]
struct ProgressState {
    stopped: bool,
    /// Threads in [`Progress::wait`]: only they need a wake-up (a system call), not every
    /// batch.
    waiting: usize,
}

impl Progress {
    /// Whether half the queue (or more) waits for the writer.
    fn half_full(&self) -> bool {
        let sent = self.sent.load(Ordering::SeqCst);
        sent.saturating_sub(self.handled.load(Ordering::Acquire)) >= self.half
    }

    fn advance(&self, handled: u64, stopped: bool) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        self.handled.fetch_add(handled, Ordering::Release);
        state.stopped |= stopped;
        let waiting = state.waiting > 0;
        drop(state);
        if waiting {
            self.changed.notify_all();
        }
    }

    /// Wait until `done(handled, stopped)` holds or `deadline` passes; whether it held.
    fn wait(&self, deadline: Instant, mut done: impl FnMut(u64, bool) -> bool) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if done(self.handled.load(Ordering::Acquire), state.stopped) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            // Counted under the lock `advance` takes, so an advance after this check
            // sees the waiter and wakes it.
            state.waiting += 1;
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            state.waiting -= 1;
        }
    }
}

impl<L: Render> Sink<L> {
    /// Open the file and start the writer thread.
    pub(crate) fn open(settings: Settings) -> std::io::Result<Self> {
        let capacity = settings.capacity.max(1);
        let (queue, lines) = std::sync::mpsc::sync_channel(capacity);
        let file = File::open(settings)?;
        let counters = Arc::new(Counters::default());
        let progress = Arc::new(Progress {
            half: (capacity as u64).div_ceil(2),
            ..Progress::default()
        });
        let (c, p) = (Arc::clone(&counters), Arc::clone(&progress));
        let writer = std::thread::Builder::new()
            .name("secure-tool-audit".into())
            .spawn(move || file.run(&lines, &c, &p))?
            .thread()
            .clone();
        Ok(Self {
            queue,
            writer,
            closed: AtomicBool::new(false),
            counters,
            progress,
        })
    }

    /// Queue a line without waiting: when the queue is full (or the trail closed) it is
    /// dropped and counted.
    pub(crate) fn send(&self, line: L) {
        if self.closed.load(Ordering::Relaxed) {
            self.counters.pending.fetch_add(1, Ordering::Relaxed);
            return;
        }
        match self.queue.try_send(Message::Line(line)) {
            Ok(()) => {
                self.progress.sent.fetch_add(1, Ordering::SeqCst);
                if self.progress.half_full() {
                    self.wake_lingering();
                }
            }
            Err(error) => {
                self.counters.pending.fetch_add(1, Ordering::Relaxed);
                if matches!(error, TrySendError::Full(_)) {
                    self.wake_lingering();
                }
            }
        }
    }

    /// Cut the writer's pause short, if it is in one (one sender does it).
    fn wake_lingering(&self) {
        if self.progress.lingering.load(Ordering::Relaxed)
            && self.progress.lingering.swap(false, Ordering::SeqCst)
        {
            self.writer.unpark();
        }
    }

    /// Lines lost so far: dropped from a full queue, sent after `close`, or not written
    /// because the file refused them.
    pub(crate) fn dropped(&self) -> u64 {
        self.counters.written.load(Ordering::Relaxed)
            + self.counters.pending.load(Ordering::Relaxed)
    }

    /// Wait until every line queued before this call is written (or counted as dropped),
    /// at most `timeout`. `true` when it was.
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        let target = self.progress.sent.load(Ordering::Acquire);
        self.writer.unpark();
        let mut reached = false;
        self.progress.wait(deadline(timeout), |handled, stopped| {
            reached = handled >= target;
            reached || stopped
        });
        reached
    }

    /// Take no more lines, write every queued one, sync the file and stop the writer,
    /// within `timeout`. `true` when all of that happened in time.
    pub(crate) fn close(&self, timeout: Duration) -> bool {
        let deadline = deadline(timeout);
        self.closed.store(true, Ordering::Relaxed);
        let target = self.progress.sent.load(Ordering::Acquire);
        // The queue may be full: the writer is draining it, so room comes soon.
        let mut close = Message::Close;
        loop {
            match self.queue.try_send(close) {
                Ok(()) => {
                    self.writer.unpark();
                    break;
                }
                Err(TrySendError::Disconnected(_)) => break,
                Err(TrySendError::Full(back)) => {
                    if Instant::now() >= deadline {
                        return false;
                    }
                    close = back;
                    self.writer.unpark();
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        self.progress
            .wait(deadline, |handled, stopped| stopped && handled >= target)
    }
}

/// `timeout` from now, or far in the future for a timeout past what an `Instant` holds.
fn deadline(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

impl<L: Render> Drop for Sink<L> {
    fn drop(&mut self) {
        if !self.progress.wait(Instant::now(), |_, stopped| stopped) {
            let _ = self.close(Duration::from_secs(5));
        }
    }
}

/// The writer thread's file, rotated by size and reopened when moved away.
struct File {
    settings: Settings,
    file: std::fs::File,
    /// What the open file is (device, inode), to notice that the path names another.
    identity: Option<(u64, u64)>,
    /// The mode of the file, given to the file that replaces it.
    mode: u32,
    size: u64,
    /// A failed write whose partial line could not be cut off: the next line starts on a
    /// line of its own.
    torn: bool,
    /// When a failed rotation may be tried again.
    rotate_after: Option<Instant>,
    /// The file refuses writes (reported once until it takes one again).
    failing: bool,
}

/// A new trail's mode: only its owner reads it.
const NEW_MODE: u32 = 0o600;

impl File {
    fn open(settings: Settings) -> std::io::Result<Self> {
        let file = open_at(&settings.path, NEW_MODE)?;
        let metadata = file.metadata()?;
        Ok(Self {
            identity: identity(&metadata),
            mode: mode(&metadata),
            size: metadata.len(),
            file,
            settings,
            torn: false,
            rotate_after: None,
            failing: false,
        })
    }

    /// Write lines until told to close (or every sender is gone).
    fn run<L: Render>(
        mut self,
        lines: &Receiver<Message<L>>,
        counters: &Counters,
        progress: &Progress,
    ) {
        // Lines came in the last moment, so more are likely: the writer looks again after
        // a pause (`LINGER`, cut short by `flush`, `close` and a queue half full) instead
        // of blocking on the queue, so that under steady load no caller pays for a wake-up
        // (a system call, and a thread switch on a busy machine). (A full batch means
        // lines are waiting already: no pause then.)
        let linger = self.settings.linger;
        let pause = || {
            // Said before the queue is looked at: a sender that counts its line after
            // this look sees the flag and wakes the writer; one that counted before it
            // is seen here (both sides sequentially consistent).
            progress.lingering.store(true, Ordering::SeqCst);
            if !progress.half_full() {
                std::thread::park_timeout(linger);
            }
            progress.lingering.store(false, Ordering::SeqCst);
        };
        let (mut busy, mut full) = (false, false);
        // One buffer for every batch: it grows to the size of a busy moment's lines once,
        // not again (by doubling, copying what it holds) for every batch.
        let mut batch = Batch::default();
        loop {
            let first = if busy {
                if !full {
                    pause();
                }
                match lines.try_recv() {
                    Ok(message) => Some(message),
                    Err(TryRecvError::Empty) => {
                        busy = false;
                        continue;
                    }
                    Err(TryRecvError::Disconnected) => Some(Message::Close),
                }
            } else {
                match lines.recv_timeout(IDLE) {
                    Ok(message) => {
                        // The first line after a quiet spell: let the lines of the next
                        // moment queue up behind it, to be written together.
                        if matches!(message, Message::Line(_)) {
                            pause();
                        }
                        Some(message)
                    }
                    // Nothing to write: the path is left alone (a file made now could race
                    // logrotate's own `create`), but a count of drops is written if any.
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => Some(Message::Close),
                }
            };
            let mut handled = 0;
            let mut next = first;
            if next.is_none() && counters.pending.load(Ordering::Relaxed) > 0 {
                self.follow_path();
                self.note_drops(counters);
            }
            // The lines queued now, written together: once a batch (not once a line) the
            // path is followed (one `stat`, as Python's `WatchedFileHandler` makes before
            // each record) and the file's length read, and the lines go out in as few
            // `write`s as rotation allows.
            batch.clear();
            let mut closing = false;
            while let Some(message) = next.take() {
                match message {
                    Message::Line(line) => batch.push(|out| line.render(out)),
                    Message::Close => {
                        // Lines a sender queued while the trail was closing are written
                        // too; a later one finds the queue gone and is counted there.
                        while let Ok(message) = lines.try_recv() {
                            if let Message::Line(line) = message {
                                batch.push(|out| line.render(out));
                            }
                        }
                        closing = true;
                        break;
                    }
                }
                if batch.lines() < BATCH {
                    next = lines.try_recv().ok();
                }
            }
            if batch.lines() > 0 || closing {
                self.follow_path();
                self.note_drops(counters);
                handled += batch.lines();
                let lost = self.write_batch(&batch);
                counters.pending.fetch_add(lost, Ordering::Relaxed);
            }
            if closing {
                self.note_drops(counters);
                let _ = self.file.sync_data();
                progress.advance(handled, true);
                return;
            }
            progress.advance(handled, false);
            busy = batch.lines() > 0;
            full = batch.lines() >= BATCH;
        }
    }

    /// Write `batch`: as few appends as rotation allows (a line that would take the file
    /// past its size rotates it first, as it always did). Returns how many lines were not
    /// written (each failed append is cut back whole, its lines counted).
    fn write_batch(&mut self, batch: &Batch) -> u64 {
        let mut lost = 0;
        // The lines not yet appended: `text[start..end]`, `in_chunk` of them.
        let (mut start, mut end, mut in_chunk) = (0, 0, 0);
        // The file's own length, not a count kept here: `copytruncate` or `: > FILE` may
        // have emptied it.
        if let Ok(metadata) = self.file.metadata() {
            self.size = metadata.len();
        }
        let text = &batch.text[..];
        for &line_end in &batch.ends {
            let line = line_end - end;
            let projected = self.size + (end - start + line) as u64;
            if projected > self.settings.max_bytes && (self.size > 0 || end > start) {
                if end > start {
                    lost += self.append_lines(&text[start..end], in_chunk);
                }
                (start, in_chunk) = (end, 0);
                if self.size > 0 {
                    self.rotate();
                }
            }
            end = line_end;
            in_chunk += 1;
        }
        if end > start {
            lost += self.append_lines(&text[start..end], in_chunk);
        }
        lost
    }

    /// Append `chunk`, `lines` whole lines, at once; when that fails (a full disk, a file
    /// size limit), line by line, so every line that fits is written, as if each had come
    /// alone. Returns how many were not written.
    fn append_lines(&mut self, chunk: &[u8], lines: u64) -> u64 {
        if self.append(chunk) {
            return 0;
        }
        if lines == 1 {
            return 1;
        }
        chunk
            .split_inclusive(|&b| b == b'\n')
            .map(|line| u64::from(!self.append(line)))
            .sum()
    }

    /// Write the count of lines lost since the last such line, before anything else.
    fn note_drops(&mut self, counters: &Counters) {
        let dropped = counters.pending.swap(0, Ordering::Relaxed);
        if dropped == 0 {
            return;
        }
        let note = serde_json::json!({
            "time": chrono::DateTime::<chrono::Utc>::from(SystemTime::now())
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "event": "audit_dropped",
            "dropped": dropped,
        });
        if self.write(&note) {
            counters.written.fetch_add(dropped, Ordering::Relaxed);
        } else {
            counters.pending.fetch_add(dropped, Ordering::Relaxed);
        }
    }

    /// Append one line (rotating first when it would not fit): `false` when it could not
    /// be written, in which case nothing of it stays in the file.
    fn write(&mut self, value: &serde_json::Value) -> bool {
        let mut batch = Batch::default();
        batch.push(|out| {
            let _ = serde_json::to_writer(out, value);
        });
        self.write_batch(&batch) == 0
    }

    /// Append `text` (whole lines): `false` when it could not be written, in which case
    /// nothing of it stays in the file.
    fn append(&mut self, text: &[u8]) -> bool {
        let text = if self.torn {
            std::borrow::Cow::Owned([b"\n", text].concat())
        } else {
            std::borrow::Cow::Borrowed(text)
        };
        let start = self.size;
        let mut written = 0;
        let result = loop {
            match self.file.write(&text[written..]) {
                Ok(0) => break Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    written += n;
                    if written == text.len() {
                        break Ok(());
                    }
                }
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) => break Err(error),
            }
        };
        match result {
            Ok(()) => {
                self.size = start + written as u64;
                self.torn = false;
                if self.failing {
                    self.failing = false;
                    tracing::warn!(target: TARGET, "the audit trail is written again");
                }
                true
            }
            Err(error) => {
                // Cut the partial line off, so the next line starts clean.
                if written > 0 {
                    let grown = self.file.metadata().map_or(true, |m| m.len() > start);
                    if grown && self.file.set_len(start).is_ok() {
                        self.size = start;
                    } else {
                        self.size = start + written as u64;
                        self.torn = true;
                    }
                }
                if !self.failing {
                    self.failing = true;
                    tracing::error!(target: TARGET, %error, "cannot write the audit trail; lines are counted as dropped until it can");
                }
                false
            }
        }
    }

    /// When the path no longer names the open file (moved or removed by logrotate or an
    /// operator, or replaced), reopen at the path: new lines go where the operator looks.
    fn follow_path(&mut self) {
        if cfg!(not(unix)) {
            return;
        }
        let current = std::fs::metadata(&self.settings.path)
            .ok()
            .and_then(|m| identity(&m));
        if (current.is_none() || current != self.identity)
            && let Err(error) = self.reopen()
            && !self.failing
        {
            tracing::error!(target: TARGET, %error, "cannot reopen the audit trail at its path; writing on to the file it was moved to");
        }
    }

    /// Open the file at the path (made with the mode the one it replaces has now).
    fn reopen(&mut self) -> std::io::Result<()> {
        if let Ok(metadata) = self.file.metadata() {
            self.mode = mode(&metadata);
        }
        let file = open_at(&self.settings.path, self.mode)?;
        let metadata = file.metadata()?;
        self.identity = identity(&metadata);
        self.mode = mode(&metadata);
        self.size = metadata.len();
        self.file = file;
        self.torn = false;
        Ok(())
    }

    /// Rotate by size, unless a rotation failed lately.
    fn rotate(&mut self) {
        if self
            .rotate_after
            .is_some_and(|after| Instant::now() < after)
        {
            return;
        }
        match self.try_rotate() {
            Ok(()) => self.rotate_after = None,
            Err(error) => {
                self.rotate_after = Some(Instant::now() + ROTATE_RETRY);
                tracing::error!(target: TARGET, %error, "cannot rotate the audit trail; it grows past its size until it can (nothing was overwritten)");
            }
        }
    }

    /// `PATH.{keep-1}` -> `PATH.{keep}` ... `PATH` -> `PATH.1`, then a fresh `PATH`. Each
    /// rename moves a file onto a name that was just moved on (or, at the top, onto the
    /// oldest file, which goes): a rename that fails stops the rotation there, so no file
    /// is overwritten that still holds lines kept, and the live file stays open.
    fn try_rotate(&mut self) -> std::io::Result<()> {
        if self.settings.keep == 0 {
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        // Somebody moved the file already: start the one at the path instead.
        let at_path = std::fs::metadata(&self.settings.path)
            .ok()
            .and_then(|m| identity(&m));
        if cfg!(unix) && (at_path.is_none() || at_path != self.identity) {
            return self.reopen();
        }
        let numbered = |n: u32| {
            let mut name = self.settings.path.clone().into_os_string();
            name.push(format!(".{n}"));
            PathBuf::from(name)
        };
        for n in (1..self.settings.keep).rev() {
            match std::fs::rename(numbered(n), numbered(n + 1)) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
        }
        std::fs::rename(&self.settings.path, numbered(1))?;
        // From here the open file is `PATH.1`; if no new file can be made, lines go on
        // there, and the next batch tries the path again.
        self.reopen()
    }
}

/// Rendered lines waiting to be written together.
#[derive(Default)]
struct Batch {
    /// The lines, each ended by a newline: UTF-8, as every line is JSON.
    text: Vec<u8>,
    /// Where each line ends in `text` (just past its newline): the writer walks the lines
    /// without looking for newlines again.
    ends: Vec<usize>,
}

impl Batch {
    /// Empty it, keeping its buffers.
    fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }

    /// How many lines it holds.
    fn lines(&self) -> u64 {
        self.ends.len() as u64
    }

    /// Add a line: `write` appends its compact JSON (no newline inside).
    fn push(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        write(&mut self.text);
        self.text.push(b'\n');
        self.ends.push(self.text.len());
    }
}

/// Open `path` for appending, made with `mode` when it does not exist. Only a regular
/// file is a trail: a FIFO or device put at the path is refused (opening one for writing
/// could block the writer for good).
fn open_at(path: &std::path::Path, mode: u32) -> std::io::Result<std::fs::File> {
    let file = open_path(path, mode)?;
    if file.metadata()?.is_file() {
        Ok(file)
    } else {
        Err(std::io::Error::other(
            "the audit trail's path is not a regular file",
        ))
    }
}

fn open_path(path: &std::path::Path, mode: u32) -> std::io::Result<std::fs::File> {
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        return Err(std::io::Error::other(
            "the audit trail's path is not a regular file",
        ));
    }
    let mut options = std::fs::OpenOptions::new();
    options.append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    match options.clone().create_new(true).open(path) {
        Ok(file) => {
            // The umask may have taken bits away; the mode is the one asked for.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                file.set_permissions(std::fs::Permissions::from_mode(mode))?;
            }
            Ok(file)
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => options.open(path),
        Err(error) => Err(error),
    }
}

#[cfg(unix)]
fn identity(metadata: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt as _;
    Some((metadata.dev(), metadata.ino()))
}

#[cfg(not(unix))]
fn identity(_: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

#[cfg(unix)]
fn mode(metadata: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    metadata.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode(_: &std::fs::Metadata) -> u32 {
    NEW_MODE
}
