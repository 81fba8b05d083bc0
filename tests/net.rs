//! `secure_tool::net` (feature `reqwest`): the resolver refuses blocked answers and every
//! redirect is re-checked. Every address here is on loopback: the server listens on all
//! of 127.0.0.0/8, 127.0.0.1 is explicitly allowed and the "internal" targets are
//! 127.0.0.2/3 (blocked). They are reachable, so only the refusal can make those requests
//! fail, and even a failing check would never send traffic off this machine.

use std::net::IpAddr;

use axum::response::Redirect;
use axum::routing::get;
use secure_tool::net::{SafeResolver, client_builder_with};

async fn serve() -> u16 {
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app =
        axum::Router::new()
            .route("/hello", get(|| async { "hi" }))
            .route(
                "/to-loopback-literal",
                get(move || async move {
                    Redirect::temporary(&format!("http://127.0.0.2:{port}/hello"))
                }),
            )
            .route(
                "/to-localhost",
                get(move || async move {
                    Redirect::temporary(&format!("http://localhost:{port}/hello"))
                }),
            )
            .route(
                "/to-internal-name",
                get(move || async move {
                    Redirect::temporary(&format!("http://internal.example.com:{port}/hello"))
                }),
            )
            .route(
                "/to-public-name",
                get(move || async move {
                    Redirect::temporary(&format!("http://public.example.com:{port}/hello"))
                }),
            )
            .route("/loop", get(|| async { Redirect::temporary("/loop") }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

fn table(host: &str) -> std::io::Result<Vec<IpAddr>> {
    let ips: &[&str] = match host {
        "public.example.com" => &["127.0.0.1"],
        "internal.example.com" => &["127.0.0.2"],
        "mixed.example.com" => &["127.0.0.1", "127.0.0.3"],
        _ => return Err(std::io::Error::other("no such host")),
    };
    Ok(ips.iter().map(|s| s.parse().unwrap()).collect())
}

fn client(allow_local_server: bool) -> reqwest::Client {
    let mut resolver = SafeResolver::with_lookup(table);
    if allow_local_server {
        resolver = resolver.allow_addresses(["127.0.0.1".parse().unwrap()]);
    }
    client_builder_with(resolver).build().unwrap()
}

#[tokio::test]
async fn checked_names_connect_and_blocked_ones_never_do() {
    let port = serve().await;
    let url = |host: &str, path: &str| format!("http://{host}:{port}{path}");
    let allowed = client(true);
    let body = allowed
        .get(url("public.example.com", "/hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(body.text().await.unwrap(), "hi");
    // A redirect to an allowed name is followed.
    let body = allowed
        .get(url("public.example.com", "/to-public-name"))
        .send()
        .await
        .unwrap();
    assert_eq!(body.text().await.unwrap(), "hi");

    // The refused targets are reachable (the server listens on all loopback addresses),
    // so each request below fails only because of the check named.
    let direct = reqwest::Client::builder().no_proxy().build().unwrap();
    let reachable = direct
        .get(format!("http://127.0.0.2:{port}/hello"))
        .send()
        .await;
    assert_eq!(reachable.unwrap().text().await.unwrap(), "hi");

    for (path, reason) in [
        ("/to-loopback-literal", "redirect to a refused URL"),
        ("/to-localhost", "redirect to a refused URL"),
        ("/to-internal-name", "private, local or reserved address"),
        ("/loop", "too many redirects"),
    ] {
        let error = allowed
            .get(url("public.example.com", path))
            .send()
            .await
            .unwrap_err();
        assert!(chain(&error).contains(reason), "{path}: {}", chain(&error));
    }
    // One private answer among the answers refuses the name.
    let error = allowed
        .get(url("mixed.example.com", "/hello"))
        .send()
        .await
        .unwrap_err();
    assert!(
        chain(&error).contains("private, local or reserved"),
        "{}",
        chain(&error)
    );
    // Without the operator's exception, the loopback server itself is refused.
    let error = client(false)
        .get(url("public.example.com", "/hello"))
        .send()
        .await
        .unwrap_err();
    assert!(
        chain(&error).contains("private, local or reserved"),
        "{}",
        chain(&error)
    );
}

fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn a_redirect_keeps_the_fields_own_host_and_scheme_rules() {
    let port = serve().await;
    let mut resolver = SafeResolver::with_lookup(table);
    resolver = resolver.allow_addresses(["127.0.0.1".parse().unwrap()]);
    // The field allows only `public.example.com`: a redirect to another public name (that
    // SafeUrl's defaults alone would follow) is refused.
    let client = client_builder_with(resolver)
        .redirect(secure_tool::net::redirect_policy_for(
            &["public.example.com"],
            &[],
            &["http"],
        ))
        .build()
        .unwrap();
    let url = |host: &str, path: &str| format!("http://{host}:{port}{path}");
    let body = client
        .get(url("public.example.com", "/to-public-name"))
        .send()
        .await
        .unwrap();
    assert_eq!(body.text().await.unwrap(), "hi");
    let strict = client_builder_with(
        SafeResolver::with_lookup(table).allow_addresses(["127.0.0.1".parse().unwrap()]),
    )
    .redirect(secure_tool::net::redirect_policy_for(
        &["other.example.com"],
        &[],
        &["http"],
    ))
    .build()
    .unwrap();
    let error = strict
        .get(url("public.example.com", "/to-public-name"))
        .send()
        .await
        .unwrap_err();
    assert!(
        chain(&error).contains("redirect to a refused URL"),
        "{}",
        chain(&error)
    );
}
