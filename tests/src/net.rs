//! Loopback ports and the DynamoDB-compatible server (moto) the test script starts.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// Waits, for at most `limit`, until something accepts connections on 127.0.0.1:`port`.
pub fn wait_for_port(port: u16, limit: Duration) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    false
}

/// The endpoint of moto's DynamoDB server that `scripts/test` started and exported.
pub fn dynamodb_endpoint() -> String {
    std::env::var("BERTH_TEST_DYNAMODB_ENDPOINT").expect(
        "BERTH_TEST_DYNAMODB_ENDPOINT is not set: run the tests with scripts/test, which starts moto's DynamoDB server",
    )
}
