//! The catalogue of modules, their parameters and functions, and the core
//! functions: the signatures the checker and the compiler resolve names
//! against.
//!
//! The catalogue knows every module, parameter and function that the seed
//! configs use (and the common ones around them), whether or not the router
//! implements it yet: whether a function is *implemented* is not recorded
//! here but asked of the running code (see `check`), so the list of what is
//! "not supported yet" is always derived from what the router really has.
//!
//! Sources of the facts: the module export tables of SER 0.8/0.9, SER 2.x
//! (sip-router `modules_s`) and Kamailio 3.1 (`modules_k`, `modules`), and
//! their READMEs. Where the generations differ, an entry is the union of
//! what they accept (argument counts, route kinds); [`function_dialects`]
//! records the few functions that exist in some dialects only, and
//! [`resolve_function_in`] honours it.
//!
//! The descriptions are ours, one line each; `docs/config.md` is generated
//! from these tables (see [`crate::check::reference_markdown`]).

use crate::ast::RouteKind;
use crate::dialect::Dialect;

/// The kind of a function argument, as the checker validates it and the
/// compiler types it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// An integer, or a string holding one (`"10"`).
    Int,
    /// A plain string.
    Str,
    /// A string that may contain pseudo-variables / `%$avp` / `%@select`
    /// (`xlog`, `append_hf`, `sl_send_reply` reason in Kamailio).
    Format,
    /// A regular expression (`t_check_status("486|600")`, `search("^...")`).
    Regex,
    /// A script flag: a number, or a name declared with `flags`.
    Flag,
    /// A route name or number (`t_on_failure("1")`).
    Route,
    /// A variable name given as a string or bare (`"$fd"`, `$avp(i:80)`).
    Var,
    /// A header name (`remove_hf("Route")`).
    Header,
    /// A table or URL-like identifier (`"location"`, `"subscriber"`).
    Table,
    /// Anything (checked by the function itself at run time).
    Any,
}

/// Where a function may be called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteMask(pub u8);

impl RouteMask {
    pub const REQUEST: RouteMask = RouteMask(1);
    pub const FAILURE: RouteMask = RouteMask(2);
    pub const ONREPLY: RouteMask = RouteMask(4);
    pub const BRANCH: RouteMask = RouteMask(8);
    pub const ONSEND: RouteMask = RouteMask(16);
    pub const EVENT: RouteMask = RouteMask(32);
    pub const ANY: RouteMask = RouteMask(63);
    /// Request, failure and branch routes (SER's REQUEST_ROUTE |
    /// FAILURE_ROUTE | BRANCH_ROUTE).
    pub const REQ_FAIL_BRANCH: RouteMask = RouteMask(1 | 2 | 8);

    pub const fn or(self, o: RouteMask) -> RouteMask {
        RouteMask(self.0 | o.0)
    }
    pub const fn allows(self, o: RouteMask) -> bool {
        self.0 & o.0 != 0
    }
}

/// A function signature. `arities` lists the accepted argument lists (a
/// function may take 0, 1 or 2 arguments, each typed).
#[derive(Clone, Copy, Debug)]
pub struct FnSig {
    pub name: &'static str,
    pub arities: &'static [&'static [ArgKind]],
    pub routes: RouteMask,
    /// One line for `docs/config.md` and `ser -c` messages.
    pub doc: &'static str,
}

/// The type of a module parameter's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    Int,
    Str,
    /// `yes`/`no`/`1`/`0`/`on`/`off`.
    Bool,
    /// A flag number or a declared flag name.
    Flag,
    /// Either an integer or a string.
    IntOrStr,
}

#[derive(Clone, Copy, Debug)]
pub struct ParamSig {
    pub name: &'static str,
    pub kind: ParamKind,
    pub doc: &'static str,
}

#[derive(Clone, Copy, Debug)]
pub struct ModuleSig {
    /// Canonical name (`db_mysql`, `sl`, `tm`).
    pub name: &'static str,
    /// Other names it is loaded under (`mysql` for SER 0.9's driver).
    pub aliases: &'static [&'static str],
    pub params: &'static [ParamSig],
    pub functions: &'static [FnSig],
    pub doc: &'static str,
}

/// Pseudo-module name of the core functions (`forward`, `rewriteuri`,
/// `setflag`, `log`, ...), which need no `loadmodule`.
pub const CORE: &str = "core";

/// The highest script flag (and branch flag) number: flags are 0..=31, as
/// in SER and Kamailio (`flag_t` is a 32-bit word).
pub const MAX_FLAG: i64 = 31;

// ----- shorthands for the tables ---------------------------------------------

const I: ArgKind = ArgKind::Int;
const S: ArgKind = ArgKind::Str;
const FM: ArgKind = ArgKind::Format;
const RE: ArgKind = ArgKind::Regex;
const FL: ArgKind = ArgKind::Flag;
const RT: ArgKind = ArgKind::Route;
const V: ArgKind = ArgKind::Var;
const H: ArgKind = ArgKind::Header;
const T: ArgKind = ArgKind::Table;
const AN: ArgKind = ArgKind::Any;

const NONE: &[&[ArgKind]] = &[&[]];

const RQ: RouteMask = RouteMask::REQUEST;
const RF: RouteMask = RouteMask(1 | 2);
const RO: RouteMask = RouteMask(1 | 4);
const RFB: RouteMask = RouteMask::REQ_FAIL_BRANCH;
const RFO: RouteMask = RouteMask(1 | 2 | 4);
const RFOB: RouteMask = RouteMask(1 | 2 | 4 | 8);
const FAIL: RouteMask = RouteMask::FAILURE;
const REPLY: RouteMask = RouteMask::ONREPLY;
const ANY: RouteMask = RouteMask::ANY;

const fn f(
    name: &'static str,
    arities: &'static [&'static [ArgKind]],
    routes: RouteMask,
    doc: &'static str,
) -> FnSig {
    FnSig {
        name,
        arities,
        routes,
        doc,
    }
}

const fn pi(name: &'static str, doc: &'static str) -> ParamSig {
    ParamSig {
        name,
        kind: ParamKind::Int,
        doc,
    }
}

const fn ps(name: &'static str, doc: &'static str) -> ParamSig {
    ParamSig {
        name,
        kind: ParamKind::Str,
        doc,
    }
}

const fn pf(name: &'static str, doc: &'static str) -> ParamSig {
    ParamSig {
        name,
        kind: ParamKind::Flag,
        doc,
    }
}

const fn px(name: &'static str, doc: &'static str) -> ParamSig {
    ParamSig {
        name,
        kind: ParamKind::IntOrStr,
        doc,
    }
}

// ----- core functions --------------------------------------------------------

/// Core functions (actions built into the language).
///
/// `route(x)`, `drop`, `exit`, `break` and `return` are statements, not
/// functions, and are not listed. `setbflag`/`resetbflag`/`isbflagset` are
/// core actions in SER 2.x and functions of module `kex` in Kamailio: both
/// are listed, and [`function_dialects`] limits the core ones to SER 2.x.
#[rustfmt::skip]
pub static CORE_FUNCTIONS: &[FnSig] = &[
    f("forward", &[&[], &[S], &[S, I]], RFB, "Forward the request statelessly to host:port (default: the Request-URI)."),
    f("forward_udp", &[&[], &[S], &[S, I]], RFB, "`forward` over UDP."),
    f("forward_tcp", &[&[], &[S], &[S, I]], RFB, "`forward` over TCP."),
    f("forward_tls", &[&[], &[S], &[S, I]], RFB, "`forward` over TLS."),
    f("send", &[&[S], &[S, I]], RFOB, "Send the message as it is to host:port over UDP, without Via processing."),
    f("send_tcp", &[&[S], &[S, I]], RFOB, "`send` over TCP."),
    f("log", &[&[FM], &[I, FM]], ANY, "Write a message to the log, at an optional level."),
    f("error", &[&[S, S]], ANY, "Log an error class and text (SER 0.x debugging aid)."),
    f("rewriteuri", &[&[S]], RFB, "Replace the whole Request-URI."),
    f("seturi", &[&[S]], RFB, "Alias of `rewriteuri`."),
    f("rewritehost", &[&[S]], RFB, "Replace the host of the Request-URI."),
    f("sethost", &[&[S]], RFB, "Alias of `rewritehost`."),
    f("seth", &[&[S]], RFB, "Alias of `rewritehost`."),
    f("rewritehostport", &[&[S]], RFB, "Replace host:port of the Request-URI."),
    f("sethostport", &[&[S]], RFB, "Alias of `rewritehostport`."),
    f("sethp", &[&[S]], RFB, "Alias of `rewritehostport`."),
    f("rewriteport", &[&[I]], RFB, "Replace the port of the Request-URI."),
    f("setport", &[&[I]], RFB, "Alias of `rewriteport`."),
    f("setp", &[&[I]], RFB, "Alias of `rewriteport`."),
    f("rewriteuser", &[&[S]], RFB, "Replace the user part of the Request-URI."),
    f("setuser", &[&[S]], RFB, "Alias of `rewriteuser`."),
    f("setu", &[&[S]], RFB, "Alias of `rewriteuser`."),
    f("rewriteuserpass", &[&[S]], RFB, "Replace user:password of the Request-URI."),
    f("setuserpass", &[&[S]], RFB, "Alias of `rewriteuserpass`."),
    f("setup", &[&[S]], RFB, "Alias of `rewriteuserpass`."),
    f("prefix", &[&[S]], RFB, "Prepend a string to the user part of the Request-URI."),
    f("strip", &[&[I]], RFB, "Remove N leading characters of the Request-URI user part."),
    f("strip_tail", &[&[I]], RFB, "Remove N trailing characters of the Request-URI user part."),
    f("revert_uri", NONE, RFB, "Restore the Request-URI as it was received."),
    f("append_branch", &[&[], &[S], &[S, S]], RF, "Add the current (or the given) URI as a new branch of the destination set."),
    f("force_rport", NONE, RFB, "Add `rport` to the top Via so replies go to the source port."),
    f("add_rport", NONE, RFB, "Alias of `force_rport`."),
    f("force_tcp_alias", &[&[], &[I]], RFB, "Reuse the incoming TCP connection for requests to the Via address."),
    f("add_tcp_alias", &[&[], &[I]], RFB, "Alias of `force_tcp_alias`."),
    f("set_advertised_address", &[&[S]], RFB, "Address to put in Via/Record-Route for this message."),
    f("set_advertised_port", &[&[I]], RFB, "Port to put in Via/Record-Route for this message."),
    f("force_send_socket", &[&[S]], RFB, "Send the message from this local socket."),
    f("setflag", &[&[FL]], ANY, "Set a message (transaction) flag."),
    f("resetflag", &[&[FL]], ANY, "Clear a message flag."),
    f("isflagset", &[&[FL]], ANY, "True if a message flag is set."),
    f("setbflag", &[&[FL], &[FL, I]], ANY, "Set a branch flag (SER 2.x core; module `kex` in Kamailio)."),
    f("resetbflag", &[&[FL], &[FL, I]], ANY, "Clear a branch flag (SER 2.x core; module `kex` in Kamailio)."),
    f("isbflagset", &[&[FL], &[FL, I]], ANY, "True if a branch flag is set (SER 2.x core; module `kex` in Kamailio)."),
    f("setavpflag", &[&[V, S]], ANY, "Mark an AVP with a flag declared by `avpflags`."),
    f("resetavpflag", &[&[V, S]], ANY, "Clear an AVP flag declared by `avpflags`."),
    f("isavpflagset", &[&[V, S]], ANY, "True if an AVP has the flag declared by `avpflags`."),
    f("len_gt", &[&[I]], ANY, "SER 0.8: true if the message is longer than N bytes (later `msg:len > N`)."),
    f("strempty", &[&[AN]], ANY, "True if the value (AVP, select, pseudo-variable) is empty or unset."),
];

// ----- modules ---------------------------------------------------------------

#[rustfmt::skip]
const SL: ModuleSig = ModuleSig {
    name: "sl",
    aliases: &[],
    doc: "Stateless replies.",
    params: &[
        pi("default_code", "Reply code used when the script's code is invalid."),
        ps("default_reason", "Reason phrase used when the script's is invalid."),
        pi("bind_tm", "Let `send_reply` reply statefully when a transaction exists (Kamailio)."),
        pi("enable_stats", "Keep reply statistics."),
    ],
    functions: &[
        f("sl_send_reply", &[&[I, FM]], RQ, "Send a reply statelessly: code and reason phrase."),
        f("sl_reply", &[&[I, FM]], RQ, "SER 2.x name of `sl_send_reply`."),
        f("send_reply", &[&[I, FM]], RFB, "Reply statefully if a transaction exists, else statelessly (Kamailio)."),
        f("sl_reply_error", NONE, RQ, "Send the reply that matches the last internal error."),
        f("sl_forward_reply", &[&[], &[S], &[S, S]], REPLY, "Forward a reply statelessly, optionally with a new code and reason."),
        f("sl_filter_ACK", NONE, RQ, "SER 0.8: drop ACKs to locally sent stateless replies."),
    ],
};

#[rustfmt::skip]
const TM: ModuleSig = ModuleSig {
    name: "tm",
    aliases: &[],
    doc: "Transactions: stateful forwarding, forking, retransmissions, failure and reply routes.",
    params: &[
        pi("fr_timer", "Final-response timeout without a provisional reply (SER 0.9: seconds; SER 2.x, Kamailio: ms)."),
        pi("fr_inv_timer", "INVITE final-response timeout after a provisional reply (SER 0.9: seconds; later: ms)."),
        pi("wt_timer", "How long a completed transaction is kept for retransmissions."),
        pi("delete_timer", "Delay before a transaction still in use is deleted."),
        pi("retr_timer1", "First retransmission interval (T1)."),
        pi("retr_timer1p1", "SER 0.9: first retransmission interval."),
        pi("retr_timer1p2", "SER 0.9: second retransmission interval."),
        pi("retr_timer1p3", "SER 0.9: third retransmission interval."),
        pi("retr_timer2", "Largest retransmission interval (T2)."),
        pi("max_inv_lifetime", "Longest life of an INVITE transaction."),
        pi("max_noninv_lifetime", "Longest life of a non-INVITE transaction."),
        pi("noisy_ctimer", "Cancel INVITEs that time out even without a provisional reply."),
        pi("auto_inv_100", "Answer INVITEs with 100 Trying automatically."),
        ps("auto_inv_100_reason", "Reason phrase of the automatic 100."),
        pi("unix_tx_timeout", "Timeout of the unix-socket transaction interface."),
        pi("restart_fr_on_each_reply", "Restart the FR timer on each provisional reply."),
        ps("fr_timer_avp", "AVP that overrides `fr_timer` per transaction."),
        ps("fr_inv_timer_avp", "AVP that overrides `fr_inv_timer` per transaction."),
        ps("tw_append", "Extra header fields for `t_write_req`/`t_write_unix`."),
        ps("uac_from", "SER 0.9: From of locally generated requests."),
        pi("pass_provisional_replies", "Pass provisional replies to the FIFO/unix interface."),
        pi("aggregate_challenges", "Merge 401/407 challenges of all branches."),
        pi("unmatched_cancel", "What to do with a CANCEL that matches no transaction."),
        pi("default_code", "Reply code for invalid `t_reply` codes."),
        ps("default_reason", "Reason phrase for invalid `t_reply` reasons."),
        pi("reparse_invite", "Build CANCELs from the INVITE as it was sent."),
        ps("ac_extra_hdrs", "Header prefix copied into locally generated CANCEL/ACK."),
        pi("blst_503", "Blacklist destinations that reply 503."),
        pi("blst_503_def_timeout", "Default blacklist time for 503."),
        pi("blst_503_min_timeout", "Shortest blacklist time for 503."),
        pi("blst_503_max_timeout", "Longest blacklist time for 503."),
        pi("blst_methods_add", "Methods whose failures blacklist a destination."),
        pi("blst_methods_lookup", "Methods that honour the blacklist."),
        pi("cancel_b_method", "How branches without a reply are cancelled."),
        pi("reparse_on_dns_failover", "Rebuild the request on DNS fail-over."),
        ps("on_sl_reply", "onreply_route run for replies that match no transaction."),
        ps("contacts_avp", "AVP used by `t_load_contacts`/`t_next_contacts`."),
        pi("disable_6xx_block", "Treat 6xx replies like other negative replies."),
        pi("local_ack_mode", "Where locally generated ACKs for 2xx go."),
        pi("failure_reply_mode", "Which branches' replies count after serial forking (Kamailio)."),
        pi("faked_reply_prio", "Priority of locally generated replies."),
        pi("ruri_matching", "Match transactions on the Request-URI too."),
        pi("via1_matching", "Match transactions on the top Via too."),
        pi("e2e_cancel_reason", "Copy the Reason header of a CANCEL to the branches."),
        pi("local_cancel_reason", "Add a Reason header to locally generated CANCELs."),
    ],
    functions: &[
        f("t_relay", &[&[], &[S, I]], RF, "Relay statefully to the Request-URI and branches (or host, port)."),
        f("t_relay_to_udp", &[&[], &[S, I]], RF, "`t_relay` over UDP."),
        f("t_relay_to_tcp", &[&[], &[S, I]], RF, "`t_relay` over TCP."),
        f("t_relay_to_tls", &[&[], &[S, I]], RF, "`t_relay` over TLS."),
        f("t_relay_to", &[&[], &[AN], &[AN, AN]], RF, "`t_relay` to a proxy address and/or with flags (Kamailio)."),
        f("t_relay_cancel", NONE, RQ, "Relay a CANCEL to its INVITE transaction; stops the script when found."),
        f("t_newtran", NONE, RQ, "Create the transaction for the request now (absorbs retransmissions)."),
        f("t_reply", &[&[I, FM]], RFO, "Reply statefully (needs a transaction)."),
        f("t_retransmit_reply", NONE, RQ, "Retransmit the last reply of the transaction."),
        f("t_release", NONE, RQ, "Release the transaction of the request."),
        f("t_lookup_request", NONE, RQ, "True if the request belongs to an existing transaction."),
        f("t_lookup_cancel", &[&[], &[I]], RQ, "True if the CANCEL matches an INVITE transaction."),
        f("t_check_trans", NONE, RouteMask(1 | 4 | 8), "True if the message matches a transaction; a retransmission stops the script."),
        f("t_replicate", &[&[], &[S], &[S, I]], RQ, "Send a stateful copy of the request to another destination."),
        f("t_forward_nonack", &[&[S, I]], RQ, "Forward a non-ACK request statefully to host, port."),
        f("t_on_failure", &[&[RT]], RFOB, "Arm the failure_route to run if the transaction fails."),
        f("t_on_reply", &[&[RT]], RFOB, "Arm the onreply_route to run for replies of the transaction."),
        f("t_on_branch", &[&[RT]], RF, "Arm the branch_route to run for each outgoing branch."),
        f("t_check_status", &[&[RE]], RFO, "True if the reply status matches the regular expression."),
        f("t_set_fr", &[&[I], &[I, I]], RFOB, "Per-transaction FR timers in ms: INVITE, then non-INVITE."),
        f("t_reset_fr", NONE, RFOB, "Restore the default FR timers."),
        f("t_set_retr", &[&[I, I]], RFOB, "Per-transaction retransmission intervals T1, T2."),
        f("t_reset_retr", NONE, RFOB, "Restore the default retransmission intervals."),
        f("t_set_max_lifetime", &[&[I, I]], RFOB, "Per-transaction maximum lifetimes."),
        f("t_reset_max_lifetime", NONE, RFOB, "Restore the default maximum lifetimes."),
        f("t_set_auto_inv_100", &[&[I]], RQ, "Switch the automatic 100 Trying for this INVITE."),
        f("t_branch_timeout", NONE, RouteMask(2 | 32), "True if the failed branch timed out."),
        f("t_branch_replied", NONE, RouteMask(2 | 32), "True if the failed branch received a reply."),
        f("t_any_timeout", NONE, RFOB, "True if any branch timed out."),
        f("t_any_replied", NONE, RFOB, "True if any branch received a reply."),
        f("t_is_canceled", NONE, RFOB, "True if the transaction was cancelled."),
        f("t_is_expired", NONE, RFOB, "True if the transaction's lifetime is over."),
        f("t_grep_status", &[&[I]], RFOB, "True if any branch received this status code."),
        f("t_drop_replies", &[&[], &[AN]], FAIL, "Drop the replies received so far (failure route)."),
        f("t_save_lumps", NONE, RQ, "Keep the script's changes for branches added later."),
        f("t_write_req", &[&[S, S]], RF, "Hand the request to an external application through a FIFO."),
        f("t_write_unix", &[&[S, S]], RF, "Hand the request to an external application through a unix socket."),
        f("t_write_fifo", &[&[S, S]], RF, "SER 0.9 name of `t_write_req`."),
        f("t_load_contacts", NONE, RF, "Order the branches by q value for serial forking."),
        f("t_next_contacts", NONE, RF, "Move to the next q-value group of branches."),
        f("t_is_set", &[&[S]], ANY, "True if the transaction has the given route armed."),
    ],
};

#[rustfmt::skip]
const RR: ModuleSig = ModuleSig {
    name: "rr",
    aliases: &[],
    doc: "Record-routing and loose routing.",
    params: &[
        pi("enable_full_lr", "Write `;lr=on` instead of `;lr` for broken user agents."),
        pi("append_fromtag", "Add the From-tag to the Record-Route (needed for `is_direction`)."),
        pi("enable_double_rr", "Add two Record-Routes when the transport or interface changes."),
        pi("add_username", "Put the Request-URI user into the Record-Route."),
        ps("ignore_user", "User part that marks a Route as ours."),
        ps("cookie_filter", "SER 2.x: regular expression of AVP names carried in the Record-Route cookie."),
        ps("cookie_secret", "SER 2.x: secret that protects the AVP cookie."),
        ps("avp_cookie_name", "SER 2.x: name of the Record-Route parameter that holds the AVP cookie."),
    ],
    functions: &[
        f("loose_route", NONE, RQ, "Follow the Route header set (RFC 3261 loose routing); true if there was one."),
        f("record_route", &[&[], &[FM]], RFB, "Insert a Record-Route for this proxy, optionally with parameters."),
        f("record_route_preset", &[&[FM], &[FM, FM]], RFB, "Insert a Record-Route with the given address and parameters."),
        f("add_rr_param", &[&[FM]], RFB, "Add a parameter to the Record-Route being inserted."),
        f("check_route_param", &[&[RE]], RQ, "True if the Route used has parameters matching the regex."),
        f("is_direction", &[&[S]], RQ, "True if the in-dialog request goes `upstream` or `downstream`."),
        f("rewriteFromRoute", NONE, RQ, "SER 0.8: strict-route to the first Route header."),
        f("addRecordRoute", NONE, RQ, "SER 0.8 name of `record_route`."),
    ],
};

#[rustfmt::skip]
const MAXFWD: ModuleSig = ModuleSig {
    name: "maxfwd",
    aliases: &[],
    doc: "Max-Forwards processing (loop protection).",
    params: &[pi("max_limit", "Highest Max-Forwards value let through (Kamailio).")],
    functions: &[
        f("mf_process_maxfwd_header", &[&[I]], RQ, "Decrement Max-Forwards (or add it with this value); false at 0."),
        f("is_maxfwd_lt", &[&[I]], RFB, "True if Max-Forwards is lower than the value."),
    ],
};

#[rustfmt::skip]
const USRLOC: ModuleSig = ModuleSig {
    name: "usrloc",
    aliases: &[],
    doc: "User location table (registered contacts), in memory and optionally in a database.",
    params: &[
        pi("db_mode", "0 memory only, 1 write-through, 2 write-back, 3 database only."),
        ps("db_url", "Database URL."),
        pi("timer_interval", "Seconds between expiry / write-back runs."),
        pi("use_domain", "Key contacts by user@domain instead of user."),
        pi("desc_time_order", "Order contacts freshest first instead of by q."),
        pf("nat_bflag", "Branch flag stored with contacts of NATed user agents (Kamailio)."),
        ps("user_column", "Column name."),
        ps("domain_column", "Column name."),
        ps("contact_column", "Column name."),
        ps("expires_column", "Column name."),
        ps("q_column", "Column name."),
        ps("callid_column", "Column name."),
        ps("cseq_column", "Column name."),
        ps("methods_column", "Column name."),
        ps("flags_column", "Column name."),
        ps("cflags_column", "Column name."),
        ps("user_agent_column", "Column name."),
        ps("received_column", "Column name."),
        ps("path_column", "Column name."),
        ps("socket_column", "Column name."),
        ps("last_modified_column", "Column name."),
        ps("uid_column", "SER 2.x: column name."),
        pi("matching_mode", "How a contact is matched on re-registration (contact, contact+callid)."),
        pi("cseq_delay", "Accept re-registrations with the same CSeq within this many seconds."),
        pi("hash_size", "Hash table size, as a power of two."),
        ps("preload", "Location table to load at start-up."),
        pi("db_update_as_insert", "Write updates as inserts."),
        pi("fetch_rows", "Rows fetched per database round trip."),
    ],
    functions: &[],
};

#[rustfmt::skip]
const REGISTRAR: ModuleSig = ModuleSig {
    name: "registrar",
    aliases: &[],
    doc: "REGISTER processing and contact lookup, on top of usrloc.",
    params: &[
        pi("default_expires", "Expires used when the REGISTER has none."),
        pi("min_expires", "Shortest accepted expiry."),
        pi("max_expires", "Longest accepted expiry."),
        pi("default_q", "q value of contacts without one."),
        pi("append_branches", "Whether `lookup` adds all contacts as branches (1) or only the best (0)."),
        pi("desc_time_order", "SER 0.9: freshest contact first."),
        pf("nat_flag", "Flag that marks a NATed registration; `lookup` sets it again."),
        pi("case_sensitive", "Compare user names case-sensitively."),
        pf("tcp_persistent_flag", "Flag that keeps the TCP connection of the registration open."),
        ps("realm_prefix", "Prefix removed from the domain before it is used."),
        ps("received_param", "Contact parameter that carries the received address."),
        ps("received_avp", "AVP that carries the received address from nathelper."),
        ps("aor_avp", "AVP that overrides the address of record."),
        pi("max_contacts", "Most contacts per address of record (0 no limit)."),
        pi("retry_after", "Retry-After value of 5xx replies."),
        pf("sock_flag", "Flag that makes `save` read the socket from `sock_hdr_name`."),
        ps("sock_hdr_name", "Header field that carries the socket."),
        pi("method_filtering", "Only use contacts whose methods allow the request."),
        pi("use_path", "Store the Path header (RFC 3327)."),
        pi("path_mode", "How Path support is required."),
        pi("path_use_received", "Use the received parameter of the last Path URI."),
        pi("received_to_uri", "SER 2.x: copy received into the URI instead of the destination."),
        pf("load_nat_flag", "SER 2.x: flag set by `lookup` for NATed contacts."),
        pf("save_nat_flag", "SER 2.x: flag read by `save` for NATed registrations."),
        ps("reply_code_attr", "SER 2.x: AVP that receives the reply code."),
        ps("reply_reason_attr", "SER 2.x: AVP that receives the reply reason."),
        ps("contact_attr", "SER 2.x: AVP that receives the Contact of the reply."),
        ps("aor_attr", "SER 2.x: AVP that overrides the address of record."),
        ps("server_id_attr", "SER 2.x: AVP that holds the server id."),
    ],
    functions: &[
        f("save", &[&[T], &[T, AN]], RF, "Store the REGISTER's contacts in the table and reply."),
        f("save_noreply", &[&[T], &[T, AN]], RFO, "`save` without sending the reply."),
        f("save_memory", &[&[T]], RF, "SER 0.9: `save` to memory only."),
        f("lookup", &[&[T]], RF, "Rewrite the Request-URI to the registered contact(s); false if none."),
        f("registered", &[&[T]], RF, "True if the Request-URI's address of record has contacts."),
        f("add_sock_hdr", &[&[S]], RQ, "Add a header field with the receiving socket (Kamailio)."),
        f("save_contacts", &[&[T], &[T, AN]], RF, "SER 2.x name of `save`."),
        f("save_contacts_noreply", &[&[T], &[T, AN]], RF, "SER 2.x name of `save_noreply`."),
        f("lookup_contacts", &[&[T], &[T, AN]], RF, "SER 2.x name of `lookup`."),
    ],
};

#[rustfmt::skip]
const AUTH: ModuleSig = ModuleSig {
    name: "auth",
    aliases: &[],
    doc: "Digest authentication: challenges, nonces, credentials handling.",
    params: &[
        ps("secret", "Secret used to sign nonces; replicated servers share it."),
        pi("nonce_expire", "Seconds a nonce stays valid."),
        ps("rpid_prefix", "Text before the RPID value in Remote-Party-ID."),
        ps("rpid_suffix", "Text after the RPID value in Remote-Party-ID."),
        ps("realm_prefix", "Prefix removed from the realm."),
        ps("rpid_avp", "AVP that holds the RPID."),
        ps("qop", "qop value offered in challenges (SER 2.x, Kamailio)."),
        ps("algorithm", "Digest algorithm(s) challenges offer: MD5, SHA-256, or both (Kamailio)."),
        pi("nonce_count", "Check the nonce count (replay protection)."),
        pi("one_time_nonce", "Accept each nonce once only."),
        pi("nid_pool_no", "Number of nonce-id pools."),
        pi("nc_array_size", "Size of the nonce-count array."),
        pi("nc_array_order", "Size of the nonce-count array, as a power of two."),
        pi("otn_in_flight_no", "Number of one-time nonces in flight."),
        pi("otn_in_flight_order", "Same, as a power of two."),
        pi("protect_contacts", "Bind nonces to the Contact of the request."),
        pi("auth_checks_register", "Extra nonce checks for REGISTER."),
        pi("auth_checks_no_dlg", "Extra nonce checks outside dialogs."),
        pi("auth_checks_in_dlg", "Extra nonce checks inside dialogs."),
        pi("nonce_auth_max_drift", "Largest accepted clock drift of a nonce."),
        ps("challenge_attr", "SER 2.x: AVP that receives the built challenge."),
        ps("proxy_challenge_header", "Header field name of proxy challenges."),
        ps("www_challenge_header", "Header field name of WWW challenges."),
        pi("add_authinfo_hdr", "Add Authentication-Info to replies."),
        pi("force_stateless_reply", "Send challenges statelessly even with a transaction."),
    ],
    functions: &[
        f("www_challenge", &[&[V, I]], RQ, "Send 401 with a WWW-Authenticate challenge for the realm; qop on/off."),
        f("proxy_challenge", &[&[V, I]], RQ, "Send 407 with a Proxy-Authenticate challenge for the realm; qop on/off."),
        f("consume_credentials", NONE, RQ, "Remove the credentials that were used from the request."),
        f("is_rpid_user_e164", NONE, RQ, "True if the RPID user is an E.164 number."),
        f("append_rpid_hf", &[&[], &[S, S]], RFB, "Add a Remote-Party-ID header from the RPID AVP."),
        f("pv_www_authorize", &[&[S]], RQ, "Check WWW credentials against a password in a variable (Kamailio)."),
        f("pv_proxy_authorize", &[&[S]], RQ, "Check proxy credentials against a password in a variable (Kamailio)."),
    ],
};

#[rustfmt::skip]
const AUTH_DB: ModuleSig = ModuleSig {
    name: "auth_db",
    aliases: &[],
    doc: "Digest credentials checked against a database table.",
    params: &[
        ps("db_url", "Database URL."),
        ps("user_column", "Column of user names."),
        ps("username_column", "SER 2.x: column of user names."),
        ps("domain_column", "Column of domains."),
        ps("realm_column", "SER 2.x: column of realms."),
        ps("did_column", "SER 2.x: column of domain ids."),
        ps("password_column", "Column of HA1 hashes, or of passwords with `calculate_ha1`."),
        ps("password_column_2", "Column of HA1 hashes that include the domain."),
        ps("plain_password_column", "SER 2.x: column of plain-text passwords."),
        ps("flags_column", "SER 2.x: column of credential flags."),
        ps("rpid_column", "SER 0.9: column of RPID values."),
        pi("calculate_ha1", "Passwords are plain text; compute HA1 on the fly."),
        pi("use_domain", "Match the domain as well as the user name."),
        pi("use_did", "SER 2.x: match the domain id."),
        ps("load_credentials", "Columns loaded into AVPs after a successful check."),
    ],
    functions: &[
        f("www_authorize", &[&[S, T]], RQ, "Check the Authorization credentials against the table (SER 0.9, Kamailio)."),
        f("proxy_authorize", &[&[S, T]], RQ, "Check the Proxy-Authorization credentials against the table."),
        f("www_authenticate", &[&[V, T]], RQ, "SER 2.x: check Authorization credentials; the script builds the challenge."),
        f("proxy_authenticate", &[&[V, T]], RQ, "SER 2.x: check Proxy-Authorization credentials."),
    ],
};

#[rustfmt::skip]
const URI: ModuleSig = ModuleSig {
    name: "uri",
    aliases: &[],
    doc: "SER 0.9 URI tests (merged into siputils in Kamailio).",
    params: &[],
    functions: &[
        f("has_totag", NONE, RFOB, "True if the To header has a tag (an in-dialog request)."),
        f("is_user", &[&[S]], RQ, "True if the authenticated user is the given one."),
        f("uri_param", &[&[S], &[S, S]], RQ, "True if the Request-URI has the parameter (with the value)."),
        f("add_uri_param", &[&[S]], RQ, "Add a parameter to the Request-URI."),
        f("tel2sip", NONE, RFB, "Turn a tel: Request-URI into a sip: URI."),
    ],
};

#[rustfmt::skip]
const URI_DB: ModuleSig = ModuleSig {
    name: "uri_db",
    aliases: &[],
    doc: "URI checks against the database (To/From vs. digest user; SER 2.x uid lookup).",
    params: &[
        ps("db_url", "Database URL."),
        ps("uri_table", "Table of URI aliases."),
        ps("uri_user_column", "Column name."),
        ps("uri_domain_column", "Column name."),
        ps("uri_uriuser_column", "Column name."),
        ps("subscriber_table", "Table of subscribers."),
        ps("subscriber_user_column", "Column name."),
        ps("subscriber_domain_column", "Column name."),
        pi("use_uri_table", "Check against the uri table instead of subscriber."),
        pi("use_domain", "Compare domains as well."),
        ps("uid_column", "SER 2.x: column name."),
        ps("did_column", "SER 2.x: column name."),
        ps("username_column", "SER 2.x: column name."),
        ps("flags_column", "SER 2.x: column name."),
        ps("scheme_column", "SER 2.x: column name."),
    ],
    functions: &[
        f("check_to", NONE, RQ, "True if the To user equals the digest user name."),
        f("check_from", NONE, RQ, "True if the From user equals the digest user name."),
        f("does_uri_exist", NONE, RQ, "True if the Request-URI is a known user."),
        f("lookup_user", &[&[S], &[V, V]], RF, "SER 2.x: find the uid of a URI and store it in an AVP."),
        f("check_uri", &[&[S]], RF, "SER 2.x: true if the URI belongs to the authenticated user."),
    ],
};

#[rustfmt::skip]
const SIPUTILS: ModuleSig = ModuleSig {
    name: "siputils",
    aliases: &[],
    doc: "Kamailio SIP utilities (includes the former uri module's tests).",
    params: &[
        ps("options_accept", "Accept header of `options_reply`."),
        ps("options_accept_encoding", "Accept-Encoding header of `options_reply`."),
        ps("options_accept_language", "Accept-Language header of `options_reply`."),
        ps("options_support", "Supported header of `options_reply`."),
        ps("rpid_prefix", "Text before the RPID value."),
        ps("rpid_suffix", "Text after the RPID value."),
        ps("rpid_avp", "AVP that holds the RPID."),
        ps("contact_flds_separator", "Separator used by `encode_contact`."),
    ],
    functions: &[
        f("has_totag", NONE, ANY, "True if the To header has a tag (an in-dialog request)."),
        f("is_user", &[&[S]], RFOB, "True if the authenticated user is the given one."),
        f("uri_param", &[&[S], &[S, S]], RFB, "True if the Request-URI has the parameter (with the value)."),
        f("add_uri_param", &[&[S]], RQ, "Add a parameter to the Request-URI."),
        f("tel2sip", NONE, RFB, "Turn a tel: Request-URI into a sip: URI."),
        f("is_e164", &[&[V]], RFB, "True if the value is an E.164 number."),
        f("is_uri_user_e164", &[&[V]], RFB, "True if the URI's user is an E.164 number."),
        f("encode_contact", &[&[S, S]], RO, "Encode the Contact into a URI of this proxy."),
        f("decode_contact", NONE, RQ, "Decode a Contact encoded by `encode_contact`."),
        f("decode_contact_header", NONE, RO, "Decode the Contact header encoded by `encode_contact`."),
        f("cmp_uri", &[&[S, S]], ANY, "True if two URIs are equal per RFC 3261."),
        f("cmp_aor", &[&[S, S]], ANY, "True if two addresses of record are equal."),
        f("options_reply", NONE, RQ, "Answer an OPTIONS request to the server with 200."),
        f("is_rpid_user_e164", NONE, RQ, "True if the RPID user is an E.164 number."),
        f("append_rpid_hf", &[&[], &[S, S]], RFB, "Add a Remote-Party-ID header from the RPID AVP."),
    ],
};

#[rustfmt::skip]
const TEXTOPS: ModuleSig = ModuleSig {
    name: "textops",
    aliases: &[],
    doc: "Text operations on the message: search, replace, add and remove header fields.",
    params: &[],
    functions: &[
        f("search", &[&[RE]], RFOB, "True if the regex matches the message (start line, headers and body; `^`/`$` at every line)."),
        f("search_body", &[&[RE]], RFOB, "True if the regex matches the body."),
        f("search_append", &[&[RE, S]], RFOB, "Insert text after the first match."),
        f("search_append_body", &[&[RE, S]], RFOB, "Insert text after the first match in the body."),
        f("replace", &[&[RE, S]], RFOB, "Replace the first match."),
        f("replace_body", &[&[RE, S]], RFOB, "Replace the first match in the body."),
        f("replace_all", &[&[RE, S]], RFOB, "Replace every match."),
        f("replace_body_all", &[&[RE, S]], RFOB, "Replace every match in the body."),
        f("replace_body_atonce", &[&[RE, S]], RFOB, "Replace every match in the body, the body as one string."),
        f("subst", &[&[S]], RFOB, "sed-like `/re/replacement/flags` on the headers."),
        f("subst_uri", &[&[S]], RFOB, "sed-like substitution on the Request-URI."),
        f("subst_user", &[&[S]], RFOB, "sed-like substitution on the Request-URI user."),
        f("subst_body", &[&[S]], RFOB, "sed-like substitution on the body."),
        f("filter_body", &[&[S]], RFOB, "Keep only the body part of this content type."),
        f("append_to_reply", &[&[FM]], RFB, "Add a header field to the next locally generated reply."),
        f("append_hf", &[&[FM], &[FM, H]], RFOB, "Append a header field (optionally after the named one)."),
        f("insert_hf", &[&[FM], &[FM, H]], RFOB, "Insert a header field first (optionally before the named one)."),
        f("append_urihf", &[&[S, S]], RFB, "Append a header field holding the Request-URI between prefix and suffix."),
        f("remove_hf", &[&[H]], RFOB, "Remove every header field of this name."),
        f("remove_hf_re", &[&[RE]], RFOB, "Remove header fields whose name matches the regex."),
        f("is_present_hf", &[&[H]], RFOB, "True if a header field of this name exists."),
        f("is_present_hf_re", &[&[RE]], RFOB, "True if a header field name matches the regex."),
        f("append_time", NONE, RFB, "Add a Date header field."),
        f("set_body", &[&[S, S]], RFOB, "Replace the body and its content type."),
        f("set_reply_body", &[&[S, S]], RFB, "Body and content type of the next local reply."),
        f("is_method", &[&[S]], RFOB, "True if the method is one of `A|B|C`."),
        f("has_body", &[&[], &[S]], RFOB, "True if the message has a body (of this content type)."),
        f("is_privacy", &[&[S]], RFOB, "True if the Privacy header has this value."),
        f("cmp_str", &[&[S, S]], RFOB, "Compare two strings."),
        f("cmp_istr", &[&[S, S]], RFOB, "Compare two strings ignoring case."),
        f("starts_with", &[&[S, S]], RFOB, "True if the first string starts with the second."),
        f("msg_apply_changes", NONE, RQ, "Apply the changes made so far to the message buffer."),
    ],
};

#[rustfmt::skip]
const XLOG: ModuleSig = ModuleSig {
    name: "xlog",
    aliases: &[],
    doc: "Formatted logging with variables.",
    params: &[
        pi("buf_size", "Size of the formatting buffer."),
        pi("force_color", "Colour the output even when not on a terminal."),
        pi("long_format", "Prefix messages with file and line."),
        ps("prefix", "Text put before each message."),
    ],
    functions: &[
        f("xlog", &[&[FM], &[S, FM]], ANY, "Log a formatted message, optionally at a level (`L_ERR`, ...)."),
        f("xdbg", &[&[FM]], ANY, "Log a formatted message at debug level."),
        f("xlogl", &[&[FM], &[S, FM]], ANY, "`xlog` with the config line number."),
        f("xdbgl", &[&[FM]], ANY, "`xdbg` with the config line number."),
    ],
};

#[rustfmt::skip]
const CFGUTILS: ModuleSig = ModuleSig {
    name: "cfgutils",
    aliases: &[],
    doc: "Config utilities; here the pauses, which suspend the script without blocking the shard.",
    params: &[],
    functions: &[
        f("sleep", &[&[I]], ANY, "Pause the script for a number of seconds (the shard serves other messages meanwhile)."),
        f("usleep", &[&[I]], ANY, "Pause the script for a number of microseconds."),
    ],
};

#[rustfmt::skip]
const SANITY: ModuleSig = ModuleSig {
    name: "sanity",
    aliases: &[],
    doc: "Structural checks of requests.",
    params: &[
        pi("default_checks", "Bit mask of checks done by `sanity_check()`."),
        pi("uri_checks", "Bit mask of the URIs checked."),
        ps("proxy_require", "Extensions accepted in Proxy-Require."),
        pi("autodrop", "Stop the script when a check fails."),
    ],
    functions: &[f(
        "sanity_check",
        &[&[], &[I], &[I, I]],
        RQ,
        "Check the request's structure (checks mask, URI checks mask); false if malformed.",
    )],
};

#[rustfmt::skip]
const KEX: ModuleSig = ModuleSig {
    name: "kex",
    aliases: &[],
    doc: "Kamailio core extensions: branch and script flags, destination URI, printf.",
    params: &[],
    functions: &[
        f("setbflag", &[&[FL], &[FL, I]], ANY, "Set a branch flag (of branch 0 or the given one)."),
        f("resetbflag", &[&[FL], &[FL, I]], ANY, "Clear a branch flag."),
        f("isbflagset", &[&[FL], &[FL, I]], ANY, "True if a branch flag is set."),
        f("setsflag", &[&[FL]], ANY, "Set a script flag (kept for the whole script run)."),
        f("resetsflag", &[&[FL]], ANY, "Clear a script flag."),
        f("issflagset", &[&[FL]], ANY, "True if a script flag is set."),
        f("km_append_branch", &[&[], &[S]], RF, "Kamailio's `append_branch`."),
        f("setdsturi", &[&[S]], ANY, "Set the destination URI (outbound proxy) of the request."),
        f("resetdsturi", NONE, ANY, "Clear the destination URI."),
        f("isdsturiset", NONE, ANY, "True if a destination URI is set."),
        f("pv_printf", &[&[V, FM]], ANY, "Assign a formatted string to a variable."),
        f("avp_printf", &[&[V, FM]], ANY, "Alias of `pv_printf`."),
    ],
};

#[rustfmt::skip]
const TMX: ModuleSig = ModuleSig {
    name: "tmx",
    aliases: &[],
    doc: "Kamailio tm extensions: management commands, transaction variables, extra functions.",
    params: &[],
    functions: &[
        f("t_cancel_branches", &[&[S]], REPLY, "Cancel `all`, `others` or `this` branches."),
        f("t_cancel_callid", &[&[S, S, I]], ANY, "Cancel the transaction of a Call-ID and CSeq."),
        f("t_reply_callid", &[&[S, S, I, S]], ANY, "Reply to the transaction of a Call-ID and CSeq."),
        f("t_flush_flags", NONE, RFB, "Copy the message flags into the transaction."),
        f("t_is_failure_route", NONE, ANY, "True when running in a failure route."),
        f("t_is_branch_route", NONE, ANY, "True when running in a branch route."),
        f("t_suspend", NONE, RF, "Suspend the transaction."),
        f("t_continue", &[&[I, I, RT]], ANY, "Resume a suspended transaction in a route."),
    ],
};

#[rustfmt::skip]
const PV: ModuleSig = ModuleSig {
    name: "pv",
    aliases: &[],
    doc: "Kamailio pseudo-variables ($var, $shv, $avp, header and message variables).",
    params: &[
        ps("shvset", "Initial value of a shared variable: `name=type:value`."),
        ps("varset", "Initial value of a script variable: `name=type:value`."),
    ],
    functions: &[
        f("pv_isset", &[&[V]], ANY, "True if the variable has a value."),
        f("pv_unset", &[&[V]], ANY, "Remove the variable's value."),
        f("is_int", &[&[V]], ANY, "True if the variable holds an integer."),
    ],
};

#[rustfmt::skip]
const MI_FIFO: ModuleSig = ModuleSig {
    name: "mi_fifo",
    aliases: &[],
    doc: "Kamailio management interface over a FIFO (kamctl).",
    params: &[
        ps("fifo_name", "Path of the FIFO."),
        pi("fifo_mode", "Permissions of the FIFO."),
        ps("fifo_group", "Group of the FIFO."),
        ps("fifo_user", "Owner of the FIFO."),
        ps("reply_dir", "Directory of the reply FIFOs."),
        ps("reply_indent", "Indentation of replies."),
    ],
    functions: &[],
};

#[rustfmt::skip]
const MI_RPC: ModuleSig = ModuleSig {
    name: "mi_rpc",
    aliases: &[],
    doc: "Kamailio: management-interface commands over RPC.",
    params: &[],
    functions: &[],
};

#[rustfmt::skip]
const CTL: ModuleSig = ModuleSig {
    name: "ctl",
    aliases: &[],
    doc: "binrpc control socket for kamcmd/sercmd (docs/control.md); the old FIFO protocol is not built.",
    params: &[
        ps("binrpc", "Listen address: `unix:/path` (also `unixs:`), `unixd:/path`, `tcp:host:port`, `udp:host:port` (repeatable). Default: `unixs:/tmp/ser_ctl` (SER dialects), `unixs:/var/run/kamailio//kamailio_ctl` (Kamailio)."),
        ps("fifo", "FIFO address, `fifo:/tmp/ser_fifo` (repeatable). Accepted, not built: no effect."),
        pi("mode", "Permissions of unix sockets, octal (default 0600)."),
        px("user", "Owner of unix sockets (name or number)."),
        px("group", "Group of unix sockets (name or number)."),
        pi("binrpc_max_body_size", "Largest binrpc reply body over a stream socket, in KB (default 120; kamcmd reads at most 128)."),
        pi("binrpc_struct_max_body_size", "Largest binrpc structure, in KB. Accepted, no effect: no cap per structure."),
    ],
    functions: &[],
};

#[rustfmt::skip]
const CFG_RPC: ModuleSig = ModuleSig {
    name: "cfg_rpc",
    aliases: &[],
    doc: "Read and change run-time configuration variables over RPC.",
    params: &[],
    functions: &[],
};

#[rustfmt::skip]
const XMLRPC: ModuleSig = ModuleSig {
    name: "xmlrpc",
    aliases: &[],
    doc: "RPC over HTTP/XML-RPC on the SIP port.",
    params: &[
        ps("route", "Request route run for XML-RPC requests."),
        pi("autoconversion", "Convert parameter types automatically."),
        pi("escape_cr", "Escape carriage returns in replies."),
        ps("url_skip", "Regular expression of URLs that are not XML-RPC."),
        ps("url_match", "Regular expression of URLs that are XML-RPC."),
        pi("mode", "0: only for requests that reach `dispatch_rpc`; 1: every HTTP request."),
    ],
    functions: &[
        f("dispatch_rpc", NONE, RQ, "Run the RPC method named in the XML-RPC request and reply."),
        f("xmlrpc_reply", &[&[I, S]], RQ, "Send an XML-RPC fault reply."),
    ],
};

#[rustfmt::skip]
const ACC: ModuleSig = ModuleSig {
    name: "acc",
    aliases: &[],
    doc: "Transaction accounting to syslog, database, RADIUS or Diameter.",
    params: &[
        pi("early_media", "Account 183 early media as well."),
        pf("failed_transaction_flag", "Flag: account failed transactions too (Kamailio)."),
        pi("failed_transactions", "SER 0.9: account negative replies too."),
        pi("report_ack", "Account ACKs."),
        pi("report_cancels", "Account CANCELs."),
        pi("detect_direction", "Swap From/To for upstream in-dialog requests."),
        ps("multi_leg_info", "Per-leg values for forwarded calls."),
        pf("log_flag", "Flag: account the transaction to syslog."),
        pf("log_missed_flag", "Flag: report a missed call to syslog."),
        pi("log_level", "Syslog level of records."),
        ps("log_facility", "Syslog facility of records."),
        ps("log_extra", "Extra values logged: `name=$pv;...`."),
        ps("log_fmt", "SER 0.9: which values are logged."),
        pf("db_flag", "Flag: account the transaction to the database."),
        pf("db_missed_flag", "Flag: write a missed call to the database."),
        ps("db_table_acc", "Accounting table."),
        ps("db_table_missed_calls", "Missed-calls table."),
        ps("db_url", "Database URL."),
        ps("db_extra", "Extra columns: `column=$pv;...`."),
        ps("acc_method_column", "Column name."),
        ps("acc_from_tag_column", "Column name."),
        ps("acc_to_tag_column", "Column name."),
        ps("acc_callid_column", "Column name."),
        ps("acc_sip_code_column", "Column name."),
        ps("acc_sip_reason_column", "Column name."),
        ps("acc_time_column", "Column name."),
        ps("radius_config", "RADIUS client configuration file."),
        pf("radius_flag", "Flag: account to RADIUS."),
        pf("radius_missed_flag", "Flag: missed calls to RADIUS."),
        pi("service_type", "RADIUS Service-Type."),
        ps("radius_extra", "Extra RADIUS attributes."),
    ],
    functions: &[
        f("acc_log_request", &[&[S]], RF, "Write an accounting record for the request to syslog now."),
        f("acc_db_request", &[&[S, T]], RF, "Write an accounting record to a database table now."),
        f("acc_rad_request", &[&[S]], RF, "Send an accounting record to RADIUS now."),
        f("acc_diam_request", &[&[S]], RF, "Send an accounting record to Diameter now."),
        f("acc_request", &[&[S]], RF, "SER 0.8: write an accounting record now (missed calls)."),
    ],
};

#[rustfmt::skip]
const ACC_DB: ModuleSig = ModuleSig {
    name: "acc_db",
    aliases: &[],
    doc: "SER 2.x transaction accounting to a database.",
    params: &[
        pi("early_media", "Account 183 early media as well."),
        pi("failed_transactions", "Account negative replies too."),
        pi("report_ack", "Account ACKs."),
        pi("report_cancels", "Account CANCELs."),
        pf("log_flag", "Flag (number or declared name) that marks transactions to account."),
        pf("log_missed_flag", "Flag that marks missed calls."),
        ps("log_fmt", "Which values are written."),
        ps("attrs", "AVPs written with each record."),
        ps("db_url", "Database URL."),
        ps("acc_table", "Accounting table."),
        ps("mc_table", "Missed-calls table."),
    ],
    functions: &[
        f("acc_db_log", &[&[], &[I]], RF, "Write an accounting record now (with a status code)."),
        f("acc_db_missed", &[&[], &[I]], RF, "Write a missed-call record now (with a status code)."),
    ],
};

#[rustfmt::skip]
const AVP: ModuleSig = ModuleSig {
    name: "avp",
    aliases: &[],
    doc: "SER 2.x attribute (AVP) operations.",
    params: &[],
    functions: &[
        f("set_iattr", &[&[V, I]], RFO, "Set an integer AVP."),
        f("set_sattr", &[&[V, S]], RFO, "Set a string AVP."),
        f("set_attr", &[&[V, S]], RFO, "Alias of `set_sattr`."),
        f("print_attr", &[&[V]], RFO, "Log an AVP."),
        f("del_attr", &[&[V]], RFO, "Delete an AVP."),
        f("del_attrs", &[&[S]], RFO, "Delete a group of AVPs."),
        f("subst_attr", &[&[V, S]], RFO, "sed-like substitution on an AVP."),
        f("flags2attr", &[&[V]], RFO, "Store the message flags in an AVP."),
        f("attr2uri", &[&[V], &[V, S]], RF, "Set the Request-URI (or one part of it) from an AVP."),
        f("dump_attrs", &[&[], &[S]], RFO, "Log all AVPs (of a group)."),
        f("attr_equals", &[&[V, S]], RFO, "True if the AVP has this value."),
        f("attr_exists", &[&[V]], RFO, "True if the AVP exists."),
        f("attr_equals_xl", &[&[V, FM]], RFO, "True if the AVP equals the formatted string."),
        f("xlset_attr", &[&[V, FM]], RFO, "Set an AVP from a formatted string."),
        f("xlfix_attr", &[&[V]], RFO, "Expand the format held in an AVP."),
        f("insert_attr_hf", &[&[S], &[S, V]], RF, "Insert a header field from an AVP."),
        f("append_attr_hf", &[&[S], &[S, V]], RF, "Append a header field from an AVP."),
        f("replace_attr_hf", &[&[S], &[S, V]], RF, "Replace (or add) a header field from an AVP."),
        f("attr_destination", &[&[V]], RF, "Set the destination URI from an AVP."),
        f("xlset_destination", &[&[FM]], RF, "Set the destination URI from a formatted string."),
        f("hdr_body2attrs", &[&[S, S]], RF, "Parse a header body into AVPs."),
    ],
};

#[rustfmt::skip]
const AVP_DB: ModuleSig = ModuleSig {
    name: "avp_db",
    aliases: &[],
    doc: "SER 2.x: load user and URI attributes from the database.",
    params: &[
        ps("db_url", "Database URL."),
        ps("user_attrs_table", "Table of user attributes."),
        ps("uri_attrs_table", "Table of URI attributes."),
        ps("uid_column", "Column name."),
        ps("username_column", "Column name."),
        ps("did_column", "Column name."),
        ps("name_column", "Column name."),
        ps("type_column", "Column name."),
        ps("value_column", "Column name."),
        ps("flags_column", "Column name."),
        ps("scheme_column", "Column name."),
        pi("auto_unlock", "Unlock extra attributes automatically."),
    ],
    functions: &[f(
        "load_attrs",
        &[&[S, V]],
        RF,
        "Load the attributes of a user (uid) or URI into an AVP track.",
    )],
};

#[rustfmt::skip]
const GFLAGS: ModuleSig = ModuleSig {
    name: "gflags",
    aliases: &[],
    doc: "Global flags shared by all processes; SER 2.x global attributes.",
    params: &[
        pi("initial", "Initial value of the global flags."),
        ps("db_url", "Database URL (global attributes)."),
        pi("load_global_attrs", "SER 2.x: load global attributes (e.g. `$gw_ip`) at start-up."),
    ],
    functions: &[
        f("set_gflag", &[&[I]], ANY, "Set a global flag."),
        f("reset_gflag", &[&[I]], ANY, "Clear a global flag."),
        f("is_gflag", &[&[I]], ANY, "True if a global flag is set."),
        f("flush_gflags", NONE, ANY, "Write the global flags to the database."),
    ],
};

#[rustfmt::skip]
const DOMAIN: ModuleSig = ModuleSig {
    name: "domain",
    aliases: &[],
    doc: "Local domains from the database (multi-domain).",
    params: &[
        ps("db_url", "Database URL."),
        pi("db_mode", "0 query the database, 1 cache the table."),
        ps("domain_table", "Table of local domains."),
        ps("domain_col", "Column name."),
        ps("did_col", "Column name."),
        ps("flags_col", "Column name."),
        ps("domattr_table", "SER 2.x: table of domain attributes."),
        ps("domattr_did", "SER 2.x: column name."),
        ps("domattr_name", "SER 2.x: column name."),
        ps("domattr_type", "SER 2.x: column name."),
        ps("domattr_value", "SER 2.x: column name."),
        ps("domattr_flags", "SER 2.x: column name."),
        pi("load_domain_attrs", "SER 2.x: load domain attributes."),
        ps("domain_attrs_table", "Kamailio: table of domain attributes."),
        ps("name_col", "Kamailio: column name."),
        ps("type_col", "Kamailio: column name."),
        ps("value_col", "Kamailio: column name."),
        pi("register_myself", "Kamailio: add the local domains to `myself`."),
    ],
    functions: &[
        f("is_from_local", NONE, RFB, "True if the From host is a local domain."),
        f("is_uri_host_local", NONE, RFB, "True if the Request-URI host is a local domain."),
        f("is_domain_local", &[&[V]], RFB, "True if the value is a local domain (Kamailio)."),
        f("is_local", &[&[V]], RFB, "SER 2.x: true if the domain (a string, AVP or select) is local."),
        f("lookup_domain", &[&[V], &[FM, V]], RFB, "Find a domain's id and store it in an AVP (SER 2.x: `$fd.did`/`$td.did`; Kamailio: `$avp(<prefix>did)`)."),
    ],
};

#[rustfmt::skip]
const PERMISSIONS: ModuleSig = ModuleSig {
    name: "permissions",
    aliases: &[],
    doc: "Access control: routing/registration rules files, trusted sources, address table.",
    params: &[
        ps("db_url", "Database URL."),
        pi("db_mode", "0 query the database, 1 cache the tables."),
        ps("trusted_table", "Table of trusted sources."),
        ps("source_col", "Column name."),
        ps("proto_col", "Column name."),
        ps("from_col", "Column name."),
        ps("tag_col", "Column name."),
        ps("default_allow_file", "Default allow rules file."),
        ps("default_deny_file", "Default deny rules file."),
        pi("check_all_branches", "Check every branch, not only the Request-URI."),
        ps("allow_suffix", "Suffix of allow files."),
        ps("deny_suffix", "Suffix of deny files."),
        ps("address_table", "Table of addresses (Kamailio)."),
        ps("grp_col", "Column name."),
        ps("ip_addr_col", "Column name."),
        ps("mask_col", "Column name."),
        ps("port_col", "Column name."),
        ps("peer_tag_avp", "AVP that receives the tag of a trusted peer."),
        pi("peer_tag_mode", "1: every matching trusted row counts and adds its tag (Kamailio)."),
        ps("ruri_col", "Column name (Kamailio)."),
        ps("priority_col", "Column name (Kamailio)."),
        pi("reload_delta", "Least seconds between two `permissions.trustedReload` (Kamailio; 5)."),
        pi("max_subnets", "Largest number of subnets."),
    ],
    functions: &[
        f("allow_routing", &[&[], &[S], &[S, S]], RQ, "True if the routing rules files allow the call."),
        f("allow_register", &[&[S], &[S, S]], RQ, "True if the registration rules allow the REGISTER."),
        f("allow_trusted", &[&[], &[V, V]], RF, "True if the source address (or the given address and protocol) is in the trusted table."),
        f("allow_uri", &[&[S, V]], RQ, "True if the rules allow the URI in the variable."),
        f("allow_address", &[&[I, FM, FM]], ANY, "True if the address and port (text or pseudo-variables) are in the group."),
        f("allow_source_address", &[&[], &[I]], ANY, "True if the source address is in the group (default 1)."),
        f("allow_source_address_group", NONE, ANY, "Find the group of the source address."),
        f("allow_refer_to", &[&[S], &[S, S]], RQ, "True if the rules allow the Refer-To target."),
    ],
};

#[rustfmt::skip]
const AVPOPS: ModuleSig = ModuleSig {
    name: "avpops",
    aliases: &[],
    doc: "AVP operations and database preferences (SER 0.9, Kamailio).",
    params: &[
        ps("avp_url", "SER 0.9: database URL."),
        ps("db_url", "Database URL."),
        ps("avp_table", "Preferences table (`usr_preferences`)."),
        ps("avp_aliases", "Short names for AVPs."),
        pi("use_domain", "Key preferences by user@domain."),
        ps("uuid_column", "Column name."),
        ps("username_column", "Column name."),
        ps("domain_column", "Column name."),
        ps("attribute_column", "Column name."),
        ps("value_column", "Column name."),
        ps("type_column", "Column name."),
        ps("db_scheme", "Named table layouts."),
    ],
    functions: &[
        f("avp_db_load", &[&[V, V], &[V, V, AN]], RF, "Load preferences of a user or URI from the database into AVPs."),
        f("avp_db_store", &[&[V, V], &[V, V, AN]], RF, "Store AVPs as preferences in the database."),
        f("avp_db_delete", &[&[V, V], &[V, V, AN]], RF, "Delete preferences from the database."),
        f("avp_db_query", &[&[S], &[S, V]], RF, "Run an SQL query; the result goes into AVPs."),
        f("avp_write", &[&[AN, V]], RFO, "Write a value into an AVP."),
        f("avp_delete", &[&[V]], RFO, "Delete AVPs."),
        f("avp_pushto", &[&[V, V]], RF, "Write an AVP's value into the Request-URI (or part) or a header."),
        f("avp_check", &[&[V, S]], RFO, "Compare an AVP with a value: `op/value/flags`."),
        f("avp_copy", &[&[V, V]], RFO, "Copy or move an AVP."),
        f("avp_subst", &[&[V, S]], RFO, "sed-like substitution on an AVP."),
        f("avp_op", &[&[V, S]], RFO, "Arithmetic on an AVP."),
        f("is_avp_set", &[&[V]], RFO, "True if the AVP exists."),
        f("avp_print", NONE, RFO, "Log all AVPs."),
        f("avp_printf", &[&[V, FM]], RFO, "Write a formatted string into an AVP."),
    ],
};

#[rustfmt::skip]
const NATHELPER: ModuleSig = ModuleSig {
    name: "nathelper",
    aliases: &[],
    doc: "NAT traversal helpers: detection, Contact/SDP fixing, keep-alives (and rtpproxy control before Kamailio 3.1).",
    params: &[
        pi("natping_interval", "Seconds between keep-alives to NATed contacts (0 off)."),
        pi("ping_nated_only", "Ping only contacts flagged NATed."),
        ps("nortpproxy_str", "SDP line that marks a message already handled."),
        ps("rtpproxy_sock", "Control socket(s) of rtpproxy."),
        pi("rtpproxy_disable", "SER 0.9: never contact rtpproxy."),
        pi("rtpproxy_disable_tout", "Seconds before a failed rtpproxy is tried again."),
        pi("rtpproxy_retr", "Retries of an rtpproxy command."),
        pi("rtpproxy_tout", "Timeout of an rtpproxy command."),
        ps("received_avp", "AVP that carries the received address to registrar."),
        ps("force_socket", "Socket used to send keep-alives."),
        ps("sipping_from", "From URI of SIP OPTIONS keep-alives."),
        ps("sipping_method", "Method of SIP keep-alives."),
        pf("sipping_bflag", "Branch flag of contacts that get SIP keep-alives."),
        pi("natping_processes", "Processes that send keep-alives."),
        ps("natping_socket", "Raw socket address for keep-alives."),
    ],
    functions: &[
        f("fix_nated_contact", &[&[], &[S]], RFOB, "Rewrite the Contact to the source address of the message."),
        f("fix_nated_sdp", &[&[I], &[I, S]], RFOB, "Rewrite the SDP for NAT: 1 add direction:active, 2 rewrite c=, ..."),
        f("nat_uac_test", &[&[I]], RFOB, "True if NAT is detected by the tests in the bit mask."),
        f("fix_nated_register", NONE, RQ, "Record the source address of a REGISTER for `save`."),
        f("add_rcv_param", &[&[], &[I]], RQ, "Add the source address as a received parameter to the Contact."),
        f("force_rtp_proxy", &[&[], &[S], &[S, S]], RFOB, "Relay the media through rtpproxy and rewrite the SDP (flags, IP)."),
        f("unforce_rtp_proxy", NONE, RFOB, "Tear down the rtpproxy session."),
        f("start_recording", NONE, RO, "Ask rtpproxy to record the session."),
        f("set_rtp_proxy_set", &[&[I]], RFOB, "Select the rtpproxy set for the next command."),
    ],
};

#[rustfmt::skip]
const RTPPROXY: ModuleSig = ModuleSig {
    name: "rtpproxy",
    aliases: &[],
    doc: "Kamailio 3.1: rtpproxy control, split out of nathelper.",
    params: &[
        ps("rtpproxy_sock", "Control socket(s) of rtpproxy (`udp:127.0.0.1:7722`)."),
        pi("rtpproxy_disable_tout", "Seconds before a failed rtpproxy is tried again."),
        pi("rtpproxy_tout", "Timeout of an rtpproxy command."),
        pi("rtpproxy_retr", "Retries of an rtpproxy command."),
        ps("nortpproxy_str", "SDP line that marks a message already handled."),
        ps("timeout_socket", "Where rtpproxy reports session timeouts."),
    ],
    functions: &[
        f("force_rtp_proxy", &[&[], &[S], &[S, S]], RFOB, "Relay the media through rtpproxy and rewrite the SDP (flags, IP)."),
        f("unforce_rtp_proxy", NONE, RFOB, "Tear down the rtpproxy session."),
        f("rtpproxy_offer", &[&[], &[S], &[S, S]], RFOB, "Send the SDP offer to rtpproxy."),
        f("rtpproxy_answer", &[&[], &[S], &[S, S]], RFOB, "Send the SDP answer to rtpproxy."),
        f("rtpproxy_destroy", &[&[], &[S]], RFOB, "Tear down the rtpproxy session."),
        f("set_rtp_proxy_set", &[&[I]], RFOB, "Select the rtpproxy set for the next command."),
        f("start_recording", NONE, RO, "Ask rtpproxy to record the session."),
        f("rtpproxy_stream2uac", &[&[S, I]], RFOB, "Play a prompt to the caller."),
        f("rtpproxy_stream2uas", &[&[S, I]], RFOB, "Play a prompt to the callee."),
        f("rtpproxy_stop_stream2uac", NONE, RFOB, "Stop the prompt to the caller."),
        f("rtpproxy_stop_stream2uas", NONE, RFOB, "Stop the prompt to the callee."),
    ],
};

#[rustfmt::skip]
const MEDIAPROXY: ModuleSig = ModuleSig {
    name: "mediaproxy",
    aliases: &[],
    doc: "AG Projects mediaproxy control: NAT tests, Contact fixing, media relay sessions.",
    params: &[
        pi("natping_interval", "Seconds between keep-alives to NATed contacts."),
        ps("mediaproxy_socket", "Unix socket of the mediaproxy dispatcher."),
        ps("sip_asymmetrics", "File of User-Agents asymmetric in SIP."),
        ps("rtp_asymmetrics", "File of User-Agents asymmetric in RTP."),
        pi("disable", "Kamailio: do not contact mediaproxy."),
        pi("mediaproxy_timeout", "Kamailio: timeout of a dispatcher request (ms)."),
        ps("signaling_ip_avp", "Kamailio: AVP with the signalling IP."),
        ps("media_relay_avp", "Kamailio: AVP with the media relay to use."),
        ps("ice_candidate", "Kamailio: ICE candidate mode."),
        ps("ice_candidate_avp", "Kamailio: AVP with the ICE candidate mode."),
    ],
    functions: &[
        f("client_nat_test", &[&[I]], RFOB, "True if NAT is detected: 1 private Contact, 2 source differs from Via, 4 private Via."),
        f("fix_contact", NONE, RFOB, "Rewrite a private Contact to the source address."),
        f("use_media_proxy", NONE, RFOB, "Create or update the media relay session and rewrite the SDP."),
        f("end_media_session", NONE, RFOB, "Release the media relay session."),
        f("engage_media_proxy", NONE, RQ, "Kamailio: relay the media of the whole dialog automatically."),
    ],
};

#[rustfmt::skip]
const PRESENCE: ModuleSig = ModuleSig {
    name: "presence",
    aliases: &[],
    doc: "Kamailio presence server: PUBLISH and SUBSCRIBE handling, NOTIFY.",
    params: &[
        ps("db_url", "Database URL."),
        ps("presentity_table", "Table name."),
        ps("active_watchers_table", "Table name."),
        ps("watchers_table", "Table name."),
        pi("clean_period", "Seconds between clean-ups of expired entries."),
        pi("db_update_period", "Seconds between database synchronisations."),
        pi("waiting_subs_daysno", "Days a pending subscription is kept."),
        ps("to_tag_pref", "Prefix of generated To-tags."),
        pi("expires_offset", "Seconds subtracted from Expires in replies."),
        pi("max_expires", "Longest accepted Expires."),
        ps("server_address", "Contact address of the presence server."),
        pi("subs_htable_size", "Subscription hash table size (power of two)."),
        pi("pres_htable_size", "Presentity hash table size (power of two)."),
        pi("fallback2db", "Look up subscriptions in the database when not in memory."),
        pi("enable_sphere_check", "Honour the sphere element of presence documents."),
        pi("timeout_rm_subs", "Remove subscriptions whose NOTIFY timed out."),
        pi("send_fast_notify", "Send the first NOTIFY right after the 200."),
        pi("db_table_lock_type", "Table locking used for updates."),
    ],
    functions: &[
        f("handle_publish", &[&[], &[S]], RQ, "Handle a PUBLISH (needs a transaction)."),
        f("handle_subscribe", &[&[], &[S]], RQ, "Handle a SUBSCRIBE (needs a transaction)."),
        f("pres_auth_status", &[&[S, S]], RQ, "Authorisation status of a watcher for a presentity."),
        f("pres_refresh_watchers", &[&[S, S, I], &[S, S, I, S]], ANY, "Send NOTIFYs after a change of state."),
        f("pres_update_watchers", &[&[S, S]], ANY, "Re-evaluate the watchers of a presentity."),
    ],
};

#[rustfmt::skip]
const PRESENCE_XML: ModuleSig = ModuleSig {
    name: "presence_xml",
    aliases: &[],
    doc: "Kamailio: XML presence documents (presence, presence.winfo, dialog-info) for `presence`.",
    params: &[
        ps("db_url", "Database URL."),
        ps("xcap_table", "Table of XCAP documents."),
        pi("force_active", "Accept every watcher without an authorisation document."),
        pi("pidf_manipulation", "Apply pidf-manipulation documents."),
        pi("integrated_xcap_server", "The XCAP server shares the database."),
        ps("xcap_server", "Address of an external XCAP server."),
        pi("passive_mode", "Load but do not register the event packages."),
    ],
    functions: &[
        f("pres_check_basic", &[&[S, S]], ANY, "True if the presentity's basic status is the given one."),
        f("pres_check_activities", &[&[S, S]], ANY, "True if the presentity has the given activity."),
    ],
};

#[rustfmt::skip]
const ALIAS_DB: ModuleSig = ModuleSig {
    name: "alias_db",
    aliases: &[],
    doc: "Kamailio: user aliases from a database table.",
    params: &[
        ps("db_url", "Database URL."),
        ps("user_column", "Column name."),
        ps("domain_column", "Column name."),
        ps("alias_user_column", "Column name."),
        ps("alias_domain_column", "Column name."),
        pi("use_domain", "Match the domain as well."),
        ps("domain_prefix", "Prefix removed from domains."),
        pi("append_branches", "Add every match as a branch."),
    ],
    functions: &[f(
        "alias_db_lookup",
        &[&[T], &[T, S]],
        RF,
        "Rewrite the Request-URI if it is an alias in the table.",
    )],
};

#[rustfmt::skip]
const CPL_C: ModuleSig = ModuleSig {
    name: "cpl-c",
    aliases: &[],
    doc: "Call Processing Language (RFC 3880) user scripts.",
    params: &[
        ps("cpl_db", "SER 0.9: database URL."),
        ps("cpl_table", "SER 0.9: table of CPL scripts."),
        ps("db_url", "Database URL."),
        ps("db_table", "Table of CPL scripts."),
        ps("cpl_dtd_file", "DTD that uploaded scripts are validated against."),
        pi("proxy_recurse", "How many redirects a proxy node follows."),
        pi("proxy_route", "Route run before a proxy node forwards."),
        pf("nat_flag", "Flag of NATed contacts."),
        ps("log_dir", "Directory of CPL log files."),
        pi("case_sensitive", "Compare user names case-sensitively."),
        ps("realm_prefix", "Prefix removed from domains."),
        ps("lookup_domain", "usrloc table used by `<lookup>`."),
        pi("lookup_append_branches", "`<lookup>` adds all contacts."),
        ps("timer_avp", "AVP that carries proxy timeouts."),
        ps("username_column", "Column name."),
        ps("domain_column", "Column name."),
        ps("cpl_xml_column", "Column name."),
        ps("cpl_bin_column", "Column name."),
        pi("use_domain", "Key scripts by user@domain."),
    ],
    functions: &[
        f("cpl_run_script", &[&[S, S]], RQ, "Run the user's `incoming`/`outgoing` CPL script (stateless or stateful mode)."),
        f("cpl_process_register", NONE, RQ, "Store or remove a CPL script carried by a REGISTER, and reply."),
        f("cpl_process_register_norpl", NONE, RQ, "`cpl_process_register` without the reply."),
    ],
};

#[rustfmt::skip]
const PRINT: ModuleSig = ModuleSig {
    name: "print",
    aliases: &[],
    doc: "SER 0.8 example module.",
    params: &[
        ps("str_param", "Example string parameter."),
        pi("int_param", "Example integer parameter."),
    ],
    functions: &[f("print", &[&[S]], ANY, "Print the string to stdout.")],
};

#[rustfmt::skip]
const DB_MYSQL: ModuleSig = ModuleSig {
    name: "db_mysql",
    aliases: &["mysql"],
    doc: "MySQL/MariaDB database driver (`mysql` in SER 0.9).",
    params: &[
        pi("ping_interval", "Seconds between connection checks."),
        pi("auto_reconnect", "Reconnect when the connection drops."),
        pi("timeout_interval", "Connect/read/write timeout in seconds."),
        pi("connect_timeout", "SER 2.x: connect timeout."),
        pi("send_timeout", "SER 2.x: write timeout."),
        pi("receive_timeout", "SER 2.x: read timeout."),
        pi("retries", "SER 2.x: retries of a failed query."),
    ],
    functions: &[],
};

#[rustfmt::skip]
const DB_POSTGRES: ModuleSig = ModuleSig {
    name: "db_postgres",
    aliases: &["postgres"],
    doc: "PostgreSQL database driver (`postgres` in SER 0.9).",
    params: &[
        pi("retries", "Retries of a failed query."),
        pi("timeout", "Query timeout in seconds."),
    ],
    functions: &[],
};

#[rustfmt::skip]
const DB_TEXT: ModuleSig = ModuleSig {
    name: "db_text",
    aliases: &["dbtext"],
    doc: "Plain-text files as a database.",
    params: &[
        pi("db_mode", "Write changes to the files at once (1) or on exit (0)."),
        pi("buffer_size", "Read buffer size."),
    ],
    functions: &[],
};

#[rustfmt::skip]
const DB_SQLITE: ModuleSig = ModuleSig {
    name: "db_sqlite",
    aliases: &[],
    doc: "SQLite database driver (this router's embedded default store).",
    params: &[],
    functions: &[],
};

#[rustfmt::skip]
const TLS: ModuleSig = ModuleSig {
    name: "tls",
    aliases: &[],
    doc: "TLS transport.",
    params: &[
        ps("tls_method", "Protocol versions: TLSv1, SSLv23, ..."),
        ps("certificate", "Certificate file."),
        ps("private_key", "Private key file."),
        ps("ca_list", "Trusted CA certificates file."),
        ps("crl", "Certificate revocation list."),
        pi("verify_certificate", "Verify the peer's certificate."),
        pi("verify_depth", "Longest certificate chain."),
        pi("require_certificate", "Require a client certificate."),
        ps("cipher_list", "OpenSSL cipher list."),
        ps("config", "Per-domain TLS configuration file."),
        pi("tls_log", "Log level of TLS messages."),
        pi("session_cache", "Cache TLS sessions."),
        pi("connection_timeout", "Idle timeout of TLS connections."),
    ],
    functions: &[f("is_peer_verified", NONE, RQ, "True if the TLS peer's certificate was verified.")],
};

#[rustfmt::skip]
const GROUP: ModuleSig = ModuleSig {
    name: "group",
    aliases: &[],
    doc: "Group membership checks against a database table.",
    params: &[
        ps("db_url", "Database URL."),
        ps("table", "Table of group memberships."),
        ps("user_column", "Column name."),
        ps("domain_column", "Column name."),
        ps("group_column", "Column name."),
        pi("use_domain", "Match the domain as well."),
    ],
    functions: &[f(
        "is_user_in",
        &[&[S, S]],
        RFB,
        "True if the user (`Request-URI`, `From`, `To`, `Credentials`) is in the group.",
    )],
};

#[rustfmt::skip]
const OPTIONS: ModuleSig = ModuleSig {
    name: "options",
    aliases: &[],
    doc: "Answer OPTIONS requests addressed to the server.",
    params: &[
        ps("accept", "Accept header of the reply."),
        ps("accept_encoding", "Accept-Encoding header of the reply."),
        ps("accept_language", "Accept-Language header of the reply."),
        ps("support", "Supported header of the reply."),
    ],
    functions: &[f("options_reply", NONE, RQ, "Answer an OPTIONS request to the server with 200.")],
};

#[rustfmt::skip]
const SPEEDDIAL: ModuleSig = ModuleSig {
    name: "speeddial",
    aliases: &[],
    doc: "Per-user short numbers from a database table.",
    params: &[
        ps("db_url", "Database URL."),
        ps("user_column", "Column name."),
        ps("domain_column", "Column name."),
        ps("sd_user_column", "Column name."),
        ps("sd_domain_column", "Column name."),
        ps("new_uri_column", "Column name."),
        pi("use_domain", "Match the domain as well."),
        ps("domain_prefix", "Prefix removed from domains."),
    ],
    functions: &[f(
        "sd_lookup",
        &[&[T], &[T, S]],
        RQ,
        "Rewrite the Request-URI if its user is a short number of the caller.",
    )],
};

#[rustfmt::skip]
const ENUM: ModuleSig = ModuleSig {
    name: "enum",
    aliases: &[],
    doc: "ENUM (E.164 to URI) lookups in DNS.",
    params: &[
        ps("domain_suffix", "ENUM tree, `e164.arpa.` by default."),
        ps("tel_uri_params", "Parameters added to tel: URIs."),
        ps("i_enum_suffix", "Infrastructure ENUM tree."),
        ps("branchlabel", "Label of the branch location."),
        ps("bl_algorithm", "Branch location algorithm."),
    ],
    functions: &[
        f("enum_query", &[&[], &[S], &[S, S]], RQ, "Rewrite an E.164 Request-URI from its NAPTR records."),
        f("is_from_user_enum", NONE, RQ, "True if the From user has an ENUM record."),
    ],
};

#[rustfmt::skip]
const LCR: ModuleSig = ModuleSig {
    name: "lcr",
    aliases: &[],
    doc: "Least-cost routing to gateways.",
    params: &[
        ps("db_url", "Database URL."),
        ps("gw_table", "Table of gateways."),
        ps("lcr_table", "Table of routing rules."),
        ps("gw_uri_avp", "AVP of gateway URIs."),
        ps("ruri_user_avp", "AVP of Request-URI users."),
        ps("contact_avp", "AVP of contacts for `load_contacts`."),
    ],
    functions: &[
        f("load_gws", &[&[], &[I]], RQ, "Load the matching gateways, best first."),
        f("next_gw", NONE, RF, "Route to the next gateway."),
        f("from_gw", &[&[], &[I]], ANY, "True if the request comes from a gateway."),
        f("to_gw", &[&[], &[I]], RFB, "True if the Request-URI is a gateway."),
        f("load_contacts", NONE, RQ, "Order the branches by q value for serial forking."),
        f("next_contacts", NONE, RF, "Move to the next q-value group of branches."),
    ],
};

#[rustfmt::skip]
const SST: ModuleSig = ModuleSig {
    name: "sst",
    aliases: &[],
    doc: "SIP session timers (RFC 4028).",
    params: &[
        pi("enable_stats", "Keep statistics."),
        pi("min_se", "Smallest accepted Session-Expires."),
        ps("timeout_avp", "AVP with the session timeout."),
        pi("reject_to_small", "Reply 422 to too small Session-Expires."),
        pf("sst_flag", "Flag that enables session timers for the dialog."),
    ],
    functions: &[f("sstCheckMin", &[&[I]], RQ, "True (and reply 422 if asked) when Session-Expires is below min_se.")],
};

/// Every module the catalogue knows.
pub static MODULES: &[ModuleSig] = &[
    SL,
    TM,
    RR,
    MAXFWD,
    USRLOC,
    REGISTRAR,
    AUTH,
    AUTH_DB,
    URI,
    URI_DB,
    SIPUTILS,
    TEXTOPS,
    XLOG,
    CFGUTILS,
    SANITY,
    KEX,
    TMX,
    PV,
    MI_FIFO,
    MI_RPC,
    CTL,
    CFG_RPC,
    XMLRPC,
    ACC,
    ACC_DB,
    AVP,
    AVP_DB,
    GFLAGS,
    DOMAIN,
    PERMISSIONS,
    AVPOPS,
    NATHELPER,
    RTPPROXY,
    MEDIAPROXY,
    PRESENCE,
    PRESENCE_XML,
    ALIAS_DB,
    CPL_C,
    PRINT,
    DB_MYSQL,
    DB_POSTGRES,
    DB_TEXT,
    DB_SQLITE,
    TLS,
    GROUP,
    OPTIONS,
    SPEEDDIAL,
    ENUM,
    LCR,
    SST,
];

// ----- dialects, aliases, dependencies, special arguments --------------------

/// A set of dialects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dialects(pub u8);

impl Dialects {
    pub const SER08: Dialects = Dialects(1);
    pub const SER09: Dialects = Dialects(2);
    pub const SER2: Dialects = Dialects(4);
    pub const KAMAILIO: Dialects = Dialects(8);
    pub const ALL: Dialects = Dialects(15);

    pub const fn or(self, o: Dialects) -> Dialects {
        Dialects(self.0 | o.0)
    }

    pub fn contains(self, d: Dialect) -> bool {
        self.0 & Dialects::of(d).0 != 0
    }

    pub fn of(d: Dialect) -> Dialects {
        match d {
            Dialect::Ser08 => Dialects::SER08,
            Dialect::Ser09 => Dialects::SER09,
            Dialect::Ser2 => Dialects::SER2,
            Dialect::Kamailio => Dialects::KAMAILIO,
        }
    }

    /// `SER 0.8, SER 0.9`.
    pub fn names(self) -> String {
        Dialect::ALL
            .iter()
            .filter(|d| self.contains(**d))
            .map(|d| d.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

const OLD: Dialects = Dialects(1 | 2 | 4);

/// Functions that exist in some dialects only: (module, function, where).
/// Every function not listed exists in all four.
pub static FUNCTION_DIALECTS: &[(&str, &str, Dialects)] = &[
    (CORE, "len_gt", Dialects::SER08),
    (CORE, "strempty", Dialects::SER2.or(Dialects::KAMAILIO)),
    (CORE, "setavpflag", Dialects::SER2.or(Dialects::KAMAILIO)),
    (CORE, "resetavpflag", Dialects::SER2.or(Dialects::KAMAILIO)),
    (CORE, "isavpflagset", Dialects::SER2.or(Dialects::KAMAILIO)),
    (CORE, "setbflag", Dialects::SER2),
    (CORE, "resetbflag", Dialects::SER2),
    (CORE, "isbflagset", Dialects::SER2),
    ("sl", "sl_filter_ACK", Dialects::SER08),
    ("rr", "rewriteFromRoute", Dialects::SER08),
    ("rr", "addRecordRoute", Dialects::SER08),
    ("nathelper", "force_rtp_proxy", OLD),
    ("nathelper", "unforce_rtp_proxy", OLD),
    ("nathelper", "start_recording", OLD),
    ("nathelper", "set_rtp_proxy_set", OLD),
];

/// Where a function of a module exists.
pub fn function_dialects(module: &str, name: &str) -> Dialects {
    FUNCTION_DIALECTS
        .iter()
        .find(|(m, f, _)| *m == module && *f == name)
        .map_or(Dialects::ALL, |(_, _, d)| *d)
}

/// What to write instead of a function that the dialect does not have.
pub fn replacement_hint(name: &str) -> Option<&'static str> {
    Some(match name {
        "len_gt" => "write `msg:len > N` instead",
        "sl_filter_ACK" => {
            "the sl module filters these ACKs by itself since SER 0.9; remove the call"
        }
        "rewriteFromRoute" => "use `loose_route()`",
        "addRecordRoute" => "use `record_route()`",
        "force_rtp_proxy" | "unforce_rtp_proxy" | "start_recording" | "set_rtp_proxy_set" => {
            "in Kamailio 3.1 it is in module `rtpproxy`"
        }
        "setbflag" | "resetbflag" | "isbflagset" => "in Kamailio it is in module `kex`",
        _ => return None,
    })
}

/// Alternative names: (module, alias, canonical name).
pub static FUNCTION_ALIASES: &[(&str, &str, &str)] = &[
    (CORE, "seturi", "rewriteuri"),
    (CORE, "sethost", "rewritehost"),
    (CORE, "seth", "rewritehost"),
    (CORE, "sethostport", "rewritehostport"),
    (CORE, "sethp", "rewritehostport"),
    (CORE, "setport", "rewriteport"),
    (CORE, "setp", "rewriteport"),
    (CORE, "setuser", "rewriteuser"),
    (CORE, "setu", "rewriteuser"),
    (CORE, "setuserpass", "rewriteuserpass"),
    (CORE, "setup", "rewriteuserpass"),
    (CORE, "add_rport", "force_rport"),
    (CORE, "add_tcp_alias", "force_tcp_alias"),
    ("sl", "sl_reply", "sl_send_reply"),
    ("registrar", "save_contacts", "save"),
    ("registrar", "save_contacts_noreply", "save_noreply"),
    ("registrar", "lookup_contacts", "lookup"),
    ("rr", "addRecordRoute", "record_route"),
    ("kex", "avp_printf", "pv_printf"),
    ("avp", "set_attr", "set_sattr"),
    ("tm", "t_write_fifo", "t_write_req"),
];

/// The canonical name of a function (aliases resolved): `sethost` gives
/// `rewritehost`; a name that is no alias is returned as it is.
pub fn canonical_function<'a>(module: &str, name: &'a str) -> &'a str {
    FUNCTION_ALIASES
        .iter()
        .find(|(m, a, _)| *m == module && *a == name)
        .map_or(name, |(_, _, c)| c)
}

/// Modules that must be loaded for a module to work: (module, needs).
pub static MODULE_DEPENDENCIES: &[(&str, &[&str])] = &[
    ("registrar", &["usrloc"]),
    ("auth_db", &["auth"]),
    ("tmx", &["tm"]),
    ("acc", &["tm"]),
    ("acc_db", &["tm"]),
    ("presence_xml", &["presence"]),
    ("presence", &["tm", "sl"]),
    ("cpl-c", &["tm", "usrloc"]),
];

/// The kind of route a [`ArgKind::Route`] argument of this function names.
pub fn route_arg_kind(function: &str) -> RouteKind {
    match function {
        "t_on_failure" => RouteKind::Failure,
        "t_on_reply" => RouteKind::OnReply,
        "t_on_branch" => RouteKind::Branch,
        _ => RouteKind::Request,
    }
}

/// Module parameters whose value names a route: (module, param, kind).
pub static ROUTE_PARAMS: &[(&str, &str, RouteKind)] = &[
    ("xmlrpc", "route", RouteKind::Request),
    ("tm", "on_sl_reply", RouteKind::OnReply),
];

/// Module parameters whose value is a regular expression.
pub static REGEX_PARAMS: &[(&str, &str)] = &[
    ("rr", "cookie_filter"),
    ("xmlrpc", "url_skip"),
    ("xmlrpc", "url_match"),
];

// ----- core parameters -------------------------------------------------------

/// The type of a core parameter's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoreParamKind {
    /// A number (`yes`/`no` count as 1/0, as in SER's lexer).
    Int,
    /// `yes`/`no` (also `on`/`off`, `true`/`false`, 1/0).
    Bool,
    /// A quoted string.
    Str,
    /// A bare word or a string: `tcp_poll_method=epoll_lt`, `tls_method=TLSv1`.
    Word,
    /// A user or group: name (bare or quoted) or number.
    Id,
    /// `[proto:]host[:port]`, an interface name, or a list of them.
    Address,
    /// A syslog facility: `LOG_LOCAL0`..`LOG_LOCAL7`, `LOG_DAEMON`, ...
    Facility,
}

impl CoreParamKind {
    /// What the value should look like, for messages and the docs.
    pub fn expected(self) -> &'static str {
        match self {
            CoreParamKind::Int => "a number",
            CoreParamKind::Bool => "yes or no",
            CoreParamKind::Str => "a quoted string",
            CoreParamKind::Word => "a word or a quoted string",
            CoreParamKind::Id => "a name or a number",
            CoreParamKind::Address => "an address `[proto:]host[:port]`",
            CoreParamKind::Facility => "a syslog facility such as LOG_LOCAL0",
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct CoreParamSig {
    pub name: &'static str,
    /// Other spellings SER or Kamailio accept.
    pub aliases: &'static [&'static str],
    pub kind: CoreParamKind,
    pub doc: &'static str,
}

const fn cp(
    name: &'static str,
    aliases: &'static [&'static str],
    kind: CoreParamKind,
    doc: &'static str,
) -> CoreParamSig {
    CoreParamSig {
        name,
        aliases,
        kind,
        doc,
    }
}

use CoreParamKind as K;

/// The global (core) parameters, `name = value`. `loadpath`/`mpath` are
/// parsed as their own items and are not listed.
#[rustfmt::skip]
pub static CORE_PARAMS: &[CoreParamSig] = &[
    cp("debug", &["log_level"], K::Int, "Log verbosity (command line `-d`)."),
    cp("fork", &[], K::Bool, "Run in the background (`no`: foreground, like `-D`)."),
    cp("log_stderror", &[], K::Bool, "Log to stderr instead of syslog (`-E`)."),
    cp("log_facility", &[], K::Facility, "Syslog facility."),
    cp("log_name", &[], K::Str, "Program name in syslog lines."),
    cp("listen", &[], K::Address, "Address to listen on, `[proto:]addr[:port]` (repeatable; `-l`)."),
    cp("port", &[], K::Int, "Default SIP port (`-p`)."),
    cp("children", &[], K::Int, "Worker processes per socket; here the number of shards (`-n`)."),
    cp("alias", &[], K::Address, "Another name of this server, matched by `myself`."),
    cp("auto_aliases", &[], K::Bool, "Add the reverse-DNS names of the listen addresses as aliases."),
    cp("dns", &[], K::Bool, "Check the Via host with DNS before adding `received=` (`-r`)."),
    cp("rev_dns", &[], K::Bool, "The same with reverse DNS (`-R`)."),
    cp("dns_try_ipv6", &[], K::Bool, "Also look up AAAA records."),
    cp("dns_try_naptr", &[], K::Bool, "Use NAPTR records."),
    cp("dns_retr_time", &[], K::Int, "Seconds before a DNS query is retried."),
    cp("dns_retr_no", &[], K::Int, "DNS query retries."),
    cp("dns_servers_no", &[], K::Int, "How many name servers are used."),
    cp("dns_use_search_list", &[], K::Bool, "Use the resolver's search list."),
    cp("use_dns_cache", &[], K::Bool, "Cache DNS answers internally."),
    cp("use_dns_failover", &[], K::Bool, "Try the next DNS target when sending fails."),
    cp("fifo", &[], K::Str, "SER 0.8/0.9: path of the management FIFO."),
    cp("fifo_dir", &[], K::Str, "SER 0.9: directory of FIFO reply pipes."),
    cp("fifo_db_url", &[], K::Str, "SER 0.9: database URL for FIFO commands (serctl)."),
    cp("sock_mode", &["fifo_mode", "file_mode"], K::Int, "Permissions of the FIFO and unix sockets."),
    cp("sock_user", &["fifo_user"], K::Id, "Owner of the FIFO and unix sockets."),
    cp("sock_group", &["fifo_group"], K::Id, "Group of the FIFO and unix sockets."),
    cp("unix_sock", &[], K::Str, "SER 0.9: path of the unix-socket management interface."),
    cp("unix_sock_children", &[], K::Int, "SER 0.9: processes serving the unix socket."),
    cp("unix_tx_timeout", &[], K::Int, "SER 0.9: send timeout of the unix socket."),
    cp("check_via", &[], K::Bool, "Check the Via host of replies (`-v`)."),
    cp("syn_branch", &[], K::Bool, "Use synonymous (stateless) Via branches."),
    cp("memlog", &["mem_log"], K::Int, "Log level of memory statistics."),
    cp("memdbg", &["mem_dbg"], K::Int, "Log level of memory debugging."),
    cp("sip_warning", &[], K::Bool, "Add a debugging Warning header to replies."),
    cp("server_signature", &[], K::Bool, "Add a Server header to local replies."),
    cp("server_header", &[], K::Str, "The Server header of local replies."),
    cp("user_agent_header", &[], K::Str, "The User-Agent header of local requests."),
    cp("reply_to_via", &[], K::Bool, "Send replies to the Via address, not the source."),
    cp("user", &["uid"], K::Id, "Switch to this user after start-up (`-u`)."),
    cp("group", &["gid"], K::Id, "Switch to this group after start-up (`-g`)."),
    cp("chroot", &[], K::Str, "Change root directory (`-t`)."),
    cp("workdir", &["wdir"], K::Str, "Working directory (`-w`)."),
    cp("mhomed", &[], K::Bool, "Pick the outgoing interface per destination (multihomed hosts)."),
    cp("disable_tcp", &[], K::Bool, "Do not use TCP (`-T`)."),
    cp("tcp_children", &[], K::Int, "TCP worker processes (`-N`)."),
    cp("tcp_accept_aliases", &[], K::Bool, "Honour the Via `alias` parameter (reuse connections)."),
    cp("tcp_send_timeout", &[], K::Int, "TCP send timeout."),
    cp("tcp_connect_timeout", &[], K::Int, "TCP connect timeout."),
    cp("tcp_connection_lifetime", &[], K::Int, "Idle lifetime of TCP connections."),
    cp("tcp_poll_method", &[], K::Word, "Poll method of the TCP processes."),
    cp("tcp_max_connections", &[], K::Int, "Most TCP connections."),
    cp("tcp_async", &[], K::Bool, "Send on TCP without blocking."),
    cp("enable_tls", &[], K::Bool, "Listen on TLS too."),
    cp("disable_tls", &[], K::Bool, "Do not use TLS."),
    cp("tls_port_no", &[], K::Int, "Default TLS port."),
    cp("tls_method", &[], K::Word, "SER 0.9: TLS protocol version."),
    cp("tls_verify", &[], K::Bool, "SER 0.9: verify peer certificates."),
    cp("tls_require_certificate", &[], K::Bool, "SER 0.9: require client certificates."),
    cp("tls_certificate", &[], K::Str, "SER 0.9: certificate file."),
    cp("tls_private_key", &[], K::Str, "SER 0.9: private key file."),
    cp("tls_ca_list", &[], K::Str, "SER 0.9: trusted CA file."),
    cp("tls_log", &["tlslog"], K::Int, "SER 0.9: TLS log level."),
    cp("tls_handshake_timeout", &[], K::Int, "SER 0.9: TLS handshake timeout."),
    cp("tls_send_timeout", &[], K::Int, "SER 0.9: TLS send timeout."),
    cp("disable_sctp", &[], K::Bool, "Do not use SCTP (`-S`)."),
    cp("sctp_children", &[], K::Int, "SCTP worker processes (`-Q`)."),
    cp("advertised_address", &[], K::Address, "Address written into Via and Record-Route instead of the socket's."),
    cp("advertised_port", &[], K::Int, "Port written into Via and Record-Route instead of the socket's."),
    cp("disable_core_dump", &["disable_core"], K::Bool, "Do not write core files."),
    cp("open_files_limit", &["open_fd_limit"], K::Int, "Raise the open file descriptors limit."),
    cp("mcast_loopback", &[], K::Bool, "Loop multicast messages back."),
    cp("mcast_ttl", &[], K::Int, "TTL of multicast messages."),
    cp("tos", &[], K::Int, "IP TOS of sent packets."),
    cp("maxbuffer", &[], K::Int, "Largest receive buffer tried at start-up (`-b`)."),
    cp("statistics", &[], K::Str, "SER 0.9: statistics file."),
    cp("max_while_loops", &[], K::Int, "Most iterations of a `while` loop."),
    cp("phone2tel", &[], K::Int, "Treat `user=phone` SIP URIs as tel: URIs."),
    cp("onsend_route_reply", &[], K::Bool, "Run onsend_route for replies too."),
    cp("mlock_pages", &[], K::Bool, "Lock shared memory in RAM."),
    cp("shm_force_alloc", &[], K::Bool, "Touch all shared memory at start-up."),
    cp("real_time", &[], K::Int, "Real-time scheduling of some processes."),
    cp("rt_prio", &[], K::Int, "Real-time priority."),
    cp("server_id", &[], K::Int, "Numeric id of this server (clusters)."),
    cp("dst_blacklist_init", &[], K::Bool, "Use the destination blacklist."),
    cp("pmtu_discovery", &[], K::Int, "Path MTU discovery (sets DF)."),
];

/// A core parameter by name or alias.
pub fn core_param(name: &str) -> Option<&'static CoreParamSig> {
    CORE_PARAMS
        .iter()
        .find(|p| p.name == name || p.aliases.contains(&name))
}

// ----- lookups ---------------------------------------------------------------

/// The module a `loadmodule` string names: `"/usr/local/lib/ser/modules/sl.so"`,
/// `"sl.so"` and `"sl"` all name `sl`; aliases resolve to the canonical
/// module.
pub fn module_for_path(path: &str) -> Option<&'static ModuleSig> {
    let file = path.rsplit('/').next().unwrap_or(path);
    let base = file.strip_suffix(".so").unwrap_or(file);
    MODULES
        .iter()
        .find(|m| m.name == base || m.aliases.contains(&base))
}

/// A module by canonical name or alias.
pub fn module(name: &str) -> Option<&'static ModuleSig> {
    MODULES
        .iter()
        .find(|m| m.name == name || m.aliases.contains(&name))
}

/// Resolves a function call: the core first, then the loaded modules in
/// load order. Returns the providing module's canonical name (or [`CORE`])
/// and the signature. Arity is not checked here (see `check`).
pub fn resolve_function(
    loaded: &[&'static ModuleSig],
    name: &str,
) -> Option<(&'static str, &'static FnSig)> {
    if let Some(f) = CORE_FUNCTIONS.iter().find(|f| f.name == name) {
        return Some((CORE, f));
    }
    loaded.iter().find_map(|m| {
        m.functions
            .iter()
            .find(|f| f.name == name)
            .map(|f| (m.name, f))
    })
}

/// Modules that provide a function of this name, loaded or not (for "did
/// you forget `loadmodule "x"`?" hints).
pub fn providers(name: &str) -> impl Iterator<Item = &'static ModuleSig> + '_ {
    MODULES
        .iter()
        .filter(move |m| m.functions.iter().any(|f| f.name == name))
}

/// How a name resolves in a dialect (see [`resolve_function_in`]).
#[derive(Clone, Copy, Debug)]
pub enum Resolution {
    /// Provided by this module (or [`CORE`]) in this dialect.
    Found(&'static str, &'static FnSig),
    /// Known here (core or a loaded module), but not in this dialect; the
    /// provider that has it elsewhere.
    NotInDialect(&'static str, &'static FnSig),
    /// Not provided by the core or any loaded module, but by this module.
    NotLoaded(&'static ModuleSig),
    /// No module of the catalogue has it.
    Unknown,
}

/// [`resolve_function`] for a dialect: the core first, then the loaded
/// modules in load order, skipping functions the dialect does not have
/// (SER 2.x's core `setbflag` vs Kamailio's `kex`; nathelper's
/// `force_rtp_proxy` vs Kamailio 3.1's `rtpproxy`).
pub fn resolve_function_in(
    loaded: &[&'static ModuleSig],
    name: &str,
    dialect: Dialect,
) -> Resolution {
    let mut elsewhere = None;
    let core = CORE_FUNCTIONS
        .iter()
        .find(|f| f.name == name)
        .map(|f| (CORE, f));
    let modules = loaded.iter().filter_map(|m| {
        m.functions
            .iter()
            .find(|f| f.name == name)
            .map(|f| (m.name, f))
    });
    for (m, f) in core.into_iter().chain(modules) {
        if function_dialects(m, name).contains(dialect) {
            return Resolution::Found(m, f);
        }
        elsewhere.get_or_insert((m, f));
    }
    let mut providers = providers(name).filter(|m| !loaded.iter().any(|l| l.name == m.name));
    let first = providers.next();
    let in_dialect = first
        .into_iter()
        .chain(providers)
        .find(|m| function_dialects(m.name, name).contains(dialect));
    match (in_dialect.or(first), elsewhere) {
        (Some(m), _) => Resolution::NotLoaded(m),
        (None, Some((m, f))) => Resolution::NotInDialect(m, f),
        (None, None) => Resolution::Unknown,
    }
}

/// The candidate closest to `word` by edit distance, if it is close enough
/// to be a likely typo (at most a third of the word's length, at least 1).
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = edit_distance(&word.to_ascii_lowercase(), &c.to_ascii_lowercase());
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Every function name of the catalogue (core and modules), for hints.
pub fn all_function_names() -> impl Iterator<Item = &'static str> {
    CORE_FUNCTIONS.iter().map(|f| f.name).chain(
        MODULES
            .iter()
            .flat_map(|m| m.functions.iter().map(|f| f.name)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for m in MODULES {
            for n in std::iter::once(m.name).chain(m.aliases.iter().copied()) {
                assert!(seen.insert(n), "module {n} twice");
            }
            let mut f = std::collections::HashSet::new();
            for x in m.functions {
                assert!(f.insert(x.name), "{}.{} twice", m.name, x.name);
                assert!(!x.arities.is_empty(), "{}.{}", m.name, x.name);
            }
            let mut p = std::collections::HashSet::new();
            for x in m.params {
                assert!(p.insert(x.name), "{}.{} twice", m.name, x.name);
            }
        }
        let mut c = std::collections::HashSet::new();
        for x in CORE_PARAMS {
            for n in std::iter::once(x.name).chain(x.aliases.iter().copied()) {
                assert!(c.insert(n), "core param {n} twice");
            }
        }
        let mut c = std::collections::HashSet::new();
        for x in CORE_FUNCTIONS {
            assert!(c.insert(x.name), "core function {} twice", x.name);
        }
    }

    #[test]
    fn side_tables_name_real_entries() {
        let has = |m: &str, f: &str| {
            if m == CORE {
                CORE_FUNCTIONS.iter().any(|x| x.name == f)
            } else {
                module(m).is_some_and(|s| s.functions.iter().any(|x| x.name == f))
            }
        };
        for (m, f, _) in FUNCTION_DIALECTS {
            assert!(has(m, f), "{m}.{f}");
        }
        for (m, a, c) in FUNCTION_ALIASES {
            assert!(has(m, a) && has(m, c), "{m}.{a} -> {c}");
        }
        for (m, deps) in MODULE_DEPENDENCIES {
            assert!(module(m).is_some(), "{m}");
            for d in *deps {
                assert!(module(d).is_some(), "{d}");
            }
        }
        for (m, p, _) in ROUTE_PARAMS {
            assert!(module(m).unwrap().params.iter().any(|x| x.name == *p));
        }
        for (m, p) in REGEX_PARAMS {
            assert!(module(m).unwrap().params.iter().any(|x| x.name == *p));
        }
    }

    #[test]
    fn lookups() {
        assert_eq!(
            module_for_path("/usr/local/lib/ser/modules/mysql.so").map(|m| m.name),
            Some("db_mysql")
        );
        assert_eq!(module_for_path("tm.so").map(|m| m.name), Some("tm"));
        assert_eq!(module_for_path("cpl-c").map(|m| m.name), Some("cpl-c"));
        assert!(module_for_path("nope.so").is_none());
        let sl = module("sl").unwrap();
        assert_eq!(resolve_function(&[sl], "sl_send_reply").unwrap().0, "sl");
        assert_eq!(resolve_function(&[sl], "setflag").unwrap().0, CORE);
        assert_eq!(canonical_function(CORE, "sethost"), "rewritehost");
        assert_eq!(canonical_function(CORE, "strip"), "strip");
        assert_eq!(
            core_param("open_fd_limit").unwrap().name,
            "open_files_limit"
        );
        assert_eq!(
            closest("log_stderr", CORE_PARAMS.iter().map(|p| p.name)),
            Some("log_stderror")
        );
        assert_eq!(closest("zzzz", ["abc"]), None);
    }

    #[test]
    fn dialect_resolution() {
        let kex = module("kex").unwrap();
        let nh = module("nathelper").unwrap();
        let rp = module("rtpproxy").unwrap();
        let name = |r: Resolution| match r {
            Resolution::Found(m, _) => format!("found {m}"),
            Resolution::NotInDialect(m, _) => format!("elsewhere {m}"),
            Resolution::NotLoaded(m) => format!("load {}", m.name),
            Resolution::Unknown => "unknown".into(),
        };
        assert_eq!(
            name(resolve_function_in(&[kex], "setbflag", Dialect::Kamailio)),
            "found kex"
        );
        assert_eq!(
            name(resolve_function_in(&[], "setbflag", Dialect::Ser2)),
            "found core"
        );
        assert_eq!(
            name(resolve_function_in(&[], "setbflag", Dialect::Kamailio)),
            "load kex"
        );
        assert_eq!(
            name(resolve_function_in(
                &[nh, rp],
                "force_rtp_proxy",
                Dialect::Kamailio
            )),
            "found rtpproxy"
        );
        assert_eq!(
            name(resolve_function_in(
                &[nh, rp],
                "force_rtp_proxy",
                Dialect::Ser09
            )),
            "found nathelper"
        );
        assert_eq!(
            name(resolve_function_in(&[], "len_gt", Dialect::Ser09)),
            "elsewhere core"
        );
        assert_eq!(
            name(resolve_function_in(&[], "no_such_fn", Dialect::Ser09)),
            "unknown"
        );
    }
}
