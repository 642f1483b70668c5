//! OpenAuth: `clientLogin` → `startOSCARSession` (§2 of the protocol notes).
//!
//! * [`session_key`], [`canonical_query`], [`signature_base_string`], [`sign`],
//!   [`signed_get_url`]: the client's side of the signature (§2.5, §2.7).
//! * [`BaseUrl`], [`candidate_signing_urls`]: which URL spelling is signed.
//! * [`SignedQuery`], [`verify_signed_request`]: the server's side (§2.11).
//! * [`ClientLoginRequest`], [`StartSessionParams`]: the requests.
//! * [`Envelope`] with [`ClientLoginData`] / [`StartSessionData`]: the responses, JSON and XML.
//! * [`StatusCode`], [`DetailCode`]: the envelope's codes (§2.4).
//! * [`ClockOffset`]: computing `ts` on the server's clock (§2.8).

mod clock;
mod envelope;
mod sign;
mod status;
mod types;
mod url;
mod verify;

pub use clock::ClockOffset;
pub use envelope::{
    AUTH_XML_NAMESPACE, ClientLoginData, Envelope, EnvelopeData, ErrorData, Node, ResponseData, ResponseFormat,
    StartSessionData, Token,
};
pub use sign::{
    SIGNATURE_PARAM, canonical_query, session_key, sign, signature_base_string, signed_get_url, signed_query,
};
pub use status::{DetailCode, StatusCode};
pub use types::{ClientLoginRequest, StartSessionParams, TokenType};
pub use url::{BaseUrl, candidate_signing_urls, strip_query};
pub use verify::{
    DEFAULT_MAX_SKEW_SECS, SignedQuery, TIMESTAMP_PARAM, VerifiedRequest, check_skew, verify_signed_request,
};
