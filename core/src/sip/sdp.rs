//! SDP line locator (RFC 4566): `c=`, `m=` and `a=rtcp` as byte ranges. STUB.

use super::error::Result;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sdp<'a> {
    pub raw: &'a [u8],
}

impl<'a> Sdp<'a> {
    pub fn locate(body: &'a [u8]) -> Result<Sdp<'a>> {
        Ok(Sdp { raw: body })
    }
}
