#!/usr/bin/env bash
# Whole-run benchmark on a simulated fleet: `anomalog rank` against evtx_dump's bare dump of
# the same files, measured in one run (the machines are noisy: compare the ratio, not the
# seconds).
#
#   benches/fleet.sh DIR [ANOMALOG] [EVTX_DUMP]
#
# DIR: a fleet written by `anomalog simulate --out DIR ...`. ANOMALOG defaults to the release
# binary in the target directory, EVTX_DUMP to `evtx_dump` on PATH (`cargo install evtx`).
# Prints wall time and peak memory of each (medians over RUNS rounds, default 3), and the
# ratios. AE_ARGS adds options to the autoencoder's run (e.g. AE_ARGS="--objective masked").
set -euo pipefail
dir=${1:?usage: benches/fleet.sh DIR [ANOMALOG] [EVTX_DUMP]}
target=${CARGO_TARGET_DIR:-$(dirname "$0")/../target}
anomalog=${2:-$target/release/anomalog}
evtx_dump=${3:-evtx_dump}
command -v "$evtx_dump" >/dev/null || { echo "no evtx_dump: cargo install evtx" >&2; exit 2; }

list=$(mktemp)
trap 'rm -f "$list"' EXIT
find "$dir" -name '*.evtx' | sort >"$list"
bytes=$(xargs -d '\n' cat <"$list" | wc -c)
echo "fleet: $(wc -l <"$list") .evtx files, $((bytes / 1000000)) MB"

measure() { # label, command...: prints "label seconds peak_kb"
  local label=$1; shift
  local t
  t=$(mktemp)
  /usr/bin/time -o "$t" -f "%e %M" "$@" >/dev/null 2>&1
  echo "$label $(tail -1 "$t")"
  rm -f "$t"
}

# Rounds interleave the three commands, so that a slow spell of the machine hits all of
# them; each figure is the median over the rounds (RUNS, default 3).
runs=${RUNS:-3}
declare -a T_DUMP T_RAR T_AE M_DUMP M_RAR M_AE
for ((r = 0; r < runs; r++)); do
  # One evtx_dump per file, as a collection would be dumped.
  read -r _ t m < <(measure dump bash -c 'while IFS= read -r f; do "$0" -o jsonl -t 2 "$f"; done <"$1"' "$evtx_dump" "$list")
  T_DUMP+=("$t"); M_DUMP+=("$m")
  read -r _ t m < <(measure rarity "$anomalog" rank -q -m rarity "$dir")
  T_RAR+=("$t"); M_RAR+=("$m")
  read -r _ t m < <(measure ae "$anomalog" rank -q ${AE_ARGS:-} "$dir")
  T_AE+=("$t"); M_AE+=("$m")
done
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
t_dump=$(median "${T_DUMP[@]}"); m_dump=$(median "${M_DUMP[@]}")
t_rar=$(median "${T_RAR[@]}"); m_rar=$(median "${M_RAR[@]}")
t_ae=$(median "${T_AE[@]}"); m_ae=$(median "${M_AE[@]}")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "median of $runs rounds"
printf '%-28s %8s s %8s MB\n' "evtx_dump -o jsonl -t 2" "$t_dump" "$((m_dump / 1024))"
printf '%-28s %8s s %8s MB   %sx evtx_dump\n' "rank -m rarity" "$t_rar" "$((m_rar / 1024))" "$(ratio "$t_rar" "$t_dump")"
printf '%-28s %8s s %8s MB   %sx evtx_dump\n' "rank (ae${AE_ARGS:+ $AE_ARGS})" "$t_ae" "$((m_ae / 1024))" "$(ratio "$t_ae" "$t_dump")"
