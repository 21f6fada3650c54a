/* fuzz_argv.c - libFuzzer target: sbx-runtime's argv reading on arbitrary command lines (the input split on NUL
   into words).  Invariants, for both readings (runc's and crun's): nothing crashes; a command line sbx hands on
   untouched names no subcommand, or one on the pass-through list; a hardened one names create, run or exec and
   the container id sbx will use.  For crun the oracle is glibc's own argp_parse with crun 1.8.1's option tables
   (argp's help options replaced by inert look-alikes, so none prints or sleeps): wherever argp would find a
   subcommand, a bundle or a process file, sbx finds the same or refuses. */
#define _GNU_SOURCE
#include <argp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../shim/args.h"

#define MAX_WORDS 24

/* argp's defaults (--help/-?, --usage, --program-name, --HANG) as a child parser of their own: same names, same
   argument kinds, a group of their own (so getopt reads prefixes the same way), and no side effects. */
static struct argp_option defaults_opts[] = {
  { "help", '?', 0, 0, NULL, 0 },
  { "usage", 0x1001, 0, 0, NULL, 0 },
  { "program-name", 0x1002, "NAME", 0, NULL, 0 },
  { "HANG", 0x1003, "SECS", OPTION_ARG_OPTIONAL, NULL, 0 },
  { 0 },
};

struct oracle
{
  const char *bundle, *process;
  bool stop; /* help, usage or version: the real parser would print and exit here */
};

static error_t
defaults_parse (int key, char *arg, struct argp_state *state)
{
  struct oracle *o = state->input;
  (void) arg;
  if (key == '?' || key == 0x1001)
    {
      o->stop = true;
      return ECANCELED;
    }
  return key == 0x1002 || key == 0x1003 ? 0 : ARGP_ERR_UNKNOWN;
}

static struct argp defaults_argp = { defaults_opts, defaults_parse, NULL, NULL, NULL, NULL, NULL };
static struct argp_child defaults_child[] = { { &defaults_argp, 0, NULL, 0 }, { 0 } };

static struct argp_option global_opts[] = {
  { "debug", 0x2000, 0, 0, NULL, 0 },         { "cgroup-manager", 0x2001, "M", 0, NULL, 0 },
  { "systemd-cgroup", 0x2002, 0, 0, NULL, 0 }, { "log", 0x2003, "F", 0, NULL, 0 },
  { "log-format", 0x2004, "F", 0, NULL, 0 },  { "root", 0x2005, "D", 0, NULL, 0 },
  { "rootless", 0x2005, "V", 0, NULL, 0 },    { "version", 'v', 0, 0, NULL, 0 },
  { NULL, 'V', 0, OPTION_ALIAS, NULL, 0 },     { 0 },
};

#define CREATE_OPTS                                                                                                  \
  { "bundle", 'b', "DIR", 0, NULL, 0 }, { "config", 'f', "FILE", 0, NULL, 0 },                                       \
      { "console-socket", 0x3000, "S", 0, NULL, 0 }, { "preserve-fds", 0x3001, "N", 0, NULL, 0 },                    \
      { "no-pivot", 0x3002, 0, 0, NULL, 0 }, { "pid-file", 0x3003, "F", 0, NULL, 0 },                                \
      { "no-subreaper", 0x3004, 0, 0, NULL, 0 }, { "no-new-keyring", 0x3005, 0, 0, NULL, 0 }
static struct argp_option create_opts[] = { CREATE_OPTS, { 0 } };
static struct argp_option run_opts[] = { CREATE_OPTS, { "detach", 'd', 0, 0, NULL, 0 }, { 0 } };

static struct argp_option exec_opts[] = {
  { "console-socket", 0x4000, "S", 0, NULL, 0 }, { "tty", 't', "TTY", OPTION_ARG_OPTIONAL, NULL, 0 },
  { "process", 'p', "FILE", 0, NULL, 0 },        { "cwd", 0x4001, "C", 0, NULL, 0 },
  { "cgroup", 0x4002, "P", 0, NULL, 0 },         { "detach", 'd', 0, 0, NULL, 0 },
  { "user", 'u', "U", 0, NULL, 0 },              { "env", 'e', "E", 0, NULL, 0 },
  { "cap", 'c', "C", 0, NULL, 0 },               { "pid-file", 0x4003, "F", 0, NULL, 0 },
  { "preserve-fds", 0x4004, "N", 0, NULL, 0 },   { "no-new-privs", 0x4005, 0, 0, NULL, 0 },
  { "process-label", 0x4006, "V", 0, NULL, 0 },  { "apparmor", 0x4007, "V", 0, NULL, 0 },
  { 0 },
};

static error_t
oracle_parse (int key, char *arg, struct argp_state *state)
{
  struct oracle *o = state->input;
  if (key == 'v' || key == 'V')
    {
      o->stop = true;
      return ECANCELED;
    }
  if (key == 'b')
    o->bundle = arg;
  else if (key == 'p')
    o->process = arg;
  else if (key == ARGP_KEY_INIT)
    state->child_inputs[0] = o;
  else if (!(key >= 0x2000 && key < 0x5000) && !(key > 0 && key < 0x80 && strchr ("fdtuec", key)))
    return ARGP_ERR_UNKNOWN; /* positionals (ARGP_KEY_ARG, ARGP_KEY_ARGS) included: argp stops at the first */
  return 0;
}

/* argp_parse as crun runs it (ARGP_IN_ORDER) on ARGV[0..ARGC): the index of the first argument, or -1. */
static int
oracle_run (struct argp_option *opts, int argc, char **argv, struct oracle *o)
{
  struct argp a = { opts, oracle_parse, NULL, NULL, defaults_child, NULL, NULL };
  int first = argc;

  memset (o, 0, sizeof *o);
  if (argp_parse (&a, argc, argv, ARGP_IN_ORDER | ARGP_NO_ERRS | ARGP_NO_EXIT | ARGP_NO_HELP | ARGP_SILENT, &first,
                  o)
      != 0)
    return -1;
  return first;
}

static void
check_reading (enum sbx_syntax syn, int argc, char **argv)
{
  struct sbx_argv a;
  sbx_err err;

  if (sbx_argv_parse (syn, argc, argv, &a, &err) < 0)
    return; /* refused: always safe */
  if (a.action == SBX_ACT_PASS && a.cmd != SBX_CMD_NONE && !a.cl.help)
    {
      const char *cmd = argv[a.g.cmd_index];
      if (!sbx_cmd_passes (syn, cmd) || strcmp (cmd, "create") == 0 || strcmp (cmd, "run") == 0
          || strcmp (cmd, "exec") == 0 || strcmp (cmd, "restore") == 0)
        abort ();
    }
  if (a.action == SBX_ACT_HARDEN)
    {
      if (a.cmd != SBX_CMD_CREATE && a.cmd != SBX_CMD_RUN && a.cmd != SBX_CMD_EXEC)
        abort ();
      if (a.id == NULL || a.id != argv[a.cl.first_positional] || (a.cmd != SBX_CMD_EXEC && a.bundle == NULL))
        abort ();
    }
  if (syn != SBX_SYNTAX_ARGP)
    return;

  /* crun's reading by glibc itself: sbx's must match wherever it did not refuse. */
  struct oracle o;
  int first = oracle_run (global_opts, argc, argv, &o);
  if (first < 0 || o.stop)
    return; /* crun stops there: nothing runs */
  if (first >= argc)
    {
      if (a.cmd != SBX_CMD_NONE)
        abort ();
      return;
    }
  if (a.g.cmd_index != first)
    abort ();
  const char *cmd = argv[first];
  bool is_exec = strcmp (cmd, "exec") == 0;
  if (strcmp (cmd, "create") != 0 && strcmp (cmd, "run") != 0 && !is_exec)
    {
      if (strcmp (cmd, "restore") == 0 || a.action == SBX_ACT_HARDEN)
        abort (); /* sbx refuses restore, so reaching here means it handed it on */
      return;
    }
  if (a.action != SBX_ACT_HARDEN && !a.cl.help)
    abort ();
  first = oracle_run (is_exec ? exec_opts : strcmp (cmd, "run") == 0 ? run_opts : create_opts, argc - a.g.cmd_index,
                      argv + a.g.cmd_index, &o);
  if (first < 0 || o.stop || a.cl.help)
    return;
  first += a.g.cmd_index;
  if (first >= argc || first != a.cl.first_positional)
    abort ();
  if (is_exec)
    {
      if (o.process != a.process && (o.process == NULL || a.process == NULL || strcmp (o.process, a.process) != 0))
        abort ();
    }
  else if (strcmp (o.bundle ? (*o.bundle ? o.bundle : ".") : ".", a.bundle) != 0)
    abort ();
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *buf = malloc (size + 1), *argv[MAX_WORDS + 2];
  int argc = 0;

  if (buf == NULL)
    return 0;
  memcpy (buf, data, size);
  buf[size] = '\0';
  argv[argc++] = (char *) "sbx-runtime";
  for (char *p = buf; p < buf + size + 1 && argc <= MAX_WORDS; p += strlen (p) + 1)
    argv[argc++] = p;
  argv[argc] = NULL;
  check_reading (SBX_SYNTAX_GO, argc, argv);
  check_reading (SBX_SYNTAX_ARGP, argc, argv);
  free (buf);
  return 0;
}
