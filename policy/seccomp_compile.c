/* seccomp_compile.c - for crun: the final filter handed over precompiled (run.oci.seccomp_bpf_data) from a cache,
   so a container start does not run libseccomp again; the seccomp stage's last step.  runc keeps the JSON form. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/util.h"
#include "../profiles/profile.h"
#include "../profiles/seccomp_oci.h"
#include "policy.h"

/* With this annotation crun refuses unknown syscall names; precompiled BPF would skip them silently. */
#define CRUN_FAIL_UNKNOWN "run.oci.seccomp_fail_unknown_syscall"

bool
sbx_seccomp_compile_wanted (const json_t *spec, const struct sbx_policy_ctx *ctx)
{
  return ctx->delegate == SBX_DELEGATE_CRUN && sbx_seccomp_cache_enabled (sbx_seccomp_cache_dir (ctx->cfg))
         && json_annotation (spec, CRUN_FAIL_UNKNOWN) == NULL;
}

int
sbx_seccomp_compile_crun (json_t *spec, json_t *seccomp, struct sbx_policy_ctx *ctx, bool *compiled, sbx_err *err)
{
  cleanup_free char *b64 = NULL, *saved = NULL;
  const char *dir = sbx_seccomp_cache_dir (ctx->cfg);
  json_t *annotations;
  sbx_err cerr = { 0 };
  bool hit;

  *compiled = false;
  if (sbx_bpf_cache_b64 (seccomp, dir, &b64, &saved, &hit, &cerr) < 0)
    {
      /* The JSON form holds the same filter; crun compiles it itself. */
      ctx->note (SBX_WARN, "container %s: no precompiled seccomp filter, crun will compile linux.seccomp: %s",
                 ctx->container_id ? ctx->container_id : "?", cerr.msg);
      return 0;
    }
  if (json_obj_ensure (spec, "annotations", &annotations, err) < 0)
    return -1;
  if (json_set (annotations, SBX_ANN_CRUN_BPF, json_new_str_take (steal_pointer (&b64)), err) < 0
      || json_set (annotations, SBX_ANN_SECCOMP_SAVED, json_new_str_take (steal_pointer (&saved)), err) < 0)
    return -1;
  /* crun parses linux.seccomp even when it loads the annotation instead (about 15 ms for a full profile, three
     times its own start): leave only what it still reads there (flags, listener).  The stand-in fails closed:
     were the annotation ever ignored, every syscall would kill the container.  The full filter stays in an
     annotation (a plain string to crun) for the next hardening of this spec. */
  if (json_set (seccomp, "defaultAction", json_new_str ("SCMP_ACT_KILL_PROCESS"), err) < 0
      || json_set (seccomp, "syscalls", json_new_arr (), err) < 0)
    return -1;
  json_del (seccomp, "defaultErrnoRet");
  json_del (seccomp, "architectures");
  ctx->note (SBX_DEBUG, "container %s: seccomp BPF from cache %s (%s)", ctx->container_id ? ctx->container_id : "?",
             dir, hit ? "hit" : "miss, compiled");
  *compiled = true;
  return 0;
}
