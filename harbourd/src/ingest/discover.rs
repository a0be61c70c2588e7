//! Listing a source directory without Spark: what the daemon uses to finish a run that has
//! no new files without starting a JVM, and for the cost estimate.
//!
//! The glob matcher knows `*` and `?`. A pattern with Hadoop-only syntax (`[...]`, `{a,b}`)
//! or a remote source is "unknown" here, and the run goes to Spark, which decides: the
//! daemon's check may only ever skip a run it is sure has nothing to do.

use std::collections::HashSet;
use std::path::Path;
use std::time::UNIX_EPOCH;

/// One file of the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    pub path: String,
    pub bytes: u64,
    pub modified_ms: i64,
}

/// Whether the daemon can list this source itself.
pub fn listable(dir: &str, glob: &str) -> bool {
    !super::validate::is_remote(dir) && !glob.contains(['[', '{', '\\'])
}

/// `*` and `?` matching of a whole file name.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    if pattern.is_empty() || pattern == "*" {
        return true;
    }
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The files directly in `dir` whose names match `glob`, as Spark's file source sees them
/// (hidden `_` and `.` names skipped), sorted by path. Blocking.
pub fn list(dir: &str, glob: &str) -> std::io::Result<Vec<SourceFile>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(Path::new(dir))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('_') || name.starts_with('.') || !glob_match(glob, &name) {
            continue;
        }
        let meta = entry.metadata()?;
        if !meta.is_file() {
            continue;
        }
        let modified_ms = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        files.push(SourceFile {
            path: entry.path().display().to_string(),
            bytes: meta.len(),
            modified_ms,
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// A path as Spark reports it (`file:/a/b.csv`, `file:///a/b.csv`) as a local path.
pub fn local_path(spark_path: &str) -> String {
    let rest = spark_path.strip_prefix("file:").unwrap_or(spark_path);
    let trimmed = rest.trim_start_matches('/');
    let decoded = percent_decode(trimmed);
    if rest.starts_with('/') {
        format!("/{decoded}")
    } else {
        decoded
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(v) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The files of `all` not in `seen`.
pub fn unseen<'a>(all: &'a [SourceFile], seen: &HashSet<String>) -> Vec<&'a SourceFile> {
    all.iter().filter(|f| !seen.contains(&f.path)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_names() {
        assert!(glob_match("*.csv", "a.csv"));
        assert!(!glob_match("*.csv", "a.csv.tmp"));
        assert!(glob_match("part-??.json", "part-01.json"));
        assert!(!glob_match("part-??.json", "part-1.json"));
        assert!(glob_match("", "anything"));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!listable("/in", "*.{csv,tsv}"));
        assert!(!listable("s3a://b/in", "*"));
    }

    #[test]
    fn spark_paths_become_local_paths() {
        assert_eq!(local_path("file:/tmp/in/a.csv"), "/tmp/in/a.csv");
        assert_eq!(local_path("file:///tmp/in/a.csv"), "/tmp/in/a.csv");
        assert_eq!(local_path("file:/tmp/in/a%20b.csv"), "/tmp/in/a b.csv");
    }

    #[test]
    fn lists_matching_visible_files() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.csv", "b.csv", "c.txt", "_tmp.csv", ".hidden.csv"] {
            std::fs::write(dir.path().join(name), b"x,y\n").unwrap();
        }
        let files = list(dir.path().to_str().unwrap(), "*.csv").unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| f.path.rsplit('/').next().unwrap())
            .collect();
        assert_eq!(names, ["a.csv", "b.csv"]);
        assert_eq!(files[0].bytes, 4);
    }
}
