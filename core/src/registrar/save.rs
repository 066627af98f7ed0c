//! `save(table[, flags])`: stores the contacts of a REGISTER (RFC 3261
//! 10.3) and answers it.
//!
//! 1. The AoR is the To URI's ([`super::aor_of`]); none: `400`.
//! 2. `Contact: *` needs `Expires: 0` (else `400`) and removes every
//!    binding of the AoR, unless one of them has the request's Call-ID
//!    with a CSeq not lower than the request's (then `400`, RFC 10.3
//!    step 6).
//! 3. Each contact's expiry is its `expires` parameter, else the Expires
//!    header, else `default_expires`; 0 removes the binding. A non-zero
//!    expiry below `min_expires` fails the whole request with `423
//!    Interval Too Brief` and `Min-Expires`; one above `max_expires`
//!    (when set) is cut to it. A bad `expires` or `q` is `400`.
//! 4. A contact already bound with the same Call-ID and a lower CSeq
//!    fails the request (`400`, RFC 10.3 step 7); the same CSeq within
//!    `cseq_delay` seconds of its last change is a retransmission and the
//!    contact is left as it is; later it fails too.
//! 5. More than `max_contacts` bindings after adding new ones: `503 Too
//!    Many Registered Contacts` (with `Retry-After` when `retry_after` is
//!    set).
//! 6. Path (RFC 3327, `use_path`) is stored with each contact; with
//!    `path_mode=2` a Path without `Supported: path` is `420 Bad
//!    Extension`.
//!
//! The whole request is applied under the AoR's stripe lock, all or
//! nothing. Then `200 OK` lists every binding of the AoR (`Contact:
//! <uri>;expires=N[;q=Q]`, one line each) and the Path when it is echoed.
//! Errors are answered with the code above and a `P-Registrar-Error`
//! header naming the fault (as SER and Kamailio do). The reply goes
//! through `ctx.reply_headers` and [`Action::Reply`]: `save` returns 1
//! after a 200, -1 after an error reply. Flag `0x02` (and the
//! `*_noreply` names) leaves the reply to the script.
//!
//! With usrloc `db_mode` 1 the reply waits for the AoR's bindings to be
//! written to the store (`500` if they cannot be). With `db_mode` 3 the
//! AoR's rows are read from the store first (memory holds them for this
//! request only), and the contacts the request removed or changed are
//! written before the reply; a failed read or write is answered `500`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::script::{Action, Args, Completion, MsgCtx, Offload, Pending, Resume, Ret, level};
use crate::sip::header::HeaderName;
use crate::sip::method::Method;
use crate::stats::{self, Counter};

use super::location::{Binding, BindingText, FL_NAT, HARD_MAX_BINDINGS, now, sort};
use super::{Fetch, Params, aor_of, fetch, persist, table, table_name};

/// `save` flag: do not reply.
pub const FLAG_NO_REPLY: i64 = 0x02;

/// A refused REGISTER.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Reject {
    pub code: u16,
    pub reason: &'static str,
    /// The `P-Registrar-Error` text.
    pub info: &'static str,
    /// Extra header lines (each ending in CRLF).
    pub extra: String,
}

fn reject(code: u16, reason: &'static str, info: &'static str) -> Reject {
    Reject {
        code,
        reason,
        info,
        extra: String::new(),
    }
}

fn bad(info: &'static str) -> Reject {
    reject(400, "Bad Request", info)
}

/// One Contact of the request.
struct NewContact {
    uri: Vec<u8>,
    /// Seconds; 0 removes.
    expires: u32,
    q: Option<u16>,
}

/// What the REGISTER asks, read before taking the lock.
struct Request {
    aor: Vec<u8>,
    star: bool,
    contacts: Vec<NewContact>,
    /// The binding every new contact starts from.
    template: Binding,
    /// Path to echo in the 200.
    echo_path: Option<Vec<u8>>,
}

fn read_request(ctx: &MsgCtx<'_, '_>, p: &Params) -> Result<Request, Reject> {
    let msg = ctx.msg;
    let to = msg.to().map_err(|_| bad("Error while parsing To header"))?;
    let aor = aor_of(&to.uri, p).ok_or_else(|| bad("Error while extracting Address of Record"))?;
    let call_id = msg
        .call_id()
        .map_err(|_| bad("Error while parsing Call-ID header"))?;
    let cseq = msg
        .cseq()
        .map_err(|_| bad("Error while parsing CSeq header"))?
        .num;
    let contacts = msg
        .contacts()
        .map_err(|_| bad("Error while parsing Contact header"))?;
    let hdr_expires = msg
        .expires()
        .map_err(|_| bad("Error while parsing Expires header"))?;
    if contacts.star && hdr_expires != Some(0) {
        return Err(bad("Contact * used with Expires other than 0"));
    }
    let mut list = Vec::with_capacity(contacts.list.len());
    for c in &contacts.list {
        let expires = match c.expires() {
            Some(Ok(e)) => e,
            Some(Err(_)) => return Err(bad("Invalid expires param in contact")),
            None => hdr_expires.unwrap_or(p.default_expires),
        };
        let expires = if expires != 0 && p.min_expires > 0 && expires < p.min_expires {
            return Err(Reject {
                extra: format!("Min-Expires: {}\r\n", p.min_expires),
                ..reject(423, "Interval Too Brief", "Expires too short")
            });
        } else if p.max_expires > 0 && expires > p.max_expires {
            p.max_expires
        } else {
            expires
        };
        let q = match c.q_checked() {
            Some(Ok(q)) => Some(q),
            Some(Err(_)) => return Err(bad("Invalid q param in contact")),
            None => p.default_q,
        };
        list.push(NewContact {
            uri: c.uri.raw.to_vec(),
            expires,
            q,
        });
    }

    let mut path: Option<Box<[u8]>> = None;
    let mut path_dst: Option<&[u8]> = None;
    let mut echo_path = None;
    if p.use_path && msg.header(HeaderName::Path).is_some() {
        let first = msg.paths().map_err(|_| bad("Invalid Path header"))?;
        let supported = msg
            .option_tags(HeaderName::Supported)
            .unwrap_or_default()
            .iter()
            .any(|t| t.eq_ignore_ascii_case(b"path"));
        if p.path_mode == 2 && !supported {
            return Err(Reject {
                extra: "Unsupported: path\r\n".into(),
                ..reject(420, "Bad Extension", "Path header without Supported: path")
            });
        }
        let mut joined = Vec::new();
        for h in msg.headers_named(HeaderName::Path) {
            if !joined.is_empty() {
                joined.push(b',');
            }
            joined.extend_from_slice(msg.value_of(h));
        }
        path_dst = first.first().map(|a| a.uri.raw);
        if p.path_mode > 0 && supported {
            echo_path = Some(joined.clone());
        }
        path = Some(joined.into_boxed_slice());
    }

    let nat = p.nat_flag.is_some_and(|f| ctx.flags & (1u64 << f) != 0)
        || p.nat_bflag.is_some_and(|f| ctx.bflags & (1u64 << f) != 0);
    let text = BindingText {
        contact: b"",
        call_id,
        path: path.as_deref(),
        path_dst,
        user_agent: msg.value(HeaderName::UserAgent),
    };
    let template = Binding {
        cseq,
        received: Some(ctx.src),
        flags: if nat { FL_NAT } else { 0 },
        bflags: ctx.bflags,
        ..Binding::with_text(&text, 0)
    };
    Ok(Request {
        aor,
        star: contacts.star,
        contacts: list,
        template,
        echo_path,
    })
}

/// Applies `req` to the (live, newest first) bindings `list` at `now`;
/// `list` is left unchanged on error.
fn apply(list: &mut Vec<Binding>, req: &Request, p: &Params, now: u64) -> Result<(), Reject> {
    let t = &req.template;
    let same_dialog = |b: &Binding| b.call_id() == t.call_id();
    if req.star {
        if list.iter().any(|b| same_dialog(b) && b.cseq >= t.cseq) {
            return Err(bad("Invalid CSeq number"));
        }
        list.clear();
        return Ok(());
    }
    let mut work = list.clone();
    let mut added = false;
    for c in &req.contacts {
        let pos = work.iter().position(|b| b.contact() == c.uri.as_slice());
        if let Some(b) = pos.and_then(|i| work.get(i))
            && same_dialog(b)
            && t.cseq <= b.cseq
        {
            if t.cseq == b.cseq && b.last_modified.saturating_add(u64::from(p.cseq_delay)) > now {
                continue; // a retransmission
            }
            return Err(bad("Invalid CSeq number"));
        }
        if let Some(i) = pos {
            work.remove(i);
        } else if c.expires != 0 {
            added = true;
        }
        if c.expires != 0 {
            work.insert(
                0,
                Binding {
                    expires: now.saturating_add(u64::from(c.expires)),
                    q: c.q,
                    last_modified: now,
                    ..t.with_contact(&c.uri)
                },
            );
        }
    }
    let max = match p.max_contacts {
        0 => HARD_MAX_BINDINGS,
        m => (m as usize).min(HARD_MAX_BINDINGS),
    };
    if added && work.len() > max {
        let mut r = reject(
            503,
            "Too Many Registered Contacts",
            "Too many registered contacts",
        );
        if p.retry_after > 0 {
            r.extra = format!("Retry-After: {}\r\n", p.retry_after);
        }
        return Err(r);
    }
    *list = work;
    Ok(())
}

/// Appends a header line to the reply headers (after a CRLF if the
/// script's `append_to_reply` text lacks one).
fn push_line(ctx: &mut MsgCtx<'_, '_>, line: &[u8]) {
    let h = &mut ctx.reply_headers;
    if !h.is_empty() && !h.ends_with(b"\n") {
        h.extend_from_slice(b"\r\n");
    }
    h.extend_from_slice(line);
    h.extend_from_slice(b"\r\n");
}

/// Formats a q-value in thousandths (`500` -> `0.5`).
pub(crate) fn q_text(q: u16) -> String {
    if q >= 1000 {
        return "1".into();
    }
    let s = format!("0.{q:03}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `save(table[, flags])` and its names.
pub(crate) fn save(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let flags = args.int(1, ctx).unwrap_or(0);
    save_with(ctx, args, flags & FLAG_NO_REPLY == 0)
}

/// `save_noreply(table[, flags])` and `save_contacts_noreply`.
pub(crate) fn save_noreply(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    save_with(ctx, args, false)
}

fn save_with(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>, reply: bool) -> Ret {
    let (_, fname) = args.function();
    match ctx.msg.method() {
        None | Some(Method::Ack) => {
            ctx.log(
                level::L_ERR,
                &format!("{fname}(): needs a request (not an ACK)"),
            );
            return Ret::Code(-1);
        }
        Some(_) => {}
    }
    let Some(table) = table(ctx, args) else {
        stats::count(Counter::RejectedRegs);
        if reply {
            ctx.actions.push(Action::ReplyError);
        }
        return Ret::Code(-1);
    };
    let config = ctx.config;
    let p = &config.registrar;
    let now = now();
    // db_mode 1 and 3, last run: the store write is over; answer from
    // memory.
    if let Some(slot) = ctx.ul_write.take() {
        if slot.load(Ordering::Acquire) != 1 {
            stats::count(Counter::RejectedRegs);
            ctx.log(
                level::L_ERR,
                &format!("{fname}(): the bindings could not be written to the store; answered 500"),
            );
            if reply {
                ctx.actions.push(Action::Reply {
                    code: 500,
                    reason: b"Server Internal Error".to_vec(),
                });
            }
            return Ret::Code(-1);
        }
        return match read_request(ctx, p) {
            Ok(req) => {
                let mut list = table.get(&req.aor, now, p.order);
                sort(&mut list, p.order);
                if reply {
                    answer_ok(ctx, &list, req.echo_path, now);
                }
                Ret::Code(1)
            }
            Err(_) => Ret::Code(-1),
        };
    }
    let table_name = table_name(ctx, args);
    // db_mode 3: the AoR's bindings are read from the store first (a bad
    // request is answered below without it).
    if let Ok(req) = read_request(ctx, p) {
        match fetch(ctx, fname, &table_name, &table, &req.aor, now) {
            Fetch::Go => {}
            Fetch::Wait(r) => return r,
            Fetch::Failed => {
                stats::count(Counter::RejectedRegs);
                if reply {
                    ctx.actions.push(Action::Reply {
                        code: 500,
                        reason: b"Server Internal Error".to_vec(),
                    });
                }
                return Ret::Code(-1);
            }
        }
    }
    let mut aor_saved: Vec<u8> = Vec::new();
    // The contacts before the request, and those it names (db_mode 3
    // writes only what changed).
    let mut before: Vec<Vec<u8>> = Vec::new();
    let mut named: Vec<Vec<u8>> = Vec::new();
    let result = read_request(ctx, p).and_then(|req| {
        aor_saved = req.aor.clone();
        named = req.contacts.iter().map(|c| c.uri.clone()).collect();
        table
            .update(&req.aor, now, |list| {
                before = list.iter().map(|b| b.contact().to_vec()).collect();
                apply(list, &req, p, now).map(|()| {
                    let mut out = list.clone();
                    sort(&mut out, p.order);
                    out
                })
            })
            .map(|list| (list, req.echo_path))
    });
    match result {
        Ok((bindings, echo_path)) => {
            stats::count(Counter::AcceptedRegs);
            match config.usrloc_db.as_ref().map(|d| (d.clone(), d.mode)) {
                // Write-through: answered once the store has the bindings.
                Some((db, 1)) => {
                    let slot = Arc::new(AtomicU8::new(0));
                    ctx.ul_write = Some(slot.clone());
                    return Ret::Suspend(Pending::Offload(Offload {
                        kind: "usrloc",
                        start: Box::new(move |c: Completion| {
                            // Refused or lost: the second run finds the
                            // slot unset and answers 500.
                            let c = c.or(Resume::Retry);
                            db.write(&table_name, &aor_saved, bindings, move |ok| {
                                slot.store(if ok { 1 } else { 2 }, Ordering::Release);
                                c.done(Resume::Retry);
                            });
                        }),
                    }));
                }
                // Store only: the changed rows, then the answer.
                Some((db, 3)) if persist::persisted(&table_name) => {
                    let removed: Vec<Vec<u8>> = before
                        .into_iter()
                        .filter(|c| !bindings.iter().any(|b| b.contact() == c.as_slice()))
                        .collect();
                    let changed: Vec<_> = bindings
                        .iter()
                        .filter(|b| named.iter().any(|c| c.as_slice() == b.contact()))
                        .cloned()
                        .collect();
                    let slot = Arc::new(AtomicU8::new(0));
                    ctx.ul_write = Some(slot.clone());
                    return Ret::Suspend(Pending::Offload(Offload {
                        kind: "usrloc",
                        start: Box::new(move |c: Completion| {
                            let c = c.or(Resume::Retry);
                            db.write_changes(
                                &table_name,
                                &aor_saved,
                                removed,
                                changed,
                                move |ok| {
                                    slot.store(if ok { 1 } else { 2 }, Ordering::Release);
                                    c.done(Resume::Retry);
                                },
                            );
                        }),
                    }));
                }
                Some((db, 2)) => db.mark(&table_name, &aor_saved),
                Some(_) => {}
                None => {}
            }
            if reply {
                answer_ok(ctx, &bindings, echo_path, now);
            }
            Ret::Code(1)
        }
        Err(r) => {
            stats::count(Counter::RejectedRegs);
            ctx.log(
                level::L_INFO,
                &format!("{fname}(): {} {} ({})", r.code, r.reason, r.info),
            );
            if reply {
                push_line(ctx, format!("P-Registrar-Error: {}", r.info).as_bytes());
                if let Some(extra) = r.extra.strip_suffix("\r\n") {
                    push_line(ctx, extra.as_bytes());
                }
                ctx.actions.push(Action::Reply {
                    code: r.code,
                    reason: r.reason.as_bytes().to_vec(),
                });
            }
            Ret::Code(-1)
        }
    }
}

/// The `200 OK` of a REGISTER: every binding of the AoR, and the Path
/// when it is echoed.
fn answer_ok(ctx: &mut MsgCtx<'_, '_>, bindings: &[Binding], echo_path: Option<Vec<u8>>, now: u64) {
    for b in bindings {
        let mut line = Vec::with_capacity(b.contact().len() + 32);
        line.extend_from_slice(b"Contact: <");
        line.extend_from_slice(b.contact());
        line.extend_from_slice(format!(">;expires={}", b.remaining(now)).as_bytes());
        if let Some(q) = b.q {
            line.extend_from_slice(format!(";q={}", q_text(q)).as_bytes());
        }
        push_line(ctx, &line);
    }
    if let Some(path) = echo_path {
        let mut line = b"Path: ".to_vec();
        line.extend_from_slice(&path);
        push_line(ctx, &line);
    }
    ctx.actions.push(Action::Reply {
        code: 200,
        reason: b"OK".to_vec(),
    });
}

#[cfg(test)]
mod tests {
    use super::q_text;

    #[test]
    fn q_values() {
        assert_eq!(q_text(1000), "1");
        assert_eq!(q_text(500), "0.5");
        assert_eq!(q_text(25), "0.025");
        assert_eq!(q_text(0), "0");
        assert_eq!(q_text(120), "0.12");
    }
}
