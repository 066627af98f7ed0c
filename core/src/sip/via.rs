//! Via values (RFC 3261 20.42, RFC 3581). STUB: being written.

use super::error::Result;
use super::limits::Limits;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Via<'a> {
    pub raw: &'a [u8],
}

impl<'a> Via<'a> {
    pub fn parse(s: &'a [u8], _limits: &Limits) -> Result<Via<'a>> {
        Ok(Via { raw: s })
    }
}
