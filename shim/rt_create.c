/* rt_create.c - `create` and `run`: find the bundle exactly as the delegate will, harden its config.json. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "../oci/bundle.h"
#include "../policy/policy.h"
#include "runtime.h"

int
sbx_rt_create (struct sbx_rt *rt, bool is_run, sbx_err *err)
{
  struct sbx_doc doc;
  struct sbx_policy_ctx ctx = {
    .cfg = &rt->cfg,
    .delegate = rt->delegate.kind,
    .runtime_log = rt->a.g.log,
    .runtime_log_format = rt->a.g.log_format,
    .containerd_address = getenv ("GRPC_ADDRESS"),
    .containerd_namespace = getenv ("NAMESPACE"),
    .container_id = rt->a.id,
  };
  /* The bundle and id as the delegate reads them (sbx_argv_parse mirrors its parser). */
  const char *bundle = rt->a.bundle;
  int rc;

  (void) is_run;
  if (sbx_doc_open (bundle, "config.json", &doc, err) < 0)
    {
      sbx_doc_close (&doc); /* what it read before refusing (LeakSanitizer, hack/check.sh) */
      return sbx_wrap (err, "container %s", ctx.container_id);
    }
  doc.sync = sbx_config_bool (&rt->cfg, "bundle_sync", false);
  rc = sbx_policy_apply_spec (doc.root, &ctx, err);
  if (rc == 0)
    rc = sbx_doc_save (&doc, err);
  if (rc < 0)
    sbx_wrap (err, "container %s", ctx.container_id);
  else
    sbx_log (SBX_DEBUG, "sbx: container %s: %s hardened (policy %s, profile %s)", ctx.container_id, doc.path,
             SBX_POLICY_VERSION, ctx.profile ? ctx.profile : "-");
  sbx_doc_close (&doc);
  return rc;
}
