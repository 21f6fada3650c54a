/* report.c - where a violation goes: the count, the journal, the engine's runtime log, containerd's event bus, and
   the container's on-violation action. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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
  struct sbx_wclean *k = malloc (sizeof *k);
  char ts[64], id[300];
  int rc = -1;

  if (o == NULL || k == NULL)
    {
      free (k), json_free (o);
      return sbx_fail (err, ENOMEM, "event");
    }
  /* Every string through the one encoder: the journal, containerd and the runtime log get the same text. */
  fmt_time (&ev->time, ts, sizeof ts);
  sbx_w_event_clean (c, ev, k);
  sbx_w_clean (container, container ? strlen (container) : 0, id, sizeof id);
  if (json_set (o, "time", json_new_str (ts), err) == 0 && json_set (o, "type", json_new_str (k->type), err) == 0
      && json_set (o, "container", container ? json_new_str (id) : json_new_null (), err) == 0
      && put (o, "engine", k->engine, err) == 0 && put (o, "hook", k->hook, err) == 0
      && put (o, "syscall", k->syscall, err) == 0
      && json_set (o, "module", k->module[0] ? json_new_str (k->module) : json_new_null (), err) == 0
      && put (o, "params", k->params, err) == 0 && put (o, "file", k->file, err) == 0
      && (ev->pid <= 0 || json_set (o, "pid", json_new_int (ev->pid), err) == 0) && put (o, "comm", k->comm, err) == 0
      && put (o, "action", k->action, err) == 0 && put (o, "outcome", k->outcome, err) == 0
      && json_set (o, "count", json_new_int ((long long) count), err) == 0
      && (ev->dropped == 0 || json_set (o, "dropped", json_new_int ((long long) ev->dropped), err) == 0))
    rc = json_serialize (o, out, len, err);
  json_free (o);
  free (k);
  return rc;
}

int
sbx_w_action (struct sbx_watcher *w, struct sbx_wcontainer *c, struct sbx_wevent *ev)
{
  char why[PATH_MAX + 128] = "";
  size_t n = strlen (ev->outcome);

  if (strcmp (c->on_violation, "kill") == 0)
    {
      if (sbx_w_kill_init (c, why, sizeof why) == 0)
        {
          snprintf (ev->outcome, sizeof ev->outcome, "refused; container killed (SIGKILL to init %d)", (int) c->pid);
          return 0;
        }
    }
  else if (strcmp (c->on_violation, "freeze") == 0)
    {
      if (sbx_w_freeze (c, why, sizeof why) == 0)
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
   into its megaphone, nor push other containers' history out of the journal.  Each container has token buckets in
   events (journal.rate_per_s, journal.burst) and in bytes (journal.bytes_per_s, journal.burst_bytes), and may hold
   at most journal.container_share_percent of what the journal keeps (max_bytes times keep + 1): beyond any of
   them, attempts are still counted exactly, and their reports dropped and summed up in a "dropped" record. */
static void
refill (struct sbx_watcher *w, struct sbx_wcontainer *c, const struct timespec *now)
{
  double dt;

  if (c->refilled.tv_sec == 0)
    {
      c->tokens = w->burst;
      c->btokens = w->burst_bytes;
    }
  else
    {
      dt = (now->tv_sec - c->refilled.tv_sec) + (now->tv_nsec - c->refilled.tv_nsec) / 1e9;
      if (dt > 0)
        {
          c->tokens = c->tokens + dt * w->rate_per_s > w->burst ? w->burst : c->tokens + dt * w->rate_per_s;
          c->btokens = c->btokens + dt * w->bytes_per_s > w->burst_bytes ? w->burst_bytes
                                                                          : c->btokens + dt * w->bytes_per_s;
        }
    }
  c->refilled = *now;
}

static int
kept_files (const struct sbx_watcher *w)
{
  return w->journal_keep < 0 ? 1 : (w->journal_keep >= SBX_W_GENS ? SBX_W_GENS : w->journal_keep + 1);
}

/* Bytes of C in the journal files still kept (generations are numbered from 1, 0 is an unused slot). */
static uint64_t
share_used (const struct sbx_watcher *w, const struct sbx_wcontainer *c)
{
  uint64_t sum = 0, cur = w->journal_gen + 1;

  for (int i = 0; i < SBX_W_GENS; i++)
    if (c->gen[i] && c->gen[i] <= cur && c->gen[i] + (uint64_t) kept_files (w) > cur)
      sum += c->gen_bytes[i];
  return sum;
}

static void
charge (struct sbx_watcher *w, struct sbx_wcontainer *c, size_t bytes)
{
  uint64_t cur = w->journal_gen + 1;
  int slot = (int) (cur % SBX_W_GENS);

  if (c->gen[slot] != cur)
    c->gen[slot] = cur, c->gen_bytes[slot] = 0;
  c->gen_bytes[slot] += bytes;
}

/* NULL when C may report an event of LEN bytes now (and it is charged), else which budget is spent. */
static const char *
over_budget (struct sbx_watcher *w, struct sbx_wcontainer *c, size_t len, const struct timespec *now)
{
  double share = (double) w->journal_max * kept_files (w) * (double) w->share_pct / 100.0;

  refill (w, c, now);
  if (w->rate_per_s > 0 && c->tokens < 1)
    return w->dropped_rate++, "journal.rate_per_s";
  if (w->bytes_per_s > 0 && c->btokens < (double) len)
    return w->dropped_bytes++, "journal.bytes_per_s";
  if (w->journal_max > 0 && w->share_pct > 0 && (double) (share_used (w, c) + len) > share)
    return w->dropped_share++, "journal.container_share_percent";
  c->tokens -= 1;
  c->btokens -= (double) len;
  return NULL;
}

/* Say how many went unreported, in every channel an event goes to. */
static void
report_dropped (struct sbx_watcher *w, struct sbx_wcontainer *c, const struct timespec *now)
{
  struct sbx_wevent sum = { .type = "dropped", .hook = "watcher", .action = c->on_violation, .time = *now,
                            .dropped = c->suppressed };

  snprintf (sum.outcome, sizeof sum.outcome, "dropped %llu events from container %s: attempts counted, not "
            "reported one by one (over its budget: %s)", (unsigned long long) c->suppressed, c->id, c->why_dropped);
  c->suppressed = 0;
  c->summarized = now->tv_sec;
  sbx_w_report (w, c, &sum);
}

void
sbx_w_flush_drops (struct sbx_watcher *w)
{
  struct timespec now;

  clock_gettime (CLOCK_REALTIME, &now);
  for (struct sbx_wcontainer *c = w->containers; c; c = c->next)
    /* Once a flood pauses (2 s without a drop), or every 10 s while it goes on. */
    if (c->suppressed > 0 && (now.tv_sec - c->last_drop >= 2 || now.tv_sec - c->summarized >= 10))
      report_dropped (w, c, &now);
}

/* Cut S to at most MAX bytes without splitting a UTF-8 character. */
static void
utf8_cut (char *s, size_t max)
{
  size_t n = strlen (s);

  if (n <= max)
    return;
  while (max > 0 && ((unsigned char) s[max] & 0xc0) == 0x80)
    max--;
  s[max] = '\0';
}

void
sbx_w_log_message (const struct sbx_wcontainer *c, const struct sbx_wevent *ev, char *msg, size_t size)
{
  struct sbx_wclean *k = malloc (sizeof *k);

  msg[0] = '\0';
  if (k == NULL)
    return;
  sbx_w_event_clean (c, ev, k);
  if (strcmp (ev->type, "violation") == 0)
    snprintf (msg, size, "sbx: module load refused in container %s: %s%s%s%s%s by pid %d (%s): %s", c->id,
              k->syscall[0] ? k->syscall : k->hook, k->module[0] ? " module " : "", k->module,
              k->file[0] ? " file " : "", k->file, (int) ev->pid, k->comm, k->outcome);
  else
    snprintf (msg, size, "sbx: container %s: %s", c->id, k->outcome);
  /* The log line escapes quotes and backslashes (at most twice as long) into 4 KiB: never cut inside a character. */
  utf8_cut (msg, size - 1 < 1900 ? size - 1 : 1900);
  free (k);
}

static void
runtime_log (struct sbx_wcontainer *c, const struct sbx_wevent *ev)
{
  char msg[8192];

  sbx_w_log_message (c, ev, msg, sizeof msg);
  if (sbx_log_append (c->runtime_log, c->log_json, SBX_WARN, msg) < 0)
    sbx_log (SBX_DEBUG, "watcher: cannot append to %s: %s", c->runtime_log, strerror (errno));
}

void
sbx_w_report (struct sbx_watcher *w, struct sbx_wcontainer *c, struct sbx_wevent *ev)
{
  cleanup_free char *line = NULL;
  size_t len;
  sbx_err err = { 0 };
  bool violation = strcmp (ev->type, "violation") == 0;
  const char *spent;
  int rc;

  if (violation && c)
    {
      c->count++;
      sbx_w_save_count (w, c);
    }
  if (violation)
    w->events_total++;
  if (sbx_w_event_json (c, c ? c->id : NULL, ev, c ? c->count : 0, &line, &len, &err) < 0)
    {
      w->journal_lost++;
      sbx_log (SBX_WARN, "watcher: event lost: %s", err.msg);
      return;
    }
  if (violation && c && (spent = over_budget (w, c, len + 1, &ev->time)) != NULL)
    {
      c->suppressed++;
      c->dropped++;
      c->last_drop = ev->time.tv_sec;
      w->suppressed_total++;
      snprintf (c->why_dropped, sizeof c->why_dropped, "%s", spent);
      return;
    }
  if (violation && c && c->suppressed > 0)
    report_dropped (w, c, &ev->time);
  if ((rc = sbx_journal_append (w->journal, w->journal_max, w->journal_keep, line, len, &err)) < 0)
    {
      w->journal_lost++;
      sbx_log (SBX_WARN, "watcher: journal: %s", err.msg);
    }
  else
    {
      w->journal_gen += rc == 1;
      w->journal_written++;
      if (c)
        charge (w, c, len + 1);
    }
  if (c && c->runtime_log[0])
    runtime_log (c, ev);
  if (c && c->cd_address[0] && c->cd_namespace[0])
    publish (w, c, line);
  sbx_log (violation ? SBX_DEBUG : SBX_INFO, "watcher: %s", line); /* the journal is the record */
  /* The textfile is rewritten (with an fsync) on the next tick, not once per event. */
  w->textfile_dirty = true;
}
