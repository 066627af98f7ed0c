//! `cfg.*`: run-time configuration, as Kamailio's cfg_rpc shows and
//! changes it. The variables are `core.debug`, `tm.fr_timer`,
//! `tm.fr_inv_timer` (ms) and the config's own `group.id = value desc
//! "..."` ones (read in the script with `$sel(cfg_get.group.id)` or
//! `@cfg_get.group.id`). A change takes effect on the next message.
//!
//! A variable can be named as two arguments (`cfg.get core debug`, as
//! `kamcmd` users type it) or as one (`cfg.get core.debug`).

use std::borrow::Cow;
use std::time::Duration;

use super::{Method, m};
use crate::ctl::binrpc::{Value as Wire, Writer};
use crate::ctl::rpc::{Call, Fault, RpcResult};
use crate::script::Config;
use crate::script::value::Value;

pub const METHODS: &[Method] = &[
    m(
        "cfg.list",
        "Lists the run-time configuration variables (group: name).",
        list,
    ),
    m(
        "cfg.get",
        "Returns a variable's value, or every variable of a group: cfg.get group [name].",
        get,
    ),
    m(
        "cfg.set",
        "Changes a variable now: cfg.set group name value.",
        set,
    ),
    m(
        "cfg.seti",
        "Changes an integer variable now: cfg.seti group name value.",
        set_int,
    ),
    m(
        "cfg.sets",
        "Changes a string variable now: cfg.sets group name value.",
        set_str,
    ),
    m(
        "cfg.set_now_int",
        "Changes an integer variable now.",
        set_int,
    ),
    m(
        "cfg.set_now_string",
        "Changes a string variable now.",
        set_str,
    ),
    m(
        "cfg.help",
        "Describes a variable: cfg.help group name.",
        help,
    ),
];

/// A variable's value as the methods see it.
#[derive(Clone, Debug, PartialEq)]
enum Val {
    Int(i64),
    Str(String),
}

/// A built-in numeric variable.
struct Builtin {
    group: &'static str,
    name: &'static str,
    desc: &'static str,
    get: fn(&Config) -> i64,
    set: fn(&Config, i64) -> Result<(), &'static str>,
}

fn ms(d: Option<Duration>) -> i64 {
    d.map_or(0, |d| d.as_millis() as i64)
}

/// Longest timer `cfg.set` accepts (a day, in ms).
const MAX_TIMER_MS: i64 = 86_400_000;

fn timer(v: i64) -> Result<i64, &'static str> {
    if (0..=MAX_TIMER_MS).contains(&v) {
        Ok(v)
    } else {
        Err("a timer is 0 (off) to 86400000 ms")
    }
}

const BUILTINS: &[Builtin] = &[
    Builtin {
        group: "core",
        name: "debug",
        desc: "debug level",
        get: |c| i64::from(c.debug()),
        set: |c, v| {
            let l = i32::try_from(v).map_err(|_| "out of range")?;
            c.set_debug(l);
            Ok(())
        },
    },
    Builtin {
        group: "tm",
        name: "fr_timer",
        desc: "timer which hits if no final reply for a request or ACK for a negative INVITE reply arrives (in milliseconds)",
        get: |c| match c.fr_timer_ms.get() {
            v if v >= 0 => v,
            _ => ms(c.tm.timers.fr_timer),
        },
        set: |c, v| {
            c.fr_timer_ms.set(timer(v)?);
            Ok(())
        },
    },
    Builtin {
        group: "tm",
        name: "fr_inv_timer",
        desc: "timer which hits if no final reply for an invite arrives after a provisional message was received (in milliseconds)",
        get: |c| match c.fr_inv_timer_ms.get() {
            v if v >= 0 => v,
            _ => ms(c.tm.timers.fr_inv_timer),
        },
        set: |c, v| {
            c.fr_inv_timer_ms.set(timer(v)?);
            Ok(())
        },
    },
];

/// `(group, name)` from `group name` or `group.name` at argument `i`.
fn var_name(c: &Call<'_>, i: usize) -> Result<(String, Option<String>), Fault> {
    let g = c.params.str(i)?;
    match c.params.opt_str(i + 1)? {
        Some(n) => Ok((g, Some(n))),
        None => match g.split_once('.') {
            Some((g, n)) => Ok((g.to_string(), Some(n.to_string()))),
            None => Ok((g, None)),
        },
    }
}

/// Every variable: group, name, value, description.
fn all(c: &Call<'_>) -> Vec<(String, String, Val, String)> {
    let config = &c.shared.config;
    let mut v: Vec<(String, String, Val, String)> = BUILTINS
        .iter()
        .map(|b| {
            (
                b.group.to_string(),
                b.name.to_string(),
                Val::Int((b.get)(config)),
                b.desc.to_string(),
            )
        })
        .collect();
    for var in config.cfg_vars().iter() {
        let val = match &var.value {
            Value::Int(n) => Val::Int(*n),
            Value::Str(s) => Val::Str(String::from_utf8_lossy(s).into_owned()),
            Value::Null => Val::Str(String::new()),
        };
        v.push((var.group.clone(), var.name.clone(), val, var.desc.clone()));
    }
    v
}

fn put(w: &mut Writer, v: &Val) {
    match v {
        Val::Int(n) => w.count_signed(*n),
        Val::Str(s) => w.str(s),
    };
}

fn list(c: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    for (g, n, _, _) in all(c) {
        w.str(format!("{g}: {n}"));
    }
    Ok(())
}

fn get(c: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    let (group, name) = var_name(c, 0)?;
    let vars = all(c);
    match name {
        Some(n) => {
            let (_, _, v, _) = vars
                .iter()
                .find(|(g, x, _, _)| *g == group && *x == n)
                .ok_or_else(|| Fault::new(400, "Failed to get the variable"))?;
            put(w, v);
        }
        None => {
            let mut any = false;
            w.struct_start();
            for (_, n, v, _) in vars.iter().filter(|(g, ..)| *g == group) {
                any = true;
                w.name(n);
                put(w, v);
            }
            w.struct_end();
            if !any {
                return Err(Fault::new(400, "Failed to get the variable"));
            }
        }
    }
    Ok(())
}

/// What kind of value a `cfg.set` variant insists on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    Any,
    Int,
    Str,
}

fn set_as(c: &mut Call<'_>, want: Want) -> RpcResult {
    let failed = || Fault::new(400, "Failed to set the variable");
    let g = c.params.str(0)?;
    // `cfg.set core.debug 3` as well as `cfg.set core debug 3`.
    let (group, name, vi) = if c.params.len() == 2 {
        match g.split_once('.') {
            Some((a, b)) => (a.to_string(), b.to_string(), 1),
            None => return Err(failed()),
        }
    } else {
        (g, c.params.str(1)?, 2)
    };
    let raw = c.params.get(vi).cloned();
    let config = &c.shared.config;
    if let Some(b) = BUILTINS.iter().find(|b| b.group == group && b.name == name) {
        if want == Want::Str {
            return Err(failed());
        }
        let n = c.params.int(vi)?;
        return (b.set)(config, n)
            .map_err(|why| Fault::new(400, format!("Failed to set the variable: {why}")));
    }
    let vars = config.cfg_vars();
    let cur = vars
        .iter()
        .find(|v| v.group == group && v.name == name)
        .ok_or_else(failed)?;
    let is_int = matches!(cur.value, Value::Int(_));
    let value: Value<'static> = match (is_int, want) {
        (true, Want::Str) | (false, Want::Int) => return Err(failed()),
        (true, _) => Value::Int(c.params.int(vi).map_err(|_| failed())?),
        (false, _) => {
            let text = match raw {
                Some(Wire::Str(s)) => s,
                _ => c.params.str(vi)?,
            };
            Value::Str(Cow::Owned(text.into_bytes()))
        }
    };
    config.set_cfg_var(&group, &name, value);
    Ok(())
}

fn set(c: &mut Call<'_>, _: &mut Writer) -> RpcResult {
    set_as(c, Want::Any)
}

fn set_int(c: &mut Call<'_>, _: &mut Writer) -> RpcResult {
    set_as(c, Want::Int)
}

fn set_str(c: &mut Call<'_>, _: &mut Writer) -> RpcResult {
    set_as(c, Want::Str)
}

fn help(c: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    let (group, name) = var_name(c, 0)?;
    let name = name.ok_or_else(|| Fault::new(400, "Failed to get the variable"))?;
    let (_, _, v, desc) = all(c)
        .into_iter()
        .find(|(g, n, _, _)| *g == group && *n == name)
        .ok_or_else(|| Fault::new(400, "Failed to get the variable"))?;
    w.str(desc);
    w.str(match v {
        Val::Int(_) => "(parameter type is integer)",
        Val::Str(_) => "(parameter type is string)",
    });
    Ok(())
}
