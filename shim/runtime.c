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

static bool
asks_version (struct sbx_rt *rt)
{
  for (int i = 1; i < rt->g.cmd_index; i++)
    if (strcmp (rt->argv[i], "--version") == 0 || strcmp (rt->argv[i], "-v") == 0)
      return true;
  return false;
}

static int
fail (sbx_err *err)
{
  sbx_log (SBX_ERROR, "sbx: %s", err->msg);
  return 1;
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
  sbx_parse_globals (argc, argv, &rt.g);
  sbx_log_setup (rt.g.log, rt.g.log_format && strcmp (rt.g.log_format, "json") == 0, rt.g.debug);
  rt.cmd = rt.g.cmd_index < argc ? argv[rt.g.cmd_index] : NULL;

  if (sbx_config_load (&rt.cfg, &err) < 0)
    return fail (&err);
  if (asks_version (&rt))
    return sbx_rt_version (&rt);
  if (sbx_delegate_resolve (&rt.cfg, &rt.delegate, &err) < 0)
    return fail (&err);

  if (rt.cmd == NULL)
    ;
  else if (strcmp (rt.cmd, "create") == 0)
    rc = sbx_rt_create (&rt, false, &err);
  else if (strcmp (rt.cmd, "run") == 0)
    rc = sbx_rt_create (&rt, true, &err);
  else if (strcmp (rt.cmd, "exec") == 0)
    rc = sbx_rt_exec (&rt, &err);
  else if (strcmp (rt.cmd, "features") == 0)
    return sbx_rt_features (&rt);
  else if (strcmp (rt.cmd, "state") == 0)
    return sbx_rt_state (&rt);
  else if (strcmp (rt.cmd, "delete") == 0)
    return sbx_rt_delete (&rt);
  if (rc < 0)
    return fail (&err);

  sbx_log (SBX_DEBUG, "sbx: handing %s to %s", rt.cmd ? rt.cmd : "(no command)", rt.delegate.path);
  sbx_delegate_exec (&rt.delegate, rt.argv, &err);
  return fail (&err);
}
