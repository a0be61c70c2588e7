//! `harbour-tui --print-config`: the effective config, defaults merged with `tui.toml`, and a
//! clear error that names an unknown key. Runs the real binary; needs no daemon or terminal.

use std::process::Command;

fn harbour_tui(config_dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_harbour-tui"));
    cmd.env("HARBOUR_CONFIG_DIR", config_dir)
        .arg("--print-config");
    cmd
}

#[test]
fn prints_defaults_merged_with_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = harbour_tui(dir.path()).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("no tui.toml found"), "{text}");
    assert!(text.contains("ctrl-k = \"kill\""), "{text}");

    std::fs::write(
        dir.path().join("tui.toml"),
        "[keys.runs]\nx = \"kill\"\n[logs]\nmax_lines = 1000\n",
    )
    .unwrap();
    let out = harbour_tui(dir.path()).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("x = \"kill\"") && text.contains("ctrl-k = \"kill\""),
        "{text}"
    );
    assert!(text.contains("max_lines = 1000"), "{text}");
    // What it prints is a valid tui.toml.
    std::fs::write(dir.path().join("tui.toml"), &text).unwrap();
    assert!(harbour_tui(dir.path()).output().unwrap().status.success());
}

#[test]
fn unknown_keys_are_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tui.toml"),
        "[keys.runs]\nx = \"launch-missiles\"\n",
    )
    .unwrap();
    let out = harbour_tui(dir.path()).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("launch-missiles") && err.contains("tui.toml"),
        "{err}"
    );
}
