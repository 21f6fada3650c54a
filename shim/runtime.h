/* runtime.h - the subcommands sbx-runtime handles itself before handing the call to its delegate. */
#ifndef SBX_RUNTIME_H
#define SBX_RUNTIME_H

#include "../common/config.h"
#include "args.h"
#include "delegate.h"

#ifndef SBX_VERSION
#define SBX_VERSION "0.1.0"
#endif
#ifndef SBX_COMMIT
#define SBX_COMMIT "unknown"
#endif

struct sbx_rt
{
  int argc;
  char **argv;
  struct sbx_argv a; /* how the delegate reads argv (rt_exec may rebuild argv; indices refer to the original) */
  struct sbx_config cfg;
  struct sbx_delegate delegate;
  const char *cmd;
};

/* Each returns 0 when the call may be handed to the delegate (argv possibly edited), -1 on a refusal. */
int sbx_rt_create (struct sbx_rt *rt, bool is_run, sbx_err *err);
int sbx_rt_exec (struct sbx_rt *rt, sbx_err *err);
/* These print and return an exit status themselves. */
int sbx_rt_version (struct sbx_rt *rt);
int sbx_rt_features (struct sbx_rt *rt);

#endif
