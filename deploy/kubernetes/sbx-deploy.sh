#!/bin/sh
# sbx-deploy.sh - node installer entrypoint (DaemonSet sbx-deploy): put sbx on the host, register it with the
# node's engine, restart the engine, label the node; `uninstall` undoes each step in reverse.
#
# Environment (defaults are what the DaemonSet provides):
#   SBX_HOST_ROOT    the host's / as mounted in the pod (/host)
#   SBX_PAYLOAD      where this image keeps sbx and sbx-runtime (/opt/sbx-artifacts/bin)
#   SBX_INSTALL_DIR  where they go on the host, as the host sees it (/opt/sbx)
#   SBX_ENGINE       containerd or crio; empty: crio when the host has /etc/crio, else containerd
#   NODE_NAME        this node (downward API)
#   SBX_RESTART_CMD  how to restart the engine (default: systemctl restart ENGINE in the host's namespaces)
#   SBX_LABEL_CMD    the kubectl to label the node with (default: kubectl)
#   SBX_ONESHOT      1: return after installing instead of staying up for the preStop hook
set -eu

HOST=${SBX_HOST_ROOT:-/host}
PAYLOAD=${SBX_PAYLOAD:-/opt/sbx-artifacts/bin}
DEST=${SBX_INSTALL_DIR:-/opt/sbx}
LABEL=sbx.run/runtime
KUBECTL=${SBX_LABEL_CMD:-kubectl}

engine=${SBX_ENGINE:-}
if [ -z "$engine" ]; then
  if [ -d "$HOST/etc/crio" ]; then engine=crio; else engine=containerd; fi
fi
case "$engine" in
  containerd|crio) ;;
  *) echo "sbx-deploy: unsupported engine '$engine' (containerd or crio)" >&2; exit 2 ;;
esac

log () { echo "sbx-deploy: $*"; }

restart_engine () {
  log "restarting $engine"
  if [ -n "${SBX_RESTART_CMD:-}" ]; then
    sh -c "$SBX_RESTART_CMD"
  else
    # hostPID: PID 1 is the host's init; its namespaces see the host's systemd.
    nsenter --target 1 --mount --uts --ipc --net --pid -- systemctl restart "$engine"
  fi
}

install () {
  log "copying sbx and sbx-runtime to $DEST/bin on the host"
  mkdir -p "$HOST$DEST/bin"
  for bin in sbx sbx-runtime; do
    # Copy then rename: a running sbx-runtime is never overwritten in place.
    cp "$PAYLOAD/$bin" "$HOST$DEST/bin/.$bin.new"
    chmod 0755 "$HOST$DEST/bin/.$bin.new"
    mv -f "$HOST$DEST/bin/.$bin.new" "$HOST$DEST/bin/$bin"
  done
  "$PAYLOAD/sbx" install --root "$HOST" --runtime-path "$DEST/bin/sbx-runtime" "$engine"
  restart_engine
  log "label node $NODE_NAME $LABEL=true"
  $KUBECTL label node "$NODE_NAME" "$LABEL=true" --overwrite
}

uninstall () {
  log "label node $NODE_NAME $LABEL-"
  $KUBECTL label node "$NODE_NAME" "$LABEL-" || true
  "$PAYLOAD/sbx" uninstall --root "$HOST" "$engine"
  restart_engine
  rm -f "$HOST$DEST/bin/sbx" "$HOST$DEST/bin/sbx-runtime"
  rmdir "$HOST$DEST/bin" "$HOST$DEST" 2>/dev/null || true
  log "removed"
}

case "${1:-install}" in
  install)
    install
    [ "${SBX_ONESHOT:-0}" = 1 ] && exit 0
    # Stay up: the pod's preStop hook runs `uninstall` when the DaemonSet goes away.
    trap 'exit 0' TERM INT
    while :; do sleep 3600 & wait $!; done
    ;;
  uninstall) uninstall ;;
  *) echo "usage: sbx-deploy.sh [install|uninstall]" >&2; exit 2 ;;
esac
