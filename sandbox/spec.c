/* spec.c - the OCI spec of a sandbox: a fixed skeleton (fresh /proc, minimal /dev, private /tmp and /run, every
   namespace) completed from the options; sbx's policy is applied to it afterwards like to any engine's. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/util.h"
#include "sandbox.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Docker's default set: what most programs expect of "root in a container", nothing that reaches the host. */
static const char *const default_caps[]
    = { "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",     "CAP_MKNOD",
        "CAP_NET_RAW", "CAP_SETGID",      "CAP_SETUID",           "CAP_SETFCAP",    "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE" };

static const char skeleton[] = "{"
  "\"ociVersion\":\"1.0.2\","
  "\"process\":{\"user\":{\"uid\":0,\"gid\":0},\"args\":[],\"env\":[],\"cwd\":\"/\",\"noNewPrivileges\":true},"
  "\"root\":{\"path\":\"rootfs\",\"readonly\":true},"
  "\"hostname\":\"sbx\","
  "\"mounts\":["
  "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\",\"options\":[\"nosuid\",\"noexec\",\"nodev\"]},"
  "{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
  "\"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},"
  "{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\","
  "\"options\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\",\"gid=5\"]},"
  "{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\","
  "\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"mode=1777\",\"size=65536k\"]},"
  "{\"destination\":\"/dev/mqueue\",\"type\":\"mqueue\",\"source\":\"mqueue\","
  "\"options\":[\"nosuid\",\"noexec\",\"nodev\"]},"
  "{\"destination\":\"/tmp\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"nosuid\",\"nodev\",\"mode=1777\"]},"
  "{\"destination\":\"/run\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"nosuid\",\"nodev\",\"mode=755\"]}"
  "],"
  "\"linux\":{"
  "\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"cgroup\"}],"
  "\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]},"
  "\"rootfsPropagation\":\"rprivate\","
  "\"maskedPaths\":[\"/proc/acpi\",\"/proc/asound\",\"/proc/kcore\",\"/proc/keys\",\"/proc/latency_stats\","
  "\"/proc/timer_list\",\"/proc/timer_stats\",\"/proc/sched_debug\",\"/sys/firmware\",\"/proc/scsi\"],"
  "\"readonlyPaths\":[\"/proc/bus\",\"/proc/fs\",\"/proc/irq\",\"/proc/sys\",\"/proc/sysrq-trigger\"]"
  "},"
  "\"annotations\":{}"
  "}";

static int
push_str (json_t *arr, const char *s, sbx_err *err)
{
  json_t *v = json_new_str (s);
  if (v == NULL)
    return sbx_fail (err, ENOMEM, "spec");
  return json_arr_push (arr, v, err);
}

static bool
in_list (const char *const *list, size_t n, const char *s)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp (list[i], s) == 0)
      return true;
  return false;
}

/* The capability names of the sandbox: docker's default, minus --cap-drop, plus --cap-add (ALL either way). */
static int
caps_of (const struct sbx_run_opts *o, json_t **out, sbx_err *err)
{
  bool drop_all = in_list (o->cap_drop, o->ncap_drop, "ALL"), add_all = in_list (o->cap_add, o->ncap_add, "ALL");
  json_t *caps = json_new_arr ();
  const char *names[CAP_LAST_CAP + 1];
  size_t n = 0;

  if (caps == NULL)
    return sbx_fail (err, ENOMEM, "capabilities");
  *out = caps;
  if (add_all)
    {
      for (cap_value_t v = 0; v <= CAP_LAST_CAP && cap_valid (v); v++)
        {
          char *t = cap_to_name (v);
          if (t == NULL)
            return sbx_fail (err, ENOMEM, "capabilities");
          for (char *p = t; *p; p++)
            *p = *p >= 'a' && *p <= 'z' ? *p - 32 : *p;
          names[n++] = strdup (t);
          cap_free (t);
        }
    }
  else if (!drop_all)
    for (size_t i = 0; i < SBX_ARRAY_SIZE (default_caps); i++)
      names[n++] = default_caps[i];
  for (size_t i = 0; !add_all && i < o->ncap_add; i++)
    if (!in_list (names, n, o->cap_add[i]) && n < SBX_ARRAY_SIZE (names))
      names[n++] = o->cap_add[i];
  for (size_t i = 0; i < n; i++)
    {
      /* Explicit drops win over ALL; explicit adds win over a drop of ALL. */
      if (names[i] == NULL || (in_list (o->cap_drop, o->ncap_drop, names[i]) && !in_list (o->cap_add, o->ncap_add, names[i])))
        continue;
      if (push_str (caps, names[i], err) < 0)
        return -1;
    }
  for (size_t i = 0; add_all && i < n; i++)
    free ((char *) names[i]);
  return 0;
}

static json_t *
new_mount (const char *dst, const char *type, const char *src, char *const *options)
{
  json_t *m = json_new_obj (), *opts = json_new_arr ();
  sbx_err err;

  if (m == NULL || opts == NULL)
    goto fail;
  if (json_set (m, "destination", json_new_str (dst), &err) < 0 || json_set (m, "type", json_new_str (type), &err) < 0
      || json_set (m, "source", json_new_str (src), &err) < 0)
    goto fail;
  for (; options && *options; options++)
    if (json_arr_push (opts, json_new_str (*options), &err) < 0)
      goto fail;
  if (json_set (m, "options", opts, &err) < 0)
    {
      opts = NULL;
      goto fail;
    }
  return m;
fail:
  json_free (opts);
  json_free (m);
  return NULL;
}

static json_t *
id_mapping (unsigned base, unsigned size)
{
  json_t *arr = json_new_arr (), *m = json_new_obj ();
  sbx_err err;

  if (arr == NULL || m == NULL || json_set (m, "containerID", json_new_int (0), &err) < 0
      || json_set (m, "hostID", json_new_int (base), &err) < 0 || json_set (m, "size", json_new_int (size), &err) < 0
      || json_arr_push (arr, m, &err) < 0)
    {
      json_free (arr);
      return NULL;
    }
  return arr;
}

static bool
env_has (const struct sbx_run_opts *o, const char *key)
{
  size_t n = strlen (key);
  for (size_t i = 0; i < o->nenv; i++)
    if (strncmp (o->env[i], key, n) == 0 && o->env[i][n] == '=')
      return true;
  return false;
}

static int
build_process (json_t *spec, const struct sbx_run_opts *o, const struct sbx_run_plan *p, sbx_err *err)
{
  json_t *process = json_find (spec, "process");
  json_t *args = json_find (process, "args"), *env = json_find (process, "env"), *user = json_find (process, "user");
  json_t *caps = NULL, *capobj;
  char buf[256];

  for (char **a = o->cmd; *a; a++)
    if (push_str (args, *a, err) < 0)
      return -1;
  if (!env_has (o, "PATH") && push_str (env, "PATH=" DEFAULT_PATH, err) < 0)
    return -1;
  if (!env_has (o, "HOME") && push_str (env, o->has_user && o->uid != 0 ? "HOME=/" : "HOME=/root", err) < 0)
    return -1;
  snprintf (buf, sizeof buf, "HOSTNAME=%s", o->hostname ? o->hostname : "sbx");
  if (!env_has (o, "HOSTNAME") && push_str (env, buf, err) < 0)
    return -1;
  if (p->tty && !env_has (o, "TERM"))
    {
      const char *term = getenv ("TERM");
      snprintf (buf, sizeof buf, "TERM=%s", term && *term ? term : "xterm");
      if (push_str (env, buf, err) < 0)
        return -1;
    }
  for (size_t i = 0; i < o->nenv; i++)
    if (push_str (env, o->env[i], err) < 0)
      return -1;
  if (o->has_user
      && (json_set (user, "uid", json_new_int (o->uid), err) < 0 || json_set (user, "gid", json_new_int (o->gid), err) < 0))
    return -1;
  if (o->ngroups > 0)
    {
      json_t *gids = json_new_arr ();
      if (gids == NULL || json_set (user, "additionalGids", gids, err) < 0)
        return gids ? -1 : sbx_fail (err, ENOMEM, "additionalGids");
      for (size_t i = 0; i < o->ngroups; i++)
        if (json_arr_push (gids, json_new_int (o->groups[i]), err) < 0)
          return -1;
    }
  if (o->cwd && json_set (process, "cwd", json_new_str (o->cwd), err) < 0)
    return -1;
  if (json_set (process, "terminal", json_new_bool (p->tty), err) < 0)
    return -1;

  capobj = json_new_obj ();
  if (capobj == NULL || json_set (process, "capabilities", capobj, err) < 0)
    return capobj ? -1 : sbx_fail (err, ENOMEM, "capabilities");
  if (caps_of (o, &caps, err) < 0)
    {
      json_free (caps);
      return -1;
    }
  if (json_set (capobj, "bounding", json_dup (caps), err) < 0 || json_set (capobj, "effective", json_dup (caps), err) < 0
      || json_set (capobj, "permitted", caps, err) < 0)
    return -1;
  return 0;
}

static int
build_linux (json_t *spec, const struct sbx_run_opts *o, const struct sbx_run_plan *p, sbx_err *err)
{
  json_t *lnx = json_find (spec, "linux"), *ns = json_find (lnx, "namespaces"), *res = json_find (lnx, "resources");
  json_t *obj;
  long long pids = o->pids ? o->pids : p->pids_default;

  if (strcmp (o->net, "none") == 0)
    {
      /* A fresh network namespace has only lo; runc and crun bring it up. */
      if ((obj = json_new_obj ()) == NULL || json_set (obj, "type", json_new_str ("network"), err) < 0
          || json_arr_push (ns, obj, err) < 0)
        return -1;
    }
  if (o->userns)
    {
      if ((obj = json_new_obj ()) == NULL || json_set (obj, "type", json_new_str ("user"), err) < 0
          || json_arr_push (ns, obj, err) < 0)
        return -1;
      if (json_set (lnx, "uidMappings", id_mapping (p->userns_base, p->userns_size), err) < 0
          || json_set (lnx, "gidMappings", id_mapping (p->userns_base, p->userns_size), err) < 0)
        return -1;
    }
  if (json_set (lnx, "cgroupsPath", json_new_str (p->cgroups_path), err) < 0)
    return -1;
  if (o->memory > 0)
    {
      if (json_obj_ensure (res, "memory", &obj, err) < 0 || json_set (obj, "limit", json_new_int (o->memory), err) < 0)
        return -1;
    }
  if (pids > 0)
    {
      if (json_obj_ensure (res, "pids", &obj, err) < 0 || json_set (obj, "limit", json_new_int (pids), err) < 0)
        return -1;
    }
  else if (pids < 0)
    {
      /* Explicitly none: the policy's default for engines would otherwise apply. */
      if (json_obj_ensure (res, "pids", &obj, err) < 0 || json_set (obj, "limit", json_new_int (-1), err) < 0)
        return -1;
    }
  if (o->cpu_quota > 0)
    {
      if (json_obj_ensure (res, "cpu", &obj, err) < 0 || json_set (obj, "quota", json_new_int (o->cpu_quota), err) < 0
          || json_set (obj, "period", json_new_int (100000), err) < 0)
        return -1;
    }
  return 0;
}

static int
build_mounts (json_t *spec, const struct sbx_run_opts *o, sbx_err *err)
{
  json_t *mounts = json_find (spec, "mounts"), *m;
  static char *const sysfs_opts[] = { "nosuid", "noexec", "nodev", "ro", NULL };
  static char *const sys_bind_opts[] = { "rbind", "nosuid", "noexec", "nodev", "ro", NULL };
  static char *const cgroup_opts[] = { "nosuid", "noexec", "nodev", "relatime", "ro", NULL };

  /* sysfs can be mounted only by the owner of the network namespace: a user namespace sharing the host's
     network gets the host's /sys bound read-only instead. */
  if (o->userns && strcmp (o->net, "host") == 0)
    m = new_mount ("/sys", "bind", "/sys", sys_bind_opts);
  else
    m = new_mount ("/sys", "sysfs", "sysfs", sysfs_opts);
  if (m == NULL || json_arr_push (mounts, m, err) < 0)
    return m ? -1 : sbx_fail (err, ENOMEM, "mounts");
  if (!(o->userns && strcmp (o->net, "host") == 0))
    {
      m = new_mount ("/sys/fs/cgroup", "cgroup", "cgroup", cgroup_opts);
      if (m == NULL || json_arr_push (mounts, m, err) < 0)
        return m ? -1 : sbx_fail (err, ENOMEM, "mounts");
    }
  for (size_t i = 0; i < o->nmounts; i++)
    {
      const struct sbx_mount_opt *mo = &o->mounts[i];
      m = mo->kind == SBX_MNT_TMPFS ? new_mount (mo->dst, "tmpfs", "tmpfs", mo->options)
                                    : new_mount (mo->dst, "bind", mo->src, mo->options);
      if (m == NULL || json_arr_push (mounts, m, err) < 0)
        return m ? -1 : sbx_fail (err, ENOMEM, "mounts");
    }
  return 0;
}

int
sbx_run_spec (const struct sbx_run_opts *o, const struct sbx_run_plan *p, json_t **out, sbx_err *err)
{
  json_t *spec, *ann;

  if (json_parse (skeleton, sizeof skeleton - 1, "sandbox skeleton", &spec, err) < 0)
    return -1;
  ann = json_find (spec, "annotations");
  if (json_set (json_find (spec, "root"), "path", json_new_str (p->rootfs), err) < 0
      || (o->hostname && json_set (spec, "hostname", json_new_str (o->hostname), err) < 0)
      || build_process (spec, o, p, err) < 0 || build_linux (spec, o, p, err) < 0 || build_mounts (spec, o, err) < 0
      || (o->profile && json_set (ann, "run.sbx.profile", json_new_str (o->profile), err) < 0)
      || (o->on_violation && json_set (ann, "run.sbx.on-violation", json_new_str (o->on_violation), err) < 0))
    {
      json_free (spec);
      return sbx_wrap (err, "build the sandbox's spec");
    }
  *out = spec;
  return 0;
}

static bool
under (const char *path, const char *dir)
{
  size_t n = strlen (dir);
  return strncmp (path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/' || strcmp (dir, "/") == 0);
}

/* The mount points the sandbox always gets fresh (spec skeleton and build_mounts): whatever the root holds below
   them is hidden. */
static const char *const fresh_mounts[] = { "/proc", "/sys", "/dev", "/tmp", "/run" };

/* The fresh mount that hides PATH (strictly below it), or NULL; a --bind/--ro-bind/--tmpfs covering PATH (or a
   parent of it) wins: then the sandbox shows what that mount brings. */
static const char *
hidden_by (const struct sbx_run_opts *o, const char *path)
{
  for (size_t i = 0; i < o->nmounts; i++)
    if (under (path, o->mounts[i].dst))
      return NULL;
  for (size_t i = 0; i < SBX_ARRAY_SIZE (fresh_mounts); i++)
    if (under (path, fresh_mounts[i]) && strcmp (path, fresh_mounts[i]) != 0)
      return fresh_mounts[i];
  return NULL;
}

/* 0 when PATH names an executable file in ROOTFD, else SBX_RUN_ENOENT or SBX_RUN_ENOEXEC. */
static int
check_in_root (int rootfd, const char *path)
{
  struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
  int fd = syscall (SYS_openat2, rootfd, path, &how, sizeof how);
  struct stat st;
  int rc;

  if (fd < 0)
    return errno == ENOENT || errno == ENOTDIR ? SBX_RUN_ENOENT : 0;
  rc = fstat (fd, &st) == 0 && (!S_ISREG (st.st_mode) || !(st.st_mode & 0111)) ? SBX_RUN_ENOEXEC : 0;
  close (fd);
  return rc;
}

/* PATH exists in ROOTFD (resolved inside it). */
static bool
exists_in_root (int rootfd, const char *path)
{
  struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
  int fd = syscall (SYS_openat2, rootfd, path, &how, sizeof how);

  if (fd < 0)
    return false;
  close (fd);
  return true;
}

/* A command path below a fresh mount: the sandbox cannot see it, whatever the root holds there (a clone of the
   project under /tmp, a binary in /run...).  Said here, naming the mount and the way out, rather than as the
   runtime's bare "not found". */
static int
hidden_cmd (int rootfd, const char *cmd, const char *mnt, char *why, size_t size)
{
  if (exists_in_root (rootfd, cmd))
    snprintf (why, size,
              "%s: hidden in the sandbox by its fresh %s (sbx run mounts its own %s over the root's); bring it in "
              "with --ro-bind %s %s (or another DST)",
              cmd, mnt, mnt, cmd, cmd);
  else
    snprintf (why, size,
              "%s: command not found in the sandbox: its %s is a fresh, empty mount (bring a file in with "
              "--ro-bind SRC DST)",
              cmd, mnt);
  return SBX_RUN_ENOENT;
}

int
sbx_run_check_cmd (const struct sbx_run_opts *o, const char *rootfs_source, char *why, size_t size)
{
  const char *cmd = o->cmd[0], *path = DEFAULT_PATH, *mnt;
  cleanup_close int rootfd = open (rootfs_source, O_PATH | O_DIRECTORY | O_CLOEXEC);
  char full[4096];
  int rc = SBX_RUN_ENOENT;

  if (rootfd < 0)
    return 0; /* the runtime will say what is wrong */
  for (size_t i = 0; i < o->nenv; i++)
    if (strncmp (o->env[i], "PATH=", 5) == 0)
      path = o->env[i] + 5;
  if (strchr (cmd, '/'))
    {
      /* Relative to the working directory, or in a tree the sandbox mounts itself: leave it to the runtime. */
      if (cmd[0] != '/')
        return 0;
      if ((mnt = hidden_by (o, cmd)) != NULL)
        return hidden_cmd (rootfd, cmd, mnt, why, size);
      for (size_t i = 0; i < o->nmounts; i++)
        if (under (cmd, o->mounts[i].dst))
          return 0;
      for (size_t i = 0; i < SBX_ARRAY_SIZE (fresh_mounts); i++)
        if (under (cmd, fresh_mounts[i]))
          return 0;
      rc = check_in_root (rootfd, cmd);
    }
  else
    for (const char *p = path; *p;)
      {
        size_t len = strcspn (p, ":");
        bool mounted = false;

        snprintf (full, sizeof full, "%.*s/%s", (int) len, p, cmd);
        p += len + (p[len] == ':');
        for (size_t i = 0; i < o->nmounts; i++)
          mounted |= under (full, o->mounts[i].dst);
        if (mounted || full[0] != '/')
          return 0;
        /* A PATH directory below a fresh mount is empty in the sandbox: the root's copy does not count. */
        if (hidden_by (o, full) != NULL)
          continue;
        switch (check_in_root (rootfd, full))
          {
          case 0:
            return 0;
          case SBX_RUN_ENOEXEC:
            rc = SBX_RUN_ENOEXEC; /* like a shell: found but not runnable beats not found */
            break;
          }
      }
  if (rc == SBX_RUN_ENOENT)
    snprintf (why, size, "%s: command not found in the sandbox", cmd);
  else if (rc == SBX_RUN_ENOEXEC)
    snprintf (why, size, "%s: not an executable file", cmd);
  return rc;
}

int
sbx_run_check_cwd (const struct sbx_run_opts *o, const char *rootfs_source, char *why, size_t size)
{
  struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                          .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
  cleanup_close int rootfd = open (rootfs_source, O_PATH | O_DIRECTORY | O_CLOEXEC), fd = -1;
  const char *mnt;

  if (o->cwd == NULL || rootfd < 0)
    return 0;
  if ((mnt = hidden_by (o, o->cwd)) != NULL)
    {
      /* The root's directory there is hidden: starting in an empty one the runtime makes would look like data
         lost.  One that exists nowhere is made by the runtime in the fresh mount, as before. */
      if (!exists_in_root (rootfd, o->cwd))
        return 0;
      snprintf (why, size,
                "--cwd %s: hidden in the sandbox by its fresh %s (sbx run mounts its own %s over the root's); "
                "bring it in with --bind %s %s (or --bind-cwd)",
                o->cwd, mnt, mnt, o->cwd, o->cwd);
      return SBX_RUN_EFAIL;
    }
  for (size_t i = 0; i < o->nmounts; i++)
    if (under (o->cwd, o->mounts[i].dst))
      return 0;
  for (size_t i = 0; i < SBX_ARRAY_SIZE (fresh_mounts); i++)
    if (under (o->cwd, fresh_mounts[i]))
      return 0;
  fd = syscall (SYS_openat2, rootfd, o->cwd, &how, sizeof how);
  if (fd >= 0 || (errno != ENOENT && errno != ENOTDIR))
    return 0;
  /* The runtime would try to create it in a read-only root and fail with a less useful message. */
  snprintf (why, size, "--cwd %s: no such directory in the sandbox", o->cwd);
  return SBX_RUN_EFAIL;
}
