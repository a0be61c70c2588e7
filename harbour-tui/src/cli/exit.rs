//! What `harbour` exits with, and why: one table, used by the code and printed in `--help`.
//!
//! Scripts branch on these, so they are part of the CLI's interface: change them only with a
//! note in the changelog.

use harbour_shared::{Error, RunResult};
use tarpc::client::RpcError;

use crate::client::ClientError;

/// The command did what was asked.
pub const OK: u8 = 0;
/// Something failed that fits no other code (an I/O error, a call that ran past its deadline).
pub const FAILURE: u8 = 1;
/// The command line was wrong, or the daemon refused a field of the request (`Invalid`).
pub const USAGE: u8 = 2;
/// The run or job named does not exist (`NotFound`).
pub const NOT_FOUND: u8 = 3;
/// The request is valid but the current state forbids it (`Conflict`).
pub const CONFLICT: u8 = 4;
/// harbourd cannot be reached, went away mid-call, or a part it needs is down (`Unavailable`).
pub const UNAVAILABLE: u8 = 5;
/// harbourd failed internally, or speaks another protocol version.
pub const INTERNAL: u8 = 6;

/// `--wait`: the run timed out (as coreutils' `timeout` does).
pub const RUN_TIMED_OUT: u8 = 124;
/// `--wait`: the run was lost because the daemon stopped under it.
pub const RUN_LOST: u8 = 125;
/// `--wait`: the run was cancelled (as a shell reports SIGINT).
pub const RUN_CANCELLED: u8 = 130;

/// Every exit code with what it means, in the order `--help` lists them.
pub const EXIT_CODES: &[(u8, &str)] = &[
    (OK, "success"),
    (FAILURE, "generic failure"),
    (
        USAGE,
        "bad command line, or the daemon rejected a field (invalid)",
    ),
    (NOT_FOUND, "no such run or job"),
    (
        CONFLICT,
        "refused in the current state (e.g. deleting a job with active runs)",
    ),
    (
        UNAVAILABLE,
        "harbourd unreachable, or a component it needs is unavailable",
    ),
    (
        INTERNAL,
        "internal error in harbourd, or client/daemon protocol mismatch",
    ),
];

/// What `--wait` exits with, by the run's result.
pub const WAIT_EXIT_CODES: &[(&str, &str)] = &[
    ("succeeded", "0"),
    (
        "failed",
        "the run's exit code (1-255); 1 when killed by a signal",
    ),
    ("timed-out", "124"),
    ("lost", "125"),
    ("cancelled", "130"),
];

/// The exit code for an error from the daemon.
pub fn for_api_error(error: &Error) -> u8 {
    match error {
        Error::Invalid { .. } => USAGE,
        Error::NotFound { .. } => NOT_FOUND,
        Error::Conflict(_) => CONFLICT,
        Error::Unavailable { .. } => UNAVAILABLE,
        Error::Internal { .. } | Error::ProtocolMismatch { .. } => INTERNAL,
    }
}

/// The exit code for a failed call.
pub fn for_client_error(error: &ClientError) -> u8 {
    match error {
        ClientError::Unreachable { .. } => UNAVAILABLE,
        ClientError::Api(api) => for_api_error(api),
        ClientError::Rpc(RpcError::Shutdown | RpcError::Send(_) | RpcError::Channel(_)) => {
            UNAVAILABLE
        }
        ClientError::Rpc(RpcError::Server(_)) => INTERNAL,
        ClientError::Rpc(RpcError::DeadlineExceeded) => FAILURE,
    }
}

/// What `--wait` exits with once the run has ended.
pub fn for_run_result(result: RunResult) -> u8 {
    match result {
        RunResult::Succeeded => OK,
        RunResult::Failed {
            exit_code: Some(code),
        } => u8::try_from(code)
            .ok()
            .filter(|c| *c != 0)
            .unwrap_or(FAILURE),
        RunResult::Failed { exit_code: None } => FAILURE,
        RunResult::TimedOut => RUN_TIMED_OUT,
        RunResult::Cancelled => RUN_CANCELLED,
        RunResult::Lost => RUN_LOST,
    }
}

/// The exit-code section of `harbour --help`.
pub fn help_text() -> String {
    let mut text = String::from("Exit codes:\n");
    for (code, meaning) in EXIT_CODES {
        text.push_str(&format!("  {code:>3}  {meaning}\n"));
    }
    text.push_str("\nWith --wait, the run's result instead:\n");
    for (result, code) in WAIT_EXIT_CODES {
        text.push_str(&format!("  {result:<10} {code}\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn api_errors_map_to_their_codes() {
        assert_eq!(for_api_error(&Error::invalid("env", "x")), 2);
        assert_eq!(for_api_error(&Error::not_found("run 4", "see runs")), 3);
        assert_eq!(for_api_error(&Error::conflict("busy")), 4);
        assert_eq!(for_api_error(&Error::unavailable("spark", "no home")), 5);
        assert_eq!(for_api_error(&Error::Internal { id: "e1".into() }), 6);
        assert_eq!(
            for_api_error(&Error::ProtocolMismatch {
                client: 1,
                daemon: 2
            }),
            6
        );
    }

    #[test]
    fn a_missing_daemon_is_unavailable() {
        let unreachable = ClientError::Unreachable {
            socket: PathBuf::from("/nope"),
            why: "gone".into(),
        };
        assert_eq!(for_client_error(&unreachable), UNAVAILABLE);
        assert_eq!(
            for_client_error(&ClientError::Rpc(RpcError::Shutdown)),
            UNAVAILABLE
        );
        assert_eq!(
            for_client_error(&ClientError::Rpc(RpcError::DeadlineExceeded)),
            FAILURE
        );
    }

    #[test]
    fn run_results_map_like_a_shell_would() {
        assert_eq!(for_run_result(RunResult::Succeeded), 0);
        assert_eq!(for_run_result(RunResult::Failed { exit_code: Some(3) }), 3);
        assert_eq!(
            for_run_result(RunResult::Failed {
                exit_code: Some(255)
            }),
            255
        );
        // Out of range or zero (a failed start) still reads as a failure.
        for odd in [0, 256, -1] {
            assert_eq!(
                for_run_result(RunResult::Failed {
                    exit_code: Some(odd)
                }),
                1
            );
        }
        assert_eq!(for_run_result(RunResult::Failed { exit_code: None }), 1);
        assert_eq!(for_run_result(RunResult::TimedOut), 124);
        assert_eq!(for_run_result(RunResult::Cancelled), 130);
        assert_eq!(for_run_result(RunResult::Lost), 125);
    }

    #[test]
    fn the_help_lists_every_code() {
        let help = help_text();
        for (code, meaning) in EXIT_CODES {
            assert!(help.contains(&format!("{code:>3}  {meaning}")), "{help}");
        }
        assert!(help.contains("124"));
    }
}
