//! The results as markdown: tables with each figure beside its peer and its target, and the
//! section of docs/benchmarks.md they replace.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

pub const START_MARKER: &str = "<!-- bench:daemon:start -->";
pub const END_MARKER: &str = "<!-- bench:daemon:end -->";
/// The heading the section gets when docs/benchmarks.md does not have it yet.
const SECTION_HEADING: &str = "## Issue 2: harbourd core";

/// A markdown table.
#[derive(Debug)]
pub struct Table {
    pub title: String,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(title: &str, header: &[&str]) -> Self {
        Self {
            title: title.to_owned(),
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// A row; a `|` in a cell is escaped so it does not split the cell.
    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.header.len());
        self.rows
            .push(cells.into_iter().map(|c| c.replace('|', "\\|")).collect());
    }

    /// Markdown, padded so it reads as a table in a terminal too.
    pub fn markdown(&self) -> String {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|i| {
                self.rows
                    .iter()
                    .map(|r| r[i].chars().count())
                    .chain([self.header[i].chars().count(), 3])
                    .max()
                    .unwrap_or(3)
            })
            .collect();
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            format!("| {} |\n", padded.join(" | "))
        };
        let mut out = format!("**{}**\n\n", self.title);
        out += &line(&self.header);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        out += &line(&rule);
        for row in &self.rows {
            out += &line(row);
        }
        out
    }
}

/// Whether a figure met its target, in words.
pub fn verdict(met: bool) -> String {
    if met {
        "met".into()
    } else {
        "**missed**".into()
    }
}

/// The generated block: what was run where, then the tables.
pub fn section(preamble: &[String], tables: &[Table]) -> String {
    let mut out = String::new();
    for line in preamble {
        let _ = writeln!(out, "{line}");
    }
    for table in tables {
        out.push('\n');
        out += &table.markdown();
    }
    out
}

/// Replaces the text between the markers in `doc` with `body`, or appends a new section
/// holding it when the markers are not there yet.
pub fn rewrite(doc: &Path, body: &str) -> std::io::Result<()> {
    let text = fs::read_to_string(doc).unwrap_or_default();
    let block = format!("{START_MARKER}\n{body}{END_MARKER}");
    let new = match (text.find(START_MARKER), text.find(END_MARKER)) {
        (Some(start), Some(end)) if start < end => {
            format!(
                "{}{block}{}",
                &text[..start],
                &text[end + END_MARKER.len()..]
            )
        }
        _ => {
            let sep = if text.is_empty() || text.ends_with("\n\n") {
                ""
            } else if text.ends_with('\n') {
                "\n"
            } else {
                "\n\n"
            };
            format!("{text}{sep}{SECTION_HEADING}\n\n{block}\n")
        }
    };
    fs::write(doc, new)
}
