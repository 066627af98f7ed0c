//! Parser benchmarks (issue 2): for an INVITE with SDP, a 200 OK and a
//! REGISTER, in one run:
//!
//! - `floor`: one memchr iteration over the bytes finding every line end,
//!   the least any parser must do;
//! - `index`: `SipMsg::parse`, the header index alone (start line, every
//!   header line classified, Content-Length framing);
//! - `full`: the index plus every header a proxy/registrar reads parsed to
//!   its inner structure (Request-URI, Vias, From, To, CSeq, Call-ID,
//!   Contacts, Route/Record-Route, Max-Forwards, Content-Type, Expires,
//!   option tags, digest credentials, SDP lines);
//! - `rsip`: the same bytes through the `rsip` crate, its untyped parse and
//!   its parse plus typed headers for the same set.
//!
//! Run: `cargo bench -p ser-benches --bench parse`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ser_benches::{INVITE, OK200, REGISTER};
use ser_core::sip::{HeaderName, SipMsg};

fn floor(buf: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', buf).count()
}

fn index(buf: &[u8]) -> usize {
    match SipMsg::parse(buf) {
        Ok(m) => m.headers().len(),
        Err(_) => 0,
    }
}

/// Parses everything a stateful proxy and registrar read. Returns a value
/// derived from the parsed parts so nothing is optimised away.
fn full(buf: &[u8]) -> usize {
    let Ok(m) = SipMsg::parse(buf) else { return 0 };
    let mut n = m.headers().len();
    if m.is_request() {
        n += m.ruri().map_or(0, |u| u.raw.len());
    }
    n += m.vias().map_or(0, |v| v.len());
    n += m.from().map_or(0, |a| a.params.raw().len());
    n += m.to().map_or(0, |a| a.params.raw().len());
    n += m.cseq().map_or(0, |c| c.num as usize);
    n += m.call_id().map_or(0, |c| c.len());
    n += m.contacts().map_or(0, |c| c.list.len());
    n += m.routes().map_or(0, |r| r.len());
    n += m.record_routes().map_or(0, |r| r.len());
    n += m.max_forwards().ok().flatten().unwrap_or(0) as usize;
    n += m.expires().ok().flatten().unwrap_or(0) as usize;
    n += m.content_type().ok().flatten().map_or(0, |(t, _)| t.len());
    n += m.option_tags(HeaderName::Supported).map_or(0, |t| t.len());
    n += m.option_tags(HeaderName::Require).map_or(0, |t| t.len());
    n += m
        .credentials(HeaderName::Authorization)
        .map_or(0, |c| c.len());
    if m.content_length().unwrap_or(0) > 0 {
        n += m.sdp().map_or(0, |s| s.raw.len());
    }
    n
}

fn rsip_untyped(buf: &[u8]) -> usize {
    match rsip::SipMessage::try_from(buf) {
        Ok(m) => {
            use rsip::prelude::*;
            m.headers().iter().count()
        }
        Err(_) => 0,
    }
}

fn rsip_typed(buf: &[u8]) -> usize {
    use rsip::prelude::*;
    let Ok(m) = rsip::SipMessage::try_from(buf) else {
        return 0;
    };
    let mut n = m.headers().iter().count();
    if let rsip::SipMessage::Request(r) = &m {
        n += r.uri.host_with_port.to_string().len();
    }
    for h in m.headers().iter() {
        n += match h {
            rsip::Header::Via(v) => v.typed().map_or(0, |v| v.params.len()),
            rsip::Header::From(v) => v.typed().map_or(0, |v| v.params.len()),
            rsip::Header::To(v) => v.typed().map_or(0, |v| v.params.len()),
            rsip::Header::CSeq(v) => v.typed().map_or(0, |v| v.seq as usize),
            rsip::Header::CallId(v) => v.value().len(),
            rsip::Header::Contact(v) => v.typed().map_or(0, |v| v.params.len()),
            rsip::Header::Route(v) => v.typed().map_or(0, |v| v.uris().len()),
            rsip::Header::RecordRoute(v) => v.typed().map_or(0, |v| v.uris().len()),
            rsip::Header::MaxForwards(v) => v.num().map_or(0, |v| v as usize),
            rsip::Header::Expires(v) => v.seconds().map_or(0, |v| v as usize),
            rsip::Header::ContentType(v) => v.typed().map_or(0, |_| 1),
            rsip::Header::Authorization(v) => v.typed().map_or(0, |v| v.username.len()),
            rsip::Header::Supported(v) => v.value().len(),
            _ => 0,
        };
    }
    n
}

fn bench(c: &mut Criterion) {
    for (name, msg) in [("invite", INVITE), ("ok200", OK200), ("register", REGISTER)] {
        // Sanity: every variant parses the message.
        assert!(index(msg) > 0 && full(msg) > 0 && rsip_untyped(msg) > 0 && rsip_typed(msg) > 0);
        let mut g = c.benchmark_group(name);
        g.bench_function("floor", |b| b.iter(|| floor(black_box(msg))));
        g.bench_function("index", |b| b.iter(|| index(black_box(msg))));
        g.bench_function("full", |b| b.iter(|| full(black_box(msg))));
        g.bench_function("rsip", |b| b.iter(|| rsip_untyped(black_box(msg))));
        g.bench_function("rsip_typed", |b| b.iter(|| rsip_typed(black_box(msg))));
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
