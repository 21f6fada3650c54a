/* fuzz_profile.c - libFuzzer target: profile parsing and resolution, and the profile annotation, on hostile bytes.
   Input: ANNOTATION '\n' FLAGS PROFILE-BYTES.  The profile bytes become the file fz.json of a private profiles_dir;
   the annotation is run.sbx.profile of a minimal spec hardened by the whole policy.  Invariants: a name the
   tenant gives with '/' or ".." is never accepted; without tenants.allow_profile an accepted annotation never
   loosens the node's profile (the calls the built-in default refuses stay refused); the module syscalls are
   refused whatever the profile; hardened specs parse again. */
#define _GNU_SOURCE
#include <linux/seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../oci/json.h"
#include "../../policy/policy.h"
#include "../../profiles/profile.h"

static struct sbx_config cfg_strict, cfg_loose;
static char dir[] = "/tmp/sbx-fuzz-profiles-XXXXXX";
static char file[sizeof dir + 16];

static void
quiet (enum sbx_level level, const char *fmt, ...)
{
  (void) level;
  (void) fmt;
}

static void
cleanup (void)
{
  unlink (file);
  rmdir (dir);
}

int LLVMFuzzerInitialize (int *argc, char ***argv);
int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  /* No side effects on the host: no memo or cache on disk, no watcher, no namespace path resolved for real. */
#define QUIET                                                                                                         \
  "\"seccomp_memo\":false,\"seccomp_cache\":\"off\",\"state_dir\":\"/nonexistent/sbx-fuzz\","                        \
  "\"watcher\":{\"enabled\":false,\"on_demand\":false}"
  static const char strict[] = "{" QUIET "}", loose[] = "{" QUIET ",\"tenants\":{\"allow_profile\":true}}";
  sbx_err err;

  (void) argc;
  (void) argv;
  if (json_parse (strict, strlen (strict), "settings", &cfg_strict.root, &err) < 0
      || json_parse (loose, strlen (loose), "settings", &cfg_loose.root, &err) < 0
      || sbx_settings_check (cfg_loose.root, "settings", &err) < 0 || mkdtemp (dir) == NULL)
    abort ();
  snprintf (file, sizeof file, "%s/fz.json", dir);
  setenv ("SBX_PROFILES_DIR", dir, 1);
  atexit (cleanup);
  return 0;
}

static int
never_host (const char *procname, const char *path, bool *host, sbx_err *err)
{
  (void) procname;
  (void) path;
  (void) err;
  *host = false;
  return 0;
}

/* The kernel's verdict on syscall NAME under the hardened SPEC's filter. */
static uint32_t
verdict (const json_t *spec, const char *name)
{
  static const uint64_t args[6];
  struct sbx_filter f;
  struct sbx_bpf prog;
  uint32_t ret = SECCOMP_RET_ALLOW;
  sbx_err err;

  if (sbx_filter_from_oci (json_find (json_find (spec, "linux"), "seccomp"), "hardened", &f, &err) < 0)
    abort ();
  if (sbx_filter_compile (&f, false, &prog, &err) < 0)
    {
      /* A hardened filter the delegate could not load would refuse the start, not open it. */
      sbx_filter_free (&f);
      return SECCOMP_RET_KILL_PROCESS;
    }
  if (sbx_bpf_run_name (&prog, name, args, &ret) < 0)
    ret = SECCOMP_RET_KILL_PROCESS;
  sbx_bpf_free (&prog);
  sbx_filter_free (&f);
  return ret;
}

static void
harden (const char *annotation, bool loose)
{
  static const char *const refused_by_default[] = { "kexec_load", "init_module", "finit_module", "acct", "bpf" };
  struct sbx_policy_ctx ctx = { .cfg = loose ? &cfg_loose : &cfg_strict, .container_id = "fuzz",
                                .delegate = SBX_DELEGATE_RUNC, .note = quiet, .ns_is_host = never_host };
  json_t *spec, *ann;
  sbx_err err;
  static const char skeleton[] = "{\"process\":{\"args\":[\"x\"]},\"linux\":{\"namespaces\":[{\"type\":\"pid\"},"
                                 "{\"type\":\"mount\"}]},\"annotations\":{}}";

  if (json_parse (skeleton, sizeof skeleton - 1, "skeleton", &spec, &err) < 0)
    abort ();
  ann = json_find (spec, "annotations");
  if (json_set (ann, SBX_ANN_PROFILE, json_new_str (annotation), &err) < 0)
    abort ();
  if (sbx_policy_apply_spec (spec, &ctx, &err) == 0)
    {
      if (strchr (annotation, '/') || strstr (annotation, ".."))
        abort (); /* a path from a tenant */
      for (size_t i = 0; i < sizeof refused_by_default / sizeof *refused_by_default; i++)
        {
          uint32_t v = verdict (spec, refused_by_default[i]);
          bool module = i >= 1 && i <= 2;
          if ((module || !loose) && v == SECCOMP_RET_ALLOW)
            {
              fprintf (stderr, "%s allowed under profile \"%s\"%s\n", refused_by_default[i], annotation,
                       loose ? " (allow_profile)" : "");
              abort ();
            }
        }
    }
  json_free (spec);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const uint8_t *nl = memchr (data, '\n', size);
  char annotation[256];
  size_t alen = nl ? (size_t) (nl - data) : size;
  const uint8_t *rest = nl ? nl + 1 : data + size;
  size_t rlen = size - (rest - data);
  uint8_t flags = rlen ? rest[0] : 0;
  FILE *f;

  if (alen >= sizeof annotation)
    alen = sizeof annotation - 1;
  memcpy (annotation, data, alen);
  annotation[alen] = '\0';
  if (rlen)
    rest++, rlen--;

  /* The profile file: its bytes, and a mode that is sometimes one sbx must refuse. */
  unlink (file);
  f = fopen (file, "w");
  if (f == NULL)
    abort ();
  fwrite (rest, 1, rlen, f);
  fclose (f);
  chmod (file, flags & 1 ? 0666 : 0644);

  {
    struct sbx_profile_src src;
    sbx_err err;
    if (sbx_profile_source_tenant (&cfg_strict, annotation, &src, &err) == 0)
      {
        if (strchr (annotation, '/') || strstr (annotation, ".."))
          abort ();
        if (!src.builtin && strcmp (src.origin, file) != 0)
          abort (); /* only a file of profiles_dir */
        if (!src.builtin && (flags & 1))
          abort (); /* a file others can write */
      }
    sbx_profile_src_free (&src);
  }
  if (strlen (annotation) == alen && alen > 0)
    harden (annotation, flags & 2);
  /* The profile bytes themselves, as the node's own profile: parsed and resolved, or refused. */
  {
    json_t *profile = NULL;
    char *origin = NULL;
    struct sbx_resolve_env env = { 0 };
    struct sbx_filter out;
    sbx_err err;
    if (sbx_profile_load (&cfg_strict, "fz", &profile, &origin, &err) == 0)
      {
        sbx_resolve_env_host (&env);
        if (sbx_profile_resolve (profile, origin, &env, &out, &err) == 0)
          sbx_filter_free (&out);
      }
    json_free (profile);
    free (origin);
  }
  return 0;
}
