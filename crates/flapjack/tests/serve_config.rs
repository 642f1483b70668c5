//! `flapjack serve` with a TOML config file: the file's port is used, a flag or a `FLAPJACK_*`
//! variable overrides it, `<data-dir>/flapjack.toml` is read when present, and a bad key stops
//! the server before it starts.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("flapjack-serve-config-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The binary with no `FLAPJACK_*` variable from the environment running the tests.
fn flapjack() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_flapjack"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("FLAPJACK_") {
            c.env_remove(name);
        }
    }
    c.env("FLAPJACK_LOG", "info");
    c
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running `flapjack serve`, killed when dropped.
struct Serving {
    child: Child,
    lines: Receiver<String>,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(cmd: &mut Command) -> Serving {
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    Serving { child, lines }
}

impl Serving {
    /// The address in the "OSCAR listener up" log line.
    fn oscar_addr(&self) -> SocketAddr {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let line = self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("the listener comes up");
            if line.contains("OSCAR listener up")
                && let Some(rest) = line.split("addr=").nth(1)
            {
                return rest.split_whitespace().next().unwrap().parse().unwrap();
            }
        }
    }
}

/// Connects and reads the FLAP hello.
fn assert_oscar_hello(addr: SocketAddr) {
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut hello = [0u8; 10];
    conn.read_exact(&mut hello).unwrap();
    assert_eq!(&hello[..2], &[0x2A, 0x01]);
    assert_eq!(&hello[6..], &[0, 0, 0, 1]);
}

fn write_config(path: &Path, oscar_port: u16, data_dir: &Path) {
    let text = format!(
        "# flapjack serve settings\noscar = \"127.0.0.1:{oscar_port}\"\ndata-dir = {:?}\nidle-timeout = 120\n\
         motd = \"from the file\"\n",
        data_dir.to_str().unwrap()
    );
    std::fs::write(path, text).unwrap();
}

#[test]
fn config_file_sets_the_port_and_flags_and_variables_override_it() {
    let dir = TempDir::new("file");
    let config = dir.0.join("server.toml");
    let data = dir.0.join("data");
    let file_port = free_port();
    write_config(&config, file_port, &data);

    // The file alone: its port, its data directory.
    let s = serve(flapjack().arg("serve").arg("--config").arg(&config));
    let addr = s.oscar_addr();
    assert_eq!(addr, SocketAddr::from(([127, 0, 0, 1], file_port)));
    assert_oscar_hello(addr);
    drop(s);
    assert!(data.join("flapjack.sqlite").exists(), "data-dir came from the file");

    // A flag wins over the file.
    let flag_port = free_port();
    let s = serve(
        flapjack()
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .arg("--oscar")
            .arg(format!("127.0.0.1:{flag_port}")),
    );
    let addr = s.oscar_addr();
    assert_eq!(addr.port(), flag_port);
    assert_oscar_hello(addr);
    drop(s);

    // So does a variable; and the file can be named by $FLAPJACK_CONFIG.
    let env_port = free_port();
    let s = serve(
        flapjack()
            .arg("serve")
            .env("FLAPJACK_CONFIG", &config)
            .env("FLAPJACK_OSCAR", format!("127.0.0.1:{env_port}")),
    );
    let addr = s.oscar_addr();
    assert_eq!(addr.port(), env_port);
    assert_oscar_hello(addr);
}

#[test]
fn data_dir_file_is_read_when_present() {
    let dir = TempDir::new("datadir");
    let port = free_port();
    std::fs::write(dir.0.join("flapjack.toml"), format!("oscar = \"127.0.0.1:{port}\"\n")).unwrap();
    let s = serve(flapjack().arg("serve").arg("--data-dir").arg(&dir.0));
    let addr = s.oscar_addr();
    assert_eq!(addr.port(), port);
    assert_oscar_hello(addr);
}

#[test]
fn bad_config_files_stop_the_server() {
    let dir = TempDir::new("bad");
    let config = dir.0.join("bad.toml");
    for (text, expected) in [
        ("oscr = \"127.0.0.1:0\"\n", "unknown key `oscr`"),
        ("oscar = \"not an address\"\n", "--oscar"),
        ("idle-timeout = \"soon\"\n", "--idle-timeout"),
    ] {
        std::fs::write(&config, text).unwrap();
        let out = flapjack()
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(&dir.0)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{text}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{text}: {stderr}");
        assert!(stderr.contains("bad.toml"), "names the file: {stderr}");
    }
    // A missing --config file is an error too (a missing <data-dir>/flapjack.toml is not).
    let out = flapjack()
        .arg("serve")
        .arg("--config")
        .arg(dir.0.join("missing.toml"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));
}
