//! Service redirects over TLS (§11): a BOS session on the TLS listener that asks for TLS (TLV
//! 0x008C) is sent to the TLS listener with TLS state 1 and the certificate name, and its cookie
//! works over TLS only; without 0x008C it gets the plain listener.

mod openauth_support;

use std::net::SocketAddr;

use flapjack_wire::family::chat_nav::ChatNav;
use flapjack_wire::family::oservice::{Oservice, ServiceRequest, ServiceResponse};
use flapjack_wire::flap::signon_tag;
use flapjack_wire::snac::Message;
use flapjack_wire::{Family, Snac, TlvBlock};
use openauth_support::{Bos, Flap, bos_signon, bucp_login, client_config, config, start, tcp, temp_dir, tls};
use tokio::io::{AsyncRead, AsyncWrite};

/// The next SNAC of `family`/`subtype` on `f` (owned payload).
async fn next_of<S: AsyncRead + AsyncWrite + Unpin>(f: &mut Flap<S>, family: u16, subtype: u16) -> Vec<u8> {
    for _ in 0..64 {
        let payload = f.recv_snac().await.expect("a SNAC");
        let h = Snac::decode(&payload).expect("SNAC").header();
        if h.family == family && h.subtype == subtype {
            return payload;
        }
        assert!(
            !(h.family == 0x0001 && h.subtype == 0x0001),
            "OSERVICE error instead of {family:04x}/{subtype:04x}"
        );
    }
    panic!("no {family:04x}/{subtype:04x}");
}

async fn redirect<S: AsyncRead + AsyncWrite + Unpin>(bos: &mut Flap<S>, tls: bool) -> ServiceResponse<'static> {
    bos.send(Message::Oservice(Oservice::ServiceRequest(ServiceRequest::new(
        Family::ChatNav,
        tls,
    ))))
    .await;
    let payload = next_of(bos, 0x0001, 0x0005).await;
    let Message::Oservice(Oservice::ServiceResponse(r)) = Snac::decode(&payload).unwrap().message else {
        panic!("expected 01/05");
    };
    ServiceResponse {
        tlvs: r.tlvs.into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_nav_redirect_follows_the_tls_of_bos() {
    let dir = temp_dir("chat-tls");
    let mut cfg = config();
    cfg.advertise_host = "localhost".into();
    cfg.oscar_tls_addr = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    cfg.tls.dir = Some(dir.clone());
    let server = start(cfg).await;
    let tls_addr = server.frontends().oscar_tls_addr().unwrap();
    let trust = client_config(server.frontends().tls().unwrap().certificate_pem());

    // libpurple's way: BUCP over TLS, then BOS over TLS (checked against bos.oscar.aol.com).
    let login = bucp_login(
        tls(tls_addr, trust.clone(), "slogin.oscar.aol.com").await,
        openauth_support::USER,
        openauth_support::PASSWORD,
    )
    .await
    .expect("BUCP login");
    let mut bos = Flap::open(tls(tls_addr, trust.clone(), "bos.oscar.aol.com").await).await;
    bos.send_signon(
        TlvBlock::builder()
            .bytes(signon_tag::COOKIE, &login.cookie)
            .build()
            .unwrap(),
    )
    .await;
    next_of(&mut bos, 0x0001, 0x0003).await;

    // With 0x008C: the TLS listener, TLS state 1, the certificate name.
    let resp = redirect(&mut bos, true).await;
    assert_eq!(resp.family(), Family::ChatNav);
    assert_eq!(resp.tls_state(), Some(1));
    assert_eq!(resp.tls_cert_name(), Some(&b"localhost"[..]));
    assert_eq!(resp.address(), format!("localhost:{}", tls_addr.port()).as_bytes());
    // That cookie is refused over plain TCP (and used up)…
    assert_eq!(
        bos_signon(tcp(server.local_addr()).await, resp.cookie()).await,
        Bos::Refused
    );
    // …a fresh one works over TLS, verified against the name from 0x008D.
    let resp = redirect(&mut bos, true).await;
    let name = String::from_utf8(resp.tls_cert_name().unwrap().to_vec()).unwrap();
    let mut nav = Flap::open(tls(tls_addr, trust.clone(), &name).await).await;
    nav.send_signon(
        TlvBlock::builder()
            .bytes(signon_tag::COOKIE, resp.cookie())
            .build()
            .unwrap(),
    )
    .await;
    let online = next_of(&mut nav, 0x0001, 0x0003).await;
    let Message::Oservice(Oservice::HostOnline(families)) = Snac::decode(&online).unwrap().message else {
        panic!("expected host online");
    };
    assert_eq!(families.iter().map(|f| f.value()).collect::<Vec<_>>(), [0x000D, 0x0001]);
    nav.send(Message::ChatNav(ChatNav::RequestRights)).await;
    next_of(&mut nav, 0x000D, 0x0009).await;

    // Without 0x008C: the plain listener, TLS state 0, no name; the cookie is refused over TLS.
    let resp = redirect(&mut bos, false).await;
    assert_eq!(resp.tls_state(), Some(0));
    assert_eq!(resp.tls_cert_name(), None);
    assert_eq!(
        resp.address(),
        format!("localhost:{}", server.local_addr().port()).as_bytes()
    );
    assert_eq!(
        bos_signon(tcp(server.local_addr()).await, resp.cookie()).await,
        Bos::HostOnline(vec![0x000D, 0x0001])
    );
    let resp = redirect(&mut bos, false).await;
    assert_eq!(
        bos_signon(tls(tls_addr, trust, "localhost").await, resp.cookie()).await,
        Bos::Refused
    );

    server.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
