//! TLS for OSCAR connections and the OpenAuth HTTP API: rustls with the `ring` provider (the
//! workspace's only crypto provider), the Mozilla roots from `webpki-roots`, optional extra
//! roots (a revival server's self-signed certificate), and an opt-out of verification for
//! testing.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::error::ClientError;

/// How TLS connections verify servers.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsOptions {
    /// Extra trusted roots, PEM (one or more `CERTIFICATE` blocks), e.g. the server's
    /// self-signed certificate.
    pub extra_roots_pem: Option<Vec<u8>>,
    /// Trust the Mozilla root set (on by default).
    pub webpki_roots: bool,
    /// Verify certificates (on by default). Off accepts any certificate: for tests only.
    pub verify: bool,
}

impl Default for TlsOptions {
    fn default() -> Self {
        Self {
            extra_roots_pem: None,
            webpki_roots: true,
            verify: true,
        }
    }
}

impl fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsOptions")
            .field(
                "extra_roots_pem",
                &self.extra_roots_pem.as_ref().map(|p| format!("<{} bytes>", p.len())),
            )
            .field("webpki_roots", &self.webpki_roots)
            .field("verify", &self.verify)
            .finish()
    }
}

impl TlsOptions {
    /// Trusts the certificates in `pem` in addition to the defaults.
    pub fn with_extra_roots_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.extra_roots_pem = Some(pem.into());
        self
    }

    /// A rustls client configuration for these options.
    ///
    /// Installs the `ring` provider as the process default (ignoring "already installed").
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, ClientError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        if self.webpki_roots {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        if let Some(pem) = &self.extra_roots_pem {
            let mut n = 0;
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| ClientError::Tls(format!("extra root certificate: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| ClientError::Tls(format!("extra root certificate: {e}")))?;
                n += 1;
            }
            if n == 0 {
                return Err(ClientError::Tls("no certificate in the extra roots PEM".into()));
            }
        }
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientError::Tls(e.to_string()))?;
        let config = if self.verify {
            builder.with_root_certificates(roots).with_no_client_auth()
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
                .with_no_client_auth()
        };
        Ok(Arc::new(config))
    }
}

/// Accepts every certificate (but still checks handshake signatures). For tests.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A TCP stream, plain or wrapped in TLS.
#[derive(Debug)]
pub enum MaybeTlsStream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// Opens `host:port`, with TLS verifying `tls_name` when given.
pub async fn connect(
    host: &str,
    port: u16,
    tls_name: Option<&str>,
    config: &Arc<ClientConfig>,
) -> Result<MaybeTlsStream, ClientError> {
    let tcp = TcpStream::connect((host, port))
        .await
        .map_err(|e| ClientError::Io(format!("connecting to {host}:{port}: {e}")))?;
    let _ = tcp.set_nodelay(true);
    match tls_name {
        None => Ok(MaybeTlsStream::Plain(tcp)),
        Some(name) => {
            let server_name = ServerName::try_from(name.to_owned())
                .map_err(|e| ClientError::Tls(format!("certificate name {name:?}: {e}")))?;
            let tls = tokio_rustls::TlsConnector::from(config.clone())
                .connect(server_name, tcp)
                .await
                .map_err(|e| ClientError::Tls(format!("handshake with {host}:{port} as {name}: {e}")))?;
            Ok(MaybeTlsStream::Tls(Box::new(tls)))
        }
    }
}

impl AsyncRead for MaybeTlsStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MaybeTlsStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_flush(cx),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
