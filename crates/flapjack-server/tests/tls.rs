//! TLS (§11) on real listeners: the generated certificate, the HTTPS API, `useTLS=1` handing out
//! the TLS BOS listener with `tlsCertName`, and BUCP logins over the TLS listener.

mod openauth_support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use flapjack_auth::openauth::{StartSessionData, session_key, signed_query};
use flapjack_server::tls::{CertSource, GENERATED_CERT_FILE, GENERATED_KEY_FILE};
use flapjack_server::{Server, ServerConfig};
use openauth_support::*;

const START_PATH: &str = "/aim/startOSCARSession";

/// A server advertising `localhost`, with the OSCAR TLS listener, plain HTTP and HTTPS, and its
/// certificate generated into a fresh directory.
async fn tls_server(tag: &str) -> (Server, std::path::PathBuf) {
    let dir = temp_dir(tag);
    let mut config = tls_config(&dir);
    config.advertise_host = "localhost".into();
    (start(config).await, dir)
}

fn tls_config(dir: &Path) -> ServerConfig {
    let mut config = config();
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    config.oscar_tls_addr = Some(any);
    config.http.https_addr = Some(any);
    config.tls.dir = Some(dir.to_owned());
    config
}

fn trust(server: &Server) -> Arc<rustls::ClientConfig> {
    client_config(server.frontends().tls().expect("TLS material").certificate_pem())
}

/// `localhost:port` → 127.0.0.1:port (the name stays what the certificate is checked against).
fn loopback(host: &str, port: u16) -> SocketAddr {
    assert_eq!(host, "localhost");
    SocketAddr::from(([127, 0, 0, 1], port))
}

async fn start_session_signed(ep: &Endpoint, use_tls: bool) -> StartSessionData {
    let login = login_ok(ep, &seed_login_body("json")).await;
    let key = session_key(PASSWORD.as_bytes(), login.session_secret.as_bytes());
    let ts = login.host_time.to_string();
    let params = [
        ("a", login.token.a.as_str()),
        ("distId", "1717"),
        ("f", "json"),
        ("k", "whatever"),
        ("ts", ts.as_str()),
        ("useTLS", if use_tls { "1" } else { "0" }),
    ];
    let query = signed_query("GET", &ep.url(START_PATH), &params, &key);
    let resp = start_session(ep, &query).await;
    resp.session_envelope()
        .into_result()
        .unwrap_or_else(|e| panic!("startOSCARSession: {e}: {}", resp.body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_certificate_is_saved_private_and_reused() {
    let (server, dir) = tls_server("gen").await;
    let material = server.frontends().tls().unwrap().clone();
    assert_eq!(material.source(), &CertSource::Generated(dir.join(GENERATED_CERT_FILE)));
    for name in [
        "localhost",
        "127.0.0.1",
        "bos.oscar.aol.com",
        "slogin.oscar.aol.com",
        "api.oscar.aol.com",
        "api.screenname.aol.com",
    ] {
        assert!(
            material.names().iter().any(|n| n == name),
            "{name} in {:?}",
            material.names()
        );
    }
    assert_eq!(material.cert_name(), "localhost");
    let on_disk = std::fs::read_to_string(dir.join(GENERATED_CERT_FILE)).unwrap();
    assert_eq!(on_disk, material.certificate_pem());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for file in [GENERATED_CERT_FILE, GENERATED_KEY_FILE] {
            let mode = std::fs::metadata(dir.join(file)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }
    server.shutdown().await.unwrap();

    // A second start reuses it.
    let mut config = tls_config(&dir);
    config.advertise_host = "localhost".into();
    let again = start(config).await;
    assert_eq!(again.frontends().tls().unwrap().certificate_pem(), on_disk);
    again.shutdown().await.unwrap();

    // A new advertised name needs a new certificate.
    let mut config = tls_config(&dir);
    config.advertise_host = "chat.example.test".into();
    let renamed = start(config).await;
    let pem = renamed.frontends().tls().unwrap().certificate_pem().to_owned();
    assert_ne!(pem, on_disk);
    assert_eq!(std::fs::read_to_string(dir.join(GENERATED_CERT_FILE)).unwrap(), pem);
    assert_eq!(renamed.frontends().tls().unwrap().cert_name(), "chat.example.test");
    renamed.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_api_with_the_generated_certificate() {
    let (server, dir) = tls_server("https").await;
    let https = server.frontends().https_addr().unwrap();
    let ep = Endpoint::https(https, trust(&server), "localhost");
    let resp = request(&ep, "GET", "/healthz", None).await;
    assert_eq!(resp.status, 200);
    // The seed flow over HTTPS, signed over https://localhost:port/aim/startOSCARSession.
    let data = start_session_signed(&ep, false).await;
    assert_eq!(data.tls_cert_name, None);
    assert_eq!(data.port, server.local_addr().port());
    match bos_signon(
        tcp(loopback(&data.host, data.port)).await,
        &data.cookie_bytes().unwrap(),
    )
    .await
    {
        Bos::HostOnline(f) => assert!(f.contains(&1)),
        Bos::Refused => panic!("refused"),
    }
    // The certificate also verifies for the names libpurple uses.
    let ep = Endpoint::https(https, trust(&server), "api.oscar.aol.com");
    assert_eq!(request(&ep, "GET", "/healthz", None).await.status, 200);
    server.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn use_tls_hands_out_the_tls_listener_and_its_certificate_name() {
    let (server, dir) = tls_server("usetls").await;
    let tls_addr = server.frontends().oscar_tls_addr().unwrap();
    // Over plain HTTP, as libpurple may do; the signature covers the request's own URL.
    let ep = Endpoint::plain(server.frontends().http_addr().unwrap());
    let data = start_session_signed(&ep, true).await;
    assert_eq!(data.tls_cert_name.as_deref(), Some("localhost"));
    assert_eq!((data.host.as_str(), data.port), ("localhost", tls_addr.port()));
    let cookie = data.cookie_bytes().unwrap();

    // The TLS cookie is refused over plain TCP (and is used up by the attempt)…
    assert_eq!(bos_signon(tcp(server.local_addr()).await, &cookie).await, Bos::Refused);
    // …so get another and present it over TLS, verifying the certificate against tlsCertName.
    let data = start_session_signed(&ep, true).await;
    let name = data.tls_cert_name.clone().unwrap();
    let stream = tls(loopback(&data.host, data.port), trust(&server), &name).await;
    match bos_signon(stream, &data.cookie_bytes().unwrap()).await {
        Bos::HostOnline(f) => assert!(f.contains(&1) && f.contains(&4), "{f:?}"),
        Bos::Refused => panic!("TLS cookie refused over TLS"),
    }
    // A plain cookie is refused on the TLS listener.
    let plain = start_session_signed(&ep, false).await;
    let stream = tls(tls_addr, trust(&server), "localhost").await;
    assert_eq!(bos_signon(stream, &plain.cookie_bytes().unwrap()).await, Bos::Refused);
    server.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucp_over_the_tls_listener_hands_out_the_tls_bos_address() {
    let (server, dir) = tls_server("bucp").await;
    let tls_addr = server.frontends().oscar_tls_addr().unwrap();
    // libpurple's BUCP + TLS: the login server is slogin.oscar.aol.com, BOS is checked against
    // bos.oscar.aol.com.
    let stream = tls(tls_addr, trust(&server), "slogin.oscar.aol.com").await;
    let ok = bucp_login(stream, USER, PASSWORD).await.expect("BUCP login");
    assert_eq!(ok.bos_address, format!("localhost:{}", tls_addr.port()));
    let stream = tls(tls_addr, trust(&server), "bos.oscar.aol.com").await;
    match bos_signon(stream, &ok.cookie).await {
        Bos::HostOnline(f) => assert!(f.contains(&1)),
        Bos::Refused => panic!("refused"),
    }
    // Over plain TCP the plain address comes back, and its cookie is refused over TLS.
    let ok = bucp_login(tcp(server.local_addr()).await, USER, PASSWORD)
        .await
        .expect("BUCP login");
    assert_eq!(ok.bos_address, format!("localhost:{}", server.local_addr().port()));
    let stream = tls(tls_addr, trust(&server), "localhost").await;
    assert_eq!(bos_signon(stream, &ok.cookie).await, Bos::Refused);
    server.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_certificate_and_explicit_cert_name() {
    // An operator's certificate (made here with the same generator) and tlsCertName override.
    let dir = temp_dir("operator");
    let names = vec!["im.example.test".to_owned(), "localhost".to_owned()];
    let (cert, key) = flapjack_server::tls::generate_self_signed(&names, "im.example.test").unwrap();
    std::fs::write(dir.join("cert.pem"), &cert).unwrap();
    std::fs::write(dir.join("key.pem"), &key).unwrap();
    let mut config = config();
    config.oscar_tls_addr = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    config.tls.cert_path = Some(dir.join("cert.pem"));
    config.tls.key_path = Some(dir.join("key.pem"));
    config.tls.cert_name = Some("im.example.test".into());
    config.advertise_tls = Some("im.example.test:5193".into());
    let server = start(config).await;
    let material = server.frontends().tls().unwrap();
    assert_eq!(material.source(), &CertSource::Configured(dir.join("cert.pem")));
    assert_eq!(material.certificate_pem(), cert);
    let ep = Endpoint::plain(server.frontends().http_addr().unwrap());
    let data = start_session_signed(&ep, true).await;
    assert_eq!(data.tls_cert_name.as_deref(), Some("im.example.test"));
    assert_eq!((data.host.as_str(), data.port), ("im.example.test", 5193));
    // The advertised address is a public name; reach the listener directly, checking the name.
    let tls_addr = server.frontends().oscar_tls_addr().unwrap();
    let stream = tls(tls_addr, client_config(&cert), "im.example.test").await;
    assert!(matches!(
        bos_signon(stream, &data.cookie_bytes().unwrap()).await,
        Bos::HostOnline(_)
    ));
    server.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
