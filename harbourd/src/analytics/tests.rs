//! Pushed events against a real (in-memory) store: the figures do not depend on the order
//! events arrive in, on batch sizes, or on events arriving twice.

use proptest::prelude::*;

use super::*;

/// A job: tasks (1..), how many of them fail once before succeeding, and whether the job
/// fails (its last task fails on every attempt).
type JobShape = (u8, u8, bool);

/// Spark-shaped event lines of one application with these jobs, in the order Spark writes.
fn app_lines(jobs: &[JobShape]) -> Vec<String> {
    let mut lines = vec![
        r#"{"Event":"SparkListenerLogStart","Spark Version":"4.0.0"}"#.to_owned(),
        r#"{"Event":"SparkListenerApplicationStart","App Name":"p","App ID":"local-1","Timestamp":1000,"User":"u"}"#.to_owned(),
    ];
    let mut task_id = 0;
    let mut t = 2000;
    for (job, &(tasks, retried, fails)) in jobs.iter().enumerate() {
        let tasks = i64::from(tasks) + 1;
        let stage = format!(
            r#"{{"Stage ID":{job},"Stage Attempt ID":0,"Stage Name":"stage {job}","Number of Tasks":{tasks},"Submission Time":{t}}}"#
        );
        lines.push(format!(
            r#"{{"Event":"SparkListenerJobStart","Job ID":{job},"Submission Time":{t},"Stage Infos":[{stage}],"Stage IDs":[{job}]}}"#
        ));
        lines.push(format!(
            r#"{{"Event":"SparkListenerStageSubmitted","Stage Info":{stage}}}"#
        ));
        for index in 0..tasks {
            let failing_attempts = if fails && index == tasks - 1 {
                3
            } else if index < i64::from(retried) {
                1
            } else {
                0
            };
            let last = if fails && index == tasks - 1 {
                3
            } else {
                failing_attempts + 1
            };
            for attempt in 0..last {
                let ok = attempt >= failing_attempts;
                let reason = if ok {
                    r#"{"Reason":"Success"}"#.to_owned()
                } else {
                    r#"{"Reason":"ExceptionFailure","Class Name":"E","Description":"boom","Stack Trace":[]}"#.to_owned()
                };
                let run = 10 + (index * 7 + attempt * 3) % 50;
                lines.push(format!(
                    r#"{{"Event":"SparkListenerTaskEnd","Stage ID":{job},"Stage Attempt ID":0,"Task Type":"ResultTask","Task End Reason":{reason},"Task Info":{{"Task ID":{task_id},"Index":{index},"Attempt":{attempt},"Launch Time":{t},"Executor ID":"driver","Host":"h","Speculative":false,"Finish Time":{},"Accumulables":[]}},"Task Metrics":{{"Executor Run Time":{run},"JVM GC Time":1}}}}"#,
                    t + run
                ));
                task_id += 1;
            }
        }
        t += 100;
        let failure = if fails {
            r#","Failure Reason":"task failed 3 times""#
        } else {
            ""
        };
        lines.push(format!(
            r#"{{"Event":"SparkListenerStageCompleted","Stage Info":{{"Stage ID":{job},"Stage Attempt ID":0,"Stage Name":"stage {job}","Number of Tasks":{tasks},"Submission Time":{},"Completion Time":{t}{failure}}}}}"#,
            t - 100
        ));
        let result = if fails {
            r#"{"Result":"JobFailed","Exception":{"Message":"Job aborted"}}"#
        } else {
            r#"{"Result":"JobSucceeded"}"#
        };
        lines.push(format!(
            r#"{{"Event":"SparkListenerJobEnd","Job ID":{job},"Completion Time":{t},"Job Result":{result}}}"#
        ));
        t += 10;
    }
    lines.push(format!(
        r#"{{"Event":"SparkListenerApplicationEnd","Timestamp":{t}}}"#
    ));
    lines
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn analytics() -> Arc<Analytics> {
    Analytics::new(
        Store::open_in_memory().unwrap(),
        AnalyticsConfig::default(),
        PathBuf::from("/nonexistent"),
    )
}

/// Everything the queries say about app `id`.
async fn figures(a: &Analytics, id: &str) -> (AppDetail, Vec<JobDetail>) {
    let mut app = a.app(id.to_owned()).await.unwrap();
    let mut jobs = Vec::new();
    for j in &app.jobs {
        let mut d = a.job(id.to_owned(), j.job_id).await.unwrap();
        d.job.app_id.clear();
        jobs.push(d);
    }
    app.app.app_id.clear();
    app.app.source.clear();
    for j in &mut app.jobs {
        j.app_id.clear();
    }
    (app, jobs)
}

#[test]
fn figures_of_a_small_app() {
    let lines = app_lines(&[(3, 1, false), (1, 0, true)]);
    rt().block_on(async {
        let a = analytics();
        let report = a.push(None, lines).await.unwrap();
        assert_eq!(report.app_id, "local-1");
        assert_eq!(report.ignored, 1, "the LogStart");
        let (app, jobs) = figures(&a, "local-1").await;
        assert_eq!(app.app.status, "FINISHED");
        assert_eq!((app.app.jobs, app.app.failed_jobs), (2, 1));
        let j0 = &app.jobs[0];
        assert_eq!(j0.status, "SUCCEEDED");
        assert_eq!(
            (j0.tasks.ended, j0.tasks.failed, j0.tasks.retries),
            (5, 1, 1)
        );
        assert_eq!(j0.planned_tasks, 4);
        let j1 = &jobs[1];
        assert_eq!(j1.job.status, "FAILED");
        assert_eq!(j1.job.failure.as_deref(), Some("Job aborted"));
        assert_eq!(j1.stages[0].status, "FAILED");
        assert_eq!(j1.failed_tasks.len(), 3);
        assert_eq!(j1.failed_tasks[0].message, "E: boom");
        let q = jobs[0].stages[0].task_ms.unwrap();
        assert!(q[0] <= q[2] && q[2] <= q[4]);

        let day = a.summary("1970-01-01".into()).await.unwrap();
        assert_eq!(
            (day.total_jobs, day.total_tasks, day.failed_tasks),
            (2, 9, 4)
        );
        assert!(a.summary("1970-13-01".into()).await.is_err());
    });
}

#[test]
fn stages_from_an_older_harbourd_get_their_task_times_from_their_rows() {
    // Task times of seconds too, so histogram buckets wider than 1 ms are exercised.
    let lines: Vec<String> = app_lines(&[(4, 1, false), (2, 0, true)])
        .into_iter()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(&l).unwrap();
            if let Some(info) = v.get_mut("Task Info") {
                let launch = info["Launch Time"].as_i64().unwrap();
                let finish = info["Finish Time"].as_i64().unwrap();
                info["Finish Time"] = (launch + (finish - launch) * 97).into();
            }
            v.to_string()
        })
        .collect();
    rt().block_on(async {
        let a = analytics();
        a.push(None, lines).await.unwrap();
        let kept = figures(&a, "local-1").await;
        // What migration 0008 leaves for stages written before histograms were kept.
        a.store
            .call(|c| {
                c.execute(
                    "UPDATE analytics_stages SET stats_dirty = 1, task_ms_hist = NULL,
                         q_min = 0, q_25 = 0, q_50 = 0, q_75 = 0, q_max = 0",
                    [],
                )?;
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(figures(&a, "local-1").await, kept);
        let dirty: i64 = a
            .store
            .call(|c| {
                Ok(c.query_row(
                    "SELECT count(*) FROM analytics_stages WHERE stats_dirty = 1",
                    [],
                    |r| r.get(0),
                )?)
            })
            .await
            .unwrap();
        assert_eq!(dirty, 0, "built once, then kept");
    });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn order_batches_and_repeats_do_not_change_the_figures(
        jobs in proptest::collection::vec((0u8..5, 0u8..3, any::<bool>()), 1..4),
        seed in any::<u64>(),
        batch in 1usize..40,
        repeat_every in 1usize..6,
    ) {
        let lines = app_lines(&jobs);
        // A shuffled copy with some lines twice.
        let mut mixed: Vec<String> = lines.clone();
        for (i, l) in lines.iter().enumerate() {
            if i % repeat_every == 0 {
                mixed.push(l.clone());
            }
        }
        let mut state = seed | 1;
        for i in (1..mixed.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let j = (state % (i as u64 + 1)) as usize;
            mixed.swap(i, j);
        }
        let (ordered, shuffled) = rt().block_on(async {
            let a = analytics();
            a.push(Some("ordered".into()), lines).await.unwrap();
            for chunk in mixed.chunks(batch) {
                a.push(Some("mixed".into()), chunk.to_vec()).await.unwrap();
            }
            (figures(&a, "ordered").await, figures(&a, "mixed").await)
        });
        prop_assert_eq!(ordered, shuffled);
    }
}
