/* rt_exec.c - `exec`: the new process gets no CAP_SYS_MODULE and keeps no_new_privs, whatever the engine asked. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "../common/log.h"
#include "../common/util.h"
#include "../oci/bundle.h"
#include "../policy/policy.h"
#include "runtime.h"

/* Whether the container opted out of no_new_privs: its annotations, as the delegate's `state` reports them.
   Asked only when an exec would otherwise run without no_new_privs.  When the state cannot be read, the
   answer is no: sbx errs on the strict side. */
static bool
container_nnp_optout (struct sbx_rt *rt, const char *id)
{
  char *argv[8];
  int n = 0, status;
  cleanup_free char *out = NULL;
  size_t len;
  json_t *state = NULL;
  bool optout = false;
  sbx_err err;

  argv[n++] = NULL;
  if (rt->g.root)
    argv[n++] = "--root", argv[n++] = (char *) rt->g.root;
  argv[n++] = "state";
  argv[n++] = (char *) id;
  argv[n] = NULL;
  if (sbx_delegate_capture (&rt->delegate, argv, 1 << 20, &out, &len, &status, &err) < 0 || !WIFEXITED (status)
      || WEXITSTATUS (status) != 0 || json_parse (out, len, "state", &state, &err) < 0)
    return false;
  if (sbx_nnp_optout (state, &optout, &err) < 0)
    optout = false;
  json_free (state);
  return optout;
}

int
sbx_rt_exec (struct sbx_rt *rt, sbx_err *err)
{
  struct sbx_cmdline cl;
  struct sbx_policy_ctx ctx = { .cfg = &rt->cfg, .delegate = rt->delegate.kind };
  const char *process_path;
  bool drop[SBX_MAX_OPTS] = { false }, has_nnp = false;
  int optout = -1; /* unknown until needed */
  const char *id;
  char **argv;
  int w, k;

  if (sbx_parse_cmd (rt->argc, rt->argv, rt->g.cmd_index + 1, sbx_exec_flags, true, &cl, err) < 0)
    return sbx_wrap (err, "exec");
  if (sbx_cmd_has (&cl, "help") || cl.first_positional < 0)
    return 0;
  id = ctx.container_id = rt->argv[cl.first_positional];

  for (int i = 0; i < cl.nopts; i++)
    {
      const struct sbx_opt *o = &cl.opts[i];
      if (strcmp (o->flag->name, "cap") == 0 && sbx_cap_is_forbidden (o->value))
        {
          sbx_log (SBX_WARN, "sbx: exec in %s: capability %s refused", id, o->value);
          drop[i] = true;
        }
      else if (strcmp (o->flag->name, "no-new-privs") == 0)
        {
          /* Every form is replaced by one plain --no-new-privs below, unless the container opted out. */
          if (optout < 0)
            optout = container_nnp_optout (rt, id);
          drop[i] = !optout;
        }
    }

  process_path = sbx_cmd_value (&cl, "process");
  if (process_path)
    {
      struct sbx_doc doc = { .dirfd = -1 };
      int rc;

      if (sbx_doc_open_path (process_path, &doc, err) < 0)
        {
          sbx_doc_close (&doc); /* what it read before refusing */
          return sbx_wrap (err, "exec in %s", id);
        }
      doc.sync = sbx_config_bool (&rt->cfg, "bundle_sync", false);
      if (optout < 0 && !json_is_true (json_find (doc.root, "noNewPrivileges")))
        optout = container_nnp_optout (rt, id);
      rc = sbx_policy_apply_process (doc.root, optout > 0, &ctx, err);
      if (rc == 0)
        rc = sbx_doc_save (&doc, err);
      sbx_doc_close (&doc);
      if (rc < 0)
        return sbx_wrap (err, "exec in %s", id);
      has_nnp = true; /* the process document carries it; runc and crun ignore the flag then */
    }
  else if (optout < 0)
    /* Without --process crun does not inherit the container's no_new_privs (runc does): say it explicitly. */
    optout = container_nnp_optout (rt, id);

  /* Rebuild argv: refused options out, --no-new-privs in right after the subcommand. */
  argv = calloc (rt->argc + 2, sizeof *argv);
  if (argv == NULL)
    return sbx_fail (err, ENOMEM, "exec in %s", id);
  for (w = 0; w <= rt->g.cmd_index; w++)
    argv[w] = rt->argv[w];
  if (!has_nnp && optout == 0)
    argv[w++] = "--no-new-privs";
  for (int r = rt->g.cmd_index + 1; r < rt->argc;)
    {
      for (k = 0; k < cl.nopts && cl.opts[k].index != r; k++)
        ;
      if (k < cl.nopts && drop[k])
        {
          r += cl.opts[k].nargs;
          continue;
        }
      argv[w++] = rt->argv[r++];
    }
  argv[w] = NULL;
  rt->argv = argv; /* lives until the exec */
  rt->argc = w;
  return 0;
}
