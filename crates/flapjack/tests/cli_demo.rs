//! `flapjack demo`: with no setup it runs every step against its embedded server, prints each
//! (with the OpenAuth transcript), finishes in seconds and exits 0.

mod cli_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cli_support::{finish, text};

#[test]
fn demo_runs_every_step_and_exits_0() {
    let home = cli_support::TempDir::new("demo-home");
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_flapjack"))
        .arg("demo")
        .env("HOME", &home.0)
        .env_remove("FLAPJACK_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let o = finish(child, Duration::from_secs(60));
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the demo takes seconds, not {:?}",
        started.elapsed()
    );
    let steps = [
        "Start an embedded server",
        "Create two accounts",
        "Syrup signs on with OpenAuth",
        "Butter signs on with BUCP",
        "They add each other as buddies",
        "They exchange IMs",
        "Butter goes away",
        "Butter comes back",
        "They talk in a chat room",
        "They sign off",
        "The server shuts down",
    ];
    for (i, step) in steps.iter().enumerate() {
        let line = out
            .lines()
            .find(|l| l.contains(step))
            .unwrap_or_else(|| panic!("step {step:?} missing from:\n{out}"));
        assert!(line.trim_start().starts_with(&format!("{}. ", i + 1)), "{line}");
        assert!(line.contains(" ok ("), "step {step:?} did not work: {line}");
    }
    for needle in [
        "POST http://127.0.0.1:",
        "/auth/clientLogin",
        "pwd=<redacted>",
        "session key: <redacted>",
        "signature base string: GET&",
        "/aim/startOSCARSession?",
        "Syrup sees Butter online",
        "Butter sees \"Syrup is typing\"",
        "Syrup -> Butter:",
        "Butter -> Syrup:",
        "Syrup reads the away message",
        "[Griddle] Syrup:",
        "[Griddle] Butter:",
        "Syrup sees Butter go offline",
        "All 11 steps worked",
    ] {
        assert!(out.contains(needle), "{needle:?} missing from:\n{out}");
    }
    assert!(!out.contains("FAILED") && !out.contains("not yet supported"), "{out}");
    // The temporary data directory is gone.
    let dir_line = out
        .lines()
        .find(|l| l.contains("data directory"))
        .expect("the data directory is named");
    let path = dir_line.split_whitespace().nth(2).expect("a path");
    assert!(!std::path::Path::new(path).exists(), "{path} was removed");
}
