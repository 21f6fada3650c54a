/* cgroups.c - cgroup stage: a pids limit for every container whose engine set none, so a fork bomb stops. */
#define _GNU_SOURCE
#include <errno.h>

#include "policy.h"

int
sbx_stage_cgroups (json_t *spec, struct sbx_policy_ctx *ctx, sbx_err *err)
{
  long long def = sbx_config_int (ctx->cfg, "pids_limit", SBX_PIDS_LIMIT_DEFAULT), limit;
  json_t *lnx, *resources, *pids, *v;

  if (json_obj_ensure (spec, "linux", &lnx, err) < 0 || json_obj_ensure (lnx, "resources", &resources, err) < 0
      || json_obj_ensure (resources, "pids", &pids, err) < 0)
    return sbx_wrap (err, "linux.resources.pids");
  if (json_get_typed (pids, "limit", JSON_NUMBER, &v, err) < 0)
    return sbx_wrap (err, "linux.resources.pids");
  if (v != NULL && !json_num_int (v, &limit))
    return sbx_fail (err, EINVAL, "linux.resources.pids.limit is not an integer");
  /* runc and crun read 0 as "not set"; a negative limit is the engine asking for none, which it may. */
  if (v != NULL && limit != 0)
    {
      if (limit < 0)
        ctx->note (SBX_INFO, "container %s: no pids limit: the engine asked for none",
                   ctx->container_id ? ctx->container_id : "?");
      return 0;
    }
  if (def <= 0)
    return 0;
  return json_set (pids, "limit", json_new_int (def), err);
}
