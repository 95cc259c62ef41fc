//! The bare async-tungstenite-on-smol relay and broadcast server (see the bench README).
fn main() {}
