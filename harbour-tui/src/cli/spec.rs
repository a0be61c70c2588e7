//! From command-line arguments to the requests the daemon takes: a [`JobSpec`] for `submit` and
//! `jobs create`, a [`JobPatch`] for `jobs update`.
//!
//! Paths are resolved here, against the directory the CLI runs in, because the daemon runs
//! elsewhere: a relative path means nothing to it. Pure apart from checking that a FILE exists.

use std::path::{Component, Path, PathBuf};

use harbour_shared::{JobKind, JobPatch, JobSource, JobSpec};

use super::args::{JobCreateArgs, JobUpdateArgs, RunOptions, SourceArgs, SubmitArgs};
use super::error::CliError;

/// The spec `harbour submit` sends; relative paths are taken against `base`.
pub fn submit_spec(args: &SubmitArgs, base: &Path) -> Result<JobSpec, CliError> {
    let source = source(&args.source, base)?;
    let mut spec = JobSpec::new(JobKind::from(args.kind), source);
    spec.name = args.name.clone().unwrap_or_default();
    apply_options(&mut spec, &args.options, base)?;
    Ok(spec)
}

/// The spec `harbour jobs create` sends; relative paths are taken against `base`.
pub fn create_spec(args: &JobCreateArgs, base: &Path) -> Result<JobSpec, CliError> {
    if args.name.trim().is_empty() {
        return Err(CliError::usage("--name must not be empty"));
    }
    let source = source(&args.source, base)?;
    let mut spec = JobSpec::new(JobKind::from(args.kind), source);
    spec.name = args.name.clone();
    spec.schedule = args.schedule.clone();
    spec.allow_overlap = args.allow_overlap;
    apply_options(&mut spec, &args.options, base)?;
    Ok(spec)
}

/// The patch `harbour jobs update` sends. An empty patch is an error that names the flags.
pub fn update_patch(args: &JobUpdateArgs, base: &Path) -> Result<JobPatch, CliError> {
    let source = match (&args.source.file, &args.source.code) {
        (Some(file), _) => Some(JobSource::File(script_path(file, base)?)),
        (None, Some(code)) => Some(JobSource::Code(code.clone())),
        (None, None) => None,
    };
    let cwd = match (&args.cwd, args.no_cwd) {
        (Some(dir), _) => Some(Some(dir_path(dir, base)?)),
        (None, true) => Some(None),
        (None, false) => None,
    };
    let patch = JobPatch {
        name: args.name.clone(),
        kind: args.kind.map(Into::into),
        source,
        args: if args.no_args {
            Some(Vec::new())
        } else {
            args.args.clone()
        },
        env: list_change(
            &[args.env.clone(), args.secrets.clone()].concat(),
            args.no_env,
        ),
        cwd,
        schedule: optional_change(args.schedule.clone(), args.no_schedule),
        allow_overlap: if args.allow_overlap {
            Some(true)
        } else if args.no_allow_overlap {
            Some(false)
        } else {
            None
        },
        retries: args.retries,
        retry_backoff_secs: args.retry_backoff,
        timeout_secs: optional_change(args.timeout, args.no_timeout),
        spark_conf: list_change(&args.conf, args.no_conf),
        cluster: None,
    };
    if patch.is_empty() {
        return Err(CliError::usage(
            "nothing to change: give at least one of FILE, -c/--code, --name, --kind, --schedule, \
             --no-schedule, --allow-overlap, --no-allow-overlap, --retries, --retry-backoff, \
             --timeout, --no-timeout, --env, --no-env, --cwd, --no-cwd, --conf, --no-conf, \
             --no-args, or `-- ARGS`",
        ));
    }
    Ok(patch)
}

/// A new value, a clear, or no change.
fn optional_change<T>(value: Option<T>, clear: bool) -> Option<Option<T>> {
    match (value, clear) {
        (Some(v), _) => Some(Some(v)),
        (None, true) => Some(None),
        (None, false) => None,
    }
}

/// A list replaced by the values given, emptied by its `--no-` flag, or left alone.
fn list_change<T: Clone>(values: &[T], clear: bool) -> Option<Vec<T>> {
    if clear {
        Some(Vec::new())
    } else if values.is_empty() {
        None
    } else {
        Some(values.to_vec())
    }
}

fn apply_options(spec: &mut JobSpec, options: &RunOptions, base: &Path) -> Result<(), CliError> {
    spec.args = options.args.clone();
    spec.env = [options.env.clone(), options.secrets.clone()].concat();
    spec.cwd = options
        .cwd
        .as_deref()
        .map(|dir| dir_path(dir, base))
        .transpose()?;
    spec.timeout_secs = options.timeout;
    if let Some(retries) = options.retries {
        spec.retries = retries;
    }
    if let Some(backoff) = options.retry_backoff {
        spec.retry_backoff_secs = backoff;
    }
    spec.spark_conf = options.conf.clone();
    spec.cluster = options.cluster.clone();
    spec.py_files = options
        .py_files
        .iter()
        .map(|f| script_path(f, base))
        .collect::<Result<_, _>>()?;
    spec.jars = options
        .jars
        .iter()
        .map(|f| script_path(f, base))
        .collect::<Result<_, _>>()?;
    Ok(())
}

fn source(args: &SourceArgs, base: &Path) -> Result<JobSource, CliError> {
    match (&args.file, &args.code) {
        (Some(file), _) => Ok(JobSource::File(script_path(file, base)?)),
        (None, Some(code)) => Ok(JobSource::Code(code.clone())),
        // clap's required group makes this unreachable from the command line.
        (None, None) => Err(CliError::usage("give a FILE to run or inline code with -c")),
    }
}

/// `file` made absolute against `base`; it must be an existing file.
fn script_path(file: &Path, base: &Path) -> Result<String, CliError> {
    let path = absolute(file, base);
    match std::fs::metadata(&path) {
        Ok(meta) if meta.is_file() => utf8(path),
        Ok(_) => Err(CliError::usage(format!(
            "{} is not a file; give the script to run, or inline code with -c",
            path.display()
        ))),
        Err(e) => Err(CliError::usage(format!(
            "cannot use {} as the script to run: {e}",
            path.display()
        ))),
    }
}

/// `dir` made absolute against `base`. Not checked: it need only exist where the daemon runs.
fn dir_path(dir: &Path, base: &Path) -> Result<String, CliError> {
    utf8(absolute(dir, base))
}

fn utf8(path: PathBuf) -> Result<String, CliError> {
    path.into_os_string().into_string().map_err(|p| {
        CliError::usage(format!(
            "{} is not valid UTF-8, which harbourd cannot store; rename it",
            PathBuf::from(p).display()
        ))
    })
}

/// `path` joined to `base` when relative, with `.` components dropped. `..` is kept: resolving
/// it lexically would be wrong across symlinks.
pub fn absolute(path: &Path, base: &Path) -> PathBuf {
    base.join(path)
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::{Cli, Command, JobsCommand};
    use clap::Parser;
    use harbour_shared::EnvVar;

    fn cli(args: &[&str]) -> Command {
        Cli::try_parse_from(std::iter::once("harbour").chain(args.iter().copied()))
            .expect("parses")
            .command
    }

    fn submit(args: &[&str], base: &Path) -> Result<JobSpec, CliError> {
        match cli(args) {
            Command::Submit(a) => submit_spec(&a, base),
            other => panic!("not submit: {other:?}"),
        }
    }

    fn update(args: &[&str], base: &Path) -> Result<JobPatch, CliError> {
        match cli(args) {
            Command::Jobs(JobsCommand::Update(a)) => update_patch(&a, base),
            other => panic!("not update: {other:?}"),
        }
    }

    #[test]
    fn relative_paths_are_made_absolute_against_the_base() {
        let base = Path::new("/home/me/work");
        assert_eq!(
            absolute(Path::new("./a/b.sh"), base),
            Path::new("/home/me/work/a/b.sh")
        );
        assert_eq!(absolute(Path::new("/etc/x"), base), Path::new("/etc/x"));
        assert_eq!(
            absolute(Path::new("../x"), base),
            Path::new("/home/me/work/../x")
        );
    }

    #[test]
    fn submit_builds_the_whole_spec() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("job.py"), "print(1)").expect("write");
        let spec = submit(
            &[
                "submit",
                "--kind",
                "python",
                "./job.py",
                "--name",
                "n",
                "--env",
                "A=1",
                "--env",
                "B=x=y",
                "--cwd",
                "sub",
                "--timeout",
                "2m",
                "--retries",
                "3",
                "--retry-backoff",
                "5",
                "--conf",
                "spark.a=b",
                "--",
                "one",
                "two",
            ],
            dir.path(),
        )
        .expect("valid");
        assert_eq!(spec.kind, JobKind::Python);
        assert_eq!(
            spec.source,
            JobSource::File(dir.path().join("job.py").display().to_string())
        );
        assert_eq!(spec.name, "n");
        assert_eq!(spec.env, [EnvVar::new("A", "1"), EnvVar::new("B", "x=y")]);
        assert_eq!(spec.cwd, Some(dir.path().join("sub").display().to_string()));
        assert_eq!(spec.timeout_secs, Some(120));
        assert_eq!(spec.retries, 3);
        assert_eq!(spec.retry_backoff_secs, 5);
        assert_eq!(spec.spark_conf, [("spark.a".to_owned(), "b".to_owned())]);
        assert_eq!(spec.args, ["one", "two"]);
    }

    #[test]
    fn submit_of_code_keeps_the_defaults() {
        let spec = submit(
            &["submit", "--kind", "shell", "-c", "echo hi"],
            Path::new("/"),
        )
        .expect("valid");
        assert_eq!(
            spec,
            JobSpec::new(JobKind::Shell, JobSource::Code("echo hi".into()))
        );
    }

    #[test]
    fn a_missing_file_is_a_usage_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = submit(&["submit", "--kind", "shell", "nope.sh"], dir.path())
            .expect_err("missing file");
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("nope.sh"), "{err}");

        let err = submit(&["submit", "--kind", "shell", "."], dir.path()).expect_err("a dir");
        assert!(err.to_string().contains("is not a file"), "{err}");
    }

    #[test]
    fn create_takes_schedule_and_overlap() {
        let Command::Jobs(JobsCommand::Create(args)) = cli(&[
            "jobs",
            "create",
            "--name",
            "nightly",
            "--kind",
            "shell",
            "-c",
            "true",
            "--schedule",
            "0 3 * * *",
            "--allow-overlap",
        ]) else {
            panic!("not create")
        };
        let spec = create_spec(&args, Path::new("/")).expect("valid");
        assert_eq!(spec.name, "nightly");
        assert_eq!(spec.schedule.as_deref(), Some("0 3 * * *"));
        assert!(spec.allow_overlap);
    }

    #[test]
    fn update_sets_and_clears_only_what_is_given() {
        let patch = update(
            &[
                "jobs",
                "update",
                "nightly",
                "--schedule",
                "@daily",
                "--no-timeout",
                "--no-env",
            ],
            Path::new("/"),
        )
        .expect("valid");
        assert_eq!(
            patch,
            JobPatch {
                schedule: Some(Some("@daily".into())),
                timeout_secs: Some(None),
                env: Some(Vec::new()),
                ..JobPatch::default()
            }
        );

        let patch = update(
            &[
                "jobs",
                "update",
                "7",
                "-c",
                "echo",
                "--cwd",
                "/srv",
                "--no-schedule",
                "--no-allow-overlap",
                "--retries",
                "0",
                "--",
                "a",
            ],
            Path::new("/"),
        )
        .expect("valid");
        assert_eq!(
            patch,
            JobPatch {
                source: Some(JobSource::Code("echo".into())),
                cwd: Some(Some("/srv".into())),
                schedule: Some(None),
                allow_overlap: Some(false),
                retries: Some(0),
                args: Some(vec!["a".into()]),
                ..JobPatch::default()
            }
        );

        let patch = update(
            &["jobs", "update", "7", "--no-args", "--no-cwd"],
            Path::new("/"),
        )
        .expect("valid");
        assert_eq!(patch.args, Some(Vec::new()));
        assert_eq!(patch.cwd, Some(None));
    }

    #[test]
    fn an_empty_update_names_the_flags() {
        let err = update(&["jobs", "update", "nightly"], Path::new("/")).expect_err("empty");
        assert_eq!(err.exit_code(), 2);
        let message = err.to_string();
        for flag in ["--schedule", "--no-timeout", "--env", "-c"] {
            assert!(message.contains(flag), "{message}");
        }
    }
}
