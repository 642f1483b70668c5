//! `flapjack bot --exec CMD`: answer IMs with a command.
//!
//! The command runs **once per incoming IM** (like CGI): `sh -c CMD` gets the IM's event JSON
//! (the `im` object of `flapjack listen`) as one line on stdin, and the environment variables
//! `FLAPJACK_FROM`, `FLAPJACK_TEXT` (HTML removed) and `FLAPJACK_USER` (the bot's own screen
//! name). If it exits 0, its stdout (trailing whitespace trimmed) is sent back to the sender as
//! the reply; empty output sends nothing. A command that fails or runs past `--timeout` is
//! reported on stderr and sends nothing. IMs are handled one at a time, in order of arrival.
//! Automatic responses (away messages) and the bot's own messages are ignored, so two bots
//! cannot loop forever on away messages.
//!
//! One process per IM keeps every command stateless and crash-proof (a failing command costs one
//! reply, not the bot); a command that needs state keeps it in a file or a server of its own.

use std::process::Stdio;
use std::time::Duration;

use clap::Args;
use flapjack_client::{ClientHandle, Event, ReceivedIm, SignOffReason, strip_html};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::client_args::{self, CONFIG_HELP, CliError, CliResult, ClientArgs, EXIT_CODES_HELP, Progress};
use crate::event_json;

/// Options of `flapjack bot`.
#[derive(Debug, Args)]
#[command(after_help = format!(
    "The command runs once per incoming IM via `sh -c CMD`: stdin is the IM as one JSON line \
     (see `flapjack listen --help`, type \"im\"), the environment has FLAPJACK_FROM, FLAPJACK_TEXT \
     and FLAPJACK_USER. Exit 0 with output: the output is the reply. Exit 0 without output: no \
     reply. Non-zero exit or timeout: no reply, reported on stderr. Away messages and the bot's \
     own IMs are ignored. IMs are answered one at a time, in order.\n\n\
     Example: flapjack bot --server 127.0.0.1:5190 --user echobot --exec 'echo \"you said: $FLAPJACK_TEXT\"'\n\n\
     {EXIT_CODES_HELP}\n\n{CONFIG_HELP}"
))]
pub struct BotArgs {
    /// The common client flags.
    #[command(flatten)]
    pub client: ClientArgs,
    /// The command to run for each incoming IM (through `sh -c`).
    #[arg(long, value_name = "CMD")]
    pub exec: String,
    /// Seconds the command may run before it is killed.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    pub timeout: u64,
}

/// What the command made of one IM.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Reply(String),
    Silent,
    Failed(String),
}

async fn run_command(cmd: &str, me: &str, im: &ReceivedIm, timeout: Duration) -> Outcome {
    let line = event_json::event_line(&Event::ImReceived(im.clone()));
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .env("FLAPJACK_FROM", &im.from.screen_name)
        .env("FLAPJACK_TEXT", strip_html(&im.text))
        .env("FLAPJACK_USER", me)
        .env_remove("FLAPJACK_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return Outcome::Failed(format!("cannot run sh: {e}")),
    };
    let mut stdin = child.stdin.take();
    let mut stdout = child.stdout.take();
    let work = async {
        if let Some(mut s) = stdin.take() {
            // A command that does not read stdin may close it early: not an error.
            let _ = s.write_all(line.as_bytes()).await;
            let _ = s.write_all(b"\n").await;
            drop(s);
        }
        let mut out = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.take(64 * 1024).read_to_end(&mut out).await;
        }
        let status = child.wait().await;
        (status, out)
    };
    match tokio::time::timeout(timeout, work).await {
        Err(_) => Outcome::Failed(format!("timed out after {} s", timeout.as_secs())),
        Ok((Err(e), _)) => Outcome::Failed(format!("waiting for the command: {e}")),
        Ok((Ok(status), _)) if !status.success() => Outcome::Failed(format!("the command failed ({status})")),
        Ok((Ok(_), out)) => {
            let text = String::from_utf8_lossy(&out).trim_end().to_owned();
            if text.is_empty() {
                Outcome::Silent
            } else {
                Outcome::Reply(text)
            }
        }
    }
}

async fn worker(
    handle: ClientHandle,
    me: String,
    cmd: String,
    timeout: Duration,
    mut rx: mpsc::UnboundedReceiver<ReceivedIm>,
) {
    while let Some(im) = rx.recv().await {
        let from = im.from.screen_name.clone();
        match run_command(&cmd, &me, &im, timeout).await {
            Outcome::Reply(text) => match handle.send_im_acked(&from, &text).await {
                Ok(_) => eprintln!("flapjack bot: replied to {from} ({} bytes)", text.len()),
                Err(e) => eprintln!(
                    "flapjack bot: reply to {from} not delivered: {}",
                    client_args::describe_error(&e)
                ),
            },
            Outcome::Silent => eprintln!("flapjack bot: no reply to {from} (empty output)"),
            Outcome::Failed(why) => eprintln!("flapjack bot: no reply to {from}: {why}"),
        }
    }
}

/// Runs `flapjack bot`.
pub fn run(args: BotArgs) -> CliResult {
    if args.exec.trim().is_empty() {
        return Err(CliError::failure("--exec needs a command"));
    }
    let resolved = args.client.resolve()?;
    let rt = client_args::runtime()?;
    rt.block_on(async move {
        let mut progress = Progress::new(resolved.verbose);
        let mut s = client_args::sign_on_reporting(&resolved, &mut progress).await?;
        progress.finish();
        let me = s.self_info.screen_name.clone();
        let me_norm = flapjack_wire::types::normalize_screen_name(me.as_bytes());
        eprintln!("flapjack bot: signed on as {me}; answering IMs with: {}", args.exec);
        let (tx, rx) = mpsc::unbounded_channel();
        let work = tokio::spawn(worker(
            s.handle.clone(),
            me.clone(),
            args.exec.clone(),
            Duration::from_secs(args.timeout.max(1)),
            rx,
        ));
        let interrupted = client_args::interrupted();
        tokio::pin!(interrupted);
        let result = loop {
            let ev = tokio::select! {
                ev = s.events.next() => ev,
                () = &mut interrupted => {
                    eprintln!("flapjack bot: signing off");
                    work.abort();
                    let _ = s.handle.sign_off().await;
                    break Ok(());
                }
            };
            match ev {
                None => break Ok(()),
                Some(Event::ImReceived(im)) => {
                    let from = flapjack_wire::types::normalize_screen_name(im.from.screen_name.as_bytes());
                    if im.auto_response || from == me_norm {
                        continue;
                    }
                    let _ = tx.send(im);
                }
                Some(Event::SignedOff { reason }) => {
                    break match reason {
                        SignOffReason::Requested => Ok(()),
                        other => Err(CliError::failure(format!("signed off: {other}"))),
                    };
                }
                Some(Event::Error(e)) if resolved.verbose => eprintln!("flapjack bot: {e}"),
                Some(_) => {}
            }
        };
        work.abort();
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flapjack_client::UserStatus;

    fn im(text: &str) -> ReceivedIm {
        ReceivedIm {
            from: UserStatus {
                screen_name: "Bob".into(),
                ..UserStatus::default()
            },
            text: text.into(),
            auto_response: false,
            offline: false,
            sent_at: None,
            wants_typing: false,
        }
    }

    #[tokio::test]
    async fn commands_reply_stay_silent_or_fail() {
        let t = Duration::from_secs(5);
        assert_eq!(
            run_command(
                "echo \"$FLAPJACK_FROM said $FLAPJACK_TEXT to $FLAPJACK_USER\"",
                "bot",
                &im("<b>hi</b>"),
                t
            )
            .await,
            Outcome::Reply("Bob said hi to bot".into())
        );
        // The event JSON arrives on stdin.
        assert_eq!(
            run_command("grep -o '\"type\":\"im\"'", "bot", &im("x"), t).await,
            Outcome::Reply("\"type\":\"im\"".into())
        );
        assert_eq!(run_command("true", "bot", &im("x"), t).await, Outcome::Silent);
        assert!(matches!(
            run_command("echo out; exit 3", "bot", &im("x"), t).await,
            Outcome::Failed(_)
        ));
        assert!(matches!(
            run_command("sleep 5", "bot", &im("x"), Duration::from_millis(200)).await,
            Outcome::Failed(w) if w.contains("timed out")
        ));
    }
}
