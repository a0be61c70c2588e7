//! The text views of `harbour`'s answers: pure functions from the daemon's types to the text a
//! person reads. `--json` bypasses all of this and prints the types themselves.

use harbour_shared::{Job, JobSource, JobSpec, Run, RunDetail, Status, UnixMillis};

use super::table;
use crate::fmt;

/// `harbour status`.
pub fn status(status: &Status) -> String {
    table::pairs(&[
        (
            "version",
            format!("{} (protocol {})", status.version, status.protocol),
        ),
        ("mode", status.mode.clone()),
        ("pid", status.pid.to_string()),
        (
            "uptime",
            format!(
                "{} (since {})",
                fmt::duration_secs(status.uptime_secs),
                fmt::local_time(status.started_ms)
            ),
        ),
        ("data dir", status.data_dir.clone()),
        ("socket", status.socket.clone()),
        ("config file", status.config_file.clone()),
        (
            "spark home",
            status
                .spark_home
                .clone()
                .unwrap_or_else(|| "not configured".to_owned()),
        ),
        (
            "concurrency",
            format!("{} runs at once", status.max_concurrent_runs),
        ),
        ("jobs", status.jobs.to_string()),
        ("runs", run_counts(status)),
    ])
}

fn run_counts(status: &Status) -> String {
    let counts = status.runs;
    let parts: Vec<String> = counts
        .labelled()
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(label, n)| format!("{n} {label}"))
        .collect();
    if parts.is_empty() {
        "none".to_owned()
    } else {
        format!("{} ({})", counts.total(), parts.join(", "))
    }
}

/// `harbour runs`.
pub fn runs(runs: &[Run], now_ms: UnixMillis) -> String {
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|run| {
            vec![
                run.id.to_string(),
                run.job_name.clone(),
                run.kind.to_string(),
                fmt::run_state(run),
                fmt::local_time_opt(run.started_ms),
                fmt::run_duration(run, now_ms),
                fmt::or_dash(run.exit_code),
            ]
        })
        .collect();
    table::render(
        &["ID", "JOB", "KIND", "STATE", "STARTED", "DURATION", "EXIT"],
        &rows,
    )
}

/// `harbour run show`.
pub fn run_detail(detail: &RunDetail, now_ms: UnixMillis) -> String {
    let run = &detail.run;
    let mut pairs = vec![
        (
            "run",
            format!(
                "{} (attempt {}, {})",
                run.id,
                run.attempt,
                run.trigger.as_str()
            ),
        ),
        ("job", format!("{} (job {})", run.job_name, run.job_id)),
        ("kind", run.kind.to_string()),
        ("state", fmt::run_state(run)),
        ("message", dash_if_empty(&run.state_message)),
        ("parent", fmt::or_dash(run.parent)),
        ("queued", fmt::local_time(run.queued_ms)),
        ("started", fmt::local_time_opt(run.started_ms)),
        ("ended", fmt::local_time_opt(run.ended_ms)),
        ("duration", fmt::run_duration(run, now_ms)),
    ];
    if let Some(at) = run.retry_at_ms {
        pairs.push(("retry at", fmt::local_time(at)));
    }
    pairs.extend([
        ("pid", fmt::or_dash(run.pid)),
        ("exit code", fmt::or_dash(run.exit_code)),
        ("argv", dash_if_empty(&shell_words(&detail.argv))),
        (
            "stdout",
            format!("{} ({})", detail.stdout_path, fmt::bytes(run.stdout_bytes)),
        ),
        (
            "stderr",
            format!("{} ({})", detail.stderr_path, fmt::bytes(run.stderr_bytes)),
        ),
    ]);
    if detail.logs_pruned {
        pairs.push(("logs", "pruned by the retention policy".to_owned()));
    }
    pairs.push(("usage", fmt::usage(&detail.usage)));
    let mut out = table::pairs(&pairs);
    out.push_str("\nSpec:\n");
    out.push_str(&indent(&table::pairs(&spec_pairs(&detail.spec))));
    out.push_str("\nHistory:\n");
    let rows: Vec<Vec<String>> = detail
        .transitions
        .iter()
        .map(|t| {
            vec![
                fmt::local_time(t.at_ms),
                fmt::state_label(t.lifecycle, t.result),
                t.message.clone(),
            ]
        })
        .collect();
    out.push_str(&indent(&table::render(
        &["TIME", "STATE", "MESSAGE"],
        &rows,
    )));
    out
}

/// `harbour jobs list`.
pub fn jobs(jobs: &[Job]) -> String {
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|job| {
            vec![
                job.id.to_string(),
                job.name().to_owned(),
                job.spec.kind.to_string(),
                job.spec.schedule.clone().unwrap_or_else(|| "-".to_owned()),
                fmt::local_time_opt(job.next_fire_ms),
                job.last_run.as_ref().map_or_else(
                    || "-".to_owned(),
                    |last| fmt::state_label(last.lifecycle, last.result),
                ),
                yes_no(job.paused).to_owned(),
            ]
        })
        .collect();
    table::render(
        &[
            "ID",
            "NAME",
            "KIND",
            "SCHEDULE",
            "NEXT-FIRE",
            "LAST-RESULT",
            "PAUSED",
        ],
        &rows,
    )
}

/// `harbour jobs show`, and what `jobs create|update|pause|resume` print.
pub fn job(job: &Job) -> String {
    let mut pairs = vec![
        ("job", format!("{} ({})", job.id, job.name())),
        ("one-off", yes_no(job.one_off).to_owned()),
        ("paused", yes_no(job.paused).to_owned()),
        ("next fire", fmt::local_time_opt(job.next_fire_ms)),
        (
            "last run",
            job.last_run.as_ref().map_or_else(
                || "-".to_owned(),
                |last| {
                    format!(
                        "{} {} (queued {})",
                        last.id,
                        fmt::state_label(last.lifecycle, last.result),
                        fmt::local_time(last.queued_ms)
                    )
                },
            ),
        ),
        ("active runs", job.active_runs.to_string()),
        ("created", fmt::local_time(job.created_ms)),
        ("updated", fmt::local_time(job.updated_ms)),
    ];
    pairs.extend(
        spec_pairs(&job.spec)
            .into_iter()
            .filter(|(k, _)| *k != "name"),
    );
    table::pairs(&pairs)
}

/// The fields of a spec, as `key value` pairs.
fn spec_pairs(spec: &JobSpec) -> Vec<(&'static str, String)> {
    let source = match &spec.source {
        JobSource::File(path) => ("file", path.clone()),
        JobSource::Code(code) if code.contains('\n') => {
            ("code", format!("\n{}", indent(code.trim_end_matches('\n'))))
        }
        JobSource::Code(code) => ("code", code.clone()),
    };
    vec![
        ("name", dash_if_empty(&spec.name)),
        ("kind", spec.kind.to_string()),
        source,
        ("args", dash_if_empty(&shell_words(&spec.args))),
        (
            "env",
            dash_if_empty(
                &spec
                    .env
                    .iter()
                    .map(|v| {
                        if v.secret {
                            format!("{}=<secret>", v.key)
                        } else {
                            format!("{}={}", v.key, shell_quote(&v.value))
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        ),
        ("cwd", spec.cwd.clone().unwrap_or_else(|| "-".to_owned())),
        (
            "schedule",
            spec.schedule.clone().unwrap_or_else(|| "-".to_owned()),
        ),
        ("allow overlap", yes_no(spec.allow_overlap).to_owned()),
        (
            "retries",
            if spec.retries == 0 {
                "0".to_owned()
            } else {
                format!(
                    "{} (backoff {}, doubling)",
                    spec.retries,
                    fmt::duration_secs(spec.retry_backoff_secs)
                )
            },
        ),
        (
            "timeout",
            spec.timeout_secs
                .map_or_else(|| "-".to_owned(), fmt::duration_secs),
        ),
        (
            "spark conf",
            dash_if_empty(
                &spec
                    .spark_conf
                    .iter()
                    .map(|(k, v)| format!("{k}={}", shell_quote(v)))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        ),
    ]
}

/// Words as a shell would need them typed, so argv can be copied and pasted.
pub fn shell_words(words: &[String]) -> String {
    words
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One word, single-quoted when a shell would otherwise split or expand it.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| {
            if line.is_empty() {
                "\n".to_owned()
            } else {
                format!("  {line}\n")
            }
        })
        .collect::<String>()
        .trim_end_matches('\n')
        .to_owned()
        + "\n"
}

fn dash_if_empty(s: &str) -> String {
    if s.is_empty() {
        "-".to_owned()
    } else {
        s.to_owned()
    }
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use harbour_shared::{
        EnvVar, JobId, JobKind, LastRun, Lifecycle, RunCounts, RunId, RunResult, Transition,
        Trigger,
    };

    fn run(id: i64) -> Run {
        Run {
            id: RunId(id),
            job_id: JobId(3),
            job_name: "nightly".into(),
            kind: JobKind::Shell,
            trigger: Trigger::Submit,
            attempt: 1,
            parent: None,
            lifecycle: Lifecycle::Terminated,
            result: Some(RunResult::Failed { exit_code: Some(2) }),
            state_message: "exited with code 2".into(),
            queued_ms: 1_000,
            started_ms: Some(2_000),
            ended_ms: Some(65_000),
            retry_at_ms: None,
            pid: Some(77),
            exit_code: Some(2),
            stdout_bytes: 2048,
            stderr_bytes: 0,
            spark: None,
        }
    }

    #[test]
    fn the_runs_table_has_its_columns() {
        let mut queued = run(8);
        queued.lifecycle = Lifecycle::Queued;
        queued.result = None;
        queued.started_ms = None;
        queued.ended_ms = None;
        queued.exit_code = None;
        let out = runs(&[run(9), queued], 100_000);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["ID", "JOB", "KIND", "STATE", "STARTED", "DURATION", "EXIT"]
        );
        assert!(lines[1].starts_with("9 "), "{out}");
        assert!(
            lines[1].contains("failed (2)") && lines[1].contains("1m 03s"),
            "{out}"
        );
        assert!(lines[1].ends_with(" 2"), "{out}");
        assert!(
            lines[2].contains("queued") && lines[2].ends_with(" -"),
            "{out}"
        );
    }

    #[test]
    fn run_show_has_every_part() {
        let mut spec = JobSpec::new(JobKind::Shell, JobSource::Code("echo a\necho b\n".into()));
        spec.env = vec![EnvVar::new("GREETING", "hi there")];
        spec.retries = 2;
        let detail = RunDetail {
            run: run(9),
            spec,
            transitions: vec![Transition {
                at_ms: 2_000,
                lifecycle: Lifecycle::Running,
                result: None,
                message: "started".into(),
            }],
            argv: vec!["/bin/sh".into(), "-c".into(), "echo a".into()],
            stdout_path: "/d/9.out".into(),
            stderr_path: "/d/9.err".into(),
            logs_pruned: false,
            usage: harbour_shared::RunUsage::default(),
        };
        let out = run_detail(&detail, 0);
        for want in [
            "attempt 1, submit",
            "failed (2)",
            "exited with code 2",
            "/bin/sh -c 'echo a'",
            "/d/9.out (2.0 KiB)",
            "GREETING='hi there'",
            "2 (backoff 10s, doubling)",
            "\n    echo a\n    echo b\n",
            "History:",
            "started",
        ] {
            assert!(out.contains(want), "missing {want:?} in:\n{out}");
        }
    }

    #[test]
    fn status_counts_only_what_is_there() {
        let mut s = Status {
            version: "0.1.0".into(),
            protocol: 1,
            pid: 42,
            started_ms: 0,
            uptime_secs: 3 * 3600 + 12 * 60,
            mode: "user".into(),
            config_file: "/c/harbourd.toml".into(),
            data_dir: "/d".into(),
            socket: "/s.sock".into(),
            jobs: 2,
            runs: RunCounts::default(),
            max_concurrent_runs: 4,
            spark_home: None,
        };
        let out = status(&s);
        assert!(out.contains("3h 12m"), "{out}");
        assert!(out.contains("not configured"), "{out}");
        assert!(out.contains("runs         none"), "{out}");
        s.runs.running = 1;
        s.runs.failed = 2;
        assert!(status(&s).contains("3 (1 running, 2 failed)"));
    }

    #[test]
    fn the_jobs_table_shows_last_result_and_paused() {
        let job = Job {
            id: JobId(3),
            spec: JobSpec {
                name: "nightly".into(),
                schedule: Some("0 3 * * *".into()),
                ..JobSpec::new(JobKind::Python, JobSource::File("/x.py".into()))
            },
            one_off: false,
            paused: true,
            created_ms: 0,
            updated_ms: 0,
            next_fire_ms: None,
            last_run: Some(LastRun {
                id: RunId(9),
                lifecycle: Lifecycle::Terminated,
                result: Some(RunResult::Succeeded),
                queued_ms: 0,
            }),
            active_runs: 0,
        };
        let out = jobs(std::slice::from_ref(&job));
        let row = out.lines().nth(1).expect("a row");
        assert!(
            row.contains("0 3 * * *") && row.contains("succeeded"),
            "{out}"
        );
        assert!(row.ends_with("yes"), "{out}");
        let shown = self::job(&job);
        assert!(shown.contains("file           /x.py"), "{shown}");
    }

    #[test]
    fn quoting_is_only_where_needed() {
        assert_eq!(shell_quote("plain-word_1.py"), "plain-word_1.py");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("a b"), "'a b'");
    }
}

#[cfg(test)]
mod quoting {
    use super::shell_quote;
    use proptest::prelude::*;
    use std::process::Command;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// What `run show` prints as argv can be pasted into a shell: `sh` reads every quoted
        /// word back as it was.
        #[test]
        fn a_quoted_word_reads_back_unchanged(word in "[^\u{0}]{0,24}") {
            let out = Command::new("/bin/sh")
                .arg("-c")
                .arg(format!("printf %s {}", shell_quote(&word)))
                .output()
                .expect("run /bin/sh");
            prop_assert_eq!(String::from_utf8_lossy(&out.stdout), word);
        }
    }
}
