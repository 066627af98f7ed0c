//! The command line of the SER 2.x commands: SER 2.0's `ser_ctl user
//! add USER@DOMAIN -p PASSWORD`, `ser_ctl domain add DOMAIN` and
//! `ser_attr add uid=UID NAME=VALUE`, spelt `serctl user ...`,
//! `serctl domain add ... [--did DID]` and `serctl attr ...`.
//!
//! Options of these commands may stand anywhere after the sub-command
//! (`user add alice@x -p pw`, `user add -p pw alice@x`); a value may be
//! attached (`--uid=u1`, `-ppw`).

use ser_core::store::provision::AttrOwner;

use super::args::{Command, Name, Settings, check_domain, count, password, user_name};

/// Longest uid and did (the columns hold 64 characters).
const ID_MAX: usize = 64;
/// Longest attribute name and value (the columns: 32 and 128).
const NAME_MAX: usize = 32;
const VALUE_MAX: usize = 128;

/// A sub-command's words: the positional ones and the options found.
#[derive(Debug, Default, PartialEq, Eq)]
struct Words {
    pos: Vec<String>,
    /// `(long name, value)` of the options that take one.
    values: Vec<(&'static str, String)>,
    /// The long names of the flags given.
    flags: Vec<&'static str>,
}

impl Words {
    fn value(&self, long: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(n, _)| *n == long)
            .map(|(_, v)| v.as_str())
    }

    fn flag(&self, long: &str) -> bool {
        self.flags.contains(&long)
    }
}

/// Reads `args`: `with_value` are `(long, short)` pairs of options that
/// take a value (short `""` for none), `flags` long flags without one.
fn words(
    cmd: &str,
    args: &[&str],
    with_value: &[(&'static str, &'static str)],
    flags: &[&'static str],
) -> Result<Words, String> {
    let mut w = Words::default();
    let mut it = args.iter();
    while let Some(&a) = it.next() {
        if !a.starts_with('-') || a.len() < 2 {
            w.pos.push(a.to_string());
            continue;
        }
        if let Some(f) = flags.iter().find(|f| **f == a) {
            w.flags.push(f);
            continue;
        }
        let found = with_value.iter().find_map(|&(long, short)| {
            if a == long || (!short.is_empty() && a == short) {
                return Some((long, None));
            }
            if let Some(v) = a.strip_prefix(long).and_then(|r| r.strip_prefix('=')) {
                return Some((long, Some(v.to_string())));
            }
            if !short.is_empty()
                && let Some(v) = a.strip_prefix(short)
            {
                return Some((long, Some(v.to_string())));
            }
            None
        });
        let Some((long, attached)) = found else {
            return Err(format!("{cmd}: unknown option {a}"));
        };
        let v = match attached {
            Some(v) => v,
            None => it
                .next()
                .map(|v| v.to_string())
                .ok_or_else(|| format!("{cmd}: option {a} needs a value"))?,
        };
        if w.value(long).is_some() {
            return Err(format!("{cmd}: {long} given twice"));
        }
        w.values.push((long, v));
    }
    Ok(w)
}

/// A uid or did: not empty, at most 64 characters, no blanks or control
/// characters.
fn check_id(what: &str, v: &str) -> Result<String, String> {
    if v.is_empty() {
        return Err(format!("empty {what}"));
    }
    if v.chars().count() > ID_MAX {
        return Err(format!("{what} `{v}` is longer than {ID_MAX} characters"));
    }
    if let Some(c) = v.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{what} `{v}` cannot hold {c:?}"));
    }
    Ok(v.to_string())
}

/// `USER@DOMAIN` of the user commands (the domain from `-r` or
/// `SIP_DOMAIN` when the name has none).
fn ser_user(text: &str, s: &Settings) -> Result<Name, String> {
    user_name(text, s)
}

/// The password of `-p`, or the one positional word after the user.
fn the_password(cmd: &str, w: &Words, usage: &str) -> Result<String, String> {
    match (w.value("--password"), w.pos.get(1).map(String::as_str)) {
        (Some(_), Some(_)) => Err(format!(
            "{cmd}: the password given twice (-p and an argument); usage: serctl {usage}"
        )),
        (Some(p), None) | (None, Some(p)) => password(p),
        (None, None) => Err(format!("{cmd}: missing password; usage: serctl {usage}")),
    }
}

/// `domain add DOMAIN [--did DID]`.
pub(super) fn domain_add(args: &[&str]) -> Result<Command, String> {
    let cmd = "domain add";
    let w = words(cmd, args, &[("--did", "")], &[])?;
    let pos: Vec<&str> = w.pos.iter().map(String::as_str).collect();
    count(cmd, &pos, 1, 1, "domain add DOMAIN [--did DID]")?;
    Ok(Command::DomainAdd {
        domain: check_domain(pos.first().copied().unwrap_or(""))?,
        did: w.value("--did").map(|d| check_id("did", d)).transpose()?,
    })
}

/// `user add|passwd|rm|show`.
pub(super) fn user(args: &[&str], s: &Settings) -> Result<Command, String> {
    let Some((&sub, args)) = args.split_first() else {
        return Err("user: which? user add|passwd|rm|show".into());
    };
    let pw = [("--password", "-p")];
    match sub {
        "add" => {
            let u = "user add USER@DOMAIN -p PASSWORD [--uid UID]";
            let w = words("user add", args, &[pw[0], ("--uid", "")], &[])?;
            let pos: Vec<&str> = w.pos.iter().map(String::as_str).collect();
            count("user add", &pos, 1, 2, u)?;
            Ok(Command::SerUserAdd {
                user: ser_user(pos.first().copied().unwrap_or(""), s)?,
                password: the_password("user add", &w, u)?,
                uid: w.value("--uid").map(|v| check_id("uid", v)).transpose()?,
            })
        }
        "passwd" => {
            let u = "user passwd USER@DOMAIN -p PASSWORD";
            let w = words("user passwd", args, &pw, &[])?;
            let pos: Vec<&str> = w.pos.iter().map(String::as_str).collect();
            count("user passwd", &pos, 1, 2, u)?;
            Ok(Command::SerUserPasswd {
                user: ser_user(pos.first().copied().unwrap_or(""), s)?,
                password: the_password("user passwd", &w, u)?,
            })
        }
        "rm" => {
            let w = words("user rm", args, &[], &[])?;
            let pos: Vec<&str> = w.pos.iter().map(String::as_str).collect();
            count("user rm", &pos, 1, 1, "user rm USER@DOMAIN")?;
            Ok(Command::SerUserRm {
                user: ser_user(pos.first().copied().unwrap_or(""), s)?,
            })
        }
        "show" => {
            let w = words("user show", args, &[], &["--passwords"])?;
            let pos: Vec<&str> = w.pos.iter().map(String::as_str).collect();
            count(
                "user show",
                &pos,
                0,
                1,
                "user show [--passwords] [USER@DOMAIN]",
            )?;
            Ok(Command::SerUserShow {
                user: pos.first().map(|u| ser_user(u, s)).transpose()?,
                passwords: w.flag("--passwords"),
            })
        }
        _ => Err(format!("user {sub}: unknown; user add|passwd|rm|show")),
    }
}

/// `global`, `uid=UID` or `did=DID`.
fn owner(text: &str) -> Result<AttrOwner, String> {
    if text == "global" {
        return Ok(AttrOwner::Global);
    }
    match text.split_once('=') {
        Some(("uid", v)) => Ok(AttrOwner::Uid(check_id("uid", v)?)),
        Some(("did", v)) => Ok(AttrOwner::Did(check_id("did", v)?)),
        _ => Err(format!(
            "`{text}`: whose attributes? global, uid=UID or did=DID"
        )),
    }
}

/// An attribute name: letters, digits, `_`, `-`, `.`; at most 32.
fn attr_name(n: &str) -> Result<String, String> {
    if n.is_empty() {
        return Err("empty attribute name".into());
    }
    if n.chars().count() > NAME_MAX {
        return Err(format!(
            "attribute name `{n}` is longer than {NAME_MAX} characters"
        ));
    }
    if let Some(c) = n
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Err(format!("attribute name `{n}` cannot hold {c:?}"));
    }
    Ok(n.to_string())
}

/// `NAME=VALUE`; with `int`, the value must be an integer (SER's are 32
/// bits) and is stored as written by Rust (`+7` is `7`).
fn attr_pair(text: &str, int: bool) -> Result<(String, String), String> {
    let Some((n, v)) = text.split_once('=') else {
        return Err(format!("`{text}`: expected NAME=VALUE"));
    };
    let name = attr_name(n)?;
    if v.chars().count() > VALUE_MAX {
        return Err(format!(
            "the value of {name} is longer than {VALUE_MAX} characters"
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(format!(
            "the value of {name} cannot hold control characters"
        ));
    }
    if int {
        let i: i32 = v
            .trim()
            .parse()
            .map_err(|_| format!("{name}={v}: --int needs an integer (32 bits)"))?;
        return Ok((name, i.to_string()));
    }
    Ok((name, v.to_string()))
}

/// `attr add|set|rm|show`.
pub(super) fn attr(args: &[&str]) -> Result<Command, String> {
    let Some((&sub, args)) = args.split_first() else {
        return Err("attr: which? attr add|set|rm|show".into());
    };
    match sub {
        "add" | "set" => {
            let cmd = format!("attr {sub}");
            let u = format!("attr {sub} global|uid=UID|did=DID NAME=VALUE... [--int]");
            let w = words(&cmd, args, &[], &["--int"])?;
            let pos: Vec<&str> = w.pos.iter().map(String::as_str).collect();
            count(&cmd, &pos, 2, usize::MAX, &u)?;
            let int = w.flag("--int");
            let attrs = pos
                .get(1..)
                .unwrap_or_default()
                .iter()
                .map(|p| attr_pair(p, int))
                .collect::<Result<Vec<_>, String>>()?;
            if sub == "set" {
                for (i, (n, _)) in attrs.iter().enumerate() {
                    if attrs.iter().skip(i + 1).any(|(m, _)| m == n) {
                        return Err(format!("attr set: {n} given twice (attr add adds values)"));
                    }
                }
            }
            Ok(Command::AttrAdd {
                owner: owner(pos.first().copied().unwrap_or(""))?,
                attrs,
                int,
                replace: sub == "set",
            })
        }
        "rm" => {
            let u = "attr rm global|uid=UID|did=DID NAME...";
            let w = words("attr rm", args, &[], &[])?;
            let pos: Vec<&str> = w.pos.iter().map(String::as_str).collect();
            count("attr rm", &pos, 2, usize::MAX, u)?;
            let names = pos
                .get(1..)
                .unwrap_or_default()
                .iter()
                .map(|n| attr_name(n))
                .collect::<Result<Vec<_>, String>>()?;
            Ok(Command::AttrRm {
                owner: owner(pos.first().copied().unwrap_or(""))?,
                names,
            })
        }
        "show" => {
            let w = words("attr show", args, &[], &[])?;
            let pos: Vec<&str> = w.pos.iter().map(String::as_str).collect();
            count(
                "attr show",
                &pos,
                0,
                1,
                "attr show [global|uid=UID|did=DID]",
            )?;
            Ok(Command::AttrShow {
                owner: pos.first().map(|o| owner(o)).transpose()?,
            })
        }
        _ => Err(format!("attr {sub}: unknown; attr add|set|rm|show")),
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::super::args::{Env, parse};
    use super::*;

    fn run(args: &[&str]) -> Result<Command, String> {
        parse(args.iter().map(OsString::from), &Env::default()).map(|(_, c)| c)
    }

    fn ok(args: &[&str]) -> Command {
        match run(args) {
            Ok(c) => c,
            Err(e) => panic!("{args:?}: {e}"),
        }
    }

    fn name(user: &str, domain: &str) -> Name {
        Name {
            user: user.into(),
            domain: domain.into(),
        }
    }

    #[test]
    fn user_add_takes_ser_ctl_spelling() {
        let want = Command::SerUserAdd {
            user: name("alice", "example.com"),
            password: "s3cret".into(),
            uid: None,
        };
        assert_eq!(
            ok(&["user", "add", "alice@Example.COM", "-p", "s3cret"]),
            want
        );
        assert_eq!(
            ok(&["user", "add", "-ps3cret", "sip:alice@example.com"]),
            want
        );
        assert_eq!(
            ok(&["user", "add", "alice@example.com", "--password=s3cret"]),
            want
        );
        assert_eq!(ok(&["user", "add", "alice@example.com", "s3cret"]), want);
        assert_eq!(
            ok(&[
                "-r", "x.org", "user", "add", "bob", "--uid", "u-bob", "-p", "pw"
            ]),
            Command::SerUserAdd {
                user: name("bob", "x.org"),
                password: "pw".into(),
                uid: Some("u-bob".into()),
            }
        );
        assert_eq!(
            ok(&["user", "passwd", "bob@x.org", "-p", "new"]),
            Command::SerUserPasswd {
                user: name("bob", "x.org"),
                password: "new".into()
            }
        );
        assert_eq!(
            ok(&["user", "show", "--passwords"]),
            Command::SerUserShow {
                user: None,
                passwords: true
            }
        );
        assert_eq!(
            ok(&["user", "rm", "bob@x.org"]),
            Command::SerUserRm {
                user: name("bob", "x.org")
            }
        );
    }

    #[test]
    fn domain_add_takes_a_did() {
        assert_eq!(
            ok(&["domain", "add", "Example.COM"]),
            Command::DomainAdd {
                domain: "example.com".into(),
                did: None
            }
        );
        assert_eq!(
            ok(&["domain", "add", "--did=d1", "example.com"]),
            Command::DomainAdd {
                domain: "example.com".into(),
                did: Some("d1".into())
            }
        );
    }

    #[test]
    fn attributes_name_their_owner() {
        assert_eq!(
            ok(&["attr", "add", "uid=u-alice", "asserted_id=+4930999"]),
            Command::AttrAdd {
                owner: AttrOwner::Uid("u-alice".into()),
                attrs: vec![("asserted_id".into(), "+4930999".into())],
                int: false,
                replace: false,
            }
        );
        assert_eq!(
            ok(&["attr", "set", "global", "gw_ip=192.0.2.1"]),
            Command::AttrAdd {
                owner: AttrOwner::Global,
                attrs: vec![("gw_ip".into(), "192.0.2.1".into())],
                int: false,
                replace: true,
            }
        );
        assert_eq!(
            ok(&["attr", "add", "did=d1", "n=+7", "--int", "m=-2"]),
            Command::AttrAdd {
                owner: AttrOwner::Did("d1".into()),
                attrs: vec![("n".into(), "7".into()), ("m".into(), "-2".into())],
                int: true,
                replace: false,
            }
        );
        assert_eq!(
            ok(&["attr", "rm", "did=d1", "digest_realm"]),
            Command::AttrRm {
                owner: AttrOwner::Did("d1".into()),
                names: vec!["digest_realm".into()],
            }
        );
        assert_eq!(ok(&["attr", "show"]), Command::AttrShow { owner: None });
    }

    #[test]
    fn ser2_usage_errors() {
        for (args, want) in [
            (&["user"][..], "user add|passwd|rm|show"),
            (&["user", "add", "alice@x.org"], "missing password"),
            (&["user", "add", "alice", "-p", "pw"], "no domain"),
            (&["user", "add", "alice@x.org", "-p"], "needs a value"),
            (&["user", "add", "alice@x.org", "-p", "a", "b"], "twice"),
            (&["user", "add", "alice@x.org", "-p", ""], "empty password"),
            (
                &["user", "add", "a@x.org", "-p", "pw", "--uid", "a b"],
                "uid",
            ),
            (
                &["user", "add", "a@x.org", "-p", "pw", "--frob"],
                "unknown option",
            ),
            (&["user", "rm"], "missing arguments"),
            (&["domain", "add", "x.org", "--did", ""], "empty did"),
            (&["domain", "add", "x.org", "--did"], "needs a value"),
            (&["attr", "add", "global"], "missing arguments"),
            (
                &["attr", "add", "user=x", "a=b"],
                "global, uid=UID or did=DID",
            ),
            (&["attr", "add", "uid=", "a=b"], "empty uid"),
            (&["attr", "add", "global", "novalue"], "NAME=VALUE"),
            (&["attr", "add", "global", "=v"], "empty attribute name"),
            (&["attr", "add", "global", "a b=v"], "cannot hold"),
            (
                &["attr", "add", "global", "n=x", "--int"],
                "--int needs an integer",
            ),
            (&["attr", "set", "global", "n=1", "n=2"], "twice"),
            (&["attr", "rm", "global", "n=1"], "cannot hold '='"),
            (&["attr", "frob"], "attr add|set|rm|show"),
        ] {
            match run(args) {
                Ok(c) => panic!("{args:?} parsed: {c:?}"),
                Err(e) => assert!(e.contains(want), "{args:?}: {e}"),
            }
        }
    }
}
