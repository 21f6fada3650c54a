/* args.h - reading runc's command line exactly as the delegate will: Go's flag package under urfave/cli for runc,
   glibc argp (getopt_long: unique prefixes, clustered short options) for crun. */
#ifndef SBX_ARGS_H
#define SBX_ARGS_H

#include <stdbool.h>

#include "../common/error.h"

/* Whose parser the delegate uses.  A delegate of unknown kind is read both ways and must agree. */
enum sbx_syntax
{
  SBX_SYNTAX_GO,   /* runc 1.1: urfave/cli v1.22.1 over Go's flag package */
  SBX_SYNTAX_ARGP, /* crun 1.8: argp_parse (ARGP_IN_ORDER) over getopt_long */
};

enum sbx_arg
{
  SBX_NOARG,  /* Go: a boolean flag (takes "=value" only) */
  SBX_REQARG, /* "--x v", "--x=v", argp also "-xv" */
  SBX_OPTARG, /* argp only: "--x=v" or "-xv", never a separate word */
};

enum sbx_flag_role
{
  SBX_F_PLAIN,   /* passed on as it is */
  SBX_F_HELP,    /* the delegate prints help and starts nothing */
  SBX_F_VERSION, /* sbx prints its own version and the delegate's */
  SBX_F_REFUSE,  /* known to the delegate, refused by sbx (see refuse_why) */
};

struct sbx_flag
{
  const char *name;  /* long name without dashes (Go: one of the flag's names); NULL for a short-only alias */
  char short_name;   /* argp: its short option; Go: its one-letter alias */
  enum sbx_arg arg;
  enum sbx_flag_role role;
  int key;           /* argp: options sharing a key are one option to getopt (never ambiguous together) */
  const char *canon; /* the name sbx knows the option by, when NAME is an alias */
  const char *refuse_why;
};

/* One option as the delegate reads it. */
struct sbx_opt
{
  const struct sbx_flag *flag;
  const char *value; /* NULL for a flag given without a value */
  int index;         /* argv index of the word holding the option */
  int nargs;         /* words it used: 1 for --x=v, -xv or --x, 2 for --x v */
  bool shared;       /* the word holds other options too (argp: -dt) */
  bool by_alias;     /* Go: given by its one-letter alias (-b for --bundle) */
};

#define SBX_MAX_OPTS 64

struct sbx_cmdline
{
  struct sbx_opt opts[SBX_MAX_OPTS];
  int nopts;
  int first_positional; /* argv index of the first positional (the container id), or -1 */
  int npositional;      /* how many positionals the delegate sees */
  bool help;            /* the delegate shows help and runs nothing */
};

/* What sbx needs from the global options; everything is passed on unchanged. */
struct sbx_globals
{
  const char *root, *log, *log_format;
  bool debug;
  enum sbx_flag_role info; /* SBX_F_HELP or SBX_F_VERSION when one ends the command line, else SBX_F_PLAIN */
  int cmd_index;           /* argv index of the subcommand, or argc when there is none */
};

/* Parse the global options as SYN would.  Fills what it found so far even on error (for logging). */
int sbx_parse_globals (enum sbx_syntax syn, int argc, char **argv, struct sbx_globals *g, sbx_err *err);

/* What sbx-runtime does with a command line. */
enum sbx_rt_action
{
  SBX_ACT_HARDEN,  /* create, run or exec: harden, then hand on */
  SBX_ACT_PASS,    /* a subcommand on the list of those that start nothing from a spec, or help */
  SBX_ACT_VERSION, /* --version */
};

enum sbx_cmd
{
  SBX_CMD_NONE,
  SBX_CMD_CREATE,
  SBX_CMD_RUN,
  SBX_CMD_EXEC,
  SBX_CMD_STATE,
  SBX_CMD_DELETE,
  SBX_CMD_FEATURES,
  SBX_CMD_OTHER, /* on the pass-through list, no special handling */
};

struct sbx_argv
{
  enum sbx_syntax syntax;
  enum sbx_rt_action action;
  enum sbx_cmd cmd;
  struct sbx_globals g;
  struct sbx_cmdline cl; /* create, run and exec */
  const char *bundle;    /* create and run: as given ("." when none) */
  const char *id;        /* create, run and exec */
  const char *process;   /* exec --process, or NULL */
};

/* Read ARGV as the delegate of syntax SYN will.  Returns -1 (with ERR naming the word and why) for anything sbx
   must refuse: an option or subcommand it does not know, one it refuses, or a command line the delegate would
   read in a way sbx does not model. */
int sbx_argv_parse (enum sbx_syntax syn, int argc, char **argv, struct sbx_argv *a, sbx_err *err);

/* For a delegate of unknown kind: both readings, which must agree on everything sbx acts on. */
int sbx_argv_parse_any (int argc, char **argv, struct sbx_argv *a, sbx_err *err);

/* Whether NAME is a subcommand sbx hands on without hardening (it starts no process from a spec). */
bool sbx_cmd_passes (enum sbx_syntax syn, const char *name);

/* Whether option NAME (its canonical name) was given at all. */
bool sbx_cmd_has (const struct sbx_cmdline *cl, const char *name);

/* The value of the last occurrence of option NAME, or NULL. */
const char *sbx_cmd_value (const struct sbx_cmdline *cl, const char *name);

/* The canonical name of an option. */
const char *sbx_opt_name (const struct sbx_opt *o);

#endif
