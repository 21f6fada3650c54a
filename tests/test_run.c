/* test_run.c - `sbx run` without running anything: option parsing and checks, mount options, the spec built
   from options and hardened by the policy. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../common/sha256.h"
#include "../oci/json.h"
#include "../policy/policy.h"
#include "../sandbox/sandbox.h"
#include "tap.h"

static void
quiet (enum sbx_level level, const char *fmt, ...)
{
  (void) level;
  (void) fmt;
}

/* Parse a NULL-terminated list of words after "run"; returns sbx_run_parse's value. */
static int
parse (struct sbx_run_opts *o, sbx_err *err, ...)
{
  static char *argv[64];
  int argc = 0;
  va_list ap;
  char *a;

  argv[argc++] = "run";
  va_start (ap, err);
  while ((a = va_arg (ap, char *)) != NULL && argc < 63)
    argv[argc++] = a;
  va_end (ap);
  argv[argc] = NULL;
  memset (err, 0, sizeof *err);
  return sbx_run_parse (argc, argv, o, err);
}

static void
expect_error (const char *what, const char *needle, int rc, const sbx_err *err)
{
  tap_ok (rc == -1 && strstr (err->msg, needle) != NULL, "%s: refused naming it (%s)", what, err->msg);
}

static void
test_sizes (void)
{
  long long v = 0;

  tap_ok (sbx_parse_size ("512m", &v) == 0 && v == 512LL << 20, "512m = %lld", v);
  tap_ok (sbx_parse_size ("1g", &v) == 0 && v == 1LL << 30, "1g = %lld", v);
  tap_ok (sbx_parse_size ("1.5G", &v) == 0 && v == 3LL << 29, "1.5G = %lld", v);
  tap_ok (sbx_parse_size ("64kb", &v) == 0 && v == 64LL << 10, "64kb = %lld", v);
  tap_ok (sbx_parse_size ("4096", &v) == 0 && v == 4096, "4096 = %lld", v);
  tap_ok (sbx_parse_size ("10x", &v) == -1, "10x is not a size");
  tap_ok (sbx_parse_size ("", &v) == -1 && sbx_parse_size ("-1m", &v) == -1 && sbx_parse_size ("m", &v) == -1,
          "empty, negative and unit-only are not sizes");
  tap_ok (sbx_parse_cpus ("0.5", &v) == 0 && v == 50000, "0.5 CPUs = quota 50000/100000 (got %lld)", v);
  tap_ok (sbx_parse_cpus ("2", &v) == 0 && v == 200000, "2 CPUs = quota 200000");
  tap_ok (sbx_parse_cpus ("0", &v) == -1 && sbx_parse_cpus ("0.001", &v) == -1 && sbx_parse_cpus ("x", &v) == -1,
          "0, below 1 ms and words are not CPU counts");
}

static void
test_caps_and_paths (void)
{
  char buf[64];
  char *p = NULL;
  sbx_err err;

  tap_ok (sbx_cap_canonical ("net_admin", buf, sizeof buf, &err) == 0 && strcmp (buf, "CAP_NET_ADMIN") == 0,
          "net_admin -> %s", buf);
  tap_ok (sbx_cap_canonical ("CAP_SYS_PTRACE", buf, sizeof buf, &err) == 0 && strcmp (buf, "CAP_SYS_PTRACE") == 0,
          "CAP_SYS_PTRACE -> %s", buf);
  tap_ok (sbx_cap_canonical ("Cap_Chown", buf, sizeof buf, &err) == 0 && strcmp (buf, "CAP_CHOWN") == 0,
          "mixed case -> %s", buf);
  tap_ok (sbx_cap_canonical ("FLY", buf, sizeof buf, &err) == -1 && strstr (err.msg, "unknown to libcap"),
          "an unknown capability is refused by libcap: %s", err.msg);
  tap_ok (sbx_cap_canonical ("12", buf, sizeof buf, &err) == -1, "a capability number is refused");

  tap_ok (sbx_path_normalise ("/a/./b//c/", &p, &err) == 0 && strcmp (p, "/a/b/c") == 0, "/a/./b//c/ -> %s", p);
  free (p);
  tap_ok (sbx_path_normalise ("/a/../etc", &p, &err) == -1 && err.code == EINVAL, "\"..\" is refused");
  tap_ok (sbx_path_normalise ("rel/x", &p, &err) == -1, "a relative path is refused");
}

static bool
has_opt (const struct sbx_mount_opt *m, const char *opt)
{
  for (char **o = m->options; o && *o; o++)
    if (strcmp (*o, opt) == 0)
      return true;
  return false;
}

static void
test_mounts (void)
{
  struct sbx_mount_opt m;
  sbx_err err;
  int rc;

  rc = sbx_mount_bind (SBX_MNT_BIND, "/proc", "/hostproc", &m, &err);
  tap_ok (rc == -1 && err.code == EPERM, "--bind /proc is refused with EPERM: %s", err.msg);
  sbx_mount_opt_free (&m);
  rc = sbx_mount_bind (SBX_MNT_BIND, "/sys/kernel", "/k", &m, &err);
  tap_ok (rc == -1 && err.code == EPERM, "--bind /sys/kernel is refused with EPERM");
  sbx_mount_opt_free (&m);
  rc = sbx_mount_bind (SBX_MNT_BIND, "/proc/self/../1/..", "/p", &m, &err);
  tap_ok (rc == -1 && err.code == EPERM, "--bind of /proc spelled otherwise is refused too");
  sbx_mount_opt_free (&m);
  rc = sbx_mount_bind (SBX_MNT_BIND, "/sys/fs/cgroup/..", "/c", &m, &err);
  tap_ok (rc == -1 && err.code == EPERM, "--bind of /sys through a subdirectory is refused");
  sbx_mount_opt_free (&m);
  rc = sbx_mount_bind (SBX_MNT_RO_BIND, "/proc", "/hostproc", &m, &err);
  tap_ok (rc == 0 && has_opt (&m, "ro") && has_opt (&m, "rbind") && has_opt (&m, "rprivate"),
          "--ro-bind /proc is allowed: ro, rbind, rprivate");
  sbx_mount_opt_free (&m);
  rc = sbx_mount_bind (SBX_MNT_BIND, "/etc//", "/data/./x", &m, &err);
  tap_ok (rc == 0 && strcmp (m.src, "/etc") == 0 && strcmp (m.dst, "/data/x") == 0 && m.is_dir && has_opt (&m, "rw"),
          "--bind: canonical source and normalised destination, rw");
  sbx_mount_opt_free (&m);
  rc = sbx_mount_bind (SBX_MNT_BIND, "/nonexistent-sbx", "/x", &m, &err);
  tap_ok (rc == -1 && err.code == ENOENT, "a missing source is ENOENT: %s", err.msg);
  sbx_mount_opt_free (&m);
  rc = sbx_mount_bind (SBX_MNT_RO_BIND, "/etc", "/", &m, &err);
  tap_ok (rc == -1 && err.code == EINVAL, "destination / is refused");
  sbx_mount_opt_free (&m);
  rc = sbx_mount_bind (SBX_MNT_RO_BIND, "/etc", "/proc/sys", &m, &err);
  tap_ok (rc == -1 && err.code == EINVAL, "a destination under /proc is refused");
  sbx_mount_opt_free (&m);
  rc = sbx_mount_bind (SBX_MNT_RO_BIND, "/etc/hostname", "/h", &m, &err);
  tap_ok (rc == 0 && !m.is_dir, "a file can be bound");
  sbx_mount_opt_free (&m);

  rc = sbx_mount_tmpfs ("/scratch:size=1m,mode=700,noexec", &m, &err);
  tap_ok (rc == 0 && strcmp (m.dst, "/scratch") == 0 && has_opt (&m, "size=1m") && has_opt (&m, "mode=700")
              && has_opt (&m, "noexec") && has_opt (&m, "nosuid") && !has_opt (&m, "mode=1777"),
          "--tmpfs /scratch:size=1m,mode=700,noexec keeps its options (no default mode)");
  sbx_mount_opt_free (&m);
  rc = sbx_mount_tmpfs ("/t", &m, &err);
  tap_ok (rc == 0 && has_opt (&m, "mode=1777") && has_opt (&m, "nodev"), "--tmpfs /t: mode=1777,nosuid,nodev");
  sbx_mount_opt_free (&m);
  rc = sbx_mount_tmpfs ("/t:bogus=1", &m, &err);
  tap_ok (rc == -1 && strstr (err.msg, "not a tmpfs option"), "an unknown tmpfs option is refused: %s", err.msg);
  sbx_mount_opt_free (&m);
  rc = sbx_mount_tmpfs ("/t:size=lots", &m, &err);
  tap_ok (rc == -1 && strstr (err.msg, "invalid value"), "size=lots is refused");
  sbx_mount_opt_free (&m);
  rc = sbx_mount_tmpfs ("/t:size=50%", &m, &err);
  tap_ok (rc == 0 && has_opt (&m, "size=50%"), "size=50%% is accepted");
  sbx_mount_opt_free (&m);
  rc = sbx_mount_tmpfs ("/t:mode=999", &m, &err);
  tap_ok (rc == -1, "mode=999 (not octal) is refused");
  sbx_mount_opt_free (&m);
  rc = sbx_mount_tmpfs ("/t:noauto", &m, &err);
  tap_ok (rc == -1 && strstr (err.msg, "userspace"), "userspace options (noauto) are refused: %s", err.msg);
  sbx_mount_opt_free (&m);
}

static void
test_parse (void)
{
  struct sbx_run_opts o;
  sbx_err err;
  int rc;

  rc = parse (&o, &err, "--net", "bogus", "true", NULL);
  expect_error ("--net bogus", "--net bogus", rc, &err);
  rc = parse (&o, &err, "--memory", "1k", "true", NULL);
  expect_error ("--memory 1k", "minimum", rc, &err);
  rc = parse (&o, &err, "--memory", "lots", "true", NULL);
  expect_error ("--memory lots", "--memory lots: not a size", rc, &err);
  rc = parse (&o, &err, "--pids", "0", "true", NULL);
  expect_error ("--pids 0", "--pids 0", rc, &err);
  rc = parse (&o, &err, "--user", "bob", "true", NULL);
  expect_error ("--user bob", "numeric UID", rc, &err);
  rc = parse (&o, &err, "--on-violation", "explode", "true", NULL);
  expect_error ("--on-violation explode", "log, freeze or kill", rc, &err);
  rc = parse (&o, &err, "--hostname", "-x", "true", NULL);
  expect_error ("--hostname -x", "--hostname", rc, &err);
  rc = parse (&o, &err, "--cap-add", "FLY", "true", NULL);
  expect_error ("--cap-add FLY", "--cap-add", rc, &err);
  rc = parse (&o, &err, "--frobnicate", "true", NULL);
  expect_error ("unknown option", "unknown option '--frobnicate'", rc, &err);
  rc = parse (&o, &err, "--memory", NULL);
  expect_error ("--memory without a value", "needs a value", rc, &err);
  rc = parse (&o, &err, "--bind", "/etc", NULL);
  expect_error ("--bind with one argument", "SRC DST", rc, &err);
  rc = parse (&o, &err, "--bind", "/proc", "/p", "true", NULL);
  expect_error ("--bind /proc", "never bound writable", rc, &err);
  rc = parse (&o, &err, "--cwd", "rel", "true", NULL);
  expect_error ("--cwd rel", "absolute", rc, &err);
  rc = parse (&o, &err, "--net", "none", NULL);
  expect_error ("no command", "no command", rc, &err);
  rc = parse (&o, &err, "--rootfs", "/etc/hostname", "true", NULL);
  expect_error ("--rootfs FILE", "not a directory", rc, &err);
  rc = parse (&o, &err, "--rootfs", "/", "--image", "/etc/hostname", "true", NULL);
  expect_error ("--rootfs with --image", "one root only", rc, &err);
  rc = parse (&o, &err, "--userns", "--user", "70000", "true", NULL);
  expect_error ("--userns --user 70000", "mapped", rc, &err);
  rc = parse (&o, &err, "--cpus", "1000", "true", NULL);
  expect_error ("--cpus 1000", "more than the host's CPUs", rc, &err);

  rc = parse (&o, &err, "--help", NULL);
  tap_ok (rc == 1, "--help asks for the usage");

  rc = parse (&o, &err, "--net", "host", "-e", "A=1", "--env", "B=2", "-u", "1000:100", "--hostname", "box", "-w",
              "/etc", "-m", "64m", "--pids", "50", "--cpus", "0.5", "--cap-add", "net_admin", "--cap-drop", "ALL",
              "--userns", "--on-violation", "kill", "--json", "--profile", "strict", "--ro-bind", "/etc", "/e",
              "--tmpfs", "/scratch", "--", "sh", "-c", "echo hi", NULL);
  tap_ok (rc == 0, "every option together parses (%s)", err.msg);
  tap_ok (rc == 0 && strcmp (o.net, "host") == 0 && o.nenv == 2 && o.has_user && o.uid == 1000 && o.gid == 100
              && strcmp (o.hostname, "box") == 0 && strcmp (o.cwd, "/etc") == 0 && o.memory == 64LL << 20
              && o.pids == 50 && o.cpu_quota == 50000 && o.userns && o.json && strcmp (o.on_violation, "kill") == 0
              && strcmp (o.profile, "strict") == 0 && o.nmounts == 2 && o.ncap_add == 1
              && strcmp (o.cap_add[0], "CAP_NET_ADMIN") == 0 && strcmp (o.cap_drop[0], "ALL") == 0,
          "and every value lands where it belongs");
  tap_ok (rc == 0 && strcmp (o.cmd[0], "sh") == 0 && strcmp (o.cmd[2], "echo hi") == 0 && o.cmd[3] == NULL,
          "the command follows --");
  if (rc == 0)
    sbx_run_opts_free (&o);

  rc = parse (&o, &err, "ls", "-l", "--net", "x", NULL);
  tap_ok (rc == 0 && strcmp (o.cmd[1], "-l") == 0 && strcmp (o.cmd[2], "--net") == 0,
          "options after the command are the command's");
  if (rc == 0)
    sbx_run_opts_free (&o);
}

static json_t *
at (json_t *v, const char *path)
{
  char key[64];
  while (v && *path)
    {
      size_t n = strcspn (path, ".");
      snprintf (key, sizeof key, "%.*s", (int) n, path);
      if (json_is (v, JSON_ARRAY))
        v = json_arr_at (v, strtoul (key, NULL, 10));
      else
        v = json_find (v, key);
      path += n + (path[n] == '.');
    }
  return v;
}

static bool
arr_has (json_t *arr, const char *field, const char *val)
{
  for (size_t i = 0; i < json_arr_len (arr); i++)
    {
      json_t *e = json_arr_at (arr, i);
      const char *s = json_str (field ? json_find (e, field) : e);
      if (s && strcmp (s, val) == 0)
        return true;
    }
  return false;
}

static long long
num (json_t *v)
{
  long long n = -999;
  json_num_int (v, &n);
  return n;
}

static void
test_spec (void)
{
  struct sbx_run_opts o;
  struct sbx_run_plan plan = { .id = "sbx-test", .rootfs = "/run/sbx/run/sbx-test/rootfs",
                               .cgroups_path = "/sbx/sbx-test/ctr", .pids_default = 1024,
                               .userns_base = 100000, .userns_size = 65536 };
  struct sbx_policy_ctx ctx = { .container_id = "sbx-test", .note = quiet };
  json_t *spec = NULL, *caps;
  sbx_err err;
  int rc;

  rc = parse (&o, &err, "-e", "FOO=bar", "--cap-drop", "all", "--cap-add", "NET_ADMIN", "--cap-add", "sys_module",
              "--profile", "strict", "--on-violation", "freeze", "true", NULL);
  rc = rc == 0 ? sbx_run_spec (&o, &plan, &spec, &err) : rc;
  tap_ok (rc == 0, "the spec builds (%s)", err.msg);
  tap_ok (rc == 0 && strcmp (json_annotation (spec, "run.sbx.profile") ?: "", "strict") == 0,
          "--profile becomes annotation run.sbx.profile for the profile stage");
  rc = rc == 0 ? sbx_policy_apply_spec (spec, &ctx, &err) : rc;
  tap_ok (rc == 0, "and sbx's policy accepts it (%s)", err.msg);
  if (rc != 0)
    return;
  tap_ok (json_is_true (at (spec, "root.readonly")), "the root is read-only");
  tap_is_str (json_str (at (spec, "root.path")), plan.rootfs, "root.path is the run's mount point");
  tap_is_str (json_str (at (spec, "linux.cgroupsPath")), "/sbx/sbx-test/ctr", "cgroupsPath under sbx/ID");
  for (const char *const *t = (const char *const[]) { "pid", "mount", "ipc", "uts", "network", "cgroup", NULL }; *t;
       t++)
    tap_ok (arr_has (at (spec, "linux.namespaces"), "type", *t), "namespace %s", *t);
  tap_ok (!arr_has (at (spec, "linux.namespaces"), "type", "user"), "no user namespace without --userns");
  caps = at (spec, "process.capabilities.bounding");
  tap_ok (json_arr_len (caps) == 1 && arr_has (caps, NULL, "CAP_NET_ADMIN"),
          "--cap-drop all --cap-add NET_ADMIN --cap-add sys_module: only NET_ADMIN (the policy drops SYS_MODULE)");
  tap_ok (json_arr_len (at (spec, "process.capabilities.effective")) == 1, "effective set likewise");
  tap_ok (arr_has (at (spec, "process.env"), NULL, "FOO=bar") && arr_has (at (spec, "process.env"), NULL,
          "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"), "env: FOO and the default PATH");
  tap_ok (num (at (spec, "linux.resources.pids.limit")) == 1024, "pids default 1024 for sbx run");
  tap_ok (json_is_true (at (spec, "process.noNewPrivileges")), "no_new_privs");
  tap_is_str (json_annotation (spec, "run.sbx.on-violation"), "freeze", "--on-violation recorded");
  tap_ok (arr_has (at (spec, "mounts"), "destination", "/tmp") && arr_has (at (spec, "mounts"), "destination", "/run")
              && arr_has (at (spec, "mounts"), "destination", "/proc") && arr_has (at (spec, "mounts"), "destination", "/dev"),
          "fresh /proc, /dev, /tmp and /run");
  tap_ok (json_is (at (spec, "linux.seccomp"), JSON_OBJECT), "the policy added a seccomp filter");
  json_free (spec);
  sbx_run_opts_free (&o);

  rc = parse (&o, &err, "--userns", "--net", "host", "-m", "32m", "--pids", "max", "--cpus", "1", "--tmpfs",
              "/scratch:size=2m", "--hostname", "h1", "true", NULL);
  rc = rc == 0 ? sbx_run_spec (&o, &plan, &spec, &err) : rc;
  rc = rc == 0 ? sbx_policy_apply_spec (spec, &ctx, &err) : rc;
  tap_ok (rc == 0, "a --userns --net host spec builds and passes the policy (%s)", err.msg);
  if (rc != 0)
    return;
  tap_ok (arr_has (at (spec, "linux.namespaces"), "type", "user")
              && !arr_has (at (spec, "linux.namespaces"), "type", "network"),
          "user namespace, host network");
  tap_ok (num (at (spec, "linux.uidMappings.0.hostID")) == 100000 && num (at (spec, "linux.uidMappings.0.size")) == 65536
              && num (at (spec, "linux.gidMappings.0.containerID")) == 0,
          "root maps to host 100000, 65536 ids");
  tap_is_str (json_str (at (spec, "hostname")), "h1", "hostname");
  tap_ok (num (at (spec, "linux.resources.memory.limit")) == 32LL << 20, "memory limit 32m");
  tap_ok (num (at (spec, "linux.resources.pids.limit")) == -1, "--pids max: explicitly unlimited, not the default");
  tap_ok (num (at (spec, "linux.resources.cpu.quota")) == 100000 && num (at (spec, "linux.resources.cpu.period")) == 100000,
          "cpu quota 100000 per 100000");
  tap_ok (arr_has (at (spec, "mounts"), "destination", "/scratch"), "--tmpfs /scratch in the mounts");
  tap_is_str (json_str (at (spec, "mounts.7.type")), "bind", "with the host network, /sys is the host's bound read-only");
  json_free (spec);
  sbx_run_opts_free (&o);
}

static void
test_sha256 (void)
{
  static const struct
  {
    const char *in, *hex;
  } v[] = {
    { "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
    { "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
    { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
  };
  unsigned char out[32];
  char hex[65];

  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
    {
      sbx_sha256 (v[i].in, strlen (v[i].in), out);
      for (int j = 0; j < 32; j++)
        snprintf (hex + 2 * j, 3, "%02x", out[j]);
      tap_is_str (hex, v[i].hex, "sha256 of a %zu-byte FIPS 180 test vector", strlen (v[i].in));
    }
}

int
main (void)
{
  test_sha256 ();
  test_sizes ();
  test_caps_and_paths ();
  test_mounts ();
  test_parse ();
  test_spec ();
  return tap_done ();
}
