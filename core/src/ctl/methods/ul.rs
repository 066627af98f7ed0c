//! `ul.*`: the live location table, as Kamailio's usrloc shows and
//! changes it. Every shard shares the table, so these calls see and change
//! what the registrar and `lookup` use at once.
//!
//! `ul.dump` pages: a reply stays under the socket's size limit (which
//! `kamcmd` can read), and when the table does not fit it ends with
//! `Next: N`; `ul.dump [brief] N` gives the following page. `sercmd`
//! follows the pages by itself.

use std::net::SocketAddr;

use super::{Method, m};
use crate::ctl::binrpc::Writer;
use crate::ctl::rpc::{Call, Fault, RpcResult};
use crate::registrar::location::{self, Binding, BindingText, PERMANENT, Table};

pub const METHODS: &[Method] = &[
    m(
        "ul.dump",
        "Dumps the location tables: ul.dump [brief] [from]; a reply that would not fit ends with `Next: N`, the `from` of the next page.",
        dump,
    ),
    m(
        "ul.lookup",
        "Looks up the live contacts of an AoR: ul.lookup table AoR.",
        lookup,
    ),
    m(
        "ul.add",
        "Adds or updates a contact: ul.add table AoR contact expires q path flags cflags methods [received] [socket].",
        add,
    ),
    m(
        "ul.rm",
        "Removes every contact of an AoR: ul.rm table AoR.",
        rm,
    ),
    m(
        "ul.rm_contact",
        "Removes one contact of an AoR: ul.rm_contact table AoR contact.",
        rm_contact,
    ),
    m(
        "ul.flush",
        "Writes cached changes to the database (nothing to do in memory mode).",
        flush,
    ),
];

/// Call-ID and User-Agent of contacts added over RPC.
const RPC_CALL_ID: &str = "rpc-ul-add@ser";
const RPC_USER_AGENT: &str = "ser SIP Router - RPC Server";

/// Placeholder Kamailio prints for an empty field.
const NOT_SET: &str = "[not set]";

/// The canonical AoR of an RPC argument, as the registrar stores it.
fn aor(c: &Call<'_>, text: &str) -> Result<Vec<u8>, Fault> {
    let p = &c.shared.config.registrar;
    let mut a = text.trim().to_string();
    if p.use_domain {
        if !a.contains('@') {
            return Err(Fault::new(500, "Domain missing in AOR"));
        }
    } else if let Some(at) = a.find('@') {
        a.truncate(at);
    }
    if !p.case_sensitive {
        a.make_ascii_lowercase();
    } else if let Some(at) = a.find('@') {
        let dom = a.split_off(at).to_ascii_lowercase();
        a.push_str(&dom);
    }
    Ok(a.into_bytes())
}

fn table<'c>(c: &'c Call<'_>, i: usize) -> Result<location::TableRef<'c>, Fault> {
    let name = c.params.str(i)?;
    c.shared
        .config
        .location
        .existing(name.as_bytes())
        .ok_or_else(|| Fault::new(500, "Domain table not found"))
}

fn text_or_unset(b: Option<&[u8]>) -> String {
    match b {
        Some(t) if !t.is_empty() => String::from_utf8_lossy(t).into_owned(),
        _ => NOT_SET.to_string(),
    }
}

/// One `Contact: {...}` member, with Kamailio's fields in its order.
fn contact(w: &mut Writer, b: &Binding, now: u64) {
    w.member_struct("Contact");
    w.name("Address").str(b.contact());
    w.name("Expires");
    if b.expires == PERMANENT {
        w.str("permanent");
    } else if b.expires <= now {
        w.str("expired");
    } else {
        w.count(b.expires - now);
    }
    w.name("Q");
    match b.q {
        Some(q) => w.double(f64::from(q) / 1000.0),
        None => w.int(-1),
    };
    w.name("Call-ID").str(b.call_id());
    w.name("CSeq").count(u64::from(b.cseq));
    w.name("User-Agent").str(text_or_unset(b.user_agent()));
    w.name("Received").str(match b.received {
        Some(a) => format!("sip:{a}"),
        None => NOT_SET.to_string(),
    });
    w.name("Path").str(text_or_unset(b.path()));
    w.name("State").str("CS_NEW");
    w.name("Flags").count(u64::from(b.flags));
    w.name("CFlags").count(b.bflags);
    w.name("Socket").str(NOT_SET);
    w.name("Methods").int(-1);
    w.name("Ruid").str(NOT_SET);
    w.name("Instance").str(NOT_SET);
    w.name("Reg-Id").int(0);
    w.name("Server-Id").int(0);
    w.name("Tcpconn-Id").int(-1);
    w.name("Keepalive").int(0);
    w.name("Last-Keepalive").count(b.last_modified);
    w.name("KA-Roundtrip").int(0);
    w.name("Last-Modified").count(b.last_modified);
    w.struct_end();
}

/// Hash of an AoR for the `HashID` field (stable within one run).
fn hash_id(aor: &[u8]) -> u32 {
    aor.iter().fold(2_166_136_261u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(16_777_619)
    }) & 0x7fff_ffff
}

/// AoRs fetched from a table per step of a dump.
const STEP: usize = 512;

fn dump(c: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    let mut brief = false;
    let mut from = 0usize;
    for i in 0..c.params.len() {
        let p = c.params.str(i)?;
        if p.eq_ignore_ascii_case("brief") {
            brief = true;
        } else if let Ok(n) = p.parse::<usize>() {
            from = n;
        } else {
            return Err(Fault::new(
                400,
                format!("ul.dump: unknown parameter `{p}` (expected `brief` or a page start)"),
            ));
        }
    }
    let now = location::now();
    // Room kept for closing the open structs and the `Next` member.
    let limit = c.limit.saturating_sub(64);
    let mut next: Option<usize> = None;
    // Positions run over the tables one after another.
    let mut base = 0usize;
    w.struct_start();
    w.member_struct("Domains");
    for (name, t) in c.shared.config.location.tables() {
        let aors = t.aors();
        if next.is_some() || from >= base + aors || aors == 0 {
            base += aors;
            continue;
        }
        w.member_struct("Domain");
        w.name("Domain").str(&name);
        w.name("Size").count(location::STRIPES as u64);
        w.member_struct("AoRs");
        let mut pos = from.saturating_sub(base);
        'pages: loop {
            let page = t.page(pos, STEP, now);
            let full = page.len() >= STEP;
            for (a, bindings, after) in &page {
                let mark = w.len();
                if brief {
                    w.name("AoR").str(a);
                } else {
                    w.member_struct("Info");
                    w.name("AoR").str(a);
                    w.name("HashID").count(u64::from(hash_id(a)));
                    w.member_struct("Contacts");
                    for b in bindings {
                        contact(w, b, now);
                    }
                    w.struct_end();
                    w.struct_end();
                }
                if w.len() > limit {
                    w.truncate(mark);
                    next = Some(base + after - 1);
                    break 'pages;
                }
                pos = *after;
            }
            if !full {
                break;
            }
        }
        w.struct_end();
        w.member_struct("Stats");
        w.name("Records").count(aors as u64);
        w.name("Max-Slots").count(location::STRIPES as u64);
        w.struct_end();
        w.struct_end();
        base += aors;
    }
    w.struct_end();
    if let Some(n) = next {
        if n <= from {
            return Err(Fault::new(500, "ul.dump: one AoR does not fit in a reply"));
        }
        w.name("Next").count(n as u64);
    }
    w.struct_end();
    Ok(())
}

fn lookup(c: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    if c.params.len() < 2 {
        return Err(Fault::new(
            500,
            "Not enough parameters (table and AOR to lookup)",
        ));
    }
    let t = table(c, 0)?;
    let a = aor(c, &c.params.str(1)?)?;
    let now = location::now();
    let list = live(&t, &a, now);
    if list.is_empty() {
        return Err(Fault::new(500, "AOR not found in location table"));
    }
    w.struct_start();
    w.name("AoR").str(&a);
    w.member_struct("Contacts");
    for b in &list {
        contact(w, b, now);
    }
    w.struct_end();
    w.struct_end();
    Ok(())
}

/// usrloc `db_mode` 1/2/3: the AoR's bindings, as they are now in memory,
/// go to the store (written at once in modes 1 and 3, at the next
/// write-back in mode 2); the reply does not wait for the store. (In mode
/// 3 memory holds what this router last read of the AoR.)
fn persist(c: &Call<'_>, table_name: &str, aor: &[u8]) {
    let Some(db) = &c.shared.config.usrloc_db else {
        return;
    };
    let name = table_name.as_bytes();
    if db.mode != 2 {
        let list = c
            .shared
            .config
            .location
            .existing(name)
            .map(|t| t.get(aor, location::now(), location::Order::Time))
            .unwrap_or_default();
        db.write(name, aor, list, |_| {});
    } else {
        db.mark(name, aor);
    }
}

fn live(t: &Table, aor: &[u8], now: u64) -> Vec<Binding> {
    t.get(aor, now, location::Order::Time)
}

/// `.` and `0` mean "not set" in `ul.add`'s optional text arguments.
fn unset(s: &str) -> bool {
    s.is_empty() || s == "." || s == "0"
}

/// `sip:1.2.3.4:5060`, `udp:1.2.3.4:5060` or `1.2.3.4:5060`.
fn received(s: &str) -> Option<SocketAddr> {
    let t = s
        .trim()
        .trim_start_matches("sip:")
        .trim_start_matches("udp:");
    let t = t.split(';').next().unwrap_or(t);
    t.parse().ok()
}

fn add(c: &mut Call<'_>, _: &mut Writer) -> RpcResult {
    let bad = || Fault::new(500, "Not enough parameters or wrong format");
    if c.params.len() < 9 {
        return Err(bad());
    }
    let t = table(c, 0)?;
    let a = aor(c, &c.params.str(1).map_err(|_| bad())?)?;
    let contact_uri = c.params.str(2).map_err(|_| bad())?;
    let expires = c.params.int(3).map_err(|_| bad())?;
    let q = c.params.double(4).map_err(|_| bad())?;
    let path = c.params.str(5).map_err(|_| bad())?;
    let flags = c.params.int(6).map_err(|_| bad())?;
    let cflags = c.params.int(7).map_err(|_| bad())?;
    let _methods = c.params.int(8).map_err(|_| bad())?;
    let recv = c.params.opt_str(9).map_err(|_| bad())?;
    if contact_uri.is_empty() || expires < 0 || !(0.0..=1.0).contains(&q) && q != -1.0 {
        return Err(bad());
    }
    let received = match recv.as_deref() {
        None => None,
        Some(r) if unset(r) => None,
        Some(r) => Some(received(r).ok_or_else(bad)?),
    };
    let now = location::now();
    let path_set = !unset(&path);
    let text = BindingText {
        contact: contact_uri.as_bytes(),
        call_id: RPC_CALL_ID.as_bytes(),
        path: path_set.then_some(path.as_bytes()),
        path_dst: path_set.then(|| crate::registrar::persist::first_path_uri(&path).as_bytes()),
        user_agent: Some(RPC_USER_AGENT.as_bytes()),
    };
    let mut b = Binding::with_text(
        &text,
        if expires == 0 {
            PERMANENT
        } else {
            now + expires as u64
        },
    );
    b.q = (q >= 0.0).then(|| (q * 1000.0).round() as u16);
    b.cseq = 1;
    b.received = received;
    b.flags = u32::try_from(flags).unwrap_or(0);
    b.bflags = u64::try_from(cflags).unwrap_or(0);
    b.last_modified = now;
    t.insert(&a, b, now);
    persist(c, &c.params.str(0)?, &a);
    Ok(())
}

fn rm(c: &mut Call<'_>, _: &mut Writer) -> RpcResult {
    if c.params.len() < 2 {
        return Err(Fault::new(500, "Not enough parameters (table and AOR)"));
    }
    let t = table(c, 0)?;
    let a = aor(c, &c.params.str(1)?)?;
    t.remove_aor(&a);
    persist(c, &c.params.str(0)?, &a);
    Ok(())
}

fn rm_contact(c: &mut Call<'_>, _: &mut Writer) -> RpcResult {
    if c.params.len() < 3 {
        return Err(Fault::new(
            500,
            "Not enough parameters (table, AOR and contact)",
        ));
    }
    let t = table(c, 0)?;
    let a = aor(c, &c.params.str(1)?)?;
    let uri = c.params.str(2)?;
    let now = location::now();
    #[derive(PartialEq)]
    enum Found {
        NoAor,
        NoContact,
        Removed,
    }
    let found = t.update(&a, now, |list| {
        if list.is_empty() {
            return Found::NoAor;
        }
        let before = list.len();
        list.retain(|b| b.contact() != uri.as_bytes());
        if list.len() == before {
            Found::NoContact
        } else {
            Found::Removed
        }
    });
    match found {
        Found::NoAor => Err(Fault::new(404, "AOR not found")),
        Found::NoContact => Err(Fault::new(404, "Contact not found")),
        Found::Removed => {
            persist(c, &c.params.str(0)?, &a);
            Ok(())
        }
    }
}

fn flush(_: &mut Call<'_>, _: &mut Writer) -> RpcResult {
    Ok(())
}
