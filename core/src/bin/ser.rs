//! The `ser` binary: parses the command line, checks the config, and runs
//! the router.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use ser_core::cli::{self, Command, Options, ProcessSettings};
use ser_core::version;

fn main() -> ExitCode {
    let mut args = Vec::new();
    for a in std::env::args_os().skip(1) {
        match a.into_string() {
            Ok(s) => args.push(s),
            Err(a) => {
                eprintln!("ser: argument {a:?} is not valid UTF-8");
                return ExitCode::from(cli::EXIT_USAGE);
            }
        }
    }
    let code = match cli::parse(&args) {
        Ok(Command::Help) => print_out(&cli::usage()),
        Ok(Command::Version) => print_out(&version::text()),
        Ok(Command::Check(opts)) => check(&opts),
        Ok(Command::Run(opts)) => run(&opts),
        Err(e) => {
            eprintln!("ser: {e}");
            cli::EXIT_USAGE
        }
    };
    ExitCode::from(code)
}

/// Prints to stdout; a closed pipe (`ser -h | head -1`) is not an error.
fn print_out(text: &str) -> u8 {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    cli::EXIT_OK
}

/// Reads and parses the config; prints the diagnostic on error.
fn load_config(opts: &Options) -> Result<ser_cfg::Script, u8> {
    let parse = ser_cfg::ParseOptions {
        dialect: opts.dialect,
        defines: opts.defines.clone(),
        ..ser_cfg::ParseOptions::default()
    };
    ser_cfg::parse_file_with(&opts.config, &parse).map_err(|d| {
        eprintln!("{d}");
        eprintln!(
            "ser: errors in config file {}, exiting...",
            opts.config.display()
        );
        cli::EXIT_CONFIG
    })
}

/// `-c`: check the config file and exit.
fn check(opts: &Options) -> u8 {
    if ser_cfg::binary::is_compiled_file(&opts.config) {
        return check_compiled(opts);
    }
    let script = match load_config(opts) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let report = check_script(opts, &script);
    if !report.errors.is_empty() {
        return cli::EXIT_CONFIG;
    }
    if let Some(out) = &opts.output
        && let Err(code) = write_compiled(opts, &script, out)
    {
        return code;
    }
    if let Ok(program) = ser_cfg::compile::compile(&script) {
        for w in ser_core::unbuilt::warnings(&program) {
            eprintln!("ser: warning: {w}");
        }
    }
    if !report.not_supported.is_empty() {
        let n = report.not_supported.len();
        eprintln!(
            "ser: config file {} is valid, but uses {n} function{} not supported yet, exiting...",
            opts.config.display(),
            if n == 1 { "" } else { "s" }
        );
        return cli::EXIT_NOT_SUPPORTED;
    }
    eprintln!("OK");
    eprintln!("config file ok, exiting...");
    cli::EXIT_OK
}

/// Runs the checker on a parsed config and prints, on stderr: the dialect
/// and why, the warnings, then either the errors (`file:line:col:
/// message`) or the functions not supported yet, one per line at their
/// first use (`file:line:col: not supported yet: function (module)`).
fn check_script(opts: &Options, script: &ser_cfg::Script) -> ser_cfg::check::CheckReport {
    eprintln!("{}", script.dialect_summary());
    let report = ser_cfg::check::check(script, &ser_core::script::is_implemented);
    for w in &report.warnings {
        eprintln!(
            "{}:{}:{}: warning: {}",
            w.file.display(),
            w.line,
            w.col,
            w.message
        );
    }
    if !report.errors.is_empty() {
        for e in &report.errors {
            eprintln!("{e}");
        }
        eprintln!(
            "ser: errors in config file {}, exiting...",
            opts.config.display()
        );
        return report;
    }
    for line in report.not_supported_lines(script) {
        eprintln!("{line}");
    }
    report
}

// ----- the compiled form: `-c -o x.bin` writes it, `-f x.bin` loads it ------

/// `-o`: compiles the checked script and writes it.
fn write_compiled(opts: &Options, script: &ser_cfg::Script, out: &Path) -> Result<(), u8> {
    let program = ser_cfg::compile::compile(script).map_err(|diags| {
        for d in &diags {
            eprintln!("{d}");
        }
        eprintln!(
            "ser: errors in config file {}, exiting...",
            opts.config.display()
        );
        cli::EXIT_CONFIG
    })?;
    ser_cfg::binary::write_file(out, &program).map_err(|e| {
        eprintln!("ser: {e}");
        cli::EXIT_USAGE
    })?;
    eprintln!("compiled config written to {}", out.display());
    Ok(())
}

/// Reads and verifies a compiled config (`-f` names one: it starts with
/// the magic); prints the error on failure.
fn load_compiled(opts: &Options) -> Result<ser_cfg::ir::Program, u8> {
    for (given, opt) in [
        (!opts.defines.is_empty(), "-A"),
        (opts.dialect.is_some(), "-y"),
    ] {
        if given {
            eprintln!(
                "ser: warning: {opt} has no effect on {}: it is already compiled",
                opts.config.display()
            );
        }
    }
    ser_cfg::binary::read_file(&opts.config).map_err(|e| {
        eprintln!("ser: {e}");
        cli::EXIT_CONFIG
    })
}

/// `-c -f x.bin`: loads and verifies the compiled config, says what it is;
/// with `-o`, writes it again.
fn check_compiled(opts: &Options) -> u8 {
    let program = match load_compiled(opts) {
        Ok(p) => p,
        Err(code) => return code,
    };
    eprintln!(
        "{}: compiled config, format version {}, {} routes, {} call sites",
        opts.config.display(),
        ser_cfg::ir::FORMAT_VERSION,
        program.routes.len(),
        program.calls.len()
    );
    eprintln!("dialect: {} ({})", program.dialect, program.dialect_reason);
    if let Some(out) = &opts.output {
        if let Err(e) = ser_cfg::binary::write_file(out, &program) {
            eprintln!("ser: {e}");
            return cli::EXIT_USAGE;
        }
        eprintln!("compiled config written to {}", out.display());
    }
    eprintln!("OK");
    eprintln!("config file ok, exiting...");
    cli::EXIT_OK
}

/// Runs the router: load the config (source or compiled), refuse it if it
/// has errors or uses functions not built yet, then bind the sockets,
/// apply `-w/-P/-u/-g` and start the shards ([`ser_core::server`]).
fn run(opts: &Options) -> u8 {
    let settings = match ProcessSettings::check(opts) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ser: {e}");
            return cli::EXIT_USAGE;
        }
    };
    let program = if ser_cfg::binary::is_compiled_file(&opts.config) {
        match load_compiled(opts) {
            Ok(p) => p,
            Err(code) => return code,
        }
    } else {
        let script = match load_config(opts) {
            Ok(s) => s,
            Err(code) => return code,
        };
        // A config with errors never runs: the same errors as `-c`.
        let report = ser_cfg::check::check(&script, &ser_core::script::is_implemented);
        if !report.errors.is_empty() {
            for e in &report.errors {
                eprintln!("{e}");
            }
            eprintln!(
                "ser: errors in config file {}, exiting...",
                opts.config.display()
            );
            return cli::EXIT_CONFIG;
        }
        if !report.not_supported.is_empty() {
            for line in report.not_supported_lines(&script) {
                eprintln!("{line}");
            }
            eprintln!(
                "ser: config file {} uses functions not supported yet (listed above), exiting...",
                opts.config.display()
            );
            return cli::EXIT_NOT_SUPPORTED;
        }
        match ser_cfg::compile::compile(&script) {
            Ok(p) => p,
            Err(diags) => {
                for d in &diags {
                    eprintln!("{d}");
                }
                eprintln!(
                    "ser: errors in config file {}, exiting...",
                    opts.config.display()
                );
                return cli::EXIT_CONFIG;
            }
        }
    };
    ser_core::server::run(program, opts, &settings)
}

/// `docs/config.md` holds two generated parts: the per-config roadmap
/// (what `ser -c` reports as not supported yet for each seed config) and
/// the reference tables of the catalogue, with each function's status from
/// [`ser_core::script::is_implemented`]. This test fails when they are out
/// of date; `SER_UPDATE_DOCS=1 cargo test -p ser-core --bin ser` rewrites
/// them.
#[cfg(test)]
mod config_docs {
    use std::path::{Path, PathBuf};

    use ser_cfg::{Define, ParseOptions};

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    const K31_ALL: &[&str] = &[
        "WITH_DEBUG",
        "WITH_MYSQL",
        "WITH_AUTH",
        "WITH_IPAUTH",
        "WITH_USRLOCDB",
        "WITH_PRESENCE",
        "WITH_NAT",
        "WITH_PSTN",
        "WITH_ACCDB",
    ];

    fn roadmap() -> String {
        let seeds = root().join("cfg/tests/seeds");
        let mut names: Vec<String> = std::fs::read_dir(&seeds)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".cfg") && n != "sip_router-2001.cfg")
            .collect();
        names.sort();
        let mut runs: Vec<(String, Vec<&str>)> =
            names.into_iter().map(|n| (n, Vec::new())).collect();
        runs.push(("kamailio-3.1-default.cfg".into(), K31_ALL.to_vec()));
        let mut out = String::new();
        for (name, defines) in runs {
            let opts = ParseOptions {
                defines: defines.iter().map(|d| Define::from_arg(d)).collect(),
                ..ParseOptions::default()
            };
            let script = ser_cfg::parse_file_with(&seeds.join(&name), &opts)
                .unwrap_or_else(|d| panic!("{d}"));
            let report = ser_cfg::check::check(&script, &ser_core::script::is_implemented);
            assert!(report.errors.is_empty(), "{name}: {:#?}", report.errors);
            let args: String = defines.iter().map(|d| format!(" -A {d}")).collect();
            out.push_str(&format!(
                "#### `{name}`{}\n\n`ser -c -f {name}{args}`: {}; ",
                if defines.is_empty() {
                    ""
                } else {
                    " with every `WITH_*`"
                },
                script.dialect_summary()
            ));
            if report.not_supported.is_empty() {
                out.push_str("`OK`.\n\n");
                continue;
            }
            let n = report.not_supported.len();
            out.push_str(&format!(
                "{n} function{} not supported yet, in order of first use:\n\n```\n",
                if n == 1 { "" } else { "s" }
            ));
            for s in report.not_supported_names() {
                out.push_str(&format!("not supported yet: {s}\n"));
            }
            out.push_str("```\n\n");
        }
        out
    }

    fn replace_block(doc: &str, tag: &str, body: &str) -> String {
        let begin = format!("<!-- BEGIN GENERATED {tag} -->\n");
        let end = format!("<!-- END GENERATED {tag} -->");
        let (Some(b), Some(e)) = (doc.find(&begin), doc.find(&end)) else {
            panic!("docs/config.md lacks the {tag} markers");
        };
        format!("{}{begin}{body}{}", &doc[..b], &doc[e..])
    }

    #[test]
    fn docs_config_md_is_up_to_date() {
        let path = root().join("docs/config.md");
        let doc = std::fs::read_to_string(&path).unwrap();
        let reference = ser_cfg::check::reference_markdown(&ser_core::script::is_implemented);
        let want = replace_block(&doc, "roadmap", &roadmap());
        let want = replace_block(&want, "reference", &reference);
        if want != doc {
            if std::env::var_os("SER_UPDATE_DOCS").is_some() {
                std::fs::write(&path, want).unwrap();
            } else {
                panic!(
                    "docs/config.md is out of date: run \
                     `SER_UPDATE_DOCS=1 cargo test -p ser-core --bin ser`"
                );
            }
        }
    }
}
