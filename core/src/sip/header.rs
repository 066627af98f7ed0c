//! Header names: the full and compact forms (RFC 3261 7.3.3 and the IANA
//! registry's compact forms), matched case-insensitively.

/// A header name the router knows by meaning. Every other name is `Other`
/// and is looked up by its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum HeaderName {
    Via,
    From,
    To,
    CallId,
    CSeq,
    Contact,
    MaxForwards,
    Route,
    RecordRoute,
    ContentLength,
    ContentType,
    ContentEncoding,
    Expires,
    MinExpires,
    Authorization,
    ProxyAuthorization,
    WwwAuthenticate,
    ProxyAuthenticate,
    Require,
    ProxyRequire,
    Supported,
    Unsupported,
    Allow,
    Path,
    Event,
    AllowEvents,
    ReferTo,
    ReferredBy,
    SessionExpires,
    Subject,
    UserAgent,
    Server,
    Accept,
    AcceptContact,
    RejectContact,
    RequestDisposition,
    Identity,
    IdentityInfo,
    Warning,
    Date,
    Timestamp,
    Other,
}

use super::lex;

/// Number of `HeaderName` values (for per-name index tables).
pub const N_NAMES: usize = HeaderName::Other as usize + 1;

/// Every known name, in declaration order (index = discriminant).
const ALL: [HeaderName; N_NAMES - 1] = {
    use HeaderName::*;
    [
        Via,
        From,
        To,
        CallId,
        CSeq,
        Contact,
        MaxForwards,
        Route,
        RecordRoute,
        ContentLength,
        ContentType,
        ContentEncoding,
        Expires,
        MinExpires,
        Authorization,
        ProxyAuthorization,
        WwwAuthenticate,
        ProxyAuthenticate,
        Require,
        ProxyRequire,
        Supported,
        Unsupported,
        Allow,
        Path,
        Event,
        AllowEvents,
        ReferTo,
        ReferredBy,
        SessionExpires,
        Subject,
        UserAgent,
        Server,
        Accept,
        AcceptContact,
        RejectContact,
        RequestDisposition,
        Identity,
        IdentityInfo,
        Warning,
        Date,
        Timestamp,
    ]
};

/// Full names in lower case, indexed by discriminant (`Other` is empty).
const LOWER: [&str; N_NAMES] = [
    "via",
    "from",
    "to",
    "call-id",
    "cseq",
    "contact",
    "max-forwards",
    "route",
    "record-route",
    "content-length",
    "content-type",
    "content-encoding",
    "expires",
    "min-expires",
    "authorization",
    "proxy-authorization",
    "www-authenticate",
    "proxy-authenticate",
    "require",
    "proxy-require",
    "supported",
    "unsupported",
    "allow",
    "path",
    "event",
    "allow-events",
    "refer-to",
    "referred-by",
    "session-expires",
    "subject",
    "user-agent",
    "server",
    "accept",
    "accept-contact",
    "reject-contact",
    "request-disposition",
    "identity",
    "identity-info",
    "warning",
    "date",
    "timestamp",
    "",
];

/// Longest known name.
const MAX_NAME: usize = 19;

/// Candidate by `length * 32 + (first byte & 0x1f)`. Built at compile time;
/// the only collision (Call-ID / Contact) keeps Call-ID and is resolved in
/// [`HeaderName::classify`].
static BY_LEN_FIRST: [HeaderName; (MAX_NAME + 1) * 32] = {
    let mut t = [HeaderName::Other; (MAX_NAME + 1) * 32];
    let mut i = 0;
    while i < ALL.len() {
        let n = LOWER[i].as_bytes();
        let k = n.len() * 32 + (n[0] & 0x1f) as usize;
        if matches!(t[k], HeaderName::Other) {
            t[k] = ALL[i];
        }
        i += 1;
    }
    t
};

/// `LOWER` as little-endian words, zero-padded, for word-at-a-time compares.
static LOWER_WORDS: [[u64; 3]; N_NAMES] = {
    let mut t = [[0u64; 3]; N_NAMES];
    let mut i = 0;
    while i < N_NAMES {
        let n = LOWER[i].as_bytes();
        let mut j = 0;
        while j < n.len() {
            t[i][j / 8] |= (n[j] as u64) << (8 * (j % 8));
            j += 1;
        }
        i += 1;
    }
    t
};

/// The only known name that a (first byte, length) pair can be. Call-ID and
/// Contact share both and differ in the second letter.
#[inline(always)]
fn candidate(first: u8, len: usize, second: Option<&u8>) -> HeaderName {
    let cand = match BY_LEN_FIRST.get(len * 32 + (first & 0x1f) as usize) {
        Some(&c) => c,
        None => return HeaderName::Other,
    };
    if cand == HeaderName::CallId && second.map(|b| b | 0x20) == Some(b'o') {
        HeaderName::Contact
    } else {
        cand
    }
}

/// The canonical spellings (`HeaderName::as_str`) as words, for the common
/// case of a name written exactly as the router writes it.
static CANON_WORDS: [[u64; 3]; N_NAMES] = {
    let mut t = [[0u64; 3]; N_NAMES];
    let mut i = 0;
    while i < N_NAMES - 1 {
        let n = ALL[i].as_str().as_bytes();
        let mut j = 0;
        while j < n.len() {
            t[i][j / 8] |= (n[j] as u64) << (8 * (j % 8));
            j += 1;
        }
        i += 1;
    }
    t
};

/// Compact forms (RFC 3261 7.3.3 and the IANA registry), by letter.
static COMPACT: [HeaderName; 26] = {
    use HeaderName::*;
    let mut t = [Other; 26];
    let pairs: [(u8, HeaderName); 20] = [
        (b'v', Via),
        (b'f', From),
        (b't', To),
        (b'i', CallId),
        (b'm', Contact),
        (b'l', ContentLength),
        (b'c', ContentType),
        (b'e', ContentEncoding),
        (b'k', Supported),
        (b's', Subject),
        (b'o', Event),
        (b'u', AllowEvents),
        (b'r', ReferTo),
        (b'b', ReferredBy),
        (b'x', SessionExpires),
        (b'a', AcceptContact),
        (b'j', RejectContact),
        (b'd', RequestDisposition),
        (b'y', Identity),
        (b'n', IdentityInfo),
    ];
    let mut i = 0;
    while i < pairs.len() {
        t[(pairs[i].0 - b'a') as usize] = pairs[i].1;
        i += 1;
    }
    t
};

impl HeaderName {
    /// Classifies a header name (already trimmed), full or compact form,
    /// case-insensitively. Exact for any bytes: a name that matches is a
    /// token.
    #[inline]
    pub fn classify(name: &[u8]) -> HeaderName {
        let (Some(&first), len) = (name.first(), name.len()) else {
            return HeaderName::Other;
        };
        if len == 1 {
            let l = first | 0x20;
            return if l.is_ascii_lowercase() {
                COMPACT[(l - b'a') as usize]
            } else {
                HeaderName::Other
            };
        }
        if len > MAX_NAME {
            return HeaderName::Other;
        }
        let cand = candidate(first, len, name.get(1));
        if cand != HeaderName::Other && lex::eq_lower(name, LOWER[cand as usize].as_bytes()) {
            cand
        } else {
            HeaderName::Other
        }
    }

    /// [`HeaderName::classify`] for the name at `buf[start..start + len]`,
    /// comparing eight bytes at a time with loads that may read past the
    /// name (but not past `buf`). This is the header index's hot path.
    #[inline]
    pub fn classify_in(buf: &[u8], start: usize, len: usize) -> HeaderName {
        let Some(name) = buf.get(start..start + len) else {
            return HeaderName::Other;
        };
        if !(2..=MAX_NAME).contains(&len) || start + 8 * len.div_ceil(8) > buf.len() {
            return Self::classify(name);
        }
        let cand = candidate(name[0], len, name.get(1));
        if cand == HeaderName::Other {
            return cand;
        }
        // Words of the name, the last one masked to the name's length.
        let words = len.div_ceil(8);
        let tail_mask = u64::MAX >> (8 * (words * 8 - len));
        let word = |k: usize| {
            let w = lex::load8(buf, start + k * 8);
            if k + 1 == words { w & tail_mask } else { w }
        };
        // Fast path: written exactly in the canonical case.
        let canon = &CANON_WORDS[cand as usize];
        if (0..words).all(|k| word(k) == canon[k]) {
            return cand;
        }
        let want = &LOWER_WORDS[cand as usize];
        if (0..words).all(|k| lex::lower8(word(k)) == want[k]) {
            cand
        } else {
            HeaderName::Other
        }
    }

    /// The canonical full name, as the router writes it.
    pub const fn as_str(self) -> &'static str {
        use HeaderName::*;
        match self {
            Via => "Via",
            From => "From",
            To => "To",
            CallId => "Call-ID",
            CSeq => "CSeq",
            Contact => "Contact",
            MaxForwards => "Max-Forwards",
            Route => "Route",
            RecordRoute => "Record-Route",
            ContentLength => "Content-Length",
            ContentType => "Content-Type",
            ContentEncoding => "Content-Encoding",
            Expires => "Expires",
            MinExpires => "Min-Expires",
            Authorization => "Authorization",
            ProxyAuthorization => "Proxy-Authorization",
            WwwAuthenticate => "WWW-Authenticate",
            ProxyAuthenticate => "Proxy-Authenticate",
            Require => "Require",
            ProxyRequire => "Proxy-Require",
            Supported => "Supported",
            Unsupported => "Unsupported",
            Allow => "Allow",
            Path => "Path",
            Event => "Event",
            AllowEvents => "Allow-Events",
            ReferTo => "Refer-To",
            ReferredBy => "Referred-By",
            SessionExpires => "Session-Expires",
            Subject => "Subject",
            UserAgent => "User-Agent",
            Server => "Server",
            Accept => "Accept",
            AcceptContact => "Accept-Contact",
            RejectContact => "Reject-Contact",
            RequestDisposition => "Request-Disposition",
            Identity => "Identity",
            IdentityInfo => "Identity-Info",
            Warning => "Warning",
            Date => "Date",
            Timestamp => "Timestamp",
            Other => "",
        }
    }

    /// Whether several values of this header may be combined with commas
    /// on one line (RFC 3261 7.3.1), so that the value must be split.
    pub fn is_list(self) -> bool {
        use HeaderName::*;
        matches!(
            self,
            Via | Contact
                | Route
                | RecordRoute
                | Path
                | Require
                | ProxyRequire
                | Supported
                | Unsupported
                | Allow
                | AllowEvents
                | Accept
                | AcceptContact
                | RejectContact
                | ContentEncoding
                | Warning
        )
    }
}

#[cfg(test)]
mod tests {
    use super::HeaderName::{self, *};

    #[test]
    fn full_and_compact_forms() {
        let cases: &[(&[u8], HeaderName)] = &[
            (b"Via", Via),
            (b"v", Via),
            (b"V", Via),
            (b"VIA", Via),
            (b"call-id", CallId),
            (b"i", CallId),
            (b"m", Contact),
            (b"e", ContentEncoding),
            (b"l", ContentLength),
            (b"c", ContentType),
            (b"f", From),
            (b"s", Subject),
            (b"k", Supported),
            (b"t", To),
            (b"o", Event),
            (b"u", AllowEvents),
            (b"r", ReferTo),
            (b"b", ReferredBy),
            (b"x", SessionExpires),
            (b"WWW-Authenticate", WwwAuthenticate),
            (b"Proxy-Authorization", ProxyAuthorization),
            (b"Record-Route", RecordRoute),
            (b"max-forwards", MaxForwards),
            (b"CSeq", CSeq),
            (b"X-Custom", Other),
            (b"z", Other),
            (b"", Other),
        ];
        for &(n, h) in cases {
            assert_eq!(HeaderName::classify(n), h, "{}", String::from_utf8_lossy(n));
        }
    }

    #[test]
    fn classify_in_agrees_with_classify() {
        let names: &[&[u8]] = &[
            b"Via",
            b"VIA",
            b"Call-ID",
            b"contact",
            b"CONTACT",
            b"Record-Route",
            b"record-routf",
            b"Proxy-Authorization",
            b"Request-Disposition",
            b"Content-Length",
            b"Content-Lengtx",
            b"X-Foo",
            b"To",
            b"Tx",
            b"Cseq",
            b"Allow-Events",
            b"i",
            b"Call\rID",
            b"Max-Forwards",
        ];
        for n in names {
            let mut buf = n.to_vec();
            buf.extend_from_slice(b": value that follows\r\n");
            assert_eq!(
                HeaderName::classify_in(&buf, 0, n.len()),
                HeaderName::classify(n),
                "{n:?}"
            );
            // At the very end of the buffer too (short loads fall back).
            assert_eq!(
                HeaderName::classify_in(n, 0, n.len()),
                HeaderName::classify(n),
                "{n:?}"
            );
        }
    }

    #[test]
    fn canonical_names_round_trip() {
        for i in 0..super::N_NAMES - 1 {
            let h = super::ALL[i];
            assert_eq!(h as usize, i);
            assert_eq!(HeaderName::classify(h.as_str().as_bytes()), h);
        }
    }
}
