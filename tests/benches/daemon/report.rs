//! The results as markdown: tables with each figure beside its peer and its target, making
//! up the section of docs/benchmarks.md they replace.

use std::fmt::Write as _;

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
