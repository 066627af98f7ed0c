//! The checks of the `binrpc` fuzz target (`core/fuzz`), shared with the
//! corpus replay test: framing and decoding a client's bytes never panic,
//! and every value tree that decodes encodes to bytes that are stable
//! through another decode and encode (DOUBLEs past 8e9 excepted: their
//! thousandths no longer fit an `f64` exactly).

use ser_core::ctl::binrpc::{self, Frame, Reader, Value, Writer};

fn encode(values: &[Value]) -> Vec<u8> {
    let mut w = Writer::new();
    for v in values {
        w.value(v);
    }
    w.into_bytes()
}

/// Whether a tree holds a DOUBLE too large for its three decimals to
/// survive `f64` (beyond 2^43 thousandths the ÷1000 is no longer exact).
fn has_huge_double(values: &[Value]) -> bool {
    values.iter().any(|v| match v {
        Value::Double(d) => d.abs() >= 8e9,
        Value::Struct(m) => m
            .iter()
            .any(|(_, v)| has_huge_double(std::slice::from_ref(v))),
        Value::Array(a) => has_huge_double(a),
        _ => false,
    })
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
        if !has_huge_double(&values) {
            assert_eq!(encode(&again), once, "encoding is not stable");
        }
    }
}
