//! Verification keys: a JWKS from a file, inline JSON or a URL, parsed into keys that are
//! each bound to the algorithms of their own family, and refreshed without a restart.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

use super::TokenError;

/// Largest JWKS document read from a file or a URL.
const MAX_JWKS_BYTES: u64 = 512 * 1024;
/// RSA moduli shorter than this (in bytes, 2048 bits) are not used.
const MIN_RSA_MODULUS: usize = 256;

/// Where an issuer's signing keys come from.
///
/// ```
/// use secure_tool::auth::JwksSource;
///
/// let from_file = JwksSource::file("/etc/mcp/jwks.json");
/// let inline = JwksSource::inline(r#"{"keys": []}"#);
/// let remote = JwksSource::url("https://issuer.example.com/.well-known/jwks.json").unwrap();
/// assert!(JwksSource::url("http://issuer.example.com/jwks.json").is_err());
/// # let _ = (from_file, inline, remote);
/// ```
#[derive(Debug, Clone)]
pub struct JwksSource(pub(crate) Source);

#[derive(Debug, Clone)]
pub(crate) enum Source {
    File(PathBuf),
    Inline(String),
    Url(url::Url),
}

impl JwksSource {
    /// A JWKS file. It is read when the resource server is built and read again when a
    /// token names a key it does not hold and the file has changed since, so a key
    /// rotation needs no restart.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self(Source::File(path.into()))
    }

    /// A JWKS document given as JSON text.
    pub fn inline(json: impl Into<String>) -> Self {
        Self(Source::Inline(json.into()))
    }

    /// A JWKS URL (the issuer's `jwks_uri`), fetched over HTTPS, cached, and fetched again
    /// when a token names an unknown key (at most once per
    /// [`refresh_interval`](super::ResourceServerBuilder::refresh_interval)) or when the
    /// cached set is older than [`max_key_age`](super::ResourceServerBuilder::max_key_age).
    /// Plain `http` is accepted for loopback hosts only (a local development issuer).
    pub fn url(url: &str) -> Result<Self, super::ConfigError> {
        let parsed = url::Url::parse(url).map_err(|_| super::ConfigError::JwksUrl)?;
        let loopback = match parsed.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        match parsed.scheme() {
            "https" => Ok(Self(Source::Url(parsed))),
            "http" if loopback => Ok(Self(Source::Url(parsed))),
            _ => Err(super::ConfigError::JwksUrl),
        }
    }
}

/// One usable verification key.
pub(crate) struct Key {
    kid: Option<String>,
    /// The algorithms this key may verify: its family's, or only its JWK `alg`.
    algorithms: &'static [Algorithm],
    pub(crate) key: DecodingKey,
}

/// A parsed key set.
#[derive(Default)]
pub(crate) struct KeySet {
    keys: Vec<Key>,
}

const RSA: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

fn single(alg: Algorithm) -> &'static [Algorithm] {
    match alg {
        Algorithm::RS256 => &[Algorithm::RS256],
        Algorithm::RS384 => &[Algorithm::RS384],
        Algorithm::RS512 => &[Algorithm::RS512],
        Algorithm::PS256 => &[Algorithm::PS256],
        Algorithm::PS384 => &[Algorithm::PS384],
        Algorithm::PS512 => &[Algorithm::PS512],
        Algorithm::ES256 => &[Algorithm::ES256],
        Algorithm::ES384 => &[Algorithm::ES384],
        Algorithm::EdDSA => &[Algorithm::EdDSA],
        _ => &[],
    }
}

impl KeySet {
    /// Parse a JWKS document. Keys this server cannot or must not use are skipped with a
    /// warning (symmetric `oct` keys, encryption keys, short RSA moduli, unknown types), so
    /// one odd key does not take the issuer's other keys down with it.
    pub(crate) fn parse(json: &[u8]) -> Result<Self, String> {
        #[derive(serde::Deserialize)]
        struct Doc {
            keys: Vec<serde_json::Value>,
        }
        let doc: Doc = serde_json::from_slice(json)
            .map_err(|_| "not a JWKS document (a JSON object with a `keys` array)".to_owned())?;
        let mut keys = Vec::new();
        for (index, value) in doc.keys.into_iter().enumerate() {
            match Self::key(value) {
                Ok(key) => keys.push(key),
                Err(why) => tracing::warn!(
                    target: "secure_tool::auth",
                    index,
                    "JWKS key skipped: {why}"
                ),
            }
        }
        Ok(Self { keys })
    }

    fn key(value: serde_json::Value) -> Result<Key, &'static str> {
        let jwk: Jwk = serde_json::from_value(value).map_err(|_| "not a key this server reads")?;
        if let Some(usage) = &jwk.common.public_key_use
            && *usage != PublicKeyUse::Signature
        {
            return Err("not a signature key (`use`)");
        }
        if let Some(ops) = &jwk.common.key_operations
            && !ops.contains(&KeyOperations::Verify)
        {
            return Err("`key_ops` does not allow `verify`");
        }
        let family: &'static [Algorithm] = match &jwk.algorithm {
            AlgorithmParameters::RSA(rsa) => {
                let modulus = base64_len(&rsa.n);
                if modulus < MIN_RSA_MODULUS {
                    return Err("RSA modulus shorter than 2048 bits");
                }
                RSA
            }
            AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
                EllipticCurve::P256 => &[Algorithm::ES256],
                EllipticCurve::P384 => &[Algorithm::ES384],
                _ => return Err("unsupported elliptic curve"),
            },
            AlgorithmParameters::OctetKeyPair(okp) => match okp.curve {
                EllipticCurve::Ed25519 => &[Algorithm::EdDSA],
                _ => return Err("unsupported octet key pair curve"),
            },
            AlgorithmParameters::OctetKey(_) => {
                return Err("symmetric (`oct`) keys are never used by a resource server");
            }
            _ => return Err("unsupported key type"),
        };
        let algorithms = match jwk.common.key_algorithm {
            None => family,
            Some(declared) => {
                let alg = serde_json::to_value(declared)
                    .ok()
                    .and_then(|v| v.as_str().and_then(|s| s.parse::<Algorithm>().ok()))
                    .ok_or("its `alg` is not a signature algorithm")?;
                if !family.contains(&alg) {
                    return Err("its `alg` does not belong to its key type");
                }
                single(alg)
            }
        };
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| "its parameters are not a valid key")?;
        Ok(Key {
            kid: jwk.common.key_id,
            algorithms,
            key,
        })
    }

    /// The key that verifies a token with this `kid` and `alg`. Without a `kid`, only a
    /// set with exactly one key for the algorithm answers (trying every key would let one
    /// token cost many signature checks).
    pub(crate) fn find(&self, kid: Option<&str>, alg: Algorithm) -> Lookup<'_> {
        match kid {
            Some(kid) => match self.keys.iter().find(|k| k.kid.as_deref() == Some(kid)) {
                None => Lookup::UnknownKid,
                Some(key) if key.algorithms.contains(&alg) => Lookup::Found(key),
                Some(_) => Lookup::WrongAlgorithm,
            },
            None => {
                let mut usable = self.keys.iter().filter(|k| k.algorithms.contains(&alg));
                match (usable.next(), usable.next()) {
                    (Some(key), None) => Lookup::Found(key),
                    (None, _) => Lookup::UnknownKid,
                    (Some(_), Some(_)) => Lookup::Ambiguous,
                }
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
}

/// Length in bytes of the data a base64url string encodes.
fn base64_len(text: &str) -> usize {
    let digits = text.trim_end_matches('=').len();
    digits * 3 / 4
}

pub(crate) enum Lookup<'a> {
    Found(&'a Key),
    UnknownKid,
    WrongAlgorithm,
    Ambiguous,
}

/// When a JWKS file was read: enough to tell that it changed.
#[derive(Clone, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    #[cfg(unix)]
    inode: u64,
}

impl FileStamp {
    fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            modified: meta.modified().ok(),
            len: meta.len(),
            #[cfg(unix)]
            inode: std::os::unix::fs::MetadataExt::ino(meta),
        }
    }
}

/// One issuer's keys: the last good set, and how to get a newer one.
pub(crate) struct IssuerKeys {
    source: Source,
    current: RwLock<Option<Arc<KeySet>>>,
    /// Bumped whenever the set changes; cached verifications of an older set are dropped.
    pub(crate) generation: AtomicU64,
    stamp: Mutex<Option<FileStamp>>,
    /// When the set was last fetched (URL), or a fetch was last tried.
    fetched: Mutex<Option<Instant>>,
    /// One refresh at a time; the others keep using the current set.
    refreshing: tokio::sync::Mutex<()>,
    refresh_interval: Duration,
    max_age: Duration,
    client: Option<reqwest::Client>,
}

impl IssuerKeys {
    pub(crate) fn new(
        source: Source,
        refresh_interval: Duration,
        max_age: Duration,
    ) -> Result<Self, super::ConfigError> {
        let client = match &source {
            Source::Url(_) => Some(
                reqwest::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .map_err(|_| super::ConfigError::HttpClient)?,
            ),
            _ => None,
        };
        let keys = Self {
            source,
            current: RwLock::new(None),
            generation: AtomicU64::new(0),
            stamp: Mutex::new(None),
            fetched: Mutex::new(None),
            refreshing: tokio::sync::Mutex::new(()),
            refresh_interval,
            max_age,
            client,
        };
        // A file or inline set is read now: a typo in the operator's configuration is an
        // error at start-up, not a 401 for every caller.
        match &keys.source {
            Source::Inline(json) => {
                let set = KeySet::parse(json.as_bytes()).map_err(super::ConfigError::Jwks)?;
                keys.install(set);
            }
            Source::File(path) => {
                let (set, stamp) = read_file(path).map_err(super::ConfigError::Jwks)?;
                keys.install(set);
                *keys.stamp.lock().unwrap_or_else(PoisonError::into_inner) = Some(stamp);
            }
            Source::Url(_) => {}
        }
        Ok(keys)
    }

    fn install(&self, set: KeySet) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(set));
        self.generation.fetch_add(1, Ordering::Release);
    }

    pub(crate) fn current(&self) -> Option<Arc<KeySet>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The current set, refreshed first if it is a URL's and has grown old.
    pub(crate) async fn fresh(&self) -> Option<Arc<KeySet>> {
        if let Source::Url(_) = self.source {
            let stale = self
                .fetched
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_none_or(|at| at.elapsed() >= self.max_age);
            if stale {
                self.refresh().await;
            }
        }
        self.current()
    }

    /// A token named a key the current set lacks: look for a newer set, within limits.
    /// A file is re-read only when it changed; a URL is fetched at most once per refresh
    /// interval, so a flood of made-up `kid`s costs the issuer nothing.
    pub(crate) async fn refresh(&self) {
        let Ok(_one) = self.refreshing.try_lock() else {
            // Someone else is refreshing: wait for them, then use what they got.
            let _wait = self.refreshing.lock().await;
            return;
        };
        match &self.source {
            Source::Inline(_) => {}
            Source::File(path) => {
                let Ok(meta) = std::fs::metadata(path) else {
                    return;
                };
                let stamp = FileStamp::of(&meta);
                if self
                    .stamp
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .as_ref()
                    == Some(&stamp)
                {
                    return;
                }
                match read_file(path) {
                    Ok((set, stamp)) => {
                        tracing::info!(
                            target: "secure_tool::auth",
                            keys = set.len(),
                            "JWKS file re-read"
                        );
                        self.install(set);
                        *self.stamp.lock().unwrap_or_else(PoisonError::into_inner) = Some(stamp);
                    }
                    Err(why) => {
                        // Keep the last good set; try again once the file changes again.
                        *self.stamp.lock().unwrap_or_else(PoisonError::into_inner) = Some(stamp);
                        tracing::warn!(
                            target: "secure_tool::auth",
                            "JWKS file not re-read, keeping the last good keys: {why}"
                        );
                    }
                }
            }
            Source::Url(url) => {
                {
                    let mut fetched = self.fetched.lock().unwrap_or_else(PoisonError::into_inner);
                    let have = self.current().is_some();
                    if have
                        && let Some(at) = *fetched
                        && at.elapsed() < self.refresh_interval
                    {
                        return;
                    }
                    *fetched = Some(Instant::now());
                }
                match self.fetch(url).await {
                    Ok(set) => {
                        tracing::info!(target: "secure_tool::auth", keys = set.len(), "JWKS fetched");
                        self.install(set);
                    }
                    Err(why) => tracing::warn!(
                        target: "secure_tool::auth",
                        "JWKS not fetched, keeping the last good keys: {why}"
                    ),
                }
            }
        }
    }

    async fn fetch(&self, url: &url::Url) -> Result<KeySet, String> {
        let Some(client) = &self.client else {
            return Err("no HTTP client".into());
        };
        let mut response = client
            .get(url.as_str())
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("request failed: {}", e.without_url()))?;
        if !response.status().is_success() {
            return Err(format!("status {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("body failed: {}", e.without_url()))?
        {
            body.extend_from_slice(&chunk);
            if body.len() as u64 > MAX_JWKS_BYTES {
                return Err("larger than 512 KiB".into());
            }
        }
        KeySet::parse(&body)
    }

    pub(crate) fn is_url(&self) -> bool {
        matches!(self.source, Source::Url(_))
    }
}

fn read_file(path: &std::path::Path) -> Result<(KeySet, FileStamp), String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open: {}", e.kind()))?;
    let stamp = FileStamp::of(
        &file
            .metadata()
            .map_err(|e| format!("cannot stat: {}", e.kind()))?,
    );
    let mut json = Vec::new();
    file.take(MAX_JWKS_BYTES + 1)
        .read_to_end(&mut json)
        .map_err(|e| format!("cannot read: {}", e.kind()))?;
    if json.len() as u64 > MAX_JWKS_BYTES {
        return Err("larger than 512 KiB".into());
    }
    Ok((KeySet::parse(&json)?, stamp))
}

/// Why no key verified a token, before its signature was even checked.
pub(crate) fn lookup_error(lookup: &Lookup<'_>) -> TokenError {
    match lookup {
        Lookup::Found(_) => TokenError::Malformed,
        Lookup::UnknownKid => TokenError::UnknownKey,
        Lookup::WrongAlgorithm => TokenError::AlgorithmMismatch,
        Lookup::Ambiguous => TokenError::UnknownKey,
    }
}
