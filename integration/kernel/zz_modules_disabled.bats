#!/usr/bin/env bats
# integration/kernel/zz_modules_disabled.bats - kernel.modules_disabled=1, seen by `sbx doctor --host`.  The
# switch is one-way until reboot, so this file is named to run after every other file of the tier.

load helpers

@test "modules_disabled=1 is seen, and loading is really off (set last: one-way)" {
  require_guest
  sbx_has doctor || skip "bin/sbx has no doctor command in this tree"
  export SBX_CONFIG=$BATS_TEST_TMPDIR/sbx.json
  echo '{}' >"$SBX_CONFIG"
  unload_modules dummy
  echo 1 >/proc/sys/kernel/modules_disabled
  run insmod "$DUMMY_KO"
  [ "$status" -ne 0 ]
  ! module_loaded dummy
  run "$SBX" doctor --host --json --no-probe
  show
  echo "$output" | jq -e '.modules == "disabled"
    and (.findings | map(select(.id == "modules.disabled"))[0].severity == "ok")
    and (.findings | map(select(.id == "sysctl.modules_disabled" or (.id | startswith("autoload.") and . != "autoload.helper"))) == [])'
}
