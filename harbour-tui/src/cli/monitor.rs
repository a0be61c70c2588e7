//! The monitoring commands: `metrics` (now, series, history), `health` and `containers`
//! (list, logs, restart/stop/start, inspect), and their text views. The views are pure
//! functions of the daemon's types, tested below; `--json` prints the types themselves.

use std::io::Write as _;
use std::path::Path;

use harbour_shared::{
    Container, ContainerAction, HealthReport, HealthStatus, MetricHistory, MetricsNow,
};

use super::args::{ContainersArgs, ContainersCommand, MetricsArgs, MetricsCommand};
use super::commands::Out;
use super::error::CliError;
use super::{exit, table};
use crate::client::{self, Client, Flatten as _, ctx, long_poll_ctx};
use crate::fmt;

async fn connect(socket: &Path) -> Result<Client, CliError> {
    Ok(client::connect(socket).await?)
}

pub async fn metrics(socket: &Path, out: &Out, args: &MetricsArgs) -> Result<u8, CliError> {
    let client = connect(socket).await?;
    match &args.command {
        None => {
            let now = client.rpc.metrics_now(ctx()).await.flat()?;
            out.show(&now, || metrics_now(&now))?;
        }
        Some(MetricsCommand::Series) => {
            let series = client.rpc.metrics_series(ctx()).await.flat()?;
            out.show(&series, || {
                series.iter().map(|s| format!("{s}\n")).collect::<String>()
            })?;
        }
        Some(MetricsCommand::History {
            series,
            window,
            step,
        }) => {
            let history = client
                .rpc
                .metrics_history(ctx(), series.clone(), *window, step.unwrap_or(0))
                .await
                .flat()?;
            out.show(&history, || metrics_history(&history))?;
        }
    }
    Ok(exit::OK)
}

pub async fn health(socket: &Path, out: &Out) -> Result<u8, CliError> {
    let client = connect(socket).await?;
    let report = client.rpc.health(ctx()).await.flat()?;
    out.show(&report, || health_report(&report, fmt::now_ms()))?;
    Ok(if report.any_down() {
        exit::FAILURE
    } else {
        exit::OK
    })
}

pub async fn containers(socket: &Path, out: &Out, args: &ContainersArgs) -> Result<u8, CliError> {
    let client = connect(socket).await?;
    let act = |id: &String, action| {
        let client = client.clone();
        let id = id.clone();
        async move {
            client
                .rpc
                .container_action(long_poll_ctx(60_000), id, action)
                .await
                .flat()
        }
    };
    match &args.command {
        None => {
            let list = client.rpc.containers(ctx(), args.stats).await.flat()?;
            out.show(&list, || containers_table(&list))?;
        }
        Some(ContainersCommand::Logs { id, follow, tail }) => {
            container_logs(&client, out, id, *follow, *tail).await?;
        }
        Some(ContainersCommand::Restart { id }) => {
            let c = act(id, ContainerAction::Restart).await?;
            out.show(&c, || format!("restarted {}: {}\n", c.name, c.status))?;
        }
        Some(ContainersCommand::Stop { id }) => {
            let c = act(id, ContainerAction::Stop).await?;
            out.show(&c, || format!("stopped {}: {}\n", c.name, c.status))?;
        }
        Some(ContainersCommand::Start { id }) => {
            let c = act(id, ContainerAction::Start).await?;
            out.show(&c, || format!("started {}: {}\n", c.name, c.status))?;
        }
        Some(ContainersCommand::Inspect { id }) => {
            let json = client
                .rpc
                .inspect_container(ctx(), id.clone())
                .await
                .flat()?;
            // Already JSON: printed as it is, with or without --json.
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(json.as_bytes())?;
            stdout.write_all(b"\n")?;
        }
    }
    Ok(exit::OK)
}

/// Prints the last `tail` lines, then with `follow` new lines until the container stops.
async fn container_logs(
    client: &Client,
    out: &Out,
    id: &str,
    follow: bool,
    tail: u32,
) -> Result<(), CliError> {
    const WAIT_MS: u64 = 5_000;
    let mut cursor = 0;
    loop {
        let wait = if follow && cursor != 0 { WAIT_MS } else { 0 };
        let chunk = client
            .rpc
            .container_logs(long_poll_ctx(wait), id.to_owned(), tail, cursor, wait)
            .await
            .flat()?;
        let mut stdout = std::io::stdout().lock();
        if out.json {
            serde_json::to_writer(&mut stdout, &chunk).map_err(std::io::Error::from)?;
            stdout.write_all(b"\n")?;
        } else {
            stdout.write_all(&chunk.data)?;
        }
        stdout.flush()?;
        // A container with no output yet still needs a cursor to follow from.
        cursor = chunk.cursor_ns.max(cursor).max(1);
        if !follow || (!chunk.running && chunk.data.is_empty()) {
            return Ok(());
        }
    }
}

fn pct(used: u64, total: u64) -> String {
    if total == 0 {
        "-".to_owned()
    } else {
        format!("{:.0}%", used as f64 / total as f64 * 100.0)
    }
}

fn rate(bytes_per_sec: f64) -> String {
    format!("{}/s", fmt::bytes(bytes_per_sec.max(0.0) as u64))
}

/// `harbour metrics`.
pub fn metrics_now(m: &MetricsNow) -> String {
    let cores: Vec<String> = m.cores.iter().map(|c| format!("{c:.0}")).collect();
    let mut rows = vec![
        ("sampled", fmt::local_time(m.at_ms)),
        (
            "cpu",
            format!("{:.1}% (cores: {})", m.cpu_percent, cores.join(" ")),
        ),
        (
            "load",
            format!("{:.2} {:.2} {:.2}", m.load[0], m.load[1], m.load[2]),
        ),
        (
            "memory",
            format!(
                "{} of {} ({})",
                fmt::bytes(m.memory_used_bytes),
                fmt::bytes(m.memory_total_bytes),
                pct(m.memory_used_bytes, m.memory_total_bytes)
            ),
        ),
        (
            "swap",
            format!(
                "{} of {}",
                fmt::bytes(m.swap_used_bytes),
                fmt::bytes(m.swap_total_bytes)
            ),
        ),
        (
            "disk i/o",
            format!(
                "read {}, write {}",
                rate(m.disk_read_bytes_per_sec),
                rate(m.disk_write_bytes_per_sec)
            ),
        ),
        ("processes", m.processes.to_string()),
        (
            "harbourd",
            format!(
                "{} RSS, {:.1}% CPU",
                fmt::bytes(m.harbourd.rss_bytes),
                m.harbourd.cpu_percent
            ),
        ),
    ];
    for d in &m.disks {
        rows.push((
            "disk",
            format!(
                "{}: {} of {} ({})",
                d.mount,
                fmt::bytes(d.used_bytes),
                fmt::bytes(d.total_bytes),
                pct(d.used_bytes, d.total_bytes)
            ),
        ));
    }
    for n in &m.networks {
        rows.push((
            "network",
            format!(
                "{}: rx {}, tx {}",
                n.interface,
                rate(n.rx_bytes_per_sec),
                rate(n.tx_bytes_per_sec)
            ),
        ));
    }
    for r in &m.runs {
        rows.push((
            "run",
            format!(
                "{}: {} process(es), {} RSS, {:.1}% CPU",
                r.run,
                r.cost.processes,
                fmt::bytes(r.cost.rss_bytes),
                r.cost.cpu_percent
            ),
        ));
    }
    table::pairs(&rows)
}

fn value(v: Option<f64>) -> String {
    match v {
        None => "-".to_owned(),
        Some(v) if v.abs() >= 1e6 || (v.fract() == 0.0 && v.abs() >= 100.0) => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
    }
}

/// `harbour metrics history`: one row per step, one column per series.
pub fn metrics_history(history: &[MetricHistory]) -> String {
    let Some(first) = history.first() else {
        return String::new();
    };
    let step = i64::try_from(first.step_ms).unwrap_or(i64::MAX);
    let mut headers = vec!["TIME"];
    headers.extend(history.iter().map(|h| h.series.as_str()));
    let rows: Vec<Vec<String>> = (0..first.values.len())
        .map(|i| {
            let mut row = vec![fmt::local_time(first.start_ms + step * i as i64)];
            row.extend(
                history
                    .iter()
                    .map(|h| value(h.values.get(i).copied().flatten())),
            );
            row
        })
        .collect();
    table::render(&headers, &rows)
}

/// `harbour health`.
pub fn health_report(report: &HealthReport, now_ms: i64) -> String {
    let rows: Vec<Vec<String>> = report
        .checks
        .iter()
        .map(|c| {
            let status = match c.status {
                HealthStatus::Down => "DOWN".to_owned(),
                other => other.to_string(),
            };
            vec![
                c.name.clone(),
                c.kind.clone(),
                status,
                fmt::duration_ms(now_ms - c.since_ms),
                c.latency_ms
                    .map_or_else(|| "-".to_owned(), |l| format!("{l}ms")),
                c.message.clone(),
            ]
        })
        .collect();
    let mut text = table::render(
        &["CHECK", "KIND", "STATUS", "FOR", "LATENCY", "MESSAGE"],
        &rows,
    );
    if !report.transitions.is_empty() {
        text.push_str("\nrecent changes:\n");
        for t in report.transitions.iter().take(10) {
            text.push_str(&format!(
                "  {}  {}: {} -> {}  {}\n",
                fmt::local_time(t.at_ms),
                t.check,
                t.from,
                t.to,
                t.message
            ));
        }
    }
    text
}

/// `harbour containers`: compose projects grouped, as the daemon sorted them.
pub fn containers_table(list: &[Container]) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            let stats = c.stats.map_or_else(
                || "-".to_owned(),
                |s| format!("{:.1}% {}", s.cpu_percent, fmt::bytes(s.memory_bytes)),
            );
            vec![
                c.id.chars().take(12).collect(),
                c.name.clone(),
                c.project.clone().unwrap_or_else(|| "-".to_owned()),
                c.image.clone(),
                c.state.clone(),
                c.health.clone().unwrap_or_else(|| "-".to_owned()),
                stats,
                if c.ports.is_empty() {
                    "-".to_owned()
                } else {
                    c.ports.join(",")
                },
                c.status.clone(),
            ]
        })
        .collect();
    table::render(
        &[
            "ID", "NAME", "PROJECT", "IMAGE", "STATE", "HEALTH", "CPU/MEM", "PORTS", "STATUS",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use harbour_shared::{ContainerStats, HealthCheck, HealthTransition};

    #[test]
    fn history_has_a_column_per_series_and_dashes_for_gaps() {
        let h = |name: &str, values| MetricHistory {
            series: name.into(),
            start_ms: 0,
            step_ms: 1_000,
            resolution_ms: 1_000,
            values,
        };
        let text = metrics_history(&[
            h("cpu", vec![Some(12.5), None]),
            h("mem.used", vec![Some(2e9), Some(1e9)]),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("TIME") && lines[0].ends_with("cpu    mem.used"));
        assert!(lines[1].ends_with("12.50  2000000000"), "{text}");
        assert!(lines[2].ends_with("-      1000000000"), "{text}");
    }

    #[test]
    fn health_shows_down_loudly_with_recent_changes() {
        let report = HealthReport {
            checks: vec![HealthCheck {
                name: "web".into(),
                kind: "http".into(),
                target: "http://127.0.0.1:8080/".into(),
                status: HealthStatus::Down,
                since_ms: 0,
                last_checked_ms: Some(60_000),
                latency_ms: Some(3),
                message: "HTTP 500 (expected 2xx)".into(),
                failures: 3,
            }],
            transitions: vec![HealthTransition {
                check: "web".into(),
                at_ms: 0,
                from: HealthStatus::Up,
                to: HealthStatus::Down,
                message: "HTTP 500 (expected 2xx)".into(),
                latency_ms: Some(3),
            }],
        };
        let text = health_report(&report, 65_000);
        assert!(text.contains("web    http  DOWN    1m 05s  3ms"), "{text}");
        assert!(text.contains("web: up -> down  HTTP 500"), "{text}");
    }

    #[test]
    fn containers_show_health_stats_and_ports() {
        let c = Container {
            id: "0123456789abcdef".into(),
            name: "web".into(),
            image: "nginx".into(),
            state: "running".into(),
            status: "Up 2 minutes (unhealthy)".into(),
            health: Some("unhealthy".into()),
            ports: vec!["0.0.0.0:8080->80/tcp".into()],
            created_ms: 0,
            project: Some("shop".into()),
            service: Some("web".into()),
            stats: Some(ContainerStats {
                cpu_percent: 1.5,
                memory_bytes: 2 * 1024 * 1024,
                memory_limit_bytes: 0,
            }),
        };
        let text = containers_table(&[c]);
        assert!(
            text.lines().nth(1).unwrap().starts_with(
                "0123456789ab  web   shop     nginx  running  unhealthy  1.5% 2.0 MiB  0.0.0.0:8080->80/tcp"
            ),
            "{text}"
        );
    }
}
