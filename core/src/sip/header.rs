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

/// Number of `HeaderName` values (for per-name index tables).
pub const N_NAMES: usize = HeaderName::Other as usize + 1;

impl HeaderName {
    /// Classifies a header name (already trimmed), full or compact form,
    /// case-insensitively.
    #[inline]
    pub fn classify(name: &[u8]) -> HeaderName {
        use HeaderName::*;
        if name.len() == 1 {
            return match name[0] | 0x20 {
                b'v' => Via,
                b'f' => From,
                b't' => To,
                b'i' => CallId,
                b'm' => Contact,
                b'l' => ContentLength,
                b'c' => ContentType,
                b'e' => ContentEncoding,
                b'k' => Supported,
                b's' => Subject,
                b'o' => Event,
                b'u' => AllowEvents,
                b'r' => ReferTo,
                b'b' => ReferredBy,
                b'x' => SessionExpires,
                b'a' => AcceptContact,
                b'j' => RejectContact,
                b'd' => RequestDisposition,
                b'y' => Identity,
                b'n' => IdentityInfo,
                _ => Other,
            };
        }
        let Some(&first) = name.first() else {
            return Other;
        };
        // Candidates by first letter and length; one comparison confirms.
        let cand: &[(HeaderName, &[u8])] = match first | 0x20 {
            b'a' => &[
                (Authorization, b"authorization"),
                (Allow, b"allow"),
                (AllowEvents, b"allow-events"),
                (Accept, b"accept"),
                (AcceptContact, b"accept-contact"),
            ],
            b'c' => &[
                (CallId, b"call-id"),
                (CSeq, b"cseq"),
                (Contact, b"contact"),
                (ContentLength, b"content-length"),
                (ContentType, b"content-type"),
                (ContentEncoding, b"content-encoding"),
            ],
            b'd' => &[(Date, b"date")],
            b'e' => &[(Expires, b"expires"), (Event, b"event")],
            b'f' => &[(From, b"from")],
            b'i' => &[(Identity, b"identity"), (IdentityInfo, b"identity-info")],
            b'm' => &[(MaxForwards, b"max-forwards"), (MinExpires, b"min-expires")],
            b'p' => &[
                (ProxyAuthorization, b"proxy-authorization"),
                (ProxyAuthenticate, b"proxy-authenticate"),
                (ProxyRequire, b"proxy-require"),
                (Path, b"path"),
            ],
            b'r' => &[
                (Route, b"route"),
                (RecordRoute, b"record-route"),
                (Require, b"require"),
                (ReferTo, b"refer-to"),
                (ReferredBy, b"referred-by"),
                (RejectContact, b"reject-contact"),
                (RequestDisposition, b"request-disposition"),
            ],
            b's' => &[
                (Supported, b"supported"),
                (SessionExpires, b"session-expires"),
                (Subject, b"subject"),
                (Server, b"server"),
            ],
            b't' => &[(To, b"to"), (Timestamp, b"timestamp")],
            b'u' => &[(Unsupported, b"unsupported"), (UserAgent, b"user-agent")],
            b'v' => &[(Via, b"via")],
            b'w' => &[(WwwAuthenticate, b"www-authenticate"), (Warning, b"warning")],
            _ => return Other,
        };
        for &(h, full) in cand {
            if full.len() == name.len() && full.eq_ignore_ascii_case(name) {
                return h;
            }
        }
        Other
    }

    /// The canonical full name, as the router writes it.
    pub fn as_str(self) -> &'static str {
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
    fn canonical_names_round_trip() {
        for i in 0..super::N_NAMES - 1 {
            // SAFETY-free: build through classify of the canonical name.
            let names = [
                Via, From, To, CallId, CSeq, Contact, MaxForwards, Route, RecordRoute,
                ContentLength, ContentType, ContentEncoding, Expires, MinExpires, Authorization,
                ProxyAuthorization, WwwAuthenticate, ProxyAuthenticate, Require, ProxyRequire,
                Supported, Unsupported, Allow, Path, Event, AllowEvents, ReferTo, ReferredBy,
                SessionExpires, Subject, UserAgent, Server, Accept, AcceptContact, RejectContact,
                RequestDisposition, Identity, IdentityInfo, Warning, Date, Timestamp,
            ];
            let h = names[i];
            assert_eq!(h as usize, i);
            assert_eq!(HeaderName::classify(h.as_str().as_bytes()), h);
        }
    }
}
