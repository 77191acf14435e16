#!/usr/bin/env bash
# How long after reading the UI shows the model's ranking: the TUI is started in tmux on DIR,
# its screen polled every ~10 ms, and the time taken from the list's first frame (reading
# done, ranked by counting) to the status "re-ranked by ae" (the hybrid's three trainings,
# scoring and evidence done on the worker). Polling adds up to a few tens of milliseconds.
#
#   benches/tui_ready.sh [DIR] [ANOMALOG]
#
# DIR defaults to samples/, ANOMALOG to the release binary in the target directory; RUNS
# rounds (default 5), each figure printed and the median last.
set -euo pipefail
dir=${1:-samples}
target=${CARGO_TARGET_DIR:-$(dirname "$0")/../target}
anomalog=${2:-$target/release/anomalog}
command -v tmux >/dev/null || { echo "no tmux: apt-get install tmux" >&2; exit 2; }
[ -x "$anomalog" ] || { echo "no binary at $anomalog: cargo build --release" >&2; exit 2; }
session=anomalog-ready-$$
trap 'tmux kill-session -t "$session" 2>/dev/null || true' EXIT
now() { date +%s.%N; }
runs=${RUNS:-5}
all=()
for ((r = 0; r < runs; r++)); do
  tmux kill-session -t "$session" 2>/dev/null || true
  tmux new-session -d -s "$session" -x 200 -y 50 "$(printf '%q %q' "$anomalog" "$dir")"
  listed="" ready=""
  for _ in $(seq 1 3000); do
    screen=$(tmux capture-pane -p -t "$session" 2>/dev/null || true)
    t=$(now)
    if [ -z "$listed" ] && grep -q "unique events (" <<<"$screen"; then listed=$t; fi
    if [ -n "$listed" ] && grep -q "re-ranked by ae" <<<"$screen"; then ready=$t; break; fi
    sleep 0.01
  done
  [ -n "$ready" ] || { echo "round $r: no model ranking within the wait" >&2; exit 1; }
  s=$(awk -v a="$listed" -v b="$ready" 'BEGIN { printf "%.2f", b - a }')
  echo "round $r: model ranking ${s} s after the list"
  all+=("$s")
done
printf '%s\n' "${all[@]}" | sort -n | awk '{ v[NR] = $1 } END { printf "median of %d rounds: %.2f s\n", NR, v[int((NR + 1) / 2)] }'
