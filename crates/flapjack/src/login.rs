//! `flapjack login`: sign on, say what happened, sign off. With `-v`, every handshake step.

use clap::Args;

use crate::client_args::{self, CONFIG_HELP, CliError, CliResult, ClientArgs, EXIT_CODES_HELP, Progress};

/// Options of `flapjack login`.
#[derive(Debug, Args)]
#[command(after_help = format!("{EXIT_CODES_HELP}\n\n{CONFIG_HELP}"))]
pub struct LoginArgs {
    /// The common client flags.
    #[command(flatten)]
    pub client: ClientArgs,
    /// With -v: show the secrets the transcript normally redacts (the OpenAuth token, session
    /// secret, session key and BOS cookie; never the password). For debugging a 401/1014 on
    /// your own account only.
    #[arg(long)]
    pub show_secrets: bool,
}

/// Runs `flapjack login`.
pub fn run(args: LoginArgs) -> CliResult {
    let mut resolved = args.client.resolve()?;
    resolved.client.open_auth.reveal_secrets = args.show_secrets;
    let rt = client_args::runtime()?;
    rt.block_on(async move {
        let mut progress = Progress::new(resolved.verbose);
        let result = client_args::sign_on(&resolved, &progress).await;
        progress.finish();
        let signed_on = match result {
            Ok(s) => s,
            Err(failure) => {
                if resolved.verbose
                    && let Some(t) = &failure.transcript
                {
                    for line in client_args::transcript_lines(t) {
                        println!("{line}");
                    }
                }
                return Err(failure.error);
            }
        };
        if resolved.verbose {
            for line in client_args::handshake_lines(resolved.kind, &resolved.client.screen_name, &signed_on) {
                println!("{line}");
            }
            println!();
        }
        let me = &signed_on.self_info;
        println!("Signed on as {}", me.screen_name);
        println!("  login:     {}", resolved.describe);
        if let Some(bos) = signed_on
            .hops
            .iter()
            .rev()
            .find(|h| h.kind == flapjack_client::ConnKind::Bos)
        {
            println!("  BOS:       {bos}");
        }
        match me.online_since {
            Some(t) => println!("  signed on: {}", client_args::format_unix(i64::from(t))),
            None => println!("  signed on: (the server sent no sign-on time)"),
        }
        let groups = signed_on.buddy_list.groups.len();
        let buddies = signed_on.buddy_list.all_buddies().count();
        println!("  buddies:   {buddies} in {groups} group(s)");
        for ev in &signed_on.early {
            if let flapjack_client::Event::Motd(m) = ev {
                println!("  motd:      {m}");
            }
        }
        signed_on
            .handle
            .sign_off()
            .await
            .map_err(|e| CliError::failure(format!("signing off: {e}")))?;
        println!("Signed off.");
        Ok(())
    })
}
