//! Family 0x0017 BUCP: the MD5 challenge login ("BUCP" authorizer, §6.2).
//!
//! ```text
//! C→S 17/06 challenge request (screen name)
//! S→C 17/07 challenge response (auth key)      | 17/03 with an error
//! C→S 17/02 login request (MD5 hash, client info)
//! S→C 17/03 login response (BOS address + cookie | error)
//! ```

use crate::code_enum;
use crate::error::{DecodeError, EncodeError};
use crate::reader::Reader;
use crate::tlv::TlvBlock;
use crate::types::Str16;

/// The family id.
pub const FAMILY: u16 = 0x0017;

/// Subtypes.
pub mod subtype {
    /// Login request.
    pub const LOGIN_REQUEST: u16 = 0x0002;
    /// Login response.
    pub const LOGIN_RESPONSE: u16 = 0x0003;
    /// Challenge request.
    pub const CHALLENGE_REQUEST: u16 = 0x0006;
    /// Challenge response.
    pub const CHALLENGE_RESPONSE: u16 = 0x0007;
    /// SecurID request.
    pub const SECURID_REQUEST: u16 = 0x000A;
    /// SecurID reply.
    pub const SECURID_REPLY: u16 = 0x000B;
}

/// TLV tags used by BUCP messages (and the channel-4 login result).
pub mod tag {
    /// Screen name.
    pub const SCREEN_NAME: u16 = 0x0001;
    /// Client id string.
    pub const CLIENT_ID_STRING: u16 = 0x0003;
    /// Error URL.
    pub const ERROR_URL: u16 = 0x0004;
    /// BOS address `host[:port]`.
    pub const BOS_ADDRESS: u16 = 0x0005;
    /// Login cookie.
    pub const COOKIE: u16 = 0x0006;
    /// u16 login error code ([`super::LoginError`]).
    pub const ERROR_CODE: u16 = 0x0008;
    /// Country.
    pub const COUNTRY: u16 = 0x000E;
    /// Language.
    pub const LANGUAGE: u16 = 0x000F;
    /// Account email.
    pub const EMAIL: u16 = 0x0011;
    /// u16 registration status.
    pub const REG_STATUS: u16 = 0x0013;
    /// u32 distribution id.
    pub const DISTRIBUTION: u16 = 0x0014;
    /// u16 client id.
    pub const CLIENT_ID: u16 = 0x0016;
    /// u16 major version.
    pub const MAJOR: u16 = 0x0017;
    /// u16 minor version.
    pub const MINOR: u16 = 0x0018;
    /// u16 point version.
    pub const POINT: u16 = 0x0019;
    /// u16 build.
    pub const BUILD: u16 = 0x001A;
    /// 16-byte MD5 password hash.
    pub const PASSWORD_HASH: u16 = 0x0025;
    /// Challenge response: truncate the password to 8 characters.
    pub const TRUNCATE_PASSWORD: u16 = 0x0026;
    /// u8 multi-connection flag.
    pub const MULTI_CONN: u16 = 0x004A;
    /// Empty: client supports SecurID.
    pub const SECURID_SUPPORTED: u16 = 0x004B;
    /// Empty: the hash is the "strong" pre-hashed variant.
    pub const STRONG_HASH: u16 = 0x004C;
    /// Change-password URL.
    pub const CHANGE_PASSWORD_URL: u16 = 0x0054;
    /// Empty, sent by recent WinAIM (meaning unknown).
    pub const UNKNOWN_5A: u16 = 0x005A;
    /// SSL certificate name.
    pub const SSL_CERT_NAME: u16 = 0x008D;
    /// u8 SSL state for BOS (0 none, 1 SSL, 2 SSL + resume).
    pub const SSL_STATE: u16 = 0x008E;
}

code_enum! {
    /// Login error codes (TLV 0x0008 of 17/03 and of the channel-4 login result).
    pub enum LoginError: u16 {
        /// 0x0001 invalid screen name or password.
        InvalidScreenName = 0x0001,
        /// 0x0002 service temporarily unavailable.
        ServiceUnavailable = 0x0002,
        /// 0x0005 incorrect password.
        IncorrectPassword = 0x0005,
        /// 0x0007 invalid account.
        InvalidAccount = 0x0007,
        /// 0x0008 deleted account.
        DeletedAccount = 0x0008,
        /// 0x0009 expired account.
        ExpiredAccount = 0x0009,
        /// 0x0011 suspended account.
        SuspendedAccount = 0x0011,
        /// 0x0014 service temporarily unavailable.
        ServiceUnavailable2 = 0x0014,
        /// 0x0018 screen name connecting too frequently (rate limited).
        RateLimited = 0x0018,
        /// 0x0019 too heavily warned.
        TooHeavilyWarned = 0x0019,
        /// 0x001C client version too old.
        ClientTooOld = 0x001C,
        /// 0x001D IP connecting too frequently.
        IpRateLimited = 0x001D,
        /// 0x0020 invalid SecurID.
        InvalidSecurId = 0x0020,
        /// 0x0022 suspended because of age.
        SuspendedAge = 0x0022,
    }
}

impl LoginError {
    /// A human-readable meaning.
    pub fn meaning(self) -> &'static str {
        match self {
            LoginError::InvalidScreenName => "invalid screen name or password",
            LoginError::ServiceUnavailable | LoginError::ServiceUnavailable2 => "service temporarily unavailable",
            LoginError::IncorrectPassword => "incorrect password",
            LoginError::InvalidAccount => "invalid account",
            LoginError::DeletedAccount => "deleted account",
            LoginError::ExpiredAccount => "expired account",
            LoginError::SuspendedAccount => "suspended account",
            LoginError::RateLimited => "screen name connecting too frequently",
            LoginError::TooHeavilyWarned => "too heavily warned",
            LoginError::ClientTooOld => "client version too old",
            LoginError::IpRateLimited => "IP address connecting too frequently",
            LoginError::InvalidSecurId => "invalid SecurID",
            LoginError::SuspendedAge => "suspended because of age",
            LoginError::Unknown(_) => "unknown login error",
        }
    }
}

/// Client identity sent with a login (TLVs 0x0003, 0x0016–0x001A, 0x0014, 0x000F, 0x000E, 0x004A).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// Client id string, e.g. `AOL Instant Messenger (SM), version 5.1.3036/WIN32`.
    pub id_string: String,
    /// u16 client id.
    pub client_id: u16,
    /// Major, minor, point, build.
    pub version: [u16; 4],
    /// Distribution id.
    pub distribution: u32,
    /// Two-letter language.
    pub language: String,
    /// Two-letter country.
    pub country: String,
    /// Multi-connection flag (1 allow, 3 single), if sent.
    pub multi_conn: Option<u8>,
}

impl Default for ClientInfo {
    fn default() -> Self {
        Self {
            id_string: "flapjack".into(),
            client_id: 0x0109,
            version: [5, 1, 0, 3036],
            distribution: 0x0611,
            language: "en".into(),
            country: "us".into(),
            multi_conn: Some(1),
        }
    }
}

impl ClientInfo {
    /// Appends the client-identity TLVs to a builder.
    pub fn append_to(&self, b: crate::tlv::TlvBlockBuilder) -> crate::tlv::TlvBlockBuilder {
        let b = b
            .bytes(tag::CLIENT_ID_STRING, self.id_string.as_bytes())
            .u16(tag::CLIENT_ID, self.client_id)
            .u16(tag::MAJOR, self.version[0])
            .u16(tag::MINOR, self.version[1])
            .u16(tag::POINT, self.version[2])
            .u16(tag::BUILD, self.version[3])
            .u32(tag::DISTRIBUTION, self.distribution)
            .bytes(tag::LANGUAGE, self.language.as_bytes())
            .bytes(tag::COUNTRY, self.country.as_bytes());
        match self.multi_conn {
            Some(m) => b.u8(tag::MULTI_CONN, m),
            None => b,
        }
    }

    /// Reads client identity from login TLVs (missing fields become defaults/empty).
    pub fn from_tlvs(t: &TlvBlock<'_>) -> Self {
        let text = |tag| {
            t.get(tag)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default()
        };
        Self {
            id_string: text(tag::CLIENT_ID_STRING),
            client_id: t.get_u16(tag::CLIENT_ID).unwrap_or(0),
            version: [
                t.get_u16(tag::MAJOR).unwrap_or(0),
                t.get_u16(tag::MINOR).unwrap_or(0),
                t.get_u16(tag::POINT).unwrap_or(0),
                t.get_u16(tag::BUILD).unwrap_or(0),
            ],
            distribution: t.get_u32(tag::DISTRIBUTION).unwrap_or(0),
            language: text(tag::LANGUAGE),
            country: text(tag::COUNTRY),
            multi_conn: t.get_u8(tag::MULTI_CONN),
        }
    }
}

/// 17/06: the client asks for an auth key for a screen name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeRequest<'a> {
    /// TLVs: 0x0001 screen name (required), 0x004B, 0x005A.
    pub tlvs: TlvBlock<'a>,
}

impl<'a> ChallengeRequest<'a> {
    /// A request for `screen_name`, advertising SecurID support like libpurple.
    pub fn new(screen_name: &[u8]) -> Result<ChallengeRequest<'static>, EncodeError> {
        let tlvs = TlvBlock::builder()
            .bytes(tag::SCREEN_NAME, screen_name)
            .empty(tag::SECURID_SUPPORTED)
            .empty(tag::UNKNOWN_5A)
            .build()?;
        Ok(ChallengeRequest { tlvs })
    }
    /// The screen name.
    pub fn screen_name(&self) -> &[u8] {
        self.tlvs.get(tag::SCREEN_NAME).unwrap_or_default()
    }
}

/// 17/07: the server's auth key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeResponse<'a> {
    /// The key the client mixes into the MD5 hash.
    pub key: Str16<'a>,
    /// Optional TLVs (0x0026: truncate the password to 8 characters).
    pub tlvs: TlvBlock<'a>,
}

/// 17/02: the login request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRequest<'a> {
    /// TLVs: 0x0001 screen name and 0x0025 hash (both required), 0x004C, client identity.
    pub tlvs: TlvBlock<'a>,
}

impl<'a> LoginRequest<'a> {
    /// A login with a 16-byte hash; `strong` adds the 0x004C marker.
    pub fn new(
        screen_name: &[u8],
        hash: &[u8; 16],
        strong: bool,
        client: &ClientInfo,
    ) -> Result<LoginRequest<'static>, EncodeError> {
        let b = TlvBlock::builder()
            .bytes(tag::SCREEN_NAME, screen_name)
            .bytes(tag::PASSWORD_HASH, hash)
            .flag(tag::STRONG_HASH, strong);
        Ok(LoginRequest {
            tlvs: client.append_to(b).build()?,
        })
    }
    /// The screen name.
    pub fn screen_name(&self) -> &[u8] {
        self.tlvs.get(tag::SCREEN_NAME).unwrap_or_default()
    }
    /// The 16-byte hash.
    pub fn password_hash(&self) -> [u8; 16] {
        self.tlvs
            .get(tag::PASSWORD_HASH)
            .and_then(|h| h.try_into().ok())
            .unwrap_or_default()
    }
    /// True for the "strong" (pre-hashed) variant.
    pub fn is_strong(&self) -> bool {
        self.tlvs.contains(tag::STRONG_HASH)
    }
    /// The client identity.
    pub fn client_info(&self) -> ClientInfo {
        ClientInfo::from_tlvs(&self.tlvs)
    }
    fn validate(&self) -> Result<(), DecodeError> {
        self.tlvs.require(tag::SCREEN_NAME, "BUCP login request")?;
        let h = self.tlvs.require(tag::PASSWORD_HASH, "BUCP login request")?;
        if h.len() != 16 {
            return Err(DecodeError::BadLength {
                what: "BUCP password hash",
                len: h.len(),
            });
        }
        Ok(())
    }
}

/// 17/03 (and the channel-4 roasted-login result): success or failure TLVs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginResponse<'a> {
    /// TLVs: 0x0001 screen name; success 0x0005 + 0x0006; failure 0x0008 (+ 0x0004).
    pub tlvs: TlvBlock<'a>,
}

/// What a login response says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome<'t> {
    /// Connect to `bos_address` and present `cookie`.
    Success {
        /// `host[:port]`.
        bos_address: &'t [u8],
        /// The one-time login cookie.
        cookie: &'t [u8],
        /// TLS certificate name, when the BOS connection must use TLS.
        tls_cert_name: Option<&'t [u8]>,
    },
    /// The login failed.
    Failure(LoginError),
}

impl<'a> LoginResponse<'a> {
    /// A success response.
    pub fn success(
        screen_name: &[u8],
        bos_address: &[u8],
        cookie: &[u8],
        tls_cert_name: Option<&[u8]>,
    ) -> Result<LoginResponse<'static>, EncodeError> {
        let mut b = TlvBlock::builder()
            .bytes(tag::SCREEN_NAME, screen_name)
            .bytes(tag::BOS_ADDRESS, bos_address)
            .bytes(tag::COOKIE, cookie);
        if let Some(name) = tls_cert_name {
            b = b.bytes(tag::SSL_CERT_NAME, name).u8(tag::SSL_STATE, 1);
        }
        Ok(LoginResponse { tlvs: b.build()? })
    }
    /// A failure response with an error URL like AOL's.
    pub fn failure(screen_name: &[u8], error: LoginError) -> Result<LoginResponse<'static>, EncodeError> {
        let tlvs = TlvBlock::builder()
            .bytes(tag::SCREEN_NAME, screen_name)
            .u16(tag::ERROR_CODE, error.value())
            .bytes(tag::ERROR_URL, b"https://flapjack.invalid/errors/login")
            .build()?;
        Ok(LoginResponse { tlvs })
    }
    /// Interprets the TLVs.
    pub fn outcome(&self) -> Result<LoginOutcome<'_>, DecodeError> {
        if let Some(code) = self.tlvs.get_u16(tag::ERROR_CODE) {
            return Ok(LoginOutcome::Failure(LoginError::from(code)));
        }
        Ok(LoginOutcome::Success {
            bos_address: self.tlvs.require(tag::BOS_ADDRESS, "login response")?,
            cookie: self.tlvs.require(tag::COOKIE, "login response")?,
            tls_cert_name: self.tlvs.get(tag::SSL_CERT_NAME),
        })
    }
}

/// Messages of family 0x0017.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bucp<'a> {
    /// 17/02.
    LoginRequest(LoginRequest<'a>),
    /// 17/03.
    LoginResponse(LoginResponse<'a>),
    /// 17/06.
    ChallengeRequest(ChallengeRequest<'a>),
    /// 17/07.
    ChallengeResponse(ChallengeResponse<'a>),
    /// 17/0A: the server asks for a SecurID code.
    SecurIdRequest,
    /// 17/0B: the SecurID digits.
    SecurIdReply(Str16<'a>),
}

impl<'a> Bucp<'a> {
    /// The subtype of this message.
    pub fn subtype(&self) -> u16 {
        match self {
            Bucp::LoginRequest(_) => subtype::LOGIN_REQUEST,
            Bucp::LoginResponse(_) => subtype::LOGIN_RESPONSE,
            Bucp::ChallengeRequest(_) => subtype::CHALLENGE_REQUEST,
            Bucp::ChallengeResponse(_) => subtype::CHALLENGE_RESPONSE,
            Bucp::SecurIdRequest => subtype::SECURID_REQUEST,
            Bucp::SecurIdReply(_) => subtype::SECURID_REPLY,
        }
    }

    /// Decodes a body; `Ok(None)` for untyped subtypes.
    pub fn decode(subtype: u16, r: &mut Reader<'a>) -> Result<Option<Self>, DecodeError> {
        Ok(Some(match subtype {
            subtype::LOGIN_REQUEST => {
                let m = LoginRequest {
                    tlvs: TlvBlock::decode_rest(r)?,
                };
                m.validate()?;
                Bucp::LoginRequest(m)
            }
            subtype::LOGIN_RESPONSE => Bucp::LoginResponse(LoginResponse {
                tlvs: TlvBlock::decode_rest(r)?,
            }),
            subtype::CHALLENGE_REQUEST => {
                let m = ChallengeRequest {
                    tlvs: TlvBlock::decode_rest(r)?,
                };
                m.tlvs.require(tag::SCREEN_NAME, "BUCP challenge request")?;
                Bucp::ChallengeRequest(m)
            }
            subtype::CHALLENGE_RESPONSE => Bucp::ChallengeResponse(ChallengeResponse {
                key: Str16::decode(r)?,
                tlvs: TlvBlock::decode_rest(r)?,
            }),
            subtype::SECURID_REQUEST => Bucp::SecurIdRequest,
            subtype::SECURID_REPLY => Bucp::SecurIdReply(Str16::decode(r)?),
            _ => return Ok(None),
        }))
    }

    /// Appends the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Bucp::LoginRequest(m) => m.tlvs.encode_rest(out),
            Bucp::LoginResponse(m) => m.tlvs.encode_rest(out),
            Bucp::ChallengeRequest(m) => m.tlvs.encode_rest(out),
            Bucp::ChallengeResponse(m) => {
                m.key.encode(out);
                m.tlvs.encode_rest(out);
            }
            Bucp::SecurIdRequest => {}
            Bucp::SecurIdReply(s) => s.encode(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flap::{Decoded, FlapMessage, FrameDecoder};
    use crate::snac::{Message, Snac};
    use crate::testing::hex;

    fn snac_of_frame(bytes: &[u8]) -> Snac<'_> {
        let Decoded::Complete { value, consumed } = FrameDecoder::new().decode(bytes).unwrap() else {
            panic!("complete frame")
        };
        assert_eq!(consumed, bytes.len());
        let FlapMessage::Data(snac) = FlapMessage::decode(value.channel, &bytes[6..]).unwrap() else {
            panic!("data frame")
        };
        snac
    }

    #[test]
    fn challenge_request_known_answer() {
        // §13: 17/06 for "test" with TLVs 0x4B, 0x5A, seq 2, request id 1
        let bytes =
            hex("2A 02 00 02 00 1A 00 17 00 06 00 00 00 00 00 01 00 01 00 04 74 65 73 74 00 4B 00 00 00 5A 00 00");
        let snac = snac_of_frame(&bytes);
        let Message::Bucp(Bucp::ChallengeRequest(req)) = &snac.message else {
            panic!("17/06")
        };
        assert_eq!(req.screen_name(), b"test");
        let built = Snac::new(
            1,
            Message::Bucp(Bucp::ChallengeRequest(ChallengeRequest::new(b"test").unwrap())),
        );
        let mut out = Vec::new();
        built.encode_frame(2, &mut out).unwrap();
        assert_eq!(out, bytes);
    }

    #[test]
    fn challenge_response_known_answer() {
        let bytes = hex("2A 02 00 64 00 16 00 17 00 07 00 00 00 00 00 01 00 0A 33 31 34 31 35 39 32 36 35 33");
        let snac = snac_of_frame(&bytes);
        let Message::Bucp(Bucp::ChallengeResponse(resp)) = &snac.message else {
            panic!("17/07")
        };
        assert_eq!(resp.key.as_bytes(), b"3141592653");
        let mut out = Vec::new();
        snac.encode_frame(0x64, &mut out).unwrap();
        assert_eq!(out, bytes);
    }

    #[test]
    fn login_request_known_answer() {
        let bytes = hex(concat!(
            "2A 02 00 03 00 92 00 17 00 02 00 00 00 00 00 02",
            "00 01 00 04 74 65 73 74",
            "00 25 00 10 3C 6D 35 9F 22 D2 34 B6 F9 4B 3D 25 6C 34 F1 B1",
            "00 4C 00 00",
            "00 03 00 2D 41 4F 4C 20 49 6E 73 74 61 6E 74 20 4D 65 73 73 65 6E 67 65 72 2C 20 76 65 72 73 69 6F 6E 20",
            "35 2E 39 2E 33 37 30 32 2F 57 49 4E 33 32",
            "00 16 00 02 01 09 00 17 00 02 00 05 00 18 00 02 00 09 00 19 00 02 00 00 00 1A 00 02 0E 76",
            "00 14 00 04 00 00 06 11 00 0F 00 02 65 6E 00 0E 00 02 75 73 00 4A 00 01 01"
        ));
        let snac = snac_of_frame(&bytes);
        let Message::Bucp(Bucp::LoginRequest(req)) = &snac.message else {
            panic!("17/02")
        };
        assert_eq!(req.screen_name(), b"test");
        assert!(req.is_strong());
        assert_eq!(req.password_hash()[0], 0x3C);
        let info = req.client_info();
        assert_eq!(info.id_string, "AOL Instant Messenger, version 5.9.3702/WIN32");
        assert_eq!(info.version, [5, 9, 0, 0x0E76]);
        let rebuilt = LoginRequest::new(b"test", &req.password_hash(), true, &info).unwrap();
        assert_eq!(&rebuilt, req);
    }

    #[test]
    fn login_response_known_answers() {
        let ok = hex(concat!(
            "2A 02 00 65 00 3E 00 17 00 03 00 00 00 00 00 02 00 01 00 04 74 65 73 74",
            "00 05 00 14 62 6F 73 2E 65 78 61 6D 70 6C 65 2E 6E 65 74 3A 35 31 39 30",
            "00 06 00 10 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F"
        ));
        let snac = snac_of_frame(&ok);
        let Message::Bucp(Bucp::LoginResponse(resp)) = &snac.message else {
            panic!("17/03")
        };
        let cookie: Vec<u8> = (0..16).collect();
        assert_eq!(
            resp.outcome().unwrap(),
            LoginOutcome::Success {
                bos_address: b"bos.example.net:5190",
                cookie: &cookie,
                tls_cert_name: None
            }
        );
        assert_eq!(
            resp,
            &LoginResponse::success(b"test", b"bos.example.net:5190", &cookie, None).unwrap()
        );

        let fail = hex(concat!(
            "00 17 00 03 00 00 00 00 00 02 00 01 00 04 74 65 73 74 00 08 00 02 00 05",
            "00 04 00 32 68 74 74 70 3A 2F 2F 77 77 77 2E 61 69 6D 2E 61 6F 6C 2E 63 6F 6D 2F 65 72 72 6F 72 73 2F",
            "4D 49 53 4D 41 54 43 48 5F 50 41 53 53 57 44 2E 68 74 6D 6C"
        ));
        let snac = Snac::decode(&fail).unwrap();
        let Message::Bucp(Bucp::LoginResponse(resp)) = &snac.message else {
            panic!("17/03")
        };
        assert_eq!(
            resp.outcome().unwrap(),
            LoginOutcome::Failure(LoginError::IncorrectPassword)
        );
        assert_eq!(snac.to_bytes(), fail);
    }

    #[test]
    fn login_request_without_hash_is_rejected() {
        let bytes = hex("00 17 00 02 00 00 00 00 00 02 00 01 00 04 74 65 73 74");
        assert_eq!(
            Snac::decode(&bytes).unwrap_err(),
            DecodeError::MissingTlv {
                what: "BUCP login request",
                tag: tag::PASSWORD_HASH
            }
        );
    }
}
