//! The running router as a registrar over real UDP sockets: a UA
//! registers, a caller's INVITE finds it through `lookup("location")`, an
//! unknown user gets 404. Two shards, with Call-IDs chosen so that the
//! REGISTER and the INVITE are owned by different shards: the location
//! table must be shared.

use std::time::Duration;

use ser_core::shard::owner::owner;
use ser_tests::router::{Peer, Router, Start, first_line, header, headers};

const CONFIG: &str = r#"#!KAMAILIO
listen=udp:127.0.0.1:{PORT}
loadmodule "sl.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
modparam("usrloc", "db_mode", 0)

request_route {
    if (method=="REGISTER") {
        save("location");
        exit;
    }
    if (!lookup("location")) {
        sl_send_reply("404", "Not Found");
        exit;
    }
    forward();
}
"#;

const WAIT: Duration = Duration::from_secs(3);

/// A Call-ID with `prefix` owned by shard `shard` of 2.
fn call_id_on(prefix: &str, shard: usize) -> String {
    (0..1000)
        .map(|i| format!("{prefix}-{i}@127.0.0.1"))
        .find(|c| owner(c.as_bytes(), 2) == shard)
        .expect("some Call-ID lands on the shard")
}

fn register(router_port: u16, ua: &Peer, call_id: &str, expires: u32) -> String {
    let p = ua.port();
    format!(
        "REGISTER sip:127.0.0.1:{router_port} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bK-reg-{expires};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:bob@127.0.0.1>;tag=r1\r\n\
         To: <sip:bob@127.0.0.1>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {} REGISTER\r\n\
         Contact: <sip:bob@127.0.0.1:{p}>\r\n\
         Expires: {expires}\r\n\
         Content-Length: 0\r\n\r\n",
        if expires == 0 { 2 } else { 1 }
    )
}

fn invite(router_port: u16, user: &str, call_id: &str) -> String {
    let branch = call_id.replace('@', "-");
    format!(
        "INVITE sip:{user}@127.0.0.1:{router_port} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-{branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@example.com>;tag=a1\r\n\
         To: <sip:{user}@127.0.0.1>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:alice@192.0.2.10>\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

fn run(how: &Start<'_>) {
    let r = Router::start(CONFIG, how);
    let (ua, caller) = (Peer::new(), Peer::new());
    let reg_id = call_id_on("reg", 0);

    ua.send(r.addr(), register(r.port, &ua, &reg_id, 600).as_bytes());
    let (reply, _) = ua.recv(WAIT).expect("a reply to the REGISTER");
    assert_eq!(first_line(&reply), "SIP/2.0 200 OK", "{reply}");
    let contacts = headers(&reply, "Contact");
    assert_eq!(contacts.len(), 1, "{reply}");
    let c = contacts[0];
    assert!(
        c.starts_with(&format!("<sip:bob@127.0.0.1:{}>;expires=", ua.port())),
        "{c}"
    );
    let exp: u32 = c.rsplit('=').next().unwrap().parse().unwrap();
    assert!((599..=600).contains(&exp), "{c}");

    // An INVITE owned by the other shard reaches the registered contact.
    let inv_id = call_id_on("inv", 1);
    caller.send(r.addr(), invite(r.port, "bob", &inv_id).as_bytes());
    let Some((req, from)) = ua.recv(WAIT) else {
        let got = caller.recv(Duration::from_millis(200));
        panic!("the UA gets no INVITE; caller got {got:?}\n{}", r.stderr());
    };
    assert_eq!(from, r.addr());
    assert_eq!(
        first_line(&req),
        format!("INVITE sip:bob@127.0.0.1:{} SIP/2.0", ua.port())
    );
    assert_eq!(header(&req, "Call-ID"), Some(inv_id.as_str()));
    assert!(caller.recv(Duration::from_millis(200)).is_none());

    // An unknown user: 404.
    let unknown_id = call_id_on("unk", 1);
    caller.send(r.addr(), invite(r.port, "nobody", &unknown_id).as_bytes());
    let (reply, _) = caller.recv(WAIT).expect("a reply to the INVITE");
    assert_eq!(first_line(&reply), "SIP/2.0 404 Not Found", "{reply}");

    // Unregister: then bob is unknown too.
    ua.send(r.addr(), register(r.port, &ua, &reg_id, 0).as_bytes());
    let (reply, _) = ua.recv(WAIT).expect("a reply to the un-REGISTER");
    assert_eq!(first_line(&reply), "SIP/2.0 200 OK", "{reply}");
    assert!(headers(&reply, "Contact").is_empty(), "{reply}");
    let again = call_id_on("inv2", 1);
    caller.send(r.addr(), invite(r.port, "bob", &again).as_bytes());
    let (reply, _) = caller.recv(WAIT).expect("a reply to the INVITE");
    assert_eq!(first_line(&reply), "SIP/2.0 404 Not Found", "{reply}");
    assert!(ua.recv(Duration::from_millis(200)).is_none());

    // Registered again: the table's size is printed at exit.
    let reg2 = call_id_on("reg2", 0);
    ua.send(r.addr(), register(r.port, &ua, &reg2, 600).as_bytes());
    let (reply, _) = ua.recv(WAIT).expect("a reply to the new REGISTER");
    assert_eq!(first_line(&reply), "SIP/2.0 200 OK", "{reply}");
    let (code, err) = r.stop();
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("ser: location: 1 bindings of 1 AoRs"), "{err}");
}

#[test]
fn register_then_invite_across_shards() {
    run(&Start {
        args: &["-n", "2"],
        ..Start::default()
    });
}

#[test]
fn register_then_invite_across_shards_epoll() {
    run(&Start {
        args: &["-n", "2", "-W", "epoll"],
        ..Start::default()
    });
}
