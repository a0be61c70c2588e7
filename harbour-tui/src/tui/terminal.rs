//! The terminal: raw mode and the alternate screen on the way in, both undone on the way out
//! and before a panic message is printed (ratatui's `init` installs that hook). The mouse is
//! not captured unless asked for, so the terminal's own selection and copy keep working.
//!
//! Where the terminal speaks the kitty keyboard protocol, keys are asked for unambiguously
//! (`DISAMBIGUATE_ESCAPE_CODES` only: no release events, text keys unchanged), so ctrl-enter and
//! shift-enter reach the notebook editor. The flags are pushed on the alternate screen and popped
//! before leaving it, on the way out and on a panic, so the shell gets its keys back as they were.

use std::io;

use crossterm::event::{
    DisableMouseCapture, EnableMouseCapture, KeyboardEnhancementFlags, PopKeyboardEnhancementFlags,
    PushKeyboardEnhancementFlags,
};
use crossterm::execute;
use ratatui::DefaultTerminal;

/// What `enter` turned on, for `leave`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Modes {
    pub mouse: bool,
    /// The kitty keyboard protocol's flags are pushed.
    pub keyboard: bool,
}

pub fn enter(mouse: bool) -> io::Result<(DefaultTerminal, Modes)> {
    // ratatui's hook restores raw mode and the screen before the panic message is printed.
    let terminal = ratatui::try_init()?;
    if mouse {
        execute!(io::stdout(), EnableMouseCapture)?;
    }
    let keyboard = enhance_keyboard();
    let modes = Modes { mouse, keyboard };
    if mouse || keyboard {
        // Runs before ratatui's hook (installed earlier), so still on the alternate screen.
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            undo(modes);
            previous(info);
        }));
    }
    Ok((terminal, modes))
}

/// Pushes the kitty keyboard flags if the terminal answers that it supports them (the query is
/// answered at once by every terminal, with or without support; raw mode is on here, and no
/// event reader runs yet).
fn enhance_keyboard() -> bool {
    if std::env::var_os("HARBOUR_TUI_NO_KITTY_KEYS").is_some() {
        return false;
    }
    matches!(
        crossterm::terminal::supports_keyboard_enhancement(),
        Ok(true)
    ) && execute!(
        io::stdout(),
        PushKeyboardEnhancementFlags(KeyboardEnhancementFlags::DISAMBIGUATE_ESCAPE_CODES)
    )
    .is_ok()
}

fn undo(modes: Modes) {
    if modes.keyboard {
        let _ = execute!(io::stdout(), PopKeyboardEnhancementFlags);
    }
    if modes.mouse {
        let _ = execute!(io::stdout(), DisableMouseCapture);
    }
}

pub fn leave(modes: Modes) {
    undo(modes);
    ratatui::restore();
}
