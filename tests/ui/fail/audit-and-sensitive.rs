// A field cannot be both written to the audit trail and never written anywhere; and the
// trail's flags apply to struct fields, not to an enum variant's.
use secure_tool::SecureInput;

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Login {
    #[validate(length(max = 64))]
    #[secure(audit, sensitive)]
    password: String,
    #[validate(length(max = 64))]
    #[secure(audit = "yes")]
    account: String,
}

fn main() {}
