//! SIP, SIPS and tel URIs (RFC 3261 19.1, RFC 3966). STUB: being written.

use super::error::Result;
use super::limits::Limits;

/// A parsed URI, borrowing the message bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uri<'a> {
    pub raw: &'a [u8],
}

impl<'a> Uri<'a> {
    pub fn parse(s: &'a [u8], _limits: &Limits) -> Result<Uri<'a>> {
        Ok(Uri { raw: s })
    }
}
