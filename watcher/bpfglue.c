/* bpfglue.c - the watcher's use of the BPF loader (bpf/sbx_bpf.h): pinned hooks, per-container registration,
   ring-buffer events.  Built without it (stubs saying so) when the tree has no bpf/. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "watcher.h"

#if __has_include("../bpf/sbx_bpf.h")
#include "../bpf/sbx_bpf.h"

int
sbx_w_bpf_open (struct sbx_watcher *w)
{
  struct sbx_bpf_opts o = { .pin_dir = w->pin_dir, .syscalls_mode = w->syscalls_mode };
  struct sbx_bpf *b = NULL;
  sbx_err err = { 0 };
  char *text = NULL;
  size_t len = 0;
  FILE *f;

  if (!sbx_config_bool (w->cfg, "bpf.enabled", true))
    {
      snprintf (w->bpf_status, sizeof w->bpf_status, "BPF hooks off (bpf.enabled is false)");
      return 0;
    }
  if (sbx_bpf_open (&b, &o, &err) < 0)
    {
      snprintf (w->bpf_status, sizeof w->bpf_status, "BPF hooks unavailable: %s", err.msg);
      sbx_log (SBX_WARN, "watcher: %s; seccomp notifications still work", w->bpf_status);
      return -1;
    }
  w->bpf = b;
  snprintf (w->bpf_status, sizeof w->bpf_status, "%zu BPF hook(s) live, pinned under %s", sbx_bpf_live_hooks (b),
            w->pin_dir);
  f = open_memstream (&text, &len);
  if (f)
    {
      sbx_bpf_report (b, f, NULL);
      fclose (f);
      for (char *save = NULL, *line = strtok_r (text, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
        sbx_log (SBX_INFO, "watcher: bpf %s", line);
      free (text);
    }
  return 0;
}

int
sbx_w_bpf_fd (struct sbx_watcher *w)
{
  return w->bpf ? sbx_bpf_fd (w->bpf) : -1;
}

static int
on_event (void *ctx, const struct sbx_bpf_event *e)
{
  struct sbx_watcher *w = ctx;
  struct sbx_wcontainer *c = e->slot == SBX_BPF_SLOT_NONE ? NULL : sbx_w_find_slot (w, e->slot);
  struct sbx_wevent ev = { .type = "violation" };

  /* A container whose listener we hold already reported this syscall through seccomp: sys_exit only adds what
     seccomp notify cannot see (containers refused by a plain EPERM rule, host processes). */
  if (e->kind == SBX_BPF_SYS_EXIT && c && c->nnotify > 0)
    return 0;
  clock_gettime (CLOCK_REALTIME, &ev.time);
  ev.hook = sbx_bpf_kind_name (e->kind);
  ev.syscall = e->kind == SBX_BPF_SYS_EXIT ? sbx_bpf_syscall_name (e->syscall_nr) : NULL;
  ev.pid = (pid_t) e->tgid;
  ev.action = c ? c->on_violation : "log";
  snprintf (ev.module, sizeof ev.module, "%.*s", SBX_BPF_MODNAME_LEN, e->module);
  snprintf (ev.comm, sizeof ev.comm, "%.*s", SBX_BPF_COMM_LEN, e->comm);
  if (e->action == SBX_BPF_DENIED)
    snprintf (ev.outcome, sizeof ev.outcome, "refused EPERM by %s", ev.hook);
  else if (e->kind == SBX_BPF_SYS_EXIT)
    snprintf (ev.outcome, sizeof ev.outcome, "observed: returned %d%s", e->ret,
              c ? "" : " (no registered container)");
  else
    snprintf (ev.outcome, sizeof ev.outcome, "observed%s", c ? "" : " (no registered container)");
  if (c == NULL)
    snprintf (ev.file, sizeof ev.file, "cgroup id %llu", (unsigned long long) e->cgroup_id);
  if (c && strcmp (c->on_violation, "log") != 0)
    sbx_w_action (w, c, &ev);
  sbx_w_report (w, c, &ev);
  return 0;
}

void
sbx_w_bpf_drain (struct sbx_watcher *w)
{
  if (w->bpf)
    sbx_bpf_poll (w->bpf, 0, on_event, w);
}

void
sbx_w_bpf_register (struct sbx_watcher *w, struct sbx_wcontainer *c)
{
  sbx_err err = { 0 };
  uint64_t cg;
  uint32_t ns;

  if (w->bpf == NULL || c->slot >= SBX_BPF_MAX_SLOTS)
    return;
  if (sbx_bpf_task_keys (c->pid, &cg, &ns, &err) < 0 || sbx_bpf_register (w->bpf, cg, ns, c->slot, &err) < 0)
    {
      sbx_log (SBX_WARN, "watcher: container %s: BPF registration failed: %s", c->id, err.msg);
      return;
    }
  c->cgroup_id = cg;
  c->pidns_ino = ns;
  c->bpf_registered = true;
}

void
sbx_w_bpf_unregister (struct sbx_watcher *w, struct sbx_wcontainer *c)
{
  sbx_err err = { 0 };

  if (w->bpf == NULL || c->cgroup_id == 0)
    return;
  if (sbx_bpf_unregister (w->bpf, c->cgroup_id, c->pidns_ino, &err) < 0)
    sbx_log (SBX_DEBUG, "watcher: container %s: BPF unregister: %s", c->id, err.msg);
  c->bpf_registered = false;
}

void
sbx_w_bpf_close (struct sbx_watcher *w)
{
  if (w->bpf)
    sbx_bpf_close (w->bpf);
  w->bpf = NULL;
}

uint64_t
sbx_w_bpf_dropped (struct sbx_watcher *w)
{
  return w->bpf ? sbx_bpf_dropped (w->bpf) : 0;
}

int
sbx_bpf_doctor (FILE *out, const char *prefix, bool syscalls_mode)
{
  struct sbx_bpf_opts o = { .pin_dir = NULL, .syscalls_mode = syscalls_mode };
  struct sbx_bpf *b = NULL;
  sbx_err err = { 0 };
  int live;

  if (sbx_bpf_open (&b, &o, &err) < 0)
    {
      fprintf (out, "%sBPF: unavailable: %s\n", prefix, err.msg);
      return -1;
    }
  sbx_bpf_report (b, out, prefix);
  live = (int) sbx_bpf_live_hooks (b);
  sbx_bpf_close (b);
  return live;
}

int
sbx_w_bpf_unpin (const char *pin_dir, sbx_err *err)
{
  return sbx_bpf_unpin (pin_dir, err);
}

void
sbx_w_bpf_metrics (struct sbx_watcher *w, FILE *f)
{
  const struct sbx_bpf_hook_status *st;
  size_t n;

  fprintf (f, "# HELP sbx_bpf_hook_live 1 when the BPF hook is loaded and attached.\n# TYPE sbx_bpf_hook_live gauge\n");
  if (w->bpf == NULL)
    return;
  n = sbx_bpf_hooks (w->bpf, &st);
  for (size_t i = 0; i < n; i++)
    fprintf (f, "sbx_bpf_hook_live{hook=\"%s\"} %d\n", st[i].name, st[i].loaded);
  fprintf (f, "# HELP sbx_bpf_ringbuf_dropped_total Ring-buffer records lost because the buffer was full.\n"
              "# TYPE sbx_bpf_ringbuf_dropped_total counter\nsbx_bpf_ringbuf_dropped_total %llu\n",
           (unsigned long long) sbx_bpf_dropped (w->bpf));
}

#else /* no bpf/ in this tree */

int
sbx_w_bpf_open (struct sbx_watcher *w)
{
  snprintf (w->bpf_status, sizeof w->bpf_status, "BPF hooks not built into this sbx");
  return -1;
}
int sbx_w_bpf_fd (struct sbx_watcher *w) { (void) w; return -1; }
void sbx_w_bpf_drain (struct sbx_watcher *w) { (void) w; }
void sbx_w_bpf_register (struct sbx_watcher *w, struct sbx_wcontainer *c) { (void) w, (void) c; }
void sbx_w_bpf_unregister (struct sbx_watcher *w, struct sbx_wcontainer *c) { (void) w, (void) c; }
void sbx_w_bpf_close (struct sbx_watcher *w) { (void) w; }
uint64_t sbx_w_bpf_dropped (struct sbx_watcher *w) { (void) w; return 0; }
int
sbx_bpf_doctor (FILE *out, const char *prefix, bool syscalls_mode)
{
  (void) syscalls_mode;
  fprintf (out, "%sBPF: unavailable: BPF hooks not built into this sbx\n", prefix);
  return -1;
}
int
sbx_w_bpf_unpin (const char *pin_dir, sbx_err *err)
{
  (void) pin_dir;
  return sbx_fail (err, ENOSYS, "BPF hooks not built into this sbx");
}
void sbx_w_bpf_metrics (struct sbx_watcher *w, FILE *f) { (void) w, (void) f; }

#endif
