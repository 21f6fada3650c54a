/* fuzz_spec.c - libFuzzer target: the spec pipeline (parse, harden, write) on hostile config.json bytes.
   On every spec sbx accepts, the promises hold on the output: it parses again, no capability set holds
   CAP_SYS_MODULE, noNewPrivileges is set unless the spec opted out, pid and mount namespaces are there unless the
   spec opted out, and a seccomp filter is present. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../oci/json.h"
#include "../../policy/policy.h"

static struct sbx_config cfg;

static void
quiet (enum sbx_level level, const char *fmt, ...)
{
  (void) level;
  (void) fmt;
}

int LLVMFuzzerInitialize (int *argc, char ***argv);
int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  /* No side effects on the host: no memo or cache on disk, no watcher started. */
  static const char settings[]
      = "{\"seccomp_memo\":false,\"seccomp_cache\":\"/nonexistent/sbx-fuzz\",\"state_dir\":\"/nonexistent/sbx-fuzz\","
        "\"watcher\":{\"enabled\":false,\"on_demand\":false}}";
  sbx_err err;
  (void) argc;
  (void) argv;
  if (json_parse (settings, strlen (settings), "settings", &cfg.root, &err) < 0)
    abort ();
  return 0;
}

static void
check_caps (const json_t *spec)
{
  static const char *const sets[] = { "bounding", "effective", "inheritable", "permitted", "ambient" };
  const json_t *caps = json_find (json_find (spec, "process"), "capabilities");
  for (size_t i = 0; i < json_obj_len (caps); i++)
    {
      const json_t *set = json_obj_val (caps, i);
      bool known = false;
      /* Keys runc reads as one of the sets (Go's case folding); it ignores any other key. */
      for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++)
        known |= json_key_eq (json_obj_key (caps, i), sets[k]);
      if (!known)
        continue;
      for (size_t j = 0; j < json_arr_len (set); j++)
        if (json_str (json_arr_at (set, j)) && sbx_cap_is_forbidden (json_str (json_arr_at (set, j))))
          abort ();
    }
}

static bool
has_ns (const json_t *spec, const char *type)
{
  const json_t *ns = json_find (json_find (spec, "linux"), "namespaces");
  for (size_t i = 0; i < json_arr_len (ns); i++)
    if (json_str (json_find (json_arr_at (ns, i), "type")) && strcmp (json_str (json_find (json_arr_at (ns, i), "type")), type) == 0)
      return true;
  return false;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct sbx_policy_ctx ctx = { .cfg = &cfg, .container_id = "fuzz", .delegate = SBX_DELEGATE_RUNC, .note = quiet };
  char *buf = malloc (size + 1), *out = NULL;
  json_t *spec = NULL, *again = NULL;
  size_t len;
  sbx_err err;
  bool nnp_optout = false;
  unsigned allow = 0;

  memcpy (buf, data, size);
  buf[size] = '\0';
  if (json_parse (buf, size, "config.json", &spec, &err) < 0 || !json_is (spec, JSON_OBJECT))
    goto out;
  /* What the spec asked to opt out of, read before hardening (the stages record, never widen, it). */
  if (sbx_nnp_optout (spec, &nnp_optout, &err) < 0 || sbx_allow_host_ns (spec, &allow, &err) < 0)
    goto out;
  if (sbx_policy_apply_spec (spec, &ctx, &err) < 0)
    goto out;
  if (json_serialize (spec, &out, &len, &err) < 0)
    abort ();
  if (json_parse (out, len, "hardened", &again, &err) < 0)
    {
      fprintf (stderr, "hardened spec does not parse again: %s\n", err.msg);
      abort ();
    }
  check_caps (again);
  if (!nnp_optout && !json_is_true (json_find (json_find (again, "process"), "noNewPrivileges")))
    abort ();
  if ((!(allow & 1) && !has_ns (again, "pid")) || (!(allow & 2) && !has_ns (again, "mount")))
    abort ();
  if (!json_is (json_find (json_find (again, "linux"), "seccomp"), JSON_OBJECT))
    abort ();
out:
  json_free (again);
  json_free (spec);
  free (out);
  free (buf);
  return 0;
}
