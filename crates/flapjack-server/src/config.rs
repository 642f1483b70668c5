//! Server settings.

use std::net::SocketAddr;
use std::time::Duration;

use flapjack_auth::password::Argon2Params;

use crate::limits::LoginLimits;

/// Which legacy (non-OpenAuth) logins the OSCAR listener accepts: BUCP MD5 challenge logins
/// and roasted channel-1 logins. Both are weak against an eavesdropper (roasting is a fixed
/// XOR; BUCP's verifiers are password equivalents).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LegacyLogins {
    /// Accept them on any transport.
    #[default]
    Allow,
    /// Accept them only over TLS.
    TlsOnly,
    /// Refuse them (login error 0x0002, service unavailable).
    Deny,
}

impl LegacyLogins {
    /// Whether a legacy login over this transport is allowed.
    pub fn allows(self, tls: bool) -> bool {
        match self {
            LegacyLogins::Allow => true,
            LegacyLogins::TlsOnly => tls,
            LegacyLogins::Deny => false,
        }
    }
}

/// What happens to an account's older BOS sessions when it signs on again (§10, login TLV
/// 0x004A).
///
/// The client's flag comes from the BOS cookie hello (channel 1, as OpenAuth clients send it,
/// §2.9) or else from the login that issued the cookie (BUCP 17/02 or the roasted channel-1
/// login). 0x01 means "allow multiple sessions"; anything else (0x03 "single", 0x00 "old client
/// without multi-connection support", or no flag at all) means single: those clients predate
/// multiple logins, and AOL signed their older session off. Only the *new* sign-on's flag
/// counts. Kicked sessions get a channel-4 frame with TLV 0x0009 = u16 0x0001 ("signed on
/// from another location") and are closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MultiSession {
    /// Follow the client's flag (the default).
    #[default]
    HonourClient,
    /// Always allow several sessions, whatever the flag says.
    Allow,
    /// Always sign the older sessions off, whatever the flag says.
    KickOlder,
}

impl MultiSession {
    /// Whether a new BOS sign-on carrying the multi-connection flag `flag` signs the account's
    /// older sessions off.
    pub fn kicks_older(self, flag: Option<u8>) -> bool {
        match self {
            MultiSession::Allow => false,
            MultiSession::KickOlder => true,
            MultiSession::HonourClient => flag != Some(MULTI_CONN_ALLOW),
        }
    }
}

/// Login TLV 0x004A value: the client allows multiple sessions.
pub const MULTI_CONN_ALLOW: u8 = 0x01;
/// Login TLV 0x004A value: single session, sign the others off.
pub const MULTI_CONN_SINGLE: u8 = 0x03;

/// Everything the server is told at start.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address of the OSCAR (plain TCP) listener; port 0 picks a free one.
    pub oscar_addr: SocketAddr,
    /// Host name or address advertised to clients as the BOS address. A port may be included;
    /// otherwise the OSCAR listener's port is appended.
    pub advertise_host: String,
    /// `host:port` advertised for logins that came over TLS (set by the TLS listener).
    pub advertise_tls: Option<String>,
    /// Which legacy logins are accepted.
    pub legacy_logins: LegacyLogins,
    /// How long a login cookie stays valid.
    pub cookie_ttl: Duration,
    /// Close a connection that sends nothing for this long once signed on.
    pub idle_timeout: Duration,
    /// Close a connection that has not completed its login or cookie exchange within this.
    pub login_timeout: Duration,
    /// Largest FLAP payload accepted from a client.
    pub max_frame_payload: usize,
    /// Outbound queue capacity per connection (frames).
    pub outbound_queue: usize,
    /// Most concurrent connections from one source address.
    pub max_connections_per_address: usize,
    /// Failed-login limits.
    pub login_limits: LoginLimits,
    /// Enforce the rate classes (drop SNACs over the limit, disconnect abusers).
    pub enforce_rate_limits: bool,
    /// Message of the day (0x0001/0x0013), if any.
    pub motd: Option<String>,
    /// Keep profiles and away messages in the store across sessions.
    pub persist_profiles: bool,
    /// argon2id costs for new password hashes.
    pub argon2: Argon2Params,
    /// How long shutdown waits for connections to say goodbye.
    pub shutdown_grace: Duration,
    /// Address of the OSCAR TLS listener (`--oscar-tls`); `None`: no TLS listener. Logins on it
    /// (and startOSCARSession with `useTLS=1`) get the TLS BOS address and TLS-only cookies.
    pub oscar_tls_addr: Option<SocketAddr>,
    /// The TLS certificate (configured or generated) for the OSCAR TLS and HTTPS listeners.
    pub tls: crate::tls::TlsSettings,
    /// The OpenAuth HTTP API (`--http`, `--https`, public URLs, developer keys, `ts` window).
    pub http: crate::http::HttpSettings,
    /// Chat limits and public rooms.
    pub chat: crate::chat::ChatConfig,
    /// Several sessions per account, or one (login TLV 0x004A, §10).
    pub multi_session: MultiSession,
    /// How warning levels fade (−1.0 % per interval; see [`crate::warning`]).
    pub warning_decay: crate::warning::WarningDecay,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            oscar_addr: SocketAddr::from(([127, 0, 0, 1], 5190)),
            advertise_host: "127.0.0.1".into(),
            advertise_tls: None,
            legacy_logins: LegacyLogins::Allow,
            cookie_ttl: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(600),
            login_timeout: Duration::from_secs(60),
            max_frame_payload: 16 * 1024,
            outbound_queue: 512,
            max_connections_per_address: 64,
            login_limits: LoginLimits::default(),
            enforce_rate_limits: true,
            motd: Some("Welcome to flapjack.".into()),
            persist_profiles: false,
            argon2: Argon2Params::default(),
            shutdown_grace: Duration::from_secs(5),
            oscar_tls_addr: None,
            tls: crate::tls::TlsSettings::default(),
            http: crate::http::HttpSettings::default(),
            chat: crate::chat::ChatConfig::default(),
            multi_session: MultiSession::HonourClient,
            warning_decay: crate::warning::WarningDecay::standard(),
        }
    }
}

impl ServerConfig {
    /// A configuration for tests: an ephemeral port and cheap argon2 costs.
    pub fn for_tests() -> Self {
        Self {
            oscar_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            argon2: Argon2Params {
                memory_kib: 64,
                iterations: 1,
                parallelism: 1,
            },
            ..Self::default()
        }
    }

    /// The BOS address to advertise (`host:port`), given the OSCAR listener's bound port.
    pub fn bos_address(&self, bound_port: u16, tls: bool) -> String {
        if tls && let Some(a) = &self.advertise_tls {
            return a.clone();
        }
        if has_port(&self.advertise_host) {
            self.advertise_host.clone()
        } else if self.advertise_host.contains(':') {
            format!("[{}]:{bound_port}", self.advertise_host)
        } else {
            format!("{}:{bound_port}", self.advertise_host)
        }
    }
}

/// True for `host:port` and `[v6]:port`, false for a bare host or a bare IPv6 address.
fn has_port(s: &str) -> bool {
    if let Some(rest) = s.strip_prefix('[') {
        return rest.contains("]:");
    }
    matches!(s.rsplit_once(':'), Some((host, port)) if !host.contains(':') && port.parse::<u16>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_session_policy() {
        let honour = MultiSession::HonourClient;
        assert!(!honour.kicks_older(Some(MULTI_CONN_ALLOW)));
        assert!(honour.kicks_older(Some(MULTI_CONN_SINGLE)));
        assert!(honour.kicks_older(Some(0x00)));
        assert!(honour.kicks_older(None));
        assert!(!MultiSession::Allow.kicks_older(Some(MULTI_CONN_SINGLE)));
        assert!(!MultiSession::Allow.kicks_older(None));
        assert!(MultiSession::KickOlder.kicks_older(Some(MULTI_CONN_ALLOW)));
    }

    #[test]
    fn bos_address_forms() {
        let mut c = ServerConfig::default();
        assert_eq!(c.bos_address(5190, false), "127.0.0.1:5190");
        c.advertise_host = "aim.example:5191".into();
        assert_eq!(c.bos_address(5190, false), "aim.example:5191");
        c.advertise_host = "::1".into();
        assert_eq!(c.bos_address(5190, false), "[::1]:5190");
        c.advertise_host = "[::1]:7".into();
        assert_eq!(c.bos_address(5190, false), "[::1]:7");
        c.advertise_tls = Some("tls.example:5193".into());
        assert_eq!(c.bos_address(5190, true), "tls.example:5193");
    }
}
