//! `harbour-tui`, the terminal UI.
//!
//! The shape (see docs/architecture.md and STYLE.md): one task owns [`app::App`]; keys become
//! [`action::Action`]s through a keymap that is data ([`keymap`], [`config`]); `App::update`
//! does no I/O and returns [`app::Command`]s; [`shell`] runs them as tasks that send
//! [`app::Msg`]s back, keeps the connection (starting a daemon, reconnecting), and draws with
//! [`ui::render`], a pure function of the state. [`modal`] holds the overlays and the prompt
//! line that take keys before the keymap does. Each screen keeps its state and drawing in
//! its own module: [`dashboard`], [`runs`], [`jobs`], [`details`], [`clusters`], [`sql`], [`spark`] (event-log analytics),
//! [`monitor`], and the log view ([`logs`] for its bounded, paged buffer, [`logs_ui`] for
//! drawing it).

pub mod action;
pub mod app;
pub mod clusters;
pub mod config;
pub mod daemon;
pub mod dashboard;
pub mod details;
pub mod format;
pub mod ingest;
pub mod input;
pub mod jobs;
pub mod keymap;
pub mod logs;
pub mod logs_ui;
pub mod modal;
pub mod monitor;
pub mod notebooks;
pub mod notebooks_find;
pub mod notebooks_shell;
pub mod notebooks_ui;
pub mod palette;
pub mod runs;
pub mod shell;
pub mod spark;
pub mod sql;
pub mod syntax;
pub mod terminal;
pub mod theme;
pub mod ui;
pub mod widgets;

#[cfg(test)]
mod notebooks_tests;
#[cfg(test)]
mod tests;
