//! `reqwest` integration (feature `reqwest`): a client that connects only to addresses
//! [`SafeUrl`] rules allow, and re-checks every redirect.
//!
//! The resolver checks every address DNS returns before reqwest may connect to one, so
//! the connection goes to the very addresses that were checked (no second lookup to
//! rebind). The redirect policy re-parses each hop as a [`SafeUrl`] (a redirect to
//! `http://169.254.169.254/` or `http://localhost/` is refused before any lookup), and
//! the resolver covers the hop's name.
//!
//! ```no_run
//! # async fn run(url: secure_tool::types::SafeUrl) -> Result<(), reqwest::Error> {
//! let client = secure_tool::net::client_builder().build()?;
//! let body = client.get(url.as_str()).send().await?.text().await?;
//! # Ok(()) }
//! ```

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::types::SafeUrl;

/// Redirects followed at most.
pub const MAX_REDIRECTS: usize = 5;

type Lookup = Arc<dyn Fn(&str) -> std::io::Result<Vec<IpAddr>> + Send + Sync>;

/// A DNS resolver for reqwest that refuses every private, local, reserved or metadata
/// address, and any name whose answers include one.
#[derive(Clone, Default)]
pub struct SafeResolver {
    lookup: Option<Lookup>,
    allow: Arc<[IpAddr]>,
}

impl SafeResolver {
    /// Resolve with the system resolver.
    pub fn new() -> Self {
        Self::default()
    }

    /// Resolve with `lookup` instead of the system resolver (a custom DNS client, or a
    /// fixed table in tests). Its answers are checked the same way.
    pub fn with_lookup(
        lookup: impl Fn(&str) -> std::io::Result<Vec<IpAddr>> + Send + Sync + 'static,
    ) -> Self {
        Self {
            lookup: Some(Arc::new(lookup)),
            ..Self::default()
        }
    }

    /// Also permit these exact addresses (an internal service the operator chose to
    /// expose). Every other private address stays refused.
    pub fn allow_addresses(mut self, addrs: impl IntoIterator<Item = IpAddr>) -> Self {
        self.allow = addrs.into_iter().collect();
        self
    }

    fn check(&self, addrs: Vec<IpAddr>) -> Result<Vec<IpAddr>, std::io::Error> {
        if addrs.is_empty() {
            return Err(std::io::Error::other(
                "the host name resolved to no address",
            ));
        }
        for ip in &addrs {
            if !self.allow.contains(ip) && crate::types::url::check_ip(*ip).is_err() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    "the host resolves to a private, local or reserved address",
                ));
            }
        }
        Ok(addrs)
    }
}

impl Resolve for SafeResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs = match &this.lookup {
                Some(lookup) => lookup(&host)?,
                None => tokio::net::lookup_host((host.as_str(), 0))
                    .await?
                    .map(|a| a.ip())
                    .collect(),
            };
            let checked = this.check(addrs)?;
            let addrs: Addrs = Box::new(checked.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// The redirect policy: at most [`MAX_REDIRECTS`], each hop a valid [`SafeUrl`].
pub fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else if SafeUrl::parse(attempt.url().as_str()).is_err() {
            attempt.error("redirect to a refused URL")
        } else {
            attempt.follow()
        }
    })
}

/// The redirect policy of a field with its own rules: each hop a valid [`SafeUrl`] that
/// also keeps the field's `url(allow_hosts = .., deny_hosts = .., schemes = ..)` (pass the
/// same lists), so a redirect cannot take a request where the field would not let the
/// model send it.
///
/// ```no_run
/// # async fn run(url: secure_tool::types::SafeUrl) -> Result<(), reqwest::Error> {
/// // The field: #[secure(url(allow_hosts = ["*.example.com"], schemes = ["https"]))]
/// let client = secure_tool::net::client_builder()
///     .redirect(secure_tool::net::redirect_policy_for(&["*.example.com"], &[], &["https"]))
///     .build()?;
/// let body = client.get(url.as_str()).send().await?.text().await?;
/// # Ok(()) }
/// ```
pub fn redirect_policy_for(
    allow: &'static [&'static str],
    deny: &'static [&'static str],
    schemes: &'static [&'static str],
) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            return attempt.error("too many redirects");
        }
        match SafeUrl::parse(attempt.url().as_str()) {
            Ok(url) if crate::types::url::field_rule(&url, allow, deny, schemes).is_none() => {
                attempt.follow()
            }
            _ => attempt.error("redirect to a refused URL"),
        }
    })
}

/// A `reqwest::ClientBuilder` with [`SafeResolver`] and [`redirect_policy`]; add TLS
/// and timeouts as usual.
pub fn client_builder() -> reqwest::ClientBuilder {
    client_builder_with(SafeResolver::new())
}

/// [`client_builder`] with a resolver of your own configuration.
pub fn client_builder_with(resolver: SafeResolver) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(resolver))
        .redirect(redirect_policy())
        // A proxy would resolve names itself, out of the resolver's reach.
        .no_proxy()
}
