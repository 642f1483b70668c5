//! `statusCode` and `statusDetailCode` values of the OpenAuth response envelope (§2.4).
//!
//! Both enums keep codes they do not know in `Unknown(u16)`. Equality and hashing go by the
//! numeric code, so `StatusCode::Unknown(200) == StatusCode::Ok`.

use std::fmt;
use std::hash::{Hash, Hasher};

/// The envelope's `statusCode` (§2.4).
#[derive(Clone, Copy, Debug)]
pub enum StatusCode {
    /// 200: OK.
    Ok,
    /// 330: more authentication required (bad password, CAPTCHA, SecurID…; see the detail code).
    MoreAuthenticationRequired,
    /// 400: invalid request (with detail 1015: invalid timestamp).
    InvalidRequest,
    /// 401: unauthorized (with detail 1014: the signed request did not verify).
    Unauthorized,
    /// 405: method not allowed.
    MethodNotAllowed,
    /// 408: request timeout.
    RequestTimeout,
    /// 430: source rate limit reached.
    SourceRateLimitReached,
    /// 440: invalid key (`devId` / `k`).
    InvalidKey,
    /// 441: key usage limit reached.
    KeyUsageLimitReached,
    /// 442: key used from an invalid IP.
    KeyInvalidIp,
    /// 443: key used from an unauthorized site.
    KeyUnauthorizedSite,
    /// 460: missing required parameter.
    MissingParameter,
    /// 461: source required.
    SourceRequired,
    /// 462: parameter error (present but unusable).
    ParameterError,
    /// 500: generic server error.
    ServerError,
    /// 607: rate limit reached ("connecting too frequently").
    RateLimitReached,
    /// Any other code, kept as received.
    Unknown(u16),
}

impl StatusCode {
    /// The numeric code.
    #[must_use]
    pub const fn code(self) -> u16 {
        match self {
            Self::Ok => 200,
            Self::MoreAuthenticationRequired => 330,
            Self::InvalidRequest => 400,
            Self::Unauthorized => 401,
            Self::MethodNotAllowed => 405,
            Self::RequestTimeout => 408,
            Self::SourceRateLimitReached => 430,
            Self::InvalidKey => 440,
            Self::KeyUsageLimitReached => 441,
            Self::KeyInvalidIp => 442,
            Self::KeyUnauthorizedSite => 443,
            Self::MissingParameter => 460,
            Self::SourceRequired => 461,
            Self::ParameterError => 462,
            Self::ServerError => 500,
            Self::RateLimitReached => 607,
            Self::Unknown(code) => code,
        }
    }

    /// The variant for a numeric code (`Unknown` when the code is not in §2.4).
    #[must_use]
    pub const fn from_code(code: u16) -> Self {
        match code {
            200 => Self::Ok,
            330 => Self::MoreAuthenticationRequired,
            400 => Self::InvalidRequest,
            401 => Self::Unauthorized,
            405 => Self::MethodNotAllowed,
            408 => Self::RequestTimeout,
            430 => Self::SourceRateLimitReached,
            440 => Self::InvalidKey,
            441 => Self::KeyUsageLimitReached,
            442 => Self::KeyInvalidIp,
            443 => Self::KeyUnauthorizedSite,
            460 => Self::MissingParameter,
            461 => Self::SourceRequired,
            462 => Self::ParameterError,
            500 => Self::ServerError,
            607 => Self::RateLimitReached,
            other => Self::Unknown(other),
        }
    }

    /// What the code means, in the words of §2.4. Also a sensible `statusText`.
    #[must_use]
    pub const fn meaning(self) -> &'static str {
        match Self::from_code(self.code()) {
            Self::Ok => "OK",
            Self::MoreAuthenticationRequired => "More authentication required",
            Self::InvalidRequest => "Invalid request",
            Self::Unauthorized => "Authentication required",
            Self::MethodNotAllowed => "Method not allowed",
            Self::RequestTimeout => "Request timeout",
            Self::SourceRateLimitReached => "Source rate limit reached",
            Self::InvalidKey => "Invalid key",
            Self::KeyUsageLimitReached => "Key usage limit reached",
            Self::KeyInvalidIp => "Key invalid IP",
            Self::KeyUnauthorizedSite => "Key used from unauthorized site",
            Self::MissingParameter => "Missing required parameter",
            Self::SourceRequired => "Source required",
            Self::ParameterError => "Parameter error",
            Self::ServerError => "Generic server error",
            Self::RateLimitReached => "Rate limit reached",
            Self::Unknown(_) => "Unknown status code",
        }
    }

    /// `true` for 200.
    #[must_use]
    pub const fn is_ok(self) -> bool {
        self.code() == 200
    }
}

impl PartialEq for StatusCode {
    fn eq(&self, other: &Self) -> bool {
        self.code() == other.code()
    }
}

impl Eq for StatusCode {}

impl Hash for StatusCode {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.code().hash(state);
    }
}

impl From<u16> for StatusCode {
    fn from(code: u16) -> Self {
        Self::from_code(code)
    }
}

impl From<StatusCode> for u16 {
    fn from(status: StatusCode) -> Self {
        status.code()
    }
}

impl fmt::Display for StatusCode {
    /// Writes the numeric code.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

/// The envelope's `statusDetailCode` (§2.4).
#[derive(Clone, Copy, Debug)]
pub enum DetailCode {
    /// 1014: the signed request (signature or token) did not authenticate (with 401).
    SignedRequestRejected,
    /// 1015: invalid or expired `ts` (with 400); the error's `data.ts` carries the server time.
    InvalidTimestamp,
    /// 3011: password / login id required or invalid.
    PasswordInvalid,
    /// 3012: SecurID required or invalid.
    SecurIdRequired,
    /// 3013: SecurID next token required.
    SecurIdNextTokenRequired,
    /// 3014: account security question required or invalid.
    AsqRequired,
    /// 3015: CAPTCHA required or invalid.
    CaptchaRequired,
    /// 3016: AOLKey required.
    AolKeyRequired,
    /// 3017: rights / consent required.
    ConsentRequired,
    /// 3018: terms of service / privacy policy acceptance required.
    TosRequired,
    /// 3019: account not allowed to authenticate here.
    AccountNotAllowed,
    /// 3020: email not confirmed.
    EmailNotConfirmed,
    /// 3021: account needs to be updated.
    AccountNeedsUpdate,
    /// Any other code, kept as received.
    Unknown(u16),
}

impl DetailCode {
    /// The numeric code.
    #[must_use]
    pub const fn code(self) -> u16 {
        match self {
            Self::SignedRequestRejected => 1014,
            Self::InvalidTimestamp => 1015,
            Self::PasswordInvalid => 3011,
            Self::SecurIdRequired => 3012,
            Self::SecurIdNextTokenRequired => 3013,
            Self::AsqRequired => 3014,
            Self::CaptchaRequired => 3015,
            Self::AolKeyRequired => 3016,
            Self::ConsentRequired => 3017,
            Self::TosRequired => 3018,
            Self::AccountNotAllowed => 3019,
            Self::EmailNotConfirmed => 3020,
            Self::AccountNeedsUpdate => 3021,
            Self::Unknown(code) => code,
        }
    }

    /// The variant for a numeric code (`Unknown` when the code is not in §2.4).
    #[must_use]
    pub const fn from_code(code: u16) -> Self {
        match code {
            1014 => Self::SignedRequestRejected,
            1015 => Self::InvalidTimestamp,
            3011 => Self::PasswordInvalid,
            3012 => Self::SecurIdRequired,
            3013 => Self::SecurIdNextTokenRequired,
            3014 => Self::AsqRequired,
            3015 => Self::CaptchaRequired,
            3016 => Self::AolKeyRequired,
            3017 => Self::ConsentRequired,
            3018 => Self::TosRequired,
            3019 => Self::AccountNotAllowed,
            3020 => Self::EmailNotConfirmed,
            3021 => Self::AccountNeedsUpdate,
            other => Self::Unknown(other),
        }
    }

    /// What the code means, in the words of §2.4.
    #[must_use]
    pub const fn meaning(self) -> &'static str {
        match Self::from_code(self.code()) {
            Self::SignedRequestRejected => "Authentication failed for the signed request (bad signature or token)",
            Self::InvalidTimestamp => "Invalid or expired timestamp (ts)",
            Self::PasswordInvalid => "Password/LoginId required or invalid",
            Self::SecurIdRequired => "SecurID required or invalid",
            Self::SecurIdNextTokenRequired => "SecurID next token required",
            Self::AsqRequired => "Account security question required or invalid",
            Self::CaptchaRequired => "CAPTCHA required or invalid",
            Self::AolKeyRequired => "AOLKey required",
            Self::ConsentRequired => "Rights/consent required",
            Self::TosRequired => "Terms of service / privacy policy acceptance required",
            Self::AccountNotAllowed => "Account not allowed to authenticate here",
            Self::EmailNotConfirmed => "Email not confirmed",
            Self::AccountNeedsUpdate => "Account needs to be updated",
            Self::Unknown(_) => "Unknown status detail code",
        }
    }
}

impl PartialEq for DetailCode {
    fn eq(&self, other: &Self) -> bool {
        self.code() == other.code()
    }
}

impl Eq for DetailCode {}

impl Hash for DetailCode {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.code().hash(state);
    }
}

impl From<u16> for DetailCode {
    fn from(code: u16) -> Self {
        Self::from_code(code)
    }
}

impl From<DetailCode> for u16 {
    fn from(detail: DetailCode) -> Self {
        detail.code()
    }
}

impl fmt::Display for DetailCode {
    /// Writes the numeric code.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS_CODES: [u16; 16] = [
        200, 330, 400, 401, 405, 408, 430, 440, 441, 442, 443, 460, 461, 462, 500, 607,
    ];
    const DETAIL_CODES: [u16; 13] = [
        1014, 1015, 3011, 3012, 3013, 3014, 3015, 3016, 3017, 3018, 3019, 3020, 3021,
    ];

    #[test]
    fn every_documented_status_code_is_known_and_round_trips() {
        for code in STATUS_CODES {
            let status = StatusCode::from_code(code);
            assert!(!matches!(status, StatusCode::Unknown(_)), "{code}");
            assert_eq!(status.code(), code);
            assert_ne!(status.meaning(), "Unknown status code");
        }
        assert_eq!(StatusCode::from_code(999), StatusCode::Unknown(999));
        assert_eq!(StatusCode::Unknown(200), StatusCode::Ok);
        assert_eq!(StatusCode::Unknown(200).meaning(), "OK");
    }

    #[test]
    fn every_documented_detail_code_is_known_and_round_trips() {
        for code in DETAIL_CODES {
            let detail = DetailCode::from_code(code);
            assert!(!matches!(detail, DetailCode::Unknown(_)), "{code}");
            assert_eq!(detail.code(), code);
            assert_ne!(detail.meaning(), "Unknown status detail code");
        }
        assert_eq!(DetailCode::from_code(7), DetailCode::Unknown(7));
        assert_eq!(DetailCode::PasswordInvalid.to_string(), "3011");
    }
}
