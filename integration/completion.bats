#!/usr/bin/env bats
# completion.bats - completion/sbx.bash, run with bash-completion's helpers as bash runs it on TAB: every
# subcommand `sbx --help` lists and every option each `sbx CMD --help` prints is completed (so the completion
# cannot drift from the binary), profile names come from `sbx profile list`, container ids from the journal
# (and a hostile id there is neither offered nor executed), values and the sandbox's own command line.

load helpers

setup() {
	T=$(mktemp -d /tmp/sbx-test.XXXXXX)
	echo "{\"watcher\": {\"enabled\": false}, \"journal\": {\"path\": \"$T/events.jsonl\"}}" >"$T/sbx.json"
	export SBX_CONFIG="$T/sbx.json" SBX_STATE_DIR="$T/state" SBX_PROFILES_DIR="$T/profiles"
	mkdir -p "$SBX_PROFILES_DIR"
	# The completion runs the sbx it completes: this build's.
	export PATH="$REPO/bin:$PATH"
	# comp WORD...: complete the last WORD of the command line `WORD...` (split as bash splits it: "=" is a
	# word of its own) in a fresh bash with bash-completion's helpers; COMPREPLY on stdout, one a line, sorted.
	cat >"$T/drive.sh" <<-'EOF'
		. /usr/share/bash-completion/bash_completion
		. "$REPO/completion/sbx.bash"
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMP_LINE=
		for w in "$@"; do
			if [[ $w == = || ${COMP_LINE: -1} == = ]]; then COMP_LINE+=$w; else COMP_LINE+="${COMP_LINE:+ }$w"; fi
		done
		COMP_POINT=${#COMP_LINE}
		_sbx sbx "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" 2>/dev/null
		printf '%s\n' "${COMPREPLY[@]}"
	EOF
}

teardown() {
	rm -rf "$T"
}

comp() {
	REPO="$REPO" timeout 20 bash --norc --noprofile "$T/drive.sh" "$@" | sed '/^$/d' | sort -u
}

# help_opts: the options named in --help text on stdin (--help/-h itself left out), one a line, sorted.
help_opts() {
	grep -oE '(^|[][ |,(])--?[a-z][a-z-]*' | sed 's/^[][ |,(]//' | grep -vxE -- '--help|-h' | sort -u
}

# same WHAT A B: the sorted lists A and B are equal, else say what is only in one and fail.
same() {
	local only_a only_b
	only_a=$(comm -23 <(echo "$2") <(echo "$3"))
	only_b=$(comm -13 <(echo "$2") <(echo "$3"))
	if [ -n "$only_a$only_b" ]; then
		echo "$1: only in --help: ${only_a:-none}; only completed: ${only_b:-none}"
		return 1
	fi
}

subcommands() {
	"$SBX" --help | sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p' | sort -u
}

@test "sbx <TAB> completes exactly the subcommands sbx --help lists" {
	local bin
	bin=$(subcommands)
	[ "$(echo "$bin" | wc -l)" -ge 8 ]
	same "subcommands" "$bin" "$(comp sbx '')"
	[ "$(comp sbx pro)" = profile ]
	[ "$(comp sbx --v)" = --version ]
}

@test "sbx CMD -<TAB> completes exactly the options sbx CMD --help prints, for every subcommand" {
	local c s bin got n=0
	for c in $(subcommands); do
		bin=$({
			"$SBX" "$c" --help 2>&1 || true
			if [ "$c" = doctor ]; then "$SBX" doctor --host --help 2>&1 || true; fi
		} | help_opts)
		case $c in
		doctor) got=$({ comp sbx doctor -; comp sbx doctor --host -; } | sed 's/=$//') ;;
		profile)
			# The profile subcommands themselves, then each one's options.
			same "sbx profile subcommands" "$("$SBX" profile --help | sed -n 's/^ *\(usage: \)\{0,1\}sbx profile \([a-z]*\).*/\2/p' | sort -u)" \
				"$(comp sbx profile '')"
			got=$(for s in $(comp sbx profile ''); do comp sbx profile "$s" -; done)
			;;
		*) got=$(comp sbx "$c" -) ;;
		esac
		got=$(echo "$got" | grep -vx -- '--' | sed '/^$/d' | sort -u)
		same "sbx $c" "$bin" "$got"
		n=$((n + $(echo "$bin" | grep -c . || true)))
	done
	# The comparison saw the options (a broken extraction would compare two empty lists).
	[ "$n" -ge 45 ]
}

@test "sbx run --pro<TAB> completes --profile, and option values complete" {
	[ "$(comp sbx run --pro)" = --profile ]
	[ "$(comp sbx run --net '' | tr '\n' ' ')" = "host none " ]
	[ "$(comp sbx run --on-violation f)" = freeze ]
	[ "$(comp sbx watch --mode '' | tr '\n' ' ')" = "default syscalls " ]
	[ "$(comp sbx doctor --host --fail-on = '' | wc -l)" -eq 6 ]
	[ "$(comp sbx doctor --host --fail-on = cr)" = critical ]
	[ "$(comp sbx install c | tr '\n' ' ')" = "containerd crio " ]
	comp sbx run --cap-add CAP_NET_B | grep -qx CAP_NET_BIND_SERVICE
}

@test "the sandbox's command line completes as a command of its own, after -- or after the options" {
	comp sbx run -- bas | grep -qx bash
	comp sbx run --net none -m 64m bas | grep -qx bash
	# A word after a value-taking option is its value, not the command.
	[ -z "$(comp sbx run --hostname bas)" ]
	# After --bind's two paths, the command.
	comp sbx run --bind /tmp /mnt bas | grep -qx bash
}

@test "sbx profile show <TAB> lists the built-in profiles and the profiles directory's, as sbx profile list does" {
	echo '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[]}' >"$SBX_PROFILES_DIR/mine.json"
	run comp sbx profile show ''
	[ "$status" -eq 0 ]
	for p in default strict baseline mine; do grep -qx "$p" <<<"$output" || { echo "no $p in: $output"; false; }; done
	same "profiles" "$("$SBX" profile list | awk '{ print $1 }' | sort -u)" "$output"
	[ "$(comp sbx profile compile st)" = strict ]
	[ "$(comp sbx profile learn --base ba)" = baseline ]
}

@test "sbx events <TAB> lists the journal's container ids, once each; a hostile id is not offered and not run" {
	{
		echo '{"time":"2026-01-01T00:00:00Z","container":"web-1","engine":"runc","type":"module_load","syscall":"finit_module","module":"dummy","action":"log","outcome":"refused"}'
		echo '{"time":"2026-01-01T00:00:01Z","container":"web-1","engine":"runc","type":"module_load","syscall":"init_module","action":"log","outcome":"refused"}'
		echo "{\"time\":\"2026-01-01T00:00:02Z\",\"container\":\"\$(touch $T/pwned)\",\"type\":\"module_load\"}"
		echo '{"time":"2026-01-01T00:00:03Z","container":"db.2","engine":"crun","type":"module_load","action":"log","outcome":"refused"}'
	} >"$T/events.jsonl"
	"$SBX" events --json | grep -q web-1
	[ "$(comp sbx events '' | tr '\n' ' ')" = "db.2 web-1 " ]
	[ "$(comp sbx events --json w)" = web-1 ]
	[ ! -e "$T/pwned" ]
	# No journal: no ids, no error.
	rm "$T/events.jsonl"
	[ -z "$(comp sbx events '')" ]
}

@test "make install puts the completion where bash-completion loads it on demand" {
	make -C "$REPO" -s install DESTDIR="$T/dest" PREFIX=/usr >/dev/null
	cmp "$REPO/completion/sbx.bash" "$T/dest/usr/share/bash-completion/completions/sbx"
	run env XDG_DATA_DIRS="$T/dest/usr/share" BASH_COMPLETION_USER_DIR="$T/none" bash --norc --noprofile -c \
		'. /usr/share/bash-completion/bash_completion; __load_completion sbx && complete -p sbx'
	[ "$status" -eq 0 ]
	[ "$output" = "complete -F _sbx sbx" ]
}
