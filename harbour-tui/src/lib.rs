//! Harbour's client side: the connection to `harbourd` that both front ends share, the
//! scriptable `harbour` CLI, and (in its own module) the `harbour-tui` terminal UI.

pub mod cli;
pub mod client;
pub mod fmt;
pub mod tui;
