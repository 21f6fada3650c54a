/* seccomp_fixture.h - what the seccomp tests share: settings, a spec around a filter, and the kernel's verdict
   on a spec's filter (its compiled BPF run on one syscall). */
#ifndef SBX_TEST_SECCOMP_FIXTURE_H
#define SBX_TEST_SECCOMP_FIXTURE_H

#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../profiles/profile.h"

static struct sbx_config cfg;

static json_t *
parse (const char *s)
{
  json_t *v = NULL;
  sbx_err err;

  if (json_parse (s, strlen (s), "test", &v, &err) < 0)
    {
      fprintf (stderr, "# bad test JSON: %s\n", err.msg);
      exit (1);
    }
  return v;
}

/* What the kernel would answer for NAME(ARGS) under the spec's linux.seccomp. */
static uint32_t
verdict (const json_t *spec, const char *name, uint64_t a0, uint64_t a1, uint64_t a2)
{
  const uint64_t args[6] = { a0, a1, a2 };
  struct sbx_filter f;
  struct sbx_bpf p;
  uint32_t ret = 0xdeadbeef;
  sbx_err err;

  if (sbx_filter_from_oci (json_find (json_find (spec, "linux"), "seccomp"), "spec", &f, &err) < 0)
    {
      printf ("# %s\n", err.msg);
      return ret;
    }
  if (sbx_filter_compile (&f, false, &p, &err) < 0)
    printf ("# %s\n", err.msg);
  else
    sbx_bpf_run_name (&p, name, args, &ret);
  sbx_bpf_free (&p);
  sbx_filter_free (&f);
  return ret;
}

/* AUDIT_ARCH_I386, without including libseccomp in a test of the profiles' interface. */
#define SCMP_ARCH_X86_FOR_TEST 0x40000003u
#define ERRNO(e) (SECCOMP_RET_ERRNO | (e))
#define ALLOW SECCOMP_RET_ALLOW

static const char *
spec_with (const char *seccomp, const char *extra)
{
  static char buf[16384];
  snprintf (buf, sizeof buf,
            "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\"],\"capabilities\":{\"bounding\":["
            "\"CAP_CHOWN\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"]}},\"linux\":{%s%s}%s}",
            seccomp ? "\"seccomp\":" : "", seccomp ? seccomp : "", extra ? extra : "");
  return buf;
}

#endif
