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
#define SBX_W_GENS 16       /* journal files whose bytes are counted per container (journal.keep + 1, at most) */

struct sbx_wcontainer
{
  char id[256];
  char engine[64], bundle[PATH_MAX], policy[16], on_violation[8], monitor[16];
  char runtime_log[PATH_MAX], cd_address[PATH_MAX], cd_namespace[128];
  bool log_json;
  pid_t pid;                    /* host pid of the container's init (for records and messages, never acted on) */
  unsigned long long starttime; /* of that pid, to tell a reused pid */
  int pidfd;                    /* the verified init: kill and liveness through it; -1 when unverified */
  int cg_fd, frz_fd;            /* its cgroup v2 and v1 freezer directories, opened at registration; -1 if none */
  char cgroup[PATH_MAX], freezer[PATH_MAX]; /* their paths, for the record */
  uint64_t cg_ino;              /* inode of the cgroup v2 directory: a path reused later is not this cgroup */
  uint64_t cgroup_id;
  uint32_t pidns_ino, slot;
  bool bpf_registered;
  uint64_t count;               /* module-load attempts seen, persisted in ID.count */
  int count_fd;                 /* ID.count, rewritten in place per event */
  int notify_fds[SBX_W_MAX_NOTIFY];
  int nnotify;
  time_t registered;
  /* Report budget (token buckets in events and bytes, and a share of the journal): counts stay exact, reports
     beyond it are dropped and summed up in a "dropped" record. */
  double tokens, btokens;
  struct timespec refilled;
  uint64_t suppressed, dropped;  /* since the last "dropped" record; in all */
  char why_dropped[40];          /* the budget spent last */
  time_t summarized, last_drop;
  uint64_t gen[SBX_W_GENS], gen_bytes[SBX_W_GENS]; /* bytes this container wrote to journal generation gen[i] */
  struct sbx_wcontainer *next;
};

/* One reportable event (a violation or a monitoring change). */
struct sbx_wevent
{
  struct timespec time;
  const char *type;      /* "violation", "monitor-lost" */
  const char *hook;      /* "seccomp-notify", or the BPF hook */
  const char *syscall;   /* NULL when the hook is not a syscall */
  /* Raw, as read from the container: larger than what the encoder keeps, so a cut value is marked as cut. */
  char module[256], params[1024], file[PATH_MAX], comm[32];
  pid_t pid;
  const char *action;    /* log|freeze|kill */
  char outcome[512];
  uint64_t dropped;      /* a "dropped" record: how many events it stands for */
};

/* An event's strings as every sink writes them (sbx_w_clean): valid UTF-8, nothing hidden, capped. */
struct sbx_wclean
{
  char module[128], params[512], file[1024], comm[80], outcome[640], engine[128];
  char type[32], hook[64], syscall[64], action[32];
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
  uint64_t notifications, suppressed_total, dropped_rate, dropped_bytes, dropped_share;
  double rate_per_s, burst, bytes_per_s, burst_bytes;
  long long share_pct;          /* journal.container_share_percent of the journal's capacity per container */
  uint64_t journal_gen;         /* rotations of the journal since start */
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
enum sbx_wreq
{
  SBX_WREQ_UNKNOWN,
  SBX_WREQ_PROBE, /* an empty line: connect and close */
  SBX_WREQ_PING,
  SBX_WREQ_UNREGISTER,
  SBX_WREQ_METRICS,
  SBX_WREQ_RESTART,
  SBX_WREQ_STOP,
};
/* A control request (one line, without an fd), split in place; *ARG is the word after the name, if it takes one. */
enum sbx_wreq sbx_w_parse_request (char *line, const char **arg);
void sbx_w_accept (struct sbx_watcher *w);
void sbx_w_conn_readable (struct sbx_watcher *w, int fd);
/* Close clients older than 5 s (a delegate's notify fd is registered anyway). */
void sbx_w_expire_conns (struct sbx_watcher *w);

/* Add a container's notify fd to the event loop. */
int sbx_w_watch_notify (struct sbx_watcher *w, int fd);

/* registry.c: the container table and its records under <state>/watcher/containers. */
struct sbx_wcontainer *sbx_w_find (struct sbx_watcher *w, const char *id);
struct sbx_wcontainer *sbx_w_find_slot (struct sbx_watcher *w, uint32_t slot);
/* What the runtime sends with the notify fd (the OCI container-process state), parsed and checked; strings point
   into ROOT, which the caller frees. */
struct sbx_wstate
{
  json_t *root;
  const char *id, *meta, *bundle, *engine, *policy, *on_violation, *runtime_log, *log_format, *cd_address,
      *cd_namespace;
  long long pid;
};
int sbx_w_parse_state (const char *text, size_t len, struct sbx_wstate *st, sbx_err *err);
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

/* clean.c */
/* LEN bytes of IN as OUT (SIZE bytes with the NUL): valid UTF-8; invalid sequences and characters that hide or move
   text (C0, DEL, C1, bidi and line separators) written byte by byte as \xNN, a backslash as \\; cut at a character
   boundary with U+2026 when it does not fit.  Returns the length written. */
size_t sbx_w_clean (const char *in, size_t len, char *out, size_t size);
void sbx_w_event_clean (const struct sbx_wcontainer *c, const struct sbx_wevent *ev, struct sbx_wclean *out);
/* `sbx events`' reader: one journal line of LEN bytes (NUL-terminated at LEN) as a JSON object, whatever it holds:
   a line with invalid UTF-8 (older watchers wrote raw bytes) is repaired, one that still is no JSON object becomes
   an "unreadable" record.  *TEXT is its JSON text.  Fails only for want of memory. */
int sbx_journal_decode (const char *line, size_t len, json_t **out, char **text, sbx_err *err);

/* target.c: what actions aim at */
/* Open a pidfd of PID and check it is a container's init (in seccomp filter mode; pid 1 of a pid namespace other
   than ours when NS_INIT), then open its cgroup directories; all read while the pidfd shows it alive, so a reused
   pid is never taken for it.  On failure C keeps no pidfd and WHY says why. */
int sbx_w_bind_init (struct sbx_wcontainer *c, pid_t pid, bool ns_init, char *why, size_t size);
/* After a restart: the recorded init and cgroups, if the pid is still that process (starttime) in them. */
void sbx_w_rebind (struct sbx_wcontainer *c);
/* Field 22 of /proc/PID/stat (0 when gone). */
unsigned long long sbx_w_starttime (pid_t pid);
void sbx_w_unbind (struct sbx_wcontainer *c);
/* Freeze the recorded cgroup (v1 freezer first, as the engines' pause does, else cgroup v2). */
int sbx_w_freeze (struct sbx_wcontainer *c, char *why, size_t size);
/* SIGKILL through the pidfd. */
int sbx_w_kill_init (struct sbx_wcontainer *c, char *why, size_t size);

/* report.c */
/* Count, journal, runtime log, containerd, action. */
void sbx_w_report (struct sbx_watcher *w, struct sbx_wcontainer *c, struct sbx_wevent *ev);
/* The event as one journal JSON line (no newline); the caller frees *OUT. */
int sbx_w_event_json (const struct sbx_wcontainer *c, const char *container, const struct sbx_wevent *ev,
                      uint64_t count, char **out, size_t *len, sbx_err *err);
/* The runtime-log message of an event (fields cleaned, at most 1900 bytes, cut between characters). */
void sbx_w_log_message (const struct sbx_wcontainer *c, const struct sbx_wevent *ev, char *msg, size_t size);
/* Apply run.sbx.on-violation before the syscall is answered: "freeze" or "kill"; fills ev->outcome. */
int sbx_w_action (struct sbx_watcher *w, struct sbx_wcontainer *c, struct sbx_wevent *ev);
/* The protobuf Any (google.protobuf.StringValue holding TEXT) that `containerd publish` reads on stdin. */
size_t sbx_w_any_string (const char *text, unsigned char *out, size_t size);
void sbx_w_reap_children (struct sbx_watcher *w);
/* Once a tick: a "dropped" record for each container whose events were dropped (once its flood pauses, or every
   10 s while it goes on). */
void sbx_w_flush_drops (struct sbx_watcher *w);

/* journal.c */
/* Append LINE (one write) to the journal at PATH, rotating to PATH.1..PATH.KEEP when it would pass MAX.  Returns 1
   when it rotated first. */
int sbx_journal_append (const char *path, long long max, int keep, const char *line, size_t len, sbx_err *err);
/* Call CB for every line of the journal, oldest first (rotated files first). */
int sbx_journal_read (const char *path, int keep, int (*cb) (void *ctx, const char *line, size_t len), void *ctx,
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
