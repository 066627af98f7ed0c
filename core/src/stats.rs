//! Statistics: counters kept per shard without locks or atomic
//! read-modify-writes, summed when read, under Kamailio's names
//! (`core:rcv_requests`, `sl:200_replies`, `tmx:UAS_transactions`,
//! `usrloc:registered_users`, `shmem:real_used_size`, ...). They serve the
//! control socket's `stats.*`, `cnt.*`, `tm.stats` and `sl.stats`, the
//! lines SIGUSR1 prints and the counters printed at exit.
//!
//! # Counting
//!
//! A shard is one thread, so the counters of the core, of `sl`, of the
//! `registrar` and of the shard itself live in thread-local cells:
//! [`count`] and its siblings are one plain add, callable wherever the
//! event is seen (deep in the proxy, sl or registrar code, which has no
//! handle on its shard). The transaction layer keeps its own counters
//! ([`TmStats`], in its `Tm`). Once per turn, before it waits, a shard
//! copies both into its slot of the [`Board`] ([`Board::publish`]):
//! relaxed stores of `AtomicU64`s, one writer per slot, each slot on cache
//! lines of its own. A reading is as fresh as each shard's last turn: an
//! idle shard publishes when it next wakes.
//!
//! # Reading
//!
//! A [`Source`] sums the slots and computes each statistic from the sum
//! (a few are derived, e.g. `tmx:rpl_absorbed`); gauges are read at that
//! moment: the usrloc ones from the location store, `shmem` from the
//! kernel ([`memory`]), the registrar's parameters from the config.
//! [`Source::reset`] remembers a baseline per statistic, under a mutex
//! only readers take, and later readings subtract it; gauges are not
//! reset. The free functions ([`all`], [`select`], [`reset`], ...) do the
//! same on the router's [`Shared`]. Every statistic, with its meaning and
//! how it differs from Kamailio's, is listed in `docs/running.md`
//! (*Statistics*).
//!
//! Kamailio's `dns` and `tcp` groups are left out (neither DNS nor TCP is
//! built). The store's query counts and latencies will get a group of
//! their own when the stores are built (see [`Group`]).

use std::borrow::Cow;
use std::cell::{Cell, OnceCell};
use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use parking_lot::Mutex;

use crate::registrar::{Location, Params};
use crate::shard::Shared;
use crate::sip::method::Method;
use crate::tm::TmStats;

// ----- what is counted -----

/// The single counters of a shard's thread-local cells. The families (per
/// request method, per reply class, per sl status) follow them and are
/// counted by [`count_request`], [`count_reply`] and [`count_sl_reply`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Counter {
    // `shard`: ser's own.
    /// Datagrams received from the sockets (by the shard they reached).
    Received,
    /// Datagrams sent.
    Sent,
    /// Datagrams the kernel refused or that could not be queued.
    SendErrors,
    /// Messages passed to the shard owning their Call-ID.
    HandedOff,
    /// Messages other shards passed to this one.
    HandedIn,
    /// Messages handled off-owner because the owner's ring was full.
    RingFull,
    /// Eventfd writes that woke another shard.
    Wakeups,
    /// Messages (or timers) whose handling panicked.
    Panics,
    /// Datagrams the parser refused or the buffer cut.
    NotSip,
    // `core`.
    RcvRequests,
    UnsupportedMethods,
    RcvReplies,
    FwdRequests,
    FwdReplies,
    DropRequests,
    DropReplies,
    ErrRequests,
    ErrReplies,
    BadUris,
    BadMsgHdr,
    // `sl`.
    SlReplies,
    SlErrReplies,
    SlFailures,
    SlAcks,
    // `registrar`.
    AcceptedRegs,
    RejectedRegs,
}

/// Methods of `core:rcv_requests_<m>`, in the order of [`request_index`].
const REQUEST_METHODS: [&str; 14] = [
    "ack",
    "bye",
    "cancel",
    "info",
    "invite",
    "message",
    "notify",
    "options",
    "prack",
    "publish",
    "refer",
    "register",
    "subscribe",
    "update",
];

/// CSeq methods of `core:rcv_replies_<c>xx_<m>`, in the order of
/// [`reply_method_index`] (Kamailio writes REGISTER as `reg`).
const REPLY_METHODS: [&str; 8] = [
    "bye", "cancel", "invite", "message", "prack", "refer", "reg", "update",
];

/// Statuses of `core:rcv_replies_<code>`.
const REPLY_CODES: [u16; 5] = [401, 404, 407, 480, 486];

/// Buckets of `sl:<b>_replies`, in the order of [`sl_bucket`]. A named
/// code has its own bucket; `2xx` (and the others) count the rest of the
/// class.
const SL_CODES: [&str; 20] = [
    "1xx", "200", "202", "2xx", "300", "301", "302", "3xx", "400", "401", "403", "404", "407",
    "408", "483", "4xx", "500", "5xx", "6xx", "xxx",
];

// Where each family starts among the thread-local cells.
const SINGLES: usize = Counter::RejectedRegs as usize + 1;
const REQUESTS_AT: usize = SINGLES;
const CLASSES_AT: usize = REQUESTS_AT + REQUEST_METHODS.len();
const R18X_AT: usize = CLASSES_AT + 6;
const CLASS_METHODS_AT: usize = R18X_AT + 1;
const CODES_AT: usize = CLASS_METHODS_AT + 6 * REPLY_METHODS.len();
const SL_AT: usize = CODES_AT + REPLY_CODES.len();
/// Thread-local cells.
const SLOTS: usize = SL_AT + SL_CODES.len();
/// Published values of [`TmStats`] (see [`tm_values`]).
const TM_SLOTS: usize = 16;
/// Values in a shard's slot of the board.
const ALL_SLOTS: usize = SLOTS + TM_SLOTS;

fn request_index(m: &Method<'_>) -> Option<usize> {
    Some(match m {
        Method::Ack => 0,
        Method::Bye => 1,
        Method::Cancel => 2,
        Method::Info => 3,
        Method::Invite => 4,
        Method::Message => 5,
        Method::Notify => 6,
        Method::Options => 7,
        Method::Prack => 8,
        Method::Publish => 9,
        Method::Refer => 10,
        Method::Register => 11,
        Method::Subscribe => 12,
        Method::Update => 13,
        Method::Other(_) => return None,
    })
}

fn reply_method_index(m: &Method<'_>) -> Option<usize> {
    Some(match m {
        Method::Bye => 0,
        Method::Cancel => 1,
        Method::Invite => 2,
        Method::Message => 3,
        Method::Prack => 4,
        Method::Refer => 5,
        Method::Register => 6,
        Method::Update => 7,
        _ => return None,
    })
}

/// 0 for 1xx ... 5 for 6xx.
fn class_of(code: u16) -> Option<usize> {
    (100..=699)
        .contains(&code)
        .then(|| usize::from(code / 100 - 1))
}

fn sl_bucket(code: u16) -> usize {
    match code {
        100..=199 => 0,
        200 => 1,
        202 => 2,
        201..=299 => 3,
        300 => 4,
        301 => 5,
        302 => 6,
        303..=399 => 7,
        400 => 8,
        401 => 9,
        403 => 10,
        404 => 11,
        407 => 12,
        408 => 13,
        483 => 14,
        402..=499 => 15,
        500 => 16,
        501..=599 => 17,
        600..=699 => 18,
        _ => 19,
    }
}

/// A shard's counters: plain cells, touched only by its own thread.
struct Local([Cell<u64>; SLOTS]);

impl Local {
    #[inline]
    fn add(&self, i: usize, n: u64) {
        if let Some(c) = self.0.get(i) {
            c.set(c.get().wrapping_add(n));
        }
    }
}

thread_local! {
    static LOCAL: Local = const { Local([const { Cell::new(0) }; SLOTS]) };
}

/// Counts one event on this thread (a shard).
#[inline]
pub fn count(c: Counter) {
    count_n(c, 1);
}

/// Counts `n` events on this thread.
#[inline]
pub fn count_n(c: Counter, n: u64) {
    LOCAL.with(|l| l.add(c as usize, n));
}

/// A request received: `core:rcv_requests`, its method's counter, or
/// `core:unsupported_methods` for a method outside the known ones.
#[inline]
pub fn count_request(m: &Method<'_>) {
    LOCAL.with(|l| {
        l.add(Counter::RcvRequests as usize, 1);
        match request_index(m) {
            Some(i) => l.add(REQUESTS_AT + i, 1),
            None => l.add(Counter::UnsupportedMethods as usize, 1),
        }
    });
}

/// A reply received with `code`, to a request of method `cseq` (its CSeq
/// method, when it parses): `core:rcv_replies` and its class, method and
/// status counters.
#[inline]
pub fn count_reply(code: u16, cseq: Option<&Method<'_>>) {
    LOCAL.with(|l| {
        l.add(Counter::RcvReplies as usize, 1);
        let Some(class) = class_of(code) else {
            return;
        };
        l.add(CLASSES_AT + class, 1);
        if (180..=189).contains(&code) {
            l.add(R18X_AT, 1);
        }
        if let Some(m) = cseq.and_then(reply_method_index) {
            l.add(CLASS_METHODS_AT + class * REPLY_METHODS.len() + m, 1);
        }
        if let Some(i) = REPLY_CODES.iter().position(|&c| c == code) {
            l.add(CODES_AT + i, 1);
        }
    });
}

/// A stateless reply sent with `code`: `sl:sent_replies` and its bucket.
#[inline]
pub fn count_sl_reply(code: u16) {
    LOCAL.with(|l| {
        l.add(Counter::SlReplies as usize, 1);
        l.add(SL_AT + sl_bucket(code), 1);
    });
}

// ----- snapshots and the board -----

/// The counters of one shard, or their sum over shards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    counters: [u64; SLOTS],
    /// The transaction layer's counters (`live` and `waiting` are gauges).
    pub tm: TmStats,
}

impl Default for Snapshot {
    fn default() -> Snapshot {
        Snapshot {
            counters: [0; SLOTS],
            tm: TmStats::default(),
        }
    }
}

impl Snapshot {
    /// This thread's counters (a shard's, when it calls), with `tm`.
    pub fn local(tm: TmStats) -> Snapshot {
        let mut s = Snapshot {
            tm,
            ..Snapshot::default()
        };
        LOCAL.with(|l| {
            for (v, c) in s.counters.iter_mut().zip(&l.0) {
                *v = c.get();
            }
        });
        s
    }

    pub fn get(&self, c: Counter) -> u64 {
        self.at(c as usize)
    }

    fn at(&self, i: usize) -> u64 {
        self.counters.get(i).copied().unwrap_or(0)
    }

    pub fn add(&mut self, o: &Snapshot) {
        for (a, b) in self.counters.iter_mut().zip(&o.counters) {
            *a = a.wrapping_add(*b);
        }
        self.tm.add(&o.tm);
    }

    /// From the values of a slot ([`Board`]).
    fn from_values(v: &[u64; ALL_SLOTS]) -> Snapshot {
        let mut s = Snapshot::default();
        for (a, b) in s.counters.iter_mut().zip(v) {
            *a = *b;
        }
        let mut tm = [0; TM_SLOTS];
        for (a, b) in tm.iter_mut().zip(v.iter().skip(SLOTS)) {
            *a = *b;
        }
        s.tm = tm_from_values(tm);
        s
    }
}

/// [`TmStats`] as the values of a slot. A field added to `TmStats` stops
/// [`tm_from_values`] from compiling until it is added there, here and to
/// [`TM_SLOTS`].
fn tm_values(t: &TmStats) -> [u64; TM_SLOTS] {
    let [c2, c3, c4, c5, c6] = t.completed;
    [
        t.created, t.live, t.absorbed, t.relayed, t.local, t.timeouts, t.canceled, t.refused,
        t.received, t.freed, t.waiting, c2, c3, c4, c5, c6,
    ]
}

fn tm_from_values(v: [u64; TM_SLOTS]) -> TmStats {
    let [
        created,
        live,
        absorbed,
        relayed,
        local,
        timeouts,
        canceled,
        refused,
        received,
        freed,
        waiting,
        c2,
        c3,
        c4,
        c5,
        c6,
    ] = v;
    TmStats {
        created,
        live,
        absorbed,
        relayed,
        local,
        timeouts,
        canceled,
        refused,
        received,
        freed,
        waiting,
        completed: [c2, c3, c4, c5, c6],
    }
}

/// One shard's published counters, on cache lines of their own so that a
/// shard's stores never touch a line another shard writes.
#[repr(align(128))]
struct Slot([AtomicU64; ALL_SLOTS]);

/// Where the shards publish their counters, and the readers' baselines
/// (held in [`Shared`]).
pub struct Board {
    slots: Box<[Slot]>,
    /// Per statistic (index in the sorted definitions): the value at the
    /// last reset. Taken only by readers.
    baselines: Mutex<Vec<u64>>,
}

impl Board {
    /// A board for `shards` shards, all zero.
    pub fn new(shards: usize) -> Board {
        Board {
            slots: (0..shards)
                .map(|_| Slot(std::array::from_fn(|_| AtomicU64::new(0))))
                .collect(),
            baselines: Mutex::new(Vec::new()),
        }
    }

    /// Shards on the board.
    pub fn shards(&self) -> usize {
        self.slots.len()
    }

    /// Copies the calling thread's counters and `tm` into shard `shard`'s
    /// slot. Called by each shard, on its own thread, once per turn.
    pub fn publish(&self, shard: usize, tm: &TmStats) {
        let Some(slot) = self.slots.get(shard) else {
            return;
        };
        LOCAL.with(|l| {
            for (a, c) in slot.0.iter().zip(&l.0) {
                a.store(c.get(), Relaxed);
            }
        });
        for (a, v) in slot.0.iter().skip(SLOTS).zip(tm_values(tm)) {
            a.store(v, Relaxed);
        }
    }

    /// What shard `i` published last.
    pub fn shard(&self, i: usize) -> Option<Snapshot> {
        let slot = self.slots.get(i)?;
        let mut v = [0; ALL_SLOTS];
        for (a, s) in v.iter_mut().zip(&slot.0) {
            *a = s.load(Relaxed);
        }
        Some(Snapshot::from_values(&v))
    }

    /// The sum of what every shard published last.
    pub fn sum(&self) -> Snapshot {
        let mut v = [0u64; ALL_SLOTS];
        for slot in self.slots.iter() {
            for (a, s) in v.iter_mut().zip(&slot.0) {
                *a = a.wrapping_add(s.load(Relaxed));
            }
        }
        Snapshot::from_values(&v)
    }

    /// Live transactions of every shard, as last published.
    pub fn live_transactions(&self) -> u64 {
        self.sum().tm.live
    }
}

// ----- the statistics -----

/// One statistic as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    pub group: &'static str,
    pub name: String,
    pub value: u64,
}

impl fmt::Display for Stat {
    /// Kamailio's `stats.get_statistics` line: `group:name = value`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{} = {}", self.group, self.name, self.value)
    }
}

/// One statistic reset (`stats.clear_statistics` prints `group:name =
/// new (old)`): a counter goes to 0, a gauge keeps its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cleared {
    pub group: &'static str,
    pub name: String,
    pub old: u64,
    pub new: u64,
}

/// The groups, with the module whose statistics each holds in Kamailio.
/// The store's query counts and latencies are to get a group of their own
/// (`db`) when the stores are built; nothing counts them yet, so nothing
/// is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// The core: messages received, forwarded, dropped, refused.
    Core,
    /// The registrar module.
    Registrar,
    /// ser's own: datagrams, shard handoffs, panics, tm extras.
    Shard,
    /// Memory (Kamailio's shared memory pool; here the process's).
    Shmem,
    /// Stateless replies.
    Sl,
    /// Transactions (Kamailio's tmx module, over tm's counters).
    Tmx,
    /// The location store.
    Usrloc,
}

impl Group {
    pub fn name(self) -> &'static str {
        match self {
            Group::Core => "core",
            Group::Registrar => "registrar",
            Group::Shard => "shard",
            Group::Shmem => "shmem",
            Group::Sl => "sl",
            Group::Tmx => "tmx",
            Group::Usrloc => "usrloc",
        }
    }
}

type ReadFn = fn(&Reading<'_>) -> u64;

/// Where a statistic's value comes from.
enum Src {
    /// A thread-local counter, summed.
    Slot(usize),
    /// Computed from the reading.
    Read(ReadFn),
}

/// One statistic's definition.
struct Def {
    group: &'static str,
    name: Cow<'static, str>,
    help: Cow<'static, str>,
    src: Src,
    /// A gauge (or a parameter): never reset.
    gauge: bool,
}

fn slot(
    g: Group,
    name: impl Into<Cow<'static, str>>,
    help: impl Into<Cow<'static, str>>,
    i: usize,
) -> Def {
    Def {
        group: g.name(),
        name: name.into(),
        help: help.into(),
        src: Src::Slot(i),
        gauge: false,
    }
}

fn counter(g: Group, name: &'static str, help: &'static str, f: ReadFn) -> Def {
    Def {
        group: g.name(),
        name: name.into(),
        help: help.into(),
        src: Src::Read(f),
        gauge: false,
    }
}

fn gauge(g: Group, name: &'static str, help: &'static str, f: ReadFn) -> Def {
    Def {
        gauge: true,
        ..counter(g, name, help, f)
    }
}

/// Every statistic, sorted as Kamailio prints them: groups alphabetically,
/// names byte-wise within a group.
fn defs() -> &'static [Def] {
    static DEFS: OnceLock<Vec<Def>> = OnceLock::new();
    DEFS.get_or_init(|| {
        let mut d = build();
        d.sort_by(|a, b| (a.group, a.name.as_bytes()).cmp(&(b.group, b.name.as_bytes())));
        d
    })
}

fn build() -> Vec<Def> {
    use Counter as C;
    use Group::*;
    let mut d = vec![
        // core
        slot(
            Core,
            "rcv_requests",
            "Requests received (retransmissions included).",
            C::RcvRequests as usize,
        ),
        slot(
            Core,
            "unsupported_methods",
            "Requests received with a method other than the 14 counted by name (they are handled all the same).",
            C::UnsupportedMethods as usize,
        ),
        slot(
            Core,
            "rcv_replies",
            "Replies received.",
            C::RcvReplies as usize,
        ),
        slot(
            Core,
            "rcv_replies_18x",
            "Replies received with a status 180 to 189.",
            R18X_AT,
        ),
        slot(
            Core,
            "fwd_requests",
            "Requests forwarded: copies sent by forward(), branches started by t_relay(), ACKs passed on (retransmissions not counted).",
            C::FwdRequests as usize,
        ),
        slot(
            Core,
            "fwd_replies",
            "Replies forwarded: statelessly by the second Via, or relayed by a transaction.",
            C::FwdReplies as usize,
        ),
        slot(
            Core,
            "drop_requests",
            "Requests dropped: `drop` in the request route, or a script that had to wait and could not.",
            C::DropRequests as usize,
        ),
        slot(
            Core,
            "drop_replies",
            "Replies dropped: `drop` in an onreply_route, or a reply matching no transaction that could not be forwarded.",
            C::DropReplies as usize,
        ),
        slot(
            Core,
            "err_requests",
            "Requests the parser refused, or longer than the receive buffer.",
            C::ErrRequests as usize,
        ),
        slot(
            Core,
            "err_replies",
            "Replies the parser refused, or longer than the receive buffer.",
            C::ErrReplies as usize,
        ),
        slot(
            Core,
            "bad_URIs_rcvd",
            "Requests whose Request-URI did not parse (refused by the parser, or when the script or the proxy read it).",
            C::BadUris as usize,
        ),
        slot(
            Core,
            "bad_msg_hdr",
            "Messages the parser refused because of a header.",
            C::BadMsgHdr as usize,
        ),
        // shard (ser's own)
        slot(
            Shard,
            "received",
            "Datagrams received from the sockets (counted by the shard they reached).",
            C::Received as usize,
        ),
        slot(Shard, "sent", "Datagrams sent.", C::Sent as usize),
        slot(
            Shard,
            "send_errors",
            "Datagrams the kernel refused or that could not be queued.",
            C::SendErrors as usize,
        ),
        slot(
            Shard,
            "handed_off",
            "Messages passed to the shard owning their Call-ID.",
            C::HandedOff as usize,
        ),
        slot(
            Shard,
            "handed_in",
            "Messages received from other shards.",
            C::HandedIn as usize,
        ),
        slot(
            Shard,
            "ring_full",
            "Messages handled by a shard not owning them because the owner's ring was full.",
            C::RingFull as usize,
        ),
        slot(
            Shard,
            "wakeups",
            "Wake-ups of sleeping shards to take handed-off messages.",
            C::Wakeups as usize,
        ),
        slot(
            Shard,
            "panics",
            "Messages or timers whose handling panicked (a bug; each is logged).",
            C::Panics as usize,
        ),
        slot(
            Shard,
            "not_sip",
            "Datagrams the parser refused, or longer than the receive buffer.",
            C::NotSip as usize,
        ),
        counter(
            Shard,
            "tm_retransmissions_absorbed",
            "Request retransmissions answered from their transaction, and ACKs of negative replies absorbed.",
            |r| r.snap.tm.absorbed,
        ),
        counter(
            Shard,
            "tm_branch_timeouts",
            "Transaction branches that got no final reply in time.",
            |r| r.snap.tm.timeouts,
        ),
        counter(
            Shard,
            "tm_cancelled",
            "Transactions cancelled by a CANCEL.",
            |r| r.snap.tm.canceled,
        ),
        counter(
            Shard,
            "tm_refused",
            "Requests refused a transaction because the shard's table was full (max_transactions).",
            |r| r.snap.tm.refused,
        ),
        // sl
        slot(
            Sl,
            "sent_replies",
            "Replies sent statelessly: sl_send_reply() and sl_reply_error() in a run without a transaction, save()'s replies, 482/483 from forwarding, 400/513 for refused messages.",
            C::SlReplies as usize,
        ),
        slot(
            Sl,
            "sent_err_replies",
            "Of those, error replies: sl_reply_error(), and the router's own 400, 513 and 500 (no room for a transaction).",
            C::SlErrReplies as usize,
        ),
        slot(
            Sl,
            "failures",
            "Stateless replies that could not be built (each is logged).",
            C::SlFailures as usize,
        ),
        slot(
            Sl,
            "received_ACKs",
            "ACKs of stateless replies, absorbed.",
            C::SlAcks as usize,
        ),
        // tmx
        counter(
            Tmx,
            "UAS_transactions",
            "Transactions created for received requests.",
            |r| r.snap.tm.created,
        ),
        counter(
            Tmx,
            "UAC_transactions",
            "Transactions for requests the router starts itself: none, ser originates no requests yet.",
            |_| 0,
        ),
        gauge(
            Tmx,
            "active_transactions",
            "Live transactions without a final reply yet.",
            |r| r.snap.tm.live.saturating_sub(r.snap.tm.waiting),
        ),
        gauge(Tmx, "inuse_transactions", "Live transactions.", |r| {
            r.snap.tm.live
        }),
        counter(
            Tmx,
            "rpl_received",
            "Replies received that matched a transaction.",
            |r| r.snap.tm.received,
        ),
        counter(
            Tmx,
            "rpl_relayed",
            "Replies relayed upstream by a transaction.",
            |r| r.snap.tm.relayed,
        ),
        counter(
            Tmx,
            "rpl_absorbed",
            "Replies matched to a transaction and not relayed (100 Trying, replies after the final one, the losing replies of a fork, replies to our CANCELs).",
            |r| r.snap.tm.received.saturating_sub(r.snap.tm.relayed),
        ),
        counter(
            Tmx,
            "rpl_generated",
            "Replies the transaction layer made: 100 Trying, t_reply(), 408, 487, 477, a reply sent through a transaction by sl_send_reply().",
            |r| r.snap.tm.local,
        ),
        counter(
            Tmx,
            "rpl_sent",
            "Replies sent upstream by transactions, relayed or generated (retransmissions not counted).",
            |r| r.snap.tm.relayed + r.snap.tm.local,
        ),
        // usrloc
        gauge(
            Usrloc,
            "registered_users",
            "AoRs in every location table (expired ones until they are swept, within 10 s).",
            |r| r.usrloc().registered_users,
        ),
        gauge(
            Usrloc,
            "location_users",
            "AoRs in the `location` table.",
            |r| r.usrloc().location_users,
        ),
        gauge(
            Usrloc,
            "location_contacts",
            "Bindings (contacts) in the `location` table.",
            |r| r.usrloc().location_contacts,
        ),
        counter(
            Usrloc,
            "location_expires",
            "Bindings of the `location` table removed because they expired.",
            |r| r.usrloc().location_expires,
        ),
        // registrar
        slot(
            Registrar,
            "accepted_regs",
            "REGISTERs save() accepted (removals included).",
            C::AcceptedRegs as usize,
        ),
        slot(
            Registrar,
            "rejected_regs",
            "REGISTERs save() refused.",
            C::RejectedRegs as usize,
        ),
        gauge(
            Registrar,
            "default_expire",
            "The default_expires parameter (seconds).",
            |r| u64::from(r.source.registrar.default_expires),
        ),
        gauge(
            Registrar,
            "default_expires_range",
            "Always 0: ser does not randomise expiries (no such parameter).",
            |_| 0,
        ),
        gauge(
            Registrar,
            "expires_range",
            "Always 0: ser does not randomise expiries (no such parameter).",
            |_| 0,
        ),
        gauge(
            Registrar,
            "max_contacts",
            "The max_contacts parameter (0: no limit).",
            |r| u64::from(r.source.registrar.max_contacts),
        ),
        gauge(
            Registrar,
            "max_expires",
            "The max_expires parameter (seconds; 0: no limit).",
            |r| u64::from(r.source.registrar.max_expires),
        ),
        // shmem
        gauge(
            Shmem,
            "total_size",
            "Memory the router may use: its cgroup's limit, else the machine's memory (bytes).",
            |r| r.mem().total,
        ),
        gauge(
            Shmem,
            "used_size",
            "Anonymous memory resident (heap, stacks: what the router allocated; RssAnon, bytes).",
            |r| r.mem().used,
        ),
        gauge(
            Shmem,
            "real_used_size",
            "All memory resident, code and mapped files included (VmRSS, bytes).",
            |r| r.mem().real_used,
        ),
        gauge(
            Shmem,
            "max_used_size",
            "The highest real_used_size so far (VmHWM, bytes).",
            |r| r.mem().max_used,
        ),
        gauge(
            Shmem,
            "free_size",
            "total_size less real_used_size (bytes).",
            |r| r.mem().free,
        ),
        gauge(
            Shmem,
            "fragments",
            "Memory areas mapped by the process (lines of /proc/self/maps).",
            |r| r.mem().fragments,
        ),
    ];
    for (i, m) in REQUEST_METHODS.iter().enumerate() {
        d.push(slot(
            Core,
            format!("rcv_requests_{m}"),
            format!("{} requests received.", m.to_ascii_uppercase()),
            REQUESTS_AT + i,
        ));
    }
    for class in 0..6 {
        let c = class + 1;
        d.push(slot(
            Core,
            format!("rcv_replies_{c}xx"),
            format!("Replies received with a {c}xx status."),
            CLASSES_AT + class,
        ));
        for (j, m) in REPLY_METHODS.iter().enumerate() {
            let method = if *m == "reg" { "register" } else { m };
            d.push(slot(
                Core,
                format!("rcv_replies_{c}xx_{m}"),
                format!(
                    "{c}xx replies received to {} requests (CSeq method).",
                    method.to_ascii_uppercase()
                ),
                CLASS_METHODS_AT + class * REPLY_METHODS.len() + j,
            ));
        }
    }
    for (i, code) in REPLY_CODES.iter().enumerate() {
        d.push(slot(
            Core,
            format!("rcv_replies_{code}"),
            format!("Replies received with status {code}."),
            CODES_AT + i,
        ));
    }
    for (i, b) in SL_CODES.iter().enumerate() {
        let help = match *b {
            "xxx" => {
                "Stateless replies with a status outside 100..699 (none: such codes are refused)."
                    .to_string()
            }
            b if b.ends_with("xx") => {
                format!("Stateless {b} replies sent, other than those counted by their own code.")
            }
            b => format!("Stateless {b} replies sent."),
        };
        d.push(slot(Sl, format!("{b}_replies"), help, SL_AT + i));
    }
    for (i, c) in ["2xx", "3xx", "4xx", "5xx", "6xx"].iter().enumerate() {
        let f: ReadFn = match i {
            0 => |r| r.snap.tm.completed[0],
            1 => |r| r.snap.tm.completed[1],
            2 => |r| r.snap.tm.completed[2],
            3 => |r| r.snap.tm.completed[3],
            _ => |r| r.snap.tm.completed[4],
        };
        d.push(Def {
            group: Tmx.name(),
            name: format!("{c}_transactions").into(),
            help: format!("Transactions whose final reply upstream was a {c}.").into(),
            src: Src::Read(f),
            gauge: false,
        });
    }
    d
}

/// The usrloc gauges, read once per reading.
#[derive(Clone, Copy, Debug, Default)]
struct Usrloc {
    registered_users: u64,
    location_users: u64,
    location_contacts: u64,
    location_expires: u64,
}

/// One reading: the summed counters, and the gauges read on first use.
struct Reading<'a> {
    snap: Snapshot,
    source: &'a Source<'a>,
    usrloc: OnceCell<Usrloc>,
    mem: OnceCell<Memory>,
}

impl Reading<'_> {
    fn usrloc(&self) -> &Usrloc {
        self.usrloc.get_or_init(|| {
            let l = self.source.location;
            let t = l.location();
            Usrloc {
                registered_users: l.users() as u64,
                location_users: t.aors() as u64,
                location_contacts: t.bindings() as u64,
                location_expires: t.expired(),
            }
        })
    }

    fn mem(&self) -> &Memory {
        self.mem.get_or_init(memory)
    }

    fn value(&self, d: &Def) -> u64 {
        match d.src {
            Src::Slot(i) => self.snap.at(i),
            Src::Read(f) => f(self),
        }
    }
}

/// Whether `d` is named by a `stats.*` argument: `all`, `group:` (a whole
/// group), `group:name`, or a bare `name` (in whatever group).
fn named_by(d: &Def, arg: &str) -> bool {
    if arg == "all" {
        return true;
    }
    match arg.split_once(':') {
        Some((g, "")) => d.group == g,
        Some((g, n)) => d.group == g && d.name == n,
        None => d.name == arg,
    }
}

/// The ordered fields of Kamailio's `tm.stats`.
pub const TM_STATS_FIELDS: [&str; 15] = [
    "current",
    "waiting",
    "total",
    "total_local",
    "rpl_received",
    "rpl_generated",
    "rpl_sent",
    "6xx",
    "5xx",
    "4xx",
    "3xx",
    "2xx",
    "created",
    "freed",
    "delayed_free",
];

/// The ordered fields of Kamailio's `sl.stats`.
pub const SL_STATS_FIELDS: [&str; 19] = [
    "200", "202", "2xx", "300", "301", "302", "3xx", "400", "401", "403", "404", "407", "408",
    "483", "4xx", "500", "5xx", "6xx", "xxx",
];

/// What statistics are read from: the shards' board, the location store
/// and the registrar's parameters.
pub struct Source<'a> {
    pub board: &'a Board,
    pub location: &'a Location,
    pub registrar: &'a Params,
}

impl<'a> Source<'a> {
    fn reading(&'a self) -> Reading<'a> {
        Reading {
            snap: self.board.sum(),
            source: self,
            usrloc: OnceCell::new(),
            mem: OnceCell::new(),
        }
    }

    /// The statistics `keep` selects, in order, less their baselines.
    fn read(&self, keep: impl Fn(&Def) -> bool) -> Vec<Stat> {
        let r = self.reading();
        let base = self.board.baselines.lock();
        defs()
            .iter()
            .enumerate()
            .filter(|(_, d)| keep(d))
            .map(|(i, d)| Stat {
                group: d.group,
                name: d.name.to_string(),
                value: r.value(d).saturating_sub(base.get(i).copied().unwrap_or(0)),
            })
            .collect()
    }

    /// Every statistic (`stats.get_statistics all`).
    pub fn all(&self) -> Vec<Stat> {
        self.read(|_| true)
    }

    /// The statistics one argument of `stats.get_statistics` names
    /// (`all`, `group:`, `group:name`, `name`); none for an unknown name.
    pub fn select(&self, arg: &str) -> Vec<Stat> {
        self.read(|d| named_by(d, arg))
    }

    /// One statistic (`cnt.get group name`).
    pub fn get(&self, group: &str, name: &str) -> Option<u64> {
        self.read(|d| d.group == group && d.name == name)
            .first()
            .map(|s| s.value)
    }

    /// Resets the counters `arg` names (as [`Source::select`]); gauges
    /// keep their value. Returns each statistic named, before and after.
    pub fn reset(&self, arg: &str) -> Vec<Cleared> {
        let r = self.reading();
        let defs = defs();
        let mut base = self.board.baselines.lock();
        base.resize(defs.len(), 0);
        let mut out = Vec::new();
        for (d, b) in defs.iter().zip(base.iter_mut()) {
            if !named_by(d, arg) {
                continue;
            }
            let raw = r.value(d);
            let old = raw.saturating_sub(*b);
            let new = if d.gauge {
                old
            } else {
                *b = raw;
                0
            };
            out.push(Cleared {
                group: d.group,
                name: d.name.to_string(),
                old,
                new,
            });
        }
        out
    }

    /// Kamailio's `tm.stats`, in [`TM_STATS_FIELDS`] order. Not affected
    /// by resets (as in Kamailio, it reads tm's own counters).
    pub fn tm_stats(&self) -> Vec<(&'static str, u64)> {
        let t = self.board.sum().tm;
        let [c2, c3, c4, c5, c6] = t.completed;
        let values = [
            t.live,
            t.waiting,
            t.created,
            0,
            t.received,
            t.local,
            t.relayed + t.local,
            c6,
            c5,
            c4,
            c3,
            c2,
            t.created,
            t.freed,
            0,
        ];
        TM_STATS_FIELDS.into_iter().zip(values).collect()
    }

    /// Kamailio's `sl.stats`, in [`SL_STATS_FIELDS`] order (1xx replies are
    /// not among them, as in Kamailio). Not affected by resets.
    pub fn sl_stats(&self) -> Vec<(&'static str, u64)> {
        let s = self.board.sum();
        SL_STATS_FIELDS
            .into_iter()
            .map(|f| {
                let i = SL_CODES.iter().position(|c| *c == f).unwrap_or(usize::MAX);
                (f, s.at(SL_AT.saturating_add(i)))
            })
            .collect()
    }
}

/// The groups, in order (`cnt.grps_list`).
pub fn groups() -> Vec<&'static str> {
    let mut g: Vec<&'static str> = defs().iter().map(|d| d.group).collect();
    g.dedup();
    g
}

/// The names of a group, in order (`cnt.var_list`); empty for an unknown
/// group.
pub fn names(group: &str) -> Vec<&'static str> {
    defs()
        .iter()
        .filter(|d| d.group == group)
        .map(|d| d.name.as_ref())
        .collect()
}

/// What a statistic means (`cnt.help`).
pub fn help(group: &str, name: &str) -> Option<&'static str> {
    defs()
        .iter()
        .find(|d| d.group == group && d.name == name)
        .map(|d| d.help.as_ref())
}

/// Every statistic of the router (`stats.get_statistics all`).
pub fn all(shared: &Shared) -> Vec<Stat> {
    shared.stats_source().all()
}

/// See [`Source::select`].
pub fn select(shared: &Shared, arg: &str) -> Vec<Stat> {
    shared.stats_source().select(arg)
}

/// See [`Source::get`].
pub fn get(shared: &Shared, group: &str, name: &str) -> Option<u64> {
    shared.stats_source().get(group, name)
}

/// See [`Source::reset`].
pub fn reset(shared: &Shared, arg: &str) -> Vec<Cleared> {
    shared.stats_source().reset(arg)
}

/// See [`Source::tm_stats`].
pub fn tm_stats(shared: &Shared) -> Vec<(&'static str, u64)> {
    shared.stats_source().tm_stats()
}

/// See [`Source::sl_stats`].
pub fn sl_stats(shared: &Shared) -> Vec<(&'static str, u64)> {
    shared.stats_source().sl_stats()
}

// ----- memory -----

/// The router's memory as the kernel sees it (Kamailio reports its shared
/// memory pool under the same names; ser has no pool). Bytes, except
/// `fragments`. A value the kernel does not give is 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    /// What the router may use: the lowest memory limit of its cgroup and
    /// the cgroups above it (v2 `memory.max`, v1
    /// `memory.limit_in_bytes`), else the machine's `MemTotal`.
    pub total: u64,
    /// Anonymous memory resident: heap and stacks, what the router
    /// allocated (`RssAnon`).
    pub used: u64,
    /// All memory resident, the code and mapped files included (`VmRSS`).
    pub real_used: u64,
    /// The highest `real_used` so far (`VmHWM`).
    pub max_used: u64,
    /// `total` less `real_used`.
    pub free: u64,
    /// Memory areas mapped (lines of `/proc/self/maps`).
    pub fragments: u64,
}

/// Reads [`Memory`] from `/proc` and `/sys/fs/cgroup`: a few small files,
/// no lock shared with the shards.
pub fn memory() -> Memory {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |name: &str| proc_kb(&status, name).unwrap_or(0);
    let real_used = kb("VmRSS:");
    let mem_total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| proc_kb(&m, "MemTotal:"))
        .unwrap_or(0);
    let total = match cgroup_limit() {
        Some(l) if mem_total == 0 || l < mem_total => l,
        _ => mem_total,
    };
    let fragments = std::fs::read("/proc/self/maps")
        .map(|m| memchr::memchr_iter(b'\n', &m).count() as u64)
        .unwrap_or(0);
    Memory {
        total,
        used: kb("RssAnon:"),
        real_used,
        max_used: kb("VmHWM:"),
        free: total.saturating_sub(real_used),
        fragments,
    }
}

/// A `Name:   1234 kB` line of a `/proc` file, in bytes.
fn proc_kb(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    let n: u64 = line
        .get(name.len()..)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(n.saturating_mul(1024))
}

/// The memory limit of this process's cgroup: the lowest of its own and
/// its ancestors' (v2), or the v1 memory controller's; `None` when
/// unlimited or unknown.
fn cgroup_limit() -> Option<u64> {
    let groups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let read = |path: &str| -> Option<u64> {
        std::fs::read_to_string(path)
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()
    };
    let mut limit: Option<u64> = None;
    let mut keep = |v: Option<u64>| {
        if let Some(v) = v {
            limit = Some(limit.map_or(v, |l| l.min(v)));
        }
    };
    for line in groups.lines() {
        if let Some(path) = line.strip_prefix("0::") {
            let mut p = path.trim_end_matches('/').to_string();
            loop {
                keep(read(&format!("/sys/fs/cgroup{p}/memory.max")));
                match p.rfind('/') {
                    Some(i) => p.truncate(i),
                    None => break,
                }
            }
        } else if let Some((_, path)) = line.split_once(":memory:") {
            let path = path.trim_end_matches('/');
            keep(read(&format!(
                "/sys/fs/cgroup/memory{path}/memory.limit_in_bytes"
            )));
            keep(read("/sys/fs/cgroup/memory/memory.limit_in_bytes"));
        }
    }
    // v1 says "no limit" with a number near 2^63.
    limit.filter(|&l| l < 1 << 62)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `kamcmd stats.get_statistics all` on Kamailio 5.6 (the reference
    /// dump), less the `dns` and `tcp` groups: the order to match.
    const KAMAILIO_ALL: &[&str] = &[
        "core:bad_URIs_rcvd",
        "core:bad_msg_hdr",
        "core:drop_replies",
        "core:drop_requests",
        "core:err_replies",
        "core:err_requests",
        "core:fwd_replies",
        "core:fwd_requests",
        "core:rcv_replies",
        "core:rcv_replies_18x",
        "core:rcv_replies_1xx",
        "core:rcv_replies_1xx_bye",
        "core:rcv_replies_1xx_cancel",
        "core:rcv_replies_1xx_invite",
        "core:rcv_replies_1xx_message",
        "core:rcv_replies_1xx_prack",
        "core:rcv_replies_1xx_refer",
        "core:rcv_replies_1xx_reg",
        "core:rcv_replies_1xx_update",
        "core:rcv_replies_2xx",
        "core:rcv_replies_2xx_bye",
        "core:rcv_replies_2xx_cancel",
        "core:rcv_replies_2xx_invite",
        "core:rcv_replies_2xx_message",
        "core:rcv_replies_2xx_prack",
        "core:rcv_replies_2xx_refer",
        "core:rcv_replies_2xx_reg",
        "core:rcv_replies_2xx_update",
        "core:rcv_replies_3xx",
        "core:rcv_replies_3xx_bye",
        "core:rcv_replies_3xx_cancel",
        "core:rcv_replies_3xx_invite",
        "core:rcv_replies_3xx_message",
        "core:rcv_replies_3xx_prack",
        "core:rcv_replies_3xx_refer",
        "core:rcv_replies_3xx_reg",
        "core:rcv_replies_3xx_update",
        "core:rcv_replies_401",
        "core:rcv_replies_404",
        "core:rcv_replies_407",
        "core:rcv_replies_480",
        "core:rcv_replies_486",
        "core:rcv_replies_4xx",
        "core:rcv_replies_4xx_bye",
        "core:rcv_replies_4xx_cancel",
        "core:rcv_replies_4xx_invite",
        "core:rcv_replies_4xx_message",
        "core:rcv_replies_4xx_prack",
        "core:rcv_replies_4xx_refer",
        "core:rcv_replies_4xx_reg",
        "core:rcv_replies_4xx_update",
        "core:rcv_replies_5xx",
        "core:rcv_replies_5xx_bye",
        "core:rcv_replies_5xx_cancel",
        "core:rcv_replies_5xx_invite",
        "core:rcv_replies_5xx_message",
        "core:rcv_replies_5xx_prack",
        "core:rcv_replies_5xx_refer",
        "core:rcv_replies_5xx_reg",
        "core:rcv_replies_5xx_update",
        "core:rcv_replies_6xx",
        "core:rcv_replies_6xx_bye",
        "core:rcv_replies_6xx_cancel",
        "core:rcv_replies_6xx_invite",
        "core:rcv_replies_6xx_message",
        "core:rcv_replies_6xx_prack",
        "core:rcv_replies_6xx_refer",
        "core:rcv_replies_6xx_reg",
        "core:rcv_replies_6xx_update",
        "core:rcv_requests",
        "core:rcv_requests_ack",
        "core:rcv_requests_bye",
        "core:rcv_requests_cancel",
        "core:rcv_requests_info",
        "core:rcv_requests_invite",
        "core:rcv_requests_message",
        "core:rcv_requests_notify",
        "core:rcv_requests_options",
        "core:rcv_requests_prack",
        "core:rcv_requests_publish",
        "core:rcv_requests_refer",
        "core:rcv_requests_register",
        "core:rcv_requests_subscribe",
        "core:rcv_requests_update",
        "core:unsupported_methods",
        "registrar:accepted_regs",
        "registrar:default_expire",
        "registrar:default_expires_range",
        "registrar:expires_range",
        "registrar:max_contacts",
        "registrar:max_expires",
        "registrar:rejected_regs",
        "shmem:fragments",
        "shmem:free_size",
        "shmem:max_used_size",
        "shmem:real_used_size",
        "shmem:total_size",
        "shmem:used_size",
        "sl:1xx_replies",
        "sl:200_replies",
        "sl:202_replies",
        "sl:2xx_replies",
        "sl:300_replies",
        "sl:301_replies",
        "sl:302_replies",
        "sl:3xx_replies",
        "sl:400_replies",
        "sl:401_replies",
        "sl:403_replies",
        "sl:404_replies",
        "sl:407_replies",
        "sl:408_replies",
        "sl:483_replies",
        "sl:4xx_replies",
        "sl:500_replies",
        "sl:5xx_replies",
        "sl:6xx_replies",
        "sl:failures",
        "sl:received_ACKs",
        "sl:sent_err_replies",
        "sl:sent_replies",
        "sl:xxx_replies",
        "tmx:2xx_transactions",
        "tmx:3xx_transactions",
        "tmx:4xx_transactions",
        "tmx:5xx_transactions",
        "tmx:6xx_transactions",
        "tmx:UAC_transactions",
        "tmx:UAS_transactions",
        "tmx:active_transactions",
        "tmx:inuse_transactions",
        "tmx:rpl_absorbed",
        "tmx:rpl_generated",
        "tmx:rpl_received",
        "tmx:rpl_relayed",
        "tmx:rpl_sent",
        "usrloc:location_contacts",
        "usrloc:location_expires",
        "usrloc:location_users",
        "usrloc:registered_users",
    ];

    fn source<'a>(board: &'a Board, location: &'a Location, params: &'a Params) -> Source<'a> {
        Source {
            board,
            location,
            registrar: params,
        }
    }

    /// Runs `f` on a thread of its own (a fresh set of counters, as a
    /// shard has) and publishes them as shard `shard`.
    fn on_shard(board: &Board, shard: usize, tm: TmStats, f: impl FnOnce() + Send) {
        std::thread::scope(|s| {
            s.spawn(|| {
                f();
                board.publish(shard, &tm);
            });
        });
    }

    fn value(stats: &[Stat], full: &str) -> Option<u64> {
        stats
            .iter()
            .find(|s| format!("{}:{}", s.group, s.name) == full)
            .map(|s| s.value)
    }

    #[test]
    fn kamailio_names_in_kamailio_order() {
        let (board, location, params) = (Board::new(1), Location::new(), Params::default());
        let all = source(&board, &location, &params).all();
        let ours: Vec<String> = all
            .iter()
            .filter(|s| s.group != "shard")
            .map(|s| format!("{}:{}", s.group, s.name))
            .collect();
        assert_eq!(ours, KAMAILIO_ALL);
        // Sorted: groups, then names byte-wise (`bad_URIs_rcvd` first).
        let keys: Vec<(&str, &[u8])> = all.iter().map(|s| (s.group, s.name.as_bytes())).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(all.first().map(|s| s.name.as_str()), Some("bad_URIs_rcvd"));
        assert_eq!(
            groups(),
            ["core", "registrar", "shard", "shmem", "sl", "tmx", "usrloc"]
        );
        assert_eq!(
            names("usrloc"),
            [
                "location_contacts",
                "location_expires",
                "location_users",
                "registered_users"
            ]
        );
        assert!(names("dns").is_empty());
        for d in defs() {
            assert!(!d.help.is_empty(), "{}:{}", d.group, d.name);
        }
        assert_eq!(
            help("core", "rcv_requests"),
            Some("Requests received (retransmissions included).")
        );
        assert_eq!(help("core", "nothing"), None);
    }

    #[test]
    fn counted_on_shards_summed_on_read() {
        let (board, location, params) = (Board::new(2), Location::new(), Params::default());
        let tm = TmStats {
            created: 3,
            live: 2,
            waiting: 1,
            received: 5,
            relayed: 4,
            local: 2,
            freed: 1,
            completed: [1, 0, 1, 0, 0],
            ..TmStats::default()
        };
        on_shard(&board, 0, tm, || {
            count_request(&Method::Invite);
            count_request(&Method::Invite);
            count_request(&Method::Other(b"FOO"));
            count_reply(183, Some(&Method::Invite));
            count_reply(486, Some(&Method::Invite));
            count_reply(200, Some(&Method::Register));
            count_reply(200, Some(&Method::Options));
            count_reply(200, None);
            count_reply(799, None);
            count(Counter::Received);
        });
        on_shard(&board, 1, tm, || {
            count_request(&Method::Register);
            count_sl_reply(200);
            count_sl_reply(202);
            count_sl_reply(204);
            count_sl_reply(486);
            count_sl_reply(100);
            count_n(Counter::Received, 4);
            count(Counter::AcceptedRegs);
        });
        let all = source(&board, &location, &params).all();
        let v = |n: &str| value(&all, n).unwrap_or_else(|| panic!("no {n}"));
        assert_eq!(v("core:rcv_requests"), 4);
        assert_eq!(v("core:rcv_requests_invite"), 2);
        assert_eq!(v("core:rcv_requests_register"), 1);
        assert_eq!(v("core:unsupported_methods"), 1);
        assert_eq!(v("core:rcv_replies"), 6);
        assert_eq!(v("core:rcv_replies_1xx"), 1);
        assert_eq!(v("core:rcv_replies_18x"), 1);
        assert_eq!(v("core:rcv_replies_1xx_invite"), 1);
        assert_eq!(v("core:rcv_replies_4xx_invite"), 1);
        assert_eq!(v("core:rcv_replies_486"), 1);
        assert_eq!(v("core:rcv_replies_4xx"), 1);
        assert_eq!(v("core:rcv_replies_2xx"), 3);
        assert_eq!(v("core:rcv_replies_2xx_reg"), 1);
        assert_eq!(v("shard:received"), 5);
        assert_eq!(v("sl:sent_replies"), 5);
        assert_eq!(v("sl:200_replies"), 1);
        assert_eq!(v("sl:202_replies"), 1);
        assert_eq!(v("sl:2xx_replies"), 1);
        assert_eq!(v("sl:4xx_replies"), 1);
        assert_eq!(v("sl:1xx_replies"), 1);
        assert_eq!(v("registrar:accepted_regs"), 1);
        assert_eq!(v("registrar:default_expire"), 3600);
        // tm's counters of both shards.
        assert_eq!(v("tmx:UAS_transactions"), 6);
        assert_eq!(v("tmx:inuse_transactions"), 4);
        assert_eq!(v("tmx:active_transactions"), 2);
        assert_eq!(v("tmx:rpl_received"), 10);
        assert_eq!(v("tmx:rpl_relayed"), 8);
        assert_eq!(v("tmx:rpl_absorbed"), 2);
        assert_eq!(v("tmx:rpl_generated"), 4);
        assert_eq!(v("tmx:rpl_sent"), 12);
        assert_eq!(v("tmx:2xx_transactions"), 2);
        assert_eq!(v("tmx:4xx_transactions"), 2);
        assert_eq!(board.live_transactions(), 4);
        assert_eq!(board.shard(1).map(|s| s.get(Counter::Received)), Some(4));
        assert_eq!(board.shard(2), None);
        // A shard that publishes again replaces its values.
        on_shard(&board, 1, TmStats::default(), || {});
        let s = source(&board, &location, &params);
        assert_eq!(s.get("shard", "received"), Some(1));
        assert_eq!(s.get("tmx", "rpl_received"), Some(5));
        assert_eq!(s.get("tmx", "nothing"), None);
    }

    #[test]
    fn select_takes_kamailios_arguments() {
        let (board, location, params) = (Board::new(1), Location::new(), Params::default());
        on_shard(&board, 0, TmStats::default(), || {
            count_request(&Method::Options);
        });
        location.location().insert(
            b"alice",
            crate::registrar::Binding::new(b"sip:a@1", u64::MAX),
            0,
        );
        let s = source(&board, &location, &params);
        let names =
            |arg: &str| -> Vec<String> { s.select(arg).iter().map(|x| x.to_string()).collect() };
        assert_eq!(names("rcv_requests"), ["core:rcv_requests = 1"]);
        assert_eq!(names("core:rcv_requests"), ["core:rcv_requests = 1"]);
        assert_eq!(
            names("usrloc:"),
            [
                "usrloc:location_contacts = 1",
                "usrloc:location_expires = 0",
                "usrloc:location_users = 1",
                "usrloc:registered_users = 1"
            ]
        );
        assert_eq!(s.select("all").len(), defs().len());
        assert!(names("nothing").is_empty());
        assert!(names("sl:rcv_requests").is_empty());
        assert!(names("dns:").is_empty());
        assert!(names("").is_empty());
        assert!(names(":").is_empty());
    }

    #[test]
    fn reset_keeps_a_baseline_and_spares_gauges() {
        let (board, location, params) = (Board::new(1), Location::new(), Params::default());
        let tm = TmStats {
            created: 7,
            live: 3,
            ..TmStats::default()
        };
        let (tx, rx) = std::sync::mpsc::channel::<u32>();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        std::thread::scope(|sc| {
            // One shard thread, counting and publishing on request.
            sc.spawn(|| {
                for n in rx {
                    for _ in 0..n {
                        count_request(&Method::Invite);
                    }
                    board.publish(0, &tm);
                    let _ = done_tx.send(());
                }
            });
            let shard = |n: u32| {
                tx.send(n).unwrap();
                done_rx.recv().unwrap();
            };
            shard(5);
            let s = source(&board, &location, &params);
            let cleared = s.reset("rcv_requests");
            assert_eq!(
                cleared,
                [Cleared {
                    group: "core",
                    name: "rcv_requests".into(),
                    old: 5,
                    new: 0
                }]
            );
            assert_eq!(s.get("core", "rcv_requests"), Some(0));
            // Only what was named.
            assert_eq!(s.get("core", "rcv_requests_invite"), Some(5));
            shard(2);
            assert_eq!(s.get("core", "rcv_requests"), Some(2));
            assert_eq!(s.get("core", "rcv_requests_invite"), Some(7));
            // A whole group: counters to 0, gauges as they are.
            let cleared = s.reset("tmx:");
            let c = |n: &str| cleared.iter().find(|c| c.name == n).cloned().unwrap();
            assert_eq!(
                (c("UAS_transactions").old, c("UAS_transactions").new),
                (7, 0)
            );
            assert_eq!(
                (c("inuse_transactions").old, c("inuse_transactions").new),
                (3, 3)
            );
            assert_eq!(s.get("tmx", "UAS_transactions"), Some(0));
            assert_eq!(s.get("tmx", "inuse_transactions"), Some(3));
            // tm.stats reads tm's own counters, not reset.
            assert!(s.tm_stats().contains(&("total", 7)));
            let before = s.get("registrar", "default_expire");
            s.reset("all");
            assert_eq!(s.get("core", "rcv_requests_invite"), Some(0));
            assert_eq!(s.get("registrar", "default_expire"), before);
            assert!(s.get("shmem", "real_used_size").is_some_and(|v| v > 0));
            drop(tx);
        });
    }

    #[test]
    fn tm_and_sl_rpc_fields() {
        let (board, location, params) = (Board::new(1), Location::new(), Params::default());
        let tm = TmStats {
            created: 9,
            live: 4,
            waiting: 1,
            received: 6,
            relayed: 5,
            local: 3,
            freed: 5,
            completed: [2, 3, 4, 5, 6],
            ..TmStats::default()
        };
        on_shard(&board, 0, tm, || {
            for code in [200, 200, 202, 302, 404, 483, 500, 503, 603] {
                count_sl_reply(code);
            }
        });
        let s = source(&board, &location, &params);
        let t = s.tm_stats();
        let names: Vec<&str> = t.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, TM_STATS_FIELDS);
        let values: Vec<u64> = t.iter().map(|(_, v)| *v).collect();
        assert_eq!(values, [4, 1, 9, 0, 6, 3, 8, 6, 5, 4, 3, 2, 9, 5, 0]);
        let sl = s.sl_stats();
        let names: Vec<&str> = sl.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, SL_STATS_FIELDS);
        let got: Vec<(&str, u64)> = sl.into_iter().filter(|(_, v)| *v != 0).collect();
        assert_eq!(
            got,
            [
                ("200", 2),
                ("202", 1),
                ("302", 1),
                ("404", 1),
                ("483", 1),
                ("500", 1),
                ("5xx", 1),
                ("6xx", 1)
            ]
        );
    }

    #[test]
    fn sl_buckets() {
        let b = |c| SL_CODES.get(sl_bucket(c)).copied();
        assert_eq!(b(100), Some("1xx"));
        assert_eq!(b(183), Some("1xx"));
        assert_eq!(b(200), Some("200"));
        assert_eq!(b(299), Some("2xx"));
        assert_eq!(b(303), Some("3xx"));
        assert_eq!(b(402), Some("4xx"));
        assert_eq!(b(408), Some("408"));
        assert_eq!(b(499), Some("4xx"));
        assert_eq!(b(599), Some("5xx"));
        assert_eq!(b(699), Some("6xx"));
        assert_eq!(b(700), Some("xxx"));
        assert_eq!(b(99), Some("xxx"));
    }

    #[test]
    fn tm_values_round_trip() {
        let t = TmStats {
            created: 1,
            live: 2,
            absorbed: 3,
            relayed: 4,
            local: 5,
            timeouts: 6,
            canceled: 7,
            refused: 8,
            received: 9,
            freed: 10,
            waiting: 11,
            completed: [12, 13, 14, 15, 16],
        };
        assert_eq!(tm_from_values(tm_values(&t)), t);
    }

    #[test]
    fn memory_from_proc() {
        let text = "Name:\tx\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\nRssAnon:\t 512 kB\n";
        assert_eq!(proc_kb(text, "VmRSS:"), Some(1024 * 1024));
        assert_eq!(proc_kb(text, "RssAnon:"), Some(512 * 1024));
        assert_eq!(proc_kb(text, "VmSwap:"), None);
        let m = memory();
        assert!(
            m.real_used > 0 && m.used > 0 && m.used <= m.real_used,
            "{m:?}"
        );
        assert!(m.max_used >= m.real_used, "{m:?}");
        assert!(
            m.total >= m.real_used && m.free == m.total - m.real_used,
            "{m:?}"
        );
        assert!(m.fragments > 0, "{m:?}");
    }
}
