#!/usr/bin/env bats
# doctor_host.bats - `sbx doctor --host` on the real host: it runs, passes its default threshold on a stock
# kernel, its --json is what fleet tooling can read, --baseline of itself reports nothing, --fail-on sets the exit
# status.  Only reads: it never writes a sysctl or loads anything (the fixture cases are in test_doctor_host).

load helpers

setup () {
  T=$(mktemp -d /tmp/sbx-doctor-host.XXXXXX)
  export SBX_CONFIG="$T/sbx.json"
  echo '{}' >"$SBX_CONFIG"
}

teardown () {
  rm -rf "$T"
}

@test "doctor --host: runs and exits 0 under the default threshold (high)" {
  run timeout 60 "$SBX" doctor --host
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"summary: 0 critical, 0 high"* ]]
  [[ "${lines[-1]}" == "ok: --fail-on=high" ]]
}

@test "doctor --host --json: one object that jq reads, every finding with id, severity, title, evidence, fix" {
  timeout 60 "$SBX" doctor --host --json >"$T/a.json"
  jq -e 'type == "object" and (.findings | length) > 0 and .kernel == "'"$(uname -r)"'"' "$T/a.json"
  jq -e '[.findings[] | select((.id|type) == "string" and (.severity|IN("ok","info","low","medium","high",
          "critical")) and (.title|length) > 0 and (.evidence|length) > 0 and (.fix|type) == "string")]
          | length == ([$all[0].findings[]] | length)' --slurpfile all "$T/a.json" "$T/a.json"
  # Ids are unique: --baseline matches on them.
  jq -e '[.findings[].id] | length == (unique | length)' "$T/a.json"
}

@test "doctor --host: no module check flagged on a kernel that cannot load modules" {
  [ ! -e /proc/modules ] || skip "this kernel loads modules (the kernel tier covers that case)"
  "$SBX" doctor --host --json --no-probe >"$T/a.json"
  jq -e '.modules == "none" and (.findings[] | select(.id == "modules.support") | .severity == "ok")' "$T/a.json"
  run jq -r '.findings[] | select(.severity != "ok" and (.id | test("^(module\\.|modules\\.|autoload|hidden|taint\\.|allowlist)"))) | .id' "$T/a.json"
  echo "$output"
  [ -z "$output" ]
}

@test "doctor --host --baseline: a posture compared with itself reports nothing" {
  "$SBX" doctor --host --json >"$T/a.json"
  run "$SBX" doctor --host --json --baseline "$T/a.json" --fail-on=ok
  echo "$output"
  [ "$status" -eq 0 ]
  echo "$output" | jq -e '.findings == [] and .resolved == []'
  run "$SBX" doctor --host --baseline "$T/a.json"
  [ "$status" -eq 0 ]
  [[ "$output" == *"summary: 0 critical, 0 high, 0 medium, 0 low, 0 info, 0 ok"* ]]
}

@test "doctor --host --baseline: a finding new or changed since the saved posture is reported, a gone one resolved" {
  "$SBX" doctor --host --json --no-probe >"$T/a.json"
  first=$(jq -r '.findings[0].id' "$T/a.json")
  last=$(jq -r '.findings[-1].id' "$T/a.json")
  # The saved posture lacked the first finding, had the last at another severity, and had one that is gone now.
  jq --arg f "$first" --arg l "$last" '.findings |= (map(select(.id != $f)) | map(if .id == $l then
      .severity = (if .severity == "critical" then "ok" else "critical" end) else . end)
      + [{"id": "taint.E", "severity": "high", "title": "unsigned module loaded", "evidence": "", "fix": ""}])' \
      "$T/a.json" >"$T/base.json"
  run "$SBX" doctor --host --json --no-probe --baseline "$T/base.json"
  echo "$output"
  echo "$output" | jq -e --arg f "$first" --arg l "$last" \
    '([.findings[].id] | sort) == ([$f, $l] | sort) and [.resolved[].id] == ["taint.E"]'
}

@test "doctor --host --fail-on: the exit status follows the threshold" {
  run "$SBX" doctor --host --no-probe --fail-on=ok
  [ "$status" -eq 1 ]
  [[ "${lines[-1]}" == "FAIL: --fail-on=ok" ]]
  run "$SBX" doctor --host --no-probe --fail-on critical
  [ "$status" -eq 0 ]
  worst=$("$SBX" doctor --host --no-probe --json | jq -r '.findings[0].severity')
  run "$SBX" doctor --host --no-probe --fail-on="$worst"
  [ "$status" -eq 1 ]
  run "$SBX" doctor --host --fail-on=severe
  [ "$status" -eq 2 ]
  [[ "$output" == *"unknown severity 'severe'"* ]]
  run "$SBX" doctor --host --baseline "$T/missing.json"
  [ "$status" -eq 2 ]
  [[ "$output" == *"missing.json"* ]]
  echo '{"findings": "no"}' >"$T/bad.json"
  run "$SBX" doctor --host --baseline "$T/bad.json"
  [ "$status" -eq 2 ]
}

@test "doctor --host: a malformed host setting in sbx.json is an error, not a default" {
  echo '{"host": {"module_allowlist": "dummy"}}' >"$SBX_CONFIG"
  run "$SBX" doctor --host --no-probe
  echo "$output"
  [ "$status" -eq 2 ]
  [[ "$output" == *"host.module_allowlist"*"must be an array"* ]]
  echo '{"host": {"module_allowlist": []}}' >"$SBX_CONFIG"
  run "$SBX" doctor --host --no-probe --json
  [ "$status" -eq 0 ]
  echo "$output" | jq -e '.findings[] | select(.id == "allowlist") | .severity == "ok"'
}

@test "doctor (without --host) still refuses stray arguments" {
  run "$SBX" doctor --hots
  [ "$status" -eq 2 ]
  [[ "$output" == *"usage: sbx doctor"* ]]
}
