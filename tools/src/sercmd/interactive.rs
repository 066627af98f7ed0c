//! The interactive mode: `sercmd` with no method reads commands, one a
//! line, and sends them all over one connection.
//!
//! On a terminal it shows the `sercmd> ` prompt with line editing,
//! history and tab completion (method, alias and builtin names; cfg
//! groups and variables; counter groups and names), as kamcmd does with
//! readline. When standard input is not a terminal the lines are read
//! plainly, with no banner and no prompt, so that commands can be piped
//! in and the output holds only the replies.
//!
//! Words are split at spaces and tabs, with no quoting (kamcmd's rule).
//! At start it makes kamcmd's calls: `system.listMethods`, then
//! `cfg.list`, `cnt.grps_list` and `cnt.var_list` for each group when the
//! server lists those methods. An error in one command is printed and the
//! next line is read; a broken stream connection is opened again for it.

use std::borrow::Cow;
use std::io::{self, BufRead, IsTerminal, Write};

use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{CompletionType, Config, Context, Editor, Helper};

use super::{ALIASES, BUILTINS, Catalog, EXIT_ERROR, Fail, Outcome, Session, VERSION};

const PROMPT: &str = "sercmd> ";

/// The words of a command line.
pub fn split(line: &[u8]) -> Vec<Vec<u8>> {
    line.split(|&b| b == b' ' || b == b'\t')
        .filter(|w| !w.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// Runs the interactive mode; returns the exit status.
pub fn run(s: &mut Session, out: &mut dyn Write) -> i32 {
    let tty = io::stdin().is_terminal();
    if let Err(f) = s.connect() {
        return report(f, out).unwrap_or(EXIT_ERROR);
    }
    if tty {
        let banner = format!(
            "sercmd {VERSION}, a BINRPC client for ser and Kamailio\n\
             This is free software with ABSOLUTELY NO WARRANTY.\n\
             For details type `warranty'.\n"
        );
        if out.write_all(banner.as_bytes()).is_err() {
            return EXIT_ERROR;
        }
    }
    if let Err(f) = s.startup(out) {
        return report(f, out).unwrap_or(EXIT_ERROR);
    }
    if tty {
        with_editor(s, out)
    } else {
        plain(s, out)
    }
}

/// Prints a failure; `Some(status)` when the session must end.
fn report(f: Fail, out: &mut dyn Write) -> Option<i32> {
    match f {
        Fail::Msg(m) => {
            let _ = out.flush();
            super::warn(&m);
            Some(EXIT_ERROR)
        }
        Fail::Output => Some(EXIT_ERROR),
    }
}

/// One line: `Some(status)` ends the session.
fn line(s: &mut Session, words: &[Vec<u8>], out: &mut dyn Write) -> Option<i32> {
    match s.run(words, out) {
        Ok(Outcome::Continue) => None,
        Ok(Outcome::Quit) => Some(0),
        Err(Fail::Output) => Some(EXIT_ERROR),
        Err(f) => {
            // Print it and go on with the next line.
            let _ = report(f, out);
            None
        }
    }
}

fn plain(s: &mut Session, out: &mut dyn Write) -> i32 {
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match input.read_until(b'\n', &mut buf) {
            Ok(0) => return 0,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                super::warn(&format!("ERROR: reading standard input: {e}"));
                return EXIT_ERROR;
            }
        }
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        let words = split(&buf);
        if words.is_empty() {
            continue;
        }
        if let Some(status) = line(s, &words, out) {
            return status;
        }
    }
}

fn with_editor(s: &mut Session, out: &mut dyn Write) -> i32 {
    // Readline's way, as in kamcmd: Tab completes the common part, a
    // second Tab lists the choices.
    let config = Config::builder()
        .completion_type(CompletionType::List)
        .auto_add_history(false)
        .build();
    let mut ed: Editor<Completion, DefaultHistory> = match Editor::with_config(config) {
        Ok(e) => e,
        Err(e) => {
            super::warn(&format!("ERROR: cannot use the terminal: {e}"));
            return EXIT_ERROR;
        }
    };
    ed.set_helper(Some(Completion {
        catalog: s.catalog.clone(),
    }));
    loop {
        match ed.readline(PROMPT) {
            Ok(text) => {
                let words = split(text.as_bytes());
                if words.is_empty() {
                    continue;
                }
                let _ = ed.add_history_entry(text.as_str());
                if let Some(status) = line(s, &words, out) {
                    return status;
                }
                if let Some(h) = ed.helper_mut()
                    && h.catalog != s.catalog
                {
                    h.catalog = s.catalog.clone();
                }
            }
            // Ctrl-C drops the line being typed, as in a shell.
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => {
                let _ = out.write_all(b"\n");
                return 0;
            }
            Err(e) => {
                super::warn(&format!("ERROR: reading the command line: {e}"));
                return EXIT_ERROR;
            }
        }
    }
}

/// Tab completion from what the server listed.
pub struct Completion {
    pub catalog: Catalog,
}

const CFG_METHODS: &[&str] = &[
    "cfg.get",
    "cfg.help",
    "cfg.set",
    "cfg.seti",
    "cfg.sets",
    "cfg.set_now_int",
    "cfg.set_now_string",
    "cfg.set_delayed",
    "cfg.set_delayed_int",
    "cfg.set_delayed_string",
    "cfg.del",
    "cfg.del_delayed",
];

/// Counter methods whose first argument is a group.
const CNT_GROUP_METHODS: &[&str] = &[
    "cnt.get",
    "cnt.get_raw",
    "cnt.reset",
    "cnt.var_list",
    "cnt.list_vars",
    "cnt.grp_get_all",
    "cnt.get_vars",
    "cnt.help",
];

/// Counter methods whose second argument is a counter name.
const CNT_NAME_METHODS: &[&str] = &["cnt.get", "cnt.get_raw", "cnt.reset", "cnt.help"];

impl Completion {
    /// The words that may complete word `index` of a line whose earlier
    /// words are `before`.
    pub fn candidates(&self, before: &[&str], index: usize) -> Vec<String> {
        let methods = || self.catalog.methods.clone().unwrap_or_default();
        let commands = || {
            let mut v = methods();
            v.extend(ALIASES.iter().map(|a| a.name.to_string()));
            v.extend(BUILTINS.iter().map(|(b, _)| b.to_string()));
            v
        };
        let cmd = before.first().copied().unwrap_or_default();
        let groups = |l: &[(String, Vec<String>)]| l.iter().map(|(g, _)| g.clone()).collect();
        let vars = |l: &[(String, Vec<String>)]| {
            let g = before.get(1).copied().unwrap_or_default();
            l.iter()
                .find(|(x, _)| x == g)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        match index {
            0 => commands(),
            1 if cmd == "help" || cmd == "?" => commands(),
            1 if cmd == "system.methodHelp" || cmd == "system.methodSignature" => methods(),
            1 if CFG_METHODS.contains(&cmd) => groups(&self.catalog.cfg),
            2 if CFG_METHODS.contains(&cmd) => vars(&self.catalog.cfg),
            1 if CNT_GROUP_METHODS.contains(&cmd) => groups(&self.catalog.counters),
            2 if CNT_NAME_METHODS.contains(&cmd) => vars(&self.catalog.counters),
            _ => Vec::new(),
        }
    }

    /// Where the word at `pos` starts, and its completions.
    pub fn complete_at(&self, line: &str, pos: usize) -> (usize, Vec<String>) {
        let head = line.get(..pos).unwrap_or(line);
        let start = head.rfind([' ', '\t']).map_or(0, |i| i + 1);
        let word = head.get(start..).unwrap_or_default();
        let before: Vec<&str> = head
            .get(..start)
            .unwrap_or_default()
            .split([' ', '\t'])
            .filter(|w| !w.is_empty())
            .collect();
        let mut c: Vec<String> = self
            .candidates(&before, before.len())
            .into_iter()
            .filter(|x| x.starts_with(word))
            .collect();
        c.sort();
        c.dedup();
        (start, c)
    }
}

impl Completer for Completion {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        Ok(self.complete_at(line, pos))
    }
}

impl Hinter for Completion {
    type Hint = String;
}

impl Highlighter for Completion {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        Cow::Borrowed(line)
    }
}

impl Validator for Completion {}

impl Helper for Completion {}

#[cfg(test)]
mod tests {
    use super::*;

    fn completion() -> Completion {
        Completion {
            catalog: Catalog {
                methods: Some(vec![
                    "cfg.get".into(),
                    "core.ps".into(),
                    "core.psx".into(),
                    "core.version".into(),
                    "cnt.get".into(),
                ]),
                cfg: vec![
                    ("core".into(), vec!["debug".into(), "memlog".into()]),
                    ("tm".into(), vec!["fr_timer".into()]),
                ],
                counters: vec![("usrloc".into(), vec!["registered_users".into()])],
            },
        }
    }

    #[test]
    fn words_split_at_blanks_without_quoting() {
        assert_eq!(
            split(b"  core.echo  a\t b \"c d\" "),
            vec![
                b"core.echo".to_vec(),
                b"a".to_vec(),
                b"b".to_vec(),
                b"\"c".to_vec(),
                b"d\"".to_vec()
            ]
        );
        assert!(split(b" \t ").is_empty());
    }

    #[test]
    fn completes_methods_cfg_and_counters() {
        let c = completion();
        assert_eq!(
            c.complete_at("core.p", 6),
            (0, vec!["core.ps".to_string(), "core.psx".to_string()])
        );
        assert_eq!(c.complete_at("p", 1).1, vec!["ps", "psx"]);
        assert_eq!(c.complete_at("qu", 2).1, vec!["quit"]);
        assert_eq!(
            c.complete_at("help core.v", 11),
            (5, vec!["core.version".to_string()])
        );
        assert_eq!(c.complete_at("cfg.get ", 8).1, vec!["core", "tm"]);
        assert_eq!(
            c.complete_at("cfg.get core d", 14),
            (13, vec!["debug".to_string()])
        );
        assert_eq!(c.complete_at("cnt.get u", 9).1, vec!["usrloc"]);
        assert_eq!(
            c.complete_at("cnt.get usrloc r", 16).1,
            vec!["registered_users"]
        );
        assert!(c.complete_at("core.ps x", 9).1.is_empty());
    }
}
