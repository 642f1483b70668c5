//! Drawing `flapjack chat` (fits 80×24):
//!
//! ```text
//!  flapjack | Bob* | #Lounge                                     ← tabs (* = unread)
//! ┌ Buddies 1/2 ─────────┐┌ Bob (online) ───────────────────────┐
//! │Friends (1/2)         ││ alice: hi                            │
//! │  + Bob               ││ Bob: hello                           │ ← buddies | conversation
//! │    carol             ││                                      │
//! └──────────────────────┘└──────────────────────────────────────┘
//! > message being typed                                          ← input (or a prompt)
//!  alice | available | Bob is typing...            BUCP at host  ← status line
//!  Enter send  Tab next  ^N IM  ^R room  ^A away  ^W close  ^C quit  ← key hints
//! ```

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line as TextLine, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph, Tabs};

use super::app::{App, BuddyRow, Line, TabKind, Who, norm};

/// The key hints (77 columns: they fit 80).
const HINTS: &str = " Enter send  Tab next  ^N IM  ^R join room  ^A away  ^W close  ^C quit  /help";

/// Splits `text` into lines of at most `width` characters, at spaces when possible.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        let mut len = 0usize;
        for word in para.split(' ') {
            let wlen = word.chars().count();
            if len > 0 && len + 1 + wlen > width {
                out.push(std::mem::take(&mut line));
                len = 0;
            }
            if len > 0 {
                line.push(' ');
                len += 1;
            }
            // Words longer than a line are cut.
            let mut rest: Vec<char> = word.chars().collect();
            while len + rest.len() > width {
                let take = width - len;
                line.extend(rest.drain(..take));
                out.push(std::mem::take(&mut line));
                len = 0;
            }
            len += rest.len();
            line.extend(rest);
        }
        out.push(line);
    }
    out
}

fn line_spans(line: &Line, width: usize) -> Vec<TextLine<'static>> {
    let (prefix, style) = match &line.who {
        Who::Me(n) => (
            format!("{n}: "),
            Style::default().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        ),
        Who::Them(n) => (
            format!("{n}: "),
            Style::default().fg(Color::Green).add_modifier(Modifier::BOLD),
        ),
        Who::AutoReply(n) => (format!("{n} (auto-reply): "), Style::default().fg(Color::Yellow)),
        Who::System => ("* ".to_owned(), Style::default().fg(Color::DarkGray)),
        Who::Error => (
            "! ".to_owned(),
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        ),
    };
    let text_style = match line.who {
        Who::System => Style::default().fg(Color::DarkGray),
        Who::Error => Style::default().fg(Color::Red),
        _ => Style::default(),
    };
    let full = format!("{prefix}{}", line.text);
    let plen = prefix.chars().count();
    wrap(&full, width)
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 && l.chars().count() >= plen {
                let rest: String = l.chars().skip(plen).collect();
                TextLine::from(vec![
                    Span::styled(prefix.clone(), style),
                    Span::styled(rest, text_style),
                ])
            } else {
                TextLine::from(Span::styled(l, text_style))
            }
        })
        .collect()
}

fn conversation_title(app: &App) -> String {
    let tab = &app.tabs[app.current];
    match &tab.kind {
        TabKind::Status => format!(" flapjack: {} ", app.me),
        TabKind::Im { with } => match app.online.get(&norm(with)) {
            Some(s) if s.away => format!(" {with} (away) "),
            Some(s) => match s.idle_minutes {
                Some(m) => format!(" {with} (idle {m} min) "),
                None => format!(" {with} (online) "),
            },
            None => format!(" {with} (offline) "),
        },
        TabKind::Room { name, members, joined } => {
            if *joined {
                format!(" #{name} ({} here: {}) ", members.len(), members.join(", "))
            } else {
                format!(" #{name} (not joined) ")
            }
        }
    }
}

/// Draws the whole screen.
pub fn draw(f: &mut Frame<'_>, app: &App) {
    let area = f.area();
    let [tabs_area, body, input_area, status_area, hints_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);

    // Tabs.
    let titles: Vec<TextLine<'_>> = app
        .tabs
        .iter()
        .map(|t| {
            let mut title = t.title();
            if t.unread {
                title.push('*');
            }
            let style = if t.unread {
                Style::default().fg(Color::Yellow).add_modifier(Modifier::BOLD)
            } else {
                Style::default()
            };
            TextLine::from(Span::styled(title, style))
        })
        .collect();
    f.render_widget(
        Tabs::new(titles)
            .select(app.current)
            .highlight_style(Style::default().add_modifier(Modifier::REVERSED))
            .divider("|"),
        tabs_area,
    );

    // Buddies and the conversation.
    let buddy_width = (area.width / 3).clamp(16, 26);
    let [buddies_area, conv_area] =
        Layout::horizontal([Constraint::Length(buddy_width), Constraint::Min(10)]).areas(body);
    draw_buddies(f, app, buddies_area);
    draw_conversation(f, app, conv_area);

    // Input or prompt.
    let (label, text, cursor) = match &app.prompt {
        Some(p) => (p.kind.label(), p.input.as_str(), p.input.chars().count()),
        None => ("> ", app.input.as_str(), app.cursor),
    };
    let room = usize::from(input_area.width).saturating_sub(label.len() + 1).max(1);
    let skip = cursor.saturating_sub(room);
    let shown: String = text.chars().skip(skip).take(room).collect();
    let label_style = if app.prompt.is_some() {
        Style::default().fg(Color::Yellow).add_modifier(Modifier::BOLD)
    } else {
        Style::default().add_modifier(Modifier::BOLD)
    };
    f.render_widget(
        Paragraph::new(TextLine::from(vec![Span::styled(label, label_style), Span::raw(shown)])),
        input_area,
    );
    let cx = input_area.x + u16::try_from(label.len() + cursor - skip).unwrap_or(u16::MAX);
    f.set_cursor_position((cx.min(input_area.right().saturating_sub(1)), input_area.y));

    // Status line.
    let presence = match &app.away {
        Some(m) => format!("away: {m}"),
        None => "available".to_owned(),
    };
    let mut left = format!(" {} | {presence}", app.me);
    if let Some(t) = app.typing_note() {
        left.push_str(&format!(" | {t}"));
    }
    let unread = app.tabs.iter().filter(|t| t.unread).count();
    if unread > 0 {
        left.push_str(&format!(" | {unread} unread"));
    }
    let right = format!("{} ", app.via);
    let width = usize::from(status_area.width);
    let pad = width.saturating_sub(left.chars().count() + right.chars().count());
    let status = if pad > 0 {
        format!("{left}{}{right}", " ".repeat(pad))
    } else {
        left.chars().take(width).collect()
    };
    let status_style = if app.away.is_some() {
        Style::default().fg(Color::Black).bg(Color::Yellow)
    } else {
        Style::default().fg(Color::Black).bg(Color::Cyan)
    };
    f.render_widget(Paragraph::new(status).style(status_style), status_area);

    // Key hints.
    let hints = if app.prompt.is_some() {
        " Enter confirm  Esc cancel  ^U clear"
    } else {
        HINTS
    };
    f.render_widget(
        Paragraph::new(hints.chars().take(usize::from(hints_area.width)).collect::<String>())
            .style(Style::default().fg(Color::DarkGray)),
        hints_area,
    );
}

fn draw_buddies(f: &mut Frame<'_>, app: &App, area: Rect) {
    let rows = app.buddy_rows();
    let online = app.online.len();
    let total = rows.iter().filter(|r| matches!(r, BuddyRow::Buddy(..))).count();
    let mut selected_row = None;
    let items: Vec<ListItem<'_>> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| match r {
            BuddyRow::Group(name, on, all) => ListItem::new(TextLine::from(Span::styled(
                format!("{name} ({on}/{all})"),
                Style::default().add_modifier(Modifier::BOLD),
            ))),
            BuddyRow::Buddy(name, status, n) => {
                if *n == app.selected {
                    selected_row = Some(i);
                }
                let typing = app.typing.contains_key(&norm(name));
                let (mark, style) = match status {
                    Some(s) if s.away => ("~", Style::default().fg(Color::Yellow)),
                    Some(s) if s.idle_minutes.is_some() => ("+", Style::default().fg(Color::Green)),
                    Some(_) => ("+", Style::default().fg(Color::Green).add_modifier(Modifier::BOLD)),
                    None => (" ", Style::default().fg(Color::DarkGray)),
                };
                let suffix = match status {
                    Some(s) if s.away => " (away)",
                    Some(s) if s.idle_minutes.is_some() => " (idle)",
                    _ if typing => " ...",
                    _ => "",
                };
                ListItem::new(TextLine::from(Span::styled(format!(" {mark} {name}{suffix}"), style)))
            }
        })
        .collect();
    let empty = items.is_empty();
    let block = Block::bordered().title(format!(" Buddies {online}/{total} "));
    if empty {
        f.render_widget(
            Paragraph::new(vec![
                TextLine::from("(empty)"),
                TextLine::from(""),
                TextLine::from("/add NAME"),
            ])
            .style(Style::default().fg(Color::DarkGray))
            .block(block),
            area,
        );
        return;
    }
    let mut state = ListState::default().with_selected(selected_row);
    f.render_stateful_widget(
        List::new(items)
            .block(block)
            .highlight_style(Style::default().add_modifier(Modifier::REVERSED)),
        area,
        &mut state,
    );
}

fn draw_conversation(f: &mut Frame<'_>, app: &App, area: Rect) {
    let block = Block::bordered().title(conversation_title(app));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let tab = &app.tabs[app.current];
    let width = usize::from(inner.width).max(1);
    let height = usize::from(inner.height);
    let mut lines: Vec<TextLine<'static>> = Vec::new();
    for l in &tab.lines {
        lines.extend(line_spans(l, width));
    }
    let end = lines
        .len()
        .saturating_sub(tab.scroll.min(lines.len().saturating_sub(height.min(lines.len()))));
    let start = end.saturating_sub(height);
    let visible: Vec<TextLine<'static>> = lines[start..end].to_vec();
    f.render_widget(Paragraph::new(visible), inner);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use flapjack_client::{Buddy, BuddyGroup, BuddyList, Event, UserStatus};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    #[test]
    fn wrapping() {
        assert_eq!(wrap("hello world", 5), ["hello", "world"]);
        assert_eq!(wrap("abcdefgh", 3), ["abc", "def", "gh"]);
        assert_eq!(wrap("a b\nc", 10), ["a b", "c"]);
        assert_eq!(wrap("", 4), [""]);
    }

    #[test]
    fn renders_at_80_by_24() {
        let list = BuddyList {
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
        };
        let mut app = App::new("alice", "BUCP at 127.0.0.1:5190", list);
        app.on_event(&Event::BuddyArrived(UserStatus {
            screen_name: "Bob".into(),
            ..UserStatus::default()
        }));
        app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
        for c in "hello bob".chars() {
            app.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
        app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
        let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
        term.draw(|f| draw(f, &app)).unwrap();
        let buf = term.backend().buffer().clone();
        let text: Vec<String> = (0..24)
            .map(|y| (0..80).map(|x| buf[(x, y)].symbol().to_owned()).collect::<String>())
            .collect();
        let screen = text.join("\n");
        assert!(
            screen.contains("flapjack|Bob") || screen.contains("flapjack |Bob") || screen.contains("Bob"),
            "{screen}"
        );
        assert!(screen.contains("+ Bob"), "{screen}");
        assert!(screen.contains("alice: hello bob"), "{screen}");
        assert!(screen.contains("Bob (online)"), "{screen}");
        assert!(text[22].contains("alice | available"), "{screen}");
        assert!(text[23].contains("^N IM"), "{screen}");
    }
}
