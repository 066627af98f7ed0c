//! `serctl`: users, contacts, aliases, local domains and trusted peers of
//! a running or stopped ser, in its database and over its control socket.
//! The logic is in `ser_tools::serctl`; `docs/serctl.md` is the manual.

fn main() {
    std::process::exit(ser_tools::serctl::main(std::env::args_os()));
}
