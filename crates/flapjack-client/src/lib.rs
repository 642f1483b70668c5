//! # flapjack-client
//!
//! An OSCAR (AIM / ICQ) client in three layers:
//!
//! * [`session`]: a **sans-IO state machine** ([`Session`]) that speaks FLAP and SNACs over any
//!   number of connections (login, BOS, chat navigation, chat rooms). It is fed bytes, time and
//!   commands and says what to send, which connections to open and what happened — no sockets,
//!   no clock, no tokio. Logins: BUCP (strong or weak MD5), roasted channel-1, and a cookie from
//!   OpenAuth; then the BOS sign-on, IMs, presence, profiles, buddy-list transactions, chat
//!   rooms, typing, warnings. Outgoing SNACs pass a per-class [`rate`] limiter that mirrors the
//!   server's moving average, so bursts are delayed instead of dropped.
//! * [`openauth`]: the **OpenAuth HTTP login** (`clientLogin` → session key → signed
//!   `startOSCARSession`), recording a redacted [`Transcript`] of every step.
//! * A **tokio driver** ([`Client`], [`ClientHandle`], [`EventStream`]) that moves bytes and time,
//!   does TCP and TLS (rustls with the `ring` provider), reconnects when asked, and offers typed
//!   async methods.
//!
//! ```no_run
//! use flapjack_client::{Client, ClientConfig, Event, Login};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let cfg = ClientConfig::new(
//!     Login::Bucp { server: "127.0.0.1:5190".into(), weak_hash: false },
//!     "alice",
//!     "secret",
//! );
//! let (client, mut events) = Client::connect(cfg).await?;
//! client.send_im("bob", "hello!").await?;
//! while let Some(event) = events.next().await {
//!     match event {
//!         Event::ImReceived(im) => {
//!             println!("{}: {}", im.from.screen_name, flapjack_client::strip_html(&im.text));
//!             client.sign_off().await?;
//!         }
//!         Event::SignedOff { reason } => {
//!             println!("bye: {reason}");
//!             break;
//!         }
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Driving the state machine by hand (what the driver does, and what tests do with a fake
//! clock and scripted server bytes):
//!
//! ```
//! use std::time::Instant;
//! use flapjack_client::session::{Input, LoginMethod, Output, Session, SessionConfig};
//! use flapjack_client::HashKind;
//!
//! let login = LoginMethod::Bucp {
//!     host: "127.0.0.1".into(), port: 5190, hash: HashKind::Strong, tls_cert_name: None,
//! };
//! let now = Instant::now();
//! let mut session = Session::new(SessionConfig::new("alice", "secret", login), now);
//! let mut conn = None;
//! loop {
//!     match session.poll_output() {
//!         Output::Connect { conn: id, host, port, .. } => { assert_eq!((host.as_str(), port), ("127.0.0.1", 5190)); conn = Some(id) }
//!         Output::Event(_) => {}
//!         Output::Timeout(_) | Output::Idle => break,
//!         other => panic!("unexpected {other:?}"),
//!     }
//! }
//! // The socket is open: the session says hello on FLAP channel 1.
//! session.handle_input(now, Input::Connected(conn.unwrap())).unwrap();
//! let Output::Transmit { data, .. } = session.poll_output() else { panic!() };
//! assert_eq!(&data[..2], &[0x2A, 0x01]);
//! ```

pub mod command;
mod driver;
pub mod error;
pub mod event;
pub mod http;
pub mod openauth;
pub mod rate;
pub mod session;
pub mod tls;

pub use command::{BuddyEdit, BuddyTx, Command, ImCharset, ImRequest, MessageId, TxId};
pub use driver::{Client, ClientConfig, ClientHandle, ConnectError, EventStream, Login, ReconnectPolicy};
pub use error::{ClientError, RequestContext, SignOffReason};
pub use event::{
    Buddy, BuddyGroup, BuddyList, ChatRoom, Event, FeedbagOp, ItemResult, ReceivedIm, UserInfoReply, UserStatus,
    strip_html,
};
pub use flapjack_auth::bucp::HashKind;
pub use flapjack_auth::openauth::ResponseFormat;
pub use flapjack_wire::family::feedbag::{FeedbagStatus, PdMode};
pub use flapjack_wire::family::icbm::TypingEvent;
pub use openauth::{OpenAuthConfig, Transcript};
pub use session::{ConnId, ConnKind, Input, LoginMethod, Output, Session, SessionConfig};
pub use tls::TlsOptions;
