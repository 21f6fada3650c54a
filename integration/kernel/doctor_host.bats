#!/usr/bin/env bats
# integration/kernel/doctor_host.bats - `sbx doctor --host` on a kernel that loads modules (Debian's, in the
# guest): no false alarm on the stock kernel, every view of a loaded module agrees, an unsigned out-of-tree module
# is loaded and flagged, the risky modules on disk are found autoloadable and modprobe.d is judged as modprobe
# reads it.  kernel.modules_disabled is set last, in zz_modules_disabled.bats (it is one-way).

load helpers

MODTOOL=$SBX_ROOT/integration/kernel/bin/modtool

setup () {
  require_guest
  sbx_has doctor || skip "bin/sbx has no doctor command in this tree"
  export SBX_CONFIG=$BATS_TEST_TMPDIR/sbx.json
  echo '{}' >"$SBX_CONFIG"
}

teardown () {
  rm -f /etc/modprobe.d/sbx-test.conf
  unload_modules dummy >/dev/null || true
}

# doctor_json [ARGS...]: the posture as JSON in $BATS_TEST_TMPDIR/p.json; $status is the exit status.
doctor_json () {
  run "$SBX" doctor --host --json "$@"
  printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/p.json"
}
sev_of () { jq -r --arg id "$1" '.findings[] | select(.id == $id) | .severity' "$BATS_TEST_TMPDIR/p.json"; }

@test "stock kernel: loadable modules seen, sbx's hooks load, no hidden module, nothing high, exit 0" {
  unload_modules dummy
  [ "$(cat /proc/sys/kernel/tainted)" = 0 ] || note "guest kernel already tainted: $(cat /proc/sys/kernel/tainted)"
  run "$SBX" doctor --host
  for l in "${lines[@]}"; do note "guest: $l"; done
  [ "$status" -eq 0 ]
  doctor_json
  [ "$status" -eq 0 ]
  jq -e '.modules == "loadable"' "$BATS_TEST_TMPDIR/p.json"
  [ "$(sev_of hidden)" = ok ]
  [ "$(sev_of lsm.sbx_hooks)" = ok ]
  [ "$(sev_of autoload.helper)" = ok ]
  # Debian's own modules are signed by its built-in key: none is flagged.
  run jq -r '.findings[] | select(.severity == "high" or .severity == "critical") | .id' "$BATS_TEST_TMPDIR/p.json"
  show
  [ -z "$output" ]
}

@test "a loaded module is in every view (/proc/modules, /sys/module, kallsyms) and checked against the allowlist" {
  insmod "$DUMMY_KO"
  grep -q '\[dummy\]' /proc/kallsyms
  echo '{"host": {"module_allowlist": ["veth"]}}' >"$SBX_CONFIG"
  doctor_json
  show
  [ "$(sev_of hidden)" = ok ]
  # The fourth view, through BPF (kernel 6.0+): it names the modules with symbols, dummy among them.
  jq -e '.findings[] | select(.id == "hidden.bpf_iter") | .evidence | test("^iter/ksym: [1-9][0-9]* module")' \
    "$BATS_TEST_TMPDIR/p.json"
  jq -e '.findings[] | select(.id == "hidden.kallsyms") | .evidence | startswith("/proc/kallsyms: read")' \
    "$BATS_TEST_TMPDIR/p.json"
  [ "$(sev_of modules.taint)" = ok ]
  [ "$(sev_of allowlist.dummy)" = medium ]
  echo '{"host": {"module_allowlist": ["dummy"'"$(awk '$1 != "dummy" {printf ", \"%s\"", $1}' /proc/modules)"']}}' \
    >"$SBX_CONFIG"
  doctor_json --no-probe
  [ "$(sev_of allowlist)" = ok ]
}

@test "an unsigned, out-of-tree module is loaded and flagged (module and kernel taint), and fails the default threshold" {
  [ "$(cat /sys/module/module/parameters/sig_enforce)" = N ] || skip "this kernel enforces module signatures"
  unload_modules dummy
  "$MODTOOL" "$DUMMY_KO" "$BATS_TEST_TMPDIR/dummy-unsigned.ko" --out-of-tree
  insmod "$BATS_TEST_TMPDIR/dummy-unsigned.ko"
  note "guest: /sys/module/dummy/taint = $(cat /sys/module/dummy/taint); tainted = $(cat /proc/sys/kernel/tainted)"
  grep -q E /sys/module/dummy/taint
  doctor_json --no-probe
  show
  [ "$status" -eq 1 ]
  [ "$(sev_of module.dummy.unsigned)" = high ]
  [ "$(sev_of module.dummy.out_of_tree)" = medium ]
  [ "$(sev_of taint.E)" = high ]
  [ "$(sev_of taint.O)" = medium ]
  [ "$(sev_of hidden)" = ok ]
  # Once unloaded, the module findings go; the kernel's taint stays until reboot, and says so.
  unload_modules dummy
  doctor_json --no-probe
  [ -z "$(sev_of module.dummy.unsigned)" ]
  [ "$(sev_of taint.E)" = high ]
}

@test "risky modules on disk are found autoloadable; blacklist stops alias autoload only, install /bin/false stops it" {
  doctor_json --no-probe
  found=
  for m in sctp af_alg nf_tables; do
    s=$(sev_of "autoload.$m")
    if module_loaded "$m"; then [ "$s" = low ]; else [ "$s" = medium ]; found="$found $m"; fi
    note "guest: autoload.$m: $s"
  done
  [ -n "$found" ] || skip "every risky module of the guest is loaded already"
  set -- $found
  mkdir -p /etc/modprobe.d
  echo "blacklist $1" >/etc/modprobe.d/sbx-test.conf
  doctor_json --no-probe
  [ "$(sev_of "autoload.$1")" = info ]
  printf 'install %s /bin/false\n' "$1" >/etc/modprobe.d/sbx-test.conf
  doctor_json --no-probe
  [ -z "$(sev_of "autoload.$1")" ]
  jq -e --arg m "$1 (install false)" '.findings[] | select(.id == "autoload.surface") | .evidence | contains($m)' \
    "$BATS_TEST_TMPDIR/p.json"
}

@test "--baseline in the guest: loading a module is the change reported" {
  unload_modules dummy
  # The kernel may carry an E taint from the test above: the threshold is not what this test is about.
  "$SBX" doctor --host --json --no-probe --fail-on=critical >"$BATS_TEST_TMPDIR/base.json"
  insmod "$DUMMY_KO"
  echo '{"host": {"module_allowlist": []}}' >"$SBX_CONFIG"
  run "$SBX" doctor --host --json --no-probe --baseline "$BATS_TEST_TMPDIR/base.json"
  show
  echo "$output" | jq -e '[.findings[].id] | index("allowlist.dummy") != null'
  # What did not change is not repeated.
  echo "$output" | jq -e '[.findings[].id] | index("lockdown") == null'
}
