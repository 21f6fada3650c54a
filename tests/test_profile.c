/* test_profile.c - TAP tests of the profiles: validation, engine ∩ sbx semantics (judged by running the compiled
   BPF), capability conditions, selection, module block and the BPF cache. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/util.h"
#include "../policy/policy.h"
#include "../profiles/profile.h"
#include "fixture.h"
#include "seccomp_fixture.h"
#include "tap.h"

static void
quiet (enum sbx_level level, const char *fmt, ...)
{
  (void) level;
  (void) fmt;
}

/* Harden SPEC_JSON with the whole policy; NULL on refusal (message in *ERR). */
static json_t *
harden (const char *spec_json, enum sbx_delegate_kind d, sbx_err *err)
{
  json_t *spec = parse (spec_json);
  struct sbx_policy_ctx ctx = { .cfg = &cfg, .container_id = "t", .delegate = d, .note = quiet };

  fixture_namespaces (spec);
  if (sbx_policy_apply_spec (spec, &ctx, err) < 0)
    {
      json_free (spec);
      return NULL;
    }
  return spec;
}

static void
test_builtin_profiles (void)
{
  for (size_t i = 0; sbx_embedded_profile_names[i]; i++)
    {
      const char *name = sbx_embedded_profile_names[i];
      struct sbx_resolve_env env = { 0 };
      cleanup_free char *origin = NULL;
      struct sbx_filter f;
      struct sbx_bpf p = { 0 };
      json_t *prof;
      sbx_err err;
      bool good = sbx_profile_load (&cfg, name, &prof, &origin, &err) == 0
                  && sbx_profile_resolve (prof, origin, &env, &f, &err) == 0
                  && sbx_filter_compile (&f, true, &p, &err) == 0;
      tap_ok (good, "built-in profile %s validates and compiles strictly (%zu instructions)%s%s", name, p.len,
              good ? "" : ": ", good ? "" : err.msg);
      if (good)
        sbx_filter_free (&f), json_free (prof);
      sbx_bpf_free (&p);
    }
}

static void
expect_refused (const char *profile_json, const char *needle, const char *what)
{
  struct sbx_resolve_env env = { 0 };
  struct sbx_filter f;
  json_t *p = parse (profile_json);
  sbx_err err = { 0 };
  int rc = sbx_profile_resolve (p, "/etc/sbx/profiles/x.json", &env, &f, &err);

  tap_ok (rc < 0 && strstr (err.msg, needle) && strstr (err.msg, "/etc/sbx/profiles/x.json"),
          "%s is an error naming the file and rule: %s", what, err.msg);
  if (rc == 0)
    sbx_filter_free (&f);
  json_free (p);
}

static void
test_validation (void)
{
  expect_refused ("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"read\"],\"action\":"
                  "\"SCMP_ACT_ALLOW\"},{\"names\":[\"write\",\"not_a_syscall\"],\"action\":\"SCMP_ACT_ALLOW\","
                  "\"comment\":\"io\",\"includes\":{\"caps\":[\"CAP_SYS_ADMIN\"]}}]}",
                  "syscalls[1] (\"io\"): unknown syscall \"not_a_syscall\"", "an unknown syscall (even in a rule "
                                                                              "whose capability is absent)");
  expect_refused ("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"archMap\":[{\"architecture\":\"SCMP_ARCH_X86_64\","
                  "\"subArchitectures\":[\"SCMP_ARCH_Z80\"]}],\"syscalls\":[]}",
                  "unknown architecture \"SCMP_ARCH_Z80\"", "an unknown architecture");
  expect_refused ("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"read\"],\"action\":"
                  "\"SCMP_ACT_PERHAPS\"}]}",
                  "syscalls[0]: unknown seccomp action", "an unknown action");
  expect_refused ("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"read\"],\"action\":"
                  "\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_ALMOST\"}]}]}",
                  "unknown comparison operator", "an unknown operator");
}

/* An engine filter in the shape of containers-common's: ENOSYS by default, EPERM for listed calls. */
static const char engine_cc[]
    = "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38,\"architectures\":[\"SCMP_ARCH_X86_64\","
      "\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"],\"syscalls\":["
      "{\"names\":[\"vmsplice\",\"swapon\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1},"
      "{\"names\":[\"read\",\"write\",\"exit_group\",\"getppid\",\"clone\",\"unshare\",\"mount\",\"keyctl\","
      "\"init_module\",\"arch_prctl\",\"mkdir\",\"socketcall\"],\"action\":\"SCMP_ACT_ALLOW\"},"
      "{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":0,\"op\":"
      "\"SCMP_CMP_EQ\"}]},"
      "{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":8,\"op\":"
      "\"SCMP_CMP_EQ\"}]},"
      "{\"names\":[\"socket\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":22,\"args\":[{\"index\":0,\"value\":16,"
      "\"op\":\"SCMP_CMP_EQ\"},{\"index\":2,\"value\":9,\"op\":\"SCMP_CMP_EQ\"}]},"
      "{\"names\":[\"socket\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":2,\"value\":9,\"op\":"
      "\"SCMP_CMP_NE\"}]},"
      "{\"names\":[\"socket\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":16,\"op\":"
      "\"SCMP_CMP_NE\"}]}]}";

static void
test_intersection (void)
{
  sbx_err err;
  json_t *s = harden (spec_with (engine_cc, NULL), SBX_DELEGATE_RUNC, &err);

  tap_ok (s != NULL, "containers-common-like engine filter ∩ default hardens%s%s", s ? "" : ": ", s ? "" : err.msg);
  if (s == NULL)
    return;
  if (getenv ("SBX_TEST_DUMP"))
    {
      cleanup_free char *d = NULL;
      size_t l;
      if (json_serialize (s, &d, &l, &err) == 0)
        fprintf (stderr, "%s\n", d);
    }
  tap_ok (verdict (s, "getppid", 0, 0, 0) == ALLOW, "allowed by both: allowed");
  tap_ok (verdict (s, "mkdir", 0, 0, 0) == ALLOW, "mkdir allowed by both: allowed");
  tap_ok (verdict (s, "chdir", 0, 0, 0) == ERRNO (38), "allowed by sbx only: refused with the engine's default errno");
  tap_ok (verdict (s, "vmsplice", 0, 0, 0) == ERRNO (1), "refused by the engine with EPERM: stays EPERM");
  tap_ok (verdict (s, "mount", 0, 0, 0) == ERRNO (1), "allowed by the engine, refused by sbx: refused (EPERM)");
  tap_ok (verdict (s, "keyctl", 0, 0, 0) == ERRNO (1), "keyctl: refused by sbx");
  tap_ok (verdict (s, "init_module", 0, 0, 0) == ERRNO (1), "module syscall the engine allows: EPERM");
  tap_ok (verdict (s, "clone", 0x3d0f00, 0, 0) == ALLOW, "clone of a thread: allowed");
  tap_ok (verdict (s, "clone", 0x10000000 | 17, 0, 0) == ERRNO (38) || verdict (s, "clone", 0x10000000 | 17, 0, 0) == ERRNO (1),
          "clone(CLONE_NEWUSER): refused by sbx's argument filter though the engine allows clone");
  tap_ok (verdict (s, "unshare", 0x00000200, 0, 0) == ALLOW, "unshare(CLONE_FS): allowed");
  tap_ok ((verdict (s, "unshare", 0x00020000, 0, 0) & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ERRNO,
          "unshare(CLONE_NEWNS): refused");
  tap_ok (verdict (s, "personality", 0, 0, 0) == ALLOW, "personality(PER_LINUX): both allow it");
  tap_ok (verdict (s, "personality", 0x20000, 0, 0) == ERRNO (38),
          "personality(UNAME26): sbx allows it, the engine does not: the engine's errno");
  tap_ok (verdict (s, "socket", 2, 1, 0) == ALLOW, "socket(AF_INET): allowed (engine a2!=9, sbx a0==2 combined)");
  tap_ok (verdict (s, "socket", 16, 3, 0) == ALLOW, "socket(AF_NETLINK, NETLINK_ROUTE): allowed");
  tap_ok (verdict (s, "socket", 16, 3, 9) == ERRNO (22), "socket(AF_NETLINK, NETLINK_AUDIT): the engine's EINVAL wins");
  tap_ok ((verdict (s, "socket", 38, 5, 0) & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ERRNO,
          "socket(AF_ALG): allowed by the engine, refused by sbx");
  tap_ok ((verdict (s, "socket", 40, 1, 0) & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ERRNO,
          "socket(AF_VSOCK): refused");
  tap_ok (strcmp (json_annotation (s, SBX_ANN_PROFILE), "default") == 0, "chosen profile recorded: default");
  json_free (s);
}

static void
test_engine_denial (void)
{
  /* An engine profile that allows everything but refuses mkdir with EACCES. */
  sbx_err err;
  const char *e = "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\",\"mkdirat\"],"
                  "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13},{\"names\":[\"socket\"],\"action\":"
                  "\"SCMP_ACT_ERRNO\",\"errnoRet\":97,\"args\":[{\"index\":0,\"value\":10,\"op\":\"SCMP_CMP_EQ\"}]}]}";

  for (int i = 0; i < 3; i++)
    {
      static const char *const profiles[] = { "default", "strict", "baseline" };
      char extra[128];
      json_t *s;

      snprintf (extra, sizeof extra, ",\"annotations\":{\"run.sbx.profile\":\"%s\"}", profiles[i]);
      s = harden (spec_with (e, extra), SBX_DELEGATE_RUNC, &err);
      tap_ok (s != NULL, "%s: engine denylist hardens%s%s", profiles[i], s ? "" : ": ", s ? "" : err.msg);
      if (s == NULL)
        continue;
      tap_ok (verdict (s, "mkdir", 0, 0, 0) == ERRNO (13), "%s: the engine's mkdir refusal survives with EACCES",
              profiles[i]);
      tap_ok (verdict (s, "mkdirat", 0, 0, 0) == ERRNO (13), "%s: mkdirat too", profiles[i]);
      tap_ok (verdict (s, "socket", 10, 1, 0) == ERRNO (97), "%s: socket(AF_INET6) keeps the engine's EAFNOSUPPORT",
              profiles[i]);
      tap_ok (verdict (s, "socket", 2, 1, 0) == ALLOW, "%s: socket(AF_INET) still allowed", profiles[i]);
      tap_ok (verdict (s, "finit_module", 0, 0, 0) == ERRNO (1), "%s: module block", profiles[i]);
      /* No user namespace: the host-paths stage refuses the mount family under every profile, baseline too. */
      tap_ok (verdict (s, "mount", 0, 0, 0) == ERRNO (1), "%s: mount refused (no user namespace)", profiles[i]);
      tap_ok ((verdict (s, "ptrace", 0, 0, 0) == ALLOW) == (i != 1), "%s: ptrace %s", profiles[i],
              i == 1 ? "outside the strict allowlist" : "allowed");
      tap_ok (strcmp (json_annotation (s, SBX_ANN_PROFILE), profiles[i]) == 0, "%s: recorded in the annotations",
              profiles[i]);
      json_free (s);
    }
}

static void
test_no_engine_profile (void)
{
  sbx_err err;
  json_t *s = harden (spec_with (NULL, NULL), SBX_DELEGATE_RUNC, &err);

  tap_ok (s != NULL, "no engine filter: default applies alone%s%s", s ? "" : ": ", s ? "" : err.msg);
  if (s == NULL)
    return;
  tap_ok (verdict (s, "getppid", 0, 0, 0) == ALLOW, "getppid allowed");
  tap_ok (verdict (s, "bpf", 0, 0, 0) == ERRNO (1), "bpf refused (EPERM)");
  tap_ok (verdict (s, "io_uring_setup", 0, 0, 0) == ERRNO (1), "io_uring_setup refused");
  tap_ok (verdict (s, "clone3", 0, 0, 0) == ERRNO (38), "clone3: ENOSYS so glibc falls back to clone");
  tap_ok (verdict (s, "socket", 17, 3, 0) == ERRNO (1), "AF_PACKET refused without CAP_NET_RAW");
  json_free (s);

  s = harden ("{\"process\":{\"capabilities\":{\"bounding\":[\"CAP_NET_RAW\",\"CAP_SYS_MODULE\"]}},\"linux\":{}}",
              SBX_DELEGATE_RUNC, &err);
  tap_ok (s && verdict (s, "socket", 17, 3, 0) == ALLOW, "AF_PACKET allowed when the final set holds CAP_NET_RAW");
  json_free (s);
}

static void
test_caps_after_drops (void)
{
  char dir[] = "/tmp/sbx-test-profiles.XXXXXX", path[256];
  const char *prof = "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"read\",\"exit_group\"],"
                     "\"action\":\"SCMP_ACT_ALLOW\"},{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_ALLOW\","
                     "\"includes\":{\"caps\":[\"CAP_SYS_MODULE\"]}},{\"names\":[\"getpid\"],\"action\":"
                     "\"SCMP_ACT_ALLOW\",\"excludes\":{\"caps\":[\"CAP_SYS_MODULE\"]}}]}";
  sbx_err err;
  json_t *s;
  FILE *f;

  if (mkdtemp (dir) == NULL)
    return;
  snprintf (path, sizeof path, "%s/capcheck.json", dir);
  f = fopen (path, "w");
  fputs (prof, f);
  fclose (f);
  setenv ("SBX_PROFILES_DIR", dir, 1);
  s = harden ("{\"process\":{\"capabilities\":{\"bounding\":[\"CAP_SYS_MODULE\",\"CAP_KILL\"]}},\"linux\":{},"
              "\"annotations\":{\"run.sbx.profile\":\"capcheck\"}}",
              SBX_DELEGATE_RUNC, &err);
  tap_ok (s != NULL, "profile from SBX_PROFILES_DIR by annotation%s%s", s ? "" : ": ", s ? "" : err.msg);
  tap_ok (s && verdict (s, "getppid", 0, 0, 0) == ERRNO (1),
          "includes CAP_SYS_MODULE: not applied, the capability stage dropped it first");
  tap_ok (s && verdict (s, "getpid", 0, 0, 0) == ALLOW, "excludes CAP_SYS_MODULE: applied, for the same reason");
  json_free (s);

  /* Overrides: a file named like a built-in replaces it; a path works too. */
  snprintf (path, sizeof path, "%s/strict.json", dir);
  f = fopen (path, "w");
  fputs (prof, f);
  fclose (f);
  s = harden (spec_with (NULL, ",\"annotations\":{\"run.sbx.profile\":\"strict\"}"), SBX_DELEGATE_RUNC, &err);
  tap_ok (s && verdict (s, "write", 0, 0, 0) == ERRNO (1), "/etc/sbx/profiles/strict.json overrides the built-in");
  json_free (s);
  {
    char extra[512];
    sbx_err e2;
    snprintf (extra, sizeof extra, ",\"annotations\":{\"run.sbx.profile\":\"%s/capcheck.json\"}", dir);
    s = harden (spec_with (NULL, extra), SBX_DELEGATE_RUNC, &err);
    tap_ok (s == NULL && err.code == EPERM && strstr (err.msg, "may name only a built-in profile"),
            "an absolute path in a container's annotation is refused: %s", err.msg);
    json_free (s);
    /* The node's operator may name any file, in sbx.json. */
    snprintf (path, sizeof path, "%s/capcheck.json", dir);
    json_set (cfg.root, "profile", json_new_str (path), &e2);
    s = harden (spec_with (NULL, ""), SBX_DELEGATE_RUNC, &err);
    tap_ok (s && verdict (s, "read", 0, 0, 0) == ALLOW && strcmp (json_annotation (s, SBX_ANN_PROFILE), path) == 0,
            "an absolute path as sbx.json's profile, recorded as given");
    {
      /* Hardened again (runc run after create): the recorded path is the node's own, not a tenant's choice. */
      char *text = NULL;
      size_t len;
      json_t *again;
      json_serialize (s, &text, &len, &e2);
      again = harden (text, SBX_DELEGATE_RUNC, &err);
      tap_ok (again != NULL, "and a spec hardened with it hardens again: %s", again ? "" : err.msg);
      json_free (again);
      free (text);
    }
    json_del (cfg.root, "profile");
    snprintf (path, sizeof path, "%s/strict.json", dir);
    json_free (s);
  }
  s = harden (spec_with (NULL, ",\"annotations\":{\"run.sbx.profile\":\"nosuch\"}"), SBX_DELEGATE_RUNC, &err);
  tap_ok (s == NULL && strstr (err.msg, "unknown seccomp profile \"nosuch\""),
          "an unknown profile refuses the start: %s", err.msg);
  s = harden (spec_with (NULL, ",\"annotations\":{\"run.sbx.profile\":\"../../etc/passwd\"}"), SBX_DELEGATE_RUNC,
              &err);
  tap_ok (s == NULL && strstr (err.msg, "may name only a built-in profile"), "a relative path is not a name: %s",
          err.msg);
  unsetenv ("SBX_PROFILES_DIR");
  unlink (path);
  snprintf (path, sizeof path, "%s/capcheck.json", dir);
  unlink (path);
  rmdir (dir);
}

static void
test_notify_rule (void)
{
  sbx_err err;
  json_t *s = harden (spec_with (engine_cc, NULL), SBX_DELEGATE_RUNC, &err), *sc, *rules;
  json_t *found = NULL;

  sc = s ? json_find (json_find (s, "linux"), "seccomp") : NULL;
  rules = json_find (sc, "syscalls");
  for (size_t i = 0; i < json_arr_len (rules); i++)
    {
      json_t *names = json_find (json_arr_at (rules, i), "names");
      if (json_arr_len (names) == 3 && strcmp (json_str (json_arr_at (names, 0)), "init_module") == 0)
        found = json_arr_at (rules, i);
    }
  tap_ok (found != NULL, "the module block rule keeps its shape for the notify stage");
  if (found)
    {
      /* What the notify stage does: switch the action; the compiled filter must carry it. */
      json_set (found, "action", json_new_str ("SCMP_ACT_NOTIFY"), &err);
      json_del (found, "errnoRet");
      tap_ok (verdict (s, "finit_module", 0, 0, 0) == SECCOMP_RET_USER_NOTIF, "SCMP_ACT_NOTIFY compiles to USER_NOTIF");
    }
  json_free (s);
}

static void
test_cache (void)
{
  char dir[] = "/tmp/sbx-test-cache.XXXXXX", path[512];
  cleanup_free char *b1 = NULL, *b2 = NULL, *b3 = NULL;
  bool hit1, hit2, hit3;
  sbx_err err;
  json_t *s = harden (spec_with (NULL, NULL), SBX_DELEGATE_RUNC, &err), *sc;
  struct stat st;
  int fd;

  if (s == NULL || mkdtemp (dir) == NULL)
    return;
  sc = json_find (json_find (s, "linux"), "seccomp");
  tap_ok (sbx_bpf_cache_b64 (sc, dir, &b1, NULL, &hit1, &err) == 0 && !hit1, "cache: first lookup compiles");
  tap_ok (sbx_bpf_cache_b64 (sc, dir, &b2, NULL, &hit2, &err) == 0 && hit2 && strcmp (b1, b2) == 0,
          "cache: second lookup hits and gives the same program");
  /* Corrupt the entry: flip a byte in the program. */
  {
    char cmd[600];
    snprintf (cmd, sizeof cmd, "ls %s/*.bpf", dir);
    FILE *p = popen (cmd, "r");
    if (p && fgets (path, sizeof path, p))
      path[strcspn (path, "\n")] = '\0';
    if (p)
      pclose (p);
  }
  fd = open (path, O_RDWR);
  if (fd >= 0 && fstat (fd, &st) == 0)
    {
      char c;
      bool flipped = pread (fd, &c, 1, st.st_size - 3) == 1;
      c ^= 0x5a;
      flipped = flipped && pwrite (fd, &c, 1, st.st_size - 3) == 1;
      close (fd);
      tap_ok (flipped, "cache: entry %s corrupted for the test", path);
    }
  tap_ok (sbx_bpf_cache_b64 (sc, dir, &b3, NULL, &hit3, &err) == 0 && !hit3 && strcmp (b1, b3) == 0,
          "cache: a corrupt entry is ignored and rebuilt");
  free (b3);
  b3 = NULL;
  tap_ok (sbx_bpf_cache_b64 (sc, dir, &b3, NULL, &hit3, &err) == 0 && hit3, "cache: the rebuilt entry hits");
  unlink (path);
  rmdir (dir);

  /* The crun stage puts the program in the annotation; runc keeps the JSON form. */
  setenv ("SBX_SECCOMP_CACHE", "/tmp/sbx-test-cache-stage", 1);
  json_free (s);
  s = harden (spec_with (NULL, NULL), SBX_DELEGATE_CRUN, &err);
  tap_ok (s && json_annotation (s, "run.oci.seccomp_bpf_data") && strcmp (json_annotation (s, "run.oci.seccomp_bpf_data"), b1) == 0,
          "crun: run.oci.seccomp_bpf_data holds the compiled filter");
  /* Hardening that spec again (a bundle reused, runc run after crun): the saved filter comes back. */
  if (s)
    {
      cleanup_free char *once = NULL, *again = NULL;
      size_t l;
      json_t *s2;
      json_serialize (s, &once, &l, &err);
      s2 = harden (once, SBX_DELEGATE_CRUN, &err);
      tap_ok (s2 && strcmp (json_annotation (s2, "run.oci.seccomp_bpf_data"), b1) == 0,
              "crun spec hardened again: the same precompiled filter");
      json_free (s2);
      s2 = harden (once, SBX_DELEGATE_RUNC, &err);
      tap_ok (s2 && verdict (s2, "getppid", 0, 0, 0) == ALLOW && verdict (s2, "bpf", 0, 0, 0) == ERRNO (1)
                  && json_annotation (s2, "run.oci.seccomp_bpf_data") == NULL
                  && json_annotation (s2, SBX_ANN_SECCOMP_SAVED) == NULL,
              "crun spec hardened again for runc: the real filter restored, not the stand-in");
      json_free (s2);
      (void) again;
    }
  json_free (s);
  s = harden (spec_with (NULL, ",\"annotations\":{\"run.oci.seccomp_bpf_data\":\"AAAA\"}"), SBX_DELEGATE_RUNC, &err);
  tap_ok (s && json_annotation (s, "run.oci.seccomp_bpf_data") == NULL, "runc: no annotation, an engine's one dropped");
  json_free (s);
  tap_ok (system ("rm -rf /tmp/sbx-test-cache-stage") == 0, "cache: test directory removed");
  unsetenv ("SBX_SECCOMP_CACHE");
}

static void
test_inexact_refuses_more (void)
{
  /* Engine: ALLOW by default, refuses personality values 1 and 2 (two rules on one argument);
     sbx (strict-like, via a profile): allows personality 0 only.  The intersection must refuse 1, 2, 3. */
  struct sbx_filter e, sb, m;
  struct sbx_bpf p;
  json_t *ej = parse ("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"getppid\"],\"action\":"
                      "\"SCMP_ACT_ERRNO\",\"errnoRet\":5,\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]},"
                      "{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":5,\"args\":[{\"index\":0,"
                      "\"value\":2,\"op\":\"SCMP_CMP_EQ\"}]}]}");
  json_t *sj = parse ("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"getppid\"],\"action\":"
                      "\"SCMP_ACT_KILL_PROCESS\",\"args\":[{\"index\":1,\"value\":7,\"op\":\"SCMP_CMP_EQ\"}]}]}");
  char notes[512];
  sbx_err err;
  uint32_t r1, r2, r3, r4;
  const uint64_t a1[6] = { 1 }, a2[6] = { 2, 7 }, a3[6] = { 3 }, a4[6] = { 3, 7 };

  if (sbx_filter_from_oci (ej, "e", &e, &err) < 0 || sbx_filter_from_oci (sj, "s", &sb, &err) < 0
      || sbx_filter_intersect (&e, &sb, &m, notes, sizeof notes, &err) < 0 || sbx_filter_compile (&m, true, &p, &err) < 0)
    {
      tap_ok (false, "inexact intersection: %s", err.msg);
      return;
    }
  r1 = sbx_bpf_run (&p, sbx_syscall_nr ("getppid"), a1);
  r2 = sbx_bpf_run (&p, sbx_syscall_nr ("getppid"), a2);
  r3 = sbx_bpf_run (&p, sbx_syscall_nr ("getppid"), a3);
  r4 = sbx_bpf_run (&p, sbx_syscall_nr ("getppid"), a4);
  tap_ok (r1 != ALLOW && r2 != ALLOW && r4 != ALLOW,
          "overlapping argument rules: nothing either side refuses is allowed");
  tap_ok (r3 == ALLOW || notes[0], "getppid(3) allowed, or the refusal is explained (%s)", notes);
  tap_ok (r4 == SECCOMP_RET_KILL_PROCESS || r4 == (SECCOMP_RET_KILL_PROCESS), "sbx's kill rule is kept (0x%x)", r4);
  (void) r2;
  sbx_bpf_free (&p);
  sbx_filter_free (&e);
  sbx_filter_free (&sb);
  sbx_filter_free (&m);
  json_free (ej);
  json_free (sj);
}

static void
test_real_engine_profile (void)
{
  static const char *const path = "/usr/share/containers/seccomp.json";
  static const char *const caps[] = { "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
                                      "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP",
                                      "CAP_SETUID", "CAP_SYS_CHROOT" };
  struct sbx_resolve_env env = { .caps = caps, .ncaps = SBX_ARRAY_SIZE (caps) };
  cleanup_free char *buf = NULL, *spec = NULL, *oci = NULL;
  struct sbx_filter e;
  struct sbx_bpf p;
  json_t *prof, *o, *s;
  size_t len;
  sbx_err err;

  if (access (path, R_OK) != 0)
    {
      tap_skip (NULL, "%s is not installed (podman's containers-common)", path);
      return;
    }
  sbx_resolve_env_host (&env);
  if (sbx_read_file (path, 1 << 20, &buf, &len, &err) < 0 || json_parse (buf, len, path, &prof, &err) < 0
      || sbx_profile_resolve (prof, path, &env, &e, &err) < 0)
    {
      tap_ok (false, "containers-common profile: %s", err.msg);
      return;
    }
  /* What podman puts in config.json: the profile resolved for the container's capabilities. */
  o = json_new_obj ();
  sbx_filter_to_oci (&e, o, false, &err);
  json_serialize (o, &oci, &len, &err);
  spec = strdup (spec_with (oci, NULL));
  s = harden (spec, SBX_DELEGATE_RUNC, &err);
  tap_ok (s != NULL, "containers-common's default ∩ sbx default hardens%s%s", s ? "" : ": ", s ? "" : err.msg);
  if (s)
    {
      struct sbx_filter m;
      const uint64_t a[6] = { 1 };
      tap_ok (verdict (s, "getppid", 0, 0, 0) == ALLOW && verdict (s, "socket", 2, 1, 6) == ALLOW
                  && verdict (s, "socket", 1, 1, 0) == ALLOW && verdict (s, "socket", 10, 2, 17) == ALLOW,
              "containers-common ∩ default: ordinary calls and sockets allowed");
      tap_ok (verdict (s, "socket", 16, 3, 9) == ERRNO (22), "containers-common's NETLINK_AUDIT EINVAL kept");
      tap_ok (verdict (s, "unshare", 0x10000000, 0, 0) != ALLOW && verdict (s, "mount", 0, 0, 0) != ALLOW
                  && verdict (s, "setns", 0, 0, 0) != ALLOW && verdict (s, "keyctl", 0, 0, 0) != ALLOW,
              "containers-common allows unshare, mount, setns and keyctl; the intersection does not");
      tap_ok (verdict (s, "move_pages", 0, 0, 0) == ERRNO (1) && verdict (s, "kexec_load", 0, 0, 0) == ERRNO (1),
              "the engine's explicit EPERM refusals keep EPERM");
      tap_ok (verdict (s, "finit_module", 0, 0, 0) == ERRNO (1), "module block");
      if (sbx_filter_from_oci (json_find (json_find (s, "linux"), "seccomp"), "s", &m, &err) == 0
          && sbx_filter_compile (&m, false, &p, &err) == 0)
        {
          tap_ok (sbx_bpf_run_arch (&p, SCMP_ARCH_X86_FOR_TEST, 102, a) == ERRNO (97),
                  "i386 socketcall(SYS_SOCKET) refused: no address-family bypass");
          tap_ok (sbx_bpf_run_arch (&p, SCMP_ARCH_X86_FOR_TEST, 128, a) == ERRNO (1),
                  "i386 init_module (int 0x80) gets EPERM too");
          sbx_bpf_free (&p);
          sbx_filter_free (&m);
        }
      else
        tap_ok (false, "merged filter compiles: %s", err.msg);
      json_free (s);
    }
  json_free (o);
  json_free (prof);
  sbx_filter_free (&e);
}

/* Profile files someone named (hole: run.sbx.profile=/abs/path opened any host file as root): opened without
   following links or blocking, regular, owned by root, not writable by others, bounded; never quoted. */
static void
write_file (const char *dir, const char *name, const char *text, mode_t mode)
{
  char p[256];
  FILE *f;

  snprintf (p, sizeof p, "%s/%s", dir, name);
  f = fopen (p, "w");
  if (f)
    {
      fputs (text, f);
      fclose (f);
    }
  chmod (p, mode);
}

static int
tenant_src (const char *name, sbx_err *err)
{
  struct sbx_profile_src src;
  int rc;

  memset (err, 0, sizeof *err);
  rc = sbx_profile_source_tenant (&cfg, name, &src, err);
  sbx_profile_src_free (&src);
  return rc;
}

static void
test_profile_files (void)
{
  static const char nomkdir[] = "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],"
                                "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13}]}";
  char dir[] = "/tmp/sbx-test-pfiles-XXXXXX", p[256], big[4096];
  json_t *s, *allow;
  sbx_err err;
  FILE *f;

  if (mkdtemp (dir) == NULL)
    return;
  setenv ("SBX_PROFILES_DIR", dir, 1);
  write_file (dir, "nomkdir.json", nomkdir, 0644);
  write_file (dir, "allowall.json", "{\"defaultAction\":\"SCMP_ACT_ALLOW\"}", 0644);
  write_file (dir, "secret.json", "TOPSECRET-3141 not json", 0644);
  write_file (dir, "groupw.json", nomkdir, 0664);
  write_file (dir, "other.json", nomkdir, 0644);
  snprintf (p, sizeof p, "%s/other.json", dir);
  tap_ok (chown (p, 1000, 1000) == 0, "setup: a profile owned by uid 1000");
  snprintf (p, sizeof p, "%s/fifo.json", dir);
  mkfifo (p, 0644);
  snprintf (p, sizeof p, "%s/link.json", dir);
  tap_ok (symlink ("/etc/shadow", p) == 0, "setup: a symlink to /etc/shadow");
  snprintf (p, sizeof p, "%s/big.json", dir);
  f = fopen (p, "w");
  memset (big, ' ', sizeof big);
  for (int i = 0; f && i < 300; i++)
    fwrite (big, 1, sizeof big, f);
  if (f)
    fclose (f);

  /* A FIFO must not hang the start: bounded by an alarm that would kill the test. */
  alarm (10);
  tap_ok (tenant_src ("fifo", &err) < 0 && strstr (err.msg, "not a regular file"), "a FIFO is refused at once: %s",
          err.msg);
  alarm (0);
  tap_ok (tenant_src ("link", &err) < 0 && err.code == ELOOP, "a symlink is not followed: %s", err.msg);
  tap_ok (tenant_src ("groupw", &err) < 0 && strstr (err.msg, "writable by group"), "a group-writable file: %s",
          err.msg);
  tap_ok (tenant_src ("other", &err) < 0 && strstr (err.msg, "owned by uid 1000"), "a file another user owns: %s",
          err.msg);
  tap_ok (tenant_src ("big", &err) < 0 && err.code == EFBIG, "a file over 1 MiB: %s", err.msg);
  tap_ok (tenant_src ("/etc/passwd", &err) < 0 && err.code == EPERM && strstr (err.msg, "may name only"),
          "an absolute path from a container: %s", err.msg);
  tap_ok (tenant_src ("a..b", &err) < 0 && err.code == EPERM, "'..' anywhere in a name");
  s = harden (spec_with (NULL, ",\"annotations\":{\"run.sbx.profile\":\"secret\"}"), SBX_DELEGATE_RUNC, &err);
  tap_ok (s == NULL && strstr (err.msg, "secret.json") && strstr (err.msg, "TOPSECRET") == NULL,
          "a malformed profile's error names the file, never its contents: %s", err.msg);
  json_free (s);

  /* Without sbx.json's allowance a container's profile is applied on top of the node's: it only tightens. */
  allow = json_take (cfg.root, "tenants");
  s = harden (spec_with (NULL, ",\"annotations\":{\"run.sbx.profile\":\"nomkdir\"}"), SBX_DELEGATE_RUNC, &err);
  tap_ok (s && verdict (s, "mkdir", 0, 0, 0) == ERRNO (13) && verdict (s, "kexec_load", 0, 0, 0) != ALLOW
              && verdict (s, "read", 0, 0, 0) == ALLOW,
          "a stricter profile tightens the node's default (mkdir refused, the default's refusals kept)");
  tap_is_str (s ? json_annotation (s, SBX_ANN_PROFILE) : NULL, "nomkdir", "and is recorded as asked");
  json_free (s);
  s = harden (spec_with (NULL, ",\"annotations\":{\"run.sbx.profile\":\"allowall\"}"), SBX_DELEGATE_RUNC, &err);
  tap_ok (s && verdict (s, "kexec_load", 0, 0, 0) != ALLOW && verdict (s, "acct", 0, 0, 0) != ALLOW,
          "an allow-all profile does not loosen the node's default");
  json_free (s);
  s = harden (spec_with (NULL, ",\"annotations\":{\"run.sbx.profile\":\"baseline\"}"), SBX_DELEGATE_RUNC, &err);
  tap_ok (s && verdict (s, "acct", 0, 0, 0) != ALLOW, "nor does the built-in baseline");
  json_free (s);
  json_set (cfg.root, "tenants", allow, &err);
  s = harden (spec_with (NULL, ",\"annotations\":{\"run.sbx.profile\":\"allowall\"}"), SBX_DELEGATE_RUNC, &err);
  tap_ok (s && verdict (s, "acct", 0, 0, 0) == ALLOW, "with tenants.allow_profile it replaces the node's profile%s%s",
          s ? "" : ": ", s ? "" : err.msg);
  json_free (s);

  /* The directory itself must be the owner's alone. */
  chmod (dir, 0777);
  tap_ok (tenant_src ("nomkdir", &err) < 0 && strstr (err.msg, "must be the owner's alone"),
          "a profiles_dir others can write is refused: %s", err.msg);
  chmod (dir, 0700);
  setenv ("SBX_PROFILES_DIR", "/nonexistent/sbx-profiles", 1);
  for (const char *const *n = (const char *const[]){ "nomkdir", "allowall", "secret", "groupw", "other", "fifo",
                                                     "link", "big", NULL };
       *n; n++)
    {
      snprintf (p, sizeof p, "%s/%s.json", dir, *n);
      unlink (p);
    }
  rmdir (dir);
}

int
main (void)
{
  setenv ("SBX_PROFILES_DIR", "/nonexistent/sbx-profiles", 1);
  setenv ("SBX_SECCOMP_CACHE", "", 1);
  unsetenv ("SBX_CONFIG");
  {
    /* These tests are about the filter: no watcher turns the module block into a notification. */
    static const char settings[] = "{\"watcher\":{\"enabled\":false},\"tenants\":{\"allow_profile\":true}}";
    sbx_err err;
    if (json_parse (settings, sizeof settings - 1, "settings", &cfg.root, &err) < 0)
      return 1;
  }
  test_builtin_profiles ();
  test_validation ();
  test_intersection ();
  test_engine_denial ();
  test_no_engine_profile ();
  setenv ("SBX_PROFILES_DIR", "/nonexistent/sbx-profiles", 1);
  test_caps_after_drops ();
  test_notify_rule ();
  test_cache ();
  test_inexact_refuses_more ();
  test_profile_files ();
  test_real_engine_profile ();
  return tap_done ();
}
