//! Running compiled ser.cfg scripts: the VM, the per-message script state,
//! pseudo-variables and selects, core actions, and the table of functions
//! the router implements. SKELETON: being written.

/// Whether the router implements `module`'s function `name` (`module` is
/// `"core"` for core actions). The config checker asks this to list what
/// is "not supported yet".
pub fn is_implemented(module: &str, name: &str) -> bool {
    let _ = (module, name);
    false
}
