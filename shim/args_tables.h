/* args_tables.h - the options runc 1.1 and crun 1.8 know, per subcommand, as their own sources declare them. */
#ifndef SBX_ARGS_TABLES_H
#define SBX_ARGS_TABLES_H

#include "args.h"

struct sbx_syntax_tables
{
  const struct sbx_flag *global, *create, *run, *exec;
  const char *const *pass; /* subcommands that start no process from a spec */
};

extern const struct sbx_syntax_tables sbx_tables[2];

/* Why sbx refuses a subcommand the delegate knows, or NULL. */
const char *sbx_cmd_refused (const char *name);

#endif
