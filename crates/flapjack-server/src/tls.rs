//! TLS (§11): the certificate, the `rustls` acceptors, and the OSCAR TLS listener.
//!
//! * **One crypto provider.** The workspace uses rustls' `ring` provider only. Every
//!   `rustls::ServerConfig` here is built with that provider explicitly, and
//!   [`install_crypto_provider`] makes it the process default too (once; "already installed" is
//!   ignored), so code that asks for the default provider gets the same one.
//! * **The certificate.** Either the operator's PEM files ([`TlsSettings::cert_path`] +
//!   [`TlsSettings::key_path`]), or a self-signed ECDSA P-256 certificate generated on first start
//!   into [`TlsSettings::dir`] (`tls-cert.pem`, `tls-key.pem`, both mode 0600, plus
//!   `tls-names.txt` listing its names). Its subject alternative names are the advertised TLS
//!   host, `localhost`, `127.0.0.1`, and the names libpurple verifies ([`LIBPURPLE_NAMES`]:
//!   `bos.oscar.aol.com` after a BUCP login over TLS, `slogin.oscar.aol.com` for the login
//!   server, and the OpenAuth API hosts). When the names needed change (say, a new advertised
//!   host), a generated certificate is regenerated; an operator's certificate is never touched.
//!   Without a directory the generated certificate lives in memory only (tests).
//! * **Listeners.** The OSCAR TLS listener ([`run_oscar_tls_listener`]) completes the handshake
//!   (bounded by [`TlsSettings::handshake_timeout`]) and hands the stream to the same connection
//!   code as the plain listener, with `tls = true`: a BUCP or roasted login on it hands out the
//!   TLS BOS address and a cookie that is only accepted over TLS. The HTTPS API uses
//!   [`TlsMaterial::https_acceptor`] (ALPN `http/1.1`).
//!
//! rustls speaks TLS 1.2 and 1.3 only; clients that need TLS 1.0 (AIM 6.x's NSS) must go through
//! a TLS terminator.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tracing::Instrument;

use crate::server::ServerState;

/// Names libpurple (and AOL's own clients) verify certificates against, included in every
/// generated certificate: the BOS and TLS login hosts, and the OpenAuth API hosts.
pub const LIBPURPLE_NAMES: [&str; 4] = [
    "bos.oscar.aol.com",
    "slogin.oscar.aol.com",
    "api.oscar.aol.com",
    "api.screenname.aol.com",
];

/// File name of the generated certificate inside [`TlsSettings::dir`].
pub const GENERATED_CERT_FILE: &str = "tls-cert.pem";
/// File name of the generated private key inside [`TlsSettings::dir`].
pub const GENERATED_KEY_FILE: &str = "tls-key.pem";
/// File listing the generated certificate's names, one per line.
pub const GENERATED_NAMES_FILE: &str = "tls-names.txt";

/// First line of [`GENERATED_NAMES_FILE`]: which generator made the certificate. A certificate
/// made by another (older) generator is replaced.
const GENERATOR_TAG: &str = "# flapjack self-signed v2 (no key usage extension)";

/// Most TLS handshakes in progress at once on one listener; more connections wait.
const MAX_PENDING_HANDSHAKES: usize = 256;

/// TLS settings.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// The operator's certificate chain (PEM). Set together with [`key_path`](Self::key_path).
    pub cert_path: Option<PathBuf>,
    /// The operator's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_path: Option<PathBuf>,
    /// Where a generated certificate is kept (the data directory); `None` keeps it in memory.
    pub dir: Option<PathBuf>,
    /// The name clients verify the BOS certificate against, sent as startOSCARSession's
    /// `tlsCertName`. Default: the host of the advertised TLS BOS address.
    pub cert_name: Option<String>,
    /// More names for a generated certificate.
    pub extra_names: Vec<String>,
    /// How long a client may take to complete the TLS handshake.
    pub handshake_timeout: Duration,
}

impl Default for TlsSettings {
    fn default() -> Self {
        Self {
            cert_path: None,
            key_path: None,
            dir: None,
            cert_name: None,
            extra_names: Vec::new(),
            handshake_timeout: Duration::from_secs(15),
        }
    }
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Only one of the certificate and key paths was given.
    #[error("a TLS certificate and its key must be configured together")]
    Incomplete,
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A PEM file held nothing usable.
    #[error("{path}: {what}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        what: String,
    },
    /// Generating the certificate failed.
    #[error("generating a certificate: {0}")]
    Generate(String),
    /// rustls refused the certificate or key.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Installs rustls' `ring` provider as the process default. Safe to call any number of times;
/// an already installed default is left alone.
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Where the certificate in use came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertSource {
    /// The operator's files.
    Configured(PathBuf),
    /// Generated now or earlier and kept in this file.
    Generated(PathBuf),
    /// Generated now, kept in memory only.
    Ephemeral,
}

/// A loaded certificate and key, and the acceptors built from them.
pub struct TlsMaterial {
    chain: Vec<CertificateDer<'static>>,
    cert_pem: String,
    source: CertSource,
    names: Vec<String>,
    cert_name: String,
    oscar: TlsAcceptor,
    https: TlsAcceptor,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("source", &self.source)
            .field("names", &self.names)
            .field("cert_name", &self.cert_name)
            .finish_non_exhaustive()
    }
}

impl TlsMaterial {
    /// Loads the configured certificate, or loads / generates the self-signed one.
    ///
    /// `advertised_host` is the host clients are told to reach over TLS (it becomes a name of a
    /// generated certificate and, unless [`TlsSettings::cert_name`] says otherwise, the
    /// `tlsCertName`).
    pub fn load(settings: &TlsSettings, advertised_host: &str) -> Result<Self, TlsError> {
        install_crypto_provider();
        let cert_name = settings
            .cert_name
            .clone()
            .unwrap_or_else(|| strip_brackets(advertised_host).to_owned());
        let (chain, key, cert_pem, source, names) = match (&settings.cert_path, &settings.key_path) {
            (Some(cert), Some(key)) => {
                let cert_pem = read_to_string(cert)?;
                let chain = parse_chain(cert, &cert_pem)?;
                let key_der = parse_key(key, &read_to_string(key)?)?;
                (
                    chain,
                    key_der,
                    cert_pem,
                    CertSource::Configured(cert.clone()),
                    Vec::new(),
                )
            }
            (None, None) => {
                let names = generated_names(settings, advertised_host, &cert_name);
                let (cert_pem, key_pem, source) = match &settings.dir {
                    Some(dir) => load_or_generate(dir, &names, &cert_name)?,
                    None => {
                        let (c, k) = generate_self_signed(&names, &cert_name)?;
                        (c, k, CertSource::Ephemeral)
                    }
                };
                let origin = match &source {
                    CertSource::Generated(p) => p.clone(),
                    _ => PathBuf::from("<generated>"),
                };
                let chain = parse_chain(&origin, &cert_pem)?;
                let key = parse_key(&origin, &key_pem)?;
                (chain, key, cert_pem, source, names)
            }
            _ => return Err(TlsError::Incomplete),
        };
        let oscar = server_config(chain.clone(), key.clone_key(), Vec::new())?;
        let https = server_config(chain.clone(), key, vec![b"http/1.1".to_vec()])?;
        Ok(Self {
            chain,
            cert_pem,
            source,
            names,
            cert_name,
            oscar: TlsAcceptor::from(oscar),
            https: TlsAcceptor::from(https),
        })
    }

    /// The acceptor for OSCAR connections (no ALPN).
    pub fn oscar_acceptor(&self) -> TlsAcceptor {
        self.oscar.clone()
    }

    /// The acceptor for the HTTPS API (ALPN `http/1.1`).
    pub fn https_acceptor(&self) -> TlsAcceptor {
        self.https.clone()
    }

    /// The certificate chain, leaf first.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// The certificate chain as PEM (what clients import to trust a self-signed certificate).
    pub fn certificate_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Where the certificate came from.
    pub fn source(&self) -> &CertSource {
        &self.source
    }

    /// The names of a generated certificate (empty for an operator's certificate).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The name advertised as `tlsCertName`.
    pub fn cert_name(&self) -> &str {
        &self.cert_name
    }
}

fn strip_brackets(host: &str) -> &str {
    host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host)
}

/// The names a generated certificate must carry, in a stable order without duplicates.
fn generated_names(settings: &TlsSettings, advertised_host: &str, cert_name: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut push = |n: &str| {
        let n = strip_brackets(n.trim()).to_ascii_lowercase();
        if !n.is_empty() && !names.contains(&n) {
            names.push(n);
        }
    };
    push(cert_name);
    push(advertised_host);
    for n in &settings.extra_names {
        push(n);
    }
    push("localhost");
    push("127.0.0.1");
    for n in LIBPURPLE_NAMES {
        push(n);
    }
    names
}

/// Generates a self-signed certificate for `names` (the first DNS name, or `cert_name`, is its
/// common name). Returns (certificate PEM, private key PEM).
pub fn generate_self_signed(names: &[String], cert_name: &str) -> Result<(String, String), TlsError> {
    let gen_err = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let key = rcgen::KeyPair::generate().map_err(gen_err)?;
    let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(gen_err)?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, cert_name);
    dn.push(rcgen::DnType::OrganizationName, "flapjack self-signed");
    params.distinguished_name = dn;
    // Validity: from last year to 20 years on, kept before 2050 so the dates stay UTCTime,
    // which old certificate stacks expect.
    let year = 1970 + (SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) / 31_556_952) as i32;
    params.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    params.not_after = rcgen::date_time_ymd((year + 20).min(2049), 12, 31);
    // No key usage extension: NSS (libpurple) checks a self-signed certificate as its own
    // issuer too, and a key usage without keyCertSign fails that check
    // (SEC_ERROR_INADEQUATE_KEY_USAGE, "the certificate chain presented is invalid"), while a
    // CA flag would make rustls and browsers refuse it as a server certificate.
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.self_signed(&key).map_err(gen_err)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Loads the generated certificate from `dir`, or generates (and saves) a new one when there
/// is none or it lacks one of `names`.
fn load_or_generate(dir: &Path, names: &[String], cert_name: &str) -> Result<(String, String, CertSource), TlsError> {
    let cert_path = dir.join(GENERATED_CERT_FILE);
    let key_path = dir.join(GENERATED_KEY_FILE);
    let names_path = dir.join(GENERATED_NAMES_FILE);
    if cert_path.exists() && key_path.exists() {
        let stored: Vec<String> = std::fs::read_to_string(&names_path)
            .map(|s| s.lines().map(str::to_owned).collect())
            .unwrap_or_default();
        let current = stored.first().is_some_and(|l| l == GENERATOR_TAG);
        if current && names.iter().all(|n| stored.contains(n)) {
            let cert = read_to_string(&cert_path)?;
            let key = read_to_string(&key_path)?;
            tracing::info!(cert = %cert_path.display(), "using the generated TLS certificate");
            return Ok((cert, key, CertSource::Generated(cert_path)));
        }
        tracing::warn!(
            cert = %cert_path.display(),
            "the generated TLS certificate lacks a name now advertised (or is outdated); generating a new one"
        );
    }
    let (cert, key) = generate_self_signed(names, cert_name)?;
    create_private_dir(dir)?;
    write_private(&key_path, key.as_bytes())?;
    write_private(&cert_path, cert.as_bytes())?;
    let listing = format!("{GENERATOR_TAG}\n{}\n", names.join("\n"));
    write_private(&names_path, listing.as_bytes())?;
    tracing::info!(cert = %cert_path.display(), names = ?names, "generated a self-signed TLS certificate");
    Ok((cert, key, CertSource::Generated(cert_path)))
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |source| TlsError::Io {
        path: path.to_owned(),
        source,
    }
}

fn read_to_string(path: &Path) -> Result<String, TlsError> {
    std::fs::read_to_string(path).map_err(io_err(path))
}

fn create_private_dir(dir: &Path) -> Result<(), TlsError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(io_err(dir))
}

/// Writes `bytes` to `path` with mode 0600, through a temporary file and a rename.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let _ = std::fs::remove_file(&tmp);
    let mut file = options.open(&tmp).map_err(io_err(&tmp))?;
    file.write_all(bytes).map_err(io_err(&tmp))?;
    file.sync_all().map_err(io_err(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

fn parse_chain(path: &Path, pem: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            path: path.to_owned(),
            what: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::Pem {
            path: path.to_owned(),
            what: "no certificate found".into(),
        });
    }
    Ok(chain)
}

fn parse_key(path: &Path, pem: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| TlsError::Pem {
        path: path.to_owned(),
        what: format!("no usable private key: {e}"),
    })
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    alpn: Vec<Vec<u8>>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = alpn;
    Ok(Arc::new(config))
}

/// Accepts OSCAR connections over TLS on `listener` until the task is aborted: each
/// connection completes its handshake (at most `handshake_timeout`), then runs the ordinary
/// connection code with `tls = true`.
pub async fn run_oscar_tls_listener(
    state: Arc<ServerState>,
    listener: TcpListener,
    acceptor: TlsAcceptor,
    handshake_timeout: Duration,
) {
    let pending = Arc::new(Semaphore::new(MAX_PENDING_HANDSHAKES));
    let mut next_id: u64 = 1;
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "TLS accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let Ok(permit) = pending.clone().acquire_owned().await else {
            return;
        };
        let id = next_id;
        next_id += 1;
        let span = tracing::info_span!("tls_conn", id, %peer, user = tracing::field::Empty);
        let state = state.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(
            async move {
                let stream = match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::info!(error = %e, "TLS handshake failed");
                        state.metrics.incr(&state.metrics.connections_refused);
                        return;
                    }
                    Err(_) => {
                        tracing::info!("TLS handshake timed out");
                        state.metrics.incr(&state.metrics.connections_refused);
                        return;
                    }
                };
                drop(permit);
                state.serve_connection(stream, peer, true).await;
            }
            .instrument(span),
        );
    }
}

/// The advertised TLS BOS address, `host:port`: `advertise_tls` when configured, else the
/// advertised host (without any port it carries) with the TLS listener's bound port.
pub fn advertised_tls_address(advertise_tls: Option<&str>, advertise_host: &str, bound: SocketAddr) -> String {
    if let Some(a) = advertise_tls {
        return a.to_owned();
    }
    let host = host_of(advertise_host);
    if host.contains(':') {
        format!("[{host}]:{}", bound.port())
    } else {
        format!("{host}:{}", bound.port())
    }
}

/// The host part of `host`, `host:port`, `[v6]` or `[v6]:port` (brackets removed).
pub fn host_of(address: &str) -> &str {
    if let Some(rest) = address.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match address.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.parse::<u16>().is_ok() => host,
        _ => address,
    }
}

/// Splits `host:port` / `[v6]:port` into host (brackets removed) and port.
pub fn split_host_port(address: &str) -> Option<(&str, u16)> {
    if let Some(rest) = address.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return Some((host, after.strip_prefix(':')?.parse().ok()?));
    }
    let (host, port) = address.rsplit_once(':')?;
    if host.contains(':') {
        return None;
    }
    Some((host, port.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_helpers() {
        assert_eq!(host_of("aim.example:5190"), "aim.example");
        assert_eq!(host_of("aim.example"), "aim.example");
        assert_eq!(host_of("[::1]:5190"), "::1");
        assert_eq!(host_of("::1"), "::1");
        assert_eq!(split_host_port("aim.example:5193"), Some(("aim.example", 5193)));
        assert_eq!(split_host_port("[::1]:5193"), Some(("::1", 5193)));
        assert_eq!(split_host_port("aim.example"), None);
        let bound: SocketAddr = "0.0.0.0:5193".parse().unwrap();
        assert_eq!(
            advertised_tls_address(None, "aim.example:5190", bound),
            "aim.example:5193"
        );
        assert_eq!(advertised_tls_address(None, "::1", bound), "[::1]:5193");
        assert_eq!(
            advertised_tls_address(Some("tls.example:443"), "x", bound),
            "tls.example:443"
        );
    }

    #[test]
    fn generated_certificate_has_the_names_and_loads() {
        let settings = TlsSettings::default();
        let m = TlsMaterial::load(&settings, "chat.example").unwrap();
        assert_eq!(m.cert_name(), "chat.example");
        for n in [
            "chat.example",
            "localhost",
            "127.0.0.1",
            "bos.oscar.aol.com",
            "slogin.oscar.aol.com",
        ] {
            assert!(m.names().iter().any(|x| x == n), "{n}");
        }
        assert!(m.certificate_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(m.source(), &CertSource::Ephemeral);
        assert_eq!(m.chain().len(), 1);
        // No keyUsage extension (OID 2.5.29.15), which NSS would check the self-signed
        // certificate against as its own issuer; serverAuth extended key usage present.
        let der = m.chain()[0].as_ref();
        let has = |needle: &[u8]| der.windows(needle.len()).any(|w| w == needle);
        assert!(!has(&[0x06, 0x03, 0x55, 0x1D, 0x0F]));
        assert!(has(&[0x06, 0x03, 0x55, 0x1D, 0x25]));
    }

    #[test]
    fn half_configured_is_an_error() {
        let settings = TlsSettings {
            cert_path: Some("/nonexistent/cert.pem".into()),
            ..TlsSettings::default()
        };
        assert!(matches!(TlsMaterial::load(&settings, "x"), Err(TlsError::Incomplete)));
    }
}
