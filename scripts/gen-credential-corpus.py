#!/usr/bin/env python3
"""Writes tests/data/credentials.tsv: one synthetic credential for each format of the
gitleaks default rule set (by rule id), in the kind of context it appears in, with the
part that must disappear. The values are random (fixed seed), in each format's shape;
none is a real credential. Run from the repository root; the output is committed."""
import random, string

rng = random.Random(20261201)
LOW, UP, DIG = string.ascii_lowercase, string.ascii_uppercase, string.digits
ALNUM = LOW + UP + DIG
HEX, B64 = "0123456789abcdef", ALNUM + "+/"
W = ALNUM + "_"
WD = W + "-"

def r(chars, n):
    # At least one digit and one letter where both are possible, as generated keys have.
    while True:
        s = "".join(rng.choice(chars) for _ in range(n))
        mixed = bool(set(chars) & set(DIG)) and any(c.isalpha() for c in chars)
        if n < 8 or not mixed or (any(c.isdigit() for c in s) and any(c.isalpha() for c in s)):
            return s

def uuid():
    return f"{r(HEX,8)}-{r(HEX,4)}-{r(HEX,4)}-{r(HEX,4)}-{r(HEX,12)}"

def ctx(i, secret):
    forms = [
        "request failed: credential {} was rejected",
        "  using {} for the upload",
        "token={}",
        '{{"value": "{}", "ok": true}}',
        "export DEPLOY_CREDENTIAL={}",
    ]
    return forms[i % len(forms)].format(secret)

rows = []
def add(rule, text, secret):
    assert secret in text, rule
    rows.append((rule, text, secret))

# Prefixed formats: the shape alone identifies them.
prefixed = {
    "1password-secret-key": f"A3-{r(UP+DIG,6)}-{r(UP+DIG,11)}-{r(UP+DIG,5)}-{r(UP+DIG,5)}-{r(UP+DIG,5)}",
    "1password-service-account-token": "ops_eyJ" + r(ALNUM, 260),
    "adobe-client-secret": "p8e-" + r(LOW+DIG, 32),
    "age-secret-key": "AGE-SECRET-KEY-1" + "".join(rng.choice("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L") for _ in range(58)),
    "airtable-personnal-access-token": "pat" + r(ALNUM, 14) + "." + r(HEX, 64),
    "alibaba-access-key-id": "LTAI" + r(LOW+DIG, 20),
    "anthropic-admin-api-key": "sk-ant-admin01-" + r(ALNUM+"_-", 93) + "AA",
    "anthropic-api-key": "sk-ant-api03-" + r(ALNUM+"_-", 93) + "AA",
    "artifactory-api-key": "AKCp" + r(ALNUM, 69),
    "artifactory-reference-token": "cmVmd" + r(ALNUM, 59),
    "authress-service-client-access-key": "sc_" + r(LOW+DIG, 10) + "." + r(LOW+DIG, 5) + ".acc_" + r(LOW+DIG, 16) + "." + r(LOW+DIG+"+/", 40),
    "aws-access-token": "AKIA" + r(UP+"234567", 16),
    "aws-amazon-bedrock-api-key-long-lived": "ABSK" + r(ALNUM, 120),
    "aws-amazon-bedrock-api-key-short-lived": "bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t" + r(ALNUM, 40),
    "azure-ad-client-secret": r(ALNUM, 3) + "8Q~" + r(ALNUM, 32),
    "clickhouse-cloud-api-secret-key": "4b1d" + r(ALNUM, 38),
    "clojars-api-token": "CLOJARS_" + r(LOW+DIG, 60),
    "cloudflare-origin-ca-key": "v1.0-" + r(HEX, 24) + "-" + r(HEX, 146),
    "databricks-api-token": "dapi" + r(HEX, 32),
    "defined-networking-api-token": "dnkey-" + r(LOW+DIG, 26) + "-" + r(LOW+DIG, 52),
    "digitalocean-access-token": "doo_v1_" + r(HEX, 64),
    "digitalocean-pat": "dop_v1_" + r(HEX, 64),
    "digitalocean-refresh-token": "dor_v1_" + r(HEX, 64),
    "doppler-api-token": "dp.pt." + r(ALNUM, 43),
    "duffel-api-token": "duffel_test_" + r(ALNUM, 43),
    "dynatrace-api-token": "dt0c01." + r(UP+DIG, 24) + "." + r(ALNUM, 64),
    "easypost-api-token": "EZAK" + r(ALNUM, 54),
    "easypost-test-api-token": "EZTK" + r(ALNUM, 54),
    "facebook-access-token": r(DIG, 15) + "|" + r(ALNUM+"_-", 32),
    "facebook-page-access-token": "EAAM" + r(ALNUM, 110),
    "flutterwave-encryption-key": "FLWSECK_TEST-" + r("abcdefgh0123456789", 12),
    "flutterwave-public-key": "FLWPUBK_TEST-" + r("abcdefgh0123456789", 32) + "-X",
    "flutterwave-secret-key": "FLWSECK_TEST-" + r("abcdefgh0123456789", 32) + "-X",
    "flyio-access-token": "fo1_" + r(ALNUM+"_-", 43),
    "frameio-api-token": "fio-u-" + r(ALNUM, 64),
    "gcp-api-key": "AIza" + r(ALNUM+"_-", 35),
    "github-app-token": "ghs_" + r(ALNUM, 36),
    "github-fine-grained-pat": "github_pat_" + r(W, 82),
    "github-oauth": "gho_" + r(ALNUM, 36),
    "github-pat": "ghp_" + r(ALNUM, 36),
    "github-refresh-token": "ghr_" + r(ALNUM, 36),
    "gitlab-cicd-job-token": "glcbt-" + r(ALNUM, 3) + "_" + r(ALNUM, 20),
    "gitlab-deploy-token": "gldt-" + r(ALNUM, 20),
    "gitlab-feature-flag-client-token": "glffct-" + r(ALNUM, 20),
    "gitlab-feed-token": "glft-" + r(ALNUM, 20),
    "gitlab-incoming-mail-token": "glimt-" + r(ALNUM, 25),
    "gitlab-kubernetes-agent-token": "glagent-" + r(ALNUM, 50),
    "gitlab-oauth-app-secret": "gloas-" + r(ALNUM, 64),
    "gitlab-pat": "glpat-" + r(ALNUM, 20),
    "gitlab-pat-routable": "glpat-" + r(ALNUM, 27) + "." + r(LOW+DIG, 9),
    "gitlab-ptt": "glptt-" + r(HEX, 40),
    "gitlab-rrt": "GR1348941" + r(ALNUM, 20),
    "gitlab-runner-authentication-token": "glrt-" + r(ALNUM, 20),
    "gitlab-runner-authentication-token-routable": "glrt-t1_" + r(ALNUM, 27) + "." + r(LOW+DIG, 9),
    "gitlab-scim-token": "glsoat-" + r(ALNUM, 20),
    "gitlab-session-cookie": "_gitlab_session=" + r(LOW+DIG, 32),
    "grafana-api-key": "eyJrIjoi" + r(ALNUM, 80),
    "grafana-cloud-api-token": "glc_" + r(ALNUM, 40),
    "grafana-service-account-token": "glsa_" + r(ALNUM, 32) + "_" + r(HEX, 8),
    "harness-api-key": "pat." + r(ALNUM, 22) + "." + r(ALNUM, 24) + "." + r(ALNUM, 20),
    "hashicorp-tf-api-token": r(LOW+DIG, 14) + ".atlasv1." + r(ALNUM, 64),
    "heroku-api-key-v2": "HRKU-AA" + r(ALNUM, 58),
    "huggingface-access-token": "hf_" + r(LOW+UP, 34),
    "huggingface-organization-api-token": "api_org_" + r(LOW+UP, 34),
    "infracost-api-token": "ico-" + r(ALNUM, 32),
    "intra42-client-secret": "s-s4t2ud-" + r(HEX, 64),
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0." + r(ALNUM+"_-", 43),
    "jwt-base64": "ZXlKaGJHY2lPaUpJVXpJMU5pSjkuZXlK" + r(ALNUM, 40),
    "linear-api-key": "lin_api_" + r(ALNUM, 40),
    "maxmind-license-key": r(ALNUM, 6) + "_" + r(ALNUM, 29) + "_mmk",
    "microsoft-teams-webhook": f"https://acme.webhook.office.com/webhookb2/{uuid()}@{uuid()}/IncomingWebhook/{r(HEX,32)}/{uuid()}",
    "notion-api-token": "ntn_" + r(DIG, 11) + r(ALNUM, 35),
    "npm-access-token": "npm_" + r(ALNUM, 36),
    "octopus-deploy-api-key": "API-" + r(UP+DIG, 26),
    "openai-api-key": "sk-proj-" + r(ALNUM+"_-", 74) + "T3BlbkFJ" + r(ALNUM+"_-", 74),
    "openshift-user-token": "sha256~" + r(ALNUM+"_-", 43),
    "perplexity-api-key": "pplx-" + r(ALNUM, 48),
    "planetscale-api-token": "pscale_tkn_" + r(ALNUM, 43),
    "planetscale-oauth-token": "pscale_oauth_" + r(ALNUM, 43),
    "planetscale-password": "pscale_pw_" + r(ALNUM, 43),
    "postman-api-token": "PMAK-" + r(HEX, 24) + "-" + r(HEX, 34),
    "prefect-api-token": "pnu_" + r(ALNUM, 36),
    "pulumi-api-token": "pul-" + r(HEX, 40),
    "pypi-upload-token": "pypi-AgEIcHlwaS5vcmc" + r(ALNUM, 70),
    "readme-api-token": "rdme_" + r(LOW+DIG, 70),
    "rubygems-api-token": "rubygems_" + r(HEX, 48),
    "scalingo-api-token": "tk-us-" + r(ALNUM, 48),
    "sendgrid-api-token": "SG." + r(ALNUM, 22) + "." + r(ALNUM, 43),
    "sendinblue-api-token": "xkeysib-" + r(HEX, 64) + "-" + r(ALNUM, 16),
    "sentry-org-token": "sntrys_eyJpYXQiOjE3MDAwMDAwMDB9LCJyZWdpb25fdXJs" + r(ALNUM, 40) + "_" + r(ALNUM, 43),
    "sentry-user-token": "sntryu_" + r(HEX, 64),
    "settlemint-application-access-token": "sm_aat_" + r(ALNUM, 16),
    "settlemint-personal-access-token": "sm_pat_" + r(ALNUM, 16),
    "settlemint-service-access-token": "sm_sat_" + r(ALNUM, 16),
    "shippo-api-token": "shippo_live_" + r(HEX, 40),
    "shopify-access-token": "shpat_" + r(HEX, 32),
    "shopify-custom-access-token": "shpca_" + r(HEX, 32),
    "shopify-private-app-access-token": "shppa_" + r(HEX, 32),
    "shopify-shared-secret": "shpss_" + r(HEX, 32),
    "slack-app-token": "xapp-1-A" + r(UP+DIG, 10) + "-" + r(DIG, 13) + "-" + r(LOW+DIG, 64),
    "slack-bot-token": "xoxb-" + r(DIG, 12) + "-" + r(DIG, 13) + "-" + r(ALNUM, 24),
    "slack-config-access-token": "xoxe.xoxp-1-" + r(UP+DIG, 164),
    "slack-config-refresh-token": "xoxe-1-" + r(UP+DIG, 146),
    "slack-legacy-bot-token": "xoxb-" + r(DIG, 10) + "-" + r(ALNUM, 24),
    "slack-legacy-token": "xoxs-" + r(DIG, 10) + "-" + r(DIG, 10) + "-" + r(DIG, 10) + "-" + r(HEX, 40),
    "slack-legacy-workspace-token": "xoxa-" + r(ALNUM, 30),
    "slack-user-token": "xoxp-" + r(DIG, 12) + "-" + r(DIG, 12) + "-" + r(DIG, 12) + "-" + r(ALNUM, 32),
    "slack-webhook-url": "https://hooks.slack.com/services/" + r(ALNUM, 44),
    "square-access-token": "EAAA" + r(ALNUM, 60),
    "stripe-access-token": "sk_live_" + r(ALNUM, 24),
    "twilio-api-key": "SK" + r(HEX, 32),
    "typeform-api-token": "tfp_" + r(ALNUM, 59),
    "vault-batch-token": "hvb." + r(ALNUM, 150),
    "vault-service-token": "hvs." + r(ALNUM, 95),
    "sourcegraph-access-token": "sgp_" + r(HEX, 16) + "_" + r(HEX, 40),
    "atlassian-api-token": "ATATT3" + r(ALNUM, 186),
    "new-relic-browser-api-token": "NRJS-" + r(HEX, 19),
    "new-relic-insert-key": "NRII-" + r(ALNUM, 32),
    "new-relic-user-api-key": "NRAK-" + r(UP+DIG, 27),
    "mailgun-private-api-token": "key-" + r(HEX, 32),
    "mailgun-pub-key": "pubkey-" + r(HEX, 32),
    "mailchimp-api-key": r(HEX, 32) + "-us12",
    "plaid-api-token": "access-production-" + uuid(),
    "lob-api-key": "live_" + r(HEX, 35),
    "lob-pub-api-key": "test_pub_" + r(HEX, 31),
    "mapbox-api-token": "pk.eyJ1IjoiYWNtZSIsImEiOiJja" + r(ALNUM, 30) + "." + r(ALNUM, 22),
    "telegram-bot-api-token": r(DIG, 10) + ":A" + r(ALNUM+"_-", 34),
    "twitter-bearer-token": "A" * 22 + r(ALNUM, 90),
}
for i, (rule, secret) in enumerate(sorted(prefixed.items())):
    add(rule, ctx(i, secret), secret)

# Formats identified by the key that names them: written as a config line, a JSON field,
# an environment variable.
def named(rule, key, value, style):
    if style == 0:
        text = f'{key} = "{value}"'
    elif style == 1:
        text = f'{{"{key}": "{value}"}}'
    else:
        text = f"{key.upper()}={value}"
    add(rule, text, value)

context = [
    ("adafruit-api-key", "adafruit_api_key", r(LOW+DIG+"_-", 32)),
    ("adobe-client-id", "adobe_client_id", r(HEX, 32)),
    ("airtable-api-key", "airtable_api_key", r(LOW+DIG, 17)),
    ("algolia-api-key", "algolia_api_key", r(LOW+DIG, 32)),
    ("alibaba-secret-key", "alibaba_secret_key", r(LOW+DIG, 30)),
    ("asana-client-id", "asana_client_id", r(DIG, 16)),
    ("asana-client-secret", "asana_client_secret", r(LOW+DIG, 32)),
    ("beamer-api-token", "beamer_api_token", "b_" + r(LOW+DIG, 44)),
    ("bitbucket-client-id", "bitbucket_client_id", r(LOW+DIG, 32)),
    ("bitbucket-client-secret", "bitbucket_client_secret", r(LOW+DIG, 64)),
    ("bittrex-access-key", "bittrex_access_key", r(LOW+DIG, 32)),
    ("bittrex-secret-key", "bittrex_secret_key", r(LOW+DIG, 32)),
    ("cisco-meraki-api-key", "meraki_api_key", r(HEX, 40)),
    ("cloudflare-api-key", "cloudflare_api_key", r(LOW+DIG+"_-", 40)),
    ("cloudflare-global-api-key", "cloudflare_global_api_key", r(HEX, 37)),
    ("codecov-access-token", "codecov_token", r(LOW+DIG, 32)),
    ("cohere-api-token", "co_api_key", r(ALNUM, 40)),
    ("coinbase-access-token", "coinbase_access_token", r(LOW+DIG+"_-", 64)),
    ("confluent-access-token", "confluent_access_token", r(LOW+DIG, 16)),
    ("confluent-secret-key", "confluent_secret_key", r(LOW+DIG, 64)),
    ("contentful-delivery-api-token", "contentful_delivery_api_token", r(ALNUM+"_-", 43)),
    ("datadog-access-token", "datadog_access_token", r(LOW+DIG, 40)),
    ("discord-api-token", "discord_api_token", r(HEX, 64)),
    ("discord-client-id", "discord_client_id", r(DIG, 18)),
    ("discord-client-secret", "discord_client_secret", r(LOW+DIG+"_-", 32)),
    ("droneci-access-token", "droneci_access_token", r(LOW+DIG, 32)),
    ("dropbox-api-token", "dropbox_api_token", r(LOW+DIG, 15)),
    ("dropbox-long-lived-api-token", "dropbox_token", r(LOW+DIG, 11) + "AAAAAAAAAA" + r(LOW+DIG, 43)),
    ("dropbox-short-lived-api-token", "dropbox_token", "sl." + r(ALNUM, 135)),
    ("etsy-access-token", "etsy_access_token", r(LOW+DIG, 24)),
    ("facebook-secret", "facebook_app_secret", r(HEX, 32)),
    ("fastly-api-token", "fastly_api_token", r(ALNUM+"_-", 32)),
    ("finicity-api-token", "finicity_api_token", r(HEX, 32)),
    ("finicity-client-secret", "finicity_client_secret", r(LOW+DIG, 20)),
    ("finnhub-access-token", "finnhub_access_token", r(LOW+DIG, 20)),
    ("flickr-access-token", "flickr_access_token", r(LOW+DIG, 32)),
    ("freemius-secret-key", "secret_key", "sk_" + r(ALNUM, 29)),
    ("freshbooks-access-token", "freshbooks_access_token", r(LOW+DIG, 64)),
    ("generic-api-key", "service_api_key", r(ALNUM, 32)),
    ("gitter-access-token", "gitter_access_token", r(LOW+DIG+"_-", 40)),
    ("gocardless-api-token", "gocardless_api_token", "live_" + r(ALNUM+"_-", 40)),
    ("hashicorp-tf-password", "administrator_login_password", r(ALNUM, 16)),
    ("heroku-api-key", "heroku_api_key", uuid()),
    ("hubspot-api-key", "hubspot_api_key", uuid().upper()),
    ("intercom-api-key", "intercom_api_key", r(ALNUM+"_-", 60)),
    ("jfrog-api-key", "jfrog_api_key", r(LOW+DIG, 73)),
    ("jfrog-identity-token", "artifactory_identity_token", r(LOW+DIG, 64)),
    ("kraken-access-token", "kraken_access_token", r(ALNUM+"/+", 88)),
    ("kucoin-access-token", "kucoin_access_token", r(HEX, 24)),
    ("kucoin-secret-key", "kucoin_secret_key", uuid()),
    ("launchdarkly-access-token", "launchdarkly_access_token", r(ALNUM+"_-", 40)),
    ("linear-client-secret", "linear_client_secret", r(HEX, 32)),
    ("linkedin-client-id", "linkedin_client_id", r(LOW+DIG, 14)),
    ("linkedin-client-secret", "linkedin_client_secret", r(LOW+DIG, 16)),
    ("looker-client-id", "looker_client_id", r(LOW+DIG, 20)),
    ("looker-client-secret", "looker_client_secret", r(LOW+DIG, 24)),
    ("mailgun-signing-key", "mailgun_signing_key", r("abcdefgh0123456789", 32) + "-" + r("abcdefgh0123456789", 8) + "-" + r("abcdefgh0123456789", 8)),
    ("mattermost-access-token", "mattermost_access_token", r(LOW+DIG, 26)),
    ("messagebird-api-token", "messagebird_api_token", r(LOW+DIG, 25)),
    ("messagebird-client-id", "messagebird_client_id", uuid()),
    ("netlify-access-token", "netlify_access_token", r(ALNUM+"_-", 43)),
    ("new-relic-user-api-id", "new_relic_user_api_id", r(LOW+DIG, 64)),
    ("nytimes-access-token", "nytimes_access_token", r(ALNUM+"_-", 32)),
    ("okta-access-token", "okta_access_token", "00" + r(ALNUM+"_-", 40)),
    ("plaid-client-id", "plaid_client_id", r(LOW+DIG, 24)),
    ("plaid-secret-key", "plaid_secret_key", r(LOW+DIG, 30)),
    ("privateai-api-token", "private_ai_api_token", r(LOW+DIG, 32)),
    ("rapidapi-access-token", "rapidapi_access_token", r(ALNUM+"_-", 50)),
    ("sendbird-access-id", "sendbird_app_id", uuid()),
    ("sendbird-access-token", "sendbird_access_token", r(HEX, 40)),
    ("sentry-access-token", "sentry_access_token", r(HEX, 64)),
    ("snyk-api-token", "snyk_token", uuid()),
    ("sonar-api-token", "sonar_token", "squ_" + r(LOW+DIG, 40)),
    ("squarespace-access-token", "squarespace_access_token", uuid()),
    ("sumologic-access-id", "sumo_access_id", "su" + r(ALNUM, 12)),
    ("sumologic-access-token", "sumo_access_token", r(ALNUM, 64)),
    ("travisci-access-token", "travis_token", r(LOW+DIG, 22)),
    ("twitch-api-token", "twitch_api_token", r(LOW+DIG, 30)),
    ("twitter-access-secret", "twitter_access_secret", r(LOW+DIG, 45)),
    ("twitter-access-token", "twitter_access_token", r(DIG, 18) + "-" + r(ALNUM, 30)),
    ("twitter-api-key", "twitter_api_key", r(LOW+DIG, 25)),
    ("twitter-api-secret", "twitter_api_secret", r(LOW+DIG, 50)),
    ("yandex-access-token", "yandex_access_token", "t1." + r(ALNUM, 20) + "." + r(ALNUM+"_-", 86)),
    ("yandex-api-key", "yandex_api_key", "AQVN" + r(ALNUM+"_-", 36)),
    ("yandex-aws-access-token", "yandex_access_key", "YC" + r(ALNUM+"_-", 38)),
    ("zendesk-secret-key", "zendesk_secret_key", r(LOW+DIG, 40)),
    ("sidekiq-secret", "BUNDLE_ENTERPRISE__CONTRIBSYS__COM", r(HEX, 8) + ":" + r(HEX, 8)),
]
for i, (rule, key, value) in enumerate(context):
    named(rule, key, value, i % 3)

# Formats with a structure of their own.
pw = r(ALNUM, 14)
add("curl-auth-header", f'curl -H "Authorization: Bearer {pw}" https://api.example.com/v1/items', pw)
pw = r(ALNUM, 12)
add("curl-auth-user", f"curl --user admin:{pw} https://ci.example.com/api/json", f"admin:{pw}")
pw = r(ALNUM, 12)
add("nuget-config-password", f'<add key="ClearTextPassword" value="{pw}" />', pw)
pw = r(B64, 24) + "=="
add("kubernetes-secret-yaml", f"kind: Secret\ndata:\n  password: {pw}\n", pw)
pw = r(HEX, 8) + ":" + r(HEX, 8)
add("sidekiq-sensitive-url", f"source 'https://{pw}@gems.contribsys.com/'", pw.split(":")[1])
key = "-----BEGIN RSA PRIVATE KEY-----\\n" + r(B64, 64) + "\\n" + r(B64, 64) + "\\n-----END RSA PRIVATE KEY-----"
add("private-key", '{"private_key": "' + key + '"}', r"\n" + key.split(r"\n")[1])
rows.append(("pkcs12-file", "", ""))  # a binary file: nothing a text result carries

with open("tests/data/credentials.tsv", "w") as out:
    out.write("# rule id (gitleaks default set)\ttext\tsecret that must not survive. Generated by scripts/gen-credential-corpus.py; synthetic.\n")
    for rule, text, secret in rows:
        out.write(rule + "\t" + text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t") + "\t" + secret.replace("\\", "\\\\").replace("\n", "\\n") + "\n")
print(len(rows), "rows")
