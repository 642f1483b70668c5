//! The login ("authorizer") connection: BUCP (§6.2) and the roasted channel-1 login (§6.1).
//!
//! ```text
//! BUCP:    connect → ch1 hello → (server hello) → 17/06 → 17/07 → 17/02 → 17/03 → BOS
//! roasted: connect → ch1 hello + TLVs 0x0001 name, 0x0002 roasted password → ch4 result → BOS
//! ```

use flapjack_auth::bucp::{HashKind, client_hash};
use flapjack_auth::roast::{RoastTable, roast};
use flapjack_wire::family::bucp::{
    self, Bucp, ChallengeRequest, LoginError, LoginOutcome, LoginRequest, LoginResponse,
};
use flapjack_wire::flap::{Channel, Signoff, Signon, signon_tag};
use flapjack_wire::snac::{Message, RawSnac, SnacError};
use flapjack_wire::{Family, TlvBlock};

use super::conn::{LoginFlow, Phase};
use super::{ConnId, ConnKind, Session, State, split_host_port};
use crate::error::{ClientError, SignOffReason};
use crate::event::Event;

impl Session {
    pub(super) fn login_connected(&mut self, id: ConnId, flow: LoginFlow) {
        let payload = match flow {
            LoginFlow::Bucp(_) => {
                let mut p = Vec::new();
                Signon::hello().encode(&mut p);
                p
            }
            LoginFlow::Roasted => {
                let b = TlvBlock::builder()
                    .bytes(signon_tag::SCREEN_NAME, self.cfg.screen_name.as_bytes())
                    .bytes(
                        signon_tag::ROASTED_PASSWORD,
                        &roast(self.cfg.password.as_bytes(), RoastTable::Oscar),
                    );
                let tlvs = match self.cfg.client_info.append_to(b).build() {
                    Ok(t) => t,
                    Err(e) => {
                        self.login_failed(ClientError::Encode(e));
                        return;
                    }
                };
                let mut p = Vec::new();
                Signon {
                    version: flapjack_wire::flap::FLAP_VERSION,
                    tlvs,
                }
                .encode(&mut p);
                p
            }
        };
        self.with_conn(id, |c, out, now| {
            c.transmit(Channel::Signon, &payload, out, now);
            c.phase = Phase::LoginHello;
        });
    }

    /// The server's channel-1 hello on the login connection.
    pub(super) fn login_hello(&mut self, id: ConnId, flow: LoginFlow) {
        let LoginFlow::Bucp(_) = flow else {
            return; // roasted: the answer comes on channel 4
        };
        if self.conn(id).map(|c| c.phase) != Some(Phase::LoginHello) {
            return;
        }
        let req = match ChallengeRequest::new(self.cfg.screen_name.as_bytes()) {
            Ok(r) => r,
            Err(e) => {
                self.login_failed(ClientError::Encode(e));
                return;
            }
        };
        self.with_conn(id, |c, out, now| {
            c.send_snac(Message::Bucp(Bucp::ChallengeRequest(req)), None, out, now);
            c.phase = Phase::LoginChallenge;
        });
    }

    pub(super) fn login_snac(&mut self, id: ConnId, payload: &[u8]) {
        let snac = match RawSnac::decode(payload).and_then(|r| r.typed()) {
            Ok(s) => s,
            Err(error) => {
                self.on_broken(
                    id,
                    ClientError::Decode {
                        conn: ConnKind::Login,
                        error,
                    },
                );
                return;
            }
        };
        let Some(LoginFlow::Bucp(hash)) = self.conn(id).and_then(|c| c.login) else {
            return;
        };
        match snac.message {
            Message::Bucp(Bucp::ChallengeResponse(ch)) => {
                let mut password = self.cfg.password.as_bytes();
                if ch.tlvs.contains(bucp::tag::TRUNCATE_PASSWORD) && password.len() > 8 {
                    password = &password[..8];
                }
                let digest = client_hash(hash, ch.key.as_bytes(), password);
                let req = match LoginRequest::new(
                    self.cfg.screen_name.as_bytes(),
                    &digest,
                    hash == HashKind::Strong,
                    &self.cfg.client_info,
                ) {
                    Ok(r) => r,
                    Err(e) => {
                        self.login_failed(ClientError::Encode(e));
                        return;
                    }
                };
                self.with_conn(id, |c, out, now| {
                    c.send_snac(Message::Bucp(Bucp::LoginRequest(req)), None, out, now);
                    c.phase = Phase::LoginResponse;
                });
            }
            Message::Bucp(Bucp::LoginResponse(resp)) => self.login_result(id, &resp),
            Message::Error { family, error } => self.login_failed(snac_error(family, &error)),
            _ => {}
        }
    }

    /// A channel-4 frame on the login connection: the roasted login's result, or the goodbye
    /// that follows 17/03.
    pub(super) fn login_signoff(&mut self, id: ConnId, signoff: &Signoff<'_>) {
        let phase = self.conn(id).map(|c| c.phase);
        if phase == Some(Phase::LoginDone) {
            self.drop_conn(id);
            return;
        }
        if signoff.tlvs.is_empty() {
            self.login_failed(ClientError::Connection {
                kind: ConnKind::Login,
                reason: "the login server said goodbye without a result".into(),
            });
            return;
        }
        let resp = LoginResponse {
            tlvs: signoff.tlvs.clone().into_owned(),
        };
        self.login_result(id, &resp);
    }

    fn login_result(&mut self, id: ConnId, resp: &LoginResponse<'_>) {
        let outcome = match resp.outcome() {
            Ok(o) => o,
            Err(error) => {
                self.login_failed(ClientError::Decode {
                    conn: ConnKind::Login,
                    error,
                });
                return;
            }
        };
        match outcome {
            LoginOutcome::Failure(code) => {
                let url = resp
                    .tlvs
                    .get(bucp::tag::ERROR_URL)
                    .map(|u| String::from_utf8_lossy(u).into_owned());
                self.login_failed(ClientError::Login { code, url });
            }
            LoginOutcome::Success {
                bos_address,
                cookie,
                tls_cert_name,
            } => {
                let login_conn = self.conn(id);
                let default_port = login_conn.map_or(5190, |c| c.port);
                let login_tls = login_conn.and_then(|c| c.tls_cert_name.clone());
                let (host, port) = split_host_port(&String::from_utf8_lossy(bos_address), default_port);
                let ssl_state = resp.tlvs.get_u8(bucp::tag::SSL_STATE);
                // TLS to BOS when the answer names a certificate (and does not say "no SSL"), or
                // when the login itself used TLS (then BOS must present a certificate for its host
                // name).
                let tls = match (tls_cert_name, ssl_state) {
                    (Some(name), state) if state != Some(0) => Some(String::from_utf8_lossy(name).into_owned()),
                    _ => login_tls.map(|_| host.clone()),
                };
                let cookie = cookie.to_vec();
                if let Some(c) = self.conn_mut(id) {
                    c.phase = Phase::LoginDone;
                }
                self.drop_conn(id);
                self.state = State::SigningOn;
                self.open_service(ConnKind::Bos, host, port, tls, cookie);
            }
        }
    }

    fn login_failed(&mut self, err: ClientError) {
        self.emit(Event::Error(err.clone()));
        self.end(SignOffReason::LoginFailed(Box::new(err)));
    }
}

/// The typed error for a generic error SNAC at login: BUCP has no request context.
fn snac_error(family: Family, error: &SnacError<'_>) -> ClientError {
    if family == Family::Bucp {
        // Some servers answer a refused challenge with an error SNAC instead of 17/03.
        if let Some(sub) = error.subcode() {
            return ClientError::Login {
                code: LoginError::from(sub),
                url: None,
            };
        }
    }
    ClientError::Snac {
        family,
        code: error.code,
        subcode: error.subcode(),
        request: None,
    }
}
