//! Checks of ingestion definitions: every refusal names the field and says what to do.

use std::path::Path;

use harbour_shared::{Error, IngestSpec, IngestTrigger, SchemaField};

use crate::spark::valid_name;

/// Spark SQL types a schema may name (plus `decimal(p,s)` and nested `array<>`, `map<>`,
/// `struct<>`, which Spark itself checks when the run parses them).
const TYPES: &[&str] = &[
    "string",
    "int",
    "integer",
    "bigint",
    "long",
    "smallint",
    "short",
    "tinyint",
    "byte",
    "double",
    "float",
    "real",
    "boolean",
    "date",
    "timestamp",
    "timestamp_ntz",
    "binary",
    "decimal",
];

pub fn is_remote(dir: &str) -> bool {
    dir.contains("://")
}

/// A checked and normalised spec.
pub fn spec(mut spec: IngestSpec) -> Result<IngestSpec, Error> {
    spec.name = spec.name.trim().to_owned();
    valid_name("name", &spec.name)?;
    spec.source_dir = spec.source_dir.trim().trim_end_matches('/').to_owned();
    source_dir(&spec.source_dir)?;
    spec.glob = spec.glob.trim().to_owned();
    if spec.glob.contains('/') {
        return Err(Error::invalid(
            "glob",
            format!(
                "'{}' has a '/'; the glob matches file names in the source directory (like \
                 '*.csv'): put the directories in the source",
                spec.glob
            ),
        ));
    }
    for (k, _) in &spec.options {
        if k.trim().is_empty() {
            return Err(Error::invalid(
                "options",
                "an option has an empty name; write KEY=VALUE",
            ));
        }
    }
    spec.target_table = spec.target_table.trim().to_owned();
    valid_name("target_table", &spec.target_table)?;
    if let Some(path) = &spec.target_path {
        let path = path.trim().trim_end_matches('/');
        if !path.starts_with('/') && !is_remote(path) {
            return Err(Error::invalid(
                "target_path",
                format!("'{path}' is not absolute; give an absolute path or a URI"),
            ));
        }
        spec.target_path = Some(path.to_owned());
    }
    if let Some(fields) = &spec.schema {
        if fields.is_empty() {
            return Err(Error::invalid(
                "schema",
                "it has no columns; leave it out to infer the schema from the first files",
            ));
        }
        schema("schema", fields)?;
    }
    schema("schema_hints", &spec.schema_hints)?;
    match &spec.trigger {
        IngestTrigger::Manual => {}
        IngestTrigger::Every { secs } if *secs == 0 => {
            return Err(Error::invalid(
                "trigger",
                "an interval of 0s would run without pause; give at least 1s (e.g. --every 5m)",
            ));
        }
        IngestTrigger::Every { .. } => {}
        IngestTrigger::Cron(expr) => {
            crate::runs::cron::parse(expr).map_err(|why| Error::invalid("trigger", why))?;
        }
    }
    if let Some(cluster) = &spec.cluster {
        let cluster = cluster.trim();
        spec.cluster = (!cluster.is_empty()).then(|| cluster.to_owned());
    }
    Ok(spec)
}

fn source_dir(dir: &str) -> Result<(), Error> {
    if dir.is_empty() {
        return Err(Error::invalid(
            "source_dir",
            "it is empty; give the directory files arrive in",
        ));
    }
    if is_remote(dir) {
        if dir.starts_with("s3a://") || dir.starts_with("hdfs://") || dir.starts_with("file://") {
            return Ok(());
        }
        return Err(Error::invalid(
            "source_dir",
            format!(
                "'{dir}' has a scheme harbour does not read; use an absolute path, s3a:// (needs \
                 the Hadoop AWS jars in the runtime) or hdfs://"
            ),
        ));
    }
    if !dir.starts_with('/') {
        return Err(Error::invalid(
            "source_dir",
            format!("'{dir}' is not absolute; give an absolute path"),
        ));
    }
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::invalid(
            "source_dir",
            format!("{dir} is a file, not a directory; give the directory the files arrive in"),
        )),
        Err(e) => Err(Error::invalid(
            "source_dir",
            format!("{dir} does not exist or harbourd cannot read it ({e}); create it first"),
        )),
    }
}

fn schema(field: &str, fields: &[SchemaField]) -> Result<(), Error> {
    let mut seen = std::collections::HashSet::new();
    for f in fields {
        if f.name.trim().is_empty() {
            return Err(Error::invalid(field, "a column has no name"));
        }
        if !seen.insert(f.name.to_ascii_lowercase()) {
            return Err(Error::invalid(
                field,
                format!("column '{}' appears twice", f.name),
            ));
        }
        if f.name.eq_ignore_ascii_case(harbour_shared::RESCUED_COLUMN) {
            return Err(Error::invalid(
                field,
                "_rescued_data is added by harbour; leave it out of the schema",
            ));
        }
        let ty = f.data_type.trim().to_ascii_lowercase();
        let base = ty.split(['(', '<']).next().unwrap_or("");
        let nested = ["array", "map", "struct"].contains(&base) && ty.ends_with('>');
        if !nested && !TYPES.contains(&base) {
            return Err(Error::invalid(
                field,
                format!(
                    "'{}' of column '{}' is not a Spark SQL type; use string, int, bigint, \
                     double, boolean, date, timestamp, decimal(p,s), array<..>, map<..> or \
                     struct<..>",
                    f.data_type, f.name
                ),
            ));
        }
    }
    Ok(())
}

/// An `s3a://` source or target needs the S3A connector among the jars Spark loads:
/// `hadoop-aws-<the runtime's Hadoop version>.jar` and the AWS SDK it calls (the v2
/// `bundle-*.jar` for Hadoop 3.4 and later, `aws-java-sdk-bundle-*.jar` before). Neither
/// comes with the PyPI pyspark package. `jar_names` are the file names of the configured
/// jars and of the runtime's own; `hadoop` is the runtime's Hadoop version when known.
pub fn s3a_connector(
    field: &str,
    uri: &str,
    jar_names: &[String],
    hadoop: Option<&str>,
) -> Result<(), Error> {
    if !uri.starts_with("s3a://") {
        return Ok(());
    }
    let has = |prefixes: &[&str]| {
        jar_names
            .iter()
            .any(|n| n.ends_with(".jar") && prefixes.iter().any(|p| n.starts_with(p)))
    };
    let mut missing = Vec::new();
    if !has(&["hadoop-aws-"]) {
        missing.push(format!(
            "hadoop-aws-{}.jar",
            hadoop.unwrap_or("<Hadoop version>")
        ));
    }
    if !has(&["bundle-", "aws-java-sdk-bundle-"]) {
        missing.push("the AWS SDK bundle (bundle-2.x.jar)".to_owned());
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::invalid(
        field,
        format!(
            "'{uri}' is on S3, and the Spark runtime has no S3A connector ({} missing): add \
             them to [spark] jars in harbourd.toml (or the runtime's jars directory), restart \
             harbourd and try again; see docs/ingest.md",
            missing.join(" and ")
        ),
    ))
}

/// The Hadoop version of a Spark install, from its `hadoop-client-api-<version>.jar`.
pub fn hadoop_version(jar_names: &[String]) -> Option<&str> {
    jar_names.iter().find_map(|n| {
        n.strip_prefix("hadoop-client-api-")
            .and_then(|v| v.strip_suffix(".jar"))
    })
}

/// The target directory must be new or empty (an ingestion owns its table's files) and must
/// not be inside the source (the run would ingest its own output).
pub fn target_is_free(target: &str, source: &str) -> Result<(), Error> {
    if !is_remote(source) && !is_remote(target) {
        let (t, s) = (Path::new(target), Path::new(source));
        if t.starts_with(s) || s.starts_with(t) {
            return Err(Error::invalid(
                "target_path",
                format!("{target} overlaps the source {source}; keep the table's files elsewhere"),
            ));
        }
    }
    if is_remote(target) {
        return Ok(());
    }
    match std::fs::read_dir(target) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                Err(Error::conflict(format!(
                    "{target} has files already; an ingestion owns its target directory: pick a \
                     new or empty one (or delete the old table's files)"
                )))
            } else {
                Ok(())
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::invalid(
            "target_path",
            format!("cannot read {target}: {e}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use harbour_shared::{SourceFormat, parse_schema};

    fn base(dir: &str) -> IngestSpec {
        IngestSpec::new("orders", dir, SourceFormat::Csv, "orders")
    }

    #[test]
    fn refuses_bad_definitions_by_field() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        assert!(spec(base(d)).is_ok());
        let err = spec(base("/no/such/dir")).unwrap_err().to_string();
        assert!(
            err.contains("source_dir") && err.contains("does not exist"),
            "{err}"
        );
        let err = spec(base("relative/dir")).unwrap_err().to_string();
        assert!(err.contains("not absolute"), "{err}");
        let err = spec(base("ftp://x/y")).unwrap_err().to_string();
        assert!(err.contains("s3a://"), "{err}");
        assert!(spec(base("s3a://bucket/in")).is_ok());
        let mut s = base(d);
        s.glob = "sub/*.csv".into();
        assert!(spec(s).unwrap_err().to_string().contains("glob"));
        let mut s = base(d);
        s.schema = Some(parse_schema("id int, amount money").unwrap());
        let err = spec(s).unwrap_err().to_string();
        assert!(err.contains("'money'"), "{err}");
        let mut s = base(d);
        s.trigger = IngestTrigger::Cron("every day".into());
        assert!(spec(s).unwrap_err().to_string().contains("cron"));
        let mut s = base(d);
        s.name = "bad name".into();
        assert!(spec(s).unwrap_err().to_string().contains("name"));
    }

    #[test]
    fn s3a_needs_the_connector_jars() {
        let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let runtime = names(&["hadoop-client-api-3.5.0.jar", "spark-core_2.13-4.3.0.jar"]);
        let err = s3a_connector(
            "source_dir",
            "s3a://b/in",
            &runtime,
            hadoop_version(&runtime),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("source_dir")
                && err.contains("hadoop-aws-3.5.0.jar")
                && err.contains("bundle-2.x.jar")
                && err.contains("[spark] jars"),
            "{err}"
        );
        let only_aws = names(&["hadoop-aws-3.5.0.jar"]);
        let err = s3a_connector("target_path", "s3a://b/t", &only_aws, None)
            .unwrap_err()
            .to_string();
        assert!(
            !err.contains("hadoop-aws") && err.contains("bundle"),
            "{err}"
        );
        let both = names(&["hadoop-aws-3.5.0.jar", "bundle-2.29.52.jar"]);
        assert!(s3a_connector("source_dir", "s3a://b/in", &both, None).is_ok());
        let v1 = names(&["hadoop-aws-3.3.4.jar", "aws-java-sdk-bundle-1.12.262.jar"]);
        assert!(s3a_connector("source_dir", "s3a://b/in", &v1, None).is_ok());
        // Other schemes and local paths need nothing.
        assert!(s3a_connector("source_dir", "hdfs://nn/in", &[], None).is_ok());
        assert!(s3a_connector("source_dir", "/data/in", &[], None).is_ok());
    }

    #[test]
    fn targets_must_be_empty_and_apart_from_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("in");
        let tgt = dir.path().join("out");
        std::fs::create_dir_all(&src).unwrap();
        let (s, t) = (src.to_str().unwrap(), tgt.to_str().unwrap());
        assert!(target_is_free(t, s).is_ok());
        assert!(target_is_free(&format!("{s}/table"), s).is_err());
        std::fs::create_dir_all(&tgt).unwrap();
        std::fs::write(tgt.join("x.parquet"), b"x").unwrap();
        let err = target_is_free(t, s).unwrap_err().to_string();
        assert!(err.contains("has files already"), "{err}");
    }
}
