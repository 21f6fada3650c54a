#!/usr/bin/env bats
# integration/kernel/doctor.bats - what sbx can enforce, probed on the host that ran the tier and in the guest,
# side by side in the TAP output: the host (no modules, BPF trampolines refused) cannot run the LSM hooks that
# the guest runs, which is the reason this tier exists.

load helpers

setup () {
  require_guest
}

# The guest's probe report: `sbx doctor` when the CLI has it, else the BPF loader's own report.
guest_report () {
  if sbx_has doctor; then
    "$SBX" doctor 2>&1
  else
    local t
    for t in "$SBX_ROOT/build/tests/test_bpf" "$SBX_ROOT/build/test_bpf"; do
      [ -x "$t" ] && { "$t" report 2>&1; return; }
    done
    return 3
  fi
}

@test "probe report: host vs guest (the guest runs sbx's LSM hooks)" {
  [ -r "$SBX_ROOT/host-report.txt" ] || skip "run.sh passed no host report"
  run guest_report
  [ "$status" -ne 3 ] || skip "neither sbx doctor nor build/test_bpf is built in this tree"
  show
  while IFS= read -r l; do note "host:  $l"; done <"$SBX_ROOT/host-report.txt"
  note "guest: kernel $(uname -r); active LSMs: $(cat /sys/kernel/security/lsm)"
  for l in "${lines[@]}"; do note "guest: $l"; done
  [ "$status" -eq 0 ]
  for h in lsm/kernel_read_file lsm/kernel_load_data lsm/kernel_module_request; do
    has_line "(.* )?$h: loaded.*"
  done
}

@test "sbx doctor in the guest: exits 0 and reports the module hooks live" {
  sbx_has doctor || skip "bin/sbx has no doctor command in this tree yet"
  run "$SBX" doctor
  show
  [ "$status" -eq 0 ]
  for h in lsm/kernel_read_file lsm/kernel_load_data lsm/kernel_module_request tp/module/module_load; do
    has_line "(.* )?$h: loaded.*"
  done
}
