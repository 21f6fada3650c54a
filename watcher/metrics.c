/* metrics.c - Prometheus text exposition: asked over the socket (`sbx metrics`) or written as a node-exporter
   textfile; from the records alone when no watcher runs. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/util.h"
#include "../policy/notify.h"
#include "watcher.h"

/* Label values: cleaned like every other sink (valid UTF-8, nothing hidden, capped), then backslash, quote and
   newline escaped as the exposition format wants. */
static void
label (FILE *f, const char *raw)
{
  char s[1100];

  sbx_w_clean (raw, raw ? strlen (raw) : 0, s, sizeof s);
  for (const char *p = s; *p; p++)
    {
      if (*p == '\\' || *p == '"')
        fputc ('\\', f), fputc (*p, f);
      else if (*p == '\n')
        fputs ("\\n", f);
      else
        fputc (*p, f);
    }
}

static void
container_line (FILE *f, const char *id, const char *engine, const char *monitor, unsigned long long count)
{
  fputs ("sbx_module_load_attempts_total{container=\"", f);
  label (f, id);
  fputs ("\",engine=\"", f);
  label (f, engine);
  fputs ("\",monitor=\"", f);
  label (f, monitor);
  fprintf (f, "\"} %llu\n", count);
}

static void
header (FILE *f, const char *name, const char *type, const char *help)
{
  fprintf (f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int
sbx_w_metrics (struct sbx_watcher *w, char **out, size_t *len)
{
  FILE *f = open_memstream (out, len);
  size_t n = 0, live = 0;

  if (f == NULL)
    return -1;
  header (f, "sbx_watcher_up", "gauge", "1 when the module-load watcher is running.");
  fprintf (f, "sbx_watcher_up 1\n");
  header (f, "sbx_watcher_syscalls_mode", "gauge", "1 when the sys_exit hook (syscalls mode) is requested.");
  fprintf (f, "sbx_watcher_syscalls_mode %d\n", w->syscalls_mode);
  header (f, "sbx_module_load_attempts_total", "counter",
          "Module-load attempts refused in each registered container (survives watcher restarts).");
  for (struct sbx_wcontainer *c = w->containers; c; c = c->next, n++)
    {
      container_line (f, c->id, c->engine, c->nnotify ? "notify" : c->monitor, (unsigned long long) c->count);
      live += c->nnotify > 0;
    }
  header (f, "sbx_containers_registered", "gauge", "Containers known to the watcher.");
  fprintf (f, "sbx_containers_registered %zu\n", n);
  header (f, "sbx_containers_monitored", "gauge", "Containers whose seccomp listener the watcher holds.");
  fprintf (f, "sbx_containers_monitored %zu\n", live);
  header (f, "sbx_events_total", "counter", "Violations seen by this watcher process image.");
  fprintf (f, "sbx_events_total %llu\n", (unsigned long long) w->events_total);
  header (f, "sbx_seccomp_notifications_total", "counter", "Seccomp user notifications answered.");
  fprintf (f, "sbx_seccomp_notifications_total %llu\n", (unsigned long long) w->notifications);
  header (f, "sbx_journal_events_written_total", "counter", "Events appended to the journal.");
  fprintf (f, "sbx_journal_events_written_total %llu\n", (unsigned long long) w->journal_written);
  header (f, "sbx_journal_events_lost_total", "counter", "Events that could not be written to the journal.");
  fprintf (f, "sbx_journal_events_lost_total %llu\n", (unsigned long long) w->journal_lost);
  header (f, "sbx_events_suppressed_total", "counter",
          "Violations counted but not reported one by one (a budget of their container spent).");
  fprintf (f, "sbx_events_suppressed_total %llu\n", (unsigned long long) w->suppressed_total);
  header (f, "sbx_events_dropped_total", "counter",
          "Reports dropped because a container spent a budget (rate: journal.rate_per_s, bytes: journal.bytes_per_s, "
          "share: journal.container_share_percent).");
  fprintf (f, "sbx_events_dropped_total{budget=\"rate\"} %llu\n", (unsigned long long) w->dropped_rate);
  fprintf (f, "sbx_events_dropped_total{budget=\"bytes\"} %llu\n", (unsigned long long) w->dropped_bytes);
  fprintf (f, "sbx_events_dropped_total{budget=\"share\"} %llu\n", (unsigned long long) w->dropped_share);
  header (f, "sbx_container_events_dropped_total", "counter", "Reports dropped for each registered container.");
  for (struct sbx_wcontainer *c = w->containers; c; c = c->next)
    {
      fputs ("sbx_container_events_dropped_total{container=\"", f);
      label (f, c->id);
      fprintf (f, "\"} %llu\n", (unsigned long long) c->dropped);
    }
  header (f, "sbx_containerd_publish_errors_total", "counter", "containerd publish calls that failed.");
  fprintf (f, "sbx_containerd_publish_errors_total %llu\n", (unsigned long long) w->publish_errors);
  header (f, "sbx_action_errors_total", "counter", "freeze/kill actions that failed.");
  fprintf (f, "sbx_action_errors_total %llu\n", (unsigned long long) w->action_errors);
  header (f, "sbx_notify_errors_total", "counter", "Seccomp notifications that could not be received.");
  fprintf (f, "sbx_notify_errors_total %llu\n", (unsigned long long) w->notify_errors);
  sbx_w_bpf_metrics (w, f);
  return fclose (f) == 0 ? 0 : -1;
}

int
sbx_metrics_offline (const struct sbx_config *cfg, char **out, size_t *len)
{
  FILE *f = open_memstream (out, len);
  char dir[PATH_MAX], cdir[PATH_MAX + 16];
  DIR *d;
  struct dirent *de;
  size_t n = 0;

  if (f == NULL)
    return -1;
  header (f, "sbx_watcher_up", "gauge", "1 when the module-load watcher is running.");
  fprintf (f, "sbx_watcher_up 0\n");
  header (f, "sbx_module_load_attempts_total", "counter",
          "Module-load attempts refused in each registered container (survives watcher restarts).");
  snprintf (cdir, sizeof cdir, "%s/containers", sbx_watcher_dir (cfg, dir, sizeof dir));
  d = opendir (cdir);
  while (d && (de = readdir (d)))
    {
      char path[PATH_MAX + 300];
      cleanup_free char *text = NULL;
      size_t tl;
      json_t *o = NULL;
      long long count = 0;
      sbx_err err;

      if (de->d_name[0] == '.' || strlen (de->d_name) < 6 || strcmp (de->d_name + strlen (de->d_name) - 5, ".json") != 0)
        continue;
      snprintf (path, sizeof path, "%s/%s", cdir, de->d_name);
      if (sbx_read_file (path, 1 << 20, &text, &tl, &err) < 0 || json_parse (text, tl, path, &o, &err) < 0)
        continue;
      json_num_int (json_find (o, "count"), &count);
      if (json_str (json_find (o, "id")) && sbx_watcher_read_count (cfg, json_str (json_find (o, "id"))) >= 0)
        count = sbx_watcher_read_count (cfg, json_str (json_find (o, "id")));
      container_line (f, json_str (json_find (o, "id")), json_str (json_find (o, "engine")), "none",
                      (unsigned long long) count);
      json_free (o);
      n++;
    }
  if (d)
    closedir (d);
  header (f, "sbx_containers_registered", "gauge", "Containers known to the watcher.");
  fprintf (f, "sbx_containers_registered %zu\n", n);
  return fclose (f) == 0 ? 0 : -1;
}

int
sbx_w_write_textfile (struct sbx_watcher *w)
{
  cleanup_free char *text = NULL;
  char dir[PATH_MAX], *slash;
  cleanup_close int dfd = -1;
  size_t len;
  sbx_err err;

  if (w->textfile[0] == '\0')
    return 0;
  snprintf (dir, sizeof dir, "%s", w->textfile);
  slash = strrchr (dir, '/');
  if (slash == NULL)
    return -1;
  *slash = '\0';
  /* node-exporter reads *.prom files: a rename keeps it from ever seeing half a file. */
  dfd = open (dir[0] ? dir : "/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (dfd < 0 || sbx_w_metrics (w, &text, &len) < 0)
    return -1;
  return sbx_write_atomic (dfd, slash + 1, text, len, 0644, (uid_t) -1, (gid_t) -1, &err);
}
