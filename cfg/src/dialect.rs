//! Dialects: which generation of the language a script is written in, and
//! how that is decided.
//!
//! The seed configs come in four flavours that give some words different
//! meanings (SEED-INVENTORY section 0): `break` stops the whole script in
//! SER 0.8/0.9 but only leaves the current route in SER 2.x and Kamailio;
//! `tm` timer values are seconds in SER 0.9 and milliseconds later; SER 2.x
//! registers with `save_contacts` where the others use `save`.
//!
//! The dialect is chosen, first rule that applies:
//!
//! 1. set by the caller ([`crate::ParseOptions::dialect`], the `ser`
//!    command line);
//! 2. a marker line in the script: `#!KAMAILIO` (or `#!OPENSER`) for
//!    Kamailio, `#!SER2` (or `#!SER20`, or `#!SER`, the sip-router marker)
//!    for SER 2.x, `#!SER09` for SER 0.9, `#!SER08` for SER 0.8;
//! 3. the first construct that only a later dialect has:
//!    Kamailio pseudo-variables (`$rU`, `$avp(...)`, `$rc`, `$sel(...)`,
//!    transformations) or `mpath` mean Kamailio; else named routes, SER
//!    AVPs (`$t.did`, `$account`), selects (`@to.tag`), `$?`, `loadpath`,
//!    `flags`/`avpflags` declarations or modules loaded by bare name mean
//!    SER 2.x; else preprocessor directives (`#!define`, `#!ifdef`) mean
//!    Kamailio; else `return`, `exit`, `switch`, `while` or custom
//!    parameters mean SER 2.x; else the SER 0.8 functions `sl_filter_ACK`,
//!    `rewriteFromRoute`, `len_gt` mean SER 0.8;
//! 4. otherwise SER 0.9, the dialect of the "Getting Started" configs.
//!
//! SER 0.8 behaves as SER 0.9 wherever both have a construct; it is kept
//! apart so that the checker can name the 0.8-only functions.

use std::fmt;
use std::str::FromStr;

use crate::ast::{ExprKind, Item, ItemKind, RouteName, Stmt, StmtKind, Var};
use crate::source::{SourceMap, Span};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dialect {
    /// SER 0.8.x (2002).
    Ser08,
    /// SER 0.9.x (2004-2007): the "Getting Started" configs.
    #[default]
    Ser09,
    /// SER 2.x / sip-router SER flavour (2007-2009): named routes, AVPs,
    /// selects.
    Ser2,
    /// Kamailio 3.x: pseudo-variables, preprocessor.
    Kamailio,
}

/// What `break` does outside a `switch` or `while` (inside one it always
/// leaves it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakMeaning {
    /// Stop processing the message, even from inside a sub-route (SER
    /// 0.8/0.9: `break` is `drop`).
    StopScript,
    /// Return from the current route; the caller continues (SER 2.x,
    /// Kamailio).
    LeaveRoute,
}

/// Unit of `tm` timer values (`fr_timer`, `fr_inv_timer`, `t_set_fr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerUnit {
    Seconds,
    Milliseconds,
}

impl Dialect {
    pub const ALL: [Dialect; 4] = [
        Dialect::Ser08,
        Dialect::Ser09,
        Dialect::Ser2,
        Dialect::Kamailio,
    ];

    /// The dialect a `#!WORD` marker line selects.
    pub fn from_marker(word: &str) -> Option<Dialect> {
        Some(match word {
            "KAMAILIO" | "OPENSER" => Dialect::Kamailio,
            "SER" | "SER2" | "SER20" => Dialect::Ser2,
            "SER09" => Dialect::Ser09,
            "SER08" => Dialect::Ser08,
            _ => return None,
        })
    }

    /// The canonical marker line for this dialect.
    pub fn marker(self) -> &'static str {
        match self {
            Dialect::Ser08 => "#!SER08",
            Dialect::Ser09 => "#!SER09",
            Dialect::Ser2 => "#!SER2",
            Dialect::Kamailio => "#!KAMAILIO",
        }
    }

    /// Human name: `SER 0.9`.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Ser08 => "SER 0.8",
            Dialect::Ser09 => "SER 0.9",
            Dialect::Ser2 => "SER 2.x",
            Dialect::Kamailio => "Kamailio",
        }
    }

    /// Short id for command lines: `ser08`, `ser09`, `ser2`, `kamailio`.
    pub fn id(self) -> &'static str {
        match self {
            Dialect::Ser08 => "ser08",
            Dialect::Ser09 => "ser09",
            Dialect::Ser2 => "ser2",
            Dialect::Kamailio => "kamailio",
        }
    }

    pub fn break_meaning(self) -> BreakMeaning {
        match self {
            Dialect::Ser08 | Dialect::Ser09 => BreakMeaning::StopScript,
            Dialect::Ser2 | Dialect::Kamailio => BreakMeaning::LeaveRoute,
        }
    }

    pub fn tm_timer_unit(self) -> TimerUnit {
        match self {
            Dialect::Ser08 | Dialect::Ser09 => TimerUnit::Seconds,
            Dialect::Ser2 | Dialect::Kamailio => TimerUnit::Milliseconds,
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error from [`Dialect::from_str`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownDialect(pub String);

impl fmt::Display for UnknownDialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown dialect `{}` (expected ser08, ser09, ser2 or kamailio)",
            self.0
        )
    }
}

impl std::error::Error for UnknownDialect {}

impl FromStr for Dialect {
    type Err = UnknownDialect;

    /// Accepts `ser08`/`0.8`, `ser09`/`0.9`, `ser2`/`ser20`/`2.0`/`2.x`/
    /// `sip-router`, `kamailio`/`openser`, in any case, with or without
    /// `-`/`_`/`.` separators after `ser`.
    fn from_str(s: &str) -> Result<Dialect, UnknownDialect> {
        let k: String = s
            .trim()
            .to_ascii_lowercase()
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .collect();
        Ok(match k.as_str() {
            "ser08" | "ser0.8" | "0.8" | "08" => Dialect::Ser08,
            "ser09" | "ser0.9" | "0.9" | "09" => Dialect::Ser09,
            "ser2" | "ser20" | "ser2.0" | "ser2.x" | "2" | "2.0" | "2.x" | "siprouter" => {
                Dialect::Ser2
            }
            "kamailio" | "kamailio3" | "kamailio3.1" | "k31" | "openser" => Dialect::Kamailio,
            _ => return Err(UnknownDialect(s.to_string())),
        })
    }
}

/// A dialect marker line found in the script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    pub dialect: Dialect,
    /// As written: `#!KAMAILIO`.
    pub text: String,
    pub span: Span,
}

/// How strongly a construct points at a dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strength {
    /// Only this dialect (or a later one) has the construct.
    Strong,
    /// The construct appeared with the 3.x merge and exists in both
    /// SER 2.x-style and Kamailio scripts; it only rules out SER 0.9.
    Weak,
}

/// A construct that points at a dialect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    pub dialect: Dialect,
    pub strength: Strength,
    /// What was found: "pseudo-variable `$rU`".
    pub what: String,
    pub span: Span,
}

/// Why the dialect was chosen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum DialectSource {
    /// Nothing pointed anywhere: SER 0.9.
    #[default]
    Default,
    /// Set by the caller; `overridden` is a marker in the script that said
    /// something else.
    Forced {
        overridden: Option<Marker>,
    },
    Marker(Marker),
    Construct(Evidence),
}

/// Collects dialect evidence: at most one entry per kind of construct (the
/// first in source order).
pub fn evidence(items: &[Item], directives: &[(String, Span)]) -> Vec<Evidence> {
    let mut c = Collector::default();
    if let Some((d, span)) = directives.first() {
        c.add(
            "directive",
            Dialect::Kamailio,
            Strength::Weak,
            format!("preprocessor directive `{d}`"),
            *span,
        );
    }
    for item in items {
        match &item.kind {
            ItemKind::LoadPath(lp) if lp.keyword == "mpath" => c.add(
                "mpath",
                Dialect::Kamailio,
                Strength::Strong,
                "`mpath`".into(),
                item.span,
            ),
            ItemKind::LoadPath(_) => c.add(
                "loadpath",
                Dialect::Ser2,
                Strength::Strong,
                "`loadpath`".into(),
                item.span,
            ),
            ItemKind::LoadModule(m) if !m.path.contains('/') && !m.path.ends_with(".so") => c.add(
                "bare-module",
                Dialect::Ser2,
                Strength::Strong,
                format!("module loaded by bare name `{}`", m.path),
                m.path_span,
            ),
            ItemKind::Flags(_) => c.add(
                "flags",
                Dialect::Ser2,
                Strength::Strong,
                "`flags` declaration".into(),
                item.span,
            ),
            ItemKind::AvpFlags(_) => c.add(
                "avpflags",
                Dialect::Ser2,
                Strength::Strong,
                "`avpflags` declaration".into(),
                item.span,
            ),
            ItemKind::CfgVar(v) => c.add(
                "cfgvar",
                Dialect::Ser2,
                Strength::Weak,
                format!("custom parameter `{}.{}`", v.group.name, v.id.name),
                item.span,
            ),
            ItemKind::Route(r) => {
                if let Some(n) = &r.name
                    && let RouteName::Name(name) = &n.name
                {
                    c.add(
                        "named-route",
                        Dialect::Ser2,
                        Strength::Strong,
                        format!("named route `{}[{name}]`", r.keyword),
                        n.span,
                    );
                }
                r.body.for_each_stmt(&mut |s| c.stmt(s));
            }
            _ => {}
        }
    }
    c.found
}

#[derive(Default)]
struct Collector {
    seen: Vec<&'static str>,
    found: Vec<Evidence>,
}

impl Collector {
    fn add(
        &mut self,
        key: &'static str,
        dialect: Dialect,
        strength: Strength,
        what: String,
        span: Span,
    ) {
        if !self.seen.contains(&key) {
            self.seen.push(key);
            self.found.push(Evidence {
                dialect,
                strength,
                what,
                span,
            });
        }
    }

    fn stmt(&mut self, s: &Stmt) {
        match &s.kind {
            StmtKind::Return(_) => self.add(
                "return",
                Dialect::Ser2,
                Strength::Weak,
                "`return`".into(),
                s.span,
            ),
            StmtKind::Exit(_) => self.add(
                "exit",
                Dialect::Ser2,
                Strength::Weak,
                "`exit`".into(),
                s.span,
            ),
            StmtKind::Switch(_) => self.add(
                "switch",
                Dialect::Ser2,
                Strength::Weak,
                "`switch`".into(),
                s.span,
            ),
            StmtKind::While(_) => self.add(
                "while",
                Dialect::Ser2,
                Strength::Weak,
                "`while`".into(),
                s.span,
            ),
            StmtKind::Assign(a) => self.var(&a.target, a.target_span),
            _ => {}
        }
        if let StmtKind::Call(call) = &s.kind {
            self.call_name(&call.name.name, call.name.span);
        }
        for e in s.exprs() {
            e.for_each(&mut |e| match &e.kind {
                ExprKind::Var(v) => self.var(v, e.span),
                ExprKind::Call(call) => self.call_name(&call.name.name, call.name.span),
                _ => {}
            });
        }
    }

    fn call_name(&mut self, name: &str, span: Span) {
        if matches!(name, "sl_filter_ACK" | "rewriteFromRoute" | "len_gt") {
            self.add(
                "ser08-fn",
                Dialect::Ser08,
                Strength::Strong,
                format!("`{name}()`"),
                span,
            );
        }
    }

    fn var(&mut self, v: &Var, span: Span) {
        use crate::ast::{RetCodeForm, SelectForm};
        match v {
            Var::RetCode(RetCodeForm::Question) => {
                self.add("$?", Dialect::Ser2, Strength::Strong, "`$?`".into(), span)
            }
            Var::RetCode(_) => self.add(
                "pv",
                Dialect::Kamailio,
                Strength::Strong,
                format!("pseudo-variable `{v}`"),
                span,
            ),
            Var::Pv(_) => self.add(
                "pv",
                Dialect::Kamailio,
                Strength::Strong,
                format!("pseudo-variable `{v}`"),
                span,
            ),
            Var::Transform(_) => self.add(
                "transform",
                Dialect::Kamailio,
                Strength::Strong,
                format!("transformation `{v}`"),
                span,
            ),
            Var::Select(s) if s.form == SelectForm::Sel => self.add(
                "$sel",
                Dialect::Kamailio,
                Strength::Strong,
                format!("`{v}`"),
                span,
            ),
            Var::Select(_) => self.add(
                "select",
                Dialect::Ser2,
                Strength::Strong,
                format!("select `{v}`"),
                span,
            ),
            Var::Avp(_) => self.add(
                "avp",
                Dialect::Ser2,
                Strength::Strong,
                format!("AVP `{v}`"),
                span,
            ),
        }
    }
}

/// Picks the dialect (rules in the module docs). Returns the dialect, why,
/// and the reason as a sentence for `ser -c`.
pub(crate) fn choose(
    forced: Option<Dialect>,
    markers: &[Marker],
    evidence: &[Evidence],
    sources: &SourceMap,
) -> (Dialect, DialectSource, String) {
    let at = |span: Span| {
        if span.file.0 == 0 {
            format!("line {}", span.line)
        } else {
            format!("{}:{}", sources.path(span.file).display(), span.line)
        }
    };
    if let Some(d) = forced {
        let overridden = markers.first().filter(|m| m.dialect != d).cloned();
        let reason = match &overridden {
            Some(m) => format!(
                "set on the command line, overriding the `{}` marker at {}",
                m.text,
                at(m.span)
            ),
            None => "set on the command line".to_string(),
        };
        return (d, DialectSource::Forced { overridden }, reason);
    }
    if let Some(m) = markers.first() {
        return (
            m.dialect,
            DialectSource::Marker(m.clone()),
            format!("`{}` marker at {}", m.text, at(m.span)),
        );
    }
    let order = [
        (Dialect::Kamailio, Strength::Strong),
        (Dialect::Ser2, Strength::Strong),
        (Dialect::Kamailio, Strength::Weak),
        (Dialect::Ser2, Strength::Weak),
        (Dialect::Ser08, Strength::Strong),
    ];
    for (d, s) in order {
        if let Some(e) = evidence.iter().find(|e| e.dialect == d && e.strength == s) {
            let reason = format!(
                "{} ({} construct) at {}",
                e.what,
                d.name(),
                sources.describe(e.span)
            );
            return (d, DialectSource::Construct(e.clone()), reason);
        }
    }
    (
        Dialect::Ser09,
        DialectSource::Default,
        "default: SER 0.9 (no marker, no dialect-specific construct)".to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;
    use std::path::Path;

    #[test]
    fn names_and_parsing() {
        for d in Dialect::ALL {
            assert_eq!(d.id().parse::<Dialect>(), Ok(d));
            assert_eq!(Dialect::from_marker(&d.marker()[2..]), Some(d));
        }
        assert_eq!("SER-0.9".parse::<Dialect>(), Ok(Dialect::Ser09));
        assert_eq!("2.x".parse::<Dialect>(), Ok(Dialect::Ser2));
        assert_eq!("OpenSER".parse::<Dialect>(), Ok(Dialect::Kamailio));
        assert_eq!(
            "ser3".parse::<Dialect>().unwrap_err().to_string(),
            "unknown dialect `ser3` (expected ser08, ser09, ser2 or kamailio)"
        );
        assert_eq!(Dialect::from_marker("SER"), Some(Dialect::Ser2));
        assert_eq!(Dialect::default(), Dialect::Ser09);
        assert_eq!(Dialect::Ser2.to_string(), "SER 2.x");
    }

    #[test]
    fn semantics_tables() {
        assert_eq!(Dialect::Ser09.break_meaning(), BreakMeaning::StopScript);
        assert_eq!(Dialect::Ser08.break_meaning(), BreakMeaning::StopScript);
        assert_eq!(Dialect::Ser2.break_meaning(), BreakMeaning::LeaveRoute);
        assert_eq!(Dialect::Kamailio.break_meaning(), BreakMeaning::LeaveRoute);
        assert_eq!(Dialect::Ser09.tm_timer_unit(), TimerUnit::Seconds);
        assert_eq!(Dialect::Kamailio.tm_timer_unit(), TimerUnit::Milliseconds);
    }

    #[test]
    fn choice_order() {
        let mut sources = SourceMap::new();
        sources.add(Path::new("main.cfg"));
        let inc = sources.add(Path::new("inc.cfg"));
        let ev = |d, s, line| Evidence {
            dialect: d,
            strength: s,
            what: "x".into(),
            span: Span::new(FileId(0), line, 1),
        };
        let marker = Marker {
            dialect: Dialect::Kamailio,
            text: "#!KAMAILIO".into(),
            span: Span::new(inc, 3, 1),
        };
        let (d, _, r) = choose(None, std::slice::from_ref(&marker), &[], &sources);
        assert_eq!(
            (d, r.as_str()),
            (Dialect::Kamailio, "`#!KAMAILIO` marker at inc.cfg:3")
        );
        let (d, src, r) = choose(
            Some(Dialect::Ser09),
            std::slice::from_ref(&marker),
            &[],
            &sources,
        );
        assert_eq!(d, Dialect::Ser09);
        assert!(matches!(
            src,
            DialectSource::Forced {
                overridden: Some(_)
            }
        ));
        assert_eq!(
            r,
            "set on the command line, overriding the `#!KAMAILIO` marker at inc.cfg:3"
        );
        let all = [
            ev(Dialect::Ser08, Strength::Strong, 1),
            ev(Dialect::Ser2, Strength::Weak, 2),
            ev(Dialect::Kamailio, Strength::Weak, 3),
            ev(Dialect::Ser2, Strength::Strong, 4),
        ];
        assert_eq!(choose(None, &[], &all, &sources).0, Dialect::Ser2);
        assert_eq!(choose(None, &[], &all[..3], &sources).0, Dialect::Kamailio);
        assert_eq!(choose(None, &[], &all[..2], &sources).0, Dialect::Ser2);
        let (d, _, r) = choose(None, &[], &all[..1], &sources);
        assert_eq!(
            (d, r.as_str()),
            (Dialect::Ser08, "x (SER 0.8 construct) at 1:1")
        );
        let (d, src, r) = choose(None, &[], &[], &sources);
        assert_eq!((d, src), (Dialect::Ser09, DialectSource::Default));
        assert_eq!(
            r,
            "default: SER 0.9 (no marker, no dialect-specific construct)"
        );
    }
}
