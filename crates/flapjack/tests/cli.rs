//! The `flapjack` binary end to end: `account` commands against a data directory, and
//! `serve` answering on its OSCAR port and shutting down cleanly on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn flapjack() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_flapjack"));
    c.env_remove("FLAPJACK_DATA_DIR").env("FLAPJACK_LOG", "info");
    c
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("flapjack-cli-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(dir: &TempDir, args: &[&str], stdin: &str) -> Output {
    let mut child = flapjack()
        .arg("account")
        .arg("--data-dir")
        .arg(&dir.0)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn account_commands() {
    let dir = TempDir::new("account");
    let o = run(&dir, &["add", "Alice Smith", "--password", "pw1"], "");
    assert!(o.status.success(), "{o:?}");
    // Password from standard input, bot flag.
    let o = run(&dir, &["add", "helperbot", "--bot"], "pw2\n");
    assert!(o.status.success(), "{o:?}");
    // Duplicates and bad names fail.
    assert!(
        !run(&dir, &["add", "alicesmith", "--password", "x"], "")
            .status
            .success()
    );
    assert!(!run(&dir, &["add", "9lives", "--password", "x"], "").status.success());
    // Import: names with and without their own password; one bad line.
    let list = dir.0.join("names.txt");
    std::fs::write(&list, "# team\ncarol:pw3\ndave\n\nx\n").unwrap();
    let file = dir.0.join("pw.txt");
    std::fs::write(&file, "shared\n").unwrap();
    let o = run(
        &dir,
        &[
            "add",
            "--from-file",
            list.to_str().unwrap(),
            "--password-file",
            file.to_str().unwrap(),
        ],
        "",
    );
    assert!(!o.status.success(), "the bad line fails the import");
    assert!(stdout(&o).contains("2 added, 1 failed"), "{}", stdout(&o));

    let o = run(&dir, &["list"], "");
    let out = stdout(&o);
    assert!(o.status.success());
    for name in ["Alice Smith", "helperbot", "carol", "dave"] {
        assert!(out.contains(name), "{out}");
    }
    assert!(out.contains("4 account(s)"), "{out}");
    assert!(
        !out.contains("pw1") && !out.contains("shared"),
        "passwords never printed"
    );

    assert!(
        run(&dir, &["passwd", "alice smith", "--password", "new"], "")
            .status
            .success()
    );
    assert!(
        !run(&dir, &["passwd", "nobody", "--password", "new"], "")
            .status
            .success()
    );
    assert!(run(&dir, &["del", "dave"], "").status.success());
    assert!(!run(&dir, &["del", "dave"], "").status.success());
    assert!(stdout(&run(&dir, &["list"], "")).contains("3 account(s)"));
}

#[cfg(unix)]
#[test]
fn serve_listens_and_stops_on_sigterm() {
    let dir = TempDir::new("serve");
    let mut child = flapjack()
        .args(["serve", "--oscar", "127.0.0.1:0", "--data-dir"])
        .arg(&dir.0)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the listener comes up");
        if line.contains("OSCAR listener up")
            && let Some(rest) = line.split("addr=").nth(1)
        {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let mut conn = TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut hello = [0u8; 10];
    conn.read_exact(&mut hello).unwrap();
    assert_eq!(&hello[..2], &[0x2A, 0x01]);
    assert_eq!(&hello[6..], &[0, 0, 0, 1]);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // The open connection is signed off with a channel-4 frame, then closed.
    let mut rest = Vec::new();
    conn.read_to_end(&mut rest).unwrap();
    assert_eq!(rest.get(..2), Some(&[0x2A, 0x04][..]), "{rest:02x?}");
    let status = child.wait().unwrap();
    assert!(status.success(), "clean exit: {status:?}");
    assert!(dir.0.join("flapjack.sqlite").exists());
}
