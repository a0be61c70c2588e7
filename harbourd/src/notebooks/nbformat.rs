//! The nbformat 4 model: parsing an `.ipynb` with errors that say where (`cells[3].source:
//! ...`), and writing it back the way Jupyter does (sorted keys, one-space indent, sources as
//! lists of lines), keeping every field Harbour does not know about.
//!
//! Outputs, metadata and attachments stay JSON values: Harbour reads them to show text, but
//! what it writes back is what it read (plus what kernels added). Displays made with a
//! `display_id` carry Jupyter's `transient: {display_id}` in memory, so a later
//! `update_display_data` finds them ([`update_display`]); like Jupyter, it is not saved (the
//! nbformat schema has no place for it).

use serde_json::{Map, Value};

use harbour_shared::{CellKind, Output};

/// Something wrong with an `.ipynb`, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {why}")]
pub struct FormatError {
    /// `line 3 column 5`, `cells[2].source`, ...
    pub at: String,
    pub why: String,
}

fn bad(at: impl Into<String>, why: impl Into<String>) -> FormatError {
    FormatError {
        at: at.into(),
        why: why.into(),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notebook {
    pub nbformat_minor: u64,
    pub metadata: Map<String, Value>,
    pub cells: Vec<Cell>,
    /// Top-level keys nbformat does not define, kept as they were.
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub id: String,
    pub kind: CellKind,
    pub source: String,
    pub metadata: Map<String, Value>,
    pub execution_count: Option<u64>,
    /// nbformat output objects, as read or as built from kernel messages.
    pub outputs: Vec<Value>,
    pub attachments: Option<Value>,
    pub extra: Map<String, Value>,
}

impl Cell {
    pub fn new(id: String, kind: CellKind, source: String) -> Self {
        Self {
            id,
            kind,
            source,
            metadata: Map::new(),
            execution_count: None,
            outputs: Vec::new(),
            attachments: None,
            extra: Map::new(),
        }
    }
}

/// A fresh cell id: 8 hex digits, like JupyterLab's.
pub fn new_cell_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    id[..8].to_owned()
}

impl Notebook {
    /// An empty notebook with Python kernel metadata and one empty code cell.
    pub fn new() -> Self {
        let mut metadata = Map::new();
        metadata.insert(
            "kernelspec".into(),
            serde_json::json!({"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}),
        );
        metadata.insert(
            "language_info".into(),
            serde_json::json!({"name": "python"}),
        );
        Self {
            nbformat_minor: 5,
            metadata,
            cells: vec![Cell::new(new_cell_id(), CellKind::Code, String::new())],
            extra: Map::new(),
        }
    }

    pub fn cell_index(&self, id: &str) -> Option<usize> {
        self.cells.iter().position(|c| c.id == id)
    }

    /// Parses and validates `.ipynb` text. Cells without ids (nbformat < 4.5) get new ones.
    pub fn parse(text: &str) -> Result<Self, FormatError> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            bad(
                format!("line {} column {}", e.line(), e.column()),
                format!("not valid JSON ({e})"),
            )
        })?;
        let Value::Object(mut top) = value else {
            return Err(bad("the top level", "expected a JSON object (a notebook)"));
        };
        match top.remove("nbformat") {
            Some(Value::Number(n)) if n.as_u64() == Some(4) => {}
            Some(Value::Number(n)) => {
                return Err(bad(
                    "nbformat",
                    format!(
                        "version {n} is not supported; open and save it in Jupyter to convert it to version 4"
                    ),
                ));
            }
            Some(_) => return Err(bad("nbformat", "expected the number 4")),
            None => return Err(bad("nbformat", "missing; is this a Jupyter notebook?")),
        }
        let nbformat_minor = match top.remove("nbformat_minor") {
            Some(Value::Number(n)) => n
                .as_u64()
                .ok_or_else(|| bad("nbformat_minor", "expected a whole number"))?,
            None => 0,
            Some(_) => return Err(bad("nbformat_minor", "expected a whole number")),
        };
        let metadata = match top.remove("metadata") {
            Some(Value::Object(m)) => m,
            None => Map::new(),
            Some(_) => return Err(bad("metadata", "expected an object")),
        };
        let cells = match top.remove("cells") {
            Some(Value::Array(cells)) => cells,
            Some(_) => return Err(bad("cells", "expected a list of cells")),
            None => return Err(bad("cells", "missing")),
        };
        let mut parsed = Vec::with_capacity(cells.len());
        let mut seen = std::collections::HashSet::new();
        for (i, cell) in cells.into_iter().enumerate() {
            let cell = parse_cell(i, cell)?;
            if !seen.insert(cell.id.clone()) {
                return Err(bad(
                    format!("cells[{i}].id"),
                    format!(
                        "'{}' is used by an earlier cell; cell ids must be unique",
                        cell.id
                    ),
                ));
            }
            parsed.push(cell);
        }
        Ok(Self {
            nbformat_minor,
            metadata,
            cells: parsed,
            extra: top,
        })
    }

    /// The `.ipynb` text, as Jupyter writes it: keys sorted, one-space indent, final newline.
    /// Cells have ids, so the minor version is at least 5.
    pub fn to_ipynb(&self) -> String {
        let mut top = self.extra.clone();
        top.insert("nbformat".into(), Value::from(4));
        top.insert(
            "nbformat_minor".into(),
            Value::from(self.nbformat_minor.max(5)),
        );
        top.insert("metadata".into(), Value::Object(self.metadata.clone()));
        top.insert(
            "cells".into(),
            Value::Array(self.cells.iter().map(cell_json).collect()),
        );
        let value = sort_keys(Value::Object(top));
        let mut out = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b" ");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
        // Serializing a `Value` into memory cannot fail.
        if serde::Serialize::serialize(&value, &mut ser).is_err() {
            return String::new();
        }
        let mut text = String::from_utf8(out).unwrap_or_default();
        text.push('\n');
        text
    }
}

impl Default for Notebook {
    fn default() -> Self {
        Self::new()
    }
}

fn sort_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sort_keys(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A multiline string field: a string, or a list of strings joined.
fn multiline(at: &str, value: Value) -> Result<String, FormatError> {
    match value {
        Value::String(s) => Ok(s),
        Value::Array(parts) => {
            let mut out = String::new();
            for (j, part) in parts.into_iter().enumerate() {
                match part {
                    Value::String(s) => out.push_str(&s),
                    _ => return Err(bad(format!("{at}[{j}]"), "expected a string")),
                }
            }
            Ok(out)
        }
        _ => Err(bad(at, "expected a string or a list of strings")),
    }
}

/// Splits text into lines that keep their `\n`, as Jupyter stores sources.
pub fn lines(text: &str) -> Value {
    Value::Array(
        text.split_inclusive('\n')
            .map(|l| Value::String(l.to_owned()))
            .collect(),
    )
}

const OUTPUT_TYPES: [&str; 4] = ["stream", "display_data", "execute_result", "error"];

fn parse_cell(i: usize, cell: Value) -> Result<Cell, FormatError> {
    let at = format!("cells[{i}]");
    let Value::Object(mut obj) = cell else {
        return Err(bad(at, "expected an object (a cell)"));
    };
    let kind = match obj.remove("cell_type") {
        Some(Value::String(t)) => match t.as_str() {
            "code" => CellKind::Code,
            "markdown" => CellKind::Markdown,
            "raw" => CellKind::Raw,
            other => {
                return Err(bad(
                    format!("{at}.cell_type"),
                    format!("'{other}' is not one of code, markdown, raw"),
                ));
            }
        },
        Some(_) => return Err(bad(format!("{at}.cell_type"), "expected a string")),
        None => return Err(bad(format!("{at}.cell_type"), "missing")),
    };
    let id = match obj.remove("id") {
        Some(Value::String(id)) if valid_id(&id) => id,
        Some(_) => {
            return Err(bad(
                format!("{at}.id"),
                "expected 1-64 letters, digits, '-' or '_'",
            ));
        }
        None => new_cell_id(),
    };
    let source = match obj.remove("source") {
        Some(v) => multiline(&format!("{at}.source"), v)?,
        None => return Err(bad(format!("{at}.source"), "missing")),
    };
    let metadata = match obj.remove("metadata") {
        Some(Value::Object(m)) => m,
        None => Map::new(),
        Some(_) => return Err(bad(format!("{at}.metadata"), "expected an object")),
    };
    let attachments = obj.remove("attachments");
    if let Some(a) = &attachments
        && !a.is_object()
    {
        return Err(bad(format!("{at}.attachments"), "expected an object"));
    }
    let mut execution_count = None;
    let mut outputs = Vec::new();
    if kind == CellKind::Code {
        execution_count = match obj.remove("execution_count") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64(),
            Some(_) => {
                return Err(bad(
                    format!("{at}.execution_count"),
                    "expected null or a whole number",
                ));
            }
        };
        outputs = match obj.remove("outputs") {
            Some(Value::Array(o)) => o,
            None => Vec::new(),
            Some(_) => return Err(bad(format!("{at}.outputs"), "expected a list")),
        };
        for (j, output) in outputs.iter().enumerate() {
            let oat = format!("{at}.outputs[{j}]");
            let t = output.get("output_type").and_then(Value::as_str);
            match t {
                Some(t) if OUTPUT_TYPES.contains(&t) => {}
                Some(t) => {
                    return Err(bad(
                        format!("{oat}.output_type"),
                        format!("'{t}' is not one of {}", OUTPUT_TYPES.join(", ")),
                    ));
                }
                None => return Err(bad(format!("{oat}.output_type"), "missing")),
            }
            if t == Some("stream") && !output.get("text").is_some_and(is_multiline) {
                return Err(bad(
                    format!("{oat}.text"),
                    "expected a string or a list of strings",
                ));
            }
            if matches!(t, Some("display_data" | "execute_result"))
                && !output.get("data").is_some_and(Value::is_object)
            {
                return Err(bad(format!("{oat}.data"), "expected a mime bundle object"));
            }
        }
    }
    Ok(Cell {
        id,
        kind,
        source,
        metadata,
        execution_count,
        outputs,
        attachments,
        extra: obj,
    })
}

fn is_multiline(v: &Value) -> bool {
    match v {
        Value::String(_) => true,
        Value::Array(a) => a.iter().all(Value::is_string),
        _ => false,
    }
}

fn cell_json(cell: &Cell) -> Value {
    let mut obj = cell.extra.clone();
    obj.insert("id".into(), Value::String(cell.id.clone()));
    obj.insert("cell_type".into(), Value::String(cell.kind.as_str().into()));
    obj.insert("metadata".into(), Value::Object(cell.metadata.clone()));
    obj.insert("source".into(), lines(&cell.source));
    if let Some(a) = &cell.attachments {
        obj.insert("attachments".into(), a.clone());
    }
    if cell.kind == CellKind::Code {
        obj.insert(
            "execution_count".into(),
            cell.execution_count.map_or(Value::Null, Value::from),
        );
        let outputs = cell
            .outputs
            .iter()
            .map(|o| match o {
                Value::Object(m) if m.contains_key(TRANSIENT) => {
                    let mut m = m.clone();
                    m.remove(TRANSIENT);
                    Value::Object(m)
                }
                other => other.clone(),
            })
            .collect();
        obj.insert("outputs".into(), Value::Array(outputs));
    }
    Value::Object(obj)
}

/// The in-memory key of a display's id (Jupyter's message field; never written).
pub const TRANSIENT: &str = "transient";

/// Jupyter's `update_display_data`: every display shown with `display_id`, in any cell, gets
/// the new data and metadata. Answers how many outputs changed.
pub fn update_display(
    nb: &mut Notebook,
    display_id: &str,
    data: &Value,
    metadata: &Value,
) -> usize {
    let mut changed = 0;
    for cell in &mut nb.cells {
        for output in &mut cell.outputs {
            let Value::Object(o) = output else { continue };
            let same = o
                .get(TRANSIENT)
                .and_then(|t| t.get("display_id"))
                .and_then(Value::as_str)
                == Some(display_id);
            if same {
                o.insert("data".into(), data.clone());
                o.insert("metadata".into(), metadata.clone());
                changed += 1;
            }
        }
    }
    changed
}

/// A string field that may be a list of lines.
fn text_of(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => String::new(),
    }
}

/// Removes ANSI escape sequences (tracebacks are coloured).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Crude HTML to text, for bundles with no `text/plain`: tags dropped, table cells spaced.
fn html_text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    let mut tag = String::new();
    for c in html.chars() {
        match (in_tag, c) {
            (false, '<') => {
                in_tag = true;
                tag.clear();
            }
            (true, '>') => {
                in_tag = false;
                let name = tag.trim_start_matches('/').split_whitespace().next();
                match name.map(str::to_ascii_lowercase).as_deref() {
                    Some("tr" | "br" | "p" | "div") if tag.starts_with('/') || tag == "br" => {
                        out.push('\n');
                    }
                    Some("td" | "th") if tag.starts_with('/') => out.push('\t'),
                    _ => {}
                }
            }
            (true, c) => tag.push(c),
            (false, c) => out.push(c),
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
        .replace("&nbsp;", " ")
}

/// What a terminal shows of an nbformat output.
pub fn output_view(output: &Value) -> Output {
    let t = output.get("output_type").and_then(Value::as_str);
    match t {
        Some("stream") => Output::Stream {
            name: output
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("stdout")
                .to_owned(),
            text: text_of(output.get("text")),
        },
        Some("error") => Output::Error {
            ename: text_of(output.get("ename")),
            evalue: text_of(output.get("evalue")),
            traceback: output
                .get("traceback")
                .and_then(Value::as_array)
                .map(|t| t.iter().filter_map(Value::as_str).map(strip_ansi).collect())
                .unwrap_or_default(),
        },
        _ => {
            let data = output.get("data").and_then(Value::as_object);
            let mimes: Vec<String> = data
                .map(|d| d.keys().cloned().collect())
                .unwrap_or_default();
            let text = data
                .map(|d| {
                    if let Some(t) = d.get("text/plain") {
                        text_of(Some(t))
                    } else if let Some(t) = d.get("text/markdown") {
                        text_of(Some(t))
                    } else if let Some(h) = d.get("text/html") {
                        html_text(&text_of(Some(h)))
                    } else {
                        format!("[{}]", mimes.join(", "))
                    }
                })
                .unwrap_or_default();
            Output::Data {
                execution_count: output
                    .get("execution_count")
                    .and_then(Value::as_u64)
                    .and_then(|n| u32::try_from(n).ok()),
                mimes,
                text,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const SAMPLE: &str = r##"{
 "cells": [
  {
   "cell_type": "markdown",
   "id": "intro",
   "metadata": {"tags": ["x"]},
   "source": ["# Title\n", "text"],
   "attachments": {"a.png": {"image/png": "iVBORw0KGgo="}}
  },
  {
   "cell_type": "code",
   "execution_count": 3,
   "id": "c1",
   "metadata": {"collapsed": false, "custom": {"k": 1}},
   "outputs": [
    {"name": "stdout", "output_type": "stream", "text": ["a\n", "b\n"]},
    {"data": {"image/png": "iVBOR", "text/plain": ["<Figure>"]}, "metadata": {}, "output_type": "display_data"},
    {"ename": "E", "evalue": "v", "output_type": "error", "traceback": ["\u001b[31mE\u001b[0m: v"]}
   ],
   "source": "print('a')"
  }
 ],
 "metadata": {"kernelspec": {"name": "python3"}, "widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}}}},
 "nbformat": 4,
 "nbformat_minor": 5,
 "x-unknown": true
}"##;

    #[test]
    fn parses_and_keeps_everything_it_does_not_render() {
        let nb = Notebook::parse(SAMPLE).unwrap();
        assert_eq!(nb.cells.len(), 2);
        assert_eq!(nb.cells[0].source, "# Title\ntext");
        assert_eq!(nb.cells[1].execution_count, Some(3));
        let again = Notebook::parse(&nb.to_ipynb()).unwrap();
        assert_eq!(again, nb);
        let out: Value = serde_json::from_str(&nb.to_ipynb()).unwrap();
        assert_eq!(out["x-unknown"], Value::Bool(true));
        assert_eq!(
            out["cells"][0]["attachments"]["a.png"]["image/png"],
            "iVBORw0KGgo="
        );
        assert_eq!(out["cells"][1]["metadata"]["custom"]["k"], 1);
        assert!(out["metadata"]["widgets"].is_object());
    }

    #[test]
    fn writes_like_jupyter() {
        let nb = Notebook::parse(SAMPLE).unwrap();
        let text = nb.to_ipynb();
        assert!(text.starts_with("{\n \"cells\": [\n  {\n"), "{text}");
        assert!(text.ends_with("}\n"));
        assert!(text.contains("\"source\": [\n    \"# Title\\n\",\n    \"text\"\n   ]"));
    }

    #[test]
    fn views_outputs_as_text() {
        let nb = Notebook::parse(SAMPLE).unwrap();
        let views: Vec<Output> = nb.cells[1].outputs.iter().map(output_view).collect();
        assert_eq!(
            views[0],
            Output::Stream {
                name: "stdout".into(),
                text: "a\nb\n".into()
            }
        );
        let Output::Data { text, mimes, .. } = &views[1] else {
            panic!("{views:?}")
        };
        assert_eq!(text, "<Figure>");
        assert_eq!(mimes.len(), 2);
        let Output::Error { traceback, .. } = &views[2] else {
            panic!()
        };
        assert_eq!(traceback, &vec!["E: v".to_owned()]);
    }

    #[test]
    fn old_notebooks_get_ids() {
        let nb = Notebook::parse(
            r#"{"cells":[{"cell_type":"code","metadata":{},"source":"1","outputs":[],"execution_count":null}],"metadata":{},"nbformat":4,"nbformat_minor":2}"#,
        )
        .unwrap();
        assert_eq!(nb.cells[0].id.len(), 8);
        assert!(nb.to_ipynb().contains("\"nbformat_minor\": 5"));
    }

    #[test]
    fn errors_say_where() {
        let cases = [
            ("{\"cells\": [", "line 1 column 11"),
            ("[]", "the top level"),
            (r#"{"nbformat": 3, "cells": []}"#, "nbformat"),
            (r#"{"nbformat": 4}"#, "cells"),
            (
                r#"{"nbformat": 4, "cells": [{"cell_type": "x", "source": ""}]}"#,
                "cells[0].cell_type",
            ),
            (
                r#"{"nbformat": 4, "cells": [{"cell_type": "code", "source": [1]}]}"#,
                "cells[0].source[0]",
            ),
            (
                r#"{"nbformat": 4, "cells": [{"cell_type": "code"}]}"#,
                "cells[0].source",
            ),
            (
                r#"{"nbformat": 4, "cells": [{"cell_type": "code", "source": "", "outputs": [{"output_type": "nope"}]}]}"#,
                "cells[0].outputs[0].output_type",
            ),
            (
                r#"{"nbformat": 4, "cells": [{"cell_type": "raw", "id": "a", "source": ""}, {"cell_type": "raw", "id": "a", "source": ""}]}"#,
                "cells[1].id",
            ),
            (
                r#"{"nbformat": 4, "cells": [{"cell_type": "raw", "id": "a b", "source": ""}]}"#,
                "cells[0].id",
            ),
        ];
        for (text, at) in cases {
            let e = Notebook::parse(text).unwrap_err();
            assert_eq!(e.at, at, "{text}: {e}");
        }
    }

    #[test]
    fn display_updates_reach_every_display_with_the_id_and_the_id_is_not_saved() {
        let mut nb = Notebook::parse(SAMPLE).unwrap();
        let shown = |text: &str, id: &str| {
            serde_json::json!({"output_type": "display_data", "data": {"text/plain": text},
                "metadata": {}, "transient": {"display_id": id}})
        };
        nb.cells[1].outputs.push(shown("10%", "progress"));
        nb.cells[1].outputs.push(shown("other", "x"));
        let mut later = Cell::new("c2".into(), CellKind::Code, "h.update()".into());
        later.outputs.push(shown("10%", "progress"));
        nb.cells.push(later);
        let data = serde_json::json!({"text/plain": "100%"});
        let n = update_display(&mut nb, "progress", &data, &serde_json::json!({"k": 1}));
        assert_eq!(n, 2);
        let text = |o: &Value| match output_view(o) {
            Output::Data { text, .. } => text,
            other => panic!("{other:?}"),
        };
        assert_eq!(text(&nb.cells[1].outputs[3]), "100%");
        assert_eq!(nb.cells[1].outputs[3]["metadata"]["k"], 1);
        assert_eq!(text(&nb.cells[1].outputs[4]), "other");
        assert_eq!(text(&nb.cells[2].outputs[0]), "100%");
        assert_eq!(update_display(&mut nb, "nothing", &data, &Value::Null), 0);
        // Saved as nbformat has it: no transient, the updated data.
        let saved = nb.to_ipynb();
        assert!(
            !saved.contains("transient") && !saved.contains("display_id"),
            "{saved}"
        );
        let again = Notebook::parse(&saved).unwrap();
        assert_eq!(text(&again.cells[1].outputs[3]), "100%");
    }

    #[test]
    fn html_tables_read_as_text() {
        let v = serde_json::json!({"output_type": "display_data", "data": {"text/html": "<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>"}});
        let Output::Data { text, .. } = output_view(&v) else {
            panic!()
        };
        assert_eq!(text, "a\tb\t\n1\t2\t\n");
    }
}
