/* registry.c - the watcher's containers: registered by the delegate's listener connection, kept as records under
   <state>/watcher/containers so counts survive restarts, reaped when their container is gone. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/util.h"
#include "../policy/notify.h"
#include "watcher.h"

struct sbx_wcontainer *
sbx_w_find (struct sbx_watcher *w, const char *id)
{
  for (struct sbx_wcontainer *c = w->containers; c; c = c->next)
    if (strcmp (c->id, id) == 0)
      return c;
  return NULL;
}

struct sbx_wcontainer *
sbx_w_find_slot (struct sbx_watcher *w, uint32_t slot)
{
  for (struct sbx_wcontainer *c = w->containers; c; c = c->next)
    if (c->slot == slot)
      return c;
  return NULL;
}

bool
sbx_w_alive (const struct sbx_wcontainer *c)
{
  if (c->pidfd >= 0)
    return syscall (SYS_pidfd_send_signal, c->pidfd, 0, NULL, 0) == 0;
  /* Unverified: a guess for reaping records only, never a reason to act on the pid. */
  return c->pid > 0 && kill (c->pid, 0) == 0 && sbx_w_starttime (c->pid) == c->starttime;
}

static uint32_t
free_slot (struct sbx_watcher *w)
{
  for (uint32_t s = 0;; s++)
    if (sbx_w_find_slot (w, s) == NULL)
      return s;
}

static void
copy (char *dst, size_t size, const char *src)
{
  snprintf (dst, size, "%s", src ? src : "");
}

/* Replace DFD/NAME by rename, without fsync: this runs once per event, and what it protects against is the
   watcher's own death (the page cache survives that); a power cut may cost the last counts. */
static int
write_record (int dfd, const char *name, const char *text, size_t len)
{
  char tmp[320];
  int fd, rc;

  snprintf (tmp, sizeof tmp, ".%s.tmp", name);
  fd = openat (dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return -1;
  rc = sbx_write_all (fd, text, len);
  close (fd);
  if (rc == 0)
    rc = renameat (dfd, tmp, dfd, name);
  if (rc < 0)
    unlinkat (dfd, tmp, 0);
  return rc;
}

int
sbx_w_save (struct sbx_watcher *w, struct sbx_wcontainer *c)
{
  json_t *o = json_new_obj ();
  cleanup_free char *text = NULL;
  char dir[PATH_MAX + 16], name[300];
  cleanup_close int dfd = -1;
  size_t len;
  sbx_err err = { 0 };
  int rc = -1;

  snprintf (dir, sizeof dir, "%s/containers", w->dir);
  snprintf (name, sizeof name, "%s.json", c->id);
  if (o && json_set (o, "id", json_new_str (c->id), &err) == 0 && json_set (o, "engine", json_new_str (c->engine), &err) == 0
      && json_set (o, "bundle", json_new_str (c->bundle), &err) == 0
      && json_set (o, "policy", json_new_str (c->policy), &err) == 0
      && json_set (o, "on_violation", json_new_str (c->on_violation), &err) == 0
      && json_set (o, "monitor", json_new_str (c->monitor), &err) == 0
      && json_set (o, "runtime_log", json_new_str (c->runtime_log), &err) == 0
      && json_set (o, "runtime_log_json", json_new_bool (c->log_json), &err) == 0
      && json_set (o, "containerd_address", json_new_str (c->cd_address), &err) == 0
      && json_set (o, "containerd_namespace", json_new_str (c->cd_namespace), &err) == 0
      && json_set (o, "pid", json_new_int (c->pid), &err) == 0
      && json_set (o, "starttime", json_new_int ((long long) c->starttime), &err) == 0
      && json_set (o, "cgroup_id", json_new_int ((long long) c->cgroup_id), &err) == 0
      && json_set (o, "cgroup", json_new_str (c->cgroup), &err) == 0
      && json_set (o, "cgroup_ino", json_new_int ((long long) c->cg_ino), &err) == 0
      && json_set (o, "freezer", json_new_str (c->freezer), &err) == 0
      && json_set (o, "pidns_ino", json_new_int (c->pidns_ino), &err) == 0
      && json_set (o, "slot", json_new_int (c->slot), &err) == 0
      && json_set (o, "count", json_new_int ((long long) c->count), &err) == 0
      && json_set (o, "registered", json_new_int (c->registered), &err) == 0
      && json_serialize (o, &text, &len, &err) == 0)
    {
      dfd = open (dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
      if (dfd >= 0 && write_record (dfd, name, text, len) == 0)
        rc = 0;
    }
  json_free (o);
  if (rc == 0)
    rc = sbx_w_save_count (w, c);
  if (rc < 0)
    sbx_log (SBX_WARN, "watcher: cannot save the record of %s: %s", c->id, err.msg[0] ? err.msg : strerror (errno));
  return rc;
}

static void
unlink_record (struct sbx_watcher *w, const char *id)
{
  char path[PATH_MAX + 300];
  snprintf (path, sizeof path, "%s/containers/%s.json", w->dir, id);
  unlink (path);
  snprintf (path, sizeof path, "%s/containers/%s.count", w->dir, id);
  unlink (path);
}

int
sbx_w_save_count (struct sbx_watcher *w, struct sbx_wcontainer *c)
{
  char buf[SBX_COUNT_WIDTH + 2];

  if (c->count_fd < 0)
    {
      char path[PATH_MAX + 300];
      snprintf (path, sizeof path, "%s/containers/%s.count", w->dir, c->id);
      c->count_fd = open (path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (c->count_fd < 0)
        {
          sbx_log (SBX_WARN, "watcher: cannot save the count of %s: %s: %s", c->id, path, strerror (errno));
          return -1;
        }
    }
  /* Fixed width, one write at offset 0: a reader sees the old or the new number, never a mix of lengths. */
  snprintf (buf, sizeof buf, "%*llu\n", SBX_COUNT_WIDTH, (unsigned long long) c->count);
  return pwrite (c->count_fd, buf, SBX_COUNT_WIDTH + 1, 0) == SBX_COUNT_WIDTH + 1 ? 0 : -1;
}

static void
attach_notify (struct sbx_watcher *w, struct sbx_wcontainer *c, int fd)
{
  if (c->nnotify >= SBX_W_MAX_NOTIFY || sbx_w_watch_notify (w, fd) < 0)
    {
      /* Closing it would turn this process's EPERM into ENOSYS: still refused, but say it is unreported. */
      sbx_log (SBX_WARN, "watcher: container %s: cannot watch one more notify fd (%d held)", c->id, c->nnotify);
      close (fd);
      return;
    }
  c->notify_fds[c->nnotify++] = fd;
}

void
sbx_w_drop_notify (struct sbx_watcher *w, struct sbx_wcontainer *c, int fd)
{
  for (int i = 0; i < c->nnotify; i++)
    if (c->notify_fds[i] == fd)
      {
        epoll_ctl (w->epfd, EPOLL_CTL_DEL, fd, NULL);
        close (fd);
        c->notify_fds[i] = c->notify_fds[--c->nnotify];
        return;
      }
}

static void
free_container (struct sbx_watcher *w, struct sbx_wcontainer *c)
{
  struct sbx_wcontainer **pp;

  while (c->nnotify > 0)
    sbx_w_drop_notify (w, c, c->notify_fds[0]);
  sbx_w_unbind (c);
  if (c->count_fd >= 0)
    close (c->count_fd);
  for (pp = &w->containers; *pp; pp = &(*pp)->next)
    if (*pp == c)
      {
        *pp = c->next;
        break;
      }
  free (c);
}

static struct sbx_wcontainer *
new_container (struct sbx_watcher *w, const char *id)
{
  struct sbx_wcontainer *c = calloc (1, sizeof *c);

  if (c == NULL)
    return NULL;
  copy (c->id, sizeof c->id, id);
  c->pidfd = c->cg_fd = c->frz_fd = -1;
  c->count_fd = -1;
  c->slot = free_slot (w);
  c->next = w->containers;
  w->containers = c;
  return c;
}

static const char *
ann (const json_t *annotations, const char *key)
{
  return json_str (json_find (annotations, key));
}

/* Linux's PID_MAX_LIMIT: a larger number is no pid. */
#define PID_LIMIT 4194304

int
sbx_w_parse_state (const char *text, size_t len, struct sbx_wstate *st, sbx_err *err)
{
  json_t *state, *annotations, *pidv;
  char quoted[512];

  memset (st, 0, sizeof *st);
  if (json_parse (text, len, "OCI container process state", &st->root, err) < 0)
    return -1;
  state = json_find (st->root, "state");
  annotations = json_find (state, "annotations");
  st->id = json_str (json_find (state, "id"));
  st->meta = json_str (json_find (st->root, "metadata"));
  st->bundle = json_str (json_find (state, "bundle"));
  pidv = json_find (state, "pid") ? json_find (state, "pid") : json_find (st->root, "pid");
  /* crun's exec sends pid 0, an empty bundle and no annotations: the id alone names the container then. */
  if (pidv && (!json_num_int (pidv, &st->pid) || st->pid < 0 || st->pid > PID_LIMIT))
    st->pid = -1;
  if (!sbx_container_id_ok (st->id) || st->pid < 0)
    {
      /* The message quotes what came, cleaned: it goes to the watcher's log. */
      sbx_w_clean (text, len, quoted, sizeof quoted);
      json_free (st->root);
      memset (st, 0, sizeof *st);
      return sbx_fail (err, EINVAL, "listener connection without a usable container id and pid (%s); notify fd dropped",
                       quoted);
    }
  st->engine = ann (annotations, SBX_ANN_ENGINE);
  st->policy = ann (annotations, SBX_ANN_POLICY);
  st->on_violation = ann (annotations, SBX_ANN_ON_VIOLATION);
  st->runtime_log = ann (annotations, SBX_ANN_RUNTIME_LOG);
  st->log_format = ann (annotations, SBX_ANN_RUNTIME_LOG_FORMAT);
  st->cd_address = ann (annotations, SBX_ANN_CONTAINERD_ADDRESS);
  st->cd_namespace = ann (annotations, SBX_ANN_CONTAINERD_NAMESPACE);
  return 0;
}

/* A value for display (engine, policy): cleaned like every field a container or a spec chose. */
static void
copy_clean (char *dst, size_t size, const char *src)
{
  sbx_w_clean (src, src ? strlen (src) : 0, dst, size);
}

static void
fill (struct sbx_wcontainer *c, const struct sbx_wstate *st)
{
  const char *ov = st->on_violation;

  copy (c->bundle, sizeof c->bundle, st->bundle);
  copy_clean (c->engine, sizeof c->engine, st->engine ?: "unknown");
  copy_clean (c->policy, sizeof c->policy, st->policy ?: SBX_POLICY_VERSION);
  copy (c->on_violation, sizeof c->on_violation,
        ov && (strcmp (ov, "freeze") == 0 || strcmp (ov, "kill") == 0) ? ov : "log");
  copy (c->runtime_log, sizeof c->runtime_log, st->runtime_log);
  c->log_json = st->log_format && strcmp (st->log_format, "json") == 0;
  copy (c->cd_address, sizeof c->cd_address, st->cd_address);
  copy (c->cd_namespace, sizeof c->cd_namespace, st->cd_namespace);
}

/* A new container: its init is taken from the state's pid only once a pidfd of it proves it is the init of a pid
   namespace under seccomp, in a cgroup of its own. */
static struct sbx_wcontainer *
add (struct sbx_watcher *w, const struct sbx_wstate *st, sbx_err *err)
{
  struct sbx_wcontainer *c = new_container (w, st->id);
  char why[PATH_MAX + 128] = "";

  if (c == NULL)
    return sbx_fail (err, ENOMEM, "register container %s", st->id), NULL;
  c->pid = (pid_t) st->pid;
  c->registered = time (NULL);
  fill (c, st);
  if (st->pid > 0 && sbx_w_bind_init (c, c->pid, true, why, sizeof why) < 0)
    {
      /* Still the pid's identity, so that an exec of the same container is not taken for a new one; never a
         target. */
      c->starttime = sbx_w_starttime (c->pid);
      sbx_log (SBX_WARN, "watcher: container %s: the runtime's pid %d is not taken for its init (%s): freeze and "
             "kill of the whole container are off, a caller is still refused (and killed under kill)", st->id,
             (int) st->pid, why);
    }
  if (c->pidfd >= 0)
    sbx_w_bpf_register (w, c);
  sbx_log (SBX_INFO, "watcher: container %s registered (engine %s, pid %lld, bundle %s, on-violation %s)", st->id,
           c->engine, st->pid, c->bundle, c->on_violation);
  return c;
}

int
sbx_w_register (struct sbx_watcher *w, const char *text, size_t len, int notify_fd, sbx_err *err)
{
  struct sbx_wstate st;
  struct sbx_wcontainer *c;

  if (sbx_w_parse_state (text, len, &st, err) < 0)
    return -1;
  if (st.meta == NULL || strcmp (st.meta, SBX_LISTENER_METADATA) != 0)
    sbx_log (SBX_WARN, "watcher: container %s: listener metadata is not sbx's; watching it anyway", st.id);
  c = sbx_w_find (w, st.id);
  if (c && st.pid > 0 && !(c->pid == st.pid && c->starttime == sbx_w_starttime ((pid_t) st.pid)))
    {
      /* Same id, another init: the old container was deleted without telling us.  Start afresh. */
      sbx_w_bpf_unregister (w, c);
      free_container (w, c);
      c = NULL;
    }
  if (c == NULL && (c = add (w, &st, err)) == NULL)
    {
      json_free (st.root);
      return -1;
    }
  copy (c->monitor, sizeof c->monitor, "notify");
  attach_notify (w, c, notify_fd);
  sbx_w_save (w, c);
  json_free (st.root);
  return 0;
}

int
sbx_w_unregister (struct sbx_watcher *w, const char *id, sbx_err *err)
{
  struct sbx_wcontainer *c;

  if (!sbx_container_id_ok (id))
    return sbx_fail (err, EINVAL, "unregister: '%s' is not a container id", id);
  c = sbx_w_find (w, id);
  if (c)
    {
      sbx_w_bpf_unregister (w, c);
      free_container (w, c);
      sbx_log (SBX_INFO, "watcher: container %s unregistered", id);
    }
  unlink_record (w, id);
  return 0;
}

static int
load_one (struct sbx_watcher *w, const char *path)
{
  cleanup_free char *text = NULL;
  json_t *o = NULL;
  size_t len;
  long long n;
  sbx_err err = { 0 };
  struct sbx_wcontainer *c;
  const char *id;

  if (sbx_read_file (path, 1 << 20, &text, &len, &err) < 0 || json_parse (text, len, path, &o, &err) < 0)
    {
      sbx_log (SBX_WARN, "watcher: skipping record %s", err.msg);
      return -1;
    }
  id = json_str (json_find (o, "id"));
  if (!sbx_container_id_ok (id) || sbx_w_find (w, id))
    {
      json_free (o);
      return -1;
    }
  c = new_container (w, id);
  if (c == NULL)
    {
      json_free (o);
      return -1;
    }
#define S(field, key) copy (c->field, sizeof c->field, json_str (json_find (o, key)))
  S (engine, "engine"), S (bundle, "bundle"), S (policy, "policy"), S (on_violation, "on_violation");
  S (monitor, "monitor"), S (runtime_log, "runtime_log"), S (cd_address, "containerd_address");
  S (cd_namespace, "containerd_namespace"), S (cgroup, "cgroup"), S (freezer, "freezer");
#undef S
  c->log_json = json_is_true (json_find (o, "runtime_log_json"));
  if (json_num_int (json_find (o, "pid"), &n))
    c->pid = (pid_t) n;
  if (json_num_int (json_find (o, "starttime"), &n))
    c->starttime = (unsigned long long) n;
  if (json_num_int (json_find (o, "cgroup_id"), &n))
    c->cgroup_id = (uint64_t) n;
  if (json_num_int (json_find (o, "cgroup_ino"), &n))
    c->cg_ino = (uint64_t) n;
  if (json_num_int (json_find (o, "pidns_ino"), &n))
    c->pidns_ino = (uint32_t) n;
  if (json_num_int (json_find (o, "slot"), &n) && sbx_w_find_slot (w, (uint32_t) n) == NULL)
    c->slot = (uint32_t) n;
  if (json_num_int (json_find (o, "count"), &n))
    c->count = (uint64_t) n;
  if ((n = sbx_watcher_read_count (w->cfg, c->id)) >= 0)
    c->count = (uint64_t) n; /* newer than the record's */
  if (json_num_int (json_find (o, "registered"), &n))
    c->registered = (time_t) n;
  sbx_w_rebind (c);
  json_free (o);
  return 0;
}

/* Notify fds handed over by the previous image of this process: "id=fd,id=fd". */
static void
adopt_inherited (struct sbx_watcher *w)
{
  const char *env = getenv ("SBX_WATCH_INHERIT");
  cleanup_free char *copy_ = env ? strdup (env) : NULL;
  char *save = NULL;

  for (char *tok = copy_ ? strtok_r (copy_, ",", &save) : NULL; tok; tok = strtok_r (NULL, ",", &save))
    {
      char *eq = strrchr (tok, '=');
      struct sbx_wcontainer *c;
      int fd;

      if (eq == NULL)
        continue;
      *eq = '\0';
      fd = atoi (eq + 1);
      fcntl (fd, F_SETFD, FD_CLOEXEC);
      c = sbx_w_find (w, tok);
      if (c == NULL)
        {
          close (fd);
          continue;
        }
      attach_notify (w, c, fd);
    }
}

int
sbx_w_load (struct sbx_watcher *w, sbx_err *err)
{
  char dir[PATH_MAX + 16];
  DIR *d;
  struct dirent *de;

  snprintf (dir, sizeof dir, "%s/containers", w->dir);
  d = opendir (dir);
  if (d == NULL)
    return sbx_fail (err, errno, "open %s", dir);
  while ((de = readdir (d)))
    {
      char path[PATH_MAX + 300];
      size_t n = strlen (de->d_name);
      if (n < 6 || strcmp (de->d_name + n - 5, ".json") != 0 || de->d_name[0] == '.')
        continue;
      snprintf (path, sizeof path, "%s/%s", dir, de->d_name);
      load_one (w, path);
    }
  closedir (d);
  adopt_inherited (w);
  for (struct sbx_wcontainer *c = w->containers; c; c = c->next)
    {
      if (!sbx_w_alive (c))
        continue;
      if (c->pidfd >= 0)
        sbx_w_bpf_register (w, c);
      if (c->nnotify == 0 && strcmp (c->monitor, "notify") == 0)
        {
          /* The previous watcher died with this container's listener: the kernel now answers ENOSYS to its
             module syscalls (still never executed), and nothing can reattach a listener to a running filter. */
          struct sbx_wevent ev = { .type = "monitor-lost", .hook = "seccomp-notify", .action = c->on_violation };
          clock_gettime (CLOCK_REALTIME, &ev.time);
          snprintf (ev.outcome, sizeof ev.outcome,
                    "listener lost with the previous watcher: module syscalls now fail with ENOSYS, unreported");
          copy (c->monitor, sizeof c->monitor, "lost");
          sbx_log (SBX_WARN, "watcher: container %s: %s", c->id, ev.outcome);
          sbx_w_report (w, c, &ev);
        }
      sbx_w_save (w, c);
    }
  sbx_w_reap (w);
  return 0;
}

void
sbx_w_reap (struct sbx_watcher *w)
{
  long long after = sbx_config_int (w->cfg, "watcher.reap_after_s", 24 * 3600);
  time_t now = time (NULL);
  struct sbx_wcontainer *c = w->containers, *next;

  for (; c; c = next)
    {
      char cfgpath[PATH_MAX + 16];
      bool bundle_gone;

      next = c->next;
      if (c->nnotify > 0 || sbx_w_alive (c))
        continue;
      snprintf (cfgpath, sizeof cfgpath, "%s/config.json", c->bundle);
      bundle_gone = c->bundle[0] == '\0' || access (cfgpath, F_OK) < 0;
      /* A stopped container the engine has not deleted yet still answers `state` with its count: keep it while
         its bundle exists, up to watcher.reap_after_s. */
      if (!bundle_gone && now - c->registered < after)
        continue;
      sbx_log (SBX_INFO, "watcher: reaped stale container %s (init %d gone%s)", c->id, (int) c->pid,
               bundle_gone ? ", bundle gone" : "");
      sbx_w_bpf_unregister (w, c);
      unlink_record (w, c->id);
      free_container (w, c);
    }
}
