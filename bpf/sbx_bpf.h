/* sbx_bpf.h - loader API of sbx's module-load BPF hooks (the only interface to bpf/; libbpf stays inside). */
#ifndef SBX_BPF_H
#define SBX_BPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "../common/error.h"
#include "sbx_events.h"

#define SBX_BPF_PIN_DIR "/sys/fs/bpf/sbx"

struct sbx_bpf;

struct sbx_bpf_opts
{
  /* Where maps and links are pinned.  NULL: pin nothing, everything goes away on sbx_bpf_close (what a
     one-shot probe such as `sbx doctor` wants).  When the dir is under /sys/fs/bpf and no bpffs is mounted
     there, sbx_bpf_open mounts one. */
  const char *pin_dir;
  /* Also attach tp_btf/sys_exit (sees module syscalls that seccomp refused; costs every syscall ~90 ns). */
  bool syscalls_mode;
};

/* Probe result of one hook. */
struct sbx_bpf_hook_status
{
  const char *name;   /* "lsm/kernel_read_file", "tp/module/module_load", "tp_btf/sys_exit", ... */
  bool wanted;        /* false: not requested (sys_exit without syscalls_mode) */
  bool loaded;        /* loaded and attached: the hook is live */
  int error;          /* errno of the failure when !loaded && wanted, else 0 */
  char reason[320];   /* why it is not live, or a caveat when it is; "" otherwise */
};

/* Load, attach and pin each hook separately (each is probed first; one that cannot load is recorded with its
   reason and the others still run).  Reuses maps pinned under o->pin_dir, so registrations and counters
   survive a restart; replaces pinned links with the new programs.  Fails only when nothing usable can be set
   up (shared maps cannot be created, pin dir unusable, ring buffer unavailable), not when a hook is missing. */
int sbx_bpf_open (struct sbx_bpf **out, const struct sbx_bpf_opts *o, sbx_err *err);

/* Per-hook probe results, valid until sbx_bpf_close.  Returns the number of entries. */
size_t sbx_bpf_hooks (struct sbx_bpf *b, const struct sbx_bpf_hook_status **out);

/* Number of hooks live right now. */
size_t sbx_bpf_live_hooks (struct sbx_bpf *b);

/* Print one line per hook, "NAME: loaded" / "NAME: loaded (CAVEAT)" / "NAME: unavailable: REASON" /
   "NAME: off (REASON)", each prefixed by PREFIX (may be NULL).  For `sbx doctor` and the watcher's log. */
void sbx_bpf_report (struct sbx_bpf *b, FILE *out, const char *prefix);

/* Register a container: its tasks (cgroup CGROUP_ID or any descendant cgroup, or active pid namespace
   PIDNS_INO or a namespace nested in it) are refused module loads by the LSM hooks and attributed to SLOT
   (< SBX_BPF_MAX_SLOTS) by all hooks.  PIDNS_INO 0 = key by cgroup only; the caller's own pid namespace is
   never registered (a --pid=host container must not make the whole host refused).  Registering a new
   container resets SLOT's counter; re-registering the same (cgroup, slot) keeps it. */
int sbx_bpf_register (struct sbx_bpf *b, uint64_t cgroup_id, uint32_t pidns_ino, uint32_t slot, sbx_err *err);

/* Remove both keys (pid namespace inodes are reused, so always call this when the container is deleted).
   The slot's counter is kept until the slot is registered again. */
int sbx_bpf_unregister (struct sbx_bpf *b, uint64_t cgroup_id, uint32_t pidns_ino, sbx_err *err);

/* Registered containers (to reconcile after a restart): calls CB for each cgroup key; CB returns non-zero to
   stop, which is then returned. */
int sbx_bpf_foreach_registered (struct sbx_bpf *b,
                                int (*cb) (void *ctx, uint64_t cgroup_id, uint32_t pidns_ino, uint32_t slot),
                                void *ctx);

/* Events attributed to SLOT since it was registered (denied and observed). */
int sbx_bpf_count (struct sbx_bpf *b, uint32_t slot, uint64_t *n);

/* Ring-buffer records dropped because the buffer was full (0 when unknown). */
uint64_t sbx_bpf_dropped (struct sbx_bpf *b);

/* An fd that becomes readable (epoll/poll) when events are waiting. */
int sbx_bpf_fd (struct sbx_bpf *b);

/* Wait up to TIMEOUT_MS (0: do not wait, -1: forever) and call CB for each waiting event.  CB returns 0 to go
   on, negative to stop (returned as is).  Returns the number of events handled, or negative. */
int sbx_bpf_poll (struct sbx_bpf *b, int timeout_ms, int (*cb) (void *ctx, const struct sbx_bpf_event *ev),
                  void *ctx);

/* Detach what was not pinned and free B.  Pinned links keep enforcing after close (so a watcher restart
   leaves no gap); sbx_bpf_unpin removes them. */
void sbx_bpf_close (struct sbx_bpf *b);

/* Remove every sbx pin under PIN_DIR (links, maps) and the dir itself: the hooks go away once nothing else
   holds them.  For `sbx install --uninstall` and tests. */
int sbx_bpf_unpin (const char *pin_dir, sbx_err *err);

/* Container keys of PID: the id of its cgroup v2 dir (file handle of the dir under the cgroup2 mount, which
   is what bpf_get_current_cgroup_id returns) and the inode of /proc/PID/ns/pid. */
int sbx_bpf_task_keys (pid_t pid, uint64_t *cgroup_id, uint32_t *pidns_ino, sbx_err *err);

/* The module name of every module symbol, one per line, as the kernel's iter/ksym program sees it (kernel 6.0+;
   fails where BPF iterators cannot load).  At most MAX bytes into *OUT (malloc'd, NUL-terminated). */
int sbx_bpf_ksym_modules (size_t max, char **out, size_t *len, sbx_err *err);

/* Human names: "lsm_read_file", ..., "sys_exit"; "denied" / "observed"; syscall name or NULL. */
const char *sbx_bpf_kind_name (uint32_t kind);
const char *sbx_bpf_action_name (uint32_t action);
const char *sbx_bpf_syscall_name (int nr);

#endif
