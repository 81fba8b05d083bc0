//! What a credential looks like: one rule per format.
//!
//! The formats follow the default rule set of gitleaks (a maintained secret scanner:
//! cloud, VCS, chat, payment, package registries, AI providers, messaging, hosting and
//! secrets managers), written here as this crate's own rules. Every rule names the literal
//! text each of its matches contains (`keywords`, any case): a text that contains none of
//! a rule's keywords never runs its regex. Every rule has a test
//! (`tests/secrets.rs`).

use regex::Captures;

/// One credential format.
pub(crate) struct Rule {
    /// A stable name (gitleaks' id where one exists).
    pub id: &'static str,
    /// Literal text every match contains, ASCII, compared in any case.
    pub keywords: &'static [&'static str],
    /// The regex; the group named `secret` (else the whole match) is what is replaced.
    pub pattern: &'static str,
    /// What the secret becomes.
    pub label: &'static str,
    /// A decision on the match, for the rules whose shape alone is not enough: `false`
    /// leaves the match as it was.
    pub check: Option<fn(&Captures<'_>) -> bool>,
}

const KEY: &str = "[redacted key]";
const TOKEN: &str = "[redacted token]";
const REDACTED: &str = "[redacted]";

/// A prefixed token: the shape alone says what it is, unless it is a placeholder
/// written in that shape (`ghp_xxxx...`, `AKIA...EXAMPLE`).
const fn token(id: &'static str, keywords: &'static [&'static str], pattern: &'static str) -> Rule {
    Rule {
        id,
        keywords,
        pattern,
        label: KEY,
        check: Some(not_a_placeholder),
    }
}

/// A value named like a secret: the assignment rules, which share their keywords (the
/// secret words and vendor names) and their decision (`names::assignment_is_secret`).
const fn named(id: &'static str, pattern: &'static str) -> Rule {
    Rule {
        id,
        keywords: super::names::KEYWORDS,
        pattern,
        label: REDACTED,
        check: Some(super::names::assignment_is_secret),
    }
}

/// Every rule, in the order they apply: blocks and URLs first, so a token shape never
/// matches inside them half-way.
pub(crate) const RULES: &[Rule] = &[
    Rule {
        id: "private-key",
        keywords: &["-----begin"],
        pattern: r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----|\z)",
        label: "[redacted private key]",
        check: None,
    },
    Rule {
        id: "url-password",
        keywords: &["://"],
        // A password may hold `/` (`pa/ss`) and `@` (`P@ss@host`): the userinfo ends at the
        // last `@` before the host, and a `host:port/path@x` is told apart by its port.
        pattern: r#"(?i)\b[a-z][a-z0-9+.\-]{0,30}://[^\s:/@"'<>\\]*:(?P<secret>[^\s@"'<>\\]+(?:@[^\s@/"'<>\\]+)*)@"#,
        label: REDACTED,
        check: Some(url_password_is_real),
    },
    Rule {
        id: "url-query-credential",
        keywords: &[
            "sig=",
            "signature=",
            "token=",
            "secret=",
            "password=",
            "key=",
        ],
        // Query values under credential names: SAS `sig=` (it ends in `%3D`), presigned
        // `X-Amz-Signature=`, OAuth tokens in a URL, `api_key=`.
        pattern: r#"(?i)[?&](?:sig|signature|x-amz-signature|x-goog-signature|access_token|id_token|refresh_token|auth_token|token|client_secret|secret|password|api_key|apikey|access_key)=(?P<secret>[^&#\s"'<>\\]+)"#,
        label: REDACTED,
        check: Some(query_value_is_secret),
    },
    Rule {
        id: "base64-private-key",
        keywords: &["LS0tLS1CRUdJTi"],
        // A PEM private key in base64 (a Kubernetes Secret's `tls.key:`, a JSON config):
        // `-----BEGIN` always encodes to `LS0tLS1CRUdJTi`; judged by what it decodes to.
        pattern: r"(?P<secret>LS0tLS1CRUdJTi[A-Za-z0-9+/]{20,}={0,2})",
        label: KEY,
        check: Some(decodes_to_private_key),
    },
    Rule {
        id: "jwk-private-member",
        keywords: &["\"kty\""],
        // A private JWK (RFC 7518): `d` (EC, OKP, RSA), the RSA primes and CRT values,
        // and a symmetric key's `k`. The public members (`n`, `e`, `x`, `y`) stay.
        pattern: r#""(?:d|p|q|dp|dq|qi|k)"\s*:\s*"(?P<secret>[A-Za-z0-9_\-]{16,})""#,
        label: KEY,
        check: None,
    },
    Rule {
        id: "authorization-header",
        keywords: &["authorization"],
        // RFC 9110: `credentials = auth-scheme [ 1*SP token68 ]`: the token after any
        // scheme (known or not: `Bot`, `SSWS`...) is the credential; a lone token is one
        // too.
        pattern: r#"(?i)\b(?:proxy-)?authorization(?:\\?["'])?\s*[:=]\s*(?:\\?["'])?[ \t]*(?:(?P<scheme>[a-z][a-z0-9!#$%&*+.^_|~-]*)[ \t]+)?(?P<secret>[^\s"'\\,;]+)"#,
        label: REDACTED,
        check: Some(authorization_is_credential),
    },
    Rule {
        id: "cookie-header",
        keywords: &["cookie"],
        // Every cookie of a `Cookie` or `Set-Cookie` header (`names::credential_cookies`
        // picks the credentials), not only the first.
        pattern: r#"(?i)\b(?:set-)?cookie(?:\\?["'])?[ \t]*[:=][ \t]*(?:\\?["'](?P<cookiesq>[^\r\n"'\\]*=[^\r\n"'\\]*)|(?P<cookies>[^\r\n'\\]*=[^\r\n'\\]*))"#,
        label: REDACTED,
        check: None,
    },
    Rule {
        id: "bearer-token",
        keywords: &["bearer"],
        pattern: r"(?i)\bbearer\s+(?P<secret>[A-Za-z0-9._~+/\-]{16,}=*)",
        label: REDACTED,
        check: Some(secret_is_random),
    },
    Rule {
        id: "basic-credentials",
        keywords: &["basic"],
        pattern: r"(?i)\bbasic\s+(?P<secret>[A-Za-z0-9+/]{6,}={0,2})",
        label: REDACTED,
        check: Some(basic_is_user_password),
    },
    Rule {
        id: "curl-user",
        keywords: &["curl"],
        pattern: r#"\bcurl\b(?:[^\n]|\\\r?\n)*?\s(?:-u|--user)[=\s]+["']?(?P<secret>[^\s:"']*:["']?[^\s"']+)"#,
        label: REDACTED,
        check: Some(curl_user_is_real),
    },
    Rule {
        id: "nuget-config-password",
        keywords: &["<add key"],
        pattern: r#"(?i)<add key=\\?"(?:cleartext)?password\\?"\s+value=\\?"(?P<secret>[^"\\]+)"#,
        label: REDACTED,
        check: None,
    },
    Rule {
        id: "database-key-detail",
        keywords: &[")=("],
        pattern: r"\bKey \((?P<key>[A-Za-z_][A-Za-z0-9_, ]{0,60})\)=\((?P<secret>[^)\n]+)\)",
        label: REDACTED,
        check: Some(database_key_is_secret),
    },
    Rule {
        id: "jwt",
        keywords: &["eyj"],
        pattern: r"\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*",
        label: TOKEN,
        check: None,
    },
    token("jwt-base64", &["zxlk"], r"\bZXlK[A-Za-z0-9+/]{40,}={0,2}"),
    // Cloud.
    token(
        "aws-access-token",
        &["akia", "asia", "abia", "acca", "a3t"],
        r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b",
    ),
    token(
        "aws-bedrock-api-key-long-lived",
        &["absk"],
        r"\bABSK[A-Za-z0-9+/]{109,269}={0,2}",
    ),
    token(
        "aws-bedrock-api-key-short-lived",
        &["bedrock-api-key-"],
        r"\bbedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t[A-Za-z0-9+/=%&._-]*",
    ),
    token("gcp-api-key", &["aiza"], r"\bAIza[\w\-]{35}"),
    Rule {
        id: "azure-ad-client-secret",
        keywords: &["q~"],
        pattern: r"(?:^|[^A-Za-z0-9_~.])(?P<secret>[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.\-]{31,34})",
        label: KEY,
        check: None,
    },
    token(
        "alibaba-access-key-id",
        &["ltai"],
        r"\bLTAI[A-Za-z0-9]{20}\b",
    ),
    token(
        "digitalocean-token",
        &["doo_v1_", "dop_v1_", "dor_v1_"],
        r"\bdo[opr]_v1_[a-f0-9]{64}",
    ),
    token("heroku-api-key-v2", &["hrku-aa"], r"\bHRKU-AA[\w\-]{58}"),
    token(
        "flyio-access-token",
        &["fo1_", "fm1a_", "fm1r_", "fm2_"],
        r"\b(?:fo1_[\w\-]{43}|fm1[ar]_[A-Za-z0-9+/]{100,}={0,3}|fm2_[A-Za-z0-9+/]{100,}={0,3})",
    ),
    token(
        "cloudflare-origin-ca-key",
        &["v1.0-"],
        r"\bv1\.0-[a-f0-9]{24}-[a-f0-9]{146}",
    ),
    token("yandex-api-key", &["aqvn"], r"\bAQVN[\w\-]{35,38}"),
    token("vault-service-token", &["hvs."], r"\bhvs\.[\w\-]{90,120}"),
    token("vault-batch-token", &["hvb."], r"\bhvb\.[\w\-]{138,300}"),
    token(
        "doppler-api-token",
        &["dp.pt.", "dp.st.", "dp.sa.", "dp.ct.", "dp.scrt."],
        r"\bdp\.(?:pt|st|sa|ct|scrt)\.[A-Za-z0-9]{40,44}",
    ),
    token(
        "1password-secret-key",
        &["a3-"],
        r"\bA3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}\b",
    ),
    token(
        "1password-service-account-token",
        &["ops_eyj"],
        r"\bops_eyJ[A-Za-z0-9+/]{250,}={0,3}",
    ),
    token(
        "age-secret-key",
        &["age-secret-key-1"],
        r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
    ),
    token(
        "databricks-api-token",
        &["dapi"],
        r"\bdapi[a-f0-9]{32}(?:-\d)?\b",
    ),
    token(
        "dynatrace-api-token",
        &["dt0c01."],
        r"\bdt0c01\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}",
    ),
    token(
        "grafana-cloud-api-token",
        &["glc_"],
        r"\bglc_[A-Za-z0-9+/]{32,400}={0,3}",
    ),
    token(
        "grafana-service-account-token",
        &["glsa_"],
        r"\bglsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}",
    ),
    token(
        "grafana-api-key",
        &["eyjrijoi"],
        r"\beyJrIjoi[A-Za-z0-9]{70,400}={0,3}",
    ),
    token(
        "hashicorp-tf-api-token",
        &["atlasv1"],
        r"\b[A-Za-z0-9]{14}\.atlasv1\.[\w=\-]{60,70}",
    ),
    token("pulumi-api-token", &["pul-"], r"\bpul-[a-f0-9]{40}\b"),
    token(
        "planetscale-token",
        &["pscale_tkn_", "pscale_oauth_", "pscale_pw_"],
        r"\bpscale_(?:tkn|oauth|pw)_[\w=.\-]{32,64}",
    ),
    token("openshift-user-token", &["sha256~"], r"\bsha256~[\w\-]{43}"),
    token(
        "harness-api-key",
        &["pat.", "sat."],
        r"\b(?:pat|sat)\.[\w\-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20}",
    ),
    token(
        "clickhouse-cloud-api-secret-key",
        &["4b1d"],
        r"\b4b1d[A-Za-z0-9]{38}\b",
    ),
    token("infracost-api-token", &["ico-"], r"\bico-[A-Za-z0-9]{32}\b"),
    token("prefect-api-token", &["pnu_"], r"\bpnu_[A-Za-z0-9]{36}\b"),
    token("scalingo-api-token", &["tk-us-"], r"\btk-us-[\w\-]{48}"),
    token(
        "settlemint-token",
        &["sm_aat_", "sm_pat_", "sm_sat_"],
        r"\bsm_(?:aat|pat|sat)_[A-Za-z0-9]{16}\b",
    ),
    token("octopus-deploy-api-key", &["api-"], r"\bAPI-[A-Z0-9]{26}\b"),
    token(
        "authress-service-client-access-key",
        &[".acc_", ".acc-"],
        r"\b(?:sc|ext|scauth|authress)_[A-Za-z0-9]{5,30}\.[A-Za-z0-9]{4,6}\.acc[_\-][a-z0-9\-]{10,32}\.[A-Za-z0-9+/_=\-]{30,120}",
    ),
    token("docker-hub-pat", &["dckr_pat_"], r"\bdckr_pat_[\w\-]{27,}"),
    // Version control.
    token(
        "github-token",
        &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
        r"\bgh[pousr]_[A-Za-z0-9]{36,255}",
    ),
    token(
        "github-fine-grained-pat",
        &["github_pat_"],
        r"\bgithub_pat_\w{82}",
    ),
    token(
        "gitlab-token",
        &[
            "glpat-", "gldt-", "glft-", "glffct-", "glimt-", "glagent-", "gloas-", "glptt-",
            "glrt-", "glsoat-", "glcbt-",
        ],
        r"\bgl(?:pat|dt|ft|ffct|imt|agent|oas|ptt|rt|soat|cbt)-[\w\-]{20,300}(?:\.[0-9a-z]{9})?",
    ),
    token("gitlab-rrt", &["gr1348941"], r"\bGR1348941[\w\-]{20}"),
    Rule {
        id: "gitlab-session-cookie",
        keywords: &["_gitlab_session="],
        pattern: r"_gitlab_session=(?P<secret>[0-9a-z]{32})",
        label: REDACTED,
        check: None,
    },
    token("atlassian-api-token", &["atatt3"], r"\bATATT3[\w=\-]{186}"),
    token(
        "sourcegraph-access-token",
        &["sgp_"],
        r"\bsgp_(?:(?:[a-fA-F0-9]{16}|local)_)?[a-fA-F0-9]{40}\b",
    ),
    token(
        "sonar-api-token",
        &["squ_", "sqp_", "sqa_"],
        r"\bsq[upa]_[a-z0-9]{40}\b",
    ),
    // Chat and messaging.
    token(
        "slack-token",
        &[
            "xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-", "xoxe-",
        ],
        r"\b(?:xox[bpe]-[0-9]{8,14}-[A-Za-z0-9\-]{10,}|xox[os]-[0-9]+-[0-9]+-[0-9]+-[a-fA-F0-9]+|xox[ar]-(?:[0-9]-)?[0-9A-Za-z]{8,48}\b|xoxe-[0-9]-[A-Za-z0-9]{100,})",
    ),
    token(
        "slack-config-token",
        &["xoxe.xox"],
        r"\bxoxe\.xox[bp]-\d-[A-Za-z0-9]{163,166}",
    ),
    token(
        "slack-app-token",
        &["xapp-"],
        r"(?i)\bxapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+",
    ),
    token(
        "slack-webhook-url",
        &["hooks.slack.com"],
        r"(?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{43,56}",
    ),
    token(
        "discord-webhook-url",
        &["discord.com/api/webhooks/", "discordapp.com/api/webhooks/"],
        r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d+/[\w\-]{60,}",
    ),
    token(
        "microsoft-teams-webhook",
        &["webhook.office.com"],
        r"https://[a-z0-9\-]+\.webhook\.office\.com/webhookb2/[\w@/\-]{60,}",
    ),
    token(
        "telegram-bot-api-token",
        &[":a"],
        r"\b\d{5,16}:A[\w\-]{34}\b",
    ),
    token("twilio-api-key", &["sk"], r"\bSK[0-9a-fA-F]{32}\b"),
    token("sendgrid-api-token", &["sg."], r"\bSG\.[\w=.\-]{66}"),
    token(
        "sendinblue-api-token",
        &["xkeysib-"],
        r"\bxkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}",
    ),
    token("mailgun-key", &["key-"], r"\b(?:pub)?key-[a-f0-9]{32}\b"),
    token("mailchimp-api-key", &["-us"], r"\b[a-f0-9]{32}-us\d{1,2}\b"),
    token(
        "facebook-page-access-token",
        &["eaam", "eaac"],
        r"\bEAA[MC][A-Za-z0-9]{100,}",
    ),
    token(
        "facebook-access-token",
        &["|", "%7c"],
        r"\b\d{15,16}(?:\||%7[Cc])[\w\-]{27,40}",
    ),
    token(
        "twitter-bearer-token",
        &["aaaaaaaaaaaaaaaaaaaaaa"],
        r"\bA{22}[A-Za-z0-9%]{80,100}",
    ),
    // Payment.
    token(
        "stripe-access-token",
        &[
            "sk_test", "sk_live", "sk_prod", "rk_test", "rk_live", "rk_prod", "pk_test", "pk_live",
        ],
        r"\b(?:sk|rk|pk)_(?:test|live|prod)_[A-Za-z0-9]{10,99}",
    ),
    token(
        "stripe-webhook-secret",
        &["whsec_"],
        r"\bwhsec_[A-Za-z0-9]{32,}",
    ),
    token(
        "square-access-token",
        &["eaaa", "sq0atp-", "sq0csp-"],
        r"\b(?:EAAA|sq0atp-|sq0csp-)[\w\-]{22,60}",
    ),
    token(
        "braintree-access-token",
        &["access_token$"],
        r"access_token\$(?:production|sandbox)\$[a-z0-9]{16}\$[a-f0-9]{32}",
    ),
    token(
        "shopify-token",
        &["shpat_", "shpca_", "shppa_", "shpss_"],
        r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}",
    ),
    token(
        "flutterwave-key",
        &["flwseck_test", "flwpubk_test"],
        r"\bFLW(?:SECK|PUBK)_TEST-[a-h0-9]{12}(?:[a-h0-9]{20}-X)?",
    ),
    token(
        "duffel-api-token",
        &["duffel_"],
        r"\bduffel_(?:test|live)_[\w=\-]{43}",
    ),
    token(
        "easypost-api-token",
        &["ezak", "eztk"],
        r"\bEZ[AT]K[A-Za-z0-9]{54}\b",
    ),
    token(
        "shippo-api-token",
        &["shippo_"],
        r"\bshippo_(?:live|test)_[a-fA-F0-9]{40}\b",
    ),
    token(
        "lob-api-key",
        &["live_", "test_"],
        r"\b(?:live|test)_(?:pub_)?[a-f0-9]{31,35}\b",
    ),
    token(
        "plaid-api-token",
        &[
            "access-sandbox-",
            "access-development-",
            "access-production-",
        ],
        r"\baccess-(?:sandbox|development|production)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    ),
    // Package registries.
    token("npm-access-token", &["npm_"], r"\bnpm_[A-Za-z0-9]{36}\b"),
    token(
        "pypi-upload-token",
        &["pypi-ageichlwas5vcmc"],
        r"\bpypi-AgEIcHlwaS5vcmc[\w\-]{50,1000}",
    ),
    token(
        "rubygems-api-token",
        &["rubygems_"],
        r"\brubygems_[a-f0-9]{48}\b",
    ),
    token(
        "clojars-api-token",
        &["clojars_"],
        r"(?i)\bCLOJARS_[a-z0-9]{60}",
    ),
    token("artifactory-api-key", &["akcp"], r"\bAKCp[A-Za-z0-9]{69}\b"),
    token(
        "artifactory-reference-token",
        &["cmvmd"],
        r"\bcmVmd[A-Za-z0-9]{59}\b",
    ),
    // AI providers.
    token(
        "anthropic-api-key",
        &["sk-ant-"],
        r"\bsk-ant-(?:api03|admin01)-[\w\-]{93}AA",
    ),
    Rule {
        id: "openai-api-key",
        keywords: &["sk-", "rk-", "pk-"],
        // The body is generated: a branch `sk-add-retry-logic-to-uploader` is not a key.
        pattern: r"\b(?P<secret>(?:sk|rk|pk)-[A-Za-z0-9_\-]{20,})",
        label: KEY,
        check: Some(openai_key_is_random),
    },
    token(
        "google-oauth-access-token",
        &["ya29."],
        r"\bya29\.[A-Za-z0-9_\-]{20,}",
    ),
    token(
        "tailscale-key",
        &["tskey-"],
        r"\btskey-(?:auth|client|api|webhook|scim)?-?[A-Za-z0-9]{6,}-[A-Za-z0-9]{16,}",
    ),
    token("huggingface-access-token", &["hf_"], r"\bhf_[A-Za-z]{34}\b"),
    token(
        "huggingface-organization-api-token",
        &["api_org_"],
        r"\bapi_org_[A-Za-z]{34}\b",
    ),
    token(
        "perplexity-api-key",
        &["pplx-"],
        r"\bpplx-[A-Za-z0-9]{48}\b",
    ),
    token("replicate-api-token", &["r8_"], r"\br8_[A-Za-z0-9]{37}\b"),
    token("groq-api-key", &["gsk_"], r"\bgsk_[A-Za-z0-9]{52}\b"),
    token("xai-api-key", &["xai-"], r"\bxai-[A-Za-z0-9]{80}\b"),
    // Hosting, observability and the rest.
    token(
        "linear-api-key",
        &["lin_api_"],
        r"\blin_api_[A-Za-z0-9]{40}\b",
    ),
    token(
        "notion-api-token",
        &["ntn_"],
        r"\bntn_\d{11}[A-Za-z0-9]{35}\b",
    ),
    token(
        "notion-integration-secret",
        &["secret_"],
        r"\bsecret_[A-Za-z0-9]{43}\b",
    ),
    token(
        "postman-api-token",
        &["pmak-"],
        r"\bPMAK-[a-fA-F0-9]{24}-[a-fA-F0-9]{34}\b",
    ),
    token("readme-api-token", &["rdme_"], r"\brdme_[a-z0-9]{70}\b"),
    token(
        "sentry-user-token",
        &["sntryu_"],
        r"\bsntryu_[a-f0-9]{64}\b",
    ),
    token(
        "sentry-org-token",
        &["sntrys_"],
        r"\bsntrys_eyJ[A-Za-z0-9+/=_]{50,}",
    ),
    token(
        "new-relic-key",
        &["nrak-", "nrii-", "nrjs-"],
        r"\b(?:NRAK-[A-Z0-9]{27}|NRII-[\w\-]{32}|NRJS-[a-f0-9]{19})\b",
    ),
    token("typeform-api-token", &["tfp_"], r"\btfp_[\w.=\-]{59}"),
    token("frameio-api-token", &["fio-u-"], r"\bfio-u-[\w=\-]{64}"),
    token("adobe-client-secret", &["p8e-"], r"\bp8e-[A-Za-z0-9]{32}\b"),
    token(
        "airtable-personal-access-token",
        &["pat"],
        r"\bpat[A-Za-z0-9]{14}\.[a-f0-9]{64}\b",
    ),
    token(
        "maxmind-license-key",
        &["_mmk"],
        r"\b[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk\b",
    ),
    token(
        "intra42-client-secret",
        &["s-s4t2"],
        r"\bs-s4t2(?:ud|af)-[a-f0-9]{64}\b",
    ),
    token(
        "defined-networking-api-token",
        &["dnkey-"],
        r"\bdnkey-[\w=\-]{26}-[\w=\-]{52}",
    ),
    token(
        "mapbox-api-token",
        &["pk.", "sk."],
        r"\b[ps]k\.eyJ[A-Za-z0-9_\-]{20,}\.[A-Za-z0-9_\-]{20,}",
    ),
    // The lines of config formats, where a value runs to the end of its line: an env,
    // INI or YAML passphrase of several words, a YAML block scalar (`password: |` and its
    // indented lines), a TOML or Python triple-quoted string. Before the one-word rule,
    // which would take only the first word.
    named(
        "secret-line-value",
        r#"(?m)^[ \t]*(?:export[ \t]+|-[ \t]+)?(?P<key>[A-Za-z0-9_.\-]*(?i:{KEYWORDS})[A-Za-z0-9_.\-]*)[ \t]*[=:][ \t]*(?P<ln>[^\s"'`#|>&\[{(<$%!*@][^\r\n`]*?[ \t][^\r\n`]*?[^\s`])(?:[ \t]+#[^\r\n]*)?[ \t]*\r?$"#,
    ),
    named(
        "secret-block-scalar",
        // Only the line after the indicator is matched; the lines that belong to the
        // block are found from there (`names::block_lines`), so a match never runs on
        // over the rest of the text.
        r#"(?m)^[ \t]*(?:-[ \t]+)?["']?(?P<key>[A-Za-z0-9_.\-]*(?i:{KEYWORDS})[A-Za-z0-9_.\-]*)["']?[ \t]*:[ \t]*(?:[!&][^\s]*[ \t]+)*[|>][1-9+\-]{0,2}[ \t]*(?:#[^\r\n]*)?\r?\n(?P<block>[^\r\n]*)"#,
    ),
    named(
        "secret-multiline-string",
        r#"(?P<key>\b[A-Za-z0-9_.\-]*(?i:{KEYWORDS})[A-Za-z0-9_.\-]*)[ \t]*=[ \t]*(?:"""(?P<tq>[\s\S]*?)"""|'''(?P<tsq>[\s\S]*?)''')"#,
    ),
    // Named values: `api_key = ...`, `"password": "..."`, `DB_PASSWORD=...`, in code,
    // config, logs, headers, query strings and JSON (escaped quotes too). Only a key that
    // holds one of the rule's keywords (`{KEYWORDS}`, filled in from them) can match.
    named(
        "secret-assignment",
        r#"(?P<key>\b[A-Za-z0-9_.\-]*(?i:{KEYWORDS})[A-Za-z0-9_.\-]*)(?:\\?["'])?(?:[ \t]*:[ \t]*[A-Za-z_][A-Za-z0-9_<>\[\]?]*[ \t]*(?:=|:=)|[ \t]+[A-Za-z_][A-Za-z0-9_<>\[\]?]*[ \t]*(?:=|:=)|[ \t]*(?::{1,3}=|\?\?=|\?=|\.=|\+=|=>|=|:))[ \t]*(?:\\"(?P<eq>[^"\\\r\n]+)|"(?P<dq>(?:[^"\\\r\n]|\\[^\r\n])+)|'(?P<sq>(?:[^'\\\r\n]|\\[^\r\n])+)|`(?P<bq>[^`\r\n]+)|\{(?P<br>[^\s{}"'\\]+)\}|\((?P<pr>[^\s()"'\\]+)\)|(?P<uq>[^\s"'\\,;&<>(){}\[\]=`][^\s"'\\,;&<>(){}\[\]`]*)(?:(?P<call>[(\[]|[ \t]*\{)|(?P<tail>[ \t]+[^\s=][^\r\n=]*[.?!](?m:$)))?)"#,
    ),
    // The same decision for the other ways a value gets its name: an XML element
    // (`<apiToken>...</apiToken>`), a name/value attribute pair, a JSON name/value object
    // (`{"name": "DB_PASSWORD", "value": "..."}`, how Kubernetes and CI list environment
    // variables), a call's two strings (`setProperty("API_TOKEN", "...")`).
    named(
        "secret-xml-element",
        r#"<(?P<key>[A-Za-z0-9_.\-]*(?i:{KEYWORDS})[A-Za-z0-9_.\-]*)>\s*(?P<uq>[^<\s]+)\s*</"#,
    ),
    named(
        "secret-name-value-pair",
        r#"(?i:name|key)\s*=\s*\\?["'](?P<key>[A-Za-z0-9_.\-]*(?i:{KEYWORDS})[A-Za-z0-9_.\-]*)\\?["']\s+(?i:value)\s*=\s*\\?["'](?P<dq>[^"'\\\r\n]+)"#,
    ),
    named(
        "secret-json-name-value",
        r#"\\?"(?i:name|key|parameterkey|optionname)\\?"\s*:\s*\\?"(?P<key>[A-Za-z0-9_.\-]*(?i:{KEYWORDS})[A-Za-z0-9_.\-]*)\\?"\s*,\s*\\?"(?i:value|parametervalue)\\?"\s*:\s*\\?"(?P<dq>[^"\\\r\n]+)"#,
    ),
    // A parameter list's pair, as the AWS CLI's shorthand and CloudFormation's YAML
    // write it: `ParameterKey=DbPassword,ParameterValue=...`.
    named(
        "secret-parameter-pair",
        r#"(?i:parameterkey|optionname)\\?["']?[ \t]*[=:][ \t]*\\?["']?(?P<key>[A-Za-z0-9_.\-]*(?i:{KEYWORDS})[A-Za-z0-9_.\-]*)\\?["']?[ \t]*(?:,|\r?\n)[ \t\-]*\\?["']?(?i:parametervalue|value)\\?["']?[ \t]*[=:][ \t]*(?:\\?"(?P<dq>[^"\\\r\n]+)|(?P<uq>[^\s"',}\]]+))"#,
    ),
    named(
        "secret-string-pair",
        r#"\(\s*\\?["'](?P<key>[A-Za-z0-9_.\-]*(?i:{KEYWORDS})[A-Za-z0-9_.\-]*)\\?["'][ \t]*,[ \t]*\\?["'](?P<dq>[^"'\\\r\n]+)"#,
    ),
];

/// The secret (or the whole token) is not a placeholder written in its shape.
/// A base64 blob that decodes to a PEM private key (a certificate stays).
fn decodes_to_private_key(caps: &Captures<'_>) -> bool {
    caps.name("secret")
        .and_then(|blob| super::names::base64_decode(blob.as_str()))
        .is_some_and(|pem| pem.windows(11).any(|w| w == b"PRIVATE KEY"))
}

/// A URL's password, not a `host:port/path@...`: the part before any `/` is not a port.
fn url_password_is_real(caps: &Captures<'_>) -> bool {
    caps.name("secret").is_some_and(|secret| {
        let head = secret.as_str().split('/').next().unwrap_or_default();
        !(secret.as_str().contains('/') && head.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// A query value under a credential name that is a value, not a placeholder or a word.
fn query_value_is_secret(caps: &Captures<'_>) -> bool {
    caps.name("secret").is_some_and(|value| {
        let value = value.as_str();
        let decoded = super::names::url_unescaped(value);
        !super::names::is_placeholder(&decoded)
            && (decoded.len() >= 20 || super::names::looks_random(&decoded))
    })
}

/// What follows `Authorization:` is a credential, not a scheme word left alone
/// (`'Bearer ' + token`), an expression (`req.headers.authorization`) or a word of prose
/// (`Authorization: Users must ...`). After a scheme the standard names, any value that is
/// none of those is one; after another word, or none, it must look like a credential (at
/// least 8 characters, not all lowercase letters).
fn authorization_is_credential(caps: &Captures<'_>) -> bool {
    const SCHEMES: &[&str] = &[
        "bearer",
        "basic",
        "token",
        "digest",
        "negotiate",
        "ntlm",
        "apikey",
        "sso-key",
        "key",
        "hmac",
        "aws4-hmac-sha256",
        "bot",
        "ssws",
        "dpop",
        "mac",
        "hoba",
        "mutual",
        "vapid",
        "scram-sha-256",
        "otp",
    ];
    let Some(secret) = caps.name("secret").map(|m| m.as_str()) else {
        return false;
    };
    if SCHEMES.contains(&secret.to_ascii_lowercase().as_str()) {
        return false;
    }
    let expression = secret.contains('.')
        && secret.split('.').all(|part| {
            !part.is_empty()
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !super::names::looks_random(part)
        });
    if expression || !not_a_placeholder(caps) {
        return false;
    }
    let known = caps
        .name("scheme")
        .is_some_and(|s| SCHEMES.contains(&s.as_str().to_ascii_lowercase().as_str()));
    known || (secret.len() >= 8 && !secret.bytes().all(|b| b.is_ascii_lowercase()))
}

fn not_a_placeholder(caps: &Captures<'_>) -> bool {
    let text = caps
        .name("secret")
        .or_else(|| caps.get(0))
        .map_or("", |m| m.as_str());
    !super::names::is_placeholder(text) && !super::names::has_placeholder_body(text)
}

/// `curl -u user:password` with a real password, not `$USER:$PASS` or `user:password`.
fn curl_user_is_real(caps: &Captures<'_>) -> bool {
    let Some(credentials) = caps.name("secret").map(|m| m.as_str()) else {
        return false;
    };
    let (user, password) = credentials.split_once(':').unwrap_or(("", credentials));
    let password = password.trim_matches(|c| c == '"' || c == '\'');
    !credentials.contains(['$', '<', '{', '[', '('])
        && !super::names::is_placeholder(password)
        && !super::names::is_secret_word(password)
        && password != user
}

/// Whether the captured `secret` looks like a generated token rather than a word.
/// An OpenAI-style key: its body (`proj-...`, `svcacct-...` or bare) looks generated or
/// holds one long unbroken run; a branch name (`sk-add-retry-logic-to-uploader`) is
/// short words between dashes.
fn openai_key_is_random(caps: &Captures<'_>) -> bool {
    not_a_placeholder(caps)
        && caps.name("secret").is_some_and(|s| {
            let body = &s.as_str()[3..];
            let body = ["proj-", "svcacct-", "admin-", "None-"]
                .iter()
                .find_map(|p| body.strip_prefix(p))
                .unwrap_or(body);
            super::names::looks_random(body) || body.split(['-', '_']).any(|run| run.len() >= 16)
        })
}

fn secret_is_random(caps: &Captures<'_>) -> bool {
    caps.name("secret")
        .is_some_and(|s| super::names::looks_random(s.as_str()))
}

/// `Basic <base64>` is a credential only when it decodes to `user:password`.
fn basic_is_user_password(caps: &Captures<'_>) -> bool {
    caps.name("secret")
        .and_then(|s| super::names::base64_decode(s.as_str()))
        .is_some_and(|bytes| {
            bytes.contains(&b':') && bytes.iter().all(|b| b.is_ascii_graphic() || *b == b' ')
        })
}

/// PostgreSQL's `Key (column)=(value)` detail echoes the value of a unique column.
fn database_key_is_secret(caps: &Captures<'_>) -> bool {
    caps.name("key")
        .is_some_and(|k| super::names::is_secret_name(k.as_str()) != super::names::Name::Plain)
}
