//! Operational counters, exported as Prometheus text on the HTTP listener's `GET /metrics`.
//!
//! Plain atomics, no metrics crate: any code holding the [`ServerState`](crate::ServerState)
//! increments `state.metrics.<field>` (relaxed ordering; these are statistics, not
//! synchronisation). [`Metrics::render`] writes the exposition format.
//!
//! | metric | type | who updates it |
//! |---|---|---|
//! | `flapjack_sessions_online` | gauge | [`Metrics::session_started`] / [`Metrics::session_ended`] at registry (un)register |
//! | `flapjack_logins_total{method,result}` | counter | [`Metrics::login`] after every login attempt (OpenAuth, BUCP, roasted) and every cookie presented on channel 1 |
//! | `flapjack_ims_relayed_total` | counter | the ICBM service, per IM delivered to a live session |
//! | `flapjack_offline_messages_stored_total` | counter | the ICBM service, per IM stored for an offline recipient |
//! | `flapjack_rate_limited_total` | counter | SNACs dropped or connections ended by rate classes, and logins refused by the failed-login limiter |
//! | `flapjack_rate_class_events_total{event}` | counter | [`Metrics::rate_event`] where the connection task checks rate classes: warn, limit, dropped, disconnect |
//! | `flapjack_connections_refused_total` | counter | connections refused at accept (per-address cap, HTTP connection cap, failed TLS handshakes) |
//! | `flapjack_openauth_tokens` | gauge | set by the HTTP module: live OpenAuth tokens |
//!
//! Wrong passwords and unknown accounts share the `rejected` result on purpose: `/metrics` is
//! served on the public OpenAuth listener, and separate counters would tell anyone watching
//! them whether the account they just tried exists (the login paths go to some length not to).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// How a login arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoginMethod {
    /// OpenAuth `clientLogin` (HTTP).
    ClientLogin,
    /// OpenAuth `startOSCARSession` (HTTP; a signed request that mints a BOS cookie).
    StartOscarSession,
    /// BUCP MD5 challenge login (family 0x0017).
    Bucp,
    /// Roasted-password channel-1 login.
    Roasted,
    /// A login cookie presented on channel 1: the BOS sign-on that ends every BUCP, roasted
    /// and OpenAuth login, and service connections (chat rooms).
    Cookie,
}

impl LoginMethod {
    const ALL: [LoginMethod; 5] = [
        LoginMethod::ClientLogin,
        LoginMethod::StartOscarSession,
        LoginMethod::Bucp,
        LoginMethod::Roasted,
        LoginMethod::Cookie,
    ];

    /// The `method` label value.
    pub fn label(self) -> &'static str {
        match self {
            LoginMethod::ClientLogin => "clientlogin",
            LoginMethod::StartOscarSession => "startoscarsession",
            LoginMethod::Bucp => "bucp",
            LoginMethod::Roasted => "roasted",
            LoginMethod::Cookie => "cookie",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// How a login ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoginResult {
    /// Accepted (a token or a cookie was issued).
    Success,
    /// Wrong password, unknown account, bad or unknown token, bad signature; an unknown, used,
    /// expired or wrong-transport cookie, or one for a deleted account.
    Rejected,
    /// Refused by the failed-login limiter before any check.
    RateLimited,
    /// Refused for a malformed request (missing or bad parameter, refused developer key,
    /// `ts` outside the window).
    BadRequest,
    /// Refused by policy before any credential check: legacy (BUCP, roasted) logins disabled on
    /// this transport, or a cookie for a service this server does not serve.
    Refused,
    /// The server failed (store error, random source).
    Error,
}

impl LoginResult {
    const ALL: [LoginResult; 6] = [
        LoginResult::Success,
        LoginResult::Rejected,
        LoginResult::RateLimited,
        LoginResult::BadRequest,
        LoginResult::Refused,
        LoginResult::Error,
    ];

    /// The `result` label value.
    pub fn label(self) -> &'static str {
        match self {
            LoginResult::Success => "success",
            LoginResult::Rejected => "rejected",
            LoginResult::RateLimited => "rate_limited",
            LoginResult::BadRequest => "bad_request",
            LoginResult::Refused => "refused",
            LoginResult::Error => "error",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What a connection's rate classes did (§7.3), as checked per SNAC by the connection task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateEvent {
    /// A class crossed its alert level: the client was sent a warning (0x0001/0x000A code 2).
    Warn,
    /// A class crossed its limit level: the client was told SNACs are dropped (code 3).
    Limit,
    /// A SNAC was dropped because its class is limited.
    Dropped,
    /// The connection was ended for going under the disconnect level.
    Disconnect,
}

impl RateEvent {
    const ALL: [RateEvent; 4] = [
        RateEvent::Warn,
        RateEvent::Limit,
        RateEvent::Dropped,
        RateEvent::Disconnect,
    ];

    /// The `event` label value.
    pub fn label(self) -> &'static str {
        match self {
            RateEvent::Warn => "warn",
            RateEvent::Limit => "limit",
            RateEvent::Dropped => "dropped",
            RateEvent::Disconnect => "disconnect",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

const METHODS: usize = LoginMethod::ALL.len();
const RESULTS: usize = LoginResult::ALL.len();
const RATE_EVENTS: usize = RateEvent::ALL.len();

/// The server's counters. Every field is public so any module can count.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Signed-on BOS sessions right now (gauge; see [`Metrics::session_started`]).
    pub sessions_online: AtomicI64,
    logins: [[AtomicU64; RESULTS]; METHODS],
    /// IMs delivered to a live session.
    pub ims_relayed: AtomicU64,
    /// IMs stored for an offline recipient.
    pub offline_messages_stored: AtomicU64,
    /// Rate-limit events: SNACs dropped or connections ended by rate classes, logins refused by
    /// the failed-login limiter.
    pub rate_limited: AtomicU64,
    rate_events: [AtomicU64; RATE_EVENTS],
    /// Connections refused at accept (address cap, connection cap, failed TLS handshake).
    pub connections_refused: AtomicU64,
    /// Live OpenAuth tokens (gauge, kept by the HTTP module).
    pub openauth_tokens: AtomicI64,
}

impl Metrics {
    /// Fresh counters, all zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one login attempt. A [`LoginResult::RateLimited`] result also counts a
    /// rate-limit event.
    pub fn login(&self, method: LoginMethod, result: LoginResult) {
        self.logins[method.index()][result.index()].fetch_add(1, Ordering::Relaxed);
        if result == LoginResult::RateLimited {
            self.rate_limited.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Logins counted so far for this method and result.
    pub fn logins(&self, method: LoginMethod, result: LoginResult) -> u64 {
        self.logins[method.index()][result.index()].load(Ordering::Relaxed)
    }

    /// Counts one rate-class event. [`RateEvent::Dropped`] and [`RateEvent::Disconnect`] also
    /// count in `rate_limited` (warnings and limit notices drop nothing by themselves).
    pub fn rate_event(&self, event: RateEvent) {
        self.rate_events[event.index()].fetch_add(1, Ordering::Relaxed);
        if matches!(event, RateEvent::Dropped | RateEvent::Disconnect) {
            self.rate_limited.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Rate-class events of this kind counted so far.
    pub fn rate_events(&self, event: RateEvent) -> u64 {
        self.rate_events[event.index()].load(Ordering::Relaxed)
    }

    /// A session signed on (registered).
    pub fn session_started(&self) {
        self.sessions_online.fetch_add(1, Ordering::Relaxed);
    }

    /// A session ended (unregistered).
    pub fn session_ended(&self) {
        self.sessions_online.fetch_sub(1, Ordering::Relaxed);
    }

    /// Adds one to a counter field (`metrics.incr(&metrics.ims_relayed)`).
    pub fn incr(&self, counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition (format 0.0.4) of every metric.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        gauge(
            &mut out,
            "flapjack_sessions_online",
            "Signed-on BOS sessions.",
            self.sessions_online.load(Ordering::Relaxed).max(0),
        );
        header(
            &mut out,
            "flapjack_logins_total",
            "counter",
            "Login attempts by method and result.",
        );
        for method in LoginMethod::ALL {
            for result in LoginResult::ALL {
                let _ = writeln!(
                    out,
                    "flapjack_logins_total{{method=\"{}\",result=\"{}\"}} {}",
                    method.label(),
                    result.label(),
                    self.logins(method, result)
                );
            }
        }
        counter(
            &mut out,
            "flapjack_ims_relayed_total",
            "IMs delivered to a live session.",
            load(&self.ims_relayed),
        );
        counter(
            &mut out,
            "flapjack_offline_messages_stored_total",
            "IMs stored for an offline recipient.",
            load(&self.offline_messages_stored),
        );
        counter(
            &mut out,
            "flapjack_rate_limited_total",
            "Rate-limit events (SNACs dropped, connections ended, logins refused).",
            load(&self.rate_limited),
        );
        header(
            &mut out,
            "flapjack_rate_class_events_total",
            "counter",
            "Rate-class events on connections (warn, limit, SNAC dropped, disconnect).",
        );
        for event in RateEvent::ALL {
            let _ = writeln!(
                out,
                "flapjack_rate_class_events_total{{event=\"{}\"}} {}",
                event.label(),
                self.rate_events(event)
            );
        }
        counter(
            &mut out,
            "flapjack_connections_refused_total",
            "Connections refused at accept.",
            load(&self.connections_refused),
        );
        gauge(
            &mut out,
            "flapjack_openauth_tokens",
            "Live OpenAuth clientLogin tokens.",
            self.openauth_tokens.load(Ordering::Relaxed).max(0),
        );
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    header(out, name, "counter", help);
    let _ = writeln!(out, "{name} {value}");
}

fn gauge(out: &mut String, name: &str, help: &str, value: i64) {
    header(out, name, "gauge", help);
    let _ = writeln!(out, "{name} {value}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_series() {
        let m = Metrics::new();
        m.login(LoginMethod::ClientLogin, LoginResult::Success);
        m.login(LoginMethod::Bucp, LoginResult::RateLimited);
        m.session_started();
        m.incr(&m.ims_relayed);
        m.rate_event(RateEvent::Warn);
        m.rate_event(RateEvent::Dropped);
        m.login(LoginMethod::Cookie, LoginResult::Refused);
        let text = m.render();
        assert!(text.contains("flapjack_logins_total{method=\"clientlogin\",result=\"success\"} 1\n"));
        assert!(text.contains("flapjack_logins_total{method=\"bucp\",result=\"rate_limited\"} 1\n"));
        assert!(
            text.contains("flapjack_rate_limited_total 2\n"),
            "login refusal + dropped SNAC"
        );
        assert!(text.contains("flapjack_rate_class_events_total{event=\"warn\"} 1\n"));
        assert!(text.contains("flapjack_rate_class_events_total{event=\"dropped\"} 1\n"));
        assert!(text.contains("flapjack_rate_class_events_total{event=\"disconnect\"} 0\n"));
        assert!(text.contains("flapjack_logins_total{method=\"cookie\",result=\"refused\"} 1\n"));
        assert!(text.contains("flapjack_sessions_online 1\n"));
        assert!(text.contains("flapjack_ims_relayed_total 1\n"));
        assert!(text.contains("# TYPE flapjack_connections_refused_total counter\n"));
        m.session_ended();
        m.session_ended();
        assert!(m.render().contains("flapjack_sessions_online 0\n"));
    }
}
