//! name-addr / addr-spec values: From, To, Contact, Route, Record-Route,
//! Path, Refer-To. STUB: being written.

use super::error::Result;
use super::lex::Params;
use super::limits::Limits;
use super::uri::Uri;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameAddr<'a> {
    pub display: Option<&'a [u8]>,
    pub uri: Uri<'a>,
    pub params: Params<'a>,
}

impl<'a> NameAddr<'a> {
    pub fn parse(s: &'a [u8], limits: &Limits) -> Result<NameAddr<'a>> {
        Ok(NameAddr { display: None, uri: Uri::parse(s, limits)?, params: Params::default() })
    }
}
