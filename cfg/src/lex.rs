//! The lexer: bytes of one file (or of one `#!define` value) to tokens with
//! spans.
//!
//! The lexer works on bytes, so a config may hold any bytes in comments;
//! string literals and identifiers must be UTF-8. It knows comments (`#` to
//! end of line, `//` to end of line, nested `/* */`), recognises `#!`
//! directive lines as one [`Tok::Directive`] token (the preprocessor
//! interprets them), and skips whole lines in inactive `#!ifdef` regions
//! through [`Lexer::next_directive`].
//!
//! String escapes follow SER's lexer: in double-quoted strings `\n \r \t \a
//! \\ \"`, `\xH`/`\xHH`, two- or three-digit octal `\ooo`, and a backslash
//! before a newline (line continuation) are replaced; any other backslash is
//! kept together with the character after it, so a regex such as
//! `"^Contact:[ ]*\*"` reaches the regex engine as written. Single-quoted
//! strings are raw: no escapes at all.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::source::{Error, FileId, Result, Span};

/// A token.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    Ident(String),
    Int(i64),
    Str(String),
    Ipv4(Ipv4Addr),
    /// `[2001:db8::1]`, brackets included in the source.
    Ipv6(Ipv6Addr),
    Var(Box<VarTok>),
    /// A `#!name rest-of-line` line; only the preprocessor sees these.
    Directive(Box<DirTok>),
    At,
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Semi,
    Comma,
    Colon,
    Dot,
    Assign,
    ColonAssign,
    Eq,
    Ne,
    Match,
    NotMatch,
    Lt,
    Gt,
    Le,
    Ge,
    Not,
    AndAnd,
    OrOr,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Eof,
}

/// The shape of a `$...` token; the parser decides what it means.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum VarTok {
    /// `$?`
    Question,
    /// `$name`, `$name[index]`
    Simple { name: String, index: Option<String> },
    /// `$track.name` (SER 2.x AVP with a track/class prefix)
    Tracked {
        track: String,
        name: String,
        index: Option<String>,
    },
    /// `$name(arg)`, `$name(arg)[index]` (Kamailio pseudo-variable)
    Call {
        name: String,
        arg: String,
        index: Option<String>,
    },
    /// `$(...)`: a Kamailio transformation, kept raw
    Transform { raw: String },
}

/// A directive line `#!name rest`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct DirTok {
    pub name: String,
    /// Everything after the name up to the end of the line, with
    /// backslash-newline continuations kept (a sub-lexer eats them).
    pub rest: String,
    /// Position of the first byte of `rest`.
    pub rest_span: Span,
}

/// A token with its position. `space_before` tells whether whitespace or a
/// comment came between the previous token and this one (used to glue
/// `msg:len`, `udp:1.2.3.4:5060`, `pstn.gw_ip`, host names).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub span: Span,
    pub space_before: bool,
}

/// SER 2.x AVP track/class prefixes accepted in `$track.name`.
pub(crate) const AVP_TRACKS: &[&str] = &["f", "t", "fu", "tu", "fd", "td", "fr", "tr"];

impl Tok {
    /// How the token is named in a message: `` `;` ``, `` `foo` ``,
    /// `end of file`.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Int(n) => format!("`{n}`"),
            Tok::Str(s) => {
                let mut t: String = s.chars().take(24).collect();
                if t.len() < s.len() {
                    t.push('…');
                }
                format!("string {:?}", t)
            }
            Tok::Ipv4(a) => format!("`{a}`"),
            Tok::Ipv6(a) => format!("`[{a}]`"),
            Tok::Var(v) => format!("`{v}`"),
            Tok::Directive(d) => format!("`#!{}`", d.name),
            Tok::Eof => "end of file".to_string(),
            other => format!("`{}`", other.punct()),
        }
    }

    /// The spelling of a punctuation token.
    pub fn punct(&self) -> &'static str {
        match self {
            Tok::At => "@",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::Semi => ";",
            Tok::Comma => ",",
            Tok::Colon => ":",
            Tok::Dot => ".",
            Tok::Assign => "=",
            Tok::ColonAssign => ":=",
            Tok::Eq => "==",
            Tok::Ne => "!=",
            Tok::Match => "=~",
            Tok::NotMatch => "!~",
            Tok::Lt => "<",
            Tok::Gt => ">",
            Tok::Le => "<=",
            Tok::Ge => ">=",
            Tok::Not => "!",
            Tok::AndAnd => "&&",
            Tok::OrOr => "||",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::Percent => "%",
            _ => "?",
        }
    }
}

impl fmt::Display for VarTok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let idx = |i: &Option<String>| i.as_ref().map(|i| format!("[{i}]")).unwrap_or_default();
        match self {
            VarTok::Question => write!(f, "$?"),
            VarTok::Simple { name, index } => write!(f, "${name}{}", idx(index)),
            VarTok::Tracked { track, name, index } => write!(f, "${track}.{name}{}", idx(index)),
            VarTok::Call { name, arg, index } => write!(f, "${name}({arg}){}", idx(index)),
            VarTok::Transform { raw } => write!(f, "$({raw})"),
        }
    }
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A lexer over one buffer.
pub(crate) struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: u32,
    col: u32,
    file: FileId,
    /// Lexing the text of a directive (a `#!define` value): a backslash
    /// before a newline is whitespace and `#!` is an ordinary comment.
    directive_mode: bool,
}

impl<'a> Lexer<'a> {
    /// A lexer for a whole file.
    pub fn new(src: &'a [u8], file: FileId) -> Lexer<'a> {
        Lexer {
            src,
            pos: 0,
            line: 1,
            col: 1,
            file,
            directive_mode: false,
        }
    }

    /// A lexer for directive text that starts at `start` in its file.
    pub fn for_directive(src: &'a [u8], start: Span) -> Lexer<'a> {
        Lexer {
            src,
            pos: 0,
            line: start.line,
            col: start.col,
            file: start.file,
            directive_mode: true,
        }
    }

    fn span(&self) -> Span {
        Span::new(self.file, self.line, self.col)
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn peek_at(&self, n: usize) -> Option<u8> {
        self.src.get(self.pos.saturating_add(n)).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        if b == b'\n' {
            self.line = self.line.saturating_add(1);
            self.col = 1;
        } else if b & 0xC0 != 0x80 {
            // Count characters, not UTF-8 continuation bytes.
            self.col = self.col.saturating_add(1);
        }
        Some(b)
    }

    fn at_directive(&self) -> bool {
        !self.directive_mode
            && self.peek() == Some(b'#')
            && self.peek_at(1) == Some(b'!')
            && self.peek_at(2).is_some_and(|b| b.is_ascii_alphabetic())
    }

    /// Skips whitespace and comments; returns whether anything was skipped.
    fn skip_trivia(&mut self) -> Result<bool> {
        let mut skipped = false;
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c) => {
                    self.bump();
                }
                Some(b'\\')
                    if self.directive_mode
                        && (self.peek_at(1) == Some(b'\n')
                            || (self.peek_at(1) == Some(b'\r')
                                && self.peek_at(2) == Some(b'\n'))) =>
                {
                    self.bump();
                    if self.peek() == Some(b'\r') {
                        self.bump();
                    }
                    self.bump();
                }
                Some(b'#') => {
                    if self.at_directive() {
                        return Ok(skipped);
                    }
                    self.skip_line();
                }
                Some(b'/') if self.peek_at(1) == Some(b'/') => self.skip_line(),
                Some(b'/') if self.peek_at(1) == Some(b'*') => self.skip_block_comment()?,
                _ => return Ok(skipped),
            }
            skipped = true;
        }
    }

    /// Skips to the end of the line, leaving the newline.
    fn skip_line(&mut self) {
        match self.src[self.pos.min(self.src.len())..]
            .iter()
            .position(|&b| b == b'\n')
        {
            Some(n) => {
                // No newline in between: only the column moves.
                for _ in 0..n {
                    self.bump();
                }
            }
            None => while self.bump().is_some() {},
        }
    }

    fn skip_block_comment(&mut self) -> Result<()> {
        let start = self.span();
        self.bump();
        self.bump();
        let mut depth: u64 = 1;
        loop {
            match self.peek() {
                None => {
                    return Err(Error::new(
                        start,
                        "unterminated block comment (missing `*/`)",
                    ));
                }
                Some(b'*') if self.peek_at(1) == Some(b'/') => {
                    self.bump();
                    self.bump();
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                Some(b'/') if self.peek_at(1) == Some(b'*') => {
                    self.bump();
                    self.bump();
                    depth += 1;
                }
                Some(_) => {
                    self.bump();
                }
            }
        }
    }

    /// The next token; [`Tok::Eof`] at the end (and forever after).
    pub fn next_token(&mut self) -> Result<Token> {
        let space_before = self.skip_trivia()? || self.pos == 0;
        let span = self.span();
        let tok = match self.peek() {
            None => Tok::Eof,
            Some(b'#') => self.directive(),
            Some(b) if is_ident_start(b) => Tok::Ident(self.word()),
            Some(b'0'..=b'9') => self.number(span)?,
            Some(b'"') => Tok::Str(self.dq_string(span)?),
            Some(b'\'') => Tok::Str(self.sq_string(span)?),
            Some(b'$') => Tok::Var(Box::new(self.var(span)?)),
            Some(b'[') => self.lbracket(span)?,
            Some(b) => {
                let two = self.peek_at(1);
                let (tok, len) = match (b, two) {
                    (b'(', _) => (Tok::LParen, 1),
                    (b')', _) => (Tok::RParen, 1),
                    (b'{', _) => (Tok::LBrace, 1),
                    (b'}', _) => (Tok::RBrace, 1),
                    (b']', _) => (Tok::RBracket, 1),
                    (b';', _) => (Tok::Semi, 1),
                    (b',', _) => (Tok::Comma, 1),
                    (b'.', _) => (Tok::Dot, 1),
                    (b'@', _) => (Tok::At, 1),
                    (b'+', _) => (Tok::Plus, 1),
                    (b'-', _) => (Tok::Minus, 1),
                    (b'*', _) => (Tok::Star, 1),
                    (b'/', _) => (Tok::Slash, 1),
                    (b'%', _) => (Tok::Percent, 1),
                    (b':', Some(b'=')) => (Tok::ColonAssign, 2),
                    (b':', _) => (Tok::Colon, 1),
                    (b'=', Some(b'=')) => (Tok::Eq, 2),
                    (b'=', Some(b'~')) => (Tok::Match, 2),
                    (b'=', _) => (Tok::Assign, 1),
                    (b'!', Some(b'=')) => (Tok::Ne, 2),
                    (b'!', Some(b'~')) => (Tok::NotMatch, 2),
                    (b'!', _) => (Tok::Not, 1),
                    (b'<', Some(b'=')) => (Tok::Le, 2),
                    (b'<', _) => (Tok::Lt, 1),
                    (b'>', Some(b'=')) => (Tok::Ge, 2),
                    (b'>', _) => (Tok::Gt, 1),
                    (b'&', Some(b'&')) => (Tok::AndAnd, 2),
                    (b'|', Some(b'|')) => (Tok::OrOr, 2),
                    (b'&', _) => {
                        return Err(Error::new(span, "unexpected `&`; use `&&` for logical and"));
                    }
                    (b'|', _) => {
                        return Err(Error::new(span, "unexpected `|`; use `||` for logical or"));
                    }
                    _ => {
                        return Err(Error::new(
                            span,
                            format!("unexpected character {}", self.char_at_pos()),
                        ));
                    }
                };
                for _ in 0..len {
                    self.bump();
                }
                tok
            }
        };
        Ok(Token {
            tok,
            span,
            space_before,
        })
    }

    /// In an inactive `#!ifdef` region: skips whole lines until one that
    /// starts (after blanks) with a `#!` directive and returns it, or
    /// [`Tok::Eof`].
    pub fn next_directive(&mut self) -> Result<Token> {
        loop {
            while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | 0x0b | 0x0c)) {
                self.bump();
            }
            if self.peek().is_none() {
                return Ok(Token {
                    tok: Tok::Eof,
                    span: self.span(),
                    space_before: true,
                });
            }
            if self.at_directive() {
                let span = self.span();
                return Ok(Token {
                    tok: self.directive(),
                    span,
                    space_before: true,
                });
            }
            self.skip_line();
            self.bump(); // the newline, if any
        }
    }

    /// Describes the (possibly multi-byte) character at the current position.
    fn char_at_pos(&self) -> String {
        let rest = &self.src[self.pos.min(self.src.len())..];
        let len = match rest.first() {
            Some(b) if *b < 0x80 => 1,
            Some(b) if *b >= 0xF0 => 4,
            Some(b) if *b >= 0xE0 => 3,
            Some(_) => 2,
            None => 0,
        };
        match std::str::from_utf8(&rest[..len.min(rest.len())])
            .ok()
            .and_then(|s| s.chars().next())
        {
            Some(c) if c.is_control() || c.is_whitespace() => format!("U+{:04X}", c as u32),
            Some('`') => "'`'".to_string(),
            Some(c) => format!("`{c}`"),
            None => format!("byte 0x{:02X}", rest.first().copied().unwrap_or(0)),
        }
    }

    fn word(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(is_ident_char) {
            self.bump();
        }
        // ASCII only, so this cannot fail.
        String::from_utf8_lossy(&self.src[start..self.pos]).into_owned()
    }

    /// `#!name rest-of-line`; the caller checked that `#!` + a letter follows.
    fn directive(&mut self) -> Tok {
        self.bump();
        self.bump();
        let name = self.word();
        let rest_span = self.span();
        let start = self.pos;
        loop {
            match self.peek() {
                None | Some(b'\n') => break,
                Some(b'\\') if self.peek_at(1) == Some(b'\n') => {
                    self.bump();
                    self.bump();
                }
                Some(b'\\') if self.peek_at(1) == Some(b'\r') && self.peek_at(2) == Some(b'\n') => {
                    self.bump();
                    self.bump();
                    self.bump();
                }
                Some(_) => {
                    self.bump();
                }
            }
        }
        let rest = String::from_utf8_lossy(&self.src[start..self.pos]).into_owned();
        Tok::Directive(Box::new(DirTok {
            name,
            rest,
            rest_span,
        }))
    }

    fn digits(&mut self, radix: u32) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(|b| (b as char).is_digit(radix)) {
            self.bump();
        }
        &self.src[start..self.pos]
    }

    fn number(&mut self, span: Span) -> Result<Tok> {
        let start = self.pos;
        let (value, radix) = if self.peek() == Some(b'0')
            && matches!(self.peek_at(1), Some(b'x' | b'X'))
            && self.peek_at(2).is_some_and(|b| b.is_ascii_hexdigit())
        {
            self.bump();
            self.bump();
            (self.digits(16), 16)
        } else {
            (self.digits(10), 10)
        };
        if radix == 10
            && self.peek() == Some(b'.')
            && self.peek_at(1).is_some_and(|b| b.is_ascii_digit())
        {
            return self.ipv4(start, span);
        }
        if self.peek().is_some_and(is_ident_char) {
            while self.peek().is_some_and(is_ident_char) {
                self.bump();
            }
            let text = String::from_utf8_lossy(&self.src[start..self.pos]);
            return Err(Error::new(span, format!("invalid number `{text}`")));
        }
        let text = std::str::from_utf8(value).unwrap_or("");
        match i64::from_str_radix(text, radix) {
            Ok(n) => Ok(Tok::Int(n)),
            Err(_) => {
                let all = String::from_utf8_lossy(&self.src[start..self.pos]);
                Err(Error::new(span, format!("number `{all}` is too large")))
            }
        }
    }

    fn ipv4(&mut self, start: usize, span: Span) -> Result<Tok> {
        while self.peek() == Some(b'.') && self.peek_at(1).is_some_and(|b| b.is_ascii_digit()) {
            self.bump();
            self.digits(10);
        }
        let bad_tail = self.peek().is_some_and(is_ident_char);
        while self.peek().is_some_and(is_ident_char) {
            self.bump();
        }
        let text = String::from_utf8_lossy(&self.src[start..self.pos]).into_owned();
        match text.parse::<Ipv4Addr>() {
            Ok(a) if !bad_tail => Ok(Tok::Ipv4(a)),
            _ => Err(Error::new(span, format!("malformed IPv4 address `{text}`"))),
        }
    }

    /// `[` or a bracketed IPv6 address.
    fn lbracket(&mut self, span: Span) -> Result<Tok> {
        let body = &self.src[self.pos + 1..];
        let len = body
            .iter()
            .take_while(|b| b.is_ascii_hexdigit() || **b == b':' || **b == b'.')
            .count();
        let colons = body[..len].iter().filter(|b| **b == b':').count();
        if colons >= 2 && body.get(len) == Some(&b']') {
            let text = String::from_utf8_lossy(&body[..len]).into_owned();
            for _ in 0..len + 2 {
                self.bump();
            }
            return text
                .parse::<Ipv6Addr>()
                .map(Tok::Ipv6)
                .map_err(|_| Error::new(span, format!("malformed IPv6 address `[{text}]`")));
        }
        self.bump();
        Ok(Tok::LBracket)
    }

    fn dq_string(&mut self, span: Span) -> Result<String> {
        self.bump();
        let mut out: Vec<u8> = Vec::new();
        loop {
            let esc_span = self.span();
            match self.bump() {
                None => {
                    return Err(Error::new(
                        span,
                        "unterminated string (missing closing `\"`)",
                    ));
                }
                Some(b'"') => break,
                Some(b'\\') => match self.peek() {
                    Some(b'n') => {
                        self.bump();
                        out.push(b'\n');
                    }
                    Some(b'r') => {
                        self.bump();
                        out.push(b'\r');
                    }
                    Some(b't') => {
                        self.bump();
                        out.push(b'\t');
                    }
                    Some(b'a') => {
                        self.bump();
                        out.push(0x07);
                    }
                    Some(b'\\') => {
                        self.bump();
                        out.push(b'\\');
                    }
                    Some(b'"') => {
                        self.bump();
                        out.push(b'"');
                    }
                    Some(b'\n') => {
                        self.bump();
                    }
                    Some(b'\r') if self.peek_at(1) == Some(b'\n') => {
                        self.bump();
                        self.bump();
                    }
                    Some(b'x') if self.peek_at(1).is_some_and(|b| b.is_ascii_hexdigit()) => {
                        self.bump();
                        let mut v: u32 = 0;
                        for _ in 0..2 {
                            match self.peek().and_then(|b| (b as char).to_digit(16)) {
                                Some(d) => {
                                    self.bump();
                                    v = v * 16 + d;
                                }
                                None => break,
                            }
                        }
                        out.push(ascii_escape(v, esc_span)?);
                    }
                    // One octal digit is kept as written (`\1` is a regex
                    // back-reference); two or three digits are a byte.
                    Some(b'0'..=b'7') if matches!(self.peek_at(1), Some(b'0'..=b'7')) => {
                        let mut v: u32 = 0;
                        for _ in 0..3 {
                            match self.peek() {
                                Some(b @ b'0'..=b'7') => {
                                    self.bump();
                                    v = v * 8 + u32::from(b - b'0');
                                }
                                _ => break,
                            }
                        }
                        out.push(ascii_escape(v, esc_span)?);
                    }
                    _ => out.push(b'\\'),
                },
                Some(b) => out.push(b),
            }
        }
        String::from_utf8(out).map_err(|_| Error::new(span, "string is not valid UTF-8"))
    }

    fn sq_string(&mut self, span: Span) -> Result<String> {
        self.bump();
        let start = self.pos;
        loop {
            match self.bump() {
                None => {
                    return Err(Error::new(
                        span,
                        "unterminated string (missing closing `'`)",
                    ));
                }
                Some(b'\'') => break,
                Some(_) => {}
            }
        }
        String::from_utf8(self.src[start..self.pos - 1].to_vec())
            .map_err(|_| Error::new(span, "string is not valid UTF-8"))
    }

    /// Text between balanced `open`/`close` on one line; the current byte is
    /// `open`. Returns the text without the outer pair.
    fn balanced(&mut self, open: u8, close: u8, span: Span, what: &str) -> Result<String> {
        self.bump();
        let start = self.pos;
        let mut depth: u32 = 1;
        loop {
            match self.peek() {
                None | Some(b'\n') => {
                    return Err(Error::new(
                        span,
                        format!("unterminated `{what}` (missing `{}`)", close as char),
                    ));
                }
                Some(b) if b == open => depth += 1,
                Some(b) if b == close => {
                    depth -= 1;
                    if depth == 0 {
                        let text = std::str::from_utf8(&self.src[start..self.pos])
                            .map_err(|_| Error::new(span, "variable name is not valid UTF-8"))?
                            .to_string();
                        self.bump();
                        return Ok(text);
                    }
                }
                Some(_) => {}
            }
            self.bump();
        }
    }

    fn index(&mut self, span: Span, what: &str) -> Result<Option<String>> {
        if self.peek() == Some(b'[') {
            Ok(Some(self.balanced(
                b'[',
                b']',
                span,
                &format!("{what}["),
            )?))
        } else {
            Ok(None)
        }
    }

    fn var(&mut self, span: Span) -> Result<VarTok> {
        self.bump();
        match self.peek() {
            Some(b'?') => {
                self.bump();
                Ok(VarTok::Question)
            }
            Some(b'(') => Ok(VarTok::Transform {
                raw: self.balanced(b'(', b')', span, "$(")?,
            }),
            Some(b) if is_ident_start(b) => {
                let name = self.word();
                if self.peek() == Some(b'(') {
                    let arg = self.balanced(b'(', b')', span, &format!("${name}("))?;
                    let index = self.index(span, &format!("${name}({arg})"))?;
                    Ok(VarTok::Call { name, arg, index })
                } else if AVP_TRACKS.contains(&name.as_str())
                    && self.peek() == Some(b'.')
                    && self.peek_at(1).is_some_and(is_ident_start)
                {
                    self.bump();
                    let avp = self.word();
                    let index = self.index(span, &format!("${name}.{avp}"))?;
                    Ok(VarTok::Tracked {
                        track: name,
                        name: avp,
                        index,
                    })
                } else {
                    let index = self.index(span, &format!("${name}"))?;
                    Ok(VarTok::Simple { name, index })
                }
            }
            _ => Err(Error::new(span, "expected a variable name after `$`")),
        }
    }
}

fn ascii_escape(v: u32, span: Span) -> Result<u8> {
    match u8::try_from(v) {
        Ok(b) if b < 0x80 => Ok(b),
        _ => Err(Error::new(
            span,
            format!("escape gives byte 0x{v:02X}, above 0x7F; write the UTF-8 character itself"),
        )),
    }
}

/// Lexes a whole buffer (tests and small helpers).
#[cfg(test)]
pub(crate) fn lex_all(src: &str) -> Result<Vec<Token>> {
    let mut lx = Lexer::new(src.as_bytes(), FileId(0));
    let mut out = Vec::new();
    loop {
        let t = lx.next_token()?;
        if t.tok == Tok::Eof {
            return Ok(out);
        }
        out.push(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        lex_all(src).unwrap().into_iter().map(|t| t.tok).collect()
    }

    fn err(src: &str) -> String {
        let e = lex_all(src).unwrap_err();
        format!("{}:{}: {}", e.span.line, e.span.col, e.msg)
    }

    fn s(x: &str) -> Tok {
        Tok::Str(x.to_string())
    }

    fn id(x: &str) -> Tok {
        Tok::Ident(x.to_string())
    }

    #[test]
    fn punctuation_and_operators() {
        assert_eq!(
            toks("( ) { } [ ] ; , : . = == != =~ !~ < > <= >= ! && || + - * / % := @"),
            vec![
                Tok::LParen,
                Tok::RParen,
                Tok::LBrace,
                Tok::RBrace,
                Tok::LBracket,
                Tok::RBracket,
                Tok::Semi,
                Tok::Comma,
                Tok::Colon,
                Tok::Dot,
                Tok::Assign,
                Tok::Eq,
                Tok::Ne,
                Tok::Match,
                Tok::NotMatch,
                Tok::Lt,
                Tok::Gt,
                Tok::Le,
                Tok::Ge,
                Tok::Not,
                Tok::AndAnd,
                Tok::OrOr,
                Tok::Plus,
                Tok::Minus,
                Tok::Star,
                Tok::Slash,
                Tok::Percent,
                Tok::ColonAssign,
                Tok::At,
            ]
        );
    }

    #[test]
    fn comments_of_all_kinds() {
        assert_eq!(
            toks("a # c\nb // d\nc /* x /* nested */ y */ d"),
            vec![id("a"), id("b"), id("c"), id("d")]
        );
        assert_eq!(
            err("a /* open /* */"),
            "1:3: unterminated block comment (missing `*/`)"
        );
    }

    #[test]
    fn spans_and_spacing() {
        let t = lex_all("msg:len >= 4096\n\tx").unwrap();
        let v: Vec<(u32, u32, bool)> = t
            .iter()
            .map(|t| (t.span.line, t.span.col, t.space_before))
            .collect();
        assert_eq!(
            v,
            vec![
                (1, 1, true),
                (1, 4, false),
                (1, 5, false),
                (1, 9, true),
                (1, 12, true),
                (2, 2, true)
            ]
        );
    }

    #[test]
    fn columns_count_characters() {
        let t = lex_all("\"é€\" x").unwrap();
        assert_eq!(t[1].span.col, 6);
    }

    #[test]
    fn numbers_and_addresses() {
        assert_eq!(
            toks("0 42 0x1F"),
            vec![Tok::Int(0), Tok::Int(42), Tok::Int(31)]
        );
        assert_eq!(
            toks("127.0.0.1 udp:10.0.0.10:5060"),
            vec![
                Tok::Ipv4(Ipv4Addr::new(127, 0, 0, 1)),
                id("udp"),
                Tok::Colon,
                Tok::Ipv4(Ipv4Addr::new(10, 0, 0, 10)),
                Tok::Colon,
                Tok::Int(5060)
            ]
        );
        assert_eq!(
            toks("[::1] [1]"),
            vec![
                Tok::Ipv6(Ipv6Addr::LOCALHOST),
                Tok::LBracket,
                Tok::Int(1),
                Tok::RBracket
            ]
        );
        assert_eq!(err("x 1.2.3"), "1:3: malformed IPv4 address `1.2.3`");
        assert_eq!(err("1.2.3.400"), "1:1: malformed IPv4 address `1.2.3.400`");
        assert_eq!(err("5060udp"), "1:1: invalid number `5060udp`");
        assert_eq!(
            err("99999999999999999999"),
            "1:1: number `99999999999999999999` is too large"
        );
        assert_eq!(err("[1:2:::]"), "1:1: malformed IPv6 address `[1:2:::]`");
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(toks(r#""a\r\nb""#), vec![s("a\r\nb")]);
        assert_eq!(toks(r#""^Contact:[ ]*\*""#), vec![s(r"^Contact:[ ]*\*")]);
        assert_eq!(toks(r#""^(\+|00)[1-9]""#), vec![s(r"^(\+|00)[1-9]")]);
        assert_eq!(
            toks(r#""q\"q\\" "\x41\101\1""#),
            vec![s("q\"q\\"), s("AA\\1")]
        );
        assert_eq!(toks("\"a\\\nb\""), vec![s("ab")]);
        assert_eq!(toks(r"'raw \n \1'"), vec![s(r"raw \n \1")]);
        assert_eq!(toks("\"two\nlines\""), vec![s("two\nlines")]);
        assert_eq!(
            err("x(\"abc)"),
            "1:3: unterminated string (missing closing `\"`)"
        );
        assert_eq!(
            err(r#""\xff""#),
            "1:2: escape gives byte 0xFF, above 0x7F; write the UTF-8 character itself"
        );
        let bad = lex_all_bytes(b"\"\xff\"");
        assert_eq!(bad, "1:1: string is not valid UTF-8");
    }

    fn lex_all_bytes(src: &[u8]) -> String {
        let mut lx = Lexer::new(src, FileId(0));
        loop {
            match lx.next_token() {
                Ok(t) if t.tok == Tok::Eof => return "ok".into(),
                Ok(_) => {}
                Err(e) => return format!("{}:{}: {}", e.span.line, e.span.col, e.msg),
            }
        }
    }

    #[test]
    fn variables() {
        let v = |x: VarTok| Tok::Var(Box::new(x));
        assert_eq!(
            toks("$? $rU $t.did $fd.digest_realm $avp(i:80) $hdr(From)[1] $(ru{s.len}) $foo[2]"),
            vec![
                v(VarTok::Question),
                v(VarTok::Simple {
                    name: "rU".into(),
                    index: None
                }),
                v(VarTok::Tracked {
                    track: "t".into(),
                    name: "did".into(),
                    index: None
                }),
                v(VarTok::Tracked {
                    track: "fd".into(),
                    name: "digest_realm".into(),
                    index: None
                }),
                v(VarTok::Call {
                    name: "avp".into(),
                    arg: "i:80".into(),
                    index: None
                }),
                v(VarTok::Call {
                    name: "hdr".into(),
                    arg: "From".into(),
                    index: Some("1".into())
                }),
                v(VarTok::Transform {
                    raw: "ru{s.len}".into()
                }),
                v(VarTok::Simple {
                    name: "foo".into(),
                    index: Some("2".into())
                }),
            ]
        );
        // `$ru.x` is not a tracked AVP: `ru` is no track.
        assert_eq!(toks("$ru.x")[1], Tok::Dot);
        assert_eq!(err("a $ b"), "1:3: expected a variable name after `$`");
        assert_eq!(
            err("$hdr(From\n)"),
            "1:1: unterminated `$hdr(` (missing `)`)"
        );
    }

    #[test]
    fn directives() {
        let t = lex_all("x\n  #!ifdef A # c\n#!/bin/sh\n#! plain\ny").unwrap();
        assert_eq!(t.len(), 3);
        match &t[1].tok {
            Tok::Directive(d) => {
                assert_eq!(d.name, "ifdef");
                assert_eq!(d.rest, " A # c");
                assert_eq!((d.rest_span.line, d.rest_span.col), (2, 10));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!((t[1].span.line, t[1].span.col), (2, 3));
        assert_eq!(t[2].tok, id("y"));
        let t = lex_all("#!define X a \\\n b\nz").unwrap();
        match &t[0].tok {
            Tok::Directive(d) => assert_eq!(d.rest, " X a \\\n b"),
            other => panic!("{other:?}"),
        }
        assert_eq!((t[1].span.line, t[1].span.col), (3, 1));
    }

    #[test]
    fn skipping_inactive_lines() {
        let src = "ALTER TABLE 'x\n /* #!endif */\n  #!else\nafter";
        let mut lx = Lexer::new(src.as_bytes(), FileId(0));
        let t = lx.next_directive().unwrap();
        assert!(matches!(&t.tok, Tok::Directive(d) if d.name == "else"));
        assert_eq!((t.span.line, t.span.col), (3, 3));
        assert_eq!(lx.next_token().unwrap().tok, id("after"));
        assert_eq!(lx.next_directive().unwrap().tok, Tok::Eof);
    }

    #[test]
    fn directive_mode_continuations() {
        let mut lx = Lexer::for_directive(b" a \\\n b #!c", Span::new(FileId(0), 7, 9));
        let a = lx.next_token().unwrap();
        assert_eq!((a.tok.clone(), a.span.line, a.span.col), (id("a"), 7, 10));
        let b = lx.next_token().unwrap();
        assert_eq!((b.tok.clone(), b.span.line, b.span.col), (id("b"), 8, 2));
        assert_eq!(lx.next_token().unwrap().tok, Tok::Eof);
    }

    #[test]
    fn bad_characters() {
        assert_eq!(err("a | b"), "1:3: unexpected `|`; use `||` for logical or");
        assert_eq!(
            err("a & b"),
            "1:3: unexpected `&`; use `&&` for logical and"
        );
        assert_eq!(err("^R.*"), "1:1: unexpected character `^`");
        assert_eq!(err("x\u{1}"), "1:2: unexpected character U+0001");
        assert_eq!(err("«"), "1:1: unexpected character `«`");
    }
}
