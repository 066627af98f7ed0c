//! CSeq (RFC 3261 20.16). STUB: being written.

use super::error::{Fault, Result, Where, err};
use super::lex;
use super::method::Method;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CSeq<'a> {
    pub num: u32,
    pub method: Method<'a>,
}

impl<'a> CSeq<'a> {
    pub fn parse(s: &'a [u8]) -> Result<CSeq<'a>> {
        let s = lex::trim(s);
        let sp = s.iter().position(|&b| lex::is_lws(b)).ok_or(err(Where::CSeq, Fault::Malformed, 0))?;
        let num = lex::parse_u32(&s[..sp], Where::CSeq)?;
        let m = lex::trim(&s[sp..]);
        let method = Method::parse(m).ok_or(err(Where::CSeq, Fault::BadChar, sp))?;
        Ok(CSeq { num, method })
    }
}
