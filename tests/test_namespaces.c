/* test_namespaces.c - the namespace and cgroup stages on engine specs in memory: what is refused, what is added,
   what an annotation opts out of. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../oci/json.h"
#include "../policy/policy.h"
#include "tap.h"

static int notes;
static enum sbx_level last_level;
static char last_note[512];

static void
note (enum sbx_level level, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (last_note, sizeof last_note, fmt, ap);
  va_end (ap);
  last_level = level;
  notes++;
}

static json_t *
parse (const char *s)
{
  sbx_err err;
  json_t *v = NULL;
  if (json_parse (s, strlen (s), "test", &v, &err) < 0)
    printf ("# parse failed: %s\n", err.msg);
  return v;
}

/* The host's namespaces, as the stage is told: paths under /host/ are the host's, paths under /gone/ cannot be
   resolved, anything else is another container's. */
static char last_ns_asked[64];
static int
fake_ns_is_host (const char *procname, const char *path, bool *host, sbx_err *err)
{
  snprintf (last_ns_asked, sizeof last_ns_asked, "%s", procname);
  *host = strncmp (path, "/host/", 6) == 0;
  if (strncmp (path, "/gone/", 6) == 0)
    return sbx_fail (err, ENOENT, "namespace path %s", path);
  return 0;
}

/* Run STAGE on IN with config CFG (JSON or NULL); *OUT gets the spec, the return value the stage's. */
static int
stage (int (*fn) (json_t *, struct sbx_policy_ctx *, sbx_err *), const char *in, const char *cfgjson, json_t **out,
       sbx_err *err)
{
  struct sbx_config cfg = { .root = cfgjson ? parse (cfgjson) : NULL };
  struct sbx_policy_ctx ctx = { .cfg = &cfg, .container_id = "c1", .note = note, .ns_is_host = fake_ns_is_host };
  int rc;

  notes = 0;
  last_note[0] = '\0';
  memset (err, 0, sizeof *err);
  *out = parse (in);
  rc = fn (*out, &ctx, err);
  sbx_config_free (&cfg);
  return rc;
}

static int
count_ns (json_t *spec, const char *type)
{
  json_t *ns = json_find (json_find (spec, "linux"), "namespaces");
  int n = 0;
  for (size_t i = 0; i < json_arr_len (ns); i++)
    n += strcmp (json_str (json_find (json_arr_at (ns, i), "type")) ?: "", type) == 0;
  return n;
}

static long long
pids_limit (json_t *spec)
{
  long long v = -12345;
  json_num_int (json_find (json_find (json_find (json_find (spec, "linux"), "resources"), "pids"), "limit"), &v);
  return v;
}

#define ALL_NS "[{\"type\":\"pid\"},{\"type\":\"mount\"},{\"type\":\"network\"},{\"type\":\"ipc\"},{\"type\":\"uts\"}]"

static void
test_namespaces (void)
{
  json_t *s;
  sbx_err err;
  int rc;

  rc = stage (sbx_stage_namespaces, "{\"linux\":{\"namespaces\":" ALL_NS "}}", NULL, &s, &err);
  tap_ok (rc == 0 && count_ns (s, "cgroup") == 1, "a cgroup namespace is added to an engine spec without one");
  tap_ok (notes == 0, "nothing to say about a spec with every namespace");
  json_free (s);

  rc = stage (sbx_stage_namespaces,
              "{\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},{\"type\":\"cgroup\"}]}}", NULL,
              &s, &err);
  tap_ok (rc == 0 && count_ns (s, "cgroup") == 1, "an existing cgroup namespace is not duplicated");
  tap_ok (count_ns (s, "network") == 0 && count_ns (s, "ipc") == 0 && count_ns (s, "uts") == 0,
          "host network, ipc and uts (docker --network=host) are left alone");
  json_free (s);

  rc = stage (sbx_stage_namespaces, "{\"linux\":{\"namespaces\":[{\"type\":\"mount\"},{\"type\":\"network\"}]}}",
              NULL, &s, &err);
  tap_ok (rc == -1 && err.code == EPERM, "no pid namespace: refused with EPERM (got rc %d, errno %d)", rc,
          err.code);
  tap_ok (strstr (err.msg, "container c1 has no pid namespace") && strstr (err.msg, "run.sbx.allow-host-ns=pid"),
          "the refusal names the container, the namespace and the opt-out: %s", err.msg);
  json_free (s);

  rc = stage (sbx_stage_namespaces, "{\"linux\":{\"namespaces\":[{\"type\":\"pid\"}]}}", NULL, &s, &err);
  tap_ok (rc == -1 && err.code == EPERM && strstr (err.msg, "no mount namespace"),
          "no mount namespace: refused (%s)", err.msg);
  json_free (s);

  rc = stage (sbx_stage_namespaces, "{}", NULL, &s, &err);
  tap_ok (rc == -1 && err.code == EPERM, "a spec without linux at all is refused");
  json_free (s);

  rc = stage (sbx_stage_namespaces,
              "{\"annotations\":{\"run.sbx.allow-host-ns\":\"pid\"},\"linux\":{\"namespaces\":[{\"type\":\"mount\"}]}}",
              NULL, &s, &err);
  tap_ok (rc == -1 && err.code == EPERM && strstr (err.msg, "annotation run.sbx.allow-host-ns naming pid")
              && strstr (err.msg, "\"tenants.allow_host_ns\": \"pid\""),
          "a tenant's allow-host-ns=pid without sbx.json's allowance: refused, naming the setting: %s", err.msg);
  json_free (s);

  rc = stage (sbx_stage_namespaces,
              "{\"annotations\":{\"run.sbx.allow-host-ns\":\"pid\"},\"linux\":{\"namespaces\":" ALL_NS "}}",
              NULL, &s, &err);
  tap_ok (rc == -1 && err.code == EPERM, "the opt-out is refused even where the spec does not need it");
  json_free (s);

  rc = stage (sbx_stage_namespaces,
              "{\"annotations\":{\"run.sbx.allow-host-ns\":\"pid,mount\",\"io.kubernetes.cri.sandbox-namespace\":"
              "\"ops\"},\"linux\":{\"namespaces\":[]}}",
              "{\"tenants\":{\"allow_host_ns\":\"mount\",\"namespaces\":{\"ops\":{\"allow_host_ns\":\"pid\"}}}}", &s,
              &err);
  tap_ok (rc == 0, "global and per-namespace allowances add up (mount for all, pid for namespace ops)");
  json_free (s);
  rc = stage (sbx_stage_namespaces,
              "{\"annotations\":{\"run.sbx.allow-host-ns\":\"pid,mount\",\"io.kubernetes.cri.sandbox-namespace\":"
              "\"dev\"},\"linux\":{\"namespaces\":[]}}",
              "{\"tenants\":{\"allow_host_ns\":\"mount\",\"namespaces\":{\"ops\":{\"allow_host_ns\":\"pid\"}}}}", &s,
              &err);
  tap_ok (rc == -1 && err.code == EPERM && strstr (err.msg, "tenants.namespaces.dev.allow_host_ns"),
          "a pod of another namespace gets the global allowance only: %s", err.msg);
  json_free (s);
  rc = stage (sbx_stage_namespaces,
              "{\"annotations\":{\"run.sbx.allow-host-ns\":\"pid\",\"io.kubernetes.pod.namespace\":\"ops\"},"
              "\"linux\":{\"namespaces\":[{\"type\":\"mount\"}]}}",
              "{\"tenants\":{\"namespaces\":{\"ops\":{\"allow_host_ns\":\"pid\"}}}}", &s, &err);
  tap_ok (rc == -1 && err.code == EPERM, "only the annotation sbx.json names tells the namespace");
  json_free (s);
  rc = stage (sbx_stage_namespaces,
              "{\"annotations\":{\"run.sbx.allow-host-ns\":\"pid\",\"io.kubernetes.pod.namespace\":\"ops\"},"
              "\"linux\":{\"namespaces\":[{\"type\":\"mount\"}]}}",
              "{\"tenants\":{\"namespace_annotation\":\"io.kubernetes.pod.namespace\",\"namespaces\":{\"ops\":"
              "{\"allow_host_ns\":\"pid\"}}}}",
              &s, &err);
  tap_ok (rc == 0, "and it can be another one (CRI-O)");
  json_free (s);

  rc = stage (sbx_stage_namespaces,
              "{\"annotations\":{\"run.sbx.allow-host-ns\":\"pid\"},\"linux\":{\"namespaces\":[{\"type\":\"mount\"}]}}",
              "{\"tenants\":{\"allow_host_ns\":\"pid\"}}", &s, &err);
  tap_ok (rc == 0, "annotation allow-host-ns=pid lets a host-pid container (podman --pid=host) run");
  tap_ok (notes == 1 && last_level == SBX_WARN && strstr (last_note, "shares the host's pid namespace")
              && strstr (last_note, "run.sbx.allow-host-ns"),
          "and the reason is logged as a warning: %s", last_note);
  json_free (s);

  rc = stage (sbx_stage_namespaces,
              "{\"annotations\":{\"run.sbx.allow-host-ns\":\"pid, mnt,cgroup\"},\"linux\":{\"namespaces\":[]}}",
              "{\"tenants\":{\"allow_host_ns\":\"pid,mount,cgroup\"}}", &s, &err);
  tap_ok (rc == 0 && count_ns (s, "cgroup") == 0, "allow-host-ns=pid,mnt,cgroup: no namespace required or added");
  json_free (s);

  rc = stage (sbx_stage_namespaces,
              "{\"annotations\":{\"run.sbx.allow-host-ns\":\"net\"},\"linux\":{\"namespaces\":[{\"type\":\"mount\"}]}}",
              "{\"tenants\":{\"allow_host_ns\":\"network\"}}", &s, &err);
  tap_ok (rc == -1 && err.code == EPERM, "allowing net does not allow pid");
  json_free (s);

  rc = stage (sbx_stage_namespaces,
              "{\"annotations\":{\"run.sbx.allow-host-ns\":\"pid,bogus\"},\"linux\":{\"namespaces\":" ALL_NS "}}",
              NULL, &s, &err);
  tap_ok (rc == -1 && err.code == EINVAL && strstr (err.msg, "unknown namespace \"bogus\""),
          "an unknown namespace in the annotation is an error: %s", err.msg);
  json_free (s);

  rc = stage (sbx_stage_namespaces,
              "{\"linux\":{\"namespaces\":[{\"type\":\"pid\",\"path\":\"/proc/42/ns/pid\"},{\"type\":\"mount\"}]}}",
              NULL, &s, &err);
  tap_ok (rc == 0, "joining another container's pid namespace (a pod) is accepted");
  json_free (s);

  /* A namespace given by path is the container's own only when it is not the host's. */
  {
    static const char *const types[][2] = { { "pid", "pid" }, { "mount", "mnt" } }; /* OCI, /proc names */
    for (size_t i = 0; i < 2; i++)
      {
        char spec[512];
        snprintf (spec, sizeof spec,
                  "{\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},"
                  "{\"type\":\"%s\",\"path\":\"/host/%s\"}]}}",
                  types[i][0], types[i][1]);
        /* find_ns takes the last entry of a type: the one by path. */
        rc = stage (sbx_stage_namespaces, spec, NULL, &s, &err);
        tap_ok (rc == -1 && err.code == EPERM && strstr (err.msg, "joins the host's") && strstr (err.msg, types[i][0]),
                "%s namespace by the host's path: refused as sharing it: %s", types[i][0], err.msg);
        json_free (s);
      }
  }
  rc = stage (sbx_stage_namespaces,
              "{\"linux\":{\"namespaces\":[{\"type\":\"mount\"},{\"type\":\"pid\",\"path\":\"/host/pid\"}]}}", NULL,
              &s, &err);
  tap_ok (rc == -1 && err.code == EPERM && strstr (err.msg, "joins the host's pid namespace (/host/pid)"),
          "{type: pid, path: <the host's>} is not a pid namespace: %s", err.msg);
  json_free (s);
  rc = stage (sbx_stage_namespaces,
              "{\"annotations\":{\"run.sbx.allow-host-ns\":\"pid\"},"
              "\"linux\":{\"namespaces\":[{\"type\":\"mount\"},{\"type\":\"pid\",\"path\":\"/host/pid\"}]}}",
              "{\"tenants\":{\"allow_host_ns\":\"pid\"}}", &s, &err);
  tap_ok (rc == 0, "joining the host's pid namespace by path where allowed");
  json_free (s);
  rc = stage (sbx_stage_namespaces,
              "{\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},"
              "{\"type\":\"cgroup\",\"path\":\"/host/cgroup\"}]}}",
              NULL, &s, &err);
  tap_ok (rc == 0 && count_ns (s, "cgroup") == 1
              && json_find (json_arr_at (json_find (json_find (s, "linux"), "namespaces"), 2), "path") == NULL
              && strcmp (last_ns_asked, "cgroup") == 0,
          "the host's cgroup namespace by path: replaced by a new one, as if none was given");
  json_free (s);
  rc = stage (sbx_stage_namespaces,
              "{\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},"
              "{\"type\":\"cgroup\",\"path\":\"/proc/42/ns/cgroup\"}]}}",
              NULL, &s, &err);
  tap_ok (rc == 0 && json_find (json_arr_at (json_find (json_find (s, "linux"), "namespaces"), 2), "path") != NULL,
          "another container's cgroup namespace by path is kept");
  json_free (s);
  rc = stage (sbx_stage_namespaces,
              "{\"linux\":{\"namespaces\":[{\"type\":\"pid\",\"path\":\"/gone/pid\"},{\"type\":\"mount\"}]}}",
              NULL, &s, &err);
  tap_ok (rc == -1 && strstr (err.msg, "cannot tell whether /gone/pid"), "a path that cannot be resolved fails closed: %s",
          err.msg);
  json_free (s);
  rc = stage (sbx_stage_namespaces,
              "{\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},"
              "{\"type\":\"network\",\"path\":\"/gone/net\"}]}}",
              NULL, &s, &err);
  tap_ok (rc == -1 && strstr (err.msg, "/gone/net"), "whatever its type: %s", err.msg);
  json_free (s);

  /* The real resolver, on this process's own namespaces. */
  {
    bool host = false;
    sbx_err e2 = { 0 };
    /* This host's pid 1 may hide its namespaces; sbx's own pid namespace here is the initial one. */
    tap_ok (sbx_ns_is_host ("pid", "/proc/self/ns/pid", &host, &e2) == 0 && host, "the host's pid namespace: %s",
            e2.msg);
    host = false;
    tap_ok (sbx_ns_is_host ("user", "/proc/self/ns/user", &host, &e2) == 0 && host, "the host's user namespace");
    host = false;
    tap_ok (sbx_ns_is_host ("mnt", "/proc/self/ns/mnt", &host, &e2) == 0 && host,
            "sbx's own mount namespace counts as the host's");
    host = true;
    tap_ok (sbx_ns_is_host ("pid", "/proc/self/ns/net", &host, &e2) == 0 && !host,
            "another namespace file is not the host's pid namespace");
    host = true;
    tap_ok (sbx_ns_is_host ("pid", "/dev/null", &host, &e2) == 0 && !host, "nor is a file that is no namespace");
    tap_ok (sbx_ns_is_host ("pid", "/nonexistent/ns", &host, &e2) == -1 && e2.code == ENOENT,
            "a missing path is an error");
    /* When sbx-runtime runs in another pid namespace and pid 1's is hidden (EACCES here: references that do not
       match), the initial pid namespace is still known by its fixed inode.  This test's own is the initial one. */
    host = false;
    tap_ok (sbx_ns_is_host_refs ("pid", "/proc/self/ns/pid", "/proc/self/ns/net%.0s", "/proc/self/ns/ipc%.0s", &host,
                                 &e2)
                    == 0
                && host,
            "the initial pid namespace is the host's by its fixed inode: %s", e2.msg);
    host = true;
    tap_ok (sbx_ns_is_host_refs ("mnt", "/proc/self/ns/mnt", "/proc/self/ns/net%.0s", "/proc/self/ns/ipc%.0s", &host,
                                 &e2)
                    == 0
                && !host,
            "a mount namespace matching no reference is not the host's");
  }

  rc = stage (sbx_stage_namespaces, "{\"linux\":{\"namespaces\":[{\"type\":7}]}}", NULL, &s, &err);
  tap_ok (rc == -1 && err.code == EINVAL, "a namespace whose type is not a string is an error");
  json_free (s);

  rc = stage (sbx_stage_namespaces, "{\"linux\":{\"namespaces\":{\"type\":\"pid\"}}}", NULL, &s, &err);
  tap_ok (rc == -1 && err.code == EINVAL, "linux.namespaces that is not an array is an error: %s", err.msg);
  json_free (s);
}

static void
test_cgroups (void)
{
  json_t *s;
  sbx_err err;
  int rc;

  rc = stage (sbx_stage_cgroups, "{\"linux\":{}}", NULL, &s, &err);
  tap_ok (rc == 0 && pids_limit (s) == SBX_PIDS_LIMIT_DEFAULT, "no pids limit: the default %d is set (got %lld)",
          SBX_PIDS_LIMIT_DEFAULT, pids_limit (s));
  json_free (s);

  rc = stage (sbx_stage_cgroups, "{\"linux\":{\"resources\":{\"pids\":{\"limit\":0}}}}", NULL, &s, &err);
  tap_ok (rc == 0 && pids_limit (s) == SBX_PIDS_LIMIT_DEFAULT, "limit 0 (runc: unset) gets the default");
  json_free (s);

  rc = stage (sbx_stage_cgroups, "{\"linux\":{\"resources\":{\"pids\":{\"limit\":100}}}}", NULL, &s, &err);
  tap_ok (rc == 0 && pids_limit (s) == 100, "the engine's own limit is kept (got %lld)", pids_limit (s));
  json_free (s);

  rc = stage (sbx_stage_cgroups, "{\"linux\":{\"resources\":{\"pids\":{\"limit\":-1}}}}", NULL, &s, &err);
  tap_ok (rc == 0 && pids_limit (s) == -1 && notes == 1, "an explicit unlimited (-1) is kept, with a note");
  json_free (s);

  rc = stage (sbx_stage_cgroups, "{}", "{\"pids_limit\":77}", &s, &err);
  tap_ok (rc == 0 && pids_limit (s) == 77, "sbx.json pids_limit sets the default (got %lld)", pids_limit (s));
  json_free (s);

  rc = stage (sbx_stage_cgroups, "{}", "{\"pids_limit\":0}", &s, &err);
  tap_ok (rc == 0 && pids_limit (s) == -12345, "sbx.json pids_limit 0 disables the default");
  json_free (s);

  rc = stage (sbx_stage_cgroups, "{\"linux\":{\"resources\":{\"pids\":{\"limit\":\"many\"}}}}", NULL, &s, &err);
  tap_ok (rc == -1 && err.code == EINVAL, "a pids limit that is not a number is an error");
  json_free (s);

  rc = stage (sbx_stage_cgroups, "{\"linux\":{\"resources\":{\"pids\":{\"limit\":1.5}}}}", NULL, &s, &err);
  tap_ok (rc == -1 && err.code == EINVAL, "a fractional pids limit is an error");
  json_free (s);
}

static void
test_whole_policy (void)
{
  struct sbx_policy_ctx ctx = { .container_id = "c2", .note = note };
  const char *in = "{\"process\":{\"args\":[\"true\"]},\"linux\":{\"namespaces\":[{\"type\":\"mount\"}]}}";
  json_t *s = parse (in);
  sbx_err err = { 0 };
  int rc = sbx_policy_apply_spec (s, &ctx, &err);

  tap_ok (rc == -1 && strstr (err.msg, "cannot apply sbx policy (namespaces)"),
          "through the whole policy, a host-pid container fails in the namespaces stage: %s", err.msg);
  json_free (s);

  s = parse ("{\"process\":{\"args\":[\"true\"]},\"linux\":{\"namespaces\":" ALL_NS "}}");
  rc = sbx_policy_apply_spec (s, &ctx, &err);
  tap_ok (rc == 0 && count_ns (s, "cgroup") == 1 && pids_limit (s) == SBX_PIDS_LIMIT_DEFAULT,
          "through the whole policy, an engine spec gets a cgroup namespace and the default pids limit");
  json_free (s);
}

int
main (void)
{
  test_namespaces ();
  test_cgroups ();
  test_whole_policy ();
  return tap_done ();
}
