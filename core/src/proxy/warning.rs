//! The `sip_warning` debugging header of SER (core parameter
//! `sip_warning=yes`, default off):
//!
//! ```text
//! Warning: 392 <our ip>:<port> "Noisy feedback tells: pid=<pid>
//!   req_src_ip=<src ip> req_src_port=<src port> in_uri=<R-URI as received>
//!   out_uri=<current R-URI> via_cnt==<number of Vias>"
//! ```
//!
//! (one line), added to locally generated replies. It tells whoever reads
//! the reply which server in a chain answered, for which URI, and how far
//! the request had come. `<our ip>:<port>` is the Via address of the
//! socket the request arrived on. SER writes `via_cnt>` when it had not
//! parsed every header; every Via is counted here, so it is always `==`.

use core::net::SocketAddr;
use std::io::Write;

use super::LocalSocket;

/// Copies bytes into the quoted string, replacing what a quoted string
/// cannot hold as is (`"`, `\`, control bytes) with `?`.
fn push_quoted_safe(out: &mut Vec<u8>, b: &[u8]) {
    out.extend(b.iter().map(|&c| {
        if c < b' ' || c == 0x7f || c == b'"' || c == b'\\' {
            b'?'
        } else {
            c
        }
    }));
}

/// Appends the Warning header line (CRLF included).
pub(crate) fn push_line(
    out: &mut Vec<u8>,
    sock: &LocalSocket,
    src: SocketAddr,
    in_uri: &[u8],
    out_uri: &[u8],
    via_cnt: usize,
) {
    out.extend_from_slice(b"Warning: 392 ");
    push_quoted_safe(out, sock.via_host.as_bytes());
    let _ = write!(
        out,
        ":{} \"Noisy feedback tells: pid={} req_src_ip={} req_src_port={} in_uri=",
        sock.via_port,
        std::process::id(),
        src.ip(),
        src.port()
    );
    push_quoted_safe(out, in_uri);
    out.extend_from_slice(b" out_uri=");
    push_quoted_safe(out, out_uri);
    let _ = write!(out, " via_cnt=={via_cnt}\"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_is_sers() {
        let sock = LocalSocket::new("192.0.2.1:5060".parse().unwrap());
        let mut out = Vec::new();
        push_line(
            &mut out,
            &sock,
            "198.51.100.7:5062".parse().unwrap(),
            b"sip:bob@example.com",
            b"sip:bob@192.0.2.99\"x",
            2,
        );
        let want = format!(
            "Warning: 392 192.0.2.1:5060 \"Noisy feedback tells: pid={} req_src_ip=198.51.100.7 \
             req_src_port=5062 in_uri=sip:bob@example.com out_uri=sip:bob@192.0.2.99?x via_cnt==2\"\r\n",
            std::process::id()
        );
        assert_eq!(String::from_utf8(out).unwrap(), want);
    }
}
