/* tenant.c - what a container's annotations may change: they always tighten, and loosen the node's policy only
   where sbx.json allows it, for every pod or for the pods of one Kubernetes namespace. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../common/util.h"
#include "../profiles/profile.h"
#include "policy.h"

/* The pod's Kubernetes namespace as the engine wrote it, or NULL.  Only the annotation sbx.json names counts:
   the engine must set it itself, after (over) anything a pod author could pass through. */
static const char *
pod_namespace (const json_t *spec, const struct sbx_policy_ctx *ctx)
{
  const char *key = sbx_config_str (ctx->cfg, "tenants.namespace_annotation", NULL);
  const char *v = key && *key ? json_annotation (spec, key) : NULL;

  return v && *v ? v : NULL;
}

static bool
setting_bool (const json_t *obj, const char *key)
{
  const json_t *v = json_find (obj, key);
  return json_is (v, JSON_BOOL) && json_is_true (v);
}

int
sbx_tenant_allowances (const json_t *spec, const struct sbx_policy_ctx *ctx, struct sbx_tenant_allow *a,
                       sbx_err *err)
{
  const json_t *per_ns;
  unsigned bits;

  memset (a, 0, sizeof *a);
  if (ctx->annotations_trusted)
    {
      /* sbx run: the local user is both the operator and the tenant of their own sandbox. */
      a->profile = a->nnp_optout = true;
      a->host_ns = ~0u;
      return 0;
    }
  a->profile = sbx_config_bool (ctx->cfg, "tenants.allow_profile", false);
  a->nnp_optout = sbx_config_bool (ctx->cfg, "tenants.allow_nnp_optout", false);
  if (sbx_ns_list_parse (sbx_config_str (ctx->cfg, "tenants.allow_host_ns", ""), "sbx.json tenants.allow_host_ns",
                         &a->host_ns, err) < 0)
    return -1;
  a->k8s_namespace = pod_namespace (spec, ctx);
  per_ns = a->k8s_namespace ? json_find (sbx_config_lookup (ctx->cfg, "tenants.namespaces"), a->k8s_namespace) : NULL;
  if (per_ns == NULL)
    return 0;
  a->profile |= setting_bool (per_ns, "allow_profile");
  a->nnp_optout |= setting_bool (per_ns, "allow_nnp_optout");
  if (sbx_ns_list_parse (json_str (json_find (per_ns, "allow_host_ns")) ?: "",
                         "sbx.json tenants.namespaces.*.allow_host_ns", &bits, err) < 0)
    return -1;
  a->host_ns |= bits;
  return 0;
}

int
sbx_tenant_refuse (sbx_err *err, const struct sbx_tenant_allow *a, const char *what, const char *setting,
                   const char *value)
{
  char per_ns[256] = "";

  if (a->k8s_namespace)
    snprintf (per_ns, sizeof per_ns, " (for pods of namespace %.63s alone: \"tenants.namespaces.%.63s.%s\")",
              a->k8s_namespace, a->k8s_namespace, setting);
  return sbx_fail (err, EPERM,
                   "%s refused: it would weaken the node's policy, which only sbx.json may do: \"tenants.%s\": %s "
                   "allows it%s",
                   what, setting, value, per_ns);
}

void
sbx_profile_sel_free (struct sbx_profile_sel *sel)
{
  sbx_profile_src_free (&sel->node);
  sbx_profile_src_free (&sel->extra);
}

int
sbx_profile_select (const json_t *spec, struct sbx_policy_ctx *ctx, struct sbx_profile_sel *sel, sbx_err *err)
{
  const char *node = sbx_config_str (ctx->cfg, "profile", SBX_PROFILE_DEFAULT);
  const char *want = json_annotation (spec, SBX_ANN_PROFILE);
  const char *id = ctx->container_id ? ctx->container_id : "?";
  struct sbx_tenant_allow allow;

  memset (sel, 0, sizeof *sel);
  /* No choice, or the node's own (sbx recorded it there when it hardened this spec before). */
  if (want == NULL || *want == '\0' || strcmp (want, node) == 0)
    {
      sel->name = node;
      return sbx_profile_source (ctx->cfg, node, &sel->node, err);
    }
  sel->name = want;
  if (ctx->annotations_trusted)
    return sbx_profile_source (ctx->cfg, want, &sel->node, err);
  if (sbx_profile_source_tenant (ctx->cfg, want, &sel->extra, err) < 0)
    return sbx_wrap (err, "annotation %s", SBX_ANN_PROFILE);
  if (sbx_tenant_allowances (spec, ctx, &allow, err) < 0)
    return -1;
  if (allow.profile)
    {
      /* sbx.json lets this container's profile replace the node's (run.sbx.profile records it). */
      sel->node = sel->extra;
      memset (&sel->extra, 0, sizeof sel->extra);
      return 0;
    }
  ctx->note (SBX_INFO,
             "container %s: seccomp profile %s is applied on top of the node's %s (it can only refuse more); "
             "sbx.json \"tenants.allow_profile\": true would let it replace it",
             id, want, node);
  return sbx_profile_source (ctx->cfg, node, &sel->node, err);
}
