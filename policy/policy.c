/* policy.c - the order in which sbx hardens a spec, and the record it leaves in the annotations. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "notify.h"
#include "policy.h"

typedef int (*sbx_stage_fn) (json_t *spec, struct sbx_policy_ctx *ctx, sbx_err *err);

static const struct
{
  const char *name;
  sbx_stage_fn fn;
} stages[] = {
  { "capabilities", sbx_stage_caps },
  { "no_new_privs", sbx_stage_nnp },
  { "namespaces", sbx_stage_namespaces },
  { "cgroups", sbx_stage_cgroups },
  { "host_paths", sbx_stage_host_paths },
  { "seccomp", sbx_stage_seccomp },
  { "notify", sbx_stage_notify },
  { "annotations", sbx_stage_annotations },
};

int
sbx_stage_annotations (json_t *spec, struct sbx_policy_ctx *ctx, sbx_err *err)
{
  json_t *ann;

  if (json_obj_ensure (spec, "annotations", &ann, err) < 0)
    return -1;
  if (json_set (ann, SBX_ANN_POLICY, json_new_str (SBX_POLICY_VERSION), err) < 0)
    return -1;
  if (ctx->profile && json_set (ann, SBX_ANN_PROFILE, json_new_str (ctx->profile), err) < 0)
    return -1;
  return 0;
}

int
sbx_policy_apply_spec (json_t *spec, struct sbx_policy_ctx *ctx, sbx_err *err)
{
  if (ctx->note == NULL)
    ctx->note = sbx_log;
  for (size_t i = 0; i < sizeof stages / sizeof stages[0]; i++)
    if (stages[i].fn (spec, ctx, err) < 0)
      return sbx_wrap (err, "cannot apply sbx policy (%s)", stages[i].name);
  return 0;
}

int
sbx_policy_apply_process (json_t *process, bool nnp_optout, struct sbx_policy_ctx *ctx, sbx_err *err)
{
  json_t *caps;

  if (ctx->note == NULL)
    ctx->note = sbx_log;
  if (json_get_typed (process, "capabilities", JSON_OBJECT, &caps, err) < 0 || sbx_caps_sanitize (caps, err) < 0)
    return sbx_wrap (err, "cannot apply sbx policy to the exec'd process");
  if (!nnp_optout && json_set (process, "noNewPrivileges", json_new_bool (true), err) < 0)
    return sbx_wrap (err, "cannot apply sbx policy to the exec'd process");
  return 0;
}
