//! [`Pool`]: a few threads that run database work for the shards.
//!
//! A shard never blocks, so it hands database work to the pool with
//! [`Pool::submit`]: a `work` closure that gets a connection, and a `done`
//! closure that gets the result (the caller's `done` passes it back to the
//! shard, which resumes the suspended script). Submitting never waits: the
//! queue is bounded and a full queue is refused at once
//! ([`SubmitError::Full`]).
//!
//! Each worker thread owns one [`Db`]. When a call finds the database
//! unavailable, the job gets [`DbError::Unavailable`] and the worker drops
//! the connection and reconnects: at once, then with back-off (100 ms
//! doubling to 5 s by default) while that fails, also when no job comes;
//! while it is down, jobs fail at once with `Unavailable` instead of
//! waiting. A worker that sees another one
//! reconnect tries at once rather than waiting out its back-off. The first
//! worker to connect brings the schema up to date ([`Db::migrate`]) when
//! [`PoolConfig::migrate`] is set.
//!
//! Every submitted job's `done` is called exactly once: with the result,
//! with `Unavailable` while the database is down, with a query error when
//! `work` panicked, or with `Unavailable("... shut down")` when the pool
//! stopped before running it. Only a refused submission does not call it.
//!
//! Counters are atomics (pool threads are not shards: they may share cache
//! lines); [`Pool::stats`] reads them for the router's `store:*`
//! statistics.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use parking_lot::Mutex;

use super::db::{Db, Timeouts};
use super::url::DbUrl;
use super::value::DbError;

/// What the pool tells its owner about connections (for the log).
#[derive(Clone, Debug)]
pub enum PoolEvent {
    /// Worker `worker` is connected; `again` when it had been connected
    /// before or had failed to connect.
    Up { worker: usize, again: bool },
    /// Worker `worker` lost its connection or could not connect; it tries
    /// again in `retry_in`.
    Down {
        worker: usize,
        error: DbError,
        retry_in: Duration,
    },
}

/// Called with each [`PoolEvent`], on the worker's thread.
pub type EventHook = Arc<dyn Fn(&PoolEvent) + Send + Sync>;

/// How a [`Pool`] runs.
#[derive(Clone)]
pub struct PoolConfig {
    /// Worker threads, each with its own connection (at least 1).
    pub workers: usize,
    /// Jobs waiting at most (at least 1); more are refused.
    pub queue: usize,
    pub timeouts: Timeouts,
    /// First wait before reconnecting; doubled after each failure...
    pub backoff_min: Duration,
    /// ... up to this.
    pub backoff_max: Duration,
    /// Bring the schema up to date on the first connection.
    pub migrate: bool,
    /// Thread name prefix (`<name>-<n>`).
    pub name: String,
    /// Told about connections going up and down.
    pub on_event: Option<EventHook>,
}

impl Default for PoolConfig {
    fn default() -> PoolConfig {
        PoolConfig {
            workers: 2,
            queue: 1024,
            timeouts: Timeouts::default(),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            migrate: true,
            name: "ser-db".to_string(),
            on_event: None,
        }
    }
}

impl std::fmt::Debug for PoolConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolConfig")
            .field("workers", &self.workers)
            .field("queue", &self.queue)
            .field("timeouts", &self.timeouts)
            .field("backoff_min", &self.backoff_min)
            .field("backoff_max", &self.backoff_max)
            .field("migrate", &self.migrate)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Why a job was not accepted (its closures were dropped uncalled).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubmitError {
    /// The queue holds [`PoolConfig::queue`] jobs already.
    Full,
    /// The pool is shut down.
    Closed,
}

impl std::fmt::Display for SubmitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SubmitError::Full => "database queue full",
            SubmitError::Closed => "database pool shut down",
        })
    }
}

impl std::error::Error for SubmitError {}

/// A snapshot of the pool's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Jobs run on a connection.
    pub queries: u64,
    /// Jobs whose result was an error (failed fast while down included).
    pub errors: u64,
    /// Connections made again after a loss or a failed attempt.
    pub reconnects: u64,
    /// Sum and maximum, in microseconds, of the time from submission to
    /// the end of `work` (queueing included) over the jobs done.
    pub latency_total_us: u64,
    pub latency_max_us: u64,
    /// Jobs waiting now.
    pub queue_depth: u64,
    /// Submissions refused because the queue was full.
    pub rejected: u64,
    /// Workers connected now, and workers started.
    pub workers_up: u64,
    pub workers: u64,
}

impl PoolStats {
    /// Name and value of each counter (the router shows them as
    /// `store:<name>`).
    pub fn named(&self) -> [(&'static str, u64); 9] {
        [
            ("queries", self.queries),
            ("errors", self.errors),
            ("reconnects", self.reconnects),
            ("latency_total_us", self.latency_total_us),
            ("latency_max_us", self.latency_max_us),
            ("queue_depth", self.queue_depth),
            ("rejected", self.rejected),
            ("workers_up", self.workers_up),
            ("workers", self.workers),
        ]
    }
}

/// The closure a worker runs: it gets the connection (or why there is
/// none) and a callback to report whether the work failed, called before
/// `done`.
type JobFn = Box<dyn FnOnce(Result<&mut Db, DbError>, &mut dyn FnMut(bool)) + Send>;

/// A queued job. Dropped without being run (the pool stopped), it still
/// calls `done`, with `Unavailable`.
struct Job {
    f: Option<JobFn>,
    submitted: Instant,
}

impl Drop for Job {
    fn drop(&mut self) {
        if let Some(f) = self.f.take() {
            let _ = catch_unwind(AssertUnwindSafe(|| {
                f(
                    Err(DbError::Unavailable("database pool shut down".to_string())),
                    &mut |_| {},
                )
            }));
        }
    }
}

enum Msg {
    Job(Job),
    Stop,
}

#[derive(Default)]
struct Counters {
    queries: AtomicU64,
    errors: AtomicU64,
    reconnects: AtomicU64,
    latency_total_us: AtomicU64,
    latency_max_us: AtomicU64,
    queue_depth: AtomicU64,
    rejected: AtomicU64,
    workers_up: AtomicU64,
}

struct Shared {
    url: DbUrl,
    cfg: PoolConfig,
    c: Counters,
    /// Bumped by every successful connect: a worker waiting out its
    /// back-off tries again at once when it moves.
    up_epoch: AtomicU64,
    migrated: AtomicBool,
    migrate_lock: Mutex<()>,
}

/// A pool of database worker threads (see the module documentation).
pub struct Pool {
    shared: Arc<Shared>,
    tx: Sender<Msg>,
    closed: AtomicBool,
    workers: usize,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Pool {
    /// Starts the workers. They connect in the background: a database that
    /// is down now makes jobs fail fast until it is up.
    pub fn start(url: DbUrl, cfg: PoolConfig) -> std::io::Result<Pool> {
        let workers = cfg.workers.max(1);
        let (tx, rx) = crossbeam_channel::bounded(cfg.queue.max(1));
        let shared = Arc::new(Shared {
            url,
            cfg,
            c: Counters::default(),
            up_epoch: AtomicU64::new(0),
            migrated: AtomicBool::new(false),
            migrate_lock: Mutex::new(()),
        });
        let mut threads = Vec::with_capacity(workers);
        for i in 0..workers {
            let sh = Arc::clone(&shared);
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("{}-{i}", shared.cfg.name))
                .spawn(move || Worker::new(sh, i).run(&rx));
            match spawned {
                Ok(h) => threads.push(h),
                Err(e) => {
                    let pool = Pool {
                        shared,
                        tx,
                        closed: AtomicBool::new(false),
                        workers,
                        threads: Mutex::new(threads),
                    };
                    pool.shutdown();
                    return Err(e);
                }
            }
        }
        Ok(Pool {
            shared,
            tx,
            closed: AtomicBool::new(false),
            workers,
            threads: Mutex::new(threads),
        })
    }

    /// The database this pool works on.
    pub fn url(&self) -> &DbUrl {
        &self.shared.url
    }

    /// Queues `work`; a worker runs it on its connection and calls `done`
    /// with the result, on the worker's thread. Never waits: a full queue
    /// or a shut-down pool is refused at once, and then neither closure is
    /// called.
    pub fn submit<T, W, D>(&self, work: W, done: D) -> Result<(), SubmitError>
    where
        T: Send + 'static,
        W: FnOnce(&mut Db) -> Result<T, DbError> + Send + 'static,
        D: FnOnce(Result<T, DbError>) + Send + 'static,
    {
        if self.closed.load(Ordering::Acquire) {
            return Err(SubmitError::Closed);
        }
        let f: JobFn = Box::new(
            move |conn: Result<&mut Db, DbError>, note: &mut dyn FnMut(bool)| {
                let r = match conn {
                    Ok(db) => match catch_unwind(AssertUnwindSafe(|| work(db))) {
                        Ok(r) => r,
                        Err(_) => {
                            // The connection may be half-way through anything.
                            db.mark_lost("a database job panicked");
                            Err(DbError::Query("the database job panicked".to_string()))
                        }
                    },
                    Err(e) => Err(e),
                };
                note(r.is_err());
                done(r);
            },
        );
        let job = Job {
            f: Some(f),
            submitted: Instant::now(),
        };
        let c = &self.shared.c;
        c.queue_depth.fetch_add(1, Ordering::Relaxed);
        match self.tx.try_send(Msg::Job(job)) {
            Ok(()) => Ok(()),
            Err(e) => {
                c.queue_depth.fetch_sub(1, Ordering::Relaxed);
                let (msg, err) = match e {
                    TrySendError::Full(m) => {
                        c.rejected.fetch_add(1, Ordering::Relaxed);
                        (m, SubmitError::Full)
                    }
                    TrySendError::Disconnected(m) => (m, SubmitError::Closed),
                };
                // Refused: the caller learns it from the return value, so
                // `done` must not be called as well.
                if let Msg::Job(mut j) = msg {
                    j.f = None;
                }
                Err(err)
            }
        }
    }

    /// Runs `work` on a worker and waits for its result: for start-up,
    /// tools and tests, never for a shard. A full queue is reported as
    /// `Unavailable`.
    pub fn run_blocking<T, W>(&self, work: W) -> Result<T, DbError>
    where
        T: Send + 'static,
        W: FnOnce(&mut Db) -> Result<T, DbError> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.submit(work, move |r| {
            let _ = tx.send(r);
        })
        .map_err(|e| DbError::Unavailable(e.to_string()))?;
        rx.recv()
            .unwrap_or_else(|_| Err(DbError::Unavailable("database pool shut down".to_string())))
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> PoolStats {
        let c = &self.shared.c;
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        PoolStats {
            queries: r(&c.queries),
            errors: r(&c.errors),
            reconnects: r(&c.reconnects),
            latency_total_us: r(&c.latency_total_us),
            latency_max_us: r(&c.latency_max_us),
            queue_depth: r(&c.queue_depth),
            rejected: r(&c.rejected),
            workers_up: r(&c.workers_up),
            workers: self.workers as u64,
        }
    }

    /// Stops the pool: new submissions are refused, the jobs already queued
    /// are run (or failed fast if the database is down), then the workers
    /// close their connections and end. Waits for them; each is bounded by
    /// the statement timeout of the job it is running. Calling it again
    /// does nothing.
    pub fn shutdown(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let threads = std::mem::take(&mut *self.threads.lock());
        for _ in 0..threads.len() {
            // Behind the queued jobs; waits while the queue is full.
            let _ = self.tx.send(Msg::Stop);
        }
        for h in threads {
            let _ = h.join();
        }
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("url", &self.url().to_string())
            .finish_non_exhaustive()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// One worker thread's state.
struct Worker {
    sh: Arc<Shared>,
    idx: usize,
    db: Option<Db>,
    backoff: Duration,
    next_try: Instant,
    /// Why the database is down (given to jobs failed fast).
    down_error: DbError,
    /// Connected once already: the next connect counts as a reconnect.
    was_up: bool,
    /// Failed to connect since the last success.
    failed: bool,
    seen_epoch: u64,
}

impl Worker {
    fn new(sh: Arc<Shared>, idx: usize) -> Worker {
        let backoff = sh.cfg.backoff_min;
        Worker {
            sh,
            idx,
            db: None,
            backoff,
            next_try: Instant::now(),
            down_error: DbError::Unavailable("not connected yet".to_string()),
            was_up: false,
            failed: false,
            seen_epoch: 0,
        }
    }

    fn run(mut self, rx: &Receiver<Msg>) {
        loop {
            self.maybe_connect();
            let msg = if self.db.is_some() {
                rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
            } else {
                // Down: wake up when the next attempt is due.
                let wait = self.next_try.saturating_duration_since(Instant::now());
                rx.recv_timeout(wait.max(Duration::from_millis(1)))
            };
            match msg {
                Ok(Msg::Job(job)) => {
                    self.sh.c.queue_depth.fetch_sub(1, Ordering::Relaxed);
                    self.maybe_connect();
                    self.run_job(job);
                }
                Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
        if self.db.take().is_some() {
            self.sh.c.workers_up.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Connects when down and the back-off is over (or another worker just
    /// connected).
    fn maybe_connect(&mut self) {
        if self.db.is_some() {
            return;
        }
        let epoch = self.sh.up_epoch.load(Ordering::Acquire);
        if Instant::now() < self.next_try && epoch == self.seen_epoch {
            return;
        }
        match self.connect() {
            Ok(db) => {
                self.db = Some(db);
                let c = &self.sh.c;
                c.workers_up.fetch_add(1, Ordering::Relaxed);
                let again = self.was_up || self.failed;
                if again {
                    c.reconnects.fetch_add(1, Ordering::Relaxed);
                }
                self.was_up = true;
                self.failed = false;
                self.backoff = self.sh.cfg.backoff_min;
                self.seen_epoch = self.sh.up_epoch.fetch_add(1, Ordering::AcqRel) + 1;
                self.event(PoolEvent::Up {
                    worker: self.idx,
                    again,
                });
            }
            Err(e) => {
                self.failed = true;
                self.seen_epoch = epoch;
                self.went_down(e);
            }
        }
    }

    fn connect(&self) -> Result<Db, DbError> {
        let sh = &self.sh;
        let mut db = Db::connect(&sh.url, &sh.cfg.timeouts)?;
        if sh.cfg.migrate && !sh.migrated.load(Ordering::Acquire) {
            let _g = sh.migrate_lock.lock();
            if !sh.migrated.load(Ordering::Acquire) {
                db.migrate().map_err(|e| match e {
                    DbError::Unavailable(m) => DbError::Unavailable(m),
                    other => {
                        DbError::Unavailable(format!("{}: schema not usable: {other}", sh.url))
                    }
                })?;
                sh.migrated.store(true, Ordering::Release);
            }
        }
        Ok(db)
    }

    /// Notes that the database is down and when to try again.
    fn went_down(&mut self, e: DbError) {
        let retry_in = self.backoff;
        let now = Instant::now();
        self.next_try = now.checked_add(retry_in).unwrap_or(now);
        self.backoff = self
            .backoff
            .saturating_mul(2)
            .min(self.sh.cfg.backoff_max.max(self.sh.cfg.backoff_min));
        self.event(PoolEvent::Down {
            worker: self.idx,
            error: e.clone(),
            retry_in,
        });
        self.down_error = match e {
            DbError::Unavailable(_) => e,
            other => DbError::Unavailable(other.to_string()),
        };
    }

    fn run_job(&mut self, mut job: Job) {
        let Some(f) = job.f.take() else { return };
        let submitted = job.submitted;
        let c = &self.sh.c;
        let mut note = |err: bool| {
            let us = u64::try_from(submitted.elapsed().as_micros()).unwrap_or(u64::MAX);
            c.latency_total_us.fetch_add(us, Ordering::Relaxed);
            c.latency_max_us.fetch_max(us, Ordering::Relaxed);
            if err {
                c.errors.fetch_add(1, Ordering::Relaxed);
            }
        };
        // A panic in `done` is the caller's business: the worker lives on
        // (a panic in `work` was caught inside the job and marked the
        // connection lost).
        let lost = match self.db.as_mut() {
            Some(db) => {
                c.queries.fetch_add(1, Ordering::Relaxed);
                let _ = catch_unwind(AssertUnwindSafe(|| f(Ok(&mut *db), &mut note)));
                db.lost_reason().map(str::to_string)
            }
            None => {
                let e = self.down_error.clone();
                let _ = catch_unwind(AssertUnwindSafe(|| f(Err(e), &mut note)));
                None
            }
        };
        if let Some(why) = lost {
            // Try again at once (the server may have restarted, or a job
            // merely panicked); back off only if that fails.
            self.db = None;
            c.workers_up.fetch_sub(1, Ordering::Relaxed);
            self.backoff = self.sh.cfg.backoff_min;
            self.next_try = Instant::now();
            let e = DbError::Unavailable(why);
            self.event(PoolEvent::Down {
                worker: self.idx,
                error: e.clone(),
                retry_in: Duration::ZERO,
            });
            self.down_error = e;
        }
    }

    fn event(&self, e: PoolEvent) {
        if let Some(f) = &self.sh.cfg.on_event {
            let _ = catch_unwind(AssertUnwindSafe(|| f(&e)));
        }
    }
}
