#!/usr/bin/env bats
# workloads.bats - ordinary programs still run under sbx's default profile: busybox utilities, a shell script with
# files, pipes, signals and background jobs, a loopback TCP server and client, and a Debian rootfs running python3
# and apt-get; an engine profile's own refusal (mkdir) survives sbx.  On runc and on crun.

# The first run builds a Debian rootfs with debootstrap inside a test: a longer bound than helpers.bash's.
: "${BATS_TEST_TIMEOUT:=900}"
load helpers

ROOTFS_CACHE=${SBX_ROOTFS_CACHE:-/var/cache/sbx/rootfs-bookworm}

setup() {
	sbx_setup
	# Each profile is tested on its own: the annotation replaces the node's (not intersected with it).
	sbx_allow_tenants '{"allow_profile": true}'
	export SBX_SECCOMP_CACHE="$T/cache"
	local a
	for a in $(/bin/busybox --list); do
		[ -e "$T/bundle/rootfs/bin/$a" ] || ln -s busybox "$T/bundle/rootfs/bin/$a"
	done
	mkdir -p "$T/bundle/rootfs/etc" "$T/bundle/rootfs/www"
	echo 'root:x:0:0:root:/:/bin/sh' >"$T/bundle/rootfs/etc/passwd"
	echo 'root:x:0:' >"$T/bundle/rootfs/etc/group"
	# Writable root and the host's network namespace (for a loopback that is up without CAP_NET_ADMIN).
	bundle_edit '.root.readonly = false | .linux.namespaces |= map(select(.type != "network"))'
	cp "$T/bundle/config.json" "$T/config.orig"
}

teardown() {
	if [ -n "${T:-}" ] && mountpoint -q "$T/bundle/rootfs" 2>/dev/null; then
		local c d
		for c in "${CONTAINERS[@]}"; do
			for d in $DELEGATES; do "$d" --root "$T/root" delete --force "$c" >/dev/null 2>&1 || true; done
		done
		CONTAINERS=()
		umount "$T/bundle/rootfs"
	fi
	sbx_teardown
}

# in_container DELEGATE SCRIPT [PROFILE]: run SCRIPT with /bin/sh under sbx.
in_container() {
	local d=$1 script=$2 p=${3:-default}
	bundle_reset
	bundle_edit ".process.args = [\"/bin/sh\", \"-c\", $(jq -Rs . <<<"$script")] | .annotations[\"run.sbx.profile\"] = \"$p\""
	run sbx_rt "$d" run --bundle "$T/bundle" "$(new_id w-$d)"
}

@test "workloads: busybox utilities under default (runc and crun)" {
	local script='set -e
rm -rf /tmp/w; mkdir -p /tmp/w; cd /tmp/w
seq 1 200 > nums; sort -rn nums | head -3 | tr "\n" " "; echo
awk "{s+=\$1} END {print \"sum\", s}" nums
printf "b\na\nb\n" | sort | uniq -c | sed "s/^ *//" | tr "\n" ";"; echo
mkdir -p d/e; touch d/e/f; ln -s f d/e/g; chmod 600 d/e/f; find d | sort | tr "\n" " "; echo
tar czf d.tgz d; rm -rf d; tar xzf d.tgz; ls d/e | tr "\n" " "; echo
echo data | gzip | gunzip; echo data | sha256sum | cut -c1-16; md5sum nums | cut -c1-8
cp nums n2; mv n2 n3; wc -l < n3; du -s d >/dev/null; df / >/dev/null; id -u; uname -s; hostname >/dev/null
date +%Y >/dev/null; env | grep -c PATH; expr 6 \* 7; test -f n3 && echo test-ok; xargs echo < nums | wc -w
ps >/dev/null; sleep 0.1; echo busybox-ok'
	local d
	for d in $DELEGATES; do
		in_container "$d" "$script"
		[ "$status" -eq 0 ] || { show; false; }
		expect_line "200 199 198 "
		expect_line "sum 20100"
		expect_line "1 a;2 b;"
		expect_line "d d/e d/e/f d/e/g "
		expect_line "f g "
		expect_line "data"
		expect_line "42"
		expect_line "test-ok"
		expect_line "200"
		expect_line "busybox-ok"
	done
}

@test "workloads: a shell script with files, pipes, signals and background jobs (runc and crun)" {
	local script='rm -rf /tmp/s; mkdir -p /tmp/s && cd /tmp/s || exit 1
echo hello > f && cat f | tr a-z A-Z | grep HELLO > g && cat g
sleep 30 & pid=$!
kill -TERM $pid; wait $pid; echo "background exit $?"
trap "echo got-usr1" USR1
kill -USR1 $$
(sleep 0.1; echo from-subshell) & wait
mkfifo p; (echo via-fifo > p) & read x < p; echo "$x"; wait
i=0; while [ $i -lt 5 ]; do echo $i; i=$((i+1)); done | paste -sd+ | bc 2>/dev/null || echo "sum-by-shell $((0+1+2+3+4))"
( exec 3>lockfile; echo locked >&3 ); cat lockfile
timeout 1 sleep 5; echo "timeout exit $?"
echo script-ok'
	local d
	for d in $DELEGATES; do
		in_container "$d" "$script"
		[ "$status" -eq 0 ] || { show; false; }
		expect_line "HELLO"
		expect_line "background exit 143"
		expect_line "got-usr1"
		expect_line "from-subshell"
		expect_line "via-fifo"
		expect_line "locked"
		expect_line "timeout exit 143"
		expect_line "script-ok"
	done
}

@test "workloads: loopback TCP server and client (busybox httpd + wget, nc) (runc and crun)" {
	local d port
	for d in $DELEGATES; do
		port=$((20000 + RANDOM % 20000))
		echo "served-by-httpd" >"$T/bundle/rootfs/www/index.html"
		in_container "$d" "httpd -f -p 127.0.0.1:$port -h /www & hp=\$!
for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O - http://127.0.0.1:$port/index.html 2>/dev/null && break; sleep 0.2; done
kill \$hp; wait \$hp 2>/dev/null
nc -l -p $((port + 1)) -e /bin/cat & np=\$!
for i in 1 2 3 4 5 6 7 8 9 10; do echo over-nc | nc -w 2 127.0.0.1 $((port + 1)) 2>/dev/null && break; sleep 0.2; done
wait \$np"
		[ "$status" -eq 0 ] || { show; false; }
		expect_line "served-by-httpd"
		expect_line "over-nc"
	done
}

@test "workloads: an engine profile's own denial (mkdir refused with EACCES) survives sbx (runc and crun)" {
	local d
	for d in $DELEGATES; do
		bundle_reset
		bundle_edit '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
			syscalls: [{names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 13}]}
			| .process.args = ["/bin/sh", "-c", "mkdir /newdir; echo mkdir=$?; touch /newfile && echo touch-ok; sbx-probe unshare_user"]'
		run plain "$d" run --bundle "$T/bundle" "$(new_id plain-$d)"
		expect_line "mkdir=1"
		expect_line "unshare_user 0 OK"
		grep -q "Permission denied" <<<"$output" || { show; false; }
		bundle_reset
		bundle_edit '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
			syscalls: [{names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 13}]}
			| .process.args = ["/bin/sh", "-c", "mkdir /newdir; echo mkdir=$?; touch /newfile && echo touch-ok; sbx-probe unshare_user"]'
		run sbx_rt "$d" run --bundle "$T/bundle" "$(new_id sbx-$d)"
		[ "$status" -eq 0 ] || { show; false; }
		expect_line "mkdir=1"
		expect_line "touch-ok"
		# EACCES, the engine's errno, not sbx's EPERM.
		grep -q "Permission denied" <<<"$output" || { show; false; }
		! grep -q "Operation not permitted" <<<"$output" || { show; false; }
		# and sbx's own refusals on top
		expect_line "unshare_user 1 EPERM"
	done
}

# A Debian bookworm minbase with python3, made once with debootstrap and reused (overlay per test).
debian_rootfs() {
	if [ ! -x "$ROOTFS_CACHE/usr/bin/python3" ]; then
		command -v debootstrap >/dev/null || { echo "debootstrap is not installed (hack/deps/profiles.txt)"; return 1; }
		rm -rf "$ROOTFS_CACHE.tmp"
		mkdir -p "$(dirname "$ROOTFS_CACHE")"
		debootstrap --variant=minbase --include=python3 bookworm "$ROOTFS_CACHE.tmp" http://deb.debian.org/debian \
			>"$T/debootstrap.log" 2>&1 || { tail -20 "$T/debootstrap.log"; return 1; }
		mv "$ROOTFS_CACHE.tmp" "$ROOTFS_CACHE"
	fi
	mkdir -p "$T/upper" "$T/work"
	rm -rf "$T/bundle/rootfs"
	mkdir -p "$T/bundle/rootfs"
	mount -t overlay overlay -o "lowerdir=$ROOTFS_CACHE,upperdir=$T/upper,workdir=$T/work" "$T/bundle/rootfs"
	cp /etc/resolv.conf "$T/bundle/rootfs/etc/resolv.conf"
	cp "$PROBE" "$T/bundle/rootfs/usr/local/bin/"
}

@test "workloads: Debian rootfs runs python3 and apt-get under default (runc and crun)" {
	debian_rootfs
	# Docker's default capability set: apt drops to its _apt user, which needs CAP_SETUID, CAP_SETGID, CAP_CHOWN.
	bundle_edit '.process.env += ["HOME=/root", "DEBIAN_FRONTEND=noninteractive"]
		| .process.capabilities |= (["CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FSETID","CAP_FOWNER","CAP_MKNOD","CAP_NET_RAW",
			"CAP_SETGID","CAP_SETUID","CAP_SETFCAP","CAP_SETPCAP","CAP_NET_BIND_SERVICE","CAP_SYS_CHROOT","CAP_KILL",
			"CAP_AUDIT_WRITE"] as $c | {bounding: $c, effective: $c, permitted: $c})'
	cp "$T/bundle/config.json" "$T/config.orig"
	cat >"$T/bundle/rootfs/tmp/w.py" <<'EOF'
import json, os, socket, sqlite3, subprocess, threading, asyncio, multiprocessing, tempfile, hashlib
res = {}
def work(i): res[i] = hashlib.sha256(str(i).encode()).hexdigest()[:4]
ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
assert len(res) == 8
with multiprocessing.Pool(2) as p: assert p.map(abs, [-1, -2]) == [1, 2]
out = subprocess.run(["sh", "-c", "echo sub"], capture_output=True, text=True).stdout.strip()
db = sqlite3.connect(os.path.join(tempfile.mkdtemp(), "t.db")); db.execute("create table t(x)"); db.execute("insert into t values (42)")
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen()
async def main():
    await asyncio.sleep(0.01)
    return "async"
a = asyncio.run(main())
c = socket.create_connection(srv.getsockname()); s, _ = srv.accept(); c.sendall(b"tcp"); got = s.recv(3).decode()
print(json.dumps({"sub": out, "db": db.execute("select x from t").fetchone()[0], "async": a, "tcp": got}))
EOF
	local d
	for d in $DELEGATES; do
		in_container "$d" 'python3 /tmp/w.py'
		[ "$status" -eq 0 ] || { show; false; }
		expect_line '{"sub": "sub", "db": 42, "async": "async", "tcp": "tcp"}'
		# apt-get's own operations that need no network: dpkg database, cache, a simulated install, apt's
		# privilege drop to _apt for a local file download.
		in_container "$d" 'apt-get check >/dev/null && echo check-ok
apt-cache policy dpkg | head -1
dpkg -l dpkg | tail -1 | cut -c1-7
apt-get install -s python3 | tail -1 | cut -c1-4
cd /tmp && apt-get download -o Dir::Etc::sourcelist=/dev/null dpkg >/dev/null 2>&1; echo download-exit-$?
sbx-probe unshare_user'
		[ "$status" -eq 0 ] || { show; false; }
		expect_line "check-ok"
		expect_line "dpkg:"
		expect_line "ii  dpk"
		expect_line "unshare_user 1 EPERM"
	done
	# apt-get update and an install from the archive, when the archive is reachable from this host.
	if ! timeout 10 bash -c 'exec 3<>/dev/tcp/deb.debian.org/80' 2>/dev/null; then
		skip "deb.debian.org is not reachable: apt-get update not exercised"
	fi
	for d in $DELEGATES; do
		in_container "$d" 'apt-get -q update >/tmp/upd 2>&1; echo update-exit-$?; apt-get install -y -q --no-install-recommends hello >/tmp/inst 2>&1; echo install-exit-$?; hello; tail -n 3 /tmp/upd /tmp/inst'
		[ "$status" -eq 0 ] || { show; false; }
		expect_line "update-exit-0"
		expect_line "install-exit-0"
		expect_line "Hello, world!"
	done
}
