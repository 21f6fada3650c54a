/* cmd_doctor.c - `sbx doctor`: what this host gives sbx, one line per check; exits 1 when hardening cannot work. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/magic.h>

#include "../common/util.h"
#include "../policy/notify.h"
#include "../watcher/watcher.h"
#include "commands.h"
#include "delegate.h"
#include "doctor_host.h"

static int failures, warnings;

static void __attribute__ ((format (printf, 3, 4)))
line (const char *status, const char *item, const char *fmt, ...)
{
  va_list ap;

  if (strcmp (status, "FAIL") == 0)
    failures++;
  else if (strcmp (status, "warn") == 0)
    warnings++;
  printf ("%-4s  %-14s ", status, item);
  va_start (ap, fmt);
  vprintf (fmt, ap);
  va_end (ap);
  putchar ('\n');
}

static void
check_delegate (const struct sbx_config *cfg)
{
  struct sbx_delegate d;
  char *argv[] = { NULL, "--version", NULL };
  cleanup_free char *out = NULL;
  size_t len;
  int status;
  sbx_err err = { 0 };

  if (sbx_delegate_resolve (cfg, &d, &err) < 0)
    {
      line ("FAIL", "delegate", "%s", err.msg);
      return;
    }
  if (sbx_delegate_capture (&d, argv, 1 << 16, &out, &len, &status, &err) < 0 || !WIFEXITED (status)
      || WEXITSTATUS (status) != 0)
    {
      line ("FAIL", "delegate", "%s does not answer --version", d.path);
      return;
    }
  line ("ok", "delegate", "%s: %.*s", d.path, (int) strcspn (out, "\n"), out);
}

static void
check_seccomp (void)
{
  cleanup_free char *avail = NULL;
  size_t len;
  sbx_err err = { 0 };

  if (prctl (PR_GET_SECCOMP, 0, 0, 0, 0) < 0 && errno == EINVAL)
    {
      line ("FAIL", "seccomp", "the kernel has no seccomp (CONFIG_SECCOMP): module syscalls cannot be refused");
      return;
    }
  if (sbx_read_file ("/proc/sys/kernel/seccomp/actions_avail", 4096, &avail, &len, &err) < 0)
    {
      line ("warn", "seccomp", "cannot read the available actions: %s", err.msg);
      return;
    }
  avail[strcspn (avail, "\n")] = '\0';
  if (strstr (avail, "errno") == NULL)
    line ("FAIL", "seccomp", "no SECCOMP_RET_ERRNO (actions: %s)", avail);
  else
    line ("ok", "seccomp", "filter mode, actions: %s", avail);
  if (strstr (avail, "user_notif"))
    line ("ok", "user-notify", "SECCOMP_RET_USER_NOTIF available: refused attempts can be reported");
  else
    line ("warn", "user-notify", "no SECCOMP_RET_USER_NOTIF: module syscalls get a plain EPERM, unreported");
}

static void
check_cgroups (void)
{
  struct statfs s;

  if (statfs ("/sys/fs/cgroup", &s) < 0)
    {
      line ("warn", "cgroups", "/sys/fs/cgroup: %s", strerror (errno));
      return;
    }
  if (s.f_type == CGROUP2_SUPER_MAGIC)
    line ("ok", "cgroups", "unified (cgroup v2 only)");
  else
    {
      struct statfs u;
      bool hybrid = statfs ("/sys/fs/cgroup/unified", &u) == 0 && u.f_type == CGROUP2_SUPER_MAGIC;
      line ("ok", "cgroups", "%s", hybrid ? "hybrid (v1 controllers, cgroup2 at /sys/fs/cgroup/unified)"
                                          : "legacy (cgroup v1)");
      if (hybrid)
        {
          cleanup_free char *ctl = NULL;
          size_t len;
          sbx_err err;
          if (sbx_read_file ("/sys/fs/cgroup/unified/cgroup.controllers", 4096, &ctl, &len, &err) == 0
              && strspn (ctl, " \n") != len)
            line ("warn", "cgroups", "cgroup2 holds controllers (%.*s): crun refuses hybrid hosts like this "
                  "(hack/prepare-host.sh moves them to v1)", (int) strcspn (ctl, "\n"), ctl);
        }
    }
  if (access ("/sys/fs/cgroup/freezer/freezer.state", F_OK) == 0 || access ("/sys/fs/cgroup/freezer", F_OK) == 0
      || access ("/sys/fs/cgroup/cgroup.freeze", F_OK) == 0 || s.f_type == CGROUP2_SUPER_MAGIC)
    line ("ok", "freezer", "available (run.sbx.on-violation=freeze works)");
  else
    line ("warn", "freezer", "no freezer: run.sbx.on-violation=freeze cannot work");
}

static void
check_bpf (const struct sbx_config *cfg)
{
  struct statfs s;
  int live;

  if (statfs ("/sys/fs/bpf", &s) == 0 && s.f_type == BPF_FS_MAGIC)
    line ("ok", "bpffs", "mounted at /sys/fs/bpf");
  else
    line ("warn", "bpffs", "not mounted at /sys/fs/bpf (the watcher mounts it when it pins its hooks)");
  if (!sbx_config_bool (cfg, "bpf.enabled", true))
    line ("ok", "bpf", "off in the watcher (bpf.enabled is false); probed anyway:");
  printf ("%-4s  %-14s probing each hook (nothing is pinned):\n", "", "bpf");
  fflush (stdout);
  live = sbx_bpf_doctor (stdout, "            ", true);
  fflush (stdout);
  if (live < 0)
    line ("warn", "bpf", "no BPF hook can load: only seccomp reports module-load attempts");
  else
    line (live > 0 ? "ok" : "warn", "bpf", "%d hook(s) can load on this host", live);
}

static void
check_watcher (const struct sbx_config *cfg)
{
  char sock[PATH_MAX], jpath[PATH_MAX], dir[PATH_MAX];
  cleanup_free char *out = NULL;
  sbx_err err = { 0 };
  char *slash;

  sbx_watcher_socket (cfg, sock, sizeof sock);
  if (!sbx_config_bool (cfg, "watcher.enabled", true))
    line ("warn", "watcher", "disabled (watcher.enabled is false): module syscalls get a plain EPERM, unreported");
  else if (sbx_watcher_call (sock, "ping", 2000, &out, &err) == 0 && strncmp (out, "ok", 2) == 0)
    line ("ok", "watcher", "reachable at %s (%.*s)", sock, (int) strcspn (out + 3, "\n"), out + 3);
  else if (sbx_config_bool (cfg, "watcher.on_demand", true))
    line ("warn", "watcher", "not running at %s: sbx-runtime will start one on the next create (%s)", sock, err.msg);
  else
    line ("warn", "watcher", "not running at %s and watcher.on_demand is false: module syscalls get a plain EPERM",
          sock);
  sbx_journal_path (cfg, jpath, sizeof jpath);
  snprintf (dir, sizeof dir, "%s", jpath);
  slash = strrchr (dir, '/');
  if (slash)
    *slash = '\0';
  if (access (jpath, W_OK) == 0 || (access (jpath, F_OK) < 0 && access (dir, W_OK) == 0))
    line ("ok", "journal", "%s", jpath);
  else if (access (dir, F_OK) < 0)
    line ("ok", "journal", "%s (its directory is created on the first event)", jpath);
  else
    line ("warn", "journal", "%s is not writable: %s", jpath, strerror (errno));
}

int
sbx_cmd_doctor (int argc, char **argv)
{
  struct sbx_config cfg = { 0 };
  sbx_err err = { 0 };
  const char *path = getenv ("SBX_CONFIG");

  if (argc > 1 && strcmp (argv[1], "--host") == 0)
    return host_doctor_main (argc - 1, argv + 1);
  if (argc > 1)
    {
      fprintf (stderr, "usage: sbx doctor [--host ...]\n");
      return 2;
    }
  if (sbx_config_load (&cfg, &err) < 0)
    line ("FAIL", "config", "%s", err.msg);
  else
    line ("ok", "config", "%s%s", path && *path ? path : SBX_CONFIG_DEFAULT, cfg.root ? "" : " (absent: defaults)");
  printf ("%-4s  %-14s effective settings (docs/settings.md):\n", "", "settings");
  sbx_settings_print (&cfg, stdout, "            ");
  check_delegate (&cfg);
  check_seccomp ();
  check_cgroups ();
  check_bpf (&cfg);
  check_watcher (&cfg);
  printf ("%s: %d problem(s) that stop hardening, %d warning(s)\n", failures ? "FAIL" : "ok", failures, warnings);
  sbx_config_free (&cfg);
  return failures ? 1 : 0;
}
