//! Prints the parser benchmark's results as a Markdown table, with the
//! ratios the parser issue asks for, from criterion's saved estimates:
//! `criterion-table [target-dir]` after `cargo bench --bench parse`.

use std::path::{Path, PathBuf};

/// The median point estimate (ns) of one benchmark, read from criterion's
/// `estimates.json` without a JSON library: the number after
/// `"median":{...,"point_estimate":`.
fn median_ns(dir: &Path, group: &str, bench: &str) -> Option<f64> {
    let p = dir
        .join("criterion")
        .join(group)
        .join(bench)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(p).ok()?;
    let m = text.find("\"median\":")?;
    let rest = &text[m..];
    let k = rest.find("\"point_estimate\":")? + "\"point_estimate\":".len();
    let num: String = rest[k..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == 'e' || *c == '-')
        .collect();
    num.parse().ok()
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    println!(
        "| message | floor (ns) | index (ns) | full (ns) | rsip (ns) | rsip typed (ns) | index / floor | full / floor | rsip / full | rsip typed / full |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for g in ["invite", "ok200", "register"] {
        let v: Vec<Option<f64>> = ["floor", "index", "full", "rsip", "rsip_typed"]
            .iter()
            .map(|b| median_ns(&dir, g, b))
            .collect();
        let f = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.0}"));
        let r = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.1}x", a / b),
            _ => "-".to_string(),
        };
        println!(
            "| {g} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            f(v[0]),
            f(v[1]),
            f(v[2]),
            f(v[3]),
            f(v[4]),
            r(v[1], v[0]),
            r(v[2], v[0]),
            r(v[3], v[2]),
            r(v[4], v[2]),
        );
    }
}
