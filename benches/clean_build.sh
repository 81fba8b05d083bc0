#!/usr/bin/env bash
# Clean-build time of a one-tool server, everything from scratch (every dependency
# compiled), with secure-tool's default features and with the core alone
# (`default-features = false`): what the feature split saves a new user.
#
#   benches/clean_build.sh
#
# Each variant gets its own empty target directory; the crates are fetched beforehand,
# so only compilation is timed (`cargo build`, dev profile).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=target/clean-build-bench
rm -rf "$work"
mkdir -p "$work"

gen() { # gen NAME FEATURES-LINE
  local dir="$work/$1"
  mkdir -p "$dir/src"
  cat > "$dir/Cargo.toml" <<TOML
[package]
name = "$1"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
$2
rmcp = { version = "=3.11.0", default-features = false, features = ["server", "macros"] }
schemars = "1"
validator = { version = "0.21", features = ["derive"] }
serde = { version = "1", features = ["derive"] }

[workspace]
TOML
  cat > "$dir/src/lib.rs" <<'RS'
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use secure_tool::{secure_tool, SecureInput, SecureServer, Security, ToolError};

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
pub struct Note {
    #[validate(length(min = 1, max = 256))]
    pub text: String,
}

pub struct Notes {
    security: Security,
}

impl SecureServer for Notes {
    fn security(&self) -> &Security {
        &self.security
    }
}

#[tool_router]
impl Notes {
    #[secure_tool(scope = "notes.write", rate = "30/min")]
    #[tool(description = "Save a note")]
    async fn save(&self, Parameters(note): Parameters<Note>) -> Result<String, ToolError> {
        Ok(format!("{} chars", note.text.len()))
    }
}
RS
  cp "$root/Cargo.lock" "$dir/Cargo.lock" 2>/dev/null || true
}

gen full "secure-tool = { path = \"$root/runtime\" }"
gen core "secure-tool = { path = \"$root/runtime\", default-features = false }"

for variant in full core; do
  (cd "$work/$variant" && cargo fetch --quiet)
done
for variant in full core; do
  start=$(date +%s.%N)
  (cd "$work/$variant" && CARGO_TARGET_DIR="$root/$work/target-$variant" cargo build --quiet)
  end=$(date +%s.%N)
  units=$(find "$work/target-$variant/debug/deps" -name '*.rlib' -o -name '*.so' | wc -l)
  printf '%s: %.1f s clean (%d crates built)\n' "$variant" "$(echo "$end - $start" | bc)" "$units"
done
