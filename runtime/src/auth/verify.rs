//! Bearer token verification: signature, issuer, audience and lifetime, then the caller's
//! identity and scopes, with a bounded cache of tokens already verified.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, PoisonError};

use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::keys::{IssuerKeys, Lookup, lookup_error};
use super::{Config, TokenError};
use crate::identity::Principal;

/// One configured issuer and its keys.
pub(crate) struct Issuer {
    pub(crate) name: String,
    pub(crate) keys: IssuerKeys,
}

/// A token verified before, kept until its `exp`.
struct Cached {
    principal: Principal,
    exp: u64,
    issuer: usize,
    generation: u64,
}

/// Verified tokens, keyed by the SHA-256 of the token (the token itself is never kept).
pub(crate) struct TokenCache {
    entries: Mutex<HashMap<[u8; 32], Cached, foldhash::fast::FixedState>>,
    capacity: usize,
}

impl TokenCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::with_hasher(foldhash::fast::FixedState::default())),
            capacity,
        }
    }

    fn get(&self, key: &[u8; 32], now: u64, issuers: &[Issuer]) -> Option<Principal> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let hit = entries.get(key)?;
        let current = issuers[hit.issuer].keys.generation.load(Ordering::Acquire);
        if now < hit.exp && hit.generation == current {
            return Some(hit.principal.clone());
        }
        // Expired, or its key set changed (a key may have been withdrawn): verify afresh.
        entries.remove(key);
        None
    }

    fn insert(&self, key: [u8; 32], entry: Cached, now: u64) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.retain(|_, e| e.exp > now);
            if entries.len() >= self.capacity {
                // Still full of live tokens: drop the one that expires first.
                if let Some(first) = entries.iter().min_by_key(|(_, e)| e.exp).map(|(k, _)| *k) {
                    entries.remove(&first);
                }
            }
        }
        entries.insert(key, entry);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Verify `token` as `config` asks, from the cache when it was verified before.
pub(crate) async fn verify(config: &Config, token: &str) -> Result<Principal, TokenError> {
    if token.is_empty() || token.len() > config.max_token_bytes {
        return Err(TokenError::Malformed);
    }
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let now = now();
    if let Some(principal) = config.cache.get(&digest, now, &config.issuers) {
        return Ok(principal);
    }
    // Boxed: verifying afresh may fetch the key set, a future far larger than the cached
    // path needs, which would otherwise sit in every request's future.
    Box::pin(verify_afresh(config, token, digest, now)).await
}

/// [`verify`] for a token not in the cache: its signature and claims, then the cache.
async fn verify_afresh(
    config: &Config,
    token: &str,
    digest: [u8; 32],
    now: u64,
) -> Result<Principal, TokenError> {
    check_header(token, &config.algorithms, config.require_at_jwt)?;
    let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
    if !config.algorithms.contains(&header.alg) {
        return Err(TokenError::AlgorithmNotAllowed);
    }

    let issuer_index = if config.issuers.len() == 1 {
        0
    } else {
        // Unverified: it only picks whose keys to try; the verification checks it again.
        let payload = token.split('.').nth(1).ok_or(TokenError::Malformed)?;
        let claims: Map<String, Value> = decode_part(payload)?;
        let claimed = claims
            .get("iss")
            .and_then(Value::as_str)
            .ok_or(TokenError::MissingClaim("iss"))?;
        config
            .issuers
            .iter()
            .position(|i| i.name == claimed)
            .ok_or(TokenError::WrongIssuer)?
    };
    let issuer = &config.issuers[issuer_index];
    let kid = header.kid.as_deref();

    // The key set the token names: refreshed once if it names a key we lack.
    let mut validation = Validation::new(header.alg);
    validation.algorithms = vec![header.alg];
    validation.leeway = config.leeway.as_secs();
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = true;
    validation.set_audience(&[&config.audience]);
    validation.set_issuer(&[&issuer.name]);
    let mut required = vec!["exp", "iss", "aud"];
    if config.principal_claim == "sub" {
        required.push("sub");
    }
    validation.set_required_spec_claims(&required);

    // The key set the token names. A key it lacks, or a signature its key does not verify
    // (the issuer may have replaced the key under the same `kid`), makes the server look
    // for a newer set once, within the refresh limits.
    let mut refreshed = false;
    let (generation, claims) = loop {
        // Read before the set: a change in between only makes the cache entry stale sooner.
        let generation = issuer.keys.generation.load(Ordering::Acquire);
        let set = if refreshed {
            issuer.keys.current()
        } else {
            issuer.keys.fresh().await
        };
        let found = set
            .as_deref()
            .is_some_and(|s| matches!(s.find(kid, header.alg), Lookup::Found(_)));
        if !found && !refreshed {
            issuer.keys.refresh().await;
            refreshed = true;
            continue;
        }
        let Some(set) = set else {
            return Err(TokenError::KeysUnavailable);
        };
        let key = match set.find(kid, header.alg) {
            Lookup::Found(key) => key,
            other => return Err(lookup_error(&other)),
        };
        match jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation) {
            Ok(data) => break (generation, data.claims),
            Err(error)
                if !refreshed
                    && matches!(
                        error.kind(),
                        jsonwebtoken::errors::ErrorKind::InvalidSignature
                    ) =>
            {
                issuer.keys.refresh().await;
                refreshed = true;
                if issuer.keys.generation.load(Ordering::Acquire) == generation {
                    return Err(TokenError::BadSignature);
                }
            }
            Err(error) => return Err(token_error(error.kind())),
        }
    };

    // A sender-constrained token proves nothing when merely presented.
    if claims.contains_key("cnf") {
        return Err(TokenError::SenderConstrained);
    }
    // `iss` is one string, the issuer's (jsonwebtoken also takes an array holding it).
    if claims.get("iss").and_then(Value::as_str) != Some(issuer.name.as_str()) {
        return Err(TokenError::WrongIssuer);
    }
    // A NumericDate may have a fraction (RFC 7519 section 2).
    let exp = claims
        .get("exp")
        .and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
        })
        .ok_or(TokenError::MissingClaim("exp"))?;
    // RFC 7519 4.1.4: the token is refused once `exp` has come (jsonwebtoken still accepts
    // it during that very second).
    if now >= exp.saturating_add(config.leeway.as_secs()) {
        return Err(TokenError::Expired);
    }
    let subject = claims
        .get(config.principal_claim.as_str())
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or(TokenError::MissingPrincipal)?;
    let id = if config.issuers.len() > 1 {
        // The issuer's own `%` and `#` encoded: the first `#` ends the issuer, so no two
        // (issuer, subject) pairs share an id.
        let issuer = issuer.name.replace('%', "%25").replace('#', "%23");
        format!("{issuer}#{subject}")
    } else {
        subject.to_owned()
    };
    let principal = Principal::new(id)
        .with_scopes(scopes(&claims))
        .with_issuer(issuer.name.as_str());

    config.cache.insert(
        digest,
        Cached {
            principal: principal.clone(),
            exp,
            issuer: issuer_index,
            generation,
        },
        now,
    );
    Ok(principal)
}

/// Scopes from `scope` (space-separated, RFC 8693 / RFC 9068) or `scp` (an array, or a
/// space-separated string, as some issuers write it).
fn scopes(claims: &Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    for claim in ["scope", "scp"] {
        match claims.get(claim) {
            Some(Value::String(s)) => out.extend(s.split_ascii_whitespace().map(str::to_owned)),
            Some(Value::Array(items)) => out.extend(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .flat_map(str::split_ascii_whitespace)
                    .map(str::to_owned),
            ),
            _ => {}
        }
    }
    out
}

/// The header as this server reads it, before any key is looked up: its `alg` must be one
/// of the allowed algorithms (so `none`, `HS256` and made-up names are refused by name, as
/// an algorithm this server does not accept), and it must not list `crit` extensions
/// (RFC 7515 §4.1.11: this server understands none), and its `typ` must not name another
/// kind of JWT ([`access_token_type`]).
fn check_header(token: &str, allowed: &[Algorithm], strict: bool) -> Result<(), TokenError> {
    let encoded = token.split('.').next().ok_or(TokenError::Malformed)?;
    let header: Map<String, Value> = decode_part(encoded)?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(TokenError::Malformed)?;
    let alg: Algorithm = alg.parse().map_err(|_| TokenError::AlgorithmNotAllowed)?;
    if !allowed.contains(&alg) {
        return Err(TokenError::AlgorithmNotAllowed);
    }
    if header.contains_key("crit") {
        return Err(TokenError::Malformed);
    }
    if !access_token_type(header.get("typ"), strict) {
        return Err(TokenError::NotAnAccessToken);
    }
    Ok(())
}

/// Whether a header's `typ` may be an access token's: `at+jwt` (RFC 9068), and unless
/// `strict` also no `typ` or the generic `JWT`. Media types compare case-insensitively
/// and may omit `application/` (RFC 7515 §4.1.9). Everything else (`dpop+jwt`,
/// `logout+jwt`, `id_token+jwt`, `secevent+jwt`, a non-string...) is another kind of token.
fn access_token_type(typ: Option<&Value>, strict: bool) -> bool {
    let Some(typ) = typ else { return !strict };
    let Some(typ) = typ.as_str() else {
        return false;
    };
    let lower = typ.to_ascii_lowercase();
    let media = lower.strip_prefix("application/").unwrap_or(&lower);
    match media {
        "at+jwt" => true,
        "jwt" => !strict,
        _ => false,
    }
}

/// One base64url-encoded JSON object of a JWT.
fn decode_part(encoded: &str) -> Result<Map<String, Value>, TokenError> {
    use base64::Engine as _;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded.trim_end_matches('='))
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)
}

fn token_error(kind: &jsonwebtoken::errors::ErrorKind) -> TokenError {
    use jsonwebtoken::errors::ErrorKind as K;
    match kind {
        K::ExpiredSignature => TokenError::Expired,
        K::ImmatureSignature => TokenError::NotYetValid,
        K::InvalidAudience => TokenError::WrongAudience,
        K::InvalidIssuer => TokenError::WrongIssuer,
        K::InvalidSignature => TokenError::BadSignature,
        K::InvalidAlgorithm | K::MissingAlgorithm | K::UnsupportedAlgorithm => {
            TokenError::AlgorithmNotAllowed
        }
        K::MissingRequiredClaim(claim) => TokenError::MissingClaim(match claim.as_str() {
            "exp" => "exp",
            "iss" => "iss",
            "aud" => "aud",
            "sub" => "sub",
            _ => "a required claim",
        }),
        _ => TokenError::Malformed,
    }
}

/// Every algorithm a resource server may accept. HMAC is never one of them: its key is a
/// shared secret, and a public key must never become one.
pub(crate) fn is_asymmetric(alg: Algorithm) -> bool {
    !matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_access_token_types_pass() {
        use serde_json::json;
        for (typ, default, strict) in [
            (None, true, false),
            (Some(json!("at+jwt")), true, true),
            (Some(json!("application/at+jwt")), true, true),
            (Some(json!("AT+JWT")), true, true),
            (Some(json!("JWT")), true, false),
            (Some(json!("dpop+jwt")), false, false),
            (Some(json!("logout+jwt")), false, false),
            (Some(json!("application/secevent+jwt")), false, false),
            (Some(json!("")), false, false),
            (Some(json!(["at+jwt"])), false, false),
        ] {
            assert_eq!(access_token_type(typ.as_ref(), false), default, "{typ:?}");
            assert_eq!(
                access_token_type(typ.as_ref(), true),
                strict,
                "{typ:?} strict"
            );
        }
    }

    fn issuer() -> Vec<Issuer> {
        vec![Issuer {
            name: "iss".into(),
            keys: IssuerKeys::new(
                super::super::keys::Source::Inline(r#"{"keys":[]}"#.into()),
                std::time::Duration::from_secs(30),
                std::time::Duration::from_secs(3600),
            )
            .unwrap(),
        }]
    }

    fn entry(exp: u64, generation: u64) -> Cached {
        Cached {
            principal: Principal::new("p"),
            exp,
            issuer: 0,
            generation,
        }
    }

    #[test]
    fn the_cache_stays_within_its_capacity_and_drops_the_soonest_expiry() {
        let issuers = issuer();
        let generation = issuers[0].keys.generation.load(Ordering::Acquire);
        let cache = TokenCache::new(3);
        let now = 1_000;
        for i in 0u8..10 {
            cache.insert([i; 32], entry(now + 100 + u64::from(i), generation), now);
            assert!(cache.len() <= 3);
        }
        // The three that expire last are kept.
        assert!(cache.get(&[9; 32], now, &issuers).is_some());
        assert!(cache.get(&[7; 32], now, &issuers).is_some());
        assert!(cache.get(&[0; 32], now, &issuers).is_none());
    }

    #[test]
    fn the_cache_never_answers_past_exp_or_for_an_older_key_set() {
        let issuers = issuer();
        let generation = issuers[0].keys.generation.load(Ordering::Acquire);
        let cache = TokenCache::new(8);
        cache.insert([1; 32], entry(2_000, generation), 1_000);
        assert!(cache.get(&[1; 32], 1_999, &issuers).is_some());
        assert!(cache.get(&[1; 32], 2_000, &issuers).is_none());
        cache.insert([2; 32], entry(2_000, generation + 1), 1_000);
        assert!(cache.get(&[2; 32], 1_000, &issuers).is_none());
    }
}
