//! Fuzz target: the message parser. Any bytes must give a message or a typed
//! error, never a panic or a hang; every lazy accessor is exercised, on both
//! datagram and stream rules, and stream framing agrees with parsing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ser_core::sip::msg::frame_len;
use ser_core::sip::{HeaderName, Limits, SipMsg, Transport};

fn touch(m: &SipMsg<'_>) {
    let _ = m.ruri();
    let _ = m.vias();
    let _ = m.via2();
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
    let _ = m.option_tags(HeaderName::Supported);
    let _ = m.credentials(HeaderName::Authorization);
    let _ = m.credentials(HeaderName::ProxyAuthorization);
    let _ = m.challenges(HeaderName::WwwAuthenticate);
    let _ = m.challenges(HeaderName::ProxyAuthenticate);
    let _ = m.sdp();
    let _ = m.validate();
    for h in m.headers() {
        let _ = m.value_of(h);
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = SipMsg::parse(data) {
        touch(&m);
        assert!(m.body().len() <= data.len());
    }
    if let Ok(Some((skip, len))) = frame_len(data, &Limits::DEFAULT) {
        let one = &data[skip..skip + len];
        if let Ok(m) = SipMsg::parse_with(one, Transport::Stream, &Limits::DEFAULT) {
            touch(&m);
        }
    }
});
