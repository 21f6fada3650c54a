/* runtime.c - sbx-runtime: runc's command line; hardens create, run and exec, then becomes the delegate. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "../common/util.h"
#include "runtime.h"

int sbx_rt_state (struct sbx_rt *rt);
int sbx_rt_delete (struct sbx_rt *rt);

static int
fail (sbx_err *err)
{
  sbx_log (SBX_ERROR, "sbx: %s", err->msg);
  return 1;
}

/* Where errors go before the delegate (and so its parser) is known: the runtime log as runc would read it. */
static void
early_log_setup (int argc, char **argv)
{
  struct sbx_globals g;
  sbx_err ignored;

  sbx_parse_globals (SBX_SYNTAX_GO, argc, argv, &g, &ignored);
  sbx_log_setup (g.log, g.log_format && strcmp (g.log_format, "json") == 0, g.debug);
}

static int
parse_argv (struct sbx_rt *rt, sbx_err *err)
{
  int rc;

  switch (rt->delegate.kind)
    {
    case SBX_DELEGATE_RUNC:
      rc = sbx_argv_parse (SBX_SYNTAX_GO, rt->argc, rt->argv, &rt->a, err);
      break;
    case SBX_DELEGATE_CRUN:
      rc = sbx_argv_parse (SBX_SYNTAX_ARGP, rt->argc, rt->argv, &rt->a, err);
      break;
    default:
      rc = sbx_argv_parse_any (rt->argc, rt->argv, &rt->a, err);
      break;
    }
  /* Log where the delegate's own parser says (a global option may name the log in a form only it reads). */
  if (rc == 0 || rt->a.g.log)
    sbx_log_setup (rt->a.g.log, rt->a.g.log_format && strcmp (rt->a.g.log_format, "json") == 0, rt->a.g.debug);
  return rc;
}

/* On every return from main: the settings (sbx-runtime otherwise ends in exec, which needs no freeing). */
static void
rt_release (struct sbx_rt *rt)
{
  sbx_config_free (&rt->cfg);
}

int
main (int argc, char **argv)
{
  struct sbx_rt rt __attribute__ ((cleanup (rt_release))) = { .argc = argc, .argv = argv };
  sbx_err err = { 0 };
  int rc = 0;

  /* This process ends in exec (or exit) within milliseconds: freeing parsed documents is wasted work.  Sanitizer
     builds keep freeing, so LeakSanitizer still checks the error paths. */
#ifndef __SANITIZE_ADDRESS__
  json_free_disable ();
  sbx_prefault_enable ();
#endif
  early_log_setup (argc, argv);
  if (sbx_config_load (&rt.cfg, &err) < 0)
    return fail (&err);
  /* --version answers even without a delegate; anything else needs to know whose parser reads argv. */
  if (sbx_delegate_resolve (&rt.cfg, &rt.delegate, &err) < 0)
    {
      struct sbx_globals g;
      sbx_err ignored;
      if (sbx_parse_globals (SBX_SYNTAX_GO, argc, argv, &g, &ignored) == 0 && g.info == SBX_F_VERSION)
        return sbx_rt_version (&rt);
      return fail (&err);
    }
  if (parse_argv (&rt, &err) < 0)
    return fail (&err);
  rt.cmd = rt.a.cmd != SBX_CMD_NONE ? argv[rt.a.g.cmd_index] : NULL;
  if (rt.a.action == SBX_ACT_VERSION)
    return sbx_rt_version (&rt);

  switch (rt.a.action == SBX_ACT_HARDEN || rt.a.action == SBX_ACT_PASS ? rt.a.cmd : SBX_CMD_NONE)
    {
    case SBX_CMD_CREATE:
    case SBX_CMD_RUN:
      if (rt.a.action == SBX_ACT_HARDEN)
        rc = sbx_rt_create (&rt, rt.a.cmd == SBX_CMD_RUN, &err);
      break;
    case SBX_CMD_EXEC:
      if (rt.a.action == SBX_ACT_HARDEN)
        rc = sbx_rt_exec (&rt, &err);
      break;
    case SBX_CMD_FEATURES:
      return sbx_rt_features (&rt);
    case SBX_CMD_STATE:
      return sbx_rt_state (&rt);
    case SBX_CMD_DELETE:
      return sbx_rt_delete (&rt);
    default:
      break; /* on the pass-through list (sbx_argv_parse refused everything else), help, or no command */
    }
  if (rc < 0)
    return fail (&err);

  sbx_log (SBX_DEBUG, "sbx: handing %s to %s", rt.cmd ? rt.cmd : "(no command)", rt.delegate.path);
  sbx_delegate_exec (&rt.delegate, rt.argv, &err);
  return fail (&err);
}
