//! The `address` table of the `permissions` module (Kamailio's IP
//! authorisation, `WITH_IPAUTH` in its default config):
//! `allow_source_address([group])`, `allow_address(group, ip, port)` and
//! `allow_source_address_group()`.
//!
//! A row says: sources in the network `ip_addr/mask` (`mask` is the
//! prefix length, 32 or 128 for one host), on `port` (0: any port), belong
//! to group `grp`. The table is read with the trusted table (start-up,
//! `permissions.trustedReload` and `permissions.addressReload`) into an
//! immutable [`AddressSet`] the shards read without a lock.
//!
//! `allow_source_address(group)` (group 1 when not given) is true when the
//! request's source address and port match a row of the group;
//! `allow_address(group, ip, port)` checks the given address and port
//! instead; `allow_source_address_group()` returns the group of the first
//! row the source matches (-1 when none). With `peer_tag_avp` set, the
//! matching row's `tag` is added to that AVP, as for `allow_trusted`.
//!
//! Differences from Kamailio: rows are matched in table order for
//! `allow_source_address_group()` (Kamailio looks up single hosts in a hash
//! table first, then subnets); a row that cannot be used (an address that
//! does not parse, a prefix length out of range) is skipped with a log
//! line. An IPv4-mapped IPv6 source is its IPv4 address.

use std::net::IpAddr;

use super::{cell_text, sql_ident};
use crate::script::ctx::{AvpClass, AvpTrackSide, level};
use crate::script::{Args, MsgCtx, Ret, Value};
use crate::store::{Db, DbError};

/// The `address` table's name and columns, quoted for SQL
/// (`address_table`, `grp_col`, `ip_addr_col`, `mask_col`, `port_col`,
/// `tag_col`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressParams {
    pub table: String,
    pub grp_col: String,
    pub ip_col: String,
    pub mask_col: String,
    pub port_col: String,
    pub tag_col: String,
}

impl Default for AddressParams {
    fn default() -> AddressParams {
        let q = |s: &str| format!("\"{s}\"");
        AddressParams {
            table: q("address"),
            grp_col: q("grp"),
            ip_col: q("ip_addr"),
            mask_col: q("mask"),
            port_col: q("port"),
            tag_col: q("tag"),
        }
    }
}

impl AddressParams {
    /// Takes one `modparam("permissions", name, value)` if it is one of
    /// this table's; `Ok(false)` when it is not.
    pub fn take(&mut self, name: &str, value: &str) -> Result<bool, String> {
        let slot = match name {
            "address_table" => &mut self.table,
            "grp_col" => &mut self.grp_col,
            "ip_addr_col" => &mut self.ip_col,
            "mask_col" => &mut self.mask_col,
            "port_col" => &mut self.port_col,
            // `tag_col` is shared with the trusted table and read there.
            _ => return Ok(false),
        };
        *slot = sql_ident(name, value)?;
        Ok(true)
    }
}

/// One usable row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressEntry {
    pub group: u32,
    pub net: IpAddr,
    /// Prefix length.
    pub mask: u8,
    /// 0: any port.
    pub port: u16,
    pub tag: Option<String>,
}

impl AddressEntry {
    fn matches(&self, ip: IpAddr, port: u16) -> bool {
        (self.port == 0 || self.port == port) && in_net(ip, self.net, self.mask)
    }
}

/// Whether `ip` is in `net/mask` (both canonical; different families never
/// match).
fn in_net(ip: IpAddr, net: IpAddr, mask: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let m = u32::MAX
                .checked_shl(32 - u32::from(mask.min(32)))
                .unwrap_or(0);
            u32::from(a) & m == u32::from(n) & m
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let m = u128::MAX
                .checked_shl(128 - u32::from(mask.min(128)))
                .unwrap_or(0);
            u128::from(a) & m == u128::from(n) & m
        }
        _ => false,
    }
}

/// The cached table, in table order.
#[derive(Clone, Debug, Default)]
pub struct AddressSet {
    entries: Vec<AddressEntry>,
}

impl AddressSet {
    pub fn new(entries: Vec<AddressEntry>) -> AddressSet {
        AddressSet { entries }
    }

    /// The first row of `group` (any group when `None`) that `ip:port`
    /// matches.
    pub fn find(&self, group: Option<u32>, ip: IpAddr, port: u16) -> Option<&AddressEntry> {
        let ip = ip.to_canonical();
        self.entries
            .iter()
            .find(|e| group.is_none_or(|g| g == e.group) && e.matches(ip, port))
    }

    pub fn entries(&self) -> &[AddressEntry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Reads the table: the usable rows and a note per row left out.
pub(super) fn query(
    db: &mut Db,
    p: &AddressParams,
    tag_col: &str,
) -> Result<(AddressSet, Vec<String>), DbError> {
    let sql = format!(
        "SELECT {}, {}, {}, {}, {} FROM {}",
        p.grp_col, p.ip_col, p.mask_col, p.port_col, tag_col, p.table
    );
    let mut entries = Vec::new();
    let mut notes = Vec::new();
    for (i, row) in db.query(&sql, &[])?.into_iter().enumerate() {
        let int = |k: usize, default: i64| match row.get(k) {
            None | Some(crate::store::Cell::Null) => Some(default),
            Some(c) => c.as_i64(),
        };
        let parsed = (|| -> Result<AddressEntry, String> {
            let group = int(0, 1)
                .and_then(|g| u32::try_from(g).ok())
                .ok_or("grp is not a group number")?;
            let ip_text = cell_text(row.get(1))?.ok_or("ip_addr is NULL")?;
            let net = ip_text
                .trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .map_err(|_| format!("ip_addr `{}` is not an IP address", ip_text.trim()))?
                .to_canonical();
            let max = if net.is_ipv4() { 32 } else { 128 };
            let mask = int(2, max)
                .and_then(|m| u8::try_from(m).ok())
                .filter(|m| i64::from(*m) <= max)
                .ok_or(format!("mask is not a prefix length 0..{max}"))?;
            let port = int(3, 0)
                .and_then(|p| u16::try_from(p).ok())
                .ok_or("port is not a port number")?;
            Ok(AddressEntry {
                group,
                net,
                mask,
                port,
                tag: cell_text(row.get(4))?,
            })
        })();
        match parsed {
            Ok(e) => entries.push(e),
            Err(e) => notes.push(format!("address row {}: {e}; skipped", i + 1)),
        }
    }
    Ok((AddressSet::new(entries), notes))
}

// ----- script functions -----

/// The module, or the function's false with a log line.
fn module<'c>(ctx: &mut MsgCtx<'c, '_>, fname: &str) -> Result<&'c super::Trusted, Ret> {
    let config: &'c crate::script::Config = ctx.config;
    match config.policy.trusted.as_deref() {
        Some(t) if t.has_db() => Ok(t),
        Some(_) => {
            ctx.log(
                level::L_ERR,
                &format!("{fname}(): the permissions module has no database (db_url)"),
            );
            Err(Ret::Code(-1))
        }
        None => {
            ctx.log(
                level::L_ERR,
                &format!("{fname}(): the permissions module is not loaded"),
            );
            Err(Ret::Code(-1))
        }
    }
}

/// A group argument: a number 0.. (an int, or text holding one).
fn group_arg(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>, i: usize, fname: &str) -> Result<u32, Ret> {
    match args.int(i, ctx).and_then(|g| u32::try_from(g).ok()) {
        Some(g) => Ok(g),
        None => {
            ctx.log(level::L_ERR, &format!("{fname}(): bad group"));
            Err(Ret::Code(-1))
        }
    }
}

/// Adds a matching row's tag to `peer_tag_avp`, when both are set.
fn add_tag(ctx: &mut MsgCtx<'_, '_>, t: &super::Trusted, tag: Option<&str>) {
    if let (Some(name), Some(tag)) = (&t.params().peer_tag_avp, tag) {
        let v = Value::owned(tag.as_bytes().to_vec());
        if !ctx
            .avps
            .add(AvpClass::Uri, AvpTrackSide::From, name.clone(), v)
        {
            ctx.log(level::L_ERR, "permissions: too many AVPs in this message");
        }
    }
}

/// `allow_source_address([group])`.
pub(crate) fn allow_source_address(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    const F: &str = "allow_source_address";
    let t = match module(ctx, F) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let group = if args.is_empty() {
        1
    } else {
        match group_arg(ctx, args, 0, F) {
            Ok(g) => g,
            Err(r) => return r,
        }
    };
    let set = t.addresses();
    match set.find(Some(group), ctx.src.ip(), ctx.src.port()) {
        Some(e) => {
            add_tag(ctx, t, e.tag.as_deref());
            Ret::Code(1)
        }
        None => Ret::Code(-1),
    }
}

/// `allow_address(group, ip, port)`.
pub(crate) fn allow_address(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    const F: &str = "allow_address";
    let t = match module(ctx, F) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let group = match group_arg(ctx, args, 0, F) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let ip_text = args.bytes(1, ctx).unwrap_or_default().into_owned();
    let Some(ip) = std::str::from_utf8(&ip_text).ok().and_then(|s| {
        s.trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .ok()
    }) else {
        ctx.log(level::L_ERR, "allow_address(): not an IP address");
        return Ret::Code(-1);
    };
    let Some(port) = args.int(2, ctx).and_then(|p| u16::try_from(p).ok()) else {
        ctx.log(level::L_ERR, "allow_address(): bad port");
        return Ret::Code(-1);
    };
    let set = t.addresses();
    match set.find(Some(group), ip, port) {
        Some(e) => {
            add_tag(ctx, t, e.tag.as_deref());
            Ret::Code(1)
        }
        None => Ret::Code(-1),
    }
}

/// `allow_source_address_group()`: the group of the first row the source
/// matches, -1 when none. Group 0 is returned as 1: a return code 0 would
/// stop the script.
pub(crate) fn allow_source_address_group(ctx: &mut MsgCtx<'_, '_>, _args: &Args<'_>) -> Ret {
    let t = match module(ctx, "allow_source_address_group") {
        Ok(t) => t,
        Err(r) => return r,
    };
    let set = t.addresses();
    match set.find(None, ctx.src.ip(), ctx.src.port()) {
        Some(e) => Ret::Code(i32::try_from(e.group).unwrap_or(i32::MAX).max(1)),
        None => Ret::Code(-1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(group: u32, net: &str, mask: u8, port: u16) -> AddressEntry {
        AddressEntry {
            group,
            net: net.parse().unwrap(),
            mask,
            port,
            tag: None,
        }
    }

    #[test]
    fn networks_ports_and_groups() {
        let set = AddressSet::new(vec![
            e(1, "192.0.2.10", 32, 0),
            e(2, "198.51.100.0", 24, 5060),
            e(3, "2001:db8::", 32, 0),
            e(4, "0.0.0.0", 0, 0),
        ]);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            set.find(Some(1), ip("192.0.2.10"), 9).map(|e| e.group),
            Some(1)
        );
        assert!(set.find(Some(1), ip("192.0.2.11"), 9).is_none());
        assert!(set.find(Some(2), ip("198.51.100.77"), 5060).is_some());
        assert!(
            set.find(Some(2), ip("198.51.100.77"), 5061).is_none(),
            "port"
        );
        assert!(set.find(Some(2), ip("198.51.101.1"), 5060).is_none());
        assert!(set.find(Some(3), ip("2001:db8:1::5"), 1).is_some());
        assert!(set.find(Some(3), ip("2001:db9::5"), 1).is_none());
        // An IPv4-mapped IPv6 source is its IPv4 address.
        assert!(set.find(Some(1), ip("::ffff:192.0.2.10"), 1).is_some());
        // /0 matches every IPv4 address, no IPv6 one.
        assert!(set.find(Some(4), ip("203.0.113.9"), 1).is_some());
        assert!(set.find(Some(4), ip("2001:db8::1"), 1).is_none());
        // The first row in table order gives the group.
        assert_eq!(
            set.find(None, ip("192.0.2.10"), 1).map(|e| e.group),
            Some(1)
        );
        assert_eq!(
            set.find(None, ip("203.0.113.9"), 1).map(|e| e.group),
            Some(4)
        );
    }
}
