//! The four transaction state machines of RFC 3261 section 17, with RFC
//! 6026's `Accepted` state for INVITE.
//!
//! Sans-IO and not yet wired into the shards: each machine is a plain value
//! that takes events (a response arrived, the TU sends a response, a timer
//! fired, the transport failed) and returns [`Actions`], which the owner of
//! the transaction carries out in order: send or re-send the stored message,
//! hand a message to the TU, arm or cancel a timer, report a timeout, drop
//! the transaction. The machines hold no message bytes and no clock: the
//! owner keeps the request and the last response, and maps
//! [`Action::StartTimer`] to its timer wheel, calling `on_timer` when the
//! timer fires.
//!
//! Timers: a machine remembers which of its timers are armed; it emits
//! [`Action::CancelTimer`] only for an armed one, always cancels an armed
//! timer before starting it again, and ignores `on_timer` for a timer it
//! does not hold (a late or stale fire). Every armed timer is cancelled
//! before [`Action::Terminated`].
//!
//! Transports: `reliable = false` (UDP) runs the retransmission timers A, E
//! and G; `reliable = true` (TCP, TLS, later) leaves them off and turns D, I,
//! J and K into zero, which here means going to `Terminated` at once.
//!
//! Client machines also run Kamailio's final response timer ([`TimerKind::Fr`]:
//! `fr_timer`, then `fr_inv_timer` after a 1xx to an INVITE) next to the
//! RFC's B and F; whichever fires first ends the wait.

use std::time::Duration;

use super::timers::Timers;

/// The timers a transaction may arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimerKind {
    /// INVITE request retransmission (client, Calling).
    A,
    /// INVITE client timeout (Calling).
    B,
    /// INVITE client Completed: absorb response retransmissions.
    D,
    /// Non-INVITE request retransmission (client).
    E,
    /// Non-INVITE client timeout.
    F,
    /// INVITE non-2xx final response retransmission (server, Completed).
    G,
    /// INVITE server: wait for the ACK (Completed).
    H,
    /// INVITE server Confirmed: absorb ACK retransmissions.
    I,
    /// Non-INVITE server Completed: absorb request retransmissions.
    J,
    /// Non-INVITE client Completed: absorb response retransmissions.
    K,
    /// INVITE server Accepted (RFC 6026).
    L,
    /// INVITE client Accepted (RFC 6026).
    M,
    /// Kamailio's final response timer (`fr_timer`, `fr_inv_timer`).
    Fr,
    /// Waiting for the final response after our CANCEL (RFC 3261 9.1).
    CancelWait,
}

impl TimerKind {
    const ALL: [TimerKind; 14] = [
        TimerKind::A,
        TimerKind::B,
        TimerKind::D,
        TimerKind::E,
        TimerKind::F,
        TimerKind::G,
        TimerKind::H,
        TimerKind::I,
        TimerKind::J,
        TimerKind::K,
        TimerKind::L,
        TimerKind::M,
        TimerKind::Fr,
        TimerKind::CancelWait,
    ];

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// What the owner of a transaction must do, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Client: send the request (first transmission or retransmission).
    SendRequest,
    /// Server: send the last response given by the TU (first time, or a
    /// retransmission).
    SendResponse,
    /// Client: give this response to the TU.
    PassResponseUp(u16),
    /// Server: give the request to the TU (an ACK in `Accepted`).
    PassRequestUp,
    /// Arm a timer (it is not armed: an armed one is cancelled first).
    StartTimer(TimerKind, Duration),
    /// Disarm a timer that is armed.
    CancelTimer(TimerKind),
    /// Client INVITE: build and send the ACK for the non-2xx final response
    /// (RFC 3261 17.1.1.3); again for each retransmission of it.
    SendAck,
    /// Client INVITE: build and send a CANCEL for the request (its own
    /// non-INVITE client transaction, RFC 3261 9.1).
    SendCancel,
    /// The transaction timed out: the TU acts as on a 408 (client), or
    /// learns that the ACK never came (server, timer H).
    Timeout,
    /// The transport failed: the TU acts as on a 503 (RFC 3261 8.1.3.1).
    TransportError,
    /// The transaction is over: remove it from the table.
    Terminated,
}

/// Most actions one event can produce.
pub const MAX_ACTIONS: usize = 8;

/// The actions of one event: a fixed array, no allocation. Dereferences to
/// a slice.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Actions {
    len: u8,
    buf: [Action; MAX_ACTIONS],
}

impl Actions {
    /// No actions.
    pub const fn new() -> Actions {
        Actions {
            len: 0,
            buf: [Action::Terminated; MAX_ACTIONS],
        }
    }

    fn push(&mut self, a: Action) {
        if let Some(slot) = self.buf.get_mut(self.len as usize) {
            *slot = a;
            self.len += 1;
        } else {
            // Cannot happen: every path is bounded by the tests below.
            debug_assert!(false, "Actions overflow");
        }
    }

    /// The actions as a slice.
    pub fn as_slice(&self) -> &[Action] {
        self.buf.get(..self.len as usize).unwrap_or(&[])
    }
}

impl Default for Actions {
    fn default() -> Actions {
        Actions::new()
    }
}

impl std::ops::Deref for Actions {
    type Target = [Action];
    fn deref(&self) -> &[Action] {
        self.as_slice()
    }
}

impl std::fmt::Debug for Actions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl<'a> IntoIterator for &'a Actions {
    type Item = &'a Action;
    type IntoIter = std::slice::Iter<'a, Action>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

impl IntoIterator for Actions {
    type Item = Action;
    type IntoIter = std::iter::Take<std::array::IntoIter<Action, MAX_ACTIONS>>;
    fn into_iter(self) -> Self::IntoIter {
        self.buf.into_iter().take(self.len as usize)
    }
}

/// What all four machines share: timer values, transport, armed timers and
/// the current retransmission interval.
#[derive(Clone, Copy, Debug)]
struct Core {
    timers: Timers,
    reliable: bool,
    armed: u16,
    interval: Duration,
}

impl Core {
    fn new(timers: Timers, reliable: bool) -> Core {
        Core {
            timers,
            reliable,
            armed: 0,
            interval: timers.t1,
        }
    }

    fn is_armed(&self, k: TimerKind) -> bool {
        self.armed & k.bit() != 0
    }

    /// Arms `k` (cancelling it first if armed).
    fn start(&mut self, acts: &mut Actions, k: TimerKind, d: Duration) {
        self.cancel(acts, k);
        self.armed |= k.bit();
        acts.push(Action::StartTimer(k, d));
    }

    /// Disarms `k` if armed.
    fn cancel(&mut self, acts: &mut Actions, k: TimerKind) {
        if self.is_armed(k) {
            self.armed &= !k.bit();
            acts.push(Action::CancelTimer(k));
        }
    }

    fn cancel_all(&mut self, acts: &mut Actions) {
        for k in TimerKind::ALL {
            self.cancel(acts, k);
        }
    }

    /// A timer fired: true if it was armed (it is then disarmed).
    fn fired(&mut self, k: TimerKind) -> bool {
        let was = self.is_armed(k);
        self.armed &= !k.bit();
        was
    }

    /// Cancels every timer and reports the end.
    fn terminate(&mut self, acts: &mut Actions) {
        self.cancel_all(acts);
        acts.push(Action::Terminated);
    }

    /// The transport failed: every timer off, the TU told, the end.
    fn transport_failed(&mut self, acts: &mut Actions) {
        self.cancel_all(acts);
        acts.push(Action::TransportError);
        acts.push(Action::Terminated);
    }
}

fn is_provisional(code: u16) -> bool {
    (100..200).contains(&code)
}

fn is_success(code: u16) -> bool {
    (200..300).contains(&code)
}

fn is_failure(code: u16) -> bool {
    (300..700).contains(&code)
}

// ---------------------------------------------------------------------------
// INVITE server (RFC 3261 17.2.1, Figure 7 as updated by RFC 6026)
// ---------------------------------------------------------------------------

/// States of the INVITE server transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerInviteState {
    Proceeding,
    Completed,
    Confirmed,
    Accepted,
    Terminated,
}

/// The INVITE server transaction. Created when an INVITE that matches no
/// transaction arrives; the INVITE itself goes to the TU. RFC 3261 wants a
/// 100 Trying within 200 ms unless the TU sends a provisional response:
/// the TU (like Kamailio's `auto_inv_100`) sends it through
/// [`ServerInvite::send_response`].
#[derive(Clone, Copy, Debug)]
pub struct ServerInvite {
    core: Core,
    state: ServerInviteState,
    last_response: Option<u16>,
}

impl ServerInvite {
    pub fn new(timers: Timers, reliable: bool) -> ServerInvite {
        ServerInvite {
            core: Core::new(timers, reliable),
            state: ServerInviteState::Proceeding,
            last_response: None,
        }
    }

    pub fn state(&self) -> ServerInviteState {
        self.state
    }

    /// The status code of the last response the TU sent, if any.
    pub fn last_response(&self) -> Option<u16> {
        self.last_response
    }

    /// The TU sends a response. Allowed: any response in `Proceeding`, a 2xx
    /// in `Accepted` (a proxy forwards every 2xx). The result holds
    /// [`Action::SendResponse`] when the response is to be sent (the owner
    /// stores it as the last response); empty when it is refused.
    pub fn send_response(&mut self, code: u16) -> Actions {
        let mut acts = Actions::new();
        match self.state {
            ServerInviteState::Proceeding => {
                if is_provisional(code) {
                    self.last_response = Some(code);
                    acts.push(Action::SendResponse);
                } else if is_success(code) {
                    self.last_response = Some(code);
                    acts.push(Action::SendResponse);
                    self.state = ServerInviteState::Accepted;
                    let l = self.core.timers.l();
                    self.core.start(&mut acts, TimerKind::L, l);
                } else if is_failure(code) {
                    self.last_response = Some(code);
                    acts.push(Action::SendResponse);
                    self.state = ServerInviteState::Completed;
                    if !self.core.reliable {
                        let g = self.core.timers.g();
                        self.core.interval = g;
                        self.core.start(&mut acts, TimerKind::G, g);
                    }
                    let h = self.core.timers.h();
                    self.core.start(&mut acts, TimerKind::H, h);
                }
            }
            ServerInviteState::Accepted if is_success(code) => {
                self.last_response = Some(code);
                acts.push(Action::SendResponse);
            }
            _ => {}
        }
        acts
    }

    /// A retransmission of the INVITE arrived.
    pub fn on_request_retransmission(&mut self) -> Actions {
        let mut acts = Actions::new();
        match self.state {
            ServerInviteState::Proceeding if self.last_response.is_some() => {
                acts.push(Action::SendResponse);
            }
            ServerInviteState::Completed => acts.push(Action::SendResponse),
            // Accepted (RFC 6026 8.7: the TU retransmits the 2xx),
            // Confirmed, Terminated: absorbed.
            _ => {}
        }
        acts
    }

    /// An ACK matching this transaction arrived.
    pub fn on_ack(&mut self) -> Actions {
        let mut acts = Actions::new();
        match self.state {
            ServerInviteState::Completed => {
                self.state = ServerInviteState::Confirmed;
                self.core.cancel(&mut acts, TimerKind::G);
                self.core.cancel(&mut acts, TimerKind::H);
                let i = self.core.timers.i(self.core.reliable);
                if i.is_zero() {
                    self.state = ServerInviteState::Terminated;
                    self.core.terminate(&mut acts);
                } else {
                    self.core.start(&mut acts, TimerKind::I, i);
                }
            }
            // RFC 6026: an ACK in Accepted goes to the TU.
            ServerInviteState::Accepted => acts.push(Action::PassRequestUp),
            _ => {}
        }
        acts
    }

    /// A timer of this transaction fired.
    pub fn on_timer(&mut self, kind: TimerKind) -> Actions {
        let mut acts = Actions::new();
        if !self.core.fired(kind) {
            return acts;
        }
        match (self.state, kind) {
            (ServerInviteState::Completed, TimerKind::G) => {
                acts.push(Action::SendResponse);
                let next = self.core.timers.next_g(self.core.interval);
                self.core.interval = next;
                self.core.start(&mut acts, TimerKind::G, next);
            }
            (ServerInviteState::Completed, TimerKind::H) => {
                self.state = ServerInviteState::Terminated;
                self.core.cancel_all(&mut acts);
                acts.push(Action::Timeout);
                acts.push(Action::Terminated);
            }
            (ServerInviteState::Confirmed, TimerKind::I)
            | (ServerInviteState::Accepted, TimerKind::L) => {
                self.state = ServerInviteState::Terminated;
                self.core.terminate(&mut acts);
            }
            _ => {}
        }
        acts
    }

    /// Sending a response failed.
    pub fn on_transport_error(&mut self) -> Actions {
        let mut acts = Actions::new();
        match self.state {
            ServerInviteState::Proceeding | ServerInviteState::Completed => {
                self.state = ServerInviteState::Terminated;
                self.core.transport_failed(&mut acts);
            }
            // RFC 6026: inform the TU, stay until timer L.
            ServerInviteState::Accepted => acts.push(Action::TransportError),
            _ => {}
        }
        acts
    }
}

// ---------------------------------------------------------------------------
// Non-INVITE server (RFC 3261 17.2.2, Figure 8)
// ---------------------------------------------------------------------------

/// States of the non-INVITE server transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerNonInviteState {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// The non-INVITE server transaction (also the one of a CANCEL). Created
/// when a request that matches no transaction arrives; the request goes to
/// the TU.
#[derive(Clone, Copy, Debug)]
pub struct ServerNonInvite {
    core: Core,
    state: ServerNonInviteState,
    last_response: Option<u16>,
}

impl ServerNonInvite {
    pub fn new(timers: Timers, reliable: bool) -> ServerNonInvite {
        ServerNonInvite {
            core: Core::new(timers, reliable),
            state: ServerNonInviteState::Trying,
            last_response: None,
        }
    }

    pub fn state(&self) -> ServerNonInviteState {
        self.state
    }

    /// The status code of the last response the TU sent, if any.
    pub fn last_response(&self) -> Option<u16> {
        self.last_response
    }

    /// The TU sends a response; refused (empty result) once a final
    /// response was sent.
    pub fn send_response(&mut self, code: u16) -> Actions {
        let mut acts = Actions::new();
        if !matches!(
            self.state,
            ServerNonInviteState::Trying | ServerNonInviteState::Proceeding
        ) {
            return acts;
        }
        if is_provisional(code) {
            self.last_response = Some(code);
            acts.push(Action::SendResponse);
            self.state = ServerNonInviteState::Proceeding;
        } else if is_success(code) || is_failure(code) {
            self.last_response = Some(code);
            acts.push(Action::SendResponse);
            self.state = ServerNonInviteState::Completed;
            let j = self.core.timers.j(self.core.reliable);
            if j.is_zero() {
                self.state = ServerNonInviteState::Terminated;
                self.core.terminate(&mut acts);
            } else {
                self.core.start(&mut acts, TimerKind::J, j);
            }
        }
        acts
    }

    /// A retransmission of the request arrived.
    pub fn on_request_retransmission(&mut self) -> Actions {
        let mut acts = Actions::new();
        if matches!(
            self.state,
            ServerNonInviteState::Proceeding | ServerNonInviteState::Completed
        ) {
            acts.push(Action::SendResponse);
        }
        acts
    }

    /// A timer of this transaction fired.
    pub fn on_timer(&mut self, kind: TimerKind) -> Actions {
        let mut acts = Actions::new();
        if self.core.fired(kind)
            && self.state == ServerNonInviteState::Completed
            && kind == TimerKind::J
        {
            self.state = ServerNonInviteState::Terminated;
            self.core.terminate(&mut acts);
        }
        acts
    }

    /// Sending a response failed.
    pub fn on_transport_error(&mut self) -> Actions {
        let mut acts = Actions::new();
        if matches!(
            self.state,
            ServerNonInviteState::Proceeding | ServerNonInviteState::Completed
        ) {
            self.state = ServerNonInviteState::Terminated;
            self.core.transport_failed(&mut acts);
        }
        acts
    }
}

// ---------------------------------------------------------------------------
// INVITE client (RFC 3261 17.1.1, Figure 5 as updated by RFC 6026)
// ---------------------------------------------------------------------------

/// States of the INVITE client transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientInviteState {
    Calling,
    Proceeding,
    Completed,
    Accepted,
    Terminated,
}

/// The INVITE client transaction (one branch of a proxied INVITE).
///
/// Besides the RFC: [`TimerKind::Fr`] runs `fr_timer` in `Calling` and
/// `fr_inv_timer` in `Proceeding` (restarted on each 1xx). When it fires
/// in `Calling` the transaction times out like on timer B; in `Proceeding`
/// the TU gets [`Action::Timeout`], a CANCEL is sent (RFC 3261 16.8) and
/// the transaction waits [`TimerKind::CancelWait`] (64*T1) for the final
/// response, which is then ACKed but not passed up unless it is a 2xx.
#[derive(Clone, Copy, Debug)]
pub struct ClientInvite {
    core: Core,
    state: ClientInviteState,
    started: bool,
    /// The TU asked for a CANCEL before any 1xx (RFC 3261 9.1).
    cancel_pending: bool,
    cancel_sent: bool,
    timeout_reported: bool,
}

impl ClientInvite {
    pub fn new(timers: Timers, reliable: bool) -> ClientInvite {
        ClientInvite {
            core: Core::new(timers, reliable),
            state: ClientInviteState::Calling,
            started: false,
            cancel_pending: false,
            cancel_sent: false,
            timeout_reported: false,
        }
    }

    pub fn state(&self) -> ClientInviteState {
        self.state
    }

    /// Whether a CANCEL was sent for this branch.
    pub fn cancel_sent(&self) -> bool {
        self.cancel_sent
    }

    /// Whether the TU asked for a CANCEL (sent, or waiting for a 1xx).
    pub fn cancel_wanted(&self) -> bool {
        self.cancel_pending || self.cancel_sent
    }

    /// Sends the INVITE and arms A (unreliable), B and `fr_timer`. Only the
    /// first call does anything.
    pub fn start(&mut self) -> Actions {
        let mut acts = Actions::new();
        if self.started || self.state != ClientInviteState::Calling {
            return acts;
        }
        self.started = true;
        acts.push(Action::SendRequest);
        let t = self.core.timers;
        if !self.core.reliable {
            self.core.interval = t.a();
            self.core.start(&mut acts, TimerKind::A, t.a());
        }
        self.core.start(&mut acts, TimerKind::B, t.b());
        if let Some(fr) = t.fr_timer {
            self.core.start(&mut acts, TimerKind::Fr, fr);
        }
        acts
    }

    /// A response matching this transaction arrived (`code` 100..=699;
    /// anything else is ignored).
    pub fn on_response(&mut self, code: u16) -> Actions {
        let mut acts = Actions::new();
        match self.state {
            ClientInviteState::Calling | ClientInviteState::Proceeding => {
                if is_provisional(code) {
                    self.provisional(&mut acts, code);
                } else if is_success(code) {
                    self.state = ClientInviteState::Accepted;
                    self.core.cancel_all(&mut acts);
                    acts.push(Action::PassResponseUp(code));
                    let m = self.core.timers.m();
                    self.core.start(&mut acts, TimerKind::M, m);
                } else if is_failure(code) {
                    self.state = ClientInviteState::Completed;
                    self.core.cancel_all(&mut acts);
                    acts.push(Action::SendAck);
                    if !self.timeout_reported {
                        acts.push(Action::PassResponseUp(code));
                    }
                    let d = self.core.timers.d(self.core.reliable);
                    if d.is_zero() {
                        self.state = ClientInviteState::Terminated;
                        self.core.terminate(&mut acts);
                    } else {
                        self.core.start(&mut acts, TimerKind::D, d);
                    }
                }
            }
            // A retransmitted final response: ACK again, do not pass up.
            ClientInviteState::Completed if is_failure(code) => acts.push(Action::SendAck),
            // RFC 6026: every 2xx goes to the TU (forked 2xx included).
            ClientInviteState::Accepted if is_success(code) => {
                acts.push(Action::PassResponseUp(code))
            }
            _ => {}
        }
        acts
    }

    fn provisional(&mut self, acts: &mut Actions, code: u16) {
        let first = self.state == ClientInviteState::Calling;
        if first {
            self.state = ClientInviteState::Proceeding;
            self.core.cancel(acts, TimerKind::A);
            self.core.cancel(acts, TimerKind::B);
        }
        if !self.timeout_reported && (first || self.core.timers.restart_fr) {
            match self.core.timers.fr_inv_timer {
                Some(fr) => self.core.start(acts, TimerKind::Fr, fr),
                None => self.core.cancel(acts, TimerKind::Fr),
            }
        }
        acts.push(Action::PassResponseUp(code));
        if self.cancel_pending {
            self.send_cancel(acts);
        }
    }

    fn send_cancel(&mut self, acts: &mut Actions) {
        if self.cancel_sent {
            return;
        }
        self.cancel_pending = false;
        self.cancel_sent = true;
        acts.push(Action::SendCancel);
        let w = self.core.timers.cancel_wait();
        self.core.start(acts, TimerKind::CancelWait, w);
    }

    /// The TU wants this branch cancelled. RFC 3261 9.1: a CANCEL goes out
    /// only once a provisional response arrived; before that the wish is
    /// remembered (the INVITE keeps being retransmitted, as Kamailio's
    /// `cancel_b_method=1`) and the CANCEL leaves with the first 1xx.
    /// Nothing happens once a final response arrived.
    pub fn cancel_requested(&mut self) -> Actions {
        let mut acts = Actions::new();
        match self.state {
            ClientInviteState::Calling => self.cancel_pending = true,
            ClientInviteState::Proceeding => self.send_cancel(&mut acts),
            _ => {}
        }
        acts
    }

    /// A timer of this transaction fired.
    pub fn on_timer(&mut self, kind: TimerKind) -> Actions {
        let mut acts = Actions::new();
        if !self.core.fired(kind) {
            return acts;
        }
        match (self.state, kind) {
            (ClientInviteState::Calling, TimerKind::A) => {
                acts.push(Action::SendRequest);
                let next = self.core.timers.next_a(self.core.interval);
                self.core.interval = next;
                self.core.start(&mut acts, TimerKind::A, next);
            }
            (ClientInviteState::Calling, TimerKind::B | TimerKind::Fr) => {
                self.state = ClientInviteState::Terminated;
                self.core.cancel_all(&mut acts);
                acts.push(Action::Timeout);
                acts.push(Action::Terminated);
            }
            (ClientInviteState::Proceeding, TimerKind::Fr) => {
                self.timeout_reported = true;
                acts.push(Action::Timeout);
                self.send_cancel(&mut acts);
            }
            (ClientInviteState::Proceeding, TimerKind::CancelWait) => {
                self.state = ClientInviteState::Terminated;
                self.core.cancel_all(&mut acts);
                if !self.timeout_reported {
                    self.timeout_reported = true;
                    acts.push(Action::Timeout);
                }
                acts.push(Action::Terminated);
            }
            (ClientInviteState::Completed, TimerKind::D)
            | (ClientInviteState::Accepted, TimerKind::M) => {
                self.state = ClientInviteState::Terminated;
                self.core.terminate(&mut acts);
            }
            _ => {}
        }
        acts
    }

    /// Sending the INVITE (Calling) or the ACK (Completed) failed. Later
    /// errors are ignored (a CANCEL has its own transaction).
    pub fn on_transport_error(&mut self) -> Actions {
        let mut acts = Actions::new();
        if matches!(
            self.state,
            ClientInviteState::Calling | ClientInviteState::Completed
        ) {
            self.state = ClientInviteState::Terminated;
            self.core.transport_failed(&mut acts);
        }
        acts
    }
}

// ---------------------------------------------------------------------------
// Non-INVITE client (RFC 3261 17.1.2, Figure 6)
// ---------------------------------------------------------------------------

/// States of the non-INVITE client transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientNonInviteState {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// The non-INVITE client transaction (also the one of a CANCEL we send;
/// RFC 3261 9.1 says not to CANCEL a non-INVITE, so it has no
/// `cancel_requested`).
#[derive(Clone, Copy, Debug)]
pub struct ClientNonInvite {
    core: Core,
    state: ClientNonInviteState,
    started: bool,
}

impl ClientNonInvite {
    pub fn new(timers: Timers, reliable: bool) -> ClientNonInvite {
        ClientNonInvite {
            core: Core::new(timers, reliable),
            state: ClientNonInviteState::Trying,
            started: false,
        }
    }

    pub fn state(&self) -> ClientNonInviteState {
        self.state
    }

    /// Sends the request and arms E (unreliable), F and `fr_timer`. Only
    /// the first call does anything.
    pub fn start(&mut self) -> Actions {
        let mut acts = Actions::new();
        if self.started || self.state != ClientNonInviteState::Trying {
            return acts;
        }
        self.started = true;
        acts.push(Action::SendRequest);
        let t = self.core.timers;
        if !self.core.reliable {
            self.core.interval = t.e();
            self.core.start(&mut acts, TimerKind::E, t.e());
        }
        self.core.start(&mut acts, TimerKind::F, t.f());
        if let Some(fr) = t.fr_timer {
            self.core.start(&mut acts, TimerKind::Fr, fr);
        }
        acts
    }

    /// A response matching this transaction arrived.
    pub fn on_response(&mut self, code: u16) -> Actions {
        let mut acts = Actions::new();
        if !matches!(
            self.state,
            ClientNonInviteState::Trying | ClientNonInviteState::Proceeding
        ) {
            // Completed: retransmitted finals are absorbed.
            return acts;
        }
        if is_provisional(code) {
            self.state = ClientNonInviteState::Proceeding;
            acts.push(Action::PassResponseUp(code));
        } else if is_success(code) || is_failure(code) {
            self.state = ClientNonInviteState::Completed;
            self.core.cancel_all(&mut acts);
            acts.push(Action::PassResponseUp(code));
            let k = self.core.timers.k(self.core.reliable);
            if k.is_zero() {
                self.state = ClientNonInviteState::Terminated;
                self.core.terminate(&mut acts);
            } else {
                self.core.start(&mut acts, TimerKind::K, k);
            }
        }
        acts
    }

    /// A timer of this transaction fired.
    pub fn on_timer(&mut self, kind: TimerKind) -> Actions {
        let mut acts = Actions::new();
        if !self.core.fired(kind) {
            return acts;
        }
        match (self.state, kind) {
            (ClientNonInviteState::Trying | ClientNonInviteState::Proceeding, TimerKind::E) => {
                acts.push(Action::SendRequest);
                let next = if self.state == ClientNonInviteState::Proceeding {
                    self.core.timers.t2
                } else {
                    self.core.timers.next_e(self.core.interval)
                };
                self.core.interval = next;
                self.core.start(&mut acts, TimerKind::E, next);
            }
            (
                ClientNonInviteState::Trying | ClientNonInviteState::Proceeding,
                TimerKind::F | TimerKind::Fr,
            ) => {
                self.state = ClientNonInviteState::Terminated;
                self.core.cancel_all(&mut acts);
                acts.push(Action::Timeout);
                acts.push(Action::Terminated);
            }
            (ClientNonInviteState::Completed, TimerKind::K) => {
                self.state = ClientNonInviteState::Terminated;
                self.core.terminate(&mut acts);
            }
            _ => {}
        }
        acts
    }

    /// Sending the request failed.
    pub fn on_transport_error(&mut self) -> Actions {
        let mut acts = Actions::new();
        if matches!(
            self.state,
            ClientNonInviteState::Trying | ClientNonInviteState::Proceeding
        ) {
            self.state = ClientNonInviteState::Terminated;
            self.core.transport_failed(&mut acts);
        }
        acts
    }
}

#[cfg(test)]
mod tests {
    use super::Action::*;
    use super::TimerKind as K;
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// A fake owner: keeps the armed timers with their deadlines, checks the
    /// timer discipline, and returns the other actions.
    #[derive(Default)]
    struct Sim {
        now: Duration,
        armed: Vec<(K, Duration)>,
    }

    impl Sim {
        fn apply(&mut self, acts: Actions) -> Vec<Action> {
            let mut out = Vec::new();
            for a in acts {
                match a {
                    StartTimer(k, d) => {
                        assert!(
                            !self.armed.iter().any(|(x, _)| *x == k),
                            "{k:?} started while armed"
                        );
                        self.armed.push((k, self.now + d));
                    }
                    CancelTimer(k) => {
                        let i = self.armed.iter().position(|(x, _)| *x == k);
                        let i = i.unwrap_or_else(|| panic!("{k:?} cancelled but not armed"));
                        self.armed.remove(i);
                    }
                    Terminated => {
                        assert!(self.armed.is_empty(), "terminated with {:?}", self.armed);
                        out.push(a);
                    }
                    other => out.push(other),
                }
            }
            out
        }

        /// Moves the clock to `t` (no timer may be due before it).
        fn at(&mut self, t: Duration) {
            assert!(
                self.armed.iter().all(|(_, d)| *d >= t),
                "a timer is due before {t:?}: {:?}",
                self.armed
            );
            self.now = t;
        }

        /// Pops the earliest timer and moves the clock to it.
        fn next(&mut self) -> Option<K> {
            let i = (0..self.armed.len()).min_by_key(|&i| self.armed[i].1)?;
            let (k, d) = self.armed.remove(i);
            self.now = d;
            Some(k)
        }

        fn has(&self, k: K) -> Option<Duration> {
            self.armed
                .iter()
                .find(|(x, _)| *x == k)
                .map(|(_, d)| *d - self.now)
        }
    }

    /// Runs the timers of a machine until it terminates or `until`; returns
    /// (time, action) for every non-timer action.
    fn run(
        sim: &mut Sim,
        until: Duration,
        mut fire: impl FnMut(K) -> Actions,
    ) -> Vec<(Duration, Action)> {
        let mut log = Vec::new();
        while sim.armed.iter().any(|(_, d)| *d <= until) {
            let Some(k) = sim.next() else { break };
            let now = sim.now;
            for a in sim.apply(fire(k)) {
                log.push((now, a));
            }
            if log.last().is_some_and(|(_, a)| *a == Terminated) {
                break;
            }
        }
        log
    }

    fn times_of(log: &[(Duration, Action)], what: Action) -> Vec<Duration> {
        log.iter()
            .filter(|(_, a)| *a == what)
            .map(|(t, _)| *t)
            .collect()
    }

    // ----- INVITE client -----

    #[test]
    fn ci_a_doubles_then_b_timeout() {
        let mut c = ClientInvite::new(Timers::RFC3261, false);
        let mut sim = Sim::default();
        let acts = c.start();
        assert_eq!(
            acts.as_slice(),
            [
                SendRequest,
                StartTimer(K::A, ms(500)),
                StartTimer(K::B, secs(32))
            ]
        );
        assert_eq!(sim.apply(acts), [SendRequest]);
        let log = run(&mut sim, secs(100), |k| c.on_timer(k));
        assert_eq!(
            times_of(&log, SendRequest),
            [ms(500), ms(1500), ms(3500), ms(7500), ms(15500), ms(31500)]
        );
        assert_eq!(
            log[log.len() - 2..],
            [(secs(32), Timeout), (secs(32), Terminated)]
        );
        assert_eq!(c.state(), ClientInviteState::Terminated);
        // Anything after the end is ignored.
        assert!(c.on_response(200).is_empty());
        assert!(c.on_timer(K::A).is_empty());
    }

    #[test]
    fn ci_fr_timer_fires_before_b() {
        let mut c = ClientInvite::new(Timers::default(), false);
        let mut sim = Sim::default();
        sim.apply(c.start());
        assert_eq!(sim.has(K::Fr), Some(secs(30)));
        let log = run(&mut sim, secs(100), |k| c.on_timer(k));
        assert_eq!(
            log[log.len() - 2..],
            [(secs(30), Timeout), (secs(30), Terminated)]
        );
    }

    #[test]
    fn ci_provisional_stops_a() {
        let mut c = ClientInvite::new(Timers::RFC3261, false);
        let mut sim = Sim::default();
        sim.apply(c.start());
        assert_eq!(sim.next(), Some(K::A));
        assert_eq!(sim.apply(c.on_timer(K::A)), [SendRequest]);
        sim.at(ms(700));
        let acts = c.on_response(100);
        assert_eq!(
            acts.as_slice(),
            [CancelTimer(K::A), CancelTimer(K::B), PassResponseUp(100)]
        );
        sim.apply(acts);
        assert_eq!(c.state(), ClientInviteState::Proceeding);
        assert!(sim.armed.is_empty());
        assert_eq!(sim.apply(c.on_response(180)), [PassResponseUp(180)]);
        // A stale fire of A (raced with the cancel) does nothing.
        assert!(c.on_timer(K::A).is_empty());
        assert!(c.on_timer(K::B).is_empty());
        // Transport errors after Calling are not ours.
        assert!(c.on_transport_error().is_empty());
    }

    #[test]
    fn ci_failure_acked_completed_d() {
        let mut c = ClientInvite::new(Timers::RFC3261, false);
        let mut sim = Sim::default();
        sim.apply(c.start());
        sim.apply(c.on_response(180));
        let acts = c.on_response(486);
        assert_eq!(
            acts.as_slice(),
            [SendAck, PassResponseUp(486), StartTimer(K::D, secs(32))]
        );
        sim.apply(acts);
        assert_eq!(c.state(), ClientInviteState::Completed);
        // Retransmitted final: ACK again, not passed up.
        assert_eq!(c.on_response(486).as_slice(), [SendAck]);
        assert!(c.on_response(180).is_empty());
        assert!(c.on_response(200).is_empty());
        let log = run(&mut sim, secs(100), |k| c.on_timer(k));
        assert_eq!(log, [(secs(32), Terminated)]);
    }

    #[test]
    fn ci_failure_in_calling_cancels_a_and_b() {
        let mut c = ClientInvite::new(Timers::default(), false);
        let mut sim = Sim::default();
        sim.apply(c.start());
        let acts = c.on_response(503);
        assert_eq!(
            acts.as_slice(),
            [
                CancelTimer(K::A),
                CancelTimer(K::B),
                CancelTimer(K::Fr),
                SendAck,
                PassResponseUp(503),
                StartTimer(K::D, secs(32))
            ]
        );
        sim.apply(acts);
        // Transport error while sending the ACK.
        let acts = c.on_transport_error();
        assert_eq!(
            acts.as_slice(),
            [CancelTimer(K::D), TransportError, Terminated]
        );
        sim.apply(acts);
    }

    #[test]
    fn ci_success_accepted_m() {
        let mut c = ClientInvite::new(Timers::default(), false);
        let mut sim = Sim::default();
        sim.apply(c.start());
        sim.apply(c.on_response(180));
        assert_eq!(sim.has(K::Fr), Some(secs(120)));
        let acts = c.on_response(200);
        assert_eq!(
            acts.as_slice(),
            [
                CancelTimer(K::Fr),
                PassResponseUp(200),
                StartTimer(K::M, secs(32))
            ]
        );
        sim.apply(acts);
        assert_eq!(c.state(), ClientInviteState::Accepted);
        // Retransmitted or forked 2xx: passed up; others absorbed.
        assert_eq!(c.on_response(200).as_slice(), [PassResponseUp(200)]);
        assert!(c.on_response(180).is_empty());
        assert!(c.on_response(486).is_empty());
        assert!(c.cancel_requested().is_empty());
        assert!(c.on_transport_error().is_empty());
        let log = run(&mut sim, secs(100), |k| c.on_timer(k));
        assert_eq!(log, [(secs(32), Terminated)]);
    }

    #[test]
    fn ci_transport_error_in_calling() {
        let mut c = ClientInvite::new(Timers::default(), false);
        let mut sim = Sim::default();
        sim.apply(c.start());
        let acts = c.on_transport_error();
        assert_eq!(
            acts.as_slice(),
            [
                CancelTimer(K::A),
                CancelTimer(K::B),
                CancelTimer(K::Fr),
                TransportError,
                Terminated
            ]
        );
        sim.apply(acts);
        assert_eq!(c.state(), ClientInviteState::Terminated);
    }

    #[test]
    fn ci_cancel_waits_for_provisional() {
        let mut c = ClientInvite::new(Timers::RFC3261, false);
        let mut sim = Sim::default();
        sim.apply(c.start());
        assert!(c.cancel_requested().is_empty());
        assert!(c.cancel_wanted() && !c.cancel_sent());
        // The INVITE is still retransmitted.
        assert_eq!(sim.next(), Some(K::A));
        assert_eq!(sim.apply(c.on_timer(K::A)), [SendRequest]);
        let acts = c.on_response(180);
        assert_eq!(
            acts.as_slice(),
            [
                CancelTimer(K::A),
                CancelTimer(K::B),
                PassResponseUp(180),
                SendCancel,
                StartTimer(K::CancelWait, secs(32))
            ]
        );
        sim.apply(acts);
        assert!(c.cancel_sent());
        // Further 1xx and cancel requests do not send another CANCEL.
        assert_eq!(sim.apply(c.on_response(183)), [PassResponseUp(183)]);
        assert!(c.cancel_requested().is_empty());
        let acts = c.on_response(487);
        assert_eq!(
            acts.as_slice(),
            [
                CancelTimer(K::CancelWait),
                SendAck,
                PassResponseUp(487),
                StartTimer(K::D, secs(32))
            ]
        );
        sim.apply(acts);
    }

    #[test]
    fn ci_largest_event_fits() {
        // Pending CANCEL, first 1xx, fr_inv_timer restart: 7 actions.
        let mut c = ClientInvite::new(Timers::default(), false);
        let mut sim = Sim::default();
        sim.apply(c.start());
        c.cancel_requested();
        let acts = c.on_response(183);
        assert_eq!(
            acts.as_slice(),
            [
                CancelTimer(K::A),
                CancelTimer(K::B),
                CancelTimer(K::Fr),
                StartTimer(K::Fr, secs(120)),
                PassResponseUp(183),
                SendCancel,
                StartTimer(K::CancelWait, secs(32))
            ]
        );
        assert!(acts.len() <= MAX_ACTIONS);
        sim.apply(acts);
        let owned: Vec<Action> = acts.into_iter().collect();
        assert_eq!(owned.len(), 7);
    }

    #[test]
    fn ci_cancel_without_final_gives_up_after_64_t1() {
        let mut c = ClientInvite::new(Timers::RFC3261, false);
        let mut sim = Sim::default();
        sim.apply(c.start());
        sim.apply(c.on_response(180));
        let acts = c.cancel_requested();
        assert_eq!(
            acts.as_slice(),
            [SendCancel, StartTimer(K::CancelWait, secs(32))]
        );
        sim.apply(acts);
        let log = run(&mut sim, secs(100), |k| c.on_timer(k));
        assert_eq!(log, [(secs(32), Timeout), (secs(32), Terminated)]);
    }

    #[test]
    fn ci_cancel_requested_before_start_of_final_is_dropped() {
        let mut c = ClientInvite::new(Timers::RFC3261, false);
        let mut sim = Sim::default();
        sim.apply(c.start());
        c.cancel_requested();
        // A final response before any 1xx: no CANCEL.
        let out = sim.apply(c.on_response(404));
        assert_eq!(out, [SendAck, PassResponseUp(404)]);
        assert!(!c.cancel_sent());
    }

    #[test]
    fn ci_fr_inv_timer_restarts_then_cancels() {
        let mut c = ClientInvite::new(Timers::default(), false);
        let mut sim = Sim::default();
        sim.apply(c.start());
        sim.at(ms(400));
        sim.apply(c.on_response(180));
        assert_eq!(sim.has(K::Fr), Some(secs(120)));
        sim.at(secs(10));
        let acts = c.on_response(183);
        assert_eq!(
            acts.as_slice(),
            [
                CancelTimer(K::Fr),
                StartTimer(K::Fr, secs(120)),
                PassResponseUp(183)
            ]
        );
        sim.apply(acts);
        let log = run(&mut sim, secs(130), |k| c.on_timer(k));
        assert_eq!(log, [(secs(130), Timeout), (secs(130), SendCancel)]);
        assert_eq!(c.state(), ClientInviteState::Proceeding);
        assert_eq!(sim.has(K::CancelWait), Some(secs(32)));
        // 1xx after the timeout: passed up, Fr not restarted.
        assert_eq!(sim.apply(c.on_response(180)), [PassResponseUp(180)]);
        // The 487: ACKed, not passed up again (the TU already had the 408).
        let out = sim.apply(c.on_response(487));
        assert_eq!(out, [SendAck]);
        assert_eq!(c.state(), ClientInviteState::Completed);
    }

    #[test]
    fn ci_fr_inv_timer_not_restarted_when_asked() {
        let t = Timers {
            restart_fr: false,
            ..Timers::default()
        };
        let mut c = ClientInvite::new(t, false);
        let mut sim = Sim::default();
        sim.apply(c.start());
        sim.apply(c.on_response(180));
        assert_eq!(sim.has(K::Fr), Some(secs(120)));
        sim.at(secs(10));
        // A later 1xx leaves the running timer alone.
        assert_eq!(sim.apply(c.on_response(183)), [PassResponseUp(183)]);
        let log = run(&mut sim, secs(121), |k| c.on_timer(k));
        assert_eq!(log, [(secs(120), Timeout), (secs(120), SendCancel)]);
    }

    #[test]
    fn ci_2xx_after_fr_inv_timeout_still_passed_up() {
        let mut c = ClientInvite::new(Timers::default(), false);
        let mut sim = Sim::default();
        sim.apply(c.start());
        sim.apply(c.on_response(180));
        let log = run(&mut sim, secs(120), |k| c.on_timer(k));
        assert_eq!(log, [(secs(120), Timeout), (secs(120), SendCancel)]);
        let out = sim.apply(c.on_response(200));
        assert_eq!(out, [PassResponseUp(200)]);
        assert_eq!(c.state(), ClientInviteState::Accepted);
    }

    #[test]
    fn ci_reliable() {
        let mut c = ClientInvite::new(Timers::RFC3261, true);
        let mut sim = Sim::default();
        let acts = c.start();
        assert_eq!(acts.as_slice(), [SendRequest, StartTimer(K::B, secs(32))]);
        sim.apply(acts);
        let acts = c.on_response(600);
        assert_eq!(
            acts.as_slice(),
            [CancelTimer(K::B), SendAck, PassResponseUp(600), Terminated]
        );
        sim.apply(acts);
        assert_eq!(c.state(), ClientInviteState::Terminated);
    }

    #[test]
    fn ci_start_once_and_bad_codes() {
        let mut c = ClientInvite::new(Timers::RFC3261, false);
        assert!(!c.start().is_empty());
        assert!(c.start().is_empty());
        assert!(c.on_response(99).is_empty());
        assert!(c.on_response(700).is_empty());
        assert!(c.on_response(0).is_empty());
        assert_eq!(c.state(), ClientInviteState::Calling);
    }

    // ----- INVITE server -----

    #[test]
    fn si_provisional_and_retransmission() {
        let mut s = ServerInvite::new(Timers::default(), false);
        assert_eq!(s.state(), ServerInviteState::Proceeding);
        // Nothing sent yet: a retransmission is absorbed.
        assert!(s.on_request_retransmission().is_empty());
        assert_eq!(s.send_response(100).as_slice(), [SendResponse]);
        assert_eq!(s.on_request_retransmission().as_slice(), [SendResponse]);
        assert_eq!(s.send_response(180).as_slice(), [SendResponse]);
        assert_eq!(s.last_response(), Some(180));
        assert!(s.on_ack().is_empty());
        assert!(s.send_response(99).is_empty());
        assert_eq!(s.state(), ServerInviteState::Proceeding);
    }

    #[test]
    fn si_failure_g_doubles_to_t2_then_h_timeout() {
        let mut s = ServerInvite::new(Timers::default(), false);
        let mut sim = Sim::default();
        sim.apply(s.send_response(100));
        let acts = s.send_response(486);
        assert_eq!(
            acts.as_slice(),
            [
                SendResponse,
                StartTimer(K::G, ms(500)),
                StartTimer(K::H, secs(32))
            ]
        );
        sim.apply(acts);
        assert_eq!(s.state(), ServerInviteState::Completed);
        let log = run(&mut sim, secs(100), |k| s.on_timer(k));
        let sends = times_of(&log, SendResponse);
        assert_eq!(
            sends[..6],
            [ms(500), ms(1500), ms(3500), ms(7500), ms(11500), ms(15500)]
        );
        assert_eq!(sends.last(), Some(&ms(31500)));
        assert_eq!(
            log[log.len() - 2..],
            [(secs(32), Timeout), (secs(32), Terminated)]
        );
        assert_eq!(s.state(), ServerInviteState::Terminated);
    }

    #[test]
    fn si_ack_confirmed_then_i() {
        let mut s = ServerInvite::new(Timers::default(), false);
        let mut sim = Sim::default();
        sim.apply(s.send_response(404));
        assert_eq!(sim.next(), Some(K::G));
        assert_eq!(sim.apply(s.on_timer(K::G)), [SendResponse]);
        // A retransmitted INVITE gets the final response again.
        assert_eq!(s.on_request_retransmission().as_slice(), [SendResponse]);
        // No more responses from the TU.
        assert!(s.send_response(200).is_empty());
        let acts = s.on_ack();
        assert_eq!(
            acts.as_slice(),
            [
                CancelTimer(K::G),
                CancelTimer(K::H),
                StartTimer(K::I, secs(5))
            ]
        );
        sim.apply(acts);
        assert_eq!(s.state(), ServerInviteState::Confirmed);
        assert!(s.on_ack().is_empty());
        assert!(s.on_request_retransmission().is_empty());
        assert!(s.on_transport_error().is_empty());
        let log = run(&mut sim, secs(100), |k| s.on_timer(k));
        assert_eq!(log, [(ms(5500), Terminated)]);
    }

    #[test]
    fn si_success_accepted_l() {
        let mut s = ServerInvite::new(Timers::default(), false);
        let mut sim = Sim::default();
        sim.apply(s.send_response(180));
        let acts = s.send_response(200);
        assert_eq!(acts.as_slice(), [SendResponse, StartTimer(K::L, secs(32))]);
        sim.apply(acts);
        assert_eq!(s.state(), ServerInviteState::Accepted);
        // INVITE retransmissions are absorbed; the TU retransmits the 2xx.
        assert!(s.on_request_retransmission().is_empty());
        assert_eq!(s.send_response(200).as_slice(), [SendResponse]);
        assert!(s.send_response(486).is_empty());
        assert!(s.send_response(183).is_empty());
        assert_eq!(s.on_ack().as_slice(), [PassRequestUp]);
        assert_eq!(s.on_transport_error().as_slice(), [TransportError]);
        assert_eq!(s.state(), ServerInviteState::Accepted);
        let log = run(&mut sim, secs(100), |k| s.on_timer(k));
        assert_eq!(log, [(secs(32), Terminated)]);
    }

    #[test]
    fn si_transport_errors() {
        let mut s = ServerInvite::new(Timers::default(), false);
        assert_eq!(
            s.on_transport_error().as_slice(),
            [TransportError, Terminated]
        );
        let mut s = ServerInvite::new(Timers::default(), false);
        let mut sim = Sim::default();
        sim.apply(s.send_response(500));
        let acts = s.on_transport_error();
        assert_eq!(
            acts.as_slice(),
            [
                CancelTimer(K::G),
                CancelTimer(K::H),
                TransportError,
                Terminated
            ]
        );
        sim.apply(acts);
    }

    #[test]
    fn si_reliable() {
        let mut s = ServerInvite::new(Timers::default(), true);
        let mut sim = Sim::default();
        let acts = s.send_response(486);
        assert_eq!(acts.as_slice(), [SendResponse, StartTimer(K::H, secs(32))]);
        sim.apply(acts);
        let acts = s.on_ack();
        assert_eq!(acts.as_slice(), [CancelTimer(K::H), Terminated]);
        sim.apply(acts);
    }

    // ----- non-INVITE server -----

    #[test]
    fn sn_paths() {
        let mut s = ServerNonInvite::new(Timers::default(), false);
        let mut sim = Sim::default();
        assert_eq!(s.state(), ServerNonInviteState::Trying);
        assert!(s.on_request_retransmission().is_empty());
        assert!(s.on_transport_error().is_empty());
        assert_eq!(sim.apply(s.send_response(100)), [SendResponse]);
        assert_eq!(s.state(), ServerNonInviteState::Proceeding);
        assert_eq!(s.on_request_retransmission().as_slice(), [SendResponse]);
        let acts = s.send_response(200);
        assert_eq!(acts.as_slice(), [SendResponse, StartTimer(K::J, secs(32))]);
        sim.apply(acts);
        assert_eq!(s.state(), ServerNonInviteState::Completed);
        assert_eq!(s.last_response(), Some(200));
        assert_eq!(s.on_request_retransmission().as_slice(), [SendResponse]);
        assert!(s.send_response(200).is_empty());
        assert!(s.send_response(100).is_empty());
        let log = run(&mut sim, secs(100), |k| s.on_timer(k));
        assert_eq!(log, [(secs(32), Terminated)]);
    }

    #[test]
    fn sn_final_from_trying_and_transport_error() {
        let mut s = ServerNonInvite::new(Timers::default(), false);
        let mut sim = Sim::default();
        sim.apply(s.send_response(404));
        assert_eq!(s.state(), ServerNonInviteState::Completed);
        let acts = s.on_transport_error();
        assert_eq!(
            acts.as_slice(),
            [CancelTimer(K::J), TransportError, Terminated]
        );
        sim.apply(acts);
        let mut s = ServerNonInvite::new(Timers::default(), false);
        s.send_response(100);
        assert_eq!(
            s.on_transport_error().as_slice(),
            [TransportError, Terminated]
        );
    }

    #[test]
    fn sn_reliable() {
        let mut s = ServerNonInvite::new(Timers::default(), true);
        assert_eq!(s.send_response(200).as_slice(), [SendResponse, Terminated]);
        assert_eq!(s.state(), ServerNonInviteState::Terminated);
        assert!(s.on_request_retransmission().is_empty());
    }

    // ----- non-INVITE client -----

    #[test]
    fn cn_e_doubles_to_t2_then_f_timeout() {
        let mut c = ClientNonInvite::new(Timers::RFC3261, false);
        let mut sim = Sim::default();
        let acts = c.start();
        assert_eq!(
            acts.as_slice(),
            [
                SendRequest,
                StartTimer(K::E, ms(500)),
                StartTimer(K::F, secs(32))
            ]
        );
        sim.apply(acts);
        let log = run(&mut sim, secs(100), |k| c.on_timer(k));
        let sends = times_of(&log, SendRequest);
        assert_eq!(
            sends,
            [
                ms(500),
                ms(1500),
                ms(3500),
                ms(7500),
                ms(11500),
                ms(15500),
                ms(19500),
                ms(23500),
                ms(27500),
                ms(31500)
            ]
        );
        assert_eq!(
            log[log.len() - 2..],
            [(secs(32), Timeout), (secs(32), Terminated)]
        );
    }

    #[test]
    fn cn_provisional_keeps_e_at_t2() {
        let mut c = ClientNonInvite::new(Timers::RFC3261, false);
        let mut sim = Sim::default();
        sim.apply(c.start());
        assert_eq!(sim.next(), Some(K::E));
        assert_eq!(sim.apply(c.on_timer(K::E)), [SendRequest]);
        sim.at(ms(600));
        assert_eq!(sim.apply(c.on_response(100)), [PassResponseUp(100)]);
        assert_eq!(c.state(), ClientNonInviteState::Proceeding);
        let log = run(&mut sim, secs(14), |k| c.on_timer(k));
        // The armed E fires at 1.5 s, then every T2.
        assert_eq!(
            times_of(&log, SendRequest),
            [ms(1500), ms(5500), ms(9500), ms(13500)]
        );
        assert_eq!(sim.apply(c.on_response(180)), [PassResponseUp(180)]);
    }

    #[test]
    fn cn_final_then_k() {
        let mut c = ClientNonInvite::new(Timers::default(), false);
        let mut sim = Sim::default();
        sim.apply(c.start());
        let acts = c.on_response(200);
        assert_eq!(
            acts.as_slice(),
            [
                CancelTimer(K::E),
                CancelTimer(K::F),
                CancelTimer(K::Fr),
                PassResponseUp(200),
                StartTimer(K::K, secs(5))
            ]
        );
        sim.apply(acts);
        assert_eq!(c.state(), ClientNonInviteState::Completed);
        assert!(c.on_response(200).is_empty());
        assert!(c.on_response(100).is_empty());
        assert!(c.on_transport_error().is_empty());
        let log = run(&mut sim, secs(100), |k| c.on_timer(k));
        assert_eq!(log, [(secs(5), Terminated)]);
    }

    #[test]
    fn cn_fr_timer_and_transport_error() {
        let mut c = ClientNonInvite::new(Timers::default(), false);
        let mut sim = Sim::default();
        sim.apply(c.start());
        let log = run(&mut sim, secs(100), |k| c.on_timer(k));
        assert_eq!(
            log[log.len() - 2..],
            [(secs(30), Timeout), (secs(30), Terminated)]
        );

        let mut c = ClientNonInvite::new(Timers::RFC3261, false);
        let mut sim = Sim::default();
        sim.apply(c.start());
        sim.apply(c.on_response(100));
        let acts = c.on_transport_error();
        assert_eq!(
            acts.as_slice(),
            [
                CancelTimer(K::E),
                CancelTimer(K::F),
                TransportError,
                Terminated
            ]
        );
        sim.apply(acts);
    }

    #[test]
    fn cn_reliable() {
        let mut c = ClientNonInvite::new(Timers::RFC3261, true);
        assert_eq!(
            c.start().as_slice(),
            [SendRequest, StartTimer(K::F, secs(32))]
        );
        assert!(c.start().is_empty());
        assert_eq!(
            c.on_response(481).as_slice(),
            [CancelTimer(K::F), PassResponseUp(481), Terminated]
        );
    }

    // ----- all machines -----

    /// Random events never overflow [`Actions`] (a debug assertion) and keep
    /// the timer discipline the owner relies on.
    #[test]
    fn random_events_keep_discipline() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        const CODES: [u16; 8] = [100, 180, 183, 200, 202, 302, 487, 603];
        for round in 0..400 {
            let reliable = round % 3 == 0;
            let timers = if round % 2 == 0 {
                Timers::default()
            } else {
                Timers::RFC3261
            };
            let mut ci = ClientInvite::new(timers, reliable);
            let mut cn = ClientNonInvite::new(timers, reliable);
            let mut si = ServerInvite::new(timers, reliable);
            let mut sn = ServerNonInvite::new(timers, reliable);
            let mut sims: [Sim; 4] = Default::default();
            sims[0].apply(ci.start());
            sims[1].apply(cn.start());
            for _ in 0..40 {
                let code = CODES[rnd(8) as usize];
                let which = rnd(4) as usize;
                let ev = rnd(5);
                let sim = &mut sims[which];
                let acts = match (which, ev) {
                    (0, 0) => ci.on_response(code),
                    (0, 1) => ci.cancel_requested(),
                    (0, 2) => ci.on_transport_error(),
                    (0, _) => sim.next().map_or_else(Actions::new, |k| ci.on_timer(k)),
                    (1, 0 | 1) => cn.on_response(code),
                    (1, 2) => cn.on_transport_error(),
                    (1, _) => sim.next().map_or_else(Actions::new, |k| cn.on_timer(k)),
                    (2, 0) => si.send_response(code),
                    (2, 1) => si.on_ack(),
                    (2, 2) => si.on_request_retransmission(),
                    (2, _) => sim.next().map_or_else(Actions::new, |k| si.on_timer(k)),
                    (_, 0) => sn.send_response(code),
                    (_, 1) => sn.on_request_retransmission(),
                    (_, 2) => sn.on_transport_error(),
                    (_, _) => sim.next().map_or_else(Actions::new, |k| sn.on_timer(k)),
                };
                sim.apply(acts);
            }
        }
    }
}
