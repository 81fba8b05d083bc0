//! Logging for the example servers: to stderr (stdout may be the protocol), without
//! colours, `secure_tool=info,rmcp=warn` unless `RUST_LOG` says otherwise.

/// Install the examples' log subscriber.
pub fn init() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "secure_tool=info,rmcp=warn".into()),
        )
        .init();
}
