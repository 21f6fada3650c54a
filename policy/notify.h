/* notify.h - the watcher's seccomp listener in the spec, and the small client sbx-runtime uses to reach it. */
#ifndef SBX_NOTIFY_H
#define SBX_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

/* Annotations the notify stage records for the watcher (the OCI state sent to the listener carries them). */
#define SBX_ANN_RUNTIME_LOG "run.sbx.runtime-log"
#define SBX_ANN_RUNTIME_LOG_FORMAT "run.sbx.runtime-log-format"
#define SBX_ANN_CONTAINERD_ADDRESS "run.sbx.containerd-address"
#define SBX_ANN_CONTAINERD_NAMESPACE "run.sbx.containerd-namespace"
#define SBX_ANN_ENGINE "run.sbx.engine"
#define SBX_ANN_MONITOR "run.sbx.monitor" /* "notify": the watcher answers; "eperm": plain seccomp refusal */
/* Added by sbx-runtime `state`: module-load attempts refused in this container so far. */
#define SBX_ANN_VIOLATIONS "run.sbx.violations"

/* linux.seccomp.listenerMetadata: tells the watcher a connection comes from an sbx-hardened spec. */
#define SBX_LISTENER_METADATA "sbx/1"

/* The file a running watcher holds an exclusive flock on, in sbx_watcher_dir: creates test it to find one. */
#define SBX_WATCHER_LOCK "watcher.lock"

/* The watcher's socket: "watcher.socket" in sbx.json, else <state dir>/watcher.sock. */
const char *sbx_watcher_socket (const struct sbx_config *cfg, char *buf, size_t size);
/* Where the watcher keeps container records: <state dir>/watcher. */
const char *sbx_watcher_dir (const struct sbx_config *cfg, char *buf, size_t size);
/* The record of container ID (<watcher dir>/containers/ID.json); fails on ids that are not plain names. */
int sbx_watcher_record_path (const struct sbx_config *cfg, const char *id, char *buf, size_t size, sbx_err *err);
/* The refused-attempt count of container ID, kept by the watcher in <watcher dir>/containers/ID.count (one
   fixed-width decimal, rewritten in place per event); -1 when there is none. */
long long sbx_watcher_read_count (const struct sbx_config *cfg, const char *id);
#define SBX_COUNT_WIDTH 20

/* TEXT (a JSON document as a delegate printed it) with "KEY": "VAL" added first in its "annotations" object,
   keeping the delegate's layout (engines and tests compare `state` output with runc's).  NULL when TEXT has no
   annotations object; the caller checks the result parses. */
char *sbx_text_add_annotation (const char *text, const char *key, const char *val);

/* Whether ID can name a file: runc's rule, [A-Za-z0-9_+.-]+, not "." or "..". */
bool sbx_container_id_ok (const char *id);

/* Connect to the watcher at PATH; returns the fd or -1 with errno set.  Never blocks on a dead socket. */
int sbx_watcher_connect (const char *path);
/* Send one request line and read the whole reply (NUL-terminated, at most 1 MiB) within TIMEOUT_MS. */
int sbx_watcher_call (const char *path, const char *request, int timeout_ms, char **reply, sbx_err *err);
/* Start `sbx watch --daemon` (double fork, detached from the caller's stdio and session) and wait up to
   "watcher.start_timeout_ms" for its socket to accept. */
int sbx_watcher_spawn (const struct sbx_config *cfg, const char *sock, sbx_err *err);

/* How the stage learns whether a watcher answers at SOCK (starting one when the config allows): 0 when it
   does.  Replaceable so the stage stays testable on JSON alone. */
extern int (*sbx_notify_ensure_watcher) (const struct sbx_config *cfg, const char *sock, sbx_err *err);
int sbx_notify_ensure_watcher_default (const struct sbx_config *cfg, const char *sock, sbx_err *err);

/* Module syscalls go to the watcher (SCMP_ACT_NOTIFY) or keep a plain EPERM.  The decision is taken before the
   filter is built, from what the engine asked and whether a watcher answers (it may be started): the seccomp
   stage memoizes the filter it gives.  Sets ctx->watcher_sock, and ctx->notify_sock when the watcher answers;
   notes why not otherwise.  Fails on a bad run.sbx.on-violation, or with watcher.fail_closed and no watcher. */
int sbx_notify_plan (const json_t *spec, const json_t *engine_seccomp, struct sbx_policy_ctx *ctx, sbx_err *err);
/* The plan applied to the filter the seccomp stage built (pure): the module block rule becomes SCMP_ACT_NOTIFY
   towards ctx->notify_sock, and sbx's own stale listener goes.  *MONITOR is "notify" or "eperm"; WARN gets why
   not when the filter has no block rule where one is expected. */
int sbx_notify_apply (json_t *seccomp, const struct sbx_policy_ctx *ctx, const char **monitor, char *warn,
                      size_t warn_size, sbx_err *err);
/* The stage: record in the annotations where violations are reported and how (ctx->monitor). */
int sbx_stage_notify (json_t *spec, struct sbx_policy_ctx *ctx, sbx_err *err);

#endif
