/* fuzz_merge.c - libFuzzer target: engine ∩ profile on compiled BPF.  The input drives the generator of
   tests/merge_gen.h (the same one test_merge runs); each engine filter libseccomp takes is hardened with every
   built-in profile for runc and checked on the grid by the tests' own interpreter.  A violation (the final filter
   refusing less than the engine's or the profile's, losing the engine's errno, or letting a module syscall
   through) aborts.  A refusal to start is fail-closed and only counted (test_merge reports those). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../merge_gen.h"

static struct sbx_config cfg;
static struct sbx_filter pf[3];
static struct sbx_bpf pb[3];
static const char *const names[3] = { "default", "strict", "baseline" };
#define CAPS "\"CAP_CHOWN\",\"CAP_NET_RAW\",\"CAP_SETUID\",\"CAP_SETGID\",\"CAP_KILL\",\"CAP_AUDIT_WRITE\""

int LLVMFuzzerInitialize (int *argc, char ***argv);
int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  static const char settings[]
      = "{\"seccomp_memo\":false,\"seccomp_cache\":\"off\",\"state_dir\":\"/nonexistent/sbx-fuzz\","
        "\"watcher\":{\"enabled\":false,\"on_demand\":false}}";
  static const char *const caps[] = { "CAP_CHOWN", "CAP_NET_RAW", "CAP_SETUID", "CAP_SETGID", "CAP_KILL",
                                      "CAP_AUDIT_WRITE" };
  sbx_err err;

  (void) argc;
  (void) argv;
  setenv ("SBX_PROFILES_DIR", "/nonexistent/sbx-fuzz", 1);
  unsetenv ("SBX_SECCOMP_CACHE");
  if (json_parse (settings, strlen (settings), "settings", &cfg.root, &err) < 0)
    abort ();
  for (int i = 0; i < 3; i++)
    {
      struct sbx_resolve_env env = { .caps = caps, .ncaps = 6 };
      char *origin = NULL;
      json_t *j;
      sbx_resolve_env_host (&env);
      if (sbx_profile_load (&cfg, names[i], &j, &origin, &err) < 0 || sbx_profile_resolve (j, origin, &env, &pf[i], &err) < 0
          || sbx_filter_compile_runc (&pf[i], &pb[i], &err) < 0)
        abort ();
      json_free (j);
      free (origin);
    }
  return 0;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static char engine[1 << 15];
  struct gen_rng r = { .s = 0x5b12, .data = data, .len = size };
  struct sbx_filter ef;
  struct sbx_bpf eb;
  json_t *j;
  sbx_err err;

  gen_engine (&r, engine, sizeof engine);
  if (json_parse (engine, strlen (engine), "engine", &j, &err) < 0)
    abort (); /* the generator writes JSON */
  if (sbx_filter_from_oci (j, "engine", &ef, &err) < 0)
    abort ();
  json_free (j);
  if (sbx_filter_compile_runc (&ef, &eb, &err) < 0)
    {
      sbx_filter_free (&ef); /* runc refuses it too: no engine's filter */
      return 0;
    }
  for (int i = 0; i < 3; i++)
    {
      struct sbx_filter fin;
      struct sbx_bpf fb;
      struct gen_check c = { .e = &ef, .p = &pf[i], .seed = size };

      if (gen_harden (&cfg, engine, names[i], CAPS, SBX_DELEGATE_RUNC, &fin, &fb, &err) < 0)
        continue;
      c.fin = &fin;
      c.ep = gen_prog_of (&eb);
      c.pp = gen_prog_of (&pb[i]);
      c.fp = gen_prog_of (&fb);
      if (!gen_check_all (&c))
        {
          fprintf (stderr, "violation (%s): %s\nengine: %s\n", names[i], c.why, engine);
          abort ();
        }
      sbx_filter_free (&fin);
      sbx_bpf_free (&fb);
    }
  sbx_filter_free (&ef);
  sbx_bpf_free (&eb);
  return 0;
}
