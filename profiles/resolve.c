/* resolve.c - finding a profile by name and turning its Docker/Moby JSON into the filter for one container. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "../common/util.h"
#include "profile.h"

#define SBX_PROFILES_DIR_DEFAULT "/etc/sbx/profiles"
#define SBX_PROFILE_MAX (1u << 20)

const char *
sbx_profiles_dir (const struct sbx_config *cfg)
{
  const char *d = getenv ("SBX_PROFILES_DIR");
  return d && *d ? d : sbx_config_str (cfg, "profiles_dir", SBX_PROFILES_DIR_DEFAULT);
}

static bool
valid_name (const char *name)
{
  if (*name == '\0' || *name == '.' || strlen (name) > 64 || strstr (name, "..") != NULL)
    return false;
  for (const char *p = name; *p; p++)
    if (!isalnum ((unsigned char) *p) && *p != '-' && *p != '_' && *p != '.')
      return false;
  return true;
}

/* DIR itself must be as trustworthy as the files in it: whoever can add a file there chooses profiles. */
static int
open_profiles_dir (const char *dir, int *dfd, sbx_err *err)
{
  struct stat st;

  *dfd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (*dfd < 0)
    return errno == ENOENT ? 0 : sbx_fail (err, errno, "profiles directory %s", dir);
  if (fstat (*dfd, &st) < 0)
    return sbx_fail (err, errno, "profiles directory %s", dir);
  if ((st.st_uid != 0 && st.st_uid != getuid ()) || (st.st_mode & (S_IWGRP | S_IWOTH)))
    return sbx_fail (err, EPERM, "profiles directory %s: owned by uid %u, mode %04o: it must be the owner's alone",
                     dir, (unsigned) st.st_uid, st.st_mode & 07777);
  return 0;
}

static int
source_named (const struct sbx_config *cfg, const char *name, struct sbx_profile_src *src, sbx_err *err)
{
  const char *dir = sbx_profiles_dir (cfg);
  cleanup_free char *path = NULL, *file = NULL;
  cleanup_close int dfd = -1;

  if (asprintf (&path, "%s/%s.json", dir, name) < 0 || asprintf (&file, "%s.json", name) < 0)
    {
      path = file = NULL;
      return sbx_fail (err, ENOMEM, "profile %s", name);
    }
  if (open_profiles_dir (dir, &dfd, err) < 0)
    return sbx_wrap (err, "seccomp profile %s", name);
  if (dfd >= 0 && sbx_read_owned (dfd, file, path, SBX_PROFILE_MAX, &src->owned, &src->len, err) == 0)
    {
      src->data = src->owned;
      src->origin = steal_pointer (&path);
      return 0;
    }
  if (dfd >= 0 && err->code != ENOENT)
    return sbx_wrap (err, "seccomp profile %s", name);
  if (sbx_embedded_profile (name, &src->data, &src->len) < 0)
    return sbx_fail (err, ENOENT, "unknown seccomp profile \"%s\" (not built in, no %s)", name, path);
  src->builtin = true;
  if (asprintf (&src->origin, "builtin:%s", name) < 0)
    {
      src->origin = NULL;
      return sbx_fail (err, ENOMEM, "profile %s", name);
    }
  return 0;
}

int
sbx_profile_source (const struct sbx_config *cfg, const char *name, struct sbx_profile_src *src, sbx_err *err)
{
  memset (src, 0, sizeof *src);
  if (name[0] == '/')
    {
      if (sbx_read_owned (AT_FDCWD, name, name, SBX_PROFILE_MAX, &src->owned, &src->len, err) < 0)
        return sbx_wrap (err, "seccomp profile");
      src->data = src->owned;
      if ((src->origin = strdup (name)) == NULL)
        return sbx_fail (err, ENOMEM, "profile %s", name);
      return 0;
    }
  if (!valid_name (name))
    return sbx_fail (err, EINVAL, "invalid profile name \"%.80s\" (a name of letters, digits, '-', '_' or '.', or an "
                                  "absolute path)", name);
  return source_named (cfg, name, src, err);
}

int
sbx_profile_source_tenant (const struct sbx_config *cfg, const char *name, struct sbx_profile_src *src,
                           sbx_err *err)
{
  memset (src, 0, sizeof *src);
  /* Checked before anything is opened: a tenant never makes sbx touch a path of its choosing. */
  if (!valid_name (name))
    return sbx_fail (err, EPERM,
                     "profile \"%.80s\" refused: a container may name only a built-in profile or a file of "
                     "profiles_dir (letters, digits, '-', '_', '.'; no '/' or '..'); paths come from sbx.json "
                     "\"profile\"", name);
  return source_named (cfg, name, src, err);
}

void
sbx_profile_src_free (struct sbx_profile_src *src)
{
  free (src->owned);
  free (src->origin);
  memset (src, 0, sizeof *src);
}

int
sbx_profile_load (const struct sbx_config *cfg, const char *name, json_t **profile, char **origin, sbx_err *err)
{
  struct sbx_profile_src src;

  *profile = NULL;
  *origin = NULL;
  if (sbx_profile_source (cfg, name, &src, err) < 0)
    return -1;
  if (json_parse (src.data, src.len, src.origin, profile, err) < 0)
    {
      sbx_profile_src_free (&src);
      return src.builtin ? -1 : sbx_wrap (err, "seccomp profile");
    }
  *origin = steal_pointer (&src.origin);
  sbx_profile_src_free (&src);
  return 0;
}

void
sbx_resolve_env_host (struct sbx_resolve_env *env)
{
  struct utsname u;

  env->kernel.major = env->kernel.minor = 0;
  if (uname (&u) == 0)
    sscanf (u.release, "%d.%d", &env->kernel.major, &env->kernel.minor);
}

/* SCMP_ARCH_* names of the native architecture, and the GOARCH-style names Docker profiles use in "arches". */
static const struct
{
  uint32_t token;
  const char *scmp;
  const char *go[3];
} arch_names[] = {
  { SCMP_ARCH_X86_64, "SCMP_ARCH_X86_64", { "amd64", "x86_64" } },
  { SCMP_ARCH_X86, "SCMP_ARCH_X86", { "386", "x86" } },
  { SCMP_ARCH_X32, "SCMP_ARCH_X32", { "x32" } },
  { SCMP_ARCH_AARCH64, "SCMP_ARCH_AARCH64", { "arm64", "aarch64" } },
  { SCMP_ARCH_ARM, "SCMP_ARCH_ARM", { "arm" } },
  { SCMP_ARCH_PPC64LE, "SCMP_ARCH_PPC64LE", { "ppc64le" } },
  { SCMP_ARCH_S390X, "SCMP_ARCH_S390X", { "s390x" } },
  { SCMP_ARCH_RISCV64, "SCMP_ARCH_RISCV64", { "riscv64" } },
};

static int
native_arch (void)
{
  uint32_t tok = seccomp_arch_native ();

  for (size_t i = 0; i < SBX_ARRAY_SIZE (arch_names); i++)
    if (arch_names[i].token == tok)
      return (int) i;
  return -1;
}

static bool
is_native_go_arch (const char *s)
{
  int n = native_arch ();

  for (size_t i = 0; n >= 0 && i < 3 && arch_names[n].go[i]; i++)
    if (strcmp (s, arch_names[n].go[i]) == 0)
      return true;
  return false;
}

static bool
cap_eq (const char *a, const char *b)
{
  if (strncasecmp (a, "CAP_", 4) == 0)
    a += 4;
  if (strncasecmp (b, "CAP_", 4) == 0)
    b += 4;
  return strcasecmp (a, b) == 0;
}

static bool
has_cap (const struct sbx_resolve_env *env, const char *cap)
{
  for (size_t i = 0; i < env->ncaps; i++)
    if (cap_eq (env->caps[i], cap))
      return true;
  return false;
}

/* Whether the includes (WANT true) or excludes (WANT false) object COND holds for ENV. */
static int
cond_holds (const json_t *cond, const struct sbx_resolve_env *env, bool include, bool *holds, sbx_err *err)
{
  json_t *caps, *arches, *mink;

  *holds = include; /* an empty includes holds; an empty excludes excludes nothing */
  if (cond == NULL)
    return 0;
  if (!json_is (cond, JSON_OBJECT))
    return sbx_fail (err, EINVAL, "%s is not an object", include ? "includes" : "excludes");
  if (json_get_typed (cond, "caps", JSON_ARRAY, &caps, err) < 0
      || json_get_typed (cond, "arches", JSON_ARRAY, &arches, err) < 0
      || json_get_typed (cond, "minKernel", JSON_STRING, &mink, err) < 0)
    return -1;
  for (size_t i = 0; i < json_arr_len (caps); i++)
    {
      const char *c = json_str (json_arr_at (caps, i));
      if (c == NULL)
        return sbx_fail (err, EINVAL, "caps[%zu] is not a string", i);
      /* Moby: includes needs every capability, excludes applies when any is present. */
      if (include && !has_cap (env, c))
        *holds = false;
      if (!include && has_cap (env, c))
        *holds = true;
    }
  if (json_arr_len (arches))
    {
      bool native = false;
      for (size_t i = 0; i < json_arr_len (arches); i++)
        {
          const char *a = json_str (json_arr_at (arches, i));
          if (a == NULL)
            return sbx_fail (err, EINVAL, "arches[%zu] is not a string", i);
          native |= is_native_go_arch (a);
        }
      if (include && !native)
        *holds = false;
      if (!include && native)
        *holds = true;
    }
  if (mink)
    {
      int maj = 0, min = 0;
      bool newer;
      if (sscanf (json_str (mink), "%d.%d", &maj, &min) < 1)
        return sbx_fail (err, EINVAL, "minKernel \"%s\" is not a kernel version", json_str (mink));
      newer = env->kernel.major > maj || (env->kernel.major == maj && env->kernel.minor >= min);
      if (include && !newer)
        *holds = false;
      if (!include && newer)
        *holds = true;
    }
  return 0;
}

static int
arches_of (const json_t *profile, struct sbx_filter *f, sbx_err *err)
{
  json_t *map, *list;
  int n = native_arch ();

  if (json_get_typed (profile, "archMap", JSON_ARRAY, &map, err) < 0
      || json_get_typed (profile, "architectures", JSON_ARRAY, &list, err) < 0)
    return -1;
  for (size_t i = 0; i < json_arr_len (list); i++)
    {
      const char *a = json_str (json_arr_at (list, i));
      if (a == NULL || sbx_arch_token (a) == 0)
        return sbx_fail (err, EINVAL, "architectures[%zu]: unknown architecture \"%s\"", i, a ? a : "(not a string)");
      if (sbx_filter_add_arch (f, a, err) < 0)
        return -1;
    }
  for (size_t i = 0; i < json_arr_len (map); i++)
    {
      json_t *e = json_arr_at (map, i), *arch, *subs;
      const char *a;

      if (json_get_typed (e, "architecture", JSON_STRING, &arch, err) < 0
          || json_get_typed (e, "subArchitectures", JSON_ARRAY, &subs, err) < 0)
        return sbx_wrap (err, "archMap[%zu]", i);
      a = json_str (arch);
      if (a == NULL || sbx_arch_token (a) == 0)
        return sbx_fail (err, EINVAL, "archMap[%zu]: unknown architecture \"%s\"", i, a ? a : "(none)");
      for (size_t j = 0; j < json_arr_len (subs); j++)
        {
          const char *s = json_str (json_arr_at (subs, j));
          if (s == NULL || sbx_arch_token (s) == 0)
            return sbx_fail (err, EINVAL, "archMap[%zu].subArchitectures[%zu]: unknown architecture \"%s\"", i, j,
                             s ? s : "(not a string)");
        }
      /* Only the entry of the machine sbx runs on matters, as with Docker. */
      if (n < 0 || strcmp (a, arch_names[n].scmp) != 0)
        continue;
      if (sbx_filter_add_arch (f, a, err) < 0)
        return -1;
      for (size_t j = 0; j < json_arr_len (subs); j++)
        if (sbx_filter_add_arch (f, json_str (json_arr_at (subs, j)), err) < 0)
          return -1;
    }
  return 0;
}

static int
resolve_rule (const json_t *rule, const struct sbx_resolve_env *env, bool check_names, struct sbx_filter *f,
              sbx_err *err)
{
  json_t *names, *name1, *action, *errno_ret, *args, *comment, *inc, *exc;
  struct sbx_cmp cmp[6];
  struct sbx_action act;
  unsigned ncmp = 0;
  bool included, excluded;

  if (!json_is (rule, JSON_OBJECT))
    return sbx_fail (err, EINVAL, "not an object");
  if (json_get_typed (rule, "names", JSON_ARRAY, &names, err) < 0
      || json_get_typed (rule, "name", JSON_STRING, &name1, err) < 0
      || json_get_typed (rule, "action", JSON_STRING, &action, err) < 0
      || json_get (rule, "errnoRet", &errno_ret, err) < 0 || json_get_typed (rule, "args", JSON_ARRAY, &args, err) < 0
      || json_get_typed (rule, "comment", JSON_STRING, &comment, err) < 0
      || json_get (rule, "includes", &inc, err) < 0 || json_get (rule, "excludes", &exc, err) < 0)
    return -1;
  if (action == NULL)
    return sbx_fail (err, EINVAL, "no action");
  if (sbx_action_parse (json_str (action), errno_ret, &act, err) < 0)
    return -1;
  if (json_arr_len (args) > 6)
    return sbx_fail (err, EINVAL, "more than 6 argument comparisons");
  for (size_t k = 0; k < json_arr_len (args); k++)
    if (sbx_cmp_parse (json_arr_at (args, k), &cmp[ncmp++], err) < 0)
      return sbx_wrap (err, "args[%zu]", k);
  if (name1 == NULL && json_arr_len (names) == 0)
    return sbx_fail (err, EINVAL, "no syscall names");
  /* Every name is checked whether or not the rule applies here: a typo must not hide behind a capability. */
  for (size_t j = 0; j < json_arr_len (names) + (name1 != NULL); j++)
    {
      const char *n = j < json_arr_len (names) ? json_str (json_arr_at (names, j)) : json_str (name1);
      if (n == NULL)
        return sbx_fail (err, EINVAL, "names[%zu] is not a string", j);
      if (check_names && sbx_syscall_nr (n) == __NR_SCMP_ERROR)
        return sbx_fail (err, EINVAL, "unknown syscall \"%s\" (libseccomp %u.%u.%u does not know it)", n,
                         seccomp_version ()->major, seccomp_version ()->minor, seccomp_version ()->micro);
    }
  if (cond_holds (inc, env, true, &included, err) < 0 || cond_holds (exc, env, false, &excluded, err) < 0)
    return -1;
  if (!included || excluded)
    return 0;
  for (size_t j = 0; j < json_arr_len (names) + (name1 != NULL); j++)
    {
      const char *n = j < json_arr_len (names) ? json_str (json_arr_at (names, j)) : json_str (name1);
      if (sbx_filter_add_oci_rule (f, n, &act, cmp, ncmp, json_str (comment), err) < 0)
        return -1;
    }
  return 0;
}

int
sbx_profile_resolve (const json_t *profile, const char *origin, const struct sbx_resolve_env *env,
                     struct sbx_filter *out, sbx_err *err)
{
  json_t *def, *def_errno, *syscalls;
  bool check_names;

  memset (out, 0, sizeof *out);
  if (!json_is (profile, JSON_OBJECT))
    return sbx_fail (err, EINVAL, "%s: a seccomp profile must be a JSON object", origin);
  if (json_get_typed (profile, "defaultAction", JSON_STRING, &def, err) < 0
      || json_get (profile, "defaultErrnoRet", &def_errno, err) < 0
      || json_get_typed (profile, "syscalls", JSON_ARRAY, &syscalls, err) < 0)
    return sbx_wrap (err, "%s", origin);
  if (def == NULL)
    return sbx_fail (err, EINVAL, "%s: no defaultAction", origin);
  if (sbx_action_parse (json_str (def), def_errno, &out->def, err) < 0 || arches_of (profile, out, err) < 0)
    goto fail;
  /* Built-in profiles were validated when sbx was built (tests/test_profile.c compiles them strictly); looking
     400 names up in libseccomp's tables again would cost every container start about a millisecond. */
  check_names = strncmp (origin, "builtin:", 8) != 0;
  for (size_t i = 0; i < json_arr_len (syscalls); i++)
    if (resolve_rule (json_arr_at (syscalls, i), env, check_names, out, err) < 0)
      {
        const char *c = json_str (json_find (json_arr_at (syscalls, i), "comment"));
        sbx_wrap (err, "%s: syscalls[%zu]%s%.60s%s", origin, i, c ? " (\"" : "", c ? c : "", c ? "\")" : "");
        sbx_filter_free (out);
        return -1;
      }
  return 0;

fail:
  sbx_wrap (err, "%s", origin);
  sbx_filter_free (out);
  return -1;
}
