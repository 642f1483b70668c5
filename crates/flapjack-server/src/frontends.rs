//! The listeners besides the plain OSCAR one: the OSCAR TLS listener (`--oscar-tls`), the HTTP
//! API (`--http`) and the HTTPS API (`--https`).
//!
//! [`Server::start_with_state`](crate::Server::start_with_state) calls [`Frontends::start`]
//! after binding the plain OSCAR listener; [`Server::shutdown`](crate::Server::shutdown) calls
//! [`Frontends::stop`]. The TLS certificate ([`TlsMaterial`]) is loaded or generated only when
//! a TLS listener is configured. Binding the OSCAR TLS listener records its advertised address
//! in the server state, so every login that arrives over TLS (BUCP or roasted on that
//! listener, or startOSCARSession with `useTLS=1`) hands out the TLS BOS address.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::http::Api;
use crate::server::ServerState;
use crate::tls::{TlsMaterial, advertised_tls_address, host_of};

/// The running extra listeners.
#[derive(Debug, Default)]
pub struct Frontends {
    tls: Option<Arc<TlsMaterial>>,
    api: Option<Arc<Api>>,
    oscar_tls_addr: Option<SocketAddr>,
    http_addr: Option<SocketAddr>,
    https_addr: Option<SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
}

impl Frontends {
    /// Loads TLS material if needed and binds every configured listener.
    pub async fn start(state: &Arc<ServerState>) -> std::io::Result<Self> {
        let config = &state.config;
        let mut out = Frontends::default();
        let needs_tls = config.oscar_tls_addr.is_some() || config.http.https_addr.is_some();
        if needs_tls {
            let advertised = config.advertise_tls.as_deref().unwrap_or(&config.advertise_host);
            let material = TlsMaterial::load(&config.tls, host_of(advertised)).map_err(std::io::Error::other)?;
            out.tls = Some(Arc::new(material));
        }
        let tls = out.tls.clone();

        if let (Some(addr), Some(material)) = (config.oscar_tls_addr, &tls) {
            let listener = TcpListener::bind(addr).await?;
            let local = listener.local_addr()?;
            let advertised = advertised_tls_address(config.advertise_tls.as_deref(), &config.advertise_host, local);
            state.set_tls_bos_address(advertised.clone());
            tracing::info!(addr = %local, bos = %advertised, cert_name = %material.cert_name(), "OSCAR TLS listener up");
            out.oscar_tls_addr = Some(local);
            out.tasks.push(tokio::spawn(crate::tls::run_oscar_tls_listener(
                state.clone(),
                listener,
                material.oscar_acceptor(),
                config.tls.handshake_timeout,
            )));
        }

        if config.http.http_addr.is_some() || config.http.https_addr.is_some() {
            let cert_name = out.oscar_tls_addr.and(tls.as_ref()).map(|m| m.cert_name().to_owned());
            let api = Api::new(state.clone(), config.http.clone(), cert_name);
            let router = api.router();
            if let Some(addr) = config.http.http_addr {
                let listener = TcpListener::bind(addr).await?;
                let local = listener.local_addr()?;
                tracing::info!(addr = %local, "HTTP API listener up");
                out.http_addr = Some(local);
                out.tasks.push(tokio::spawn(crate::http::run_listener(
                    state.clone(),
                    listener,
                    None,
                    router.clone(),
                    config.http.clone(),
                )));
            }
            if let (Some(addr), Some(material)) = (config.http.https_addr, &tls) {
                let listener = TcpListener::bind(addr).await?;
                let local = listener.local_addr()?;
                tracing::info!(addr = %local, "HTTPS API listener up");
                out.https_addr = Some(local);
                out.tasks.push(tokio::spawn(crate::http::run_listener(
                    state.clone(),
                    listener,
                    Some(material.https_acceptor()),
                    router,
                    config.http.clone(),
                )));
            }
            out.api = Some(api);
        }
        Ok(out)
    }

    /// Stops accepting on every listener and ends their open HTTP connections. (OSCAR TLS
    /// connections end with the server's shutdown signal, like plain ones.)
    pub fn stop(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
    }

    /// The TLS certificate in use, if a TLS listener is configured.
    pub fn tls(&self) -> Option<&Arc<TlsMaterial>> {
        self.tls.as_ref()
    }

    /// The HTTP API's state, if an HTTP or HTTPS listener runs.
    pub fn api(&self) -> Option<&Arc<Api>> {
        self.api.as_ref()
    }

    /// The OSCAR TLS listener's bound address.
    pub fn oscar_tls_addr(&self) -> Option<SocketAddr> {
        self.oscar_tls_addr
    }

    /// The HTTP listener's bound address.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The HTTPS listener's bound address.
    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.https_addr
    }
}

impl Drop for Frontends {
    fn drop(&mut self) {
        self.stop();
    }
}
