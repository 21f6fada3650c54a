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

say "2. sbx's watcher (private to this demo: socket, journal and registry in a temporary directory)"
sbx_scratch_watcher
echo "sbx watch running as pid $WATCH_PID"

say "3. The same bundle through sbx-runtime: refused by sbx's filter (EPERM) and reported"
cp "$d/config.json" "$d/bundle/config.json"
"$REPO/bin/sbx-runtime" --root "$d/root" --log "$d/runtime.log" --log-format json run --bundle "$d/bundle" demo-sbx

say "4. No engine at all: sbx run, on the host's / read-only"
# The probe is bound in explicitly: the sandbox sees the host's / read-only but its own fresh /tmp, /run and /dev,
# so a clone of this repository under /tmp would be invisible at its host path.
"$REPO/bin/sbx" run --ro-bind "$REPO/build/sbx-probe" /sbx-probe -- /sbx-probe modules

say "5. What the watcher reported (sbx events), per container"
"$REPO/bin/sbx" events
echo
echo "In the runtime log the engine reads:"
grep '"msg":"sbx' "$d/runtime.log" || true

say "6. What sbx wrote into the bundle"
jq -c '{seccomp_profile: .annotations["run.sbx.profile"], noNewPrivileges: .process.noNewPrivileges,
	CAP_SYS_MODULE_left: ([.process.capabilities[]?[]] | index("CAP_SYS_MODULE") != null),
	namespaces: [.linux.namespaces[].type], pids_limit: .linux.resources.pids.limit,
	annotations: (.annotations | with_entries(select(.key | startswith("run.sbx.")) | select(.key != "run.sbx.seccomp")))}' \
	"$d/bundle/config.json"
