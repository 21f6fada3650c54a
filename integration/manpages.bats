#!/usr/bin/env bats
# manpages.bats - the man pages (docs/man/*.scd, rendered by `make man`) render without a groff warning and cannot
# drift from the binaries: every subcommand and option `sbx --help` / `sbx CMD --help` print is documented in
# sbx(1) and every option documented there is in --help; sbx-runtime(8) names exactly the global flags sbx-runtime
# parses and every flag it accepts; sbx.json(5) has a term for each setting of the table in common/settings.c.

load helpers

MAN="$REPO/build/man"

setup_file() {
	make -C "$REPO" -s man >/dev/null
}

setup() {
	T=$(mktemp -d /tmp/sbx-test.XXXXXX)
	# Private settings: nothing the host's /etc/sbx/sbx.json says changes what --help prints.
	echo '{}' >"$T/sbx.json"
	export SBX_CONFIG="$T/sbx.json" SBX_STATE_DIR="$T/state"
}

teardown() {
	rm -rf "$T"
}

# render PAGE: plain text, one line per paragraph line, no hyphenation, no bold/underline sequences.
render() {
	groff -ww -man -Tutf8 -P-cbou -rLL=1000n -rHY=0 "$1"
}

# help_opts: the options named in --help text on stdin (--help/-h itself left out), one a line, sorted.
help_opts() {
	grep -oE '(^|[][ |,(])--?[a-z][a-z-]*' | sed 's/^[][ |,(]//' | grep -vxE -- '--help|-h' | sort -u
}

# man_cmds SCD: the subcommands sbx(1) has a section "## sbx NAME[, sbx NAME]" for.
man_cmds() {
	sed -n 's/^## //p' "$1" | tr ',' '\n' | sed -n 's/^ *sbx \([a-z-]*\)$/\1/p' | sort -u
}

# man_opts SCD CMD: the options sbx(1) documents for CMD: the terms (lines starting "*-") of its section.
man_opts() {
	awk -v cmd="sbx $2" '
		/^#/ { on = 0 }
		/^## / { n = split(substr($0, 4), h, /, */); for (i = 1; i <= n; i++) if (h[i] == cmd) on = 1 }
		on && /^\*-/ { print }' "$1" | grep -oE '\*--?[a-z][a-z-]*' | tr -d '*' | sort -u
}

# cmd_help CMD: everything `sbx CMD --help` prints (stdout and stderr: some print their usage on stderr);
# `sbx doctor --host` has its own options and usage.
cmd_help() {
	"$SBX" "$1" --help 2>&1 || true
	if [ "$1" = doctor ]; then "$SBX" doctor --host --help 2>&1 || true; fi
}

# same WHAT A B: A and B (sorted lists) are equal, else print what is only in one of them and fail.
same() {
	local only_a only_b
	only_a=$(comm -23 <(echo "$2") <(echo "$3"))
	only_b=$(comm -13 <(echo "$2") <(echo "$3"))
	if [ -n "$only_a$only_b" ]; then
		echo "$1: only in the binary: ${only_a:-none}; only in the man page: ${only_b:-none}"
		return 1
	fi
}

@test "make man renders sbx(1), sbx-runtime(8) and sbx.json(5) without a groff warning" {
	local p out
	for p in sbx.1 sbx-runtime.8 sbx.json.5; do
		[ -s "$MAN/$p" ]
		out=$(groff -ww -z -man -Tutf8 "$MAN/$p" 2>&1)
		[ -z "$out" ] || { echo "$p: $out"; false; }
		out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$MAN/$p" 2>&1 >/dev/null)
		[ -z "$out" ] || { echo "$p (man): $out"; false; }
	done
	# The name each page declares is the file's.
	grep -q '^\.TH "sbx" "1"' "$MAN/sbx.1"
	grep -q '^\.TH "sbx-runtime" "8"' "$MAN/sbx-runtime.8"
	grep -q '^\.TH "sbx.json" "5"' "$MAN/sbx.json.5"
}

@test "sbx(1) has a section for exactly the subcommands sbx --help lists" {
	local bin doc
	bin=$("$SBX" --help | sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p' | sort -u)
	[ "$(echo "$bin" | wc -l)" -ge 8 ]
	doc=$(man_cmds "$REPO/docs/man/sbx.1.scd")
	same "subcommands" "$bin" "$doc"
	for c in $bin; do render "$MAN/sbx.1" | grep -qE "^ +sbx $c( |,|$)" || { echo "sbx.1 renders no 'sbx $c'"; false; }; done
}

@test "sbx(1) documents every option of each subcommand's --help, and no option --help does not print" {
	local c bin doc text n=0
	text=$(render "$MAN/sbx.1")
	for c in $("$SBX" --help | sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p'); do
		bin=$(cmd_help "$c" | help_opts)
		doc=$(man_opts "$REPO/docs/man/sbx.1.scd" "$c")
		same "sbx $c" "$bin" "$doc"
		for o in $doc; do
			grep -qE -- "(^| )$o( |=|,|$)" <<<"$text" || { echo "sbx.1 renders no $o for sbx $c"; false; }
			n=$((n + 1))
		done
	done
	# The check saw the options (a broken extraction would compare two empty lists).
	[ "$n" -ge 45 ]
}

@test "sbx-runtime(8) lists exactly the global flags sbx-runtime parses, and every create/run/exec flag it accepts" {
	local bin doc text f n=0
	# The global tables of both delegates (shim/args_tables.c), less the options sbx refuses (SBX_F_REFUSE).
	bin=$(sed -n '/^static const struct sbx_flag \(runc\|crun\)_global\[\] = {/,/^};/p' "$REPO/shim/args_tables.c" |
		grep -v SBX_F_REFUSE | grep -oE '(F \(|\{ )"[a-z-]+"' | grep -oE '"[a-z-]+"' | tr -d '"' | sed 's/^/--/' | sort -u)
	[ "$(echo "$bin" | wc -l)" -ge 9 ]
	doc=$(awk '/^# / { on = ($0 == "# GLOBAL OPTIONS") } on && /^\*-/' "$REPO/docs/man/sbx-runtime.8.scd" |
		grep -oE '\*--?[a-z][a-z-]*' | tr -d '*' | sort -u)
	same "sbx-runtime global flags" "$bin" "$doc"
	text=$(render "$MAN/sbx-runtime.8")
	# Every flag of the create, run and exec tables (long and short), and every command sbx-runtime acts on.
	for f in $(sed -n '/^static const struct sbx_flag \(runc\|crun\)_\(create\|run\|exec\)\[\]/,/^};/p; /^#define \(RUNC\|CRUN\)_CREATE/,/[^\\]$/p' \
		"$REPO/shim/args_tables.c" | grep -oE "FS? \(\"[a-z-]+\"(, '.')?" | sed -E "s/FS? \(\"([a-z-]+)\"(, '(.)')?/--\1 -\3/; s/ -$//"); do
		grep -qE -- "(^| )$f(,|\\.| |/|$)" <<<"$text" || { echo "sbx-runtime.8 does not name $f"; false; }
		n=$((n + 1))
	done
	[ "$n" -ge 35 ]
	# The subcommands sbx-runtime acts on: the known[] table of sbx_argv_parse.
	n=0
	for f in $(sed -n '/} known\[\] = {/,/};/p' "$REPO/shim/args.c" | grep -oE '\{ "[a-z]+", SBX_CMD_' | grep -oE '"[a-z]+"' | tr -d '"'); do
		n=$((n + 1))
		grep -qE "^ +([a-z, ]+, )?$f(,|$)" <<<"$text" || { echo "sbx-runtime.8 has no entry for the command $f"; false; }
	done
	[ "$n" -ge 6 ]
	"$SBX_RT" --version | grep -q '^sbx-runtime version'
}

@test "sbx.json(5) has a term for each setting of the table in common/settings.c, and no other" {
	local bin doc
	bin=$(grep -oE '^ *\{ "[a-z_.*]+", SBX_CFG_' "$REPO/common/settings.c" | sed -E 's/^ *\{ "([^"]+)".*/\1/' | sort -u)
	[ "$(echo "$bin" | wc -l)" -ge 40 ]
	doc=$(render "$MAN/sbx.json.5" | awk '/^[A-Z]/ { on = ($0 == "SETTINGS") } on' |
		sed -nE 's/^ +([a-z_.*]+) \((string|bool|int|strings), default: .*\)$/\1/p' | sort -u)
	same "settings" "$bin" "$doc"
}

@test "make install puts the pages under PREFIX/share/man, where man finds them" {
	make -C "$REPO" -s install DESTDIR="$T/dest" PREFIX=/usr >/dev/null
	for p in man1/sbx.1 man8/sbx-runtime.8 man5/sbx.json.5; do
		cmp "$MAN/${p#*/}" "$T/dest/usr/share/man/$p"
		[ "$(stat -c %a "$T/dest/usr/share/man/$p")" = 644 ]
	done
	[ "$(MANPATH="$T/dest/usr/share/man" man -w 5 sbx.json)" = "$T/dest/usr/share/man/man5/sbx.json.5" ]
	[ "$(MANPATH="$T/dest/usr/share/man" man -w 8 sbx-runtime)" = "$T/dest/usr/share/man/man8/sbx-runtime.8" ]
	MANPATH="$T/dest/usr/share/man" MANWIDTH=100 man 1 sbx 2>/dev/null | grep -q 'sbx doctor --host'
}
