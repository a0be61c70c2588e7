//! The `harbourd` binary: flags, logging, signals and systemd notification around
//! [`harbourd::run`].

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use harbourd::config::{Config, Mode, PathOverrides, Paths};
use tokio_util::sync::CancellationToken;

/// The Harbour daemon: runs jobs and keeps their state, logs and history.
///
/// By default it runs in user mode in the foreground: config in
/// $XDG_CONFIG_HOME/harbour/harbourd.toml, data in $XDG_DATA_HOME/harbour/, socket in
/// $XDG_RUNTIME_DIR/harbour/harbourd.sock. `--system` uses /etc/harbour, /var/lib/harbour and
/// /run/harbour/harbourd.sock (the systemd unit, docs/harbourd.service). Logs go to stderr;
/// set RUST_LOG (e.g. RUST_LOG=debug) for more or less.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// Run as the system service (system paths, socket 0660 for the `harbour` group).
    #[arg(long, global = true)]
    system: bool,
    /// Directory holding harbourd.toml.
    #[arg(long, env = "HARBOUR_CONFIG_DIR", global = true, value_name = "DIR")]
    config_dir: Option<PathBuf>,
    /// Directory for the database and run logs.
    #[arg(long, env = "HARBOUR_DATA_DIR", global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The Unix socket to listen on.
    #[arg(long, env = "HARBOUR_SOCKET", global = true, value_name = "PATH")]
    socket: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve (the default).
    Run,
    /// Check the configuration file and print the effective settings and paths.
    CheckConfig,
    /// Provision or inspect the Spark runtime (pyspark, Spark Connect's Python client,
    /// ipykernel in a virtualenv; Java 17+ from the machine).
    #[command(subcommand)]
    Runtime(RuntimeCommand),
    /// Copy the data dir to DEST while harbourd runs: a consistent snapshot of the database
    /// and the run logs, notebooks and ingestion state. Restore: stop harbourd, put DEST in
    /// place of the data dir, start harbourd.
    Backup {
        /// A new (or empty) directory
        #[arg(value_name = "DEST")]
        dest: PathBuf,
    },
    /// Internal: how the daemon starts a run under `[runs.limits]`. Sets the limits, then
    /// becomes PROGRAM.
    #[command(hide = true)]
    ExecRun {
        #[arg(long = "limit", value_name = "NAME=VALUE")]
        limits: Vec<String>,
        #[arg(last = true, required = true, value_name = "PROGRAM")]
        argv: Vec<OsString>,
    },
}

#[derive(Debug, Subcommand)]
enum RuntimeCommand {
    /// Create the virtualenv with a pinned pyspark and what Connect clients and notebooks
    /// need. Safe to run again: an up-to-date runtime is left as it is.
    Install {
        /// Where to put it [default: [spark] runtime_dir, $HARBOUR_RUNTIME_DIR, or
        /// <data_dir>/runtime]
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// The Python that creates the virtualenv.
        #[arg(long, value_name = "PYTHON", default_value = "python3")]
        python: PathBuf,
    },
    /// Report the runtime the daemon would use: SPARK_HOME, Python, versions, Java.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Between the daemon's fork and a run's program: no config, no logging of its own.
    if let Some(Command::ExecRun { limits, argv }) = &cli.command {
        return harbourd::privileges::exec_run(limits, argv);
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tarpc=warn".into()),
        )
        .init();
    let mode = if cli.system { Mode::System } else { Mode::User };
    let overrides = PathOverrides {
        config_dir: cli.config_dir,
        data_dir: cli.data_dir,
        socket: cli.socket,
    };
    let loaded = Paths::resolve(mode, overrides)
        .map_err(anyhow::Error::from)
        .and_then(|paths| Ok((Config::load(&paths.config_file)?, paths)));
    let (config, paths) = match loaded {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("harbourd: {e:#}");
            return ExitCode::from(2);
        }
    };
    match cli.command.unwrap_or(Command::Run) {
        Command::CheckConfig => {
            let report = toml::to_string_pretty(&config).unwrap_or_default();
            println!("# {} is valid", paths.config_file.display());
            println!(
                "# mode = {}\n# data_dir = {}\n# socket = {}\n",
                mode.as_str(),
                paths.data_dir.display(),
                paths.socket.display()
            );
            print!("{report}");
            ExitCode::SUCCESS
        }
        Command::Run => match harbourd::privileges::settle(&config, &paths).and_then(|identity| {
            harbourd::privileges::check_limits(&config.runs.limits).map(|()| identity)
        }) {
            Ok(identity) => {
                if identity == harbourd::privileges::Identity::RootUnconfigured {
                    tracing::warn!(
                        "harbourd runs as root and [daemon] user is not set: every run, \
                         kernel and Spark process runs as root too. Set daemon.user in \
                         harbourd.toml (docs/security.md), or run harbourd under \
                         docs/harbourd.service"
                    );
                }
                serve(config, paths)
            }
            Err(e) => {
                eprintln!("harbourd: {e}");
                ExitCode::from(2)
            }
        },
        Command::ExecRun { .. } => ExitCode::from(126),
        Command::Runtime(command) => runtime(command, &config, &paths),
        Command::Backup { dest } => match harbourd::backup::run(&paths.data_dir, &dest) {
            Ok(c) => {
                println!(
                    "backed up {} to {}: database {} KiB, {} files ({} KiB)",
                    paths.data_dir.display(),
                    dest.display(),
                    c.database_bytes / 1024,
                    c.files,
                    c.bytes / 1024
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("harbourd: backup failed: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

fn runtime(command: RuntimeCommand, config: &Config, paths: &Paths) -> ExitCode {
    use harbourd::spark::runtime;
    match command {
        RuntimeCommand::Install { dir, python } => {
            let dir = dir.unwrap_or_else(|| runtime::runtime_dir(&config.spark, &paths.data_dir));
            let mut say = |line: &str| println!("==> {line}");
            match runtime::install(&dir, &python, &mut say) {
                Ok(rt) => {
                    println!(
                        "==> Spark runtime ready: SPARK_HOME={} PYTHON={}",
                        rt.spark_home.display(),
                        rt.python.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("harbourd: runtime install failed: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        RuntimeCommand::Status { json } => {
            let info = runtime::info(&config.spark, &paths.data_dir);
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&info).unwrap_or_default()
                );
            } else {
                let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                println!(
                    "runtime dir:   {}",
                    runtime::runtime_dir(&config.spark, &paths.data_dir).display()
                );
                println!("SPARK_HOME:    {}", show(&info.spark_home));
                println!("spark version: {}", show(&info.spark_version));
                println!("python:        {}", show(&info.python));
                println!("java:          {}", show(&info.java));
                if let Some(problem) = &info.problem {
                    println!("problem:       {problem}");
                }
            }
            if info.problem.is_some() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}

fn serve(config: Config, paths: Paths) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("harbourd: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let shutdown = CancellationToken::new();
        tokio::spawn(stop_on_signal(shutdown.clone()));
        let ready = || {
            // Under systemd (Type=notify) this says "listening"; elsewhere it does nothing.
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
        };
        match harbourd::run(config, paths, shutdown, ready).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("harbourd: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn stop_on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot listen for SIGTERM/SIGINT; stop harbourd with SIGKILL");
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    shutdown.cancel();
}
