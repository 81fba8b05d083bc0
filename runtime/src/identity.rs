//! Who is calling: a [`Principal`] and its scopes, and where it comes from on each transport.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

/// The caller of a tool: an identifier and the scopes it was granted.
///
/// On stdio the operator configures it when the server starts
/// ([`SecurityBuilder::local_principal`](crate::SecurityBuilder::local_principal)); on
/// streamable HTTP, authentication middleware puts it in the HTTP request's extensions
/// (see [`Security`](crate::Security)). A caller nobody vouched for is
/// [`Principal::anonymous`], which holds no scopes.
///
/// ```
/// use secure_tool::Principal;
///
/// let p = Principal::new("alice").with_scopes(["fs.read", "fs.write"]);
/// assert_eq!(p.id(), "alice");
/// assert!(p.has_scope("fs.read"));
/// assert!(!Principal::anonymous().has_scope("fs.read"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Principal {
    id: Arc<str>,
    scopes: Arc<BTreeSet<Box<str>>>,
    issuer: Option<Arc<str>>,
}

impl Principal {
    /// The id under which an unauthenticated caller is audited and rate limited.
    pub const ANONYMOUS_ID: &'static str = "anonymous";

    /// A principal with this id and no scopes.
    pub fn new(id: impl Into<Arc<str>>) -> Self {
        Self {
            id: id.into(),
            scopes: Arc::default(),
            issuer: None,
        }
    }

    /// The unauthenticated caller: id `anonymous`, no scopes.
    pub fn anonymous() -> Self {
        Self::new(Self::ANONYMOUS_ID)
    }

    /// This principal, also granted `scopes`.
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let set = Arc::make_mut(&mut self.scopes);
        set.extend(scopes.into_iter().map(|s| s.into().into_boxed_str()));
        self
    }

    /// This principal, vouched for by `issuer` (a token's `iss`): audited with it.
    pub fn with_issuer(mut self, issuer: impl Into<Arc<str>>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Who vouched for this principal (a token's issuer), when known.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// This principal with `grant` added to its scopes and then `deny` taken away: an
    /// operator's explicit denial wins over every grant, the token's own included.
    pub(crate) fn with_policy(&self, grant: &[&str], deny: &[&str]) -> Self {
        let mut scopes: BTreeSet<Box<str>> = (*self.scopes).clone();
        scopes.extend(grant.iter().map(|s| Box::from(*s)));
        scopes.retain(|s| !deny.contains(&&**s));
        Self {
            id: Arc::clone(&self.id),
            scopes: Arc::new(scopes),
            issuer: self.issuer.clone(),
        }
    }

    /// The principal's id, as it appears in audit events and rate-limit keys.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The shared id (cheap to clone into keys).
    pub(crate) fn id_arc(&self) -> &Arc<str> {
        &self.id
    }

    /// The shared issuer.
    pub(crate) fn issuer_arc(&self) -> Option<&Arc<str>> {
        self.issuer.as_ref()
    }

    /// The scopes granted, in sorted order.
    pub fn scopes(&self) -> impl Iterator<Item = &str> + '_ {
        self.scopes.iter().map(|s| &**s)
    }

    /// Whether `scope` was granted (exact match).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }

    /// The first of `required` that this principal lacks, if any.
    pub fn missing_scope<'a>(&self, required: &[&'a str]) -> Option<&'a str> {
        required.iter().copied().find(|s| !self.has_scope(s))
    }
}

impl Default for Principal {
    fn default() -> Self {
        Self::anonymous()
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("id", &self.id)
            .field("scopes", &self.scopes)
            .field("issuer", &self.issuer)
            .finish()
    }
}

/// Find the caller of one request.
///
/// Over streamable HTTP rmcp puts the request's `http::request::Parts` in the request
/// extensions; the caller is the `Principal` that authentication middleware stored in
/// those parts' extensions, and anonymous if there is none. The operator's local principal
/// is never used for an HTTP request: it would hand every remote caller the operator's
/// scopes. Without HTTP parts (stdio, in-process), the caller is the local principal.
///
/// Returns `None` when the transport carries no identity of its own: the caller is then
/// the local principal, which the pipeline fills in from `Security`.
pub(crate) fn from_extensions(extensions: &rmcp::model::Extensions) -> Option<Principal> {
    if let Some(principal) = extensions.get::<Principal>() {
        return Some(principal.clone());
    }
    extensions.get::<http::request::Parts>().map(|parts| {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .unwrap_or_else(Principal::anonymous)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_requests_never_inherit_the_local_principal() {
        let mut ext = rmcp::model::Extensions::new();
        assert_eq!(
            from_extensions(&ext),
            None,
            "no transport identity: local principal"
        );

        let (parts, ()) = http::Request::new(()).into_parts();
        ext.insert(parts);
        assert_eq!(from_extensions(&ext), Some(Principal::anonymous()));

        let (mut parts, ()) = http::Request::new(()).into_parts();
        parts
            .extensions
            .insert(Principal::new("bob").with_scopes(["fs.read"]));
        ext.insert(parts);
        let who = from_extensions(&ext).unwrap();
        assert_eq!(who.id(), "bob");
        assert_eq!(
            who.missing_scope(&["fs.read", "fs.write"]),
            Some("fs.write")
        );
    }
}
