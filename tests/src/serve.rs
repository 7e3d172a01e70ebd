//! Serving a test router on loopback, shared by the test servers.

/// Serves `router` on a free 127.0.0.1 port; returns its URL and the task to abort when done.
pub async fn serve_loopback(router: axum::Router) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (url, task)
}
