/* seccomp.c - seccomp stage: the engine's filter, only ever tightened, with the module block on top. */
#define _GNU_SOURCE
#include <errno.h>

#include "../profiles/seccomp_oci.h"
#include "policy.h"

/* crun loads a precompiled filter from this annotation instead of linux.seccomp: one supplied by the engine
   would bypass everything sbx writes into the spec. */
#define CRUN_BPF_ANNOTATION "run.oci.seccomp_bpf_data"

int
sbx_stage_seccomp (json_t *spec, struct sbx_policy_ctx *ctx, sbx_err *err)
{
  json_t *seccomp, *annotations;

  if (json_get_typed (spec, "annotations", JSON_OBJECT, &annotations, err) < 0)
    return -1;
  if (annotations && json_del (annotations, CRUN_BPF_ANNOTATION))
    ctx->note (SBX_WARN, "container %s: dropped annotation %s: a precompiled filter would replace sbx's",
               ctx->container_id ? ctx->container_id : "?", CRUN_BPF_ANNOTATION);
  if (sbx_seccomp_of_spec (spec, &seccomp, err) < 0)
    return -1;
  if (sbx_seccomp_block_modules (seccomp, err) < 0)
    return -1;
  ctx->profile = "baseline";
  return 0;
}
