//! The OpenAuth login against a scripted HTTP server whose clock is two hours ahead and which
//! answers the first startOSCARSession with 400 / 1015: the client follows the server's clock,
//! retries once with the time from `data.ts`, and every request it signs verifies with the
//! server-side check of flapjack-auth.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use flapjack_auth::AuthError;
use flapjack_auth::openauth::{
    ClientLoginData, ClientLoginRequest, Envelope, StartSessionData, Token, session_key, verify_signed_request,
};
use flapjack_client::openauth::{self, OpenAuthConfig, Step};
use flapjack_client::{ClientError, TlsOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const SECRET: &str = "Olpq7NboSbO0gxym";
const PASSWORD: &str = "test pw+/";
const SKEW: i64 = 7200;

#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    query: String,
    body: String,
}

type Handler = Arc<dyn Fn(&Request) -> (u16, String) + Send + Sync>;

/// Serves one request per connection with `handler`; returns the base URL.
async fn fake_server(handler: Handler) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let handler = handler.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                while buf.len() < head_end + len {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let mut first = head.lines().next().unwrap_or("").split(' ');
                let method = first.next().unwrap_or("").to_owned();
                let target = first.next().unwrap_or("").to_owned();
                let (path, query) = match target.split_once('?') {
                    Some((p, q)) => (p.to_owned(), q.to_owned()),
                    None => (target, String::new()),
                };
                let req = Request {
                    method,
                    path,
                    query,
                    body: String::from_utf8_lossy(&buf[head_end..]).into_owned(),
                };
                let (status, body) = handler(&req);
                let resp = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

fn server_now() -> i64 {
    openauth::unix_now() + SKEW
}

fn config(base: &str) -> OpenAuthConfig {
    let mut c = OpenAuthConfig::new(base);
    c.dev_id = "devkey".into();
    c.use_tls = false;
    c.timeout = Duration::from_secs(10);
    c
}

fn login_ok(token: &str) -> String {
    Envelope::ok(ClientLoginData {
        token: Token {
            a: token.to_owned(),
            expires_in: Some(86400),
        },
        login_id: Some("erin".into()),
        screen_name: Some("Erin".into()),
        session_secret: SECRET.into(),
        host_time: server_now(),
        token_expires_in: Some(86400),
    })
    .to_json()
}

#[tokio::test]
async fn follows_the_servers_clock_and_retries_once_on_1015() {
    let log: Arc<Mutex<Vec<Request>>> = Arc::default();
    let starts = Arc::new(Mutex::new(0u32));
    let base_cell: Arc<Mutex<String>> = Arc::default();
    let handler: Handler = {
        let log = log.clone();
        let starts = starts.clone();
        let base_cell = base_cell.clone();
        Arc::new(move |req: &Request| {
            log.lock().unwrap().push(req.clone());
            match (req.method.as_str(), req.path.as_str()) {
                ("POST", "/auth/clientLogin") => {
                    let form = ClientLoginRequest::from_form_body(&req.body).expect("a valid form");
                    assert_eq!((form.dev_id.as_str(), form.login_id.as_str()), ("devkey", "erin"));
                    assert_eq!(form.password, PASSWORD);
                    // A percent-encoded token, as AOL's JSON may have carried it.
                    (200, login_ok("tok%2Fen"))
                }
                ("GET", "/aim/startOSCARSession") => {
                    let key = session_key(PASSWORD.as_bytes(), SECRET.as_bytes());
                    let url = format!("{}/aim/startOSCARSession", base_cell.lock().unwrap());
                    let mut n = starts.lock().unwrap();
                    *n += 1;
                    // The first answer moves the server's clock 100 s further.
                    let now = if *n == 1 { server_now() } else { server_now() + 100 };
                    let verified = verify_signed_request("GET", &req.query, &[url], &key, now, 5)
                        .unwrap_or_else(|e| panic!("request {n} does not verify: {e}"));
                    assert_eq!(verified.get("a"), Some("tok/en"), "the token is decoded once");
                    assert_eq!(verified.get("k"), Some("devkey"));
                    assert_eq!(verified.get("useTLS"), Some("0"));
                    if *n == 1 {
                        let env =
                            Envelope::<StartSessionData>::from_error(&AuthError::ClockSkew { server_now: now + 100 });
                        (200, env.to_json())
                    } else {
                        let data = StartSessionData::new("127.0.0.1", 5190, b"the cookie", None);
                        (200, Envelope::ok(data).to_json())
                    }
                }
                _ => (404, String::new()),
            }
        })
    };
    let base = fake_server(handler).await;
    *base_cell.lock().unwrap() = base.clone();
    let done = openauth::login(&config(&base), &TlsOptions::default(), "erin", PASSWORD)
        .await
        .unwrap_or_else(|f| panic!("{}\n{}", f.error, f.transcript));
    assert_eq!(done.target.cookie, b"the cookie");
    assert_eq!((done.target.host.as_str(), done.target.port), ("127.0.0.1", 5190));
    assert_eq!(done.target.tls_cert_name, None);
    assert_eq!(*starts.lock().unwrap(), 2, "exactly one retry");
    let t = &done.transcript;
    let offsets: Vec<i64> = t
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::ClockOffset { offset_secs, .. } => Some(*offset_secs),
            _ => None,
        })
        .collect();
    assert_eq!(offsets.len(), 2);
    assert!((offsets[0] - SKEW).abs() <= 2, "{offsets:?}");
    assert!((offsets[1] - SKEW - 100).abs() <= 2, "{offsets:?}");
    assert!(t.steps.iter().any(|s| matches!(s, Step::Retry { .. })));
    let text = t.to_string();
    for secret in [PASSWORD, SECRET, "tok%2Fen", "tok/en"] {
        assert!(!text.contains(secret), "{secret:?} redacted in:\n{text}");
    }
    assert!(text.contains("BOS 127.0.0.1:5190 plain TCP"), "{text}");
}

#[tokio::test]
async fn a_persistent_1015_and_other_failures_are_typed() {
    let handler: Handler = Arc::new(|req: &Request| match req.path.as_str() {
        "/auth/clientLogin" => (200, login_ok("token")),
        _ => {
            let env = Envelope::<StartSessionData>::from_error(&AuthError::ClockSkew { server_now: 1 });
            (400, env.to_json())
        }
    });
    let base = fake_server(handler).await;
    let fail = openauth::login(&config(&base), &TlsOptions::default(), "erin", PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(
        fail.error,
        ClientError::OpenAuth(AuthError::ClockSkew { server_now: 1 })
    );
    let retries = fail
        .transcript
        .steps
        .iter()
        .filter(|s| matches!(s, Step::Retry { .. }))
        .count();
    assert_eq!(retries, 1, "one retry only");
    assert!(matches!(fail.transcript.steps.last(), Some(Step::Failed { .. })));

    let handler: Handler = Arc::new(|req: &Request| match req.path.as_str() {
        "/auth/clientLogin" => (200, login_ok("token")),
        _ => (
            200,
            Envelope::<StartSessionData>::from_error(&AuthError::AuthenticationFailed).to_json(),
        ),
    });
    let base = fake_server(handler).await;
    let fail = openauth::login(&config(&base), &TlsOptions::default(), "erin", PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(fail.error, ClientError::OpenAuth(AuthError::AuthenticationFailed));
    assert!(fail.error.to_string().contains("1014"));

    let handler: Handler = Arc::new(|_: &Request| (500, "oops".to_owned()));
    let base = fake_server(handler).await;
    let fail = openauth::login(&config(&base), &TlsOptions::default(), "erin", PASSWORD)
        .await
        .unwrap_err();
    assert!(
        matches!(fail.error, ClientError::Http(ref m) if m.contains("500")),
        "{}",
        fail.error
    );
}
