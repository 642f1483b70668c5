//! # flapjack-server
//!
//! The OSCAR server: a plain OSCAR listener and, when configured, an OSCAR TLS listener (both for
//! logins, BOS and service connections), the HTTP(S) OpenAuth API, per-connection tasks, a
//! session registry, services (one module per SNAC family), chat rooms and the durable store.
//!
//! ```text
//! OSCAR listener ─┐            channel 1, no cookie ─▶ login (BUCP / roasted) ─▶ cookie jar ◀┐
//! TLS listener ───┴─accept─▶ conn task                                                       │
//!                              │  channel 1, cookie ──▶ Session, added to the registry       │
//!                              │  channel 2, SNAC ────▶ rate classes ─▶ services::dispatch   │
//!                              │                          ─▶ registry / store / chat rooms   │
//!                              ▼                                                             │
//!                        writer task ◀── bounded outbound queue ◀── services, other sessions │
//!                                                                                            │
//! HTTP(S) API ─▶ clientLogin (token) ─▶ startOSCARSession (signed) ──────────────────────────┘
//!                /healthz, /metrics
//! ```
//!
//! Tokio appears only at the edges (listeners, connection and writer tasks); the store runs its
//! blocking SQLite calls on its own thread. `docs/DESIGN.md` walks through one IM.

pub mod chat;
pub mod config;
pub mod conn;
pub mod cookie;
pub mod credentials;
pub mod frontends;
pub mod http;
pub mod limits;
pub mod login;
pub mod metrics;
pub mod random;
pub mod rate;
pub mod server;
pub mod services;
pub mod session;
pub mod store;
pub mod tls;
pub mod warning;

pub use config::{LegacyLogins, MultiSession, ServerConfig};
pub use server::{Server, ServerState};
pub use store::Store;
pub use store::sqlite::{SqliteOptions, SqliteStore};
