//! The SIP message layer: a zero-copy, lazy parser and an edit-based builder.
//!
//! Parsing happens in two stages. [`SipMsg::parse`] makes one memchr-driven
//! pass over the bytes: it checks the start line, finds every header line
//! (folding and compact names included), classifies header names, and frames
//! the body by Content-Length. Nothing is copied: headers are byte ranges into
//! the received buffer. The inner structure of a header (a Via, a From, a
//! Contact list, digest credentials, ...) is parsed the first time someone
//! asks for it, and cached in the message.
//!
//! Outgoing messages are built by [`builder::Edits`]: a list of byte-range
//! edits over the received message, applied once while serialising.

pub mod addr;
pub mod auth;
pub mod builder;
pub mod cseq;
pub mod error;
pub mod header;
pub mod host;
pub mod lex;
pub mod limits;
pub mod method;
pub mod msg;
pub mod scan;
pub mod sdp;
pub mod uri;
pub mod via;

pub use addr::NameAddr;
pub use cseq::CSeq;
pub use error::{Fault, ParseError, Where};
pub use header::HeaderName;
pub use host::Host;
pub use limits::Limits;
pub use method::Method;
pub use msg::{HeaderField, SipMsg, Span, StartLine, Transport};
pub use uri::Uri;
pub use via::Via;
