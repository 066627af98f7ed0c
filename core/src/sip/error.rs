//! Typed parse errors.
//!
//! Every error names what was wrong, so that a proxy can answer
//! `400 Bad Request` with a reason phrase built from [`ParseError::reason`]
//! and a log line that says where the message broke.

use core::fmt;

/// What part of a message an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Where {
    StartLine,
    Method,
    RequestUri,
    Version,
    StatusCode,
    Header,
    HeaderName,
    Via,
    From,
    To,
    CallId,
    CSeq,
    Contact,
    Route,
    RecordRoute,
    MaxForwards,
    ContentLength,
    ContentType,
    Expires,
    Auth,
    OptionTags,
    Uri,
    NameAddr,
    Body,
    Sdp,
    Message,
}

impl Where {
    pub fn as_str(self) -> &'static str {
        match self {
            Where::StartLine => "start line",
            Where::Method => "method",
            Where::RequestUri => "Request-URI",
            Where::Version => "SIP version",
            Where::StatusCode => "status code",
            Where::Header => "header",
            Where::HeaderName => "header name",
            Where::Via => "Via",
            Where::From => "From",
            Where::To => "To",
            Where::CallId => "Call-ID",
            Where::CSeq => "CSeq",
            Where::Contact => "Contact",
            Where::Route => "Route",
            Where::RecordRoute => "Record-Route",
            Where::MaxForwards => "Max-Forwards",
            Where::ContentLength => "Content-Length",
            Where::ContentType => "Content-Type",
            Where::Expires => "Expires",
            Where::Auth => "credentials",
            Where::OptionTags => "option tags",
            Where::Uri => "URI",
            Where::NameAddr => "name-addr",
            Where::Body => "body",
            Where::Sdp => "SDP",
            Where::Message => "message",
        }
    }
}

/// What kind of fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The input ended before the element was complete.
    Truncated,
    /// A character that is not allowed at this place.
    BadChar,
    /// The element is empty where a value is required.
    Empty,
    /// A number is not a number or does not fit.
    BadNumber,
    /// The element is longer than the configured limit.
    TooLong,
    /// More elements than the configured limit (headers, Vias, ...).
    TooMany,
    /// Nested deeper than the configured limit.
    TooDeep,
    /// A required header is missing.
    Missing,
    /// A header that may appear once appears several times with
    /// different values.
    Duplicate,
    /// Not `SIP/2.0`.
    UnsupportedVersion,
    /// An unknown URI scheme where a SIP URI is required.
    UnsupportedScheme,
    /// A quoted string or `<...>` is not closed.
    Unclosed,
    /// Content-Length disagrees with the bytes received.
    LengthMismatch,
    /// Anything else, with the element named by `Where`.
    Malformed,
}

impl Fault {
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Truncated => "truncated",
            Fault::BadChar => "bad character",
            Fault::Empty => "empty",
            Fault::BadNumber => "bad number",
            Fault::TooLong => "too long",
            Fault::TooMany => "too many",
            Fault::TooDeep => "nested too deep",
            Fault::Missing => "missing",
            Fault::Duplicate => "duplicated",
            Fault::UnsupportedVersion => "unsupported",
            Fault::UnsupportedScheme => "unsupported scheme",
            Fault::Unclosed => "not closed",
            Fault::LengthMismatch => "does not match the body",
            Fault::Malformed => "malformed",
        }
    }
}

/// A parse error: what element, what fault, and the byte offset into the
/// parsed buffer (or header value) where it was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ParseError {
    pub what: Where,
    pub fault: Fault,
    pub at: u32,
}

impl ParseError {
    #[inline]
    pub const fn new(what: Where, fault: Fault, at: usize) -> Self {
        ParseError {
            what,
            fault,
            at: if at > u32::MAX as usize {
                u32::MAX
            } else {
                at as u32
            },
        }
    }

    /// Re-labels an error raised by an inner parser (say, a URI inside a
    /// Contact) and shifts its offset by `base`.
    #[inline]
    pub fn within(self, what: Where, base: usize) -> Self {
        let at = (self.at as usize).saturating_add(base);
        let mut e = ParseError::new(what, self.fault, at);
        // Keep the more precise inner location when it names a URI.
        if self.what == Where::Uri {
            e.what = Where::Uri;
        }
        e
    }

    /// A short reason phrase for a `400` reply, such as
    /// `Bad Request - CSeq: bad number`.
    pub fn reason(&self) -> String {
        format!(
            "Bad Request - {}: {}",
            self.what.as_str(),
            self.fault.as_str()
        )
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} (at byte {})",
            self.what.as_str(),
            self.fault.as_str(),
            self.at
        )
    }
}

impl std::error::Error for ParseError {}

/// Shorthand used throughout the parsers.
pub type Result<T> = core::result::Result<T, ParseError>;

#[inline]
pub(crate) const fn err(what: Where, fault: Fault, at: usize) -> ParseError {
    ParseError::new(what, fault, at)
}
