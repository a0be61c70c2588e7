//! The scriptable `harbour` CLI: its command line ([`args`]), what each command does
//! ([`commands`]), and how failures become messages and exit codes ([`error`], [`exit`]).
//!
//! The binary (`src/bin/harbour.rs`) only parses, runs [`run`] and calls [`report`]. Text views
//! are in [`render`]; formatting shared with the TUI is in [`crate::fmt`].

pub mod analytics;
pub mod args;
pub mod commands;
pub mod conn;
pub mod error;
pub mod exit;
#[cfg(test)]
mod fake;
pub mod follow;
pub mod ingest;
pub mod monitor;
pub mod notebooks;
pub mod render;
pub mod spark;
pub mod spec;
pub mod table;

use std::io::Write;

pub use args::Cli;
pub use commands::run;
pub use error::CliError;

/// Reports a failed command: `harbour: <message>` on stderr and, with `--json`, the error
/// object on stdout. Returns the exit code. A closed stdout (`| head`) is not a failure.
pub fn report(error: &CliError, json: bool) -> u8 {
    if error.is_broken_pipe() {
        return exit::OK;
    }
    if json {
        print_json_error(&error.to_json());
    }
    eprintln!("harbour: {}", error.message());
    error.exit_code()
}

/// Reports a command line clap rejected (or `--help`/`--version`, which succeed). Returns the
/// exit code. `json` says whether `--json` was on the command line, since clap gave up before
/// telling us.
pub fn report_clap(error: &clap::Error, json: bool) -> u8 {
    use clap::error::ErrorKind;
    let informational = matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if json && !informational {
        let message = error.render().to_string();
        let first = message.lines().next().unwrap_or_default();
        print_json_error(&serde_json::json!({
            "error": {
                "kind": "usage",
                "message": first.trim_start_matches("error: "),
                "exit_code": exit::USAGE,
            }
        }));
    }
    if informational {
        // Help goes to stdout (or stderr when it stands for an error); clap knows which.
        let _ = error.print();
    } else {
        // `harbour: <message>` like every other error, then clap's usage hint.
        let text = error.render().to_string();
        eprint!("harbour: {}", text.strip_prefix("error: ").unwrap_or(&text));
    }
    if informational && error.kind() != ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        exit::OK
    } else {
        exit::USAGE
    }
}

fn print_json_error(value: &serde_json::Value) {
    let mut stdout = std::io::stdout().lock();
    // Nothing more to do if stdout is gone too: the message still goes to stderr.
    let _ = serde_json::to_writer_pretty(&mut stdout, value);
    let _ = stdout.write_all(b"\n");
    let _ = stdout.flush();
}
