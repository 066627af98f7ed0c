//! Statistics over RPC, with Kamailio's names and shapes: `stats.*` (the
//! kex module), `cnt.*` (counters), `tm.stats` and `sl.stats`. The
//! numbers come from [`crate::stats`]: per-shard counters summed on read.

use super::{Method, m};
use crate::ctl::binrpc::Writer;
use crate::ctl::rpc::{Call, Fault, RpcResult};
use crate::stats;

pub const METHODS: &[Method] = &[
    m(
        "stats.get_statistics",
        "Prints statistics: all, group: (a whole group), or names.",
        get_statistics,
    ),
    m(
        "stats.fetch",
        "Returns statistics as a struct of group.name: value strings: all, group:, or names.",
        fetch,
    ),
    m(
        "stats.fetchn",
        "Returns statistics as a struct of group.name: number: all, group:, or names.",
        fetchn,
    ),
    m(
        "stats.reset_statistics",
        "Resets statistics to zero (gauges keep their value): all, group:, or names.",
        reset_statistics,
    ),
    m(
        "stats.clear_statistics",
        "Resets statistics and prints each one's new (and old) value.",
        clear_statistics,
    ),
    m("cnt.grps_list", "Lists the counter groups.", grps_list),
    m("cnt.list_groups", "Lists the counter groups.", grps_list),
    m(
        "cnt.var_list",
        "Lists the counters of a group: cnt.var_list group.",
        var_list,
    ),
    m(
        "cnt.list_vars",
        "Lists the counters of a group: cnt.list_vars group.",
        var_list,
    ),
    m("cnt.get", "Returns a counter: cnt.get group name.", cnt_get),
    m(
        "cnt.grp_get_all",
        "Returns every counter of a group: cnt.grp_get_all group.",
        grp_get_all,
    ),
    m(
        "cnt.get_vars",
        "Returns every counter of a group: cnt.get_vars group.",
        grp_get_all,
    ),
    m(
        "cnt.reset",
        "Resets a counter: cnt.reset group name.",
        cnt_reset,
    ),
    m(
        "cnt.help",
        "Describes a counter: cnt.help group name.",
        cnt_help,
    ),
    m("tm.stats", "Returns the transaction statistics.", tm_stats),
    m(
        "sl.stats",
        "Returns the stateless reply statistics.",
        sl_stats,
    ),
];

/// Every argument, as text; at least one.
fn args(c: &Call<'_>) -> Result<Vec<String>, Fault> {
    if c.params.is_empty() {
        return Err(Fault::new(400, "Please provide which stats to retrieve"));
    }
    (0..c.params.len()).map(|i| c.params.str(i)).collect()
}

/// The statistics the arguments name, each once, in order.
fn selected(c: &Call<'_>) -> Result<Vec<stats::Stat>, Fault> {
    let mut out: Vec<stats::Stat> = Vec::new();
    for a in args(c)? {
        for s in stats::select(c.shared, &a) {
            if !out.iter().any(|o| o.group == s.group && o.name == s.name) {
                out.push(s);
            }
        }
    }
    Ok(out)
}

fn get_statistics(c: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    for s in selected(c)? {
        w.str(s.to_string());
    }
    Ok(())
}

fn fetch(c: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    let list = selected(c)?;
    w.struct_start();
    for s in list {
        w.name(format!("{}.{}", s.group, s.name))
            .str(s.value.to_string());
    }
    w.struct_end();
    Ok(())
}

fn fetchn(c: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    let list = selected(c)?;
    w.struct_start();
    for s in list {
        w.name(format!("{}.{}", s.group, s.name))
            .double(s.value as f64);
    }
    w.struct_end();
    Ok(())
}

fn reset_statistics(c: &mut Call<'_>, _: &mut Writer) -> RpcResult {
    for a in args(c)? {
        stats::reset(c.shared, &a);
    }
    Ok(())
}

fn clear_statistics(c: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    for a in args(c)? {
        for s in stats::reset(c.shared, &a) {
            if s.old == s.new {
                w.str(format!("{}:{} = {}", s.group, s.name, s.new));
            } else {
                w.str(format!("{}:{} = {} ({})", s.group, s.name, s.new, s.old));
            }
        }
    }
    Ok(())
}

fn grps_list(_: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    for g in stats::groups() {
        w.str(g);
    }
    Ok(())
}

fn group_arg(c: &Call<'_>) -> Result<String, Fault> {
    let g = c.params.str(0)?;
    if stats::names(&g).is_empty() {
        return Err(Fault::new(400, format!("non-existent counter group {g}")));
    }
    Ok(g)
}

fn var_list(c: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    for n in stats::names(&group_arg(c)?) {
        w.str(n);
    }
    Ok(())
}

/// `group name`, or `group.name` / `group:name` as one argument.
fn counter_arg(c: &Call<'_>) -> Result<(String, String), Fault> {
    let a = c.params.str(0)?;
    let (g, n) = match c.params.opt_str(1)? {
        Some(n) => (a, n),
        None => match a.split_once(['.', ':']) {
            Some((g, n)) => (g.to_string(), n.to_string()),
            None => return Err(Fault::new(400, "expected a counter group and name")),
        },
    };
    if stats::help(&g, &n).is_none() {
        return Err(Fault::new(400, format!("non-existent counter {g}.{n}")));
    }
    Ok((g, n))
}

fn cnt_get(c: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    let (g, n) = counter_arg(c)?;
    w.count(stats::get(c.shared, &g, &n).unwrap_or(0));
    Ok(())
}

fn grp_get_all(c: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    let g = group_arg(c)?;
    w.struct_start();
    for s in stats::select(c.shared, &format!("{g}:")) {
        w.name(&s.name).count(s.value);
    }
    w.struct_end();
    Ok(())
}

fn cnt_reset(c: &mut Call<'_>, _: &mut Writer) -> RpcResult {
    let (g, n) = counter_arg(c)?;
    stats::reset(c.shared, &format!("{g}:{n}"));
    Ok(())
}

fn cnt_help(c: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    let (g, n) = counter_arg(c)?;
    w.str(stats::help(&g, &n).unwrap_or("undocumented"));
    Ok(())
}

fn fields(w: &mut Writer, list: Vec<(&'static str, u64)>) {
    w.struct_start();
    for (name, v) in list {
        w.name(name).count(v);
    }
    w.struct_end();
}

fn tm_stats(c: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    fields(w, stats::tm_stats(c.shared));
    Ok(())
}

fn sl_stats(c: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    fields(w, stats::sl_stats(c.shared));
    Ok(())
}
