//! Control socket addresses: `[proto:]name[:port]`, as the `binrpc`
//! parameter of the `ctl` module and `kamcmd -s` / `sercmd -s` write them.
//!
//! Protocols: `unix`/`unixs` (unix stream), `unixd` (unix datagram),
//! `tcp`, `udp`; names are matched in any case. Without a protocol, a
//! name with a `:port` is UDP and a name with a `/` is a unix stream path;
//! a bare name is UDP for the server and a unix stream path for the client
//! (as in SER and Kamailio). `tcp:` and `udp:` default to port 2049.

use std::fmt;
use std::path::PathBuf;

/// Port of `tcp:` and `udp:` addresses that name none.
pub const DEFAULT_PORT: u16 = 2049;

/// SER's default control socket (`sercmd`'s default too).
pub const SER_DEFAULT: &str = "unixs:/tmp/ser_ctl";

/// Kamailio's default control socket (`kamcmd`'s default; the double slash
/// is Kamailio's).
pub const KAMAILIO_DEFAULT: &str = "unixs:/var/run/kamailio//kamailio_ctl";

/// Longest unix socket path (`sun_path` less the NUL).
pub const MAX_UNIX_PATH: usize = 107;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CtlAddr {
    UnixStream(PathBuf),
    UnixDgram(PathBuf),
    /// Host (a name, an IPv4 address or `*` for any) and port.
    Tcp(String, u16),
    Udp(String, u16),
}

/// Who reads the address: the two sides guess differently without a
/// protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Server,
    Client,
}

impl CtlAddr {
    /// Parses `[proto:]name[:port]`.
    pub fn parse(text: &str, side: Side) -> Result<CtlAddr, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty address".into());
        }
        let (proto, rest) = match text.split_once(':') {
            Some((p, r))
                if ["unix", "unixs", "unixd", "tcp", "udp"]
                    .iter()
                    .any(|k| p.eq_ignore_ascii_case(k)) =>
            {
                (Some(p.to_ascii_lowercase()), r)
            }
            _ => (None, text),
        };
        let unix = |path: &str, dgram: bool| -> Result<CtlAddr, String> {
            if path.is_empty() {
                return Err(format!("`{text}`: no socket path"));
            }
            if path.len() > MAX_UNIX_PATH {
                return Err(format!(
                    "`{text}`: a unix socket path is at most {MAX_UNIX_PATH} bytes"
                ));
            }
            let p = PathBuf::from(path);
            Ok(if dgram {
                CtlAddr::UnixDgram(p)
            } else {
                CtlAddr::UnixStream(p)
            })
        };
        match proto.as_deref() {
            Some("unix") | Some("unixs") => unix(rest, false),
            Some("unixd") => unix(rest, true),
            Some(p) => {
                let (host, port) = host_port(rest).map_err(|e| format!("`{text}`: {e}"))?;
                if p == "tcp" {
                    Ok(CtlAddr::Tcp(host, port))
                } else {
                    Ok(CtlAddr::Udp(host, port))
                }
            }
            None => {
                if rest.contains('/') {
                    return unix(rest, false);
                }
                let has_port = rest
                    .rsplit_once(':')
                    .is_some_and(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
                if has_port || side == Side::Server {
                    let (host, port) = host_port(rest).map_err(|e| format!("`{text}`: {e}"))?;
                    Ok(CtlAddr::Udp(host, port))
                } else {
                    unix(rest, false)
                }
            }
        }
    }

    /// Whether replies go back over a connection (unix stream, TCP).
    pub fn is_stream(&self) -> bool {
        matches!(self, CtlAddr::UnixStream(_) | CtlAddr::Tcp(..))
    }

    /// The transport name `ctl.listen` shows.
    pub fn transport(&self) -> &'static str {
        match self {
            CtlAddr::UnixStream(_) => "unix_stream",
            CtlAddr::UnixDgram(_) => "unix_dgram",
            CtlAddr::Tcp(..) => "tcp",
            CtlAddr::Udp(..) => "udp",
        }
    }
}

/// `host[:port]`, `[v6]:port`, or a bare port (`3012`: any host).
fn host_port(s: &str) -> Result<(String, u16), String> {
    if s.is_empty() {
        return Err("no host".into());
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(("*".into(), port(s)?));
    }
    if let Some(v6) = s.strip_prefix('[') {
        let (h, rest) = v6.split_once(']').ok_or("unclosed `[`")?;
        return match rest.strip_prefix(':') {
            Some(p) => Ok((h.to_string(), port(p)?)),
            None if rest.is_empty() => Ok((h.to_string(), DEFAULT_PORT)),
            None => Err(format!("unexpected `{rest}`")),
        };
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Ok((h.to_string(), port(p)?)),
        _ => Ok((s.to_string(), DEFAULT_PORT)),
    }
}

fn port(p: &str) -> Result<u16, String> {
    p.parse::<u16>()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("bad port `{p}`"))
}

impl fmt::Display for CtlAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CtlAddr::UnixStream(p) => write!(f, "unixs:{}", p.display()),
            CtlAddr::UnixDgram(p) => write!(f, "unixd:{}", p.display()),
            CtlAddr::Tcp(h, p) if h.contains(':') => write!(f, "tcp:[{h}]:{p}"),
            CtlAddr::Tcp(h, p) => write!(f, "tcp:{h}:{p}"),
            CtlAddr::Udp(h, p) if h.contains(':') => write!(f, "udp:[{h}]:{p}"),
            CtlAddr::Udp(h, p) => write!(f, "udp:{h}:{p}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn srv(s: &str) -> CtlAddr {
        CtlAddr::parse(s, Side::Server).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn cli(s: &str) -> CtlAddr {
        CtlAddr::parse(s, Side::Client).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn protocols_and_defaults() {
        assert_eq!(
            srv("unixs:/tmp/ser_ctl"),
            CtlAddr::UnixStream("/tmp/ser_ctl".into())
        );
        assert_eq!(srv("UNIX:/tmp/x"), CtlAddr::UnixStream("/tmp/x".into()));
        assert_eq!(srv("unixd:/tmp/x"), CtlAddr::UnixDgram("/tmp/x".into()));
        assert_eq!(
            srv("tcp:127.0.0.1:2046"),
            CtlAddr::Tcp("127.0.0.1".into(), 2046)
        );
        assert_eq!(srv("tcp:localhost"), CtlAddr::Tcp("localhost".into(), 2049));
        assert_eq!(srv("tcp:3012"), CtlAddr::Tcp("*".into(), 3012));
        assert_eq!(srv("udp:[::1]:9"), CtlAddr::Udp("::1".into(), 9));
        assert_eq!(
            srv("localhost:2049"),
            CtlAddr::Udp("localhost".into(), 2049)
        );
        assert_eq!(srv("/tmp/x_ctl"), CtlAddr::UnixStream("/tmp/x_ctl".into()));
        assert_eq!(srv("localhost"), CtlAddr::Udp("localhost".into(), 2049));
        assert_eq!(cli("foo"), CtlAddr::UnixStream("foo".into()));
        assert_eq!(
            cli("localhost:2049"),
            CtlAddr::Udp("localhost".into(), 2049)
        );
        assert_eq!(
            cli(KAMAILIO_DEFAULT),
            CtlAddr::UnixStream("/var/run/kamailio//kamailio_ctl".into())
        );
    }

    #[test]
    fn bad_addresses_are_errors() {
        for s in [
            "",
            "unix:",
            "tcp:host:0",
            "tcp:host:99999",
            "udp:[::1",
            "tcp:",
        ] {
            assert!(CtlAddr::parse(s, Side::Server).is_err(), "{s}");
        }
        let long = format!("unixs:/{}", "a".repeat(200));
        assert!(CtlAddr::parse(&long, Side::Server).is_err());
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "unixs:/tmp/a",
            "unixd:/tmp/b",
            "tcp:127.0.0.1:2049",
            "udp:[::1]:5",
        ] {
            assert_eq!(srv(s).to_string(), s);
            assert_eq!(srv(&srv(s).to_string()), srv(s));
        }
    }
}
