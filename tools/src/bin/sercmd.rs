//! `sercmd`: sends commands to a SIP router's control socket (BINRPC)
//! and prints the replies as Kamailio's `kamcmd` does. The logic is in
//! `ser_tools::sercmd`; `docs/sercmd.md` is the manual.

fn main() {
    std::process::exit(ser_tools::sercmd::main(std::env::args_os()));
}
