//! `flapjack bench` runs tiny configurations to completion and reports what it measured: IMs
//! delivered through a real server (raw OSCAR over TCP, bot accounts, rate limits on), and
//! frames through the reference relay. Figures are never asserted on; only that something was
//! delivered without errors.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn data_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flapjack-bench-smoke-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Runs `flapjack bench ARGS --json` and returns its JSON report.
fn bench(args: &[&str], dir: &PathBuf) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_flapjack"))
        .arg("bench")
        .args(args)
        .args(["--runs", "1", "--json", "--data-dir"])
        .arg(dir)
        .output()
        .expect("run flapjack bench");
    let _ = std::fs::remove_dir_all(dir);
    assert!(
        out.status.success(),
        "flapjack bench failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON report on stdout")
}

#[test]
fn im_run_through_an_in_process_server_delivers() {
    let dir = data_dir("im");
    let report = bench(
        &[
            "im",
            "--server",
            "in-process",
            "--pairs",
            "2",
            "--in-flight",
            "4",
            "--secs",
            "1",
            "--warmup-secs",
            "0.2",
        ],
        &dir,
    );
    let run = &report["im"]["runs"][0];
    assert!(run["delivered"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(run["errors"].as_u64(), Some(0), "{report}");
    assert_eq!(run["closed_early"].as_u64(), Some(0), "{report}");
    assert_eq!(
        run["rate_changes"].as_u64(),
        Some(0),
        "bots stay under their rate classes: {report}"
    );
    assert!(report["im"]["median"]["per_sec"].as_f64().unwrap() > 0.0);
}

#[test]
fn relay_run_delivers() {
    let dir = data_dir("relay");
    let report = bench(
        &[
            "relay",
            "--pairs",
            "2",
            "--in-flight",
            "4",
            "--secs",
            "1",
            "--warmup-secs",
            "0.2",
        ],
        &dir,
    );
    assert!(
        report["relay"]["runs"][0]["delivered"].as_u64().unwrap() > 0,
        "{report}"
    );
}

#[test]
fn login_run_through_a_spawned_server_signs_everyone_on() {
    let dir = data_dir("logins");
    let report = bench(&["logins", "--users", "20", "--concurrency", "4"], &dir);
    let run = &report["logins"]["runs"][0];
    assert_eq!(run["logins"].as_u64(), Some(20), "{report}");
    assert!(run["per_sec"].as_f64().unwrap() > 0.0);
}
