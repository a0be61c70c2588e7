//! Preview: a sample of the source read over the cluster's Spark Connect session (a query,
//! not a JVM start), its inferred schema, the first rows, and what the ingestion's evolution
//! mode would do with them. Nothing is written: the sample is a temporary view, dropped after.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

use harbour_shared::{
    Error, EvolutionMode, IngestPreview, IngestSpec, RESCUED_COLUMN, SchemaField, SourceFormat,
    SqlRequest,
};

use super::{Ingest, discover, internal, validate};
use crate::store::ingest as rows;

/// Files a preview reads at most.
const SAMPLE_FILES: usize = 10;
const MAX_ROWS: u32 = 1000;

/// Escapes a value for a single-quoted Spark SQL string.
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Hadoop glob syntax escaped, so a file name is matched as itself.
fn glob_escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '{' | '}' | '[' | ']' | '*' | '?' | ',' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One path naming exactly `files` of `dir` (a Hadoop `{a,b}` glob).
pub fn sample_path(dir: &str, files: &[String]) -> String {
    let names: Vec<String> = files
        .iter()
        .map(|f| glob_escape(f.rsplit('/').next().unwrap_or(f)))
        .collect();
    match names.as_slice() {
        [one] => format!("{dir}/{one}"),
        many => format!("{dir}/{{{}}}", many.join(",")),
    }
}

/// The statement that makes the sample a temporary view.
pub fn view_sql(view: &str, spec: &IngestSpec, path: &str) -> String {
    let mut options: Vec<(String, String)> = vec![("path".into(), path.into())];
    let has = |k: &str| {
        spec.options
            .iter()
            .any(|(key, _)| key.eq_ignore_ascii_case(k))
    };
    if spec.format == SourceFormat::Csv {
        for (k, v) in [("header", "true"), ("inferSchema", "true")] {
            if !has(k) {
                options.push((k.into(), v.into()));
            }
        }
    }
    options.extend(spec.options.iter().cloned());
    let options = options
        .iter()
        .map(|(k, v)| format!("`{k}` {}", quote(v)))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "CREATE OR REPLACE TEMPORARY VIEW `{view}` USING {} OPTIONS ({options})",
        spec.format.as_str()
    )
}

/// What the evolution mode would do with `sample` against the current schema.
pub fn evolution_sentences(
    mode: EvolutionMode,
    current: Option<(u32, &[SchemaField])>,
    sample: &[SchemaField],
) -> Vec<String> {
    let Some((version, fields)) = current else {
        return vec![format!(
            "The first run infers the schema from the files it takes (it becomes version 1); \
             on this sample that is: {}. Values that do not fit a column's type go to \
             {RESCUED_COLUMN}.",
            harbour_shared::schema_text(sample)
        )];
    };
    let known: HashSet<String> = fields.iter().map(|f| f.name.to_ascii_lowercase()).collect();
    let new: Vec<&SchemaField> = sample
        .iter()
        .filter(|f| !known.contains(&f.name.to_ascii_lowercase()))
        .collect();
    let mut out = Vec::new();
    if new.is_empty() {
        out.push(format!(
            "The sample has no columns beyond schema version {version}."
        ));
    } else {
        let names = new
            .iter()
            .map(|f| format!("{} ({})", f.name, f.data_type))
            .collect::<Vec<_>>()
            .join(", ");
        out.push(match mode {
            EvolutionMode::AddNewColumns => format!(
                "addNewColumns: the run would add {names} to the table as schema version {}.",
                version + 1
            ),
            EvolutionMode::Rescue => format!(
                "rescue: the schema stays at version {version}; the values of {names} would go \
                 to {RESCUED_COLUMN}."
            ),
            EvolutionMode::FailOnNewColumns => format!(
                "failOnNewColumns: the run would fail, naming {names}; add them with `harbour \
                 ingest update --schema` or change the mode."
            ),
            EvolutionMode::None => {
                format!("none: the schema stays at version {version}; {names} would be ignored.")
            }
        });
    }
    for f in fields {
        if let Some(s) = sample
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(&f.name) && s.data_type != f.data_type)
        {
            out.push(format!(
                "Column {} is {} in the table but looks like {} here: values that do not cast \
                 to {} go to {RESCUED_COLUMN} with their file name.",
                f.name, f.data_type, s.data_type, f.data_type
            ));
        }
    }
    out
}

impl Ingest {
    pub async fn preview(
        &self,
        spec: IngestSpec,
        rows_wanted: u32,
    ) -> Result<IngestPreview, Error> {
        let spec = validate::spec(spec)?;
        if !discover::listable(&spec.source_dir, &spec.glob) {
            return Err(Error::unavailable(
                "preview",
                "harbourd previews sources it can list itself: a local directory and a glob of \
                 '*' and '?'",
            ));
        }
        let existing = self.db({
            let name = spec.name.clone();
            move |c| {
                let Some(s) = rows::get(c, &name)? else {
                    return Ok(None);
                };
                Ok(Some((
                    rows::latest_schema(c, s.id)?,
                    rows::seen_paths(c, s.id)?,
                )))
            }
        });
        let existing = existing.await?;
        let (dir, glob) = (spec.source_dir.clone(), spec.glob.clone());
        let files = tokio::task::spawn_blocking(move || discover::list(&dir, &glob))
            .await
            .map_err(internal)?
            .map_err(|e| Error::invalid("source_dir", format!("cannot list it: {e}")))?;
        let seen: HashSet<String> = existing
            .as_ref()
            .map(|(_, seen)| seen.iter().cloned().collect())
            .unwrap_or_default();
        // What the next run would take, else (all taken) the newest files there are.
        let mut pool: Vec<String> = discover::unseen(&files, &seen)
            .into_iter()
            .map(|f| f.path.clone())
            .collect();
        if pool.is_empty() {
            pool = files.iter().rev().map(|f| f.path.clone()).collect();
        }
        pool.truncate(SAMPLE_FILES);
        if pool.is_empty() {
            return Err(Error::not_found(
                format!(
                    "files matching '{}' in {}",
                    if spec.glob.is_empty() {
                        "*"
                    } else {
                        &spec.glob
                    },
                    spec.source_dir
                ),
                "drop some files there first (a preview reads a sample of them)",
            ));
        }
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let view = format!("harbour_preview_{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let cluster = spec.cluster.clone();
        let sql = |query: String, limit: u32| SqlRequest {
            query,
            cluster: cluster.clone(),
            limit,
        };
        let path = sample_path(&spec.source_dir, &pool);
        self.spark
            .sql(sql(view_sql(&view, &spec, &path), 1))
            .await?;
        let described = self
            .spark
            .sql(sql(format!("DESCRIBE `{view}`"), 1000))
            .await;
        let limit = rows_wanted.clamp(1, MAX_ROWS);
        let sampled = self
            .spark
            .sql(sql(format!("SELECT * FROM `{view}`"), limit))
            .await;
        let _ = self
            .spark
            .sql(sql(format!("DROP VIEW IF EXISTS `{view}`"), 1))
            .await;
        let (described, sampled) = (described?, sampled?);
        let hints = &spec.schema_hints;
        // Spark adds this column when some lines do not parse; it is not a column of the data.
        let malformed = described
            .rows
            .iter()
            .any(|r| r.first().and_then(Option::as_deref) == Some("_corrupt_record"));
        let schema: Vec<SchemaField> = described
            .rows
            .iter()
            .filter_map(|r| {
                let name = r.first()?.clone()?;
                let ty = r.get(1)?.clone()?;
                (!name.starts_with('#') && !name.is_empty() && name != "_corrupt_record").then(
                    || SchemaField {
                        data_type: hints
                            .iter()
                            .find(|h| h.name.eq_ignore_ascii_case(&name))
                            .map_or(ty, |h| h.data_type.clone()),
                        name,
                    },
                )
            })
            .collect();
        let current = match (&existing, &spec.schema) {
            (Some((Some(v), _)), _) => Some((v.version, v.fields.clone())),
            (_, Some(given)) => Some((1, given.clone())),
            _ => None,
        };
        let mut evolution = evolution_sentences(
            spec.evolution,
            current.as_ref().map(|(v, f)| (*v, f.as_slice())),
            &schema,
        );
        if malformed {
            evolution.push(format!(
                "Some lines of the sample do not parse (shown in _corrupt_record): a run counts \
                 them as malformed and {}.",
                if spec.fail_on_malformed {
                    "fails (fail_on_malformed is on)"
                } else {
                    "sets them aside, out of the table"
                }
            ));
        }
        Ok(IngestPreview {
            schema,
            columns: sampled.columns.iter().map(|c| c.name.clone()).collect(),
            rows: sampled.rows,
            sample_files: pool,
            files_total: files.len() as u64,
            evolution,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use harbour_shared::parse_schema;

    #[test]
    fn samples_are_one_escaped_glob() {
        assert_eq!(sample_path("/in", &["/in/a.csv".into()]), "/in/a.csv");
        assert_eq!(
            sample_path("/in", &["/in/a.csv".into(), "/in/b{1}.csv".into()]),
            "/in/{a.csv,b\\{1\\}.csv}"
        );
        let spec = IngestSpec::new("o", "/in", SourceFormat::Csv, "o");
        assert_eq!(
            view_sql("v", &spec, "/in/a.csv"),
            "CREATE OR REPLACE TEMPORARY VIEW `v` USING csv OPTIONS (`path` '/in/a.csv', \
             `header` 'true', `inferSchema` 'true')"
        );
    }

    #[test]
    fn each_mode_says_what_it_would_do() {
        let table = parse_schema("id int, amount double").unwrap();
        let sample = parse_schema("id int, amount string, channel string").unwrap();
        let say = |m| evolution_sentences(m, Some((2, &table)), &sample).join(" ");
        assert!(say(EvolutionMode::AddNewColumns).contains("add channel (string)"));
        assert!(say(EvolutionMode::AddNewColumns).contains("version 3"));
        assert!(say(EvolutionMode::Rescue).contains("go to _rescued_data"));
        assert!(say(EvolutionMode::FailOnNewColumns).contains("fail, naming channel"));
        assert!(say(EvolutionMode::None).contains("ignored"));
        assert!(say(EvolutionMode::None).contains("Column amount is double"));
        let first = evolution_sentences(EvolutionMode::Rescue, None, &sample).join(" ");
        assert!(first.contains("version 1"), "{first}");
    }
}
