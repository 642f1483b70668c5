//! Support shared by the integration tests: locating the recorded captures,
//! reading them (`pcap`), and writing synthetic ones (`pcapwrite`).
#![allow(dead_code)] // each test binary uses a different part

pub mod pcap;
pub mod pcapwrite;
pub mod stream;

use std::path::{Path, PathBuf};

/// The TCP port the OSCAR server listened on in the recorded captures.
pub const CAPTURE_OSCAR_PORT: u16 = 5290;

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// True when running under CI (`CI` set to anything but empty / `false` / `0`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Reports a missing prerequisite: panics under CI, otherwise prints a loud
/// notice and returns, so the caller can skip.
pub fn missing_prerequisite(what: &str) {
    if in_ci() {
        panic!("{what} (CI is set, so this is a failure, not a skip)");
    }
    eprintln!();
    eprintln!("!!!!!!!! SKIPPED: {what}");
    eprintln!("!!!!!!!! (set CI=1 to make this a failure)");
    eprintln!();
}

/// The directory holding the recorded captures: `$FLAPJACK_CAPTURES`, or
/// `shared/captures` next to the workspace. `None` (after a loud notice, or a
/// panic under CI) when it is missing or holds no pcapng file.
pub fn captures_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("FLAPJACK_CAPTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/captures"));
    if capture_files(&dir).is_empty() {
        missing_prerequisite(&format!("no *.pcapng captures found in {}", dir.display()));
        return None;
    }
    Some(dir)
}

/// The `*.pcapng` files in `dir`, sorted by name.
pub fn capture_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "pcapng"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Reads a capture and returns its reassembled TCP streams on `port` (either direction).
pub fn oscar_streams(path: &Path, port: u16) -> Vec<pcap::TcpStream> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let limits = pcap::Limits::default();
    let packets = pcap::read_packets(&bytes, &limits).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let streams = pcap::reassemble(&packets, &limits).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    streams
        .into_iter()
        .filter(|s| s.src.port() == port || s.dst.port() == port)
        .collect()
}

/// Spaced upper-case hex, cut after `max` bytes.
pub fn hex_prefix(bytes: &[u8], max: usize) -> String {
    let mut s = flapjack_wire::testing::to_hex(&bytes[..bytes.len().min(max)]);
    if bytes.len() > max {
        s.push_str(&format!(" … ({} bytes)", bytes.len()));
    }
    s
}
