/* policy.h - the hardening policy: a fixed list of pure stages, each spec in -> spec out, or an error. */
#ifndef SBX_POLICY_H
#define SBX_POLICY_H

#include <stdbool.h>

#include "../common/config.h"
#include "../common/log.h"
#include "../oci/json.h"

#define SBX_POLICY_VERSION "1"

/* Annotations sbx reads. */
#define SBX_ANN_PROFILE "run.sbx.profile"
#define SBX_ANN_ON_VIOLATION "run.sbx.on-violation"
#define SBX_ANN_ALLOW_HOST_NS "run.sbx.allow-host-ns"
#define SBX_ANN_NNP "run.sbx.no-new-privileges"
/* Annotations sbx writes. */
#define SBX_ANN_POLICY "run.sbx.policy"

enum sbx_delegate_kind
{
  SBX_DELEGATE_RUNC,
  SBX_DELEGATE_CRUN,
  SBX_DELEGATE_OTHER,
};

struct sbx_policy_ctx
{
  const struct sbx_config *cfg;
  const char *container_id;
  enum sbx_delegate_kind delegate;
  /* Where stages report what they decided (opt-outs, fallbacks); sbx_log by default. */
  void (*note) (enum sbx_level level, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
  /* What the engine told sbx-runtime, for stages that record where violations must be reported. */
  const char *runtime_log;         /* --log FILE, or NULL */
  const char *runtime_log_format;  /* --log-format, or NULL */
  const char *containerd_address;  /* GRPC_ADDRESS set by containerd's runc shim, or NULL */
  const char *containerd_namespace; /* NAMESPACE set by containerd's runc shim, or NULL */
  /* Set by the stages, recorded in the annotations by the last one. */
  const char *profile;
  /* Module-syscall monitoring: the watcher's socket, and the same when module syscalls go to it (NULL for a
     plain EPERM); then what the filter got, "notify" or "eperm" (sbx_notify_plan, the seccomp stage). */
  const char *watcher_sock;
  const char *notify_sock;
  const char *monitor;
};

/* Harden a whole container spec (create, run). */
int sbx_policy_apply_spec (json_t *spec, struct sbx_policy_ctx *ctx, sbx_err *err);

/* Harden an exec'd process (runc exec --process FILE).  CONTAINER_SPEC_NNP_OPTOUT tells whether the container
   opted out of no_new_privs. */
int sbx_policy_apply_process (json_t *process, bool nnp_optout, struct sbx_policy_ctx *ctx, sbx_err *err);

/* Stages, exposed for unit tests. */
int sbx_stage_caps (json_t *spec, struct sbx_policy_ctx *ctx, sbx_err *err);
int sbx_stage_nnp (json_t *spec, struct sbx_policy_ctx *ctx, sbx_err *err);
int sbx_stage_namespaces (json_t *spec, struct sbx_policy_ctx *ctx, sbx_err *err);
int sbx_stage_cgroups (json_t *spec, struct sbx_policy_ctx *ctx, sbx_err *err);
int sbx_stage_host_paths (json_t *spec, struct sbx_policy_ctx *ctx, sbx_err *err);
int sbx_stage_seccomp (json_t *spec, struct sbx_policy_ctx *ctx, sbx_err *err);
int sbx_stage_annotations (json_t *spec, struct sbx_policy_ctx *ctx, sbx_err *err);

/* For crun, the filter SECCOMP (linux.seccomp of SPEC) handed over precompiled: whether it is to be, and doing it
   when it is (*COMPILED false, with a note, when the cache cannot give it: crun then compiles the JSON itself). */
bool sbx_seccomp_compile_wanted (const json_t *spec, const struct sbx_policy_ctx *ctx);
int sbx_seccomp_compile_crun (json_t *spec, json_t *seccomp, struct sbx_policy_ctx *ctx, bool *compiled,
                              sbx_err *err);

/* The pids limit given to containers whose engine set none (sbx.json "pids_limit"; 0 disables it). */
#define SBX_PIDS_LIMIT_DEFAULT 4096

/* The namespaces annotation run.sbx.allow-host-ns lets a container share with the host, as a bit set (bit i =
   the i-th of pid, mount, network, ipc, uts, cgroup, user, time). */
int sbx_allow_host_ns (const json_t *spec, unsigned *allow, sbx_err *err);

/* Capability helpers shared with exec's --cap flags. */
bool sbx_cap_is_forbidden (const char *name);
int sbx_caps_sanitize (json_t *capabilities, sbx_err *err);

/* Whether the spec opted out of no_new_privs (annotation run.sbx.no-new-privileges=false). */
int sbx_nnp_optout (const json_t *spec, bool *optout, sbx_err *err);

#endif
