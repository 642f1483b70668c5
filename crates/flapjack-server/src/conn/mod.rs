//! The per-connection task.
//!
//! On accept the server sends the FLAP hello, then reads the client's channel-1 frame and
//! classifies it (§4.4): a cookie opens a BOS (or service) session, TLV 0x0001 is a roasted
//! login, anything else means a BUCP login follows on channel 2.
//!
//! The task owns the read half and a [`FrameReader`]; a separate writer task drains the
//! connection's bounded outbound queue ([`Outbox`]). Errors end this connection only: a
//! malformed frame closes it, an undecodable SNAC gets its family's error SNAC (0x0E, busted
//! payload) with the same request id, and nothing on the input path panics.
//!
//! Metrics ([`crate::metrics`]) counted here: every cookie presented on channel 1 (method
//! `cookie`), the `sessions_online` gauge (a BOS session counts from its registration to the
//! end of its connection), and the rate-class events checked per SNAC (`on_session_snac`).

pub mod io;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use flapjack_wire::family::bucp::Bucp;
use flapjack_wire::family::oservice::{Oservice, RateChangeCode};
use flapjack_wire::flap::{Channel, FlapMessage, Signon, SignonKind, signoff_tag};
use flapjack_wire::snac::{Message, RawSnac, SnacError};
use flapjack_wire::{ErrorCode, Family, List, Snac, TlvBlock};
use tokio::io::AsyncRead;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use self::io::{FrameReader, SplitStream};
use crate::cookie::ServiceKind;
use crate::login::{self, ChallengeAnswer};
use crate::metrics::{LoginMethod, LoginResult, RateEvent};
use crate::rate::RateLimiter;
use crate::server::ServerState;
use crate::services::{self, Cx};
use crate::session::{Disconnect, Outbound, Outbox, OutboxReceiver, Session, SessionInfo};

/// How a connection ends.
#[derive(Debug)]
enum End {
    /// Send this channel-4 payload, then close.
    Goodbye(Bytes),
    /// Close at once (the peer left, reads too slowly, or broke the framing).
    Drop,
}

/// What the connection is doing.
enum Phase {
    /// Waiting for the client's channel-1 frame.
    AwaitSignon,
    /// A BUCP login is in progress.
    Bucp,
    /// A signed-on (or signing-on) session.
    Session {
        session: Arc<Session>,
        service: ServiceKind,
        families: &'static [u16],
    },
}

struct Core {
    state: Arc<ServerState>,
    peer: SocketAddr,
    tls: bool,
    outbox: Outbox,
    kill: watch::Receiver<Option<Disconnect>>,
    shutdown: watch::Receiver<bool>,
    phase: Phase,
    rate: RateLimiter,
    login_deadline: Instant,
    /// The account read for a BUCP challenge, for the login that follows.
    bucp: login::BucpCarry,
}

/// Runs one connection to its end.
pub(crate) async fn run<S: SplitStream>(state: Arc<ServerState>, stream: S, peer: SocketAddr, tls: bool) {
    let (rd, wr) = stream.split_halves();
    let (outbox, OutboxReceiver { rx, kill }) = Outbox::new(state.config.outbound_queue);
    let seq = crate::random::random_bytes::<2>().map_or(100, |b| u16::from_be_bytes(b) & 0x7FFF);
    let mut writer = tokio::spawn(io::run_writer(wr, rx, seq).in_current_span());
    let mut reader = FrameReader::new(rd, state.config.max_frame_payload);
    let now = Instant::now();
    let mut core = Core {
        shutdown: state.shutdown_signal(),
        login_deadline: now + state.config.login_timeout,
        state,
        peer,
        tls,
        outbox,
        kill,
        phase: Phase::AwaitSignon,
        rate: RateLimiter::new(now),
        bucp: login::BucpCarry::default(),
    };
    tracing::debug!(tls, "connection opened");
    let end = match core.hello() {
        Ok(()) => core.drive(&mut reader).await,
        Err(_) => End::Drop,
    };
    core.finish(end, &mut writer).await;
}

impl Core {
    fn hello(&self) -> Result<(), crate::session::PushError> {
        let mut payload = Vec::with_capacity(4);
        Signon::hello().encode(&mut payload);
        self.outbox.push(Outbound::Frame {
            channel: Channel::Signon,
            payload: Bytes::from(payload),
        })
    }

    async fn drive<R: AsyncRead + Unpin>(&mut self, reader: &mut FrameReader<R>) -> End {
        loop {
            loop {
                let fr = match reader.next_frame() {
                    Ok(Some(fr)) => fr,
                    Ok(None) => break,
                    Err(e) => {
                        tracing::info!(error = %e, "malformed frame; closing");
                        return End::Goodbye(Bytes::new());
                    }
                };
                if let Some(end) = self.on_frame(fr.channel, reader.payload(&fr)).await {
                    return end;
                }
                // Most SNACs are handled without waiting for anything: count each against the
                // task's cooperative budget, so that a burst (a bot's thousand IMs in one
                // read) lets the recipients' writers run instead of filling their queues.
                tokio::task::coop::consume_budget().await;
            }
            let wait = self.read_timeout();
            tokio::select! {
                biased;
                _ = self.kill.changed() => {
                    let reason = *self.kill.borrow();
                    return end_for(reason);
                }
                _ = self.shutdown.wait_for(|down| *down) => {
                    return End::Goodbye(Bytes::new());
                }
                r = tokio::time::timeout(wait, reader.read_more()) => match r {
                    Err(_) => {
                        tracing::info!(after_s = wait.as_secs(), "timed out; closing");
                        return End::Goodbye(Bytes::new());
                    }
                    Ok(Ok(0)) => return End::Drop,
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "read failed");
                        return End::Drop;
                    }
                },
            }
        }
    }

    fn read_timeout(&self) -> Duration {
        match self.phase {
            Phase::Session { .. } => self.state.config.idle_timeout,
            _ => self.login_deadline.saturating_duration_since(Instant::now()),
        }
    }

    async fn on_frame(&mut self, channel: Channel, payload: &[u8]) -> Option<End> {
        match (&self.phase, channel) {
            (_, Channel::Keepalive) => None,
            // The client says goodbye.
            (_, Channel::Signoff) => Some(End::Drop),
            (Phase::AwaitSignon, Channel::Signon) => self.on_signon(payload).await,
            (Phase::Bucp, Channel::Data) => self.on_bucp(payload).await,
            (Phase::Session { .. }, Channel::Data) => self.on_session_snac(payload).await,
            (_, other) => {
                tracing::info!(channel = ?other, "unexpected channel; closing");
                Some(End::Goodbye(Bytes::new()))
            }
        }
    }

    async fn on_signon(&mut self, payload: &[u8]) -> Option<End> {
        let signon = match FlapMessage::decode(Channel::Signon, payload) {
            Ok(FlapMessage::Signon(s)) if s.version == flapjack_wire::flap::FLAP_VERSION => s,
            _ => {
                tracing::info!("bad channel-1 frame; closing");
                return Some(End::Goodbye(Bytes::new()));
            }
        };
        match signon.kind() {
            SignonKind::Bucp => {
                self.phase = Phase::Bucp;
                None
            }
            SignonKind::RoastedLogin => {
                let result = login::roasted_login(&self.state, self.peer.ip(), self.tls, &signon.tlvs).await;
                Some(End::Goodbye(Bytes::from(result.tlvs.as_bytes().to_vec())))
            }
            SignonKind::Cookie => {
                // OpenAuth clients send the multi-connection flag with the cookie (§2.9).
                let multi_conn = signon.tlvs.get_u8(flapjack_wire::flap::signon_tag::MULTI_CONN);
                self.begin_session(signon.cookie().unwrap_or_default(), multi_conn)
                    .await
            }
        }
    }

    async fn on_bucp(&mut self, payload: &[u8]) -> Option<End> {
        let raw = match RawSnac::decode(payload) {
            Ok(r) => r,
            Err(_) => return Some(End::Goodbye(Bytes::new())),
        };
        let header = raw.header;
        let snac = match raw.typed() {
            Ok(s) => s,
            Err(e) => {
                tracing::info!(error = %e, "undecodable SNAC during login");
                return self.error_snac(header.family, header.request_id, ErrorCode::BustedSnacPayload);
            }
        };
        match snac.message {
            Message::Bucp(Bucp::ChallengeRequest(req)) => {
                match login::bucp_challenge(&self.state, self.tls, &req, &mut self.bucp).await {
                    ChallengeAnswer::Key(key) => {
                        self.push_reply(header.request_id, Message::Bucp(Bucp::ChallengeResponse(key)))
                    }
                    ChallengeAnswer::Refused(resp) => {
                        self.push_reply(header.request_id, Message::Bucp(Bucp::LoginResponse(resp)));
                        Some(End::Goodbye(Bytes::new()))
                    }
                }
            }
            Message::Bucp(Bucp::LoginRequest(req)) => {
                let resp = login::bucp_login(&self.state, self.peer.ip(), self.tls, &req, &mut self.bucp).await;
                self.push_reply(header.request_id, Message::Bucp(Bucp::LoginResponse(resp)));
                // Clients expect an empty channel-4 frame after 17/03.
                Some(End::Goodbye(Bytes::new()))
            }
            _ => self.error_snac(header.family, header.request_id, ErrorCode::InvalidSnac),
        }
    }

    /// Opens a session for a cookie presented with `hello_multi_conn` (TLV 0x004A on the
    /// channel-1 frame, if any; it overrides the login's flag).
    async fn begin_session(&mut self, cookie: &[u8], hello_multi_conn: Option<u8>) -> Option<End> {
        let (grant, login_multi_conn) =
            match self
                .state
                .cookies
                .redeem_with_multi_conn(cookie, self.tls, Instant::now())
            {
                Ok(g) => g,
                Err(e) => {
                    tracing::info!(error = %e, "cookie refused");
                    self.state.metrics.login(LoginMethod::Cookie, LoginResult::Rejected);
                    return Some(End::Goodbye(Bytes::new()));
                }
            };
        if !services::serves(&grant.service) {
            self.state.metrics.login(LoginMethod::Cookie, LoginResult::Refused);
            tracing::info!(service = ?grant.service, "service connections of this kind are not served yet");
            return Some(End::Goodbye(Bytes::new()));
        }
        // A BOS sign-on reads its feedbag and offline-message state with the account, in one
        // store call (services::sign_on).
        let bos = grant.service == ServiceKind::Bos;
        let (account, stash) = match services::sign_on::read(&self.state, &grant.normalized, bos).await {
            Ok(Some(a)) => a,
            Ok(None) => {
                tracing::info!(account = %grant.normalized, "cookie for a deleted account");
                self.state.metrics.login(LoginMethod::Cookie, LoginResult::Rejected);
                return Some(End::Goodbye(Bytes::new()));
            }
            Err(e) => {
                tracing::error!(error = %e, "store failed at sign-on");
                self.state.metrics.login(LoginMethod::Cookie, LoginResult::Error);
                return Some(End::Goodbye(Bytes::new()));
            }
        };
        self.state.metrics.login(LoginMethod::Cookie, LoginResult::Success);
        tracing::Span::current().record("user", account.normalized.as_str());
        // Bots get their relaxed rate classes (advertised in 0x0001/0x0007 and enforced here).
        if account.bot {
            self.rate = RateLimiter::for_account(Instant::now(), true);
        }
        let info = SessionInfo {
            screen_name: account.screen_name.clone(),
            normalized: account.normalized.clone(),
            created_at: u32::try_from(account.created_at).unwrap_or(0),
            signon_time: services::unix_now(),
            bot: account.bot,
            tls: self.tls,
        };
        let session = Session::new(info, self.outbox.clone(), account.warning);
        let decay = self.state.config.warning_decay;
        let since = u32::try_from(account.warning_updated).unwrap_or(0);
        session.with_state(|s| {
            s.set_warning(account.warning, since, decay);
            s.sign_on = stash;
        });
        // The registry holds BOS sessions only: it routes IMs and presence. Service connections
        // (chat rooms, chat nav) are tracked by their services.
        if grant.service == ServiceKind::Bos {
            let multi_conn = hello_multi_conn.or(login_multi_conn);
            if self.state.config.multi_session.kicks_older(multi_conn) {
                // Single session (§10): the older sessions leave the registry now (so nothing
                // more is routed to them) and are signed off with TLV 0x0009 = 1.
                let older = self.state.registry.register_replacing(session.clone());
                for old in &older {
                    tracing::info!(
                        session = old.id(),
                        "signed on from another location; signing the older session off"
                    );
                    old.outbox().disconnect(Disconnect::SignedOnElsewhere);
                }
            } else {
                self.state.registry.register(session.clone());
            }
            // Balanced by session_ended in finish(), which every Phase::Session reaches.
            self.state.metrics.session_started();
        }
        let families = services::families_for(&grant.service);
        self.phase = Phase::Session {
            session,
            service: grant.service,
            families,
        };
        let fams: Vec<Family> = families.iter().map(|&f| Family::from(f)).collect();
        let online = match List::from_items(fams.iter(), usize::from(u16::MAX)) {
            Ok(l) => l,
            Err(_) => return Some(End::Goodbye(Bytes::new())),
        };
        self.push_reply(
            crate::session::next_server_request_id(),
            Message::Oservice(Oservice::HostOnline(online)),
        )
    }

    async fn on_session_snac(&mut self, payload: &[u8]) -> Option<End> {
        let raw = match RawSnac::decode(payload) {
            Ok(r) => r,
            Err(e) => {
                tracing::info!(error = %e, "channel-2 frame without a SNAC header; closing");
                return Some(End::Goodbye(Bytes::new()));
            }
        };
        let header = raw.header;
        let received = Instant::now();
        if self.state.config.enforce_rate_limits {
            let d = self.rate.on_snac(header.family, header.subtype, received);
            if let Some(change) = d.change {
                if change.code == RateChangeCode::Warning {
                    self.state.metrics.rate_event(RateEvent::Warn);
                } else if change.code == RateChangeCode::Limit {
                    self.state.metrics.rate_event(RateEvent::Limit);
                }
                let _ = self.outbox.push_snac(&Snac::new(
                    crate::session::next_server_request_id(),
                    Message::Oservice(Oservice::RateChange(change)),
                ));
            }
            if d.disconnect {
                self.state.metrics.rate_event(RateEvent::Disconnect);
                tracing::info!(
                    family = header.family,
                    subtype = header.subtype,
                    "rate limit exceeded; disconnecting"
                );
                return Some(End::Goodbye(Bytes::new()));
            }
            if !d.allow {
                self.state.metrics.rate_event(RateEvent::Dropped);
                tracing::debug!(
                    family = header.family,
                    subtype = header.subtype,
                    "rate limited; SNAC dropped"
                );
                return None;
            }
        }
        let Phase::Session {
            session,
            service,
            families,
        } = &self.phase
        else {
            return Some(End::Drop);
        };
        if !families.contains(&header.family) {
            return self.error_snac(header.family, header.request_id, ErrorCode::InvalidSnac);
        }
        let snac = match raw.typed() {
            Ok(s) => s,
            Err(e) => {
                tracing::info!(family = header.family, subtype = header.subtype, error = %e, "undecodable SNAC");
                return self.error_snac(header.family, header.request_id, ErrorCode::BustedSnacPayload);
            }
        };
        let cx = Cx {
            state: &self.state,
            session,
            service,
            families,
            request_id: header.request_id,
            received,
        };
        // An IM to someone online is handled without awaiting anything: no state machine.
        let handled = match &snac.message {
            Message::Icbm(flapjack_wire::family::icbm::Icbm::SendIm(im)) => services::icbm::try_send_im(&cx, im),
            _ => None,
        };
        // Boxed: the services' state machines would otherwise sit in every connection task's
        // future, idle or not (about 0.7 KiB each); one allocation per SNAC is cheaper.
        let result = match handled {
            Some(result) => result,
            None => Box::pin(services::dispatch(&cx, snac)).await,
        };
        match result {
            Ok(()) => None,
            Err(e) => {
                tracing::info!(error = %e, "service failed; closing");
                Some(End::Drop)
            }
        }
    }

    fn push_reply(&self, request_id: u32, message: Message<'_>) -> Option<End> {
        match self.outbox.push_snac(&Snac::new(request_id, message)) {
            Ok(()) => None,
            Err(_) => Some(End::Drop),
        }
    }

    fn error_snac(&self, family: u16, request_id: u32, code: ErrorCode) -> Option<End> {
        self.push_reply(
            request_id,
            Message::Error {
                family: Family::from(family),
                error: SnacError::new(code),
            },
        )
    }

    async fn finish(self, end: End, writer: &mut JoinHandle<()>) {
        if let Phase::Session { session, service, .. } = &self.phase {
            if *service == ServiceKind::Bos {
                self.state.registry.unregister(session);
                self.state.metrics.session_ended();
                services::signed_off(&self.state, session).await;
            } else {
                services::service_closed(&self.state, session, service).await;
            }
        }
        match end {
            End::Goodbye(payload) => {
                if self.outbox.push(Outbound::Close { payload }).is_err() {
                    writer.abort();
                }
            }
            End::Drop => writer.abort(),
        }
        drop(self.outbox);
        if tokio::time::timeout(Duration::from_secs(5), &mut *writer)
            .await
            .is_err()
        {
            writer.abort();
        }
        tracing::debug!("connection closed");
    }
}

fn end_for(reason: Option<Disconnect>) -> End {
    match reason {
        Some(Disconnect::SlowReader) | None => {
            tracing::info!("outbound queue full (slow reader); disconnecting");
            End::Drop
        }
        Some(Disconnect::SignedOnElsewhere) => {
            let tlvs = TlvBlock::builder()
                .u16(signoff_tag::DISCONNECT_REASON, 0x0001)
                .build()
                .map(|t| Bytes::from(t.as_bytes().to_vec()))
                .unwrap_or_default();
            End::Goodbye(tlvs)
        }
        Some(Disconnect::Shutdown) | Some(Disconnect::Administrative) => End::Goodbye(Bytes::new()),
    }
}
