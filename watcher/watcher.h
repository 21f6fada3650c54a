/* watcher.h - the module-load watcher daemon (`sbx watch`): seccomp listener, BPF reader, journal, reporters. */
#ifndef SBX_WATCHER_H
#define SBX_WATCHER_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "../common/config.h"
#include "../common/error.h"
#include "../oci/json.h"

#define SBX_JOURNAL_DEFAULT "/var/log/sbx/events.jsonl"
#define SBX_EVENTS_TOPIC "/sbx/module-load"
#define SBX_W_MAX_NOTIFY 16 /* notify fds per container: create plus each exec */

struct sbx_wcontainer
{
  char id[256];
  char engine[64], bundle[PATH_MAX], policy[16], on_violation[8], monitor[16];
  char runtime_log[PATH_MAX], cd_address[PATH_MAX], cd_namespace[128];
  bool log_json;
  pid_t pid;                    /* host pid of the container's init */
  unsigned long long starttime; /* of that pid, to tell a reused pid */
  int pidfd;                    /* kill without racing pid reuse; -1 when unknown */
  uint64_t cgroup_id;
  uint32_t pidns_ino, slot;
  bool bpf_registered;
  uint64_t count;               /* module-load attempts seen, persisted in ID.count */
  int count_fd;                 /* ID.count, rewritten in place per event */
  int notify_fds[SBX_W_MAX_NOTIFY];
  int nnotify;
  time_t registered;
  /* Report rate limit (token bucket): counts stay exact, reports beyond it are summed up. */
  double tokens;
  struct timespec refilled;
  uint64_t suppressed;
  struct sbx_wcontainer *next;
};

/* One reportable event (a violation or a monitoring change). */
struct sbx_wevent
{
  struct timespec time;
  const char *type;      /* "violation", "monitor-lost" */
  const char *hook;      /* "seccomp-notify", or the BPF hook */
  const char *syscall;   /* NULL when the hook is not a syscall */
  char module[128], params[512], file[PATH_MAX], comm[32];
  pid_t pid;
  const char *action;    /* log|freeze|kill */
  char outcome[128];
};

struct sbx_watcher
{
  const struct sbx_config *cfg;
  char sock[PATH_MAX], dir[PATH_MAX], journal[PATH_MAX], textfile[PATH_MAX], pin_dir[PATH_MAX];
  long long journal_max;
  int journal_keep;
  bool syscalls_mode, daemon;
  int listen_fd, epfd, sigfd, timerfd, lock_fd, journal_fd;
  struct sbx_wcontainer *containers;
  void *bpf;                    /* struct sbx_bpf *, or NULL when BPF is unavailable */
  char bpf_status[PATH_MAX + 1200];
  /* Counters for metrics. */
  uint64_t events_total, journal_written, journal_lost, notify_errors, publish_errors, action_errors;
  uint64_t notifications, suppressed_total;
  double rate_per_s, burst;
  bool restart, stop, textfile_dirty;
  dev_t sock_dev;               /* the socket file we bound: gone or replaced means nobody can reach us */
  ino_t sock_ino;
  long long idle_exit_s;        /* --idle-exit: leave after this long without a listener to hold (0: never) */
  time_t idle_since;
  char **argv;
};

/* What an epoll event is about: kind in the high 32 bits of its data, fd in the low ones. */
enum src_kind
{
  SRC_LISTEN = 1,
  SRC_CONN,
  SRC_NOTIFY,
  SRC_SIGNAL,
  SRC_TIMER,
  SRC_BPF,
};

#define SRC(kind, fd) (((uint64_t) (kind) << 32) | (uint32_t) (fd))

/* daemon.c */
int sbx_watch_main (int argc, char **argv);
int sbx_w_ep_add (struct sbx_watcher *w, int kind, int fd, uint32_t events);

/* conn.c */
void sbx_w_accept (struct sbx_watcher *w);
void sbx_w_conn_readable (struct sbx_watcher *w, int fd);
/* Close clients older than 5 s (a delegate's notify fd is registered anyway). */
void sbx_w_expire_conns (struct sbx_watcher *w);

/* Add a container's notify fd to the event loop. */
int sbx_w_watch_notify (struct sbx_watcher *w, int fd);

/* registry.c: the container table and its records under <state>/watcher/containers. */
struct sbx_wcontainer *sbx_w_find (struct sbx_watcher *w, const char *id);
struct sbx_wcontainer *sbx_w_find_slot (struct sbx_watcher *w, uint32_t slot);
/* A delegate connected to the listener: OCI container-process state JSON plus the notify fd. */
int sbx_w_register (struct sbx_watcher *w, const char *json, size_t len, int notify_fd, sbx_err *err);
int sbx_w_unregister (struct sbx_watcher *w, const char *id, sbx_err *err);
int sbx_w_save (struct sbx_watcher *w, struct sbx_wcontainer *c);
/* Persist C's count alone: one pwrite, no rename (runs once per event). */
int sbx_w_save_count (struct sbx_watcher *w, struct sbx_wcontainer *c);
/* At start: load every record; adopt inherited notify fds (restart); report monitoring lost on the rest that
   still run, and reap records of containers that are gone. */
int sbx_w_load (struct sbx_watcher *w, sbx_err *err);
void sbx_w_reap (struct sbx_watcher *w);
void sbx_w_drop_notify (struct sbx_watcher *w, struct sbx_wcontainer *c, int fd);
bool sbx_w_alive (const struct sbx_wcontainer *c);

/* seccomp.c */
/* Handle one pending notification on FD of container C: decode, act, answer EPERM, report.  -1: the fd is
   broken and should be dropped. */
int sbx_w_notify_ready (struct sbx_watcher *w, struct sbx_wcontainer *c, int fd);
/* Name of syscall NR for audit arch ARCH, or NULL. */
const char *sbx_w_syscall_name (uint32_t arch, int nr);
/* Module name in an init_module image (its .modinfo "name=" entry), or "" . */
void sbx_w_modinfo_name (const char *img, size_t len, char *out, size_t size);

/* report.c */
/* Count, journal, runtime log, containerd, action. */
void sbx_w_report (struct sbx_watcher *w, struct sbx_wcontainer *c, struct sbx_wevent *ev);
/* The event as one journal JSON line (no newline); the caller frees *OUT. */
int sbx_w_event_json (const struct sbx_wcontainer *c, const char *container, const struct sbx_wevent *ev,
                      uint64_t count, char **out, size_t *len, sbx_err *err);
/* Apply run.sbx.on-violation before the syscall is answered: "freeze" or "kill"; fills ev->outcome. */
int sbx_w_action (struct sbx_watcher *w, struct sbx_wcontainer *c, struct sbx_wevent *ev);
/* The protobuf Any (google.protobuf.StringValue holding TEXT) that `containerd publish` reads on stdin. */
size_t sbx_w_any_string (const char *text, unsigned char *out, size_t size);
void sbx_w_reap_children (struct sbx_watcher *w);

/* journal.c */
/* Append LINE (one write) to the journal at PATH, rotating to PATH.1..PATH.KEEP when it would pass MAX. */
int sbx_journal_append (const char *path, long long max, int keep, const char *line, size_t len, sbx_err *err);
/* Call CB for every line of the journal, oldest first (rotated files first). */
int sbx_journal_read (const char *path, int keep, int (*cb) (void *ctx, const char *line), void *ctx,
                      sbx_err *err);
const char *sbx_journal_path (const struct sbx_config *cfg, char *buf, size_t size);

/* metrics.c */
/* Prometheus text of the running watcher. */
int sbx_w_metrics (struct sbx_watcher *w, char **out, size_t *len);
/* Prometheus text from the records alone (watcher not running). */
int sbx_metrics_offline (const struct sbx_config *cfg, char **out, size_t *len);
int sbx_w_write_textfile (struct sbx_watcher *w);

/* bpfglue.c: everything that needs the BPF loader (optional at build time). */
int sbx_w_bpf_open (struct sbx_watcher *w);
int sbx_w_bpf_fd (struct sbx_watcher *w);
void sbx_w_bpf_drain (struct sbx_watcher *w);
void sbx_w_bpf_register (struct sbx_watcher *w, struct sbx_wcontainer *c);
void sbx_w_bpf_unregister (struct sbx_watcher *w, struct sbx_wcontainer *c);
void sbx_w_bpf_close (struct sbx_watcher *w);
uint64_t sbx_w_bpf_dropped (struct sbx_watcher *w);
/* One line per hook for `sbx doctor` (a one-shot probe, nothing pinned); returns the number of live hooks or -1. */
int sbx_bpf_doctor (FILE *out, const char *prefix, bool syscalls_mode);
int sbx_w_bpf_unpin (const char *pin_dir, sbx_err *err);
void sbx_w_bpf_metrics (struct sbx_watcher *w, FILE *out);

#endif
