//! docker-compose.yml, checked without Docker: the services a team gets (a Spark master, two
//! workers, a Spark Connect server, harbourd), each with a health check, started in order,
//! ports on loopback only, the Docker socket mounted into harbourd, and a harbourd config
//! that harbourd itself accepts and that points at the compose cluster.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;

use serde_yaml::Value;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn compose() -> Value {
    let text = std::fs::read_to_string(root().join("docker-compose.yml")).unwrap();
    let mut value: Value = serde_yaml::from_str(&text).expect("docker-compose.yml is YAML");
    // `<<: *anchor` merges, as Compose applies them (twice: the worker anchor merges another).
    value.apply_merge().unwrap();
    value.apply_merge().unwrap();
    value
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| {
            s.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn compose_has_the_spark_cluster_connect_and_harbourd_with_health_checks() {
    let c = compose();
    let services = c["services"].as_mapping().expect("services");
    let names: Vec<&str> = services.keys().filter_map(Value::as_str).collect();
    for want in [
        "spark-master",
        "spark-worker-1",
        "spark-worker-2",
        "spark-connect",
        "harbourd",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
        let s = &c["services"][want];
        let test = strings(&s["healthcheck"]["test"]);
        assert_eq!(
            test.first().map(String::as_str),
            Some("CMD"),
            "{want}: {test:?}"
        );
        assert!(s["image"].as_str().is_some(), "{want} names its image");
    }
    let master = strings(&c["services"]["spark-master"]["command"]);
    assert!(master.contains(&"org.apache.spark.deploy.master.Master".to_owned()));
    for worker in ["spark-worker-1", "spark-worker-2"] {
        let cmd = strings(&c["services"][worker]["command"]);
        assert!(cmd.contains(&"org.apache.spark.deploy.worker.Worker".to_owned()));
        assert!(cmd.contains(&"spark://spark-master:7077".to_owned()));
        assert_eq!(
            c["services"][worker]["depends_on"]["spark-master"]["condition"].as_str(),
            Some("service_healthy")
        );
    }
    let connect = strings(&c["services"]["spark-connect"]["command"]);
    assert!(
        connect.contains(&"org.apache.spark.sql.connect.service.SparkConnectServer".to_owned())
    );
    for (name, s) in services {
        for port in strings(&s["ports"]) {
            assert!(
                port.starts_with("127.0.0.1:"),
                "{name:?} publishes {port} beyond loopback"
            );
        }
    }
}

#[test]
fn harbourd_gets_the_docker_socket_and_a_config_it_accepts() {
    let c = compose();
    let h = &c["services"]["harbourd"];
    let volumes = strings(&h["volumes"]);
    assert!(
        volumes
            .iter()
            .any(|v| v.starts_with("/var/run/docker.sock:")),
        "{volumes:?}"
    );
    let config_mount = volumes
        .iter()
        .find(|v| v.ends_with(":/etc/harbour/harbourd.toml:ro"))
        .expect("the config is mounted read-only");
    let local = config_mount.split(':').next().unwrap();
    assert_eq!(
        h["environment"]["HARBOUR_CONFIG_DIR"].as_str(),
        Some("/etc/harbour")
    );
    for dep in ["spark-master", "spark-connect"] {
        assert_eq!(
            h["depends_on"][dep]["condition"].as_str(),
            Some("service_healthy")
        );
    }
    // The config parses as harbourd's own (unknown keys are refused), apart from the Spark
    // home, which exists only inside the image.
    let text = std::fs::read_to_string(root().join(local)).unwrap();
    let config: harbourd::config::Config = toml::from_str(&text).expect("a valid harbourd.toml");
    let cluster = &config.spark.clusters[0];
    assert_eq!(cluster.master, "spark://spark-master:7077");
    assert_eq!(cluster.connect.as_deref(), Some("sc://spark-connect:15002"));
    assert!(root().join("docker/Dockerfile").is_file());
}
