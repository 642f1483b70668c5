//! The client's one error type, and why a session ended.

use std::fmt;

use flapjack_auth::AuthError;
use flapjack_wire::family::bucp::LoginError;
use flapjack_wire::{DecodeError, EncodeError, ErrorCode, Family};

use crate::command::{MessageId, TxId};
use crate::session::ConnKind;

/// What the client was doing when the server answered with an error SNAC.
///
/// Kept with the request id of each request that may fail, so that an error names its cause
/// ("ICBM error 0x0004 (not logged on) for IM #7 to bob").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestContext {
    /// An instant message (`MessageId` from the command).
    SendIm {
        /// The message.
        id: MessageId,
        /// The recipient.
        to: String,
    },
    /// A user-info query.
    UserInfo {
        /// Whose info.
        screen_name: String,
    },
    /// A warning.
    Warn {
        /// Whom.
        screen_name: String,
    },
    /// A typing notification.
    Typing {
        /// To whom.
        to: String,
    },
    /// A buddy-list transaction.
    BuddyEdit {
        /// The transaction.
        tx: TxId,
    },
    /// A service redirect request (0x0001/0x0004).
    ServiceRequest {
        /// The family asked for.
        family: Family,
        /// The chat room, for a chat connection.
        room: Option<String>,
    },
    /// Creating or looking up a chat room (CHAT_NAV).
    ChatRoom {
        /// The room's name.
        room: String,
    },
    /// A message to a chat room.
    ChatSend {
        /// The room's name.
        room: String,
    },
    /// Setting profile, away message or capabilities (0x0002/0x0004), or status (0x0001/0x001E).
    SetInfo,
    /// A request sent while signing on.
    SignOn {
        /// Family of the request.
        family: u16,
        /// Subtype of the request.
        subtype: u16,
    },
}

impl fmt::Display for RequestContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestContext::SendIm { id, to } => write!(f, "IM #{} to {to}", id.0),
            RequestContext::UserInfo { screen_name } => write!(f, "user info of {screen_name}"),
            RequestContext::Warn { screen_name } => write!(f, "warning {screen_name}"),
            RequestContext::Typing { to } => write!(f, "typing notification to {to}"),
            RequestContext::BuddyEdit { tx } => write!(f, "buddy-list transaction #{}", tx.0),
            RequestContext::ServiceRequest { family, room } => match room {
                Some(room) => write!(f, "service request for chat room {room}"),
                None => write!(f, "service request for {}", family_name(family.value())),
            },
            RequestContext::ChatRoom { room } => write!(f, "chat room {room}"),
            RequestContext::ChatSend { room } => write!(f, "message to chat room {room}"),
            RequestContext::SetInfo => write!(f, "setting user info"),
            RequestContext::SignOn { family, subtype } => {
                write!(f, "sign-on request 0x{family:04X}/0x{subtype:04X}")
            }
        }
    }
}

/// Everything that can go wrong in the client, in protocol terms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered a request with the generic error SNAC (subtype 0x0001).
    #[error("{} error 0x{:04X} ({}){}{}", family_name(family.value()), code.value(), error_meaning(*code),
        subcode.map(|s| format!(", subcode 0x{s:04X}")).unwrap_or_default(),
        request.as_ref().map(|r| format!(", for {r}")).unwrap_or_default())]
    Snac {
        /// The family that reported it.
        family: Family,
        /// The error code (§5.2).
        code: ErrorCode,
        /// The family-specific subcode (TLV 0x0008), if any.
        subcode: Option<u16>,
        /// What the client had asked, when it could be matched by request id.
        request: Option<RequestContext>,
    },
    /// The authorizer refused the login (BUCP 0x0017/0x0003 or the roasted login's channel-4
    /// result, TLV 0x0008).
    #[error("login refused: error 0x{:04X} ({}){}", code.value(), code.meaning(),
        url.as_ref().map(|u| format!(", see {u}")).unwrap_or_default())]
    Login {
        /// The login error code.
        code: LoginError,
        /// The error URL (TLV 0x0004), if any.
        url: Option<String>,
    },
    /// The OpenAuth HTTP login failed.
    #[error("OpenAuth: {0}")]
    OpenAuth(AuthError),
    /// The server sent bytes that do not decode.
    #[error("malformed data from the server on the {conn} connection: {error}")]
    Decode {
        /// Which connection.
        conn: ConnKind,
        /// What was wrong.
        error: DecodeError,
    },
    /// A connection could not be opened, or broke.
    #[error("{kind} connection failed: {reason}")]
    Connection {
        /// Which connection.
        kind: ConnKind,
        /// What happened.
        reason: String,
    },
    /// The command needs a signed-on session.
    #[error("not signed on")]
    NotSignedOn,
    /// The server does not offer the family the command needs.
    #[error("{} is not offered by this server", family_name(.0.value()))]
    ServiceUnavailable(Family),
    /// The command names a chat room the client is not in.
    #[error("not in chat room {0:?}")]
    UnknownRoom(String),
    /// A command with unusable arguments.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A message longer than the server accepts (ICBM parameters, 0x0004/0x0005).
    #[error("message of {len} bytes is longer than the {max} bytes the server accepts")]
    MessageTooLong {
        /// The encoded length.
        len: usize,
        /// The server's limit.
        max: usize,
    },
    /// A value did not fit its length field.
    #[error("cannot encode: {0}")]
    Encode(EncodeError),
    /// Something did not happen in time.
    #[error("timed out: {0}")]
    Timeout(String),
    /// A socket error.
    #[error("I/O: {0}")]
    Io(String),
    /// TLS set-up or handshake failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// An HTTP exchange failed below the OpenAuth envelope (connection, status without an
    /// envelope, oversized body).
    #[error("HTTP: {0}")]
    Http(String),
    /// The session ended.
    #[error("signed off: {0}")]
    SignedOff(SignOffReason),
    /// The client task is gone.
    #[error("the client has stopped")]
    Closed,
}

impl From<EncodeError> for ClientError {
    fn from(e: EncodeError) -> Self {
        ClientError::Encode(e)
    }
}

impl From<AuthError> for ClientError {
    fn from(e: AuthError) -> Self {
        ClientError::OpenAuth(e)
    }
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignOffReason {
    /// The user signed off.
    Requested,
    /// The server said the account signed on from another location (channel-4 TLV 0x0009 = 1).
    SignedOnElsewhere,
    /// The server closed the session with a channel-4 frame.
    Disconnected {
        /// The disconnect reason (TLV 0x0009), if any.
        code: Option<u16>,
        /// The "more info" URL (TLV 0x000B), if any.
        url: Option<String>,
    },
    /// The BOS connection broke without a goodbye.
    ConnectionLost(String),
    /// The login failed.
    LoginFailed(Box<ClientError>),
    /// Signing on did not complete in time.
    SignOnTimeout,
    /// The server broke the protocol.
    ProtocolError(String),
}

impl SignOffReason {
    /// True when reconnecting automatically makes sense (a lost connection), false when the
    /// user or the server meant it (sign-off, another location, a refused login).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SignOffReason::ConnectionLost(_)
                | SignOffReason::Disconnected { .. }
                | SignOffReason::SignOnTimeout
                | SignOffReason::ProtocolError(_)
        )
    }
}

impl fmt::Display for SignOffReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignOffReason::Requested => write!(f, "signed off"),
            SignOffReason::SignedOnElsewhere => write!(f, "signed on from another location"),
            SignOffReason::Disconnected { code, url } => {
                write!(f, "disconnected by the server")?;
                if let Some(code) = code {
                    write!(f, " (reason 0x{code:04X})")?;
                }
                if let Some(url) = url {
                    write!(f, ", see {url}")?;
                }
                Ok(())
            }
            SignOffReason::ConnectionLost(why) => write!(f, "connection lost: {why}"),
            SignOffReason::LoginFailed(e) => write!(f, "login failed: {e}"),
            SignOffReason::SignOnTimeout => write!(f, "signing on timed out"),
            SignOffReason::ProtocolError(why) => write!(f, "protocol error: {why}"),
        }
    }
}

/// The conventional name of a family, for messages.
pub fn family_name(family: u16) -> String {
    let name = match family {
        0x0001 => "OSERVICE",
        0x0002 => "LOCATE",
        0x0003 => "BUDDY",
        0x0004 => "ICBM",
        0x0006 => "INVITE",
        0x0007 => "ADMIN",
        0x0008 => "POPUP",
        0x0009 => "PD",
        0x000A => "USER_LOOKUP",
        0x000B => "STATS",
        0x000D => "CHAT_NAV",
        0x000E => "CHAT",
        0x000F => "ODIR",
        0x0010 => "BART",
        0x0013 => "FEEDBAG",
        0x0015 => "ICQ",
        0x0017 => "BUCP",
        0x0018 => "ALERT",
        other => return format!("family 0x{other:04X}"),
    };
    name.to_owned()
}

/// The meaning of a generic error code (§5.2).
pub fn error_meaning(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::InvalidSnac => "invalid SNAC",
        ErrorCode::RateToHost => "rate to host",
        ErrorCode::RateToClient => "rate to client",
        ErrorCode::NotLoggedOn => "not logged on",
        ErrorCode::ServiceUnavailable => "service unavailable",
        ErrorCode::ServiceNotDefined => "service not defined",
        ErrorCode::ObsoleteSnac => "obsolete SNAC",
        ErrorCode::NotSupportedByHost => "not supported by host",
        ErrorCode::NotSupportedByClient => "not supported by client",
        ErrorCode::RefusedByClient => "refused by client",
        ErrorCode::ReplyTooBig => "reply too big",
        ErrorCode::ResponsesLost => "responses lost",
        ErrorCode::RequestDenied => "request denied",
        ErrorCode::BustedSnacPayload => "busted SNAC payload",
        ErrorCode::InsufficientRights => "insufficient rights",
        ErrorCode::InLocalPermitDeny => "in local permit/deny",
        ErrorCode::SenderTooEvil => "sender's warning level too high",
        ErrorCode::ReceiverTooEvil => "receiver's warning level too high",
        ErrorCode::UserUnavailable => "user temporarily unavailable",
        ErrorCode::NoMatch => "no match",
        ErrorCode::ListOverflow => "list overflow",
        ErrorCode::RequestAmbiguous => "request ambiguous",
        ErrorCode::QueueFull => "queue full",
        ErrorCode::NotWhileOnAol => "not while on AOL",
        ErrorCode::QueryFail => "query failed",
        ErrorCode::Timeout => "timeout",
        ErrorCode::ErrorText => "error text",
        ErrorCode::GeneralFailure => "general failure",
        ErrorCode::Progress => "progress",
        ErrorCode::InFreeArea => "in free area",
        ErrorCode::RestrictedByParentalControls => "restricted by parental controls",
        ErrorCode::RemoteRestrictedByParentalControls => "remote restricted by parental controls",
        ErrorCode::Unknown(_) => "unknown error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snac_error_names_code_and_request() {
        let e = ClientError::Snac {
            family: Family::Icbm,
            code: ErrorCode::NotLoggedOn,
            subcode: Some(0x0E),
            request: Some(RequestContext::SendIm {
                id: MessageId(7),
                to: "bob".into(),
            }),
        };
        assert_eq!(
            e.to_string(),
            "ICBM error 0x0004 (not logged on), subcode 0x000E, for IM #7 to bob"
        );
        let l = ClientError::Login {
            code: LoginError::IncorrectPassword,
            url: None,
        };
        assert_eq!(l.to_string(), "login refused: error 0x0005 (incorrect password)");
        assert_eq!(
            SignOffReason::SignedOnElsewhere.to_string(),
            "signed on from another location"
        );
    }
}
