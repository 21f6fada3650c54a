/* fuzz_process.c - libFuzzer target: `exec --process` JSON, sanitized as sbx-runtime sanitizes it.  The first byte
   says whether the container opted out of no_new_privs (bit 0); the rest is the document.  On every document sbx
   accepts: the output parses again, no capability set Go would read (any key folding to bounding, effective,
   inheritable, permitted or ambient) holds CAP_SYS_MODULE, and noNewPrivileges is true unless the container opted
   out. */
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
check_caps (const json_t *process)
{
  static const char *const sets[] = { "bounding", "effective", "inheritable", "permitted", "ambient" };
  const json_t *caps = NULL;

  /* Go reads the last key folding to "capabilities" (sbx refuses two that fold alike). */
  for (size_t i = 0; i < json_obj_len (process); i++)
    if (json_key_eq (json_obj_key (process, i), "capabilities"))
      caps = json_obj_val (process, i);
  for (size_t i = 0; i < json_obj_len (caps); i++)
    {
      const json_t *set = json_obj_val (caps, i);
      bool known = false;
      for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++)
        known |= json_key_eq (json_obj_key (caps, i), sets[k]);
      for (size_t j = 0; known && j < json_arr_len (set); j++)
        if (json_str (json_arr_at (set, j)) && sbx_cap_is_forbidden (json_str (json_arr_at (set, j))))
          abort ();
    }
}

static bool
nnp_set (const json_t *process)
{
  const json_t *v = NULL;
  for (size_t i = 0; i < json_obj_len (process); i++)
    if (json_key_eq (json_obj_key (process, i), "noNewPrivileges"))
      v = json_obj_val (process, i);
  return json_is_true (v);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct sbx_policy_ctx ctx = { .cfg = &cfg, .container_id = "fuzz", .delegate = SBX_DELEGATE_RUNC, .note = quiet };
  json_t *proc = NULL, *again = NULL;
  char *buf, *out = NULL;
  bool optout;
  size_t len;
  sbx_err err;

  if (size < 1)
    return 0;
  optout = data[0] & 1;
  ctx.delegate = data[0] & 2 ? SBX_DELEGATE_CRUN : SBX_DELEGATE_RUNC;
  buf = malloc (size);
  memcpy (buf, data + 1, size - 1);
  buf[size - 1] = '\0';
  if (json_parse (buf, size - 1, "process.json", &proc, &err) < 0 || !json_is (proc, JSON_OBJECT))
    goto out;
  if (sbx_policy_apply_process (proc, optout, &ctx, &err) < 0)
    goto out;
  if (json_serialize (proc, &out, &len, &err) < 0)
    abort ();
  if (json_parse (out, len, "sanitized", &again, &err) < 0)
    {
      fprintf (stderr, "sanitized process does not parse again: %s\n", err.msg);
      abort ();
    }
  check_caps (again);
  if (!optout && !nnp_set (again))
    abort ();
out:
  json_free (again);
  json_free (proc);
  free (out);
  free (buf);
  return 0;
}
