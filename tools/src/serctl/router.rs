//! Talking to the running router: one connection to its control socket
//! (opened at the first call, through the shared [`crate::rpc`] client),
//! calls with typed parameters, replies decoded into values and faults.
//!
//! A socket where nothing listens (no socket file, connection refused) is
//! told apart from other failures: the table commands then only note that
//! the change is in the database, while `ul` commands fail.

use ser_core::ctl::addr::CtlAddr;
use ser_core::ctl::binrpc::{self, Kind, Value, Writer};

use super::args::Settings;
use crate::rpc::{self, Conn, Target};

/// One RPC parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Param<'a> {
    Str(&'a str),
    Int(i32),
    Double(f64),
}

/// What the router answered.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// The reply's top-level values.
    Values(Vec<Value>),
    /// A fault: code and message.
    Fault(i32, String),
}

/// Why the router could not be asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unreached {
    /// Nothing listens at the address.
    NotRunning(String),
    /// Anything else: a timeout, a broken reply, a lost connection.
    Failed(String),
}

impl Unreached {
    pub fn message(&self) -> &str {
        match self {
            Unreached::NotRunning(m) | Unreached::Failed(m) => m,
        }
    }
}

/// True when a fault says that the router has no such method, or does
/// not run the module behind it.
pub fn is_unknown_method(code: i32, msg: &str, method: &str) -> bool {
    // ser answers `<module> module not loaded` (gflags: `global attributes
    // not loaded (...)`) when the method exists but its config does not
    // load the module or the table: the table is not cached either.
    code == 500
        && (msg == format!("command {method} not found")
            || msg.ends_with("module not loaded")
            || msg.starts_with("global attributes not loaded"))
}

/// The control socket of the running router.
pub struct Router {
    target: Target,
    conn: Option<Conn>,
}

impl Router {
    pub fn new(s: &Settings) -> Router {
        Router {
            target: Target {
                addr: s.ctl.clone(),
                reply_sock: None,
                reply_dir: None,
                timeout: Some(s.timeout),
            },
            conn: None,
        }
    }

    pub fn addr(&self) -> &CtlAddr {
        &self.target.addr
    }

    /// Calls `method` with `params`.
    pub fn call(&mut self, method: &str, params: &[Param<'_>]) -> Result<Answer, Unreached> {
        let addr = self.target.addr.clone();
        if self.conn.is_none() {
            let c = Conn::open(&self.target).map_err(|e| {
                if e.not_listening {
                    Unreached::NotRunning(format!(
                        "{}: is ser running, with modparam(\"ctl\", \"binrpc\", \"{addr}\")? \
                         (-s names another socket)",
                        e.message
                    ))
                } else {
                    Unreached::Failed(e.message)
                }
            })?;
            self.conn = Some(c);
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(Unreached::Failed(format!("{addr}: not connected")));
        };
        let mut w = Writer::new();
        w.str(method);
        for p in params {
            match p {
                Param::Str(s) => w.str(s),
                Param::Int(i) => w.int(*i),
                Param::Double(d) => w.double(*d),
            };
        }
        let mut log = Vec::new();
        let reply = match rpc::call(conn, w.as_bytes(), 0, &mut log) {
            Ok(r) => r,
            Err(e) => {
                self.conn = None;
                return Err(Unreached::Failed(format!("{addr}: {method}: {e}")));
            }
        };
        let values = binrpc::decode(&reply.body)
            .map_err(|e| Unreached::Failed(format!("{addr}: {method}: bad reply: {e}")))?;
        if reply.kind == Kind::Fault {
            let mut it = values.into_iter();
            let code = match it.next() {
                Some(Value::Int(c)) => c,
                _ => 0,
            };
            let msg = match it.next() {
                Some(Value::Str(m)) => m,
                _ => String::new(),
            };
            return Ok(Answer::Fault(code, msg));
        }
        Ok(Answer::Values(values))
    }
}

/// The member `name` of a struct's members.
pub fn member<'v>(members: &'v [(Option<String>, Value)], name: &str) -> Option<&'v Value> {
    members
        .iter()
        .find(|(n, _)| n.as_deref() == Some(name))
        .map(|(_, v)| v)
}

/// Every member called `name`, in order.
pub fn members<'v>(
    members: &'v [(Option<String>, Value)],
    name: &'v str,
) -> impl Iterator<Item = &'v Value> + 'v {
    members
        .iter()
        .filter(move |(n, _)| n.as_deref() == Some(name))
        .map(|(_, v)| v)
}

/// A struct's members (none for another value).
pub fn fields(v: &Value) -> &[(Option<String>, Value)] {
    match v {
        Value::Struct(m) => m,
        _ => &[],
    }
}

/// A value as text (numbers written out; a whole DOUBLE without
/// decimals).
pub fn text(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Double(d) if d.fract() == 0.0 && d.abs() < 9.0e15 => format!("{}", *d as i64),
        Value::Double(d) => d.to_string(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Struct(_) | Value::Array(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_are_told_by_the_fault_text() {
        assert!(is_unknown_method(
            500,
            "command domain.reload not found",
            "domain.reload"
        ));
        assert!(!is_unknown_method(
            500,
            "command x not found",
            "domain.reload"
        ));
        assert!(is_unknown_method(
            500,
            "global attributes not loaded (gflags load_global_attrs)",
            "global.reload"
        ));
        assert!(!is_unknown_method(
            400,
            "command domain.reload not found",
            "domain.reload"
        ));
    }

    #[test]
    fn values_read_as_text() {
        assert_eq!(text(&Value::Double(3600.0)), "3600");
        assert_eq!(text(&Value::Double(0.5)), "0.5");
        assert_eq!(text(&Value::Int(-1)), "-1");
        let s = vec![
            (Some("A".to_string()), Value::Int(1)),
            (Some("B".to_string()), Value::Int(2)),
            (Some("A".to_string()), Value::Int(3)),
        ];
        assert_eq!(member(&s, "B"), Some(&Value::Int(2)));
        assert_eq!(members(&s, "A").count(), 2);
        assert!(fields(&Value::Int(1)).is_empty());
    }
}
