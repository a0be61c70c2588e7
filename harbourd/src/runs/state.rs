//! The run state machine, as pure functions: what each step does to a run's state, and which
//! steps are not allowed where. The supervisor owns the side effects; this owns the rules.
//!
//! ```text
//! WaitingForRetry --RetryDue--> Queued --Start--> Starting --Spawned--> Running
//!        |                        |                   |                    |
//!        +------Stop(r)-----------+                   +--Stop(r)--> Terminating <--+
//!        |                                            |                |
//!        v                                            v                v
//!   Terminated(r)        Terminated(Failed) <--SpawnFailed   Terminated(r / exit status)
//! ```
//! Any state but `Terminated` may become `Terminated(Lost)` when the daemon finds, on start,
//! that it died under the run. `Terminated` is final.

use harbour_shared::{Lifecycle, RunResult};

/// Why the daemon stops a run. Once a stop is under way, it decides the run's result whatever
/// the process then exits with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// A user killed it.
    Cancelled,
    /// It ran past its timeout.
    TimedOut,
    /// The daemon is shutting down.
    DaemonStopping,
}

impl StopReason {
    pub fn result(self) -> RunResult {
        match self {
            Self::Cancelled => RunResult::Cancelled,
            Self::TimedOut => RunResult::TimedOut,
            Self::DaemonStopping => RunResult::Lost,
        }
    }
}

/// How a run's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Start,
    Spawned,
    SpawnFailed,
    Stop(StopReason),
    Exited(Exit),
    RetryDue,
    /// The daemon restarted and found the run unfinished.
    Orphaned,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunState {
    pub lifecycle: Lifecycle,
    pub result: Option<RunResult>,
    /// Set from a `Stop` of a started run until it terminates.
    pub stopping: Option<StopReason>,
}

impl RunState {
    pub fn new(lifecycle: Lifecycle) -> Self {
        Self {
            lifecycle,
            result: None,
            stopping: None,
        }
    }

    fn terminated(result: RunResult) -> Self {
        Self {
            lifecycle: Lifecycle::Terminated,
            result: Some(result),
            stopping: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a run that is {from} cannot take the step {step:?}")]
pub struct InvalidStep {
    pub from: Lifecycle,
    pub step: Step,
}

/// The state after `step`, or why the step is not allowed.
pub fn next(state: RunState, step: Step) -> Result<RunState, InvalidStep> {
    use Lifecycle as L;
    let invalid = Err(InvalidStep {
        from: state.lifecycle,
        step,
    });
    Ok(match (state.lifecycle, step) {
        (L::Terminated, _) => return invalid,
        (_, Step::Orphaned) => RunState::terminated(RunResult::Lost),
        (L::Queued, Step::Start) => RunState::new(L::Starting),
        (L::WaitingForRetry, Step::RetryDue) => RunState::new(L::Queued),
        (L::Queued | L::WaitingForRetry, Step::Stop(reason)) => {
            RunState::terminated(reason.result())
        }
        (L::Starting, Step::Spawned) => RunState {
            lifecycle: L::Running,
            ..state
        },
        (L::Starting, Step::SpawnFailed) => {
            RunState::terminated(RunResult::Failed { exit_code: None })
        }
        (L::Starting | L::Running, Step::Stop(reason)) => RunState {
            lifecycle: L::Terminating,
            result: None,
            stopping: Some(reason),
        },
        // A second stop keeps the first reason: the result says why the run was stopped first.
        (L::Terminating, Step::Stop(_)) => state,
        (L::Starting | L::Running | L::Terminating, Step::Exited(exit)) => {
            RunState::terminated(match (state.stopping, exit) {
                (Some(reason), _) => reason.result(),
                (None, Exit::Code(0)) => RunResult::Succeeded,
                (None, Exit::Code(code)) => RunResult::Failed {
                    exit_code: Some(code),
                },
                (None, Exit::Signal(_)) => RunResult::Failed { exit_code: None },
            })
        }
        _ => return invalid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Lifecycle as L;
    use proptest::prelude::*;

    fn run(steps: &[Step], from: Lifecycle) -> RunState {
        steps
            .iter()
            .fold(RunState::new(from), |s, step| next(s, *step).unwrap_or(s))
    }

    #[test]
    fn a_clean_run() {
        let s = run(
            &[Step::Start, Step::Spawned, Step::Exited(Exit::Code(0))],
            L::Queued,
        );
        assert_eq!(s.result, Some(RunResult::Succeeded));
        let s = run(
            &[Step::Start, Step::Spawned, Step::Exited(Exit::Code(7))],
            L::Queued,
        );
        assert_eq!(s.result, Some(RunResult::Failed { exit_code: Some(7) }));
        let s = run(
            &[Step::Start, Step::Spawned, Step::Exited(Exit::Signal(9))],
            L::Queued,
        );
        assert_eq!(s.result, Some(RunResult::Failed { exit_code: None }));
    }

    #[test]
    fn a_stop_decides_the_result() {
        let steps = [
            Step::Start,
            Step::Spawned,
            Step::Stop(StopReason::TimedOut),
            Step::Stop(StopReason::Cancelled),
            Step::Exited(Exit::Code(0)),
        ];
        assert_eq!(run(&steps, L::Queued).result, Some(RunResult::TimedOut));
    }

    #[test]
    fn nothing_leaves_terminated() {
        let done = run(&[Step::Stop(StopReason::Cancelled)], L::Queued);
        assert_eq!(done.result, Some(RunResult::Cancelled));
        assert!(next(done, Step::Start).is_err());
        assert!(next(done, Step::Orphaned).is_err());
    }

    fn any_step() -> impl Strategy<Value = Step> {
        let reason = prop_oneof![
            Just(StopReason::Cancelled),
            Just(StopReason::TimedOut),
            Just(StopReason::DaemonStopping)
        ];
        let exit = prop_oneof![
            (-1i32..300).prop_map(Exit::Code),
            (1i32..32).prop_map(Exit::Signal)
        ];
        prop_oneof![
            Just(Step::Start),
            Just(Step::Spawned),
            Just(Step::SpawnFailed),
            reason.prop_map(Step::Stop),
            exit.prop_map(Step::Exited),
            Just(Step::RetryDue),
            Just(Step::Orphaned),
        ]
    }

    proptest! {
        /// Whatever happens, in whatever order: a result exactly when terminated, terminated
        /// is final, a run is only running after starting, and a stop decides the result.
        #[test]
        fn invariants_hold(
            from in prop_oneof![Just(L::Queued), Just(L::WaitingForRetry)],
            steps in proptest::collection::vec(any_step(), 0..24),
        ) {
            let mut state = RunState::new(from);
            let mut started = false;
            for step in steps {
                let before = state;
                match next(state, step) {
                    Ok(after) => {
                        prop_assert!(before.lifecycle != L::Terminated);
                        if after.lifecycle == L::Starting { started = true; }
                        if after.lifecycle == L::Running { prop_assert!(started); }
                        if let (Some(reason), L::Terminated, Step::Exited(_)) =
                            (before.stopping, after.lifecycle, step)
                        {
                            prop_assert_eq!(after.result, Some(reason.result()));
                        }
                        state = after;
                    }
                    Err(e) => prop_assert_eq!(e.from, before.lifecycle),
                }
                prop_assert_eq!(state.result.is_some(), state.lifecycle == L::Terminated);
                prop_assert_eq!(state.stopping.is_some(), state.lifecycle == L::Terminating);
            }
        }
    }
}
