//! Ingestion end to end, against real Spark (the runtime `scripts/test` provisions): files
//! arriving between runs, a run killed midway and retried, each schema evolution mode, type
//! mismatches into `_rescued_data`, malformed rows, preview over Spark Connect, and bad
//! definitions. The table's contents are checked by reading its parquet files with pyarrow
//! (from the runtime's venv) and, once, through SQL on the cluster's Connect session.
//!
//! Spark JVMs are slow to start, so each test walks through several steps on one daemon, and
//! independent runs go at once.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harbour_shared::{
    Error, EvolutionMode, IngestRun, IngestRunState, IngestSpec, SourceFormat, SqlRequest,
    TableFormat, TableSpec, parse_schema,
};
use harbour_tests::{Daemon, bin, wait_terminated};
use harbour_tui::client::{self, Client, ClientError, Flatten as _};
use serde_json::Value;

use harbour_tests::runtime_dir;

fn start_daemon() -> Daemon {
    Daemon::start_with(&format!(
        "[runs]\nkill_grace_secs = 5\n[spark]\nruntime_dir = \"{}\"\nlocal_cores = 2\n",
        runtime_dir().display()
    ))
}

fn slow_ctx() -> tarpc::context::Context {
    let mut ctx = client::ctx();
    ctx.deadline = Instant::now() + Duration::from_secs(300);
    ctx
}

fn api_error<T: std::fmt::Debug>(r: Result<T, ClientError>) -> Error {
    match r {
        Err(ClientError::Api(e)) => e,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// A CSV file of `ids` with header `id,name,amount`.
fn write_csv(dir: &Path, name: &str, ids: std::ops::Range<u32>) {
    let mut text = String::from("id,name,amount\n");
    for id in ids {
        text.push_str(&format!("{id},name-{id},{}.5\n", id * 10));
    }
    std::fs::write(dir.join(name), text).unwrap();
}

fn spec(name: &str, source: &Path, format: SourceFormat, target: &Path) -> IngestSpec {
    let mut spec = IngestSpec::new(name, source.to_str().unwrap(), format, name);
    spec.target_path = Some(target.to_str().unwrap().to_owned());
    spec
}

async fn create(client: &Client, spec: IngestSpec) {
    client
        .rpc
        .create_ingestion(slow_ctx(), spec)
        .await
        .flat()
        .expect("create ingestion");
}

async fn run(client: &Client, name: &str) -> IngestRun {
    client
        .rpc
        .run_ingestion(client::ctx(), name.into())
        .await
        .flat()
        .expect("run ingestion")
}

async fn latest(client: &Client, name: &str) -> IngestRun {
    client
        .rpc
        .ingestion_runs(client::ctx(), name.into(), 1)
        .await
        .flat()
        .expect("ingestion runs")
        .pop()
        .expect("a run")
}

/// Waits for ingest run `id` to end and returns it.
async fn finished(client: &Client, name: &str, id: i64) -> IngestRun {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let runs = client
            .rpc
            .ingestion_runs(client::ctx(), name.into(), 50)
            .await
            .flat()
            .unwrap();
        let run = runs.into_iter().find(|r| r.id == id).expect("the run");
        if !run.state.is_active() {
            return run;
        }
        assert!(
            Instant::now() < deadline,
            "ingest run {id} of {name} did not end: {run:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The table's rows, read from its parquet files with pyarrow, as JSON objects.
fn table_rows(target: &Path) -> Vec<BTreeMap<String, Value>> {
    let code = r#"
import json, sys, os, pyarrow.parquet as pq, pyarrow as pa
d = sys.argv[1]
files = sorted(f for f in os.listdir(d) if f.endswith(".parquet"))
tables = [pq.read_table(os.path.join(d, f)) for f in files]
rows = []
for t in tables:
    rows.extend(t.to_pylist())
print(json.dumps(rows, default=str))
"#;
    let out = Command::new(runtime_dir().join("venv/bin/python"))
        .args(["-c", code, target.to_str().unwrap()])
        .stderr(Stdio::inherit())
        .output()
        .expect("python");
    assert!(out.status.success(), "reading {} failed", target.display());
    serde_json::from_slice(&out.stdout).expect("rows as JSON")
}

fn ids(rows: &[BTreeMap<String, Value>]) -> Vec<i64> {
    let mut ids: Vec<i64> = rows
        .iter()
        .filter_map(|r| r.get("id").and_then(Value::as_i64))
        .collect();
    ids.sort_unstable();
    ids
}

fn harbour(daemon: &Daemon, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin("harbour"))
        .env("HARBOUR_SOCKET", &daemon.socket)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run harbour");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_arrive_between_runs_and_a_killed_run_retried_loses_and_duplicates_nothing() {
    let daemon = start_daemon();
    let client = daemon.client().await;
    let root = daemon.root.path();
    let (src, target) = (root.join("in/orders"), root.join("tables/orders"));
    std::fs::create_dir_all(&src).unwrap();

    // Run 1: two files.
    write_csv(&src, "a.csv", 0..100);
    write_csv(&src, "b.csv", 100..200);
    let mut s = spec("orders", &src, SourceFormat::Csv, &target);
    s.glob = "*.csv".into();
    create(&client, s).await;
    std::fs::write(src.join("notes.txt"), "not matched by the glob").unwrap();
    let r1 = finished(&client, "orders", run(&client, "orders").await.id).await;
    assert_eq!(r1.state, IngestRunState::Succeeded, "{r1:?}");
    assert_eq!((r1.files, r1.rows), (2, 200), "{r1:?}");
    assert!(r1.run_id.is_some());

    // Run 2: two more arrive.
    write_csv(&src, "c.csv", 200..250);
    write_csv(&src, "d.csv", 250..400);
    let r2 = finished(&client, "orders", run(&client, "orders").await.id).await;
    assert_eq!(
        (r2.state, r2.files, r2.rows),
        (IngestRunState::Succeeded, 2, 200)
    );

    // Run 3: one more; and a file taken before, appended to, is not read again.
    write_csv(&src, "e.csv", 400..401);
    std::fs::write(
        src.join("a.csv"),
        std::fs::read_to_string(src.join("a.csv")).unwrap() + "999,late,1.0\n",
    )
    .unwrap();
    let r3 = finished(&client, "orders", run(&client, "orders").await.id).await;
    assert_eq!(
        (r3.state, r3.files, r3.rows),
        (IngestRunState::Succeeded, 1, 1),
        "{r3:?}"
    );
    let rows = table_rows(&target);
    assert_eq!(
        ids(&rows),
        (0..401).collect::<Vec<i64>>(),
        "exact, no duplicates"
    );

    // Run 4: nothing new; the daemon finishes it without starting Spark.
    let r4 = run(&client, "orders").await;
    assert_eq!(r4.state, IngestRunState::NoNewFiles, "{r4:?}");
    assert!(r4.run_id.is_none() && r4.message.contains("Spark was not started"));

    // History, files of a run, schema versions.
    let files = client
        .rpc
        .ingestion_run_files(client::ctx(), r1.id)
        .await
        .flat()
        .unwrap();
    let names: Vec<&str> = files
        .iter()
        .map(|f| f.path.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(names, ["a.csv", "b.csv"]);
    let schemas = client
        .rpc
        .ingestion_schemas(client::ctx(), "orders".into())
        .await
        .flat()
        .unwrap();
    assert_eq!(schemas.len(), 1);
    assert_eq!(
        harbour_shared::schema_text(&schemas[0].fields),
        "id int, name string, amount double"
    );
    let i = client
        .rpc
        .get_ingestion(client::ctx(), "orders".into())
        .await
        .flat()
        .unwrap();
    assert_eq!((i.files_total, i.rows_total), (5, 401));

    // The CLI shows the same history.
    let (code, out, err) = harbour(&daemon, &["ingest", "runs", "orders"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("no-new-files") && out.contains("succeeded"),
        "{out}"
    );
    let (code, out, _) = harbour(&daemon, &["ingest", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains("orders") && out.contains("401"), "{out}");

    // A run killed midway, then retried: every row once.
    let (src2, target2) = (root.join("in/events"), root.join("tables/events"));
    std::fs::create_dir_all(&src2).unwrap();
    for n in 0..8u32 {
        write_csv(&src2, &format!("part-{n}.csv"), n * 1000..n * 1000 + 500);
    }
    let mut s = spec("events", &src2, SourceFormat::Csv, &target2);
    s.max_files_per_batch = 1;
    create(&client, s).await;
    let started = run(&client, "events").await;
    let deadline = Instant::now() + Duration::from_secs(180);
    let spark_run = loop {
        let r = latest(&client, "events").await;
        if r.batches >= 1 {
            break r.run_id.expect("a Spark run");
        }
        assert!(r.state.is_active(), "ended before a batch: {r:?}");
        assert!(Instant::now() < deadline, "no batch committed: {r:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    client
        .rpc
        .kill_run(client::ctx(), spark_run)
        .await
        .flat()
        .unwrap();
    wait_terminated(&client, spark_run, Duration::from_secs(60)).await;
    let killed = finished(&client, "events", started.id).await;
    assert_eq!(killed.state, IngestRunState::Cancelled, "{killed:?}");
    assert!(
        killed.batches < 8,
        "the kill came after the last batch; the test proves nothing: {killed:?}"
    );
    let retry = client
        .rpc
        .retry_ingestion(client::ctx(), "events".into())
        .await
        .flat()
        .unwrap();
    let retry = finished(&client, "events", retry.id).await;
    assert_eq!(retry.state, IngestRunState::Succeeded, "{retry:?}");
    let expected: Vec<i64> = (0..8i64).flat_map(|n| n * 1000..n * 1000 + 500).collect();
    assert_eq!(
        ids(&table_rows(&target2)),
        expected,
        "no loss, no duplicates"
    );
    let i = client
        .rpc
        .get_ingestion(client::ctx(), "events".into())
        .await
        .flat()
        .unwrap();
    assert_eq!(
        (i.files_total, i.rows_total),
        (8, 4000),
        "history counts each once"
    );

    // The table is in the SQL catalog: the SQL screen can query it.
    let result = client
        .rpc
        .sql(
            slow_ctx(),
            SqlRequest {
                query: "SELECT count(*), count(DISTINCT id) FROM orders".into(),
                cluster: None,
                limit: 0,
            },
        )
        .await
        .flat()
        .expect("SQL over the ingested table");
    assert_eq!(
        result.rows,
        vec![vec![Some("401".to_owned()), Some("401".to_owned())]]
    );

    // Delete asks about the table: kept here, so its files stay.
    let (code, _, err) = harbour(&daemon, &["ingest", "delete", "events"]);
    assert_eq!(code, 2, "no --keep-table/--drop-table is a usage error");
    assert!(err.contains("--keep-table"), "{err}");
    let (code, _, err) = harbour(&daemon, &["ingest", "delete", "events", "--keep-table"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(table_rows(&target2).len(), 4000);
    let (code, _, err) = harbour(&daemon, &["ingest", "delete", "orders", "--drop-table"]);
    assert_eq!(code, 0, "{err}");
    assert!(!target.exists(), "dropped with its files");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_evolution_mode_does_what_it_says_and_mismatches_are_rescued() {
    let daemon = start_daemon();
    let client = daemon.client().await;
    let root = daemon.root.path();
    let modes = [
        EvolutionMode::AddNewColumns,
        EvolutionMode::Rescue,
        EvolutionMode::FailOnNewColumns,
        EvolutionMode::None,
    ];
    for mode in modes {
        let name = format!("evo_{}", mode.as_str().to_ascii_lowercase());
        let src = root.join("in").join(&name);
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("1-base.csv"), "id,name\n1,a\n2,b\n").unwrap();
        std::fs::write(src.join("2-newcol.csv"), "id,name,channel\n3,c,web\n").unwrap();
        std::fs::write(src.join("3-mismatch.csv"), "id,name\nfour,d\n5,e\n").unwrap();
        let mut s = spec(
            &name,
            &src,
            SourceFormat::Csv,
            &root.join("tables").join(&name),
        );
        s.schema = Some(parse_schema("id int, name string").unwrap());
        s.evolution = mode;
        create(&client, s).await;
    }
    // All four at once: one JVM start's worth of waiting.
    let mut started = Vec::new();
    for mode in modes {
        let name = format!("evo_{}", mode.as_str().to_ascii_lowercase());
        let r = run(&client, &name).await;
        started.push((mode, name, r.id));
    }
    for (mode, name, id) in started {
        let r = finished(&client, &name, id).await;
        let target = root.join("tables").join(&name);
        let schemas = client
            .rpc
            .ingestion_schemas(client::ctx(), name.clone())
            .await
            .flat()
            .unwrap();
        let last = harbour_shared::schema_text(&schemas.last().unwrap().fields);
        if mode == EvolutionMode::FailOnNewColumns {
            assert_eq!(r.state, IngestRunState::Failed, "{r:?}");
            assert!(
                r.message.contains("channel") && r.message.contains("failOnNewColumns"),
                "names the column: {}",
                r.message
            );
            assert!(table_rows(&target).is_empty(), "nothing written");
            continue;
        }
        assert_eq!(r.state, IngestRunState::Succeeded, "{mode}: {r:?}");
        assert_eq!(r.rows, 5, "{mode}");
        let rows = table_rows(&target);
        let by_name: BTreeMap<String, &BTreeMap<String, Value>> = rows
            .iter()
            .map(|r| (r["name"].as_str().unwrap().to_owned(), r))
            .collect();
        // The type mismatch: id 'four' is not an int; the row stays, the value is rescued.
        let d = by_name["d"];
        assert_eq!(d["id"], Value::Null, "{mode}");
        let rescued: Value = serde_json::from_str(d["_rescued_data"].as_str().unwrap()).unwrap();
        assert_eq!(rescued["id"], "four", "{mode}");
        assert!(
            rescued["_file_path"]
                .as_str()
                .unwrap()
                .ends_with("3-mismatch.csv"),
            "{mode}: {rescued}"
        );
        let c = by_name["c"];
        match mode {
            EvolutionMode::AddNewColumns => {
                assert_eq!(last, "id int, name string, channel string");
                assert_eq!(schemas.len(), 2);
                assert_eq!(c["channel"], "web");
                assert_eq!(c["_rescued_data"], Value::Null);
                assert_eq!(r.rescued_rows, 1);
            }
            EvolutionMode::Rescue => {
                assert_eq!(last, "id int, name string");
                assert!(!c.contains_key("channel"));
                let rescued: Value =
                    serde_json::from_str(c["_rescued_data"].as_str().unwrap()).unwrap();
                assert_eq!(rescued["channel"], "web");
                assert_eq!(r.rescued_rows, 2);
            }
            EvolutionMode::None => {
                assert_eq!(last, "id int, name string");
                assert!(!c.contains_key("channel"));
                assert_eq!(c["_rescued_data"], Value::Null);
            }
            EvolutionMode::FailOnNewColumns => unreachable!(),
        }
        assert_eq!(by_name["a"]["id"], 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_reads_csv_and_json_and_malformed_rows_are_counted() {
    let daemon = start_daemon();
    let client = daemon.client().await;
    let root = daemon.root.path();
    let csv_dir = root.join("in/csv");
    let json_dir = root.join("in/json");
    std::fs::create_dir_all(&csv_dir).unwrap();
    std::fs::create_dir_all(&json_dir).unwrap();
    std::fs::write(
        csv_dir.join("a.csv"),
        "id,name,amount\n1,x,1.5\n2,y,2.5\n3,\"unclosed,9.0\n4,z,4.5,extra\n5,w,5.5\n",
    )
    .unwrap();
    std::fs::write(
        json_dir.join("a.json"),
        "{\"id\": 1, \"tags\": \"t\"}\n{not json\n{\"id\": 2, \"tags\": \"u\"}\n",
    )
    .unwrap();

    // Malformed rows: counted and set aside (CSV, JSON); fatal when configured.
    let csv_spec = spec(
        "bad_csv",
        &csv_dir,
        SourceFormat::Csv,
        &root.join("t/bad_csv"),
    );
    let json_spec = spec(
        "bad_json",
        &json_dir,
        SourceFormat::Json,
        &root.join("t/bad_json"),
    );
    let mut strict = spec(
        "strict_json",
        &json_dir,
        SourceFormat::Json,
        &root.join("t/strict"),
    );
    strict.fail_on_malformed = true;
    for s in [csv_spec.clone(), json_spec.clone(), strict] {
        create(&client, s).await;
    }
    let runs = [
        ("bad_csv", run(&client, "bad_csv").await.id),
        ("bad_json", run(&client, "bad_json").await.id),
        ("strict_json", run(&client, "strict_json").await.id),
    ];

    // Preview over Connect while those run: schema, rows, what the mode would do.
    let mut good_csv = spec(
        "preview_csv",
        &root.join("in/good"),
        SourceFormat::Csv,
        &root.join("t/p"),
    );
    std::fs::create_dir_all(root.join("in/good")).unwrap();
    write_csv(&root.join("in/good"), "x.csv", 0..30);
    good_csv.schema_hints = parse_schema("amount decimal(10,2)").unwrap();
    let preview = client
        .rpc
        .preview_ingestion(slow_ctx(), good_csv, 5)
        .await
        .flat()
        .expect("CSV preview");
    assert_eq!(
        harbour_shared::schema_text(&preview.schema),
        "id int, name string, amount decimal(10,2)"
    );
    assert_eq!(preview.columns, ["id", "name", "amount"]);
    assert_eq!(preview.rows.len(), 5);
    assert_eq!(preview.rows[0][1].as_deref(), Some("name-0"));
    assert!(
        preview.evolution[0].contains("version 1"),
        "{:?}",
        preview.evolution
    );
    // JSON, against an existing ingestion's schema: says what the mode would do.
    let json_preview = client
        .rpc
        .preview_ingestion(slow_ctx(), json_spec, 10)
        .await
        .flat()
        .expect("JSON preview");
    let names: Vec<&str> = json_preview
        .schema
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert!(
        names.contains(&"id") && names.contains(&"tags"),
        "{names:?}"
    );
    assert!(json_preview.rows.len() >= 2);
    assert!(!json_preview.evolution.is_empty());
    assert!(!root.join("t/p").exists(), "a preview writes nothing");

    for (name, id) in runs {
        let r = finished(&client, name, id).await;
        match name {
            "bad_csv" => {
                assert_eq!(r.state, IngestRunState::Succeeded, "{r:?}");
                assert!(r.malformed_rows >= 1, "{r:?}");
                assert_eq!(r.rows + r.malformed_rows, 5, "{r:?}");
                let rows = table_rows(&root.join("t/bad_csv"));
                assert_eq!(rows.len() as u64, r.rows);
                assert!(ids(&rows).contains(&5));
            }
            "bad_json" => {
                assert_eq!(r.state, IngestRunState::Succeeded, "{r:?}");
                assert_eq!((r.rows, r.malformed_rows), (2, 1), "{r:?}");
                assert_eq!(ids(&table_rows(&root.join("t/bad_json"))), [1, 2]);
            }
            _ => {
                assert_eq!(r.state, IngestRunState::Failed, "{r:?}");
                assert!(r.message.contains("malformed"), "{}", r.message);
            }
        }
    }
    // Now that bad_json has a schema, its preview compares against it.
    let again = client
        .rpc
        .preview_ingestion(
            slow_ctx(),
            spec(
                "bad_json",
                &json_dir,
                SourceFormat::Json,
                &root.join("t/bad_json"),
            ),
            3,
        )
        .await
        .flat()
        .unwrap();
    assert!(
        again
            .evolution
            .iter()
            .any(|s| s.contains("no columns beyond schema version 1")),
        "{:?}",
        again.evolution
    );
    let _ = csv_spec;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_definitions_are_refused_with_clear_errors() {
    // No Spark runtime: none of this needs one.
    let daemon = Daemon::start();
    let client = daemon.client().await;
    let root = daemon.root.path();
    let src = root.join("in");
    std::fs::create_dir_all(&src).unwrap();

    let e = api_error(
        client
            .rpc
            .create_ingestion(
                client::ctx(),
                spec(
                    "x",
                    &root.join("nope"),
                    SourceFormat::Csv,
                    &root.join("t/x"),
                ),
            )
            .await
            .flat(),
    );
    assert!(
        matches!(&e, Error::Invalid { field, why } if field == "source_dir" && why.contains("does not exist")),
        "{e}"
    );

    // An unknown format never reaches the daemon: the CLI names the formats there are.
    let (code, _, err) = harbour(
        &daemon,
        &[
            "ingest",
            "create",
            "x",
            "--source",
            src.to_str().unwrap(),
            "--format",
            "xml",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("'xml' is not a source format; use csv, json"),
        "{err}"
    );

    create(
        &client,
        spec("first", &src, SourceFormat::Csv, &root.join("t/first")),
    )
    .await;
    // Same table name.
    let mut same_table = spec("second", &src, SourceFormat::Csv, &root.join("t/second"));
    same_table.target_table = "first".into();
    let e = api_error(
        client
            .rpc
            .create_ingestion(client::ctx(), same_table)
            .await
            .flat(),
    );
    assert!(
        matches!(&e, Error::Conflict(m) if m.contains("ingestion 'first' writes to table")),
        "{e}"
    );
    // A directory with files in it.
    let full = root.join("t/full");
    std::fs::create_dir_all(&full).unwrap();
    std::fs::write(full.join("old.parquet"), b"x").unwrap();
    let e = api_error(
        client
            .rpc
            .create_ingestion(client::ctx(), spec("third", &src, SourceFormat::Csv, &full))
            .await
            .flat(),
    );
    assert!(
        matches!(&e, Error::Conflict(m) if m.contains("has files already")),
        "{e}"
    );
    // A table the catalog has already.
    client
        .rpc
        .add_table(
            client::ctx(),
            TableSpec {
                name: "sales".into(),
                format: TableFormat::Parquet,
                location: full.to_str().unwrap().into(),
                options: vec![],
            },
        )
        .await
        .flat()
        .unwrap();
    let mut taken = spec("sales", &src, SourceFormat::Csv, &root.join("t/sales"));
    taken.target_table = "sales".into();
    let e = api_error(
        client
            .rpc
            .create_ingestion(client::ctx(), taken)
            .await
            .flat(),
    );
    assert!(
        matches!(&e, Error::Conflict(m) if m.contains("SQL catalog has a table 'sales'")),
        "{e}"
    );
    // The target inside the source.
    let e = api_error(
        client
            .rpc
            .create_ingestion(
                client::ctx(),
                spec("inner", &src, SourceFormat::Csv, &src.join("out")),
            )
            .await
            .flat(),
    );
    assert!(e.to_string().contains("overlaps the source"), "{e}");
    // Same name twice.
    let e = api_error(
        client
            .rpc
            .create_ingestion(
                client::ctx(),
                spec("first", &src, SourceFormat::Csv, &root.join("t/f2")),
            )
            .await
            .flat(),
    );
    assert!(
        matches!(&e, Error::Conflict(m) if m.contains("exists already")),
        "{e}"
    );
    // Unknown ingestion.
    let e = api_error(
        client
            .rpc
            .run_ingestion(client::ctx(), "ghost".into())
            .await
            .flat(),
    );
    assert!(matches!(&e, Error::NotFound { .. }), "{e}");
    // Retry with nothing to retry.
    let e = api_error(
        client
            .rpc
            .retry_ingestion(client::ctx(), "first".into())
            .await
            .flat(),
    );
    assert!(e.to_string().contains("has not run yet"), "{e}");
    // Pause and resume; an interval trigger shows its next fire only while resumed.
    client
        .rpc
        .update_ingestion(
            client::ctx(),
            "first".into(),
            harbour_shared::IngestPatch {
                trigger: Some(harbour_shared::IngestTrigger::Every { secs: 3600 }),
                ..Default::default()
            },
        )
        .await
        .flat()
        .unwrap();
    let paused = client
        .rpc
        .set_ingestion_paused(client::ctx(), "first".into(), true)
        .await
        .flat()
        .unwrap();
    assert!(paused.paused && paused.next_fire_ms.is_none());
    let resumed = client
        .rpc
        .set_ingestion_paused(client::ctx(), "first".into(), false)
        .await
        .flat()
        .unwrap();
    assert!(!resumed.paused && resumed.next_fire_ms.is_some());
    // An empty source: a run with nothing to do needs no Spark at all (no runtime here).
    let r = run(&client, "first").await;
    assert_eq!(r.state, IngestRunState::NoNewFiles);

    // The estimate, before any run measured a throughput: the calibrated default, said so.
    let backlog = root.join("in2");
    std::fs::create_dir_all(&backlog).unwrap();
    for n in 0..3 {
        write_csv(&backlog, &format!("{n}.csv"), 0..1000);
    }
    let estimate = client
        .rpc
        .estimate_ingestion(
            client::ctx(),
            spec(
                "planned",
                &backlog,
                SourceFormat::Csv,
                &root.join("t/planned"),
            ),
        )
        .await
        .flat()
        .unwrap();
    assert_eq!(estimate.backlog_files, 3);
    assert!(estimate.backlog_bytes > 3 * 15_000, "{estimate:?}");
    assert!(estimate.arrival_files_per_hour > 0.0);
    assert!(
        !estimate.measured && estimate.how.contains("calibrated default"),
        "{}",
        estimate.how
    );
    assert!(estimate.expected_secs > 0.0 && estimate.cost > 0.0);
}
