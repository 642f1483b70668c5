//! A minimal HTTP/1.1 client on hyper: one request per connection, `http` and `https`, bodies
//! capped in size. That is all the OpenAuth login needs.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Request;
use hyper::header::{ACCEPT, CONTENT_TYPE, HOST, USER_AGENT};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;

use crate::error::ClientError;
use crate::tls;

/// Largest response body accepted.
const MAX_BODY: usize = 1 << 20;

/// A parsed `scheme://host[:port]/path?query` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// `http` or `https`.
    pub https: bool,
    /// Host (without brackets for IPv6).
    pub host: String,
    /// Port (explicit or the scheme's default).
    pub port: u16,
    /// The authority as written (for the `Host` header).
    pub authority: String,
    /// Path and query, at least `/`.
    pub path_and_query: String,
}

impl HttpUrl {
    /// Parses an absolute `http`/`https` URL.
    pub fn parse(url: &str) -> Result<Self, ClientError> {
        let bad = || ClientError::Http(format!("not an http(s) URL: {url}"));
        let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "http" => false,
            "https" => true,
            _ => return Err(bad()),
        };
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let path = path.split('#').next().unwrap_or("/");
        let path_and_query = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(bad());
        }
        let default_port = if https { 443 } else { 80 };
        let (host, port) = crate::session::split_host_port(authority, default_port);
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Self {
            https,
            host,
            port,
            authority: authority.to_owned(),
            path_and_query,
        })
    }
}

/// A response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The body, as text (lossy UTF-8).
    pub body: String,
}

/// Sends one request and reads the whole response. `body` is `(content type, bytes)`.
pub async fn request(
    method: &str,
    url: &str,
    body: Option<(&str, String)>,
    tls_config: &Arc<ClientConfig>,
    timeout: Duration,
) -> Result<HttpResponse, ClientError> {
    let url = HttpUrl::parse(url)?;
    let fut = exchange(method, &url, body, tls_config);
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(ClientError::Timeout(format!(
            "HTTP {method} {}{}",
            url.authority, url.path_and_query
        ))),
    }
}

async fn exchange(
    method: &str,
    url: &HttpUrl,
    body: Option<(&str, String)>,
    tls_config: &Arc<ClientConfig>,
) -> Result<HttpResponse, ClientError> {
    let tls_name = url.https.then_some(url.host.as_str());
    let stream = tls::connect(&url.host, url.port, tls_name, tls_config).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
        .await
        .map_err(|e| ClientError::Http(e.to_string()))?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut builder = Request::builder()
        .method(method)
        .uri(url.path_and_query.as_str())
        .header(HOST, url.authority.as_str())
        .header(USER_AGENT, concat!("flapjack/", env!("CARGO_PKG_VERSION")))
        .header(ACCEPT, "application/json, text/xml, application/xml");
    let payload = match body {
        Some((content_type, text)) => {
            builder = builder.header(CONTENT_TYPE, content_type);
            Bytes::from(text)
        }
        None => Bytes::new(),
    };
    let req = builder
        .body(Full::new(payload))
        .map_err(|e| ClientError::Http(e.to_string()))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| ClientError::Http(e.to_string()))?;
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = Limited::new(resp.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| ClientError::Http(format!("reading the response body: {e}")))?
        .to_bytes();
    driver.abort();
    Ok(HttpResponse {
        status,
        content_type,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = HttpUrl::parse("https://api.example:8443/base/auth/clientLogin?x=1#frag").unwrap();
        assert!(u.https);
        assert_eq!((u.host.as_str(), u.port), ("api.example", 8443));
        assert_eq!(u.path_and_query, "/base/auth/clientLogin?x=1");
        let u = HttpUrl::parse("http://[::1]").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.path_and_query.as_str()), ("::1", 80, "/"));
        assert!(HttpUrl::parse("ftp://x/").is_err());
        assert!(HttpUrl::parse("http:///x").is_err());
    }
}
