//! The parsed message: start line, header index, body, and lazily parsed
//! header structures.
//!
//! [`SipMsg::parse`] is the one pass over the bytes. It stores, for every
//! header line, the classified name and two byte ranges (name and value);
//! folded continuation lines extend the value range. Accessors such as
//! [`SipMsg::vias`] or [`SipMsg::from`] parse the header's inner structure on
//! first use and cache the result (or the error) in the message.

use core::cell::OnceCell;

use super::addr::NameAddr;
use super::auth::{Challenge, Credentials};
use super::cseq::CSeq;
use super::error::{Fault, ParseError, Result, Where, err};
use super::header::{HeaderName, N_NAMES};
use super::lex::{self, CommaSplit};
use super::limits::Limits;
use super::method::Method;
use super::scan::{LineAt, Lines};
use super::sdp::Sdp;
use super::uri::Uri;
use super::via::Via;

/// A byte range of the message buffer. `u32` keeps the header index small.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    #[inline]
    pub const fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }
    #[inline]
    pub fn get<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        buf.get(self.start as usize..self.end as usize)
            .unwrap_or(&[])
    }
    #[inline]
    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
    /// The span of `inner`, a sub-slice of `outer`, which starts at `self`.
    #[inline]
    pub fn sub(&self, outer: &[u8], inner: &[u8]) -> Span {
        let off = (inner.as_ptr() as usize).wrapping_sub(outer.as_ptr() as usize);
        let off = off.min(outer.len());
        Span::new(
            self.start as usize + off,
            self.start as usize + off + inner.len(),
        )
    }
}

/// How the message arrived; decides the Content-Length rules (RFC 3261 18.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Transport {
    /// One message per datagram: a missing Content-Length means "the rest
    /// of the datagram", extra bytes after the body are ignored.
    #[default]
    Datagram,
    /// TCP/TLS: Content-Length is required and frames the message.
    Stream,
}

/// One header line (or a folded group of lines).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderField {
    pub name: HeaderName,
    /// The name as written (full or compact form).
    pub name_span: Span,
    /// The value, trimmed; may contain folding (CRLF + white space).
    pub value_span: Span,
    /// End of the whole header line, just past its line terminator. The line
    /// starts at `name_span.start`.
    pub line_end: u32,
}

impl HeaderField {
    /// The whole header line, terminator included.
    #[inline]
    pub fn line(&self) -> Span {
        Span {
            start: self.name_span.start,
            end: self.line_end,
        }
    }
}

/// The first line of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartLine<'a> {
    Request { method: Method<'a>, uri: Span },
    Response { code: u16, reason: Span },
}

/// The Contact header set: either `*` or a list of name-addrs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Contacts<'a> {
    /// `Contact: *` (only valid in REGISTER, alone, with `Expires: 0`).
    pub star: bool,
    pub list: Vec<NameAddr<'a>>,
}

/// Lazily parsed header structures.
#[derive(Default)]
struct Cache<'a> {
    ruri: OnceCell<Result<Uri<'a>>>,
    vias: OnceCell<Result<Vec<Via<'a>>>>,
    from: OnceCell<Result<NameAddr<'a>>>,
    to: OnceCell<Result<NameAddr<'a>>>,
    cseq: OnceCell<Result<CSeq<'a>>>,
    contacts: OnceCell<Result<Contacts<'a>>>,
    routes: OnceCell<Result<Vec<NameAddr<'a>>>>,
    record_routes: OnceCell<Result<Vec<NameAddr<'a>>>>,
    paths: OnceCell<Result<Vec<NameAddr<'a>>>>,
    sdp: OnceCell<Result<Sdp<'a>>>,
}

/// A parsed SIP message borrowing its bytes.
pub struct SipMsg<'a> {
    buf: &'a [u8],
    start: StartLine<'a>,
    headers: Vec<HeaderField>,
    /// Index + 1 of the first header of each known name; 0 = absent.
    first: [u16; N_NAMES],
    /// Offset of the empty line that ends the headers.
    headers_end: u32,
    body: Span,
    content_length: Option<u32>,
    limits: Limits,
    cache: Cache<'a>,
}

/// Header vectors are recycled per thread: a shard parses one message
/// after another, and taking a cleared vector back is cheaper than an
/// allocation and a free for every message.
mod recycle {
    use super::HeaderField;
    use std::cell::RefCell;

    /// Vectors kept per thread (a few, for messages alive at once).
    const KEEP: usize = 8;
    /// Larger vectors are freed rather than kept.
    const MAX_CAPACITY: usize = 256;

    thread_local! {
        static POOL: RefCell<Vec<Vec<HeaderField>>> = const { RefCell::new(Vec::new()) };
    }

    pub(super) fn take() -> Vec<HeaderField> {
        POOL.try_with(|p| p.try_borrow_mut().ok().and_then(|mut p| p.pop()))
            .ok()
            .flatten()
            .unwrap_or_else(|| Vec::with_capacity(32))
    }

    pub(super) fn give(mut v: Vec<HeaderField>) {
        if v.capacity() == 0 || v.capacity() > MAX_CAPACITY {
            return;
        }
        v.clear();
        let _ = POOL.try_with(|p| {
            if let Ok(mut p) = p.try_borrow_mut()
                && p.len() < KEEP
            {
                p.push(v);
            }
        });
    }
}

#[inline]
fn take_header_vec() -> Vec<HeaderField> {
    recycle::take()
}

impl Drop for SipMsg<'_> {
    fn drop(&mut self) {
        recycle::give(core::mem::take(&mut self.headers));
    }
}

impl core::fmt::Debug for SipMsg<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SipMsg")
            .field("start", &self.start)
            .field("headers", &self.headers.len())
            .field("body", &self.body)
            .finish()
    }
}

impl<'a> SipMsg<'a> {
    /// Parses a message received as one datagram, with default limits.
    pub fn parse(buf: &'a [u8]) -> Result<SipMsg<'a>> {
        Self::parse_with(buf, Transport::Datagram, &Limits::DEFAULT)
    }

    /// Parses a message with explicit transport rules and limits. For
    /// [`Transport::Stream`], `buf` must hold one whole message (see
    /// [`frame_len`]); bytes after it are not part of the message.
    pub fn parse_with(buf: &'a [u8], transport: Transport, limits: &Limits) -> Result<SipMsg<'a>> {
        if buf.len() > limits.max_message {
            return Err(err(Where::Message, Fault::TooLong, limits.max_message));
        }
        let head = parse_head(buf, limits)?;
        let pos = head.body_start;
        let avail = buf.len() - pos;
        let body_len = match (head.content_length, transport) {
            (Some(cl), _) => {
                let cl = cl as usize;
                if cl > avail {
                    return Err(err(Where::ContentLength, Fault::LengthMismatch, pos));
                }
                cl
            }
            (None, Transport::Datagram) => avail,
            (None, Transport::Stream) => {
                return Err(err(Where::ContentLength, Fault::Missing, pos));
            }
        };
        if body_len > limits.max_body {
            return Err(err(Where::Body, Fault::TooLong, pos));
        }
        Ok(SipMsg {
            buf,
            start: head.start,
            headers: head.headers,
            first: head.first,
            headers_end: head.headers_end,
            body: Span::new(pos, pos + body_len),
            content_length: head.content_length,
            limits: *limits,
            cache: Cache::default(),
        })
    }

    // ----- raw access -----

    /// The whole buffer the message was parsed from.
    #[inline]
    pub fn buf(&self) -> &'a [u8] {
        self.buf
    }

    /// The bytes that make up the message (for a datagram, without any
    /// trailing bytes past Content-Length).
    #[inline]
    pub fn bytes(&self) -> &'a [u8] {
        &self.buf[..self.body.end as usize]
    }

    /// Message length in bytes (`msg:len` in the script).
    #[inline]
    pub fn len(&self) -> usize {
        self.body.end as usize
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    #[inline]
    pub fn start_line(&self) -> &StartLine<'a> {
        &self.start
    }

    /// Offset where the first header line begins.
    #[inline]
    pub fn headers_start(&self) -> usize {
        memchr::memchr(b'\n', self.buf).map_or(0, |i| i + 1)
    }

    /// Offset of the empty line that ends the headers.
    #[inline]
    pub fn headers_end(&self) -> usize {
        self.headers_end as usize
    }

    #[inline]
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    #[inline]
    pub fn is_response(&self) -> bool {
        !self.is_request()
    }

    /// The request method (`None` for a response).
    #[inline]
    pub fn method(&self) -> Option<Method<'a>> {
        match self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI as written (`None` for a response).
    #[inline]
    pub fn ruri_bytes(&self) -> Option<&'a [u8]> {
        match self.start {
            StartLine::Request { uri, .. } => Some(uri.get(self.buf)),
            StartLine::Response { .. } => None,
        }
    }

    /// The span of the Request-URI (for rewriting it).
    #[inline]
    pub fn ruri_span(&self) -> Option<Span> {
        match self.start {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code of a response.
    #[inline]
    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }

    /// The reason phrase of a response.
    #[inline]
    pub fn reason(&self) -> Option<&'a [u8]> {
        match self.start {
            StartLine::Response { reason, .. } => Some(reason.get(self.buf)),
            StartLine::Request { .. } => None,
        }
    }

    /// Every header line, in order.
    #[inline]
    pub fn headers(&self) -> &[HeaderField] {
        &self.headers
    }

    /// The bytes of a span of this message.
    #[inline]
    pub fn slice(&self, s: Span) -> &'a [u8] {
        s.get(self.buf)
    }

    /// The name of a header as written.
    #[inline]
    pub fn name_of(&self, h: &HeaderField) -> &'a [u8] {
        h.name_span.get(self.buf)
    }

    /// The value of a header as written (may contain folding).
    #[inline]
    pub fn value_of(&self, h: &HeaderField) -> &'a [u8] {
        h.value_span.get(self.buf)
    }

    /// The first header with this name.
    #[inline]
    pub fn header(&self, name: HeaderName) -> Option<&HeaderField> {
        if name == HeaderName::Other {
            return None;
        }
        match self.first[name as usize] {
            0 => None,
            i => self.headers.get(i as usize - 1),
        }
    }

    /// The value of the first header with this name.
    #[inline]
    pub fn value(&self, name: HeaderName) -> Option<&'a [u8]> {
        self.header(name).map(|h| self.value_of(h))
    }

    /// Every header with this name, in order.
    pub fn headers_named(&self, name: HeaderName) -> impl Iterator<Item = &HeaderField> + '_ {
        let from = match self.first[name as usize] {
            0 => self.headers.len(),
            i => i as usize - 1,
        };
        self.headers[from..].iter().filter(move |h| h.name == name)
    }

    /// Every header whose name (as written, or its canonical or compact form)
    /// matches `name` case-insensitively. Works for unknown names too.
    pub fn headers_by_name<'s>(
        &'s self,
        name: &'s [u8],
    ) -> impl Iterator<Item = &'s HeaderField> + 's {
        let known = HeaderName::classify(name);
        self.headers.iter().filter(move |h| {
            if known != HeaderName::Other {
                h.name == known
            } else {
                h.name == HeaderName::Other && lex::eq_ic(self.name_of(h), name)
            }
        })
    }

    /// The value of the first header with this name (any name).
    pub fn value_by_name(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.headers_by_name(name).next().map(|h| self.value_of(h))
    }

    /// The message body (as framed by Content-Length).
    #[inline]
    pub fn body(&self) -> &'a [u8] {
        self.body.get(self.buf)
    }

    #[inline]
    pub fn body_span(&self) -> Span {
        self.body
    }

    /// The Content-Length header's value, if there was one.
    #[inline]
    pub fn content_length(&self) -> Option<u32> {
        self.content_length
    }

    // ----- lazily parsed structures -----

    /// The Request-URI, parsed.
    pub fn ruri(&self) -> Result<&Uri<'a>> {
        self.cache
            .ruri
            .get_or_init(|| match self.start {
                StartLine::Request { uri, .. } => Uri::parse(uri.get(self.buf), &self.limits)
                    .map_err(|e| e.within(Where::RequestUri, uri.start as usize)),
                StartLine::Response { .. } => Err(err(Where::RequestUri, Fault::Missing, 0)),
            })
            .as_ref()
            .map_err(|e| *e)
    }

    /// Whether the Request-URI was parsed (by [`SipMsg::ruri`]) and
    /// refused; false when nobody asked for it yet.
    pub fn ruri_failed(&self) -> bool {
        matches!(self.cache.ruri.get(), Some(Err(_)))
    }

    /// The Call-ID value (required).
    pub fn call_id(&self) -> Result<&'a [u8]> {
        let h = self
            .header(HeaderName::CallId)
            .ok_or(err(Where::CallId, Fault::Missing, 0))?;
        let v = self.value_of(h);
        if v.is_empty() {
            return Err(err(
                Where::CallId,
                Fault::Empty,
                h.value_span.start as usize,
            ));
        }
        // word [ "@" word ]: no white space, no control characters.
        if let Some(i) = v.iter().position(|&b| b <= b' ' || b == 0x7f) {
            return Err(err(
                Where::CallId,
                Fault::BadChar,
                h.value_span.start as usize + i,
            ));
        }
        Ok(v)
    }

    /// Every Via value across all Via headers, top first.
    pub fn vias(&self) -> Result<&[Via<'a>]> {
        self.cache
            .vias
            .get_or_init(|| {
                let mut out = Vec::with_capacity(4);
                self.parse_list(HeaderName::Via, Where::Via, self.limits.max_vias, |s, l| {
                    out.push(Via::parse(s, l)?);
                    Ok(())
                })?;
                Ok(out)
            })
            .as_deref()
            .map_err(|e| *e)
    }

    /// The topmost Via.
    pub fn via1(&self) -> Result<&Via<'a>> {
        self.vias()?
            .first()
            .ok_or(err(Where::Via, Fault::Missing, 0))
    }

    /// The second Via (where a proxy sends a reply), if any.
    pub fn via2(&self) -> Result<Option<&Via<'a>>> {
        Ok(self.vias()?.get(1))
    }

    /// The From header.
    pub fn from(&self) -> Result<&NameAddr<'a>> {
        self.cache
            .from
            .get_or_init(|| self.parse_single_addr(HeaderName::From, Where::From))
            .as_ref()
            .map_err(|e| *e)
    }

    /// The To header.
    pub fn to(&self) -> Result<&NameAddr<'a>> {
        self.cache
            .to
            .get_or_init(|| self.parse_single_addr(HeaderName::To, Where::To))
            .as_ref()
            .map_err(|e| *e)
    }

    /// The CSeq header.
    pub fn cseq(&self) -> Result<&CSeq<'a>> {
        self.cache
            .cseq
            .get_or_init(|| {
                let h = self
                    .header(HeaderName::CSeq)
                    .ok_or(err(Where::CSeq, Fault::Missing, 0))?;
                CSeq::parse(self.value_of(h))
                    .map_err(|e| e.within(Where::CSeq, h.value_span.start as usize))
            })
            .as_ref()
            .map_err(|e| *e)
    }

    /// The Contact set (all Contact headers): `*` or a list.
    pub fn contacts(&self) -> Result<&Contacts<'a>> {
        self.cache
            .contacts
            .get_or_init(|| {
                let mut c = Contacts::default();
                self.parse_list(
                    HeaderName::Contact,
                    Where::Contact,
                    self.limits.max_values,
                    |s, l| {
                        if s == b"*" {
                            if c.star {
                                return Err(err(Where::Contact, Fault::Duplicate, 0));
                            }
                            c.star = true;
                        } else {
                            c.list.push(NameAddr::parse(s, l)?);
                        }
                        Ok(())
                    },
                )?;
                if c.star && !c.list.is_empty() {
                    return Err(err(Where::Contact, Fault::Malformed, 0));
                }
                Ok(c)
            })
            .as_ref()
            .map_err(|e| *e)
    }

    /// The Route set, top first.
    pub fn routes(&self) -> Result<&[NameAddr<'a>]> {
        self.cache
            .routes
            .get_or_init(|| self.parse_addr_list(HeaderName::Route, Where::Route))
            .as_deref()
            .map_err(|e| *e)
    }

    /// The Record-Route set, top first.
    pub fn record_routes(&self) -> Result<&[NameAddr<'a>]> {
        self.cache
            .record_routes
            .get_or_init(|| self.parse_addr_list(HeaderName::RecordRoute, Where::RecordRoute))
            .as_deref()
            .map_err(|e| *e)
    }

    /// The Path set (RFC 3327), top first.
    pub fn paths(&self) -> Result<&[NameAddr<'a>]> {
        self.cache
            .paths
            .get_or_init(|| self.parse_addr_list(HeaderName::Path, Where::Route))
            .as_deref()
            .map_err(|e| *e)
    }

    /// Max-Forwards, if present (0..=255 per RFC 3261, larger values are
    /// accepted up to u32 and left to the script to judge).
    pub fn max_forwards(&self) -> Result<Option<u32>> {
        self.number_header(HeaderName::MaxForwards, Where::MaxForwards)
    }

    /// The Expires header, if present (seconds).
    pub fn expires(&self) -> Result<Option<u32>> {
        self.number_header(HeaderName::Expires, Where::Expires)
    }

    /// The Min-Expires header, if present.
    pub fn min_expires(&self) -> Result<Option<u32>> {
        self.number_header(HeaderName::MinExpires, Where::Expires)
    }

    /// Content-Type as `(type/subtype, parameters)`, lower-cased comparison
    /// left to the caller; `None` if absent.
    pub fn content_type(&self) -> Result<Option<(&'a [u8], lex::Params<'a>)>> {
        let Some(h) = self.header(HeaderName::ContentType) else {
            return Ok(None);
        };
        let v = self.value_of(h);
        let base = h.value_span.start as usize;
        let (mt, params) = match memchr::memchr(b';', v) {
            Some(i) => (lex::trim(&v[..i]), &v[i + 1..]),
            None => (v, &b""[..]),
        };
        let Some(slash) = memchr::memchr(b'/', mt) else {
            return Err(err(Where::ContentType, Fault::Malformed, base));
        };
        let (t, st) = (lex::trim(&mt[..slash]), lex::trim(&mt[slash + 1..]));
        if t.is_empty() || st.is_empty() || !t.iter().chain(st).all(|&b| lex::is_token(b)) {
            return Err(err(Where::ContentType, Fault::BadChar, base));
        }
        let p = lex::Params::validate(params, Where::ContentType, self.limits.max_params)
            .map_err(|e| e.within(Where::ContentType, base))?;
        Ok(Some((mt, p)))
    }

    /// Option tags of Require, Proxy-Require, Supported or Unsupported.
    pub fn option_tags(&self, name: HeaderName) -> Result<Vec<&'a [u8]>> {
        let mut out = Vec::new();
        self.parse_list(name, Where::OptionTags, self.limits.max_values, |s, _| {
            if !s.iter().all(|&b| lex::is_token(b)) {
                return Err(err(Where::OptionTags, Fault::BadChar, 0));
            }
            out.push(s);
            Ok(())
        })?;
        Ok(out)
    }

    /// Digest (or other scheme) credentials from every Authorization or
    /// Proxy-Authorization header.
    pub fn credentials(&self, name: HeaderName) -> Result<Vec<Credentials<'a>>> {
        debug_assert!(matches!(
            name,
            HeaderName::Authorization | HeaderName::ProxyAuthorization
        ));
        self.headers_named(name)
            .map(|h| {
                Credentials::parse(self.value_of(h), &self.limits)
                    .map_err(|e| e.within(Where::Auth, h.value_span.start as usize))
            })
            .collect()
    }

    /// Challenges from every WWW-Authenticate or Proxy-Authenticate header.
    pub fn challenges(&self, name: HeaderName) -> Result<Vec<Challenge<'a>>> {
        self.headers_named(name)
            .map(|h| {
                Challenge::parse(self.value_of(h), &self.limits)
                    .map_err(|e| e.within(Where::Auth, h.value_span.start as usize))
            })
            .collect()
    }

    /// The SDP body's interesting lines, located (fails if there is no body).
    pub fn sdp(&self) -> Result<&Sdp<'a>> {
        self.cache
            .sdp
            .get_or_init(|| {
                let body = self.body();
                if body.is_empty() {
                    return Err(err(Where::Sdp, Fault::Missing, self.body.start as usize));
                }
                Sdp::locate(body).map_err(|e| e.within(Where::Sdp, self.body.start as usize))
            })
            .as_ref()
            .map_err(|e| *e)
    }

    /// Checks what every request or response must carry (RFC 3261 8.1.1 and
    /// 8.2.2): Via, From, To, Call-ID and CSeq present and well formed, and
    /// for a request a CSeq method equal to the request method. Returns the
    /// first problem, suitable for a `400` reason.
    pub fn validate(&self) -> Result<()> {
        self.via1()?;
        self.from()?;
        self.to()?;
        self.call_id()?;
        let cseq = self.cseq()?;
        if let Some(m) = self.method() {
            if cseq.method != m {
                return Err(err(Where::CSeq, Fault::Malformed, 0));
            }
            self.ruri()?;
        }
        self.max_forwards()?;
        Ok(())
    }

    // ----- helpers -----

    fn number_header(&self, name: HeaderName, what: Where) -> Result<Option<u32>> {
        match self.header(name) {
            None => Ok(None),
            Some(h) => lex::parse_u32(self.value_of(h), what)
                .map(Some)
                .map_err(|e| e.within(what, h.value_span.start as usize)),
        }
    }

    fn parse_single_addr(&self, name: HeaderName, what: Where) -> Result<NameAddr<'a>> {
        let h = self.header(name).ok_or(err(what, Fault::Missing, 0))?;
        NameAddr::parse(self.value_of(h), &self.limits)
            .map_err(|e| e.within(what, h.value_span.start as usize))
    }

    fn parse_addr_list(&self, name: HeaderName, what: Where) -> Result<Vec<NameAddr<'a>>> {
        let mut out = Vec::new();
        self.parse_list(name, what, self.limits.max_values, |s, l| {
            out.push(NameAddr::parse(s, l)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Walks every comma-separated element of every header named `name`,
    /// bounded by `max` elements in all. Errors from `f` are relabelled with
    /// `what` and made absolute.
    fn parse_list<F>(&self, name: HeaderName, what: Where, max: usize, mut f: F) -> Result<()>
    where
        F: FnMut(&'a [u8], &Limits) -> Result<()>,
    {
        let mut n = 0usize;
        for h in self.headers_named(name) {
            let v = self.value_of(h);
            let base = h.value_span.start as usize;
            if v.is_empty() {
                return Err(err(what, Fault::Empty, base));
            }
            for r in CommaSplit::new(v, what) {
                let (off, elem) = r.map_err(|e| e.within(what, base))?;
                n += 1;
                if n > max {
                    return Err(err(what, Fault::TooMany, base + off));
                }
                f(elem, &self.limits).map_err(|e| e.within(what, base + off))?;
            }
        }
        Ok(())
    }
}

/// The value of a header line after its colon, without the white space
/// around it, as `(start, end)` offsets into `line`.
#[inline(always)]
fn trim_value(line: &[u8], after_colon: usize) -> (usize, usize) {
    let is_ws = |b: &u8| *b == b' ' || *b == b'\t';
    let v = line.get(after_colon..).unwrap_or(&[]);
    let lead = match v {
        // The usual case: exactly one space after the colon.
        [b' ', c, ..] if !is_ws(c) => 1,
        _ => v.iter().take_while(|b| is_ws(b)).count(),
    };
    let mut end = v.len();
    while end > lead && v.get(end - 1).is_some_and(is_ws) {
        end -= 1;
    }
    (after_colon + lead, after_colon + end)
}

/// The start line and header block of a message, as indexed by one pass.
struct Head<'a> {
    start: StartLine<'a>,
    headers: Vec<HeaderField>,
    first: [u16; N_NAMES],
    /// Offset of the empty line that ends the headers.
    headers_end: u32,
    /// Offset just past the empty line.
    body_start: usize,
    content_length: Option<u32>,
}

/// Indexes the start line and every header line of `buf`, up to and
/// including the empty line. Fails with `Header`/`Truncated` when the empty
/// line is not there (yet).
fn parse_head<'a>(buf: &'a [u8], limits: &Limits) -> Result<Head<'a>> {
    let (start, mut pos) = parse_start_line(buf, limits)?;
    let mut headers = take_header_vec();
    let mut first = [0u16; N_NAMES];
    let mut vias = 0usize;
    let mut headers_end = None;
    // One pass finds every line end and each line's first colon; the
    // header block stops at the first empty line.
    let mut lines = Lines::new(buf, pos);
    while let Some(LineAt {
        nl,
        colon: first_colon,
        ..
    }) = lines.next_line()
    {
        let line_end = nl + 1;
        let Some(mut line) = buf.get(pos..nl) else {
            break;
        };
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        let Some(&b0) = line.first() else {
            headers_end = Some(pos as u32);
            pos = line_end;
            break;
        };
        if b0 == b' ' || b0 == b'\t' {
            // Folded continuation of the previous header.
            let Some(last) = headers.last_mut() else {
                return Err(err(Where::Header, Fault::BadChar, pos));
            };
            let t = lex::trim_end(line);
            let lead = t.len() - lex::trim_start(t).len();
            if lead < t.len() {
                if last.value_span.is_empty() {
                    // The value starts on this continuation line.
                    last.value_span.start = (pos + lead) as u32;
                }
                last.value_span.end = (pos + t.len()) as u32;
            }
            last.line_end = line_end as u32;
            pos = line_end;
            continue;
        }
        // header-name = token, then optional white space and a colon.
        let colon = match first_colon {
            Some(c) if c < pos + line.len() => c - pos,
            _ => return Err(err(Where::Header, Fault::Malformed, pos)),
        };
        let mut name_end = colon;
        // Usually the colon follows the name directly.
        while let Some(b' ' | b'\t') = name_end.checked_sub(1).and_then(|i| line.get(i)) {
            name_end -= 1;
        }
        let name_b = &line[..name_end];
        let name = HeaderName::classify_in(buf, pos, name_end);
        // A known name matched exactly, so it is a token; check others.
        if name == HeaderName::Other {
            if name_b.is_empty() {
                return Err(err(Where::HeaderName, Fault::Empty, pos));
            }
            if let Some(i) = name_b.iter().position(|&b| !lex::is_token(b)) {
                return Err(err(Where::HeaderName, Fault::BadChar, pos + i));
            }
        }
        let (vs, ve) = trim_value(line, colon + 1);
        if headers.len() >= limits.max_headers {
            return Err(err(Where::Header, Fault::TooMany, pos));
        }
        let slot = &mut first[name as usize];
        if *slot == 0 {
            *slot = headers.len() as u16 + 1;
        }
        if name == HeaderName::Via {
            vias += 1;
            if vias > limits.max_vias {
                return Err(err(Where::Via, Fault::TooMany, pos));
            }
        }
        headers.push(HeaderField {
            name,
            name_span: Span::new(pos, pos + name_end),
            value_span: Span::new(pos + vs, pos + ve),
            line_end: line_end as u32,
        });
        pos = line_end;
    }
    let Some(headers_end) = headers_end else {
        return Err(err(Where::Header, Fault::Truncated, pos));
    };
    // Content-Length is read once the header block is complete, so that
    // a folded value is seen whole; several must all agree.
    let mut content_length: Option<u32> = None;
    if first[HeaderName::ContentLength as usize] != 0 {
        for h in headers
            .iter()
            .filter(|h| h.name == HeaderName::ContentLength)
        {
            let v = lex::parse_u32(lex::trim(h.value_span.get(buf)), Where::ContentLength)
                .map_err(|e| e.within(Where::ContentLength, h.value_span.start as usize))?;
            match content_length {
                Some(prev) if prev != v => {
                    return Err(err(
                        Where::ContentLength,
                        Fault::Duplicate,
                        h.name_span.start as usize,
                    ));
                }
                _ => content_length = Some(v),
            }
        }
    }
    Ok(Head {
        start,
        headers,
        first,
        headers_end,
        body_start: pos,
        content_length,
    })
}

/// Parses the request or status line. Returns it and the offset of the first
/// header line.
fn parse_start_line<'a>(buf: &'a [u8], limits: &Limits) -> Result<(StartLine<'a>, usize)> {
    let Some(nl) = memchr::memchr(b'\n', buf) else {
        return Err(err(Where::StartLine, Fault::Truncated, buf.len()));
    };
    let mut line = &buf[..nl];
    if let [rest @ .., b'\r'] = line {
        line = rest;
    }
    let next = nl + 1;
    if line.len() >= 8 && &line[..8] == b"SIP/2.0 " {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
        let rest = &line[8..];
        if rest.len() < 3 {
            return Err(err(Where::StatusCode, Fault::Truncated, 8));
        }
        let d = &rest[..3];
        if !d.iter().all(u8::is_ascii_digit) || d[0] < b'1' || d[0] > b'6' {
            return Err(err(Where::StatusCode, Fault::BadNumber, 8));
        }
        let code =
            u16::from(d[0] - b'0') * 100 + u16::from(d[1] - b'0') * 10 + u16::from(d[2] - b'0');
        let reason = match rest.get(3) {
            None => Span::new(11, 11),
            Some(b' ') => Span::new(12, line.len()),
            Some(_) => return Err(err(Where::StatusCode, Fault::BadChar, 11)),
        };
        return Ok((StartLine::Response { code, reason }, next));
    }
    if line.len() > 4 && line[..4].eq_ignore_ascii_case(b"SIP/") {
        return Err(err(Where::Version, Fault::UnsupportedVersion, 0));
    }
    // Request-Line = Method SP Request-URI SP SIP-Version
    let sp1 = memchr::memchr(b' ', line).ok_or(err(Where::StartLine, Fault::Malformed, 0))?;
    let method = Method::parse(&line[..sp1]).ok_or(err(Where::Method, Fault::BadChar, 0))?;
    let sp2 = memchr::memrchr(b' ', line).ok_or(err(Where::StartLine, Fault::Malformed, 0))?;
    if sp2 == sp1 {
        // `METHOD uri` with no version.
        return Err(err(Where::StartLine, Fault::Malformed, sp1));
    }
    if sp2 <= sp1 + 1 {
        return Err(err(Where::RequestUri, Fault::Empty, sp1 + 1));
    }
    let uri = &line[sp1 + 1..sp2];
    if uri.len() > limits.max_uri {
        return Err(err(Where::RequestUri, Fault::TooLong, sp1 + 1));
    }
    // Spaces cannot hide inside: the URI runs from the first space to the
    // last. Other characters are checked when the URI is parsed.
    if let Some(i) = memchr::memchr2(b' ', b'\t', uri) {
        return Err(err(Where::RequestUri, Fault::BadChar, sp1 + 1 + i));
    }
    let ver = &line[sp2 + 1..];
    if ver != b"SIP/2.0" {
        if ver.len() > 4
            && ver[..4].eq_ignore_ascii_case(b"SIP/")
            && !ver.eq_ignore_ascii_case(b"SIP/2.0")
        {
            return Err(err(Where::Version, Fault::UnsupportedVersion, sp2 + 1));
        }
        if !ver.eq_ignore_ascii_case(b"SIP/2.0") {
            return Err(err(Where::Version, Fault::Malformed, sp2 + 1));
        }
    }
    Ok((
        StartLine::Request {
            method,
            uri: Span::new(sp1 + 1, sp2),
        },
        next,
    ))
}

/// For stream transports: the length of the first complete message in `buf`,
/// `Ok(None)` if more bytes are needed, or an error if the header block is
/// malformed or exceeds the limits. Leading CRLFs (keep-alives, RFC 5626) are
/// counted in the returned length's prefix: see the returned `skip`.
///
/// Returns `(skip, len)`: the message is `buf[skip..skip + len]`.
pub fn frame_len(buf: &[u8], limits: &Limits) -> Result<Option<(usize, usize)>> {
    let skip = buf
        .iter()
        .take_while(|&&c| c == b'\r' || c == b'\n')
        .count();
    let b = buf.get(skip..).unwrap_or(&[]);
    let incomplete = || {
        if b.len() > limits.max_message {
            Err(err(Where::Message, Fault::TooLong, skip))
        } else {
            Ok(None)
        }
    };
    // Cheap test first: no empty line yet, no complete header block.
    if memchr::memmem::find(b, b"\n\r\n").is_none() && memchr::memmem::find(b, b"\n\n").is_none() {
        return incomplete();
    }
    // The same header index as the parser, so that both agree on folding,
    // compact names and repeated Content-Length headers.
    let head = match parse_head(b, limits) {
        Ok(h) => h,
        Err(e) if e.fault == Fault::Truncated => return incomplete(),
        Err(e) => return Err(e.within(e.what, skip)),
    };
    let Some(cl) = head.content_length else {
        return Err(err(Where::ContentLength, Fault::Missing, skip));
    };
    let total = head.body_start + cl as usize;
    if total > limits.max_message {
        return Err(err(Where::Message, Fault::TooLong, skip));
    }
    if b.len() < total {
        return Ok(None);
    }
    Ok(Some((skip, total)))
}

impl From<ParseError> for String {
    fn from(e: ParseError) -> String {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &[u8] = b"INVITE sip:bob@biloxi.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.com>\r\n\
From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.com>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";

    #[test]
    fn request_index() {
        let m = SipMsg::parse(INVITE).unwrap();
        assert_eq!(m.method(), Some(Method::Invite));
        assert_eq!(m.ruri_bytes(), Some(&b"sip:bob@biloxi.com"[..]));
        assert_eq!(m.headers().len(), 9);
        assert_eq!(
            m.value(HeaderName::CallId),
            Some(&b"a84b4c76e66710@pc33.atlanta.com"[..])
        );
        assert_eq!(m.call_id().unwrap(), b"a84b4c76e66710@pc33.atlanta.com");
        assert_eq!(m.max_forwards().unwrap(), Some(70));
        assert_eq!(m.body(), b"v=0\n");
        assert_eq!(m.cseq().unwrap().num, 314159);
        assert_eq!(m.cseq().unwrap().method, Method::Invite);
        assert_eq!(m.content_length(), Some(4));
        let (ct, _) = m.content_type().unwrap().unwrap();
        assert_eq!(ct, b"application/sdp");
    }

    #[test]
    fn response_line() {
        let m = SipMsg::parse(b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP a\r\n\r\n").unwrap();
        assert_eq!(m.status(), Some(180));
        assert_eq!(m.reason(), Some(&b"Ringing"[..]));
        let m = SipMsg::parse(b"SIP/2.0 200\r\n\r\n").unwrap();
        assert_eq!(m.status(), Some(200));
        assert_eq!(m.reason(), Some(&b""[..]));
        assert!(SipMsg::parse(b"SIP/2.0 20 OK\r\n\r\n").is_err());
        assert!(SipMsg::parse(b"SIP/2.0 700 OK\r\n\r\n").is_err());
        assert_eq!(
            SipMsg::parse(b"SIP/3.0 200 OK\r\n\r\n").unwrap_err().fault,
            Fault::UnsupportedVersion
        );
    }

    #[test]
    fn folding_and_compact() {
        let m = SipMsg::parse(
            b"OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h\r\nSubject: I know\r\n   you're there\r\n\tpick up\r\ni: x@y\r\nl: 0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(
            m.value(HeaderName::Subject),
            Some(&b"I know\r\n   you're there\r\n\tpick up"[..])
        );
        assert_eq!(m.call_id().unwrap(), b"x@y");
        assert_eq!(m.value(HeaderName::Via), Some(&b"SIP/2.0/UDP h"[..]));
        assert_eq!(m.content_length(), Some(0));
    }

    #[test]
    fn value_starting_on_continuation_line() {
        let m = SipMsg::parse(b"OPTIONS sip:a@b SIP/2.0\r\nSubject:\r\n hello\r\n\r\n").unwrap();
        assert_eq!(m.value(HeaderName::Subject), Some(&b"hello"[..]));
    }

    #[test]
    fn content_length_rules() {
        let base = b"MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 10\r\n\r\nhello";
        let e = SipMsg::parse(base).unwrap_err();
        assert_eq!(
            (e.what, e.fault),
            (Where::ContentLength, Fault::LengthMismatch)
        );
        // Extra bytes in a datagram are not part of the body.
        let m = SipMsg::parse(b"MESSAGE sip:a@b SIP/2.0\r\nl: 2\r\n\r\nhello").unwrap();
        assert_eq!(m.body(), b"he");
        // No Content-Length in a datagram: the rest is the body.
        let m = SipMsg::parse(b"MESSAGE sip:a@b SIP/2.0\r\n\r\nhello").unwrap();
        assert_eq!(m.body(), b"hello");
        // ... but a stream needs it.
        let e = SipMsg::parse_with(
            b"MESSAGE sip:a@b SIP/2.0\r\n\r\n",
            Transport::Stream,
            &Limits::DEFAULT,
        )
        .unwrap_err();
        assert_eq!((e.what, e.fault), (Where::ContentLength, Fault::Missing));
    }

    #[test]
    fn stream_framing() {
        let two = b"\r\n\r\nOPTIONS sip:a SIP/2.0\r\nl: 3\r\n\r\nabcBYE sip:x SIP/2.0\r\n";
        let (skip, len) = frame_len(two, &Limits::DEFAULT).unwrap().unwrap();
        assert_eq!(skip, 4);
        assert_eq!(
            &two[skip..skip + len],
            b"OPTIONS sip:a SIP/2.0\r\nl: 3\r\n\r\nabc"
        );
        assert_eq!(
            frame_len(b"OPTIONS sip:a SIP/2.0\r\nl: 3\r\n\r\nab", &Limits::DEFAULT).unwrap(),
            None
        );
        assert_eq!(
            frame_len(b"OPTIONS sip:a SIP/2.0\r\nl: 3\r\n", &Limits::DEFAULT).unwrap(),
            None
        );
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        let cases: &[(&[u8], Where)] = &[
            (b"", Where::StartLine),
            (b"INVITE\r\n\r\n", Where::StartLine),
            (
                b"INVITE sip:a SIP/2.0\r\nVia SIP/2.0/UDP a\r\n\r\n",
                Where::Header,
            ),
            (b"INVITE sip:a SIP/2.0\r\nVi@: x\r\n\r\n", Where::HeaderName),
            (
                b"INVITE sip:a SIP/2.0\r\n folded-first\r\n\r\n",
                Where::Header,
            ),
            (b"INVITE sip:a SIP/2.0\r\nVia: x\r\n", Where::Header),
            (
                b"INVITE sip:a SIP/2.0\r\nl: 1\r\nl: 2\r\n\r\nab",
                Where::ContentLength,
            ),
            (
                b"INVITE sip:a SIP/2.0\r\nl: -1\r\n\r\n",
                Where::ContentLength,
            ),
            (b"INV<TE sip:a SIP/2.0\r\n\r\n", Where::Method),
            (b"INVITE sip:a SIP/2.1\r\n\r\n", Where::Version),
            (b"INVITE sip:a HTTP/1.1\r\n\r\n", Where::Version),
        ];
        for (m, w) in cases {
            let e = SipMsg::parse(m).unwrap_err();
            assert_eq!(e.what, *w, "{:?} -> {e}", String::from_utf8_lossy(m));
        }
    }

    #[test]
    fn limits_bound_the_work() {
        let mut m = b"OPTIONS sip:a SIP/2.0\r\n".to_vec();
        for _ in 0..300 {
            m.extend_from_slice(b"X-A: b\r\n");
        }
        m.extend_from_slice(b"\r\n");
        assert_eq!(SipMsg::parse(&m).unwrap_err().fault, Fault::TooMany);
        let mut m = b"OPTIONS sip:a SIP/2.0\r\n".to_vec();
        for _ in 0..65 {
            m.extend_from_slice(b"Via: SIP/2.0/UDP h\r\n");
        }
        m.extend_from_slice(b"\r\n");
        let e = SipMsg::parse(&m).unwrap_err();
        assert_eq!((e.what, e.fault), (Where::Via, Fault::TooMany));
        let big = vec![b'a'; 70_000];
        assert_eq!(SipMsg::parse(&big).unwrap_err().fault, Fault::TooLong);
    }

    #[test]
    fn lookup_by_any_name() {
        let m =
            SipMsg::parse(b"OPTIONS sip:a SIP/2.0\r\nX-Foo: 1\r\nx-foo: 2\r\nf: <sip:a@b>\r\n\r\n")
                .unwrap();
        let v: Vec<_> = m.headers_by_name(b"X-FOO").map(|h| m.value_of(h)).collect();
        assert_eq!(v, vec![&b"1"[..], &b"2"[..]]);
        assert_eq!(m.value_by_name(b"From"), Some(&b"<sip:a@b>"[..]));
        assert_eq!(m.value_by_name(b"F"), Some(&b"<sip:a@b>"[..]));
    }

    #[test]
    fn bare_lf_line_endings_are_tolerated() {
        let m = SipMsg::parse(b"OPTIONS sip:a SIP/2.0\nCall-ID: x\n\nbody").unwrap();
        assert_eq!(m.call_id().unwrap(), b"x");
        assert_eq!(m.body(), b"body");
    }
}
