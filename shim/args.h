/* args.h - reading runc's command line the way runc (Go flag parsing) and crun (argp) do. */
#ifndef SBX_ARGS_H
#define SBX_ARGS_H

#include <stdbool.h>

#include "../common/error.h"

struct sbx_flag
{
  const char *name;   /* long name without dashes */
  char short_name;    /* 0 when none */
  bool takes_value;
};

/* What sbx needs from runc's global flags; everything is passed on unchanged. */
struct sbx_globals
{
  const char *root, *log, *log_format;
  bool debug;
  int cmd_index; /* argv index of the subcommand, or argc when there is none */
};

void sbx_parse_globals (int argc, char **argv, struct sbx_globals *g);

/* One parsed subcommand option (VALUE NULL for a boolean given without "=value"). */
struct sbx_opt
{
  const struct sbx_flag *flag;
  const char *value;
  int index;       /* argv index of the flag */
  int nargs;       /* 1 for --x=v or --x, 2 for --x v */
};

#define SBX_MAX_OPTS 64

struct sbx_cmdline
{
  struct sbx_opt opts[SBX_MAX_OPTS];
  int nopts;
  int first_positional; /* argv index of the container id, or -1 */
};

/* Parse the options of a subcommand in ARGV[START..ARGC).  IN_ORDER: stop at the first positional (exec: what
   follows is the command); otherwise options may follow positionals.  An option missing from FLAGS is an
   error: sbx must know which file the delegate will read before it lets the delegate read it. */
int sbx_parse_cmd (int argc, char **argv, int start, const struct sbx_flag *flags, bool in_order,
                   struct sbx_cmdline *cl, sbx_err *err);

/* Whether option NAME was given at all. */
bool sbx_cmd_has (const struct sbx_cmdline *cl, const char *name);

/* The value of the last occurrence of option NAME, or NULL. */
const char *sbx_cmd_value (const struct sbx_cmdline *cl, const char *name);

extern const struct sbx_flag sbx_create_flags[];
extern const struct sbx_flag sbx_run_flags[];
extern const struct sbx_flag sbx_exec_flags[];

#endif
