#!/usr/bin/env bats
# run_paths.bats - `sbx run` does not depend on where the project is (the demo from a clone under /tmp), says so
# when a path it was given is hidden by its own fresh mounts, and applies an image's config as `docker run` does
# (Entrypoint, Cmd, Env, User, WorkingDir).

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
	"$REPO/hack/prepare-host.sh" >/dev/null
}

setup() {
	RT=$(mktemp -d /tmp/sbx-paths.XXXXXX)
	export SBX_STATE_DIR="$RT/state" SBX_IMAGE_CACHE="$RT/cache"
	echo '{"watcher": {"enabled": false}}' >"$RT/sbx.json"
	export SBX_CONFIG="$RT/sbx.json"
	unset SBX_RUNTIME
}

teardown() {
	rm -rf "$RT"
}

# mklayout DIR CONFIG [SPEC...]: an OCI image layout at DIR whose one layer holds busybox (sh, echo, id, pwd, cat),
# /etc/passwd, /etc/group, /work and SPECs ("f:name:content" files, "l:name:target" symlinks), and whose config
# blob is CONFIG (JSON text, the whole blob).
mklayout() {
	python3 - "$@" <<-'EOF'
		import hashlib, io, json, os, sys, tarfile
		out, config, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
		os.makedirs(out + "/blobs/sha256")
		def blob(data):
		    d = hashlib.sha256(data).hexdigest()
		    open(out + "/blobs/sha256/" + d, "wb").write(data)
		    return {"mediaType": "application/octet-stream", "digest": "sha256:" + d, "size": len(data)}
		def add(t, name, data=None, kind=None, link="", mode=0o755):
		    i = tarfile.TarInfo(name)
		    i.mode = mode
		    if kind:
		        i.type, i.linkname = kind, link
		    if data is not None:
		        i.size = len(data)
		    t.addfile(i, io.BytesIO(data) if data is not None else None)
		buf = io.BytesIO()
		with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
		    for d in ("bin", "etc", "work", "home", "home/app"):
		        add(t, d, kind=tarfile.DIRTYPE)
		    add(t, "bin/busybox", open("/bin/busybox", "rb").read())
		    for a in ("sh", "echo", "id", "pwd", "cat"):
		        add(t, "bin/" + a, kind=tarfile.SYMTYPE, link="busybox")
		    names = [s.split(":", 2)[1] for s in specs]
		    if "etc/passwd" not in names:
		        add(t, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\napp:x:1234:2345:app:/home/app:/bin/sh\n", mode=0o644)
		    if "etc/group" not in names:
		        add(t, "etc/group", b"root:x:0:\napp:x:2345:\nstaff:x:777:app\n", mode=0o644)
		    for s in specs:
		        kind, name, arg = s.split(":", 2)
		        if kind == "f":
		            add(t, name, arg.encode(), mode=0o644)
		        else:
		            add(t, name, kind=tarfile.SYMTYPE, link=arg)
		layer = blob(buf.getvalue())
		cfg = blob(config.encode())
		manifest = blob(json.dumps({"schemaVersion": 2, "config": cfg, "layers": [layer]}).encode())
		manifest["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
		json.dump({"schemaVersion": 2, "manifests": [manifest]}, open(out + "/index.json", "w"))
		json.dump({"imageLayoutVersion": "1.0.0"}, open(out + "/oci-layout", "w"))
	EOF
}

# ---- the project anywhere ----

@test "paths: the demo works from a clone under /tmp (step 4 binds the probe in)" {
	local clone=$RT/clone
	# What a clone holds that the demo uses: its scripts, its binaries and the probe, at a path under /tmp.
	mkdir -p "$clone/build"
	cp -a "$REPO/hack" "$REPO/bin" "$clone/"
	cp "$REPO/build/sbx-probe" "$clone/build/"
	run bounded 120 "$clone/hack/demo.sh"
	show
	[ "$status" -eq 0 ]
	# Step 4 (sbx run, no engine) ran the probe: its three refusals follow the step's title.
	step4=$(sed -n '/4\. No engine at all/,/5\. What the watcher/p' <<<"$output")
	[ "$(grep -c ' 1 EPERM$' <<<"$step4")" -eq 3 ]
	[[ "$output" != *"not found"* ]]
}

@test "paths: a command or --cwd hidden by sbx run's own fresh mounts is a clear error naming the mount" {
	mkdir -p "$RT/x"
	cp "$REPO/build/sbx-probe" "$RT/x/prog"
	run -127 bounded 30 "$SBX" run -- "$RT/x/prog" modules
	show
	[ "$output" = "sbx run: $RT/x/prog: hidden in the sandbox by its fresh /tmp (sbx run mounts its own /tmp over the root's); bring it in with --ro-bind $RT/x/prog $RT/x/prog (or another DST)" ]
	# Not on the host either: still the fresh mount that is named.
	run -127 bounded 30 "$SBX" run -- /run/sbx-no-such-dir/prog
	show
	[[ "$output" == *"/run/sbx-no-such-dir/prog: command not found in the sandbox: its /run is a fresh, empty mount"* ]]
	run -125 bounded 30 "$SBX" run --cwd "$RT/x" -- true
	show
	[ "$output" = "sbx run: --cwd $RT/x: hidden in the sandbox by its fresh /tmp (sbx run mounts its own /tmp over the root's); bring it in with --bind $RT/x $RT/x (or --bind-cwd)" ]
	# The way out the message gives works: the same path, bound in.
	run -0 bounded 30 "$SBX" run --ro-bind "$RT/x/prog" "$RT/x/prog" -- "$RT/x/prog" modules
	show
	[ "$(grep -c ' 1 EPERM$' <<<"$output")" -eq 3 ]
	run -0 bounded 30 "$SBX" run --bind "$RT/x" "$RT/x" --cwd "$RT/x" -- sh -c 'pwd; ls'
	[ "$output" = "$RT/x"$'\n'"prog" ]
	# The fresh mount itself is a fine working directory, and one below it that exists nowhere is made there.
	run -0 bounded 30 "$SBX" run --cwd /tmp -- pwd
	[ "$output" = /tmp ]
}

# ---- images as docker run runs them ----

@test "paths: an image's Entrypoint and Cmd run; the command line replaces Cmd, --entrypoint replaces both" {
	mklayout "$RT/img" '{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/bin/echo","ep"],"Cmd":["c1","c2"],"Healthcheck":{"Test":["NONE"]},"Unknown":1}}'
	run -0 bounded 60 "$SBX" run --image "$RT/img"
	show
	[ "$output" = "ep c1 c2" ]
	run -0 bounded 30 "$SBX" run --image "$RT/img" -- x "y z"
	[ "$output" = "ep x y z" ]
	run -0 bounded 30 "$SBX" run --image "$RT/img" --entrypoint /bin/sh -- -c 'echo "sh $0"' arg0
	[ "$output" = "sh arg0" ]
	# --entrypoint "" drops the image's Entrypoint (and Cmd): the command line is all.
	run -0 bounded 30 "$SBX" run --image "$RT/img" --entrypoint "" -- echo plain
	[ "$output" = "plain" ]
	# A string Cmd, as docker's strslice reads it; no Entrypoint.
	mklayout "$RT/img2" '{"config":{"Cmd":"/bin/echo"}}'
	run -0 bounded 30 "$SBX" run --image "$RT/img2"
	[ "$output" = "" ]
	# Nothing to run at all: said, exit 125.
	mklayout "$RT/img3" '{"config":{}}'
	run -125 bounded 30 "$SBX" run --image "$RT/img3"
	show
	[[ "$output" == *"no command given, and the image's config has no Entrypoint or Cmd"* ]]
}

@test "paths: an image's Env, User and WorkingDir apply; --env, --user and --cwd win" {
	local show_all='echo "$FOO $BAR $HOME"; id -u; id -G; pwd'
	mklayout "$RT/img" "$(jq -nc --arg c "$show_all" '{config: {Env: ["FOO=img", "BAR=img", "PATH=/bin"],
		User: "app", WorkingDir: "/work", Cmd: ["sh", "-c", $c]}}')"
	run -0 bounded 60 "$SBX" run --image "$RT/img" -e BAR=cli
	show
	# Supplementary groups too: those of /etc/group that list "app" (staff), as docker gives them.
	[ "$output" = "img cli /home/app"$'\n'"1234"$'\n'"2345 777"$'\n'"/work" ]
	run -0 bounded 30 "$SBX" run --image "$RT/img" --user 7:8 --cwd / -e HOME=/h -- sh -c "$show_all"
	[ "$output" = "img img /h"$'\n'"7"$'\n'"8"$'\n'"/" ]
	# name:group and uid forms, resolved in the image's /etc/passwd and /etc/group.
	for u in 'app:staff|1234 777' '4321|4321 0' '1234:55|1234 55'; do
		mklayout "$RT/u" "$(jq -nc --arg u "${u%|*}" '{config: {User: $u, Cmd: ["sh", "-c", "echo $(id -u) $(id -g)"]}}')"
		run -0 bounded 30 "$SBX" run --image "$RT/u"
		show
		[ "$output" = "${u#*|}" ]
		rm -rf "$RT/u"
	done
}

@test "paths: an image's User is resolved inside the image only, and a hostile config is refused clearly" {
	# The image's /etc/passwd is a symlink to a host file naming "evil" as root: it resolves inside the tree,
	# where that file does not exist, so "evil" is no one.
	printf 'evil:x:0:0::/:/bin/sh\n' >"$RT/hostpasswd"
	mklayout "$RT/img" '{"config":{"User":"evil","Cmd":["id","-u"]}}' "l:etc/passwd:$RT/hostpasswd"
	run -125 bounded 60 "$SBX" run --image "$RT/img"
	show
	[[ "$output" == *'User "evil": no such user in the image'"'"'s /etc/passwd'* ]]
	rm -rf "$RT/img"
	mklayout "$RT/img" '{"config":{"User":"nobody2","Cmd":["true"]}}'
	run -125 bounded 30 "$SBX" run --image "$RT/img"
	[[ "$output" == *'User "nobody2": no such user'* ]]
	for bad in '{"config":{"Cmd":5}}|Cmd: expected a list of strings' \
		'{"config":{"Env":["NOEQUALS"]}}|Env entry 0: expected KEY=VALUE' \
		'{"config":{"WorkingDir":"rel/dir"}}|WorkingDir: not an absolute path' \
		'{"config":"x"}|"config" is not an object' \
		'{"config":{"User":["root"]}}|User: expected a string'; do
		rm -rf "$RT/img"
		mklayout "$RT/img" "${bad%%|*}"
		run -125 bounded 30 "$SBX" run --image "$RT/img" -- true
		show
		[[ "$output" == *"${bad#*|}"* ]]
	done
}
