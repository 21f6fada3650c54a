/* nnp.c - no_new_privs stage: set unless the container opts out by annotation (and then say so). */
#define _GNU_SOURCE
#include <errno.h>

#include "../common/util.h"
#include "policy.h"

int
sbx_nnp_optout (const json_t *spec, bool *optout, sbx_err *err)
{
  const char *v = json_annotation (spec, SBX_ANN_NNP);
  bool want;

  *optout = false;
  if (v == NULL)
    return 0;
  if (sbx_parse_bool (v, &want) < 0)
    return sbx_fail (err, EINVAL, "annotation %s=\"%s\": expected true or false", SBX_ANN_NNP, v);
  *optout = !want;
  return 0;
}

int
sbx_stage_nnp (json_t *spec, struct sbx_policy_ctx *ctx, sbx_err *err)
{
  json_t *process;
  bool optout;

  if (sbx_nnp_optout (spec, &optout, err) < 0)
    return -1;
  if (optout)
    {
      ctx->note (SBX_WARN, "container %s: no_new_privs left to the engine: annotation %s=false",
                 ctx->container_id ? ctx->container_id : "?", SBX_ANN_NNP);
      return 0;
    }
  if (json_obj_ensure (spec, "process", &process, err) < 0)
    return -1;
  return json_set (process, "noNewPrivileges", json_new_bool (true), err);
}
