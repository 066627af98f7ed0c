//! The catalogue of modules, their parameters and functions, and the core
//! functions: the signatures the checker and the compiler resolve names
//! against.
//!
//! The catalogue knows every module, parameter and function that the seed
//! configs use (and the common ones around them), whether or not the router
//! implements it yet: whether a function is *implemented* is not recorded
//! here but asked of the running code (see `check`), so the list of what is
//! "not supported yet" is always derived from what the router really has.
//!
//! SKELETON: the types and lookups are fixed; the tables are being filled.

/// The kind of a function argument, as the checker validates it and the
/// compiler types it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// An integer, or a string holding one (`"10"`).
    Int,
    /// A plain string.
    Str,
    /// A string that may contain pseudo-variables / `%$avp` / `%@select`
    /// (`xlog`, `append_hf`, `sl_send_reply` reason in Kamailio).
    Format,
    /// A regular expression (`t_check_status("486|600")`, `search("^...")`).
    Regex,
    /// A script flag: a number, or a name declared with `flags`.
    Flag,
    /// A route name or number (`t_on_failure("1")`).
    Route,
    /// A variable name given as a string or bare (`"$fd"`, `$avp(i:80)`).
    Var,
    /// A header name (`remove_hf("Route")`).
    Header,
    /// A table or URL-like identifier (`"location"`, `"subscriber"`).
    Table,
    /// Anything (checked by the function itself at run time).
    Any,
}

/// Where a function may be called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteMask(pub u8);

impl RouteMask {
    pub const REQUEST: RouteMask = RouteMask(1);
    pub const FAILURE: RouteMask = RouteMask(2);
    pub const ONREPLY: RouteMask = RouteMask(4);
    pub const BRANCH: RouteMask = RouteMask(8);
    pub const ONSEND: RouteMask = RouteMask(16);
    pub const EVENT: RouteMask = RouteMask(32);
    pub const ANY: RouteMask = RouteMask(63);
    /// Request, failure and branch routes (SER's REQUEST_ROUTE |
    /// FAILURE_ROUTE | BRANCH_ROUTE).
    pub const REQ_FAIL_BRANCH: RouteMask = RouteMask(1 | 2 | 8);

    pub const fn or(self, o: RouteMask) -> RouteMask {
        RouteMask(self.0 | o.0)
    }
    pub const fn allows(self, o: RouteMask) -> bool {
        self.0 & o.0 != 0
    }
}

/// A function signature. `arities` lists the accepted argument lists (a
/// function may take 0, 1 or 2 arguments, each typed).
#[derive(Clone, Copy, Debug)]
pub struct FnSig {
    pub name: &'static str,
    pub arities: &'static [&'static [ArgKind]],
    pub routes: RouteMask,
    /// One line for `docs/config.md` and `ser -c` messages.
    pub doc: &'static str,
}

/// The type of a module parameter's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    Int,
    Str,
    /// `yes`/`no`/`1`/`0`/`on`/`off`.
    Bool,
    /// A flag number or a declared flag name.
    Flag,
    /// Either an integer or a string.
    IntOrStr,
}

#[derive(Clone, Copy, Debug)]
pub struct ParamSig {
    pub name: &'static str,
    pub kind: ParamKind,
    pub doc: &'static str,
}

#[derive(Clone, Copy, Debug)]
pub struct ModuleSig {
    /// Canonical name (`db_mysql`, `sl`, `tm`).
    pub name: &'static str,
    /// Other names it is loaded under (`mysql` for SER 0.9's driver).
    pub aliases: &'static [&'static str],
    pub params: &'static [ParamSig],
    pub functions: &'static [FnSig],
    pub doc: &'static str,
}

/// Pseudo-module name of the core functions (`forward`, `rewriteuri`,
/// `setflag`, `log`, ...), which need no `loadmodule`.
pub const CORE: &str = "core";

/// Every module the catalogue knows.
pub static MODULES: &[ModuleSig] = &[];

/// Core functions (actions built into the language).
pub static CORE_FUNCTIONS: &[FnSig] = &[];

/// The module a `loadmodule` string names: `"/usr/local/lib/ser/modules/sl.so"`,
/// `"sl.so"` and `"sl"` all name `sl`; aliases resolve to the canonical
/// module.
pub fn module_for_path(path: &str) -> Option<&'static ModuleSig> {
    let file = path.rsplit('/').next().unwrap_or(path);
    let base = file.strip_suffix(".so").unwrap_or(file);
    MODULES
        .iter()
        .find(|m| m.name == base || m.aliases.contains(&base))
}

/// A module by canonical name or alias.
pub fn module(name: &str) -> Option<&'static ModuleSig> {
    MODULES
        .iter()
        .find(|m| m.name == name || m.aliases.contains(&name))
}

/// Resolves a function call: the core first, then the loaded modules in
/// load order. Returns the providing module's canonical name (or [`CORE`])
/// and the signature. Arity is not checked here (see `check`).
pub fn resolve_function(
    loaded: &[&'static ModuleSig],
    name: &str,
) -> Option<(&'static str, &'static FnSig)> {
    if let Some(f) = CORE_FUNCTIONS.iter().find(|f| f.name == name) {
        return Some((CORE, f));
    }
    loaded.iter().find_map(|m| {
        m.functions
            .iter()
            .find(|f| f.name == name)
            .map(|f| (m.name, f))
    })
}

/// Modules that provide a function of this name, loaded or not (for "did
/// you forget `loadmodule "x"`?" hints).
pub fn providers(name: &str) -> impl Iterator<Item = &'static ModuleSig> + '_ {
    MODULES
        .iter()
        .filter(move |m| m.functions.iter().any(|f| f.name == name))
}
