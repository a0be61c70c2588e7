//! Property-based fuzzing of everything that parses outside input: RPC frames, the config
//! file, `.ipynb` imports, event-log lines, cron expressions and job specs. Each target feeds
//! arbitrary input and mutations of valid input, and checks only what must always hold: no
//! panic, an error that says something, and round trips that are stable.
//!
//! `cargo test -p harbourd --lib fuzz` runs each with proptest's default case count (the
//! README's test command); `scripts/fuzz` runs them for a fixed budget (`PROPTEST_CASES`).
//! Failures are saved by proptest under `harbourd/proptest-regressions/` and committed.

use harbour_shared::{EnvVar, HarbourRequest, JobKind, JobSource, JobSpec};
use proptest::prelude::*;

use bincode::Options as _;

use crate::analytics::events::parse_line;
use crate::api::frames;
use crate::api::validate;
use crate::config::Config;
use crate::notebooks::nbformat::Notebook;
use crate::runs::cron;

/// Valid inputs to mutate from.
const NOTEBOOKS: [&str; 4] = [
    include_str!("../../tests/fixtures/notebooks/analysis.ipynb"),
    include_str!("../../tests/fixtures/notebooks/old-4.4.ipynb"),
    include_str!("../../tests/fixtures/notebooks/plots.ipynb"),
    include_str!("../../tests/fixtures/notebooks/widgets.ipynb"),
];

const CONFIG: &str = "[daemon]\nmax_connections = 10\nhello_timeout = \"2s\"\n\
    [runs]\nmax_concurrent = 2\nshell = \"/bin/sh\"\n[metrics]\ninterval = \"1s\"\n\
    [[health.checks]]\nname = \"db\"\nkind = \"tcp\"\naddress = \"127.0.0.1:5432\"\n";

const EVENT_LINES: [&str; 4] = [
    r#"{"Event":"SparkListenerJobStart","Job ID":3,"Submission Time":1700000000000,"Stage Infos":[{"Stage ID":4,"Stage Attempt ID":0,"Number of Tasks":2}],"Stage IDs":[4],"Properties":{}}"#,
    r#"{"Event":"SparkListenerTaskEnd","Stage ID":4,"Stage Attempt ID":0,"Task Type":"ResultTask","Task End Reason":{"Reason":"Success"},"Task Info":{"Task ID":7,"Index":1,"Attempt":0,"Launch Time":1700000000100,"Executor ID":"1","Host":"h","Finish Time":1700000000300,"Failed":false,"Killed":false},"Task Metrics":{"Executor Run Time":150,"JVM GC Time":3}}"#,
    r#"{"Event":"SparkListenerJobEnd","Job ID":3,"Completion Time":1700000000400,"Job Result":{"Result":"JobSucceeded"}}"#,
    r#"{"Event":"SparkListenerApplicationStart","App Name":"a","App ID":"app-1","Timestamp":1700000000000,"User":"u"}"#,
];

/// `text` with a cut, a replaced char and an inserted fragment, at positions from `seed`.
fn mutate(text: &str, seed: (usize, usize, usize, char, &'static str)) -> String {
    let (cut, at, ins, c, frag) = seed;
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len().max(1);
    let mut out: Vec<char> = chars[..(cut % (n + 1)).min(chars.len())].to_vec();
    if !out.is_empty() {
        let i = at % out.len();
        out[i] = c;
    }
    let j = ins % (out.len() + 1);
    out.splice(j..j, frag.chars());
    out.into_iter().collect()
}

fn fragment() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "",
        "{",
        "}",
        "[",
        "]",
        "\"",
        ",",
        ":",
        "null",
        "-1",
        "1e309",
        "\\u0000",
        "\n",
        "=",
        "[[",
        "\"\"\"",
        "9999999999999999999999",
        "{\"a\":",
        "true",
    ])
}

fn seed() -> impl Strategy<Value = (usize, usize, usize, char, &'static str)> {
    (
        any::<usize>(),
        any::<usize>(),
        any::<usize>(),
        any::<char>(),
        fragment(),
    )
}

proptest! {
    #[test]
    fn rpc_frames_never_panic_the_decoder(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = frames::decode(&bytes);
    }

    #[test]
    fn mutated_rpc_frames_never_panic_the_decoder(
        code in "[ -~]{0,64}",
        flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let spec = JobSpec::new(JobKind::Shell, JobSource::Code(code));
        let msg = tarpc::ClientMessage::Request(tarpc::Request {
            context: tarpc::context::current(),
            id: 1,
            message: HarbourRequest::Submit { spec },
        });
        let mut bytes = bincode::DefaultOptions::new().serialize(&msg).unwrap_or_default();
        for (i, b) in flips {
            if !bytes.is_empty() {
                let n = bytes.len();
                bytes[i % n] = b;
            }
        }
        bytes.truncate(cut % (bytes.len() + 1));
        let _ = frames::decode(&bytes);
    }

    #[test]
    fn config_text_is_parsed_or_refused_with_a_message(text in "[a-z_\\[\\]=\" .0-9\n#]{0,300}") {
        if let Err(e) = Config::from_toml(&text) {
            prop_assert!(!e.is_empty());
        }
    }

    #[test]
    fn mutated_configs_are_parsed_or_refused_with_a_message(s in seed()) {
        if let Err(e) = Config::from_toml(&mutate(CONFIG, s)) {
            prop_assert!(!e.is_empty());
        }
    }

    #[test]
    fn notebooks_are_imported_or_refused_with_where(i in 0..NOTEBOOKS.len(), s in seed()) {
        match Notebook::parse(&mutate(NOTEBOOKS[i], s)) {
            Ok(nb) => {
                // What imports, exports and imports again to the same cells.
                let again = Notebook::parse(&nb.to_ipynb()).expect("an export imports");
                prop_assert_eq!(again.to_ipynb(), nb.to_ipynb());
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn arbitrary_text_is_not_a_notebook_or_is_one(text in ".{0,200}") {
        let _ = Notebook::parse(&text);
    }

    #[test]
    fn event_lines_parse_or_are_reported(i in 0..EVENT_LINES.len(), s in seed()) {
        let _ = parse_line(&mutate(EVENT_LINES[i], s));
    }

    #[test]
    fn arbitrary_event_lines_never_panic(text in ".{0,300}") {
        let _ = parse_line(&text);
    }

    #[test]
    fn cron_expressions_parse_or_are_refused(expr in "[0-9*/,\\- @a-zA-Z?LW#]{0,40}", after in any::<i64>()) {
        match cron::parse(&expr) {
            Ok(c) => {
                let _ = cron::next_after(&c, after);
            }
            Err(e) => prop_assert!(!e.is_empty()),
        }
    }

    #[test]
    fn job_specs_are_accepted_or_refused_by_field(
        name in ".{0,80}",
        code in ".{0,80}",
        key in ".{0,20}",
        value in ".{0,40}",
        cwd in proptest::option::of(".{0,40}"),
        schedule in proptest::option::of(".{0,30}"),
        timeout in proptest::option::of(any::<u64>()),
        retries in any::<u32>(),
        backoff in any::<u64>(),
        kind in prop::sample::select(vec![JobKind::Shell, JobKind::Python, JobKind::Pyspark]),
    ) {
        let mut spec = JobSpec::new(kind, JobSource::Code(code));
        spec.name = name;
        spec.env = vec![EnvVar::new(key, value)];
        spec.cwd = cwd;
        spec.schedule = schedule;
        spec.timeout_secs = timeout;
        spec.retries = retries;
        spec.retry_backoff_secs = backoff;
        if let Err(e) = validate::spec(spec, true) {
            prop_assert!(!e.to_string().is_empty());
        }
    }
}
