//! Plain-text tables: left-aligned columns two spaces apart, no borders, so `awk` and `cut`
//! work on them as well as eyes do.

/// Lays out `headers` and `rows`. The last column is not padded, so lines carry no trailing
/// spaces. Widths count characters, which is right for the ASCII this mostly holds.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            let w = cell.chars().count();
            match widths.get_mut(i) {
                Some(width) => *width = (*width).max(w),
                None => widths.push(w),
            }
        }
    }
    let mut out = String::new();
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let last = row.len().saturating_sub(1);
        for (i, cell) in row.iter().enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                let pad = widths[i].saturating_sub(cell.chars().count());
                out.push_str(cell);
                out.extend(std::iter::repeat_n(' ', pad + 2));
            }
        }
        out.push('\n');
    }
    out
}

/// `key  value` lines with the values aligned, for one-record views like `status`.
pub fn pairs(rows: &[(&str, String)]) -> String {
    let width = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (key, value) in rows {
        out.push_str(&format!("{key:<width$}  {value}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_lines_have_no_trailing_space() {
        let out = render(
            &["ID", "NAME", "STATE"],
            &[
                vec!["1".into(), "a-long-name".into(), "running".into()],
                vec!["12".into(), "b".into(), "failed (2)".into()],
            ],
        );
        assert_eq!(
            out,
            "ID  NAME         STATE\n\
             1   a-long-name  running\n\
             12  b            failed (2)\n"
        );
    }

    #[test]
    fn an_empty_table_is_its_header() {
        assert_eq!(render(&["ID", "NAME"], &[]), "ID  NAME\n");
    }

    #[test]
    fn pairs_align_values() {
        assert_eq!(
            pairs(&[("pid", "7".into()), ("data dir", "/d".into())]),
            "pid       7\ndata dir  /d\n"
        );
    }
}
