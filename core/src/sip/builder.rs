//! Building outgoing messages as edits over the received bytes.
//!
//! The router never rebuilds a message from a tree. An [`Edits`] list records
//! insertions, deletions and replacements over the bytes of a parsed
//! [`SipMsg`]; [`Edits::build`] applies them in one pass while copying the
//! untouched parts into an output buffer. All inserted bytes live in one
//! arena owned by the list, so an edit costs no allocation of its own, and a
//! list can be [`clear`](Edits::clear)ed and reused for the next message.
//!
//! Positions come from the message the edits will be applied to: a
//! [`HeaderField`] or a span taken from another message gives garbage (at
//! best an [`BuildError::OutOfRange`]).
//!
//! Ordering: edits are applied by position. Insertions at the same offset
//! keep the order of the calls, and an insertion at the offset where a
//! deleted or replaced range starts goes before the new bytes of that range.
//! Two edits whose ranges overlap (or an insertion strictly inside a deleted
//! range) make [`Edits::build`] fail with [`BuildError::Overlap`]. Deleting
//! the same range twice is not an overlap: the second deletion is a no-op.
//!
//! Content-Length is owned by [`Edits::build`]: it writes the final body
//! length into every Content-Length header left in the output when the
//! body length changed, or appends `Content-Length: N` at the end of the
//! headers when no Content-Length header is left (the received message had
//! none, or the caller removed them). Writing a Content-Length through this
//! API ([`Edits::add_header`], [`Edits::replace_value`], raw lines) is
//! refused with [`BuildError::ContentLength`], so two edits never meet on
//! the same range.
//!
//! [`build_reply`] writes a stateless reply to a request (RFC 3261 8.2.6).

use core::fmt;
use core::ops::Range;

use super::error::Where;
use super::header::HeaderName;
use super::lex::{self, CommaSplit, Params};
use super::msg::{HeaderField, SipMsg, Span};

/// Why a message could not be built. Nothing is written to the output when
/// an error is returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BuildError {
    /// An edit's range is reversed or lies outside the part of the message
    /// it may touch (the start line and headers for header edits, the body
    /// for body edits). Offsets as recorded in the edit.
    OutOfRange { start: u32, end: u32 },
    /// Two edits overlap; `at` is the message offset where the later starts.
    Overlap { at: u32 },
    /// A header name that is empty or not a token.
    BadName,
    /// A header value with a CR or LF that is not line folding, or raw
    /// header lines that are not complete `name: value` CRLF lines.
    BadValue,
    /// A Request-URI that is empty or holds white space or control bytes.
    BadUri,
    /// A To tag that is empty or not a token.
    BadTag,
    /// An attempt to write a Content-Length header: `build` computes it.
    ContentLength,
    /// The operation needs a request (`set_ruri`, [`build_reply`]).
    NotRequest,
    /// A header the operation needs is missing (`remove_top_via`).
    Missing(HeaderName),
    /// A header value the operation must split is malformed.
    Malformed(HeaderName),
    /// A status code outside 100..=699.
    BadStatus(u16),
    /// A reason phrase containing CR or LF.
    BadReason,
    /// Offsets or inserted bytes beyond what `u32` offsets can address.
    TooLong,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BuildError::OutOfRange { start, end } => {
                write!(
                    f,
                    "edit {start}..{end} is outside the message part it may touch"
                )
            }
            BuildError::Overlap { at } => write!(f, "edits overlap at byte {at}"),
            BuildError::BadName => f.write_str("bad header name"),
            BuildError::BadValue => f.write_str("bad header value or header line"),
            BuildError::BadUri => f.write_str("bad Request-URI"),
            BuildError::BadTag => f.write_str("bad To tag"),
            BuildError::ContentLength => f.write_str("Content-Length is computed by the builder"),
            BuildError::NotRequest => f.write_str("not a request"),
            BuildError::Missing(h) => write!(f, "missing {} header", h.as_str()),
            BuildError::Malformed(h) => write!(f, "malformed {} header", h.as_str()),
            BuildError::BadStatus(c) => write!(f, "status code {c} outside 100..=699"),
            BuildError::BadReason => f.write_str("reason phrase contains CR or LF"),
            BuildError::TooLong => f.write_str("message too long"),
        }
    }
}

impl std::error::Error for BuildError {}

/// Which part of the message an edit's offsets refer to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// Absolute offsets within the start line and the header block (up to
    /// and including the offset of the empty line).
    Head,
    /// Offsets relative to the start of the received body.
    Body,
    /// The whole received body (offsets unused).
    WholeBody,
}

/// One edit: replace `start..end` (empty for an insertion) with
/// `arena[data..data + len]` (empty for a deletion).
#[derive(Clone, Copy, Debug)]
struct Edit {
    start: u32,
    end: u32,
    data: u32,
    len: u32,
    place: Place,
}

impl Edit {
    /// Sort key: header edits before body edits, then by start, insertions
    /// before ranges starting at the same offset. Equal keys keep call order.
    #[inline]
    fn key(&self) -> (u8, u32, bool) {
        match self.place {
            Place::Head => (0, self.start, self.end > self.start),
            Place::Body => (1, self.start, self.end > self.start),
            Place::WholeBody => (1, 0, true),
        }
    }
}

/// A list of edits over one received message. See the module docs.
#[derive(Clone, Debug, Default)]
pub struct Edits {
    /// Kept sorted by [`Edit::key`], stable for equal keys.
    edits: Vec<Edit>,
    /// Every inserted byte.
    arena: Vec<u8>,
}

impl Edits {
    pub fn new() -> Self {
        Edits::default()
    }

    /// Pre-sizes for `edits` edits inserting `bytes` bytes in all.
    pub fn with_capacity(edits: usize, bytes: usize) -> Self {
        Edits {
            edits: Vec::with_capacity(edits),
            arena: Vec::with_capacity(bytes),
        }
    }

    /// Forgets every edit, keeping the allocations.
    pub fn clear(&mut self) {
        self.edits.clear();
        self.arena.clear();
    }

    /// Number of recorded edits.
    pub fn len(&self) -> usize {
        self.edits.len()
    }

    pub fn is_empty(&self) -> bool {
        self.edits.is_empty()
    }

    /// Whether any edit touches the body.
    pub fn touches_body(&self) -> bool {
        self.edits.iter().any(|e| e.place != Place::Head)
    }

    // ----- raw edits (start line and header block only) -----

    /// Inserts raw bytes at an absolute offset of the start line or header
    /// block (at most `msg.headers_end()`). The bytes are not checked.
    pub fn insert_at(&mut self, offset: usize, bytes: &[u8]) -> Result<(), BuildError> {
        let at = to_u32(offset)?;
        self.push(Place::Head, at, at, &[bytes])
    }

    /// Deletes an absolute range of the start line or header block.
    pub fn delete_span(&mut self, span: Span) {
        self.push_delete(Place::Head, span.start, span.end);
    }

    /// Replaces an absolute range of the start line or header block with raw
    /// bytes (not checked).
    pub fn replace_span(&mut self, span: Span, bytes: &[u8]) -> Result<(), BuildError> {
        self.push(Place::Head, span.start, span.end, &[bytes])
    }

    // ----- headers -----

    /// Appends `name: value` CRLF at the end of the header block.
    pub fn add_header(
        &mut self,
        msg: &SipMsg<'_>,
        name: &[u8],
        value: &[u8],
    ) -> Result<(), BuildError> {
        let at = to_u32(msg.headers_end())?;
        self.insert_header_at(at, name, value)
    }

    /// Inserts `name: value` CRLF as the first header, right after the start
    /// line.
    pub fn add_header_first(
        &mut self,
        msg: &SipMsg<'_>,
        name: &[u8],
        value: &[u8],
    ) -> Result<(), BuildError> {
        let at = to_u32(msg.headers_start())?;
        self.insert_header_at(at, name, value)
    }

    /// Inserts `name: value` CRLF just before the header line `at`.
    pub fn insert_header_before(
        &mut self,
        at: &HeaderField,
        name: &[u8],
        value: &[u8],
    ) -> Result<(), BuildError> {
        self.insert_header_at(at.name_span.start, name, value)
    }

    /// Inserts raw header lines just before the header line `at`. `raw` must
    /// be whole header lines, each ending in CRLF (continuation lines
    /// allowed, no empty line, no Content-Length). Empty `raw` does nothing.
    pub fn insert_raw_before(&mut self, at: &HeaderField, raw: &[u8]) -> Result<(), BuildError> {
        check_raw_lines(raw)?;
        if raw.is_empty() {
            return Ok(());
        }
        let at = at.name_span.start;
        self.push(Place::Head, at, at, &[raw])
    }

    /// Inserts raw header lines just after the header line `at` (after its
    /// folded continuation lines). Same rules for `raw` as
    /// [`Edits::insert_raw_before`].
    pub fn insert_raw_after(&mut self, at: &HeaderField, raw: &[u8]) -> Result<(), BuildError> {
        check_raw_lines(raw)?;
        if raw.is_empty() {
            return Ok(());
        }
        self.push(Place::Head, at.line_end, at.line_end, &[raw])
    }

    /// Appends raw header lines at the end of the header block. Same rules
    /// for `raw` as [`Edits::insert_raw_before`].
    pub fn append_raw(&mut self, msg: &SipMsg<'_>, raw: &[u8]) -> Result<(), BuildError> {
        check_raw_lines(raw)?;
        if raw.is_empty() {
            return Ok(());
        }
        let at = to_u32(msg.headers_end())?;
        self.push(Place::Head, at, at, &[raw])
    }

    /// Removes a whole header line: folded continuation lines and the line
    /// terminator included.
    pub fn remove_header(&mut self, h: &HeaderField) {
        let line = h.line();
        self.push_delete(Place::Head, line.start, line.end);
    }

    /// Removes every header with this name (full or compact form). Returns
    /// how many were removed. `HeaderName::Other` removes nothing: use
    /// [`Edits::remove_by_name`] for unknown names.
    pub fn remove_all(&mut self, msg: &SipMsg<'_>, name: HeaderName) -> usize {
        if name == HeaderName::Other {
            return 0;
        }
        let mut n = 0;
        for h in msg.headers_named(name) {
            self.remove_header(h);
            n += 1;
        }
        n
    }

    /// Removes every header whose name matches `name` case-insensitively
    /// (a known name also matches its other form: `Via` removes `v:` lines).
    /// Returns how many were removed.
    pub fn remove_by_name(&mut self, msg: &SipMsg<'_>, name: &[u8]) -> usize {
        let mut n = 0;
        for h in msg.headers_by_name(name) {
            self.remove_header(h);
            n += 1;
        }
        n
    }

    /// Replaces the value of a header (folded lines included), keeping the
    /// name and line terminator. Refused for Content-Length.
    pub fn replace_value(&mut self, h: &HeaderField, value: &[u8]) -> Result<(), BuildError> {
        if h.name == HeaderName::ContentLength {
            return Err(BuildError::ContentLength);
        }
        check_value(value)?;
        self.push(Place::Head, h.value_span.start, h.value_span.end, &[value])
    }

    /// Rewrites the Request-URI.
    pub fn set_ruri(&mut self, msg: &SipMsg<'_>, uri: &[u8]) -> Result<(), BuildError> {
        let span = msg.ruri_span().ok_or(BuildError::NotRequest)?;
        if uri.is_empty() || uri.iter().any(|&b| b <= b' ' || b == 0x7f) {
            return Err(BuildError::BadUri);
        }
        self.push(Place::Head, span.start, span.end, &[uri])
    }

    /// Inserts `Via: value` CRLF before the first Via header, or as the first
    /// header if there is none.
    pub fn push_via(&mut self, msg: &SipMsg<'_>, value: &[u8]) -> Result<(), BuildError> {
        let at = match msg.header(HeaderName::Via) {
            Some(h) => h.name_span.start,
            None => to_u32(msg.headers_start())?,
        };
        self.insert_header_at(at, b"Via", value)
    }

    /// Removes the topmost Via value of the received message. If the first
    /// Via line holds several values (`Via: a, b`) only `a, ` is deleted;
    /// otherwise the whole line goes. Calling it twice has no further
    /// effect: it always names the same value.
    pub fn remove_top_via(&mut self, msg: &SipMsg<'_>) -> Result<(), BuildError> {
        let h = msg
            .header(HeaderName::Via)
            .ok_or(BuildError::Missing(HeaderName::Via))?;
        let mut parts = CommaSplit::new(msg.value_of(h), Where::Via);
        match (parts.next(), parts.next()) {
            (Some(Err(_)), _) | (_, Some(Err(_))) => Err(BuildError::Malformed(HeaderName::Via)),
            (Some(Ok(_)), Some(Ok((second, _)))) => {
                let start = h.value_span.start;
                let end = start
                    .checked_add(to_u32(second)?)
                    .ok_or(BuildError::TooLong)?;
                self.push_delete(Place::Head, start, end);
                Ok(())
            }
            _ => {
                self.remove_header(h);
                Ok(())
            }
        }
    }

    /// Inserts `Record-Route: value` CRLF as the first header (where
    /// SER/Kamailio put it), so that it becomes the first Record-Route.
    pub fn add_record_route(&mut self, msg: &SipMsg<'_>, value: &[u8]) -> Result<(), BuildError> {
        let at = to_u32(msg.headers_start())?;
        self.insert_header_at(at, b"Record-Route", value)
    }

    /// Like [`Edits::add_record_route`], but above every header inserted
    /// there before (the outbound half of a double Record-Route).
    pub fn add_record_route_top(
        &mut self,
        msg: &SipMsg<'_>,
        value: &[u8],
    ) -> Result<(), BuildError> {
        let at = to_u32(msg.headers_start())?;
        check_value(value)?;
        let (data, len) = self.stash(&[b"Record-Route: ", value, b"\r\n"])?;
        let e = Edit {
            start: at,
            end: at,
            data,
            len,
            place: Place::Head,
        };
        let key = e.key();
        let i = self.edits.partition_point(|x| x.key() < key);
        self.edits.insert(i, e);
        Ok(())
    }

    // ----- body -----

    /// Replaces the whole body. A later call replaces the earlier
    /// replacement. Cannot be combined with [`Edits::replace_in_body`]
    /// ranges (that is an overlap), only with insertions at offset 0.
    pub fn replace_body(&mut self, bytes: &[u8]) -> Result<(), BuildError> {
        let (data, len) = self.stash(&[bytes])?;
        if let Some(e) = self.edits.iter_mut().find(|e| e.place == Place::WholeBody) {
            e.data = data;
            e.len = len;
            return Ok(());
        }
        self.insert_sorted(Edit {
            start: 0,
            end: 0,
            data,
            len,
            place: Place::WholeBody,
        });
        Ok(())
    }

    /// Replaces `range` of the received body (offsets relative to the body
    /// start) with `bytes`; an empty range inserts. Several non-overlapping
    /// replacements may be recorded.
    pub fn replace_in_body(&mut self, range: Range<usize>, bytes: &[u8]) -> Result<(), BuildError> {
        let (start, end) = (to_u32(range.start)?, to_u32(range.end)?);
        if start > end {
            return Err(BuildError::OutOfRange { start, end });
        }
        self.push(Place::Body, start, end, &[bytes])
    }

    // ----- serialising -----

    /// Applies the edits to `msg` and appends the result to `out`, with a
    /// correct Content-Length (see the module docs). Bytes after the body of
    /// a datagram are not copied. On error `out` is left as it was.
    pub fn build(&self, msg: &SipMsg<'_>, out: &mut Vec<u8>) -> Result<(), BuildError> {
        let mark = out.len();
        let r = self.write(msg, out);
        if r.is_err() {
            out.truncate(mark);
        }
        r
    }

    fn write(&self, msg: &SipMsg<'_>, out: &mut Vec<u8>) -> Result<(), BuildError> {
        let src = msg.bytes();
        let hend = to_u32(msg.headers_end())?;
        let body = msg.body_span();
        let old_body = i64::from(body.end.saturating_sub(body.start));

        // Pass 1: every range in bounds; the final body length.
        let mut new_body = old_body;
        for e in &self.edits {
            let (s, t) = self.resolve(e, hend, body)?;
            if e.place != Place::Head {
                new_body += i64::from(e.len) - i64::from(t - s);
            }
        }
        // Overlapping body edits can make the sum meaningless; pass 2
        // rejects them before the value matters.
        let new_body = u64::try_from(new_body).unwrap_or(0);

        // Content-Length: rewrite the headers the caller left in place when
        // the body length changed (when the received message had one, its
        // value is the received body length); append one when none is left.
        let changed = i64::try_from(new_body).ok() != Some(old_body);
        let removed = |h: &HeaderField| {
            self.edits.iter().any(|e| {
                e.place == Place::Head
                    && e.end > e.start
                    && e.start <= h.name_span.start
                    && e.end >= h.line_end
            })
        };
        let any_left = msg
            .headers_named(HeaderName::ContentLength)
            .any(|h| !removed(h));
        let mut cl_values = msg
            .headers_named(HeaderName::ContentLength)
            .filter(|h| changed && !removed(h))
            .peekable();
        let mut cl_line = if any_left { None } else { Some(hend) };
        let digits = Digits::new(new_body);
        let digits = digits.as_bytes();

        // Pass 2: copy and splice, merging in the Content-Length edits.
        // Those go after caller edits with the same key.
        out.reserve(src.len() + self.arena.len() + 24);
        let mut cursor = 0u32;
        for e in &self.edits {
            let (s, t) = self.resolve(e, hend, body)?;
            let key = (s, t > s || e.place == Place::WholeBody);
            while let Some(h) = cl_values.next_if(|h| (h.value_span.start, true) < key) {
                let v = h.value_span;
                splice(out, src, &mut cursor, v.start, v.end, &[digits])?;
            }
            if let Some(at) = cl_line.filter(|&at| (at, false) < key) {
                splice(
                    out,
                    src,
                    &mut cursor,
                    at,
                    at,
                    &[b"Content-Length: ", digits, b"\r\n"],
                )?;
                cl_line = None;
            }
            splice(out, src, &mut cursor, s, t, &[self.data(e)?])?;
        }
        for h in cl_values {
            let v = h.value_span;
            splice(out, src, &mut cursor, v.start, v.end, &[digits])?;
        }
        if let Some(at) = cl_line {
            splice(
                out,
                src,
                &mut cursor,
                at,
                at,
                &[b"Content-Length: ", digits, b"\r\n"],
            )?;
        }
        out.extend_from_slice(src.get(cursor as usize..).unwrap_or(&[]));
        Ok(())
    }

    // ----- internals -----

    fn insert_header_at(&mut self, at: u32, name: &[u8], value: &[u8]) -> Result<(), BuildError> {
        check_name(name)?;
        check_value(value)?;
        self.push(Place::Head, at, at, &[name, b": ", value, b"\r\n"])
    }

    /// Copies `parts` into the arena; returns their offset and length.
    fn stash(&mut self, parts: &[&[u8]]) -> Result<(u32, u32), BuildError> {
        let data = to_u32(self.arena.len())?;
        let len = to_u32(parts.iter().map(|p| p.len()).sum())?;
        data.checked_add(len).ok_or(BuildError::TooLong)?;
        for p in parts {
            self.arena.extend_from_slice(p);
        }
        Ok((data, len))
    }

    fn push(
        &mut self,
        place: Place,
        start: u32,
        end: u32,
        parts: &[&[u8]],
    ) -> Result<(), BuildError> {
        let (data, len) = self.stash(parts)?;
        self.insert_sorted(Edit {
            start,
            end,
            data,
            len,
            place,
        });
        Ok(())
    }

    fn push_delete(&mut self, place: Place, start: u32, end: u32) {
        let same = |e: &Edit| e.place == place && e.start == start && e.end == end && e.len == 0;
        if start < end && self.edits.iter().any(same) {
            return;
        }
        self.insert_sorted(Edit {
            start,
            end,
            data: 0,
            len: 0,
            place,
        });
    }

    fn insert_sorted(&mut self, e: Edit) {
        let key = e.key();
        let i = self.edits.partition_point(|x| x.key() <= key);
        self.edits.insert(i, e);
    }

    /// The absolute range an edit covers, checked against the part of the
    /// message it may touch.
    fn resolve(&self, e: &Edit, hend: u32, body: Span) -> Result<(u32, u32), BuildError> {
        let bad = BuildError::OutOfRange {
            start: e.start,
            end: e.end,
        };
        match e.place {
            Place::Head if e.start <= e.end && e.end <= hend => Ok((e.start, e.end)),
            Place::Body if e.start <= e.end && e.end <= body.end.saturating_sub(body.start) => {
                Ok((body.start + e.start, body.start + e.end))
            }
            Place::WholeBody => Ok((body.start, body.end)),
            _ => Err(bad),
        }
    }

    fn data(&self, e: &Edit) -> Result<&[u8], BuildError> {
        let end = e.data.checked_add(e.len).ok_or(BuildError::TooLong)?;
        self.arena
            .get(e.data as usize..end as usize)
            .ok_or(BuildError::TooLong)
    }
}

/// Copies `src[cursor..start]`, then `parts`, and moves the cursor to `end`.
fn splice(
    out: &mut Vec<u8>,
    src: &[u8],
    cursor: &mut u32,
    start: u32,
    end: u32,
    parts: &[&[u8]],
) -> Result<(), BuildError> {
    if start < *cursor {
        return Err(BuildError::Overlap { at: start });
    }
    let keep = src
        .get(*cursor as usize..start as usize)
        .ok_or(BuildError::OutOfRange { start, end })?;
    out.extend_from_slice(keep);
    for p in parts {
        out.extend_from_slice(p);
    }
    *cursor = end;
    Ok(())
}

/// Writes a stateless reply to the request `req` (RFC 3261 8.2.6) and
/// appends it to `out`:
///
/// `SIP/2.0 code reason`, every Via (in order, names as written), the
/// Record-Route headers for codes 101..=299 (they may establish a dialog,
/// RFC 3261 12.1.1), From, To (with `;tag=to_tag` appended when the To has
/// no tag and a tag is given), Call-ID, CSeq, `extra_headers` (whole lines
/// ending in CRLF, e.g. `Server: ser\r\n`; no Content-Length), the
/// `Content-Length` of `body`, the empty line and `body`.
///
/// Headers missing from the request are left out (a reply to a broken
/// request is still worth sending). Nothing is written on error.
pub fn build_reply(
    req: &SipMsg<'_>,
    code: u16,
    reason: &[u8],
    to_tag: Option<&[u8]>,
    extra_headers: &[u8],
    body: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), BuildError> {
    if !req.is_request() {
        return Err(BuildError::NotRequest);
    }
    if !(100..=699).contains(&code) {
        return Err(BuildError::BadStatus(code));
    }
    if reason.iter().any(|&b| b == b'\r' || b == b'\n') {
        return Err(BuildError::BadReason);
    }
    if to_tag.is_some_and(|t| t.is_empty() || !t.iter().all(|&b| lex::is_token(b))) {
        return Err(BuildError::BadTag);
    }
    check_raw_lines(extra_headers)?;

    let code_digits = Digits::new(u64::from(code));
    let len_digits = Digits::new(body.len() as u64);
    out.reserve(req.headers_end() + reason.len() + extra_headers.len() + body.len() + 64);
    out.extend_from_slice(b"SIP/2.0 ");
    out.extend_from_slice(code_digits.as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason);
    out.extend_from_slice(b"\r\n");
    for h in req.headers_named(HeaderName::Via) {
        copy_header(out, req, h, None);
    }
    if (101..=299).contains(&code) {
        for h in req.headers_named(HeaderName::RecordRoute) {
            copy_header(out, req, h, None);
        }
    }
    if let Some(h) = req.header(HeaderName::From) {
        copy_header(out, req, h, None);
    }
    if let Some(h) = req.header(HeaderName::To) {
        let tag = to_tag.filter(|_| !to_has_tag(req, h));
        copy_header(out, req, h, tag);
    }
    if let Some(h) = req.header(HeaderName::CallId) {
        copy_header(out, req, h, None);
    }
    if let Some(h) = req.header(HeaderName::CSeq) {
        copy_header(out, req, h, None);
    }
    out.extend_from_slice(extra_headers);
    out.extend_from_slice(b"Content-Length: ");
    out.extend_from_slice(len_digits.as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
    Ok(())
}

/// Writes `name: value[;tag=tag]` CRLF, name and value as written.
fn copy_header(out: &mut Vec<u8>, msg: &SipMsg<'_>, h: &HeaderField, tag: Option<&[u8]>) {
    out.extend_from_slice(msg.name_of(h));
    out.extend_from_slice(b": ");
    out.extend_from_slice(msg.value_of(h));
    if let Some(t) = tag {
        out.extend_from_slice(b";tag=");
        out.extend_from_slice(t);
    }
    out.extend_from_slice(b"\r\n");
}

/// Whether the To header carries a tag. The parsed To is asked first; the
/// byte scan backs it up, so that a parser that fails or sees less never
/// leads to a second tag.
fn to_has_tag(msg: &SipMsg<'_>, h: &HeaderField) -> bool {
    msg.to().is_ok_and(|n| n.params.has(b"tag")) || value_has_tag(msg.value_of(h))
}

/// Byte scan of a name-addr / addr-spec header value for a `tag` header
/// parameter.
fn value_has_tag(v: &[u8]) -> bool {
    Params::from_raw(header_params(v)).has(b"tag")
}

/// The header parameters of a From/To-style value: what follows the `>` of
/// a name-addr, or the first `;` of a bare addr-spec (RFC 3261 20.10), with
/// quoted display names skipped. Empty when there are none or the value is
/// malformed.
fn header_params(v: &[u8]) -> &[u8] {
    let mut i = 0;
    while let Some(&b) = v.get(i) {
        match b {
            b'"' => match lex::quoted_end(v, i, Where::To) {
                Ok(end) => i = end,
                Err(_) => return &[],
            },
            b'<' => {
                let rest = v.get(i..).unwrap_or(&[]);
                return match memchr::memchr(b'>', rest) {
                    Some(off) => rest.get(off + 1..).unwrap_or(&[]),
                    None => &[],
                };
            }
            b';' => return v.get(i + 1..).unwrap_or(&[]),
            _ => i += 1,
        }
    }
    &[]
}

/// A header name to be written: a token, and not Content-Length.
fn check_name(name: &[u8]) -> Result<(), BuildError> {
    if name.is_empty() || !name.iter().all(|&b| lex::is_token(b)) {
        return Err(BuildError::BadName);
    }
    if HeaderName::classify(name) == HeaderName::ContentLength {
        return Err(BuildError::ContentLength);
    }
    Ok(())
}

/// A header value to be written: CR and LF only as line folding
/// (`CRLF` or `LF` followed by SP or HT).
fn check_value(v: &[u8]) -> Result<(), BuildError> {
    for (i, &b) in v.iter().enumerate() {
        let ok = match b {
            b'\r' => v.get(i + 1) == Some(&b'\n'),
            b'\n' => matches!(v.get(i + 1), Some(b' ' | b'\t')),
            _ => true,
        };
        if !ok {
            return Err(BuildError::BadValue);
        }
    }
    Ok(())
}

/// Raw header lines: each ends in CRLF, is `name: value` with a token name
/// (not Content-Length) or a continuation line (after a header line), and
/// none is empty. Empty input is fine.
/// Checks that `raw` is whole header lines as the raw-line edits and
/// [`build_reply`]'s extra headers take them: `name: value` CRLF lines
/// (continuation lines allowed), no empty line, no Content-Length.
pub fn check_header_lines(raw: &[u8]) -> Result<(), BuildError> {
    check_raw_lines(raw)
}

fn check_raw_lines(raw: &[u8]) -> Result<(), BuildError> {
    let mut rest = raw;
    let mut first = true;
    while !rest.is_empty() {
        let nl = memchr::memchr(b'\n', rest).ok_or(BuildError::BadValue)?;
        let line = rest.get(..nl).unwrap_or(&[]);
        rest = rest.get(nl + 1..).unwrap_or(&[]);
        let line = line.strip_suffix(b"\r").ok_or(BuildError::BadValue)?;
        if line.contains(&b'\r') {
            return Err(BuildError::BadValue);
        }
        match line.first() {
            None => return Err(BuildError::BadValue),
            Some(b' ' | b'\t') if first => return Err(BuildError::BadValue),
            Some(b' ' | b'\t') => {}
            Some(_) => {
                let colon = memchr::memchr(b':', line).ok_or(BuildError::BadValue)?;
                let mut name = line.get(..colon).unwrap_or(&[]);
                while let [rest @ .., b' ' | b'\t'] = name {
                    name = rest;
                }
                check_name(name)?;
            }
        }
        first = false;
    }
    Ok(())
}

#[inline]
fn to_u32(n: usize) -> Result<u32, BuildError> {
    u32::try_from(n).map_err(|_| BuildError::TooLong)
}

/// Decimal digits of a number, on the stack.
struct Digits {
    buf: [u8; 20],
    start: usize,
}

impl Digits {
    fn new(mut n: u64) -> Digits {
        let mut buf = [b'0'; 20];
        let mut start = buf.len();
        for slot in buf.iter_mut().rev() {
            *slot = b'0' + (n % 10) as u8;
            start -= 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        Digits { buf, start }
    }

    fn as_bytes(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or(b"0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::limits::Limits;
    use crate::sip::msg::Transport;

    const SDP: &str = "v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 192.0.2.101\r\n\
s=-\r\n\
c=IN IP4 192.0.2.101\r\n\
t=0 0\r\n\
m=audio 49172 RTP/AVP 0\r\n\
a=rtpmap:0 PCMU/8000\r\n";

    const INVITE_HEAD: &str = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8\r\n\
Max-Forwards: 70\r\n\
Route: <sip:p1.example.com;lr>\r\n\
Route: <sip:p2.example.com;lr>\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
Content-Type: application/sdp\r\n";

    /// A REGISTER with compact names, a folded header and `l: 0`.
    const REGISTER: &[u8] = b"REGISTER sip:registrar.biloxi.example.com SIP/2.0\r\n\
v: SIP/2.0/UDP bobspc.biloxi.example.com:5060;branch=z9hG4bKnashds7\r\n\
Max-Forwards: 70\r\n\
t: Bob <sip:bob@biloxi.example.com>\r\n\
f: Bob <sip:bob@biloxi.example.com>;tag=456248\r\n\
i: 843817637684230@998sdasdh09\r\n\
CSeq: 1826 REGISTER\r\n\
m: <sip:bob@192.0.2.4>\r\n\
Subject: a folded\r\n  subject line\r\n\tand more\r\n\
Expires: 7200\r\n\
l: 0\r\n\
\r\n";

    /// A 200 OK whose first Via line holds two values.
    const OK: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bK2d4790.1, SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
Record-Route: <sip:proxy.example.com;lr>\r\n\
To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:bob@192.0.2.4>\r\n\
Content-Length: 0\r\n\
\r\n";

    fn invite() -> Vec<u8> {
        format!("{INVITE_HEAD}Content-Length: {}\r\n\r\n{SDP}", SDP.len()).into_bytes()
    }

    fn parse(b: &[u8]) -> SipMsg<'_> {
        SipMsg::parse(b).unwrap()
    }

    fn build(m: &SipMsg<'_>, e: &Edits) -> Vec<u8> {
        let mut out = Vec::new();
        e.build(m, &mut out).unwrap();
        out
    }

    /// Re-parses an output as a stream message: Content-Length must be
    /// present, single, and frame exactly the bytes written.
    fn reparse(out: &[u8]) -> SipMsg<'_> {
        let m = SipMsg::parse_with(out, Transport::Stream, &Limits::DEFAULT)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(out)));
        assert_eq!(m.len(), out.len(), "{}", String::from_utf8_lossy(out));
        assert_eq!(m.headers_named(HeaderName::ContentLength).count(), 1);
        assert_eq!(m.content_length(), Some(m.body().len() as u32));
        m
    }

    fn vals<'a>(m: &SipMsg<'a>, n: HeaderName) -> Vec<&'a [u8]> {
        m.headers_named(n).map(|h| m.value_of(h)).collect()
    }

    fn names<'a>(m: &SipMsg<'a>) -> Vec<&'a [u8]> {
        m.headers().iter().map(|h| m.name_of(h)).collect()
    }

    #[test]
    fn no_edits_copy_the_message() {
        let inv = invite();
        for b in [&inv[..], REGISTER, OK] {
            let m = parse(b);
            assert_eq!(build(&m, &Edits::new()), b);
        }
        // Bytes after the body of a datagram are not part of the message.
        let mut d = invite();
        d.extend_from_slice(b"\r\n\r\ngarbage");
        let m = parse(&d);
        assert_eq!(build(&m, &Edits::new()), invite());
    }

    #[test]
    fn build_appends_to_out() {
        let m = parse(REGISTER);
        let mut out = b"prefix".to_vec();
        Edits::new().build(&m, &mut out).unwrap();
        assert_eq!(&out[..6], b"prefix");
        assert_eq!(&out[6..], REGISTER);
    }

    #[test]
    fn add_header_goes_last() {
        let inv = invite();
        let m = parse(&inv);
        let mut e = Edits::new();
        e.add_header(&m, b"X-Proxy", b"ser; id=1").unwrap();
        let out = build(&m, &e);
        let r = reparse(&out);
        let last = r.headers().last().unwrap();
        assert_eq!(r.name_of(last), b"X-Proxy");
        assert_eq!(r.value_of(last), b"ser; id=1");
        assert_eq!(r.headers().len(), m.headers().len() + 1);
        assert_eq!(r.body(), SDP.as_bytes());
    }

    #[test]
    fn add_header_first_goes_first_in_call_order() {
        let m = parse(REGISTER);
        let mut e = Edits::new();
        e.add_header_first(&m, b"X-One", b"1").unwrap();
        e.add_header_first(&m, b"X-Two", b"2").unwrap();
        let out = build(&m, &e);
        let r = reparse(&out);
        assert_eq!(&names(&r)[..3], [&b"X-One"[..], b"X-Two", b"v"]);
        assert_eq!(r.value_by_name(b"x-two"), Some(&b"2"[..]));
    }

    #[test]
    fn insert_header_before_a_field() {
        let inv = invite();
        let m = parse(&inv);
        let contact = *m.header(HeaderName::Contact).unwrap();
        let mut e = Edits::new();
        e.insert_header_before(&contact, b"Supported", b"100rel, timer")
            .unwrap();
        let out = build(&m, &e);
        let r = reparse(&out);
        let n = names(&r);
        let i = n.iter().position(|&x| x == b"Supported").unwrap();
        assert_eq!(n[i + 1], b"Contact");
        assert_eq!(r.value(HeaderName::Supported), Some(&b"100rel, timer"[..]));
    }

    #[test]
    fn insert_raw_lines_before_a_field() {
        let m = parse(REGISTER);
        let expires = *m.header(HeaderName::Expires).unwrap();
        let mut e = Edits::new();
        e.insert_raw_before(&expires, b"X-A: 1\r\nX-B: two\r\n  lines\r\n")
            .unwrap();
        e.insert_raw_before(&expires, b"").unwrap();
        assert_eq!(e.len(), 1);
        let out = build(&m, &e);
        let r = reparse(&out);
        let n = names(&r);
        let i = n.iter().position(|&x| x == b"X-A").unwrap();
        assert_eq!(&n[i..i + 3], [&b"X-A"[..], b"X-B", b"Expires"]);
        assert_eq!(r.value_by_name(b"X-B"), Some(&b"two\r\n  lines"[..]));
        assert_eq!(r.expires().unwrap(), Some(7200));

        let bad: &[&[u8]] = &[
            b"X-A: 1",
            b"X-A: 1\n",
            b"X-A: 1\r\n\r\n",
            b"  cont\r\n",
            b"no colon\r\n",
            b"X-A: 1\rx\r\n",
        ];
        for raw in bad {
            assert_eq!(
                e.insert_raw_before(&expires, raw),
                Err(BuildError::BadValue),
                "{raw:?}"
            );
        }
        assert_eq!(
            e.insert_raw_before(&expires, b": 1\r\n"),
            Err(BuildError::BadName)
        );
        assert_eq!(
            e.insert_raw_before(&expires, b"X A: 1\r\n"),
            Err(BuildError::BadName)
        );
        assert_eq!(
            e.insert_raw_before(&expires, b"X-A: 1\r\nl : 5\r\n"),
            Err(BuildError::ContentLength)
        );
        assert_eq!(e.len(), 1);
    }

    #[test]
    fn remove_header_takes_the_whole_line() {
        let inv = invite();
        let m = parse(&inv);
        let route = *m.header(HeaderName::Route).unwrap();
        let mut e = Edits::new();
        e.remove_header(&route);
        let out = build(&m, &e);
        let r = reparse(&out);
        assert_eq!(
            vals(&r, HeaderName::Route),
            [&b"<sip:p2.example.com;lr>"[..]]
        );
        assert_eq!(r.headers().len(), m.headers().len() - 1);
        assert_eq!(out.len(), inv.len() - route.line().len());
    }

    #[test]
    fn remove_folded_and_compact_headers() {
        let m = parse(REGISTER);
        let subject = *m.header(HeaderName::Subject).unwrap();
        let mut e = Edits::new();
        e.remove_header(&subject);
        assert_eq!(e.remove_by_name(&m, b"Via"), 1);
        let out = build(&m, &e);
        let r = reparse(&out);
        assert!(r.header(HeaderName::Subject).is_none());
        assert!(r.header(HeaderName::Via).is_none());
        assert!(!out.windows(7).any(|w| w == b"subject"));
        assert!(!out.windows(4).any(|w| w == b"more"));
        assert_eq!(r.headers().len(), m.headers().len() - 2);
        assert_eq!(r.expires().unwrap(), Some(7200));
        assert_eq!(r.value(HeaderName::CSeq), Some(&b"1826 REGISTER"[..]));
    }

    #[test]
    fn remove_all_and_by_name() {
        let b = b"OPTIONS sip:a@example.com SIP/2.0\r\n\
Route: <sip:p1>\r\n\
X-Trace: 1\r\n\
Route: <sip:p2>,\r\n <sip:p3>\r\n\
x-trace: 2\r\n\
Call-ID: c1\r\n\
Content-Length: 0\r\n\
\r\n";
        let m = parse(b);
        let mut e = Edits::new();
        assert_eq!(e.remove_all(&m, HeaderName::Route), 2);
        assert_eq!(e.remove_by_name(&m, b"X-TRACE"), 2);
        assert_eq!(e.remove_all(&m, HeaderName::Other), 0);
        // Removing again is not an overlap.
        assert_eq!(e.remove_all(&m, HeaderName::Route), 2);
        assert_eq!(e.len(), 4);
        let out = build(&m, &e);
        assert_eq!(
            out,
            b"OPTIONS sip:a@example.com SIP/2.0\r\nCall-ID: c1\r\nContent-Length: 0\r\n\r\n"
        );
        reparse(&out);
    }

    #[test]
    fn replace_value_of_plain_and_folded_headers() {
        let m = parse(REGISTER);
        let mf = *m.header(HeaderName::MaxForwards).unwrap();
        let subject = *m.header(HeaderName::Subject).unwrap();
        let mut e = Edits::new();
        e.replace_value(&mf, b"69").unwrap();
        e.replace_value(&subject, b"short").unwrap();
        let out = build(&m, &e);
        let r = reparse(&out);
        assert_eq!(r.max_forwards().unwrap(), Some(69));
        assert_eq!(r.value(HeaderName::Subject), Some(&b"short"[..]));
        assert_eq!(r.headers().len(), m.headers().len());

        // Folding in a new value is fine; bare CR or LF is not.
        e.clear();
        e.replace_value(&subject, b"two\r\n lines").unwrap();
        let out = build(&m, &e);
        assert_eq!(
            reparse(&out).value(HeaderName::Subject),
            Some(&b"two\r\n lines"[..])
        );
        for v in [&b"a\r\nb"[..], b"a\rb", b"a\nb", b"a\r"] {
            assert_eq!(e.replace_value(&subject, v), Err(BuildError::BadValue));
        }
    }

    #[test]
    fn set_ruri_rewrites_the_request_line() {
        let inv = invite();
        let m = parse(&inv);
        let mut e = Edits::new();
        e.set_ruri(&m, b"sip:bob@192.0.2.4:5062;transport=tcp")
            .unwrap();
        let out = build(&m, &e);
        let r = reparse(&out);
        assert_eq!(
            r.ruri_bytes(),
            Some(&b"sip:bob@192.0.2.4:5062;transport=tcp"[..])
        );
        assert_eq!(r.method(), m.method());
        assert_eq!(r.body(), SDP.as_bytes());

        assert_eq!(e.set_ruri(&m, b""), Err(BuildError::BadUri));
        assert_eq!(e.set_ruri(&m, b"sip:a b"), Err(BuildError::BadUri));
        assert_eq!(e.set_ruri(&m, b"sip:a\r\n"), Err(BuildError::BadUri));
        let ok = parse(OK);
        assert_eq!(e.set_ruri(&ok, b"sip:x"), Err(BuildError::NotRequest));
    }

    #[test]
    fn push_via_goes_before_the_first_via() {
        // Via is not the first header here.
        let b = b"BYE sip:bob@192.0.2.4 SIP/2.0\r\n\
Max-Forwards: 70\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds9\r\n\
Call-ID: c1\r\n\
Content-Length: 0\r\n\
\r\n";
        let m = parse(b);
        let mut e = Edits::new();
        e.push_via(&m, b"SIP/2.0/UDP proxy.example.com;branch=z9hG4bK1")
            .unwrap();
        let out = build(&m, &e);
        let r = reparse(&out);
        assert_eq!(
            names(&r),
            [
                &b"Max-Forwards"[..],
                b"Via",
                b"Via",
                b"Call-ID",
                b"Content-Length"
            ]
        );
        assert_eq!(
            vals(&r, HeaderName::Via),
            [
                &b"SIP/2.0/UDP proxy.example.com;branch=z9hG4bK1"[..],
                b"SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds9"
            ]
        );

        // No Via at all: at the top.
        let m = parse(b"OPTIONS sip:a SIP/2.0\r\nCall-ID: c\r\n\r\n");
        let mut e = Edits::new();
        e.push_via(&m, b"SIP/2.0/TCP h;branch=z9hG4bK2").unwrap();
        let out = build(&m, &e);
        let r = reparse(&out);
        assert_eq!(names(&r), [&b"Via"[..], b"Call-ID", b"Content-Length"]);
    }

    #[test]
    fn remove_top_via_whole_line() {
        let b = b"SIP/2.0 180 Ringing\r\n\
v: SIP/2.0/UDP proxy.example.com;branch=z9hG4bK2d4790.1\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
l: 0\r\n\
\r\n";
        let m = parse(b);
        let mut e = Edits::new();
        e.remove_top_via(&m).unwrap();
        e.remove_top_via(&m).unwrap();
        assert_eq!(e.len(), 1);
        let out = build(&m, &e);
        let r = reparse(&out);
        assert_eq!(
            vals(&r, HeaderName::Via),
            [&b"SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds"[..]]
        );
        assert_eq!(names(&r), [&b"Via"[..], b"l"]);
    }

    #[test]
    fn remove_top_via_of_a_comma_list() {
        let m = parse(OK);
        let mut e = Edits::new();
        e.remove_top_via(&m).unwrap();
        let out = build(&m, &e);
        let r = reparse(&out);
        assert_eq!(
            vals(&r, HeaderName::Via),
            [&b"SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds"[..]]
        );
        assert_eq!(r.headers().len(), m.headers().len());

        // Folded list, and a quoted comma inside the first value.
        let b = b"SIP/2.0 100 Trying\r\n\
Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1;x=\"p, q\",\r\n  SIP/2.0/UDP b.example.com;branch=z9hG4bK2, SIP/2.0/UDP c.example.com\r\n\
Content-Length: 0\r\n\
\r\n";
        let m = parse(b);
        let mut e = Edits::new();
        e.remove_top_via(&m).unwrap();
        let out = build(&m, &e);
        let r = reparse(&out);
        assert_eq!(
            vals(&r, HeaderName::Via),
            [&b"SIP/2.0/UDP b.example.com;branch=z9hG4bK2, SIP/2.0/UDP c.example.com"[..]]
        );
    }

    #[test]
    fn remove_top_via_errors() {
        let mut e = Edits::new();
        let m = parse(b"SIP/2.0 200 OK\r\nCall-ID: c\r\n\r\n");
        assert_eq!(
            e.remove_top_via(&m),
            Err(BuildError::Missing(HeaderName::Via))
        );
        let m = parse(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a, SIP/2.0/UDP \"b\r\n\r\n");
        assert_eq!(
            e.remove_top_via(&m),
            Err(BuildError::Malformed(HeaderName::Via))
        );
        assert!(e.is_empty());
    }

    #[test]
    fn add_record_route_becomes_the_first() {
        let b = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bK3\r\n\
Record-Route: <sip:p1.example.com;lr>\r\n\
Call-ID: c1\r\n\
Content-Length: 0\r\n\
\r\n";
        let m = parse(b);
        let mut e = Edits::new();
        e.add_record_route(&m, b"<sip:p2.example.com;lr;ftag=1928301774>")
            .unwrap();
        let out = build(&m, &e);
        let r = reparse(&out);
        assert_eq!(
            vals(&r, HeaderName::RecordRoute),
            [
                &b"<sip:p2.example.com;lr;ftag=1928301774>"[..],
                b"<sip:p1.example.com;lr>"
            ]
        );
        assert_eq!(names(&r)[0], b"Record-Route");
    }

    #[test]
    fn body_replacement_updates_content_length() {
        let inv = invite();
        let m = parse(&inv);
        let bigger = SDP.replace("192.0.2.101", "198.51.100.200");
        let mut e = Edits::new();
        e.replace_body(bigger.as_bytes()).unwrap();
        assert!(e.touches_body());
        let out = build(&m, &e);
        let r = reparse(&out);
        assert_eq!(r.body(), bigger.as_bytes());
        assert_eq!(r.content_length(), Some(bigger.len() as u32));
        // The header keeps its place.
        assert_eq!(names(&r), names(&m));

        // A later replacement wins; an empty body gives 0.
        e.replace_body(b"").unwrap();
        assert_eq!(e.len(), 1);
        let out = build(&m, &e);
        let r = reparse(&out);
        assert_eq!(r.body(), b"");
        assert_eq!(r.content_length(), Some(0));
    }

    #[test]
    fn replacements_inside_the_body() {
        let inv = invite();
        let m = parse(&inv);
        let body = m.body();
        let mut e = Edits::new();
        // Every "192.0.2.101" becomes a longer address; "49172" a shorter port.
        let mut off = 0;
        while let Some(i) = memchr::memmem::find(&body[off..], b"192.0.2.101") {
            e.replace_in_body(off + i..off + i + 11, b"203.0.113.250")
                .unwrap();
            off += i + 11;
        }
        let p = memchr::memmem::find(body, b"49172").unwrap();
        e.replace_in_body(p..p + 5, b"4000").unwrap();
        // An insertion at the end of the body.
        e.replace_in_body(body.len()..body.len(), b"a=sendrecv\r\n")
            .unwrap();
        let out = build(&m, &e);
        let r = reparse(&out);
        let want = SDP
            .replace("192.0.2.101", "203.0.113.250")
            .replace("49172", "4000")
            + "a=sendrecv\r\n";
        assert_eq!(r.body(), want.as_bytes());
        assert_eq!(r.content_length(), Some(want.len() as u32));
    }

    #[test]
    fn compact_content_length_is_updated_in_place() {
        let m = parse(REGISTER);
        let mut e = Edits::new();
        e.replace_body(b"hello").unwrap();
        let out = build(&m, &e);
        let r = reparse(&out);
        let cl = r.header(HeaderName::ContentLength).unwrap();
        assert_eq!(r.name_of(cl), b"l");
        assert_eq!(r.value_of(cl), b"5");
        assert_eq!(r.body(), b"hello");
        assert_eq!(names(&r), names(&m));
    }

    #[test]
    fn content_length_inserted_when_missing() {
        let b = b"MESSAGE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK4\r\n\
Call-ID: m1\r\n\
Content-Type: text/plain\r\n\
\r\n\
Hello Bob";
        let m = parse(b);
        assert_eq!(m.content_length(), None);
        // Unchanged body: the header is still added.
        let out = build(&m, &Edits::new());
        let r = reparse(&out);
        assert_eq!(r.body(), b"Hello Bob");
        assert_eq!(names(&r).last(), Some(&&b"Content-Length"[..]));
        // After the caller's own appended headers.
        let mut e = Edits::new();
        e.add_header(&m, b"X-A", b"1").unwrap();
        e.replace_in_body(0..5, b"Hi").unwrap();
        let out = build(&m, &e);
        let r = reparse(&out);
        assert_eq!(r.body(), b"Hi Bob");
        assert_eq!(&names(&r)[3..], [&b"X-A"[..], b"Content-Length"]);
    }

    #[test]
    fn removed_content_length_is_written_again() {
        let inv = invite();
        let m = parse(&inv);
        let mut e = Edits::new();
        assert_eq!(e.remove_all(&m, HeaderName::ContentLength), 1);
        let out = build(&m, &e);
        let r = reparse(&out);
        assert_eq!(r.content_length(), Some(SDP.len() as u32));
        e.replace_body(b"v=0\r\n").unwrap();
        let out = build(&m, &e);
        let r = reparse(&out);
        assert_eq!(r.content_length(), Some(5));
        assert_eq!(names(&r).last(), Some(&&b"Content-Length"[..]));
    }

    #[test]
    fn duplicate_content_length_headers_are_all_updated() {
        let b = b"MESSAGE sip:b SIP/2.0\r\nContent-Length: 3\r\nCall-ID: x\r\nl: 3\r\n\r\nabc";
        let m = parse(b);
        let mut e = Edits::new();
        e.replace_body(b"abcdef").unwrap();
        let out = build(&m, &e);
        assert_eq!(
            out,
            b"MESSAGE sip:b SIP/2.0\r\nContent-Length: 6\r\nCall-ID: x\r\nl: 6\r\n\r\nabcdef"
        );
        // Remove one of them: the other stays and is updated.
        let first = *m.header(HeaderName::ContentLength).unwrap();
        e.remove_header(&first);
        let out = build(&m, &e);
        assert_eq!(
            out,
            b"MESSAGE sip:b SIP/2.0\r\nCall-ID: x\r\nl: 6\r\n\r\nabcdef"
        );
        reparse(&out);
    }

    #[test]
    fn writing_content_length_is_refused() {
        let m = parse(REGISTER);
        let cl = *m.header(HeaderName::ContentLength).unwrap();
        let mut e = Edits::new();
        assert_eq!(
            e.add_header(&m, b"Content-Length", b"5"),
            Err(BuildError::ContentLength)
        );
        assert_eq!(
            e.add_header_first(&m, b"L", b"5"),
            Err(BuildError::ContentLength)
        );
        assert_eq!(e.replace_value(&cl, b"5"), Err(BuildError::ContentLength));
        assert_eq!(
            e.add_header(&m, b"Bad Name", b"5"),
            Err(BuildError::BadName)
        );
        assert_eq!(e.add_header(&m, b"", b"5"), Err(BuildError::BadName));
        assert!(e.is_empty());
    }

    #[test]
    fn proxy_forwarding_combination() {
        let inv = invite();
        let m = parse(&inv);
        let new_sdp =
            SDP.replace("c=IN IP4 192.0.2.101", "c=IN IP4 203.0.113.7") + "a=nortpproxy:yes\r\n";
        let mut e = Edits::with_capacity(8, 256);
        e.add_record_route(&m, b"<sip:proxy.example.com;lr>")
            .unwrap();
        e.push_via(&m, b"SIP/2.0/UDP proxy.example.com;branch=z9hG4bKproxy1")
            .unwrap();
        e.set_ruri(&m, b"sip:bob@192.0.2.4:5060").unwrap();
        let route = *m.header(HeaderName::Route).unwrap();
        e.remove_header(&route);
        let mf = *m.header(HeaderName::MaxForwards).unwrap();
        e.replace_value(&mf, b"69").unwrap();
        e.replace_body(new_sdp.as_bytes()).unwrap();
        e.add_header(&m, b"X-Forwarded", b"yes").unwrap();
        let out = build(&m, &e);
        let r = reparse(&out);

        assert_eq!(r.ruri_bytes(), Some(&b"sip:bob@192.0.2.4:5060"[..]));
        assert_eq!(
            vals(&r, HeaderName::Via),
            [
                &b"SIP/2.0/UDP proxy.example.com;branch=z9hG4bKproxy1"[..],
                b"SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8"
            ]
        );
        assert_eq!(
            vals(&r, HeaderName::RecordRoute),
            [&b"<sip:proxy.example.com;lr>"[..]]
        );
        assert_eq!(
            vals(&r, HeaderName::Route),
            [&b"<sip:p2.example.com;lr>"[..]]
        );
        assert_eq!(r.max_forwards().unwrap(), Some(69));
        assert_eq!(r.value_by_name(b"X-Forwarded"), Some(&b"yes"[..]));
        for n in [
            HeaderName::To,
            HeaderName::From,
            HeaderName::CallId,
            HeaderName::CSeq,
            HeaderName::Contact,
        ] {
            assert_eq!(r.value(n), m.value(n));
        }
        assert_eq!(r.body(), new_sdp.as_bytes());
        assert_eq!(r.content_length(), Some(new_sdp.len() as u32));
        assert_eq!(&names(&r)[..3], [&b"Record-Route"[..], b"Via", b"Via"]);
        assert_eq!(
            &names(&r)[r.headers().len() - 2..],
            [&b"Content-Length"[..], b"X-Forwarded"]
        );
    }

    #[test]
    fn replacing_a_header_by_insert_and_remove() {
        let m = parse(OK);
        let via = *m.header(HeaderName::Via).unwrap();
        let mut e = Edits::new();
        e.remove_header(&via);
        e.insert_header_before(&via, b"Via", b"SIP/2.0/UDP x.example.com;branch=z9hG4bK9")
            .unwrap();
        let out = build(&m, &e);
        let r = reparse(&out);
        assert_eq!(
            vals(&r, HeaderName::Via),
            [&b"SIP/2.0/UDP x.example.com;branch=z9hG4bK9"[..]]
        );

        // push_via and remove_top_via on the same line.
        let mut e = Edits::new();
        e.remove_top_via(&m).unwrap();
        e.push_via(&m, b"SIP/2.0/UDP y.example.com;branch=z9hG4bK8")
            .unwrap();
        let out = build(&m, &e);
        let r = reparse(&out);
        assert_eq!(
            vals(&r, HeaderName::Via),
            [
                &b"SIP/2.0/UDP y.example.com;branch=z9hG4bK8"[..],
                b"SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds"
            ]
        );
    }

    #[test]
    fn overlapping_edits_are_rejected() {
        let inv = invite();
        let m = parse(&inv);
        let to = *m.header(HeaderName::To).unwrap();
        let mut out = b"keep".to_vec();

        let mut e = Edits::new();
        e.replace_value(&to, b"<sip:carol@example.com>").unwrap();
        e.remove_header(&to);
        assert_eq!(
            e.build(&m, &mut out),
            Err(BuildError::Overlap {
                at: to.value_span.start
            })
        );
        assert_eq!(out, b"keep");

        let mut e = Edits::new();
        e.replace_value(&to, b"a").unwrap();
        e.replace_value(&to, b"b").unwrap();
        assert!(matches!(
            e.build(&m, &mut out),
            Err(BuildError::Overlap { .. })
        ));

        // An insertion strictly inside a deleted range.
        let mut e = Edits::new();
        e.remove_header(&to);
        e.insert_at(to.value_span.start as usize, b"x").unwrap();
        assert!(matches!(
            e.build(&m, &mut out),
            Err(BuildError::Overlap { .. })
        ));

        let mut e = Edits::new();
        e.replace_in_body(0..10, b"a").unwrap();
        e.replace_in_body(5..12, b"b").unwrap();
        assert!(matches!(
            e.build(&m, &mut out),
            Err(BuildError::Overlap { .. })
        ));

        let mut e = Edits::new();
        e.replace_body(b"new").unwrap();
        e.replace_in_body(3..4, b"b").unwrap();
        assert!(matches!(
            e.build(&m, &mut out),
            Err(BuildError::Overlap { .. })
        ));

        // A raw edit on Content-Length meets the builder's own rewrite.
        let cl = *m.header(HeaderName::ContentLength).unwrap();
        let mut e = Edits::new();
        e.replace_span(cl.value_span, b"1").unwrap();
        e.replace_body(b"x").unwrap();
        assert!(matches!(
            e.build(&m, &mut out),
            Err(BuildError::Overlap { .. })
        ));
        assert_eq!(out, b"keep");

        // Adjacent edits are fine; so is an insertion before a body rewrite.
        let mut e = Edits::new();
        e.replace_in_body(0..4, b"V=0").unwrap();
        e.replace_in_body(4..5, b"\n").unwrap();
        e.replace_in_body(0..0, b"").unwrap();
        let mut out = Vec::new();
        e.build(&m, &mut out).unwrap();
        assert!(reparse(&out).body().starts_with(b"V=0\no=alice"));
    }

    #[test]
    fn out_of_range_edits_are_rejected() {
        let inv = invite();
        let m = parse(&inv);
        let mut out = Vec::new();
        let mut e = Edits::new();
        e.replace_in_body(0..SDP.len() + 1, b"x").unwrap();
        assert_eq!(
            e.build(&m, &mut out),
            Err(BuildError::OutOfRange {
                start: 0,
                end: SDP.len() as u32 + 1
            })
        );
        assert!(matches!(
            e.replace_in_body(Range { start: 5, end: 4 }, b""),
            Err(BuildError::OutOfRange { .. })
        ));

        // Header edits may not reach into the empty line or the body.
        let mut e = Edits::new();
        e.delete_span(Span::new(m.headers_end(), m.headers_end() + 2));
        assert!(matches!(
            e.build(&m, &mut out),
            Err(BuildError::OutOfRange { .. })
        ));
        let mut e = Edits::new();
        e.insert_at(m.body_span().start as usize, b"x").unwrap();
        assert!(matches!(
            e.build(&m, &mut out),
            Err(BuildError::OutOfRange { .. })
        ));
        // A field of a longer message.
        let big = parse(OK);
        let small = parse(b"SIP/2.0 200 OK\r\nl: 0\r\n\r\n");
        let mut e = Edits::new();
        e.remove_header(big.headers().last().unwrap());
        assert!(matches!(
            e.build(&small, &mut out),
            Err(BuildError::OutOfRange { .. })
        ));
        assert!(out.is_empty());
    }

    #[test]
    fn bare_lf_messages_can_be_edited() {
        let b = b"OPTIONS sip:a@example.com SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK5\nCall-ID: c\n\nbody";
        let m = parse(b);
        let mut e = Edits::new();
        e.push_via(&m, b"SIP/2.0/UDP p;branch=z9hG4bK6").unwrap();
        e.remove_header(m.header(HeaderName::CallId).unwrap());
        e.add_header(&m, b"Call-ID", b"d").unwrap();
        let out = build(&m, &e);
        let r = reparse(&out);
        assert_eq!(vals(&r, HeaderName::Via).len(), 2);
        assert_eq!(r.call_id().unwrap(), b"d");
        assert_eq!(r.body(), b"body");
    }

    // ----- replies -----

    const INVITE2: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bK2d4790.1\r\n\
v: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;received=192.0.2.101\r\n\
Max-Forwards: 69\r\n\
Record-Route: <sip:proxy.example.com;lr>\r\n\
t: \"Bob; <the builder>\" <sip:bob@biloxi.example.com;tag=uri-param>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
Content-Type: text/plain\r\n\
Content-Length: 2\r\n\
\r\n\
hi";

    fn reply(req: &[u8], code: u16, tag: Option<&[u8]>, extra: &[u8], body: &[u8]) -> Vec<u8> {
        let m = parse(req);
        let mut out = Vec::new();
        build_reply(&m, code, b"Some Reason", tag, extra, body, &mut out).unwrap();
        out
    }

    #[test]
    fn reply_copies_the_transaction_headers() {
        let out = reply(
            INVITE2,
            486,
            Some(b"ser-1a2b"),
            b"Server: ser\r\nRetry-After: 60\r\n",
            b"",
        );
        let r = reparse(&out);
        let req = parse(INVITE2);
        assert_eq!(r.status(), Some(486));
        assert_eq!(r.reason(), Some(&b"Some Reason"[..]));
        assert_eq!(vals(&r, HeaderName::Via), vals(&req, HeaderName::Via));
        assert_eq!(
            names(&r),
            [
                &b"Via"[..],
                b"v",
                b"From",
                b"t",
                b"Call-ID",
                b"CSeq",
                b"Server",
                b"Retry-After",
                b"Content-Length"
            ]
        );
        // The tag inside the URI is not a To tag: one is added.
        assert_eq!(
            r.value(HeaderName::To),
            Some(
                &b"\"Bob; <the builder>\" <sip:bob@biloxi.example.com;tag=uri-param>;tag=ser-1a2b"
                    [..]
            )
        );
        assert!(value_has_tag(r.value(HeaderName::To).unwrap()));
        for n in [HeaderName::From, HeaderName::CallId, HeaderName::CSeq] {
            assert_eq!(r.value(n), req.value(n));
        }
        assert_eq!(r.value_by_name(b"Server"), Some(&b"ser"[..]));
        assert_eq!(r.body(), b"");
        assert!(r.header(HeaderName::RecordRoute).is_none());
        assert!(r.header(HeaderName::Contact).is_none());
    }

    #[test]
    fn reply_keeps_an_existing_to_tag() {
        let req = b"BYE sip:alice@pc33.atlanta.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKnashds10\r\n\
From: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n\
To: Alice <sip:alice@atlanta.example.com> ; TAG = 1928301774\r\n\
Call-ID: a84b4c76e66710\r\n\
CSeq: 231 BYE\r\n\
Content-Length: 0\r\n\
\r\n";
        let out = reply(req, 200, Some(b"other"), b"", b"");
        let r = reparse(&out);
        assert_eq!(r.value(HeaderName::To), parse(req).value(HeaderName::To));
        // No tag given, none added.
        let out = reply(INVITE2, 100, None, b"", b"");
        let r = reparse(&out);
        assert_eq!(
            r.value(HeaderName::To),
            parse(INVITE2).value(HeaderName::To)
        );
    }

    #[test]
    fn reply_with_body_and_record_route() {
        let body = b"<html>busy</html>";
        let out = reply(
            INVITE2,
            200,
            Some(b"x1"),
            b"Content-Type: text/html\r\n",
            body,
        );
        let r = reparse(&out);
        assert_eq!(r.status(), Some(200));
        assert_eq!(
            vals(&r, HeaderName::RecordRoute),
            [&b"<sip:proxy.example.com;lr>"[..]]
        );
        assert_eq!(r.body(), body);
        assert_eq!(r.content_length(), Some(body.len() as u32));
        assert!(out.starts_with(b"SIP/2.0 200 Some Reason\r\nVia: SIP/2.0/UDP proxy.example.com;branch=z9hG4bK2d4790.1\r\n"));
    }

    #[test]
    fn reply_errors() {
        let req = parse(INVITE2);
        let mut out = b"x".to_vec();
        let mut call = |code, reason: &[u8], tag: Option<&[u8]>, extra: &[u8]| {
            build_reply(&req, code, reason, tag, extra, b"", &mut out)
        };
        assert_eq!(call(99, b"OK", None, b""), Err(BuildError::BadStatus(99)));
        assert_eq!(call(700, b"OK", None, b""), Err(BuildError::BadStatus(700)));
        assert_eq!(
            call(200, b"OK\r\nX: y", None, b""),
            Err(BuildError::BadReason)
        );
        assert_eq!(call(200, b"OK\n", None, b""), Err(BuildError::BadReason));
        assert_eq!(call(200, b"OK", Some(b""), b""), Err(BuildError::BadTag));
        assert_eq!(call(200, b"OK", Some(b"a;b"), b""), Err(BuildError::BadTag));
        assert_eq!(
            call(200, b"OK", None, b"Server: x"),
            Err(BuildError::BadValue)
        );
        assert_eq!(
            call(200, b"OK", None, b"Content-Length: 5\r\n"),
            Err(BuildError::ContentLength)
        );
        assert_eq!(out, b"x");
        let resp = parse(OK);
        assert_eq!(
            build_reply(&resp, 200, b"OK", None, b"", b"", &mut out),
            Err(BuildError::NotRequest)
        );
        // An empty reason phrase is allowed.
        build_reply(&req, 199, b"", None, b"", b"", &mut out).unwrap();
        assert!(out.starts_with(b"xSIP/2.0 199 \r\n"));
        assert_eq!(reparse(&out[1..]).reason(), Some(&b""[..]));
    }

    #[test]
    fn reply_to_a_request_missing_headers() {
        let m = parse(b"OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n\r\n");
        let mut out = Vec::new();
        build_reply(
            &m,
            400,
            b"Bad Request - missing Call-ID",
            Some(b"t"),
            b"",
            b"",
            &mut out,
        )
        .unwrap();
        assert_eq!(
            out,
            b"SIP/2.0 400 Bad Request - missing Call-ID\r\nVia: SIP/2.0/UDP h\r\nContent-Length: 0\r\n\r\n"
        );
    }

    // ----- helpers -----

    #[test]
    fn to_tag_byte_scan() {
        let cases: &[(&[u8], bool)] = &[
            (b"<sip:b@example.com>;tag=1", true),
            (b"Bob <sip:b@example.com> ; Tag = 1", true),
            (b"sip:b@example.com;tag=1", true),
            (b"sip:b@example.com;foo;tag", true),
            (b"\"a<b;tag=x>\" <sip:b@example.com>;tag=1", true),
            (b"\"a<b;tag=x>\" <sip:b@example.com>", false),
            (b"<sip:b@example.com;tag=1>", false),
            (b"<sip:b@example.com>;tagx=1", false),
            (b"<sip:b@example.com", false),
            (b"\"unclosed <sip:b@example.com>;tag=1", false),
            (b"", false),
        ];
        for &(v, want) in cases {
            assert_eq!(value_has_tag(v), want, "{}", String::from_utf8_lossy(v));
        }
    }

    #[test]
    fn digits() {
        for n in [0u64, 7, 10, 4096, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(Digits::new(n).as_bytes(), n.to_string().as_bytes());
        }
    }

    #[test]
    fn errors_display() {
        assert_eq!(
            BuildError::Overlap { at: 7 }.to_string(),
            "edits overlap at byte 7"
        );
        assert_eq!(
            BuildError::Missing(HeaderName::Via).to_string(),
            "missing Via header"
        );
    }
}
