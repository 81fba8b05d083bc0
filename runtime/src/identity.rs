//! Who is calling: a [`Principal`] and its scopes, and where it comes from on each transport.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

/// The caller of a tool: an identifier and the scopes it was granted.
///
/// A principal keeps apart the scopes its credential carried ([`token_scopes`](Self::token_scopes):
/// what an authenticator gave it) and the scopes in force ([`scopes`](Self::scopes): those,
/// with the operator's policy applied). The policy is always applied to the former, so
/// applying it again, or applying a newer one after a reload, never builds on grants the
/// policy itself made.
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
    /// The scopes in force.
    scopes: Arc<BTreeSet<Box<str>>>,
    /// The scopes the credential carried, before any policy (the same `Arc` as `scopes`
    /// until a policy changes them).
    token: Arc<BTreeSet<Box<str>>>,
    issuer: Option<Arc<str>>,
    /// The policy (`Policy::id`) whose decision `scopes` holds; 0 for none.
    policy: u64,
    /// The `Security` whose policy (any of its reloads) made that decision.
    lineage: u64,
}

impl Principal {
    /// The id under which an unauthenticated caller is audited and rate limited.
    pub const ANONYMOUS_ID: &'static str = "anonymous";

    /// A principal with this id and no scopes.
    pub fn new(id: impl Into<Arc<str>>) -> Self {
        let scopes: Arc<BTreeSet<Box<str>>> = Arc::default();
        Self {
            id: id.into(),
            token: Arc::clone(&scopes),
            scopes,
            issuer: None,
            policy: 0,
            lineage: 0,
        }
    }

    /// The unauthenticated caller: id `anonymous`, no scopes.
    pub fn anonymous() -> Self {
        Self::new(Self::ANONYMOUS_ID)
    }

    /// This principal, also granted `scopes` by its credential (an authenticator's word,
    /// before any operator policy).
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut set: BTreeSet<Box<str>> = (*self.token).clone();
        set.extend(scopes.into_iter().map(|s| s.into().into_boxed_str()));
        self.token = Arc::new(set);
        // A policy decision made before is void: it was made on other token scopes.
        self.scopes = Arc::clone(&self.token);
        self.policy = 0;
        self.lineage = 0;
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

    /// This principal as policy `policy` decides it: its token's scopes with `grant` added
    /// and then `deny` taken away (an operator's explicit denial wins over every grant, the
    /// token's own included). Always computed from the token's scopes, never from scopes a
    /// policy granted, so the decision is the same however often it is made.
    pub(crate) fn with_policy(
        &self,
        (lineage, policy): (u64, u64),
        grant: &[&str],
        deny: &[&str],
    ) -> Self {
        let scopes = if grant.is_empty() && deny.is_empty() {
            Arc::clone(&self.token)
        } else {
            let mut scopes: BTreeSet<Box<str>> = (*self.token).clone();
            scopes.extend(grant.iter().map(|s| Box::from(*s)));
            scopes.retain(|s| !deny.contains(&&**s));
            Arc::new(scopes)
        };
        Self {
            id: Arc::clone(&self.id),
            scopes,
            token: Arc::clone(&self.token),
            issuer: self.issuer.clone(),
            policy,
            lineage,
        }
    }

    /// The `Security` whose policy decided this principal's scopes (0: none).
    pub(crate) fn decided_in(&self) -> u64 {
        self.lineage
    }

    /// The policy (its `Policy::id`) whose decision this principal holds, if any.
    pub(crate) fn decided_by(&self) -> Option<u64> {
        (self.policy != 0).then_some(self.policy)
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

    /// The scopes in force (the credential's, with the operator's policy applied), in
    /// sorted order.
    pub fn scopes(&self) -> impl Iterator<Item = &str> + '_ {
        self.scopes.iter().map(|s| &**s)
    }

    /// The scopes the credential itself carried (a token's `scope`), before any policy, in
    /// sorted order. The policy's `[token_scopes]` entries match these, and only these.
    pub fn token_scopes(&self) -> impl Iterator<Item = &str> + '_ {
        self.token.iter().map(|s| &**s)
    }

    /// Whether `scope` is in force (exact match).
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
            .field("token_scopes", &self.token)
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
