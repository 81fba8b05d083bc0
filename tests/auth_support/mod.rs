//! Shared by the HTTP auth tests: test signing keys, tokens of every kind, and the
//! `http_server` example started on a free loopback port.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use base64::Engine as _;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secure_tool::auth::DevIssuer;
use serde_json::{Value, json};

pub const ISS: &str = "https://issuer.test";

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/jwt")
        .join(name)
}

/// The test issuer's keys: RSA 2048, P-256 and Ed25519, plus a 1024-bit RSA key its JWKS
/// lists but that must never be used.
pub struct Signer {
    pub rsa: EncodingKey,
    pub rsa_public_pem: Vec<u8>,
    pub ec: EncodingKey,
    pub weak: EncodingKey,
    pub ed: DevIssuer,
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn public_pem(private_pem: &Path) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(private_pem)
        .output();
    match out {
        Ok(out) if out.status.success() => out.stdout,
        // Without openssl, the forgery still uses public material: the JWK's modulus.
        _ => b"-----BEGIN PUBLIC KEY-----".to_vec(),
    }
}

impl Signer {
    pub fn new() -> Self {
        let pem = |name: &str| std::fs::read(data(name)).unwrap();
        Self {
            rsa: EncodingKey::from_rsa_pem(&pem("rsa-test-only.pem")).unwrap(),
            rsa_public_pem: public_pem(&data("rsa-test-only.pem")),
            ec: EncodingKey::from_ec_pem(&pem("ec-p256-test-only.pem")).unwrap(),
            weak: EncodingKey::from_rsa_pem(&pem("rsa-1024-test-only.pem")).unwrap(),
            ed: DevIssuer::new(ISS),
        }
    }

    fn jwk(key: &EncodingKey, alg: Algorithm, kid: &str) -> Value {
        let mut jwk = Jwk::from_encoding_key(key, alg).unwrap();
        jwk.common.key_id = Some(kid.into());
        serde_json::to_value(jwk).unwrap()
    }

    /// The issuer's JWKS: every public key, each under its `kid`.
    pub fn jwks(&self) -> Value {
        let ed: Value = serde_json::from_str(&self.ed.jwks()).unwrap();
        let mut keys = vec![
            Self::jwk(&self.rsa, Algorithm::RS256, "rsa-1"),
            Self::jwk(&self.ec, Algorithm::ES256, "ec-1"),
            Self::jwk(&self.weak, Algorithm::RS256, "rsa-weak"),
        ];
        keys.extend(ed["keys"].as_array().unwrap().iter().cloned());
        json!({ "keys": keys })
    }

    /// The RSA key's JWK (its public modulus is what an HS256 forgery would use).
    pub fn rsa_jwk(&self) -> Value {
        Self::jwk(&self.rsa, Algorithm::RS256, "rsa-1")
    }

    pub fn sign(&self, alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
        let key = match alg {
            Algorithm::RS256 | Algorithm::PS256 => &self.rsa,
            Algorithm::ES256 => &self.ec,
            Algorithm::EdDSA => return self.ed.sign(claims),
            other => panic!("no test key for {other:?}"),
        };
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, key).unwrap()
    }

    pub fn rs256(&self, claims: &Value) -> String {
        self.sign(Algorithm::RS256, Some("rsa-1"), claims)
    }
}

/// Valid claims for `aud`, granting `scope`, for `sub`.
pub fn claims(aud: &str, sub: &str, scope: &str) -> Value {
    let now = now();
    json!({
        "iss": ISS,
        "aud": aud,
        "sub": sub,
        "scope": scope,
        "iat": now,
        "nbf": now - 5,
        "exp": now + 600,
    })
}

/// The names `tools/list` shows this client, sorted.
pub async fn tool_names(
    client: &rmcp::service::RunningService<rmcp::RoleClient, ()>,
) -> Vec<String> {
    let mut names: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort();
    names
}

/// An `initialize` request as a raw client sends it (the legacy revision's handshake).
pub fn initialize() -> Value {
    json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": { "name": "raw", "version": "1" }
        }
    })
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with `header` and `claims` and a made-up signature (`alg: none` and friends).
pub fn unsigned(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

/// HS256 signed with `secret`: what an attacker makes of a public key.
pub fn hs256(kid: Option<&str>, claims: &Value, secret: &[u8]) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret).unwrap()).unwrap()
}

/// Every token the server must refuse with 401 `invalid_token`, by name.
pub fn bad_tokens(signer: &Signer, aud: &str) -> Vec<(&'static str, String)> {
    let good = || claims(aud, "alice", "fs.read fs.write");
    let with = |patch: Value| {
        let mut c = good();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    };
    let now = now();
    let valid = signer.rs256(&good());
    let mut parts: Vec<String> = valid.split('.').map(str::to_owned).collect();
    // Flip bits in the middle of the signature (the last character may only hold padding).
    let sig = parts[2].clone().into_bytes();
    let mid = sig.len() / 2;
    let mut forged = sig.clone();
    forged[mid] = if sig[mid] == b'A' { b'B' } else { b'A' };
    parts[2] = String::from_utf8(forged).unwrap();
    let bad_signature = parts.join(".");
    let n = signer.rsa_jwk()["n"].as_str().unwrap().to_owned();
    let stranger = DevIssuer::new(ISS);
    vec![
        (
            "expired",
            signer.rs256(&with(json!({"exp": now - 3600, "nbf": now - 7200}))),
        ),
        (
            "not yet valid",
            signer.rs256(&with(json!({"nbf": now + 3600, "exp": now + 7200}))),
        ),
        (
            "wrong audience",
            signer.rs256(&with(json!({"aud": "http://127.0.0.1:1/other"}))),
        ),
        (
            "audience of another server",
            signer.rs256(&with(json!({"aud": ["https://api.elsewhere.test"]}))),
        ),
        (
            "wrong issuer",
            signer.rs256(&with(json!({"iss": "https://evil.test"}))),
        ),
        ("no issuer", signer.rs256(&with(json!({"iss": null})))),
        ("no audience", signer.rs256(&with(json!({"aud": null})))),
        ("no expiry", signer.rs256(&with(json!({"exp": null})))),
        ("no subject", signer.rs256(&with(json!({"sub": null})))),
        (
            "alg none",
            unsigned(&json!({"alg": "none", "typ": "JWT"}), &good(), ""),
        ),
        (
            "alg none with kid",
            unsigned(&json!({"alg": "none", "kid": "rsa-1"}), &good(), ""),
        ),
        (
            "alg None",
            unsigned(&json!({"alg": "None", "kid": "rsa-1"}), &good(), ""),
        ),
        (
            "HS256 with the public key",
            hs256(Some("rsa-1"), &good(), &signer.rsa_public_pem),
        ),
        (
            "HS256 with the modulus",
            hs256(Some("rsa-1"), &good(), n.as_bytes()),
        ),
        (
            "HS256 without kid",
            hs256(None, &good(), &signer.rsa_public_pem),
        ),
        ("bad signature", bad_signature),
        ("signature of another token", {
            let other = signer.rs256(&with(json!({"sub": "mallory"})));
            let mut p: Vec<&str> = valid.split('.').collect();
            p[2] = other.split('.').nth(2).unwrap();
            p.join(".")
        }),
        ("unknown kid", stranger.sign(&good())),
        (
            "ES256 under the RSA key's kid",
            signer.sign(Algorithm::ES256, Some("rsa-1"), &good()),
        ),
        ("RSA key under 2048 bits", {
            let mut header = Header::new(Algorithm::RS256);
            header.kid = Some("rsa-weak".into());
            jsonwebtoken::encode(&header, &good(), &signer.weak).unwrap()
        }),
        ("crit extension", {
            let mut header = Header::new(Algorithm::RS256);
            header.kid = Some("rsa-1".into());
            let mut h = serde_json::to_value(&header).unwrap();
            h["crit"] = json!(["exp"]);
            // The signature does not matter: the header is refused first.
            unsigned(&h, &good(), valid.split('.').nth(2).unwrap())
        }),
        ("not a JWT", "not-a-jwt".into()),
        ("two parts", format!("{}.{}", b64(b"{}"), b64(b"{}"))),
    ]
}

/// The `http_server` example, running on a free loopback port.
pub struct HttpServer {
    child: Child,
    pub base: String,
    pub jwks: PathBuf,
    pub stderr: PathBuf,
    pub root: PathBuf,
    _dir: TempDir,
}

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).unwrap();
        let name: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let path = std::env::temp_dir().join(format!("secure-tool-{tag}-{name}"));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Write a JWKS file whole (beside it, then renamed over it), as a key rotation would.
pub fn write_jwks(path: &Path, jwks: &Value) {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, jwks.to_string()).unwrap();
    std::fs::rename(&partial, path).unwrap();
}

impl HttpServer {
    /// Start the example with `extra` arguments, trusting `signer`'s keys.
    pub fn start(signer: &Signer, extra: &[&str]) -> Self {
        let dir = TempDir::new("http");
        let root = dir.0.join("root");
        std::fs::create_dir_all(root.join("docs")).unwrap();
        std::fs::write(root.join("docs/hello.txt"), "hello from inside").unwrap();
        let jwks = dir.0.join("jwks.json");
        write_jwks(&jwks, &signer.jwks());
        let stderr = dir.0.join("stderr.log");
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut child = Command::new(crate::common::example_binary("http_server"))
            .args(["--root"])
            .arg(&root)
            .args(["--bind", &format!("127.0.0.1:{port}")])
            .args(["--issuer", ISS])
            .args(["--audience", &format!("{base}/mcp")])
            .arg("--jwks")
            .arg(&jwks)
            .args(extra)
            .env("RUST_LOG", "secure_tool=info,rmcp=warn")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("http_server starts");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        assert!(
            line.starts_with(&format!("listening on {base}")),
            "http_server says it listens: {line:?}\n{}",
            std::fs::read_to_string(&stderr).unwrap_or_default()
        );
        Self {
            child,
            base,
            jwks,
            stderr,
            root,
            _dir: dir,
        }
    }

    pub fn mcp(&self) -> String {
        format!("{}/mcp", self.base)
    }

    pub fn metadata_url(&self) -> String {
        format!("{}/.well-known/oauth-protected-resource/mcp", self.base)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Send the server `signal` (`TERM`, `INT`, `HUP`).
    pub fn signal(&self, signal: &str) {
        crate::common::signal(&self.child, signal);
    }

    /// Wait for the server to exit, at most `limit`: its exit code (a kill by a signal
    /// fails the test).
    pub fn exit_code_within(&mut self, limit: std::time::Duration) -> i32 {
        crate::common::exit_code_within(&mut self.child, limit)
    }
}

/// A fresh Ed25519 signing key (PKCS#8 around a random seed) and its public JWK under `kid`.
pub fn ed25519(kid: &str) -> (EncodingKey, Value) {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).unwrap();
    der.extend_from_slice(&seed);
    let key = EncodingKey::from_ed_der(&der);
    let mut jwk = Jwk::from_encoding_key(&key, Algorithm::EdDSA).unwrap();
    jwk.common.key_id = Some(kid.into());
    (key, serde_json::to_value(jwk).unwrap())
}

pub fn sign_ed(key: &EncodingKey, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, key).unwrap()
}
