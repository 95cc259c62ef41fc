//! The HTTP client of `rtm admin`: hyper's HTTP/1.1 client on smol, one keep-alive
//! connection reopened when the server has closed it (`--follow` polls for as long as it
//! runs). hyper parses the responses: no HTTP is written or read by hand here.
//!
//! `https://` URLs get TLS in [`connect`], the one place that opens the byte stream under
//! HTTP, with the same trust as `wss://` (`rtm --ca-file`, else the system's roots;
//! `rtm_transport_smol::tls`).

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use futures_lite::{future, AsyncRead, AsyncWrite};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, USER_AGENT};
use hyper::{Method, Request, Uri};
use smol::net::TcpStream;
use smol_hyper::rt::FuturesIo;

/// How long one request may take, answer included (a `wait_for_ack` send waits up to 10 s
/// in the server).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What went wrong on the way to an answer.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("bad URL {0:?}: expected http://HOST:PORT (or https://)")]
    BadUrl(String),
    #[error("TLS with {0}: {1} (a private or self-signed certificate needs rtm --ca-file)")]
    Tls(String, std::io::Error),
    #[error("cannot connect to {0}: {1}")]
    Connect(String, std::io::Error),
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Http,
    Https,
}

/// Where the server is: `http://HOST:PORT[/PREFIX]`.
#[derive(Debug, Clone)]
pub struct Endpoint {
    scheme: Scheme,
    host: String,
    port: u16,
    /// `HOST:PORT` as given, for the `Host` header.
    authority: String,
    /// A path prefix (behind a reverse proxy), without a trailing `/`.
    prefix: String,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint, HttpError> {
        let bad = || HttpError::BadUrl(url.to_string());
        let uri: Uri = url.parse().map_err(|_| bad())?;
        let scheme = match uri.scheme_str() {
            Some("http") => Scheme::Http,
            Some("https") => Scheme::Https,
            _ => return Err(bad()),
        };
        let authority = uri.authority().ok_or_else(bad)?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = authority.port_u16().unwrap_or(match scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        });
        Ok(Endpoint {
            scheme,
            host: host.to_string(),
            port,
            authority: authority.as_str().to_string(),
            prefix: uri.path().trim_end_matches('/').to_string(),
        })
    }
}

/// Any byte stream hyper can speak HTTP on (TCP now; TLS over TCP later).
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

/// Opens the byte stream to `endpoint`: TCP, and TLS over it for `https://` (trusting
/// `ca_file` if given, else the system's roots).
async fn connect(
    endpoint: &Endpoint,
    ca_file: Option<&PathBuf>,
) -> Result<Box<dyn Stream>, HttpError> {
    let address = format!("{}:{}", endpoint.host, endpoint.port);
    let tcp = TcpStream::connect((endpoint.host.as_str(), endpoint.port))
        .await
        .map_err(|e| HttpError::Connect(address.clone(), e))?;
    let _ = tcp.set_nodelay(true);
    match endpoint.scheme {
        Scheme::Http => Ok(Box::new(tcp)),
        Scheme::Https => {
            let tls = rtm_transport_smol::tls::connect_client(
                &endpoint.host,
                ca_file.map(PathBuf::as_path),
                tcp,
            )
            .await
            .map_err(|e| HttpError::Tls(address, e))?;
            Ok(Box::new(tls))
        }
    }
}

/// One answer, its body read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// `Retry-After` in seconds, if the server sent one.
    pub retry_after: Option<u64>,
    pub body: Bytes,
}

/// A client of one server, authenticating every request the same way.
pub struct HttpClient {
    endpoint: Endpoint,
    ca_file: Option<PathBuf>,
    authorization: Option<HeaderValue>,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl HttpClient {
    /// `key`: `ID:SECRET`, sent as HTTP Basic credentials; `ca_file`: what `https://`
    /// trusts (the system's roots without it).
    pub fn new(endpoint: Endpoint, key: Option<&str>, ca_file: Option<PathBuf>) -> HttpClient {
        let authorization = key.and_then(|key| {
            let encoded = base64::engine::general_purpose::STANDARD.encode(key);
            let mut value = HeaderValue::from_str(&format!("Basic {encoded}")).ok()?;
            value.set_sensitive(true);
            Some(value)
        });
        HttpClient {
            endpoint,
            ca_file,
            authorization,
            sender: None,
        }
    }

    /// Sends one request (`path_and_query` after the endpoint's prefix; `body` as JSON) and
    /// reads the whole answer, within [`REQUEST_TIMEOUT`].
    pub async fn request(
        &mut self,
        method: Method,
        path_and_query: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Reply, HttpError> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path_and_query}", self.endpoint.prefix))
            .header(HOST, &self.endpoint.authority)
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, concat!("rtm/", env!("CARGO_PKG_VERSION")));
        if let Some(authorization) = &self.authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        let body = match body {
            Some(json) => {
                request = request.header(CONTENT_TYPE, "application/json");
                Bytes::from(json.to_string())
            }
            None => Bytes::new(),
        };
        let request = request
            .body(Full::new(body))
            .map_err(|_| HttpError::BadUrl(path_and_query.to_string()))?;
        let exchange = async {
            let mut sender = self.take_ready().await?;
            let response = sender.send_request(request).await?;
            self.sender = Some(sender);
            let (parts, body) = response.into_parts();
            let body = body.collect().await?.to_bytes();
            let retry_after = parts
                .headers
                .get(hyper::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok());
            Ok(Reply {
                status: parts.status.as_u16(),
                retry_after,
                body,
            })
        };
        future::or(exchange, async {
            smol::Timer::after(REQUEST_TIMEOUT).await;
            Err(HttpError::TimedOut(REQUEST_TIMEOUT))
        })
        .await
    }

    /// The connection, taken out for one request (put back once it is answered): the one
    /// kept if it is still open, else a new one.
    async fn take_ready(&mut self) -> Result<SendRequest<Full<Bytes>>, HttpError> {
        if let Some(mut sender) = self.sender.take() {
            if sender.ready().await.is_ok() {
                return Ok(sender);
            }
        }
        let stream = connect(&self.endpoint, self.ca_file.as_ref()).await?;
        let (sender, connection) = http1::handshake(FuturesIo::new(stream)).await?;
        smol::spawn(async move {
            let _ = connection.await;
        })
        .detach();
        Ok(sender)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse() {
        let e = Endpoint::parse("http://127.0.0.1:9300").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.prefix.as_str()),
            ("127.0.0.1", 9300, "")
        );
        let e = Endpoint::parse("https://rtm.example/api/").unwrap();
        assert_eq!(
            (e.scheme, e.port, e.prefix.as_str()),
            (Scheme::Https, 443, "/api")
        );
        let e = Endpoint::parse("http://[::1]:9300").unwrap();
        assert_eq!(e.host, "::1");
        assert!(Endpoint::parse("ws://127.0.0.1:9300").is_err());
        assert!(Endpoint::parse("127.0.0.1:9300").is_err());
    }
}
