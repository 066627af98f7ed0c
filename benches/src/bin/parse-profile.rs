//! A loop over one parser variant, for profilers (callgrind, perf):
//! `parse-profile <index|full> <invite|ok200|register> <iterations>`.

use std::hint::black_box;

use ser_benches::{INVITE, OK200, REGISTER};
use ser_core::sip::{HeaderName, SipMsg};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map_or("index", String::as_str);
    let msg = match args.get(2).map_or("invite", String::as_str) {
        "ok200" => OK200,
        "register" => REGISTER,
        _ => INVITE,
    };
    let n: u64 = args
        .get(3)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let mut acc = 0usize;
    for _ in 0..n {
        let Ok(m) = SipMsg::parse(black_box(msg)) else {
            continue;
        };
        acc += m.headers().len();
        if mode == "full" {
            acc += m.vias().map_or(0, |v| v.len());
            acc += m.from().map_or(0, |a| a.params.raw().len());
            acc += m.to().map_or(0, |a| a.params.raw().len());
            acc += m.cseq().map_or(0, |c| c.num as usize);
            acc += m.call_id().map_or(0, |c| c.len());
            acc += m.contacts().map_or(0, |c| c.list.len());
            acc += m.routes().map_or(0, |r| r.len());
            acc += m.record_routes().map_or(0, |r| r.len());
            acc += m.option_tags(HeaderName::Supported).map_or(0, |t| t.len());
            acc += m
                .credentials(HeaderName::Authorization)
                .map_or(0, |c| c.len());
            if m.is_request() {
                acc += m.ruri().map_or(0, |u| u.raw.len());
            }
            if m.content_length().unwrap_or(0) > 0 {
                acc += m.sdp().map_or(0, |s| s.raw.len());
            }
        }
    }
    println!("{acc}");
}
