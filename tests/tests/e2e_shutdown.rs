//! Story: the operator stops the server. Every connected client is closed with GOING_AWAY
//! (1001) and the server's thread ends.

use rtm_proto::wire::close;
use rtm_proto::ServerConfig;
use rtm_tests::{run, RawWs, TestServer};

#[test]
fn shutdown_closes_every_connection_with_going_away() {
    let server = TestServer::start(ServerConfig::default());
    let (logged_in, fresh) = run(async {
        let mut logged_in = RawWs::connect(server.url()).await;
        logged_in.login("alice").await;
        let fresh = RawWs::connect(server.url()).await;
        (logged_in, fresh)
    });
    // The fresh connection may not have reached the core yet when the stop comes: it is
    // closed with GOING_AWAY all the same.
    let url = server.url().to_string();
    let stopper = std::thread::spawn(move || server.stop());
    run(async {
        assert_eq!(logged_in.closed().await.code, Some(close::GOING_AWAY));
        assert_eq!(fresh.closed().await.code, Some(close::GOING_AWAY));
    });
    stopper.join().expect("the server stopped");
    // Nobody listens any more.
    assert!(std::net::TcpStream::connect(url.trim_start_matches("ws://")).is_err());
}
