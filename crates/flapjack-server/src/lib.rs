//! # flapjack-server
//!
//! The OSCAR server: one TCP listener for logins (BUCP and roasted) and for BOS / service
//! connections, per-connection tasks, a session registry, services (one module per SNAC family)
//! and the durable store.
//!
//! ```text
//! listener ──accept──▶ conn task ──frames──▶ login (BUCP / roasted)  → cookie jar
//!                                  └─────▶ session (cookie) ─SNAC─▶ services::dispatch ─▶ registry / store
//! writer task ◀── bounded outbound queue ◀── services, other sessions (via the registry)
//! ```
//!
//! Tokio appears only at the edges (listener, connection and writer tasks); the store runs its
//! blocking SQLite calls on its own thread.

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
