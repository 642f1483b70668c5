//! A tiny raw OSCAR client for driving a real listener in tests, built on flapjack-wire and the
//! flapjack-auth hashes, plus server set-up helpers.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use flapjack_auth::bucp::{HashKind, client_hash};
use flapjack_server::credentials::make_credentials;
use flapjack_server::store::{NewAccount, Store};
use flapjack_server::{Server, ServerConfig, SqliteOptions, SqliteStore};
use flapjack_wire::family::bucp::{Bucp, ChallengeRequest, ClientInfo, LoginOutcome, LoginRequest, LoginResponse};
use flapjack_wire::family::oservice::{ClientReadyEntry, FamilyVersion, Oservice};
use flapjack_wire::flap::{Channel, Decoded, FrameDecoder, Signon, signon_tag};
use flapjack_wire::list::U16Item;
use flapjack_wire::snac::Message;
use flapjack_wire::{Family, List, Snac, TlvBlock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long any single wait in a test may take.
pub const WAIT: Duration = Duration::from_secs(10);

/// A server on 127.0.0.1:0 over an in-memory store holding `accounts` (name, password).
pub async fn start_server(config: ServerConfig, accounts: &[(&str, &str)]) -> Server {
    let store = Arc::new(SqliteStore::open_in_memory(SqliteOptions::default()).expect("store"));
    for (name, pw) in accounts {
        let credentials = make_credentials(pw.as_bytes(), &config.argon2, true).expect("credentials");
        store
            .create_account(NewAccount {
                screen_name: (*name).to_owned(),
                credentials,
                bot: false,
            })
            .await
            .expect("account");
    }
    Server::start(config, store).await.expect("server")
}

/// A frame as received: channel and owned payload.
#[derive(Debug, Clone)]
pub struct RxFrame {
    /// The channel.
    pub channel: Channel,
    /// The payload.
    pub payload: Vec<u8>,
}

impl RxFrame {
    /// The SNAC of a channel-2 frame.
    pub fn snac(&self) -> Snac<'_> {
        assert_eq!(self.channel, Channel::Data, "expected a SNAC frame");
        Snac::decode(&self.payload).expect("decodable SNAC")
    }

    /// The TLVs of a channel-4 frame.
    pub fn signoff_tlvs(&self) -> TlvBlock<'_> {
        assert_eq!(self.channel, Channel::Signoff, "expected a sign-off frame");
        TlvBlock::from_raw(&self.payload[..]).expect("TLVs")
    }
}

/// A raw OSCAR connection.
pub struct RawClient {
    stream: TcpStream,
    buf: Vec<u8>,
    seq: u16,
    next_request: u32,
}

impl RawClient {
    /// Connects and reads the server's hello.
    pub async fn connect(addr: SocketAddr) -> Self {
        let stream = tokio::time::timeout(WAIT, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        let mut c = Self {
            stream,
            buf: Vec::new(),
            seq: 0x1234,
            next_request: 1,
        };
        let hello = c.recv().await.expect("server hello");
        assert_eq!(hello.channel, Channel::Signon);
        assert_eq!(hello.payload, [0, 0, 0, 1]);
        c
    }

    /// Sends raw bytes.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Sends one frame.
    pub async fn send_frame(&mut self, channel: Channel, payload: &[u8]) {
        let mut out = Vec::new();
        flapjack_wire::flap::encode_frame_with(&mut out, channel, self.seq, |o| o.extend_from_slice(payload))
            .expect("frame");
        self.seq = self.seq.wrapping_add(1);
        self.send_raw(&out).await;
    }

    /// Sends a channel-1 frame with `tlvs`.
    pub async fn send_signon(&mut self, tlvs: TlvBlock<'_>) {
        let mut payload = Vec::new();
        Signon { version: 1, tlvs }.encode(&mut payload);
        self.send_frame(Channel::Signon, &payload).await;
    }

    /// Sends a SNAC with a fresh request id, returned.
    pub async fn send(&mut self, message: Message<'_>) -> u32 {
        let id = self.next_request;
        self.next_request += 1;
        let bytes = Snac::new(id, message).to_bytes();
        self.send_frame(Channel::Data, &bytes).await;
        id
    }

    /// The next frame, or `None` when the server closed the connection.
    pub async fn recv(&mut self) -> Option<RxFrame> {
        let decoder = FrameDecoder::new();
        loop {
            match decoder.decode(&self.buf).expect("server frames are well formed") {
                Decoded::Complete { value, consumed } => {
                    let frame = RxFrame {
                        channel: value.channel,
                        payload: value.payload().to_vec(),
                    };
                    self.buf.drain(..consumed);
                    return Some(frame);
                }
                Decoded::Incomplete { .. } => {}
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(WAIT, self.stream.read(&mut chunk))
                .await
                .expect("a frame in time")
                .unwrap_or(0);
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// The next channel-2 frame, skipping keepalives.
    pub async fn recv_snac(&mut self) -> RxFrame {
        loop {
            let f = self.recv().await.expect("a SNAC, not a closed connection");
            match f.channel {
                Channel::Keepalive => continue,
                Channel::Data => return f,
                other => panic!("expected a SNAC, got a {other:?} frame: {:02x?}", f.payload),
            }
        }
    }

    /// The next SNAC of `family`/`subtype`, skipping others (e.g. unsolicited notices).
    pub async fn recv_snac_of(&mut self, family: u16, subtype: u16) -> RxFrame {
        for _ in 0..64 {
            let f = self.recv_snac().await;
            let h = f.snac().header();
            if h.family == family && h.subtype == subtype {
                return f;
            }
        }
        panic!("no {family:04x}/{subtype:04x} among 64 SNACs");
    }

    /// Expects a channel-4 frame (returned) followed by the end of the stream.
    pub async fn expect_signoff(&mut self) -> RxFrame {
        let f = self.recv().await.expect("a sign-off frame");
        assert_eq!(f.channel, Channel::Signoff, "expected sign-off, got {f:?}");
        assert!(self.recv().await.is_none(), "connection closed after sign-off");
        f
    }

    /// Expects the server to close the connection, possibly after a channel-4 frame.
    pub async fn expect_closed(&mut self) {
        while let Some(f) = self.recv().await {
            assert_eq!(f.channel, Channel::Signoff, "unexpected frame before close: {f:?}");
        }
    }
}

/// Runs a BUCP login; returns the connection's 17/03 response (owned) after the final
/// channel-4 frame and close.
pub async fn bucp_login(addr: SocketAddr, name: &str, password: &str, kind: HashKind) -> LoginResponse<'static> {
    let mut c = RawClient::connect(addr).await;
    c.send_signon(TlvBlock::empty()).await;
    let req = c
        .send(Message::Bucp(Bucp::ChallengeRequest(
            ChallengeRequest::new(name.as_bytes()).unwrap(),
        )))
        .await;
    let f = c.recv_snac().await;
    let snac = f.snac();
    assert_eq!(snac.request_id, req);
    let key = match &snac.message {
        Message::Bucp(Bucp::ChallengeResponse(r)) => r.key.as_bytes().to_vec(),
        Message::Bucp(Bucp::LoginResponse(r)) => {
            let r = r.clone().tlvs.into_owned();
            c.expect_signoff().await;
            return LoginResponse { tlvs: r };
        }
        other => panic!("unexpected answer to 17/06: {other:?}"),
    };
    let hash = client_hash(kind, &key, password.as_bytes());
    let login = LoginRequest::new(name.as_bytes(), &hash, kind == HashKind::Strong, &ClientInfo::default()).unwrap();
    let req = c.send(Message::Bucp(Bucp::LoginRequest(login))).await;
    let f = c.recv_snac().await;
    let snac = f.snac();
    assert_eq!(snac.request_id, req);
    let Message::Bucp(Bucp::LoginResponse(resp)) = &snac.message else {
        panic!("expected 17/03, got {:?}", snac.message);
    };
    let resp = LoginResponse {
        tlvs: resp.tlvs.clone().into_owned(),
    };
    let bye = c.expect_signoff().await;
    assert!(bye.payload.is_empty(), "BUCP ends with an empty channel-4 frame");
    resp
}

/// The key a 17/06 for `name` is answered with.
pub async fn challenge_key(addr: SocketAddr, name: &str) -> Vec<u8> {
    let mut c = RawClient::connect(addr).await;
    c.send_signon(TlvBlock::empty()).await;
    c.send(Message::Bucp(Bucp::ChallengeRequest(
        ChallengeRequest::new(name.as_bytes()).unwrap(),
    )))
    .await;
    let f = c.recv_snac().await;
    match f.snac().message {
        Message::Bucp(Bucp::ChallengeResponse(r)) => r.key.as_bytes().to_vec(),
        other => panic!("expected 17/07, got {other:?}"),
    }
}

/// Logs in with BUCP and returns the cookie; panics on failure.
pub async fn login_cookie(addr: SocketAddr, name: &str, password: &str) -> Vec<u8> {
    let resp = bucp_login(addr, name, password, HashKind::Strong).await;
    match resp.outcome().expect("outcome") {
        LoginOutcome::Success {
            bos_address, cookie, ..
        } => {
            assert_eq!(String::from_utf8_lossy(bos_address), addr.to_string());
            cookie.to_vec()
        }
        LoginOutcome::Failure(e) => panic!("login failed: {e:?}"),
    }
}

/// Connects to BOS with `cookie`; returns the client after host online (and the families).
pub async fn bos_connect(addr: SocketAddr, cookie: &[u8]) -> (RawClient, Vec<u16>) {
    let mut c = RawClient::connect(addr).await;
    c.send_signon(TlvBlock::builder().bytes(signon_tag::COOKIE, cookie).build().unwrap())
        .await;
    let f = c.recv_snac().await;
    let Message::Oservice(Oservice::HostOnline(list)) = f.snac().message else {
        panic!("expected host online, got {:?}", f.snac().message);
    };
    let families = list.iter().map(|f| f.value()).collect();
    (c, families)
}

/// The whole BOS sign-on (§7) through client ready; returns the client.
pub async fn sign_on(addr: SocketAddr, name: &str, password: &str) -> RawClient {
    let cookie = login_cookie(addr, name, password).await;
    let (c, families) = bos_connect(addr, &cookie).await;
    finish_sign_on(c, &families).await
}

/// Versions, rates and the rate subscription (§7 steps 4–9) after host online, announcing
/// `version(family)` for each family.
pub async fn negotiate(c: &mut RawClient, families: &[u16], version: impl Fn(u16) -> u16) {
    let versions: Vec<FamilyVersion> = families
        .iter()
        .map(|&f| FamilyVersion {
            family: Family::from(f),
            version: version(f),
        })
        .collect();
    c.send(Message::Oservice(Oservice::ClientVersions(
        List::from_items(versions.iter(), 100).unwrap(),
    )))
    .await;
    c.recv_snac_of(0x0001, 0x0018).await;
    c.send(Message::Oservice(Oservice::RateParamsQuery)).await;
    let rates = c.recv_snac_of(0x0001, 0x0007).await;
    let ids: Vec<u16> = match rates.snac().message {
        Message::Oservice(Oservice::RateParamsReply(r)) => r.class_ids().collect(),
        other => panic!("expected 01/07, got {other:?}"),
    };
    c.send(Message::Oservice(Oservice::RateParamsSubAdd(
        List::<U16Item>::from_items(ids.iter(), 100).unwrap(),
    )))
    .await;
}

/// The rest of the BOS sign-on after host online: versions, rates, rate ack, client ready.
pub async fn finish_sign_on(mut c: RawClient, families: &[u16]) -> RawClient {
    negotiate(&mut c, families, |f| if f == 1 { 3 } else { 1 }).await;
    let ready: Vec<ClientReadyEntry> = families
        .iter()
        .map(|&f| ClientReadyEntry {
            family: Family::from(f),
            version: 1,
            tool_id: 0x0110,
            tool_version: 0x0629,
        })
        .collect();
    c.send(Message::Oservice(Oservice::ClientReady(
        List::from_items(ready.iter(), 100).unwrap(),
    )))
    .await;
    c
}

/// Waits until `name` has a signed-on session on `server`.
pub async fn wait_signed_on(server: &Server, name: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        if server.state().registry.sessions(name).iter().any(|s| s.is_ready()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{name} never signed on");
}
