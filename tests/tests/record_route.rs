//! Record-routing through the running router over real UDP sockets: the
//! INVITE is record-routed, the 200 carries our Record-Route back to the
//! UAC, and the in-dialog ACK and BYE (sent to us with `Route: <our RR>`)
//! are loose-routed to the UAS without our Route.

use std::time::Duration;

use ser_tests::router::{Peer, Router, Start, first_line, header, headers, uas_reply};

const CONFIG: &str = r#"#!KAMAILIO
listen=udp:127.0.0.1:{PORT}
loadmodule "sl.so"
loadmodule "maxfwd.so"
loadmodule "rr.so"
loadmodule "siputils.so"

request_route {
    if (!mf_process_maxfwd_header("10")) {
        sl_send_reply("483", "Too Many Hops");
        exit;
    }
    if (has_totag()) {
        if (loose_route()) {
            forward();
            exit;
        }
        sl_send_reply("404", "Not here");
        exit;
    }
    record_route();
    forward();
}
"#;

const WAIT: Duration = Duration::from_secs(3);

/// A request from the UAC at `uac_port`.
#[allow(clippy::too_many_arguments)]
fn request(
    method: &str,
    ruri: &str,
    uac_port: u16,
    branch: &str,
    cseq: u32,
    to_tag: &str,
    route: Option<&str>,
) -> String {
    let route = route.map_or(String::new(), |r| format!("Route: {r}\r\n"));
    let to_tag = if to_tag.is_empty() {
        String::new()
    } else {
        format!(";tag={to_tag}")
    };
    format!(
        "{method} {ruri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{uac_port};branch=z9hG4bK-{branch};rport\r\n\
         Max-Forwards: 70\r\n\
         {route}\
         From: <sip:alice@example.com>;tag=a1\r\n\
         To: <sip:bob@example.com>{to_tag}\r\n\
         Call-ID: rr-call-1\r\n\
         CSeq: {cseq} {method}\r\n\
         Contact: <sip:alice@127.0.0.1:{uac_port}>\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

fn dialog_through_the_proxy(how: &Start<'_>) {
    let r = Router::start(CONFIG, how);
    let (uac, uas) = (Peer::new(), Peer::new());
    let (uac_port, uas_port) = (uac.port(), uas.port());
    let our_rr = format!("<sip:127.0.0.1:{};lr;ftag=a1>", r.port);

    // INVITE: record-routed.
    let invite = request(
        "INVITE",
        &format!("sip:bob@127.0.0.1:{uas_port}"),
        uac_port,
        "inv",
        1,
        "",
        None,
    );
    uac.send(r.addr(), invite.as_bytes());
    let (req, from) = uas.recv(WAIT).expect("the UAS gets the INVITE");
    assert_eq!(from, r.addr());
    assert_eq!(headers(&req, "Record-Route"), [our_rr.as_str()], "{req}");
    assert_eq!(header(&req, "Route"), None);

    // 200 OK: back to the UAC with our Record-Route.
    uas.send(
        r.addr(),
        uas_reply(
            &req,
            200,
            "OK",
            "uas1",
            Some(&format!("sip:bob@127.0.0.1:{uas_port}")),
        )
        .as_bytes(),
    );
    let (ok, _) = uac.recv(WAIT).expect("the UAC gets the 200");
    assert_eq!(first_line(&ok), "SIP/2.0 200 OK");
    assert_eq!(headers(&ok, "Record-Route"), [our_rr.as_str()], "{ok}");
    assert_eq!(headers(&ok, "Via").len(), 1, "{ok}");

    // ACK and BYE: R-URI = the UAS's Contact, Route = our Record-Route
    // (the route set, RFC 3261 12.1.2), sent to us.
    let target = format!("sip:bob@127.0.0.1:{uas_port}");
    for (method, cseq, branch) in [("ACK", 1, "ack"), ("BYE", 2, "bye")] {
        let req = request(
            method,
            &target,
            uac_port,
            branch,
            cseq,
            "uas1",
            Some(&our_rr),
        );
        uac.send(r.addr(), req.as_bytes());
        let (got, from) = uas
            .recv(WAIT)
            .unwrap_or_else(|| panic!("the UAS gets the {method}"));
        assert_eq!(from, r.addr());
        assert_eq!(first_line(&got), format!("{method} {target} SIP/2.0"));
        assert_eq!(header(&got, "Route"), None, "our Route is removed: {got}");
        assert_eq!(header(&got, "Record-Route"), None, "{got}");
        let vias = headers(&got, "Via");
        assert_eq!(vias.len(), 2, "{got}");
        assert!(
            vias[0].starts_with(&format!("SIP/2.0/UDP 127.0.0.1:{};branch=z9hG4bK", r.port)),
            "{}",
            vias[0]
        );
        if method == "BYE" {
            uas.send(
                r.addr(),
                uas_reply(
                    &got,
                    200,
                    "OK",
                    "uas1",
                    Some(&format!("sip:bob@127.0.0.1:{uas_port}")),
                )
                .as_bytes(),
            );
            let (ok, _) = uac.recv(WAIT).expect("the UAC gets the 200 to the BYE");
            assert_eq!(first_line(&ok), "SIP/2.0 200 OK");
            assert_eq!(header(&ok, "CSeq"), Some("2 BYE"));
        }
    }

    // An in-dialog request without a Route set is refused by the script.
    let stray = request("BYE", &target, uac_port, "stray", 3, "uas1", None);
    uac.send(r.addr(), stray.as_bytes());
    let (no, _) = uac.recv(WAIT).expect("the UAC gets the 404");
    assert_eq!(first_line(&no), "SIP/2.0 404 Not here");
    assert!(
        uas.recv(Duration::from_millis(300)).is_none(),
        "nothing reaches the UAS"
    );
}

#[test]
fn dialog_is_record_routed_uring() {
    dialog_through_the_proxy(&Start::default());
}

#[test]
fn dialog_is_record_routed_epoll() {
    dialog_through_the_proxy(&Start {
        args: &["-W", "epoll"],
        ..Start::default()
    });
}

/// A request that leaves from another socket than the one it came in on
/// (IPv4 in, IPv6 out) gets two Record-Routes: the outbound socket's on
/// top, for the callee's side, the inbound one's below, for the caller's.
/// In-dialog requests from the callee's side carry both as Routes; both
/// are consumed and the request goes out towards the caller.
#[test]
fn interface_change_gets_a_double_record_route() {
    let Ok(uas) = std::net::UdpSocket::bind("[::1]:0") else {
        eprintln!("no IPv6 loopback here: skipped");
        return;
    };
    let cfg = CONFIG.replace(
        "listen=udp:127.0.0.1:{PORT}",
        "listen=udp:127.0.0.1:{PORT}\nlisten=udp:[::1]:{PORT}",
    );
    let r = Router::start(&cfg, &Start::default());
    let uac = Peer::new();
    let uac_port = uac.port();
    let uas_port = uas.local_addr().unwrap().port();
    let invite = request(
        "INVITE",
        &format!("sip:bob@[::1]:{uas_port}"),
        uac_port,
        "v6inv",
        1,
        "",
        None,
    );
    uac.send(r.addr(), invite.as_bytes());
    uas.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = vec![0u8; 65_536];
    let (n, from) = uas.recv_from(&mut buf).expect("the UAS gets the INVITE");
    let req = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert_eq!(from.port(), r.port);
    assert!(from.is_ipv6());
    let v6_rr = format!("<sip:[::1]:{};lr;ftag=a1>", r.port);
    let v4_rr = format!("<sip:127.0.0.1:{};lr;ftag=a1>", r.port);
    assert_eq!(
        headers(&req, "Record-Route"),
        [v6_rr.as_str(), v4_rr.as_str()],
        "{req}"
    );
    // A BYE from the callee: Route set = both, in that order.
    let bye = format!(
        "BYE sip:alice@127.0.0.1:{uac_port} SIP/2.0\r\n\
         Via: SIP/2.0/UDP [::1]:{uas_port};branch=z9hG4bK-v6bye;rport\r\n\
         Max-Forwards: 70\r\n\
         Route: {v6_rr}, {v4_rr}\r\n\
         From: <sip:bob@example.com>;tag=uas1\r\n\
         To: <sip:alice@example.com>;tag=a1\r\n\
         Call-ID: rr-call-1\r\n\
         CSeq: 7 BYE\r\n\
         Content-Length: 0\r\n\r\n"
    );
    uas.send_to(
        bye.as_bytes(),
        std::net::SocketAddr::from(([0u16, 0, 0, 0, 0, 0, 0, 1], r.port)),
    )
    .unwrap();
    let (got, from) = uac.recv(WAIT).expect("the caller gets the BYE");
    assert_eq!(from, r.addr(), "sent from the IPv4 socket");
    assert_eq!(
        first_line(&got),
        format!("BYE sip:alice@127.0.0.1:{uac_port} SIP/2.0")
    );
    assert_eq!(
        header(&got, "Route"),
        None,
        "both our Routes consumed: {got}"
    );
}
