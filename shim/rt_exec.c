/* rt_exec.c - `exec`: the new process gets no CAP_SYS_MODULE and keeps no_new_privs, whatever the engine asked. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
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
  if (rt->a.g.root)
    argv[n++] = "--root", argv[n++] = (char *) rt->a.g.root;
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

/* Harden the --process document in place, or, when it came through a pipe (`-p <(...)`, "/dev/fd/N"), into a sealed
   memfd: *NEW_ARG then gets the "--process=/proc/self/fd/M" that hands it to the delegate. */
static int
harden_process_file (struct sbx_rt *rt, struct sbx_policy_ctx *ctx, int *optout, char **new_arg, sbx_err *err)
{
  const char *path = rt->a.process;
  int pfd = sbx_fd_path (path), rc;
  struct sbx_doc doc = { .dirfd = -1 };

  *new_arg = NULL;
  if ((pfd >= 0 ? sbx_doc_read_fd (pfd, path, &doc, err) : sbx_doc_open_path (path, &doc, err)) < 0)
    {
      sbx_doc_close (&doc);
      return -1;
    }
  doc.sync = sbx_config_bool (&rt->cfg, "bundle_sync", false);
  if (*optout < 0 && !json_is_true (json_find (doc.root, "noNewPrivileges")))
    *optout = container_nnp_optout (rt, ctx->container_id);
  rc = sbx_policy_apply_process (doc.root, *optout > 0, ctx, err);
  if (rc == 0)
    rc = sbx_doc_save (&doc, err);
  if (rc == 0 && pfd >= 0 && asprintf (new_arg, "--process=%s", doc.path) < 0)
    rc = sbx_fail (err, ENOMEM, "%s", path);
  sbx_doc_close (&doc);
  return rc;
}

/* Rebuild argv: the options marked in DROP out, ADD1 and ADD2 (when not NULL) in right after the subcommand. */
static int
rebuild_argv (struct sbx_rt *rt, const bool *drop, char *add1, char *add2, sbx_err *err)
{
  const struct sbx_cmdline *cl = &rt->a.cl;
  char **argv = calloc (rt->argc + 3, sizeof *argv);
  int w, k;

  if (argv == NULL)
    return sbx_fail (err, ENOMEM, "exec in %s", rt->a.id);
  for (w = 0; w <= rt->a.g.cmd_index; w++)
    argv[w] = rt->argv[w];
  if (add1)
    argv[w++] = add1;
  if (add2)
    argv[w++] = add2;
  for (int r = rt->a.g.cmd_index + 1; r < rt->argc;)
    {
      for (k = 0; k < cl->nopts && cl->opts[k].index != r; k++)
        ;
      if (k < cl->nopts && drop[k])
        {
          r += cl->opts[k].nargs;
          continue;
        }
      argv[w++] = rt->argv[r++];
    }
  argv[w] = NULL;
  rt->argv = argv; /* lives until the exec */
  rt->argc = w;
  return 0;
}

int
sbx_rt_exec (struct sbx_rt *rt, sbx_err *err)
{
  const struct sbx_cmdline *cl = &rt->a.cl;
  struct sbx_policy_ctx ctx = { .cfg = &rt->cfg, .delegate = rt->delegate.kind };
  const char *process_path;
  bool drop[SBX_MAX_OPTS] = { false }, has_nnp = false;
  int optout = -1; /* unknown until needed */
  char *new_process = NULL; /* lives until the exec */
  const char *id;

  id = ctx.container_id = rt->a.id;

  for (int i = 0; i < cl->nopts; i++)
    {
      const struct sbx_opt *o = &cl->opts[i];
      if (strcmp (sbx_opt_name (o), "cap") == 0 && sbx_cap_is_forbidden (o->value))
        {
          /* A word holding other options too (crun: "-dc CAP") cannot lose just this one. */
          if (o->shared)
            return sbx_fail (err, EPERM, "exec in %s: capability %s refused, inside the combined option '%s'", id,
                             o->value, rt->argv[o->index]);
          sbx_log (SBX_WARN, "sbx: exec in %s: capability %s refused", id, o->value);
          drop[i] = true;
        }
      else if (strcmp (sbx_opt_name (o), "no-new-privs") == 0)
        {
          /* Every form is replaced by one plain --no-new-privs below, unless the container opted out. */
          if (optout < 0)
            optout = container_nnp_optout (rt, id);
          drop[i] = !optout;
        }
    }

  process_path = rt->a.process;
  if (process_path)
    {
      if (harden_process_file (rt, &ctx, &optout, &new_process, err) < 0)
        return sbx_wrap (err, "exec in %s", id);
      has_nnp = true; /* the process document carries it; runc and crun ignore the flag then */
      /* A process document read from a pipe now lives in a memfd: every --process gives way to one naming it. */
      for (int i = 0; new_process && i < cl->nopts; i++)
        if (strcmp (sbx_opt_name (&cl->opts[i]), "process") == 0)
          {
            if (cl->opts[i].shared)
              return sbx_fail (err, EINVAL, "exec in %s: give --process on its own, not inside '%s'", id,
                               rt->argv[cl->opts[i].index]);
            drop[i] = true;
          }
    }
  else if (optout < 0)
    /* Without --process crun does not inherit the container's no_new_privs (runc does): say it explicitly. */
    optout = container_nnp_optout (rt, id);

  return rebuild_argv (rt, drop, !has_nnp && optout == 0 ? "--no-new-privs" : NULL, new_process, err);
}
