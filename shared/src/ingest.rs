//! Ingestion (an open-source Auto Loader): definitions that move files from a directory into
//! a parquet table, incrementally and exactly once, and what their runs did.
//!
//! An ingestion is a definition ([`IngestSpec`]); each execution is an [`IngestRun`], which is
//! backed by an ordinary pyspark run (logs, progress, kill) unless discovery found no new
//! files. The table's schema is kept as numbered [`SchemaVersion`]s.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, RunId, UnixMillis};

/// The name of the column that collects values that do not fit the schema, as JSON with the
/// source file under `_file_path`.
pub const RESCUED_COLUMN: &str = "_rescued_data";

/// The file formats an ingestion reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SourceFormat {
    Csv,
    Json,
    Parquet,
    Orc,
    Text,
}

impl SourceFormat {
    pub const ALL: [SourceFormat; 5] =
        [Self::Csv, Self::Json, Self::Parquet, Self::Orc, Self::Text];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Json => "json",
            Self::Parquet => "parquet",
            Self::Orc => "orc",
            Self::Text => "text",
        }
    }
}

impl fmt::Display for SourceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SourceFormat {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        let s = if s == "jsonl" || s == "ndjson" {
            "json"
        } else {
            &s
        };
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "format",
                    format!("'{s}' is not a source format; use csv, json, parquet, orc or text"),
                )
            })
    }
}

/// What happens when new files bring columns the table does not have.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EvolutionMode {
    /// The new columns are added to the table (a new schema version).
    #[default]
    AddNewColumns,
    /// The schema stays; the new columns' values go to `_rescued_data`.
    Rescue,
    /// The run fails, naming the new columns.
    FailOnNewColumns,
    /// The schema stays and the new columns are ignored.
    None,
}

impl EvolutionMode {
    pub const ALL: [EvolutionMode; 4] = [
        Self::AddNewColumns,
        Self::Rescue,
        Self::FailOnNewColumns,
        Self::None,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AddNewColumns => "addNewColumns",
            Self::Rescue => "rescue",
            Self::FailOnNewColumns => "failOnNewColumns",
            Self::None => "none",
        }
    }
}

impl fmt::Display for EvolutionMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EvolutionMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                Error::invalid(
                    "evolution",
                    format!(
                        "'{s}' is not an evolution mode; use addNewColumns, rescue, \
                         failOnNewColumns or none"
                    ),
                )
            })
    }
}

/// When an ingestion runs by itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum IngestTrigger {
    /// Only when asked (`harbour ingest run`).
    #[default]
    Manual,
    /// Every this many seconds after the previous fire.
    Every { secs: u64 },
    /// A cron expression, as jobs take.
    Cron(String),
}

impl fmt::Display for IngestTrigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Manual => f.write_str("manual"),
            Self::Every { secs } => write!(f, "every {secs}s"),
            Self::Cron(expr) => write!(f, "cron '{expr}'"),
        }
    }
}

/// One column: a name and a Spark SQL type as Spark writes it (`int`, `bigint`, `string`,
/// `double`, `timestamp`, `struct<a:int>`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaField {
    pub name: String,
    pub data_type: String,
}

impl FromStr for SchemaField {
    type Err = Error;

    /// Parses `name type` or `name:type`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (name, ty) = s
            .split_once(|c: char| c == ':' || c.is_whitespace())
            .map(|(n, t)| (n.trim(), t.trim()))
            .filter(|(n, t)| !n.is_empty() && !t.is_empty())
            .ok_or_else(|| {
                Error::invalid(
                    "schema",
                    format!("'{s}' is not a column; write it as 'name type', e.g. 'amount double'"),
                )
            })?;
        Ok(Self {
            name: name.trim_matches('`').to_owned(),
            data_type: ty.to_ascii_lowercase(),
        })
    }
}

/// Parses `a int, b string` (commas between columns; no commas inside types at the top
/// level are supported except within `<...>`).
pub fn parse_schema(text: &str) -> Result<Vec<SchemaField>, Error> {
    let mut fields = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '<' | '(' => depth += 1,
            '>' | ')' => depth -= 1,
            ',' if depth == 0 => {
                fields.push(text[start..i].parse()?);
                start = i + 1;
            }
            _ => {}
        }
    }
    if !text[start..].trim().is_empty() {
        fields.push(text[start..].parse()?);
    }
    Ok(fields)
}

/// A schema as text: `a int, b string`.
pub fn schema_text(fields: &[SchemaField]) -> String {
    fields
        .iter()
        .map(|f| format!("{} {}", f.name, f.data_type))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Everything that defines an ingestion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestSpec {
    /// Unique among ingestions: letters, digits, `-`, `_`.
    pub name: String,
    /// A directory harbourd (and the cluster) can read: an absolute path, or an `s3a://` URI
    /// when the runtime has the Hadoop AWS jars.
    pub source_dir: String,
    /// Which file names in it to take (`*.csv`); `*` when empty.
    pub glob: String,
    pub format: SourceFormat,
    /// Reader options (`header`, `sep`, `quote`, ...), passed to Spark as they are.
    pub options: Vec<(String, String)>,
    /// The SQL catalog table the data lands in.
    pub target_table: String,
    /// Where the table's parquet files go; `<data dir>/tables/<target_table>` when unset.
    pub target_path: Option<String>,
    /// The schema to start from; inferred from the first files when unset.
    pub schema: Option<Vec<SchemaField>>,
    /// Types that override what inference says, for the columns named.
    pub schema_hints: Vec<SchemaField>,
    pub evolution: EvolutionMode,
    /// Fail a run that meets malformed rows instead of counting and setting them aside.
    pub fail_on_malformed: bool,
    /// At most this many files per micro-batch (0: all new files in one batch).
    pub max_files_per_batch: u32,
    pub trigger: IngestTrigger,
    /// The cluster runs are submitted to; `local` when unset.
    pub cluster: Option<String>,
}

impl IngestSpec {
    /// A spec with defaults for everything but the source and the target.
    pub fn new(name: &str, source_dir: &str, format: SourceFormat, target_table: &str) -> Self {
        Self {
            name: name.to_owned(),
            source_dir: source_dir.to_owned(),
            glob: String::new(),
            format,
            options: Vec::new(),
            target_table: target_table.to_owned(),
            target_path: None,
            schema: None,
            schema_hints: Vec::new(),
            evolution: EvolutionMode::default(),
            fail_on_malformed: false,
            max_files_per_batch: 0,
            trigger: IngestTrigger::Manual,
            cluster: None,
        }
    }
}

/// A change to an ingestion: `None` leaves a field as it is. Source, format and target are
/// fixed once files were ingested (the checkpoint is about them); make a new ingestion.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestPatch {
    pub glob: Option<String>,
    pub options: Option<Vec<(String, String)>>,
    /// A new schema: becomes the next schema version.
    pub schema: Option<Vec<SchemaField>>,
    pub schema_hints: Option<Vec<SchemaField>>,
    pub evolution: Option<EvolutionMode>,
    pub fail_on_malformed: Option<bool>,
    pub max_files_per_batch: Option<u32>,
    pub trigger: Option<IngestTrigger>,
    pub cluster: Option<Option<String>>,
}

impl IngestPatch {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// How an ingestion run ended, or that it has not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IngestRunState {
    /// Its Spark run is queued or running.
    Running,
    Succeeded,
    /// Discovery found no new files: finished without starting Spark.
    NoNewFiles,
    Failed,
    Cancelled,
}

impl IngestRunState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::NoNewFiles => "no-new-files",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn is_active(self) -> bool {
        self == Self::Running
    }
}

impl fmt::Display for IngestRunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What made an ingestion run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IngestRunTrigger {
    Manual,
    Schedule,
    Retry,
}

impl IngestRunTrigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Schedule => "schedule",
            Self::Retry => "retry",
        }
    }
}

/// One execution of an ingestion and what it moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestRun {
    pub id: i64,
    pub ingestion: String,
    /// The Spark run behind it; none when no new files were found.
    pub run_id: Option<RunId>,
    pub trigger: IngestRunTrigger,
    pub state: IngestRunState,
    pub started_ms: UnixMillis,
    pub ended_ms: Option<UnixMillis>,
    /// Micro-batches committed by this run.
    pub batches: u32,
    pub files: u64,
    pub rows: u64,
    pub bytes: u64,
    /// Rows that could not be parsed (set aside, not in the table).
    pub malformed_rows: u64,
    /// Rows with something in `_rescued_data`.
    pub rescued_rows: u64,
    /// The schema version the table had when the run ended.
    pub schema_version: Option<u32>,
    /// Why it ended as it did, in words.
    pub message: String,
}

impl IngestRun {
    pub fn duration_ms(&self, now_ms: UnixMillis) -> i64 {
        self.ended_ms
            .unwrap_or(now_ms)
            .saturating_sub(self.started_ms)
            .max(0)
    }
}

/// An ingestion with what its runs did so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ingestion {
    pub id: i64,
    pub spec: IngestSpec,
    /// The table's files, as resolved (the spec's or the default location).
    pub target_path: String,
    pub paused: bool,
    pub created_ms: UnixMillis,
    pub updated_ms: UnixMillis,
    /// When the trigger fires next (none when manual or paused).
    pub next_fire_ms: Option<UnixMillis>,
    pub last_run: Option<IngestRun>,
    pub schema_version: Option<u32>,
    pub files_total: u64,
    pub rows_total: u64,
}

impl Ingestion {
    /// `paused`, `running` or the last run's end, as one word.
    pub fn state_label(&self) -> &'static str {
        match (&self.last_run, self.paused) {
            (Some(run), _) if run.state.is_active() => "running",
            (_, true) => "paused",
            (Some(run), false) if run.state == IngestRunState::Failed => "failing",
            _ => "idle",
        }
    }
}

/// One version of an ingestion's schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaVersion {
    pub version: u32,
    pub fields: Vec<SchemaField>,
    pub created_ms: UnixMillis,
    /// The ingestion run that made it (none for a given or updated schema).
    pub ingest_run: Option<i64>,
    /// What changed, in words.
    pub change: String,
}

/// A file an ingestion run took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestFile {
    pub path: String,
    pub bytes: u64,
    pub modified_ms: UnixMillis,
    pub batch_id: u64,
    pub ingest_run: i64,
}

/// What a preview saw: the inferred schema, the first rows, and what the evolution mode
/// would do with them. Nothing is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestPreview {
    pub schema: Vec<SchemaField>,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
    /// The files read, a sample of `files_total`.
    pub sample_files: Vec<String>,
    pub files_total: u64,
    /// Sentences: what the ingestion's evolution mode would do with this sample.
    pub evolution: Vec<String>,
}

/// What running an ingestion now would cost, and how that was worked out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngestEstimate {
    pub backlog_files: u64,
    pub backlog_bytes: u64,
    /// Files and bytes that arrived in the last 24 hours, per hour.
    pub arrival_files_per_hour: f64,
    pub arrival_bytes_per_hour: f64,
    pub throughput_bytes_per_sec: f64,
    /// Whether the throughput was measured on earlier runs (else the calibrated default).
    pub measured: bool,
    pub cluster: String,
    pub cores: u32,
    pub expected_secs: f64,
    pub rate_per_core_hour: f64,
    pub cost: f64,
    /// How the estimate was made, in a sentence or two.
    pub how: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_parse_with_nested_types() {
        let s = parse_schema(
            "id bigint, tags array<string>, m map<string,int>, p:struct<a:int,b:string>",
        )
        .unwrap();
        assert_eq!(s.len(), 4);
        assert_eq!(s[2].data_type, "map<string,int>");
        assert_eq!(s[3].name, "p");
        assert_eq!(s[3].data_type, "struct<a:int,b:string>");
        assert!(parse_schema("justaname").is_err());
        assert_eq!(schema_text(&s[..2]), "id bigint, tags array<string>");
    }

    #[test]
    fn formats_and_modes_parse_with_hints() {
        assert_eq!("CSV".parse::<SourceFormat>().unwrap(), SourceFormat::Csv);
        assert_eq!("jsonl".parse::<SourceFormat>().unwrap(), SourceFormat::Json);
        assert!(
            "xml"
                .parse::<SourceFormat>()
                .unwrap_err()
                .to_string()
                .contains("csv, json")
        );
        assert_eq!(
            "failonnewcolumns".parse::<EvolutionMode>().unwrap(),
            EvolutionMode::FailOnNewColumns
        );
    }
}
