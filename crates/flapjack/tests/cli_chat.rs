//! `flapjack chat` in a real pseudo-terminal: tmux runs it at 80×24, `send-keys` types and
//! `capture-pane` reads the screen. Sign-on is visible, a buddy is added, an IM goes out and
//! arrives, the reply (and the typing notification before it) shows up, away toggles, a chat
//! room is joined, and ^C signs off with exit code 0.
//!
//! tmux is installed by CI. Without it the test fails when `CI` is set and is skipped (loudly)
//! otherwise.

mod cli_support;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use cli_support::{TestServer, WAIT};
use flapjack_client::{Event, TypingEvent};

const ALICE: (&str, &str) = ("alice", "alice pw");
const BOB: (&str, &str) = ("Bob", "bob pw");

/// A private tmux server (its own socket), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        let o = self.cmd().args(args).output().expect("tmux runs");
        assert!(
            o.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        o
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "chat"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Types text literally (no key-name lookup).
    fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "chat", "-l", text]);
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "chat"]).stdout).into_owned()
    }

    /// Waits until the screen satisfies `pred` (screens are captured while being redrawn, so
    /// every check of one screen goes into one predicate); returns the screen.
    fn wait_until(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.screen();
            if pred(&screen) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("the screen never showed {what}; it shows:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the screen shows every one of `needles`.
    fn wait_for_all(&self, needles: &[&str]) -> String {
        self.wait_until(&format!("{needles:?}"), |s| needles.iter().all(|n| s.contains(n)))
    }

    /// Waits until the screen shows `needle`.
    fn wait_for(&self, needle: &str) -> String {
        self.wait_for_all(&[needle])
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

fn tmux_available() -> bool {
    match Command::new("tmux").arg("-V").output() {
        Ok(o) if o.status.success() => true,
        _ => {
            if std::env::var_os("CI").is_some() {
                panic!("tmux is required in CI for the terminal UI test (apt-get install tmux)");
            }
            eprintln!("\n!!! SKIPPING the flapjack chat terminal test: tmux is not installed !!!\n");
            false
        }
    }
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[test]
fn chat_signs_on_sends_and_shows_the_reply_at_80x24() {
    if !tmux_available() {
        return;
    }
    let s = TestServer::start(&[ALICE, BOB]);
    let mut bob = s.peer(BOB.0, BOB.1);
    let pw = s.home.0.join("alice.pw");
    std::fs::write(&pw, ALICE.1).unwrap();
    let bin = env!("CARGO_BIN_EXE_flapjack");
    let home = s.home.0.display().to_string();
    // The exit code is printed after the UI ends, and the pane stays open to read it.
    let shell = format!(
        "env -u FLAPJACK_PASSWORD HOME={h} XDG_CONFIG_HOME={h} LANG=C.UTF-8 {bin} chat --server {srv} --user {user} --password-file {pw}; echo EXIT=$?; sleep 60",
        h = sh_quote(&home),
        bin = sh_quote(bin),
        srv = s.oscar,
        user = ALICE.0,
        pw = sh_quote(&pw.display().to_string()),
    );
    let tmux = Tmux {
        socket: format!("flapjack-test-{}", std::process::id()),
    };
    tmux.run(&[
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-s",
        "chat",
        "-x",
        "80",
        "-y",
        "24",
        &shell,
    ]);

    // Signed on: the status tab says so, the status line names us, the key hints are visible.
    let screen = tmux.wait_for_all(&["Signed on as alice", "alice | available", "^N IM"]);
    assert_eq!(screen.lines().count(), 24, "{screen}");
    assert!(screen.lines().all(|l| l.chars().count() <= 80), "{screen}");

    // Add Bob: the buddy list shows him online.
    tmux.type_text("/add Bob Friends");
    tmux.keys(&["Enter"]);
    tmux.wait_for_all(&["+ Bob", "Friends (1/1)"]);

    // ^N, a name, and a message.
    tmux.keys(&["C-n"]);
    tmux.wait_for("IM to:");
    tmux.type_text("Bob");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Bob (online)");
    tmux.type_text("hello from the terminal");
    let typing = bob.expect(&s.rt, "alice typing", |e| matches!(e, Event::Typing { .. }));
    assert!(
        matches!(
            typing,
            Event::Typing {
                event: TypingEvent::Begun,
                ..
            }
        ),
        "{typing:?}"
    );
    tmux.keys(&["Enter"]);
    let Event::ImReceived(im) = bob.expect(&s.rt, "alice's IM", |e| matches!(e, Event::ImReceived(_))) else {
        unreachable!()
    };
    assert_eq!(im.text, "hello from the terminal");
    tmux.wait_for("alice: hello from the terminal");

    // Bob starts typing, then answers.
    s.rt.block_on(bob.handle.send_typing("alice", TypingEvent::Begun))
        .unwrap();
    tmux.wait_for("Bob is typing...");
    s.rt.block_on(bob.handle.send_im_acked("alice", "hi alice, <b>loud</b> and clear"))
        .unwrap();
    // The IM ends the typing notice.
    tmux.wait_until("the reply without the typing notice", |s| {
        s.contains("Bob: hi alice, loud and clear") && !s.contains("Bob is typing")
    });

    // Away and back (^A, Enter accepts the default message), seen by the status line.
    tmux.keys(&["C-a"]);
    tmux.wait_for("Away message:");
    tmux.keys(&["Enter"]);
    tmux.wait_for("alice | away: I am away");
    tmux.keys(&["C-a"]);
    tmux.wait_for_all(&["You are back.", "alice | available"]);

    // A chat room in its own tab.
    tmux.keys(&["C-r"]);
    tmux.type_text("Lounge");
    tmux.keys(&["Enter"]);
    tmux.wait_for_all(&["You joined #Lounge", "#Lounge (1 here: alice)"]);

    // ^C signs off and exits 0.
    tmux.keys(&["C-c"]);
    let screen = tmux.wait_for("EXIT=");
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(screen.contains("Signed off."), "{screen}");
    bob.sign_off(&s.rt);
}
