//! Running compiled ser.cfg scripts: the VM, the per-message script state,
//! pseudo-variables and selects, core actions, and the table of functions
//! the router implements.
//!
//! # Use
//!
//! ```text
//! let script = Script::load(program, &Registry::builtin())?;   // once
//! let config = Config::from_program(script.program());         // shared
//! let mut ctx = MsgCtx::new(&msg, &config, src, dst, Proto::Udp);
//! match script.run_main(&mut ctx) {
//!     Outcome::Finished { ret, dropped } => { /* ctx.actions, ctx.new_uri, ... */ }
//!     Outcome::Suspended(s) => { /* wait for s.pending, then */
//!         script.resume(s, &mut ctx, 1); }
//! }
//! ```
//!
//! # Loading
//!
//! [`Script::load`] refuses a program it cannot run safely, with one
//! [`LoadError`]: a damaged program (any index out of range, a jump
//! outside its route, line table of the wrong length, a flag above 63), an
//! invalid regular expression (named), an unknown pseudo-variable or
//! select (named), an assignment to a read-only variable, or functions the
//! [`Registry`] does not implement (all of them listed, as
//! `not supported yet: name (module), ...`). Every regex is compiled once,
//! every variable resolved to a [`pv`] accessor, every call site bound to
//! its implementation.
//!
//! # Running
//!
//! See [`vm`] for the semantics of each op, the run-time bounds
//! ([`Limits`]) and errors. A run ends with [`Outcome::Finished`]:
//!
//! - `ret` is the code the script ended with: 1 at the end of the top
//!   route (or `return;`), the value of `return expr` from the top route,
//!   0 for `exit`, `drop` and a function or route that returned 0, and
//!   [`E_SCRIPT`] (-10, Kamailio's "script error") when a run-time error
//!   stopped the script (the error is logged with the route and line);
//! - `dropped` is true only after `drop`.
//!
//! or with [`Outcome::Suspended`] when a function waits: the
//! [`Suspension`] owns the VM state (call stack, operand stack with owned
//! values, loop counters) and borrows nothing, so the shard may keep the
//! message and context aside and call [`Script::resume`] when the answer
//! is there.
//!
//! # Cost
//!
//! A [`Script`] is immutable after loading and `Send + Sync`: one copy
//! serves every shard. A run allocates nothing in the common case: the
//! operand and call stacks are per-thread buffers reused from run to run,
//! values read from the message or the program borrow their bytes, and
//! variables, regexes, calls and routes are indices resolved at load time.
//! What allocates: values computed from the script state (a rewritten
//! Request-URI read back, AVP and `$var` reads of strings, `+` on strings,
//! formats with variables, IP addresses as text) and suspending (the state
//! is copied out). `cargo bench -p ser-benches --bench vm` measures Hello
//! World's routes.

pub mod ctx;
pub mod pv;
pub mod registry;
pub mod runtime;
pub mod value;
pub mod vm;

mod actions;
mod parked;
pub(crate) mod uri_ops;

#[cfg(test)]
pub(crate) mod testkit;
#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, PoisonError};

use regex::bytes::{Regex, RegexBuilder};
use ser_cfg::ast::RouteName;
use ser_cfg::ir::{Arg, FormatId, FormatPart, Op, Program, RouteId};

pub use ctx::{
    Action, AvpClass, AvpName, AvpSel, AvpTrackSide, Avps, Branch, Config, LogLine, LogSink,
    MsgCtx, Proto, Vars, level,
};
pub use parked::Detached;
pub use registry::{Args, Completion, FnImpl, Offload, Pending, Registry, Resume, Ret};
pub use value::Value;
pub use vm::E_SCRIPT;

use pv::Pv;
use registry::FnImpl as Impl;
use vm::{Exit, Frame, Machine};

/// Whether the router implements `module`'s function `name` (`module` is
/// `"core"` for core actions). The config checker asks this to list what
/// is "not supported yet".
pub fn is_implemented(module: &str, name: &str) -> bool {
    registry::is_builtin(module, name)
}

/// Run-time bounds: a buggy or hostile script ends with an error instead
/// of hanging a shard or exhausting memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Nested route calls (Kamailio's limit is 100 too).
    pub max_depth: usize,
    /// Backward jumps (loop iterations) taken in one route invocation,
    /// all its loops together. Kamailio bounds each `while` to
    /// `max_while_loops` (100) iterations; the compiled form does not mark
    /// loops, so the bound here is per route invocation and larger.
    pub max_loop_iterations: u32,
    /// Operand stack size.
    pub max_stack: usize,
    /// Steps in one run (resumes included): loop iterations (backward
    /// jumps), route calls and function calls. Every other op runs at most
    /// once between two steps, so this bounds the ops of a run by
    /// `max_steps` times the longest route, whatever the script does
    /// (route calls count because without them a tree of calls could run
    /// an exponential number of ops within the depth bound).
    pub max_steps: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_depth: 100,
            max_loop_iterations: 10_000,
            max_stack: 1024,
            max_steps: 100_000,
        }
    }
}

/// Why a program was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// An index out of range or an inconsistent table.
    Damaged(String),
    /// A regular expression that does not compile.
    BadRegex { pattern: String, error: String },
    /// A variable, keyword or select the router does not know.
    UnknownVar { var: String, reason: String },
    /// An assignment to a read-only variable.
    NotWritable(String),
    /// Functions the registry does not implement: `(module, name)`, each
    /// once, in the order of their first call site.
    Unsupported(Vec<(String, String)>),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Damaged(m) => write!(f, "damaged program: {m}"),
            LoadError::BadRegex { pattern, error } => {
                write!(f, "invalid regular expression \"{pattern}\": {error}")
            }
            LoadError::UnknownVar { var, reason } => write!(f, "{var}: {reason}"),
            LoadError::NotWritable(v) => write!(f, "cannot assign to {v}: it is read-only"),
            LoadError::Unsupported(list) => {
                f.write_str("not supported yet: ")?;
                for (i, (m, n)) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{n} ({m})")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for LoadError {}

/// A call site bound to its implementation.
pub(crate) struct BoundCall {
    pub(crate) f: Arc<Impl>,
    pub(crate) module: String,
    pub(crate) name: String,
    pub(crate) args: Vec<Arg>,
}

/// Most patterns kept in the cache of regexes built at run time.
const DYN_REGEX_CACHE: usize = 64;
/// Size bounds for every compiled regex (a hostile pattern cannot make
/// the router build a huge automaton).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A loaded program, ready to run; shareable between threads.
pub struct Script {
    pub(crate) program: Program,
    pub(crate) regexes: Vec<Regex>,
    /// The same patterns in multi-line mode (`^`/`$` at line ends, CRLF
    /// aware), built the first time a function that searches a whole
    /// message (textops' `search`) asks for one.
    pub(crate) regexes_lines: Vec<std::sync::OnceLock<Option<Regex>>>,
    pub(crate) vars: Vec<Pv>,
    pub(crate) calls: Vec<BoundCall>,
    var_names: Vec<String>,
    pub(crate) limits: Limits,
    id: u64,
    dyn_regex: Mutex<HashMap<Vec<u8>, Regex>>,
}

impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Script")
            .field("routes", &self.program.routes.len())
            .field("calls", &self.calls.len())
            .field("vars", &self.vars.len())
            .field("limits", &self.limits)
            .finish()
    }
}

/// The state of a suspended run. Owns everything; see [`Script::resume`].
#[derive(Debug)]
pub struct Suspension {
    /// What the suspended function waits for.
    pub pending: Pending,
    script: u64,
    frames: Vec<Frame>,
    stack: Vec<Value<'static>>,
    steps: u64,
}

/// How a run ended.
#[derive(Debug)]
pub enum Outcome {
    Finished { ret: i32, dropped: bool },
    Suspended(Suspension),
}

impl Outcome {
    /// The return code, if finished.
    pub fn ret(&self) -> Option<i32> {
        match self {
            Outcome::Finished { ret, .. } => Some(*ret),
            Outcome::Suspended(_) => None,
        }
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Reusable VM buffers, one set per thread, so that a run allocates
/// nothing in the common case.
#[derive(Default)]
struct Scratch {
    stack: Vec<Value<'static>>,
    frames: Vec<Frame>,
}

thread_local! {
    static SCRATCH: Cell<Option<Scratch>> = const { Cell::new(None) };
}

/// Reuses a vector's allocation for values of another lifetime. The
/// vector is emptied first, so no value changes lifetime; the standard
/// library collects a `Vec`'s `IntoIter` into a `Vec` of a same-sized type
/// in place, without allocating.
fn recycle<'x, 'y>(mut v: Vec<Value<'x>>) -> Vec<Value<'y>> {
    v.clear();
    v.into_iter().map(|_| Value::Null).collect()
}

fn take_scratch() -> Scratch {
    SCRATCH.with(Cell::take).unwrap_or_default()
}

fn give_scratch<'r>(stack: Vec<Value<'r>>, mut frames: Vec<Frame>) {
    frames.clear();
    let s = Scratch {
        stack: recycle(stack),
        frames,
    };
    SCRATCH.with(|c| c.set(Some(s)));
}

impl Script {
    /// Loads a program with the default [`Limits`].
    pub fn load(program: Program, registry: &Registry) -> Result<Script, LoadError> {
        Script::load_with(program, registry, Limits::default())
    }

    /// Loads a program with explicit run-time bounds.
    pub fn load_with(
        program: Program,
        registry: &Registry,
        limits: Limits,
    ) -> Result<Script, LoadError> {
        program.validate().map_err(LoadError::Damaged)?;
        let regexes = program
            .regexes
            .iter()
            .map(|r| compile_regex(program.str(r.source), r.icase))
            .collect::<Result<Vec<_>, _>>()?;
        let mut slots = pv::Slots::default();
        let mut vars = Vec::with_capacity(program.vars.len());
        for def in &program.vars {
            match pv::resolve(&program, def, &mut slots) {
                Ok(p) => vars.push(p),
                Err(reason) => {
                    return Err(LoadError::UnknownVar {
                        var: pv::describe(&program, def),
                        reason,
                    });
                }
            }
        }
        for route in &program.routes {
            for op in &route.code {
                if let Op::Store(v) | Op::StoreAll(v) = op {
                    let writable = vars.get(*v as usize).is_some_and(Pv::writable);
                    if !writable {
                        let def = program.vars.get(*v as usize);
                        return Err(LoadError::NotWritable(
                            def.map(|d| pv::describe(&program, d)).unwrap_or_default(),
                        ));
                    }
                }
            }
        }
        let mut calls = Vec::with_capacity(program.calls.len());
        let mut missing: Vec<(String, String)> = Vec::new();
        for c in &program.calls {
            let (m, n) = (program.str(c.module), program.str(c.name));
            match registry.get(m, n) {
                Some(f) => calls.push(BoundCall {
                    f: Arc::clone(f),
                    module: m.to_string(),
                    name: n.to_string(),
                    args: c.args.clone(),
                }),
                None => {
                    if !missing.iter().any(|(mm, nn)| mm == m && nn == n) {
                        missing.push((m.to_string(), n.to_string()));
                    }
                }
            }
        }
        if !missing.is_empty() {
            return Err(LoadError::Unsupported(missing));
        }
        let regexes_lines = (0..regexes.len())
            .map(|_| std::sync::OnceLock::new())
            .collect();
        Ok(Script {
            program,
            regexes,
            regexes_lines,
            vars,
            calls,
            var_names: slots.names,
            limits,
            id: NEXT_ID.fetch_add(1, AtomicOrdering::Relaxed),
            dyn_regex: Mutex::new(HashMap::new()),
        })
    }

    pub fn program(&self) -> &Program {
        &self.program
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The slot of a `$var(name)` the script uses (for code that reads
    /// [`MsgCtx::vars`]).
    pub fn var_slot(&self, name: &str) -> Option<u32> {
        self.var_names
            .iter()
            .position(|n| n == name)
            .map(|i| i as u32)
    }

    /// Runs the main request route (`route { }`); a program without one
    /// finishes at once with 1.
    pub fn run_main(&self, ctx: &mut MsgCtx<'_, '_>) -> Outcome {
        match self.program.main_route {
            Some(r) => self.run(r, ctx),
            None => Outcome::Finished {
                ret: 1,
                dropped: false,
            },
        }
    }

    /// Runs a route from its start.
    pub fn run(&self, route: RouteId, ctx: &mut MsgCtx<'_, '_>) -> Outcome {
        let Some(r) = self.program.routes.get(route as usize) else {
            ctx.log(level::L_ERR, &format!("script: no route {route}"));
            return Outcome::Finished {
                ret: E_SCRIPT,
                dropped: false,
            };
        };
        ctx.route_kind = r.kind;
        let scratch = take_scratch();
        let mut frames = scratch.frames;
        frames.clear();
        frames.push(Frame {
            route,
            pc: 0,
            base: 0,
            back_jumps: 0,
        });
        let mut m = Machine {
            stack: recycle(scratch.stack),
            frames,
            steps: 0,
        };
        self.finish(vm::exec(self, &mut m, ctx), m)
    }

    /// Resumes a suspended run: `ret` is the final return code of the
    /// function that suspended it (it is stored in `$rc`, pushed as the
    /// call's value, and stops the script if 0).
    pub fn resume(&self, s: Suspension, ctx: &mut MsgCtx<'_, '_>, ret: i32) -> Outcome {
        self.reenter(s, ctx, Some(ret))
    }

    /// Continues a suspended run: with the suspended function's `ret`
    /// pushed as its result, or (`None`) at the call itself, which runs
    /// again.
    fn reenter(&self, s: Suspension, ctx: &mut MsgCtx<'_, '_>, ret: Option<i32>) -> Outcome {
        if s.script != self.id {
            ctx.log(
                level::L_ERR,
                "script: resumed with a suspension from another script",
            );
            return Outcome::Finished {
                ret: E_SCRIPT,
                dropped: false,
            };
        }
        if let Some(kind) = s
            .frames
            .first()
            .and_then(|f| self.program.routes.get(f.route as usize))
            .map(|r| r.kind)
        {
            ctx.route_kind = kind;
        }
        if let Some(ret) = ret {
            ctx.rc = ret;
            if ret == 0 {
                return Outcome::Finished {
                    ret: 0,
                    dropped: false,
                };
            }
        }
        if s.stack.len() >= self.limits.max_stack {
            ctx.log(level::L_ERR, "script: operand stack overflow on resume");
            return Outcome::Finished {
                ret: E_SCRIPT,
                dropped: false,
            };
        }
        let mut m = Machine {
            stack: s.stack,
            frames: s.frames,
            steps: s.steps,
        };
        if let Some(ret) = ret {
            m.stack.push(Value::Int(i64::from(ret)));
        }
        self.finish(vm::exec(self, &mut m, ctx), m)
    }

    /// Resumes a suspended run by running the suspended call again (see
    /// [`Resume::Retry`]).
    pub fn retry(&self, mut s: Suspension, ctx: &mut MsgCtx<'_, '_>) -> Outcome {
        // The saved pc is just past the call: step back onto it.
        if let Some(f) = s.frames.last_mut() {
            f.pc = f.pc.saturating_sub(1);
        }
        self.reenter(s, ctx, None)
    }

    /// Resumes a run as an offloaded function asked.
    pub fn resume_with(&self, s: Suspension, ctx: &mut MsgCtx<'_, '_>, r: Resume) -> Outcome {
        match r {
            Resume::Code(c) => self.resume(s, ctx, c),
            Resume::Retry => self.retry(s, ctx),
        }
    }

    fn finish<'r>(&self, exit: Exit, m: Machine<'r>) -> Outcome {
        match exit {
            Exit::Finished { ret, dropped } => {
                give_scratch(m.stack, m.frames);
                Outcome::Finished { ret, dropped }
            }
            Exit::Suspend(pending) => {
                let Machine {
                    mut stack,
                    frames,
                    steps,
                } = m;
                let owned: Vec<Value<'static>> = stack.drain(..).map(Value::into_owned).collect();
                give_scratch(stack, Vec::new());
                Outcome::Suspended(Suspension {
                    pending,
                    script: self.id,
                    frames,
                    stack: owned,
                    steps,
                })
            }
        }
    }

    /// `route[1]`, `route`, `failure_route[NAME]`: for messages.
    pub(crate) fn route_label(&self, route: RouteId) -> String {
        match self.program.routes.get(route as usize) {
            Some(r) => match &r.name {
                Some(RouteName::Number(n)) => format!("{}[{n}]", r.kind.keyword()),
                Some(RouteName::Name(n)) => format!("{}[{n}]", r.kind.keyword()),
                None => r.kind.keyword().to_string(),
            },
            None => format!("route #{route}"),
        }
    }

    /// `file:line` of an op, for messages.
    pub(crate) fn position(&self, route: RouteId, pc: usize) -> String {
        let Some(r) = self.program.routes.get(route as usize) else {
            return String::new();
        };
        let line = r.lines.get(pc).or(r.lines.last()).copied().unwrap_or(0);
        let file = self.program.str(r.file);
        if file.is_empty() {
            format!("line {line}")
        } else {
            format!("{file}:{line}")
        }
    }

    /// The text of a variable as written.
    pub(crate) fn var_label(&self, v: u32) -> String {
        self.program
            .vars
            .get(v as usize)
            .map(|d| pv::describe(&self.program, d))
            .unwrap_or_default()
    }

    /// Evaluates a format string: literal parts as pooled, variables as
    /// text (`<null>` for `Null`, as Kamailio's xlog), at most
    /// [`value::MAX_STR_LEN`] bytes.
    pub(crate) fn format<'s, 'm, 'a, 'r>(&'s self, id: FormatId, ctx: &MsgCtx<'m, 'a>) -> Value<'r>
    where
        's: 'r,
        'm: 'r,
        'a: 'r,
    {
        let Some(f) = self.program.formats.get(id as usize) else {
            return Value::Null;
        };
        match f.parts.as_slice() {
            [] => Value::str(b""),
            [FormatPart::Lit(s)] => Value::str(self.program.str(*s).as_bytes()),
            parts => {
                let mut out = Vec::with_capacity(64);
                for p in parts {
                    match p {
                        FormatPart::Lit(s) => {
                            out.extend_from_slice(self.program.str(*s).as_bytes())
                        }
                        FormatPart::Var(v) => {
                            match self.vars.get(*v as usize).map(|pv| pv.get(ctx)) {
                                Some(Value::Null) | None => out.extend_from_slice(b"<null>"),
                                Some(val) => val.append_to(&mut out),
                            }
                        }
                    }
                    if out.len() > value::MAX_STR_LEN {
                        out.truncate(value::MAX_STR_LEN);
                        break;
                    }
                }
                Value::owned(out)
            }
        }
    }

    /// `subject =~ pattern` with a pattern known only at run time
    /// (case-insensitive, as `=~` in SER and Kamailio). Compiled patterns
    /// are cached per script.
    pub(crate) fn dyn_match(&self, pattern: &[u8], subject: &[u8]) -> Result<bool, String> {
        let cached = {
            let cache = self
                .dyn_regex
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            cache.get(pattern).cloned()
        };
        let re = match cached {
            Some(re) => re,
            None => {
                let src = std::str::from_utf8(pattern)
                    .map_err(|_| "regular expression is not UTF-8".to_string())?;
                let re = compile_regex(src, true).map_err(|e| e.to_string())?;
                let mut cache = self
                    .dyn_regex
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if cache.len() >= DYN_REGEX_CACHE {
                    cache.clear();
                }
                cache.insert(pattern.to_vec(), re.clone());
                re
            }
        };
        Ok(re.is_match(subject))
    }
}

/// A pattern compiled for searching a whole message: `^` and `$` match at
/// line starts and ends (CRLF counts as one line end), as POSIX
/// `REG_NEWLINE`, which Kamailio's textops uses.
pub(crate) fn compile_regex_lines(src: &str, icase: bool) -> Option<Regex> {
    RegexBuilder::new(src)
        .case_insensitive(icase)
        .multi_line(true)
        .crlf(true)
        .unicode(false)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .ok()
}

fn compile_regex(src: &str, icase: bool) -> Result<Regex, LoadError> {
    RegexBuilder::new(src)
        .case_insensitive(icase)
        .unicode(false)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| LoadError::BadRegex {
            pattern: src.to_string(),
            error: e
                .to_string()
                .lines()
                .last()
                .unwrap_or("")
                .trim()
                .to_string(),
        })
}
