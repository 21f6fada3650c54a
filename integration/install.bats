#!/usr/bin/env bats
# install.bats - `sbx install|uninstall ENGINE` against real configuration files full of unrelated settings (which
# must survive), under a private --root or --config, never the host's /etc; then the engines read the result.
# Also: the Kubernetes manifests in deploy/kubernetes/ against the Kubernetes API schema.

load engines

setup_file () {
  engines_setup_file || return 0
  export INSTALL_SKIP=
  if ! "$SBX_BIN" install --help >/dev/null 2>&1; then
    INSTALL_SKIP="$SBX_BIN does not offer the install command (not built, or shim/sbx.c does not dispatch it yet)"
  fi
}

teardown_file () {
  engines_teardown_file
}

setup () {
  engines_setup
  R=$(mktemp -d "$ENGINE_TMP/root.XXXXXX")
  mkdir -p "$R"/etc/{docker,containers,containerd,crio}
}

teardown () {
  docker_stop
  containerd_stop
}

need_install () {
  [ -z "$INSTALL_SKIP" ] || skip "$INSTALL_SKIP"
}

sbx () {
  "$SBX_BIN" "$@"
}

# A copy of the tree before install, to prove uninstall gives it back byte for byte.
snapshot () {
  rm -rf "$R.orig"
  cp -a "$R" "$R.orig"
}

assert_tree_restored () {
  diff -r --no-dereference "$R.orig" "$R"
}

json_get () {
  "$ENGINES_PYTHON" -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2:]: v=v[k]
print(json.dumps(v, sort_keys=True))' "$@"
}

write_daemon_json () {
  cat >"$R/etc/docker/daemon.json" <<'EOF'
{
    "log-level": "warn",
    "storage-driver": "overlay2",
    "default-ulimits": {"nofile": {"Name": "nofile", "Hard": 20000, "Soft": 20000}},
    "runtimes": {"other": {"path": "/usr/bin/other-runtime", "runtimeArgs": ["--debug"]}},
    "registry-mirrors": ["https://mirror.example"]
}
EOF
}

@test "install docker: JSON merge keeps every other setting, backup, exact uninstall" {
  need_install
  write_daemon_json
  snapshot
  run sbx install --root "$R" --runtime-path /opt/sbx/bin/sbx-runtime docker
  [ "$status" -eq 0 ]
  [[ "$output" == *"runtimes.sbx"* ]]
  [[ "$output" == *"undo: sbx uninstall docker"* ]]
  f=$R/etc/docker/daemon.json
  [ "$(json_get "$f" runtimes sbx)" = '{"path": "/opt/sbx/bin/sbx-runtime"}' ]
  [ "$(json_get "$f" runtimes other)" = '{"path": "/usr/bin/other-runtime", "runtimeArgs": ["--debug"]}' ]
  [ "$(json_get "$f" default-ulimits nofile Hard)" = 20000 ]
  [ "$(json_get "$f" registry-mirrors)" = '["https://mirror.example"]' ]
  [ "$(json_get "$f" log-level)" = '"warn"' ]
  cmp "$f.sbx-backup" "$R.orig/etc/docker/daemon.json"

  run sbx install --root "$R" --runtime-path /opt/sbx/bin/sbx-runtime docker
  [ "$status" -eq 0 ]
  [[ "$output" == *"nothing to do"* ]]

  run sbx uninstall --root "$R" docker
  [ "$status" -eq 0 ]
  assert_tree_restored
}

@test "install docker: --dry-run prints the change and writes nothing" {
  need_install
  write_daemon_json
  snapshot
  run sbx install --dry-run --root "$R" --runtime-path /opt/sbx/bin/sbx-runtime docker
  [ "$status" -eq 0 ]
  [[ "$output" == *"would add"* ]]
  [[ "$output" == *'"path": "/opt/sbx/bin/sbx-runtime"'* ]]
  assert_tree_restored
}

@test "install docker: a runtime the user already named sbx is not overwritten" {
  need_install
  echo '{"runtimes": {"sbx": {"path": "/usr/local/bin/their-sbx"}}}' >"$R/etc/docker/daemon.json"
  snapshot
  run sbx install --root "$R" --runtime-path /opt/sbx/bin/sbx-runtime docker
  [ "$status" -eq 1 ]
  [[ "$output" == *'already defines a runtime named "sbx"'* ]]
  assert_tree_restored
}

@test "install docker: no daemon.json before - created, and removed again by uninstall" {
  need_install
  snapshot
  sbx install --root "$R" --runtime-path /opt/sbx/bin/sbx-runtime docker
  [ "$(json_get "$R/etc/docker/daemon.json" runtimes)" = '{"sbx": {"path": "/opt/sbx/bin/sbx-runtime"}}' ]
  sbx uninstall --root "$R" docker
  assert_tree_restored
}

@test "install docker: settings the user added after install survive uninstall" {
  need_install
  write_daemon_json
  sbx install --root "$R" --runtime-path /opt/sbx/bin/sbx-runtime docker
  "$ENGINES_PYTHON" -c 'import json,sys
d=json.load(open(sys.argv[1])); d["debug"]=True; json.dump(d, open(sys.argv[1],"w"))' "$R/etc/docker/daemon.json"
  sbx uninstall --root "$R" docker
  f=$R/etc/docker/daemon.json
  [ "$(json_get "$f" debug)" = true ]
  [ "$(json_get "$f" runtimes)" = '{"other": {"path": "/usr/bin/other-runtime", "runtimeArgs": ["--debug"]}}' ]
  [ ! -e "$f.sbx-backup" ]
}

@test "install docker: a symlinked daemon.json is edited at its target (absolute links read inside --root)" {
  need_install
  mkdir -p "$R/srv/cfg"
  write_daemon_json
  mv "$R/etc/docker/daemon.json" "$R/srv/cfg/daemon.json"
  ln -s /srv/cfg/daemon.json "$R/etc/docker/daemon.json"
  snapshot
  sbx install --root "$R" --runtime-path /opt/sbx/bin/sbx-runtime docker
  [ -L "$R/etc/docker/daemon.json" ]
  [ "$(json_get "$R/srv/cfg/daemon.json" runtimes sbx path)" = '"/opt/sbx/bin/sbx-runtime"' ]
  sbx uninstall --root "$R" docker
  assert_tree_restored
}

@test "install docker: dockerd started on the installed daemon.json runs containers under sbx" {
  need_install
  command -v dockerd >/dev/null || skip "dockerd is not installed (docker.io)"
  docker_write_config no-runtime
  cfg=$ENGINE_TMP/docker/daemon.json
  cp "$cfg" "$ENGINE_TMP/daemon.json.orig"
  sbx install --config "$cfg" --runtime-path "$SBX_RUNTIME_BIN" docker
  docker_start || skip "$ENGINE_SKIP_REASON"
  [ "$(docker_cli info --format '{{(index .Runtimes "sbx").Path}}')" = "$SBX_RUNTIME_BIN" ]
  run docker_cli run --rm --runtime sbx --cap-add SYS_MODULE --security-opt seccomp=unconfined "$ENGINE_IMAGE" \
    sbx-probe modules
  [ "$status" -eq 0 ]
  assert_modules_eperm "$output"
  docker_stop
  sbx uninstall --config "$cfg" docker
  cmp "$cfg" "$ENGINE_TMP/daemon.json.orig"
}

@test "install podman: drop-in in containers.conf.d; the user's runtime_supports_json entries are kept" {
  need_install
  cat >"$R/etc/containers/containers.conf" <<'EOF'
[containers]
log_size_max = 1000000

[engine]
runtime_supports_json = ["crun", "runc", "youki"]
EOF
  snapshot
  run sbx install --root "$R" --runtime-path /opt/sbx/bin/sbx-runtime podman
  [ "$status" -eq 0 ]
  dropin=$R/etc/containers/containers.conf.d/50-sbx.conf
  [[ "$output" == *"$dropin"* ]]
  cmp "$R/etc/containers/containers.conf" "$R.orig/etc/containers/containers.conf"
  grep -qxF 'sbx = ["/opt/sbx/bin/sbx-runtime"]' "$dropin"
  grep -qxF 'runtime_supports_json = ["crun", "runc", "kata", "runsc", "krun", "youki", "sbx"]' "$dropin"
  run sbx uninstall --root "$R" podman
  [ "$status" -eq 0 ]
  assert_tree_restored
}

@test "install podman: Podman reads the drop-in and resolves --runtime sbx to sbx-runtime" {
  need_install
  command -v podman >/dev/null || skip "podman is not installed"
  sbx install --root "$R" --runtime-path "$SBX_RUNTIME_BIN" podman
  # Podman 4.3 reads only CONTAINERS_CONF when it is set, so hand it the drop-in itself (it is a complete
  # containers.conf fragment); storage stays private too.
  mkdir -p "$ENGINE_TMP/pm"
  printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/root"\nrunroot = "%s/run"\n' "$ENGINE_TMP/pm" "$ENGINE_TMP/pm" \
    >"$ENGINE_TMP/pm/storage.conf"
  run env CONTAINERS_CONF="$R/etc/containers/containers.conf.d/50-sbx.conf" \
    CONTAINERS_STORAGE_CONF="$ENGINE_TMP/pm/storage.conf" \
    podman --runtime sbx info --format '{{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Path}}'
  [ "$status" -eq 0 ]
  [ "$output" = "sbx $SBX_RUNTIME_BIN" ]
}

@test "install containerd: one marked block; containerd merges it with the user's CRI settings; exact uninstall" {
  need_install
  # No final newline on purpose: uninstall must give the file back byte for byte anyway.
  printf '%s\n' 'version = 2' 'root = "/var/lib/containerd"' 'oom_score = -999' '' \
    '[plugins."io.containerd.grpc.v1.cri"]' '  sandbox_image = "example.org/pause:3.9"' \
    '  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]' \
    '    runtime_type = "io.containerd.runc.v2"' | head -c -1 >"$R/etc/containerd/config.toml"
  snapshot
  run sbx install --root "$R" --runtime-path /opt/sbx/bin/sbx-runtime containerd
  [ "$status" -eq 0 ]
  [[ "$output" == *'runtime handler "sbx"'* ]]
  f=$R/etc/containerd/config.toml
  [ "$(grep -c 'BinaryName = "/opt/sbx/bin/sbx-runtime"' "$f")" -eq 1 ]
  if command -v containerd >/dev/null; then
    run containerd --config "$f" config dump
    [ "$status" -eq 0 ]
    [[ "$output" == *'sandbox_image = "example.org/pause:3.9"'* ]]
    [[ "$output" == *'BinaryName = "/opt/sbx/bin/sbx-runtime"'* ]]
    [[ "$output" == *'[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]'* ]]
    [[ "$output" == *'oom_score = -999'* ]]
  fi
  run sbx uninstall --root "$R" containerd
  [ "$status" -eq 0 ]
  assert_tree_restored
}

@test "install containerd: a CRI pod with runtime_handler sbx runs on the installed config.toml" {
  need_install
  command -v containerd >/dev/null || skip "containerd is not installed"
  "$ENGINES_PYTHON" -c 'import grpc, google.protobuf' 2>/dev/null || skip "python3-grpcio/python3-protobuf missing"
  export WITH_CRI=1 CTR_NAMESPACE=k8s.io
  containerd_write_config no-runtime
  cfg=$ENGINE_TMP/containerd/config.toml
  cp "$cfg" "$ENGINE_TMP/config.toml.orig"
  sbx install --config "$cfg" --runtime-path "$SBX_RUNTIME_BIN" containerd
  containerd_start || skip "$ENGINE_SKIP_REASON"
  cri_cli wait-image "$ENGINE_IMAGE" 30
  mkdir -p "$ENGINE_TMP/pods"
  printf '{"metadata": {"name": "p", "uid": "u1", "namespace": "default"}, "log_directory": "%s",
    "linux": {"security_context": {"namespace_options": {"network": "NODE"}}}}' "$ENGINE_TMP/pods" >"$ENGINE_TMP/pod.json"
  pod=$(cri_cli runp "$ENGINE_TMP/pod.json" sbx)
  [[ "$(cri_cli inspectp "$pod")" == *'"runtime_handler": "sbx"'* ]]
  assert_sbx_annotations "$ENGINE_TMP/containerd/state/io.containerd.runtime.v2.task/k8s.io/$pod/config.json"
  cri_cli stopp "$pod"
  cri_cli rmp "$pod"
  containerd_stop
  sbx uninstall --config "$cfg" containerd
  cmp "$cfg" "$ENGINE_TMP/config.toml.orig"
}

@test "install containerd: a schema-1 config gets the plugins.cri table; a missing config is created and removed" {
  need_install
  printf '[plugins.cri]\n  sandbox_image = "example.org/pause:3.9"\n' >"$R/etc/containerd/config.toml"
  sbx install --root "$R" --runtime-path /opt/sbx/bin/sbx-runtime containerd
  grep -qxF '[plugins.cri.containerd.runtimes.sbx]' "$R/etc/containerd/config.toml"
  sbx uninstall --root "$R" containerd
  rm "$R/etc/containerd/config.toml"
  snapshot
  sbx install --root "$R" --runtime-path /opt/sbx/bin/sbx-runtime containerd
  [ "$(head -n1 "$R/etc/containerd/config.toml")" = "version = 2" ]
  sbx uninstall --root "$R" containerd
  assert_tree_restored
}

@test "install crio: drop-in in crio.conf.d (CRI-O itself is not packaged in Debian 12: untested against it)" {
  need_install
  printf '[crio.runtime]\nlog_level = "info"\n' >"$R/etc/crio/crio.conf"
  snapshot
  run sbx install --root "$R" --runtime-path /opt/sbx/bin/sbx-runtime crio
  [ "$status" -eq 0 ]
  dropin=$R/etc/crio/crio.conf.d/50-sbx.conf
  grep -qxF '[crio.runtime.runtimes.sbx]' "$dropin"
  grep -qxF 'runtime_path = "/opt/sbx/bin/sbx-runtime"' "$dropin"
  "$ENGINES_PYTHON" -c 'import sys, tomllib; d=tomllib.load(open(sys.argv[1],"rb"))
assert d["crio"]["runtime"]["runtimes"]["sbx"]["runtime_type"] == "oci"' "$dropin"
  cmp "$R/etc/crio/crio.conf" "$R.orig/etc/crio/crio.conf"
  sbx uninstall --root "$R" crio
  assert_tree_restored
}

@test "install: a drop-in sbx did not write is left alone; bad arguments are usage errors" {
  need_install
  mkdir -p "$R/etc/crio/crio.conf.d"
  echo '# mine' >"$R/etc/crio/crio.conf.d/50-sbx.conf"
  snapshot
  run sbx install --root "$R" crio
  [ "$status" -eq 1 ]
  [[ "$output" == *"not written by sbx install"* ]]
  run sbx uninstall --root "$R" crio
  [ "$status" -eq 1 ]
  assert_tree_restored
  run sbx install --root "$R" nerdctl
  [ "$status" -eq 2 ]
  run sbx install --root "$R" --runtime-path relative/sbx-runtime docker
  [ "$status" -eq 2 ]
  assert_tree_restored
}

@test "kubernetes: RuntimeClass and node-installer DaemonSet validate against the Kubernetes API schema" {
  "$ENGINES_PYTHON" -c 'import kubernetes, yaml' 2>/dev/null || skip "python3-kubernetes/python3-yaml are not installed"
  run "$ENGINES_PYTHON" "$ENGINES_REPO/deploy/kubernetes/validate.py" "$ENGINES_REPO"/deploy/kubernetes/*.yaml
  [ "$status" -eq 0 ]
  [[ "$output" == *"RuntimeClass/sbx ok"* ]]
  [[ "$output" == *"DaemonSet/sbx-deploy ok"* ]]
}

@test "kubernetes: the schema check rejects a misspelled field and a missing required one" {
  "$ENGINES_PYTHON" -c 'import kubernetes, yaml' 2>/dev/null || skip "python3-kubernetes/python3-yaml are not installed"
  sed 's/^handler: sbx/handlr: sbx/' "$ENGINES_REPO/deploy/kubernetes/runtimeclass.yaml" >"$ENGINE_TMP/bad1.yaml"
  run "$ENGINES_PYTHON" "$ENGINES_REPO/deploy/kubernetes/validate.py" "$ENGINE_TMP/bad1.yaml"
  [ "$status" -eq 1 ]
  [[ "$output" == *handlr* ]]
  printf 'apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata:\n  name: x\n' >"$ENGINE_TMP/bad2.yaml"
  run "$ENGINES_PYTHON" "$ENGINES_REPO/deploy/kubernetes/validate.py" "$ENGINE_TMP/bad2.yaml"
  [ "$status" -eq 1 ]
  [[ "$output" == *handler* ]]
}

@test "kubernetes: the installer entrypoint installs into a host root and labels the node (dry run)" {
  need_install
  mkdir -p "$R/opt" "$ENGINE_TMP/payload"
  cp "$SBX_BIN" "$ENGINE_TMP/payload/sbx"
  cp "$SBX_RUNTIME_BIN" "$ENGINE_TMP/payload/sbx-runtime"
  printf '%s\n' 'version = 2' '[plugins."io.containerd.grpc.v1.cri"]' '  sandbox_image = "example.org/pause:3.9"' \
    >"$R/etc/containerd/config.toml"
  run env SBX_HOST_ROOT="$R" SBX_PAYLOAD="$ENGINE_TMP/payload" SBX_ENGINE=containerd NODE_NAME=node-1 \
    SBX_RESTART_CMD=true SBX_LABEL_CMD=echo SBX_ONESHOT=1 sh "$ENGINES_REPO/deploy/kubernetes/sbx-deploy.sh" install
  [ "$status" -eq 0 ]
  [ -x "$R/opt/sbx/bin/sbx-runtime" ]
  grep -qF 'BinaryName = "/opt/sbx/bin/sbx-runtime"' "$R/etc/containerd/config.toml"
  [[ "$output" == *"label node node-1 sbx.run/runtime=true"* ]]
  run env SBX_HOST_ROOT="$R" SBX_PAYLOAD="$ENGINE_TMP/payload" SBX_ENGINE=containerd NODE_NAME=node-1 \
    SBX_RESTART_CMD=true SBX_LABEL_CMD=echo SBX_ONESHOT=1 sh "$ENGINES_REPO/deploy/kubernetes/sbx-deploy.sh" uninstall
  [ "$status" -eq 0 ]
  [ ! -e "$R/opt/sbx" ]
  [ "$(cat "$R/etc/containerd/config.toml")" = "$(printf '%s\n' 'version = 2' '[plugins."io.containerd.grpc.v1.cri"]' '  sandbox_image = "example.org/pause:3.9"')" ]
}
