/* loader.c - loads, probes, attaches and pins sbx's BPF hooks one by one, and reads their ring buffer. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "sbx.skel.h"
#include "sbx_bpf_int.h"

#define BPFFS_ROOT "/sys/fs/bpf"

enum hook_type
{
  HOOK_LSM,
  HOOK_RAW_TP,
  HOOK_TP_BTF,
};

struct hook_def
{
  const char *name;     /* what the report calls it */
  const char *prog;     /* program name in sbx.bpf.c */
  const char *pin;      /* link pin name under pin_dir */
  enum hook_type type;
  const char *btf_name; /* kernel BTF entry whose absence means the hook point does not exist */
  const char *event;    /* tracepoint "system:event", for messages */
  bool opt_in;          /* only with syscalls_mode */
};

static const struct hook_def hooks[SBX_BPF_NHOOKS] = {
  { "lsm/kernel_read_file", "sbx_lsm_read_file", "link_lsm_read_file", HOOK_LSM, "bpf_lsm_kernel_read_file",
    NULL, false },
  { "lsm/kernel_load_data", "sbx_lsm_load_data", "link_lsm_load_data", HOOK_LSM, "bpf_lsm_kernel_load_data",
    NULL, false },
  { "lsm/kernel_module_request", "sbx_lsm_module_request", "link_lsm_module_request", HOOK_LSM,
    "bpf_lsm_kernel_module_request", NULL, false },
  { "tp/module/module_load", "sbx_tp_module_load", "link_tp_module_load", HOOK_RAW_TP, "btf_trace_module_load",
    "module:module_load", false },
  { "tp/module/module_request", "sbx_tp_module_request", "link_tp_module_request", HOOK_RAW_TP,
    "btf_trace_module_request", "module:module_request", false },
  { "tp_btf/sys_exit", "sbx_sys_exit", "link_sys_exit", HOOK_TP_BTF, "btf_trace_sys_exit", "raw_syscalls:sys_exit",
    true },
};

#define HOOK_FIRST_PLAIN 3 /* index of the first non-LSM hook above */

static const char *const map_pins[] = { "sbx_cgroups", "sbx_pidns", "sbx_counts", "sbx_stats", "sbx_events" };

/* libbpf's warnings for the load in progress: the verifier's last words become the hook's reason.  Printed to
   stderr only with SBX_BPF_DEBUG=1, since a missing hook is an expected, reported condition. */
static char libbpf_log[8192];

static int
libbpf_print (enum libbpf_print_level level, const char *fmt, va_list ap)
{
  static int debug = -1;
  size_t len = strlen (libbpf_log);
  va_list ap2;

  if (debug < 0)
    debug = getenv ("SBX_BPF_DEBUG") != NULL && strcmp (getenv ("SBX_BPF_DEBUG"), "1") == 0;
  va_copy (ap2, ap);
  if (level == LIBBPF_WARN && len < sizeof libbpf_log - 1)
    vsnprintf (libbpf_log + len, sizeof libbpf_log - len, fmt, ap2);
  va_end (ap2);
  if (debug)
    return vfprintf (stderr, fmt, ap);
  return 0;
}

/* Last line of the verifier log libbpf printed (the line that says why), or "". */
static void
verifier_last_line (char *out, size_t size)
{
  char *end = strstr (libbpf_log, "-- END PROG LOAD LOG --"), *start;

  out[0] = '\0';
  if (end == NULL)
    return;
  while (end > libbpf_log && (end[-1] == '\n' || end[-1] == ' '))
    end--;
  for (start = end; start > libbpf_log && start[-1] != '\n'; start--)
    ;
  snprintf (out, size, "%.*s", (int) (end - start), start);
}

static bool
path_is_bpffs (const char *path)
{
  struct statfs sfs;

  return statfs (path, &sfs) == 0 && sfs.f_type == BPF_FS_MAGIC;
}

/* The pin dir must be on a bpffs; the conventional /sys/fs/bpf is not mounted at boot on every host. */
static int
prepare_pin_dir (const char *dir, sbx_err *err)
{
  size_t rl = strlen (BPFFS_ROOT);

  if (strncmp (dir, BPFFS_ROOT, rl) == 0 && (dir[rl] == '/' || dir[rl] == '\0') && !path_is_bpffs (BPFFS_ROOT))
    {
      if (mkdir (BPFFS_ROOT, 0700) < 0 && errno != EEXIST)
        return sbx_fail (err, errno, "create bpffs mount point %s", BPFFS_ROOT);
      if (mount ("bpf", BPFFS_ROOT, "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") < 0)
        return sbx_fail (err, errno, "mount bpffs on %s", BPFFS_ROOT);
    }
  if (mkdir (dir, 0700) < 0 && errno != EEXIST)
    return sbx_fail (err, errno, "create BPF pin dir %s", dir);
  if (!path_is_bpffs (dir))
    return sbx_fail (err, 0, "BPF pin dir %s is not on a bpf filesystem (mount -t bpf bpf DIR)", dir);
  return 0;
}

static char *
pin_path (const char *dir, const char *name)
{
  char *p;

  if (asprintf (&p, "%s/%s", dir, name) < 0)
    return NULL;
  return p;
}

/* Only this hook's program is loaded into a fresh object that shares the already-created maps. */
static struct sbx_skel *
open_one (struct sbx_bpf *b, int h, int *errnum)
{
  struct sbx_skel *s = sbx_skel__open ();
  struct bpf_program *p;
  struct bpf_map *m;

  if (s == NULL)
    {
      *errnum = errno;
      return NULL;
    }
  bpf_object__for_each_program (p, s->obj)
    bpf_program__set_autoload (p, h >= 0 && strcmp (bpf_program__name (p), hooks[h].prog) == 0);
  if (b != NULL)
    bpf_object__for_each_map (m, s->obj)
      {
        struct bpf_map *shared = bpf_object__find_map_by_name (b->maps->obj, bpf_map__name (m));
        int rc = shared ? bpf_map__reuse_fd (m, bpf_map__fd (shared)) : -ENOENT;
        if (rc < 0)
          {
            *errnum = -rc;
            sbx_skel__destroy (s);
            return NULL;
          }
      }
  return s;
}

static void
set_status (struct sbx_bpf_hook_status *st, int errnum, const char *fmt, ...)
{
  va_list ap;

  st->error = errnum;
  va_start (ap, fmt);
  vsnprintf (st->reason, sizeof st->reason, fmt, ap);
  va_end (ap);
}

/* Whether "bpf" is in the active LSM list; -1 when the list cannot be read (securityfs not mounted). */
static int
bpf_lsm_active (void)
{
  char buf[512];
  ssize_t n;
  int fd = open ("/sys/kernel/security/lsm", O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    return -1;
  n = read (fd, buf, sizeof buf - 1);
  close (fd);
  if (n < 0)
    return -1;
  buf[n] = '\0';
  for (char *save = NULL, *tok = strtok_r (buf, ",\n", &save); tok; tok = strtok_r (NULL, ",\n", &save))
    if (strcmp (tok, "bpf") == 0)
      return 1;
  return 0;
}

static void
missing_hook_point (const struct hook_def *d, struct sbx_bpf_hook_status *st)
{
  bool modules = access ("/proc/modules", F_OK) == 0;

  if (d->type == HOOK_LSM)
    set_status (st, ENOENT, "LSM hook %s is not in this kernel's BTF (kernel built without CONFIG_BPF_LSM?)",
                d->btf_name + strlen ("bpf_lsm_"));
  else if (!modules && strncmp (d->event, "module:", 7) == 0)
    set_status (st, ENOENT, "tracepoint %s does not exist (kernel built without CONFIG_MODULES)", d->event);
  else
    set_status (st, ENOENT, "tracepoint %s does not exist in this kernel", d->event);
}

/* PLAIN_OK: a tracepoint program loaded in this run, so an EPERM here is about trampolines, not privileges. */
static void
load_failed (const struct hook_def *d, struct sbx_bpf_hook_status *st, int errnum, bool plain_ok)
{
  char last[160];

  verifier_last_line (last, sizeof last);
  if (d->type == HOOK_LSM && errnum == EPERM && plain_ok)
    set_status (st, errnum, "BPF trampolines refused by this kernel (EPERM): lsm/ programs cannot load");
  else if (errnum == EPERM)
    set_status (st, errnum, "the kernel refused to load BPF programs (EPERM: needs CAP_BPF and CAP_PERFMON or "
                            "CAP_SYS_ADMIN, and no lockdown)");
  else if (last[0])
    set_status (st, errnum, "the kernel refused the program (%s): verifier: %s", strerrorname_np (errnum) ?: "?",
                last);
  else
    set_status (st, errnum, "the kernel refused the program (%s: %s)", strerrorname_np (errnum) ?: "?",
                strerror (errnum));
}

/* Attach hook H and pin its link, replacing a link an earlier watcher pinned (attach first, then drop the old
   one, so enforcement never has a gap). */
static void
probe_hook (struct sbx_bpf *b, int h, const struct btf *vmlinux, bool *plain_ok)
{
  const struct hook_def *d = &hooks[h];
  struct sbx_bpf_hook_status *st = &b->st[h];
  struct bpf_program *prog;
  struct bpf_link *link;
  int errnum = 0, kind = d->type == HOOK_LSM ? BTF_KIND_FUNC : BTF_KIND_TYPEDEF;

  /* A raw_tp program loads without its tracepoint (only attach needs it), so it is loaded anyway: the verifier
     then vouches for it even on a kernel where the tracepoint is missing. */
  if (vmlinux != NULL && d->type != HOOK_RAW_TP && btf__find_by_name_kind (vmlinux, d->btf_name, kind) < 0)
    {
      missing_hook_point (d, st);
      return;
    }
  b->inst[h] = open_one (b, h, &errnum);
  if (b->inst[h] == NULL)
    {
      set_status (st, errnum, "cannot open the BPF object (%s)", strerror (errnum));
      return;
    }
  libbpf_log[0] = '\0';
  if (sbx_skel__load (b->inst[h]) < 0)
    {
      load_failed (d, st, errno, *plain_ok);
      return;
    }
  if (d->type != HOOK_LSM)
    *plain_ok = true;
  prog = bpf_object__find_program_by_name (b->inst[h]->obj, d->prog);
  link = bpf_program__attach (prog);
  if (link == NULL)
    {
      errnum = errno;
      if (d->type != HOOK_LSM && errnum == ENOENT)
        missing_hook_point (d, st);
      else
        set_status (st, errnum, "attach failed (%s: %s)", strerrorname_np (errnum) ?: "?", strerror (errnum));
      return;
    }
  if (d->type == HOOK_LSM && bpf_lsm_active () == 0)
    {
      bpf_link__destroy (link);
      set_status (st, ENOTSUP, "\"bpf\" is not in the active LSM list (/sys/kernel/security/lsm; boot with lsm=...,bpf)");
      return;
    }
  b->link[h] = link;
  st->loaded = true;
  if (b->pin_dir)
    {
      char *p = pin_path (b->pin_dir, d->pin);
      int rc;

      if (p == NULL)
        rc = -ENOMEM;
      else
        {
          unlink (p);
          rc = bpf_link__pin (link, p);
        }
      free (p);
      if (rc < 0)
        snprintf (st->reason, sizeof st->reason, "loaded, but not pinned (%s): it stops when the watcher exits",
                  strerror (-rc));
    }
  if (st->reason[0] == '\0' && d->type == HOOK_LSM && bpf_lsm_active () < 0)
    snprintf (st->reason, sizeof st->reason, "could not confirm \"bpf\" in the active LSM list (securityfs not mounted)");
}

/* Hook H did not load now.  If it is off, drop the link an earlier watcher pinned (it would run behind the
   report's back).  If it is wanted, a pinned link means the earlier program still enforces with the same maps:
   keep it rather than fail open over what may be a passing error, and say so. */
static void
keep_or_drop_pin (struct sbx_bpf *b, int h)
{
  struct sbx_bpf_hook_status *st = &b->st[h];
  char *p = pin_path (b->pin_dir, hooks[h].pin);
  char why[sizeof st->reason];

  if (p == NULL)
    return;
  if (!st->wanted)
    unlink (p);
  else if (access (p, F_OK) == 0)
    {
      snprintf (why, sizeof why, "%s", st->reason);
      snprintf (st->reason, sizeof st->reason, "kept the link an earlier watcher pinned; reloading failed: %.200s",
                why);
      st->loaded = true;
      st->error = 0;
    }
  free (p);
}

static int
on_sample (void *ctx, void *data, size_t size)
{
  struct sbx_bpf *b = ctx;

  if (size < sizeof (struct sbx_bpf_event) || b->cb == NULL)
    return 0;
  return b->cb (b->cb_ctx, data);
}

/* Maps are created (or reused from pins) by an object with no program at all, so that they exist whatever
   the hooks do. */
static int
open_maps (struct sbx_bpf *b, sbx_err *err)
{
  struct bpf_map *m;
  int errnum = 0;

  b->maps = open_one (NULL, -1, &errnum);
  if (b->maps == NULL)
    return sbx_fail (err, errnum, "open the embedded BPF object");
  if (b->pin_dir)
    bpf_object__for_each_map (m, b->maps->obj)
      {
        char *p = pin_path (b->pin_dir, bpf_map__name (m));
        int rc = p ? bpf_map__set_pin_path (m, p) : -ENOMEM;
        free (p);
        if (rc < 0)
          return sbx_fail (err, -rc, "set pin path of BPF map %s", bpf_map__name (m));
      }
  libbpf_log[0] = '\0';
  if (sbx_skel__load (b->maps) < 0)
    {
      errnum = errno;
      if (b->pin_dir)
        return sbx_fail (err, errnum,
                         "create or reuse the BPF maps pinned under %s (pins from an incompatible sbx can be "
                         "removed with `sbx install --uninstall`)",
                         b->pin_dir);
      return sbx_fail (err, errnum, "create the BPF maps");
    }
  b->fd_cgroups = bpf_map__fd (b->maps->maps.sbx_cgroups);
  b->fd_pidns = bpf_map__fd (b->maps->maps.sbx_pidns);
  b->fd_counts = bpf_map__fd (b->maps->maps.sbx_counts);
  b->fd_stats = bpf_map__fd (b->maps->maps.sbx_stats);
  return 0;
}

int
sbx_bpf_open (struct sbx_bpf **out, const struct sbx_bpf_opts *o, sbx_err *err)
{
  struct sbx_bpf *b;
  struct btf *vmlinux;
  bool plain_ok = false;

  libbpf_set_print (libbpf_print);
  b = calloc (1, sizeof *b);
  if (b == NULL)
    return sbx_fail (err, errno, "allocate the BPF loader");
  if (o && o->pin_dir)
    {
      if (prepare_pin_dir (o->pin_dir, err) < 0 || (b->pin_dir = strdup (o->pin_dir)) == NULL)
        {
          if (b->pin_dir == NULL && err && err->msg[0] == '\0')
            sbx_fail (err, ENOMEM, "copy pin dir");
          free (b);
          return -1;
        }
    }
  if (open_maps (b, err) < 0)
    {
      sbx_bpf_close (b);
      return -1;
    }

  /* Without kernel BTF nothing CO-RE loads; each hook then reports the loader's own error. */
  vmlinux = btf__load_vmlinux_btf ();
  /* Tracepoint programs first: whether they load tells what an LSM program's EPERM means. */
  for (int i = 0; i < SBX_BPF_NHOOKS; i++)
    {
      int h = (i + HOOK_FIRST_PLAIN) % SBX_BPF_NHOOKS;

      b->st[h].name = hooks[h].name;
      b->st[h].wanted = !hooks[h].opt_in || (o && o->syscalls_mode);
      if (b->st[h].wanted)
        probe_hook (b, h, vmlinux, &plain_ok);
      else
        snprintf (b->st[h].reason, sizeof b->st[h].reason, "opt-in: syscalls mode is off");
      if (!b->st[h].loaded && b->pin_dir)
        keep_or_drop_pin (b, h);
    }
  btf__free (vmlinux);

  b->rb = ring_buffer__new (bpf_map__fd (b->maps->maps.sbx_events), on_sample, b, NULL);
  if (b->rb == NULL)
    {
      int errnum = errno;
      sbx_bpf_close (b);
      return sbx_fail (err, errnum, "open the BPF ring buffer");
    }
  *out = b;
  return 0;
}

size_t
sbx_bpf_hooks (struct sbx_bpf *b, const struct sbx_bpf_hook_status **out)
{
  *out = b->st;
  return SBX_BPF_NHOOKS;
}

size_t
sbx_bpf_live_hooks (struct sbx_bpf *b)
{
  size_t n = 0;

  for (int h = 0; h < SBX_BPF_NHOOKS; h++)
    n += b->st[h].loaded;
  return n;
}

void
sbx_bpf_report (struct sbx_bpf *b, FILE *out, const char *prefix)
{
  for (int h = 0; h < SBX_BPF_NHOOKS; h++)
    {
      const struct sbx_bpf_hook_status *st = &b->st[h];

      fprintf (out, "%s%s: ", prefix ? prefix : "", st->name);
      if (st->loaded)
        fprintf (out, st->reason[0] ? "loaded (%s)\n" : "loaded\n", st->reason);
      else if (!st->wanted)
        fprintf (out, "off (%s)\n", st->reason);
      else
        fprintf (out, "unavailable: %s\n", st->reason);
    }
}

int
sbx_bpf_fd (struct sbx_bpf *b)
{
  return ring_buffer__epoll_fd (b->rb);
}

int
sbx_bpf_poll (struct sbx_bpf *b, int timeout_ms, int (*cb) (void *ctx, const struct sbx_bpf_event *ev), void *ctx)
{
  int rc;

  b->cb = cb;
  b->cb_ctx = ctx;
  rc = ring_buffer__poll (b->rb, timeout_ms);
  b->cb = NULL;
  b->cb_ctx = NULL;
  return rc;
}

uint64_t
sbx_bpf_dropped (struct sbx_bpf *b)
{
  uint32_t key = SBX_BPF_STAT_DROPPED;
  uint64_t n = 0;

  if (bpf_map_lookup_elem (b->fd_stats, &key, &n) < 0)
    return 0;
  return n;
}

void
sbx_bpf_close (struct sbx_bpf *b)
{
  if (b == NULL)
    return;
  ring_buffer__free (b->rb);
  /* A pinned link survives this: the pin holds its own reference. */
  for (int h = 0; h < SBX_BPF_NHOOKS; h++)
    {
      bpf_link__destroy (b->link[h]);
      sbx_skel__destroy (b->inst[h]);
    }
  sbx_skel__destroy (b->maps);
  free (b->pin_dir);
  free (b);
}

int
sbx_bpf_unpin (const char *pin_dir, sbx_err *err)
{
  for (int h = 0; h < SBX_BPF_NHOOKS; h++)
    {
      char *p = pin_path (pin_dir, hooks[h].pin);
      if (p == NULL || (unlink (p) < 0 && errno != ENOENT))
        {
          int errnum = p ? errno : ENOMEM;
          sbx_fail (err, errnum, "unpin BPF link %s", p ? p : hooks[h].pin);
          free (p);
          return -1;
        }
      free (p);
    }
  for (size_t i = 0; i < sizeof map_pins / sizeof map_pins[0]; i++)
    {
      char *p = pin_path (pin_dir, map_pins[i]);
      if (p == NULL || (unlink (p) < 0 && errno != ENOENT))
        {
          int errnum = p ? errno : ENOMEM;
          sbx_fail (err, errnum, "unpin BPF map %s", p ? p : map_pins[i]);
          free (p);
          return -1;
        }
      free (p);
    }
  if (rmdir (pin_dir) < 0 && errno != ENOENT)
    return sbx_fail (err, errno, "remove BPF pin dir %s", pin_dir);
  return 0;
}
