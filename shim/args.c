/* args.c - runc's command line read the way the delegate reads it: Go's flag package (runc) or argp (crun). */
#define _GNU_SOURCE
#include "args.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "args_tables.h"

/* ---- Go: flag.FlagSet.parseOne, and urfave/cli v1.22.1's reorderArgs ---- */

static const struct sbx_flag *
go_find (const struct sbx_flag *flags, const char *name, size_t len)
{
  for (const struct sbx_flag *f = flags; f->name || f->short_name; f++)
    if ((f->name && strlen (f->name) == len && strncmp (f->name, name, len) == 0)
        || (f->short_name && len == 1 && name[0] == f->short_name))
      return f;
  return NULL;
}

/* strconv.ParseBool. */
static int
go_bool (const char *v, bool *out)
{
  static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
  static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };
  for (size_t i = 0; i < 6; i++)
    {
      if (strcmp (v, yes[i]) == 0)
        return *out = true, 0;
      if (strcmp (v, no[i]) == 0)
        return *out = false, 0;
    }
  return -1;
}

/* urfave/cli v1.22.1 moves every word starting with '-' (and the word after one without '=', unless it starts with
   '-') before the others, up to a "--".  ORDER gets argv indices in the order Go's parser will see them. */
static void
go_reorder (int argc, char **argv, int start, int *order)
{
  int nf = 0, nn = 0, *nonflags = order + (argc - start);
  bool want_value = false;

  for (int i = start; i < argc; i++)
    {
      const char *a = argv[i];
      if (strcmp (a, "--") == 0)
        {
          for (; i < argc; i++)
            nonflags[nn++] = i;
          break;
        }
      if (want_value && a[0] != '-')
        {
          want_value = false;
          order[nf++] = i;
          continue;
        }
      want_value = false;
      if (a[0] == '-' && a[1] != '\0')
        {
          order[nf++] = i;
          want_value = strchr (a, '=') == NULL;
        }
      else
        nonflags[nn++] = i;
    }
  memmove (order + nf, nonflags, nn * sizeof *order);
}

/* Parse the words ORDER[0..N) with Go's rules.  Returns the position in ORDER of the first positional (N when
   none), -1 on error. */
static int
go_parse (char **argv, const int *order, int n, const struct sbx_flag *flags, struct sbx_cmdline *cl, sbx_err *err)
{
  int p = 0;

  while (p < n)
    {
      const char *s = argv[order[p]], *name, *eq;
      const struct sbx_flag *f;
      struct sbx_opt *o;
      size_t len;
      bool b;

      if (s[0] != '-' || s[1] == '\0')
        break;
      name = s + 1;
      if (s[1] == '-')
        {
          if (s[2] == '\0')
            return p + 1; /* "--" ends the flags */
          name = s + 2;
        }
      if (name[0] == '-' || name[0] == '=')
        return sbx_fail (err, EINVAL, "bad flag syntax: %s", s);
      eq = strchr (name + 1, '=');
      len = eq ? (size_t) (eq - name) : strlen (name);
      f = go_find (flags, name, len);
      if (f == NULL)
        return sbx_fail (err, EINVAL, "unknown option '%s'", s);
      if (cl->nopts == SBX_MAX_OPTS)
        return sbx_fail (err, E2BIG, "more than %d options", SBX_MAX_OPTS);
      o = &cl->opts[cl->nopts++];
      *o = (struct sbx_opt){ .flag = f, .value = eq ? eq + 1 : NULL, .index = order[p], .nargs = 1,
                             .by_alias = !(f->name && strlen (f->name) == len && strncmp (f->name, name, len) == 0) };
      /* urfave/cli refuses a flag given under two of its names ("Cannot use two forms of the same flag"). */
      for (int k = 0; k < cl->nopts - 1; k++)
        if (cl->opts[k].flag == f && cl->opts[k].by_alias != o->by_alias)
          return sbx_fail (err, EINVAL, "'%s': the same option under two names", s);
      p++;
      if (f->arg == SBX_NOARG)
        {
          if (eq && go_bool (eq + 1, &b) < 0)
            return sbx_fail (err, EINVAL, "invalid boolean value in '%s'", s);
          b = eq ? b : true;
          if (f->role == SBX_F_HELP && b)
            cl->help = true;
          continue;
        }
      if (eq == NULL)
        {
          if (p == n)
            return sbx_fail (err, EINVAL, "option '%s' needs a value", s);
          /* Go takes the next word whatever it looks like; after reordering it may not be argv[index + 1]. */
          if (order[p] != o->index + 1)
            return sbx_fail (err, EINVAL, "option '%s': the delegate would take its value from elsewhere", s);
          o->value = argv[order[p++]];
          o->nargs = 2;
        }
    }
  return p;
}

/* ---- argp: getopt_long in RETURN_IN_ORDER mode, as glibc's argp_parse runs it ---- */

static int
argp_find_long (const struct sbx_flag *flags, const char *name, size_t len, const struct sbx_flag **out,
                const char *word, sbx_err *err)
{
  const struct sbx_flag *found = NULL;
  bool ambiguous = false;

  for (const struct sbx_flag *f = flags; f->name || f->short_name; f++)
    if (f->name && strlen (f->name) == len && strncmp (f->name, name, len) == 0)
      return *out = f, 0; /* an exact match wins */
  for (const struct sbx_flag *f = flags; f->name || f->short_name; f++)
    if (f->name && strncmp (f->name, name, len) == 0)
      {
        /* getopt: a second prefix match is ambiguous unless it is the same option (argp: same key). */
        if (found == NULL)
          found = f;
        else if (found->key != f->key || found->arg != f->arg)
          ambiguous = true;
      }
  if (ambiguous)
    return sbx_fail (err, EINVAL, "option '%s' is ambiguous", word);
  if (found == NULL)
    return sbx_fail (err, EINVAL, "unknown option '%s'", word);
  *out = found;
  return 0;
}

static const struct sbx_flag *
argp_find_short (const struct sbx_flag *flags, char c)
{
  for (const struct sbx_flag *f = flags; f->name || f->short_name; f++)
    if (f->short_name == c)
      return f;
  return NULL;
}

static struct sbx_opt *
add_opt (struct sbx_cmdline *cl, const struct sbx_flag *f, int index, sbx_err *err)
{
  if (cl->nopts == SBX_MAX_OPTS)
    return sbx_fail (err, E2BIG, "more than %d options", SBX_MAX_OPTS), NULL;
  cl->opts[cl->nopts] = (struct sbx_opt){ .flag = f, .index = index, .nargs = 1 };
  return &cl->opts[cl->nopts++];
}

/* "--name[=value]" at ARGV[I].  Returns the words used, -1 on error. */
static int
argp_long (int argc, char **argv, int i, const struct sbx_flag *flags, struct sbx_cmdline *cl, sbx_err *err)
{
  const char *name = argv[i] + 2, *eq = strchr (name, '=');
  size_t len = eq ? (size_t) (eq - name) : strlen (name);
  const struct sbx_flag *f = NULL;
  struct sbx_opt *o;

  if (argp_find_long (flags, name, len, &f, argv[i], err) < 0 || (o = add_opt (cl, f, i, err)) == NULL)
    return -1;
  if (eq)
    {
      if (f->arg == SBX_NOARG)
        return sbx_fail (err, EINVAL, "option '%s' takes no value", argv[i]);
      o->value = eq + 1;
    }
  else if (f->arg == SBX_REQARG)
    {
      if (i + 1 >= argc)
        return sbx_fail (err, EINVAL, "option '%s' needs a value", argv[i]);
      o->value = argv[i + 1]; /* getopt takes the next word whatever it looks like */
      o->nargs = 2;
    }
  return o->nargs;
}

/* "-abc", "-bVALUE" (even "-b=x": the value is "=x"), "-b VALUE".  Returns the words used, -1 on error. */
static int
argp_short (int argc, char **argv, int i, const struct sbx_flag *flags, struct sbx_cmdline *cl, sbx_err *err)
{
  const char *a = argv[i];
  int first = cl->nopts;

  for (int j = 1; a[j]; j++)
    {
      const struct sbx_flag *f = argp_find_short (flags, a[j]);
      struct sbx_opt *o;

      if (f == NULL)
        return sbx_fail (err, EINVAL, "unknown option '-%c' in '%s'", a[j], a);
      if ((o = add_opt (cl, f, i, err)) == NULL)
        return -1;
      o->shared = j > 1 || (f->arg == SBX_NOARG && a[j + 1]);
      if (f->role == SBX_F_HELP)
        return cl->help = true, 1; /* argp prints help and exits right here */
      if (f->arg == SBX_NOARG)
        continue;
      if (a[j + 1])
        o->value = a + j + 1;
      else if (f->arg == SBX_REQARG)
        {
          if (i + 1 >= argc)
            return sbx_fail (err, EINVAL, "option '%s' needs a value", a);
          o->value = argv[i + 1];
          o->nargs = 2;
        }
      for (int k = first; k < cl->nopts; k++)
        cl->opts[k].shared = cl->nopts - first > 1;
      return o->nargs;
    }
  for (int k = first; k < cl->nopts; k++)
    cl->opts[k].shared = cl->nopts - first > 1;
  return 1;
}

/* Options from ARGV[START] up to the first positional (ARGP_IN_ORDER: argp stops there). */
static int
argp_parse_opts (int argc, char **argv, int start, const struct sbx_flag *flags, struct sbx_cmdline *cl,
                 sbx_err *err)
{
  int i = start;

  while (i < argc)
    {
      const char *a = argv[i];
      int n;

      if (strcmp (a, "--") == 0)
        return i + 1;
      if (a[0] != '-' || a[1] == '\0')
        return i;
      n = a[1] == '-' ? argp_long (argc, argv, i, flags, cl, err) : argp_short (argc, argv, i, flags, cl, err);
      if (n < 0)
        return -1;
      /* --help, --usage, -? and --version: argp acts on them as it meets them, and exits. */
      if (cl->opts[cl->nopts - 1].flag->role == SBX_F_HELP)
        cl->help = true;
      if (cl->help || cl->opts[cl->nopts - 1].flag->role == SBX_F_VERSION)
        return argc;
      i += n;
    }
  return i;
}

/* ---- both ---- */

static int
refuse_flags (const struct sbx_cmdline *cl, char **argv, sbx_err *err)
{
  for (int i = 0; i < cl->nopts; i++)
    if (cl->opts[i].flag->role == SBX_F_REFUSE)
      return sbx_fail (err, EPERM, "option '%s' is refused: %s", argv[cl->opts[i].index], cl->opts[i].flag->refuse_why);
  return 0;
}

/* Options of a subcommand in ARGV[START..ARGC).  IN_ORDER: Go stops at the first positional (runc's exec skips
   urfave's reordering); argp always does. */
static int
parse_cmd (enum sbx_syntax syn, int argc, char **argv, int start, const struct sbx_flag *flags, bool in_order,
           struct sbx_cmdline *cl, sbx_err *err)
{
  int first;

  memset (cl, 0, sizeof *cl);
  cl->first_positional = -1;
  if (syn == SBX_SYNTAX_ARGP)
    {
      first = argp_parse_opts (argc, argv, start, flags, cl, err);
      if (first < 0)
        return -1;
      if (!cl->help && first < argc)
        {
          cl->first_positional = first;
          cl->npositional = argc - first;
        }
    }
  else
    {
      cleanup_free int *order = malloc ((size_t) (2 * (argc - start) + 1) * sizeof *order);
      int n = argc - start, p;

      if (order == NULL)
        return sbx_fail (err, ENOMEM, "argv");
      if (in_order)
        for (int i = 0; i < n; i++)
          order[i] = start + i;
      else
        go_reorder (argc, argv, start, order);
      p = go_parse (argv, order, n, flags, cl, err);
      if (p < 0)
        return -1;
      if (p < n)
        {
          cl->first_positional = order[p];
          cl->npositional = n - p;
          /* The delegate reads the positionals in this order: sbx needs them in argv order too (exec's command). */
          for (int k = p; k < n; k++)
            if (order[k] != order[p] + (k - p))
              return sbx_fail (err, EINVAL, "'%s': arguments the delegate would reorder", argv[order[k]]);
        }
    }
  return refuse_flags (cl, argv, err);
}

int
sbx_parse_globals (enum sbx_syntax syn, int argc, char **argv, struct sbx_globals *g, sbx_err *err)
{
  struct sbx_cmdline *cl = calloc (1, sizeof *cl);
  int rc = 0, next;

  memset (g, 0, sizeof *g);
  g->cmd_index = argc;
  if (cl == NULL)
    return sbx_fail (err, ENOMEM, "argv");
  cl->first_positional = -1;
  if (syn == SBX_SYNTAX_ARGP)
    next = argp_parse_opts (argc, argv, 1, sbx_tables[syn].global, cl, err);
  else
    {
      int *order = malloc ((size_t) argc * sizeof *order);
      next = order ? 0 : sbx_fail (err, ENOMEM, "argv");
      for (int i = 1; order && i < argc; i++)
        order[i - 1] = i;
      if (order)
        next = go_parse (argv, order, argc - 1, sbx_tables[syn].global, cl, err);
      if (next >= 0)
        next = next + 1;
      free (order);
    }
  for (int i = 0; i < cl->nopts; i++)
    {
      const struct sbx_opt *o = &cl->opts[i];
      const char *name = sbx_opt_name (o);
      bool b = true;

      if (strcmp (name, "root") == 0)
        g->root = o->value;
      else if (strcmp (name, "log") == 0)
        g->log = o->value;
      else if (strcmp (name, "log-format") == 0)
        g->log_format = o->value;
      else if (strcmp (name, "debug") == 0)
        g->debug = o->value == NULL || (go_bool (o->value, &b) == 0 && b);
      else if (o->flag->role == SBX_F_VERSION && g->info == SBX_F_PLAIN
               && (o->value == NULL || (go_bool (o->value, &b) == 0 && b)))
        g->info = SBX_F_VERSION;
    }
  if (cl->help)
    g->info = SBX_F_HELP; /* Go: urfave checks help before version; argp: it stopped at whichever came first */
  if (next < 0)
    rc = -1;
  else
    {
      g->cmd_index = next;
      rc = refuse_flags (cl, argv, err);
    }
  free (cl);
  return rc;
}

bool
sbx_cmd_passes (enum sbx_syntax syn, const char *name)
{
  for (const char *const *p = sbx_tables[syn].pass; *p; p++)
    if (strcmp (*p, name) == 0)
      return true;
  return false;
}

static int
parse_harden (enum sbx_syntax syn, int argc, char **argv, struct sbx_argv *a, sbx_err *err)
{
  const struct sbx_syntax_tables *t = &sbx_tables[syn];
  const char *cmd = argv[a->g.cmd_index];
  const struct sbx_flag *flags = a->cmd == SBX_CMD_CREATE ? t->create : a->cmd == SBX_CMD_RUN ? t->run : t->exec;
  /* runc skips urfave's reordering for exec only; argp (ARGP_IN_ORDER) never reorders. */
  bool in_order = syn == SBX_SYNTAX_ARGP || a->cmd == SBX_CMD_EXEC;

  if (parse_cmd (syn, argc, argv, a->g.cmd_index + 1, flags, in_order, &a->cl, err) < 0)
    return sbx_wrap (err, "%s", cmd);
  if (a->cl.help)
    {
      a->action = SBX_ACT_PASS;
      return 0;
    }
  if (a->cl.first_positional < 0)
    return sbx_fail (err, EINVAL, "%s: no container id", cmd);
  a->id = argv[a->cl.first_positional];
  if (a->cmd == SBX_CMD_EXEC)
    {
      a->process = sbx_cmd_value (&a->cl, "process");
      return 0;
    }
  /* Both delegates refuse anything but exactly one positional; so does sbx, rather than guess which they meant. */
  if (a->cl.npositional != 1)
    return sbx_fail (err, EINVAL, "%s: %d arguments after the options, expected only the container id", cmd,
                     a->cl.npositional);
  a->bundle = sbx_cmd_value (&a->cl, "bundle");
  if (a->bundle == NULL || *a->bundle == '\0')
    a->bundle = ".";
  return 0;
}

int
sbx_argv_parse (enum sbx_syntax syn, int argc, char **argv, struct sbx_argv *a, sbx_err *err)
{
  static const struct
  {
    const char *name;
    enum sbx_cmd cmd;
  } known[] = { { "create", SBX_CMD_CREATE }, { "run", SBX_CMD_RUN },     { "exec", SBX_CMD_EXEC },
                { "state", SBX_CMD_STATE },   { "delete", SBX_CMD_DELETE }, { "features", SBX_CMD_FEATURES } };
  const char *cmd, *why;

  memset (a, 0, sizeof *a);
  a->syntax = syn;
  a->action = SBX_ACT_PASS;
  if (sbx_parse_globals (syn, argc, argv, &a->g, err) < 0)
    return sbx_wrap (err, "global options");
  if (a->g.info == SBX_F_VERSION)
    a->action = SBX_ACT_VERSION;
  if (a->g.info != SBX_F_PLAIN || a->g.cmd_index >= argc)
    return 0; /* help, version, or no command: the delegate starts nothing */
  cmd = argv[a->g.cmd_index];
  a->cmd = SBX_CMD_OTHER;
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (strcmp (cmd, known[i].name) == 0)
      a->cmd = known[i].cmd;
  if (a->cmd == SBX_CMD_CREATE || a->cmd == SBX_CMD_RUN || a->cmd == SBX_CMD_EXEC)
    {
      a->action = SBX_ACT_HARDEN;
      return parse_harden (syn, argc, argv, a, err);
    }
  if ((why = sbx_cmd_refused (cmd)) != NULL)
    return sbx_fail (err, EPERM, "subcommand '%s' is refused: %s", cmd, why);
  if (!sbx_cmd_passes (syn, cmd))
    return sbx_fail (err, EINVAL, "unknown subcommand '%s': sbx hands on only those it knows start nothing", cmd);
  return 0;
}

static bool
same_str (const char *x, const char *y)
{
  return x == y || (x && y && strcmp (x, y) == 0);
}

int
sbx_argv_parse_any (int argc, char **argv, struct sbx_argv *a, sbx_err *err)
{
  cleanup_free struct sbx_argv *c = malloc (sizeof *c);
  bool same;

  if (c == NULL)
    return sbx_fail (err, ENOMEM, "argv");
  if (sbx_argv_parse (SBX_SYNTAX_GO, argc, argv, a, err) < 0 || sbx_argv_parse (SBX_SYNTAX_ARGP, argc, argv, c, err) < 0)
    return sbx_wrap (err, "delegate of unknown kind, read as runc and as crun");
  same = a->action == c->action && a->cmd == c->cmd && a->g.cmd_index == c->g.cmd_index && same_str (a->id, c->id)
         && same_str (a->bundle, c->bundle) && same_str (a->process, c->process) && a->cl.nopts == c->cl.nopts
         && a->cl.first_positional == c->cl.first_positional && same_str (a->g.root, c->g.root);
  for (int i = 0; same && i < a->cl.nopts; i++)
    same = a->cl.opts[i].index == c->cl.opts[i].index && a->cl.opts[i].nargs == c->cl.opts[i].nargs
           && !c->cl.opts[i].shared && strcmp (sbx_opt_name (&a->cl.opts[i]), sbx_opt_name (&c->cl.opts[i])) == 0
           && same_str (a->cl.opts[i].value, c->cl.opts[i].value);
  if (!same)
    return sbx_fail (err, EINVAL, "delegate of unknown kind: runc and crun would read this command line differently; "
                                  "write it in a form both read alike");
  return 0;
}

const char *
sbx_opt_name (const struct sbx_opt *o)
{
  return o->flag->canon ? o->flag->canon : o->flag->name ? o->flag->name : "";
}

const char *
sbx_cmd_value (const struct sbx_cmdline *cl, const char *name)
{
  const char *v = NULL;

  for (int i = 0; i < cl->nopts; i++)
    if (strcmp (sbx_opt_name (&cl->opts[i]), name) == 0)
      v = cl->opts[i].value;
  return v;
}

bool
sbx_cmd_has (const struct sbx_cmdline *cl, const char *name)
{
  for (int i = 0; i < cl->nopts; i++)
    if (strcmp (sbx_opt_name (&cl->opts[i]), name) == 0)
      return true;
  return false;
}
