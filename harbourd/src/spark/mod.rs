//! Spark: the runtime ([`runtime`]), clusters harbourd runs or knows ([`clusters`]), what a
//! pyspark run is submitted with and how its progress is read ([`submit`], [`rest`],
//! [`eventlog`]), and SQL over a persistent Spark Connect session per cluster ([`connect`]).
//! Processes it owns are started and reaped by [`procs`].
//!
//! [`Spark`] is the one handle the API and the run supervisor share. The run queue, logs
//! and state machine stay in `runs`; this module only adds what Spark needs on top.

pub mod clusters;
pub mod connect;
pub mod eventlog;
pub mod procs;
pub mod rest;
pub mod runtime;
pub mod submit;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use harbour_shared::{Cluster, ClusterHealth, Error};
use tokio_util::sync::CancellationToken;

use crate::config::SparkConfig;
use crate::events::EventBus;
use crate::store::Store;

pub use runtime::SparkRuntime;

/// What the Spark parts share.
#[derive(Debug)]
pub struct Spark {
    pub runtime: Option<SparkRuntime>,
    pub config: SparkConfig,
    pub data_dir: PathBuf,
    pub store: Store,
    pub events: Arc<EventBus>,
    pub http: reqwest::Client,
    pub grace: Duration,
    /// Live processes of managed clusters, by cluster name.
    managed: Mutex<HashMap<String, clusters::Live>>,
    /// The latest health of each running managed cluster.
    health: Mutex<HashMap<String, ClusterHealth>>,
    pub(crate) connects: connect::Connects,
    pub shutdown: CancellationToken,
}

impl Spark {
    pub fn new(
        config: SparkConfig,
        data_dir: PathBuf,
        store: Store,
        events: Arc<EventBus>,
        grace: Duration,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        let runtime = runtime::locate(&config, &data_dir);
        match &runtime {
            Some(rt) => {
                tracing::info!(spark_home = %rt.spark_home.display(), "Spark runtime found")
            }
            None => tracing::info!(
                "no Spark runtime (run `harbourd runtime install`); pyspark runs, clusters and SQL \
                 are unavailable until there is one"
            ),
        }
        Arc::new(Self {
            runtime,
            config,
            data_dir,
            store,
            events,
            http: rest::client(),
            grace,
            managed: Mutex::new(HashMap::new()),
            health: Mutex::new(HashMap::new()),
            connects: connect::Connects::default(),
            shutdown,
        })
    }

    /// The runtime, or an error that says how to get one.
    pub fn runtime(&self) -> Result<&SparkRuntime, Error> {
        self.runtime.as_ref().ok_or_else(|| {
            Error::unavailable(
                "Spark runtime",
                "none is installed; run `harbourd runtime install` (or set [spark] home in \
                 harbourd.toml) and restart harbourd",
            )
        })
    }

    /// Where the event logs of runs go.
    pub fn event_dir(&self) -> PathBuf {
        self.data_dir.join("spark-events")
    }

    /// Where a cluster's processes keep their logs and scratch space.
    pub fn cluster_dir(&self, name: &str) -> PathBuf {
        self.data_dir.join("clusters").join(name)
    }

    /// Jars every Spark process gets: configured ones, plus the Debian JDBC drivers when
    /// installed.
    pub fn jars(&self) -> Vec<PathBuf> {
        let mut jars = self.config.jars.clone();
        for debian in [
            "/usr/share/java/postgresql.jar",
            "/usr/share/java/mariadb-java-client.jar",
        ] {
            let path = PathBuf::from(debian);
            if path.is_file() && !jars.contains(&path) {
                jars.push(path);
            }
        }
        jars
    }

    fn set_health(&self, name: &str, health: Option<ClusterHealth>) {
        if let Ok(mut map) = self.health.lock() {
            match health {
                Some(h) => map.insert(name.to_owned(), h),
                None => map.remove(name),
            };
        }
    }

    fn health_of(&self, name: &str) -> Option<ClusterHealth> {
        self.health.lock().ok()?.get(name).cloned()
    }

    /// Stops every process the Spark parts own (on daemon shutdown). Managed clusters keep
    /// their state, so the next daemon starts them again.
    pub async fn shutdown_all(&self) {
        self.connects.stop_all(self.grace).await;
        let live: Vec<clusters::Live> = self
            .managed
            .lock()
            .map(|mut m| m.drain().map(|(_, v)| v).collect())
            .unwrap_or_default();
        for l in live {
            l.stop(self.grace).await;
        }
    }

    /// Announces a cluster as it is now.
    fn announce(&self, cluster: &Cluster) {
        self.events
            .publish(harbour_shared::EventKind::ClusterChanged(cluster.clone()));
    }
}

/// Names of clusters and tables: letters, digits, `-` and `_`, 1 to 63 of them.
pub fn valid_name(field: &str, name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!(
                "'{name}' is not a valid name; use 1-63 letters, digits, '-' and '_', starting \
                 with a letter"
            ),
        ))
    }
}

/// A Spark memory size (`512m`, `2g`, `1024k`) in MiB.
pub fn memory_mb(text: &str) -> Option<u64> {
    let text = text.trim().to_ascii_lowercase();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = text.split_at(split);
    let n: u64 = num.parse().ok()?;
    match unit {
        "k" | "kb" => Some(n / 1024),
        "m" | "mb" => Some(n),
        "g" | "gb" => Some(n * 1024),
        "t" | "tb" => Some(n * 1024 * 1024),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_as_spark_writes_them() {
        assert_eq!(memory_mb("512m"), Some(512));
        assert_eq!(memory_mb("2g"), Some(2048));
        assert_eq!(memory_mb("2G"), Some(2048));
        assert_eq!(memory_mb("512"), None, "a unit is required");
        assert_eq!(memory_mb("lots"), None);
    }

    #[test]
    fn names_are_checked() {
        assert!(valid_name("name", "etl-1").is_ok());
        assert!(valid_name("name", "1etl").is_err());
        assert!(valid_name("name", "a b").is_err());
        assert!(valid_name("name", "").is_err());
    }
}
