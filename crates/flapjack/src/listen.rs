//! `flapjack listen`: sign on and print every event as one JSON object per line on stdout
//! (schema: [`event_json::SCHEMA_HELP`]), until interrupted, signed off, or `--count` IMs.

use std::io::Write;

use clap::Args;
use flapjack_client::{Event, SignOffReason};

use crate::client_args::{self, CONFIG_HELP, CliError, CliResult, ClientArgs, EXIT_CODES_HELP, Progress};
use crate::event_json;

/// Options of `flapjack listen`.
#[derive(Debug, Args)]
#[command(after_help = format!("{}\n\n{EXIT_CODES_HELP}\n\n{CONFIG_HELP}", event_json::SCHEMA_HELP))]
pub struct ListenArgs {
    /// The common client flags.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Sign off and exit after this many incoming IMs.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Join this chat room after signing on, to print its messages too (repeatable).
    #[arg(long, value_name = "ROOM")]
    pub join: Vec<String>,
}

/// Writes one event line; false when stdout is gone.
fn emit(out: &mut impl Write, ev: &Event) -> bool {
    let line = event_json::event_line(ev);
    writeln!(out, "{line}").and_then(|()| out.flush()).is_ok()
}

/// Runs `flapjack listen`.
pub fn run(args: ListenArgs) -> CliResult {
    let resolved = args.client.resolve()?;
    let rt = client_args::runtime()?;
    rt.block_on(async move {
        let mut progress = Progress::new(resolved.verbose);
        let mut s = client_args::sign_on_reporting(&resolved, &mut progress).await?;
        progress.finish();
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        for ev in &s.early {
            if !emit(&mut out, ev) {
                let _ = s.handle.sign_off().await;
                return Ok(());
            }
        }
        drop(out);
        for room in &args.join {
            if let Err(e) = s.handle.join_chat(room).await {
                let _ = s.handle.sign_off().await;
                return Err(CliError::failure(format!("joining chat room {room}: {e}")));
            }
        }
        let mut ims = 0u64;
        let mut stopping = false;
        let interrupted = client_args::interrupted();
        tokio::pin!(interrupted);
        loop {
            let ev = tokio::select! {
                ev = s.events.next() => ev,
                () = &mut interrupted, if !stopping => {
                    stopping = true;
                    let h = s.handle.clone();
                    tokio::spawn(async move { let _ = h.sign_off().await; });
                    continue;
                }
            };
            let Some(ev) = ev else { return Ok(()) };
            if !emit(&mut std::io::stdout().lock(), &ev) {
                let _ = s.handle.sign_off().await;
                return Ok(());
            }
            match &ev {
                Event::ImReceived(_) => {
                    ims += 1;
                    if args.count.is_some_and(|n| ims >= n) && !stopping {
                        stopping = true;
                        let h = s.handle.clone();
                        tokio::spawn(async move {
                            let _ = h.sign_off().await;
                        });
                    }
                }
                Event::SignedOff { reason } => {
                    return match reason {
                        SignOffReason::Requested => Ok(()),
                        other => Err(CliError::failure(format!("signed off: {other}"))),
                    };
                }
                _ => {}
            }
        }
    })
}
