/* args_tables.c - every option runc 1.1.5 (main.go, create.go, run.go, exec.go) and crun 1.8.1 (src/crun.c,
   create.c, run.c, exec.c, plus argp's own) accept.  A table must hold every option the delegate knows, refused ones
   included: with getopt's unique prefixes, a missing entry changes how the others abbreviate. */
#define _GNU_SOURCE
#include <string.h>

#include "args_tables.h"

#define END { NULL, 0, SBX_NOARG, SBX_F_PLAIN, 0, NULL, NULL }
#define F(name, arg) { name, 0, arg, SBX_F_PLAIN, 1000 + __COUNTER__, NULL, NULL }
#define FS(name, s, arg) { name, s, arg, SBX_F_PLAIN, 1000 + __COUNTER__, NULL, NULL }

static const char config_why[] = "it names another spec file than the bundle's config.json, which sbx hardens";
static const char argp_why[] = "an argp debugging option sbx has no reason to pass on";

/* urfave/cli adds "help, h" to the application and to every command, "version, v" to the application. */
#define GO_HELP { "help", 'h', SBX_NOARG, SBX_F_HELP, 0, NULL, NULL }

static const struct sbx_flag runc_global[] = {
  F ("debug", SBX_NOARG),          F ("log", SBX_REQARG),   F ("log-format", SBX_REQARG), F ("root", SBX_REQARG),
  F ("criu", SBX_REQARG),          F ("systemd-cgroup", SBX_NOARG), F ("rootless", SBX_REQARG), GO_HELP,
  { "version", 'v', SBX_NOARG, SBX_F_VERSION, 0, NULL, NULL },     END,
};

#define RUNC_CREATE                                                                                                  \
  FS ("bundle", 'b', SBX_REQARG), F ("console-socket", SBX_REQARG), F ("pid-file", SBX_REQARG),                      \
      F ("no-pivot", SBX_NOARG), F ("no-new-keyring", SBX_NOARG), F ("preserve-fds", SBX_REQARG), GO_HELP

static const struct sbx_flag runc_create[] = { RUNC_CREATE, END };

static const struct sbx_flag runc_run[] = {
  RUNC_CREATE, FS ("detach", 'd', SBX_NOARG), F ("keep", SBX_NOARG), F ("no-subreaper", SBX_NOARG), END,
};

static const struct sbx_flag runc_exec[] = {
  F ("console-socket", SBX_REQARG),  F ("cwd", SBX_REQARG),          FS ("env", 'e', SBX_REQARG),
  FS ("tty", 't', SBX_NOARG),        FS ("user", 'u', SBX_REQARG),   FS ("additional-gids", 'g', SBX_REQARG),
  FS ("process", 'p', SBX_REQARG),   FS ("detach", 'd', SBX_NOARG),  F ("pid-file", SBX_REQARG),
  F ("process-label", SBX_REQARG),   F ("apparmor", SBX_REQARG),     F ("no-new-privs", SBX_NOARG),
  FS ("cap", 'c', SBX_REQARG),       F ("preserve-fds", SBX_REQARG), F ("cgroup", SBX_REQARG),
  F ("ignore-paused", SBX_NOARG),    GO_HELP,                        END,
};

/* argp's own options, in every parser: --help/-?, --usage, and two hidden ones. */
#define ARGP_DEFAULTS                                                                                                \
  { "help", '?', SBX_NOARG, SBX_F_HELP, -1, NULL, NULL }, { "usage", 0, SBX_NOARG, SBX_F_HELP, -2, NULL, NULL },      \
      { "program-name", 0, SBX_REQARG, SBX_F_REFUSE, -3, NULL, argp_why },                                          \
      { "HANG", 0, SBX_OPTARG, SBX_F_REFUSE, -4, NULL, argp_why }

/* crun 1.8.1 gives --rootless the key of --root (it sets the state directory): one option to getopt. */
static const struct sbx_flag crun_global[] = {
  F ("debug", SBX_NOARG),
  F ("cgroup-manager", SBX_REQARG),
  F ("systemd-cgroup", SBX_NOARG),
  F ("log", SBX_REQARG),
  F ("log-format", SBX_REQARG),
  { "root", 0, SBX_REQARG, SBX_F_PLAIN, 'r' << 8, NULL, NULL },
  { "rootless", 0, SBX_REQARG, SBX_F_PLAIN, 'r' << 8, "root", NULL },
  { "version", 'v', SBX_NOARG, SBX_F_VERSION, 'v', NULL, NULL },
  { NULL, 'V', SBX_NOARG, SBX_F_VERSION, 'v', "version", NULL },
  ARGP_DEFAULTS,
  END,
};

#define CRUN_CREATE                                                                                                  \
  FS ("bundle", 'b', SBX_REQARG), { "config", 'f', SBX_REQARG, SBX_F_REFUSE, 'f', NULL, config_why },               \
      F ("console-socket", SBX_REQARG), F ("preserve-fds", SBX_REQARG), F ("no-pivot", SBX_NOARG),                   \
      F ("pid-file", SBX_REQARG), F ("no-subreaper", SBX_NOARG), F ("no-new-keyring", SBX_NOARG), ARGP_DEFAULTS

static const struct sbx_flag crun_create[] = { CRUN_CREATE, END };
static const struct sbx_flag crun_run[] = { CRUN_CREATE, FS ("detach", 'd', SBX_NOARG), END };

static const struct sbx_flag crun_exec[] = {
  F ("console-socket", SBX_REQARG), FS ("tty", 't', SBX_OPTARG),  FS ("process", 'p', SBX_REQARG),
  F ("cwd", SBX_REQARG),            F ("cgroup", SBX_REQARG),     FS ("detach", 'd', SBX_NOARG),
  FS ("user", 'u', SBX_REQARG),     FS ("env", 'e', SBX_REQARG),  FS ("cap", 'c', SBX_REQARG),
  F ("pid-file", SBX_REQARG),       F ("preserve-fds", SBX_REQARG), F ("no-new-privs", SBX_NOARG),
  F ("process-label", SBX_REQARG),  F ("apparmor", SBX_REQARG),   ARGP_DEFAULTS,
  END,
};

/* Subcommands that start no process from a spec.  start runs the process of a container sbx hardened at create;
   update edits cgroup resources only (it can raise limits, sbx's default pids limit included: see the README);
   spec writes a template config.json and starts nothing; checkpoint dumps a running container.  urfave/cli adds
   "help" and "h" to runc. */
static const char *const runc_pass[] = { "checkpoint", "delete", "events", "features", "kill", "list", "pause",
                                         "ps", "resume", "spec", "start", "state", "update", "help", "h", NULL };
/* crun 1.8 has no events: it refuses it itself, as an engine expects. */
static const char *const crun_pass[] = { "checkpoint", "delete", "events", "features", "kill", "list", "pause", "ps",
                                         "resume", "spec", "start", "state", "update", NULL };

const struct sbx_syntax_tables sbx_tables[2] = {
  [SBX_SYNTAX_GO] = { runc_global, runc_create, runc_run, runc_exec, runc_pass },
  [SBX_SYNTAX_ARGP] = { crun_global, crun_create, crun_run, crun_exec, crun_pass },
};

const char *
sbx_cmd_refused (const char *name)
{
  static const char *const refused[][2] = {
    { "restore", "CRIU restores the process's credentials, capabilities and seccomp filters from the checkpoint "
                 "image, which sbx cannot check" },
    { "init", "runc's internal entry point for its own re-exec; nothing calls it through sbx" },
    { "mounts", "it changes the mounts of a running container" },
  };
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
    if (strcmp (name, refused[i][0]) == 0)
      return refused[i][1];
  return NULL;
}
