//! [`TestServer`]: a real server on a free loopback port, and [`story`], which runs a test
//! body against one and checks that it stops cleanly afterwards.

use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;

use rtm_proto::{ClientConfig, ServerConfig};
use rtm_transport_smol::{RtmClient, ServeOptions, ServerHandle};

use crate::{run, test_client_config, TestClient};

/// Runs a story against a server of its own, started with `config` on a free loopback port.
/// `body` gets the server; once the story is over the server must shut down cleanly, so a
/// story that leaves the server broken fails even if every step passed.
pub fn story<F: Future<Output = ()>>(config: ServerConfig, body: impl FnOnce(Rc<TestServer>) -> F) {
    let server = Rc::new(TestServer::start(config));
    run(body(server.clone()));
    Rc::try_unwrap(server)
        .expect("the story let go of its server")
        .stop();
}

/// A server on a free loopback port, stopped when dropped.
#[derive(Debug)]
pub struct TestServer {
    handle: Option<ServerHandle>,
    url: String,
    app_id: String,
}

impl TestServer {
    /// Starts a server on 127.0.0.1 with a port the OS picks.
    pub fn start(config: ServerConfig) -> TestServer {
        TestServer::start_with(config.into())
    }

    /// [`TestServer::start`] with the driver's settings too (timeouts, queue bounds).
    pub fn start_with(options: ServeOptions) -> TestServer {
        let app_id = options.core.app_id.clone();
        let handle = rtm_transport_smol::spawn_server("127.0.0.1:0", options)
            .expect("start a server on a loopback port");
        TestServer {
            url: handle.url(),
            handle: Some(handle),
            app_id,
        }
    }

    /// `ws://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.handle
            .as_ref()
            .map(|h| h.local_addr())
            .expect("the server runs")
    }

    /// A client of this server (same app id), not logged in.
    pub fn client(&self) -> TestClient {
        self.client_with(ClientConfig {
            app_id: self.app_id.clone(),
            ..test_client_config()
        })
    }

    /// A client of this server with these settings, not logged in.
    pub fn client_with(&self, config: ClientConfig) -> TestClient {
        TestClient::new(RtmClient::new(&self.url, config).expect("valid server URL"))
    }

    /// A client logged in as `uid` (app-id-only mode), its login events consumed.
    pub async fn logged_in(&self, uid: &str) -> TestClient {
        let c = self.client();
        c.log_in(uid).await;
        c
    }

    /// One client per user id, logged in one after the other in that order (as
    /// [`TestServer::logged_in`]), so stories can name their cast in one line.
    pub async fn users<const N: usize>(&self, uids: [&str; N]) -> [TestClient; N] {
        let mut clients = Vec::with_capacity(N);
        for uid in uids {
            clients.push(self.logged_in(uid).await);
        }
        clients.try_into().expect("one client per user id")
    }

    /// Graceful shutdown; returns once the server thread has ended.
    pub fn stop(mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown().expect("server shut down cleanly");
        }
    }
}
