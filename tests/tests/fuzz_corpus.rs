//! Replays the fuzzers' corpora (`core/fuzz/corpus/`) through the same
//! checks as the fuzz targets, so every input the fuzzers ever kept stays a
//! regression test in the ordinary test run: no panic, framing agrees with
//! parsing, and URI comparison stays reflexive and symmetric.

use std::path::PathBuf;

use ser_core::sip::msg::frame_len;
use ser_core::sip::{HeaderName, Limits, NameAddr, SipMsg, Transport, Uri};

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../core/fuzz/corpus")
        .join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.expect("dir entry").path();
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, std::fs::read(&p).expect("read corpus file"))
        })
        .collect();
    out.sort();
    out
}

fn touch(m: &SipMsg<'_>) {
    let _ = m.ruri();
    let _ = m.vias();
    let _ = m.from();
    let _ = m.to();
    let _ = m.call_id();
    let _ = m.cseq();
    let _ = m.contacts();
    let _ = m.routes();
    let _ = m.record_routes();
    let _ = m.paths();
    let _ = m.max_forwards();
    let _ = m.expires();
    let _ = m.content_type();
    let _ = m.option_tags(HeaderName::Require);
    let _ = m.credentials(HeaderName::Authorization);
    let _ = m.challenges(HeaderName::WwwAuthenticate);
    let _ = m.sdp();
    let _ = m.validate();
}

#[test]
fn message_corpus_replays() {
    let files = corpus("parse_msg");
    assert!(
        files.len() > 100,
        "the message corpus is unexpectedly small"
    );
    let mut parsed = 0;
    for (name, data) in &files {
        if let Ok(m) = SipMsg::parse(data) {
            parsed += 1;
            touch(&m);
            assert!(m.body().len() <= data.len(), "{name}");
        }
        if let Ok(Some((skip, len))) = frame_len(data, &Limits::DEFAULT) {
            let one = &data[skip..skip + len];
            let m = SipMsg::parse_with(one, Transport::Stream, &Limits::DEFAULT);
            // What framing accepted, the stream parser takes whole.
            if let Ok(m) = m {
                assert_eq!(m.len(), len, "{name}");
                touch(&m);
            }
        }
    }
    assert!(parsed > 10, "no corpus message parsed");
}

#[test]
fn uri_corpus_replays() {
    let files = corpus("parse_uri");
    assert!(files.len() > 10, "the URI corpus is unexpectedly small");
    let l = Limits::DEFAULT;
    for (name, data) in &files {
        let (a, b) = match data.iter().position(|&c| c == 0) {
            Some(i) => (&data[..i], &data[i + 1..]),
            None => (&data[..], &b""[..]),
        };
        if let Ok(ua) = Uri::parse(a, &l) {
            assert!(ua.equals(&ua), "{name}: not reflexive");
            if let Ok(ub) = Uri::parse(b, &l) {
                assert_eq!(ua.equals(&ub), ub.equals(&ua), "{name}: not symmetric");
            }
        }
        let _ = NameAddr::parse(a, &l);
    }
}

/// The `proxy` target's corpus: every datagram through the stateless
/// path, and everything built parses again.
#[test]
fn proxy_corpus_replays() {
    let files = corpus("proxy");
    assert!(files.len() > 100, "proxy corpus is missing");
    for (_, data) in &files {
        ser_tests::proxy_check::run(data);
    }
}

#[test]
fn tm_corpus_replays() {
    let files = corpus("tm");
    assert!(files.len() > 100, "tm corpus is missing");
    for (_, data) in &files {
        ser_tests::tm_check::run(data);
    }
}

#[test]
fn binrpc_corpus_replays() {
    let files = corpus("binrpc");
    assert!(files.len() > 100, "binrpc corpus is missing");
    for (_, data) in &files {
        ser_tests::binrpc_check::run(data);
    }
}
