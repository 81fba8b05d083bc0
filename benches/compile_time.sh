#!/usr/bin/env bash
# Compile-time cost of secure-tool: builds a generated 20-tool rmcp server with and
# without `#[secure_tool]`/`#[derive(SecureInput)]`, clean (the server crate only; its
# dependencies are built once first) and after touching one tool, and prints the ratios.
#
#   benches/compile_time.sh [runs]      (default 21 runs)
#
# Reports the median of the runs and, as a figure less moved by other load on the machine
# (noise only ever adds time), the fastest.
#
# Targets (issue 4): at most 1.2x clean, 1.1x incremental.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
runs=${1:-21}
work=target/compile-bench
rm -rf "$work"
mkdir -p "$work"

gen() { # gen NAME SECURED(0/1)
  local name=$1 secured=$2 dir="$work/$1"
  mkdir -p "$dir/src"
  cat > "$dir/Cargo.toml" <<TOML
[package]
name = "$name"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
secure-tool = { path = "$root/runtime" }
rmcp = { version = "=3.11.0", default-features = false, features = ["server", "macros"] }
schemars = "1"
validator = { version = "0.21", features = ["derive"] }
serde = { version = "1", features = ["derive"] }
TOML
  python3 - "$dir/src/lib.rs" "$secured" <<'PY'
import sys
path, secured = sys.argv[1], sys.argv[2] == "1"
out = ["#![allow(dead_code)]",
       "use rmcp::handler::server::wrapper::Parameters;",
       "use rmcp::{tool, tool_router};",
       "use secure_tool::{secure_tool, SecureInput, SecureServer, Security, ToolError};" if secured
       else "use secure_tool::{SecureServer, Security};", ""]
derive = "serde::Deserialize, schemars::JsonSchema, validator::Validate" + (", SecureInput" if secured else "")
for i in range(20):
    out += [f"#[derive({derive})]", "#[serde(deny_unknown_fields)]", f"pub struct Input{i} {{",
            "    #[validate(length(min = 1, max = 64))]", "    pub name: String,",
            "    #[validate(range(min = 1, max = 100))]", "    pub count: u32,",
            "    pub flag: bool,", "}", ""]
out += ["pub struct Server { security: Security }",
        "impl SecureServer for Server { fn security(&self) -> &Security { &self.security } }",
        "#[tool_router]", "impl Server {"]
err = "ToolError" if secured else "String"
for i in range(20):
    if secured:
        out.append(f'    #[secure_tool(scope = "tool.{i}", rate = "60/min", timeout = "2s")]')
    out += [f'    #[tool(description = "Tool {i}")]',
            f"    async fn tool_{i}(&self, Parameters(input): Parameters<Input{i}>) -> Result<String, {err}> {{",
            f'        Ok(format!("{i}: {{}} {{}} {{}}", input.name, input.count, input.flag))',
            "    }"]
out.append("}")
open(path, "w").write("\n".join(out) + "\n")
PY
}

gen gen_bare 0
gen gen_secure 1
cat > "$work/Cargo.toml" <<TOML
[workspace]
members = ["gen_bare", "gen_secure"]
resolver = "3"
TOML
cp Cargo.lock "$work/Cargo.lock"
export CARGO_TARGET_DIR="$root/target/compile-bench-target"

echo "building dependencies once..."
(cd "$work" && cargo build -q -p gen_bare -p gen_secure)

seconds() { python3 -c 'import sys,time,subprocess; t=time.perf_counter(); subprocess.run(sys.argv[1:], check=True); print(f"{time.perf_counter()-t:.3f}")' "$@"; }

# Interleaved (bare, secured, bare, secured...) so drift in the machine's speed hits both.
declare -A c i
for _ in $(seq "$runs"); do
  for name in gen_bare gen_secure; do
    (cd "$work" && cargo clean -q -p "$name")
    c[$name]+=" $(cd "$work" && seconds cargo build -q -p "$name")"
    # Incremental: change one tool's body, as an edit would.
    sed -i 's|format!("7|format!("7x|' "$work/$name/src/lib.rs"
    i[$name]+=" $(cd "$work" && seconds cargo build -q -p "$name")"
  done
done
python3 - "$runs" "${c[gen_bare]}" "${c[gen_secure]}" "${i[gen_bare]}" "${i[gen_secure]}" <<'PY'
import statistics, sys
runs = sys.argv[1]
cb, cs, ib, is_ = ([float(x) for x in a.split()] for a in sys.argv[2:])
print(f"20-tool server, debug build, {runs} interleaved runs (dependencies prebuilt):")
for label, bare, secured, target in (("clean", cb, cs, 1.2), ("incremental", ib, is_, 1.1)):
    mb, ms = statistics.median(bare), statistics.median(secured)
    fb, fs = min(bare), min(secured)
    print(f"  {label:11}  median: bare {mb:5.2f}s secured {ms:5.2f}s ratio {ms/mb:.2f}x"
          f"   fastest: bare {fb:5.2f}s secured {fs:5.2f}s ratio {fs/fb:.2f}x   (target <= {target}x)")
PY
