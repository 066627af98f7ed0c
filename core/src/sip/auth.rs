//! Digest credentials and challenges (RFC 3261 22, RFC 7616). STUB.

use super::error::Result;
use super::limits::Limits;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials<'a> {
    pub raw: &'a [u8],
}

impl<'a> Credentials<'a> {
    pub fn parse(s: &'a [u8], _limits: &Limits) -> Result<Credentials<'a>> {
        Ok(Credentials { raw: s })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge<'a> {
    pub raw: &'a [u8],
}

impl<'a> Challenge<'a> {
    pub fn parse(s: &'a [u8], _limits: &Limits) -> Result<Challenge<'a>> {
        Ok(Challenge { raw: s })
    }
}
