//! Bounds on what a peer can make the parser do.
//!
//! Every loop in the parser is bounded by the input length, and the counts
//! below bound the memory a single message can pin. The defaults follow what
//! SER/Kamailio accept (a 64 KiB UDP datagram, 1024-byte URIs) and what a
//! legitimate SIP message needs with a wide margin.

/// Limits applied while parsing one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Whole message (start line + headers + body), bytes.
    pub max_message: usize,
    /// Number of header lines (a comma list counts once per line).
    pub max_headers: usize,
    /// Number of Via values across all Via headers.
    pub max_vias: usize,
    /// Number of values in one comma-separated header (Contact, Route, ...).
    pub max_values: usize,
    /// Length of any URI, bytes (SER's MAX_URI_SIZE).
    pub max_uri: usize,
    /// Number of parameters on one URI or header value.
    pub max_params: usize,
    /// Nesting depth of `<...>`, quotes and comments inside one value.
    pub max_nesting: usize,
    /// Body bytes.
    pub max_body: usize,
}

impl Limits {
    pub const DEFAULT: Limits = Limits {
        max_message: 65_535,
        max_headers: 256,
        max_vias: 64,
        max_values: 128,
        max_uri: 1024,
        max_params: 64,
        max_nesting: 8,
        max_body: 65_535,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}
