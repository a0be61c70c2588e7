//! The Spark commands of `harbour`: `clusters ...`, `sql`, `tables ...`, and the Spark
//! progress section of `run show`. Their command lines live in [`super::args`]; the text
//! views are here, next to the commands, because nothing else uses them.

use std::path::Path;
use std::time::{Duration, Instant};

use harbour_shared::{
    Cluster, ClusterCheck, ClusterSpec, ClusterState, ExternalClusterSpec, SparkProgress,
    SqlRequest, SqlResult, Table, TableSpec, TaskCounts,
};

use super::args::{ClustersCommand, SqlArgs, TablesCommand};
use super::commands::Out;
use super::error::CliError;
use super::{exit, table};
use crate::client::{self, Client, Flatten, ctx};
use crate::fmt;

/// A context for calls that may start Spark processes (a Connect server takes a while).
pub fn slow_ctx() -> tarpc::context::Context {
    let mut ctx = tarpc::context::current();
    ctx.deadline = Instant::now() + Duration::from_secs(600);
    ctx
}

async fn connect(socket: &Path) -> Result<Client, CliError> {
    Ok(client::connect(socket).await?)
}

pub async fn clusters(socket: &Path, out: &Out, command: &ClustersCommand) -> Result<u8, CliError> {
    let client = connect(socket).await?;
    match command {
        ClustersCommand::List => {
            let clusters = client.rpc.list_clusters(ctx()).await.flat()?;
            out.show(&clusters, || render_clusters(&clusters))?;
        }
        ClustersCommand::Show { name } => {
            let cluster = client.rpc.get_cluster(ctx(), name.clone()).await.flat()?;
            out.show(&cluster, || render_cluster(&cluster))?;
        }
        ClustersCommand::Create {
            name,
            workers,
            cores,
            memory,
            wait,
        } => {
            let spec = ClusterSpec {
                name: name.clone(),
                workers: *workers,
                cores: *cores,
                memory: memory.clone(),
            };
            let mut cluster = client.rpc.create_cluster(ctx(), spec).await.flat()?;
            if *wait {
                cluster = wait_settled(&client, name).await?;
            }
            out.show(&cluster, || render_cluster(&cluster))?;
            if matches!(cluster.state, ClusterState::Error(_)) {
                return Ok(exit::FAILURE);
            }
        }
        ClustersCommand::Add {
            name,
            master,
            connect,
        } => {
            let spec = ExternalClusterSpec {
                name: name.clone(),
                master: master.clone(),
                connect: connect.clone(),
            };
            let cluster = client.rpc.add_cluster(ctx(), spec).await.flat()?;
            out.show(&cluster, || render_cluster(&cluster))?;
        }
        ClustersCommand::Test { name } => {
            let checks = client
                .rpc
                .test_cluster(slow_ctx(), name.clone())
                .await
                .flat()?;
            out.show(&checks, || render_checks(&checks))?;
            if checks.iter().any(|c| !c.ok) {
                return Ok(exit::FAILURE);
            }
        }
        ClustersCommand::Delete { name } => {
            let cluster = client
                .rpc
                .delete_cluster(slow_ctx(), name.clone())
                .await
                .flat()?;
            out.show(&cluster, || format!("deleted cluster {}\n", cluster.name))?;
        }
        ClustersCommand::Restart { name, wait } => {
            let mut cluster = client
                .rpc
                .restart_cluster(slow_ctx(), name.clone())
                .await
                .flat()?;
            if *wait {
                cluster = wait_settled(&client, name).await?;
            }
            out.show(&cluster, || render_cluster(&cluster))?;
        }
    }
    Ok(exit::OK)
}

/// Polls a cluster until it is no longer pending.
async fn wait_settled(client: &Client, name: &str) -> Result<Cluster, CliError> {
    loop {
        let cluster = client
            .rpc
            .get_cluster(ctx(), name.to_owned())
            .await
            .flat()?;
        if cluster.state != ClusterState::Pending && cluster.state != ClusterState::Terminating {
            return Ok(cluster);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

pub async fn sql(socket: &Path, out: &Out, args: &SqlArgs) -> Result<u8, CliError> {
    let query = match (&args.query, &args.file) {
        (Some(q), _) => q.clone(),
        (None, Some(file)) => std::fs::read_to_string(file)?,
        (None, None) => return Err(CliError::usage("give a query, or --file FILE")),
    };
    let client = connect(socket).await?;
    let request = SqlRequest {
        query,
        cluster: args.cluster.clone(),
        limit: args.limit.unwrap_or(0),
    };
    let result = client.rpc.sql(slow_ctx(), request).await.flat()?;
    if args.csv {
        super::commands::write_stdout(render_csv(&result).as_bytes())?;
    } else {
        out.show(&result, || render_sql(&result))?;
    }
    Ok(exit::OK)
}

pub async fn tables(socket: &Path, out: &Out, command: &TablesCommand) -> Result<u8, CliError> {
    let client = connect(socket).await?;
    match command {
        TablesCommand::List => {
            let tables = client.rpc.list_tables(ctx()).await.flat()?;
            out.show(&tables, || render_tables(&tables))?;
        }
        TablesCommand::Add {
            name,
            format,
            location,
            options,
        } => {
            let location = if location.starts_with('/') || location.contains(':') {
                location.clone()
            } else {
                std::env::current_dir()?
                    .join(location)
                    .display()
                    .to_string()
            };
            let spec = TableSpec {
                name: name.clone(),
                format: *format,
                location,
                options: options.clone(),
            };
            let table = client.rpc.add_table(slow_ctx(), spec).await.flat()?;
            out.show(&table, || format!("added table {}\n", table.spec.name))?;
        }
        TablesCommand::Drop { name } => {
            let table = client
                .rpc
                .drop_table(slow_ctx(), name.clone())
                .await
                .flat()?;
            out.show(&table, || format!("dropped table {}\n", table.spec.name))?;
        }
    }
    Ok(exit::OK)
}

fn state_text(state: &ClusterState) -> String {
    match state {
        ClusterState::Error(why) => format!("error: {why}"),
        other => other.label().to_owned(),
    }
}

pub fn render_clusters(clusters: &[Cluster]) -> String {
    let rows: Vec<Vec<String>> = clusters
        .iter()
        .map(|c| {
            let capacity = c.health.as_ref().map_or_else(
                || "-".to_owned(),
                |h| {
                    format!(
                        "{} workers, {}/{} cores, {} apps",
                        h.workers_alive, h.cores_used, h.cores, h.running_apps
                    )
                },
            );
            vec![
                c.name.clone(),
                c.kind.as_str().to_owned(),
                c.state.label().to_owned(),
                c.master_url.clone(),
                capacity,
            ]
        })
        .collect();
    table::render(&["NAME", "KIND", "STATE", "MASTER", "CAPACITY"], &rows)
}

pub fn render_cluster(c: &Cluster) -> String {
    let mut pairs = vec![
        ("name", c.name.clone()),
        ("kind", c.kind.as_str().to_owned()),
        ("state", state_text(&c.state)),
        ("message", c.state_message.clone()),
        ("master", c.master_url.clone()),
        ("web ui", fmt::or_dash(c.web_ui_url.as_deref())),
        ("connect", fmt::or_dash(c.connect_url.as_deref())),
    ];
    if let Some(spec) = &c.spec {
        pairs.push((
            "size",
            format!(
                "{} worker(s) x {} core(s), {}",
                spec.workers, spec.cores, spec.memory
            ),
        ));
    }
    if let Some(dir) = &c.log_dir {
        pairs.push(("logs", dir.clone()));
    }
    if let Some(h) = &c.health {
        pairs.push((
            "health",
            format!(
                "master {}, {} worker(s) alive{}",
                if h.master_alive { "up" } else { "down" },
                h.workers_alive,
                if h.workers_missing > 0 {
                    format!(", {} missing", h.workers_missing)
                } else {
                    String::new()
                }
            ),
        ));
        pairs.push((
            "capacity",
            format!(
                "{}/{} cores used, {}/{} MiB memory used, {} running app(s)",
                h.cores_used, h.cores, h.memory_used_mb, h.memory_mb, h.running_apps
            ),
        ));
        if let Some(problem) = &h.problem {
            pairs.push(("problem", problem.clone()));
        }
    }
    let mut out = table::pairs(&pairs);
    if let Some(h) = &c.health
        && !h.workers.is_empty()
    {
        out.push_str("\nWorkers:\n");
        let rows: Vec<Vec<String>> = h
            .workers
            .iter()
            .map(|w| {
                vec![
                    w.id.clone(),
                    w.host.clone(),
                    w.state.clone(),
                    format!("{}/{}", w.cores_used, w.cores),
                    format!("{}/{} MiB", w.memory_used_mb, w.memory_mb),
                ]
            })
            .collect();
        for line in table::render(&["ID", "HOST", "STATE", "CORES", "MEMORY"], &rows).lines() {
            out.push_str("  ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn render_checks(checks: &[ClusterCheck]) -> String {
    let rows: Vec<Vec<String>> = checks
        .iter()
        .map(|c| {
            vec![
                if c.ok { "ok" } else { "FAIL" }.to_owned(),
                c.what.clone(),
                c.detail.clone(),
            ]
        })
        .collect();
    table::render(&["", "CHECK", "DETAIL"], &rows)
}

pub fn render_sql(r: &SqlResult) -> String {
    let headers: Vec<String> = r
        .columns
        .iter()
        .map(|c| format!("{} ({})", c.name, c.data_type))
        .collect();
    let header_refs: Vec<&str> = headers.iter().map(String::as_str).collect();
    let rows: Vec<Vec<String>> = r
        .rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|cell| cell.clone().unwrap_or_else(|| "NULL".into()))
                .collect()
        })
        .collect();
    let mut out = if headers.is_empty() {
        String::new()
    } else {
        table::render(&header_refs, &rows)
    };
    out.push_str(&format!(
        "({} row{}{}, {} on {})\n",
        r.rows.len(),
        if r.rows.len() == 1 { "" } else { "s" },
        if r.truncated {
            ", more not shown: raise --limit"
        } else {
            ""
        },
        fmt::duration_ms(i64::try_from(r.elapsed_ms).unwrap_or(i64::MAX)),
        r.cluster
    ));
    out
}

/// RFC 4180 CSV with a header row; NULL is an empty field.
pub fn render_csv(r: &SqlResult) -> String {
    let field = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let mut out = r
        .columns
        .iter()
        .map(|c| field(&c.name))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for row in &r.rows {
        let line: Vec<String> = row
            .iter()
            .map(|c| c.as_deref().map(field).unwrap_or_default())
            .collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

fn render_tables(tables: &[Table]) -> String {
    let rows: Vec<Vec<String>> = tables
        .iter()
        .map(|t| {
            vec![
                t.spec.name.clone(),
                t.spec.format.to_string(),
                t.spec.location.clone(),
                t.spec
                    .options
                    .iter()
                    .filter(|(k, _)| !k.eq_ignore_ascii_case("password"))
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            ]
        })
        .collect();
    table::render(&["NAME", "FORMAT", "LOCATION", "OPTIONS"], &rows)
}

fn counts(t: &TaskCounts) -> String {
    let mut s = format!("{}/{}", t.completed, t.total);
    if t.active > 0 {
        s.push_str(&format!(" ({} running)", t.active));
    }
    if t.failed > 0 {
        s.push_str(&format!(" ({} failed)", t.failed));
    }
    if t.skipped > 0 {
        s.push_str(&format!(" ({} skipped)", t.skipped));
    }
    s
}

/// The Spark section of `run show`: jobs and stages as progress bars, executors, and why
/// failed stages failed.
pub fn render_progress(p: &SparkProgress) -> String {
    let source = match p.source {
        harbour_shared::ProgressSource::Live => "live from the driver",
        harbour_shared::ProgressSource::EventLog => "from the event log",
    };
    let mut out = format!(
        "\nSpark application {} ({source}):\n",
        p.app_id.as_deref().unwrap_or("-")
    );
    let jobs: Vec<Vec<String>> = p
        .jobs
        .iter()
        .map(|j| {
            vec![
                j.id.to_string(),
                j.status.clone(),
                fmt::task_bar(&j.tasks, 20),
                counts(&j.tasks),
                j.name.clone(),
            ]
        })
        .collect();
    out.push_str("  Jobs:\n");
    for line in table::render(&["JOB", "STATUS", "PROGRESS", "TASKS", "NAME"], &jobs).lines() {
        out.push_str(&format!("    {line}\n"));
    }
    let stages: Vec<Vec<String>> = p
        .stages
        .iter()
        .map(|s| {
            vec![
                format!("{}.{}", s.id, s.attempt),
                s.status.clone(),
                fmt::task_bar(&s.tasks, 20),
                counts(&s.tasks),
                s.name.clone(),
            ]
        })
        .collect();
    out.push_str("  Stages:\n");
    for line in table::render(&["STAGE", "STATUS", "PROGRESS", "TASKS", "NAME"], &stages).lines() {
        out.push_str(&format!("    {line}\n"));
    }
    for s in p.stages.iter().filter(|s| s.failure_reason.is_some()) {
        let reason = s.failure_reason.as_deref().unwrap_or_default();
        let first = reason.lines().next().unwrap_or_default();
        out.push_str(&format!("  Stage {}.{} failed: {first}\n", s.id, s.attempt));
    }
    if !p.executors.is_empty() {
        let rows: Vec<Vec<String>> = p
            .executors
            .iter()
            .map(|e| {
                vec![
                    e.id.clone(),
                    e.host_port.clone(),
                    if e.active { "active" } else { "removed" }.to_owned(),
                    e.cores.to_string(),
                    e.active_tasks.to_string(),
                    e.completed_tasks.to_string(),
                    e.failed_tasks.to_string(),
                ]
            })
            .collect();
        out.push_str("  Executors:\n");
        for line in table::render(
            &[
                "ID", "ADDRESS", "STATE", "CORES", "ACTIVE", "DONE", "FAILED",
            ],
            &rows,
        )
        .lines()
        {
            out.push_str(&format!("    {line}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_fill_with_completed_and_running_tasks() {
        let t = TaskCounts {
            total: 10,
            completed: 5,
            active: 2,
            ..TaskCounts::default()
        };
        assert_eq!(fmt::task_bar(&t, 10), "[#####>>---]");
        assert_eq!(fmt::task_bar(&TaskCounts::default(), 4), "[----]");
        let done = TaskCounts {
            total: 3,
            completed: 3,
            ..TaskCounts::default()
        };
        assert_eq!(fmt::task_bar(&done, 6), "[######]");
    }

    #[test]
    fn csv_quotes_what_needs_quoting_and_nulls_are_empty() {
        let r = SqlResult {
            cluster: "local".into(),
            columns: vec![
                harbour_shared::SqlColumn {
                    name: "a".into(),
                    data_type: "Utf8".into(),
                },
                harbour_shared::SqlColumn {
                    name: "b".into(),
                    data_type: "Int64".into(),
                },
            ],
            rows: vec![vec![Some("x,\"y\"".into()), None]],
            truncated: false,
            elapsed_ms: 5,
        };
        assert_eq!(render_csv(&r), "a,b\n\"x,\"\"y\"\"\",\n");
        assert!(render_sql(&r).contains("(1 row, "));
    }
}
