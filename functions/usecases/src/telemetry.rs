//! Logging setup for the binaries: JSON lines on Lambda (CloudWatch reads them), readable text
//! locally. The filter comes from `BERTH_LOG` (or `RUST_LOG`), `info` by default.

use tracing_subscriber::EnvFilter;

pub fn init_tracing(json: bool) {
    let filter = std::env::var("BERTH_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = if json {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder.try_init()
    };
    // A second call (tests) keeps the first subscriber.
    drop(result);
}
