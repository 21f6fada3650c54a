/* cmd_profile.c - `sbx profile`: list, show, check, compile, diff and learn seccomp profiles. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/util.h"
#include "../profiles/profile.h"
#include "commands.h"

/* What `docker run` grants by default: the capability set profiles are shown and checked against unless --caps
   says otherwise (sbx drops CAP_SYS_MODULE from any set anyway). */
static const char *const default_caps[] = {
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
  "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
  "CAP_AUDIT_WRITE",
};

struct opts
{
  const char *caps;
  const char *out;
  const char *base;
  bool disasm, raw;
  long bench;
  int npos;
  char *pos[16];
};

static int
usage (FILE *f)
{
  fprintf (f, "usage: sbx profile list\n"
              "       sbx profile show NAME [--caps CAP,...] [--raw]\n"
              "       sbx profile check NAME SYSCALL [ARG...] [--caps CAP,...]\n"
              "       sbx profile compile NAME [--disasm] [-o FILE] [--caps CAP,...]\n"
              "       sbx profile diff A B [--caps CAP,...]\n"
              "       sbx profile learn [--base NAME] [-o FILE] BUNDLE\n"
              "NAME is a built-in profile (default, strict, baseline), one in %s, or an absolute path.\n",
           sbx_profiles_dir (NULL));
  return f == stdout ? 0 : 2;
}

static int
parse (int argc, char **argv, struct opts *o)
{
  memset (o, 0, sizeof *o);
  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--caps") == 0 && i + 1 < argc)
        o->caps = argv[++i];
      else if (strcmp (argv[i], "-o") == 0 && i + 1 < argc)
        o->out = argv[++i];
      else if (strcmp (argv[i], "--base") == 0 && i + 1 < argc)
        o->base = argv[++i];
      else if (strcmp (argv[i], "--bench") == 0 && i + 1 < argc)
        o->bench = atol (argv[++i]);
      else if (strcmp (argv[i], "--disasm") == 0)
        o->disasm = true;
      else if (strcmp (argv[i], "--raw") == 0)
        o->raw = true;
      else if (argv[i][0] == '-' && argv[i][1] != '\0' && !(argv[i][1] >= '0' && argv[i][1] <= '9'))
        {
          fprintf (stderr, "sbx profile: unknown option %s\n", argv[i]);
          return -1;
        }
      else if (o->npos < 16)
        o->pos[o->npos++] = argv[i];
    }
  return 0;
}

static int
fail (sbx_err *err)
{
  fprintf (stderr, "sbx profile: %s\n", err->msg);
  return 1;
}

/* NAME resolved for the capability set CAPS (comma-separated) or Docker's default set. */
static int
load (const char *name, const char *caps, struct sbx_filter *f, sbx_err *err)
{
  struct sbx_config cfg = { 0 };
  cleanup_free char *origin = NULL, *capbuf = NULL;
  cleanup_free const char **list = NULL;
  struct sbx_resolve_env env = { .caps = default_caps, .ncaps = SBX_ARRAY_SIZE (default_caps) };
  json_t *profile = NULL;
  int rc;

  if (sbx_config_load (&cfg, err) < 0)
    return -1;
  if (caps)
    {
      size_t n = 0;
      capbuf = strdup (caps);
      list = calloc (strlen (caps) / 2 + 2, sizeof *list);
      if (capbuf == NULL || list == NULL)
        return sbx_fail (err, ENOMEM, "capabilities");
      for (char *save = NULL, *t = strtok_r (capbuf, ",", &save); t; t = strtok_r (NULL, ",", &save))
        list[n++] = t;
      env.caps = list;
      env.ncaps = n;
    }
  sbx_resolve_env_host (&env);
  rc = sbx_profile_load (&cfg, name, &profile, &origin, err);
  sbx_config_free (&cfg);
  if (rc < 0)
    return -1;
  rc = sbx_profile_resolve (profile, origin, &env, f, err);
  json_free (profile);
  return rc;
}

static int
cmd_list (void)
{
  struct sbx_config cfg = { 0 };
  sbx_err err;
  const char *dir;
  DIR *d;

  if (sbx_config_load (&cfg, &err) < 0)
    return fail (&err);
  dir = sbx_profiles_dir (&cfg);
  for (size_t i = 0; sbx_embedded_profile_names[i]; i++)
    {
      char path[4096];
      snprintf (path, sizeof path, "%s/%s.json", dir, sbx_embedded_profile_names[i]);
      printf ("%-12s %s\n", sbx_embedded_profile_names[i], access (path, R_OK) == 0 ? path : "built in");
    }
  if ((d = opendir (dir)) != NULL)
    {
      struct dirent *e;
      while ((e = readdir (d)) != NULL)
        {
          size_t n = strlen (e->d_name);
          bool builtin = false;
          if (n < 6 || strcmp (e->d_name + n - 5, ".json") != 0 || e->d_name[0] == '.')
            continue;
          for (size_t i = 0; sbx_embedded_profile_names[i]; i++)
            builtin |= strncmp (e->d_name, sbx_embedded_profile_names[i], n - 5) == 0
                       && strlen (sbx_embedded_profile_names[i]) == n - 5;
          if (!builtin)
            printf ("%-12.*s %s/%s\n", (int) (n - 5), e->d_name, dir, e->d_name);
        }
      closedir (d);
    }
  sbx_config_free (&cfg);
  return 0;
}

static int
cmd_show (struct opts *o)
{
  struct sbx_filter f;
  json_t *out;
  cleanup_free char *s = NULL;
  size_t len;
  sbx_err err;

  if (o->npos != 1)
    return usage (stderr);
  if (o->raw)
    {
      struct sbx_config cfg = { 0 };
      cleanup_free char *origin = NULL;
      json_t *p;
      if (sbx_config_load (&cfg, &err) < 0 || sbx_profile_load (&cfg, o->pos[0], &p, &origin, &err) < 0)
        return fail (&err);
      sbx_config_free (&cfg);
      out = p;
    }
  else
    {
      if (load (o->pos[0], o->caps, &f, &err) < 0)
        return fail (&err);
      out = json_new_obj ();
      if (out == NULL || sbx_filter_to_oci (&f, out, true, &err) < 0)
        return fail (&err);
      sbx_filter_free (&f);
    }
  if (json_serialize (out, &s, &len, &err) < 0)
    return fail (&err);
  json_free (out);
  puts (s);
  return 0;
}

static bool
matches (const struct sbx_rule *r, const uint64_t args[6])
{
  for (unsigned k = 0; k < r->ncmp; k++)
    {
      const struct sbx_cmp *c = &r->cmp[k];
      uint64_t x = args[c->idx];
      bool ok = c->op == SBX_CMP_NE   ? x != c->value
                : c->op == SBX_CMP_LT ? x < c->value
                : c->op == SBX_CMP_LE ? x <= c->value
                : c->op == SBX_CMP_EQ ? x == c->value
                : c->op == SBX_CMP_GE ? x >= c->value
                : c->op == SBX_CMP_GT ? x > c->value
                                      : (x & c->value) == c->value_two;
      if (!ok)
        return false;
    }
  return true;
}

static void
print_rule (FILE *f, const struct sbx_rule *r)
{
  char buf[64];

  fprintf (f, "%s", sbx_action_str (&r->act, buf, sizeof buf));
  for (unsigned k = 0; k < r->ncmp; k++)
    {
      if (r->cmp[k].op == SBX_CMP_MASKED_EQ)
        fprintf (f, "%s(a%u & 0x%llx) == 0x%llx", k ? " && " : " if ", r->cmp[k].idx,
                 (unsigned long long) r->cmp[k].value, (unsigned long long) r->cmp[k].value_two);
      else
        fprintf (f, "%sa%u %s %llu", k ? " && " : " if ", r->cmp[k].idx, sbx_cmp_op_name (r->cmp[k].op) + 9,
                 (unsigned long long) r->cmp[k].value);
    }
}

static int
cmd_check (struct opts *o)
{
  uint64_t args[6] = { 0 };
  struct sbx_filter f;
  struct sbx_bpf prog;
  char buf[64];
  uint32_t ret;
  bool any = false;
  sbx_err err;

  if (o->npos < 2 || o->npos > 8)
    return usage (stderr);
  for (int i = 2; i < o->npos; i++)
    {
      char *end;
      errno = 0;
      args[i - 2] = strtoull (o->pos[i], &end, 0);
      if (errno || *end)
        {
          fprintf (stderr, "sbx profile check: argument \"%s\" is not a number\n", o->pos[i]);
          return 2;
        }
    }
  if (load (o->pos[0], o->caps, &f, &err) < 0)
    return fail (&err);
  if (sbx_syscall_nr (o->pos[1]) < 0)
    {
      fprintf (stderr, "sbx profile check: \"%s\" is not a syscall of this architecture\n", o->pos[1]);
      return 2;
    }
  if (sbx_filter_compile (&f, false, &prog, &err) < 0)
    return fail (&err);
  sbx_bpf_run_name (&prog, o->pos[1], args, &ret);
  printf ("%s: %s\n", o->pos[1], sbx_bpf_ret_str (ret, buf, sizeof buf));
  for (size_t i = 0; i < f.nrules; i++)
    if (strcmp (f.rules[i].name, o->pos[1]) == 0 && matches (&f.rules[i], args))
      {
        printf ("  rule: ");
        print_rule (stdout, &f.rules[i]);
        printf ("\n  why:  %s\n", f.rules[i].comment ? f.rules[i].comment : "(no comment)");
        any = true;
      }
  if (!any)
    printf ("  no rule for %s matches: the default action %s applies\n", o->pos[1],
            sbx_action_str (&f.def, buf, sizeof buf));
  sbx_bpf_free (&prog);
  sbx_filter_free (&f);
  return 0;
}

static double
now_us (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

/* --bench N (for make bench): libseccomp compile time, and the crun start path's cache miss and hit. */
static int
bench_compile (const struct sbx_filter *f, long n)
{
  char dir[] = "/tmp/sbx-bench-cache.XXXXXX";
  json_t *oci = json_new_obj ();
  double t0, compile, miss, hit;
  struct sbx_bpf p;
  char *b64 = NULL;
  bool was_hit;
  sbx_err err;

  if (oci == NULL || sbx_filter_to_oci (f, oci, false, &err) < 0 || mkdtemp (dir) == NULL)
    return 1;
  t0 = now_us ();
  for (long i = 0; i < n; i++)
    {
      if (sbx_filter_compile (f, false, &p, &err) < 0)
        return fail (&err);
      sbx_bpf_free (&p);
    }
  compile = (now_us () - t0) / n;
  t0 = now_us ();
  if (sbx_bpf_cache_b64 (oci, dir, &b64, NULL, &was_hit, &err) < 0)
    return fail (&err);
  miss = now_us () - t0;
  free (b64);
  t0 = now_us ();
  for (long i = 0; i < n; i++)
    {
      if (sbx_bpf_cache_b64 (oci, dir, &b64, NULL, &was_hit, &err) < 0 || !was_hit)
        return 1;
      free (b64);
    }
  hit = (now_us () - t0) / n;
  printf ("compile_us %.1f\ncache_miss_us %.1f\ncache_hit_us %.1f\n", compile, miss, hit);
  json_free (oci);
  {
    char cmd[128];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    if (system (cmd) != 0)
      return 1;
  }
  return 0;
}

static int
cmd_compile (struct opts *o)
{
  struct sbx_filter f;
  struct sbx_bpf prog;
  sbx_err err;

  if (o->npos != 1)
    return usage (stderr);
  if (load (o->pos[0], o->caps, &f, &err) < 0 || sbx_filter_compile (&f, true, &prog, &err) < 0)
    return fail (&err);
  if (o->bench > 0)
    return bench_compile (&f, o->bench);
  if (o->out)
    {
      FILE *w = fopen (o->out, "we");
      if (w == NULL || fwrite (prog.insns, 8, prog.len, w) != prog.len || fclose (w) != 0)
        {
          fprintf (stderr, "sbx profile compile: write %s: %s\n", o->out, strerror (errno));
          return 1;
        }
    }
  if (o->disasm)
    sbx_bpf_disasm (&prog, stdout);
  else
    printf ("%s: %zu rules, %zu BPF instructions (%zu bytes), binary-tree optimized\n", o->pos[0], f.nrules,
            prog.len, prog.len * 8);
  sbx_bpf_free (&prog);
  sbx_filter_free (&f);
  return 0;
}

/* One side's rules for NAME as a sorted, comparable text. */
static char *
describe (const struct sbx_filter *f, const char *name)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *m = open_memstream (&buf, &len);
  bool any = false;

  if (m == NULL)
    return NULL;
  for (size_t i = 0; i < f->nrules; i++)
    if (strcmp (f->rules[i].name, name) == 0)
      {
        if (any)
          fputs (" | ", m);
        print_rule (m, &f->rules[i]);
        any = true;
      }
  if (!any)
    {
      char a[64];
      fprintf (m, "default %s", sbx_action_str (&f->def, a, sizeof a));
    }
  fclose (m);
  return buf;
}

static bool
denies (const struct sbx_filter *f, const char *name)
{
  bool ruled = false;

  for (size_t i = 0; i < f->nrules; i++)
    if (strcmp (f->rules[i].name, name) == 0)
      {
        ruled = true;
        if (f->rules[i].act.kind < SBX_ACT_ERRNO)
          return false;
      }
  return ruled || f->def.kind >= SBX_ACT_ERRNO;
}

static int
by_str (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static int
cmd_diff (struct opts *o)
{
  struct sbx_filter a, b;
  cleanup_free const char **names = NULL;
  size_t n = 0, added = 0, removed = 0, changed = 0;
  char da[64], db[64];
  sbx_err err;

  if (o->npos != 2)
    return usage (stderr);
  if (load (o->pos[0], o->caps, &a, &err) < 0 || load (o->pos[1], o->caps, &b, &err) < 0)
    return fail (&err);
  names = calloc (a.nrules + b.nrules + 1, sizeof *names);
  if (names == NULL)
    return 1;
  for (size_t i = 0; i < a.nrules; i++)
    names[n++] = a.rules[i].name;
  for (size_t i = 0; i < b.nrules; i++)
    names[n++] = b.rules[i].name;
  qsort (names, n, sizeof *names, by_str);
  if (!sbx_action_eq (&a.def, &b.def))
    printf ("~ defaultAction: %s -> %s\n", sbx_action_str (&a.def, da, sizeof da),
            sbx_action_str (&b.def, db, sizeof db));
  for (size_t i = 0; i < n; i++)
    {
      cleanup_free char *x = NULL, *y = NULL;
      bool dx, dy;

      if (i && strcmp (names[i], names[i - 1]) == 0)
        continue;
      x = describe (&a, names[i]);
      y = describe (&b, names[i]);
      if (x == NULL || y == NULL || strcmp (x, y) == 0)
        continue;
      dx = denies (&a, names[i]);
      dy = denies (&b, names[i]);
      if (dx && !dy)
        printf ("+ %s: %s\n", names[i], y), added++;
      else if (!dx && dy)
        printf ("- %s: %s\n", names[i], y), removed++;
      else
        printf ("~ %s: %s -> %s\n", names[i], x, y), changed++;
    }
  printf ("%zu added, %zu removed, %zu changed (from %s to %s)\n", added, removed, changed, o->pos[0], o->pos[1]);
  sbx_filter_free (&a);
  sbx_filter_free (&b);
  return 0;
}

static int
cmd_learn (struct opts *o)
{
  struct sbx_config cfg = { 0 };
  cleanup_free char *s = NULL;
  json_t *prof;
  size_t len;
  sbx_err err;

  if (o->npos != 1)
    return usage (stderr);
  if (sbx_config_load (&cfg, &err) < 0
      || sbx_profile_learn (&cfg, o->base, o->pos[0], getenv ("SBX_LEARN_CRUN") ? getenv ("SBX_LEARN_CRUN") : "crun",
                            &prof, &err) < 0
      || json_serialize (prof, &s, &len, &err) < 0)
    return fail (&err);
  json_free (prof);
  sbx_config_free (&cfg);
  if (o->out)
    {
      FILE *w = fopen (o->out, "we");
      if (w == NULL || fprintf (w, "%s\n", s) < 0 || fclose (w) != 0)
        {
          fprintf (stderr, "sbx profile learn: write %s: %s\n", o->out, strerror (errno));
          return 1;
        }
    }
  else
    puts (s);
  return 0;
}

int
sbx_cmd_profile (int argc, char **argv)
{
  struct opts o;
  const char *sub;

  if (argc < 2)
    return usage (stderr);
  sub = argv[1];
  if (strcmp (sub, "--help") == 0 || strcmp (sub, "-h") == 0 || strcmp (sub, "help") == 0)
    return usage (stdout);
  if (parse (argc - 1, argv + 1, &o) < 0)
    return 2;
  if (strcmp (sub, "list") == 0)
    return cmd_list ();
  if (strcmp (sub, "show") == 0)
    return cmd_show (&o);
  if (strcmp (sub, "check") == 0)
    return cmd_check (&o);
  if (strcmp (sub, "compile") == 0)
    return cmd_compile (&o);
  if (strcmp (sub, "diff") == 0)
    return cmd_diff (&o);
  if (strcmp (sub, "learn") == 0)
    return cmd_learn (&o);
  fprintf (stderr, "sbx profile: unknown subcommand '%s'\n", sub);
  return usage (stderr);
}
