#!/bin/bash
# demo.sh - the main job on the embedded default: a busybox container tries to load kernel modules, first with
# the delegate alone, then through sbx-runtime, and shows what sbx changed.  Leaves nothing behind.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
. hack/lib.sh
hack/prepare-host.sh >/dev/null
sbx_scratch_bundle '["/bin/sbx-probe","modules","nnp"]'

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
delegate=$(command -v crun || command -v runc)
say "1. The delegate alone ($delegate): this kernel has no loadable modules, so the calls reach it (ENOSYS)"
cp "$d/config.json" "$d/bundle/config.json"
"$delegate" --root "$d/root" run --bundle "$d/bundle" demo-plain

say "2. The same bundle through sbx-runtime: refused by sbx's filter (EPERM)"
cp "$d/config.json" "$d/bundle/config.json"
"$REPO/bin/sbx-runtime" --root "$d/root" --log "$d/runtime.log" --log-format json --debug run --bundle "$d/bundle" demo-sbx

say "3. What sbx wrote into the bundle"
jq -c '{seccomp_rules_for_modules: [.linux.seccomp.syscalls[] | select(.names | index("finit_module"))],
	noNewPrivileges: .process.noNewPrivileges,
	CAP_SYS_MODULE_left: ([.process.capabilities[]?[]] | index("CAP_SYS_MODULE") != null),
	annotations: (.annotations | with_entries(select(.key | startswith("run.sbx."))))}' "$d/bundle/config.json"

say "4. sbx's own lines in the runtime log the engine reads"
grep '"msg":"sbx: ' "$d/runtime.log"
