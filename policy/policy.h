/* policy.h - the hardening policy: a fixed list of pure stages, each spec in -> spec out, or an error. */
#ifndef SBX_POLICY_H
#define SBX_POLICY_H

#include <stdbool.h>

#include "../common/config.h"
#include "../common/log.h"
#include "../oci/json.h"
#include "../profiles/profile.h"

#define SBX_POLICY_VERSION "1"

/* Annotations sbx reads. */
#define SBX_ANN_PROFILE "run.sbx.profile"
#define SBX_ANN_ON_VIOLATION "run.sbx.on-violation"
#define SBX_ANN_ALLOW_HOST_NS "run.sbx.allow-host-ns"
#define SBX_ANN_NNP "run.sbx.no-new-privileges"
/* The annotations a tenant may set, as TOML strings: what `sbx install` lets engines pass from pods (sbx's own records
   below are never a tenant's to set). */
#define SBX_TENANT_ANNOTATIONS_TOML                                                                                   \
  "\"" SBX_ANN_PROFILE "\", \"" SBX_ANN_ON_VIOLATION "\", \"" SBX_ANN_ALLOW_HOST_NS "\", \"" SBX_ANN_NNP "\""
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
  /* Whoever wrote the spec's annotations runs the node: `sbx run`, where the local user is both operator and tenant
     of their own sandbox.  False for an engine's container: its annotations are a tenant's (tenant.c). */
  bool annotations_trusted;
  /* Whether the namespace file PATH is one of the host's, of kind PROCNAME ("pid", "mnt", ... as in /proc/PID/ns);
     NULL: sbx_ns_is_host.  Unit tests inject their own. */
  int (*ns_is_host) (const char *procname, const char *path, bool *host, sbx_err *err);
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

/* Namespace names as the annotation and sbx.json list them ("pid,mount,net"), as a bit set like the above; WHAT
   names the input in errors. */
int sbx_ns_list_parse (const char *list, const char *what, unsigned *bits, sbx_err *err);
/* The default ns_is_host: PATH's device and inode against /proc/1/ns/PROCNAME (the host, or the outermost
   namespace sbx can see) and sbx's own /proc/self/ns/PROCNAME.  A PATH that cannot be resolved is an error. */
int sbx_ns_is_host (const char *procname, const char *path, bool *host, sbx_err *err);
/* The same against other references (printf formats taking PROCNAME), for tests. */
int sbx_ns_is_host_refs (const char *procname, const char *path, const char *self_fmt, const char *init_fmt, bool *host,
                         sbx_err *err);

/* What sbx.json lets this container's annotations loosen (tenant.c).  Every opt-out an annotation can ask for goes
   through here: a new one gets its field, its "tenants.*" settings in common/settings.c, and sbx_tenant_refuse. */
struct sbx_tenant_allow
{
  bool profile;    /* run.sbx.profile may replace the node's profile (otherwise it is intersected with it) */
  bool nnp_optout; /* run.sbx.no-new-privileges=false */
  unsigned host_ns; /* namespaces run.sbx.allow-host-ns may name, as sbx_allow_host_ns's bits */
  const char *k8s_namespace; /* the pod's Kubernetes namespace, as the engine wrote it, or NULL */
};
int sbx_tenant_allowances (const json_t *spec, const struct sbx_policy_ctx *ctx, struct sbx_tenant_allow *a,
                           sbx_err *err);
/* Fail with EPERM: WHAT (an annotation and its value) is refused; sbx.json "tenants.SETTING": VALUE would allow it
   (and, for a pod of a Kubernetes namespace, the per-namespace setting). */
int sbx_tenant_refuse (sbx_err *err, const struct sbx_tenant_allow *a, const char *what, const char *setting,
                       const char *value);

/* The profile a container gets: the node's (sbx.json "profile", default "default"), and run.sbx.profile's on top
   (EXTRA: the filter is their intersection) unless sbx.json lets it replace the node's (then it is NODE).  An
   annotation names only a built-in profile or a file of profiles_dir.  NAME is what the annotations record. */
#define SBX_PROFILE_DEFAULT "default"
struct sbx_profile_sel
{
  struct sbx_profile_src node, extra; /* EXTRA.data NULL: none */
  const char *name;
};
int sbx_profile_select (const json_t *spec, struct sbx_policy_ctx *ctx, struct sbx_profile_sel *sel, sbx_err *err);
void sbx_profile_sel_free (struct sbx_profile_sel *sel);

/* Capability helpers shared with exec's --cap flags. */
bool sbx_cap_is_forbidden (const char *name);
int sbx_caps_sanitize (json_t *capabilities, sbx_err *err);

/* Whether the spec opted out of no_new_privs (annotation run.sbx.no-new-privileges=false). */
int sbx_nnp_optout (const json_t *spec, bool *optout, sbx_err *err);

#endif
