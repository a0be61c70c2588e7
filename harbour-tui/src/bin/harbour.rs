//! `harbour`: the scriptable Harbour CLI. Parses the command line, runs it on a single-threaded
//! runtime, and exits with the code `harbour --help` documents. Everything else is in
//! `harbour_tui::cli`.

use std::process::ExitCode;

use clap::Parser;
use harbour_tui::cli::{self, Cli, CliError};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Only our own flags: what follows `--` belongs to the run's program.
            let json = std::env::args_os()
                .take_while(|a| a != "--")
                .any(|a| a == "--json");
            return ExitCode::from(cli::report_clap(&e, json));
        }
    };
    let code = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime
            .block_on(cli::run(&cli))
            .unwrap_or_else(|e| cli::report(&e, cli.json)),
        Err(e) => cli::report(&CliError::Io(e), cli.json),
    };
    ExitCode::from(code)
}
