//! TLS: the server's port as `https://` and `wss://` ([`TlsConfig`] in
//! [`crate::ServeOptions::tls`]), and `wss://` for [`crate::RtmClient`].
//!
//! [rustls](https://docs.rs/rustls) through [futures-rustls](https://docs.rs/futures-rustls),
//! its adapter for the futures-io traits that smol, smol-hyper and async-tungstenite speak:
//! no OpenSSL to link, and memory-safe parsing of what an attacker sends first. Its `ring`
//! crypto provider is named explicitly everywhere (not rustls' process-wide default), so a
//! second provider pulled in by another crate can never make a config builder panic.
//!
//! A connection is a [`Stream`], plain TCP or TLS over it, so that hyper, the WebSocket and
//! the link run on one type whichever the port speaks.
//!
//! ## Which roots a client trusts
//!
//! Without a CA file, the operating system's certificate store, through
//! [rustls-native-certs](https://docs.rs/rustls-native-certs), not a list compiled into the
//! binary (webpki-roots): the roots an operator has added (a company CA) are trusted as
//! they are by curl and browsers, and removals the OS ships take effect without a rebuild.
//! With a CA file ([`crate::client::ConnectOptions::tls_ca_file`]), only the certificates
//! in it are trusted, as with `curl --cacert`: for a private CA or a self-signed
//! certificate.

use std::io::{self, IoSlice, IoSliceMut};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use futures_rustls::{TlsAcceptor, TlsConnector};
use rustls::crypto::{ring, CryptoProvider};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use smol::net::TcpStream;
use smol::Timer;

/// Why a TLS setting could not be used. Each says which file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read the {what} {path:?}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// A file has no PEM certificate, or a broken one.
    #[error("{path:?} has no usable PEM certificate (-----BEGIN CERTIFICATE-----): {why}")]
    Certificate { path: PathBuf, why: String },
    /// A key file has no PEM private key, or a broken one.
    #[error(
        "{path:?} has no usable PEM private key (PKCS#8 -----BEGIN PRIVATE KEY-----, \
         PKCS#1 RSA or SEC1 EC): {why}"
    )]
    Key { path: PathBuf, why: String },
    /// rustls refused the certificate and key (they do not match, or the key type is not
    /// supported).
    #[error("the certificate and key cannot be used together: {0}")]
    Rustls(#[from] rustls::Error),
    /// A CA file's certificates are not valid trust anchors.
    #[error("{path:?}: not a CA certificate rustls can use: {why}")]
    CaCertificate { path: PathBuf, why: String },
    /// The URL's host cannot be checked against a certificate.
    #[error("{host:?} is not a DNS name or IP address a certificate can name: {why}")]
    ServerName { host: String, why: String },
    /// The operating system has no root certificate rustls could read.
    #[error(
        "no root certificates found on this system{why}: install the system's CA \
         certificates (e.g. the ca-certificates package) or give a CA file"
    )]
    NoSystemRoots { why: String },
}

/// The crypto provider of every config here: `ring` (see the module doc).
///
/// rustls 0.23.48 deprecated it because it has no post-quantum key exchange (X25519MLKEM768
/// is aws-lc-rs only): connections use classical X25519/ECDHE, which is what most servers
/// speak today. Chosen anyway because aws-lc-rs needs cmake and a C toolchain to build;
/// revisit when ring (or a pure-Rust provider) gains ML-KEM.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// The only application protocol the port speaks over TLS: HTTP/1.1, which carries the
/// WebSocket upgrade (RFC 6455 needs HTTP/1.1). Announced so that a browser does not try h2.
const ALPN_HTTP_1_1: &[u8] = b"http/1.1";

/// The server's certificate chain and key, ready to accept TLS connections: the port then
/// speaks `https://` and `wss://` only.
#[derive(Clone)]
pub struct TlsConfig {
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig").finish_non_exhaustive()
    }
}

impl TlsConfig {
    /// Loads a PEM certificate chain (the server's certificate first, then its
    /// intermediates) and the PEM private key of its first certificate.
    pub fn from_pem_files(
        cert_path: impl AsRef<Path>,
        key_path: impl AsRef<Path>,
    ) -> Result<TlsConfig, TlsError> {
        let (cert_path, key_path) = (cert_path.as_ref(), key_path.as_ref());
        let chain = read_certificates(cert_path, "certificate file")?;
        let key_pem = read(key_path, "key file")?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::Key {
            path: key_path.to_path_buf(),
            why: e.to_string(),
        })?;
        TlsConfig::new(chain, key)
    }

    /// A config from a DER certificate chain and key.
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<TlsConfig, TlsError> {
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
        Ok(TlsConfig::from_rustls(Arc::new(config)))
    }

    /// A config rustls was set up for elsewhere (session resumption, client certificates,
    /// certificates picked by SNI...).
    pub fn from_rustls(config: Arc<ServerConfig>) -> TlsConfig {
        TlsConfig {
            acceptor: TlsAcceptor::from(config),
        }
    }
}

/// What a `wss://` client needs: the roots it trusts and the name it expects.
#[derive(Clone)]
pub(crate) struct Connector {
    connector: TlsConnector,
    /// The URL's host: sent as SNI and checked against the certificate.
    name: ServerName<'static>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// Trusts the certificates of `ca_file` (PEM) if given, else the system's roots; expects
    /// a certificate for `host` (a DNS name or an IP address).
    pub(crate) fn new(host: &str, ca_file: Option<&Path>) -> Result<Connector, TlsError> {
        let roots = match ca_file {
            Some(path) => {
                let mut roots = RootCertStore::empty();
                for cert in read_certificates(path, "CA file")? {
                    roots.add(cert).map_err(|e| TlsError::CaCertificate {
                        path: path.to_path_buf(),
                        why: e.to_string(),
                    })?;
                }
                roots
            }
            None => system_roots()?,
        };
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
        let name = ServerName::try_from(host.to_string()).map_err(|e| TlsError::ServerName {
            host: host.to_string(),
            why: e.to_string(),
        })?;
        Ok(Connector {
            connector: TlsConnector::from(Arc::new(config)),
            name,
        })
    }

    /// The TLS handshake over a connected socket; fails if the server's certificate is not
    /// trusted or not for the host.
    pub(crate) async fn connect(&self, tcp: TcpStream) -> io::Result<Stream> {
        let tls = self.connector.connect(self.name.clone(), tcp).await?;
        Ok(Stream::Tls(Box::new(tls.into())))
    }
}

/// A TLS connection to `host` over `tcp`, for clients of the server's port other than
/// [`crate::RtmClient`] (`rtm admin`'s HTTPS): the same trust as a `wss://` client's, the
/// certificates of `ca_file` (PEM) if given, else the system's roots.
pub async fn connect_client(
    host: &str,
    ca_file: Option<&Path>,
    tcp: TcpStream,
) -> io::Result<impl AsyncRead + AsyncWrite + Unpin + Send + 'static> {
    let connector = Connector::new(host, ca_file).map_err(io::Error::other)?;
    connector.connect(tcp).await
}

/// The operating system's trusted roots (see the module doc for why these).
fn system_roots() -> Result<RootCertStore, TlsError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (_added, _ignored) = roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        let why = found
            .errors
            .first()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        return Err(TlsError::NoSystemRoots { why });
    }
    Ok(roots)
}

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

/// Every PEM certificate of a file, in order; at least one.
fn read_certificates(
    path: &Path,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path, what)?;
    let bad = |why: String| TlsError::Certificate {
        path: path.to_path_buf(),
        why,
    };
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("none found".into()));
    }
    Ok(certs)
}

/// One connection: plain TCP, or TLS over it (the server's side or a client's). hyper (via
/// smol-hyper's `FuturesIo`), the WebSocket and the link all run on this one type.
#[derive(Debug)]
pub(crate) enum Stream {
    Plain(TcpStream),
    /// Boxed: rustls' state is a few KiB, and only TLS connections pay for it.
    Tls(Box<futures_rustls::TlsStream<TcpStream>>),
}

/// Why a connection to a TLS port was not accepted.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AcceptError {
    /// The client spoke something other than TLS; it was told so in plain HTTP.
    #[error("the client did not start with a TLS handshake (plain HTTP on a TLS port?)")]
    NotTls,
    /// The client went away, or the handshake failed (an alert, a certificate the client
    /// did not trust, a protocol error).
    #[error("TLS handshake failed: {0}")]
    Handshake(#[from] io::Error),
}

/// The answer to plain HTTP on a TLS port: one line saying what to use instead, so that
/// `curl http://…` or `ws://…` gets a reason rather than a reset.
const NOT_TLS_RESPONSE: &[u8] = b"HTTP/1.1 400 Bad Request\r\n\
    Content-Type: text/plain; charset=utf-8\r\n\
    Content-Length: 54\r\n\
    Connection: close\r\n\
    \r\n\
    this port speaks TLS only: use https:// or wss:// URLs";

/// The first byte of a TLS ClientHello: a handshake record (RFC 8446 §5.1).
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// How long a refused plain-HTTP client is given to read [`NOT_TLS_RESPONSE`]: its request
/// is read and dropped meanwhile, as closing a socket with unread data would reset the
/// connection and could lose the answer.
const NOT_TLS_LINGER: std::time::Duration = std::time::Duration::from_secs(1);

impl TlsConfig {
    /// The server's side of a fresh connection: the TLS handshake. Unbounded in time: the
    /// caller bounds it (by the handshake timeout).
    pub(crate) async fn accept(&self, tcp: TcpStream) -> Result<Stream, AcceptError> {
        let mut first = [0u8; 1];
        if tcp.peek(&mut first).await? == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
        }
        if first[0] != TLS_HANDSHAKE_RECORD {
            refuse_plain(tcp).await;
            return Err(AcceptError::NotTls);
        }
        let tls = self.acceptor.accept(tcp).await?;
        Ok(Stream::Tls(Box::new(tls.into())))
    }
}

/// Answers [`NOT_TLS_RESPONSE`] and closes, reading (and dropping) what the client sends
/// for at most [`NOT_TLS_LINGER`] or 64 KiB.
async fn refuse_plain(mut tcp: TcpStream) {
    if tcp.write_all(NOT_TLS_RESPONSE).await.is_err() {
        return;
    }
    let _ = tcp.shutdown(std::net::Shutdown::Write);
    let drain = async {
        let mut buf = [0u8; 4096];
        let mut left = 64 * 1024usize;
        while left > 0 {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    futures_lite::future::or(drain, async {
        Timer::after(NOT_TLS_LINGER).await;
    })
    .await;
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(&mut **s).poll_read(cx, buf),
        }
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(&mut **s).poll_read_vectored(cx, bufs),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(&mut **s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(&mut **s).poll_write_vectored(cx, bufs),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(&mut **s).poll_flush(cx),
        }
    }

    /// TLS: sends close_notify, then shuts the socket's write side.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_close(cx),
            Stream::Tls(s) => Pin::new(&mut **s).poll_close(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate and its key, in PEM files.
    fn pem_files(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let cert = dir.join(format!("{name}.crt"));
        let key = dir.join(format!("{name}.key"));
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
        (cert, key)
    }

    #[test]
    fn pem_files_load_and_bad_ones_say_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pem_files(dir.path(), "a");
        let (_, other_key) = pem_files(dir.path(), "b");
        assert!(TlsConfig::from_pem_files(&cert, &key).is_ok());

        let missing = dir.path().join("missing.pem");
        let err = TlsConfig::from_pem_files(&missing, &key).unwrap_err();
        assert!(
            matches!(
                err,
                TlsError::Read {
                    what: "certificate file",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("missing.pem"), "{err}");

        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "not PEM at all").unwrap();
        let err = TlsConfig::from_pem_files(&garbage, &key).unwrap_err();
        assert!(matches!(err, TlsError::Certificate { .. }), "{err}");

        // The certificate given as the key.
        let err = TlsConfig::from_pem_files(&cert, &cert).unwrap_err();
        assert!(matches!(err, TlsError::Key { .. }), "{err}");

        // Another certificate's key.
        let err = TlsConfig::from_pem_files(&cert, &other_key).unwrap_err();
        assert!(matches!(err, TlsError::Rustls(_)), "{err}");
    }

    #[test]
    fn a_ca_file_replaces_the_system_roots() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pem_files(dir.path(), "a");
        assert!(Connector::new("localhost", Some(&cert)).is_ok());
        assert!(Connector::new("127.0.0.1", Some(&cert)).is_ok());
        let err = Connector::new("localhost", Some(&key)).unwrap_err();
        assert!(matches!(err, TlsError::Certificate { .. }), "{err}");
    }

    #[test]
    fn the_plain_http_refusal_is_well_formed() {
        let text = std::str::from_utf8(NOT_TLS_RESPONSE).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 400 "));
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap();
        assert_eq!(length.parse::<usize>().unwrap(), body.len());
    }
}
