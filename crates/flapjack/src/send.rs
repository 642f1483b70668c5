//! `flapjack send TO MESSAGE`: sign on, send one IM, wait for the server's acknowledgement,
//! sign off. The exit code says whether the message was delivered.

use std::io::Read;
use std::time::Duration;

use clap::Args;

use crate::client_args::{self, CONFIG_HELP, CliError, CliResult, ClientArgs, EXIT_CODES_HELP, Progress};

/// Options of `flapjack send`.
#[derive(Debug, Args)]
#[command(after_help = format!("{EXIT_CODES_HELP}\n\n{CONFIG_HELP}"))]
pub struct SendArgs {
    /// The common client flags.
    #[command(flatten)]
    pub client: ClientArgs,
    /// The recipient's screen name.
    pub to: String,
    /// The message (plain text or AIM HTML); `-` reads it from standard input.
    pub message: String,
    /// Seconds to wait for the server's acknowledgement.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
}

/// Runs `flapjack send`.
pub fn run(args: SendArgs) -> CliResult {
    let text = if args.message == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| CliError::failure(format!("reading the message from standard input: {e}")))?;
        s.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        args.message.clone()
    };
    if text.is_empty() {
        return Err(CliError::failure("the message is empty"));
    }
    let resolved = args.client.resolve()?;
    let rt = client_args::runtime()?;
    rt.block_on(async move {
        let mut progress = Progress::new(resolved.verbose);
        let signed_on = client_args::sign_on_reporting(&resolved, &mut progress).await?;
        progress.step(&format!("sending to {}", args.to));
        let sent = tokio::time::timeout(
            Duration::from_secs(args.timeout.max(1)),
            signed_on.handle.send_im_acked(&args.to, &text),
        )
        .await;
        progress.finish();
        let result = match sent {
            Err(_) => Err(CliError::delivery(format!(
                "no acknowledgement for the message to {} within {} s",
                args.to, args.timeout
            ))),
            Ok(Err(e)) => Err(CliError::delivery(format!(
                "not delivered to {}: {}",
                args.to,
                client_args::describe_error(&e)
            ))),
            Ok(Ok(_)) => {
                println!("delivered to {}", args.to);
                Ok(())
            }
        };
        let _ = signed_on.handle.sign_off().await;
        result
    })
}
