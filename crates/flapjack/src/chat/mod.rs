//! `flapjack chat`: a terminal chat client (ratatui on crossterm).
//!
//! Signs on first (with the usual progress feedback and errors), then takes over the terminal:
//! a buddy list with groups and presence, conversations and chat rooms in tabs, typing
//! notifications both ways, an away toggle, a status line and key hints. Keyboard only; works
//! at 80×24 over SSH. [`app`] holds the state and the key and event handling, [`ui`] draws it;
//! this module connects them to the terminal and the client.

pub mod app;
pub mod ui;

use std::io::{IsTerminal, Stdout, Write};
use std::time::{Duration, Instant};

use clap::Args;
use crossterm::event::{
    self as term_event, DisableBracketedPaste, EnableBracketedPaste, Event as TermEvent, KeyEventKind,
};
use crossterm::execute;
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode};
use flapjack_client::{ClientHandle, strip_html};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::mpsc;

use crate::client_args::{self, CONFIG_HELP, CliError, CliResult, ClientArgs, EXIT_CODES_HELP, Progress};
use app::{Action, ActionResult, App};

/// Options of `flapjack chat`.
#[derive(Debug, Args)]
#[command(after_help = format!("{}\n\n{EXIT_CODES_HELP}\n\n{CONFIG_HELP}", app::HELP.join("\n")))]
pub struct ChatArgs {
    /// The common client flags.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Join this chat room after signing on (repeatable).
    #[arg(long, value_name = "ROOM")]
    pub join: Vec<String>,
}

/// Puts the terminal back however the UI ends (including a panic).
struct TerminalGuard;

impl TerminalGuard {
    fn enter() -> std::io::Result<Self> {
        enable_raw_mode()?;
        let guard = TerminalGuard;
        execute!(std::io::stdout(), EnterAlternateScreen, EnableBracketedPaste)?;
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
        Ok(guard)
    }
}

fn restore() {
    let _ = disable_raw_mode();
    let mut out = std::io::stdout();
    let _ = execute!(
        out,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = out.flush();
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Runs an action against the client in its own task; the answer comes back on `results`.
fn spawn_action(handle: &ClientHandle, action: Action, results: &mpsc::UnboundedSender<ActionResult>) {
    let h = handle.clone();
    let tx = results.clone();
    tokio::spawn(async move {
        let result: Result<Option<String>, String> = match &action {
            Action::SendIm { to, text } => h
                .send_im_acked(to, text)
                .await
                .map(|_| None)
                .map_err(|e| client_args::describe_error(&e)),
            Action::ChatSend { room, text } => h.chat_send(room, text).await.map(|()| None).map_err(|e| e.to_string()),
            Action::Join(room) => h.join_chat(room).await.map(|_| None).map_err(|e| e.to_string()),
            Action::JoinInvite(room) => h
                .join_chat_room(room.clone())
                .await
                .map(|_| None)
                .map_err(|e| e.to_string()),
            Action::Leave(room) => h.leave_chat(room).await.map(|()| None).map_err(|e| e.to_string()),
            Action::Away(message) => h.set_away(message).await.map(|()| None).map_err(|e| e.to_string()),
            Action::Back => h.set_available().await.map(|()| None).map_err(|e| e.to_string()),
            Action::Typing { to, event } => h
                .send_typing(to, *event)
                .await
                .map(|()| None)
                .map_err(|e| e.to_string()),
            Action::AddBuddy { name, group } => h
                .edit_buddies(|tx| {
                    tx.add_buddy(group.clone(), name.clone());
                })
                .await
                .map_err(|e| e.to_string())
                .and_then(|(results, _)| {
                    match results.iter().find(|r| r.status != flapjack_client::FeedbagStatus::Ok) {
                        Some(bad) => Err(format!("the server answered {:?}", bad.status)),
                        None => Ok(Some(format!("Added {name} to {group}."))),
                    }
                }),
            Action::RemoveBuddy(name) => h
                .edit_buddies(|tx| {
                    tx.remove_buddy(name.clone());
                })
                .await
                .map(|_| Some(format!("Removed {name}.")))
                .map_err(|e| e.to_string()),
            Action::Info(name) => h
                .get_user_info(name)
                .await
                .map(|info| {
                    let mut s = format!(
                        "{}: warning level {}%{}",
                        info.user.screen_name,
                        info.user.warning_level / 10,
                        info.user
                            .online_since
                            .map(|t| format!(", online since {}", client_args::format_unix(i64::from(t))))
                            .unwrap_or_default()
                    );
                    if let Some(a) = &info.away_message {
                        s.push_str(&format!("\nAway: {}", strip_html(a)));
                    }
                    if let Some(p) = &info.profile {
                        s.push_str(&format!("\nProfile: {}", strip_html(p)));
                    }
                    Some(s)
                })
                .map_err(|e| e.to_string()),
            Action::Quit => return,
        };
        let _ = tx.send(ActionResult { action, result });
    });
}

/// Reads terminal input on a thread of its own (crossterm's reads block).
fn spawn_input_reader() -> mpsc::UnboundedReceiver<TermEvent> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        loop {
            match term_event::read() {
                Ok(ev) => {
                    if tx.send(ev).is_err() {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    });
    rx
}

/// Runs `flapjack chat`.
pub fn run(args: ChatArgs) -> CliResult {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(CliError::failure(
            "flapjack chat needs a terminal (for scripts: flapjack send, listen or bot)",
        ));
    }
    let resolved = args.client.resolve()?;
    let rt = client_args::runtime()?;
    rt.block_on(async move {
        let mut progress = Progress::new(resolved.verbose);
        let mut s = client_args::sign_on_reporting(&resolved, &mut progress).await?;
        progress.finish();
        let bos = s
            .hops
            .iter()
            .rev()
            .find(|h| h.kind == flapjack_client::ConnKind::Bos)
            .map(|h| format!("{}:{}", h.host, h.port))
            .unwrap_or_default();
        let via = match resolved.kind {
            client_args::LoginKind::Openauth => format!("OpenAuth, BOS {bos}"),
            client_args::LoginKind::Bucp => format!("BUCP, BOS {bos}"),
            client_args::LoginKind::Roasted => format!("roasted, BOS {bos}"),
        };
        let mut app = App::new(&s.self_info.screen_name, &via, s.buddy_list.clone());
        for ev in &s.early {
            app.on_event(ev);
        }
        let (res_tx, mut res_rx) = mpsc::unbounded_channel();
        for room in &args.join {
            spawn_action(&s.handle, Action::Join(room.clone()), &res_tx);
        }

        let guard = TerminalGuard::enter().map_err(|e| CliError::failure(format!("terminal: {e}")))?;
        let mut terminal: Terminal<CrosstermBackend<Stdout>> = Terminal::new(CrosstermBackend::new(std::io::stdout()))
            .map_err(|e| CliError::failure(format!("terminal: {e}")))?;
        let _ = terminal.clear();
        let mut keys = spawn_input_reader();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let interrupted = client_args::interrupted();
        tokio::pin!(interrupted);
        let outcome: Result<(), CliError> = loop {
            terminal
                .draw(|f| ui::draw(f, &app))
                .map_err(|e| CliError::failure(format!("terminal: {e}")))?;
            tokio::select! {
                ev = s.events.next() => match ev {
                    Some(ev) => app.on_event(&ev),
                    None => break Err(CliError::failure("the client stopped")),
                },
                key = keys.recv() => match key {
                    Some(TermEvent::Key(k)) if k.kind != KeyEventKind::Release => {
                        for a in app.on_key(k) {
                            if a != Action::Quit {
                                spawn_action(&s.handle, a, &res_tx);
                            }
                        }
                    }
                    Some(TermEvent::Paste(text)) => {
                        for a in app.on_paste(&text) {
                            spawn_action(&s.handle, a, &res_tx);
                        }
                    }
                    Some(_) => {}
                    None => break Err(CliError::failure("the terminal closed")),
                },
                Some(r) = res_rx.recv() => app.on_result(r),
                _ = tick.tick() => app.on_tick(Instant::now()),
                () = &mut interrupted => { app.quit = true; }
            }
            if app.quit {
                break Ok(());
            }
            if let Some(reason) = &app.ended {
                break Err(CliError::failure(format!("signed off: {reason}")));
            }
        };
        drop(terminal);
        drop(guard);
        if outcome.is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(5), s.handle.sign_off()).await;
            println!("Signed off.");
        }
        outcome
    })
}
