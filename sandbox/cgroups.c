/* cgroups.c - the sandbox's cgroups with libcgroup: an `sbx` parent with aggregate limits over every sandbox,
   one group per run (its peak memory outlives the runtime's own group), on cgroup v1, v2 and hybrid hosts. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libcgroup.h>
#include <libmount.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "../common/util.h"
#include "sandbox.h"

/* The parent of every sandbox's group: sbx.json "run.cgroup.parent", default "sbx". */
static char cg_parent[64] = "sbx";
static int cg_ready = -1;

int
sbx_cg_configure (const struct sbx_config *cfg, sbx_err *err)
{
  const char *p = sbx_config_str (cfg, "run.cgroup.parent", "sbx");

  if (*p == '\0' || strlen (p) >= sizeof cg_parent || strchr (p, '/') || strcmp (p, ".") == 0
      || strcmp (p, "..") == 0)
    return sbx_fail (err, EINVAL, "sbx.json run.cgroup.parent \"%s\": expected one cgroup name", p);
  strcpy (cg_parent, p);
  return 0;
}

static int
cg_init (sbx_err *err)
{
  int rc;

  if (cg_ready == 0)
    return 0;
  rc = cgroup_init ();
  if (rc != 0)
    return sbx_fail (err, ENODEV, "libcgroup: %s", cgroup_strerror (rc));
  cg_ready = 0;
  return 0;
}

/* Whether CONTROLLER sits on cgroup v2 (unified host, or a hybrid one that moved it there). */
static bool
is_v2 (const char *controller)
{
  char *mnt = NULL;
  struct statfs sf;
  bool v2 = cgroup_get_subsys_mount_point (controller, &mnt) == 0 && statfs (mnt, &sf) == 0
            && sf.f_type == CGROUP2_SUPER_MAGIC;
  free (mnt);
  return v2;
}

static bool
mounted (const char *controller)
{
  char *mnt = NULL;
  bool ok = cgroup_get_subsys_mount_point (controller, &mnt) == 0;
  free (mnt);
  return ok;
}

/* Build a group NAME holding the controllers this host has, each with the given values (NULL = none). */
static struct cgroup *
new_group (const char *name, const char *mem, const char *pids, const char *cpu_quota)
{
  struct cgroup *cg = cgroup_new_cgroup (name);
  struct cgroup_controller *c;

  if (cg == NULL)
    return NULL;
  if (mounted ("memory") && (c = cgroup_add_controller (cg, "memory")) != NULL && mem)
    cgroup_add_value_string (c, is_v2 ("memory") ? "memory.max" : "memory.limit_in_bytes",
                             strcmp (mem, "max") == 0 && !is_v2 ("memory") ? "-1" : mem);
  if (mounted ("pids") && (c = cgroup_add_controller (cg, "pids")) != NULL && pids)
    cgroup_add_value_string (c, "pids.max", pids);
  if (mounted ("cpu") && (c = cgroup_add_controller (cg, "cpu")) != NULL && cpu_quota)
    {
      if (is_v2 ("cpu"))
        {
          char buf[64];
          snprintf (buf, sizeof buf, "%s 100000", cpu_quota);
          cgroup_add_value_string (c, "cpu.max", buf);
        }
      else
        {
          cgroup_add_value_string (c, "cpu.cfs_period_us", "100000");
          cgroup_add_value_string (c, "cpu.cfs_quota_us", strcmp (cpu_quota, "max") == 0 ? "-1" : cpu_quota);
        }
    }
  return cg;
}

void
sbx_cg_path (const char *id, char *out, size_t size)
{
  /* Absolute: runc reads a relative cgroupsPath against its own cgroup, which differs per caller. */
  snprintf (out, size, "/%s/%s/ctr", cg_parent, id);
}

int
sbx_cg_prepare (const struct sbx_config *cfg, const char *id, sbx_err *err)
{
  const char *mem = sbx_config_str (cfg, "run.cgroup.memory", NULL);
  long long pids = sbx_config_int (cfg, "run.cgroup.pids", 0);
  const char *cpus = sbx_config_str (cfg, "run.cgroup.cpus", NULL);
  char membuf[32], pidsbuf[32], quotabuf[32], name[128];
  long long v;
  struct cgroup *cg;
  int rc;

  if (cg_init (err) < 0)
    return -1;
  if (mem && sbx_parse_size (mem, &v) < 0)
    return sbx_fail (err, EINVAL, "sbx.json run.cgroup.memory \"%s\": not a size", mem);
  if (mem)
    snprintf (membuf, sizeof membuf, "%lld", v);
  snprintf (pidsbuf, sizeof pidsbuf, "%lld", pids);
  if (cpus && sbx_parse_cpus (cpus, &v) < 0)
    return sbx_fail (err, EINVAL, "sbx.json run.cgroup.cpus \"%s\": not a number of CPUs", cpus);
  if (cpus)
    snprintf (quotabuf, sizeof quotabuf, "%lld", v);

  /* The parent: its limits bound all sandboxes together, whatever each asks for.  Written on every run, so a
     changed sbx.json takes effect at the next one. */
  cg = new_group (cg_parent, mem ? membuf : "max", pids > 0 ? pidsbuf : "max", cpus ? quotabuf : "max");
  if (cg == NULL)
    return sbx_fail (err, ENOMEM, "cgroup %s", cg_parent);
  rc = cgroup_create_cgroup (cg, 0);
  cgroup_free (&cg);
  if (rc != 0)
    return sbx_fail (err, rc == ECGOTHER ? cgroup_get_last_errno () : EIO, "create cgroup %s: %s", cg_parent,
                     cgroup_strerror (rc));

  snprintf (name, sizeof name, "%s/%s", cg_parent, id);
  cg = new_group (name, NULL, NULL, NULL);
  if (cg == NULL)
    return sbx_fail (err, ENOMEM, "cgroup %s", name);
  rc = cgroup_create_cgroup (cg, 0);
  cgroup_free (&cg);
  if (rc != 0)
    return sbx_fail (err, rc == ECGOTHER ? cgroup_get_last_errno () : EIO, "create cgroup %s: %s", name,
                     cgroup_strerror (rc));
  return 0;
}

long long
sbx_cg_peak_memory (const char *id)
{
  static const char *const files[] = { "memory.max_usage_in_bytes", "memory.peak" };
  char *mnt = NULL;
  char path[PATH_MAX], buf[64];
  long long peak = -1;
  sbx_err err;

  if (cg_init (&err) < 0 || cgroup_get_subsys_mount_point ("memory", &mnt) != 0)
    return -1;
  /* The run's own group (not the runtime's, gone by now) has charged every page of the sandbox.  Read the one
     file directly: cgroup_get_cgroup() would read every file of every controller. */
  for (size_t i = 0; i < SBX_ARRAY_SIZE (files) && peak < 0; i++)
    {
      cleanup_close int fd = -1;
      ssize_t n;

      snprintf (path, sizeof path, "%s/%s/%s/%s", mnt, cg_parent, id, files[i]);
      if ((fd = open (path, O_RDONLY | O_CLOEXEC)) >= 0 && (n = read (fd, buf, sizeof buf - 1)) > 0)
        {
          buf[n] = '\0';
          peak = strtoll (buf, NULL, 10);
        }
    }
  free (mnt);
  return peak;
}

/* Remove DIR and the groups below it, deepest first (a cgroup directory goes with rmdir alone). */
static void
rmdir_tree (const char *dir)
{
  DIR *d = opendir (dir);
  struct dirent *e;

  if (d == NULL)
    return;
  while ((e = readdir (d)) != NULL)
    if (e->d_type == DT_DIR && strcmp (e->d_name, ".") != 0 && strcmp (e->d_name, "..") != 0)
      {
        char sub[PATH_MAX];
        snprintf (sub, sizeof sub, "%s/%s", dir, e->d_name);
        rmdir_tree (sub);
      }
  closedir (d);
  rmdir (dir);
}

/* SIGKILL every process in DIR and below (host pids: sbx runs in the host's pid namespace).  Returns how many
   were signalled. */
static int
kill_tree (const char *dir)
{
  char path[PATH_MAX];
  DIR *d;
  struct dirent *e;
  FILE *f;
  int pid, n = 0;

  snprintf (path, sizeof path, "%s/cgroup.procs", dir);
  if ((f = fopen (path, "re")) != NULL)
    {
      while (fscanf (f, "%d", &pid) == 1)
        if (pid > 1 && kill (pid, SIGKILL) == 0)
          n++;
      fclose (f);
    }
  if ((d = opendir (dir)) == NULL)
    return n;
  while ((e = readdir (d)) != NULL)
    if (e->d_type == DT_DIR && strcmp (e->d_name, ".") != 0 && strcmp (e->d_name, "..") != 0)
      {
        snprintf (path, sizeof path, "%s/%s", dir, e->d_name);
        n += kill_tree (path);
      }
  closedir (d);
  return n;
}

int
sbx_cg_kill (const char *id)
{
  char *mnt = NULL;
  char dir[PATH_MAX];
  struct timespec pause = { 0, 20 * 1000 * 1000 };
  sbx_err err;
  int n = 0;

  if (cg_init (&err) < 0)
    return -1;
  /* The pids (else memory) hierarchy holds every process of the run, whatever the runtime left. */
  if (cgroup_get_subsys_mount_point ("pids", &mnt) != 0 && cgroup_get_subsys_mount_point ("memory", &mnt) != 0)
    return -1;
  snprintf (dir, sizeof dir, "%s/%s/%s", mnt, cg_parent, id);
  free (mnt);
  for (int i = 0; i < 50 && kill_tree (dir) > 0; i++, n++)
    nanosleep (&pause, NULL);
  return n;
}

int
sbx_cg_remove (const char *id, sbx_err *err)
{
  char name[128], path[PATH_MAX];
  struct cgroup *cg;
  struct libmnt_table *tb;
  struct libmnt_iter *it;
  struct libmnt_fs *fs;
  int rc = 0;

  if (cg_init (err) < 0)
    return -1;
  snprintf (name, sizeof name, "%s/%s", cg_parent, id);
  cg = new_group (name, NULL, NULL, NULL);
  if (cg != NULL)
    {
      cgroup_delete_cgroup_ext (cg, CGFLAG_DELETE_RECURSIVE | CGFLAG_DELETE_IGNORE_MIGRATION);
      cgroup_free (&cg);
    }
  /* libcgroup knows the controllers it manages; the runtime also made the group in named hierarchies
     (name=systemd) and, on hybrid hosts, in the controller-less cgroup2 tree.  Sweep every cgroup mount. */
  tb = mnt_new_table_from_file ("/proc/self/mountinfo");
  it = mnt_new_iter (MNT_ITER_FORWARD);
  if (tb == NULL || it == NULL)
    rc = sbx_fail (err, errno ? errno : ENOMEM, "parse /proc/self/mountinfo");
  while (rc == 0 && mnt_table_next_fs (tb, it, &fs) == 0)
    {
      const char *type = mnt_fs_get_fstype (fs);
      if (type == NULL || (strcmp (type, "cgroup") != 0 && strcmp (type, "cgroup2") != 0))
        continue;
      snprintf (path, sizeof path, "%s/%s", mnt_fs_get_target (fs), name);
      rmdir_tree (path);
      if (access (path, F_OK) == 0)
        rc = sbx_fail (err, EBUSY, "remove cgroup %s: still in use", path);
    }
  mnt_free_iter (it);
  mnt_unref_table (tb);
  return rc;
}
