//! `harbour-tui`: the terminal UI for harbourd. Thin: arguments, config, logging to a file,
//! the terminal, and the app loop in `harbour_tui::tui::shell`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use harbour_shared::paths;
use harbour_tui::tui::app::App;
use harbour_tui::tui::config::{self, Config};
use harbour_tui::tui::theme::ColorMode;
use harbour_tui::tui::{shell, terminal};

/// The Harbour terminal UI: dashboard, runs, jobs and live logs of a harbourd.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "The Harbour terminal UI: dashboard, runs, jobs and live logs of a harbourd"
)]
struct Args {
    /// The daemon's socket (default: the user socket; a daemon is started there if none runs).
    #[arg(long, env = paths::SOCKET_ENV)]
    socket: Option<PathBuf>,
    /// The config file (default: $HARBOUR_CONFIG_DIR/tui.toml, else $XDG_CONFIG_HOME/harbour/tui.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print the effective config (defaults merged with the file) and exit.
    #[arg(long)]
    print_config: bool,
    /// Do not start a daemon when none answers on the user socket.
    #[arg(long)]
    no_start: bool,
    /// Where to write the TUI's own log (default: $XDG_STATE_HOME/harbour/harbour-tui.log).
    #[arg(long)]
    log_file: Option<PathBuf>,
}

fn init_logging(path: Option<PathBuf>) -> anyhow::Result<()> {
    let path = path.unwrap_or_else(|| {
        directories::BaseDirs::new()
            .map(|b| {
                b.state_dir()
                    .unwrap_or_else(|| b.cache_dir())
                    .join("harbour")
                    .join("harbour-tui.log")
            })
            .unwrap_or_else(|| std::env::temp_dir().join("harbour-tui.log"))
    });
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("opening the log file {}", path.display()))?;
    tracing_subscriber::fmt()
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HARBOUR_TUI_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mode = ColorMode::Auto.detect(|k| std::env::var(k).ok());
    let path = args.config.clone().unwrap_or_else(config::default_path);
    let cfg = Config::load(&path, mode).map_err(anyhow::Error::msg)?;
    if args.print_config {
        print!("{}", cfg.to_toml());
        return Ok(());
    }
    init_logging(args.log_file.clone())?;
    let autostart = args.socket.is_none() && !args.no_start;
    let socket = args.socket.clone().unwrap_or_else(paths::default_socket);
    let opts = shell::Options { socket, autostart };
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let mut app = App::new(&cfg, cwd, shell::now_ms());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (mut term, modes) = terminal::enter(cfg.file.mouse)?;
    app.keyboard_enhanced = modes.keyboard;
    let result = rt.block_on(shell::run(&mut term, &mut app, opts));
    terminal::leave(modes);
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    result.context("the terminal failed")
}
