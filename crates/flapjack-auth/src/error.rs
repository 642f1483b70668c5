//! The crate's one error type.

use crate::openauth::{DetailCode, StatusCode};

/// Everything that can go wrong in login cryptography and the OpenAuth web API, on either side.
///
/// The same variants serve the server (what to answer: see [`AuthError::envelope_status`]) and
/// the client (what the server answered: see [`AuthError::from_status`]). For example a server
/// whose clock check fails returns [`AuthError::ClockSkew`], renders it as `400` / `1015` with
/// `data.ts`, and the client parses that envelope back into the same `ClockSkew { server_now }`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The request's `sig_sha256` does not match the HMAC the server computed over any of the
    /// accepted base URLs (the server answers statusCode 401, statusDetailCode 1014).
    #[error("sig_sha256 does not match the signed request (statusCode 401, statusDetailCode 1014)")]
    SignatureMismatch,

    /// `ts` is outside the accepted window around the server's clock (statusCode 400,
    /// statusDetailCode 1015, `data.ts` = `server_now`). The client should resend with
    /// `ts = server_now` adjusted for the time that passed.
    #[error("ts is outside the accepted window; server time is {server_now} (statusCode 400, statusDetailCode 1015)")]
    ClockSkew {
        /// The server's current time, Unix seconds.
        server_now: i64,
    },

    /// A required request parameter is absent (statusCode 460).
    #[error("missing required parameter `{0}` (statusCode 460)")]
    MissingParameter(String),

    /// A request parameter is present but unusable: duplicated, not UTF-8, not a number…
    /// (statusCode 462).
    #[error("parameter `{0}` is present but unusable (statusCode 462)")]
    BadParameter(String),

    /// A URL that was to be signed or matched is not `scheme://host[:port]/path`.
    #[error("not a usable URL for signing: {0}")]
    InvalidUrl(String),

    /// A JSON response body could not be parsed.
    #[error("malformed JSON response: {0}")]
    MalformedJson(String),

    /// An XML response body could not be parsed.
    #[error("malformed XML response: {0}")]
    MalformedXml(String),

    /// A response envelope lacks a field the protocol requires (path like `data/token/a`), or
    /// the field is not of the right kind.
    #[error("response lacks a usable `{0}`")]
    MissingField(String),

    /// clientLogin rejected the password or login id (statusCode 330, statusDetailCode 3011;
    /// BUCP's equivalent is login error 0x0005).
    #[error("incorrect password (statusCode 330, statusDetailCode 3011: Password/LoginId required or invalid)")]
    IncorrectPassword,

    /// The server did not accept the signed request or its token (statusCode 401,
    /// statusDetailCode 1014): wrong session key, unknown or expired token `a`.
    #[error("the server rejected the signed request or its token (statusCode 401, statusDetailCode 1014)")]
    AuthenticationFailed,

    /// The server is rate limiting this client (statusCode 607 or 430).
    #[error("rate limited (statusCode {status}: {})", .status.meaning())]
    RateLimited {
        /// The status code received (607 or 430).
        status: StatusCode,
    },

    /// The developer key (`devId` / `k`) was refused (statusCode 440–443).
    #[error("developer key refused (statusCode {status}: {})", .status.meaning())]
    InvalidKey {
        /// The status code received (440–443).
        status: StatusCode,
    },

    /// Any other non-200 envelope.
    #[error("{}", rejected_text(*.status, *.detail, .text))]
    Rejected {
        /// The envelope's `statusCode`.
        status: StatusCode,
        /// The envelope's `statusDetailCode`, if any.
        detail: Option<DetailCode>,
        /// The envelope's `statusText`.
        text: String,
    },

    /// Hashing or verifying an argon2id password hash failed (bad parameters, bad salt,
    /// malformed PHC string). A wrong password is *not* this error.
    #[error("password hash: {0}")]
    PasswordHash(String),
}

fn rejected_text(status: StatusCode, detail: Option<DetailCode>, text: &str) -> String {
    let mut out = format!("request rejected: statusCode {status} ({})", status.meaning());
    if let Some(detail) = detail {
        out.push_str(&format!(", statusDetailCode {detail} ({})", detail.meaning()));
    }
    if !text.is_empty() {
        out.push_str(": ");
        out.push_str(text);
    }
    out
}

impl AuthError {
    /// Maps a non-200 envelope status (as a client receives it) to the typed error.
    ///
    /// `server_ts` is the error envelope's `data.ts`, if present. A 1015 without `data.ts`
    /// becomes [`AuthError::Rejected`], since the client cannot correct its clock from it.
    /// A 200 status also yields `Rejected` (callers should not ask).
    #[must_use]
    pub fn from_status(status: StatusCode, detail: Option<DetailCode>, text: &str, server_ts: Option<i64>) -> Self {
        match (status.code(), detail.map(DetailCode::code), server_ts) {
            (_, Some(3011), _) => Self::IncorrectPassword,
            (_, Some(1014), _) => Self::AuthenticationFailed,
            (_, Some(1015), Some(server_now)) => Self::ClockSkew { server_now },
            (607 | 430, _, _) => Self::RateLimited { status },
            (440..=443, _, _) => Self::InvalidKey { status },
            _ => Self::Rejected {
                status,
                detail,
                text: text.to_owned(),
            },
        }
    }

    /// The envelope status a server should answer with for this error.
    ///
    /// | error | statusCode / statusDetailCode |
    /// |---|---|
    /// | `SignatureMismatch`, `AuthenticationFailed` | 401 / 1014 |
    /// | `ClockSkew` | 400 / 1015 (put `server_now` in `data.ts`) |
    /// | `MissingParameter` | 460 |
    /// | `BadParameter` | 462 |
    /// | `IncorrectPassword` | 330 / 3011 |
    /// | `RateLimited`, `InvalidKey`, `Rejected` | as carried |
    /// | anything else | 500 |
    #[must_use]
    pub fn envelope_status(&self) -> (StatusCode, Option<DetailCode>) {
        match self {
            Self::SignatureMismatch | Self::AuthenticationFailed => {
                (StatusCode::Unauthorized, Some(DetailCode::SignedRequestRejected))
            }
            Self::ClockSkew { .. } => (StatusCode::InvalidRequest, Some(DetailCode::InvalidTimestamp)),
            Self::MissingParameter(_) => (StatusCode::MissingParameter, None),
            Self::BadParameter(_) => (StatusCode::ParameterError, None),
            Self::IncorrectPassword => (
                StatusCode::MoreAuthenticationRequired,
                Some(DetailCode::PasswordInvalid),
            ),
            Self::RateLimited { status } | Self::InvalidKey { status } => (*status, None),
            Self::Rejected { status, detail, .. } => (*status, *detail),
            Self::InvalidUrl(_)
            | Self::MalformedJson(_)
            | Self::MalformedXml(_)
            | Self::MissingField(_)
            | Self::PasswordHash(_) => (StatusCode::ServerError, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_mapping_names_protocol_cases() {
        let map = |s: u16, d: Option<u16>, ts| {
            AuthError::from_status(StatusCode::from_code(s), d.map(DetailCode::from_code), "x", ts)
        };
        assert_eq!(map(330, Some(3011), None), AuthError::IncorrectPassword);
        assert_eq!(map(401, Some(1014), None), AuthError::AuthenticationFailed);
        assert_eq!(map(400, Some(1015), Some(42)), AuthError::ClockSkew { server_now: 42 });
        assert!(matches!(map(400, Some(1015), None), AuthError::Rejected { .. }));
        assert_eq!(
            map(607, None, None),
            AuthError::RateLimited {
                status: StatusCode::RateLimitReached
            }
        );
        assert_eq!(
            map(440, None, None),
            AuthError::InvalidKey {
                status: StatusCode::InvalidKey
            }
        );
        let other = map(330, Some(3015), None);
        let text = other.to_string();
        assert!(text.contains("330") && text.contains("3015") && text.contains("CAPTCHA"));
        assert!(AuthError::IncorrectPassword.to_string().contains("3011"));
        assert!(map(607, None, None).to_string().contains("607: Rate limit reached"));
    }

    #[test]
    fn server_mapping_round_trips_through_client_mapping() {
        for err in [
            AuthError::IncorrectPassword,
            AuthError::AuthenticationFailed,
            AuthError::ClockSkew { server_now: 7 },
            AuthError::RateLimited {
                status: StatusCode::RateLimitReached,
            },
            AuthError::InvalidKey {
                status: StatusCode::KeyInvalidIp,
            },
        ] {
            let (status, detail) = err.envelope_status();
            let ts = match err {
                AuthError::ClockSkew { server_now } => Some(server_now),
                _ => None,
            };
            assert_eq!(AuthError::from_status(status, detail, "", ts), err);
        }
        assert_eq!(
            AuthError::SignatureMismatch.envelope_status(),
            (StatusCode::Unauthorized, Some(DetailCode::SignedRequestRejected))
        );
    }
}
