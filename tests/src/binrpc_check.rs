//! The checks of the `binrpc` fuzz target (`core/fuzz`), shared with the
//! corpus replay test: framing and decoding a client's bytes never panic,
//! and every value tree that decodes encodes to bytes that are stable
//! through another decode and encode.

use ser_core::ctl::binrpc::{self, Frame, Reader, Value, Writer};

fn encode(values: &[Value]) -> Vec<u8> {
    let mut w = Writer::new();
    for v in values {
        w.value(v);
    }
    w.into_bytes()
}

pub fn run(data: &[u8]) {
    if let Frame::Header(h) = binrpc::frame(data) {
        let _ = h.packet_len();
        if let Some(body) = data.get(h.len..) {
            let _ = binrpc::decode(body);
        }
    }
    let mut r = Reader::new(data);
    while let Ok(Some(_)) = r.next_token() {}
    if let Ok(values) = binrpc::decode(data) {
        let once = encode(&values);
        let again = binrpc::decode(&once).expect("our own encoding decodes");
        assert_eq!(again.len(), values.len());
        assert_eq!(encode(&again), once, "encoding is not stable");
    }
}
