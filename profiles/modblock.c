/* modblock.c - the module block: init_module, finit_module and delete_module refused with EPERM, always. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "seccomp_oci.h"

const char *const sbx_module_syscalls[3] = { "init_module", "finit_module", "delete_module" };

static const char *const native_arches[] = {
#if defined(__x86_64__)
  "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32",
#elif defined(__aarch64__)
  "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM",
#elif defined(__i386__)
  "SCMP_ARCH_X86",
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  "SCMP_ARCH_PPC64LE",
#elif defined(__s390x__)
  "SCMP_ARCH_S390X", "SCMP_ARCH_S390",
#elif defined(__riscv) && __riscv_xlen == 64
  "SCMP_ARCH_RISCV64",
#else
#error "sbx: add this architecture's seccomp names"
#endif
};

static bool
is_module_syscall (const char *name)
{
  for (size_t i = 0; i < 3; i++)
    if (strcmp (name, sbx_module_syscalls[i]) == 0)
      return true;
  return false;
}

json_t *
sbx_seccomp_new_allow_all (void)
{
  json_t *s = json_new_obj (), *arches = json_new_arr ();
  sbx_err err;

  for (size_t i = 0; arches && i < sizeof native_arches / sizeof native_arches[0]; i++)
    if (json_arr_push (arches, json_new_str (native_arches[i]), &err) < 0)
      break;
  if (s == NULL || json_set (s, "defaultAction", json_new_str ("SCMP_ACT_ALLOW"), &err) < 0
      || json_set (s, "architectures", arches, &err) < 0 || json_set (s, "syscalls", json_new_arr (), &err) < 0)
    {
      json_free (s);
      return NULL;
    }
  return s;
}

/* Whether ACTION with ERRNO_RET (NULL: unset, which runc and crun read as EPERM) is exactly "fail with EPERM". */
static bool
is_eperm (const char *action, const json_t *errno_ret)
{
  long long n;

  if (action == NULL || strcmp (action, "SCMP_ACT_ERRNO") != 0)
    return false;
  return errno_ret == NULL || (json_num_int (errno_ret, &n) && n == EPERM);
}

static json_t *
block_rule (void)
{
  json_t *rule = json_new_obj (), *names = json_new_arr ();
  sbx_err err;

  for (size_t i = 0; names && i < 3; i++)
    if (json_arr_push (names, json_new_str (sbx_module_syscalls[i]), &err) < 0)
      break;
  if (rule == NULL || json_set (rule, "names", names, &err) < 0
      || json_set (rule, "action", json_new_str ("SCMP_ACT_ERRNO"), &err) < 0
      || json_set (rule, "errnoRet", json_new_int (EPERM), &err) < 0)
    {
      json_free (rule);
      return NULL;
    }
  return rule;
}

int
sbx_seccomp_block_modules (json_t *seccomp, sbx_err *err)
{
  json_t *syscalls, *def, *def_errno;

  if (json_get_typed (seccomp, "defaultAction", JSON_STRING, &def, err) < 0
      || json_get (seccomp, "defaultErrnoRet", &def_errno, err) < 0
      || json_get_typed (seccomp, "syscalls", JSON_ARRAY, &syscalls, err) < 0)
    return sbx_wrap (err, "linux.seccomp");
  if (def == NULL)
    return sbx_fail (err, EINVAL, "linux.seccomp has no defaultAction");
  if (syscalls == NULL)
    {
      if (json_set (seccomp, "syscalls", json_new_arr (), err) < 0)
        return -1;
      syscalls = json_find (seccomp, "syscalls");
    }
  for (size_t i = 0; i < json_arr_len (syscalls);)
    {
      json_t *rule = json_arr_at (syscalls, i), *names;
      bool removed = false;

      if (!json_is (rule, JSON_OBJECT))
        return sbx_fail (err, EINVAL, "linux.seccomp.syscalls[%zu] is not an object", i);
      if (json_get_typed (rule, "names", JSON_ARRAY, &names, err) < 0)
        return sbx_wrap (err, "linux.seccomp.syscalls[%zu]", i);
      for (size_t j = 0; names && j < json_arr_len (names);)
        {
          const char *n = json_str (json_arr_at (names, j));
          if (n == NULL)
            return sbx_fail (err, EINVAL, "linux.seccomp.syscalls[%zu].names[%zu] is not a string", i, j);
          if (is_module_syscall (n))
            json_arr_del (names, j), removed = true;
          else
            j++;
        }
      /* A rule we emptied would make the delegate refuse the spec; with the names gone it says nothing. */
      if (removed && json_arr_len (names) == 0)
        json_arr_del (syscalls, i);
      else
        i++;
    }
  /* libseccomp refuses a rule whose action equals the default; then the default already does the job. */
  if (is_eperm (json_str (def), def_errno))
    return 0;
  if (json_arr_push (syscalls, block_rule (), err) < 0)
    return -1;
  return 0;
}

int
sbx_seccomp_of_spec (json_t *spec, json_t **seccomp, sbx_err *err)
{
  json_t *linux_;

  if (json_obj_ensure (spec, "linux", &linux_, err) < 0
      || json_get_typed (linux_, "seccomp", JSON_OBJECT, seccomp, err) < 0)
    return sbx_wrap (err, "config.json");
  if (*seccomp)
    return 0;
  *seccomp = sbx_seccomp_new_allow_all ();
  if (*seccomp == NULL)
    return sbx_fail (err, ENOMEM, "create linux.seccomp");
  return json_set (linux_, "seccomp", *seccomp, err);
}
