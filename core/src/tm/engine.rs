//! The transaction layer of one shard (Kamailio's `tm`): stateful
//! forwarding with forking, retransmissions, CANCEL, reply selection and
//! the reply and failure routes.
//!
//! A shard owns one [`Tm`]: its transactions ("cells", keyed by the
//! request's server key, [`super::key`]), an index from our branches to
//! them (the client keys), and a timer wheel. Nothing is shared with other
//! shards: every message of a Call-ID reaches the same shard.
//!
//! # A cell
//!
//! - the request as received (its bytes, source and socket), the server
//!   transaction ([`super::fsm::ServerInvite`] or `ServerNonInvite`) and the
//!   last reply sent upstream, which answers retransmissions;
//! - one client transaction per branch (`ClientInvite`/`ClientNonInvite`)
//!   with the request as sent, its destination, the outcome (the final
//!   reply, ready to relay, or a local code: 408 on timeout) and the
//!   CANCEL sent for it, which is a client transaction of its own;
//! - what the script armed (`t_on_reply`, `t_on_failure`), its flags and
//!   AVPs and its changes to the request (for branches added by a
//!   `failure_route`), kept only when a route was armed.
//!
//! # Paths
//!
//! - **Request** ([`Tm::on_request`], before the script): a retransmission
//!   of a request with a cell is answered from the cell (or absorbed) and
//!   never reaches the script; so is the ACK of a negative final reply. A
//!   CANCEL learns whether its INVITE's cell exists (`t_check_trans`).
//! - **After the script** ([`Tm::finish_request`]): `t_relay` makes the
//!   cell (an INVITE gets `100 Trying` at once), builds one copy per
//!   destination (Request-URI and branches: parallel forking) and starts a
//!   client transaction for each; a CANCEL whose INVITE is here is answered
//!   `200` and each pending branch is cancelled hop by hop; an ACK is
//!   forwarded statelessly (the ACK of a 2xx is end to end). `t_reply` and
//!   `t_newtran` make the cell and reply through it; an `sl_send_reply` of
//!   a run that has a cell replies through the cell too.
//! - **Reply** ([`Tm::on_reply`]): matched by our branch; the `onreply_route`
//!   armed with `t_on_reply` runs; 1xx other than 100 are relayed, 2xx
//!   relayed at once (each of them, RFC 6026) and the other pending
//!   branches cancelled; a negative final reply is kept until every branch
//!   has one; then the best (RFC 3261 16.7: 6xx, then the lowest class,
//!   401/407/415/420/484 first among 4xx, a 503 becomes 500) is chosen, the
//!   `failure_route` armed with `t_on_failure` runs, and unless it added
//!   branches (serial forking) or replied, the best reply goes upstream. A
//!   6xx cancels the other branches. Replies that match no cell are left
//!   to the stateless path.
//! - **Timers** ([`Tm::fire`]): retransmissions (A, E, G), timeouts (B, F,
//!   H, `fr_timer`, `fr_inv_timer`), the wait after the end (D, I, J, K, L,
//!   M; `wt_timer`), and a lifetime per cell (`max_inv_lifetime`,
//!   `max_noninv_lifetime`): a cell not answered by then is answered `408`
//!   and removed soon after, so nothing lives for ever.
//!
//! Differences from Kamailio are listed in `docs/proxy.md`.

use std::net::SocketAddr;
use std::time::Instant;

use ser_cfg::ast::RouteKind;
use ser_cfg::ir::RouteId;

use super::fsm::{
    Action as Act, Actions, ClientInvite, ClientNonInvite, ServerInvite, ServerInviteState,
    ServerNonInvite, ServerNonInviteState, TimerKind,
};
use super::funcs::TmCtx;
use super::key::{ClientKey, cancel_target_key, client_key, server_key};
use super::table::{ClientTable, InsertError, ServerTable, TxId};
use super::timers::Timers;
use crate::proxy::forward::{self, Built, Fwd};
use crate::proxy::sl::{self, ReplyTo};
use crate::proxy::{self, Finish, Local, Send};
use crate::script::{Action, Avps, Config, MsgCtx, Outcome, Proto, Script, level};
use crate::shard::timer::{TimerId, TimerWheel};
use crate::sip::builder::Edits;
use crate::sip::limits::Limits;
use crate::sip::method::Method;
use crate::sip::msg::{SipMsg, Transport};
use crate::stats::{self, Counter};

/// Most branches one transaction may have (parallel and serial together).
pub const MAX_BRANCHES: usize = 32;

/// What the transaction layer needs from the shard, read-only.
pub struct Env<'s> {
    pub script: &'s Script,
    pub config: &'s Config,
    pub local: &'s Local,
    pub limits: &'s Limits,
}

/// What to do with a request, decided before the script.
#[derive(Debug)]
pub enum Pre {
    /// A retransmission or an ACK that the transaction layer handled.
    Absorbed,
    /// Run the script, with these transaction facts.
    Run(TmCtx),
}

/// Counters of one shard's transaction layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TmStats {
    /// Transactions created.
    pub created: u64,
    /// Live transactions (filled in when read).
    pub live: u64,
    /// Request retransmissions answered or absorbed, and ACKs of negative
    /// replies absorbed.
    pub absorbed: u64,
    /// Replies relayed upstream.
    pub relayed: u64,
    /// Replies the transaction layer made (100, t_reply, 408, 487, ...).
    pub local: u64,
    /// Branches that timed out.
    pub timeouts: u64,
    /// Transactions cancelled by a CANCEL.
    pub canceled: u64,
    /// Requests refused because the table was full.
    pub refused: u64,
    /// Replies received that matched a branch (or a CANCEL we sent).
    pub received: u64,
    /// Transactions removed.
    pub freed: u64,
    /// Live transactions that have sent their final reply and stay to
    /// absorb retransmissions (or wait for the ACK): a gauge.
    pub waiting: u64,
    /// Transactions by the class of their first final reply sent
    /// upstream, 2xx to 6xx.
    pub completed: [u64; 5],
}

impl TmStats {
    pub fn add(&mut self, o: &TmStats) {
        self.created += o.created;
        self.live += o.live;
        self.absorbed += o.absorbed;
        self.relayed += o.relayed;
        self.local += o.local;
        self.timeouts += o.timeouts;
        self.canceled += o.canceled;
        self.refused += o.refused;
        self.received += o.received;
        self.freed += o.freed;
        self.waiting += o.waiting;
        for (a, b) in self.completed.iter_mut().zip(o.completed) {
            *a += b;
        }
    }
}

/// Which state machine of a cell a timer belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Uas,
    Uac(u8),
    Cancel(u8),
    /// The cell's lifetime ran out.
    Life,
    /// The grace after the lifetime: the cell is removed.
    Reap,
}

#[derive(Clone, Copy, Debug)]
struct TmTimer {
    cell: TxId,
    who: Who,
    kind: TimerKind,
}

/// The wheel timers one state machine holds, by kind: at most four at
/// once (an INVITE client in Calling holds A, B and `fr_timer`), kept
/// inline so that arming a timer never allocates.
#[derive(Debug, Default)]
struct Armed([Option<(TimerKind, TimerId)>; 4]);

impl Armed {
    fn set(&mut self, k: TimerKind, id: TimerId, wheel: &mut TimerWheel<TmTimer>) {
        if let Some(slot) = self.0.iter_mut().find(|s| s.is_some_and(|(kk, _)| kk == k)) {
            *slot = Some((k, id));
        } else if let Some(slot) = self.0.iter_mut().find(|s| s.is_none()) {
            *slot = Some((k, id));
        } else {
            // Cannot happen (see above); never leak a live timer.
            wheel.cancel(id);
        }
    }

    fn take(&mut self, k: TimerKind) -> Option<TimerId> {
        let slot = self
            .0
            .iter_mut()
            .find(|s| s.is_some_and(|(kk, _)| kk == k))?;
        slot.take().map(|(_, id)| id)
    }

    fn cancel_all(&mut self, wheel: &mut TimerWheel<TmTimer>) {
        for (_, id) in self.0.iter_mut().filter_map(Option::take) {
            wheel.cancel(id);
        }
    }
}

#[derive(Debug)]
enum Uas {
    Invite(ServerInvite),
    Other(ServerNonInvite),
}

impl Uas {
    fn send_response(&mut self, code: u16) -> Actions {
        match self {
            Uas::Invite(f) => f.send_response(code),
            Uas::Other(f) => f.send_response(code),
        }
    }

    fn on_request_retransmission(&mut self) -> Actions {
        match self {
            Uas::Invite(f) => f.on_request_retransmission(),
            Uas::Other(f) => f.on_request_retransmission(),
        }
    }

    fn on_timer(&mut self, k: TimerKind) -> Actions {
        match self {
            Uas::Invite(f) => f.on_timer(k),
            Uas::Other(f) => f.on_timer(k),
        }
    }

    fn is_final(&self) -> bool {
        match self {
            Uas::Invite(f) => f.state() != ServerInviteState::Proceeding,
            Uas::Other(f) => !matches!(
                f.state(),
                ServerNonInviteState::Trying | ServerNonInviteState::Proceeding
            ),
        }
    }
}

#[derive(Debug)]
enum Client {
    Invite(ClientInvite),
    Other(ClientNonInvite),
}

impl Client {
    fn start(&mut self) -> Actions {
        match self {
            Client::Invite(f) => f.start(),
            Client::Other(f) => f.start(),
        }
    }

    fn on_response(&mut self, code: u16) -> Actions {
        match self {
            Client::Invite(f) => f.on_response(code),
            Client::Other(f) => f.on_response(code),
        }
    }

    fn on_timer(&mut self, k: TimerKind) -> Actions {
        match self {
            Client::Invite(f) => f.on_timer(k),
            Client::Other(f) => f.on_timer(k),
        }
    }

    fn cancel_requested(&mut self) -> Actions {
        match self {
            Client::Invite(f) => f.cancel_requested(),
            Client::Other(_) => Actions::new(),
        }
    }
}

/// How a branch ended, for the TU.
#[derive(Debug)]
enum Outcome2 {
    /// A final reply, our Via removed, ready to go upstream.
    Reply { code: u16, send: Send },
    /// A 2xx (already relayed).
    Success(u16),
    /// No reply in time (408) or the copy could not be sent.
    Local(u16),
}

impl Outcome2 {
    fn code(&self) -> u16 {
        match self {
            Outcome2::Reply { code, .. } | Outcome2::Success(code) | Outcome2::Local(code) => *code,
        }
    }
}

/// Our CANCEL of one branch: a non-INVITE client transaction.
#[derive(Debug)]
struct CancelTx {
    fsm: ClientNonInvite,
    data: Box<[u8]>,
    key: TxId,
    timers: Armed,
    done: bool,
}

/// One branch: a client transaction.
#[derive(Debug)]
struct Uac {
    fsm: Client,
    req: Box<[u8]>,
    dst: SocketAddr,
    sock: u16,
    key: TxId,
    timers: Armed,
    done: bool,
    /// Status of the last reply received (0: none).
    last_code: u16,
    outcome: Option<Outcome2>,
    cancel: Option<Box<CancelTx>>,
}

/// What the script left for the reply and failure routes.
#[derive(Debug, Default)]
struct ScriptState {
    flags: u64,
    avps: Avps,
    new_uri: Option<Vec<u8>>,
    edits: Edits,
    force_rport: bool,
    rr_tail: Option<Vec<u8>>,
    on_reply: Option<RouteId>,
    on_failure: Option<RouteId>,
}

/// One transaction.
#[derive(Debug)]
struct Cell {
    req: Box<[u8]>,
    src: SocketAddr,
    sock: u16,
    /// Where replies to the request go (RFC 3261 18.2.2, RFC 3581).
    reply_dst: SocketAddr,
    invite: bool,
    force_rport: bool,
    uas: Uas,
    uas_timers: Armed,
    uas_done: bool,
    /// The last reply sent upstream (for retransmissions).
    reply: Option<Send>,
    /// The final status sent upstream (0: none yet).
    final_code: u16,
    branches: Vec<Uac>,
    /// Index of the next copy's Via branch.
    next_index: u32,
    canceled: bool,
    timers: Timers,
    state: Option<Box<ScriptState>>,
    life: Option<TimerId>,
    /// What accounting needs from the request, when it may be accounted.
    acc: Option<Box<crate::acc::Seed>>,
}

impl Cell {
    fn armed(&mut self, who: Who) -> Option<&mut Armed> {
        match who {
            Who::Uas => Some(&mut self.uas_timers),
            Who::Uac(b) => self.branches.get_mut(b as usize).map(|u| &mut u.timers),
            Who::Cancel(b) => self
                .branches
                .get_mut(b as usize)
                .and_then(|u| u.cancel.as_mut())
                .map(|c| &mut c.timers),
            Who::Life | Who::Reap => None,
        }
    }

    fn is_over(&self) -> bool {
        self.uas_done
            && self
                .branches
                .iter()
                .all(|u| u.done && u.cancel.as_ref().is_none_or(|c| c.done))
    }
}

/// A client key's target.
#[derive(Clone, Copy, Debug)]
struct ClientRef {
    cell: TxId,
    branch: u8,
    cancel: bool,
}

/// What the mechanical part of a state machine's actions left for the TU.
#[derive(Debug, Default)]
struct Up {
    code: Option<u16>,
    timeout: bool,
}

/// The transaction layer of one shard.
pub struct Tm {
    cells: ServerTable<Cell>,
    clients: ClientTable<ClientRef>,
    wheel: TimerWheel<TmTimer>,
    /// The clock: never goes back; timers are armed from it.
    now: Instant,
    /// Timers due in `fire` (kept for its allocation).
    due: Vec<TmTimer>,
    pub stats: TmStats,
}

/// The rank of a final reply for the choice of RFC 3261 16.7 (lower is
/// better); `local` for a reply we made (a timeout).
fn rank(code: u16, local: bool) -> (u8, u16) {
    match code {
        600..=699 => (0, code),
        200..=299 => (1, code),
        300..=399 => (2, code),
        400..=499 if local => (3, 1000),
        401 | 407 | 415 | 420 | 484 => (3, 0),
        400..=499 => (3, code),
        _ => (4, code),
    }
}

/// The reason phrase of a reply the transaction layer makes.
fn reason_of(code: u16) -> &'static [u8] {
    match code {
        100 => b"Trying",
        200 => b"OK",
        408 => b"Request Timeout",
        477 => b"Unfortunately error on sending to next hop occurred",
        487 => b"Request Terminated",
        500 => b"Server Internal Error",
        503 => b"Service Unavailable",
        _ => b"Unknown",
    }
}

impl Tm {
    /// An empty layer holding at most `limit` live transactions.
    pub fn new(now: Instant, limit: usize) -> Tm {
        Tm {
            cells: ServerTable::with_limit(limit),
            clients: ClientTable::new(),
            wheel: TimerWheel::new(now),
            now,
            due: Vec::new(),
            stats: TmStats::default(),
        }
    }

    /// Live transactions.
    pub fn live(&self) -> usize {
        self.cells.len()
    }

    /// The counters, with the live count.
    pub fn stats(&self) -> TmStats {
        TmStats {
            live: self.cells.len() as u64,
            ..self.stats
        }
    }

    /// When the next timer is due.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        self.wheel.next_deadline()
    }

    /// When a timer of duration `d` from now fires. Durations come from
    /// the config and the script (`t_set_fr`, an AVP): a silly value is
    /// held to a day instead of overflowing the clock.
    fn at(&self, d: std::time::Duration) -> Instant {
        const LONGEST: std::time::Duration = std::time::Duration::from_secs(86_400);
        self.now + d.min(LONGEST)
    }

    /// Moves the clock to the present (it never goes back).
    fn tick(&mut self) {
        let n = Instant::now();
        if n > self.now {
            self.now = n;
        }
    }

    fn log(env: &Env<'_>, lvl: i32, text: &str) {
        crate::log::write(env.config.debug(), lvl, &format!("tm: {text}"));
    }

    // ----- requests -----

    /// A request, before the script: retransmissions and ACKs of negative
    /// replies are handled here.
    pub fn on_request(&mut self, msg: &SipMsg<'_>, out: &mut Vec<Send>) -> Pre {
        let method = msg.method();
        let mut t = TmCtx::default();
        if self.cells.is_empty() {
            return Pre::Run(t);
        }
        self.tick();
        let key = server_key(msg).ok();
        if let Some(key) = &key
            && let Some(id) = self.cells.find(key)
        {
            let Some(cell) = self.cells.get_mut(id) else {
                return Pre::Run(t);
            };
            let acts = match (&mut cell.uas, method) {
                (Uas::Invite(f), Some(Method::Ack)) => {
                    if f.state() == ServerInviteState::Accepted {
                        // The ACK of a 2xx with the INVITE's branch:
                        // end to end, through the script.
                        return Pre::Run(t);
                    }
                    f.on_ack()
                }
                (Uas::Other(_), Some(Method::Ack)) => return Pre::Run(t),
                (uas, _) => uas.on_request_retransmission(),
            };
            self.stats.absorbed += 1;
            self.run(id, Who::Uas, acts, None, out);
            self.reap_if_over(id);
            return Pre::Absorbed;
        }
        if method == Some(Method::Cancel) {
            t.invite_found = cancel_target_key(msg)
                .ok()
                .is_some_and(|k| self.cells.find(&k).is_some());
        }
        t.key = key;
        Pre::Run(t)
    }

    /// After the request route: carries out `ctx.actions` in order, the
    /// stateless ones through [`crate::proxy`].
    pub fn finish_request(
        &mut self,
        ctx: &mut MsgCtx<'_, '_>,
        sock: u16,
        env: &Env<'_>,
        out: &mut Vec<Send>,
    ) -> Finish {
        self.tick();
        let mut fin = Finish::default();
        let actions = std::mem::take(&mut ctx.actions);
        let last_forward = proxy::last_forward(&actions);
        let mut copies = 0u32;
        let mut cell: Option<TxId> = None;
        for (i, a) in actions.iter().enumerate() {
            match a {
                Action::Relay { host, port, proto } => {
                    self.relay(
                        ctx,
                        sock,
                        host.as_deref(),
                        *port,
                        *proto,
                        env,
                        out,
                        &mut cell,
                    );
                }
                Action::NewTran => {
                    if cell.is_none() {
                        cell = self.ensure_cell(ctx, sock, env);
                    }
                }
                Action::TReply { code, reason } => {
                    if cell.is_none() {
                        cell = self.ensure_cell(ctx, sock, env);
                    }
                    match cell {
                        Some(id) => self.reply_local_to(
                            id,
                            Some(ctx.msg),
                            *code,
                            reason,
                            &ctx.reply_headers,
                            env,
                            out,
                        ),
                        None => {
                            sl::run_reply(ctx, sock, env.local, *code, reason, out, &mut fin);
                        }
                    }
                }
                // A stateless reply of a run with a transaction goes
                // through it (as Kamailio's send_reply does).
                Action::Reply { code, reason } if cell.is_some() => {
                    if let Some(id) = cell {
                        self.reply_local_to(
                            id,
                            Some(ctx.msg),
                            *code,
                            reason,
                            &ctx.reply_headers,
                            env,
                            out,
                        );
                    }
                }
                Action::ReplyError if cell.is_some() => {
                    if let Some(id) = cell {
                        let (code, reason) = sl::ERROR_REPLY;
                        self.reply_local_to(
                            id,
                            Some(ctx.msg),
                            code,
                            reason,
                            &ctx.reply_headers,
                            env,
                            out,
                        );
                    }
                }
                other => {
                    let last = Some(i) == last_forward;
                    proxy::run_stateless(
                        ctx,
                        other,
                        last,
                        sock,
                        env.local,
                        &mut copies,
                        out,
                        &mut fin,
                    );
                }
            }
        }
        ctx.actions = actions;
        if let Some(id) = cell {
            self.reap_if_over(id);
        }
        fin
    }

    /// `t_relay` after the request route.
    #[allow(clippy::too_many_arguments)]
    fn relay(
        &mut self,
        ctx: &mut MsgCtx<'_, '_>,
        sock: u16,
        host: Option<&[u8]>,
        port: Option<u16>,
        proto: Option<Proto>,
        env: &Env<'_>,
        out: &mut Vec<Send>,
        cell: &mut Option<TxId>,
    ) {
        match ctx.msg.method() {
            Some(Method::Ack) => {
                // No transaction for an ACK: forwarded as it is.
                if let Some(acc) = &env.config.acc {
                    acc.on_ack(ctx);
                }
                let mut fin = Finish::default();
                let f = Fwd {
                    host,
                    port,
                    proto,
                    last: true,
                    ruri: None,
                };
                let mut copies = 0;
                forward::forward_request(ctx, sock, env.local, &f, &mut copies, out, &mut fin);
                return;
            }
            Some(Method::Cancel) if ctx.tm.invite_found => {
                self.relay_cancel(ctx, sock, env, out, cell);
                return;
            }
            _ => {}
        }
        if cell.is_none() {
            *cell = self.ensure_cell(ctx, sock, env);
        }
        if let Some(id) = *cell
            && self.cells.get(id).is_some_and(|c| !c.branches.is_empty())
        {
            // Relayed already (a retransmission that arrived while the
            // first copy's script was waiting): answered from the cell.
            if let Some(c) = self.cells.get_mut(id) {
                let acts = c.uas.on_request_retransmission();
                self.stats.absorbed += 1;
                self.run(id, Who::Uas, acts, None, out);
            }
            return;
        }
        let Some(id) = *cell else {
            // No room for a transaction: a stateless 500.
            let mut fin = Finish::default();
            if sl::run_reply(
                ctx,
                sock,
                env.local,
                500,
                b"Server Internal Error",
                out,
                &mut fin,
            ) {
                stats::count(Counter::SlErrReplies);
            }
            return;
        };
        let auto_100 = ctx.tm.auto_100.unwrap_or(env.config.tm.auto_inv_100);
        if let Some(c) = self.cells.get(id)
            && c.invite
            && c.reply.is_none()
            && auto_100
        {
            let reason = &env.config.tm.reason_100;
            self.reply_local_to(id, Some(ctx.msg), 100, reason, b"", env, out);
        }
        let fwd = Fwd {
            host,
            port,
            proto,
            last: true,
            ruri: None,
        };
        if self.add_copies(id, ctx, &fwd, env, out) == 0 {
            // Kamailio's code and reason for a request it could not send.
            Self::log(env, level::L_ERR, "t_relay: no branch could be sent; 477");
            self.reply_local(id, 477, reason_of(477), b"", env, out);
        }
    }

    /// The cell of the request of `ctx`, made if needed (`None`: no key
    /// or no room).
    fn ensure_cell(&mut self, ctx: &MsgCtx<'_, '_>, sock: u16, env: &Env<'_>) -> Option<TxId> {
        let msg = ctx.msg;
        let built = match ctx.tm.key.clone() {
            Some(k) => Ok(k),
            None => server_key(msg),
        };
        let key = match built {
            Ok(k) => k,
            Err(e) => {
                Self::log(
                    env,
                    level::L_ERR,
                    &format!("no transaction for a request without a usable key: {e}"),
                );
                return None;
            }
        };
        if let Some(id) = self.cells.find(&key) {
            return Some(id);
        }
        let p = &env.config.tm;
        let invite = msg.method() == Some(Method::Invite);
        let mut timers = p.timers;
        let avp = |name: &Option<crate::script::AvpName>| {
            let name = name.as_ref()?;
            let sel = crate::script::AvpSel {
                name: name.clone(),
                classes: crate::script::ctx::ALL_CLASSES,
                track: crate::script::AvpTrackSide::From,
                write_class: crate::script::AvpClass::Uri,
            };
            let v = ctx.avps.get(&sel, 0)?.to_int()?;
            p.avp_duration(v)
        };
        // `cfg.set tm fr_timer|fr_inv_timer` overrides the modparams at run
        // time (a negative knob: not set; 0: no timer).
        let knob = |k: &crate::script::ctx::Knob| {
            u64::try_from(k.get())
                .ok()
                .map(|ms| (ms > 0).then(|| std::time::Duration::from_millis(ms)))
        };
        if let Some(fr) = knob(&env.config.fr_timer_ms) {
            timers.fr_timer = fr;
        }
        if let Some(fr) = knob(&env.config.fr_inv_timer_ms) {
            timers.fr_inv_timer = fr;
        }
        if let Some(d) = ctx.tm.fr_inv.or_else(|| avp(&p.fr_inv_timer_avp)) {
            timers.fr_inv_timer = Some(d);
        }
        if let Some(d) = ctx.tm.fr.or_else(|| avp(&p.fr_timer_avp)) {
            timers.fr_timer = Some(d);
        }
        let uas = if invite {
            Uas::Invite(ServerInvite::new(timers, false))
        } else {
            Uas::Other(ServerNonInvite::new(timers, false))
        };
        let state = (ctx.tm.on_reply.is_some() || ctx.tm.on_failure.is_some()).then(|| {
            Box::new(ScriptState {
                flags: ctx.flags,
                avps: ctx.avps.clone(),
                new_uri: ctx.new_uri.clone(),
                edits: ctx.edits.clone(),
                force_rport: ctx.force_rport,
                rr_tail: ctx.rr_tail.clone(),
                on_reply: ctx.tm.on_reply,
                on_failure: ctx.tm.on_failure,
            })
        });
        let cell = Cell {
            req: msg.buf().into(),
            src: ctx.src,
            sock,
            reply_dst: sl::reply_destination(msg.via1().ok(), ctx.src, ctx.force_rport),
            invite,
            force_rport: ctx.force_rport,
            uas,
            uas_timers: Armed::default(),
            uas_done: false,
            reply: None,
            final_code: 0,
            branches: Vec::new(),
            next_index: 0,
            canceled: false,
            timers,
            state,
            life: None,
            acc: env
                .config
                .acc
                .as_ref()
                .filter(|a| a.wants(ctx.flags, msg.method(), ctx.tm.on_failure.is_some()))
                .map(|a| Box::new(a.seed(ctx))),
        };
        let id = match self.cells.insert(key, cell) {
            Ok(id) => id,
            Err(InsertError::Exists(id, _)) => return Some(id),
            Err(InsertError::Full(_)) => {
                self.stats.refused += 1;
                Self::log(
                    env,
                    level::L_ERR,
                    &format!(
                        "{} transactions live on this shard: no room for another",
                        self.cells.len()
                    ),
                );
                return None;
            }
        };
        self.stats.created += 1;
        let life = if invite {
            p.max_inv_lifetime
        } else {
            p.max_noninv_lifetime
        };
        let tid = self.wheel.insert(
            self.at(life),
            TmTimer {
                cell: id,
                who: Who::Life,
                kind: TimerKind::Fr,
            },
        );
        if let Some(c) = self.cells.get_mut(id) {
            c.life = Some(tid);
        }
        Some(id)
    }

    /// Builds and starts the copies of one relay (request or failure
    /// route); returns how many went out.
    fn add_copies(
        &mut self,
        id: TxId,
        ctx: &mut MsgCtx<'_, '_>,
        fwd: &Fwd<'_>,
        env: &Env<'_>,
        out: &mut Vec<Send>,
    ) -> usize {
        let Some(cell) = self.cells.get_mut(id) else {
            return 0;
        };
        let mut copies = cell.next_index;
        let mut built: Vec<Built> = Vec::with_capacity(1 + ctx.branches.len());
        let mut fin = Finish::default();
        match ctx.tm.on_branch {
            None => forward::build_copies(
                ctx,
                cell.sock,
                env.local,
                fwd,
                &mut copies,
                out,
                &mut built,
                &mut fin,
            ),
            Some(route) => Self::branch_routes(
                route,
                ctx,
                cell.sock,
                fwd,
                env,
                &mut copies,
                out,
                &mut built,
            ),
        }
        cell.next_index = copies;
        let Some(method) = ctx.msg.method() else {
            return 0;
        };
        // One allocation of the right size: a Vec of branches would
        // otherwise start with room for four.
        if let Some(cell) = self.cells.get_mut(id) {
            cell.branches.reserve_exact(built.len());
        }
        let mut n = 0;
        for c in built {
            if self.add_branch(id, c, &method, env, out) {
                n += 1;
            }
        }
        n
    }

    /// The copies of a relay with a `branch_route` armed: the route runs
    /// once per destination, on a copy of the script state with that
    /// destination as Request-URI (and its `$du` and branch flags); its
    /// changes go into that copy only, and `drop` leaves the destination
    /// out.
    #[allow(clippy::too_many_arguments)]
    fn branch_routes(
        route: RouteId,
        ctx: &mut MsgCtx<'_, '_>,
        sock: u16,
        fwd: &Fwd<'_>,
        env: &Env<'_>,
        copies: &mut u32,
        out: &mut Vec<Send>,
        built: &mut Vec<Built>,
    ) {
        let mut set: Vec<(Vec<u8>, Option<Vec<u8>>, u64)> = Vec::new();
        if forward::with_ruri(ctx, fwd) {
            set.push((ctx.ruri().to_vec(), ctx.dst_uri.clone(), ctx.bflags));
        }
        if fwd.host.is_none() {
            set.extend(
                ctx.branches
                    .iter()
                    .map(|b| (b.uri.clone(), b.dst_uri.clone(), b.flags)),
            );
        }
        for (uri, du, bflags) in set {
            let mut b = MsgCtx::new(ctx.msg, env.config, ctx.src, ctx.dst, ctx.proto);
            b.new_uri = (ctx.msg.ruri_bytes() != Some(&uri[..])).then_some(uri);
            b.dst_uri = du;
            b.flags = ctx.flags;
            b.bflags = bflags;
            b.avps = ctx.avps.clone();
            b.edits = ctx.edits.clone();
            b.force_rport = ctx.force_rport;
            b.rr_tail = ctx.rr_tail.clone();
            b.route_kind = RouteKind::Branch;
            b.tm = ctx.tm.clone();
            b.msg_id = ctx.msg_id;
            match env.script.run(route, &mut b) {
                Outcome::Finished { dropped: true, .. } => {
                    b.recycle();
                    continue;
                }
                Outcome::Suspended(_) => {
                    Self::log(
                        env,
                        level::L_ERR,
                        "a branch_route cannot wait (sleep); the branch goes on",
                    );
                }
                Outcome::Finished { .. } => {}
            }
            let one = Fwd {
                host: fwd.host,
                port: fwd.port,
                proto: fwd.proto,
                last: true,
                ruri: Some(true),
            };
            let mut fin = Finish::default();
            forward::build_copies(&mut b, sock, env.local, &one, copies, out, built, &mut fin);
            b.recycle();
        }
    }

    /// Starts a client transaction for one copy.
    fn add_branch(
        &mut self,
        id: TxId,
        c: Built,
        method: &Method<'_>,
        env: &Env<'_>,
        out: &mut Vec<Send>,
    ) -> bool {
        let Some(cell) = self.cells.get_mut(id) else {
            return false;
        };
        if cell.branches.len() >= MAX_BRANCHES {
            Self::log(
                env,
                level::L_ERR,
                &format!("a transaction has {MAX_BRANCHES} branches already; no more"),
            );
            return false;
        }
        let b = cell.branches.len() as u8;
        let key = ClientKey::new(&c.branch, method);
        let key = match self.clients.insert(
            key,
            ClientRef {
                cell: id,
                branch: b,
                cancel: false,
            },
        ) {
            Ok(k) => k,
            Err(_) => {
                Self::log(
                    env,
                    level::L_ERR,
                    "branch key already in use; branch not sent",
                );
                return false;
            }
        };
        let fsm = if cell.invite {
            Client::Invite(ClientInvite::new(cell.timers, false))
        } else {
            Client::Other(ClientNonInvite::new(cell.timers, false))
        };
        cell.branches.push(Uac {
            fsm,
            req: c.send.data.into_boxed_slice(),
            dst: c.send.dst,
            sock: c.send.sock,
            key,
            timers: Armed::default(),
            done: false,
            last_code: 0,
            outcome: None,
            cancel: None,
        });
        let acts = match cell.branches.last_mut() {
            Some(u) => u.fsm.start(),
            None => return false,
        };
        self.run(id, Who::Uac(b), acts, None, out);
        stats::count(Counter::FwdRequests);
        true
    }

    /// A CANCEL whose INVITE is here: answered 200, the INVITE's pending
    /// branches cancelled.
    fn relay_cancel(
        &mut self,
        ctx: &mut MsgCtx<'_, '_>,
        sock: u16,
        env: &Env<'_>,
        out: &mut Vec<Send>,
        cell: &mut Option<TxId>,
    ) {
        let target = cancel_target_key(ctx.msg)
            .ok()
            .and_then(|k| self.cells.find(&k));
        if cell.is_none() {
            *cell = self.ensure_cell(ctx, sock, env);
        }
        match *cell {
            Some(id) => self.reply_local_to(
                id,
                Some(ctx.msg),
                200,
                b"canceling",
                &ctx.reply_headers,
                env,
                out,
            ),
            None => {
                let mut fin = Finish::default();
                sl::run_reply(ctx, sock, env.local, 200, b"canceling", out, &mut fin);
            }
        }
        if let Some(inv) = target {
            self.cancel_cell(inv, env, out);
        }
    }

    /// Cancels every branch of `id` still waiting for its final reply.
    fn cancel_cell(&mut self, id: TxId, env: &Env<'_>, out: &mut Vec<Send>) {
        let Some(cell) = self.cells.get_mut(id) else {
            return;
        };
        if !cell.canceled {
            cell.canceled = true;
            self.stats.canceled += 1;
        }
        let n = cell.branches.len();
        let no_branch = n == 0 && cell.final_code == 0;
        for b in 0..n {
            self.cancel_branch(id, b as u8, out);
        }
        if no_branch {
            self.reply_local(id, 487, reason_of(487), b"", env, out);
        }
    }

    fn cancel_branch(&mut self, id: TxId, b: u8, out: &mut Vec<Send>) {
        let Some(u) = self
            .cells
            .get_mut(id)
            .and_then(|c| c.branches.get_mut(b as usize))
        else {
            return;
        };
        if u.outcome.is_some() {
            return;
        }
        let acts = u.fsm.cancel_requested();
        self.run(id, Who::Uac(b), acts, None, out);
    }

    /// Sends our CANCEL for branch `b` (its own client transaction).
    fn start_cancel(&mut self, id: TxId, b: u8, out: &mut Vec<Send>) {
        let Some(cell) = self.cells.get_mut(id) else {
            return;
        };
        let timers = cell.timers;
        let Some(u) = cell.branches.get_mut(b as usize) else {
            return;
        };
        if u.cancel.is_some() {
            return;
        }
        let built = SipMsg::parse(&u.req).ok().and_then(|sent| {
            let data = super::build::cancel(&sent).ok()?;
            let branch = sent.via1().ok().and_then(|v| v.branch())?;
            Some((data, ClientKey::new(branch, &Method::Cancel)))
        });
        let Some((data, key)) = built else {
            return;
        };
        let Ok(key) = self.clients.insert(
            key,
            ClientRef {
                cell: id,
                branch: b,
                cancel: true,
            },
        ) else {
            return;
        };
        let mut fsm = ClientNonInvite::new(timers, false);
        let acts = fsm.start();
        u.cancel = Some(Box::new(CancelTx {
            fsm,
            data: data.into_boxed_slice(),
            key,
            timers: Armed::default(),
            done: false,
        }));
        self.run(id, Who::Cancel(b), acts, None, out);
    }

    // ----- replies -----

    /// A reply (after the main `onreply_route`, whose changes are in
    /// `edits`). False when it matches no transaction here: the caller
    /// forwards it statelessly.
    #[allow(clippy::too_many_arguments)]
    pub fn on_reply(
        &mut self,
        msg: &SipMsg<'_>,
        edits: &mut Edits,
        src: SocketAddr,
        sock: u16,
        env: &Env<'_>,
        out: &mut Vec<Send>,
    ) -> bool {
        if self.clients.is_empty() {
            return false;
        }
        let Ok(key) = client_key(msg) else {
            return false;
        };
        let Some((_, &r)) = self.clients.get_by_key(&key) else {
            return false;
        };
        let Some(code) = msg.status() else {
            return false;
        };
        self.tick();
        let Some(cell) = self.cells.get_mut(r.cell) else {
            return false;
        };
        self.stats.received += 1;
        let Some(u) = cell.branches.get_mut(r.branch as usize) else {
            return false;
        };
        if r.cancel {
            if let Some(c) = u.cancel.as_mut() {
                let acts = c.fsm.on_response(code);
                self.run(r.cell, Who::Cancel(r.branch), acts, Some(msg), out);
            }
        } else {
            let acts = u.fsm.on_response(code);
            let up = self.run(r.cell, Who::Uac(r.branch), acts, Some(msg), out);
            if let Some(c) = up.code {
                self.reply_up(r.cell, r.branch, msg, c, edits, src, sock, env, out);
            }
        }
        self.reap_if_over(r.cell);
        true
    }

    /// A reply the branch's state machine passed up.
    #[allow(clippy::too_many_arguments)]
    fn reply_up(
        &mut self,
        id: TxId,
        b: u8,
        msg: &SipMsg<'_>,
        code: u16,
        edits: &mut Edits,
        src: SocketAddr,
        sock: u16,
        env: &Env<'_>,
        out: &mut Vec<Send>,
    ) {
        let Some(cell) = self.cells.get_mut(id) else {
            return;
        };
        if let Some(u) = cell.branches.get_mut(b as usize) {
            u.last_code = code;
        }
        // The onreply_route armed with t_on_reply.
        if let Some(state) = cell.state.as_mut()
            && let Some(route) = state.on_reply
        {
            let local_addr = env.local.socket(sock).map_or(src, |s| s.addr);
            let mut ctx = MsgCtx::new(msg, env.config, src, local_addr, Proto::Udp);
            ctx.flags = state.flags;
            ctx.avps = std::mem::take(&mut state.avps);
            ctx.edits = std::mem::take(edits);
            ctx.route_kind = RouteKind::OnReply;
            ctx.tm = TmCtx {
                status: Some(code),
                canceled: cell.canceled,
                in_transaction: true,
                on_reply: state.on_reply,
                on_failure: state.on_failure,
                ..TmCtx::default()
            };
            let outcome = env.script.run(route, &mut ctx);
            state.flags = ctx.flags;
            state.avps = std::mem::take(&mut ctx.avps);
            state.on_failure = ctx.tm.on_failure;
            *edits = std::mem::take(&mut ctx.edits);
            ctx.recycle();
            match outcome {
                Outcome::Finished { dropped: true, .. } if code < 200 => {
                    stats::count(Counter::DropReplies);
                    return;
                }
                Outcome::Suspended(_) => {
                    Self::log(
                        env,
                        level::L_ERR,
                        "an onreply_route cannot wait (sleep); the reply goes on",
                    );
                }
                _ => {}
            }
        }
        let invite = cell.invite;
        let (up_sock, up_dst) = (cell.sock, cell.reply_dst);
        if code < 200 {
            if code == 100 || cell.final_code != 0 {
                return;
            }
            if let Some(send) = Self::relayable(msg, edits, up_sock, up_dst, env) {
                self.send_upstream(id, code, send, false, env, out);
            }
            return;
        }
        if code < 300 {
            if let Some(u) = cell.branches.get_mut(b as usize) {
                u.outcome = Some(Outcome2::Success(code));
            }
            if let Some(send) = Self::relayable(msg, edits, up_sock, up_dst, env) {
                self.send_upstream(id, code, send, false, env, out);
            }
            if invite {
                self.cancel_others(id, b, out);
            }
            return;
        }
        match Self::relayable(msg, edits, up_sock, up_dst, env) {
            Some(send) => {
                if let Some(u) = cell.branches.get_mut(b as usize) {
                    u.outcome = Some(Outcome2::Reply { code, send });
                }
            }
            None => {
                if let Some(u) = cell.branches.get_mut(b as usize) {
                    u.outcome = Some(Outcome2::Local(500));
                }
            }
        }
        if code >= 600 && invite {
            self.cancel_others(id, b, out);
        }
        self.maybe_complete(id, env, out);
    }

    fn cancel_others(&mut self, id: TxId, except: u8, out: &mut Vec<Send>) {
        let n = self.cells.get(id).map_or(0, |c| c.branches.len());
        for j in 0..n as u8 {
            if j != except {
                self.cancel_branch(id, j, out);
            }
        }
    }

    /// The reply with our Via removed, to where replies to the cell's
    /// request go (its source, by the rules of RFC 3261 18.2.2 and RFC
    /// 3581: the same address the next Via names). The Vias are not
    /// parsed: the branch already matched our transaction.
    fn relayable(
        msg: &SipMsg<'_>,
        edits: &mut Edits,
        sock: u16,
        dst: SocketAddr,
        env: &Env<'_>,
    ) -> Option<Send> {
        let mut data = Vec::new();
        let built = edits
            .remove_top_via(msg)
            .and_then(|()| edits.build(msg, &mut data));
        match built {
            Ok(()) if data.len() <= proxy::MAX_DATAGRAM => Some(Send { sock, dst, data }),
            Ok(()) => {
                Self::log(
                    env,
                    level::L_ERR,
                    &format!("reply not relayed: too long ({} bytes)", data.len()),
                );
                None
            }
            Err(e) => {
                Self::log(env, level::L_ERR, &format!("reply not relayed: {e}"));
                None
            }
        }
    }

    /// Sends a reply upstream through the server transaction.
    fn send_upstream(
        &mut self,
        id: TxId,
        code: u16,
        send: Send,
        local: bool,
        env: &Env<'_>,
        out: &mut Vec<Send>,
    ) {
        let Some(cell) = self.cells.get_mut(id) else {
            return;
        };
        let acts = cell.uas.send_response(code);
        if !acts.contains(&Act::SendResponse) {
            return;
        }
        if let Some(seed) = &cell.acc
            && let Some(acc) = &env.config.acc
            && (code == 183 || (code >= 200 && (cell.final_code == 0 || code < 300)))
        {
            let flags = cell.state.as_ref().map_or(seed.flags, |s| s.flags);
            acc.on_reply(env.config.debug(), seed, flags, code, &send.data);
        }
        cell.reply = Some(send);
        if code >= 200 && cell.final_code == 0 {
            self.stats.waiting += 1;
            let class = usize::from(code / 100).saturating_sub(2);
            if let Some(n) = self.stats.completed.get_mut(class) {
                *n += 1;
            }
        }
        if code >= 200 && (cell.final_code == 0 || code < 300) {
            cell.final_code = code;
        }
        if local {
            self.stats.local += 1;
        } else {
            self.stats.relayed += 1;
            stats::count(Counter::FwdReplies);
        }
        self.run(id, Who::Uas, acts, None, out);
    }

    /// A reply made here, through the server transaction.
    fn reply_local(
        &mut self,
        id: TxId,
        code: u16,
        reason: &[u8],
        extra: &[u8],
        env: &Env<'_>,
        out: &mut Vec<Send>,
    ) {
        self.reply_local_to(id, None, code, reason, extra, env, out);
    }

    /// [`Tm::reply_local`] with the request already parsed (`req`: the
    /// cell's request; parsed again from the cell when `None`).
    #[allow(clippy::too_many_arguments)]
    fn reply_local_to(
        &mut self,
        id: TxId,
        req: Option<&SipMsg<'_>>,
        code: u16,
        reason: &[u8],
        extra: &[u8],
        env: &Env<'_>,
        out: &mut Vec<Send>,
    ) {
        let Some(cell) = self.cells.get_mut(id) else {
            return;
        };
        if cell.uas.is_final() {
            Self::log(
                env,
                level::L_ERR,
                &format!("no {code} reply: the transaction has its final reply already"),
            );
            return;
        }
        let build = |msg: &SipMsg<'_>| {
            let r = ReplyTo {
                msg,
                src: cell.src,
                force_rport: cell.force_rport,
                out_uri: msg.ruri_bytes().unwrap_or(b""),
                extra,
            };
            sl::build_local_reply(&r, cell.sock, env.local, code, reason)
        };
        let built = match req {
            Some(msg) => build(msg),
            None => match SipMsg::parse_with(&cell.req, Transport::Datagram, env.limits) {
                Ok(msg) => build(&msg),
                Err(e) => Err(format!("stored request does not parse: {e}")),
            },
        };
        match built {
            Ok(send) => self.send_upstream(id, code, send, true, env, out),
            Err(e) => Self::log(env, level::L_ERR, &e),
        }
    }

    /// Every branch has its outcome: choose, run the failure route, reply.
    fn maybe_complete(&mut self, id: TxId, env: &Env<'_>, out: &mut Vec<Send>) {
        let Some(cell) = self.cells.get_mut(id) else {
            return;
        };
        if cell.final_code >= 200 || cell.branches.iter().any(|u| u.outcome.is_none()) {
            return;
        }
        let Some(best) = cell
            .branches
            .iter()
            .enumerate()
            .filter_map(|(i, u)| {
                let o = u.outcome.as_ref()?;
                Some((rank(o.code(), matches!(o, Outcome2::Local(_))), i))
            })
            .min()
            .map(|(_, i)| i)
        else {
            return;
        };
        let best_code = cell
            .branches
            .get(best)
            .and_then(|u| u.outcome.as_ref())
            .map_or(500, Outcome2::code);
        let failure = cell.state.as_mut().and_then(|s| s.on_failure.take());
        if let Some(route) = failure
            && self.failure_route(id, route, best, best_code, env, out)
        {
            return;
        }
        let Some(cell) = self.cells.get_mut(id) else {
            return;
        };
        let canceled = cell.canceled;
        let outcome = cell.branches.get_mut(best).and_then(|u| u.outcome.take());
        match outcome {
            Some(Outcome2::Reply { code, mut send }) => {
                let code = if code == 503 {
                    // RFC 3261 16.7 step 6: a 503 is not passed on.
                    if let Some(d) = send.data.get_mut(8..11) {
                        d.copy_from_slice(b"500");
                    }
                    500
                } else {
                    code
                };
                if let Some(u) = cell.branches.get_mut(best) {
                    u.outcome = Some(Outcome2::Local(code));
                }
                self.send_upstream(id, code, send, false, env, out);
            }
            Some(Outcome2::Local(code)) => {
                let code = if canceled && code == 408 { 487 } else { code };
                if let Some(u) = self
                    .cells
                    .get_mut(id)
                    .and_then(|c| c.branches.get_mut(best))
                {
                    u.outcome = Some(Outcome2::Local(code));
                }
                self.reply_local(id, code, reason_of(code), b"", env, out);
            }
            Some(Outcome2::Success(_)) | None => {}
        }
    }

    /// Runs the armed `failure_route`; true when it took the transaction
    /// over (added branches or replied).
    fn failure_route(
        &mut self,
        id: TxId,
        route: RouteId,
        best: usize,
        best_code: u16,
        env: &Env<'_>,
        out: &mut Vec<Send>,
    ) -> bool {
        let Some(cell) = self.cells.get_mut(id) else {
            return false;
        };
        let Some(state) = cell.state.as_mut() else {
            return false;
        };
        let req = std::mem::take(&mut cell.req);
        let Ok(msg) = SipMsg::parse_with(&req, Transport::Datagram, env.limits) else {
            cell.req = req;
            return false;
        };
        let local_addr = env.local.socket(cell.sock).map_or(cell.src, |s| s.addr);
        let mut ctx = MsgCtx::new(&msg, env.config, cell.src, local_addr, Proto::Udp);
        ctx.flags = state.flags;
        ctx.avps = std::mem::take(&mut state.avps);
        ctx.new_uri = state.new_uri.clone();
        ctx.edits = state.edits.clone();
        ctx.force_rport = state.force_rport;
        ctx.rr_tail = state.rr_tail.clone();
        ctx.route_kind = RouteKind::Failure;
        let best_u = cell.branches.get(best);
        ctx.tm = TmCtx {
            status: Some(best_code),
            canceled: cell.canceled,
            in_transaction: true,
            on_reply: state.on_reply,
            branch_timeout: best_u.is_some_and(|u| matches!(u.outcome, Some(Outcome2::Local(408)))),
            branch_replied: best_u.is_some_and(|u| u.last_code != 0),
            any_timeout: cell
                .branches
                .iter()
                .any(|u| matches!(u.outcome, Some(Outcome2::Local(408)))),
            any_replied: cell.branches.iter().any(|u| u.last_code != 0),
            failure_ruri: state.new_uri.clone(),
            ..TmCtx::default()
        };
        let outcome = env.script.run(route, &mut ctx);
        if let Outcome::Suspended(_) = outcome {
            Self::log(
                env,
                level::L_ERR,
                "a failure_route cannot wait (sleep); its actions so far are carried out",
            );
        }
        state.flags = ctx.flags;
        state.avps = std::mem::take(&mut ctx.avps);
        state.on_failure = ctx.tm.on_failure;
        state.on_reply = ctx.tm.on_reply;
        let actions = std::mem::take(&mut ctx.actions);
        let mut took = false;
        let ruri = super::funcs::ruri_in_failure(&ctx);
        for a in &actions {
            match a {
                Action::Relay { host, port, proto } => {
                    let fwd = Fwd {
                        host: host.as_deref(),
                        port: *port,
                        proto: *proto,
                        last: false,
                        ruri: Some(ruri),
                    };
                    if self.add_copies(id, &mut ctx, &fwd, env, out) > 0 {
                        took = true;
                    }
                }
                Action::TReply { code, reason } | Action::Reply { code, reason } => {
                    self.reply_local(id, *code, reason, &ctx.reply_headers, env, out);
                    took = true;
                }
                Action::ReplyError => {
                    let (code, reason) = sl::ERROR_REPLY;
                    self.reply_local(id, code, reason, &ctx.reply_headers, env, out);
                    took = true;
                }
                Action::NewTran => {}
                Action::Forward { .. } => {
                    let mut fin = Finish::default();
                    let mut copies = 0;
                    proxy::run_stateless(
                        &mut ctx,
                        a,
                        false,
                        self.sock_of(id),
                        env.local,
                        &mut copies,
                        out,
                        &mut fin,
                    );
                }
            }
        }
        ctx.recycle();
        drop(msg);
        if let Some(cell) = self.cells.get_mut(id) {
            cell.req = req;
        }
        took
    }

    fn sock_of(&self, id: TxId) -> u16 {
        self.cells.get(id).map_or(0, |c| c.sock)
    }

    // ----- timers -----

    /// Fires the due timers.
    pub fn fire(&mut self, now: Instant, env: &Env<'_>, out: &mut Vec<Send>) {
        if now > self.now {
            self.now = now;
        }
        let mut due = std::mem::take(&mut self.due);
        self.wheel.expire(now, |t| due.push(t));
        for t in due.drain(..) {
            let id = t.cell;
            match t.who {
                Who::Life => self.life_over(id, env, out),
                Who::Reap => {
                    self.remove(id);
                    continue;
                }
                Who::Uas => {
                    let Some(cell) = self.cells.get_mut(id) else {
                        continue;
                    };
                    cell.uas_timers.take(t.kind);
                    let acts = cell.uas.on_timer(t.kind);
                    self.run(id, Who::Uas, acts, None, out);
                }
                Who::Uac(b) => {
                    let Some(u) = self
                        .cells
                        .get_mut(id)
                        .and_then(|c| c.branches.get_mut(b as usize))
                    else {
                        continue;
                    };
                    u.timers.take(t.kind);
                    let acts = u.fsm.on_timer(t.kind);
                    let up = self.run(id, Who::Uac(b), acts, None, out);
                    if up.timeout {
                        self.branch_timed_out(id, b, env, out);
                    }
                }
                Who::Cancel(b) => {
                    let Some(c) = self
                        .cells
                        .get_mut(id)
                        .and_then(|c| c.branches.get_mut(b as usize))
                        .and_then(|u| u.cancel.as_mut())
                    else {
                        continue;
                    };
                    c.timers.take(t.kind);
                    let acts = c.fsm.on_timer(t.kind);
                    self.run(id, Who::Cancel(b), acts, None, out);
                }
            }
            self.reap_if_over(id);
        }
        self.due = due;
    }

    fn branch_timed_out(&mut self, id: TxId, b: u8, env: &Env<'_>, out: &mut Vec<Send>) {
        let Some(u) = self
            .cells
            .get_mut(id)
            .and_then(|c| c.branches.get_mut(b as usize))
        else {
            return;
        };
        if u.outcome.is_none() {
            u.outcome = Some(Outcome2::Local(408));
            self.stats.timeouts += 1;
        }
        self.maybe_complete(id, env, out);
    }

    /// The cell's lifetime is over: answered 408 if it has no final reply,
    /// its branches cancelled, and removed after a grace period.
    fn life_over(&mut self, id: TxId, env: &Env<'_>, out: &mut Vec<Send>) {
        let Some(cell) = self.cells.get_mut(id) else {
            return;
        };
        cell.life = None;
        let grace = cell.timers.t1x64();
        if !cell.uas.is_final() {
            Self::log(
                env,
                level::L_WARN,
                "transaction lifetime over without a final reply; 408",
            );
            let n = cell.branches.len();
            for b in 0..n as u8 {
                self.cancel_branch(id, b, out);
            }
            self.reply_local(id, 408, reason_of(408), b"", env, out);
        }
        let tid = self.wheel.insert(
            self.at(grace),
            TmTimer {
                cell: id,
                who: Who::Reap,
                kind: TimerKind::Fr,
            },
        );
        if let Some(c) = self.cells.get_mut(id) {
            c.life = Some(tid);
        }
    }

    // ----- the state machines' actions -----

    /// Carries out the mechanical actions of one state machine: timers,
    /// (re)transmissions, ACK and CANCEL, the end. What concerns the TU is
    /// returned.
    fn run(
        &mut self,
        id: TxId,
        who: Who,
        acts: Actions,
        reply: Option<&SipMsg<'_>>,
        out: &mut Vec<Send>,
    ) -> Up {
        let mut up = Up::default();
        for a in acts {
            match a {
                Act::StartTimer(kind, d) => {
                    let tid = self.wheel.insert(
                        self.at(d),
                        TmTimer {
                            cell: id,
                            who,
                            kind,
                        },
                    );
                    match self.cells.get_mut(id).and_then(|c| c.armed(who)) {
                        Some(armed) => armed.set(kind, tid, &mut self.wheel),
                        None => {
                            self.wheel.cancel(tid);
                        }
                    }
                }
                Act::CancelTimer(kind) => {
                    if let Some(tid) = self
                        .cells
                        .get_mut(id)
                        .and_then(|c| c.armed(who))
                        .and_then(|a| a.take(kind))
                    {
                        self.wheel.cancel(tid);
                    }
                }
                Act::SendRequest => {
                    let Some(cell) = self.cells.get(id) else {
                        continue;
                    };
                    match who {
                        Who::Uac(b) => {
                            if let Some(u) = cell.branches.get(b as usize) {
                                out.push(Send {
                                    sock: u.sock,
                                    dst: u.dst,
                                    data: u.req.to_vec(),
                                });
                            }
                        }
                        Who::Cancel(b) => {
                            if let Some(u) = cell.branches.get(b as usize)
                                && let Some(c) = &u.cancel
                            {
                                out.push(Send {
                                    sock: u.sock,
                                    dst: u.dst,
                                    data: c.data.to_vec(),
                                });
                            }
                        }
                        _ => {}
                    }
                }
                Act::SendResponse => {
                    if let Some(r) = self.cells.get(id).and_then(|c| c.reply.as_ref()) {
                        out.push(r.clone());
                    }
                }
                Act::SendAck => {
                    if let (Who::Uac(b), Some(reply)) = (who, reply)
                        && let Some(u) = self.cells.get(id).and_then(|c| c.branches.get(b as usize))
                        && let Ok(sent) = SipMsg::parse(&u.req)
                        && let Ok(data) = super::build::ack(&sent, reply)
                    {
                        out.push(Send {
                            sock: u.sock,
                            dst: u.dst,
                            data,
                        });
                    }
                }
                Act::SendCancel => {
                    if let Who::Uac(b) = who {
                        self.start_cancel(id, b, out);
                    }
                }
                Act::PassResponseUp(code) => up.code = Some(code),
                Act::PassRequestUp => {}
                Act::Timeout | Act::TransportError => up.timeout = true,
                Act::Terminated => {
                    let Some(cell) = self.cells.get_mut(id) else {
                        continue;
                    };
                    match who {
                        Who::Uas => cell.uas_done = true,
                        Who::Uac(b) => {
                            if let Some(u) = cell.branches.get_mut(b as usize) {
                                u.done = true;
                            }
                        }
                        Who::Cancel(b) => {
                            if let Some(c) = cell
                                .branches
                                .get_mut(b as usize)
                                .and_then(|u| u.cancel.as_mut())
                            {
                                c.done = true;
                            }
                        }
                        Who::Life | Who::Reap => {}
                    }
                }
            }
        }
        up
    }

    fn reap_if_over(&mut self, id: TxId) {
        if self.cells.get(id).is_some_and(Cell::is_over) {
            self.remove(id);
        }
    }

    /// Removes a cell with its timers and branch keys.
    fn remove(&mut self, id: TxId) {
        let Some(mut cell) = self.cells.remove(id) else {
            return;
        };
        self.stats.freed += 1;
        if cell.final_code != 0 {
            self.stats.waiting = self.stats.waiting.saturating_sub(1);
        }
        cell.uas_timers.cancel_all(&mut self.wheel);
        if let Some(t) = cell.life.take() {
            self.wheel.cancel(t);
        }
        for u in &mut cell.branches {
            u.timers.cancel_all(&mut self.wheel);
            self.clients.remove(u.key);
            if let Some(c) = u.cancel.as_mut() {
                c.timers.cancel_all(&mut self.wheel);
                self.clients.remove(c.key);
            }
        }
    }
}
