/* args.c - runc command-line parsing: long and short flags, "--x v" and "--x=v", "--" ends the options. */
#define _GNU_SOURCE
#include "args.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

static const struct sbx_flag global_flags[] = {
  { "root", 0, true },       { "log", 0, true },          { "log-format", 0, true },  { "criu", 0, true },
  { "rootless", 0, true },   { "debug", 0, false },       { "systemd-cgroup", 0, false },
  /* crun's own global options, passed on like runc's. */
  { "cgroup-manager", 0, true }, { "log-level", 0, true }, { NULL, 0, false },
};

#define COMMON_CREATE_FLAGS                                                                                  \
  { "bundle", 'b', true }, { "console-socket", 0, true }, { "pidfd-socket", 0, true },                       \
      { "pid-file", 0, true }, { "preserve-fds", 0, true }, { "no-pivot", 0, false },                        \
      { "no-new-keyring", 0, false }, { "help", 'h', false }

const struct sbx_flag sbx_create_flags[] = { COMMON_CREATE_FLAGS, { NULL, 0, false } };

const struct sbx_flag sbx_run_flags[] = {
  COMMON_CREATE_FLAGS, { "detach", 'd', false }, { "keep", 0, false }, { "no-subreaper", 0, false },
  { NULL, 0, false },
};

const struct sbx_flag sbx_exec_flags[] = {
  { "console-socket", 0, true }, { "pidfd-socket", 0, true }, { "cwd", 0, true },
  { "env", 'e', true },          { "user", 'u', true },       { "additional-gids", 'g', true },
  { "process", 'p', true },      { "apparmor", 0, true },     { "process-label", 0, true },
  { "pid-file", 0, true },       { "cap", 'c', true },        { "preserve-fds", 0, true },
  { "cgroup", 0, true },         { "tty", 't', false },       { "detach", 'd', false },
  { "no-new-privs", 0, false },  { "ignore-paused", 0, false }, { "no-subreaper", 0, false },
  { "help", 'h', false },        { NULL, 0, false },
};

static const struct sbx_flag *
find_flag (const struct sbx_flag *flags, const char *name, size_t len, bool is_short)
{
  for (const struct sbx_flag *f = flags; f->name; f++)
    {
      if (is_short ? (len == 1 && f->short_name == name[0])
                   : (strlen (f->name) == len && strncmp (f->name, name, len) == 0))
        return f;
      /* Go's flag package accepts "-bundle" as well as "--bundle". */
      if (is_short && strlen (f->name) == len && strncmp (f->name, name, len) == 0)
        return f;
    }
  return NULL;
}

/* Parse ARGV[I] as an option.  Returns the number of argv slots it used, 0 if ARGV[I] is not an option, -1 on
   error. */
static int
parse_one (int argc, char **argv, int i, const struct sbx_flag *flags, struct sbx_opt *opt, sbx_err *err)
{
  const char *a = argv[i], *name, *eq;
  bool is_short;
  size_t len;

  if (a[0] != '-' || a[1] == '\0')
    return 0;
  is_short = a[1] != '-';
  name = a + (is_short ? 1 : 2);
  eq = strchr (name, '=');
  len = eq ? (size_t) (eq - name) : strlen (name);
  opt->flag = find_flag (flags, name, len, is_short);
  opt->index = i;
  if (opt->flag == NULL)
    return sbx_fail (err, EINVAL, "unknown option '%s'", a);
  if (eq)
    {
      opt->value = eq + 1;
      return opt->nargs = 1;
    }
  if (!opt->flag->takes_value)
    {
      opt->value = NULL;
      return opt->nargs = 1;
    }
  if (i + 1 >= argc)
    return sbx_fail (err, EINVAL, "option '%s' needs a value", a);
  opt->value = argv[i + 1];
  return opt->nargs = 2;
}

void
sbx_parse_globals (int argc, char **argv, struct sbx_globals *g)
{
  int i = 1;

  memset (g, 0, sizeof *g);
  while (i < argc)
    {
      struct sbx_opt o;
      sbx_err ignored;
      int n;

      if (strcmp (argv[i], "--") == 0)
        {
          i++;
          break;
        }
      n = parse_one (argc, argv, i, global_flags, &o, &ignored);
      if (n == 0)
        break;
      if (n < 0)
        {
          /* Unknown global flags (--help, --version, ...) are the delegate's business: runc refuses those it
             does not know, so nothing is created behind one sbx misread. */
          i++;
          continue;
        }
      if (strcmp (o.flag->name, "root") == 0)
        g->root = o.value;
      else if (strcmp (o.flag->name, "log") == 0)
        g->log = o.value;
      else if (strcmp (o.flag->name, "log-format") == 0)
        g->log_format = o.value;
      else if (strcmp (o.flag->name, "debug") == 0)
        g->debug = o.value == NULL || strcmp (o.value, "false") != 0;
      i += n;
    }
  g->cmd_index = i;
}

int
sbx_parse_cmd (int argc, char **argv, int start, const struct sbx_flag *flags, bool in_order,
               struct sbx_cmdline *cl, sbx_err *err)
{
  memset (cl, 0, sizeof *cl);
  cl->first_positional = -1;
  for (int i = start; i < argc;)
    {
      struct sbx_opt *o = &cl->opts[cl->nopts];
      int n;

      if (strcmp (argv[i], "--") == 0)
        {
          if (cl->first_positional < 0 && i + 1 < argc)
            cl->first_positional = i + 1;
          break;
        }
      if (cl->nopts == SBX_MAX_OPTS)
        return sbx_fail (err, E2BIG, "more than %d options", SBX_MAX_OPTS);
      n = parse_one (argc, argv, i, flags, o, err);
      if (n < 0)
        return -1;
      if (n == 0)
        {
          if (cl->first_positional < 0)
            cl->first_positional = i;
          if (in_order)
            break;
          i++;
          continue;
        }
      cl->nopts++;
      i += n;
    }
  return 0;
}

const char *
sbx_cmd_value (const struct sbx_cmdline *cl, const char *name)
{
  const char *v = NULL;

  for (int i = 0; i < cl->nopts; i++)
    if (strcmp (cl->opts[i].flag->name, name) == 0)
      v = cl->opts[i].value;
  return v;
}

bool
sbx_cmd_has (const struct sbx_cmdline *cl, const char *name)
{
  for (int i = 0; i < cl->nopts; i++)
    if (strcmp (cl->opts[i].flag->name, name) == 0)
      return true;
  return false;
}
