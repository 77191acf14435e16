#!/usr/bin/env bash
# Whole-run benchmark on a simulated fleet: `anomalog rank` against evtx_dump's bare dump of
# the same files, measured in one run (the machines are noisy: compare the ratio, not the
# seconds).
#
#   benches/fleet.sh DIR [ANOMALOG] [EVTX_DUMP]
#
# DIR: a fleet written by `anomalog simulate --out DIR ...`. ANOMALOG defaults to the release
# binary in the target directory, EVTX_DUMP to `evtx_dump` on PATH (`cargo install evtx`).
# Prints wall time and peak memory of each, and the ratios.
set -euo pipefail
dir=${1:?usage: benches/fleet.sh DIR [ANOMALOG] [EVTX_DUMP]}
target=${CARGO_TARGET_DIR:-$(dirname "$0")/../target}
anomalog=${2:-$target/release/anomalog}
evtx_dump=${3:-evtx_dump}
command -v "$evtx_dump" >/dev/null || { echo "no evtx_dump: cargo install evtx" >&2; exit 2; }

files=$(find "$dir" -name '*.evtx' | sort)
bytes=$(cat $files | wc -c)
echo "fleet: $(echo "$files" | wc -l) .evtx files, $((bytes / 1000000)) MB"

measure() { # label, command...: prints "label seconds peak_kb"
  local label=$1; shift
  local t
  t=$(mktemp)
  /usr/bin/time -o "$t" -f "%e %M" "$@" >/dev/null 2>&1
  echo "$label $(tail -1 "$t")"
  rm -f "$t"
}

dump_all() {
  for f in $files; do "$evtx_dump" -o jsonl -t 2 "$f"; done
}
export -f dump_all
export files evtx_dump

read -r _ t_dump m_dump < <(measure dump bash -c dump_all)
read -r _ t_rar m_rar < <(measure rarity "$anomalog" rank -q -m rarity "$dir")
read -r _ t_ae m_ae < <(measure ae "$anomalog" rank -q "$dir")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf '%-28s %8s s %8s MB\n' "evtx_dump -o jsonl -t 2" "$t_dump" "$((m_dump / 1024))"
printf '%-28s %8s s %8s MB   %sx evtx_dump\n' "rank -m rarity" "$t_rar" "$((m_rar / 1024))" "$(ratio "$t_rar" "$t_dump")"
printf '%-28s %8s s %8s MB   %sx evtx_dump\n' "rank (ae)" "$t_ae" "$((m_ae / 1024))" "$(ratio "$t_ae" "$t_dump")"
