//! The benchmarks' figures in docs/benchmarks.md: each benchmark owns the text between its
//! `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->` markers and rewrites only that,
//! so the notes written by hand around it stay.

use std::fs;
use std::path::{Path, PathBuf};

/// Whether this run was asked to rewrite its section (`HARBOUR_BENCH_WRITE=1`).
pub fn requested() -> bool {
    std::env::var("HARBOUR_BENCH_WRITE").is_ok_and(|v| v == "1")
}

/// The 1, 5 and 15 minute load averages, as `/proc/loadavg` has them: other work on the
/// machine skews every figure, so each section says how busy it was.
pub fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// docs/benchmarks.md in the workspace.
pub fn path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/benchmarks.md")
}

/// Puts `body` between benchmark `name`'s markers in docs/benchmarks.md. A file without the
/// markers gets them appended, under `heading` (an `## Issue N: ...` line).
pub fn write(name: &str, heading: &str, body: &str) -> std::io::Result<PathBuf> {
    let path = path();
    let text = fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".into());
    fs::write(&path, replace_section(&text, name, heading, body))?;
    Ok(path)
}

/// `text` with benchmark `name`'s section holding `body`.
pub fn replace_section(text: &str, name: &str, heading: &str, body: &str) -> String {
    let start = format!("<!-- bench:{name}:start -->");
    let end = format!("<!-- bench:{name}:end -->");
    let body = body.trim_end_matches('\n');
    let block = format!("{start}\n{body}\n{end}");
    match (text.find(&start), text.find(&end)) {
        (Some(s), Some(e)) if s < e => {
            format!("{}{block}{}", &text[..s], &text[e + end.len()..])
        }
        _ => format!("{}\n\n{heading}\n\n{block}\n", text.trim_end()),
    }
}

#[cfg(test)]
mod tests {
    // Named in full: the TUI bench includes this file by path and has no use for an import.
    #[test]
    fn only_the_section_between_the_markers_changes() {
        let doc = "# B\n\nintro\n<!-- bench:x:start -->\nold\n<!-- bench:x:end -->\nnotes\n";
        assert_eq!(
            super::replace_section(doc, "x", "## X", "new\nfigures\n"),
            "# B\n\nintro\n<!-- bench:x:start -->\nnew\nfigures\n<!-- bench:x:end -->\nnotes\n"
        );
        assert_eq!(
            super::replace_section("# B\n", "y", "## Y", "z"),
            "# B\n\n## Y\n\n<!-- bench:y:start -->\nz\n<!-- bench:y:end -->\n"
        );
    }
}
