#!/usr/bin/env bash
# Instructions per `tools/call`, bare vs secured, counted by callgrind: a figure that does
# not move with the machine's load (time on a shared 2-core VM moves by 10% and more).
# Runs the overhead bench binary under callgrind making N and then 2N calls of the bare
# tool, and the same of the secured tool (the 6-field input): the difference of each pair
# is N calls' worth. Only the calls are counted (`measured_calls`, after 200 calls that
# warm up what is made once): the rate limiter's clock calibrates itself by reading the
# clock for as long as it takes, a one-time cost that differs from run to run (under
# valgrind by up to 1,400 instructions a call of a 2,000-call difference). What is left
# (tokio's timer wheel, the allocator's state) still moves from run to run, so the count
# is made `runs` times, and the median ratio is the figure to quote.
#
#   benches/instructions.sh [calls] [runs]     (defaults 4000 and 3; needs valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
calls=${1:-4000}
runs=${2:-3}
bin=$(cargo bench --bench overhead --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "overhead" and m.get("executable"):
        print(m["executable"])')
count() {
  OVERHEAD_LOOP=$1 OVERHEAD_CALLS=$2 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    --collect-atstart=no '--toggle-collect=*measured_calls*' "$bin" 2>&1 \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
args=()
for _ in $(seq "$runs"); do
  for mode in bare secured; do
    args+=("$(count "$mode" "$calls")" "$(count "$mode" $((2 * calls)))")
  done
done
python3 - "$calls" "${args[@]}" <<'PY'
import statistics, sys
calls, *counts = map(int, sys.argv[1:])
ratios = []
for i in range(0, len(counts), 4):
    bare1, bare2, secured1, secured2 = counts[i:i + 4]
    b, s = (bare2 - bare1) / calls, (secured2 - secured1) / calls
    ratios.append(s / b)
    print(f"instructions per tools/call ({calls} calls, callgrind): bare {b:,.0f}  secured {s:,.0f}  "
          f"secured/bare {s / b:.3f}x  (+{s - b:,.0f})")
print(f"median of {len(ratios)} runs: secured/bare {statistics.median(ratios):.3f}x")
PY
