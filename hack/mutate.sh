#!/bin/bash
# mutate.sh - prove the tests guard what they claim: apply each deliberate breakage kept in hack/mutations/ to a
# scratch copy of the tree, rebuild, run the tiers the breakage names, and report whether they caught it.
#
#   hack/mutate.sh                     every hack/mutations/*.patch
#   MUTATIONS="a b" hack/mutate.sh     only a.patch and b.patch (make mutate MUTATIONS="a b")
#   MUTATE_ALL_TIERS=1                 run every named tier, not only up to the first that fails
#
# A breakage is hack/mutations/NAME.patch: header lines
#   # breaks: <one sentence: the guarantee it removes>
#   # tiers: <space-separated build/tests/test_X and/or integration/X.bats>
# then a unified diff that applies with `patch -p1` from the repo top.  "caught" means at least one named tier
# failed; a patch that does not apply or does not build is not a valid mutation and is reported apart.  Exit
# status 0 only when every breakage was caught.  The real tree is never modified.
set -u
cd "$(dirname "$0")/.." || exit 2
top=$PWD
mdir=$top/hack/mutations
# Not under /tmp: `sbx run` gives its sandboxes a private /tmp, and run.bats runs binaries from the tree.
base=$(mktemp -d "${MUTATE_DIR:-/var/tmp}/sbx-mutate.XXXXXX") || exit 2
trap 'rm -rf "$base"' EXIT
summary=$base/summary

if [ -n "${MUTATIONS:-}" ]; then
	patches=()
	for m in $MUTATIONS; do patches+=("$mdir/${m%.patch}.patch"); done
else
	patches=("$mdir"/*.patch)
fi

# The scratch copies start from a built tree, so each one rebuilds only what its patch touches.
echo "# building the tree once (make -j2 all unit)"
make -s -j2 all unit >"$base/build.log" 2>&1 || { tail -30 "$base/build.log"; echo "the unmodified tree does not build"; exit 2; }

# copy_tree DIR: the tracked and new (not ignored) files as they are in the work tree, plus build/ and bin/ with
# their timestamps (the fuzz build is left out: nothing here runs it).
copy_tree() {
	mkdir -p "$1"
	git ls-files -z --cached --others --exclude-standard |
		tar -C "$top" --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -C "$1" -xf -
	tar -C "$top" --exclude=build/fuzz -cf - build bin | tar -C "$1" -xf -
}

# run_tier DIR TIER LOG: run one tier in DIR; status 0 when it passed.
run_tier() {
	local d=$1 tier=$2 log=$3 rc=0
	case $tier in
	build/tests/test_*) (cd "$d" && timeout -k 10 600 "./$tier") >"$log" 2>&1 || rc=$? ;;
	integration/*.bats) (cd "$d" && timeout -k 10 1500 bats --tap "$tier") >"$log" 2>&1 || rc=$? ;;
	*) echo "unknown tier $tier" >"$log"; return 2 ;;
	esac
	[ "$rc" -eq 0 ] && ! grep -q '^not ok ' "$log"
}

verdict() { printf '%-12s %s\n' "$1" "$2" | tee -a "$summary"; }

for p in "${patches[@]}"; do
	name=$(basename "$p" .patch)
	if [ ! -f "$p" ]; then
		verdict INVALID "$name: no such mutation ($p)"
		continue
	fi
	breaks=$(sed -n 's/^# breaks: //p' "$p" | head -1)
	tiers=$(sed -n 's/^# tiers: //p' "$p" | head -1)
	echo "# === $name: $breaks"
	bad=
	for t in $tiers; do
		[[ "$t" =~ ^(build/tests/test_[A-Za-z0-9_]+|integration/[A-Za-z0-9_-]+\.bats)$ ]] || bad="$bad $t"
	done
	if [ -z "$breaks" ] || [ -z "$tiers" ] || [ -n "$bad" ]; then
		verdict INVALID "$name: header needs '# breaks: ...' and '# tiers: ...' of build/tests/test_X or integration/X.bats${bad:+ (bad:$bad)}"
		continue
	fi
	d=$base/$name
	copy_tree "$d"
	if ! (cd "$d" && patch -p1 -s --no-backup-if-mismatch) <"$p" >"$base/$name.patch.log" 2>&1; then
		cat "$base/$name.patch.log"
		verdict INVALID "$name: does not apply"
		rm -rf "$d"
		continue
	fi
	if ! (cd "$d" && make -s -j2 all unit) >"$base/$name.build.log" 2>&1; then
		grep -E 'error|Error' "$base/$name.build.log" | head -5
		verdict INVALID "$name: does not build (not a valid mutation)"
		rm -rf "$d"
		continue
	fi
	caught=
	for t in $tiers; do
		start=$SECONDS
		if run_tier "$d" "$t" "$base/$name.tier.log"; then
			echo "#   $t passed ($((SECONDS - start)) s)"
		else
			echo "#   $t FAILED ($((SECONDS - start)) s):"
			grep -E '^not ok |timed out|exited' "$base/$name.tier.log" | head -5 | sed 's/^/#     /'
			caught="$caught $t"
			# One failing tier is enough; MUTATE_ALL_TIERS=1 runs the rest too (to see which tiers overlap).
			[ -n "${MUTATE_ALL_TIERS:-}" ] || break
		fi
	done
	if [ -n "$caught" ]; then verdict caught "$name (by$caught)"; else verdict "NOT CAUGHT" "$name: $breaks"; fi
	rm -rf "$d"
done

echo
cat "$summary" 2>/dev/null
ncaught=$(grep -c '^caught ' "$summary" 2>/dev/null)
nmissed=$(grep -c '^NOT CAUGHT ' "$summary" 2>/dev/null)
ninvalid=$(grep -c '^INVALID ' "$summary" 2>/dev/null)
echo "${ncaught:-0} caught, ${nmissed:-0} not caught, ${ninvalid:-0} invalid"
[ "${nmissed:-0}" -eq 0 ] && [ "${ninvalid:-0}" -eq 0 ]
