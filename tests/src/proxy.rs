//! [`Proxy`]: a TCP proxy that cuts the network on demand, and the clients that connect
//! through it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use async_channel::Sender;
use futures_lite::future;
use rtm_proto::ClientConfig;
use rtm_transport_smol::RtmClient;
use smol::net::{TcpListener, TcpStream};

use crate::{test_client_config, TestClient};

/// A TCP proxy in front of a server that can cut every connection through it and refuse new
/// ones for a while: a network outage on demand.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct ProxyState {
    refusing: bool,
    /// Dropping a sender ends its connection.
    links: Vec<Sender<()>>,
}

impl Proxy {
    /// A proxy on a free loopback port forwarding to `upstream`.
    pub fn start(upstream: SocketAddr) -> Proxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let listener = TcpListener::try_from(listener).expect("async listener");
        let state = Arc::new(Mutex::new(ProxyState::default()));
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let shared = state.clone();
        let thread = std::thread::spawn(move || {
            let ex = smol::LocalExecutor::new();
            smol::block_on(ex.run(future::or(
                async {
                    let _ = stopped.recv().await;
                },
                async {
                    loop {
                        let Ok((down, _)) = listener.accept().await else {
                            continue;
                        };
                        let (kill, killed) = async_channel::bounded::<()>(1);
                        {
                            let mut s = shared.lock().expect("proxy state");
                            if s.refusing {
                                continue; // `down` is dropped: connection refused
                            }
                            s.links.push(kill);
                        }
                        ex.spawn(async move {
                            let Ok(up) = TcpStream::connect(upstream).await else {
                                return;
                            };
                            let forward = futures_lite::io::copy(down.clone(), up.clone());
                            let back = futures_lite::io::copy(up, down);
                            future::or(
                                async {
                                    let _ = future::or(forward, back).await;
                                },
                                async {
                                    let _ = killed.recv().await;
                                },
                            )
                            .await;
                        })
                        .detach();
                    }
                },
            )));
        });
        Proxy {
            addr,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `ws://` URL of the proxy.
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// A client connecting through this proxy, not logged in, that notices an outage after
    /// 300 ms without a link (instead of the default), so outage stories stay short.
    pub fn client(&self) -> TestClient {
        let config = ClientConfig {
            interruption_threshold: Duration::from_millis(300),
            ..test_client_config()
        };
        TestClient::new(RtmClient::new(&self.url(), config).expect("valid proxy URL"))
    }

    /// [`Proxy::client`], logged in as `uid`, its login events consumed.
    pub async fn logged_in(&self, uid: &str) -> TestClient {
        let c = self.client();
        c.log_in(uid).await;
        c
    }

    /// Drops every connection through the proxy and refuses new ones until [`Proxy::heal`].
    pub fn cut(&self) {
        let mut s = self.state.lock().expect("proxy state");
        s.refusing = true;
        s.links.clear();
    }

    /// Accepts connections again.
    pub fn heal(&self) {
        self.state.lock().expect("proxy state").refusing = false;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
