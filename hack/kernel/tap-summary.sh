#!/bin/sh
# hack/kernel/tap-summary.sh - passes TAP through and ends with "N passed, N failed, N skipped"; fails on failures.
awk '
  { print }
  /^ok / { if ($0 ~ /# [Ss][Kk][Ii][Pp]/) s++; else p++ }
  /^not ok / { if ($0 ~ /# [Tt][Oo][Dd][Oo]/) s++; else f++ }
  /^1\.\.0 # [Ss]kip/ { s++ }
  END { printf "%d passed, %d failed, %d skipped\n", p, f, s; exit f > 0 }'
