//! The real `harbour-tui` in a private tmux server, as a person would use it: `send-keys` to
//! type, `capture-pane` to read the screen. One server per pane (tests run in parallel and each
//! kills its own server when dropped).

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Whether tmux is installed (the README's test command installs it). In CI a missing tmux
/// is an error, not a skip.
pub fn available() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok || std::env::var("CI").as_deref() != Ok("true"),
        "tmux is missing in CI (scripts/test installs it)"
    );
    if !ok {
        eprintln!("SKIPPED: tmux is not installed");
    }
    ok
}

/// A tmux server with one pane running a command.
#[derive(Debug)]
pub struct Tmux {
    server: String,
}

impl Tmux {
    /// Starts `cmd` (a shell command line) in a `w` x `h` pane.
    pub fn start(cmd: &str, w: u16, h: u16) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let t = Self {
            server: format!(
                "harbour-tests-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ),
        };
        let ok = Command::new("tmux")
            .args(["-L", &t.server, "-f", "/dev/null", "new-session", "-d"])
            .args(["-s", "t", "-x", &w.to_string(), "-y", &h.to_string(), cmd])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "tmux new-session failed");
        t
    }

    fn tmux(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .args(["-L", &self.server])
            .args(args)
            .output()
            .expect("run tmux")
    }

    /// Sends keys by tmux's names (`Enter`, `Escape`, `C-r`, `j`...), then lets the app draw.
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        assert!(self.tmux(&args).status.success(), "send-keys {keys:?}");
        std::thread::sleep(Duration::from_millis(150));
    }

    /// Types text literally.
    pub fn type_text(&self, text: &str) {
        assert!(
            self.tmux(&["send-keys", "-t", "t", "-l", text])
                .status
                .success(),
            "send-keys -l {text:?}"
        );
        std::thread::sleep(Duration::from_millis(150));
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "t"]).stdout).into_owned()
    }

    /// Waits until the screen shows every one of `wanted`; panics with the screen if not.
    pub fn wait_for(&self, wanted: &[&str], within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let s = self.screen();
            if wanted.iter().all(|w| s.contains(w)) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "the screen never showed {wanted:?}; it shows:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The pid of the pane's process.
    pub fn pane_pid(&self) -> Option<u32> {
        String::from_utf8_lossy(
            &self
                .tmux(&["display-message", "-p", "-t", "t", "#{pane_pid}"])
                .stdout,
        )
        .trim()
        .parse()
        .ok()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.server, "kill-server"])
            .status();
    }
}
