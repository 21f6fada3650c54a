/* test_hostpaths.c - the host-paths stage: the kernel's helper paths read-only wherever a spec shows them, and the
   mount family refused (judged by running the compiled BPF) for every container whose root may be the host's. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static struct sbx_config optout;

/* Namespace paths here name no real namespace: the namespace stage is told they are not the host's, so what is
   tested is this stage's own rule (a user namespace joined by path may be the host's). */
static int
not_host (const char *procname, const char *path, bool *host, sbx_err *err)
{
  (void) procname;
  (void) path;
  (void) err;
  *host = false;
  return 0;
}

static json_t *
harden_with (const char *spec_json, const struct sbx_config *c, sbx_err *err)
{
  json_t *spec = parse (spec_json);
  struct sbx_policy_ctx ctx
      = { .cfg = c, .container_id = "t", .delegate = SBX_DELEGATE_RUNC, .note = quiet, .ns_is_host = not_host };

  fixture_namespaces (spec);
  if (sbx_policy_apply_spec (spec, &ctx, err) < 0)
    {
      json_free (spec);
      return NULL;
    }
  return spec;
}

static json_t *
harden (const char *spec_json)
{
  sbx_err err;
  json_t *s = harden_with (spec_json, &cfg, &err);

  if (s == NULL)
    printf ("# refused: %s\n", err.msg);
  return s;
}

static size_t
count_ro (const json_t *spec, const char *path)
{
  const json_t *ro = json_find (json_find (spec, "linux"), "readonlyPaths");
  size_t n = 0;

  for (size_t i = 0; i < json_arr_len (ro); i++)
    n += json_str (json_arr_at (ro, i)) && strcmp (json_str (json_arr_at (ro, i)), path) == 0;
  return n;
}

static const char *const fixed[] = {
  "/proc/sys/kernel/modprobe", "/proc/sys/kernel/core_pattern", "/proc/sys/kernel/hotplug",
  "/proc/sys/kernel/poweroff_cmd", "/proc/sys/fs/binfmt_misc", "/sys/kernel/uevent_helper",
  "/sys/module/firmware_class/parameters/path",
};

/* What Docker's --privileged gives runc: every capability, no seccomp, no masked or read-only paths. */
#define PRIVILEGED                                                                                                 \
  "{\"process\":{\"args\":[\"sh\"],\"capabilities\":{\"bounding\":[\"CAP_SYS_ADMIN\",\"CAP_DAC_READ_SEARCH\"],"  \
  "\"effective\":[\"CAP_SYS_ADMIN\"]}},\"annotations\":{\"run.sbx.profile\":\"baseline\"},"                      \
  "\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"                                 \
  "{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\",\"options\":[\"rw\"]}]%s}"

static void
test_paths (void)
{
  char buf[4096];
  json_t *s, *again;
  cleanup_free char *text = NULL;
  size_t len;
  sbx_err err;
  bool all = true, once = true;

  snprintf (buf, sizeof buf, PRIVILEGED, "");
  s = harden (buf);
  tap_ok (s != NULL, "a privileged spec hardens");
  if (s == NULL)
    return;
  for (size_t i = 0; i < SBX_ARRAY_SIZE (fixed); i++)
    if (count_ro (s, fixed[i]) != 1)
      all = false, printf ("# %s: %zu times\n", fixed[i], count_ro (s, fixed[i]));
  tap_ok (all, "privileged: every helper path read-only, once");

  /* runc run after create, a bundle reused: the paths are not added again. */
  if (json_serialize (s, &text, &len, &err) < 0 || (again = harden (text)) == NULL)
    {
      tap_ok (false, "a hardened spec hardens again");
      json_free (s);
      return;
    }
  for (size_t i = 0; i < SBX_ARRAY_SIZE (fixed); i++)
    once &= count_ro (again, fixed[i]) == 1;
  tap_ok (once && json_arr_len (json_find (json_find (again, "linux"), "readonlyPaths"))
                      == json_arr_len (json_find (json_find (s, "linux"), "readonlyPaths")),
          "hardening twice adds nothing");
  json_free (again);
  json_free (s);

  s = harden ("{\"process\":{\"args\":[\"sh\"]},\"linux\":{\"readonlyPaths\":[\"/proc/sys\",\"/proc/sys/kernel/modprobe\"]}}");
  tap_ok (s && count_ro (s, "/proc/sys") == 1 && count_ro (s, "/proc/sys/kernel/modprobe") == 1
              && count_ro (s, "/sys/kernel/uevent_helper") == 1,
          "the engine's own read-only paths kept, not doubled");
  json_free (s);
  s = harden ("{\"linux\":{\"readonlyPaths\":[\"/proc/sys\",7]}}");
  tap_ok (s == NULL, "a readonlyPaths entry that is not a string is refused");
}

/* Kernel files a mount shows somewhere else: a fresh procfs, sysfs, cgroup or binfmt_misc, or a bind of the host's. */
static void
test_mounts (void)
{
  static const struct
  {
    const char *mount, *expect, *what;
  } cases[] = {
    { "{\"destination\":\"/host/proc\",\"type\":\"proc\",\"source\":\"proc\"}", "/host/proc/sys/kernel/modprobe",
      "a second procfs" },
    { "{\"destination\":\"/s\",\"type\":\"sysfs\",\"source\":\"sysfs\"}", "/s/kernel/uevent_helper", "a second sysfs" },
    { "{\"destination\":\"/cg\",\"type\":\"cgroup\",\"source\":\"cgroup\"}", "/cg/release_agent",
      "a cgroup mount: its root's release_agent" },
    { "{\"destination\":\"/cg\",\"type\":\"cgroup\",\"source\":\"cgroup\"}", "/cg/memory/release_agent",
      "a cgroup mount: each hierarchy's" },
    { "{\"destination\":\"/b\",\"type\":\"binfmt_misc\",\"source\":\"binfmt_misc\"}", "/b", "binfmt_misc anywhere" },
    { "{\"destination\":\"/hp\",\"source\":\"/proc\",\"options\":[\"rbind\"]}", "/hp/sys/kernel/core_pattern",
      "a bind of the host's /proc" },
    { "{\"destination\":\"/k\",\"source\":\"/proc/sys/kernel\",\"type\":\"bind\"}", "/k/poweroff_cmd",
      "a bind of /proc/sys/kernel" },
    { "{\"destination\":\"/m\",\"source\":\"/proc/sys/kernel/modprobe\",\"options\":[\"bind\"]}", "/m",
      "a bind of the file itself" },
    { "{\"destination\":\"/host\",\"source\":\"/\",\"options\":[\"rbind\",\"rw\"]}", "/host/sys/kernel/uevent_helper",
      "a bind of the host's / (sysfs under it)" },
    { "{\"destination\":\"/host\",\"source\":\"/\",\"options\":[\"rbind\"]}", "/host/sys/fs/cgroup/pids/release_agent",
      "a bind of the host's / (cgroup hierarchies under it)" },
    { "{\"destination\":\"/sys/fs/cgroup\",\"source\":\"/sys/fs/cgroup\",\"options\":[\"rbind\"]}",
      "/sys/fs/cgroup/cpu,cpuacct/release_agent", "a bind of the host's /sys/fs/cgroup" },
    { "{\"destination\":\"/mem\",\"source\":\"/sys/fs/cgroup/memory\",\"options\":[\"bind\"]}", "/mem/release_agent",
      "a bind of one hierarchy" },
    { "{\"destination\":\"/x\",\"source\":\"/tmp/../proc//./sys\",\"options\":[\"bind\"]}", "/x/kernel/modprobe",
      "a bind whose source hides /proc/sys behind .. and //" },
    { "{\"destination\":\"/y/\",\"source\":\"/sys/\",\"options\":[\"bind\"]}", "/y/kernel/uevent_helper",
      "trailing slashes" },
  };
  char buf[4096];

  for (size_t i = 0; i < SBX_ARRAY_SIZE (cases); i++)
    {
      json_t *s;
      snprintf (buf, sizeof buf, "{\"process\":{\"args\":[\"sh\"]},\"mounts\":[%s]}", cases[i].mount);
      s = harden (buf);
      tap_ok (s && count_ro (s, cases[i].expect) >= 1, "%s: %s read-only", cases[i].what, cases[i].expect);
      json_free (s);
    }
  /* A bind of something else adds nothing for it; a relative source is in the bundle. */
  snprintf (buf, sizeof buf, "{\"mounts\":[{\"destination\":\"/d\",\"source\":\"/procfoo\",\"options\":[\"bind\"]},"
                             "{\"destination\":\"/e\",\"source\":\"proc\",\"options\":[\"bind\"]}]}");
  {
    json_t *s = harden (buf);
    tap_ok (s && json_arr_len (json_find (json_find (s, "linux"), "readonlyPaths")) == SBX_ARRAY_SIZE (fixed),
            "/procfoo and a relative source add nothing");
    json_free (s);
  }
  {
    json_t *s = harden ("{\"mounts\":[{\"type\":\"proc\"}]}");
    tap_ok (s == NULL, "a mount without a destination is refused");
  }
}

static const char *const family[] = {
  "mount", "umount2", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
  "pivot_root", "open_by_handle_at",
};

static bool
family_is (const json_t *s, uint32_t want, const char *what)
{
  bool ok = s != NULL;

  for (size_t i = 0; s && i < SBX_ARRAY_SIZE (family); i++)
    if (verdict (s, family[i], 0, 0, 0) != want)
      ok = false, printf ("# %s: %s gets 0x%x\n", what, family[i], verdict (s, family[i], 0, 0, 0));
  return ok;
}

/* Docker's default filter allows the mount family to CAP_SYS_ADMIN holders, as an allow rule. */
#define ENGINE_ALLOWS_MOUNT                                                                                        \
  "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38,\"syscalls\":[{\"names\":[\"read\","   \
  "\"mount\",\"umount2\",\"open_by_handle_at\",\"write\"],\"action\":\"SCMP_ACT_ALLOW\"},{\"names\":[\"fsopen\"],"   \
  "\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_NE\"}]}]}"

static void
test_mount_family (void)
{
  char buf[4096];
  json_t *s;
  sbx_err err;

  snprintf (buf, sizeof buf, PRIVILEGED, "");
  s = harden (buf);
  tap_ok (family_is (s, ERRNO (1), "privileged"), "privileged, baseline, no engine filter: the mount family gets EPERM");
  tap_ok (s && verdict (s, "getppid", 0, 0, 0) == ALLOW, "privileged, baseline: other calls still allowed");
  json_free (s);

  s = harden ("{\"process\":{\"args\":[\"sh\"]},\"annotations\":{\"run.sbx.profile\":\"baseline\"},"
              "\"linux\":{" ENGINE_ALLOWS_MOUNT "}}");
  tap_ok (family_is (s, ERRNO (1), "engine allows"), "the engine's allow rules for mount do not survive (baseline)");
  tap_ok (s && verdict (s, "read", 0, 0, 0) == ALLOW && verdict (s, "write", 0, 0, 0) == ALLOW,
          "names beside them in the engine's rule kept");
  json_free (s);

  s = harden ("{\"process\":{\"args\":[\"sh\"]},\"linux\":{" ENGINE_ALLOWS_MOUNT "}}");
  tap_ok (family_is (s, ERRNO (1), "default"), "the same under the default profile");
  json_free (s);

  /* A user namespace of its own: its root is not the host's, the kernel refuses its writes; mounts stay. */
  snprintf (buf, sizeof buf, PRIVILEGED,
            ",\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},{\"type\":\"user\"}],"
            "\"uidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}]}");
  s = harden (buf);
  tap_ok (family_is (s, ALLOW, "userns"), "own user namespace, baseline: the mount family left alone");
  tap_ok (s && count_ro (s, "/proc/sys/kernel/core_pattern") == 1, "own user namespace: paths read-only all the same");
  json_free (s);

  snprintf (buf, sizeof buf, PRIVILEGED,
            ",\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},{\"type\":\"user\"}],"
            "\"uidMappings\":[{\"containerID\":0,\"hostID\":0,\"size\":1},"
            "{\"containerID\":1,\"hostID\":100000,\"size\":65535}]}");
  s = harden (buf);
  tap_ok (family_is (s, ERRNO (1), "userns 0->0"), "a user namespace mapping host uid 0: refused as without one");
  json_free (s);

  snprintf (buf, sizeof buf, PRIVILEGED,
            ",\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},{\"type\":\"user\","
            "\"path\":\"/proc/1/ns/user\"}]}");
  s = harden (buf);
  tap_ok (family_is (s, ERRNO (1), "userns by path"), "a user namespace joined by path (maybe the host's): refused");
  json_free (s);

  snprintf (buf, sizeof buf, PRIVILEGED,
            ",\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},{\"type\":\"user\"}],"
            "\"uidMappings\":[{\"containerID\":0,\"hostID\":\"0\",\"size\":1}]}");
  s = harden (buf);
  tap_ok (s == NULL, "a uid mapping that is not numbers is refused");

  /* The operator's opt-out. */
  snprintf (buf, sizeof buf, PRIVILEGED, "");
  s = harden_with (buf, &optout, &err);
  tap_ok (family_is (s, ALLOW, "opt-out"), "sbx.json allow_mount_syscalls: the mount family left to the engine");
  tap_ok (s && count_ro (s, "/proc/sys/kernel/modprobe") == 1, "opt-out: paths still read-only");
  json_free (s);
}

/* A spec hardened for crun before: the engine's filter waits in an annotation beside a stand-in. */
static void
test_standin (void)
{
  const char *in = "{\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"}],\"seccomp\":{"
                   "\"defaultAction\":\"SCMP_ACT_KILL_PROCESS\",\"syscalls\":[]}},\"annotations\":{"
                   "\"run.sbx.seccomp\":\"{\\\"defaultAction\\\":\\\"SCMP_ACT_ALLOW\\\",\\\"syscalls\\\":["
                   "{\\\"names\\\":[\\\"mount\\\"],\\\"action\\\":\\\"SCMP_ACT_ALLOW\\\"}]}\"}}";
  struct sbx_policy_ctx ctx = { .cfg = &cfg, .container_id = "t", .note = quiet };
  json_t *spec = parse (in), *saved = NULL, *fake;
  const char *text;
  sbx_err err;

  tap_ok (sbx_stage_host_paths (spec, &ctx, &err) == 0, "stage runs on a stand-in spec");
  text = json_annotation (spec, SBX_ANN_SECCOMP_SAVED);
  tap_ok (strcmp (json_str (json_find (json_find (json_find (spec, "linux"), "seccomp"), "defaultAction")) ?: "",
                  "SCMP_ACT_KILL_PROCESS") == 0
              && json_arr_len (json_find (json_find (json_find (spec, "linux"), "seccomp"), "syscalls")) == 0,
          "the stand-in is left as it is (the seccomp stage recognizes it)");
  if (text && json_parse (text, strlen (text), "saved", &saved, &err) == 0)
    {
      fake = parse ("{\"linux\":{}}");
      json_set (json_find (fake, "linux"), "seccomp", saved, &err);
      tap_ok (family_is (fake, ERRNO (1), "saved"), "the saved filter carries the block");
      json_free (fake);
    }
  else
    tap_ok (false, "the saved filter parses");
  json_free (spec);
}

int
main (void)
{
  sbx_err err;
  static const char settings[] = "{\"watcher\":{\"enabled\":false},\"tenants\":{\"allow_profile\":true}}";
  static const char opt[]
      = "{\"watcher\":{\"enabled\":false},\"tenants\":{\"allow_profile\":true},\"allow_mount_syscalls\":true}";

  (void) spec_with;

  setenv ("SBX_PROFILES_DIR", "/nonexistent/sbx-profiles", 1);
  setenv ("SBX_SECCOMP_CACHE", "", 1);
  unsetenv ("SBX_CONFIG");
  if (json_parse (settings, sizeof settings - 1, "settings", &cfg.root, &err) < 0
      || json_parse (opt, sizeof opt - 1, "settings", &optout.root, &err) < 0)
    return 1;
  test_paths ();
  test_mounts ();
  test_mount_family ();
  test_standin ();
  return tap_done ();
}
