#!/usr/bin/env bash
# RSS (MiB) of every process start.sh started, grouped by service (process group).
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
shopt -s nullglob
tot=0
for f in "$R"/*.pid; do
  n=$(basename "$f" .pid); pg=$(cat "$f")
  kb=$(ps -eo pgid=,rss= | awk -v g="$pg" '$1==g{s+=$2} END{print s+0}')
  cnt=$(ps -eo pgid= | awk -v g="$pg" '$1==g' | wc -l)
  printf '%-16s %3d procs %7.1f MiB\n' "$n" "$cnt" "$(echo "$kb/1024" | bc -l)"
  tot=$((tot+kb))
done
printf '%-16s           %7.1f MiB\n' TOTAL "$(echo "$tot/1024" | bc -l)"
