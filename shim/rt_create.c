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
  struct sbx_cmdline cl;
  struct sbx_doc doc;
  struct sbx_policy_ctx ctx = {
    .cfg = &rt->cfg,
    .delegate = rt->delegate.kind,
    .runtime_log = rt->g.log,
    .runtime_log_format = rt->g.log_format,
    .containerd_address = getenv ("GRPC_ADDRESS"),
    .containerd_namespace = getenv ("NAMESPACE"),
  };
  const char *bundle;
  int rc;

  if (sbx_parse_cmd (rt->argc, rt->argv, rt->g.cmd_index + 1, is_run ? sbx_run_flags : sbx_create_flags, false,
                     &cl, err)
      < 0)
    return sbx_wrap (err, "%s", rt->cmd);
  if (sbx_cmd_has (&cl, "help"))
    return 0;
  if (cl.first_positional < 0)
    return 0; /* the delegate explains the missing container id; nothing is created */
  ctx.container_id = rt->argv[cl.first_positional];
  bundle = sbx_cmd_value (&cl, "bundle");
  if (bundle == NULL || *bundle == '\0')
    bundle = ".";

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
