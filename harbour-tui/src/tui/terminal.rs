//! The terminal: raw mode and the alternate screen on the way in, both undone on the way out
//! and before a panic message is printed (ratatui's `init` installs that hook). The mouse is
//! not captured unless asked for, so the terminal's own selection and copy keep working.

use std::io;

use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;
use ratatui::DefaultTerminal;

pub fn enter(mouse: bool) -> io::Result<DefaultTerminal> {
    // ratatui's hook restores raw mode and the screen before the panic message is printed.
    let terminal = ratatui::try_init()?;
    if mouse {
        execute!(io::stdout(), EnableMouseCapture)?;
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = execute!(io::stdout(), DisableMouseCapture);
            previous(info);
        }));
    }
    Ok(terminal)
}

pub fn leave(mouse: bool) {
    if mouse {
        let _ = execute!(io::stdout(), DisableMouseCapture);
    }
    ratatui::restore();
}
