/* doctor_host_mod.c - `sbx doctor --host`: the loaded modules: per-module taint (unsigned, out of tree, ...),
   hidden modules by cross-view (/proc/modules, /sys/module, kallsyms), and the operator's allowlist. */
#define _GNU_SOURCE
#include "doctor_host.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/util.h"
#include "../oci/json.h"
#if __has_include("../bpf/sbx_bpf.h")
#include "../bpf/sbx_bpf.h"
#define HAVE_BPF 1
#endif

#define MAX_MODULES 16384
#define MODNAME_MAX 56 /* the kernel's MODULE_NAME_LEN */

bool
host_modname (const char *s, size_t n, char *buf, size_t size)
{
  if (n == 0 || n >= MODNAME_MAX || n >= size)
    return false;
  for (size_t i = 0; i < n; i++)
    {
      char ch = s[i];
      if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_'
            || ch == '-'))
        return false;
      buf[i] = ch == '-' ? '_' : ch;
    }
  buf[n] = '\0';
  return true;
}

/* A set of module names, sorted once filled. */
struct names
{
  char **v;
  char **extra; /* per name: /proc/modules state and flags, or /sys/module initstate (may be NULL) */
  size_t n, cap;
  size_t bad;   /* lines or entries that were not a module name */
};

static void
names_free (struct names *s)
{
  for (size_t i = 0; i < s->n; i++)
    free (s->v[i]), free (s->extra[i]);
  free (s->v);
  free (s->extra);
  memset (s, 0, sizeof *s);
}

static int
names_cmp (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static bool
names_has (const struct names *s, const char *name)
{
  for (size_t lo = 0, hi = s->n; lo < hi;)
    {
      size_t mid = (lo + hi) / 2;
      int d = strcmp (name, s->v[mid]);
      if (d == 0)
        return true;
      if (d < 0)
        hi = mid;
      else
        lo = mid + 1;
    }
  return false;
}

static const char *
names_extra (const struct names *s, const char *name)
{
  for (size_t i = 0; i < s->n; i++)
    if (strcmp (s->v[i], name) == 0)
      return s->extra[i];
  return NULL;
}

static void
names_add (struct names *s, const char *name, const char *extra)
{
  if (s->n >= MAX_MODULES)
    return;
  if (s->n == s->cap)
    {
      size_t cap = s->cap ? s->cap * 2 : 64;
      char **nv = realloc (s->v, cap * sizeof *nv), **ne;
      if (nv == NULL)
        return;
      s->v = nv;
      if ((ne = realloc (s->extra, cap * sizeof *ne)) == NULL)
        return;
      s->extra = ne;
      s->cap = cap;
    }
  if ((s->v[s->n] = strdup (name)) == NULL)
    return;
  s->extra[s->n] = extra ? strdup (extra) : NULL;
  s->n++;
}

/* Sort and drop duplicates (kallsyms names a module once per symbol; the set is filled from a sorted stream
   only when the kernel prints it so, so sort anyway). */
static void
names_sort (struct names *s)
{
  size_t o = 0;
  char **pairs = NULL;

  if (s->n == 0)
    return;
  /* Keep each extra with its name: sort indices through a temporary array of (name, extra) pairs. */
  pairs = malloc (s->n * 2 * sizeof *pairs);
  if (pairs == NULL)
    return;
  for (size_t i = 0; i < s->n; i++)
    pairs[2 * i] = s->v[i], pairs[2 * i + 1] = s->extra[i];
  qsort (pairs, s->n, 2 * sizeof *pairs, names_cmp);
  for (size_t i = 0; i < s->n; i++)
    {
      if (o && strcmp (pairs[2 * i], s->v[o - 1]) == 0)
        {
          free (pairs[2 * i]), free (pairs[2 * i + 1]);
          continue;
        }
      s->v[o] = pairs[2 * i], s->extra[o] = pairs[2 * i + 1];
      o++;
    }
  s->n = o;
  free (pairs);
}

/* Stream PATH line by line, at most MAX bytes in all (*TRUNC then); a line longer than the buffer is skipped
   and counted in *BAD, as is one holding a NUL.  Kallsyms is tens of megabytes on a big host: never read whole. */
static int
for_each_line (struct host_ctx *c, const char *path, size_t max, void (*cb) (void *ctx, char *line), void *ctx,
               size_t *bad, bool *trunc)
{
  enum { BUF = 64 << 10 };
  cleanup_close int fd = host_open (c, path, O_RDONLY);
  cleanup_free char *buf = NULL;
  size_t have = 0, total = 0;
  bool skipping = false;
  struct stat st;

  if (fd < 0 || fstat (fd, &st) < 0)
    return -1;
  if (!S_ISREG (st.st_mode))
    return errno = EINVAL, -1;
  if ((buf = malloc (BUF + 1)) == NULL)
    return -1;
  for (;;)
    {
      ssize_t got = read (fd, buf + have, BUF - have);
      char *p = buf, *nl;

      if (got < 0 && errno == EINTR)
        continue;
      if (got < 0)
        return -1;
      if (got == 0)
        break;
      have += (size_t) got;
      total += (size_t) got;
      while ((nl = memchr (p, '\n', (size_t) (buf + have - p))) != NULL)
        {
          *nl = '\0';
          if (skipping || memchr (p, '\0', (size_t) (nl - p)) != NULL)
            (*bad)++;
          else
            cb (ctx, p);
          skipping = false;
          p = nl + 1;
        }
      if (p == buf && have == BUF)
        skipping = true, have = 0;
      else
        memmove (buf, p, have -= (size_t) (p - buf));
      if (total >= max)
        {
          *trunc = true;
          return 0;
        }
    }
  buf[have] = '\0';
  if (have && !skipping && memchr (buf, '\0', have) == NULL)
    cb (ctx, buf);
  else if (have)
    (*bad)++;
  return 0;
}

static void
loaded_add (struct host_ctx *c, const char *name)
{
  char **nv = realloc (c->loaded, (c->nloaded + 1) * sizeof *nv);

  if (nv == NULL)
    return;
  c->loaded = nv;
  if ((nv[c->nloaded] = strdup (name)) != NULL)
    c->nloaded++;
}

/* "name size refcnt deps state address [(flags)]" */
static void
procmods_line (void *ctx, char *line)
{
  struct names *s = ctx;
  char name[MODNAME_MAX + 1], extra[64] = "";
  size_t n = strcspn (line, " ");
  char *state, *flags;

  if (!host_modname (line, n, name, sizeof name))
    {
      if (*line)
        s->bad++;
      return;
    }
  /* Fields 5 (state) and 7 (taint flags in parentheses). */
  state = line;
  for (int f = 0; f < 4 && state; f++)
    state = strchr (state, ' ') ? strchr (state, ' ') + 1 : NULL;
  flags = strchr (line, '(');
  snprintf (extra, sizeof extra, "%.*s %.*s", state ? (int) strcspn (state, " ") : 0, state ? state : "",
            flags ? (int) strcspn (flags + 1, ")") : 0, flags ? flags + 1 : "");
  host_clean (extra, extra, sizeof extra);
  names_add (s, name, extra);
}

static void
kallsyms_line (void *ctx, char *line)
{
  struct names *s = ctx;
  size_t len = strlen (line);
  char *open = len && line[len - 1] == ']' ? strrchr (line, '[') : NULL;
  char name[MODNAME_MAX + 1];

  if (open == NULL)
    return;
  /* bpf programs and the kernel's own trampolines are listed as pseudo-modules. */
  if (strncmp (open + 1, "bpf]", 4) == 0 || strncmp (open + 1, "__builtin__", 11) == 0)
    return;
  if (host_modname (open + 1, (size_t) (line + len - 1 - open - 1), name, sizeof name))
    names_add (s, name, strncmp (line, "0000000000000000 ", 17) == 0 ? "0" : "a");
  else
    s->bad++;
}

/* /sys/module/X is a loadable module when it has initstate (builtins have a directory for their parameters
   only). */
static int
sysmods_read (struct host_ctx *c, struct names *s)
{
  char p[128], st[32];
  int fd = -1;
  DIR *d;
  struct dirent *e;

  fd = host_open (c, "/sys/module", O_RDONLY | O_DIRECTORY);
  if (fd < 0 || (d = fdopendir (fd)) == NULL)
    {
      if (fd >= 0)
        close (fd);
      return -1;
    }
  while ((e = readdir (d)) != NULL && s->n < MAX_MODULES)
    {
      char name[MODNAME_MAX + 1];
      if (e->d_name[0] == '.')
        continue;
      if (!host_modname (e->d_name, strlen (e->d_name), name, sizeof name))
        {
          s->bad++;
          continue;
        }
      snprintf (p, sizeof p, "/sys/module/%s/initstate", e->d_name);
      if (host_read_line (c, p, st, sizeof st))
        names_add (s, name, st);
      else
        {
          snprintf (p, sizeof p, "/sys/module/%s/refcnt", e->d_name);
          if (host_exists (c, p))
            names_add (s, name, "unknown");
        }
    }
  closedir (d);
  return 0;
}

/* Module taint letters: /sys/module/X/taint, else the flags /proc/modules printed. */
static void
module_taint (struct host_ctx *c, const char *name, const char *procflags, char *buf, size_t size)
{
  char p[128];

  snprintf (p, sizeof p, "/sys/module/%s/taint", name);
  if (!host_read_line (c, p, buf, size))
    snprintf (buf, size, "%s", procflags ? procflags : "");
}

static void
check_module_taints (struct host_ctx *c, const struct names *proc, const struct names *sys)
{
  static const struct
  {
    char letter;
    const char *id, *title, *fix;
  } kinds[] = {
    { 'E', "unsigned", "unsigned module loaded", "rmmod it, and boot with module.sig_enforce=1" },
    { 'O', "out_of_tree", "out-of-tree module loaded", "check where it came from; rmmod it if it is not yours" },
    { 'P', "proprietary", "proprietary module loaded", "check where it came from; its code cannot be reviewed" },
    { 'F', "forced", "module force-loaded (version checks skipped)", "rmmod it and load a matching build" },
    { 'C', "staging", "staging (unreviewed-quality) driver loaded", "rmmod it if unused" },
    { 'K', "livepatch", "live patch loaded", "" },
  };
  size_t flagged = 0;

  for (size_t i = 0; i < c->nloaded; i++)
    {
      const char *name = c->loaded[i], *pe = names_extra (proc, name);
      char t[32], ev[160];
      const char *pf = pe ? strchr (pe, ' ') : NULL;

      module_taint (c, name, pf ? pf + 1 : NULL, t, sizeof t);
      snprintf (ev, sizeof ev, "/sys/module/%s/taint: \"%s\"%s", name, t, names_has (sys, name) ? "" : " (from "
                "/proc/modules)");
      for (size_t k = 0; k < SBX_ARRAY_SIZE (kinds); k++)
        {
          char id[128];
          enum host_sev sev = HOST_INFO;
          if (strchr (t, kinds[k].letter) == NULL)
            continue;
          host_taint_desc (kinds[k].letter, &sev);
          snprintf (id, sizeof id, "module.%s.%s", name, kinds[k].id);
          host_add (c, sev, id, kinds[k].title, kinds[k].fix, "%s", ev);
          flagged++;
        }
    }
  if (flagged == 0)
    host_add (c, HOST_OK, "modules.taint", "no loaded module is unsigned, out of tree, proprietary or forced", NULL,
              "%zu loaded module(s), /sys/module/*/taint empty", c->nloaded);
}

static void
crossview (struct host_ctx *c, const struct names *a, const char *an, const struct names *b, const char *bn,
           const char *dir, enum host_sev sev, size_t *found)
{
  for (size_t i = 0; i < a->n; i++)
    {
      char id[128];
      const char *ex = a->extra[i];
      /* A module being loaded or unloaded is in one view before the other. */
      bool moving = ex && (strstr (ex, "Loading") || strstr (ex, "Unloading") || strstr (ex, "coming")
                           || strstr (ex, "going"));
      if (names_has (b, a->v[i]))
        continue;
      snprintf (id, sizeof id, "hidden.%s.%s", dir, a->v[i]);
      host_add (c, moving ? HOST_LOW : sev, id, moving ? "module in one view only while it loads or unloads (run "
                "again)" : "hidden module: listed in one kernel view and missing from another",
                "a module that hides is a rootkit's mark: take the host out of service and investigate",
                "%s lists %s%s%s%s; %s does not", an, a->v[i], ex ? " (" : "", ex ? ex : "", ex ? ")" : "", bn);
      (*found)++;
    }
}

/* The fourth view: the kernel's own kallsyms walk through a BPF iterator (kernel 6.0+), which no hook on the
   /proc files can filter.  Only on the real host: a fixture tree says nothing about the running kernel. */
static void
bpf_view (struct host_ctx *c, const struct names *proc, size_t *found)
{
  struct names it = { 0 };
  char *txt = NULL;
  size_t len = 0;
  sbx_err err = { 0 };
  int ok = -1;

  if (!c->o->probe_bpf)
    return;
#ifdef HAVE_BPF
  ok = sbx_bpf_ksym_modules (64u << 20, &txt, &len, &err);
#else
  snprintf (err.msg, sizeof err.msg, "BPF is not built into this sbx");
#endif
  if (ok < 0)
    {
      host_add (c, HOST_INFO, "hidden.bpf_iter", "the BPF ksym iterator is not one of the views", "",
                "iter/ksym: %s", err.msg);
      return;
    }
  for (char *p = txt, *nl; p && p < txt + len; p = nl ? nl + 1 : NULL)
    {
      nl = strchr (p, '\n');
      if (nl)
        *nl = '\0';
      if (*p && strcmp (p, "bpf") != 0 && strncmp (p, "__builtin__", 11) != 0)
        {
          char name[MODNAME_MAX + 1];
          if (host_modname (p, strlen (p), name, sizeof name))
            names_add (&it, name, NULL);
          else
            it.bad++;
        }
    }
  free (txt);
  names_sort (&it);
  crossview (c, &it, "iter/ksym (BPF)", proc, "/proc/modules", "bpf_iter_only", HOST_HIGH, found);
  crossview (c, proc, "/proc/modules", &it, "iter/ksym (BPF)", "no_bpf_ksym", HOST_LOW, found);
  host_add (c, HOST_INFO, "hidden.bpf_iter", "the BPF ksym iterator is one of the views", "",
            "iter/ksym: %zu module(s) with symbols%s", it.n, it.bad ? " (and lines that were no module name)" : "");
  names_free (&it);
}

void
host_check_modules (struct host_ctx *c)
{
  struct names proc = { 0 }, sys = { 0 }, ksym = { 0 };
  size_t bad = 0, found = 0;
  bool trunc = false, ktrunc = false, haveproc, havesys, haveksym;
  char kptr[16] = "";

  haveproc = for_each_line (c, "/proc/modules", 8u << 20, procmods_line, &proc, &bad, &trunc) == 0;
  names_sort (&proc);
  havesys = sysmods_read (c, &sys) == 0;
  names_sort (&sys);
  haveksym = for_each_line (c, "/proc/kallsyms", 256u << 20, kallsyms_line, &ksym, &ksym.bad, &ktrunc) == 0;
  names_sort (&ksym);
  host_read_line (c, "/proc/sys/kernel/kptr_restrict", kptr, sizeof kptr);

  /* Every module some view shows counts as loaded. */
  for (size_t i = 0; i < proc.n; i++)
    loaded_add (c, proc.v[i]);
  for (size_t i = 0; i < sys.n; i++)
    if (!names_has (&proc, sys.v[i]))
      loaded_add (c, sys.v[i]);
  check_module_taints (c, &proc, &sys);

  if (!haveproc || !havesys)
    host_add (c, HOST_INFO, "hidden.views", "module cross-view incomplete", "run as root",
              "/proc/modules: %s; /sys/module: %s", haveproc ? "read" : "unreadable", havesys ? "read" : "unreadable");
  if (trunc || proc.bad + sys.bad)
    host_add (c, HOST_MEDIUM, "hidden.garbage", "module lists hold what is not a module name", "check what serves "
              "/proc and /sys on this host", "/proc/modules: %zu bad line(s)%s; /sys/module: %zu bad entr(ies)",
              proc.bad + bad, trunc ? ", over 8 MiB" : "", sys.bad);
  if (haveproc && havesys)
    {
      crossview (c, &proc, "/proc/modules", &sys, "/sys/module (initstate)", "sysfs", HOST_HIGH, &found);
      crossview (c, &sys, "/sys/module (initstate)", &proc, "/proc/modules", "procfs", HOST_HIGH, &found);
    }
  if (haveksym && haveproc)
    {
      crossview (c, &ksym, "/proc/kallsyms", &proc, "/proc/modules", "kallsyms_only", HOST_HIGH, &found);
      /* A module may have no symbol in kallsyms at all, so the other direction weighs less. */
      crossview (c, &proc, "/proc/modules", &ksym, "/proc/kallsyms", "no_kallsyms", HOST_LOW, &found);
    }
  if (haveproc)
    bpf_view (c, &proc, &found);
  host_add (c, HOST_INFO, "hidden.kallsyms", haveksym ? "kallsyms is one of the views" : "kallsyms is not one of "
            "the views", haveksym ? "" : "run as root", "/proc/kallsyms: %s%s; kernel.kptr_restrict: %s",
            !haveksym ? "unreadable" : ktrunc ? "over 256 MiB, read in part" : "read",
            haveksym && ksym.n && ksym.extra[0] && strcmp (ksym.extra[0], "0") == 0
                ? " (addresses hidden by kptr_restrict; module names are listed all the same)" : "",
            kptr[0] ? kptr : "unreadable");
  if (found == 0)
    host_add (c, HOST_OK, "hidden", "no hidden module: every view lists the same modules", NULL,
              "/proc/modules: %zu; /sys/module with initstate: %zu; modules in /proc/kallsyms: %s", proc.n, sys.n,
              haveksym ? "agree" : "not read");
  names_free (&proc);
  names_free (&sys);
  names_free (&ksym);
}

/* host.module_allowlist in sbx.json: names of the modules this host may have loaded. */
int
host_check_allowlist (struct host_ctx *c, sbx_err *err)
{
  const json_t *host = c->o->cfg ? json_find (c->o->cfg->root, "host") : NULL, *list;
  size_t bad = 0;

  if (host == NULL)
    return 0;
  if (!json_is (host, JSON_OBJECT))
    return sbx_fail (err, EINVAL, "sbx.json: \"host\" must be an object");
  for (size_t i = 0; i < json_obj_len (host); i++)
    if (strcmp (json_obj_key (host, i), "module_allowlist") != 0)
      return sbx_fail (err, EINVAL, "sbx.json: unknown setting host.%s", json_obj_key (host, i));
  list = json_find (host, "module_allowlist");
  if (list == NULL)
    return 0;
  if (!json_is (list, JSON_ARRAY))
    return sbx_fail (err, EINVAL, "sbx.json: host.module_allowlist must be an array of module names");
  for (size_t i = 0; i < json_arr_len (list); i++)
    {
      const char *s = json_str (json_arr_at (list, i));
      char name[MODNAME_MAX + 1];
      if (s == NULL || !host_modname (s, strlen (s), name, sizeof name))
        return sbx_fail (err, EINVAL, "sbx.json: host.module_allowlist[%zu] is not a module name", i);
    }
  for (size_t i = 0; i < c->nloaded; i++)
    {
      bool ok = false;
      char id[128];
      for (size_t j = 0; j < json_arr_len (list) && !ok; j++)
        {
          char name[MODNAME_MAX + 1];
          const char *s = json_str (json_arr_at (list, j));
          ok = host_modname (s, strlen (s), name, sizeof name) && strcmp (name, c->loaded[i]) == 0;
        }
      if (ok)
        continue;
      snprintf (id, sizeof id, "allowlist.%s", c->loaded[i]);
      host_add (c, HOST_MEDIUM, id, "loaded module not in host.module_allowlist", "rmmod it, or add it to "
                "host.module_allowlist in sbx.json", "%s is loaded; host.module_allowlist has %zu name(s)",
                c->loaded[i], json_arr_len (list));
      bad++;
    }
  if (bad == 0)
    host_add (c, HOST_OK, "allowlist", "every loaded module is allowlisted", NULL, "%zu loaded; "
              "host.module_allowlist has %zu name(s)%s", c->nloaded, json_arr_len (list),
              c->r->modules == HOST_MODULES_NONE ? " (no loadable modules)" : "");
  return 0;
}
