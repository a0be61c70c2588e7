//! The Spark runtime: finding it (config `[spark] home`/`python` win, else the provisioned
//! virtualenv under the runtime dir) and provisioning it (`harbourd runtime install`: a
//! virtualenv with a pinned `pyspark`, which carries Spark's jars, `bin/spark-submit`,
//! `spark-class` and the Spark Connect server, plus what Connect clients and notebooks need).
//!
//! Everything here blocks (processes, disk): the daemon calls it off its async workers.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use harbour_shared::RuntimeInfo;

use crate::config::SparkConfig;

/// The pinned Spark. Its jars, scripts and Connect server come with the `pyspark` package.
pub const PYSPARK_VERSION: &str = "4.3.0";

/// What the virtualenv gets besides pyspark: Spark Connect's Python client needs pandas,
/// pyarrow, grpc and the Google protos; zstandard reads Spark 4's compressed event logs;
/// ipykernel runs notebooks.
pub const REQUIREMENTS: &[&str] = &[
    "pandas<3",
    "pyarrow",
    "grpcio",
    "grpcio-status",
    "googleapis-common-protos",
    "zstandard",
    "ipykernel",
];

/// The modules the check imports: one per requirement.
const CHECK_IMPORTS: &str = "import pyspark, pandas, pyarrow, grpc, grpc_status, google.rpc, \
                             zstandard, ipykernel; print(pyspark.__version__)";

/// The oldest Java Spark 4 runs on.
pub const MIN_JAVA: u32 = 17;

/// The environment variable that points every harbourd (and the tests) at one runtime.
pub const RUNTIME_DIR_ENV: &str = "HARBOUR_RUNTIME_DIR";

/// A Spark runtime the daemon can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SparkRuntime {
    pub spark_home: PathBuf,
    pub python: PathBuf,
}

impl SparkRuntime {
    pub fn spark_submit(&self) -> PathBuf {
        self.spark_home.join("bin/spark-submit")
    }

    pub fn spark_class(&self) -> PathBuf {
        self.spark_home.join("bin/spark-class")
    }

    /// The environment every Spark process gets: loopback binding, the Python to use.
    pub fn env(&self) -> Vec<(String, String)> {
        let python = self.python.display().to_string();
        vec![
            ("SPARK_HOME".into(), self.spark_home.display().to_string()),
            ("SPARK_LOCAL_IP".into(), "127.0.0.1".into()),
            ("PYSPARK_PYTHON".into(), python.clone()),
            ("PYSPARK_DRIVER_PYTHON".into(), python),
            // Spark's scripts would otherwise daemonize or read a user's spark-env.sh.
            ("SPARK_NO_DAEMONIZE".into(), "1".into()),
        ]
    }
}

/// The runtime directory: config, then `HARBOUR_RUNTIME_DIR`, then `<data_dir>/runtime`.
pub fn runtime_dir(config: &SparkConfig, data_dir: &Path) -> PathBuf {
    config
        .runtime_dir
        .clone()
        .or_else(|| std::env::var_os(RUNTIME_DIR_ENV).map(PathBuf::from))
        .unwrap_or_else(|| data_dir.join("runtime"))
}

fn venv(dir: &Path) -> PathBuf {
    dir.join("venv")
}

/// The `pyspark` package directory inside a virtualenv (it is a complete SPARK_HOME).
fn pyspark_home(venv: &Path) -> Option<PathBuf> {
    let lib = venv.join("lib");
    fs::read_dir(lib)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join("site-packages/pyspark"))
        .find(|p| p.join("bin/spark-submit").is_file())
}

/// Finds the runtime to use. Config wins; otherwise the provisioned one, if installed.
pub fn locate(config: &SparkConfig, data_dir: &Path) -> Option<SparkRuntime> {
    let dir = runtime_dir(config, data_dir);
    let venv = venv(&dir);
    let provisioned_python = venv.join("bin/python");
    let home = config.home.clone().or_else(|| pyspark_home(&venv))?;
    let python = config.python.clone().unwrap_or_else(|| {
        if provisioned_python.is_file() {
            provisioned_python
        } else {
            PathBuf::from("python3")
        }
    });
    Some(SparkRuntime {
        spark_home: home,
        python,
    })
}

/// The version of the Spark at `home`, from pyspark's `version.py` or the RELEASE file.
pub fn spark_version(home: &Path) -> Option<String> {
    if let Ok(text) = fs::read_to_string(home.join("version.py")) {
        return text
            .lines()
            .find(|l| l.starts_with("__version__"))
            .and_then(|l| l.split(['"', '\'']).nth(1))
            .map(str::to_owned);
    }
    let text = fs::read_to_string(home.join("RELEASE")).ok()?;
    text.split_whitespace()
        .skip_while(|w| *w != "Spark")
        .nth(1)
        .map(str::to_owned)
}

/// The Java that Spark will use (`$JAVA_HOME/bin/java`, else `java` on PATH).
fn java_command() -> PathBuf {
    std::env::var_os("JAVA_HOME")
        .map(|h| PathBuf::from(h).join("bin/java"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("java"))
}

/// `java -version`'s first line and major version, or what to do about its absence.
pub fn java() -> Result<(String, u32), String> {
    let java = java_command();
    let out = Command::new(&java)
        .arg("-version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            format!(
                "Java {MIN_JAVA}+ is needed by Spark and `{}` could not be run ({e}); install \
                 it (Debian/Ubuntu: `apt-get install openjdk-17-jre-headless`) or set JAVA_HOME",
                java.display()
            )
        })?;
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or_default().trim().to_owned();
    let major = parse_java_major(&text)
        .ok_or_else(|| format!("cannot tell the Java version from `java -version`: {first}"))?;
    if major < MIN_JAVA {
        return Err(format!(
            "Spark {PYSPARK_VERSION} needs Java {MIN_JAVA}+, found {first}; install a newer one \
             (Debian/Ubuntu: `apt-get install openjdk-17-jre-headless`) or set JAVA_HOME"
        ));
    }
    Ok((first, major))
}

/// The major version in `java -version` output: `"17.0.9"` -> 17, `"1.8.0_392"` -> 8.
pub fn parse_java_major(text: &str) -> Option<u32> {
    let quoted = text.split('"').nth(1)?;
    let mut parts = quoted.split(['.', '_', '-', '+']);
    let first: u32 = parts.next()?.parse().ok()?;
    if first == 1 {
        parts.next()?.parse().ok()
    } else {
        Some(first)
    }
}

/// What `harbourd runtime status` and the `spark_runtime` call report.
pub fn info(config: &SparkConfig, data_dir: &Path) -> RuntimeInfo {
    let found = locate(config, data_dir);
    let java = java();
    let mut problems = Vec::new();
    if found.is_none() {
        problems.push(format!(
            "no Spark runtime: run `harbourd runtime install` (it goes to {}) or set [spark] home \
             in harbourd.toml",
            runtime_dir(config, data_dir).display()
        ));
    }
    if let Err(why) = &java {
        problems.push(why.clone());
    }
    RuntimeInfo {
        spark_home: found.as_ref().map(|r| r.spark_home.display().to_string()),
        python: found.as_ref().map(|r| r.python.display().to_string()),
        spark_version: found.as_ref().and_then(|r| spark_version(&r.spark_home)),
        java: java.ok().map(|(line, _)| line),
        problem: (!problems.is_empty()).then(|| problems.join("; ")),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("{0}")]
    Java(String),
    #[error("cannot create {}: {source}", path.display())]
    Dir { path: PathBuf, source: io::Error },
    #[error("`{command}` failed: {why}")]
    Step { command: String, why: String },
}

/// Whether the virtualenv in `dir` already has the pinned runtime: its version, if so.
pub fn installed_version(dir: &Path) -> Option<String> {
    let python = venv(dir).join("bin/python");
    let out = Command::new(python)
        .args(["-c", CHECK_IMPORTS])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Provisions the runtime in `dir` (idempotent: an up-to-date one is left as it is).
/// `progress` gets a line per step; pip's own progress goes to our stdout/stderr.
pub fn install(
    dir: &Path,
    base_python: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<SparkRuntime, InstallError> {
    let (java, _) = java().map_err(InstallError::Java)?;
    progress(&format!("java: {java}"));
    fs::create_dir_all(dir).map_err(|source| InstallError::Dir {
        path: dir.to_owned(),
        source,
    })?;
    let venv = venv(dir);
    if installed_version(dir).as_deref() == Some(PYSPARK_VERSION) {
        progress(&format!(
            "pyspark {PYSPARK_VERSION} is already installed in {}: nothing to do",
            venv.display()
        ));
    } else {
        if !venv.join("bin/python").is_file() {
            progress(&format!("creating a virtualenv in {}", venv.display()));
            step(Command::new(base_python).arg("-m").arg("venv").arg(&venv))?;
        }
        let pip = venv.join("bin/pip");
        progress(&format!(
            "installing pyspark=={PYSPARK_VERSION} and {} (pyspark is ~460 MB; this takes a few \
             minutes the first time)",
            REQUIREMENTS.join(", ")
        ));
        step(
            Command::new(&pip)
                .args([
                    "install",
                    "--disable-pip-version-check",
                    "--progress-bar",
                    "on",
                ])
                .arg(format!("pyspark=={PYSPARK_VERSION}"))
                .args(REQUIREMENTS),
        )?;
        match installed_version(dir) {
            Some(v) if v == PYSPARK_VERSION => {}
            other => {
                return Err(InstallError::Step {
                    command: "python -c 'import pyspark, ...'".into(),
                    why: format!("the installed runtime does not check out (found {other:?})"),
                });
            }
        }
    }
    let spark_home = pyspark_home(&venv).ok_or_else(|| InstallError::Step {
        command: "locate pyspark".into(),
        why: format!(
            "no site-packages/pyspark/bin/spark-submit under {}",
            venv.display()
        ),
    })?;
    let runtime = SparkRuntime {
        spark_home,
        python: venv.join("bin/python"),
    };
    progress(&format!("SPARK_HOME = {}", runtime.spark_home.display()));
    Ok(runtime)
}

fn step(command: &mut Command) -> Result<(), InstallError> {
    let text = format!("{command:?}");
    let status = command
        .stdin(Stdio::null())
        .status()
        .map_err(|e| InstallError::Step {
            command: text.clone(),
            why: e.to_string(),
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(InstallError::Step {
            command: text,
            why: format!("{status}; its output above says why"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_java_versions_old_and_new() {
        assert_eq!(
            parse_java_major("openjdk version \"17.0.9\" 2023-10-17\nOpenJDK Runtime"),
            Some(17)
        );
        assert_eq!(parse_java_major("java version \"1.8.0_392\""), Some(8));
        assert_eq!(
            parse_java_major("openjdk version \"21\" 2023-09-19"),
            Some(21)
        );
        assert_eq!(parse_java_major("no quotes here"), None);
    }

    #[test]
    fn reads_the_spark_version_of_a_pyspark_home() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("version.py"),
            "__version__: str = '4.3.0'\n",
        )
        .unwrap();
        assert_eq!(spark_version(dir.path()).as_deref(), Some("4.3.0"));
    }

    #[test]
    fn config_wins_over_the_provisioned_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let config = SparkConfig {
            home: Some("/opt/spark".into()),
            python: Some("/usr/bin/python3".into()),
            runtime_dir: Some(dir.path().to_owned()),
            ..SparkConfig::default()
        };
        let found = locate(&config, dir.path()).unwrap();
        assert_eq!(found.spark_home, Path::new("/opt/spark"));
        assert_eq!(found.python, Path::new("/usr/bin/python3"));
        let nothing = SparkConfig {
            runtime_dir: Some(dir.path().to_owned()),
            ..SparkConfig::default()
        };
        assert!(locate(&nothing, dir.path()).is_none());
    }
}
