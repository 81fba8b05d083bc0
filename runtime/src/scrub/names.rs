//! Named values: whether `key = value` holds a credential, decided by the key's words
//! and the value's shape.
//!
//! A key is *strong* when its last word names a secret (`password`, `secret`, `token`,
//! `api_key`, `AWS_SECRET_ACCESS_KEY`, `clientSecret`): any value but a placeholder, a
//! type name or an expression is redacted. A key is *weak* when a secret word stands
//! elsewhere in it, or its last word is a carrier (`signature`, `cookie`, `session`,
//! `hash`), or it names a vendor (`DATADOG_APP_ID`): the value is redacted only when it
//! looks generated (long, mixed, high entropy). Everything else is plain text.

use regex::Captures;

/// Words every key the assignment rule redacts holds one of (or a vendor's name), as the
/// prefilter reads them in raw text (`relic` for `new_relic`, `bundle_` for Bundler).
const WORDS: [&str; 17] = [
    "pass",
    "pwd",
    "pw",
    "secret",
    "token",
    "credential",
    "creds",
    "key",
    "auth",
    "sig",
    "cookie",
    "session",
    "salt",
    "hash",
    "dsn",
    "relic",
    "bundle_",
];

/// Vendors whose credentials are identified by the key that names them.
const VENDORS: [&str; 79] = [
    "adafruit",
    "adobe",
    "airtable",
    "algolia",
    "alibaba",
    "asana",
    "atlassian",
    "confluence",
    "jira",
    "beamer",
    "bitbucket",
    "bittrex",
    "meraki",
    "cloudflare",
    "codecov",
    "cohere",
    "coinbase",
    "confluent",
    "contentful",
    "datadog",
    "discord",
    "droneci",
    "dropbox",
    "etsy",
    "facebook",
    "fastly",
    "finicity",
    "finnhub",
    "flickr",
    "freshbooks",
    "gitter",
    "gocardless",
    "heroku",
    "hubspot",
    "intercom",
    "jfrog",
    "artifactory",
    "bintray",
    "kraken",
    "kucoin",
    "launchdarkly",
    "linear",
    "linkedin",
    "lob",
    "looker",
    "mailchimp",
    "mailgun",
    "mapbox",
    "mattermost",
    "messagebird",
    "netlify",
    "newrelic",
    "nytimes",
    "okta",
    "plaid",
    "privateai",
    "rapidapi",
    "sendbird",
    "sentry",
    "snyk",
    "sonar",
    "squarespace",
    "sumo",
    "sumologic",
    "telegram",
    "contribsys",
    "travis",
    "travisci",
    "twitch",
    "twitter",
    "typeform",
    "yandex",
    "zendesk",
    "vercel",
    "twilio",
    "stripe",
    "slack",
    "github",
    "gitlab",
];

/// The literal text a secret-looking key contains, one of which every key the
/// assignment rule redacts holds (any case): the prefilter of that rule.
pub(crate) const KEYWORDS: &[&str] = &concat::<17, 79, 96>(WORDS, VENDORS);

/// `a` then `b`, at compile time.
const fn concat<const A: usize, const B: usize, const C: usize>(
    a: [&'static str; A],
    b: [&'static str; B],
) -> [&'static str; C] {
    assert!(A + B == C);
    let mut out = [""; C];
    let mut i = 0;
    while i < A {
        out[i] = a[i];
        i += 1;
    }
    while i < C {
        out[i] = b[i - A];
        i += 1;
    }
    out
}

/// Last words that name a secret by themselves (after camelCase and separators split).
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "passcode",
    "pass",
    "secret",
    "secrets",
    "token",
    "credential",
    "credentials",
    "creds",
    "apikey",
    "authkey",
    "pw",
    "dsn",
];

/// Words before `key` that make it a credential (`api_key`, `signing_key`...).
const KEY_QUALIFIERS: &[&str] = &[
    "api",
    "secret",
    "access",
    "private",
    "master",
    "encryption",
    "decryption",
    "signing",
    "sign",
    "license",
    "licence",
    "account",
    "auth",
    "client",
    "app",
    "application",
    "service",
    "admin",
    "webhook",
    "storage",
    "shared",
    "session",
    "hmac",
    "jwt",
    "ssh",
    "gpg",
    "pgp",
    "crypto",
    "cipher",
    "aes",
    "rsa",
    "subscription",
    "consumer",
    "developer",
    "partner",
    "write",
    "ingest",
    "ingestion",
    "deploy",
    "personal",
];

/// Words before `token` that make it something other than a credential.
const NOT_CREDENTIAL_TOKENS: &[&str] = &[
    "public",
    "page",
    "pagination",
    "paging",
    "next",
    "continuation",
    "sync",
    "cursor",
    "resume",
    "change",
    "max",
    "input",
    "output",
    "total",
    "prompt",
    "completion",
    "stop",
    "end",
    "start",
    "bos",
    "eos",
    "pad",
    "unk",
    "sep",
    "cls",
    "mask",
    "special",
    "added",
    "cached",
    "reasoning",
    "num",
];

/// Last words that carry secrets without naming them.
const CARRIER_WORDS: &[&str] = &[
    "auth",
    "signature",
    "sig",
    "cookie",
    "session",
    "sessionid",
    "hash",
    "salt",
    "otp",
    "nonce",
    "seed",
    "cert",
];

/// Last words that describe a secret rather than hold it (`token_endpoint`, `key_name`).
const DESCRIPTORS: &[&str] = &[
    "type",
    "name",
    "names",
    "length",
    "len",
    "count",
    "size",
    "ttl",
    "expiry",
    "expires",
    "endpoint",
    "url",
    "uri",
    "path",
    "file",
    "header",
    "field",
    "scope",
    "scopes",
    "audience",
    "issuer",
    "format",
    "algorithm",
    "alg",
    "version",
    "prefix",
    "hint",
    "policy",
    "provider",
    "mode",
    "kind",
    "label",
    "description",
    "id",
    "ids",
    "index",
    "idx",
    "column",
    "table",
    "env",
    "var",
    "location",
    "store",
    "manager",
    "service",
    "strength",
    "rotation",
    "required",
    "enabled",
    "timeout",
    "at",
    "date",
    "time",
];

/// Trailing words that describe the encoding of what the key holds.
const ENCODING_WORDS: &[&str] = &[
    "value", "b64", "base64", "hex", "raw", "str", "string", "enc",
];

/// How secret a key's name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Name {
    /// Not a secret's name.
    Plain,
    /// Redact values that look generated.
    Weak,
    /// Named after a vendor whose credentials it holds: redact values that look
    /// generated, down to the 12 characters some vendors' ids have.
    Vendor,
    /// Redact every value but placeholders and expressions.
    Strong,
}

/// Split `apiKey`, `API_KEY`, `x-api-key`, `AWSSecretAccessKey` into lowercase words:
/// slices of `lower`, the key lowercased (`key` gives the case boundaries).
fn words<'a>(key: &str, lower: &'a str) -> Vec<&'a str> {
    let bytes = key.as_bytes();
    let mut out = Vec::new();
    let mut start = None;
    for (i, &b) in bytes.iter().enumerate() {
        if !b.is_ascii_alphanumeric() {
            if let Some(s) = start.take() {
                out.push(&lower[s..i]);
            }
            continue;
        }
        let boundary = b.is_ascii_uppercase()
            && i > 0
            && (bytes[i - 1].is_ascii_lowercase()
                || bytes[i - 1].is_ascii_digit()
                || (bytes[i - 1].is_ascii_uppercase()
                    && bytes.get(i + 1).is_some_and(u8::is_ascii_lowercase)));
        match start {
            Some(s) if boundary => {
                out.push(&lower[s..i]);
                start = Some(i);
            }
            None => start = Some(i),
            Some(_) => {}
        }
    }
    if let Some(s) = start {
        out.push(&lower[s..]);
    }
    out
}

/// How secret the key `name` is.
pub(crate) fn is_secret_name(name: &str) -> Name {
    if !name.is_ascii() {
        return Name::Plain;
    }
    let lower = name.to_ascii_lowercase();
    let mut words = words(name, &lower);
    while words.len() > 1 && words.last().is_some_and(|w| ENCODING_WORDS.contains(w)) {
        words.pop();
    }
    let Some(&last) = words.last() else {
        return Name::Plain;
    };
    let previous = words.len().checked_sub(2).map(|i| words[i]);
    // Vendors are matched on the key written together (`new_relic` is `newrelic`), and
    // only looked for when the last word could make a vendor's key a credential.
    let vendor = || {
        let compact: String = words.concat();
        VENDORS.iter().any(|v| compact.contains(v))
    };
    // Bundler reads credentials for a host from `BUNDLE_<HOST>__COM` (`user:password`).
    if words.first() == Some(&"bundle") && name.contains("__") {
        return Name::Strong;
    }
    // One word written together: `apikey`, `dbpassword`, `clientsecret`, `authtoken`.
    let glued = [
        "password",
        "passwd",
        "secret",
        "apikey",
        "authkey",
        "secretkey",
        "accesskey",
        "privatekey",
        "authtoken",
        "accesstoken",
        "refreshtoken",
        "apitoken",
        "bearertoken",
    ]
    .iter()
    .any(|w| last.ends_with(w));
    if last == "token" && previous.is_some_and(|p| NOT_CREDENTIAL_TOKENS.contains(&p)) {
        // A page or stream token: random-looking, and the model needs it to go on.
        return Name::Plain;
    }
    let strong = match last {
        "token" => true,
        "key" => previous.is_some_and(|p| KEY_QUALIFIERS.contains(&p)) || vendor(),
        "id" | "sid" | "pat" | "pin" => false,
        _ => SECRET_WORDS.contains(&last) || glued,
    };
    if strong {
        return Name::Strong;
    }
    let inside = &words[..words.len() - 1];
    let secret_word_inside = inside.iter().any(|w| {
        SECRET_WORDS.contains(w) || *w == "key" || *w == "auth" || w.ends_with("password")
    });
    if (matches!(
        last,
        "id" | "sid" | "key" | "token" | "secret" | "pat" | "login"
    ) || ["id", "key", "token", "secret"]
        .iter()
        .any(|w| last.ends_with(w)))
        && vendor()
    {
        return Name::Vendor;
    }
    // A hash under a name with no secret word in it (`commit_hash`, `file_hash`) is a
    // digest of something public; `password_hash` and `api_hash` (Telegram's credential)
    // stay weak.
    if last == "hash" && !secret_word_inside && !inside.contains(&"api") && !vendor() {
        return Name::Plain;
    }
    if CARRIER_WORDS.contains(&last) || (secret_word_inside && !DESCRIPTORS.contains(&last)) {
        return Name::Weak;
    }
    Name::Plain
}

/// A key whose value is the secrets themselves when it is an array or an object:
/// `{"password": {"current": "..", "previous": ".."}}`, `{"secrets": ["..", ".."]}`,
/// `{"api_tokens": {"prod": ".."}}`. A strong name (or the singular of one), not one that
/// groups credentials with the names that go with them (`credentials`, `creds`:
/// `username` stays). Returns the name to judge each value by.
pub(crate) fn secret_holder(key: &str) -> Option<&str> {
    let lower = key.to_ascii_lowercase();
    let words = words(key, &lower);
    let last = *words.last()?;
    if matches!(last, "credential" | "credentials" | "creds") {
        return None;
    }
    // The singular of a name of several words (`api_tokens`, `db_passwords`); a bare
    // `tokens` is a tokenizer's output or a usage count, not credentials.
    let singular = (words.len() >= 2)
        .then(|| key.strip_suffix(['s', 'S']))
        .flatten();
    [Some(key), singular]
        .into_iter()
        .flatten()
        .find(|name| is_secret_name(name) == Name::Strong)
}

/// Whether a value held under `holder` may be a number: a PIN or a numeric password,
/// never a token or a key.
pub(crate) fn holds_numbers(holder: &str) -> bool {
    let lower = holder.to_ascii_lowercase();
    words(holder, &lower).last().is_some_and(|w| {
        matches!(
            *w,
            "password" | "passwd" | "pwd" | "pw" | "passcode" | "pin" | "passphrase"
        )
    })
}

/// A key that describes a secret rather than holding it (`type`, `expires_at`,
/// `rotation`, `name`, `id`).
pub(crate) fn is_descriptor(key: &str) -> bool {
    const HELD_DESCRIPTORS: &[&str] = &[
        "type",
        "kind",
        "format",
        "alg",
        "algorithm",
        "expiry",
        "expires",
        "ttl",
        "scope",
        "scopes",
        "id",
        "ids",
        "name",
        "names",
        "label",
        "description",
        "version",
        "hint",
        "policy",
        "rotation",
        "enabled",
        "required",
        "length",
        "strength",
        "created",
        "updated",
        "date",
        "time",
        "at",
        "username",
        "email",
        "host",
        "port",
        "issuer",
        "audience",
    ];
    let lower = key.to_ascii_lowercase();
    words(key, &lower)
        .last()
        .is_some_and(|w| HELD_DESCRIPTORS.contains(w))
}

/// A value that is not a secret whatever its key: a placeholder, a flag, a type name, a
/// reference to where the secret really is.
pub(crate) fn is_placeholder(value: &str) -> bool {
    let v = value.trim();
    if v.is_empty()
        || v.len() < 3 && v.bytes().all(|b| b.is_ascii_digit())
        || has_placeholder_body(v)
    {
        return true;
    }
    let lower = v.to_ascii_lowercase();
    const WORDS: &[&str] = &[
        "true",
        "false",
        "null",
        "none",
        "nil",
        "undefined",
        "yes",
        "no",
        "on",
        "off",
        "required",
        "optional",
        "string",
        "str",
        "text",
        "bool",
        "boolean",
        "int",
        "integer",
        "number",
        "option",
        "secret",
        "password",
        "token",
        "redacted",
        "hidden",
        "masked",
        "omitted",
        "unset",
        "empty",
        "bytes",
        "secretstr",
        "secretstring",
        "any",
        "object",
        "new",
        "await",
        "function",
        "lambda",
        "self",
        "this",
    ];
    if WORDS.contains(&lower.as_str()) {
        return true;
    }
    // What documentation and example files write where the secret goes.
    let example = lower.starts_with("your")
        || lower.contains("-your-")
        || lower.contains("_your_")
        || lower.ends_with("-here")
        || lower.ends_with("_here")
        || [
            "example",
            "placeholder",
            "changeme",
            "change-me",
            "change_me",
            "xxxx",
            "dummy",
        ]
        .iter()
        .any(|w| lower.contains(w));
    if example {
        return true;
    }
    let first = v.chars().next().unwrap_or(' ');
    v.starts_with("{{")
        || v.starts_with("${")
        || v.starts_with("%(")
        || v.starts_with("[redacted")
        || v.starts_with("env:")
        || v.starts_with("vault:")
        || v.starts_with("secretref:")
        || placeholder_shape(v)
        || v.chars().all(|c| c == first)
}

/// A reference written where the value goes, by its structure: `$NAME`, `$(cmd)`,
/// `<your key>`, `{name}`, `(required)`, `%NAME%`, `%s`, a YAML anchor or alias (`&a`,
/// `*a`). The name inside is a written name, never a generated one: a password that
/// merely starts with `%`, `$`, `{`, `*`, `<` or `(` (`%Gr8x!Lq2$vZ`) is a value.
fn placeholder_shape(v: &str) -> bool {
    let name = |s: &str| {
        let s = s.trim_matches([' ', '{', '}']);
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | ':' | ' '))
            && !looks_random_from(s, 8)
    };
    let enclosed = |open: char, close: char| {
        v.strip_prefix(open)
            .and_then(|r| r.strip_suffix(close))
            .is_some_and(name)
    };
    if let Some(rest) = v.strip_prefix('$') {
        return rest.starts_with(['{', '(']) || name(rest);
    }
    // `<your access token>`, cut at its first space by a rule that reads one token.
    if let Some(rest) = v.strip_prefix('<') {
        return name(rest.trim_end_matches('>'));
    }
    if let Some(rest) = v.strip_prefix(['&', '*']) {
        return !rest.contains(' ') && name(rest);
    }
    enclosed('<', '>')
        || enclosed('{', '}')
        || enclosed('(', ')')
        || enclosed('%', '%')
        || v.starts_with("%(")
        || matches!(v, "%s" | "%d" | "%v")
}

/// Whether `word` is one of the words that name a secret (`password`, `token`...): what a
/// placeholder writes where the secret goes.
pub(crate) fn is_secret_word(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    SECRET_WORDS.contains(&lower.as_str())
        || matches!(lower.as_str(), "yyy" | "test" | "user" | "username")
}

/// A token whose body is a placeholder: a run of one character (`xxxxxxxx`, `00000000`),
/// the word `example` (`AKIAIOSFODNN7EXAMPLE`), or `...here` (`RANDOMSTRINGHERE`).
pub(crate) fn has_placeholder_body(token: &str) -> bool {
    let lower = token.to_ascii_lowercase();
    if lower.contains("example") || lower.ends_with("here") {
        return true;
    }
    let bytes = token.as_bytes();
    let mut run = 1;
    for pair in bytes.windows(2) {
        // Runs of `A` are base64 for zero bytes, which real tokens hold (Dropbox's
        // long-lived tokens, Twitter's bearer prefix, SSH keys): not a placeholder.
        run = if pair[0] == pair[1] && pair[0].is_ascii_alphanumeric() && pair[0] != b'A' {
            run + 1
        } else {
            1
        };
        if run >= 6 {
            return true;
        }
    }
    false
}

/// An expression in code rather than a literal: `settings.API_KEY`, `self.password`,
/// `os.environ[..]`, `getenv(..)` (`called`: a `(` or `[` follows), an environment
/// variable's name (`DB_PASSWORD`).
fn is_expression(value: &str, called: bool) -> bool {
    if called {
        return true;
    }
    let ident = |s: &str| {
        !s.is_empty()
            && s.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    // `self.password`, `settings.API_KEY`, `os.environ`: names, none of them generated
    // (a vault token `s.ZC9Ecf4M5g9o34Q6RkzGsj0z` is not an expression).
    let dotted = value.contains('.')
        && value
            .split('.')
            .all(|part| ident(part) && part.len() <= 32 && !looks_random_from(part, 12));
    let env_name = ident(value)
        && value.contains('_')
        && value
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    dotted || env_name
}

/// Code passing a variable on under its own name: `self.api_key = api_key`,
/// `this.apiKey = apiKey;`, `password=password` in a call. The value is the key's last
/// part again, as an identifier (case, `_` and `-` aside): a name, never a secret.
fn names_itself(key: &str, value: &str) -> bool {
    let fold = |s: &str| -> String {
        s.chars()
            .filter(|c| *c != '_' && *c != '-')
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    let value = value.trim_end_matches(';');
    let last = key.rsplit(['.', '>', ':']).next().unwrap_or(key);
    value.len() >= 3
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && value
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && fold(value) == fold(last)
}

/// Shannon entropy of `text`, in bits per byte.
fn entropy(text: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in text.bytes() {
        counts[usize::from(b)] += 1;
    }
    let n = text.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Whether `value` looks generated (a key, a token, a hash) rather than written.
pub(crate) fn looks_random(value: &str) -> bool {
    looks_random_from(value, 16)
}

fn looks_random_from(value: &str, min_len: usize) -> bool {
    let v = value.trim_end_matches('=');
    if v.len() < min_len
        || v.contains("://")
        || !v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=_.~:-$".contains(&b))
    {
        return false;
    }
    // Identifiers (`user_session_v2`, `id-Gost28147-89-None-KeyMeshing`, `Ed25519.Blind`)
    // are written, not generated: each part is a word with digits after it, or digits.
    let word_then_digits = |part: &str| {
        let letters = part.trim_end_matches(|c: char| c.is_ascii_digit());
        part.len() <= 16
            && (letters.is_empty() && part.len() <= 12
                || letters.bytes().all(|b| b.is_ascii_alphabetic())
                    && letters
                        .bytes()
                        .skip(1)
                        .filter(u8::is_ascii_uppercase)
                        .count()
                        <= 3)
    };
    let parts: Vec<&str> = v.split(['_', '-', '.']).collect();
    if parts.len() >= 2 && parts.iter().all(|p| word_then_digits(p)) {
        return false;
    }
    // An alphabet or a counting sequence is not a key.
    if ["0123", "abcd", "ABCD", "wxyz", "WXYZ"]
        .iter()
        .any(|run| v.contains(run))
    {
        return false;
    }
    let digit = v.bytes().any(|b| b.is_ascii_digit());
    let upper = v.bytes().any(|b| b.is_ascii_uppercase());
    let lower = v.bytes().any(|b| b.is_ascii_lowercase());
    let e = entropy(v);
    (digit && (upper || lower) && e >= 3.0)
        || (upper && lower && v.len() >= 24 && e >= 3.5)
        || (digit && !upper && !lower && v.len() >= min_len.max(14))
}

/// The capture groups a named-value rule may put its value in, in the order they are
/// looked for: a token, a double-quoted string (`eq`: opened by an escaped quote, inside
/// JSON text), single, back and triple quotes, a value in braces or parentheses, a value
/// running to the end of its line (`ln`), a bare word.
pub(crate) const VALUE_GROUPS: &[&str] = &[
    "secret", "eq", "dq", "sq", "bq", "tq", "tsq", "br", "pr", "ln", "uq",
];

/// The assignment rule's decision.
pub(crate) fn assignment_is_secret(caps: &Captures<'_>) -> bool {
    let Some(key) = caps.name("key") else {
        return false;
    };
    if let Some(line) = caps.name("ln") {
        return passphrase_is_secret(key.as_str(), line.as_str());
    }
    // A value in braces or parentheses is judged whole (`{name}` is a template, `{Xq7!..}`
    // a password that starts with a brace).
    let wrapped = |group: &str, open: char, close: char| {
        caps.name(group)
            .map(|v| format!("{open}{}{close}", v.as_str()))
    };
    let Some(value) = ["eq", "dq", "sq", "bq", "tq", "tsq", "uq"]
        .iter()
        .find_map(|g| caps.name(g))
        .map(|v| v.as_str().to_owned())
        .or_else(|| wrapped("br", '{', '}'))
        .or_else(|| wrapped("pr", '(', ')'))
    else {
        return false;
    };
    // A shell's backticks run a command (`` `pass show db` ``); Go's hold a raw string,
    // which a generated secret fills without spaces.
    if caps
        .name("bq")
        .is_some_and(|v| v.as_str().contains(char::is_whitespace))
    {
        return false;
    }
    // A sentence after the key (`reset_password: Reset your password.`) is a label.
    if let (Some(first), Some(tail)) = (caps.name("uq"), caps.name("tail")) {
        let sentence = format!("{}{}", first.as_str(), tail.as_str());
        let word = first.as_str().chars().all(char::is_alphabetic);
        if word && sentence.split_whitespace().count() >= 3 && is_prose(key.as_str(), &sentence) {
            return false;
        }
    }
    let unquoted = caps.name("uq").is_some();
    let expression = unquoted
        && (is_expression(&value, caps.name("call").is_some())
            || names_itself(key.as_str(), &value));
    !expression && value_is_secret(key.as_str(), &value)
}

/// An unquoted value of several words under a strong name, at the start of a line of a
/// config format (env, INI, properties, YAML): `PASSPHRASE=correct horse battery staple`.
/// The whole line is the value, unless it reads as code (operators, brackets, keywords
/// such as `if` or `None`, an expression first) or as prose about the key (`Forgot your
/// password?` names what it labels).
fn passphrase_is_secret(key: &str, value: &str) -> bool {
    // Words only code writes, and words code writes in pairs (`x if y else z`).
    const CODE_WORDS: &[&str] = &[
        "none", "null", "nil", "true", "false", "new", "await", "return", "lambda", "function",
    ];
    const OPERATOR_WORDS: &[&str] = &[
        "if", "else", "elif", "then", "or", "and", "not", "in", "is", "for", "of", "as", "unless",
    ];
    if is_secret_name(key) != Name::Strong || is_placeholder(value) || is_prose(key, value) {
        return false;
    }
    let words: Vec<String> = value
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    let first = value.split_whitespace().next().unwrap_or_default();
    let operators = words
        .iter()
        .filter(|w| OPERATOR_WORDS.contains(&w.as_str()))
        .count();
    let code = value.contains([
        '(', ')', '[', ']', '{', '}', '$', '=', '+', '<', '>', '|', '&', ';', '\\',
    ]) || words.iter().any(|w| CODE_WORDS.contains(&w.as_str()))
        || operators >= 2
        || is_expression(first, false);
    !code && words.len() <= 12
}

/// Text about the key rather than its value: it names the secret it labels (`Enter your
/// password`, `Forgot your password?`) or ends a sentence.
fn is_prose(key: &str, value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    let key_lower = key.to_ascii_lowercase();
    let named = words(key, &key_lower)
        .iter()
        .any(|w| w.len() >= 3 && SECRET_WORDS.contains(w) && lower.contains(w));
    // A capitalised sentence of plain words: `Choose a new one.`
    let trimmed = value.trim_end();
    let sentence = trimmed.ends_with(['?', '.', '!', ':'])
        && trimmed.chars().next().is_some_and(char::is_uppercase)
        && trimmed.split_whitespace().count() >= 3
        && trimmed
            .trim_end_matches(['?', '.', '!', ':'])
            .split_whitespace()
            .all(|w| {
                w.chars()
                    .all(|c| c.is_alphabetic() || matches!(c, '\'' | ','))
            });
    named || sentence
}

/// Whether the body of a YAML block scalar under `key` is a credential: under a strong
/// name, anything but a placeholder; under a weaker one, a blob wrapped over lines (one
/// word a line, judged joined), never lines of words.
pub(crate) fn block_is_secret(key: &str, body: &str) -> bool {
    match is_secret_name(key) {
        Name::Plain => false,
        Name::Strong => !is_placeholder(body),
        Name::Weak | Name::Vendor => {
            let blob_line = |line: &str| {
                let line = line.trim().trim_end_matches('=');
                line.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+/_-".contains(&b))
            };
            body.lines().all(blob_line)
                && value_is_secret(key, &body.split_whitespace().collect::<String>())
        }
    }
}

/// The lines of a YAML block scalar (`password: |` and what follows) that belong to it:
/// blank lines and lines indented deeper than `column`, the key's column. The range runs
/// from the first line's text to the last line's end, so the replacement keeps the
/// first line's indentation.
pub(crate) fn block_lines(block: &str, column: usize) -> Option<std::ops::Range<usize>> {
    let mut start = None;
    let mut end = 0;
    let mut at = 0;
    for line in block.split_inclusive('\n') {
        let content = line.trim_end_matches(['\r', '\n']);
        let indent = content.len() - content.trim_start_matches([' ', '\t']).len();
        if !content.trim().is_empty() {
            if indent <= column {
                break;
            }
            start.get_or_insert(at + indent);
            end = at + content.len();
        }
        at += line.len();
    }
    start.map(|start| start..end)
}

/// The credentials of a `Cookie` or `Set-Cookie` header, as ranges of `cookies` (the
/// header's value): each cookie whose name says it holds a session or a credential
/// (`JSESSIONID`, `PHPSESSID`, `sid`, `auth_token`), and each whose value looks
/// generated, wherever it stands in the header.
pub(crate) fn credential_cookies(
    cookies: &str,
) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let mut at = 0;
    // `;` between cookies; `,` between the `Set-Cookie` lines an HTTP library joins.
    cookies.split([';', ',']).filter_map(move |pair| {
        let start = at;
        at += pair.len() + 1;
        let eq = pair.find('=')?;
        let name = pair[..eq].trim();
        let raw = &pair[eq + 1..];
        let trimmed = raw.trim();
        let value = trimmed.trim_matches('"');
        let offset =
            eq + 1 + (raw.len() - raw.trim_start().len()) + usize::from(trimmed.starts_with('"'));
        let lower = name.to_ascii_lowercase();
        let session = words(name, &lower).iter().any(|w| {
            matches!(
                *w,
                "sid" | "sess" | "session" | "auth" | "token" | "jwt" | "remember" | "login"
            ) || w.ends_with("sessid")
                || w.ends_with("sessionid")
                || w.ends_with("session")
        }) || is_secret_name(name) != Name::Plain;
        let decoded = url_unescaped(value);
        let secret = !value.starts_with("[redacted")
            && !is_placeholder(value)
            && if session {
                looks_random_from(&decoded, 8) || value.len() >= 20
            } else {
                looks_random_from(&decoded, 16)
            };
        secret.then(|| start + offset..start + offset + value.len())
    })
}

/// Whether `value`, a literal (quoted, or a value in structured data) named `key`, is a
/// credential: the decision every named-value rule shares.
pub(crate) fn value_is_secret(key: &str, value: &str) -> bool {
    match is_secret_name(key) {
        Name::Plain => false,
        Name::Weak => looks_random_from(value, 16),
        Name::Vendor => looks_random_from(value, 12),
        Name::Strong => !(is_placeholder(value) || value.eq_ignore_ascii_case(key)),
    }
}

/// A URL or cookie value with the escapes a generated token holds read back (`%3D` is
/// base64's `=`, `%2B` its `+`, `%2F` its `/`, `%3A` a signed cookie's `:`), so its shape
/// is judged as the token's own.
pub(crate) fn url_unescaped(value: &str) -> String {
    value
        .replace("%3D", "=")
        .replace("%2B", "+")
        .replace("%2F", "/")
        .replace("%3A", ":")
}

/// Standard or URL-safe base64, padded or not; `None` if `text` is not base64.
pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer = 0u32;
    let mut bits = 0;
    for b in text.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_into_words() {
        let split = |key: &str| words(key, &key.to_ascii_lowercase()).join(" ");
        assert_eq!(split("AWS_SECRET_ACCESS_KEY"), "aws secret access key");
        assert_eq!(split("apiKey"), "api key");
        assert_eq!(split("x-api-key"), "x api key");
        assert_eq!(split("AWSSecretAccessKey"), "aws secret access key");
        assert_eq!(split("client.secret"), "client secret");
    }

    #[test]
    fn names_are_classified_by_their_words() {
        for strong in [
            "password",
            "DB_PASSWORD",
            "dbPassword",
            "api_key",
            "apiKey",
            "X-Api-Key",
            "AWS_SECRET_ACCESS_KEY",
            "client_secret",
            "access_token",
            "refreshToken",
            "GITHUB_TOKEN",
            "secret",
            "passphrase",
            "AccountKey",
            "signing_key",
            "SENTRY_DSN",
            "datadog_key",
            "pgpassword",
            "token_value",
        ] {
            assert_eq!(is_secret_name(strong), Name::Strong, "{strong}");
        }
        for weak in [
            "signature",
            "session",
            "cookie",
            "password_hash",
            "auth",
            "token_value_raw2",
        ] {
            assert_eq!(is_secret_name(weak), Name::Weak, "{weak}");
        }
        for plain in [
            "name",
            "token_type",
            "next_page_token",
            "max_tokens",
            "key",
            "primary_key",
            "password_min_length",
            "secretstorage",
            "monkey",
            "input_tokens",
            "keyboard",
            "author",
            "hash_algorithm_name",
            "token_endpoint",
            "key_name",
            "secret_name",
            "api_key_id",
        ] {
            assert_eq!(is_secret_name(plain), Name::Plain, "{plain}");
        }
        for vendor in [
            "heroku_id",
            "new_relic_user_api_id",
            "SUMO_ACCESS_ID",
            "linkedin_client_id",
        ] {
            assert_eq!(is_secret_name(vendor), Name::Vendor, "{vendor}");
        }
        for plain in ["twitter_handle", "github_url"] {
            assert_eq!(is_secret_name(plain), Name::Plain, "{plain}");
        }
    }

    #[test]
    fn generated_values_are_told_from_written_ones() {
        for random in [
            "q7w2e9r4t1y8u3i6",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "3f2a9c0e8b7d4a1f6e5c2b9a0d8e7f6a",
            "Zm9vYmFyOmJhejEyMzQ1Njc4OQ",
        ] {
            assert!(looks_random(random), "{random}");
        }
        for written in [
            "authentication",
            "abcdefghijklmnopqrstuvwxyz",
            "user_session_identifier_v2",
            "production-database-name",
            "hello world",
            "short1",
        ] {
            assert!(!looks_random(written), "{written}");
        }
    }

    #[test]
    fn base64_decodes() {
        assert_eq!(base64_decode("dXNlcjpwYXNz").unwrap(), b"user:pass");
        assert!(base64_decode("not base64!").is_none());
    }
}
