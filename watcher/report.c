/* report.c - where a violation goes: the count, the journal, the engine's runtime log, containerd's event bus, and
   the container's on-violation action. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libcgroup.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/util.h"
#include "watcher.h"

static void
fmt_time (const struct timespec *ts, char *buf, size_t size)
{
  struct tm tm;
  char base[32];

  gmtime_r (&ts->tv_sec, &tm);
  strftime (base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf (buf, size, "%s.%09ldZ", base, ts->tv_nsec);
}

static int
put (json_t *o, const char *key, const char *val, sbx_err *err)
{
  if (val == NULL || *val == '\0')
    return 0;
  return json_set (o, key, json_new_str (val), err);
}

int
sbx_w_event_json (const struct sbx_wcontainer *c, const char *container, const struct sbx_wevent *ev,
                  uint64_t count, char **out, size_t *len, sbx_err *err)
{
  json_t *o = json_new_obj ();
  char ts[64];
  int rc = -1;

  fmt_time (&ev->time, ts, sizeof ts);
  if (o == NULL)
    return sbx_fail (err, ENOMEM, "event");
  if (json_set (o, "time", json_new_str (ts), err) == 0 && json_set (o, "type", json_new_str (ev->type), err) == 0
      && json_set (o, "container", container ? json_new_str (container) : json_new_null (), err) == 0
      && put (o, "engine", c ? c->engine : NULL, err) == 0 && put (o, "hook", ev->hook, err) == 0
      && put (o, "syscall", ev->syscall, err) == 0
      && json_set (o, "module", ev->module[0] ? json_new_str (ev->module) : json_new_null (), err) == 0
      && put (o, "params", ev->params, err) == 0 && put (o, "file", ev->file, err) == 0
      && (ev->pid <= 0 || json_set (o, "pid", json_new_int (ev->pid), err) == 0) && put (o, "comm", ev->comm, err) == 0
      && put (o, "action", ev->action, err) == 0 && put (o, "outcome", ev->outcome, err) == 0
      && json_set (o, "count", json_new_int ((long long) count), err) == 0)
    rc = json_serialize (o, out, len, err);
  json_free (o);
  return rc;
}

/* The container's cgroup of CONTROLLER (v1) from /proc/PID/cgroup; "" for the unified hierarchy. */
static bool
cgroup_of (pid_t pid, const char *controller, char *out, size_t size)
{
  char path[64], line[4096];
  FILE *f;
  bool found = false;

  snprintf (path, sizeof path, "/proc/%d/cgroup", (int) pid);
  f = fopen (path, "re");
  if (f == NULL)
    return false;
  while (!found && fgets (line, sizeof line, f))
    {
      char *ctl = strchr (line, ':'), *cg;
      if (ctl == NULL || (cg = strchr (++ctl, ':')) == NULL)
        continue;
      *cg++ = '\0';
      cg[strcspn (cg, "\n")] = '\0';
      if (controller ? strcmp (ctl, controller) == 0 : *ctl == '\0')
        {
          snprintf (out, size, "%s", cg);
          found = true;
        }
    }
  fclose (f);
  return found;
}

static int
write_file (const char *path, const char *val)
{
  cleanup_close int fd = open (path, O_WRONLY | O_CLOEXEC);
  return fd < 0 || write (fd, val, strlen (val)) < 0 ? -1 : 0;
}

/* Freeze the cgroup the engine's pause uses: the v1 freezer when the host has one (hybrid/legacy), else cgroup v2's
   cgroup.freeze; through libcgroup, with a direct write when libcgroup cannot map the hierarchy. */
static int
freeze (struct sbx_wcontainer *c, char *why, size_t size)
{
  static int init_rc = -1;
  char cg[PATH_MAX], path[PATH_MAX + 64];

  if (init_rc != 0)
    init_rc = cgroup_init ();
  if (cgroup_of (c->pid, "freezer", cg, sizeof cg))
    {
      if (init_rc == 0)
        {
          struct cgroup *g = cgroup_new_cgroup (cg);
          struct cgroup_controller *ctl = g ? cgroup_add_controller (g, "freezer") : NULL;
          int rc = ctl ? cgroup_add_value_string (ctl, "freezer.state", "FROZEN") : -1;
          if (rc == 0)
            rc = cgroup_modify_cgroup (g);
          if (g)
            cgroup_free (&g);
          if (rc == 0)
            return 0;
          snprintf (why, size, "libcgroup: %s", cgroup_strerror (rc));
        }
      snprintf (path, sizeof path, "/sys/fs/cgroup/freezer%s/freezer.state", cg);
      if (write_file (path, "FROZEN") == 0)
        return 0;
      snprintf (why, size, "%s: %s", path, strerror (errno));
      return -1;
    }
  if (cgroup_of (c->pid, NULL, cg, sizeof cg))
    {
      snprintf (path, sizeof path, "/sys/fs/cgroup%s/cgroup.freeze", cg);
      if (access ("/sys/fs/cgroup/unified", F_OK) == 0)
        snprintf (path, sizeof path, "/sys/fs/cgroup/unified%s/cgroup.freeze", cg);
      if (write_file (path, "1") == 0)
        return 0;
      snprintf (why, size, "%s: %s", path, strerror (errno));
      return -1;
    }
  snprintf (why, size, "no cgroup found for pid %d", (int) c->pid);
  return -1;
}

int
sbx_w_action (struct sbx_watcher *w, struct sbx_wcontainer *c, struct sbx_wevent *ev)
{
  char why[PATH_MAX + 128] = "";
  size_t n = strlen (ev->outcome);

  if (strcmp (c->on_violation, "kill") == 0)
    {
      int rc = c->pidfd >= 0 ? (int) syscall (SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0)
                             : (sbx_w_alive (c) ? kill (c->pid, SIGKILL) : (errno = ESRCH, -1));
      if (rc == 0)
        {
          snprintf (ev->outcome, sizeof ev->outcome, "refused; container killed (SIGKILL to init %d)", (int) c->pid);
          return 0;
        }
      snprintf (why, sizeof why, "%s", strerror (errno));
    }
  else if (strcmp (c->on_violation, "freeze") == 0)
    {
      if (freeze (c, why, sizeof why) == 0)
        {
          snprintf (ev->outcome + n, sizeof ev->outcome - n, "%scontainer frozen", n ? "; " : "");
          return 0;
        }
    }
  else
    return 0;
  w->action_errors++;
  sbx_log (SBX_WARN, "watcher: container %s: on-violation %s failed: %s", c->id, c->on_violation, why);
  n = strlen (ev->outcome);
  snprintf (ev->outcome + n, sizeof ev->outcome - n, "%s%s failed", n ? "; " : "", c->on_violation);
  return -1;
}

static size_t
varint (uint64_t v, unsigned char *out)
{
  size_t n = 0;
  do
    {
      out[n] = v & 0x7f;
      v >>= 7;
      if (v)
        out[n] |= 0x80;
      n++;
    }
  while (v);
  return n;
}

size_t
sbx_w_any_string (const char *text, unsigned char *out, size_t size)
{
  /* Any{type_url=1, value=2}, value = StringValue{value=1}: ctr knows this type, so `ctr events` prints it. */
  static const char url[] = "google.protobuf.StringValue";
  size_t tl = strlen (text), n = 0, ul = sizeof url - 1;
  unsigned char inner[10];
  size_t il = varint (tl, inner);

  if (size < 1 + 10 + ul + 1 + 10 + 1 + il + tl)
    return 0;
  out[n++] = 0x0a;
  n += varint (ul, out + n);
  memcpy (out + n, url, ul), n += ul;
  out[n++] = 0x12;
  n += varint (1 + il + tl, out + n);
  out[n++] = 0x0a;
  memcpy (out + n, inner, il), n += il;
  memcpy (out + n, text, tl), n += tl;
  return n;
}

/* `containerd --address A publish --topic T --namespace N` with the event on stdin, as containerd's shims do.
   Not waited for here: SIGCHLD reaps it and counts failures. */
static void
publish (struct sbx_watcher *w, struct sbx_wcontainer *c, const char *json)
{
  const char *bin = sbx_config_str (w->cfg, "containerd.binary", "containerd");
  size_t cap = strlen (json) + 256, n;
  cleanup_free unsigned char *buf = malloc (cap);
  int p[2];
  pid_t pid;

  if (buf == NULL || (n = sbx_w_any_string (json, buf, cap)) == 0 || pipe2 (p, O_CLOEXEC) < 0)
    {
      w->publish_errors++;
      return;
    }
  pid = fork ();
  if (pid == 0)
    {
      int devnull = open ("/dev/null", O_WRONLY);
      sigset_t all;
      sigemptyset (&all);
      sigprocmask (SIG_SETMASK, &all, NULL);
      dup2 (p[0], 0);
      if (devnull >= 0)
        dup2 (devnull, 1), dup2 (devnull, 2);
      execlp (bin, bin, "--address", c->cd_address, "publish", "--topic", SBX_EVENTS_TOPIC, "--namespace",
              c->cd_namespace, (char *) NULL);
      _exit (127);
    }
  close (p[0]);
  if (pid < 0 || sbx_write_all (p[1], buf, n) < 0)
    w->publish_errors++;
  close (p[1]);
}

void
sbx_w_reap_children (struct sbx_watcher *w)
{
  int status;
  pid_t pid;

  while ((pid = waitpid (-1, &status, WNOHANG)) > 0)
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
      {
        w->publish_errors++;
        sbx_log (SBX_WARN, "watcher: containerd publish (pid %d) failed with status %d", (int) pid, status);
      }
}

/* A container making module syscalls in a loop must not turn the journal, the engine's log and containerd's bus
   into its megaphone: beyond journal.rate_per_s (burst journal.burst) attempts are only counted. */
static bool
within_rate (struct sbx_watcher *w, struct sbx_wcontainer *c, const struct timespec *now)
{
  double dt;

  if (w->rate_per_s <= 0)
    return true;
  if (c->refilled.tv_sec == 0)
    c->tokens = w->burst;
  else
    {
      dt = (now->tv_sec - c->refilled.tv_sec) + (now->tv_nsec - c->refilled.tv_nsec) / 1e9;
      if (dt > 0)
        c->tokens = c->tokens + dt * w->rate_per_s > w->burst ? w->burst : c->tokens + dt * w->rate_per_s;
    }
  c->refilled = *now;
  if (c->tokens < 1)
    return false;
  c->tokens -= 1;
  return true;
}

void
sbx_w_report (struct sbx_watcher *w, struct sbx_wcontainer *c, struct sbx_wevent *ev)
{
  cleanup_free char *line = NULL;
  size_t len;
  sbx_err err = { 0 };
  bool violation = strcmp (ev->type, "violation") == 0;

  if (violation && c)
    {
      c->count++;
      sbx_w_save_count (w, c);
    }
  if (violation)
    w->events_total++;
  if (violation && c && !within_rate (w, c, &ev->time))
    {
      c->suppressed++;
      w->suppressed_total++;
      return;
    }
  if (violation && c && c->suppressed > 0)
    {
      /* Say how many went unreported before this one, in every channel this one goes to. */
      struct sbx_wevent sum = { .type = "suppressed", .hook = ev->hook, .action = ev->action, .time = ev->time };
      snprintf (sum.outcome, sizeof sum.outcome, "%llu refused attempts counted but not reported one by one "
                "(more than %g per second)", (unsigned long long) c->suppressed, w->rate_per_s);
      c->suppressed = 0;
      sbx_w_report (w, c, &sum);
    }
  if (sbx_w_event_json (c, c ? c->id : NULL, ev, c ? c->count : 0, &line, &len, &err) < 0)
    {
      w->journal_lost++;
      sbx_log (SBX_WARN, "watcher: event lost: %s", err.msg);
      return;
    }
  if (sbx_journal_append (w->journal, w->journal_max, w->journal_keep, line, len, &err) < 0)
    {
      w->journal_lost++;
      sbx_log (SBX_WARN, "watcher: journal: %s", err.msg);
    }
  else
    w->journal_written++;

  if (c && c->runtime_log[0])
    {
      char msg[8192];
      if (violation)
        snprintf (msg, sizeof msg, "sbx: module load refused in container %s: %s%s%s%s%s by pid %d (%s): %s", c->id,
                  ev->syscall ? ev->syscall : ev->hook, ev->module[0] ? " module " : "", ev->module,
                  ev->file[0] ? " file " : "", ev->file, (int) ev->pid, ev->comm, ev->outcome);
      else
        snprintf (msg, sizeof msg, "sbx: container %s: %s", c->id, ev->outcome);
      if (sbx_log_append (c->runtime_log, c->log_json, SBX_WARN, msg) < 0)
        sbx_log (SBX_DEBUG, "watcher: cannot append to %s: %s", c->runtime_log, strerror (errno));
    }
  if (c && c->cd_address[0] && c->cd_namespace[0])
    publish (w, c, line);
  sbx_log (violation ? SBX_DEBUG : SBX_INFO, "watcher: %s", line); /* the journal is the record */
  /* The textfile is rewritten (with an fsync) on the next tick, not once per event. */
  w->textfile_dirty = true;
}
