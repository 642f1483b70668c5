//! The `flapjack` binary: an OSCAR (AIM / ICQ) server and toolkit.
//!
//! Subcommands:
//! * `serve`: run the server (OSCAR listeners, plain and TLS, and the OpenAuth HTTP API);
//! * `account add|passwd|del|list|bot`: manage accounts in the server's data directory;
//! * `login`, `send`, `listen`, `bot`, `chat`: the client (see [`client_args`] for the common
//!   flags, the config file and the exit codes);
//! * `demo`: an embedded server and two clients showing the whole protocol in seconds.

mod account;
mod bench;
mod bot;
mod chat;
mod client_args;
mod demo;
mod event_json;
mod listen;
mod login;
mod send;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The allocator: mimalloc. On the server's message path every IM is encoded into a buffer on
/// the sender's worker thread and freed on the recipient's, a pattern glibc's malloc serves
/// from its locked arenas (about a tenth of the server's CPU per IM; BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Command line.
#[derive(Debug, Parser)]
#[command(name = "flapjack", version, about = "An OSCAR (AIM / ICQ) server and toolkit")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(Box<serve::ServeArgs>),
    /// Manage accounts (works while the server runs).
    Account(account::AccountArgs),
    /// Sign on, report what happened (-v: every handshake step), sign off.
    Login(Box<login::LoginArgs>),
    /// Send one IM and wait for the server's acknowledgement.
    Send(Box<send::SendArgs>),
    /// Sign on and print every event as a JSON line.
    Listen(Box<listen::ListenArgs>),
    /// Answer IMs with a command run once per message.
    Bot(Box<bot::BotArgs>),
    /// A terminal chat client: buddy list, conversations and chat rooms in tabs.
    Chat(Box<chat::ChatArgs>),
    /// Start an embedded server and two clients and show the whole protocol, in seconds.
    Demo(demo::DemoArgs),
    /// Load tool: IM throughput and latency, logins per second, memory per idle session.
    Bench(Box<bench::BenchArgs>),
}

fn main() -> ExitCode {
    // The matches are kept: `serve` needs to know which options came from flags or variables
    // to lay its config file under them.
    let matches = <Cli as clap::CommandFactory>::command().get_matches();
    let cli = <Cli as clap::FromArgMatches>::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // The client subcommands log only warnings unless asked (their output is for people and
    // scripts); the server logs what it does.
    let server_side = matches!(cli.command, Command::Serve(_) | Command::Account(_));
    init_tracing(if server_side { "info" } else { "warn" });
    let result = match cli.command {
        Command::Serve(args) => match matches.subcommand_matches("serve") {
            Some(m) => serve::resolve(*args, m).and_then(serve::run),
            None => serve::run(*args),
        },
        Command::Account(args) => account::run(args),
        Command::Login(args) => return client_args::exit(login::run(*args)),
        Command::Send(args) => return client_args::exit(send::run(*args)),
        Command::Listen(args) => return client_args::exit(listen::run(*args)),
        Command::Bot(args) => return client_args::exit(bot::run(*args)),
        Command::Chat(args) => return client_args::exit(chat::run(*args)),
        Command::Demo(args) => return client_args::exit(demo::run(args)),
        Command::Bench(args) => bench::run(*args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flapjack: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr, filtered by `FLAPJACK_LOG` (or `RUST_LOG`), `default` otherwise.
fn init_tracing(default: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("FLAPJACK_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}
