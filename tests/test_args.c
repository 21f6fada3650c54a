/* test_args.c - reading runc's command line as runc (Go flag) and crun (argp) do: where the bundle is, what exec
   will run, what is refused.  `test_args --explain runc|crun|any ARGS...` prints sbx's reading of one command line
   (integration/argv.bats compares it with what the real delegates do). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../shim/args.h"
#include "tap.h"

#define GO SBX_SYNTAX_GO
#define ARGP SBX_SYNTAX_ARGP
#define ANY 2

static const char *const cmd_names[] = { "none", "create", "run", "exec", "state", "delete", "features", "other" };

/* One line: "harden CMD bundle=B id=I [process=P]", "pass CMD", "version" or "refuse: MESSAGE". */
static void
explain (int syn, int argc, char **argv, char *out, size_t size)
{
  struct sbx_argv a;
  sbx_err err;
  int rc = syn == ANY ? sbx_argv_parse_any (argc, argv, &a, &err) : sbx_argv_parse (syn, argc, argv, &a, &err);

  if (rc < 0)
    snprintf (out, size, "refuse: %s", err.msg);
  else if (a.action == SBX_ACT_VERSION)
    snprintf (out, size, "version");
  else if (a.action == SBX_ACT_PASS)
    snprintf (out, size, "pass %s", a.cmd == SBX_CMD_NONE ? "-" : argv[a.g.cmd_index]);
  else if (a.cmd == SBX_CMD_EXEC)
    snprintf (out, size, "harden exec id=%s process=%s", a.id, a.process ? a.process : "-");
  else
    snprintf (out, size, "harden %s bundle=%s id=%s", cmd_names[a.cmd], a.bundle, a.id);
}

static int
run_explain (int argc, char **argv)
{
  char out[8192];
  int syn = strcmp (argv[2], "runc") == 0 ? GO : strcmp (argv[2], "crun") == 0 ? ARGP : ANY;

  /* argv[2] stands where the program name was: the command line starts after it. */
  explain (syn, argc - 2, argv + 2, out, sizeof out);
  puts (out);
  return 0;
}

#define ARGV(...) ((char *[]){ "sbx-runtime", ##__VA_ARGS__, NULL })
#define ARGC(a) ({ int _n = 0; while ((a)[_n]) _n++; _n; })

/* The reading of A under SYN starts with WANT. */
#define READS(syn, a, want)                                                                                          \
  do                                                                                                                 \
    {                                                                                                                \
      char _out[8192];                                                                                               \
      char **_a = (a);                                                                                               \
      explain (syn, ARGC (_a), _a, _out, sizeof _out);                                                               \
      tap_ok (strncmp (_out, want, strlen (want)) == 0, "%s: %s -> %s (want %s)", #syn, #a, _out, want);              \
    }                                                                                                                \
  while (0)

static void
test_globals (void)
{
  struct sbx_globals g;
  sbx_err err;
  char **a;

  a = ARGV ("--root", "/r", "--log=/l.json", "--log-format", "json", "--debug", "--systemd-cgroup", "create", "x");
  tap_ok (sbx_parse_globals (GO, ARGC (a), a, &g, &err) == 0 && strcmp (g.root, "/r") == 0
              && strcmp (g.log, "/l.json") == 0 && strcmp (g.log_format, "json") == 0 && g.debug
              && strcmp (a[g.cmd_index], "create") == 0,
          "runc: global flags in both forms, subcommand found");
  a = ARGV ("--ro", "/r", "--log-f", "json", "--cgroup-m", "cgroupfs", "create", "x");
  tap_ok (sbx_parse_globals (ARGP, ARGC (a), a, &g, &err) == 0 && strcmp (g.root, "/r") == 0
              && strcmp (g.log_format, "json") == 0 && strcmp (a[g.cmd_index], "create") == 0,
          "crun: unique prefixes of global options (--ro is --root: --rootless shares its key in crun 1.8)");
  a = ARGV ("--rootless", "/r2", "state", "x");
  tap_ok (sbx_parse_globals (ARGP, ARGC (a), a, &g, &err) == 0 && strcmp (g.root, "/r2") == 0,
          "crun 1.8: --rootless sets the state directory");
  a = ARGV ("--log-f", "json", "create", "x");
  tap_ok (sbx_parse_globals (GO, ARGC (a), a, &g, &err) < 0 && strstr (err.msg, "--log-f"),
          "runc: no prefixes: --log-f is unknown, refused");
  a = ARGV ("--l", "x", "state", "x");
  tap_ok (sbx_parse_globals (ARGP, ARGC (a), a, &g, &err) < 0 && strstr (err.msg, "ambiguous"),
          "crun: an ambiguous prefix (--l: log, log-format) is refused");
}

static void
test_subcommands (void)
{
  /* The examples: each once read past by sbx and handed on unhardened. */
  READS (ARGP, ARGV ("--log-f", "json", "create", "-b", "/b", "x"), "harden create bundle=/b id=x");
  READS (ARGP, ARGV ("--cgroup-m", "cgroupfs", "run", "-d", "-b", "/b", "x"), "harden run bundle=/b id=x");
  READS (ARGP, ARGV ("create", "-b=/x", "id"), "harden create bundle==/x id=id");
  READS (GO, ARGV ("create", "-b=/x", "id"), "harden create bundle=/x id=id");
  READS (GO, ARGV ("--root", "/r", "restore", "--bundle", "/b", "x"), "refuse: subcommand 'restore' is refused");
  READS (ARGP, ARGV ("restore", "-b", "/b", "x"), "refuse: subcommand 'restore' is refused");
  READS (GO, ARGV ("frobnicate", "x"), "refuse: unknown subcommand");
  READS (ARGP, ARGV ("help"), "refuse: unknown subcommand"); /* crun has no help command */
  READS (GO, ARGV ("help"), "pass help");
  READS (GO, ARGV ("init"), "refuse: subcommand 'init'");
  READS (GO, ARGV ("--root", "/r", "state", "x"), "pass state");
  READS (ARGP, ARGV ("--root=/r", "kill", "x", "KILL"), "pass kill");
  READS (GO, ARGV ("--version"), "version");
  READS (ARGP, ARGV ("-V"), "version");
  READS (ARGP, ARGV ("--vers"), "version");
  READS (GO, ARGV ("--help", "create", "x"), "pass -");
  READS (GO, ARGV ("--help=false", "create", "x"), "harden create bundle=. id=x");
  READS (GO, ARGV (), "pass -");

  /* Prefixes, clusters and values as getopt reads them. */
  READS (ARGP, ARGV ("create", "--bund", "/b", "x"), "harden create bundle=/b id=x");
  READS (GO, ARGV ("create", "--bund", "/b", "x"), "refuse: create: unknown option");
  READS (ARGP, ARGV ("create", "-b/b", "x"), "harden create bundle=/b id=x");
  READS (GO, ARGV ("create", "-b/b", "x"), "refuse");
  READS (ARGP, ARGV ("create", "--conf", "c.json", "x"), "refuse: create: option '--conf' is refused");
  READS (ARGP, ARGV ("create", "--co", "/s", "x"), "refuse: create: option '--co' is ambiguous");
  READS (ARGP, ARGV ("create", "--pro=x", "x"), "refuse: create: option '--pro=x' is refused");
  READS (ARGP, ARGV ("create", "--HANG", "x"), "refuse");
  READS (ARGP, ARGV ("run", "-db", "/b", "x"), "harden run bundle=/b id=x");
  READS (ARGP, ARGV ("run", "-bd", "x"), "harden run bundle=d id=x");
  READS (ARGP, ARGV ("create", "--no-pivot=true", "x"), "refuse: create: option '--no-pivot=true' takes no value");
  READS (GO, ARGV ("create", "--no-pivot=true", "x"), "harden create bundle=. id=x");
  READS (GO, ARGV ("create", "--no-pivot=maybe", "x"), "refuse");
  READS (ARGP, ARGV ("create", "--help", "x"), "pass create");
  READS (ARGP, ARGV ("create", "-?"), "pass create");
  READS (GO, ARGV ("create", "-h"), "pass create");
  READS (ARGP, ARGV ("create", "-h"), "refuse");

  /* Where positionals and options mix. */
  READS (GO, ARGV ("create", "x", "--bundle", "/b"), "harden create bundle=/b id=x");
  READS (ARGP, ARGV ("create", "x", "--bundle", "/b"), "refuse: create: 3 arguments");
  READS (GO, ARGV ("create", "--no-pivot", "x", "-b", "/b"), "refuse"); /* urfave takes x as --no-pivot's value */
  READS (GO, ARGV ("create", "-b", "/b", "--", "x"), "harden create bundle=/b id=x");
  READS (ARGP, ARGV ("create", "-b", "/b", "--", "x"), "harden create bundle=/b id=x");
  READS (GO, ARGV ("--", "create", "x"), "harden create bundle=. id=x");
  READS (ARGP, ARGV ("--", "create", "x"), "harden create bundle=. id=x");
  READS (GO, ARGV ("create", "--bundle", "--pid-file", "x"), "harden create bundle=--pid-file id=x");
  READS (ARGP, ARGV ("create", "--bundle", "--pid-file", "x"), "harden create bundle=--pid-file id=x");
  READS (GO, ARGV ("create"), "refuse: create: no container id");
  READS (GO, ARGV ("create", "--bundle"), "refuse");

  /* exec: options stop at the container id; the command's own flags are not the delegate's. */
  READS (GO, ARGV ("exec", "-p", "/p.json", "id", "sh", "-c", "--process=/q"), "harden exec id=id process=/p.json");
  READS (ARGP, ARGV ("exec", "--proc=/p.json", "id"), "refuse: exec: option '--proc=/p.json' is ambiguous");
  READS (ARGP, ARGV ("exec", "--pr", "/p.json", "id"), "refuse"); /* process, process-label, program-name */
  READS (ARGP, ARGV ("exec", "-tp/p.json", "id"), "harden exec id=id process=-"); /* -t takes "p/p.json" */
  READS (ARGP, ARGV ("exec", "-dp/p.json", "id"), "harden exec id=id process=/p.json");
  READS (GO, ARGV ("exec", "id", "-p", "/p.json"), "harden exec id=id process=-");
  READS (GO, ARGV ("exec", "--process", "/a", "-p", "/b", "id"), "refuse"); /* urfave: two forms of one flag */
  READS (ARGP, ARGV ("exec", "--process", "/a", "-p", "/b", "id"), "harden exec id=id process=/b");
  READS (GO, ARGV ("exec", "-p", "/a", "-p", "/b", "id"), "harden exec id=id process=/b");

  /* A delegate of unknown kind: both readings must agree. */
  READS (ANY, ARGV ("--root", "/r", "create", "--bundle", "/b", "x"), "harden create bundle=/b id=x");
  READS (ANY, ARGV ("create", "-b=/b", "x"), "refuse");
  READS (ANY, ARGV ("create", "--bund", "/b", "x"), "refuse");
}

static void
test_exec_options (void)
{
  struct sbx_argv a;
  sbx_err err;
  char **v;

  v = ARGV ("exec", "--cap", "CAP_SYS_MODULE", "-t", "--process=/p.json", "id", "sh", "-c", "--cap", "x");
  tap_ok (sbx_argv_parse (GO, ARGC (v), v, &a, &err) == 0 && a.cl.nopts == 3 && a.cl.opts[0].nargs == 2
              && strcmp (sbx_cmd_value (&a.cl, "cap"), "CAP_SYS_MODULE") == 0,
          "runc exec: --cap with its value, the command's flags left alone");
  v = ARGV ("exec", "--ca", "CAP_SYS_MODULE", "-dcCAP_SYS_ADMIN", "id", "sh");
  tap_ok (sbx_argv_parse (ARGP, ARGC (v), v, &a, &err) == 0 && a.cl.nopts == 3
              && strcmp (sbx_opt_name (&a.cl.opts[0]), "cap") == 0 && a.cl.opts[0].nargs == 2 && !a.cl.opts[0].shared
              && a.cl.opts[2].shared && strcmp (a.cl.opts[2].value, "CAP_SYS_ADMIN") == 0,
          "crun exec: --ca is --cap; -dcX is two options in one word");
  v = ARGV ("exec", "--no-new", "id", "sh");
  tap_ok (sbx_argv_parse (ARGP, ARGC (v), v, &a, &err) == 0 && sbx_cmd_has (&a.cl, "no-new-privs"),
          "crun exec: --no-new is --no-new-privs");
}

int
main (int argc, char **argv)
{
  if (argc > 2 && strcmp (argv[1], "--explain") == 0)
    return run_explain (argc, argv);
  test_globals ();
  test_subcommands ();
  test_exec_options ();
  return tap_done ();
}
