//! Checks of what clients send, before anything is stored or run. Each refusal names the
//! field and says how to make it right.

use std::path::Path;

use harbour_shared::{Error, JobKind, JobSource, JobSpec};

use crate::runs::cron;

const MAX_NAME: usize = 100;
const MAX_CODE: usize = 1024 * 1024;
const MAX_ARGS: usize = 4096;
/// The kernel's limit for one argv string (MAX_ARG_STRLEN).
const MAX_ARG: usize = 128 * 1024;
const MAX_RETRIES: u32 = 100;
const MAX_BACKOFF_SECS: u64 = 86_400;
const MAX_TIMEOUT_SECS: u64 = 30 * 86_400;

/// Whether `name` is valid as a defined job's name.
pub fn is_job_name(name: &str) -> bool {
    job_name(name).is_ok()
}

/// A defined job's name: letters, digits, `-`, `_`, `.`; not only digits (digits are ids).
pub fn job_name(name: &str) -> Result<(), Error> {
    let why = if name.is_empty() {
        "a job needs a name (--name)".to_owned()
    } else if name.chars().count() > MAX_NAME {
        format!("'{name}' is longer than {MAX_NAME} characters")
    } else if !name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        format!("'{name}' may only hold letters, digits, '-', '_' and '.'")
    } else if name.chars().all(|c| c.is_ascii_digit()) {
        format!("'{name}' is all digits, which would read as a job id; add a letter")
    } else {
        return Ok(());
    };
    Err(Error::invalid("name", why))
}

/// Checks everything but the name, and tidies what can be tidied.
pub fn spec(mut spec: JobSpec, spark_configured: bool) -> Result<JobSpec, Error> {
    match &spec.source {
        JobSource::Code(code) => {
            if code.trim().is_empty() {
                return Err(Error::invalid(
                    "code",
                    "the code is empty; give a command with -c or a FILE",
                ));
            }
            if code.len() > MAX_CODE {
                return Err(Error::invalid(
                    "code",
                    format!(
                        "{} bytes is more than {MAX_CODE}; put it in a file",
                        code.len()
                    ),
                ));
            }
            if code.contains('\0') {
                return Err(Error::invalid("code", "it holds a NUL byte"));
            }
        }
        JobSource::File(path) => script(path)?,
    }
    if spec.kind == JobKind::Pyspark && !spark_configured {
        return Err(Error::unavailable(
            "Spark runtime",
            "not configured: run `harbourd runtime install` (or set [spark] home in \
             harbourd.toml to a Spark install with bin/spark-submit), then restart harbourd",
        ));
    }
    if spec.kind != JobKind::Pyspark
        && (spec.cluster.is_some() || !spec.py_files.is_empty() || !spec.jars.is_empty())
    {
        return Err(Error::invalid(
            "cluster",
            "--cluster, --py-files and --jars are for pyspark runs only",
        ));
    }
    if let Some(cluster) = spec.cluster.take() {
        let cluster = cluster.trim().to_owned();
        if !cluster.is_empty() {
            spec.cluster = Some(cluster);
        }
    }
    for path in spec.py_files.iter().chain(&spec.jars) {
        if !Path::new(path).is_absolute() {
            return Err(Error::invalid(
                "py-files/jars",
                format!("'{path}' is relative; give absolute paths"),
            ));
        }
    }
    if spec.args.len() > MAX_ARGS {
        return Err(Error::invalid(
            "args",
            format!("{} arguments is more than {MAX_ARGS}", spec.args.len()),
        ));
    }
    if let Some(arg) = spec
        .args
        .iter()
        .find(|a| a.contains('\0') || a.len() > MAX_ARG)
    {
        let why = if arg.contains('\0') {
            "holds a NUL byte"
        } else {
            "is longer than 128 KiB"
        };
        return Err(Error::invalid("args", format!("an argument {why}")));
    }
    for var in &spec.env {
        let parsed: harbour_shared::EnvVar = format!("{}={}", var.key, var.value).parse()?;
        if parsed.key != var.key || var.value.contains('\0') {
            return Err(Error::invalid(
                "env",
                format!("'{}' is not a valid variable", var.key),
            ));
        }
    }
    if let Some(cwd) = &spec.cwd {
        let path = Path::new(cwd);
        if !path.is_absolute() {
            return Err(Error::invalid(
                "cwd",
                format!("'{cwd}' is relative; give an absolute path"),
            ));
        }
        if !path.is_dir() {
            return Err(Error::invalid(
                "cwd",
                format!("{cwd} is not a directory harbourd can see"),
            ));
        }
    }
    if let Some(schedule) = spec.schedule.take() {
        let schedule = schedule.trim().to_owned();
        cron::parse(&schedule).map_err(|why| Error::invalid("schedule", why))?;
        spec.schedule = Some(schedule);
    }
    if spec.retries > MAX_RETRIES {
        return Err(Error::invalid(
            "retries",
            format!("{} is more than {MAX_RETRIES}", spec.retries),
        ));
    }
    if spec.retry_backoff_secs > MAX_BACKOFF_SECS {
        return Err(Error::invalid(
            "retry_backoff",
            format!(
                "{}s is more than a day ({MAX_BACKOFF_SECS}s)",
                spec.retry_backoff_secs
            ),
        ));
    }
    match spec.timeout_secs {
        Some(0) => {
            return Err(Error::invalid(
                "timeout",
                "0 seconds would stop every run at once; leave it out for no timeout",
            ));
        }
        Some(t) if t > MAX_TIMEOUT_SECS => {
            return Err(Error::invalid(
                "timeout",
                format!("{t}s is more than 30 days"),
            ));
        }
        _ => {}
    }
    if spec
        .spark_conf
        .iter()
        .any(|(k, _)| k.trim().is_empty() || k.contains('='))
    {
        return Err(Error::invalid(
            "conf",
            "a Spark conf key is empty or holds '='; write --conf key=value",
        ));
    }
    Ok(spec)
}

/// A script path must be absolute and name a file the daemon can read.
fn script(path: &str) -> Result<(), Error> {
    let p = Path::new(path);
    if !p.is_absolute() {
        return Err(Error::invalid(
            "file",
            format!("'{path}' is relative; the daemon needs an absolute path"),
        ));
    }
    match std::fs::metadata(p) {
        Ok(meta) if meta.is_file() => match std::fs::File::open(p) {
            Ok(_) => Ok(()),
            Err(e) => Err(Error::invalid(
                "file",
                format!("harbourd cannot read {path}: {e}"),
            )),
        },
        Ok(_) => Err(Error::invalid(
            "file",
            format!("{path} is not a regular file"),
        )),
        Err(e) => Err(Error::invalid(
            "file",
            format!("{path}: {e}; check the path"),
        )),
    }
}

/// The name a one-off submission is shown by: the script's file name or the code's first
/// line, shortened.
pub fn one_off_name(spec: &JobSpec) -> String {
    let base = match &spec.source {
        JobSource::File(path) => Path::new(path)
            .file_name()
            .map_or_else(|| path.clone(), |f| f.to_string_lossy().into_owned()),
        JobSource::Code(code) => code
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim()
            .to_owned(),
    };
    let mut name: String = base.chars().take(48).collect();
    if base.chars().count() > 48 {
        name.push('…');
    }
    name
}

/// A container id or name as the engine accepts it; anything else would be a path in the
/// engine's URL.
pub fn container_id(id: &str) -> Result<String, Error> {
    let id = id.trim();
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(id.to_owned())
    } else {
        Err(Error::invalid(
            "container",
            format!("'{id}' is not a container id or name"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use harbour_shared::EnvVar;

    fn shell(code: &str) -> JobSpec {
        JobSpec::new(JobKind::Shell, JobSource::Code(code.into()))
    }

    fn field(err: Error) -> String {
        match err {
            Error::Invalid { field, .. } => field,
            Error::Unavailable { component, .. } => component,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn names() {
        assert!(job_name("nightly-etl_v2.1").is_ok());
        for bad in ["", "12", "has space", "semi;colon", &"x".repeat(101)] {
            assert!(job_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refuses_bad_specs_naming_the_field() {
        assert_eq!(field(spec(shell("  \n"), false).unwrap_err()), "code");
        let missing = JobSpec::new(
            JobKind::Python,
            JobSource::File("/no/such/script.py".into()),
        );
        assert_eq!(field(spec(missing, false).unwrap_err()), "file");
        let relative = JobSpec::new(JobKind::Python, JobSource::File("script.py".into()));
        assert_eq!(field(spec(relative, false).unwrap_err()), "file");
        let mut cron = shell("true");
        cron.schedule = Some("every day".into());
        assert_eq!(field(spec(cron, false).unwrap_err()), "schedule");
        let mut env = shell("true");
        env.env = vec![EnvVar::new("1BAD", "x")];
        assert_eq!(field(spec(env, false).unwrap_err()), "env");
        let mut timeout = shell("true");
        timeout.timeout_secs = Some(0);
        assert_eq!(field(spec(timeout, false).unwrap_err()), "timeout");
        let mut cwd = shell("true");
        cwd.cwd = Some("relative/dir".into());
        assert_eq!(field(spec(cwd, false).unwrap_err()), "cwd");
        let pyspark = JobSpec::new(JobKind::Pyspark, JobSource::Code("print(1)".into()));
        let err = spec(pyspark, false).unwrap_err();
        assert!(
            err.to_string()
                .contains("Spark runtime unavailable: not configured"),
            "{err}"
        );
    }

    #[test]
    fn one_off_names_are_short_and_readable() {
        assert_eq!(
            one_off_name(&shell("\n echo hi; sleep 2\nmore")),
            "echo hi; sleep 2"
        );
        let file = JobSpec::new(JobKind::Python, JobSource::File("/srv/jobs/etl.py".into()));
        assert_eq!(one_off_name(&file), "etl.py");
        assert_eq!(one_off_name(&shell(&"y".repeat(60))).chars().count(), 49);
    }
}
