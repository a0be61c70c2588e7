//! The listener events analytics keeps, parsed from Spark's JSON shape into small typed
//! values. Everything else in a line (accumulables, stack traces, SQL plans) is skipped
//! without being built, and events of other kinds are recognised by their name alone.
//!
//! TaskEnds are most of a log: their unread bulk (accumulables, executor memory metrics)
//! is cut out before parsing where its end is certain ([`emptied`]), and a successful
//! task's end is then read in one pass ([`super::scan`]); serde reads every other shape.

use std::borrow::Cow;
use std::sync::LazyLock;

use memchr::memmem;
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::scan;

/// One event analytics stores.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    AppStart {
        app_id: Option<String>,
        name: String,
        time_ms: Option<i64>,
        user: Option<String>,
    },
    AppEnd {
        time_ms: Option<i64>,
    },
    JobStart {
        job_id: i64,
        time_ms: Option<i64>,
        stages: Vec<StageInfo>,
    },
    JobEnd {
        job_id: i64,
        time_ms: Option<i64>,
        succeeded: bool,
        failure: Option<String>,
    },
    StageSubmitted(StageInfo),
    StageCompleted(StageInfo),
    TaskEnd(Box<TaskEnd>),
    ExecutorAdded {
        id: String,
        host: String,
        cores: i64,
        time_ms: Option<i64>,
    },
    ExecutorRemoved {
        id: String,
        time_ms: Option<i64>,
        reason: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct StageInfo {
    pub stage_id: i64,
    pub attempt: i64,
    pub name: Option<String>,
    pub num_tasks: Option<i64>,
    pub submit_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub failure: Option<String>,
}

/// A finished task attempt.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TaskEnd {
    pub task_id: i64,
    pub stage_id: i64,
    pub stage_attempt: i64,
    pub index: i64,
    pub attempt: i64,
    pub executor: String,
    pub host: String,
    pub launch_ms: Option<i64>,
    pub finish_ms: Option<i64>,
    pub speculative: bool,
    /// `SUCCESS`, `FAILED` or `KILLED`, counted the way Spark's status listener counts.
    pub status: &'static str,
    /// Spark's reason name (`Success`, `ExceptionFailure`, ...).
    pub reason: String,
    pub message: Option<String>,
    pub run_ms: i64,
    pub gc_ms: i64,
    pub input_bytes: i64,
    pub shuffle_read_bytes: i64,
    pub shuffle_write_bytes: i64,
}

impl TaskEnd {
    /// Launch to finish, when both are known.
    pub fn duration_ms(&self) -> Option<i64> {
        self.launch_ms.zip(self.finish_ms).map(|(l, f)| f - l)
    }
}

/// What one line is.
#[derive(Debug)]
pub enum Parsed {
    Event(Event),
    /// A listener event of a kind analytics does not keep.
    Ignored,
}

/// Why a line is not a listener event.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not a JSON object with an \"Event\" name")]
    NoEvent,
    #[error("{kind}: {source}")]
    Json {
        kind: String,
        source: serde_json::Error,
    },
}

const KEPT: &[&str] = &[
    "SparkListenerApplicationStart",
    "SparkListenerApplicationEnd",
    "SparkListenerJobStart",
    "SparkListenerJobEnd",
    "SparkListenerStageSubmitted",
    "SparkListenerStageCompleted",
    "SparkListenerTaskEnd",
    "SparkListenerExecutorAdded",
    "SparkListenerExecutorRemoved",
];

/// A TaskEnd as serde reads it: every shape JSON allows.
pub(super) fn task_end_by_serde(text: &str) -> Result<TaskEnd, serde_json::Error> {
    serde_json::from_str::<TaskEndRaw<'_>>(text).map(TaskEndRaw::into_task)
}

/// The event's name. Spark writes `"Event"` first, so that is looked at before parsing; a
/// line written by something else falls back to a full parse of the name.
fn event_name(line: &str) -> Result<Cow<'_, str>, ParseError> {
    const PREFIX: &str = "{\"Event\":\"";
    if let Some(rest) = line.strip_prefix(PREFIX)
        && let Some(end) = rest.find('"')
        && !rest[..end].contains('\\')
    {
        return Ok(Cow::Borrowed(&rest[..end]));
    }
    #[derive(Deserialize)]
    struct Named<'a> {
        #[serde(rename = "Event", borrow)]
        event: Cow<'a, str>,
    }
    serde_json::from_str::<Named<'_>>(line)
        .map(|n| n.event)
        .map_err(|_| ParseError::NoEvent)
}

/// Parses one line of an event log.
pub fn parse_line(line: &str) -> Result<Parsed, ParseError> {
    let name = event_name(line.trim_start())?;
    if !KEPT.contains(&name.as_ref()) {
        // Make sure it is at least an object before calling it an event.
        return if line.trim_end().ends_with('}') {
            Ok(Parsed::Ignored)
        } else {
            Err(ParseError::NoEvent)
        };
    }
    let json = |source| ParseError::Json {
        kind: name.to_string(),
        source,
    };
    let event = match name.as_ref() {
        "SparkListenerApplicationStart" => {
            let r: AppStartRaw<'_> = serde_json::from_str(line).map_err(json)?;
            Event::AppStart {
                app_id: r.app_id.map(Cow::into_owned),
                name: r.name.map(Cow::into_owned).unwrap_or_default(),
                time_ms: r.time,
                user: r.user.map(Cow::into_owned),
            }
        }
        "SparkListenerApplicationEnd" => {
            let r: TimeRaw = serde_json::from_str(line).map_err(json)?;
            Event::AppEnd { time_ms: r.time }
        }
        "SparkListenerJobStart" => {
            let r: JobStartRaw<'_> = serde_json::from_str(line).map_err(json)?;
            let mut stages: Vec<StageInfo> = r
                .stage_infos
                .into_iter()
                .map(StageInfoRaw::into_info)
                .collect();
            // Older logs list only the ids.
            for id in r.stage_ids {
                if !stages.iter().any(|s| s.stage_id == id) {
                    stages.push(StageInfo {
                        stage_id: id,
                        ..StageInfo::default()
                    });
                }
            }
            Event::JobStart {
                job_id: r.job_id,
                time_ms: r.time,
                stages,
            }
        }
        "SparkListenerJobEnd" => {
            let r: JobEndRaw<'_> = serde_json::from_str(line).map_err(json)?;
            let succeeded = r.result.result == "JobSucceeded";
            Event::JobEnd {
                job_id: r.job_id,
                time_ms: r.time,
                succeeded,
                failure: (!succeeded).then(|| {
                    r.result
                        .exception
                        .and_then(|e| e.message)
                        .map_or_else(|| r.result.result.into_owned(), |m| first_line(&m))
                }),
            }
        }
        "SparkListenerStageSubmitted" | "SparkListenerStageCompleted" => {
            let r: StageEventRaw<'_> = serde_json::from_str(line).map_err(json)?;
            let info = r.info.into_info();
            if name == "SparkListenerStageSubmitted" {
                Event::StageSubmitted(info)
            } else {
                Event::StageCompleted(info)
            }
        }
        "SparkListenerTaskEnd" => {
            // Most of a TaskEnd's bytes are accumulables and executor metrics, unread here;
            // a successful task's end is then read in one pass, the rest by serde.
            let short = emptied(line, &TASK_END_FINDERS);
            let text = short.as_deref().unwrap_or(line);
            let task = match scan::task_end(text) {
                Some(task) => task,
                None => task_end_by_serde(text).map_err(json)?,
            };
            Event::TaskEnd(Box::new(task))
        }
        "SparkListenerExecutorAdded" => {
            let r: ExecutorRaw<'_> = serde_json::from_str(line).map_err(json)?;
            let info = r.info.unwrap_or_default();
            Event::ExecutorAdded {
                id: r.id.into_owned(),
                host: info.host.map(Cow::into_owned).unwrap_or_default(),
                cores: info.cores.unwrap_or(0),
                time_ms: r.time,
            }
        }
        _ => {
            let r: ExecutorRaw<'_> = serde_json::from_str(line).map_err(json)?;
            Event::ExecutorRemoved {
                id: r.id.into_owned(),
                time_ms: r.time,
                reason: r.reason.map(Cow::into_owned),
            }
        }
    };
    Ok(Parsed::Event(event))
}

#[derive(Deserialize)]
struct AppStartRaw<'a> {
    #[serde(rename = "App Name", borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(rename = "App ID", borrow, default)]
    app_id: Option<Cow<'a, str>>,
    #[serde(rename = "Timestamp", default)]
    time: Option<i64>,
    #[serde(rename = "User", borrow, default)]
    user: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct TimeRaw {
    #[serde(rename = "Timestamp", default)]
    time: Option<i64>,
}

#[derive(Deserialize)]
struct JobStartRaw<'a> {
    #[serde(rename = "Job ID")]
    job_id: i64,
    #[serde(rename = "Submission Time", default)]
    time: Option<i64>,
    #[serde(rename = "Stage Infos", borrow, default)]
    stage_infos: Vec<StageInfoRaw<'a>>,
    #[serde(rename = "Stage IDs", default)]
    stage_ids: Vec<i64>,
}

#[derive(Deserialize)]
struct JobEndRaw<'a> {
    #[serde(rename = "Job ID")]
    job_id: i64,
    #[serde(rename = "Completion Time", default)]
    time: Option<i64>,
    #[serde(rename = "Job Result", borrow)]
    result: JobResultRaw<'a>,
}

#[derive(Deserialize)]
struct JobResultRaw<'a> {
    #[serde(rename = "Result", borrow)]
    result: Cow<'a, str>,
    #[serde(rename = "Exception", borrow, default)]
    exception: Option<ExceptionRaw<'a>>,
}

#[derive(Deserialize)]
struct ExceptionRaw<'a> {
    #[serde(rename = "Message", borrow, default)]
    message: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct StageEventRaw<'a> {
    #[serde(rename = "Stage Info", borrow)]
    info: StageInfoRaw<'a>,
}

#[derive(Deserialize)]
struct StageInfoRaw<'a> {
    #[serde(rename = "Stage ID")]
    stage_id: i64,
    #[serde(rename = "Stage Attempt ID", default)]
    attempt: i64,
    #[serde(rename = "Stage Name", borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(rename = "Number of Tasks", default)]
    num_tasks: Option<i64>,
    #[serde(rename = "Submission Time", default)]
    submit: Option<i64>,
    #[serde(rename = "Completion Time", default)]
    end: Option<i64>,
    #[serde(rename = "Failure Reason", borrow, default)]
    failure: Option<Cow<'a, str>>,
}

impl StageInfoRaw<'_> {
    fn into_info(self) -> StageInfo {
        StageInfo {
            stage_id: self.stage_id,
            attempt: self.attempt,
            name: self.name.map(Cow::into_owned),
            num_tasks: self.num_tasks,
            submit_ms: self.submit,
            end_ms: self.end,
            failure: self.failure.map(|f| first_line(&f)),
        }
    }
}

#[derive(Deserialize)]
struct TaskEndRaw<'a> {
    #[serde(rename = "Stage ID")]
    stage_id: i64,
    #[serde(rename = "Stage Attempt ID", default)]
    stage_attempt: i64,
    #[serde(rename = "Task End Reason", borrow)]
    reason: ReasonRaw<'a>,
    #[serde(rename = "Task Info", borrow)]
    info: TaskInfoRaw<'a>,
    #[serde(rename = "Task Metrics", default)]
    metrics: Option<MetricsRaw>,
}

#[derive(Deserialize)]
struct ReasonRaw<'a> {
    #[serde(rename = "Reason", borrow)]
    reason: Cow<'a, str>,
    #[serde(rename = "Description", borrow, default)]
    description: Option<Cow<'a, str>>,
    #[serde(rename = "Class Name", borrow, default)]
    class: Option<Cow<'a, str>>,
    #[serde(rename = "Kill Reason", borrow, default)]
    kill_reason: Option<Cow<'a, str>>,
    #[serde(rename = "Loss Reason", borrow, default)]
    loss_reason: Option<Cow<'a, str>>,
    #[serde(rename = "Message", borrow, default)]
    message: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct TaskInfoRaw<'a> {
    #[serde(rename = "Task ID")]
    task_id: i64,
    #[serde(rename = "Index", default)]
    index: i64,
    #[serde(rename = "Attempt", default)]
    attempt: i64,
    #[serde(rename = "Launch Time", default)]
    launch: Option<i64>,
    #[serde(rename = "Executor ID", borrow, default)]
    executor: Option<Cow<'a, str>>,
    #[serde(rename = "Host", borrow, default)]
    host: Option<Cow<'a, str>>,
    #[serde(rename = "Speculative", default)]
    speculative: bool,
    #[serde(rename = "Finish Time", default)]
    finish: Option<i64>,
    #[serde(rename = "Accumulables", default)]
    _accumulables: IgnoredAny,
}

#[derive(Deserialize, Default)]
struct MetricsRaw {
    #[serde(rename = "Executor Run Time", default)]
    run: i64,
    #[serde(rename = "JVM GC Time", default)]
    gc: i64,
    #[serde(rename = "Input Metrics", default)]
    input: Option<InputRaw>,
    #[serde(rename = "Shuffle Read Metrics", default)]
    shuffle_read: Option<ShuffleReadRaw>,
    #[serde(rename = "Shuffle Write Metrics", default)]
    shuffle_write: Option<ShuffleWriteRaw>,
}

#[derive(Deserialize)]
struct InputRaw {
    #[serde(rename = "Bytes Read", default)]
    bytes: i64,
}

#[derive(Deserialize)]
struct ShuffleReadRaw {
    #[serde(rename = "Remote Bytes Read", default)]
    remote: i64,
    #[serde(rename = "Local Bytes Read", default)]
    local: i64,
}

#[derive(Deserialize)]
struct ShuffleWriteRaw {
    #[serde(rename = "Shuffle Bytes Written", default)]
    bytes: i64,
}

impl TaskEndRaw<'_> {
    fn into_task(self) -> TaskEnd {
        let r = &self.reason;
        let status = match r.reason.as_ref() {
            "Success" => "SUCCESS",
            // Spark's status listener counts these as killed, not failed.
            "TaskKilled" | "TaskCommitDenied" => "KILLED",
            _ => "FAILED",
        };
        let message = r
            .description
            .as_deref()
            .or(r.kill_reason.as_deref())
            .or(r.loss_reason.as_deref())
            .or(r.message.as_deref())
            .map(first_line)
            .map(|m| match &r.class {
                Some(class) if !m.contains(class.as_ref()) => format!("{class}: {m}"),
                _ => m,
            });
        let m = self.metrics.unwrap_or_default();
        TaskEnd {
            task_id: self.info.task_id,
            stage_id: self.stage_id,
            stage_attempt: self.stage_attempt,
            index: self.info.index,
            attempt: self.info.attempt,
            executor: self.info.executor.map(Cow::into_owned).unwrap_or_default(),
            host: self.info.host.map(Cow::into_owned).unwrap_or_default(),
            launch_ms: self.info.launch,
            finish_ms: self.info.finish.filter(|t| *t > 0),
            speculative: self.info.speculative,
            status,
            reason: self.reason.reason.into_owned(),
            message: (status != "SUCCESS").then_some(message).flatten(),
            run_ms: m.run,
            gc_ms: m.gc,
            input_bytes: m.input.map_or(0, |i| i.bytes),
            shuffle_read_bytes: m
                .shuffle_read
                .map_or(0, |s| s.remote.saturating_add(s.local)),
            shuffle_write_bytes: m.shuffle_write.map_or(0, |s| s.bytes),
        }
    }
}

#[derive(Deserialize)]
struct ExecutorRaw<'a> {
    #[serde(rename = "Executor ID", borrow)]
    id: Cow<'a, str>,
    #[serde(rename = "Timestamp", default)]
    time: Option<i64>,
    #[serde(rename = "Executor Info", borrow, default)]
    info: Option<ExecutorInfoRaw<'a>>,
    #[serde(rename = "Removed Reason", borrow, default)]
    reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct ExecutorInfoRaw<'a> {
    #[serde(rename = "Host", borrow, default)]
    host: Option<Cow<'a, str>>,
    #[serde(rename = "Total Cores", default)]
    cores: Option<i64>,
}

/// The keys of a TaskEnd whose values analytics does not read, with the bracket their value
/// opens with, in the order Spark writes them: they are most of its bytes (a task's
/// accumulables, its executor's memory metrics, push-based shuffle counters).
const TASK_END_SKIPPED: &[&str] = &[
    "\"Accumulables\":[",
    "\"Task Executor Metrics\":{",
    "\"Push Based Shuffle\":{",
];

/// [`TASK_END_SKIPPED`]'s searchers, built once.
static TASK_END_FINDERS: LazyLock<Vec<memmem::Finder<'static>>> = LazyLock::new(|| {
    TASK_END_SKIPPED
        .iter()
        .map(|k| memmem::Finder::new(k.as_bytes()))
        .collect()
});

/// `line` with the values of `keys` (each key's pattern ends with the bracket its value
/// opens with) emptied to `[]` or `{}` where that is sure to be right, so the JSON parser
/// does not walk through them; `None` when nothing was emptied.
///
/// A value is emptied without being walked: its end is taken to be the first closing
/// bracket of its kind after it, and that is accepted only when
/// - no opening bracket of its kind comes before it, so it closes this value if it is
///   outside a string, and
/// - what follows it is more closing brackets, then `,"` and a letter: a new key. A bare
///   quote after a comma ends any string it might be in, and a letter cannot follow the
///   end of a string, so in valid JSON the bracket is outside strings.
///
/// A value that does not pass (say, an accumulator whose value is text with brackets) is
/// left for the parser. The key pattern itself can only match a key: a quote inside a
/// string is escaped, and a string followed by `:` is a key.
fn emptied(line: &str, keys: &[memmem::Finder<'_>]) -> Option<String> {
    let bytes = line.as_bytes();
    let mut out = String::new();
    let mut from = 0;
    for key in keys {
        let Some(at) = key.find(&bytes[from..]) else {
            continue;
        };
        let open = from + at + key.needle().len();
        let (opener, closer) = match key.needle().last() {
            Some(b'[') => (b'[', b']'),
            _ => (b'{', b'}'),
        };
        let Some(len) = memchr::memchr(closer, &bytes[open..]) else {
            continue;
        };
        let close = open + len;
        if memchr::memchr(opener, &bytes[open..close]).is_some() || !new_key_after(bytes, close) {
            continue;
        }
        if out.is_empty() {
            out.reserve(line.len());
        }
        // Both ends are next to ASCII brackets: character boundaries.
        out.push_str(line.get(from..open)?);
        from = close;
    }
    if from == 0 {
        return None;
    }
    out.push_str(line.get(from..)?);
    Some(out)
}

/// Whether the closing bracket at `at` is followed by more closing brackets, then `,"`
/// and a letter.
fn new_key_after(bytes: &[u8], at: usize) -> bool {
    let rest = bytes.get(at + 1..).unwrap_or_default();
    let closers = rest.iter().take_while(|b| matches!(b, b']' | b'}')).count();
    matches!(rest.get(closers..closers + 3), Some([b',', b'"', c]) if c.is_ascii_alphabetic())
}

/// What a person needs of a (often multi-line) failure message, at most 500 characters:
/// the error line at the end of a Python traceback (`ValueError: ...`), which is what the
/// failing code raised, else the first non-empty line.
fn first_line(text: &str) -> String {
    let lines = || text.lines().map(str::trim).filter(|l| !l.is_empty());
    let raised = text.contains("Traceback (most recent call last)").then(|| {
        lines().rev().find(|l| {
            l.split_once(':').is_some_and(|(name, _)| {
                !name.contains(' ') && (name.ends_with("Error") || name.ends_with("Exception"))
            })
        })
    });
    let line = raised.flatten().or_else(|| lines().next()).unwrap_or("");
    line.chars().take(500).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_task_attempt_keeps_its_reason_and_metrics() {
        let line = r#"{"Event":"SparkListenerTaskEnd","Stage ID":1,"Stage Attempt ID":0,"Task Type":"ResultTask","Task End Reason":{"Reason":"ExceptionFailure","Class Name":"org.apache.spark.api.python.PythonException","Description":"Traceback (most recent call last):\n  File \"x.py\", line 1\nRuntimeError: boom\n","Stack Trace":[],"Accumulator Updates":[]},"Task Info":{"Task ID":7,"Index":0,"Attempt":1,"Partition ID":0,"Launch Time":100,"Executor ID":"driver","Host":"localhost","Speculative":false,"Finish Time":150,"Failed":true,"Accumulables":[{"ID":1,"Update":"3"}]},"Task Metrics":{"Executor Run Time":40,"JVM GC Time":3,"Input Metrics":{"Bytes Read":10},"Shuffle Read Metrics":{"Remote Bytes Read":1,"Local Bytes Read":2},"Shuffle Write Metrics":{"Shuffle Bytes Written":5}}}"#;
        let Parsed::Event(Event::TaskEnd(t)) = parse_line(line).unwrap() else {
            panic!("not a task end");
        };
        assert_eq!((t.task_id, t.stage_id, t.attempt), (7, 1, 1));
        assert_eq!(t.status, "FAILED");
        assert_eq!(t.reason, "ExceptionFailure");
        assert_eq!(
            t.message.as_deref(),
            Some("org.apache.spark.api.python.PythonException: RuntimeError: boom")
        );
        assert_eq!((t.run_ms, t.gc_ms, t.input_bytes), (40, 3, 10));
        assert_eq!((t.shuffle_read_bytes, t.shuffle_write_bytes), (3, 5));
    }

    #[test]
    fn unread_values_are_emptied_only_when_their_end_is_sure() {
        let line = r#"{"Event":"SparkListenerTaskEnd","Stage ID":2,"Task End Reason":{"Reason":"Success"},"Task Info":{"Task ID":9,"Launch Time":5,"Executor ID":"1","Host":"h","Finish Time":8,"Accumulables":[{"ID":1,"Name":"a } \" \\","Value":"{"},{"ID":2,"Nested":{}}]},"Task Executor Metrics":{"JVMHeapMemory":1},"Task Metrics":{"Executor Run Time":3}}"#;
        let short = emptied(line, &TASK_END_FINDERS).unwrap();
        assert_eq!(
            short,
            r#"{"Event":"SparkListenerTaskEnd","Stage ID":2,"Task End Reason":{"Reason":"Success"},"Task Info":{"Task ID":9,"Launch Time":5,"Executor ID":"1","Host":"h","Finish Time":8,"Accumulables":[]},"Task Executor Metrics":{},"Task Metrics":{"Executor Run Time":3}}"#
        );
        let Parsed::Event(Event::TaskEnd(t)) = parse_line(line).unwrap() else {
            panic!("not a task end");
        };
        assert_eq!((t.task_id, t.duration_ms(), t.run_ms), (9, Some(3), 3));

        // Brackets in a value's text: left for the parser, which gets it right.
        let texts = line.replace(r#""Value":"{""#, r#""Value":"[1]""#);
        let short = emptied(&texts, &TASK_END_FINDERS).unwrap();
        assert!(short.contains(r#""Value":"[1]""#) && short.contains(r#"Metrics":{},"#));
        assert!(matches!(
            parse_line(&texts),
            Ok(Parsed::Event(Event::TaskEnd(t))) if t.task_id == 9
        ));
        // A closing bracket inside a key is not mistaken for the end.
        let key = r#"{"Accumulables":[{"a]},":1}],"x":1}"#;
        assert_eq!(emptied(key, &TASK_END_FINDERS), None);
        // Cut short: nothing is emptied, so the parser says what is wrong.
        let cut = &line[..line.find("Nested").unwrap()];
        assert_eq!(emptied(cut, &TASK_END_FINDERS), None);
        assert!(parse_line(cut).is_err());
        // A key's name inside a string is not a key.
        let quoted = r#"{"a":"\"Accumulables\":[1]","Accumulables":[2],"b":1}"#;
        assert_eq!(
            emptied(quoted, &TASK_END_FINDERS).as_deref(),
            Some(r#"{"a":"\"Accumulables\":[1]","Accumulables":[],"b":1}"#)
        );
    }

    #[test]
    fn other_events_are_ignored_and_garbage_is_refused() {
        assert!(matches!(
            parse_line(r#"{"Event":"SparkListenerBlockUpdated","x":1}"#),
            Ok(Parsed::Ignored)
        ));
        assert!(parse_line(r#"{"Event":"SparkListenerTaskEnd","Stage ID":"#).is_err());
        assert!(parse_line("hello").is_err());
        assert!(parse_line(r#"{"Event":"SparkListenerBlockUp"#).is_err());
    }

    #[test]
    fn a_failed_job_says_why() {
        let line = r#"{"Event":"SparkListenerJobEnd","Job ID":3,"Completion Time":9,"Job Result":{"Result":"JobFailed","Exception":{"Message":"Job aborted due to stage failure\nmore","Stack Trace":[]}}}"#;
        let Parsed::Event(Event::JobEnd {
            job_id,
            succeeded,
            failure,
            ..
        }) = parse_line(line).unwrap()
        else {
            panic!("not a job end");
        };
        assert_eq!(job_id, 3);
        assert!(!succeeded);
        assert_eq!(failure.as_deref(), Some("Job aborted due to stage failure"));
    }
}
