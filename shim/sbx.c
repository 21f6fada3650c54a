/* sbx.c - the human CLI: a table of subcommands, each a thin file over the library. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "cmd_install.h"
#include "commands.h"
#include "runtime.h"

static const struct
{
  const char *name;
  int (*fn) (int argc, char **argv);
  const char *help;
} commands[] = {
  { "install", sbx_cmd_install, "add sbx-runtime to docker|podman|containerd|crio (--dry-run, --root, --config)" },
  { "uninstall", sbx_cmd_uninstall, "remove exactly what `sbx install` added" },
  { "version", sbx_cmd_version, "print sbx's version" },
  { "run", sbx_cmd_run, "run a command in a hardened sandbox, without an engine" },
  { "profile", sbx_cmd_profile, "list, show, check, compile, diff and learn seccomp profiles" },
  { "watch", sbx_cmd_watch, "run the module-load watcher (--daemon, --status, --stop, --restart)" },
  { "events", sbx_cmd_events, "show refused module loads: [--follow] [--json] [ID]" },
  { "metrics", sbx_cmd_metrics, "Prometheus metrics of the watcher: [--textfile PATH]" },
  { "doctor", sbx_cmd_doctor, "check what this host gives sbx; --host: the kernel's module posture" },
};

int
sbx_cmd_version (int argc, char **argv)
{
  (void) argc;
  (void) argv;
  printf ("sbx version %s (commit %s, policy %s)\n", SBX_VERSION, SBX_COMMIT, SBX_POLICY_VERSION);
  return 0;
}

static int
usage (FILE *out)
{
  fprintf (out, "usage: sbx COMMAND [ARGS...]\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf (out, "  %-12s %s\n", commands[i].name, commands[i].help);
  fprintf (out, "\nThe engine-facing runtime is sbx-runtime (runc's command line).\n");
  return out == stdout ? 0 : 2;
}

int
main (int argc, char **argv)
{
  if (argc < 2)
    return usage (stderr);
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0 || strcmp (argv[1], "help") == 0)
    return usage (stdout);
  if (strcmp (argv[1], "--version") == 0)
    return sbx_cmd_version (argc - 1, argv + 1);
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp (argv[1], commands[i].name) == 0)
      return commands[i].fn (argc - 1, argv + 1);
  fprintf (stderr, "sbx: unknown command '%s' (see sbx --help)\n", argv[1]);
  return 2;
}
