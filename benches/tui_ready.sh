#!/usr/bin/env bash
# How long after reading the UI shows the model's ranking: the TUI is started in tmux on DIR
# and watched through a tmux control-mode client. The screen is captured whenever the UI
# writes to its terminal (no polling: a bash loop spawning `tmux capture-pane` every 10 ms
# took a core's share from the training it measured, ~0.1 s on samples/), and the time is
# taken from the list's first frame (reading done, ranked by counting) to the status
# "re-ranked by ae" (the hybrid's three trainings, scoring and evidence done on the worker).
#
#   benches/tui_ready.sh [DIR] [ANOMALOG...]
#
# DIR defaults to samples/, ANOMALOG to the release binary in the target directory; with
# several binaries (say the previous build and this one) their rounds alternate, so that
# they share the machine's state. RUNS rounds each (default 5), each figure printed and the
# median per binary last.
set -euo pipefail
dir=${1:-samples}
shift || true
target=${CARGO_TARGET_DIR:-$(dirname "$0")/../target}
bins=("$@")
[ ${#bins[@]} -gt 0 ] || bins=("$target/release/anomalog")
command -v tmux >/dev/null || { echo "no tmux: apt-get install tmux" >&2; exit 2; }
for b in "${bins[@]}"; do
  [ -x "$b" ] || { echo "no binary at $b: cargo build --release" >&2; exit 2; }
done
session=anomalog-ready-$$
trap 'tmux kill-session -t "$session" 2>/dev/null || true' EXIT

# One round: the seconds from the list to the model's ranking, on stdout.
round() {
  local bin=$1 listed="" ready="" pending=0 dirty=0 line
  tmux kill-session -t "$session" 2>/dev/null || true
  tmux new-session -d -s "$session" -x 200 -y 50 "sleep 600"
  tmux set-option -t "$session" window-size manual >/dev/null
  # `exec`: the coproc's pid is the client's, so that ending the round ends it.
  coproc TM { exec tmux -C attach -t "$session"; }
  printf 'respawn-pane -k -t %s %q\n' "$session" "$(printf '%q %q' "$bin" "$dir")" >&"${TM[1]}"
  # Microseconds, with no process spawned per line.
  local start=${EPOCHREALTIME/./}
  while IFS= read -r -t 30 line <&"${TM[0]}"; do
    case $line in
      %output*)
        dirty=1
        if ((!pending)); then
          echo "capture-pane -p -t $session" >&"${TM[1]}"
          pending=1 dirty=0
        fi
        ;;
      %end* | %error*)
        pending=0
        # Output came while the capture ran: capture again, or the last frame is missed.
        if ((dirty)); then
          echo "capture-pane -p -t $session" >&"${TM[1]}"
          pending=1 dirty=0
        fi
        ;;
      *"unique events ("*) [ -n "$listed" ] || listed=${EPOCHREALTIME/./} ;;&
      *"re-ranked by ae"*) [ -z "$listed" ] || { ready=${EPOCHREALTIME/./}; break; } ;;
    esac
    ((${EPOCHREALTIME/./} - start < 60000000)) || break
  done
  local pid=$TM_PID
  tmux kill-session -t "$session" 2>/dev/null || true
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  [ -n "$ready" ] || { echo "no model ranking within the wait ($bin)" >&2; return 1; }
  awk -v us=$((ready - listed)) 'BEGIN { printf "%.2f", us / 1e6 }'
}

runs=${RUNS:-5}
declare -A all
for ((r = 0; r < runs; r++)); do
  for b in "${bins[@]}"; do
    s=$(round "$b")
    echo "round $r: $b: model ranking ${s} s after the list"
    all[$b]+="$s "
  done
done
for b in "${bins[@]}"; do
  printf '%s\n' ${all[$b]} | sort -n |
    awk -v b="$b" '{ v[NR] = $1 } END { printf "%s: median of %d rounds: %.2f s\n", b, NR, v[int((NR + 1) / 2)] }'
done
