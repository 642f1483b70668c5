//! The state of `flapjack chat` and how keys and client events change it. No terminal and no
//! network here: keys come in as [`KeyEvent`]s, client events as [`Event`]s, and what must be
//! asked of the client goes out as [`Action`]s, so the whole UI logic is testable.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use flapjack_client::{BuddyList, ChatRoom, Event, TypingEvent, UserStatus, strip_html};
use flapjack_wire::types::normalize_screen_name;

/// The away message offered by `^A`.
pub const DEFAULT_AWAY: &str = "I am away from my computer right now.";

/// The `/help` text.
pub const HELP: &[&str] = &[
    "Keys: Enter send | Tab/Shift-Tab switch tab | Alt-1..9 go to tab | Up/Down pick a buddy,",
    "  Enter on an empty line (or ^O) opens them | ^N new IM | ^R join a chat room | ^A away/back",
    "  ^W close tab (leaves a room) | PgUp/PgDn scroll | ^U clear line | Esc cancel | ^C or ^Q quit",
    "Commands: /msg NAME [TEXT]  /join ROOM  /leave  /close  /away [MESSAGE]  /back",
    "  /add NAME [GROUP]  /remove NAME  /info NAME  /accept (last invitation)  /quit  /help",
];

/// Normalized screen name (case and spaces ignored).
pub fn norm(name: &str) -> String {
    normalize_screen_name(name.as_bytes())
}

/// Something to ask of the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send an IM (and wait for the host ack).
    SendIm {
        /// Recipient.
        to: String,
        /// Text.
        text: String,
    },
    /// Say something in a room.
    ChatSend {
        /// Room name.
        room: String,
        /// Text.
        text: String,
    },
    /// Join (or create) a room.
    Join(String),
    /// Join a room from an invitation.
    JoinInvite(ChatRoom),
    /// Leave a room.
    Leave(String),
    /// Go away.
    Away(String),
    /// Come back.
    Back,
    /// A typing notification.
    Typing {
        /// To whom.
        to: String,
        /// What.
        event: TypingEvent,
    },
    /// Add a buddy to a group.
    AddBuddy {
        /// Screen name.
        name: String,
        /// Group.
        group: String,
    },
    /// Remove a buddy.
    RemoveBuddy(String),
    /// Fetch profile and away message.
    Info(String),
    /// Sign off and quit.
    Quit,
}

/// The answer to an [`Action`], from the task that ran it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionResult {
    /// The action.
    pub action: Action,
    /// `Ok(note)` (a note to show, if any) or the error text.
    pub result: Result<Option<String>, String>,
}

/// Who wrote a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// Us.
    Me(String),
    /// Someone else.
    Them(String),
    /// An automatic response from someone.
    AutoReply(String),
    /// The client.
    System,
    /// Something went wrong.
    Error,
}

/// One line of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Who.
    pub who: Who,
    /// What (plain text).
    pub text: String,
}

/// What a tab shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TabKind {
    /// Sign-on, buddies coming and going, errors, invitations.
    Status,
    /// An IM conversation.
    Im {
        /// The other person, as they format their name.
        with: String,
    },
    /// A chat room.
    Room {
        /// Room name.
        name: String,
        /// Who is there.
        members: Vec<String>,
        /// Still in it.
        joined: bool,
    },
}

/// A tab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tab {
    /// What it is.
    pub kind: TabKind,
    /// Its lines.
    pub lines: Vec<Line>,
    /// New lines since it was last looked at.
    pub unread: bool,
    /// Lines scrolled back from the bottom.
    pub scroll: usize,
}

impl Tab {
    fn new(kind: TabKind) -> Self {
        Self {
            kind,
            lines: Vec::new(),
            unread: false,
            scroll: 0,
        }
    }

    /// The tab's label.
    pub fn title(&self) -> String {
        match &self.kind {
            TabKind::Status => "flapjack".into(),
            TabKind::Im { with } => with.clone(),
            TabKind::Room { name, .. } => format!("#{name}"),
        }
    }

    fn is_im_with(&self, name: &str) -> bool {
        matches!(&self.kind, TabKind::Im { with } if norm(with) == norm(name))
    }

    fn is_room(&self, room: &str) -> bool {
        matches!(&self.kind, TabKind::Room { name, .. } if name.eq_ignore_ascii_case(room))
    }
}

/// A line being typed in answer to a question (`^N`, `^R`, `^A`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// What is asked.
    pub kind: PromptKind,
    /// The answer so far.
    pub input: String,
}

/// The questions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    /// Whom to IM.
    NewIm,
    /// Which room to join.
    JoinRoom,
    /// The away message.
    Away,
}

impl PromptKind {
    /// The question's label.
    pub fn label(self) -> &'static str {
        match self {
            PromptKind::NewIm => "IM to: ",
            PromptKind::JoinRoom => "Join room: ",
            PromptKind::Away => "Away message: ",
        }
    }
}

/// One row of the buddy pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuddyRow {
    /// A group heading: name, online, total.
    Group(String, usize, usize),
    /// A buddy: screen name, presence (None when offline), index among buddies.
    Buddy(String, Option<UserStatus>, usize),
}

/// The whole UI state.
#[derive(Debug)]
pub struct App {
    /// Our screen name.
    pub me: String,
    /// How we signed on ("BUCP at …").
    pub via: String,
    /// The tabs; 0 is the status tab.
    pub tabs: Vec<Tab>,
    /// The tab shown.
    pub current: usize,
    /// The server-stored buddy list.
    pub buddy_list: BuddyList,
    /// Online buddies by normalized name.
    pub online: HashMap<String, UserStatus>,
    /// Who is typing to us, by normalized name.
    pub typing: HashMap<String, (TypingEvent, Instant)>,
    /// The buddy picked with Up/Down (index among buddies).
    pub selected: usize,
    /// The input line.
    pub input: String,
    /// Cursor position in the input (chars).
    pub cursor: usize,
    /// An open question.
    pub prompt: Option<Prompt>,
    /// Our away message, when away.
    pub away: Option<String>,
    /// The last chat invitation.
    pub invite: Option<ChatRoom>,
    /// Whom we last told "typing begun".
    pub typing_to: Option<String>,
    /// Set when the user asked to quit.
    pub quit: bool,
    /// Set when the session ended.
    pub ended: Option<String>,
}

impl App {
    /// A signed-on UI.
    pub fn new(me: &str, via: &str, buddy_list: BuddyList) -> Self {
        let mut app = Self {
            me: me.to_owned(),
            via: via.to_owned(),
            tabs: vec![Tab::new(TabKind::Status)],
            current: 0,
            buddy_list,
            online: HashMap::new(),
            typing: HashMap::new(),
            selected: 0,
            input: String::new(),
            cursor: 0,
            prompt: None,
            away: None,
            invite: None,
            typing_to: None,
            quit: false,
            ended: None,
        };
        app.system(0, format!("Signed on as {me} ({via})."));
        app.system(
            0,
            "Press ^N to send an IM, ^R to join a chat room, /help for everything.".into(),
        );
        app
    }

    fn push(&mut self, tab: usize, line: Line) {
        if let Some(t) = self.tabs.get_mut(tab) {
            t.lines.push(line);
            if tab != self.current {
                t.unread = true;
            }
            // Keep memory bounded in long sessions.
            if t.lines.len() > 5000 {
                t.lines.drain(..1000);
            }
        }
    }

    fn system(&mut self, tab: usize, text: String) {
        self.push(tab, Line { who: Who::System, text });
    }

    fn error(&mut self, tab: usize, text: String) {
        self.push(tab, Line { who: Who::Error, text });
    }

    fn im_tab(&mut self, with: &str) -> usize {
        if let Some(i) = self.tabs.iter().position(|t| t.is_im_with(with)) {
            return i;
        }
        self.tabs.push(Tab::new(TabKind::Im { with: with.to_owned() }));
        self.tabs.len() - 1
    }

    fn room_tab(&mut self, room: &str) -> usize {
        if let Some(i) = self.tabs.iter().position(|t| t.is_room(room)) {
            return i;
        }
        self.tabs.push(Tab::new(TabKind::Room {
            name: room.to_owned(),
            members: Vec::new(),
            joined: false,
        }));
        self.tabs.len() - 1
    }

    /// Shows tab `i`.
    pub fn focus(&mut self, i: usize) -> Vec<Action> {
        let mut out = Vec::new();
        if i < self.tabs.len() && i != self.current {
            out.extend(self.stop_typing());
            self.current = i;
            self.tabs[i].unread = false;
        }
        out
    }

    /// The buddy pane's rows.
    pub fn buddy_rows(&self) -> Vec<BuddyRow> {
        let mut rows = Vec::new();
        let mut n = 0;
        for g in &self.buddy_list.groups {
            let online = g
                .buddies
                .iter()
                .filter(|b| self.online.contains_key(&norm(&b.screen_name)))
                .count();
            rows.push(BuddyRow::Group(g.name.clone(), online, g.buddies.len()));
            for b in &g.buddies {
                let status = self.online.get(&norm(&b.screen_name)).cloned();
                let name = b.alias.clone().unwrap_or_else(|| {
                    status
                        .as_ref()
                        .map(|s| s.screen_name.clone())
                        .unwrap_or_else(|| b.screen_name.clone())
                });
                rows.push(BuddyRow::Buddy(name, status, n));
                n += 1;
            }
        }
        rows
    }

    fn buddy_names(&self) -> Vec<String> {
        self.buddy_list
            .groups
            .iter()
            .flat_map(|g| g.buddies.iter().map(|b| b.screen_name.clone()))
            .collect()
    }

    /// Who is typing in the current IM tab, in words.
    pub fn typing_note(&self) -> Option<String> {
        let TabKind::Im { with } = &self.tabs.get(self.current)?.kind else {
            return None;
        };
        match self.typing.get(&norm(with)) {
            Some((TypingEvent::Begun, _)) => Some(format!("{with} is typing...")),
            Some((TypingEvent::Typed, _)) => Some(format!("{with} has typed text")),
            _ => None,
        }
    }

    /// A client event.
    pub fn on_event(&mut self, ev: &Event) {
        match ev {
            Event::SignedOn { buddy_list, .. } => self.buddy_list = buddy_list.clone(),
            Event::Motd(m) => self.system(0, format!("Message of the day: {m}")),
            Event::ImReceived(im) => {
                let from = im.from.screen_name.clone();
                let tab = self.im_tab(&from);
                self.typing.remove(&norm(&from));
                let text = strip_html(&im.text);
                let who = if im.auto_response {
                    Who::AutoReply(from)
                } else {
                    Who::Them(from)
                };
                self.push(tab, Line { who, text });
            }
            Event::BuddyArrived(s) => {
                self.online.insert(norm(&s.screen_name), s.clone());
                self.system(0, format!("{} signed on.", s.screen_name));
            }
            Event::BuddyChanged(s) => {
                let key = norm(&s.screen_name);
                let was_away = self.online.get(&key).is_some_and(|o| o.away);
                if was_away != s.away {
                    let text = if s.away {
                        format!("{} is away.", s.screen_name)
                    } else {
                        format!("{} is back.", s.screen_name)
                    };
                    self.system(0, text.clone());
                    if let Some(i) = self.tabs.iter().position(|t| t.is_im_with(&s.screen_name)) {
                        self.system(i, text);
                    }
                }
                self.online.insert(key, s.clone());
            }
            Event::BuddyDeparted { screen_name } => {
                self.online.remove(&norm(screen_name));
                self.typing.remove(&norm(screen_name));
                self.system(0, format!("{screen_name} signed off."));
                if let Some(i) = self.tabs.iter().position(|t| t.is_im_with(screen_name)) {
                    self.system(i, format!("{screen_name} signed off."));
                }
            }
            Event::Typing { from, event } => match event {
                TypingEvent::Begun | TypingEvent::Typed => {
                    self.typing.insert(norm(from), (*event, Instant::now()));
                }
                _ => {
                    self.typing.remove(&norm(from));
                }
            },
            Event::BuddyListChanged(list) | Event::BuddyListEdited { list, .. } => {
                self.buddy_list = list.clone();
                let n = self.buddy_names().len();
                if self.selected >= n {
                    self.selected = n.saturating_sub(1);
                }
            }
            Event::UserInfo(_) => {}
            Event::ChatJoined { room, members } => {
                let tab = self.room_tab(&room.name);
                if let TabKind::Room { members: m, joined, .. } = &mut self.tabs[tab].kind {
                    m.clone_from(members);
                    *joined = true;
                }
                self.system(tab, format!("You joined #{}. Here: {}.", room.name, members.join(", ")));
                let _ = self.focus(tab);
            }
            Event::ChatMessage {
                room,
                from,
                text,
                whisper,
            } => {
                let tab = self.room_tab(room);
                let text = strip_html(text);
                let text = if *whisper { format!("(whispers) {text}") } else { text };
                let who = if norm(from) == norm(&self.me) {
                    Who::Me(from.clone())
                } else {
                    Who::Them(from.clone())
                };
                self.push(tab, Line { who, text });
            }
            Event::ChatMemberJoined { room, screen_name } => {
                let tab = self.room_tab(room);
                if let TabKind::Room { members, .. } = &mut self.tabs[tab].kind
                    && !members.iter().any(|m| norm(m) == norm(screen_name))
                {
                    members.push(screen_name.clone());
                }
                self.system(tab, format!("{screen_name} joined."));
            }
            Event::ChatMemberLeft { room, screen_name } => {
                let tab = self.room_tab(room);
                if let TabKind::Room { members, .. } = &mut self.tabs[tab].kind {
                    members.retain(|m| norm(m) != norm(screen_name));
                }
                self.system(tab, format!("{screen_name} left."));
            }
            Event::ChatLeft { room, reason } => {
                if let Some(tab) = self.tabs.iter().position(|t| t.is_room(room)) {
                    if let TabKind::Room { joined, members, .. } = &mut self.tabs[tab].kind {
                        *joined = false;
                        members.clear();
                    }
                    let text = match reason {
                        Some(why) => format!("You are no longer in #{room}: {why}"),
                        None => format!("You left #{room}."),
                    };
                    self.system(tab, text);
                }
            }
            Event::ChatInvite { from, room, message } => {
                self.system(
                    0,
                    format!(
                        "{from} invites you to #{}{}. Type /accept to join.",
                        room.name,
                        message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
                    ),
                );
                self.invite = Some(room.clone());
            }
            Event::Warned { level, by } => self.error(
                0,
                format!(
                    "You were warned{}; your warning level is {}%.",
                    by.as_deref().map(|b| format!(" by {b}")).unwrap_or_default(),
                    level / 10
                ),
            ),
            Event::MissedMessages { from, count, .. } => {
                self.error(0, format!("{count} message(s) from {from} were dropped by the server."))
            }
            Event::RateLimited { .. } => self.error(0, "Slow down: the server is rate-limiting you.".into()),
            Event::Error(e) => self.error(self.current, e.to_string()),
            Event::SignedOff { reason } => self.ended = Some(reason.to_string()),
            _ => {}
        }
    }

    /// Time passes: stale typing notifications expire.
    pub fn on_tick(&mut self, now: Instant) {
        self.typing
            .retain(|_, (_, at)| now.saturating_duration_since(*at) < Duration::from_secs(30));
    }

    /// The answer to an action.
    pub fn on_result(&mut self, r: ActionResult) {
        match (&r.action, r.result) {
            (_, Ok(None)) => {}
            (_, Ok(Some(note))) => {
                let tab = self.current;
                for line in note.lines() {
                    self.system(tab, line.to_owned());
                }
            }
            (Action::SendIm { to, .. }, Err(e)) => {
                let tab = self.im_tab(to);
                self.error(tab, format!("Not delivered: {e}"));
            }
            (Action::ChatSend { room, .. }, Err(e)) => {
                let tab = self.room_tab(room);
                self.error(tab, format!("Not sent: {e}"));
            }
            (Action::Away(_), Err(e)) => {
                self.away = None;
                self.error(self.current, format!("Could not go away: {e}"));
            }
            (Action::Typing { .. }, Err(_)) => {}
            (a, Err(e)) => {
                let what = match a {
                    Action::Join(room) => format!("Could not join #{room}"),
                    Action::JoinInvite(room) => format!("Could not join #{}", room.name),
                    Action::Leave(room) => format!("Could not leave #{room}"),
                    Action::Back => "Could not come back".into(),
                    Action::AddBuddy { name, .. } => format!("Could not add {name}"),
                    Action::RemoveBuddy(name) => format!("Could not remove {name}"),
                    Action::Info(name) => format!("No info for {name}"),
                    _ => "Failed".into(),
                };
                self.error(self.current, format!("{what}: {e}"));
            }
        }
    }

    /// A pasted string (bracketed paste): into the input, newlines as spaces.
    pub fn on_paste(&mut self, text: &str) -> Vec<Action> {
        let clean: String = text
            .chars()
            .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
            .collect();
        if let Some(p) = &mut self.prompt {
            p.input.push_str(&clean);
            return Vec::new();
        }
        for c in clean.chars() {
            self.insert(c);
        }
        self.typing_update()
    }

    fn insert(&mut self, c: char) {
        let at = self.byte_at(self.cursor);
        self.input.insert(at, c);
        self.cursor += 1;
    }

    fn byte_at(&self, chars: usize) -> usize {
        self.input
            .char_indices()
            .nth(chars)
            .map_or(self.input.len(), |(i, _)| i)
    }

    fn stop_typing(&mut self) -> Option<Action> {
        self.typing_to.take().map(|to| Action::Typing {
            to,
            event: TypingEvent::Finished,
        })
    }

    /// Typing notifications for the current IM tab after the input changed.
    fn typing_update(&mut self) -> Vec<Action> {
        let with = match &self.tabs[self.current].kind {
            TabKind::Im { with } => with.clone(),
            _ => return Vec::new(),
        };
        let typing = !self.input.is_empty() && !self.input.starts_with('/');
        match (&self.typing_to, typing) {
            (None, true) => {
                self.typing_to = Some(with.clone());
                vec![Action::Typing {
                    to: with,
                    event: TypingEvent::Begun,
                }]
            }
            (Some(_), false) => self.stop_typing().into_iter().collect(),
            _ => Vec::new(),
        }
    }

    /// A key.
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Action> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        if ctrl && matches!(key.code, KeyCode::Char('c' | 'q')) {
            self.quit = true;
            return vec![Action::Quit];
        }
        if let Some(mut p) = self.prompt.take() {
            match key.code {
                KeyCode::Esc => {}
                KeyCode::Enter => return self.answer(p.kind, p.input.trim().to_owned()),
                KeyCode::Backspace => {
                    p.input.pop();
                    self.prompt = Some(p);
                }
                KeyCode::Char('u') if ctrl => {
                    p.input.clear();
                    self.prompt = Some(p);
                }
                KeyCode::Char(c) if !ctrl && !alt => {
                    p.input.push(c);
                    self.prompt = Some(p);
                }
                _ => self.prompt = Some(p),
            }
            return Vec::new();
        }
        match key.code {
            KeyCode::Tab => {
                let next = (self.current + 1) % self.tabs.len();
                self.focus(next)
            }
            KeyCode::BackTab => {
                let prev = (self.current + self.tabs.len() - 1) % self.tabs.len();
                self.focus(prev)
            }
            KeyCode::Char(c @ '1'..='9') if alt => {
                let i = (c as usize) - ('1' as usize);
                self.focus(i)
            }
            KeyCode::Char('n') if ctrl => self.ask(PromptKind::NewIm, String::new()),
            KeyCode::Char('r') if ctrl => self.ask(PromptKind::JoinRoom, String::new()),
            KeyCode::Char('a') if ctrl => {
                if self.away.is_some() {
                    self.away = None;
                    self.system(self.current, "You are back.".into());
                    vec![Action::Back]
                } else {
                    self.ask(PromptKind::Away, DEFAULT_AWAY.into())
                }
            }
            KeyCode::Char('w') if ctrl => self.close_tab(),
            KeyCode::Char('o') if ctrl => self.open_selected(),
            KeyCode::Char('u') if ctrl => {
                self.input.clear();
                self.cursor = 0;
                self.typing_update()
            }
            KeyCode::Up => {
                self.selected = self.selected.saturating_sub(1);
                Vec::new()
            }
            KeyCode::Down => {
                let n = self.buddy_names().len();
                if self.selected + 1 < n {
                    self.selected += 1;
                }
                Vec::new()
            }
            KeyCode::PageUp => {
                let t = &mut self.tabs[self.current];
                t.scroll = (t.scroll + 10).min(t.lines.len().saturating_sub(1));
                Vec::new()
            }
            KeyCode::PageDown => {
                let t = &mut self.tabs[self.current];
                t.scroll = t.scroll.saturating_sub(10);
                Vec::new()
            }
            KeyCode::Left => {
                self.cursor = self.cursor.saturating_sub(1);
                Vec::new()
            }
            KeyCode::Right => {
                self.cursor = (self.cursor + 1).min(self.input.chars().count());
                Vec::new()
            }
            KeyCode::Home => {
                self.cursor = 0;
                Vec::new()
            }
            KeyCode::End => {
                self.cursor = self.input.chars().count();
                Vec::new()
            }
            KeyCode::Backspace => {
                if self.cursor > 0 {
                    self.cursor -= 1;
                    let at = self.byte_at(self.cursor);
                    self.input.remove(at);
                }
                self.typing_update()
            }
            KeyCode::Delete => {
                if self.cursor < self.input.chars().count() {
                    let at = self.byte_at(self.cursor);
                    self.input.remove(at);
                }
                self.typing_update()
            }
            KeyCode::Enter => {
                if self.input.trim().is_empty() {
                    self.input.clear();
                    self.cursor = 0;
                    return self.open_selected();
                }
                let line = std::mem::take(&mut self.input);
                self.cursor = 0;
                self.submit(line.trim().to_owned())
            }
            KeyCode::Char(c) if !ctrl && !alt => {
                self.insert(c);
                self.typing_update()
            }
            _ => Vec::new(),
        }
    }

    fn ask(&mut self, kind: PromptKind, input: String) -> Vec<Action> {
        self.prompt = Some(Prompt { kind, input });
        Vec::new()
    }

    fn answer(&mut self, kind: PromptKind, answer: String) -> Vec<Action> {
        match kind {
            PromptKind::NewIm if !answer.is_empty() => self.open_im(&answer),
            PromptKind::JoinRoom if !answer.is_empty() => self.join(&answer),
            PromptKind::Away => self.go_away(if answer.is_empty() { DEFAULT_AWAY.into() } else { answer }),
            _ => Vec::new(),
        }
    }

    fn open_im(&mut self, with: &str) -> Vec<Action> {
        // Use the buddy list's formatting of the name when the buddy is on it.
        let shown = self
            .online
            .get(&norm(with))
            .map(|s| s.screen_name.clone())
            .unwrap_or_else(|| with.to_owned());
        let tab = self.im_tab(&shown);
        self.focus(tab)
    }

    fn open_selected(&mut self) -> Vec<Action> {
        match self.buddy_names().get(self.selected).cloned() {
            Some(name) => self.open_im(&name),
            None => {
                self.system(
                    self.current,
                    "Your buddy list is empty: /add NAME adds a buddy, ^N IMs anyone.".into(),
                );
                Vec::new()
            }
        }
    }

    fn join(&mut self, room: &str) -> Vec<Action> {
        let room = room.trim_start_matches('#').to_owned();
        self.system(self.current, format!("Joining #{room}..."));
        vec![Action::Join(room)]
    }

    fn go_away(&mut self, message: String) -> Vec<Action> {
        self.away = Some(message.clone());
        self.system(self.current, format!("You are away: {message}"));
        vec![Action::Away(message)]
    }

    fn close_tab(&mut self) -> Vec<Action> {
        if self.current == 0 {
            return Vec::new();
        }
        let mut out = Vec::new();
        out.extend(self.stop_typing());
        let tab = self.tabs.remove(self.current);
        if let TabKind::Room { name, joined: true, .. } = tab.kind {
            out.push(Action::Leave(name));
        }
        self.current = self.current.min(self.tabs.len() - 1);
        self.tabs[self.current].unread = false;
        out
    }

    /// Enter on a non-empty line: a command or a message to the current tab.
    fn submit(&mut self, line: String) -> Vec<Action> {
        if let Some(cmd) = line.strip_prefix('/') {
            let mut out: Vec<Action> = self.stop_typing().into_iter().collect();
            out.extend(self.command(cmd));
            return out;
        }
        let me = self.me.clone();
        match self.tabs[self.current].kind.clone() {
            TabKind::Status => {
                self.system(
                    0,
                    "This tab is not a conversation: pick a buddy (Up/Down, Enter) or press ^N.".into(),
                );
                Vec::new()
            }
            TabKind::Im { with } => {
                self.typing_to = None;
                let tab = self.current;
                self.push(
                    tab,
                    Line {
                        who: Who::Me(me),
                        text: line.clone(),
                    },
                );
                self.tabs[tab].scroll = 0;
                vec![Action::SendIm { to: with, text: line }]
            }
            TabKind::Room { name, joined, .. } => {
                if !joined {
                    self.error(self.current, format!("You are not in #{name}: /join {name}"));
                    return Vec::new();
                }
                let tab = self.current;
                self.push(
                    tab,
                    Line {
                        who: Who::Me(me),
                        text: line.clone(),
                    },
                );
                self.tabs[tab].scroll = 0;
                vec![Action::ChatSend { room: name, text: line }]
            }
        }
    }

    fn command(&mut self, cmd: &str) -> Vec<Action> {
        let (verb, rest) = cmd.split_once(' ').unwrap_or((cmd, ""));
        let rest = rest.trim();
        match verb.to_ascii_lowercase().as_str() {
            "msg" | "m" | "im" if !rest.is_empty() => {
                // A screen name may hold spaces only when no text follows.
                let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
                let mut out = self.open_im(name);
                if !text.trim().is_empty() {
                    out.extend(self.submit(text.trim().to_owned()));
                }
                out
            }
            "join" | "j" if !rest.is_empty() => self.join(rest),
            "leave" | "part" | "close" => self.close_tab(),
            "away" => self.go_away(if rest.is_empty() {
                DEFAULT_AWAY.into()
            } else {
                rest.to_owned()
            }),
            "back" => {
                self.away = None;
                self.system(self.current, "You are back.".into());
                vec![Action::Back]
            }
            "add" if !rest.is_empty() => {
                let (name, group) = match rest.split_once(' ') {
                    Some((n, g)) if !g.trim().is_empty() => (n.to_owned(), g.trim().to_owned()),
                    _ => (rest.to_owned(), "Buddies".to_owned()),
                };
                self.system(self.current, format!("Adding {name} to {group}..."));
                vec![Action::AddBuddy { name, group }]
            }
            "remove" | "rm" | "del" if !rest.is_empty() => vec![Action::RemoveBuddy(rest.to_owned())],
            "info" | "whois" if !rest.is_empty() => vec![Action::Info(rest.to_owned())],
            "accept" => match self.invite.take() {
                Some(room) => vec![Action::JoinInvite(room)],
                None => {
                    self.system(self.current, "No invitation to accept.".into());
                    Vec::new()
                }
            },
            "quit" | "exit" => {
                self.quit = true;
                vec![Action::Quit]
            }
            "help" | "h" | "?" => {
                for l in HELP {
                    self.system(self.current, (*l).to_owned());
                }
                Vec::new()
            }
            _ => {
                self.error(self.current, format!("Unknown command /{cmd}: /help lists them."));
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flapjack_client::{Buddy, BuddyGroup, ReceivedIm};

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn ctrl(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
    }

    fn typed(app: &mut App, s: &str) -> Vec<Action> {
        let mut out = Vec::new();
        for c in s.chars() {
            out.extend(app.on_key(key(KeyCode::Char(c))));
        }
        out
    }

    fn list() -> BuddyList {
        BuddyList {
            groups: vec![BuddyGroup {
                name: "Friends".into(),
                buddies: vec![
                    Buddy {
                        screen_name: "bob".into(),
                        alias: None,
                    },
                    Buddy {
                        screen_name: "carol".into(),
                        alias: None,
                    },
                ],
            }],
            ..BuddyList::default()
        }
    }

    #[test]
    fn new_im_typing_and_send() {
        let mut app = App::new("alice", "BUCP", list());
        assert!(app.on_key(ctrl('n')).is_empty());
        typed(&mut app, "Bob");
        app.on_key(key(KeyCode::Enter));
        assert_eq!(app.tabs[app.current].title(), "Bob");
        let acts = typed(&mut app, "hi");
        assert_eq!(
            acts,
            [Action::Typing {
                to: "Bob".into(),
                event: TypingEvent::Begun
            }]
        );
        let acts = app.on_key(key(KeyCode::Enter));
        assert_eq!(
            acts,
            [Action::SendIm {
                to: "Bob".into(),
                text: "hi".into()
            }]
        );
        assert_eq!(app.tabs[app.current].lines.last().unwrap().who, Who::Me("alice".into()));
        // The reply lands in the same tab, whatever the name's formatting.
        app.on_event(&Event::ImReceived(ReceivedIm {
            from: UserStatus {
                screen_name: "B O B".into(),
                ..UserStatus::default()
            },
            text: "<b>yo</b>".into(),
            auto_response: false,
            offline: false,
            sent_at: None,
            wants_typing: true,
        }));
        assert_eq!(app.tabs.len(), 2);
        assert_eq!(app.tabs[1].lines.last().unwrap().text, "yo");
    }

    #[test]
    fn buddies_presence_and_selection() {
        let mut app = App::new("alice", "BUCP", list());
        app.on_event(&Event::BuddyArrived(UserStatus {
            screen_name: "Carol".into(),
            ..UserStatus::default()
        }));
        let rows = app.buddy_rows();
        assert_eq!(rows[0], BuddyRow::Group("Friends".into(), 1, 2));
        assert!(matches!(&rows[2], BuddyRow::Buddy(n, Some(_), 1) if n == "Carol"));
        app.on_key(key(KeyCode::Down));
        app.on_key(key(KeyCode::Enter));
        assert_eq!(app.tabs[app.current].title(), "Carol");
        app.on_event(&Event::Typing {
            from: "carol".into(),
            event: TypingEvent::Begun,
        });
        assert_eq!(app.typing_note().as_deref(), Some("Carol is typing..."));
    }

    #[test]
    fn away_rooms_and_commands() {
        let mut app = App::new("alice", "BUCP", BuddyList::default());
        app.on_key(ctrl('a'));
        assert_eq!(app.on_key(key(KeyCode::Enter)), [Action::Away(DEFAULT_AWAY.into())]);
        assert_eq!(app.on_key(ctrl('a')), [Action::Back]);
        assert!(app.away.is_none());
        typed(&mut app, "/join Lounge");
        assert_eq!(app.on_key(key(KeyCode::Enter)), [Action::Join("Lounge".into())]);
        app.on_event(&Event::ChatJoined {
            room: ChatRoom {
                name: "Lounge".into(),
                exchange: 4,
                cookie: "4-0-Lounge".into(),
                instance: 0,
            },
            members: vec!["alice".into()],
        });
        assert_eq!(app.tabs[app.current].title(), "#Lounge");
        typed(&mut app, "hello all");
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            [Action::ChatSend {
                room: "Lounge".into(),
                text: "hello all".into()
            }]
        );
        assert_eq!(app.on_key(ctrl('w')), [Action::Leave("Lounge".into())]);
        assert_eq!(app.current, 0);
        typed(&mut app, "/add dave Work");
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            [Action::AddBuddy {
                name: "dave".into(),
                group: "Work".into()
            }]
        );
        assert_eq!(app.on_key(ctrl('c')), [Action::Quit]);
        assert!(app.quit);
    }
}
