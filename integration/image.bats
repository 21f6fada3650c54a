#!/usr/bin/env bats
# image.bats - `sbx run --image` against hostile images: nothing privileged lands in the cache, the cache is root's
# alone, nothing outside the tree is written or removed, and a failed unpack leaves nothing.

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
	"$REPO/hack/prepare-host.sh" >/dev/null
}

setup() {
	RT=$(mktemp -d /tmp/sbx-image.XXXXXX)
	export SBX_STATE_DIR="$RT/state" SBX_IMAGE_CACHE="$RT/cache"
	echo '{"watcher": {"enabled": false}}' >"$RT/sbx.json"
	export SBX_CONFIG="$RT/sbx.json"
	unset SBX_RUNTIME
	mkdir -p "$RT/outside"
	RACER=
	DEFAULT_ENTRY=
}

teardown() {
	[ -z "$RACER" ] || kill "$RACER" 2>/dev/null || true
	[ -z "$DEFAULT_ENTRY" ] || rm -rf "/var/cache/sbx/images/$DEFAULT_ENTRY"
	rm -rf "$RT"
}

# mktar OUT SPEC...: a tar built with python's tarfile from SPECs "type:name[:arg[:mode]]": f (file, ARG its
# content), bb (busybox), d (directory), l (symlink to ARG), h (hard link to ARG), c (char device 1:3), p (FIFO).
mktar() {
	python3 - "$@" <<-'EOF'
		import io, sys, tarfile
		out, specs = sys.argv[1], sys.argv[2:]
		with tarfile.open(out, "w:gz" if out.endswith(".gz") else "w", format=tarfile.PAX_FORMAT) as t:
		    for s in specs:
		        kind, name, *rest = s.split(":")
		        arg = rest[0] if rest else ""
		        i = tarfile.TarInfo(name)
		        i.mode = int(rest[1], 8) if len(rest) > 1 else 0o755
		        data = None
		        if kind == "f":
		            data = arg.encode()
		        elif kind == "bb":
		            data = open("/bin/busybox", "rb").read()
		        elif kind == "d":
		            i.type = tarfile.DIRTYPE
		        elif kind == "l":
		            i.type, i.linkname = tarfile.SYMTYPE, arg
		        elif kind == "h":
		            i.type, i.linkname = tarfile.LNKTYPE, arg
		        elif kind == "c":
		            i.type, i.devmajor, i.devminor = tarfile.CHRTYPE, 1, 3
		        elif kind == "p":
		            i.type = tarfile.FIFOTYPE
		        if data is not None:
		            i.size = len(data)
		        t.addfile(i, io.BytesIO(data) if data is not None else None)
	EOF
}

# A busybox root: sh and ls work in it.
BASE=(bb:bin/busybox l:bin/sh:busybox l:bin/ls:busybox l:bin/stat:busybox l:bin/cat:busybox l:bin/true:busybox)

@test "image: a setuid-root binary is not setuid in the cache; device nodes and FIFOs are left out, with a note" {
	mktar "$RT/img.tar" "${BASE[@]}" bb:bin/suid::4755 bb:bin/sgid::2755 c:dev/mem::666 p:run/fifo::666
	run "$SBX" run --image "$RT/img.tar" -- sh -c 'ls /bin/suid && stat -c %a /bin/suid'
	show
	[ "$status" -eq 0 ]
	expect_line 755
	[[ "$output" == *"2 device nodes, FIFOs or sockets left out; setuid/setgid bits dropped from 2 files"* ]]
	[ -f "$RT/cache/rootfs-$(sha256sum "$RT/img.tar" | cut -d' ' -f1)/rootfs/bin/suid" ]
	[ -z "$(find "$RT/cache" -perm /6000)" ]
	[ -z "$(find "$RT/cache" -type c -o -type b -o -type p -o -type s)" ]
}

@test "image: an unprivileged user cannot traverse the cache, however an older sbx made it" {
	# World-traversable parents, and a cache left 0755/0711 by an older sbx.
	chmod 755 "$RT"
	mkdir -m 755 "$RT/cache"
	mktar "$RT/img.tar" "${BASE[@]}" bb:bin/suid::4755
	run "$SBX" run --image "$RT/img.tar" -- true
	show
	[ "$status" -eq 0 ]
	[ "$(stat -c %a "$RT/cache")" = 700 ]
	entry=$(ls "$RT/cache")
	[ "$(stat -c %a "$RT/cache/$entry")" = 700 ]
	run setpriv --reuid=nobody --regid=nogroup --clear-groups ls "$RT/cache"
	[ "$status" -ne 0 ]
	run -127 setpriv --reuid=nobody --regid=nogroup --clear-groups "$RT/cache/$entry/rootfs/bin/suid" true
	# The default cache, /var/cache/sbx, from its top.
	if [ -e /var/cache/sbx ] && [ "$(stat -c %u /var/cache/sbx)" != 0 ]; then
		skip "/var/cache/sbx on this host is not root's"
	fi
	mkdir -p /var/cache/sbx && chmod 755 /var/cache/sbx
	DEFAULT_ENTRY=$entry
	SBX_IMAGE_CACHE= run "$SBX" run --image "$RT/img.tar" -- true
	show
	[ "$status" -eq 0 ]
	[ "$(stat -c %a /var/cache/sbx)" = 700 ]
	[ "$(stat -c %a /var/cache/sbx/images)" = 700 ]
	run setpriv --reuid=nobody --regid=nogroup --clear-groups ls /var/cache/sbx
	[ "$status" -ne 0 ]
}

@test "image: a cache that is a symlink or not root's is refused" {
	mkdir -p "$RT/real"
	ln -s "$RT/real" "$RT/cache"
	mktar "$RT/img.tar" "${BASE[@]}"
	run "$SBX" run --image "$RT/img.tar" -- true
	show
	[ "$status" -eq 125 ]
	[[ "$output" == *"is a symlink: refused"* ]]
	[ -z "$(ls -A "$RT/real")" ]
	rm "$RT/cache"
	mkdir "$RT/cache"
	chown nobody "$RT/cache"
	run "$SBX" run --image "$RT/img.tar" -- true
	[ "$status" -eq 125 ]
	[[ "$output" == *"not root: refused"* ]]
}

@test "image: names that climb, absolute names, entries below symlinks and hard links write nothing outside" {
	local o=$RT/outside
	echo secret >"$o/victim"
	for spec in "f:../../../../../..$o/climb:x" "f:a/../../../../../../..$o/climb:x" "l:evil:$o f:evil/pwned:x" \
		"l:up:../../../../../../.. f:up$o/pwned:x" "h:hl:$o/victim" "l:lnk:$o h:hl:lnk/victim" \
		"l:victim-link:$o/victim f:victim-link:pwned"; do
		# shellcheck disable=SC2086
		mktar "$RT/evil.tar" "${BASE[@]}" $spec
		run "$SBX" run --image "$RT/evil.tar" -- true
		echo "# $spec: status $status: ${output:0:200}" >&3
		[ "$(ls -A "$o")" = victim ]
		[ "$(cat "$o/victim")" = secret ]
		[ "$(stat -c %h "$o/victim")" = 1 ]
		[ -z "$(ls -A "$RT/cache" | grep -v '^rootfs-')" ]
	done
	# An absolute name lands inside the image's root (not under /tmp: the sandbox's /tmp is its own).
	mktar "$RT/abs.tar" "${BASE[@]}" "f:/sbx-image-test-$$/abs:inside"
	run "$SBX" run --image "$RT/abs.tar" -- cat "/sbx-image-test-$$/abs"
	show
	[ "$status" -eq 0 ]
	[ "$output" = inside ]
	[ ! -e "/sbx-image-test-$$" ]
}

@test "image: OCI layouts with hostile digests and whiteouts reach nothing outside" {
	local o=$RT/oci
	mkdir -p "$o/blobs/sha256"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$o/oci-layout"
	for d in "sha256:../../../../etc/passwd" "sha256:$(printf 'a%.0s' {1..63})/" "sha512:$(printf 'a%.0s' {1..128})"; do
		jq -n --arg d "$d" '{schemaVersion: 2, manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json",
			digest: $d, size: 1}]}' >"$o/index.json"
		run -125 "$SBX" run --image "$o" -- true
		show
		[[ "$output" == *"no manifest for linux/amd64 with a sha256 digest"* ]]
	done
	# A layer whose whiteouts aim through a symlink of a lower layer at the host.
	echo keep >"$RT/outside/keep"
	mktar "$RT/l1.tar" "${BASE[@]}" "l:lnk:$RT/outside"
	mktar "$RT/l2.tar" "f:lnk/.wh.keep:" "f:lnk/.wh..wh..opq:" "f:.wh.bin:"
	l1=$(sha256sum "$RT/l1.tar" | cut -d' ' -f1) l2=$(sha256sum "$RT/l2.tar" | cut -d' ' -f1)
	cp "$RT/l1.tar" "$o/blobs/sha256/$l1"
	cp "$RT/l2.tar" "$o/blobs/sha256/$l2"
	jq -n --arg a "sha256:$l1" --arg b "sha256:$l2" '{schemaVersion: 2, layers: [{digest: $a}, {digest: $b}]}' \
		>"$RT/manifest.json"
	m=$(sha256sum "$RT/manifest.json" | cut -d' ' -f1)
	cp "$RT/manifest.json" "$o/blobs/sha256/$m"
	jq -n --arg d "sha256:$m" '{schemaVersion: 2, manifests: [{digest: $d}]}' >"$o/index.json"
	run -127 "$SBX" run --image "$o" -- true
	show
	# .wh.bin removed the image's own /bin: the command cannot be found, and that is all.
	[ "$status" -eq 127 ]
	[[ "$output" == *"true: command not found"* ]]
	[ "$(cat "$RT/outside/keep")" = keep ]
}

@test "image: a failed unpack leaves nothing, and bounds are enforced with a clear error" {
	local deep
	mktar "$RT/img.tar.gz" "${BASE[@]}" f:etc/a:1 f:etc/b:2
	head -c 3000 "$RT/img.tar.gz" >"$RT/truncated.tar.gz"
	run "$SBX" run --image "$RT/truncated.tar.gz" -- true
	show
	[ "$status" -eq 125 ]
	[ -z "$(ls -A "$RT/cache")" ]
	deep=$(printf 'd/%.0s' {1..300})f
	mktar "$RT/deep.tar" "${BASE[@]}" "f:$deep:x"
	run "$SBX" run --image "$RT/deep.tar" -- true
	show
	[ "$status" -eq 125 ]
	[[ "$output" == *"deeper than 256 levels"* ]]
	[ -z "$(ls -A "$RT/cache")" ]
	# Half unpacked when it fails: all of it goes.
	mktar "$RT/late.tar" "${BASE[@]}" f:etc/a:1 d:var d:var/lib f:var/lib/x:2 h:zz:no-such-target
	run "$SBX" run --image "$RT/late.tar" -- true
	show
	[ "$status" -eq 125 ]
	[[ "$output" == *"hard link zz: target no-such-target: No such file or directory"* ]]
	[ -z "$(ls -A "$RT/cache")" ]
}

@test "image: a symlink swapped in during the removal of a failed unpack deletes nothing outside" {
	local i n=40 f=60 specs=()
	for i in $(seq 0 $((f - 1))); do : >"$RT/outside/f$i"; done
	for i in $(seq 0 $((n - 1))); do
		for j in $(seq 0 $((f - 1))); do specs+=("f:d$i/f$j:x"); done
	done
	# Everything unpacks, then the last entry (a hard link to nothing) fails it: the tree is removed while the racer
	# swaps its directories for symlinks to a host directory holding files of the same names.
	mktar "$RT/big.tar" "${BASE[@]}" "${specs[@]}" "h:zz:no-such-target"
	python3 - "$RT/cache" "$RT/outside" <<-'EOF' &
		import glob, os, sys, time
		cache, victim = sys.argv[1], sys.argv[2]
		end = time.time() + 60
		while time.time() < end:
		    # Swap only once the unpack is about to fail (its last directory is there): the removal is what is raced.
		    if not glob.glob(cache + "/.tmp-*/rootfs/d39/f59"):
		        continue
		    for d in glob.glob(cache + "/.tmp-*/rootfs/d*[0-9]"):
		        try:
		            os.rename(d, d + ".s")
		        except OSError:
		            continue
		        try:
		            os.symlink(victim, d)
		            time.sleep(0.001)
		            os.unlink(d)
		        except OSError:
		            pass
		        try:
		            os.rename(d + ".s", d)
		        except OSError:
		            pass
	EOF
	RACER=$!
	for i in 1 2 3 4 5; do
		run "$SBX" run --image "$RT/big.tar" -- true
		[ "$status" -eq 125 ]
		[ "$(ls "$RT/outside" | wc -l)" = "$f" ]
	done
	kill "$RACER"
	RACER=
	[ "$(ls "$RT/outside" | wc -l)" = "$f" ]
}

@test "image: with --userns the sandbox's root still reaches an image in the 0700 cache" {
	chmod 711 "$RT"
	mktar "$RT/img.tar" "${BASE[@]}" f:etc/hello:hi
	run "$SBX" run --userns --image "$RT/img.tar" -- cat /etc/hello
	show
	[ "$status" -eq 0 ]
	[ "$output" = hi ]
}
