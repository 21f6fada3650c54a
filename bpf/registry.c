/* registry.c - which containers the BPF hooks refuse and attribute: registration maps, counters, task keys. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "sbx_bpf_int.h"

static void
cleanup_filep (FILE **f)
{
  if (*f)
    fclose (*f);
}
static void
cleanup_freep (void *p)
{
  free (*(void **) p);
}
#define cleanup_file __attribute__ ((cleanup (cleanup_filep)))
#define cleanup_free __attribute__ ((cleanup (cleanup_freep)))

/* Mount point of the cgroup v2 hierarchy (on hybrid hosts /sys/fs/cgroup/unified, else /sys/fs/cgroup). */
static int
cgroup2_mount (char *out, size_t size, sbx_err *err)
{
  cleanup_file FILE *f = fopen ("/proc/self/mountinfo", "re");
  cleanup_free char *line = NULL;
  size_t cap = 0;

  if (f == NULL)
    return sbx_fail (err, errno, "open /proc/self/mountinfo");
  while (getline (&line, &cap, f) > 0)
    {
      char root[4096], mnt[4096];
      const char *sep = strstr (line, " - ");

      if (sep == NULL || strncmp (sep, " - cgroup2 ", 11) != 0)
        continue;
      if (sscanf (line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2 || strcmp (root, "/") != 0)
        continue;
      if (strlen (mnt) >= size)
        return sbx_fail (err, ENAMETOOLONG, "cgroup2 mount point %s", mnt);
      strcpy (out, mnt);
      return 0;
    }
  return sbx_fail (err, ENOENT, "find the cgroup2 mount in /proc/self/mountinfo (no cgroup v2 hierarchy?)");
}

/* PID's cgroup v2 path, from the "0::" line of /proc/PID/cgroup. */
static int
cgroup2_path (pid_t pid, char *out, size_t size, sbx_err *err)
{
  char file[64];
  cleanup_file FILE *f = NULL;
  cleanup_free char *line = NULL;
  size_t cap = 0;
  ssize_t n;

  snprintf (file, sizeof file, "/proc/%d/cgroup", (int) pid);
  f = fopen (file, "re");
  if (f == NULL)
    return sbx_fail (err, errno, "open %s", file);
  while ((n = getline (&line, &cap, f)) > 0)
    {
      if (strncmp (line, "0::", 3) != 0)
        continue;
      if (line[n - 1] == '\n')
        line[--n] = '\0';
      if ((size_t) n - 3 >= size)
        return sbx_fail (err, ENAMETOOLONG, "cgroup path of pid %d", (int) pid);
      strcpy (out, line + 3);
      return 0;
    }
  return sbx_fail (err, ENOENT, "pid %d has no cgroup v2 path in %s", (int) pid, file);
}

/* The id bpf_get_current_cgroup_id returns is the kernfs node id, which the kernel exposes as the dir's file
   handle (and, on 64-bit, as its inode number). */
static int
cgroup_dir_id (const char *dir, uint64_t *id, sbx_err *err)
{
  struct
  {
    struct file_handle fh;
    unsigned char bytes[8];
  } h;
  struct stat st;
  int mount_id;

  h.fh.handle_bytes = sizeof h.bytes;
  if (name_to_handle_at (AT_FDCWD, dir, &h.fh, &mount_id, 0) == 0 && h.fh.handle_bytes == 8)
    {
      memcpy (id, h.fh.f_handle, 8);
      return 0;
    }
  if (stat (dir, &st) < 0)
    return sbx_fail (err, errno, "stat cgroup dir %s", dir);
  *id = st.st_ino;
  return 0;
}

int
sbx_bpf_task_keys (pid_t pid, uint64_t *cgroup_id, uint32_t *pidns_ino, sbx_err *err)
{
  char mnt[2048], path[2048], dir[4200], ns[64];
  struct stat st;

  if (cgroup2_mount (mnt, sizeof mnt, err) < 0 || cgroup2_path (pid, path, sizeof path, err) < 0)
    return -1;
  snprintf (dir, sizeof dir, "%s%s", mnt, strcmp (path, "/") == 0 ? "" : path);
  if (cgroup_dir_id (dir, cgroup_id, err) < 0)
    return sbx_wrap (err, "cgroup id of pid %d", (int) pid);
  snprintf (ns, sizeof ns, "/proc/%d/ns/pid", (int) pid);
  if (stat (ns, &st) < 0)
    return sbx_fail (err, errno, "stat %s", ns);
  *pidns_ino = (uint32_t) st.st_ino;
  return 0;
}

/* True when ID is the caller's cgroup or one of its ancestors: hooks match ancestors, so registering it would
   refuse module loads to the watcher and much of the host. */
static bool
is_own_cgroup_or_ancestor (uint64_t id)
{
  char mnt[2048], path[2048], dir[4200];
  sbx_err ignored;

  if (cgroup2_mount (mnt, sizeof mnt, &ignored) < 0 || cgroup2_path (getpid (), path, sizeof path, &ignored) < 0)
    return false;
  for (;;)
    {
      uint64_t cur;
      char *slash;

      snprintf (dir, sizeof dir, "%s%s", mnt, strcmp (path, "/") == 0 ? "" : path);
      if (cgroup_dir_id (dir, &cur, &ignored) == 0 && cur == id)
        return true;
      if (strcmp (path, "/") == 0)
        return false;
      slash = strrchr (path, '/');
      if (slash == path)
        path[1] = '\0';
      else
        *slash = '\0';
    }
}

static uint32_t
own_pidns (void)
{
  struct stat st;

  return stat ("/proc/self/ns/pid", &st) == 0 ? (uint32_t) st.st_ino : 0;
}

int
sbx_bpf_register (struct sbx_bpf *b, uint64_t cgroup_id, uint32_t pidns_ino, uint32_t slot, sbx_err *err)
{
  struct sbx_bpf_reg old, reg = { .slot = slot, .pidns_ino = pidns_ino };
  uint64_t zero = 0;

  if (slot >= SBX_BPF_MAX_SLOTS)
    return sbx_fail (err, EINVAL, "register cgroup %" PRIu64 ": slot %u is not below %u", cgroup_id, slot,
                     SBX_BPF_MAX_SLOTS);
  if (cgroup_id == 0 || is_own_cgroup_or_ancestor (cgroup_id))
    return sbx_fail (err, EINVAL,
                     "register cgroup %" PRIu64 ": it is the watcher's own cgroup or an ancestor of it, so "
                     "refusing module loads there would hit the host",
                     cgroup_id);
  if (pidns_ino == own_pidns ())
    reg.pidns_ino = 0;
  if (bpf_map_lookup_elem (b->fd_cgroups, &cgroup_id, &old) < 0)
    old.slot = SBX_BPF_SLOT_NONE, old.pidns_ino = 0;
  if (old.slot != slot && bpf_map_update_elem (b->fd_counts, &slot, &zero, BPF_ANY) < 0)
    return sbx_fail (err, errno, "reset BPF counter of slot %u", slot);
  if (old.pidns_ino && old.pidns_ino != reg.pidns_ino)
    bpf_map_delete_elem (b->fd_pidns, &old.pidns_ino);
  if (reg.pidns_ino && bpf_map_update_elem (b->fd_pidns, &reg.pidns_ino, &slot, BPF_ANY) < 0)
    return sbx_fail (err, errno, "register pid namespace %u (slot %u) in BPF map", reg.pidns_ino, slot);
  if (bpf_map_update_elem (b->fd_cgroups, &cgroup_id, &reg, BPF_ANY) < 0)
    {
      int errnum = errno;
      if (reg.pidns_ino)
        bpf_map_delete_elem (b->fd_pidns, &reg.pidns_ino);
      return sbx_fail (err, errnum, "register cgroup %" PRIu64 " (slot %u) in BPF map", cgroup_id, slot);
    }
  return 0;
}

int
sbx_bpf_unregister (struct sbx_bpf *b, uint64_t cgroup_id, uint32_t pidns_ino, sbx_err *err)
{
  struct sbx_bpf_reg reg;

  if (bpf_map_lookup_elem (b->fd_cgroups, &cgroup_id, &reg) == 0 && pidns_ino == 0)
    pidns_ino = reg.pidns_ino;
  if (bpf_map_delete_elem (b->fd_cgroups, &cgroup_id) < 0 && errno != ENOENT)
    return sbx_fail (err, errno, "unregister cgroup %" PRIu64 " from BPF map", cgroup_id);
  if (pidns_ino && bpf_map_delete_elem (b->fd_pidns, &pidns_ino) < 0 && errno != ENOENT)
    return sbx_fail (err, errno, "unregister pid namespace %u from BPF map", pidns_ino);
  return 0;
}

int
sbx_bpf_foreach_registered (struct sbx_bpf *b,
                            int (*cb) (void *ctx, uint64_t cgroup_id, uint32_t pidns_ino, uint32_t slot),
                            void *ctx)
{
  uint64_t key, next;
  void *prev = NULL;

  while (bpf_map_get_next_key (b->fd_cgroups, prev, &next) == 0)
    {
      struct sbx_bpf_reg reg;
      int rc;

      key = next;
      prev = &key;
      if (bpf_map_lookup_elem (b->fd_cgroups, &key, &reg) < 0)
        continue;
      rc = cb (ctx, key, reg.pidns_ino, reg.slot);
      if (rc != 0)
        return rc;
    }
  return 0;
}

int
sbx_bpf_count (struct sbx_bpf *b, uint32_t slot, uint64_t *n)
{
  if (slot >= SBX_BPF_MAX_SLOTS)
    {
      errno = EINVAL;
      return -1;
    }
  return bpf_map_lookup_elem (b->fd_counts, &slot, n) < 0 ? -1 : 0;
}

const char *
sbx_bpf_kind_name (uint32_t kind)
{
  switch (kind)
    {
    case SBX_BPF_LSM_READ_FILE: return "lsm_read_file";
    case SBX_BPF_LSM_LOAD_DATA: return "lsm_load_data";
    case SBX_BPF_LSM_MODULE_REQUEST: return "lsm_module_request";
    case SBX_BPF_TP_MODULE_LOAD: return "tp_module_load";
    case SBX_BPF_TP_MODULE_REQUEST: return "tp_module_request";
    case SBX_BPF_SYS_EXIT: return "sys_exit";
    default: return "unknown";
    }
}

const char *
sbx_bpf_action_name (uint32_t action)
{
  return action == SBX_BPF_DENIED ? "denied" : "observed";
}

const char *
sbx_bpf_syscall_name (int nr)
{
  switch (nr)
    {
    case SYS_init_module: return "init_module";
    case SYS_finit_module: return "finit_module";
    case SYS_delete_module: return "delete_module";
    default: return NULL;
    }
}
