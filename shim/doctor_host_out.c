/* doctor_host_out.c - `sbx doctor --host`: options, human text, JSON for fleet tooling, --baseline and the exit
   status (--fail-on). */
#define _GNU_SOURCE
#include "doctor_host.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "../oci/json.h"

#define DEFAULT_FAIL_ON HOST_HIGH
#define BASELINE_MAX (16u << 20)

static const char *const modules_names[] = { "unknown", "none", "disabled", "loadable" };

/* Most severe first, check order otherwise. */
static void
sort_findings (struct host_report *r)
{
  struct host_finding *tmp = malloc (r->n * sizeof *tmp);

  if (tmp == NULL)
    return;
  for (int s = HOST_CRITICAL, o = 0; s >= HOST_OK; s--)
    for (size_t i = 0; i < r->n; i++)
      if ((int) r->v[i].sev == s)
        tmp[o++] = r->v[i];
  memcpy (r->v, tmp, r->n * sizeof *tmp);
  free (tmp);
}

void
host_print_text (FILE *out, const struct host_report *r, const char *root, bool verbose)
{
  size_t counts[HOST_CRITICAL + 1] = { 0 };

  fprintf (out, "sbx doctor --host: kernel %s, modules %s%s%s\n", r->release[0] ? r->release : "(unknown)",
           modules_names[r->modules], strcmp (root, "/") ? ", root " : "", strcmp (root, "/") ? root : "");
  for (size_t i = 0; i < r->n; i++)
    {
      const struct host_finding *f = &r->v[i];
      counts[f->sev]++;
      fprintf (out, "%-8s  %-32s %s\n", host_sev_name (f->sev), f->id, f->title);
      if (verbose || f->sev >= HOST_INFO)
        fprintf (out, "%-8s  %-32s   evidence: %s\n", "", "", f->evidence);
      if (f->fix[0] && f->sev >= HOST_LOW)
        fprintf (out, "%-8s  %-32s   fix: %s\n", "", "", f->fix);
    }
  fprintf (out, "summary: %zu critical, %zu high, %zu medium, %zu low, %zu info, %zu ok\n", counts[HOST_CRITICAL],
           counts[HOST_HIGH], counts[HOST_MEDIUM], counts[HOST_LOW], counts[HOST_INFO], counts[HOST_OK]);
}

static int
put_str (json_t *o, const char *k, const char *v, sbx_err *err)
{
  json_t *s = json_new_str (v);
  if (s == NULL)
    return sbx_fail (err, ENOMEM, "JSON output");
  return json_set (o, k, s, err);
}

static int
findings_json (const struct host_report *r, json_t **out, sbx_err *err)
{
  json_t *arr = json_new_arr ();

  if (arr == NULL)
    return sbx_fail (err, ENOMEM, "JSON output");
  for (size_t i = 0; r && i < r->n; i++)
    {
      json_t *o = json_new_obj ();
      if (o == NULL || json_arr_push (arr, o, err) < 0 || put_str (o, "id", r->v[i].id, err) < 0
          || put_str (o, "severity", host_sev_name (r->v[i].sev), err) < 0
          || put_str (o, "title", r->v[i].title, err) < 0 || put_str (o, "evidence", r->v[i].evidence, err) < 0
          || put_str (o, "fix", r->v[i].fix, err) < 0)
        {
          json_free (arr);
          return o ? -1 : sbx_fail (err, ENOMEM, "JSON output");
        }
    }
  *out = arr;
  return 0;
}

int
host_to_json (const struct host_report *r, const char *root, const struct host_report *resolved, char **out,
              size_t *len, sbx_err *err)
{
  json_t *doc = json_new_obj (), *arr = NULL;
  int ret = -1;

  if (doc == NULL)
    return sbx_fail (err, ENOMEM, "JSON output");
  if (put_str (doc, "tool", "sbx doctor --host", err) < 0 || put_str (doc, "kernel", r->release, err) < 0
      || put_str (doc, "root", root, err) < 0 || put_str (doc, "modules", modules_names[r->modules], err) < 0
      || findings_json (r, &arr, err) < 0 || json_set (doc, "findings", arr, err) < 0)
    goto out;
  if (resolved && (findings_json (resolved, &arr, err) < 0 || json_set (doc, "resolved", arr, err) < 0))
    goto out;
  ret = json_serialize (doc, out, len, err);
out:
  json_free (doc);
  return ret;
}

/* Move the findings of R that BASE (a saved --json) holds with the same severity out of the report; put BASE's
   findings that are gone into RESOLVED.  What stays is what changed. */
static int
apply_baseline (const char *file, struct host_report *r, struct host_report *resolved, sbx_err *err)
{
  cleanup_free char *buf = NULL;
  json_t *doc = NULL, *arr;
  size_t len, o = 0;

  if (sbx_read_file (file, BASELINE_MAX, &buf, &len, err) < 0)
    return sbx_wrap (err, "--baseline");
  if (json_parse (buf, len, file, &doc, err) < 0)
    return sbx_wrap (err, "--baseline");
  arr = json_find (doc, "findings");
  if (!json_is (arr, JSON_ARRAY))
    {
      json_free (doc);
      return sbx_fail (err, EINVAL, "--baseline %s: no \"findings\" array (save `sbx doctor --host --json`)", file);
    }
  for (size_t i = 0; i < json_arr_len (arr); i++)
    {
      const json_t *f = json_arr_at (arr, i);
      const char *id = json_str (json_find (f, "id")), *sev = json_str (json_find (f, "severity"));
      const struct host_finding *now;
      if (id == NULL || sev == NULL || host_sev_parse (sev) < 0)
        {
          json_free (doc);
          return sbx_fail (err, EINVAL, "--baseline %s: finding %zu has no id or no known severity", file, i);
        }
      if ((now = host_find (r, id)) == NULL)
        {
          struct host_ctx c = { .r = resolved };
          const char *t = json_str (json_find (f, "title"));
          char cid[128], ct[256];
          /* The baseline is only a file: what it says reaches a terminal, printable only. */
          host_add (&c, (enum host_sev) host_sev_parse (sev), host_clean (id, cid, sizeof cid),
                    host_clean (t ? t : "", ct, sizeof ct), "", "in the baseline, gone now");
        }
    }
  for (size_t i = 0; i < r->n; i++)
    {
      bool same = false;
      for (size_t j = 0; j < json_arr_len (arr) && !same; j++)
        {
          const json_t *f = json_arr_at (arr, j);
          same = strcmp (json_str (json_find (f, "id")), r->v[i].id) == 0
                 && host_sev_parse (json_str (json_find (f, "severity"))) == (int) r->v[i].sev;
        }
      if (same)
        free (r->v[i].id), free (r->v[i].title), free (r->v[i].evidence), free (r->v[i].fix);
      else
        r->v[o++] = r->v[i];
    }
  r->n = o;
  json_free (doc);
  return 0;
}

static int
usage (void)
{
  fprintf (stderr, "usage: sbx doctor --host [--json] [--fail-on=ok|info|low|medium|high|critical] "
                   "[--baseline FILE] [--root DIR] [--no-probe] [-v|--verbose]\n");
  return 2;
}

struct args
{
  struct host_opts o;
  const char *baseline;
  bool json, verbose;
  int fail_on;
};

/* 0, or the exit status of a usage error. */
static int
parse_args (int argc, char **argv, struct args *a)
{
  for (int i = 1; i < argc; i++)
    {
      const char *s = argv[i], *v = NULL;
      if (strcmp (s, "--json") == 0)
        a->json = true;
      else if (strcmp (s, "--verbose") == 0 || strcmp (s, "-v") == 0)
        a->verbose = true;
      else if (strcmp (s, "--no-probe") == 0)
        a->o.probe_bpf = false;
      else if (strncmp (s, "--fail-on=", 10) == 0 || (strcmp (s, "--fail-on") == 0 && (v = argv[++i]) != NULL))
        {
          a->fail_on = host_sev_parse (v ? v : s + 10);
          if (a->fail_on < 0)
            {
              fprintf (stderr, "sbx doctor --host: --fail-on: unknown severity '%s'\n", v ? v : s + 10);
              return usage ();
            }
        }
      else if (strcmp (s, "--baseline") == 0 && i + 1 < argc)
        a->baseline = argv[++i];
      else if (strcmp (s, "--root") == 0 && i + 1 < argc)
        a->o.root = argv[++i];
      else
        return usage ();
    }
  /* A fixture tree says nothing about what loads on this kernel. */
  if (strcmp (a->o.root, "/") != 0)
    a->o.probe_bpf = false;
  return 0;
}

int
host_doctor_main (int argc, char **argv)
{
  struct args a = { .o = { .root = "/", .probe_bpf = true }, .fail_on = DEFAULT_FAIL_ON };
  struct host_report r = { 0 }, resolved = { 0 };
  struct sbx_config cfg = { 0 };
  int ret = parse_args (argc, argv, &a);
  sbx_err err = { 0 };

  if (ret)
    return ret;
  ret = 2;
  if (sbx_config_load (&cfg, &err) < 0)
    {
      fprintf (stderr, "sbx doctor --host: %s\n", err.msg);
      return 2;
    }
  a.o.cfg = &cfg;
  if (host_audit (&a.o, &r, &err) < 0 || (a.baseline && apply_baseline (a.baseline, &r, &resolved, &err) < 0))
    {
      fprintf (stderr, "sbx doctor --host: %s\n", err.msg);
      goto out;
    }
  sort_findings (&r);
  ret = 0;
  for (size_t i = 0; i < r.n; i++)
    if ((int) r.v[i].sev >= a.fail_on)
      ret = 1;
  if (a.json)
    {
      cleanup_free char *s = NULL;
      size_t len;
      if (host_to_json (&r, a.o.root, a.baseline ? &resolved : NULL, &s, &len, &err) < 0)
        {
          fprintf (stderr, "sbx doctor --host: %s\n", err.msg);
          ret = 2;
          goto out;
        }
      fwrite (s, 1, len, stdout);
      putchar ('\n');
    }
  else
    {
      host_print_text (stdout, &r, a.o.root, a.verbose);
      for (size_t i = 0; i < resolved.n; i++)
        printf ("resolved  %-32s %s (was %s)\n", resolved.v[i].id, resolved.v[i].title,
                host_sev_name (resolved.v[i].sev));
      printf ("%s: --fail-on=%s%s\n", ret ? "FAIL" : "ok", host_sev_name ((enum host_sev) a.fail_on),
              a.baseline ? " (changes since the baseline only)" : "");
    }
out:
  host_report_free (&r);
  host_report_free (&resolved);
  sbx_config_free (&cfg);
  return ret;
}
