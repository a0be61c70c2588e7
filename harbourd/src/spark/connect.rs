//! SQL over Spark Connect: one persistent Connect server per cluster (started on first use,
//! bound to loopback, logs in the cluster's directory) and one Rust Connect session to it
//! held by the daemon, so a query costs a round trip instead of a JVM start.
//!
//! Registered tables (files or JDBC) are created in each server's catalog when its session
//! starts and when they are added. Spark's errors come back as `Invalid { field: "query" }`
//! with Spark's own message, which carries the position when Spark gives one.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::array::Array as _;
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use harbour_shared::{
    ClusterKind, Error, LOCAL_CLUSTER, SqlColumn, SqlRequest, SqlResult, Table, TableFormat,
    TableSpec,
};
use spark_connect::{SparkError, SparkSession, SparkSessionBuilder};

use super::procs::{self, Owned};
use super::{Spark, valid_name};
use crate::clock::now_ms;
use crate::store::clusters as rows;

/// Rows a query returns when the request does not say.
pub const DEFAULT_LIMIT: u32 = 1_000;
/// The most rows one answer carries (the frame limit is the real bound).
pub const MAX_LIMIT: u32 = 100_000;
/// Run once per new session: an aggregation, a join and a sort, like the queries to come.
const WARM_UP: &str = "SELECT a.k, count(*), avg(a.id), max(b.id) FROM \
    (SELECT id, id % 7 AS k FROM range(200000)) a JOIN (SELECT id FROM range(1000)) b \
    ON a.id = b.id GROUP BY a.k ORDER BY a.k";
/// Writes a small parquet directory at `dir` and reads it back aggregated, as a table query
/// would: string keys, doubles and longs.
fn parquet_warm_up(dir: &Path) -> [String; 2] {
    let dir = dir.display().to_string();
    let literal = dir.replace('\\', "\\\\").replace('\'', "\\'");
    let ident = dir.replace('`', "``");
    [
        format!(
            "INSERT OVERWRITE DIRECTORY '{literal}' USING parquet SELECT id, \
             CAST(id % 4 AS STRING) AS k, CAST(id AS DOUBLE) / 3 AS v FROM range(10000)"
        ),
        format!("SELECT k, count(*), avg(v), sum(id) FROM parquet.`{ident}` GROUP BY k ORDER BY k"),
    ]
}

/// How long a new Connect server has to answer.
const START_TIMEOUT: Duration = Duration::from_secs(180);

#[derive(Debug, Default)]
struct Slot {
    server: Option<Owned>,
    session: Option<SparkSession>,
    url: Option<String>,
}

/// The Connect servers and sessions, one per cluster.
#[derive(Debug, Default)]
pub struct Connects {
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>,
    urls: Mutex<HashMap<String, String>>,
}

impl Connects {
    fn slot(&self, cluster: &str) -> Arc<tokio::sync::Mutex<Slot>> {
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        slots.entry(cluster.to_owned()).or_default().clone()
    }

    /// The Connect URL of a cluster's running server, if one is running.
    pub fn url_of(&self, cluster: &str) -> Option<String> {
        self.urls.lock().ok()?.get(cluster).cloned()
    }

    fn set_url(&self, cluster: &str, url: Option<String>) {
        if let Ok(mut urls) = self.urls.lock() {
            match url {
                Some(u) => urls.insert(cluster.to_owned(), u),
                None => urls.remove(cluster),
            };
        }
    }

    /// Stops a cluster's Connect server, if harbourd runs one.
    pub async fn stop(&self, cluster: &str, grace: Duration) {
        let slot = self.slots.lock().ok().and_then(|mut s| s.remove(cluster));
        self.set_url(cluster, None);
        if let Some(slot) = slot {
            let mut slot = slot.lock().await;
            slot.session = None;
            if let Some(server) = slot.server.take() {
                procs::stop(server.proc, grace).await;
            }
        }
    }

    pub async fn stop_all(&self, grace: Duration) {
        let names: Vec<String> = self
            .slots
            .lock()
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default();
        for name in names {
            self.stop(&name, grace).await;
        }
    }

    /// Sessions that are up, for registering a new table.
    async fn live_sessions(&self) -> Vec<(String, SparkSession)> {
        let slots: Vec<(String, Arc<tokio::sync::Mutex<Slot>>)> = self
            .slots
            .lock()
            .map(|s| s.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let mut out = Vec::new();
        for (name, slot) in slots {
            if let Ok(slot) = slot.try_lock()
                && let Some(session) = &slot.session
            {
                out.push((name, session.clone()));
            }
        }
        out
    }
}

/// Spark's error as the caller sees it: a problem with the query (with Spark's message and
/// position), or the session being gone.
fn query_error(e: &SparkError) -> Error {
    let mut message = e.to_string();
    if !message.contains("pos ")
        && !message.contains("position")
        && let Some(ctx) = e.contexts.first()
        && ctx.start_index >= 0
    {
        message.push_str(&format!(
            " (at characters {}-{} of the query: '{}')",
            ctx.start_index, ctx.stop_index, ctx.fragment
        ));
    }
    Error::invalid("query", message)
}

fn connection_lost(e: &SparkError) -> bool {
    // gRPC UNAVAILABLE, or a transport error with no gRPC status at all.
    let text = e.to_string();
    e.grpc_code == Some(14)
        || (e.grpc_code.is_none()
            && (text.contains("transport error") || text.contains("Connection refused")))
}

/// Escapes a value for a single-quoted Spark SQL string.
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The statement that makes `spec` a table in a session's catalog.
pub fn create_table_sql(spec: &TableSpec) -> String {
    let mut options: Vec<(String, String)> = Vec::new();
    let using = match spec.format {
        TableFormat::Jdbc => {
            options.push(("url".into(), spec.location.clone()));
            "jdbc"
        }
        other => {
            options.push(("path".into(), spec.location.clone()));
            if other == TableFormat::Csv {
                for (k, v) in [("header", "true"), ("inferSchema", "true")] {
                    if !spec
                        .options
                        .iter()
                        .any(|(key, _)| key.eq_ignore_ascii_case(k))
                    {
                        options.push((k.into(), v.into()));
                    }
                }
            }
            other.as_str()
        }
    };
    options.extend(spec.options.iter().cloned());
    let options = options
        .iter()
        .map(|(k, v)| format!("`{k}` {}", quote(v)))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "CREATE TABLE IF NOT EXISTS `{}` USING {using} OPTIONS ({options})",
        spec.name
    )
}

fn render(
    batches: &[RecordBatch],
    limit: usize,
) -> (Vec<SqlColumn>, Vec<Vec<Option<String>>>, bool) {
    let columns = batches
        .first()
        .map(|b| {
            b.schema()
                .fields()
                .iter()
                .map(|f| SqlColumn {
                    name: f.name().clone(),
                    data_type: f.data_type().to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    let options = FormatOptions::default();
    let mut rows = Vec::new();
    let mut truncated = false;
    'batches: for batch in batches {
        let formatters: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| {
                (
                    c.clone(),
                    ArrayFormatter::try_new(c.as_ref(), &options).ok(),
                )
            })
            .collect();
        for i in 0..batch.num_rows() {
            if rows.len() >= limit {
                truncated = true;
                break 'batches;
            }
            rows.push(
                formatters
                    .iter()
                    .map(|(col, fmt)| {
                        if col.is_null(i) {
                            None
                        } else {
                            Some(
                                fmt.as_ref()
                                    .map_or_else(|| "?".to_owned(), |f| f.value(i).to_string()),
                            )
                        }
                    })
                    .collect(),
            );
        }
    }
    (columns, rows, truncated)
}

/// Reads one row of a file table, so that Spark lists its files and reads their footers
/// now, not on the user's first query (the catalog caches both). JDBC tables are left
/// alone: a query there costs the database, not just this session.
async fn touch_table(session: &SparkSession, spec: &TableSpec) {
    if spec.format == TableFormat::Jdbc {
        return;
    }
    let touch = format!("SELECT * FROM `{}` LIMIT 1", spec.name);
    if let Err(e) = session.query(&touch).execute().await {
        tracing::debug!(table = %spec.name, "warming the table: {e}");
    }
}

impl Spark {
    /// The session of a cluster's Connect server, starting the server if needed.
    pub async fn session(&self, cluster: &str) -> Result<SparkSession, Error> {
        let info = self.get_cluster(cluster).await?;
        let slot = self.connects.slot(cluster);
        let mut slot = slot.lock().await;
        let server_alive = slot.server.as_ref().is_none_or(|s| !s.has_exited());
        if let Some(session) = &slot.session
            && server_alive
        {
            return Ok(session.clone());
        }
        slot.session = None;
        if let Some(old) = slot.server.take() {
            procs::stop(old.proc, self.grace).await;
        }
        let (url, server) = match (&info.kind, &info.connect_url) {
            (ClusterKind::External, Some(url)) => (url.clone(), None),
            _ => {
                let (master, _) = self.master_for_run(cluster).await?;
                let (url, server) = self.start_connect_server(cluster, &master).await?;
                (url, Some(server))
            }
        };
        let session = self.open_session(&url, server.as_ref(), cluster).await?;
        self.register_tables(&session).await;
        // Pay the JVM's one-time costs (code generation, JIT of aggregation and sort) now,
        // not on the user's first query.
        if let Err(e) = session.query(WARM_UP).execute().await {
            tracing::debug!(cluster, "warm-up query: {e}");
        }
        // On a server of ours (its filesystem is this machine's), a parquet round trip too:
        // the first query over a parquet table otherwise pays the reader's class loading and
        // code generation (about half of that query's time, measured).
        if server.is_some() {
            for query in parquet_warm_up(&self.cluster_dir(cluster).join("warm-up.parquet")) {
                if let Err(e) = session.query(&query).execute().await {
                    tracing::debug!(cluster, "parquet warm-up: {e}");
                    break;
                }
            }
        }
        slot.url = Some(url.clone());
        slot.server = server;
        slot.session = Some(session.clone());
        self.connects.set_url(cluster, Some(url));
        if let Ok(c) = self.get_cluster(cluster).await {
            self.announce(&c);
        }
        Ok(session)
    }

    async fn start_connect_server(
        &self,
        cluster: &str,
        master: &str,
    ) -> Result<(String, Owned), Error> {
        let rt = self.runtime()?.clone();
        let port = match self
            .store
            .call({
                let name = cluster.to_owned();
                move |c| rows::get(c, &name)
            })
            .await
            .ok()
            .flatten()
            .and_then(|r| r.ports)
        {
            Some(ports) if std::net::TcpListener::bind(("127.0.0.1", ports.connect)).is_ok() => {
                ports.connect
            }
            _ => procs::free_port().map_err(|e| Error::unavailable("ports", e.to_string()))?,
        };
        let dir = self.cluster_dir(cluster);
        let mut argv = vec![
            rt.spark_submit().display().to_string(),
            "--class".into(),
            "org.apache.spark.sql.connect.service.SparkConnectServer".into(),
            "--name".into(),
            format!("harbour connect: {cluster}"),
            "--master".into(),
            master.to_owned(),
        ];
        let mut conf = vec![
            ("spark.connect.grpc.binding.address", "127.0.0.1".to_owned()),
            ("spark.connect.grpc.binding.port", port.to_string()),
            ("spark.ui.enabled", "false".to_owned()),
            ("spark.sql.catalogImplementation", "in-memory".to_owned()),
            (
                "spark.sql.warehouse.dir",
                dir.join("warehouse").display().to_string(),
            ),
        ];
        // An external cluster's executors must reach this driver from their hosts; local and
        // managed clusters stay on loopback.
        let loopback = master.starts_with("local") || master.starts_with("spark://127.0.0.1:");
        if loopback {
            conf.push(("spark.driver.host", "127.0.0.1".to_owned()));
        }
        if master.starts_with("spark://") {
            // Leave the rest of a standalone cluster's cores to runs.
            conf.push(("spark.cores.max", "1".to_owned()));
            let worker_mb = self
                .get_cluster(cluster)
                .await
                .ok()
                .and_then(|c| c.spec)
                .and_then(|s| super::memory_mb(&s.memory))
                .unwrap_or(1024);
            conf.push(("spark.executor.memory", format!("{}m", worker_mb.min(512))));
        }
        for (k, v) in conf {
            argv.push("--conf".into());
            argv.push(format!("{k}={v}"));
        }
        let jars = self.jars();
        if !jars.is_empty() {
            let list: Vec<String> = jars.iter().map(|j| j.display().to_string()).collect();
            argv.push("--jars".into());
            argv.push(list.join(","));
            argv.push("--driver-class-path".into());
            argv.push(list.join(":"));
        }
        argv.push("spark-internal".into());
        let log = dir.join("connect.log");
        let mut env = rt.env();
        if !loopback {
            env.retain(|(k, _)| k != "SPARK_LOCAL_IP");
        }
        let server = procs::start(&argv, env, &dir, &log).map_err(|e| {
            Error::unavailable(
                "spark connect",
                format!("cannot start the Connect server: {e}"),
            )
        })?;
        tracing::info!(cluster, port, "started a Spark Connect server");
        Ok((format!("sc://127.0.0.1:{port}"), server))
    }

    async fn open_session(
        &self,
        url: &str,
        server: Option<&Owned>,
        cluster: &str,
    ) -> Result<SparkSession, Error> {
        let deadline = Instant::now() + START_TIMEOUT;
        let port: Option<u16> = url
            .trim_start_matches("sc://")
            .split(['/', ';'])
            .next()
            .and_then(|hp| hp.rsplit(':').next())
            .and_then(|p| p.parse().ok());
        let log = self.cluster_dir(cluster).join("connect.log");
        loop {
            if server.is_some_and(Owned::has_exited) {
                return Err(Error::unavailable(
                    "spark connect",
                    format!(
                        "the Connect server for '{cluster}' exited while starting; see {}",
                        log.display()
                    ),
                ));
            }
            let ready = match (server, port) {
                (Some(_), Some(port)) => procs::port_open(port).await,
                _ => true,
            };
            if ready {
                let attempt = async {
                    let session = SparkSessionBuilder::default()
                        .remote(url)
                        .get_or_create()
                        .await?;
                    session.version().await?;
                    Ok::<_, SparkError>(session)
                };
                match attempt.await {
                    Ok(session) => return Ok(session),
                    Err(e) if server.is_none() => {
                        return Err(Error::unavailable(
                            "spark connect",
                            format!("{url} does not answer: {e}"),
                        ));
                    }
                    Err(e) => tracing::debug!("Connect server not ready yet: {e}"),
                }
            }
            if Instant::now() >= deadline {
                return Err(Error::unavailable(
                    "spark connect",
                    format!(
                        "the Connect server for '{cluster}' did not answer within {}s; see {}",
                        START_TIMEOUT.as_secs(),
                        log.display()
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn register_tables(&self, session: &SparkSession) {
        let tables = self
            .store
            .call(|c| rows::list_tables(c))
            .await
            .unwrap_or_default();
        for table in tables {
            if let Err(e) = session
                .query(&create_table_sql(&table.spec))
                .execute()
                .await
            {
                tracing::warn!(table = %table.spec.name, "cannot register the table: {e}");
                continue;
            }
            touch_table(session, &table.spec).await;
        }
    }

    /// Runs a query on the cluster's session.
    pub async fn sql(&self, request: SqlRequest) -> Result<SqlResult, Error> {
        let cluster = request
            .cluster
            .filter(|c| !c.trim().is_empty())
            .unwrap_or_else(|| LOCAL_CLUSTER.to_owned());
        if request.query.trim().is_empty() {
            return Err(Error::invalid("query", "it is empty; give a SQL statement"));
        }
        let limit = match request.limit {
            0 => DEFAULT_LIMIT,
            n => n.min(MAX_LIMIT),
        };
        let session = self.session(&cluster).await?;
        let started = Instant::now();
        let query = request.query.clone();
        // The closure's error type is the client library's, whatever its size.
        #[allow(clippy::result_large_err)]
        let result = session
            .run(move |spark| {
                spark
                    .sql(&query)?
                    .limit(i32::try_from(limit).unwrap_or(i32::MAX).saturating_add(1))
                    .collect_record_batches()
            })
            .await;
        let batches = match result {
            Ok(b) => b,
            Err(e) if connection_lost(&e) => {
                // The server went away: the next query starts a new one.
                self.connects.stop(&cluster, self.grace).await;
                return Err(Error::unavailable(
                    "spark connect",
                    format!("the session to '{cluster}' was lost ({e}); run the query again"),
                ));
            }
            Err(e) => return Err(query_error(&e)),
        };
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (columns, rows, truncated) = render(&batches, limit as usize);
        Ok(SqlResult {
            cluster,
            columns,
            rows,
            truncated,
            elapsed_ms,
        })
    }

    /// Interrupts what runs on a cluster's session.
    pub async fn cancel_sql(&self, cluster: &str) -> Result<u32, Error> {
        let slot = self.connects.slot(cluster);
        // Not `lock`: a start in progress holds it, and there is nothing to cancel then.
        let session = match slot.try_lock() {
            Ok(slot) => slot.session.clone(),
            Err(_) => None,
        };
        let Some(session) = session else {
            return Ok(0);
        };
        let ids = session
            .interrupt_all()
            .await
            .map_err(|e| Error::unavailable("spark connect", e.to_string()))?;
        Ok(u32::try_from(ids.len()).unwrap_or(u32::MAX))
    }

    pub async fn list_tables(&self) -> Result<Vec<Table>, Error> {
        self.store
            .call(|c| rows::list_tables(c))
            .await
            .map_err(|e| Error::Internal {
                id: format!("tables: {e}"),
            })
    }

    pub async fn add_table(&self, mut spec: TableSpec) -> Result<Table, Error> {
        spec.name = spec.name.trim().to_owned();
        valid_name("name", &spec.name)?;
        match spec.format {
            TableFormat::Jdbc => {
                if !spec.location.starts_with("jdbc:") {
                    return Err(Error::invalid(
                        "location",
                        format!(
                            "'{}' is not a JDBC URL; write it like jdbc:postgresql://HOST:5432/DB",
                            spec.location
                        ),
                    ));
                }
                if !spec
                    .options
                    .iter()
                    .any(|(k, _)| k == "dbtable" || k == "query")
                {
                    return Err(Error::invalid(
                        "options",
                        "a JDBC table needs --option dbtable=SCHEMA.TABLE (or query=SELECT ...)",
                    ));
                }
            }
            TableFormat::Delta => {
                let has_delta = self.runtime.as_ref().is_some_and(|rt| {
                    std::fs::read_dir(rt.spark_home.join("jars")).is_ok_and(|d| {
                        d.filter_map(Result::ok)
                            .any(|e| e.file_name().to_string_lossy().starts_with("delta-"))
                    })
                }) || self
                    .jars()
                    .iter()
                    .any(|j| j.to_string_lossy().contains("delta-"));
                if !has_delta {
                    return Err(Error::unavailable(
                        "Delta Lake",
                        "its jars (delta-spark, delta-storage) are not in the runtime; put them in \
                         [spark] jars in harbourd.toml (see docs/spark.md) and restart harbourd",
                    ));
                }
            }
            _ => {
                if spec.location.starts_with('/') {
                    if !Path::new(&spec.location).exists() {
                        return Err(Error::invalid(
                            "path",
                            format!(
                                "{} does not exist (or harbourd cannot see it)",
                                spec.location
                            ),
                        ));
                    }
                } else if !spec.location.contains("://") {
                    return Err(Error::invalid(
                        "path",
                        format!(
                            "'{}' is not absolute; give an absolute path or a URI",
                            spec.location
                        ),
                    ));
                }
            }
        }
        // Register where sessions are up; a failure there is the user's to see.
        for (cluster, session) in self.connects.live_sessions().await {
            let drop = format!("DROP TABLE IF EXISTS `{}`", spec.name);
            let _ = session.query(&drop).execute().await;
            if let Err(e) = session.query(&create_table_sql(&spec)).execute().await {
                let Error::Invalid { why, .. } = query_error(&e) else {
                    continue;
                };
                return Err(Error::invalid(
                    "table",
                    format!("Spark on cluster '{cluster}' refused it: {why}"),
                ));
            }
            touch_table(&session, &spec).await;
        }
        let stored = spec.clone();
        self.store
            .call(move |c| rows::save_table(c, &stored, now_ms()))
            .await
            .map_err(|e| Error::Internal {
                id: format!("tables: {e}"),
            })
    }

    pub async fn drop_table(&self, name: &str) -> Result<Table, Error> {
        let owned = name.to_owned();
        let table = self
            .store
            .call(move |c| {
                let t = rows::get_table(c, &owned)?;
                rows::delete_table(c, &owned)?;
                Ok(t)
            })
            .await
            .map_err(|e| Error::Internal {
                id: format!("tables: {e}"),
            })?
            .ok_or_else(|| {
                Error::not_found(
                    format!("table '{name}'"),
                    "`harbour tables list` shows the tables there are",
                )
            })?;
        for (_, session) in self.connects.live_sessions().await {
            let _ = session
                .query(&format!("DROP TABLE IF EXISTS `{name}`"))
                .execute()
                .await;
        }
        Ok(table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parquet_warm_up_quotes_its_path() {
        let [write, read] = parquet_warm_up(Path::new("/d/it's `x`\\y"));
        assert!(
            write.contains("DIRECTORY '/d/it\\'s `x`\\\\y' USING parquet"),
            "{write}"
        );
        assert!(
            read.contains("FROM parquet.`/d/it's ``x``\\y` GROUP BY"),
            "{read}"
        );
    }

    #[test]
    fn tables_become_create_statements_with_quoted_options() {
        let spec = TableSpec {
            name: "people".into(),
            format: TableFormat::Csv,
            location: "/data/it's.csv".into(),
            options: vec![("sep".into(), ";".into())],
        };
        assert_eq!(
            create_table_sql(&spec),
            "CREATE TABLE IF NOT EXISTS `people` USING csv OPTIONS (`path` '/data/it\\'s.csv', \
             `header` 'true', `inferSchema` 'true', `sep` ';')"
        );
        let jdbc = TableSpec {
            name: "orders".into(),
            format: TableFormat::Jdbc,
            location: "jdbc:postgresql://127.0.0.1:5432/shop".into(),
            options: vec![("dbtable".into(), "public.orders".into())],
        };
        assert_eq!(
            create_table_sql(&jdbc),
            "CREATE TABLE IF NOT EXISTS `orders` USING jdbc OPTIONS (`url` \
             'jdbc:postgresql://127.0.0.1:5432/shop', `dbtable` 'public.orders')"
        );
    }
}
