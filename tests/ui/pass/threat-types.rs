use secure_tool::types::{CommandLine, Postgres, ReadOnlySql, SafePath, SafeUrl, SqlIdent};
use secure_tool::SecureInput;

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Input {
    path: SafePath,
    backup_dir: Option<SafePath>,
    #[secure(url(allow_hosts = ["api.github.com"], schemes = ["https"]))]
    url: SafeUrl,
    callback: Option<SafeUrl>,
    query: ReadOnlySql<Postgres>,
    #[secure(ident(allow = ["users"]))]
    table: SqlIdent,
    #[secure(command(programs = ["git"], options = ["--oneline"]))]
    cmd: CommandLine,
    #[validate(length(max = 200))]
    #[secure(plain = "a search box: words, never a path")]
    search_query: String,
    #[validate(length(max = 200))]
    title: String,
}

fn main() {
    let outs = <Input as SecureInput>::opt_outs();
    assert_eq!(outs.len(), 1);
    assert_eq!(outs[0].rule, "plain");
}
