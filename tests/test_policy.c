/* test_policy.c - the hardening policy on specs in memory: every way an engine can ask for module loading. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../oci/json.h"
#include "../policy/policy.h"
#include "../profiles/seccomp_oci.h"
#include "fixture.h"
#include "tap.h"

static int notes;
static char last_note[512];

static void
note (enum sbx_level level, const char *fmt, ...)
{
  va_list ap;
  (void) level;
  va_start (ap, fmt);
  vsnprintf (last_note, sizeof last_note, fmt, ap);
  va_end (ap);
  notes++;
}

/* Apply the whole policy to IN; return the serialized result, or NULL with ERR filled. */
/* The sbx.json these cases run under: the profile annotation replaces the node's, and opt-outs are allowed, unless a
   case says otherwise. */
#define QUIET "\"seccomp_memo\":false,\"watcher\":{\"enabled\":false},"
static const char *settings = "{" QUIET "\"tenants\":{\"allow_profile\":true,\"allow_nnp_optout\":true}}";

static char *
harden (const char *in, sbx_err *err)
{
  struct sbx_config cfg = { 0 };
  struct sbx_policy_ctx ctx = { .cfg = &cfg, .container_id = "t", .note = note };
  json_t *spec;
  char *out = NULL;
  size_t len;

  if (json_parse (settings, strlen (settings), "settings", &cfg.root, err) < 0
      || sbx_settings_check (cfg.root, "settings", err) < 0)
    return NULL;
  if (json_parse (in, strlen (in), "spec", &spec, err) < 0)
    {
      sbx_config_free (&cfg);
      return NULL;
    }
  /* These cases are about the module block on the engine's own filter: the baseline profile, unless a case
     picks one itself. */
  if (json_is (spec, JSON_OBJECT) && json_annotation (spec, SBX_ANN_PROFILE) == NULL)
    {
      json_t *ann = json_find (spec, "annotations");
      if (ann == NULL && json_set (spec, "annotations", json_new_obj (), err) == 0)
        ann = json_find (spec, "annotations");
      if (json_is (ann, JSON_OBJECT))
        json_set (ann, SBX_ANN_PROFILE, json_new_str ("baseline"), err);
    }
  fixture_namespaces (spec);
  if (sbx_policy_apply_spec (spec, &ctx, err) == 0)
    json_serialize (spec, &out, &len, err);
  json_free (spec);
  sbx_config_free (&cfg);
  return out;
}

static json_t *
harden_tree (const char *in)
{
  sbx_err err;
  char *s = harden (in, &err);
  json_t *v = NULL;
  if (s == NULL)
    {
      printf ("# harden failed: %s\n", err.msg);
      return NULL;
    }
  json_parse (s, strlen (s), "out", &v, &err);
  free (s);
  return v;
}

static json_t *
at (json_t *v, const char *path)
{
  char key[64];
  while (v && *path)
    {
      size_t n = strcspn (path, ".");
      memcpy (key, path, n);
      key[n] = '\0';
      if (json_is (v, JSON_ARRAY))
        v = (size_t) atoi (key) < json_arr_len (v) ? json_arr_at (v, atoi (key)) : NULL;
      else
        v = json_find (v, key);
      path += n + (path[n] == '.');
    }
  return v;
}

/* How many rules of SECCOMP name SYSCALL, and the action of the last one. */
static int
rules_for (json_t *seccomp, const char *syscall, const char **action, long long *errno_ret)
{
  json_t *rules = json_find (seccomp, "syscalls");
  int n = 0;
  for (size_t i = 0; i < json_arr_len (rules); i++)
    {
      json_t *r = json_arr_at (rules, i), *names = json_find (r, "names");
      for (size_t j = 0; j < json_arr_len (names); j++)
        if (strcmp (json_str (json_arr_at (names, j)), syscall) == 0)
          {
            n++;
            *action = json_str (json_find (r, "action"));
            if (!json_num_int (json_find (r, "errnoRet"), errno_ret))
              *errno_ret = -1;
          }
    }
  return n;
}

/* The module syscalls end refused with EPERM by exactly one rule (or by an EPERM default when NO_RULE_OK). */
static void
check_blocked (json_t *spec, const char *what, bool default_eperm)
{
  json_t *sc = at (spec, "linux.seccomp");
  bool ok = sc != NULL;
  for (size_t i = 0; ok && i < 3; i++)
    {
      const char *action = NULL;
      long long e = 0;
      int n = rules_for (sc, sbx_module_syscalls[i], &action, &e);
      if (default_eperm)
        ok = n == 0;
      else
        ok = n == 1 && strcmp (action, "SCMP_ACT_ERRNO") == 0 && e == 1;
    }
  tap_ok (ok, "%s: module syscalls refused with EPERM", what);
}

static void
test_seccomp (void)
{
  json_t *s;
  const char *action;
  long long e;

  s = harden_tree ("{\"process\":{\"args\":[\"sh\"]}}");
  check_blocked (s, "no linux section", false);
  tap_is_str (json_str (at (s, "linux.seccomp.defaultAction")), "SCMP_ACT_ALLOW", "no seccomp: allow-all base");
  tap_ok (json_arr_len (at (s, "linux.seccomp.architectures")) >= 2, "no seccomp: native arch and compat ABIs");
  json_free (s);

  s = harden_tree ("{\"linux\":{\"seccomp\":null}}");
  check_blocked (s, "seccomp null", false);
  json_free (s);

  s = harden_tree ("{\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
                   "{\"names\":[\"read\",\"init_module\",\"write\"],\"action\":\"SCMP_ACT_ALLOW\"},"
                   "{\"names\":[\"finit_module\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":3,\"op\":\"SCMP_CMP_EQ\"}]},"
                   "{\"names\":[\"delete_module\"],\"action\":\"SCMP_ACT_LOG\"},"
                   "{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13}]}}}");
  check_blocked (s, "explicit allow, arg-filtered allow and log rules", false);
  tap_ok (rules_for (at (s, "linux.seccomp"), "read", &action, &e) == 1
              && rules_for (at (s, "linux.seccomp"), "write", &action, &e) == 1,
          "other names of a rule that named init_module are kept");
  tap_ok (rules_for (at (s, "linux.seccomp"), "mkdir", &action, &e) == 1 && strcmp (action, "SCMP_ACT_ERRNO") == 0
              && e == 13,
          "an engine denial keeps its action and errno");
  /* read+write, mkdir, the module block, the host-paths stage's mount-family block. */
  tap_ok (json_arr_len (at (s, "linux.seccomp.syscalls")) == 4, "rules emptied by the block are removed");
  json_free (s);

  s = harden_tree ("{\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":["
                   "{\"names\":[\"init_module\",\"read\"],\"action\":\"SCMP_ACT_ALLOW\"}]}}}");
  check_blocked (s, "default ERRNO (EPERM) with an allow rule for init_module", true);
  json_free (s);

  s = harden_tree ("{\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38}}}");
  check_blocked (s, "default ERRNO(ENOSYS)", false);
  json_free (s);

  s = harden_tree ("{\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_NOTIFY\",\"listenerPath\":\"/x.sock\","
                   "\"listenerMetadata\":\"m\",\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\"],\"vendor\":1}}}");
  check_blocked (s, "default NOTIFY", false);
  tap_is_str (json_str (at (s, "linux.seccomp.listenerPath")), "/x.sock", "engine listenerPath kept");
  tap_ok (json_arr_len (at (s, "linux.seccomp.flags")) == 1 && json_num_raw (at (s, "linux.seccomp.vendor")),
          "flags and unknown seccomp keys kept");
  json_free (s);

  /* Idempotent: hardening a hardened spec (runc run after create, an engine restarting a bundle). */
  {
    sbx_err err;
    char *once = harden ("{\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\"}}}", &err);
    char *twice = once ? harden (once, &err) : NULL;
    tap_is_str (twice, once, "hardening twice changes nothing");
    free (once);
    free (twice);
  }

  /* A user who can set annotations must not be able to swap the engine's filter for one of their own through
     the annotation sbx keeps the real filter in beside crun's stand-in. */
  notes = 0;
  s = harden_tree ("{\"annotations\":{\"run.sbx.seccomp\":\"{\\\"defaultAction\\\":\\\"SCMP_ACT_ALLOW\\\"}\","
                   "\"run.oci.seccomp_bpf_data\":\"AAAA\"},"
                   "\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
                   "{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13}]}}}");
  tap_ok (s && rules_for (at (s, "linux.seccomp"), "mkdir", &action, &e) == 1 && e == 13
              && json_find (json_find (s, "annotations"), "run.sbx.seccomp") == NULL && strstr (last_note, "run.sbx.seccomp"),
          "a forged run.sbx.seccomp annotation is dropped; the engine's denial stays");
  json_free (s);

  /* crun's precompiled-filter annotation from the engine would bypass the JSON filter. */
  notes = 0;
  s = harden_tree ("{\"annotations\":{\"run.oci.seccomp_bpf_data\":\"AAAA\",\"keep\":\"me\"}}");
  tap_ok (at (s, "annotations.run.oci.seccomp_bpf_data") == NULL && json_find (json_find (s, "annotations"),
                                                                              "run.oci.seccomp_bpf_data") == NULL,
          "engine-supplied run.oci.seccomp_bpf_data is dropped");
  tap_ok (notes > 0 && strstr (last_note, "seccomp_bpf_data"), "dropping it is logged");
  tap_is_str (json_str (json_find (json_find (s, "annotations"), "keep")), "me", "other annotations survive");
  json_free (s);
}

static void
test_caps (void)
{
  json_t *s = harden_tree (
      "{\"process\":{\"capabilities\":{"
      "\"bounding\":[\"CAP_CHOWN\",\"CAP_SYS_MODULE\",\"CAP_NET_RAW\"],\"effective\":[\"CAP_SYS_MODULE\"],"
      "\"inheritable\":[\"cap_sys_module\"],\"permitted\":[\"CAP_SYS_MODULE\",\"CAP_SYS_ADMIN\"],"
      "\"ambient\":[\"CAP_SYS_MODULE\"]}}}");
  char *out;
  size_t len;
  sbx_err err;

  json_serialize (s, &out, &len, &err);
  tap_ok (strcasestr (out, "sys_module") == NULL, "CAP_SYS_MODULE removed from all five sets, any spelling");
  tap_ok (json_arr_len (at (s, "process.capabilities.bounding")) == 2
              && json_arr_len (at (s, "process.capabilities.permitted")) == 1,
          "other capabilities kept");
  free (out);
  json_free (s);

  tap_ok (sbx_cap_is_forbidden ("CAP_SYS_MODULE") && sbx_cap_is_forbidden ("cap_sys_module")
              && sbx_cap_is_forbidden ("16") && !sbx_cap_is_forbidden ("CAP_SYS_ADMIN")
              && !sbx_cap_is_forbidden ("CAP_BOGUS"),
          "forbidden capability names resolved with libcap");
}

static void
test_nnp_and_annotations (void)
{
  json_t *s = harden_tree ("{\"process\":{\"noNewPrivileges\":false},\"annotations\":{\"io.kubernetes.x\":\"y\"}}");
  sbx_err err;
  char *out;

  tap_ok (json_is_true (at (s, "process.noNewPrivileges")), "noNewPrivileges forced on");
  tap_is_str (json_str (json_find (json_find (s, "annotations"), SBX_ANN_POLICY)), SBX_POLICY_VERSION,
              "policy version recorded in annotations");
  tap_ok (json_str (json_find (json_find (s, "annotations"), SBX_ANN_PROFILE)) != NULL, "profile recorded");
  tap_is_str (json_str (json_find (json_find (s, "annotations"), "io.kubernetes.x")), "y", "engine annotation kept");
  json_free (s);

  notes = 0;
  s = harden_tree ("{\"process\":{\"noNewPrivileges\":false},\"annotations\":{\"run.sbx.no-new-privileges\":\"false\"}}");
  tap_ok (!json_is_true (at (s, "process.noNewPrivileges")) && notes > 0 && strstr (last_note, "no_new_privs"),
          "annotation opt-out leaves noNewPrivileges and is logged");
  json_free (s);

  out = harden ("{\"annotations\":{\"run.sbx.no-new-privileges\":\"maybe\"}}", &err);
  tap_ok (out == NULL && strstr (err.msg, "run.sbx.no-new-privileges"), "a malformed opt-out is an error");
  free (out);

  /* A tenant's opt-out is refused unless sbx.json allows it, globally or for the pod's namespace. */
  settings = "{" QUIET "\"tenants\":{}}";
  out = harden ("{\"annotations\":{\"run.sbx.no-new-privileges\":\"false\"}}", &err);
  tap_ok (out == NULL && err.code == EPERM && strstr (err.msg, "annotation run.sbx.no-new-privileges=false")
              && strstr (err.msg, "\"tenants.allow_nnp_optout\": true"),
          "nnp opt-out without the sbx.json allowance: refused, naming the annotation and the setting: %s", err.msg);
  free (out);
  out = harden ("{\"annotations\":{\"run.sbx.no-new-privileges\":\"false\","
                "\"io.kubernetes.cri.sandbox-namespace\":\"team-a\"}}", &err);
  tap_ok (out == NULL && strstr (err.msg, "tenants.namespaces.team-a.allow_nnp_optout"),
          "in a Kubernetes namespace, the refusal names the per-namespace setting too: %s", err.msg);
  free (out);
  settings = "{" QUIET "\"tenants\":{\"namespaces\":{\"team-a\":{\"allow_nnp_optout\":true}}}}";
  s = harden_tree ("{\"process\":{\"noNewPrivileges\":false},\"annotations\":{\"run.sbx.no-new-privileges\":"
                   "\"false\",\"io.kubernetes.cri.sandbox-namespace\":\"team-a\"}}");
  tap_ok (s && !json_is_true (at (s, "process.noNewPrivileges")), "allowed for the pods of namespace team-a");
  json_free (s);
  out = harden ("{\"annotations\":{\"run.sbx.no-new-privileges\":\"false\","
                "\"io.kubernetes.cri.sandbox-namespace\":\"team-b\"}}", &err);
  tap_ok (out == NULL && err.code == EPERM, "and still refused for namespace team-b");
  free (out);
  out = harden ("{\"annotations\":{\"run.sbx.no-new-privileges\":\"false\"}}", &err);
  tap_ok (out == NULL && err.code == EPERM, "and for a container of no namespace");
  free (out);
  settings = "{" QUIET "\"tenants\":{\"allow_profile\":true,\"allow_nnp_optout\":true}}";
}

static void
test_refusals (void)
{
  static const struct
  {
    const char *spec, *needle, *what;
  } cases[] = {
    { "{\"linux\":{\"seccomp\":[]}}", "seccomp", "seccomp that is not an object" },
    { "{\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":{}}}}", "syscalls",
      "syscalls that is not an array" },
    { "{\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[1]}]}}}", "names",
      "a syscall name that is not a string" },
    { "{\"linux\":{\"seccomp\":{\"syscalls\":[]}}}", "defaultAction", "seccomp without defaultAction" },
    { "{\"process\":{\"capabilities\":{\"bounding\":\"CAP_SYS_MODULE\"}}}", "bounding", "a capability set that is a string" },
    { "{\"process\":{\"capabilities\":{\"bounding\":[16]}}}", "bounding", "a capability that is not a string" },
    { "{\"Process\":{\"capabilities\":{\"bounding\":[\"CAP_SYS_MODULE\"]}}}", "ambiguous", "a case-variant key" },
    { "{\"linux\":{\"Seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\"}}}", "ambiguous", "a case-variant seccomp" },
    { "{\"linux\":\"x\"}", "linux", "linux that is not an object" },
  };

  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      sbx_err err = { 0 };
      char *out = harden (cases[i].spec, &err);
      tap_ok (out == NULL && strstr (err.msg, cases[i].needle) != NULL, "refused: %s (%s)", cases[i].what, err.msg);
      free (out);
    }
}

static void
test_process (void)
{
  struct sbx_policy_ctx ctx = { .note = note };
  json_t *p;
  sbx_err err;
  const char *in = "{\"args\":[\"sh\"],\"capabilities\":{\"bounding\":[\"CAP_SYS_MODULE\",\"CAP_KILL\"],"
                   "\"effective\":[\"CAP_SYS_MODULE\"]},\"noNewPrivileges\":false}";

  json_parse (in, strlen (in), "p", &p, &err);
  tap_ok (sbx_policy_apply_process (p, false, &ctx, &err) == 0 && json_arr_len (at (p, "capabilities.bounding")) == 1
              && json_arr_len (at (p, "capabilities.effective")) == 0 && json_is_true (json_find (p, "noNewPrivileges")),
          "exec process: CAP_SYS_MODULE removed, no_new_privs set");
  json_free (p);
  json_parse (in, strlen (in), "p", &p, &err);
  tap_ok (sbx_policy_apply_process (p, true, &ctx, &err) == 0 && !json_is_true (json_find (p, "noNewPrivileges")),
          "exec process of an opted-out container keeps its no_new_privs");
  json_free (p);
}

int
main (void)
{
  test_seccomp ();
  test_caps ();
  test_nnp_and_annotations ();
  test_refusals ();
  test_process ();
  return tap_done ();
}
