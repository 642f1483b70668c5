//! Helpers for the OpenAuth and TLS tests: a server with one account on 127.0.0.1:0, a tiny
//! HTTP/1.1 client (hyper, optionally over rustls with the ring provider), the Stack Overflow
//! asker's broken base string, and a raw FLAP client generic over the stream (TCP or TLS) for
//! BOS sign-on and BUCP logins.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use flapjack_auth::bucp::strong_hash;
use flapjack_auth::openauth::{ClientLoginData, Envelope, StartSessionData};
use flapjack_server::credentials::make_credentials;
use flapjack_server::store::{NewAccount, Store};
use flapjack_server::{Server, ServerConfig, SqliteOptions, SqliteStore};
use flapjack_wire::family::bucp::{Bucp, ChallengeRequest, ClientInfo, LoginOutcome, LoginRequest};
use flapjack_wire::family::oservice::Oservice;
use flapjack_wire::flap::{Channel, Decoded, FrameDecoder, Signon, signon_tag};
use flapjack_wire::snac::Message;
use flapjack_wire::{Snac, TlvBlock};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// The test account (the seed client's).
pub const USER: &str = "Erin";
/// Its password.
pub const PASSWORD: &str = "some password";
/// A second account.
pub const OTHER: &str = "Frank";
/// Its password.
pub const OTHER_PASSWORD: &str = "frank pw";

/// How long any single wait in a test may take.
pub const WAIT: Duration = Duration::from_secs(15);

/// The seed client's clientLogin body (seed-client-openauth capture), with `f` set by the test.
pub fn seed_login_body(format: &str) -> String {
    format!(
        "devId=whatever&k=whatever&f={format}&s=erin&pwd=some%20password&clientVersion=yadda%20yadda%20yadda&clientName=blah%20blah%20blah"
    )
}

/// A test configuration: ephemeral OSCAR and HTTP ports, cheap argon2.
pub fn config() -> ServerConfig {
    let mut config = ServerConfig::for_tests();
    config.http.http_addr = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    config
}

/// A server over an in-memory store holding [`USER`] and [`OTHER`].
pub async fn start(config: ServerConfig) -> Server {
    let store = Arc::new(SqliteStore::open_in_memory(SqliteOptions::default()).expect("store"));
    for (name, pw) in [(USER, PASSWORD), (OTHER, OTHER_PASSWORD)] {
        let credentials = make_credentials(pw.as_bytes(), &config.argon2, true).expect("credentials");
        store
            .create_account(NewAccount {
                screen_name: name.to_owned(),
                credentials,
                bot: false,
            })
            .await
            .expect("account");
    }
    flapjack_server::tls::install_crypto_provider();
    Server::start(config, store).await.expect("server")
}

/// A fresh empty directory under the system temp dir.
pub fn temp_dir(tag: &str) -> std::path::PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
    let dir = std::env::temp_dir().join(format!(
        "flapjack-{tag}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Now, Unix seconds.
pub fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

// ---------------------------------------------------------------------------------------------
// HTTP

/// How to reach an HTTP listener.
#[derive(Clone)]
pub struct Endpoint {
    /// The listener.
    pub addr: SocketAddr,
    /// TLS client configuration and the server name to verify, for HTTPS.
    pub tls: Option<(Arc<rustls::ClientConfig>, String)>,
    /// The `Host` header to send.
    pub host: String,
}

impl Endpoint {
    /// Plain HTTP to `addr`, `Host: addr`.
    pub fn plain(addr: SocketAddr) -> Self {
        Self {
            addr,
            tls: None,
            host: addr.to_string(),
        }
    }

    /// HTTPS to `addr` verifying `name` against `roots`; `Host: name:port`.
    pub fn https(addr: SocketAddr, roots: Arc<rustls::ClientConfig>, name: &str) -> Self {
        Self {
            addr,
            tls: Some((roots, name.to_owned())),
            host: format!("{name}:{}", addr.port()),
        }
    }

    /// `scheme://host/path`: the URL a client requesting through this endpoint signs.
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}{path}", self.host)
    }
}

/// An HTTP response.
#[derive(Debug)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: String,
    /// The body.
    pub body: String,
}

impl HttpResponse {
    /// The body as a clientLogin envelope (JSON or XML by content type).
    pub fn login_envelope(&self) -> Envelope<ClientLoginData> {
        assert_eq!(self.status, 200, "{self:?}");
        if self.content_type.contains("xml") {
            Envelope::from_xml(&self.body).expect("XML envelope")
        } else {
            Envelope::from_json(&self.body).expect("JSON envelope")
        }
    }

    /// The body as a startOSCARSession envelope.
    pub fn session_envelope(&self) -> Envelope<StartSessionData> {
        assert_eq!(self.status, 200, "{self:?}");
        if self.content_type.contains("xml") {
            Envelope::from_xml(&self.body).expect("XML envelope")
        } else {
            Envelope::from_json(&self.body).expect("JSON envelope")
        }
    }

    /// (statusCode, statusDetailCode) of the envelope.
    pub fn codes(&self) -> (u16, Option<u16>) {
        let env = self.session_envelope();
        (env.status_code.code(), env.status_detail_code.map(|d| d.code()))
    }
}

/// Sends one request (`target` is the raw path and query, sent byte for byte).
pub async fn request(ep: &Endpoint, method: &str, target: &str, body: Option<&[u8]>) -> HttpResponse {
    let tcp = tokio::time::timeout(WAIT, TcpStream::connect(ep.addr))
        .await
        .expect("connect in time")
        .expect("connect");
    match &ep.tls {
        None => send(TokioIo::new(tcp), ep, method, target, body).await,
        Some((config, name)) => {
            let name = ServerName::try_from(name.clone()).expect("server name");
            let tls = TlsConnector::from(config.clone())
                .connect(name, tcp)
                .await
                .expect("TLS handshake");
            send(TokioIo::new(tls), ep, method, target, body).await
        }
    }
}

async fn send<I>(io: TokioIo<I>, ep: &Endpoint, method: &str, target: &str, body: Option<&[u8]>) -> HttpResponse
where
    I: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.expect("HTTP handshake");
    tokio::spawn(conn);
    let mut builder = hyper::Request::builder()
        .method(method)
        .uri(target)
        .header("host", &ep.host);
    if body.is_some() {
        builder = builder.header("content-type", "application/x-www-form-urlencoded; charset=UTF-8");
    }
    let req = builder
        .body(Full::new(Bytes::from(body.unwrap_or_default().to_vec())))
        .expect("request");
    let resp = tokio::time::timeout(WAIT, sender.send_request(req))
        .await
        .expect("response in time")
        .expect("response");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    HttpResponse {
        status,
        content_type,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// `POST /auth/clientLogin` with `body`.
pub async fn client_login(ep: &Endpoint, body: &str) -> HttpResponse {
    request(ep, "POST", "/auth/clientLogin", Some(body.as_bytes())).await
}

/// A successful clientLogin's data.
pub async fn login_ok(ep: &Endpoint, body: &str) -> ClientLoginData {
    let resp = client_login(ep, body).await;
    resp.login_envelope()
        .into_result()
        .unwrap_or_else(|e| panic!("clientLogin failed: {e} ({resp:?})"))
}

/// `GET /aim/startOSCARSession?<raw_query>`.
pub async fn start_session(ep: &Endpoint, raw_query: &str) -> HttpResponse {
    request(ep, "GET", &format!("/aim/startOSCARSession?{raw_query}"), None).await
}

/// A rustls client configuration (ring provider) trusting the PEM certificate(s).
pub fn client_config(pem: &str) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        roots.add(cert.expect("PEM certificate")).expect("trust anchor");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

// ---------------------------------------------------------------------------------------------
// The Stack Overflow asker's base string (§2.10), rebuilt with Python 2's rules (as in
// flapjack-auth's tests).

/// Python 2 `urllib.quote(s)`: keeps letters, digits, `_.-` and `/` (the default `safe`).
pub fn py2_quote(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"_.-/".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Python 2 `urllib.urlencode(pairs)`: `quote_plus` with `safe=''` (space → `+`).
pub fn py2_urlencode(pairs: &[(&str, &str)]) -> String {
    let quote_plus = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b' ' => "+".to_owned(),
                b if b.is_ascii_alphanumeric() || b"_.-".contains(&b) => (b as char).to_string(),
                b => format!("%{b:02X}"),
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", quote_plus(k), quote_plus(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `"GET&" + urllib.quote(url + "?") + urllib.urlencode(params)`.
pub fn so_broken_base(url: &str, pairs: &[(&str, &str)]) -> String {
    format!("GET&{}{}", py2_quote(&format!("{url}?")), py2_urlencode(pairs))
}

// ---------------------------------------------------------------------------------------------
// FLAP

/// A raw OSCAR connection over any stream.
pub struct Flap<S> {
    io: S,
    buf: Vec<u8>,
    seq: u16,
    next_request: u32,
}

/// A received frame.
#[derive(Debug, Clone)]
pub struct RxFrame {
    /// The channel.
    pub channel: Channel,
    /// The payload.
    pub payload: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Flap<S> {
    /// Wraps a connected stream and reads the server's hello.
    pub async fn open(io: S) -> Self {
        let mut f = Self {
            io,
            buf: Vec::new(),
            seq: 0x2000,
            next_request: 1,
        };
        let hello = f.recv().await.expect("server hello");
        assert_eq!(hello.channel, Channel::Signon);
        assert_eq!(hello.payload, [0, 0, 0, 1]);
        f
    }

    /// Sends one frame.
    pub async fn send_frame(&mut self, channel: Channel, payload: &[u8]) {
        let mut out = Vec::new();
        flapjack_wire::flap::encode_frame_with(&mut out, channel, self.seq, |o| o.extend_from_slice(payload))
            .expect("frame");
        self.seq = self.seq.wrapping_add(1);
        self.io.write_all(&out).await.expect("write");
        self.io.flush().await.expect("flush");
    }

    /// Sends a channel-1 frame with `tlvs`.
    pub async fn send_signon(&mut self, tlvs: TlvBlock<'_>) {
        let mut payload = Vec::new();
        Signon { version: 1, tlvs }.encode(&mut payload);
        self.send_frame(Channel::Signon, &payload).await;
    }

    /// Sends a SNAC.
    pub async fn send(&mut self, message: Message<'_>) {
        let id = self.next_request;
        self.next_request += 1;
        let bytes = Snac::new(id, message).to_bytes();
        self.send_frame(Channel::Data, &bytes).await;
    }

    /// The next frame, or `None` once the server closed the connection.
    pub async fn recv(&mut self) -> Option<RxFrame> {
        let decoder = FrameDecoder::new();
        loop {
            if let Decoded::Complete { value, consumed } = decoder.decode(&self.buf).expect("well-formed frames") {
                let frame = RxFrame {
                    channel: value.channel,
                    payload: value.payload().to_vec(),
                };
                self.buf.drain(..consumed);
                return Some(frame);
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(WAIT, self.io.read(&mut chunk))
                .await
                .expect("a frame in time")
                .unwrap_or(0);
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// The next SNAC frame's payload, skipping keepalives; `None` on sign-off or close.
    pub async fn recv_snac(&mut self) -> Option<Vec<u8>> {
        loop {
            let f = self.recv().await?;
            match f.channel {
                Channel::Keepalive => continue,
                Channel::Data => return Some(f.payload),
                _ => return None,
            }
        }
    }
}

/// What a BOS connection attempt led to.
#[derive(Debug, PartialEq, Eq)]
pub enum Bos {
    /// Host online, with the families served.
    HostOnline(Vec<u16>),
    /// The server signed the connection off (cookie refused).
    Refused,
}

/// Presents `cookie` on a BOS connection over `io`.
pub async fn bos_signon<S: AsyncRead + AsyncWrite + Unpin>(io: S, cookie: &[u8]) -> Bos {
    let mut f = Flap::open(io).await;
    f.send_signon(TlvBlock::builder().bytes(signon_tag::COOKIE, cookie).build().unwrap())
        .await;
    let Some(payload) = f.recv_snac().await else {
        return Bos::Refused;
    };
    let snac = Snac::decode(&payload).expect("SNAC");
    match snac.message {
        Message::Oservice(Oservice::HostOnline(list)) => Bos::HostOnline(list.iter().map(|f| f.value()).collect()),
        other => panic!("expected host online, got {other:?}"),
    }
}

/// A TCP connection to `addr`.
pub async fn tcp(addr: SocketAddr) -> TcpStream {
    tokio::time::timeout(WAIT, TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect")
}

/// A TLS connection to `addr`, verifying the certificate against `name`.
pub async fn tls(addr: SocketAddr, config: Arc<rustls::ClientConfig>, name: &str) -> TlsStream<TcpStream> {
    let tcp = tcp(addr).await;
    TlsConnector::from(config)
        .connect(ServerName::try_from(name.to_owned()).expect("server name"), tcp)
        .await
        .expect("TLS handshake")
}

/// What a BUCP login handed out.
#[derive(Debug)]
pub struct BucpSuccess {
    /// TLV 0x0005.
    pub bos_address: String,
    /// TLV 0x0006.
    pub cookie: Vec<u8>,
}

/// A BUCP (MD5, strong hash) login over `io`: what it handed out, or the login error code.
pub async fn bucp_login<S: AsyncRead + AsyncWrite + Unpin>(
    io: S,
    name: &str,
    password: &str,
) -> Result<BucpSuccess, u16> {
    let mut f = Flap::open(io).await;
    f.send_signon(TlvBlock::empty()).await;
    f.send(Message::Bucp(Bucp::ChallengeRequest(
        ChallengeRequest::new(name.as_bytes()).unwrap(),
    )))
    .await;
    let payload = f.recv_snac().await.expect("17/07");
    let key = match Snac::decode(&payload).expect("SNAC").message {
        Message::Bucp(Bucp::ChallengeResponse(r)) => r.key.as_bytes().to_vec(),
        other => panic!("expected 17/07, got {other:?}"),
    };
    let hash = strong_hash(&key, password.as_bytes());
    let login = LoginRequest::new(name.as_bytes(), &hash, true, &ClientInfo::default()).unwrap();
    f.send(Message::Bucp(Bucp::LoginRequest(login))).await;
    let payload = f.recv_snac().await.expect("17/03");
    let snac = Snac::decode(&payload).expect("SNAC");
    let Message::Bucp(Bucp::LoginResponse(resp)) = &snac.message else {
        panic!("expected 17/03, got {:?}", snac.message);
    };
    match resp.outcome().expect("outcome") {
        LoginOutcome::Success {
            bos_address, cookie, ..
        } => Ok(BucpSuccess {
            bos_address: String::from_utf8_lossy(bos_address).into_owned(),
            cookie: cookie.to_vec(),
        }),
        LoginOutcome::Failure(e) => Err(e.value()),
    }
}
