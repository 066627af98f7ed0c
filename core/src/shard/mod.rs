//! Shards: one thread per core, each with its own sockets and I/O driver
//! ([`crate::net`]), its timer wheel ([`timer`]) and its links to the other
//! shards ([`handoff`]).
//!
//! A datagram is parsed where it arrives; its owner is
//! `hash(Call-ID) % shards` ([`owner`]). A message owned by another shard is
//! copied into that shard's ring and handled there; replies leave from the
//! owner's socket for the same local address. The owner runs the script
//! and carries out what it asked ([`crate::proxy`]).
//!
//! The loop of a shard: take the messages other shards handed over, fire
//! due timers, then wait on the driver (sends go out in the same system
//! call) no longer than the next timer, and handle what arrived. Before
//! blocking it marks itself asleep so that other shards wake it; after a
//! turn it wakes, once, the peers it handed messages to.

pub mod handoff;
pub mod mailbox;
pub mod owner;
pub mod timer;

use std::net::{SocketAddr, UdpSocket};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use ser_cfg::ir::RouteId;

use crate::net::{Backend, Driver, Outbox, Received, SockId};
use crate::proxy::{self, Local};
use crate::script::ctx::{Config, MsgCtx, Proto, level};
use crate::script::{Completion, Detached, Outcome, Pending, Resume, Script, Suspension};
use crate::sip::limits::Limits;
use crate::sip::msg::{SipMsg, Transport};
use crate::stats::{self, Board, Counter, Snapshot};
use crate::tm::{self, Tm};

use handoff::{Handoff, Links};
use mailbox::Mailbox;
use timer::TimerWheel;

/// Messages taken from the inbound rings per turn, so that handed-over
/// work cannot starve the sockets.
const INBOUND_PER_TURN: usize = 256;

/// Suspended runs a shard keeps at most (each holds a copy of its
/// message): a flood of requests that `sleep` cannot exhaust memory.
const MAX_PARKED: usize = 100_000;

/// What every shard shares, read-only.
pub struct Shared {
    pub script: Script,
    pub config: Config,
    pub local: Local,
    pub shards: usize,
    pub limits: Limits,
    /// The unnamed `onreply_route`, run for every reply.
    pub reply_route: Option<RouteId>,
    /// Set by the main thread to stop every shard.
    pub stop: AtomicBool,
    /// Every shard's counters, published once per turn; the statistics
    /// are read from here ([`crate::stats`]).
    pub stats: Board,
}

impl Shared {
    /// The read-only part the transaction layer needs.
    fn env(&self) -> tm::Env<'_> {
        tm::Env {
            script: &self.script,
            config: &self.config,
            local: &self.local,
            limits: &self.limits,
        }
    }

    /// Live transactions of all shards, as last published.
    pub fn live_transactions(&self) -> u64 {
        self.stats.live_transactions()
    }

    /// What the statistics are read from.
    pub fn stats_source(&self) -> stats::Source<'_> {
        stats::Source {
            board: &self.stats,
            location: &self.config.location,
            registrar: &self.config.registrar,
        }
    }
}

/// How a shard started: which driver runs, and why not io_uring if it was
/// asked for.
pub type Started = Result<(Backend, Option<String>), String>;

/// A run suspended until a timer (`sleep`).
struct Parked {
    data: Vec<u8>,
    sock: SockId,
    state: Detached,
    suspension: Suspension,
}

/// Timer wheel payloads.
enum Timer {
    Resume(Box<Parked>),
    /// Shard 0 sweeps expired registrations from the shared location
    /// table (reads drop dead bindings too; this frees the memory of
    /// bindings nobody asks for).
    SweepLocation,
}

/// How often shard 0 sweeps the location table.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// The shard's state apart from its driver and outbox (which the driver's
/// callback borrows separately).
struct Worker {
    id: usize,
    shared: Arc<Shared>,
    links: Links,
    timers: TimerWheel<Timer>,
    tm: Tm,
    sends: Vec<proxy::Send>,
    next_msg_id: u64,
    /// Answers to offloaded work, posted by other threads.
    mailbox: Arc<Mailbox>,
    /// Runs suspended on offloaded work, by token.
    waiting: std::collections::HashMap<u64, Parked>,
    next_token: u64,
    /// When shard 0 last wrote usrloc back to the store.
    last_flush: Instant,
}

/// Runs shard `id` until [`Shared::stop`]; returns its counters (those it
/// published last, with what it sent while stopping). `sockets`
/// are this shard's sockets (one per listen address, same order on every
/// shard); `started` gets the driver's start-up result once.
pub fn run(
    shared: Arc<Shared>,
    links: Links,
    sockets: Vec<UdpSocket>,
    backend: Backend,
    started: std::sync::mpsc::Sender<Started>,
) -> Snapshot {
    let id = links.id;
    let (mut driver, note) = match Driver::open(sockets, links.waker().fd(), backend) {
        Ok(d) => d,
        Err(e) => {
            let _ = started.send(Err(format!("shard {id}: cannot start its I/O: {e}")));
            return Snapshot::default();
        }
    };
    let _ = started.send(Ok((driver.backend(), note)));
    let max_tx = shared.config.tm.max_transactions;
    let links_wakers = links.wakers();
    let mut w = Worker {
        id,
        shared,
        links,
        timers: TimerWheel::new(Instant::now()),
        tm: Tm::new(Instant::now(), max_tx),
        sends: Vec::new(),
        next_msg_id: (id as u64) << 48,
        mailbox: Arc::new(Mailbox::new(links_wakers, id)),
        waiting: std::collections::HashMap::new(),
        next_token: 0,
        last_flush: Instant::now(),
    };
    if id == 0 {
        w.timers
            .insert(Instant::now() + SWEEP_EVERY, Timer::SweepLocation);
    }
    let mut out = Outbox::new();
    loop {
        w.take_inbound(&mut out);
        w.take_mailbox(&mut out);
        w.fire_timers(&mut out);
        if w.shared.stop.load(Ordering::Acquire) {
            break;
        }
        let deadline = match (w.timers.next_deadline(), w.tm.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        w.shared.stats.publish(id, &w.tm.stats());
        w.links.waker().going_to_sleep();
        let r = if w.links.has_inbound() || w.mailbox.has_items() {
            // Something arrived meanwhile: send, but do not block.
            driver.wait(&mut out, Some(std::time::Duration::ZERO))
        } else {
            driver.wait(&mut out, timeout)
        };
        w.links.waker().awake();
        if let Err(e) = r {
            w.log(level::L_ERR, &format!("I/O wait failed: {e}"));
        }
        match driver.poll(&mut out, |rcv, out| w.on_datagram(rcv, out)) {
            Ok(t) => {
                stats::count_n(Counter::Sent, t.sent as u64);
                stats::count_n(Counter::SendErrors, t.send_errors as u64);
            }
            Err(e) => w.log(level::L_ERR, &format!("I/O poll failed: {e}")),
        }
        stats::count_n(Counter::Wakeups, w.links.wake_peers() as u64);
        stats::count_n(Counter::SendErrors, out.take_overflow());
    }
    // Stopping: what is queued still goes out.
    let before = out.len() as u64;
    match driver.flush(&mut out) {
        Ok(()) => stats::count_n(Counter::Sent, before),
        Err(e) => w.log(level::L_ERR, &format!("flush at exit failed: {e}")),
    }
    let tm = w.tm.stats();
    w.shared.stats.publish(id, &tm);
    Snapshot::local(tm)
}

impl Worker {
    fn log(&self, lvl: i32, text: &str) {
        crate::log::write(
            self.shared.config.debug(),
            lvl,
            &format!("shard {}: {text}", self.id),
        );
    }

    fn take_inbound(&mut self, out: &mut Outbox) {
        let mut taken = Vec::new();
        self.links
            .drain_inbound(INBOUND_PER_TURN, |h| taken.push(h));
        for h in taken {
            stats::count(Counter::HandedIn);
            self.guarded(h.src, |w| w.on_owned_bytes(&h.data, h.sock, h.src, out));
        }
    }

    /// Resumes the runs whose offloaded work was answered.
    fn take_mailbox(&mut self, out: &mut Outbox) {
        let mut answers = Vec::new();
        self.mailbox.take(&mut answers);
        for (token, r) in answers {
            let Some(p) = self.waiting.remove(&token) else {
                continue;
            };
            let src = p.state_src();
            self.guarded(src, |w| w.resume_with(p, r, out));
        }
    }

    fn fire_timers(&mut self, out: &mut Outbox) {
        let shared = self.shared.clone();
        let env = shared.env();
        let now = Instant::now();
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| {
            self.tm.fire(now, &env, &mut self.sends)
        })) {
            stats::count(Counter::Panics);
            self.log(
                level::L_CRIT,
                &format!("BUG: a transaction timer panicked ({})", panic_text(&*p)),
            );
        }
        self.flush_sends(out);
        let mut due = Vec::new();
        self.timers.expire(Instant::now(), |t| due.push(t));
        for t in due {
            match t {
                Timer::Resume(p) => {
                    let src = p.state_src();
                    self.guarded(src, |w| w.resume(*p, out));
                }
                Timer::SweepLocation => {
                    // usrloc db_mode 1/2: marked AoRs written back, expired
                    // rows deleted, every timer_interval.
                    if let Some(db) = &self.shared.config.usrloc_db {
                        let every = std::time::Duration::from_secs(u64::from(
                            self.shared.config.registrar.timer_interval,
                        ));
                        if self.last_flush.elapsed() >= every {
                            self.last_flush = Instant::now();
                            db.flush(
                                &self.shared.config.location,
                                crate::registrar::location::now(),
                            );
                        }
                    }
                    let gone = self
                        .shared
                        .config
                        .location
                        .expire(crate::registrar::location::now());
                    if gone > 0 && self.shared.config.debug() >= level::L_DBG {
                        self.log(level::L_DBG, &format!("{gone} expired bindings removed"));
                    }
                    self.timers
                        .insert(Instant::now() + SWEEP_EVERY, Timer::SweepLocation);
                }
            }
        }
    }

    /// Runs `f`, turning a panic into a logged, counted error so that one
    /// bad message never takes the shard down silently.
    fn guarded(&mut self, src: SocketAddr, f: impl FnOnce(&mut Worker)) {
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| f(self))) {
            stats::count(Counter::Panics);
            let what = panic_text(&*p);
            self.log(
                level::L_CRIT,
                &format!("BUG: handling a message from {src} panicked ({what}); message dropped"),
            );
        }
    }

    /// A datagram from a socket: parse, find the owner, hand over or
    /// handle.
    fn on_datagram(&mut self, rcv: Received<'_>, out: &mut Outbox) {
        stats::count(Counter::Received);
        if rcv.truncated {
            // Only its start arrived: a request gets `513 Message Too
            // Large` (from what its headers say), anything else nothing.
            stats::count(Counter::NotSip);
            stats::count(if rcv.data.starts_with(b"SIP/") {
                Counter::ErrReplies
            } else {
                Counter::ErrRequests
            });
            self.log(
                level::L_WARN,
                &format!(
                    "datagram from {} longer than the receive buffer ({} bytes); refused",
                    rcv.src,
                    crate::net::MAX_RECV
                ),
            );
            let shared = self.shared.clone();
            proxy::sl::reject_with(
                rcv.data,
                513,
                b"Message Too Large",
                rcv.src,
                rcv.sock,
                &shared.local,
                &mut self.sends,
            );
            self.flush_sends(out);
            return;
        }
        let (sock, src, data) = (rcv.sock, rcv.src, rcv.data);
        // Parsed once: the index gives the Call-ID, and the owner (usually
        // this shard, thanks to the kernel steering) goes on with it.
        let parsed = SipMsg::parse_with(data, Transport::Datagram, &self.shared.limits);
        if self.shared.shards > 1
            && let Ok(m) = &parsed
            && let Some(o) = m
                .call_id()
                .ok()
                .map(|c| owner::owner(c, self.shared.shards))
            && o != self.id
        {
            let h = Handoff {
                sock,
                src,
                data: data.to_vec(),
            };
            match self.links.send(o, h) {
                Ok(()) => {
                    stats::count(Counter::HandedOff);
                    return;
                }
                Err(_) => stats::count(Counter::RingFull),
            }
        }
        self.guarded(src, |w| w.on_parsed(data, &parsed, sock, src, out));
    }

    /// A message this shard owns (or that has no owner: not SIP).
    fn on_owned_bytes(&mut self, data: &[u8], sock: SockId, src: SocketAddr, out: &mut Outbox) {
        let parsed = SipMsg::parse_with(data, Transport::Datagram, &self.shared.limits);
        self.on_parsed(data, &parsed, sock, src, out);
    }

    /// A message this shard owns, parsed (or refused by the parser).
    fn on_parsed(
        &mut self,
        data: &[u8],
        parsed: &crate::sip::error::Result<SipMsg<'_>>,
        sock: SockId,
        src: SocketAddr,
        out: &mut Outbox,
    ) {
        let shared = self.shared.clone();
        let msg = match parsed {
            Ok(m) => m,
            Err(e) => {
                count_refused(data, e);
                if shared.config.debug() >= level::L_DBG {
                    self.log(
                        level::L_DBG,
                        &format!("bad message from {src}: {}", e.reason()),
                    );
                }
                proxy::reject(data, e, src, sock, &shared.local, &mut self.sends);
                self.flush_sends(out);
                return;
            }
        };
        let local_addr = self.local_addr(sock);
        if let Some(method) = msg.method() {
            stats::count_request(&method);
            // Retransmissions and ACKs of negative replies end in the
            // transaction layer...
            let facts = match self.tm.on_request(msg, &mut self.sends) {
                tm::Pre::Absorbed => {
                    self.flush_sends(out);
                    return;
                }
                tm::Pre::Run(t) => t,
            };
            // ...and the ACK to a reply sl sent ends here, as in SER's sl
            // module.
            if matches!(method, crate::sip::method::Method::Ack)
                && proxy::sl::is_local_ack(msg, &shared.local)
            {
                stats::count(Counter::SlAcks);
                return;
            }
            let mut ctx = MsgCtx::new(msg, &shared.config, src, local_addr, Proto::Udp);
            ctx.msg_id = self.next_msg_id;
            ctx.tm = facts;
            self.next_msg_id += 1;
            let outcome = shared.script.run_main(&mut ctx);
            self.after_request(ctx, outcome, sock, out);
            if msg.ruri_failed() {
                stats::count(Counter::BadUris);
            }
        } else {
            self.on_reply(msg, sock, src, out);
        }
    }

    fn local_addr(&self, sock: SockId) -> SocketAddr {
        self.shared
            .local
            .sockets
            .get(sock as usize)
            .map(|s| s.addr)
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// The request route finished or suspended.
    fn after_request(
        &mut self,
        mut ctx: MsgCtx<'_, '_>,
        outcome: Outcome,
        sock: SockId,
        out: &mut Outbox,
    ) {
        let shared = self.shared.clone();
        match outcome {
            // `drop` ends the script as `exit` does; what it asked before
            // (a reply, a forward) still happens, as in SER.
            Outcome::Finished { dropped, .. } => {
                if dropped {
                    stats::count(Counter::DropRequests);
                }
                let env = shared.env();
                self.tm
                    .finish_request(&mut ctx, sock, &env, &mut self.sends);
                ctx.recycle();
                self.flush_sends(out);
            }
            Outcome::Suspended(mut s_rest) => {
                // The pending part is taken out; the rest is what resumes.
                let pending = std::mem::replace(
                    &mut s_rest.pending,
                    Pending::Token {
                        kind: "resumed",
                        token: 0,
                    },
                );
                match pending {
                    Pending::Sleep { .. } if self.timers.len() >= MAX_PARKED => {
                        stats::count(Counter::DropRequests);
                        ctx.log(
                            level::L_ERR,
                            &format!(
                                "{MAX_PARKED} scripts already wait on this shard; message dropped"
                            ),
                        );
                    }
                    Pending::Sleep { until } => {
                        let parked = Parked {
                            data: ctx.msg.buf().to_vec(),
                            sock,
                            state: ctx.detach(),
                            suspension: s_rest,
                        };
                        self.timers.insert(until, Timer::Resume(Box::new(parked)));
                    }
                    Pending::Token { kind, .. } => {
                        stats::count(Counter::DropRequests);
                        ctx.log(
                        level::L_ERR,
                        &format!("script waits for `{kind}`, which nothing answers yet; message dropped"),
                    );
                    }
                    Pending::Offload(o) if self.waiting.len() >= MAX_PARKED => {
                        ctx.log(
                            level::L_ERR,
                            &format!(
                                "{MAX_PARKED} scripts already wait for `{}` on this shard; the call fails",
                                o.kind
                            ),
                        );
                        let outcome = shared.script.resume(s_rest, &mut ctx, -1);
                        self.after_request(ctx, outcome, sock, out);
                    }
                    Pending::Offload(o) => {
                        let token = self.next_token;
                        self.next_token += 1;
                        let parked = Parked {
                            data: ctx.msg.buf().to_vec(),
                            sock,
                            state: ctx.detach(),
                            suspension: s_rest,
                        };
                        self.waiting.insert(token, parked);
                        let mailbox = self.mailbox.clone();
                        (o.start)(Completion::new(move |r| mailbox.post(token, r)));
                    }
                }
            }
        }
    }

    /// Offloaded work was answered: the run goes on as it asked.
    fn resume_with(&mut self, p: Parked, r: Resume, out: &mut Outbox) {
        let shared = self.shared.clone();
        let Ok(msg) = SipMsg::parse_with(&p.data, Transport::Datagram, &shared.limits) else {
            return;
        };
        let mut ctx = p.state.attach(&msg, &shared.config);
        let outcome = shared.script.resume_with(p.suspension, &mut ctx, r);
        self.after_request(ctx, outcome, p.sock, out);
    }

    /// A timer ended a `sleep`: the run goes on where it stopped.
    fn resume(&mut self, p: Parked, out: &mut Outbox) {
        let shared = self.shared.clone();
        let Ok(msg) = SipMsg::parse_with(&p.data, Transport::Datagram, &shared.limits) else {
            return;
        };
        let mut ctx = p.state.attach(&msg, &shared.config);
        let outcome = shared.script.resume(p.suspension, &mut ctx, 1);
        self.after_request(ctx, outcome, p.sock, out);
    }

    /// A reply: the main `onreply_route` (if any), then the transaction
    /// layer, else stateless forwarding by the second Via.
    fn on_reply(&mut self, msg: &SipMsg<'_>, sock: SockId, src: SocketAddr, out: &mut Outbox) {
        let shared = self.shared.clone();
        let local_addr = self.local_addr(sock);
        stats::count_reply(
            msg.status().unwrap_or(0),
            msg.cseq().ok().map(|c| &c.method),
        );
        let mut ctx = MsgCtx::new(msg, &shared.config, src, local_addr, Proto::Udp);
        if let Some(r) = shared.reply_route {
            match shared.script.run(r, &mut ctx) {
                Outcome::Finished { dropped: true, .. } => {
                    stats::count(Counter::DropReplies);
                    return;
                }
                Outcome::Finished { .. } => {}
                Outcome::Suspended(_) => {
                    ctx.log(
                        level::L_ERR,
                        "onreply_route cannot wait (sleep); reply forwarded at once",
                    );
                }
            }
        }
        let env = shared.env();
        if self
            .tm
            .on_reply(msg, &mut ctx.edits, src, sock, &env, &mut self.sends)
        {
            ctx.recycle();
            self.flush_sends(out);
            return;
        }
        let forwarded = proxy::forward_reply(
            msg,
            &mut ctx.edits,
            &shared.config,
            &shared.local,
            sock,
            &mut self.sends,
        );
        ctx.recycle();
        match forwarded {
            Ok(()) => stats::count(Counter::FwdReplies),
            Err(why) => {
                stats::count(Counter::DropReplies);
                if shared.config.debug() >= level::L_DBG {
                    self.log(
                        level::L_DBG,
                        &format!("reply from {src} not forwarded: {why}"),
                    );
                }
            }
        }
        self.flush_sends(out);
    }

    /// Moves what the proxy layer built into the outbox.
    fn flush_sends(&mut self, out: &mut Outbox) {
        for s in self.sends.drain(..) {
            out.push(s.sock, s.dst, s.data);
        }
    }
}

/// Counts a message the parser refused: as a request or a reply by its
/// first bytes, and by what was wrong (the Request-URI, a header). A
/// keep-alive (nothing but CR, LF, spaces or NULs, as phones behind NATs
/// send) is not SIP but no error either.
fn count_refused(data: &[u8], e: &crate::sip::error::ParseError) {
    use crate::sip::error::Where;
    stats::count(Counter::NotSip);
    if data.iter().all(|b| matches!(b, b'\r' | b'\n' | b' ' | 0)) {
        return;
    }
    stats::count(if data.starts_with(b"SIP/") {
        Counter::ErrReplies
    } else {
        Counter::ErrRequests
    });
    match e.what {
        Where::RequestUri => stats::count(Counter::BadUris),
        Where::Header
        | Where::HeaderName
        | Where::Via
        | Where::From
        | Where::To
        | Where::CallId
        | Where::CSeq
        | Where::Contact
        | Where::Route
        | Where::RecordRoute
        | Where::MaxForwards
        | Where::ContentLength
        | Where::ContentType
        | Where::Expires
        | Where::Auth
        | Where::OptionTags
        | Where::Uri
        | Where::NameAddr => stats::count(Counter::BadMsgHdr),
        _ => {}
    }
}

/// The text of a panic's payload.
fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

impl Parked {
    fn state_src(&self) -> SocketAddr {
        self.state.src()
    }
}
