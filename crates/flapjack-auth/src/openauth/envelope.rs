//! The OpenAuth response envelope (§2.3, §2.4, §2.9), rendered and parsed as JSON and XML.
//!
//! ```text
//! {"response":{"statusCode":200,"statusText":"OK","statusDetailCode":…,"requestId":…,"data":{…}}}
//! <?xml version="1.0" encoding="UTF-8"?><response xmlns="https://api.login.aol.com">
//!   <statusCode>200</statusCode><statusText>OK</statusText>…<data>…</data></response>
//! ```
//! Both formats go through one small tree type, [`Node`], so a data type describes its fields
//! once ([`EnvelopeData`]). Parsing is lenient the way clients are: XML namespaces and prefixes
//! are ignored, numbers may arrive as JSON strings (Open OSCAR sends `expiresIn` as a string),
//! unknown fields are ignored. Rendering is strict: JSON by hand with full escaping, XML by hand
//! with entity escaping (characters XML 1.0 cannot carry become U+FFFD).

use std::borrow::Cow;
use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use quick_xml::Reader;
use quick_xml::events::Event;

use crate::AuthError;

use super::status::{DetailCode, StatusCode};

/// The XML namespace Open OSCAR puts on `/auth/*` responses (the ICQ 7 client expects it).
pub const AUTH_XML_NAMESPACE: &str = "https://api.login.aol.com";

/// Deepest element nesting the XML parser accepts.
const MAX_XML_DEPTH: usize = 32;

/// The `f` parameter: the format of the response.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ResponseFormat {
    /// `f=json`.
    #[default]
    Json,
    /// `f=xml` (what libpurple asks for).
    Xml,
}

impl ResponseFormat {
    /// Reads an `f` value (`json` / `xml`, any case). `None` for anything else (e.g. `qs`,
    /// `amf`, which this crate does not render).
    #[must_use]
    pub fn from_param(value: &str) -> Option<Self> {
        if value.eq_ignore_ascii_case("json") {
            Some(Self::Json)
        } else if value.eq_ignore_ascii_case("xml") {
            Some(Self::Xml)
        } else {
            None
        }
    }

    /// The `f` value: `json` or `xml`.
    #[must_use]
    pub const fn as_param(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Xml => "xml",
        }
    }

    /// The HTTP `Content-Type` for a response body in this format.
    #[must_use]
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json; charset=UTF-8",
            Self::Xml => "text/xml; charset=UTF-8",
        }
    }
}

/// A format-neutral value tree: what JSON objects and XML elements have in common.
///
/// XML leaves are always [`Node::Text`]; JSON integers become [`Node::Int`]. Accessors convert
/// between the two, so data types read the same from both formats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// A string (or an XML element's text).
    Text(String),
    /// An integer.
    Int(i64),
    /// An object / an element with child elements, fields in order.
    Map(Vec<(String, Node)>),
}

impl Node {
    /// The first child named `name`, if this is a map.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Node> {
        match self {
            Self::Map(entries) => entries.iter().find(|(n, _)| n == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The node at a path of child names (`["token", "a"]`).
    #[must_use]
    pub fn at(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(self, |node, name| node.get(name))
    }

    /// The text of a leaf (an integer is written in decimal); `None` for a map.
    #[must_use]
    pub fn as_text(&self) -> Option<Cow<'_, str>> {
        match self {
            Self::Text(text) => Some(Cow::Borrowed(text)),
            Self::Int(value) => Some(Cow::Owned(value.to_string())),
            Self::Map(_) => None,
        }
    }

    /// The value of an integer leaf, or of a text leaf holding a decimal integer (surrounding
    /// whitespace allowed).
    #[must_use]
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Self::Int(value) => Some(*value),
            Self::Text(text) => text.trim().parse().ok(),
            Self::Map(_) => None,
        }
    }

    /// Like [`as_i64`](Self::as_i64) for non-negative values up to `u64::MAX`.
    #[must_use]
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Self::Int(value) => u64::try_from(*value).ok(),
            Self::Text(text) => text.trim().parse().ok(),
            Self::Map(_) => None,
        }
    }

    /// A node for an unsigned number ([`Node::Int`] when it fits, else decimal text).
    #[must_use]
    pub fn from_u64(value: u64) -> Self {
        i64::try_from(value).map_or_else(|_| Self::Text(value.to_string()), Self::Int)
    }
}

/// A type that can be the `data` of a success envelope.
pub trait EnvelopeData: Sized {
    /// The `xmlns` to put on the XML root (`None`: no namespace attribute).
    const XML_NAMESPACE: Option<&'static str> = None;

    /// The data as a [`Node::Map`].
    fn to_node(&self) -> Node;

    /// Reads the data from the `data` node.
    ///
    /// # Errors
    /// [`AuthError::MissingField`] naming the path (`data/…`) of a required field that is
    /// absent or unusable.
    fn from_node(node: &Node) -> Result<Self, AuthError>;
}

impl EnvelopeData for Node {
    fn to_node(&self) -> Node {
        self.clone()
    }

    fn from_node(node: &Node) -> Result<Self, AuthError> {
        Ok(node.clone())
    }
}

/// The `data` of an error envelope. For statusDetailCode 1015 it carries the server's time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ErrorData {
    /// `data.ts`: the server's current time, Unix seconds (sent with 400 / 1015).
    pub ts: Option<i64>,
}

impl ErrorData {
    fn to_node(&self) -> Node {
        Node::Map(self.ts.map(|ts| ("ts".to_owned(), Node::Int(ts))).into_iter().collect())
    }

    fn from_node(node: &Node) -> Self {
        Self {
            ts: node.get("ts").and_then(Node::as_i64),
        }
    }
}

/// What an envelope's `data` holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResponseData<D> {
    /// No `data` element.
    Absent,
    /// The data of a 200 response.
    Success(D),
    /// The data of a non-200 response (`{}` or `{"ts":…}`).
    Error(ErrorData),
}

/// The `response` envelope.
///
/// When parsing, `data` is read as `D` if `statusCode` is 200 and as [`ErrorData`] otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope<D> {
    /// `statusCode`.
    pub status_code: StatusCode,
    /// `statusText`.
    pub status_text: String,
    /// `statusDetailCode`, if any.
    pub status_detail_code: Option<DetailCode>,
    /// `requestId`: the request's `r`, echoed.
    pub request_id: Option<String>,
    /// `data`.
    pub data: ResponseData<D>,
}

impl<D: EnvelopeData> Envelope<D> {
    /// A 200 `OK` envelope carrying `data`.
    #[must_use]
    pub fn ok(data: D) -> Self {
        Self {
            status_code: StatusCode::Ok,
            status_text: "OK".to_owned(),
            status_detail_code: None,
            request_id: None,
            data: ResponseData::Success(data),
        }
    }

    /// An error envelope; `statusText` is the detail's meaning, else the status's.
    #[must_use]
    pub fn error(status: StatusCode, detail: Option<DetailCode>) -> Self {
        let text = detail.map_or(status.meaning(), DetailCode::meaning);
        Self {
            status_code: status,
            status_text: text.to_owned(),
            status_detail_code: detail,
            request_id: None,
            data: ResponseData::Error(ErrorData::default()),
        }
    }

    /// The error envelope a server sends for `err` (status per
    /// [`AuthError::envelope_status`]; [`AuthError::ClockSkew`] puts its `server_now` into
    /// `data.ts`). Internal errors are reported as a plain 500 without details.
    #[must_use]
    pub fn from_error(err: &AuthError) -> Self {
        let (status, detail) = err.envelope_status();
        let mut envelope = Self::error(status, detail);
        match err {
            AuthError::ClockSkew { server_now } => {
                envelope.data = ResponseData::Error(ErrorData { ts: Some(*server_now) });
            }
            AuthError::MissingParameter(name) => {
                envelope.status_text = format!("{}: {name}", status.meaning());
            }
            AuthError::BadParameter(name) => {
                envelope.status_text = format!("{}: {name}", status.meaning());
            }
            AuthError::Rejected { text, .. } if !text.is_empty() => {
                envelope.status_text.clone_from(text);
            }
            _ => {}
        }
        envelope
    }

    /// Sets `requestId` (the request's `r`).
    #[must_use]
    pub fn with_request_id(mut self, request_id: Option<String>) -> Self {
        self.request_id = request_id;
        self
    }

    /// Sets `statusText`.
    #[must_use]
    pub fn with_status_text(mut self, text: impl Into<String>) -> Self {
        self.status_text = text.into();
        self
    }

    /// The data of a 200 envelope, or the typed error for any other status (see
    /// [`AuthError::from_status`]).
    ///
    /// # Errors
    /// The mapped status error; [`AuthError::MissingField`] (`data`) for a 200 without data.
    pub fn into_result(self) -> Result<D, AuthError> {
        if self.status_code.is_ok() {
            return match self.data {
                ResponseData::Success(data) => Ok(data),
                _ => Err(AuthError::MissingField("data".to_owned())),
            };
        }
        let ts = match &self.data {
            ResponseData::Error(data) => data.ts,
            _ => None,
        };
        Err(AuthError::from_status(
            self.status_code,
            self.status_detail_code,
            &self.status_text,
            ts,
        ))
    }

    fn to_node(&self) -> Node {
        let mut fields = vec![
            ("statusCode".to_owned(), Node::Int(i64::from(self.status_code.code()))),
            ("statusText".to_owned(), Node::Text(self.status_text.clone())),
        ];
        if let Some(detail) = self.status_detail_code {
            fields.push(("statusDetailCode".to_owned(), Node::Int(i64::from(detail.code()))));
        }
        if let Some(request_id) = &self.request_id {
            fields.push(("requestId".to_owned(), Node::Text(request_id.clone())));
        }
        match &self.data {
            ResponseData::Absent => {}
            ResponseData::Success(data) => fields.push(("data".to_owned(), data.to_node())),
            ResponseData::Error(data) => fields.push(("data".to_owned(), data.to_node())),
        }
        Node::Map(fields)
    }

    fn from_response_node(response: &Node) -> Result<Self, AuthError> {
        let code = |name: &str| -> Result<Option<u16>, AuthError> {
            match response.get(name) {
                None => Ok(None),
                Some(node) => node
                    .as_i64()
                    .and_then(|v| u16::try_from(v).ok())
                    .map(Some)
                    .ok_or_else(|| AuthError::MissingField(format!("response/{name}"))),
            }
        };
        let status_code = StatusCode::from_code(
            code("statusCode")?.ok_or_else(|| AuthError::MissingField("response/statusCode".to_owned()))?,
        );
        let status_detail_code = code("statusDetailCode")?.map(DetailCode::from_code);
        let status_text = response
            .get("statusText")
            .and_then(Node::as_text)
            .map(Cow::into_owned)
            .unwrap_or_default();
        let request_id = response.get("requestId").and_then(Node::as_text).map(Cow::into_owned);
        let data = match response.get("data") {
            None => ResponseData::Absent,
            Some(node) if status_code.is_ok() => ResponseData::Success(D::from_node(node)?),
            Some(node) => ResponseData::Error(ErrorData::from_node(node)),
        };
        Ok(Self {
            status_code,
            status_text,
            status_detail_code,
            request_id,
            data,
        })
    }

    /// Renders as JSON: `{"response":{…}}`.
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut out = String::from("{\"response\":");
        write_json(&self.to_node(), &mut out);
        out.push('}');
        out
    }

    /// Renders as JSONP, `callback({"response":{…}});`, for the `c` parameter.
    ///
    /// # Errors
    /// [`AuthError::BadParameter`] (`c`) unless `callback` is 1–64 characters of
    /// `A-Z a-z 0-9 _ $ .` (anything else could inject script).
    pub fn to_jsonp(&self, callback: &str) -> Result<String, AuthError> {
        let valid = !callback.is_empty()
            && callback.len() <= 64
            && callback
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'.'));
        if !valid {
            return Err(AuthError::BadParameter("c".to_owned()));
        }
        Ok(format!("{callback}({});", self.to_json()))
    }

    /// Renders as XML with `D`'s namespace on the root.
    #[must_use]
    pub fn to_xml(&self) -> String {
        self.to_xml_with_namespace(D::XML_NAMESPACE)
    }

    /// Renders as XML with the given `xmlns` on the root (or none).
    #[must_use]
    pub fn to_xml_with_namespace(&self, namespace: Option<&str>) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><response");
        if let Some(namespace) = namespace {
            out.push_str(" xmlns=\"");
            escape_xml_into(namespace, &mut out);
            out.push('"');
        }
        out.push('>');
        if let Node::Map(fields) = self.to_node() {
            for (name, node) in &fields {
                write_xml_element(name, node, &mut out);
            }
        }
        out.push_str("</response>");
        out
    }

    /// Renders in `format`.
    #[must_use]
    pub fn render(&self, format: ResponseFormat) -> String {
        match format {
            ResponseFormat::Json => self.to_json(),
            ResponseFormat::Xml => self.to_xml(),
        }
    }

    /// Parses a JSON body (`{"response":{…}}`).
    ///
    /// # Errors
    /// [`AuthError::MalformedJson`] for bad JSON or no `response` object;
    /// [`AuthError::MissingField`] for a missing/unusable `statusCode` or, in a 200, a
    /// missing required data field.
    pub fn from_json(body: &str) -> Result<Self, AuthError> {
        let value: serde_json::Value =
            serde_json::from_str(body).map_err(|e| AuthError::MalformedJson(e.to_string()))?;
        let response = value
            .get("response")
            .and_then(json_to_node)
            .filter(|node| matches!(node, Node::Map(_)))
            .ok_or_else(|| AuthError::MalformedJson("no `response` object".to_owned()))?;
        Self::from_response_node(&response)
    }

    /// Parses an XML body whose root element is `response` (namespaces ignored).
    ///
    /// # Errors
    /// [`AuthError::MalformedXml`] for bad XML or another root; [`AuthError::MissingField`]
    /// as for [`from_json`](Self::from_json).
    pub fn from_xml(body: &str) -> Result<Self, AuthError> {
        let (root, node) = parse_xml(body)?;
        if root != "response" {
            return Err(AuthError::MalformedXml(format!(
                "root element is `{root}`, not `response`"
            )));
        }
        Self::from_response_node(&node)
    }

    /// Parses a body in `format`.
    ///
    /// # Errors
    /// As [`from_json`](Self::from_json) / [`from_xml`](Self::from_xml).
    pub fn parse(body: &str, format: ResponseFormat) -> Result<Self, AuthError> {
        match format {
            ResponseFormat::Json => Self::from_json(body),
            ResponseFormat::Xml => Self::from_xml(body),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JSON

fn json_to_node(value: &serde_json::Value) -> Option<Node> {
    use serde_json::Value;
    match value {
        Value::Null | Value::Array(_) => None,
        Value::Bool(b) => Some(Node::Text(b.to_string())),
        Value::Number(n) => Some(n.as_i64().map_or_else(|| Node::Text(n.to_string()), Node::Int)),
        Value::String(s) => Some(Node::Text(s.clone())),
        Value::Object(map) => Some(Node::Map(
            map.iter()
                .filter_map(|(k, v)| json_to_node(v).map(|n| (k.clone(), n)))
                .collect(),
        )),
    }
}

fn write_json(node: &Node, out: &mut String) {
    match node {
        Node::Text(text) => write_json_string(text, out),
        Node::Int(value) => {
            let _ = write!(out, "{value}");
        }
        Node::Map(fields) => {
            out.push('{');
            for (i, (name, value)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(name, out);
                out.push(':');
                write_json(value, out);
            }
            out.push('}');
        }
    }
}

fn write_json_string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Control characters, and the two separators that break JSONP in old JavaScript.
            c if u32::from(c) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

// ---------------------------------------------------------------------------------------------
// XML

fn write_xml_element(name: &str, node: &Node, out: &mut String) {
    let name = xml_name(name);
    let _ = write!(out, "<{name}>");
    match node {
        Node::Text(text) => escape_xml_into(text, out),
        Node::Int(value) => {
            let _ = write!(out, "{value}");
        }
        Node::Map(fields) => {
            for (child, value) in fields {
                write_xml_element(child, value, out);
            }
        }
    }
    let _ = write!(out, "</{name}>");
}

/// An element name made safe: characters not allowed in XML names become `_`.
fn xml_name(name: &str) -> Cow<'_, str> {
    let ok = |(i, c): (usize, char)| {
        c.is_alphabetic() || c == '_' || (i > 0 && (c.is_alphanumeric() || matches!(c, '-' | '.')))
    };
    if !name.is_empty() && name.chars().enumerate().all(ok) {
        Cow::Borrowed(name)
    } else if name.is_empty() {
        Cow::Borrowed("_")
    } else {
        Cow::Owned(
            name.chars()
                .enumerate()
                .map(|(i, c)| if ok((i, c)) { c } else { '_' })
                .collect(),
        )
    }
}

/// Escapes text for element content or a double-quoted attribute.
fn escape_xml_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Kept as references so XML parsers do not normalise them away.
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
}

/// Whether XML 1.0 can carry the character at all.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

struct Frame {
    name: String,
    children: Vec<(String, Node)>,
    text: String,
}

fn xml_error(e: impl std::fmt::Display) -> AuthError {
    AuthError::MalformedXml(e.to_string())
}

fn local_name(qname: &[u8]) -> Result<String, AuthError> {
    let local = match qname.iter().position(|&b| b == b':') {
        Some(i) => &qname[i + 1..],
        None => qname,
    };
    std::str::from_utf8(local).map(str::to_owned).map_err(xml_error)
}

/// Parses an XML document into (root local name, root node).
fn parse_xml(body: &str) -> Result<(String, Node), AuthError> {
    let mut reader = Reader::from_str(body);
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<(String, Node)> = None;

    let mut attach = |stack: &mut Vec<Frame>, name: String, node: Node| -> Result<(), AuthError> {
        match stack.last_mut() {
            Some(parent) => parent.children.push((name, node)),
            None if root.is_none() => root = Some((name, node)),
            None => return Err(xml_error("more than one root element")),
        }
        Ok(())
    };

    loop {
        match reader.read_event().map_err(xml_error)? {
            Event::Start(start) => {
                if stack.len() >= MAX_XML_DEPTH {
                    return Err(xml_error("elements nested too deeply"));
                }
                stack.push(Frame {
                    name: local_name(start.name().as_ref())?,
                    children: Vec::new(),
                    text: String::new(),
                });
            }
            Event::Empty(empty) => {
                let name = local_name(empty.name().as_ref())?;
                attach(&mut stack, name, Node::Text(String::new()))?;
            }
            Event::End(_) => {
                let frame = stack.pop().ok_or_else(|| xml_error("unmatched end tag"))?;
                let node = if frame.children.is_empty() {
                    Node::Text(frame.text)
                } else {
                    Node::Map(frame.children)
                };
                attach(&mut stack, frame.name, node)?;
            }
            Event::Text(text) => {
                let text = text.unescape().map_err(xml_error)?;
                match stack.last_mut() {
                    Some(frame) => frame.text.push_str(&text),
                    None if text.trim().is_empty() => {}
                    None => return Err(xml_error("text outside the root element")),
                }
            }
            Event::CData(cdata) => {
                let text = cdata.decode().map_err(xml_error)?;
                if let Some(frame) = stack.last_mut() {
                    frame.text.push_str(&text);
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(xml_error("unclosed element"));
    }
    root.ok_or_else(|| xml_error("no root element"))
}

// ---------------------------------------------------------------------------------------------
// Data types

fn required_text(node: &Node, path: &[&str]) -> Result<String, AuthError> {
    node.at(path)
        .and_then(Node::as_text)
        .map(Cow::into_owned)
        .ok_or_else(|| missing(path))
}

fn optional_text(node: &Node, path: &[&str]) -> Option<String> {
    node.at(path).and_then(Node::as_text).map(Cow::into_owned)
}

fn optional_u64(node: &Node, path: &[&str]) -> Result<Option<u64>, AuthError> {
    match node.at(path) {
        None => Ok(None),
        Some(n) => n.as_u64().map(Some).ok_or_else(|| missing(path)),
    }
}

fn missing(path: &[&str]) -> AuthError {
    AuthError::MissingField(format!("data/{}", path.join("/")))
}

/// The token part of the clientLogin data (`data.token`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// `token.a`: the opaque token the client passes as `a` to startOSCARSession. Servers should
    /// mint it URL-safe (e.g. base64url); clients may need to percent-decode it if it contains
    /// `%XX` (see §2.3).
    pub a: String,
    /// `token.expiresIn`, seconds.
    pub expires_in: Option<u64>,
}

/// The `data` of a successful clientLogin (§2.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientLoginData {
    /// `token`.
    pub token: Token,
    /// `loginId`: the login id as the client sent it.
    pub login_id: Option<String>,
    /// `screenName`: the formatted screen name.
    pub screen_name: Option<String>,
    /// `sessionSecret`: the secret the session key is derived from.
    pub session_secret: String,
    /// `hostTime`: the server's time, Unix seconds; the client's `ts` must follow this clock.
    pub host_time: i64,
    /// `tokenExpiresIn`, seconds.
    pub token_expires_in: Option<u64>,
}

impl EnvelopeData for ClientLoginData {
    const XML_NAMESPACE: Option<&'static str> = Some(AUTH_XML_NAMESPACE);

    fn to_node(&self) -> Node {
        let mut token = vec![("a".to_owned(), Node::Text(self.token.a.clone()))];
        if let Some(expires_in) = self.token.expires_in {
            token.push(("expiresIn".to_owned(), Node::from_u64(expires_in)));
        }
        let mut fields = vec![("token".to_owned(), Node::Map(token))];
        if let Some(login_id) = &self.login_id {
            fields.push(("loginId".to_owned(), Node::Text(login_id.clone())));
        }
        if let Some(screen_name) = &self.screen_name {
            fields.push(("screenName".to_owned(), Node::Text(screen_name.clone())));
        }
        fields.push(("sessionSecret".to_owned(), Node::Text(self.session_secret.clone())));
        fields.push(("hostTime".to_owned(), Node::Int(self.host_time)));
        if let Some(expires_in) = self.token_expires_in {
            fields.push(("tokenExpiresIn".to_owned(), Node::from_u64(expires_in)));
        }
        Node::Map(fields)
    }

    fn from_node(node: &Node) -> Result<Self, AuthError> {
        Ok(Self {
            token: Token {
                a: required_text(node, &["token", "a"])?,
                expires_in: optional_u64(node, &["token", "expiresIn"])?,
            },
            login_id: optional_text(node, &["loginId"]),
            screen_name: optional_text(node, &["screenName"]),
            session_secret: required_text(node, &["sessionSecret"])?,
            host_time: node
                .get("hostTime")
                .and_then(Node::as_i64)
                .ok_or_else(|| missing(&["hostTime"]))?,
            token_expires_in: optional_u64(node, &["tokenExpiresIn"])?,
        })
    }
}

/// The `data` of a successful startOSCARSession (§2.9).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartSessionData {
    /// `host`: the BOS host.
    pub host: String,
    /// `port`: the BOS port.
    pub port: u16,
    /// `cookie`: the login cookie, standard Base64 (see [`cookie_bytes`](Self::cookie_bytes)).
    pub cookie: String,
    /// `tlsCertName`: present ⇒ connect with TLS and verify the certificate against this name.
    pub tls_cert_name: Option<String>,
}

impl StartSessionData {
    /// Builds the data from the raw cookie bytes (Base64-encoding them).
    #[must_use]
    pub fn new(host: impl Into<String>, port: u16, cookie: &[u8], tls_cert_name: Option<String>) -> Self {
        Self {
            host: host.into(),
            port,
            cookie: STANDARD.encode(cookie),
            tls_cert_name,
        }
    }

    /// The login cookie's raw bytes, for FLAP TLV 0x0006 at BOS sign-on.
    ///
    /// # Errors
    /// [`AuthError::MissingField`] (`data/cookie`) when `cookie` is not standard Base64.
    pub fn cookie_bytes(&self) -> Result<Vec<u8>, AuthError> {
        let cleaned: String = self.cookie.chars().filter(|c| !c.is_whitespace()).collect();
        STANDARD
            .decode(cleaned)
            .map_err(|_| AuthError::MissingField("data/cookie".to_owned()))
    }
}

impl EnvelopeData for StartSessionData {
    fn to_node(&self) -> Node {
        let mut fields = vec![
            ("host".to_owned(), Node::Text(self.host.clone())),
            ("port".to_owned(), Node::Int(i64::from(self.port))),
            ("cookie".to_owned(), Node::Text(self.cookie.clone())),
        ];
        if let Some(name) = &self.tls_cert_name {
            fields.push(("tlsCertName".to_owned(), Node::Text(name.clone())));
        }
        Node::Map(fields)
    }

    fn from_node(node: &Node) -> Result<Self, AuthError> {
        Ok(Self {
            host: required_text(node, &["host"])?,
            port: node
                .get("port")
                .and_then(Node::as_i64)
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(|| missing(&["port"]))?,
            cookie: required_text(node, &["cookie"])?,
            tls_cert_name: optional_text(node, &["tlsCertName"]).filter(|n| !n.is_empty()),
        })
    }
}
