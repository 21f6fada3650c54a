/* fuzz_doctor_host.c - libFuzzer target: `sbx doctor --host` on a fixture root whose files are the input.  The
   input is cut at NUL bytes into the files below, in order.  What must hold: the audit never fails on what it
   reads, every finding's id, title, evidence and fix are printable ASCII (they reach terminals and fleet
   tooling), ids are unique, and the JSON output parses back. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/util.h"
#include "../../oci/json.h"
#include "../../shim/doctor_host.h"

static const char *const files[] = {
  "proc/modules", "proc/kallsyms", "etc/modprobe.d/a.conf", "lib/modules/6.1.0-fuzz/modules.alias",
  "lib/modules/6.1.0-fuzz/modules.dep", "proc/sys/kernel/tainted", "proc/keys", "sys/module/dummy/taint",
  "sys/kernel/security/lockdown", "proc/cmdline", "proc/sys/kernel/modprobe", "sys/module/x/initstate",
};
static char root[] = "/tmp/sbx-fuzz-host.XXXXXX";

static int
rm_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  (void) st, (void) flag, (void) ftw;
  remove (path); /* what cannot be removed stays: nftw goes on */
  return 0;
}

/* The fixture root goes when the fuzzer exits (its time is up, or it found something). */
static void
cleanup (void)
{
  nftw (root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize (int *argc, char ***argv);
int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  static const char *const dirs[] = { "proc", "proc/sys", "proc/sys/kernel", "etc", "etc/modprobe.d", "lib",
                                      "lib/modules", "lib/modules/6.1.0-fuzz", "sys", "sys/module",
                                      "sys/module/dummy", "sys/module/x", "sys/kernel", "sys/kernel/security" };
  char p[256];
  (void) argc;
  (void) argv;
  if (mkdtemp (root) == NULL)
    abort ();
  atexit (cleanup);
  for (size_t i = 0; i < SBX_ARRAY_SIZE (dirs); i++)
    {
      snprintf (p, sizeof p, "%s/%s", root, dirs[i]);
      mkdir (p, 0755);
    }
  snprintf (p, sizeof p, "%s/proc/sys/kernel/osrelease", root);
  FILE *f = fopen (p, "w");
  if (f == NULL)
    abort ();
  fputs ("6.1.0-fuzz\n", f);
  fclose (f);
  snprintf (p, sizeof p, "%s/sys/module/dummy/initstate", root);
  if ((f = fopen (p, "w")) == NULL)
    abort ();
  fputs ("live\n", f);
  fclose (f);
  return 0;
}

static void
check (const char *s)
{
  for (const char *p = s; *p; p++)
    if (*p < 0x20 || *p > 0x7e)
      {
        fprintf (stderr, "not printable: %s\n", s);
        abort ();
      }
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct host_opts o = { .root = root };
  struct host_report r;
  const uint8_t *p = data, *end = data + size;
  cleanup_free char *js = NULL;
  json_t *doc = NULL;
  size_t len;
  sbx_err err;

  for (size_t i = 0; i < SBX_ARRAY_SIZE (files); i++)
    {
      const uint8_t *z = p < end ? memchr (p, '\0', (size_t) (end - p)) : NULL;
      size_t n = p < end ? (size_t) ((z ? z : end) - p) : 0;
      char path[256];
      FILE *f;
      snprintf (path, sizeof path, "%s/%s", root, files[i]);
      if ((f = fopen (path, "w")) == NULL)
        abort ();
      fwrite (p, 1, n, f);
      fclose (f);
      p = z ? z + 1 : end;
    }
  if (host_audit (&o, &r, &err) < 0)
    {
      fprintf (stderr, "host_audit: %s\n", err.msg);
      abort ();
    }
  for (size_t i = 0; i < r.n; i++)
    {
      check (r.v[i].id), check (r.v[i].title), check (r.v[i].evidence), check (r.v[i].fix);
      for (size_t j = 0; j < i; j++)
        if (strcmp (r.v[i].id, r.v[j].id) == 0)
          {
            fprintf (stderr, "id twice: %s\n", r.v[i].id);
            abort ();
          }
    }
  if (host_to_json (&r, root, NULL, &js, &len, &err) < 0 || json_parse (js, len, "out", &doc, &err) < 0)
    {
      fprintf (stderr, "JSON: %s\n", err.msg);
      abort ();
    }
  json_free (doc);
  host_report_free (&r);
  return 0;
}
