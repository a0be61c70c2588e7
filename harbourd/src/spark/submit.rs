//! What a pyspark run is submitted with (master of its cluster, event logging into the data
//! dir, a UI port of its own, loopback binding), recording its application once its event log
//! names it, and its progress: live from the driver's REST API while it runs, replayed from
//! its event log after.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use harbour_shared::{
    Error, EventKind, JobSpec, LOCAL_CLUSTER, Run, RunId, SparkAppRef, SparkProgress,
};

use super::{Spark, eventlog, procs, rest};
use crate::runs::process;
use crate::store::runs as run_rows;

/// When a run's application has not shown up in its event log by then, the driver's REST API
/// is asked instead (the run may have turned event logging off).
const REST_FALLBACK_AFTER: Duration = Duration::from_secs(20);

/// Everything `spark-submit` of one run needs beyond its spec.
#[derive(Debug, Clone)]
pub struct SparkLaunch {
    pub spark_submit: PathBuf,
    pub cluster: String,
    pub master: String,
    pub ui_port: u16,
    pub event_dir: PathBuf,
    /// Settings the run gets unless its spec sets them.
    pub defaults: Vec<(String, String)>,
    pub env: Vec<(String, String)>,
    /// Extra jars every run gets (JDBC drivers).
    pub jars: Vec<String>,
    /// Bind the driver to loopback: true for `local` and managed clusters; an external
    /// cluster's executors must reach the driver from other hosts.
    pub loopback: bool,
}

impl SparkLaunch {
    pub fn ui_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ui_port)
    }

    pub fn app_ref(&self) -> SparkAppRef {
        SparkAppRef {
            cluster: self.cluster.clone(),
            app_id: None,
            ui_url: self.ui_url(),
            event_log_dir: self.event_dir.display().to_string(),
        }
    }

    /// The `spark-submit` options (before the application).
    pub fn options(&self, spec: &JobSpec) -> Vec<String> {
        let mut argv = vec![
            "--master".to_owned(),
            self.master.clone(),
            "--name".to_owned(),
            spec.name.clone(),
        ];
        let mut conf = vec![
            ("spark.eventLog.enabled".to_owned(), "true".to_owned()),
            (
                "spark.eventLog.dir".to_owned(),
                format!("file://{}", self.event_dir.display()),
            ),
            // One plain JSON-lines file per application, which harbour replays.
            ("spark.eventLog.compress".to_owned(), "false".to_owned()),
            (
                "spark.eventLog.rolling.enabled".to_owned(),
                "false".to_owned(),
            ),
            ("spark.ui.port".to_owned(), self.ui_port.to_string()),
            // Fail instead of silently taking the next port: the recorded UI URL must be right.
            ("spark.port.maxRetries".to_owned(), "0".to_owned()),
        ];
        if self.loopback {
            conf.push(("spark.driver.host".to_owned(), "127.0.0.1".to_owned()));
        }
        for (k, v) in &self.defaults {
            if !spec.spark_conf.iter().any(|(key, _)| key == k) {
                conf.push((k.clone(), v.clone()));
            }
        }
        conf.extend(spec.spark_conf.iter().cloned());
        for (k, v) in conf {
            argv.push("--conf".into());
            argv.push(format!("{k}={v}"));
        }
        if !spec.py_files.is_empty() {
            argv.push("--py-files".into());
            argv.push(spec.py_files.join(","));
        }
        let jars: Vec<String> = self.jars.iter().chain(&spec.jars).cloned().collect();
        if !jars.is_empty() {
            argv.push("--jars".into());
            argv.push(jars.join(","));
        }
        argv
    }
}

impl Spark {
    /// Resolves what a pyspark run of `spec` is submitted with. The message of an error is
    /// the run's state message.
    pub async fn launch_for(&self, spec: &JobSpec) -> Result<SparkLaunch, String> {
        let rt = self.runtime().map_err(|e| e.to_string())?.clone();
        let cluster = spec
            .cluster
            .clone()
            .unwrap_or_else(|| LOCAL_CLUSTER.to_owned());
        let (master, managed) = self
            .master_for_run(&cluster)
            .await
            .map_err(|e| e.to_string())?;
        let loopback = cluster == LOCAL_CLUSTER || managed.is_some();
        let mut env = rt.env();
        if !loopback {
            env.retain(|(k, _)| k != "SPARK_LOCAL_IP");
        }
        let mut defaults = Vec::new();
        if let Some(managed) = managed {
            // Spark's default executor (1g) would not fit a small worker and the run would
            // wait forever for resources.
            // Half a worker: the cluster's Connect server may hold the other half.
            let mb = super::memory_mb(&managed.memory).unwrap_or(1024);
            defaults.push((
                "spark.executor.memory".to_owned(),
                format!("{}m", (mb / 2).clamp(256, 1024)),
            ));
        }
        let event_dir = self.event_dir();
        std::fs::create_dir_all(&event_dir)
            .map_err(|e| format!("cannot create {}: {e}", event_dir.display()))?;
        let ui_port = procs::free_port().map_err(|e| format!("no free port for the UI: {e}"))?;
        Ok(SparkLaunch {
            spark_submit: rt.spark_submit(),
            cluster,
            master,
            ui_port,
            event_dir,
            defaults,
            env,
            loopback,
            jars: self
                .jars()
                .iter()
                .map(|j| j.display().to_string())
                .collect(),
        })
    }

    /// Waits for the driver of a run to answer on its UI port, then records the
    /// application's id. Ends when the run's processes are gone.
    pub async fn watch_app(self: Arc<Self>, id: RunId, pgid: u32, mut app: SparkAppRef) {
        let started = SystemTime::now() - Duration::from_secs(1);
        let started_at = tokio::time::Instant::now();
        let port: Option<u16> = app.ui_url.rsplit(':').next().and_then(|p| p.parse().ok());
        let dir = PathBuf::from(&app.event_log_dir);
        let mut delay = Duration::from_millis(200);
        loop {
            let ended = self.shutdown.is_cancelled() || !process::group_alive(pgid);
            // The event log names the application: asking the driver's REST API instead makes
            // a young driver load its REST stack (Jersey), which cost a short app 2-4 s on
            // this 2-CPU machine (measured). The REST API is the fallback, for runs that turn
            // event logging off.
            let from_log = match port {
                Some(port) => {
                    let dir = dir.clone();
                    tokio::task::spawn_blocking(move || {
                        eventlog::app_with_ui_port(&dir, port, started, ended)
                    })
                    .await
                    .ok()
                    .flatten()
                }
                None => None,
            };
            let found = match from_log {
                Some(app_id) => Some(app_id),
                None if !ended && started_at.elapsed() >= REST_FALLBACK_AFTER => {
                    rest::driver_app(&self.http, &app.ui_url)
                        .await
                        .ok()
                        .map(|(app_id, _name)| app_id)
                }
                None => None,
            };
            if ended && found.is_none() {
                return;
            }
            if let Some(app_id) = found {
                app.app_id = Some(app_id);
                let stored = app.clone();
                match self
                    .store
                    .call(move |c| run_rows::set_spark(c, id, &stored))
                    .await
                {
                    Ok(Some(run)) => self.events.publish(EventKind::RunChanged(run)),
                    Ok(None) => {}
                    Err(e) => tracing::error!(run = %id, "cannot record its Spark app: {e}"),
                }
                return;
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(1));
        }
    }

    /// The progress of a pyspark run.
    pub async fn progress(&self, run: &Run) -> Result<SparkProgress, Error> {
        let Some(app) = &run.spark else {
            return Err(Error::not_found(
                format!("Spark progress of run {}", run.id),
                if run.kind == harbour_shared::JobKind::Pyspark {
                    "the run has not started its Spark application"
                } else {
                    "only pyspark runs have Spark progress"
                },
            ));
        };
        let Some(app_id) = app.app_id.clone() else {
            return Err(Error::unavailable(
                "spark driver",
                if run.is_active() {
                    format!(
                        "the driver of run {} has not answered yet; try again shortly",
                        run.id
                    )
                } else {
                    format!("run {} ended before its driver answered", run.id)
                },
            ));
        };
        if run.is_active() {
            match rest::driver_progress(&self.http, &app.ui_url, &app_id).await {
                Ok(mut p) => {
                    if p.app_name.is_none() {
                        p.app_name = Some(run.job_name.clone());
                    }
                    return Ok(p);
                }
                Err(e) => tracing::debug!(run = %run.id, "driver REST: {e}; using the event log"),
            }
        }
        let dir = PathBuf::from(&app.event_log_dir);
        tokio::task::spawn_blocking(move || eventlog::replay(&dir, &app_id))
            .await
            .map_err(|e| Error::Internal {
                id: format!("eventlog-task: {e}"),
            })?
            .map_err(|e| {
                Error::not_found(format!("the event log of run {}", run.id), format!("{e}"))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use harbour_shared::{JobKind, JobSource};

    #[test]
    fn runs_get_event_logs_a_ui_port_and_their_own_settings_last() {
        let launch = SparkLaunch {
            spark_submit: "/spark/bin/spark-submit".into(),
            cluster: "c1".into(),
            master: "spark://127.0.0.1:7077".into(),
            ui_port: 4099,
            event_dir: "/data/spark-events".into(),
            defaults: vec![("spark.executor.memory".into(), "384m".into())],
            env: vec![],
            jars: vec!["/usr/share/java/postgresql.jar".into()],
            loopback: true,
        };
        let mut spec = JobSpec::new(JobKind::Pyspark, JobSource::Code("pass".into()));
        spec.name = "etl".into();
        spec.spark_conf = vec![("spark.executor.memory".into(), "400m".into())];
        spec.py_files = vec!["/lib/util.py".into()];
        let argv = launch.options(&spec).join(" ");
        assert!(
            argv.starts_with("--master spark://127.0.0.1:7077 --name etl"),
            "{argv}"
        );
        assert!(argv.contains("--conf spark.eventLog.enabled=true"));
        assert!(argv.contains("--conf spark.eventLog.dir=file:///data/spark-events"));
        assert!(argv.contains("--conf spark.ui.port=4099"));
        assert!(argv.contains("--conf spark.executor.memory=400m"));
        assert!(!argv.contains("384m"), "the spec's setting wins: {argv}");
        assert!(argv.contains("--py-files /lib/util.py"));
        assert!(argv.contains("--jars /usr/share/java/postgresql.jar"));
    }
}
