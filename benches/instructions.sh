#!/usr/bin/env bash
# Instructions per `tools/call`, bare vs secured, counted by callgrind: a figure that does
# not move with the machine's load (time on a shared 2-core VM moves by 10% and more).
# Runs the overhead bench binary under callgrind making N and then 2N calls of the bare
# tool, and the same of the secured tool (the 6-field input): the difference of each pair
# is N calls' worth, without start-up and one-time work (connecting, lazily built tables).
# Prints the instructions per call of each and their ratio.
#
#   benches/instructions.sh [calls]      (default 4000; needs valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
calls=${1:-4000}
bin=$(cargo bench --bench overhead --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "overhead" and m.get("executable"):
        print(m["executable"])')
count() {
  OVERHEAD_LOOP=$1 OVERHEAD_CALLS=$2 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" 2>&1 \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
args=()
for mode in bare secured; do
  args+=("$(count "$mode" "$calls")" "$(count "$mode" $((2 * calls)))")
done
python3 - "${args[@]}" "$calls" <<'PY'
import sys
bare1, bare2, secured1, secured2, calls = map(int, sys.argv[1:])
b, s = (bare2 - bare1) / calls, (secured2 - secured1) / calls
print(f"instructions per tools/call ({calls} calls, callgrind): bare {b:,.0f}  secured {s:,.0f}  "
      f"secured/bare {s / b:.3f}x  (+{s - b:,.0f})")
PY
