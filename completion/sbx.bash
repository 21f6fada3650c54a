# bash completion for sbx(1)                                              -*- shell-script -*-
# Installed as $(PREFIX)/share/bash-completion/completions/sbx.  Subcommands and options mirror `sbx --help` and
# `sbx CMD --help`: integration/completion.bats fails when one of them is not completed here.  Profile names
# come from `sbx profile list`, container ids from the journal (`sbx events --json`).

_sbx_cmds=(install uninstall version run profile watch events metrics doctor)
_sbx_run_opts=(--rootfs --image --entrypoint --profile --net --ro-bind --bind --bind-cwd --tmpfs -e --env -u --user --hostname
	-w --cwd -m --memory --pids --cpus --cap-add --cap-drop --userns --on-violation --json)
# Options of sbx run that take a value (two for the binds), to find where the sandbox's command starts.
_sbx_run_valued=(--rootfs --image --entrypoint --profile --net --tmpfs -e --env -u --user --hostname -w --cwd -m --memory --pids
	--cpus --cap-add --cap-drop --on-violation)
_sbx_install_opts=(--dry-run --root --config --runtime-path --name)
_sbx_watch_opts=(-d --daemon --mode --idle-exit --status --stop --restart --unpin)
_sbx_events_opts=(-f --follow --json)
_sbx_metrics_opts=(--textfile)
_sbx_doctor_host_opts=(--json --fail-on= --baseline --root --no-probe -v --verbose)
_sbx_profile_cmds=(list show check compile diff learn)
_sbx_caps=(ALL CAP_AUDIT_CONTROL CAP_AUDIT_READ CAP_AUDIT_WRITE CAP_BLOCK_SUSPEND CAP_BPF CAP_CHECKPOINT_RESTORE
	CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_FSETID CAP_IPC_LOCK CAP_IPC_OWNER CAP_KILL
	CAP_LEASE CAP_LINUX_IMMUTABLE CAP_MAC_ADMIN CAP_MAC_OVERRIDE CAP_MKNOD CAP_NET_ADMIN CAP_NET_BIND_SERVICE
	CAP_NET_BROADCAST CAP_NET_RAW CAP_PERFMON CAP_SETFCAP CAP_SETGID CAP_SETPCAP CAP_SETUID CAP_SYSLOG
	CAP_SYS_ADMIN CAP_SYS_BOOT CAP_SYS_CHROOT CAP_SYS_NICE CAP_SYS_PACCT CAP_SYS_PTRACE CAP_SYS_RAWIO
	CAP_SYS_RESOURCE CAP_SYS_TIME CAP_SYS_TTY_CONFIG CAP_WAKE_ALARM)

# _sbx_add WORD...: add to COMPREPLY the words that start with $cur.  No compgen -W: the words may come from
# files (profile names, the journal), and compgen would expand $(...) in them.
_sbx_add() {
	local w
	for w in "$@"; do
		[[ $w == "$cur"* ]] && COMPREPLY+=("$w")
	done
}

# The sbx being completed (the command word as typed), so a ./bin/sbx completes against itself.
_sbx_bin() {
	local b=${words[0]}
	[[ $b == */* ]] || b=$(type -P -- "$b" 2>/dev/null) || b=sbx
	printf '%s' "$b"
}

_sbx_profiles() {
	local name _
	while read -r name _; do
		[[ $name =~ ^[A-Za-z0-9_.+-]+$ ]] && _sbx_add "$name"
	done < <("$(_sbx_bin)" profile list 2>/dev/null)
}

# Container ids of the journal, each once; only ids as runc allows them.
_sbx_ids() {
	local id
	while read -r id; do
		[[ $id =~ ^[A-Za-z0-9_.+-]+$ ]] && _sbx_add "$id"
	done < <("$(_sbx_bin)" events --json 2>/dev/null | sed -n 's/.*"container": *"\([^"\\]*\)".*/\1/p' | sort -u)
}

# _sbx_opts OPTION...: _sbx_add, and no space after an option that ends in "=" (its value follows).
_sbx_opts() {
	_sbx_add "$@"
	if [[ ${COMPREPLY[*]} == *= ]]; then compopt -o nospace; fi
}

_sbx_run() {
	case $prev in
	--rootfs | -w | --cwd) _filedir -d; return ;;
	--image | --ro-bind | --bind) _filedir; return ;;
	--profile) _sbx_profiles; _filedir json; return ;;
	--net) _sbx_add none host; return ;;
	-e | --env) mapfile -t envs < <(compgen -e); _sbx_add "${envs[@]}"; return ;;
	--cap-add | --cap-drop) _sbx_add "${_sbx_caps[@]}"; return ;;
	--on-violation) _sbx_add log freeze kill; return ;;
	--tmpfs | -u | --user | --hostname | -m | --memory | --pids | --cpus) return ;;
	esac
	# Once the sandbox's command has started (after "--" or the first word that is no option or its value),
	# complete it as a command line of its own.
	local i=2 skip=0 start="" v envs
	while ((i < cword)); do
		if ((skip > 0)); then
			((skip--, i++))
			continue
		fi
		case ${words[i]} in
		--) start=$((i + 1)); break ;;
		--ro-bind | --bind) skip=2 ;;
		-*) for v in "${_sbx_run_valued[@]}"; do [[ $v == "${words[i]}" ]] && skip=1; done ;;
		*) start=$i; break ;;
		esac
		((i++))
	done
	if [[ -n $start ]]; then
		_command_offset "$start"
	elif [[ -z $cur || $cur == -* ]]; then
		_sbx_opts "${_sbx_run_opts[@]}"
		_sbx_add --
	else
		_command_offset "$cword"
	fi
}

_sbx_profile() {
	local sub=${words[2]:-}
	if ((cword == 2)); then
		_sbx_add "${_sbx_profile_cmds[@]}"
		return
	fi
	case $prev in
	--base) _sbx_profiles; return ;;
	-o) _filedir; return ;;
	--caps) _sbx_add "${_sbx_caps[@]}"; return ;;
	esac
	if [[ $cur == -* ]]; then
		case $sub in
		show) _sbx_add --caps --raw ;;
		check | diff) _sbx_add --caps ;;
		compile) _sbx_add --disasm -o --caps ;;
		learn) _sbx_add --base -o ;;
		esac
	else
		case $sub in
		show | compile | diff) _sbx_profiles ;;
		check) if ((cword == 3)); then _sbx_profiles; fi ;;
		learn) _filedir -d ;;
		esac
	fi
}

_sbx_doctor() {
	local w host=
	for w in "${words[@]:2:cword-2}"; do
		[[ $w == --host ]] && host=1
	done
	if [[ -z $host ]]; then
		((cword == 2)) && _sbx_add --host
		return
	fi
	case $prev in
	--fail-on) _sbx_add ok info low medium high critical; return ;;
	--baseline) _filedir json; return ;;
	--root) _filedir -d; return ;;
	esac
	_sbx_opts "${_sbx_doctor_host_opts[@]}"
}

_sbx() {
	local cur prev words cword split
	_init_completion -s || return
	: "$split" # set by _init_completion -s: "--opt=value" is split into prev and cur

	if ((cword == 1)); then
		_sbx_add "${_sbx_cmds[@]}"
		if [[ $cur == -* ]]; then _sbx_add --help --version; fi
		return
	fi
	case ${words[1]} in
	run) _sbx_run ;;
	profile) _sbx_profile ;;
	doctor) _sbx_doctor ;;
	install | uninstall)
		case $prev in
		--root) _filedir -d ;;
		--config | --runtime-path) _filedir ;;
		--name) ;;
		*) if [[ $cur == -* ]]; then _sbx_opts "${_sbx_install_opts[@]}"; else _sbx_add docker podman containerd crio; fi ;;
		esac
		;;
	watch)
		case $prev in
		--mode) _sbx_add default syscalls ;;
		--idle-exit) ;;
		*) _sbx_opts "${_sbx_watch_opts[@]}" ;;
		esac
		;;
	events) if [[ $cur == -* ]]; then _sbx_opts "${_sbx_events_opts[@]}"; else _sbx_ids; fi ;;
	metrics) if [[ $prev == --textfile ]]; then _filedir; else _sbx_opts "${_sbx_metrics_opts[@]}"; fi ;;
	esac
	return 0
}
complete -F _sbx sbx
