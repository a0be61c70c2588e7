//! Runs: the state machine, the supervisor that executes them, their logs, cron schedules
//! and log retention.

pub mod cron;
pub mod logs;
pub mod process;
pub mod retention;
pub mod schedule;
pub mod state;
pub mod supervisor;
