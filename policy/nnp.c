/* nnp.c - no_new_privs stage: set unless the container opts out by annotation, which sbx.json must allow (and
   then say so). */
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
  struct sbx_tenant_allow allow;
  json_t *process;
  bool optout;

  if (sbx_nnp_optout (spec, &optout, err) < 0)
    return -1;
  if (optout)
    {
      if (sbx_tenant_allowances (spec, ctx, &allow, err) < 0)
        return -1;
      if (!allow.nnp_optout)
        return sbx_tenant_refuse (err, &allow, "annotation " SBX_ANN_NNP "=false (setuid files would gain privileges)",
                                  "allow_nnp_optout", "true");
      ctx->note (SBX_WARN, "container %s: no_new_privs left to the engine: annotation %s=false, allowed by sbx.json",
                 ctx->container_id ? ctx->container_id : "?", SBX_ANN_NNP);
      return 0;
    }
  if (json_obj_ensure (spec, "process", &process, err) < 0)
    return -1;
  return json_set (process, "noNewPrivileges", json_new_bool (true), err);
}
