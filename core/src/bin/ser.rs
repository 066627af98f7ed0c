//! The `ser` binary: parses the command line, checks the config, and (once
//! the transport and shards are built) runs the router.

use std::io::Write;
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
    ser_cfg::parse_file(&opts.config, &opts.defines).map_err(|d| {
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
    match load_config(opts) {
        Ok(_) => {
            eprintln!("config file ok, exiting...");
            cli::EXIT_OK
        }
        Err(code) => code,
    }
}

/// Runs the router. Today: checks everything it can, then says what is
/// missing. When the shards exist, the order is: load the config, bind the
/// sockets, `ProcessSettings::apply` (chdir, pid file, drop privileges),
/// start the shards.
fn run(opts: &Options) -> u8 {
    if let Err(e) = ProcessSettings::check(opts) {
        eprintln!("ser: {e}");
        return cli::EXIT_USAGE;
    }
    if let Err(code) = load_config(opts) {
        return code;
    }
    eprintln!(
        "ser: the SIP transport and shards are not built yet (see README status table); \
         use -c to check a config"
    );
    cli::EXIT_NOT_BUILT
}
