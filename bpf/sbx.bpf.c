/* sbx.bpf.c - kernel side of sbx's module-load watcher: LSM refusals, module tracepoints, opt-in sys_exit. */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "sbx_events.h"

/* LSM programs and bpf_probe_read_* need a GPL-compatible licence. */
char LICENSE[] SEC ("license") = "GPL";

#define EPERM 1
/* Deep enough for container cgroups (docker: /system.slice/docker-ID.scope plus delegated sub-cgroups) and
   for pid namespaces nested inside a container. */
#define MAX_CGROUP_LEVELS 16
#define MAX_PIDNS_LEVELS 8

#if defined(__TARGET_ARCH_x86)
#define NR_INIT_MODULE 175
#define NR_DELETE_MODULE 176
#define NR_FINIT_MODULE 313
#define SYSCALL_NR(regs) ((regs)->orig_ax) /* tp_btf: a direct, BTF-checked load; no helper call per syscall */
/* 32-bit (int 0x80 / ia32) callers use other numbers, and 175 is their rt_sigprocmask: tell them apart by
   the task's TS_COMPAT status bit. */
#define HAVE_COMPAT 1
#define TS_COMPAT 0x0002
#define NR32_INIT_MODULE 128
#define NR32_DELETE_MODULE 129
#define NR32_FINIT_MODULE 350
#elif defined(__TARGET_ARCH_arm64)
#define NR_INIT_MODULE 105
#define NR_DELETE_MODULE 106
#define NR_FINIT_MODULE 273
#define SYSCALL_NR(regs) ((regs)->syscallno)
#else
#error "sbx.bpf.c: syscall numbers unknown for this architecture"
#endif

/* cgroup v2 id -> registration.  Also matched against every ancestor of the task's cgroup, so a container
   that creates sub-cgroups (cgroupns + delegation) cannot step out of its key. */
struct
{
  __uint (type, BPF_MAP_TYPE_HASH);
  __uint (max_entries, SBX_BPF_MAX_SLOTS);
  __type (key, __u64);
  __type (value, struct sbx_bpf_reg);
} sbx_cgroups SEC (".maps");

/* active pid namespace inode -> slot: the second key, for a task that left the container's cgroup. */
struct
{
  __uint (type, BPF_MAP_TYPE_HASH);
  __uint (max_entries, SBX_BPF_MAX_SLOTS);
  __type (key, __u32);
  __type (value, __u32);
} sbx_pidns SEC (".maps");

/* Per-slot event counters; pinned, so they outlive a watcher restart. */
struct
{
  __uint (type, BPF_MAP_TYPE_ARRAY);
  __uint (max_entries, SBX_BPF_MAX_SLOTS);
  __type (key, __u32);
  __type (value, __u64);
} sbx_counts SEC (".maps");

struct
{
  __uint (type, BPF_MAP_TYPE_ARRAY);
  __uint (max_entries, SBX_BPF_STAT_MAX);
  __type (key, __u32);
  __type (value, __u64);
} sbx_stats SEC (".maps");

struct
{
  __uint (type, BPF_MAP_TYPE_RINGBUF);
  __uint (max_entries, 256 * 1024);
} sbx_events SEC (".maps");

struct task_keys
{
  __u64 cgroup_id;
  __u32 pidns_ino;
  __u32 slot;
};

/* Attribute the current task: the deepest registered cgroup among its cgroup and ancestors, else a registered
   pid namespace among its active one and the ones above it. */
static __always_inline void
current_keys (struct task_keys *k)
{
  struct task_struct *task = (struct task_struct *) bpf_get_current_task ();
  struct pid *pid = BPF_CORE_READ (task, thread_pid);
  unsigned int level = BPF_CORE_READ (pid, level);
  int i;

  k->cgroup_id = bpf_get_current_cgroup_id ();
  k->slot = SBX_BPF_SLOT_NONE;
  k->pidns_ino = 0;

  for (i = 0; i < MAX_CGROUP_LEVELS; i++)
    {
      __u64 id = bpf_get_current_ancestor_cgroup_id (i);
      struct sbx_bpf_reg *r;

      if (id == 0)
        break;
      r = bpf_map_lookup_elem (&sbx_cgroups, &id);
      if (r)
        k->slot = r->slot;
    }

  for (i = 0; i < MAX_PIDNS_LEVELS; i++)
    {
      struct upid up = {};
      __u32 ino, *slot;

      if ((unsigned int) i > level)
        break;
      bpf_core_read (&up, sizeof up, &pid->numbers[i]);
      ino = BPF_CORE_READ (up.ns, ns.inum);
      if ((unsigned int) i == level)
        k->pidns_ino = ino;
      if (k->slot != SBX_BPF_SLOT_NONE)
        continue;
      slot = bpf_map_lookup_elem (&sbx_pidns, &ino);
      if (slot && *slot < SBX_BPF_MAX_SLOTS)
        k->slot = *slot;
    }
}

static __always_inline void
count (__u32 slot)
{
  __u64 *n;

  if (slot == SBX_BPF_SLOT_NONE)
    return;
  n = bpf_map_lookup_elem (&sbx_counts, &slot);
  if (n)
    __sync_fetch_and_add (n, 1);
}

/* Reserve and fill the common part of an event; NULL (and the drop counted) when the ring buffer is full. */
static __always_inline struct sbx_bpf_event *
event_start (const struct task_keys *k, __u32 kind, __u32 action, int nr, int ret)
{
  struct sbx_bpf_event *e = bpf_ringbuf_reserve (&sbx_events, sizeof *e, 0);
  __u64 id = bpf_get_current_pid_tgid ();

  count (k->slot);
  if (e == NULL)
    {
      __u32 key = SBX_BPF_STAT_DROPPED;
      __u64 *n = bpf_map_lookup_elem (&sbx_stats, &key);
      if (n)
        __sync_fetch_and_add (n, 1);
      return NULL;
    }
  e->time_ns = bpf_ktime_get_ns ();
  e->cgroup_id = k->cgroup_id;
  e->pid = (__u32) id;
  e->tgid = id >> 32;
  e->pidns_ino = k->pidns_ino;
  e->slot = k->slot;
  e->kind = kind;
  e->action = action;
  e->syscall_nr = nr;
  e->ret = ret;
  e->module[0] = '\0';
  bpf_get_current_comm (e->comm, sizeof e->comm);
  return e;
}

/* An earlier BPF LSM program on this hook already refused: keep its errno, but in the [-MAX_ERRNO, 0) range
   newer verifiers demand of LSM return values. */
static __always_inline int
keep_refusal (int ret)
{
  if (ret < -4095 || ret > 0)
    return -EPERM;
  return ret;
}

/* finit_module: the module file is read through kernel_read_file (READING_MODULE). */
SEC ("lsm/kernel_read_file")
int
BPF_PROG (sbx_lsm_read_file, struct file *file, enum kernel_read_file_id id, bool contents, int ret)
{
  struct task_keys k;
  struct sbx_bpf_event *e;

  if (ret != 0)
    return keep_refusal (ret);
  if (id != bpf_core_enum_value (enum kernel_read_file_id, READING_MODULE))
    return 0;
  current_keys (&k);
  if (k.slot == SBX_BPF_SLOT_NONE)
    return 0;
  e = event_start (&k, SBX_BPF_LSM_READ_FILE, SBX_BPF_DENIED, -1, -EPERM);
  if (e)
    {
      const unsigned char *name = BPF_CORE_READ (file, f_path.dentry, d_name.name);
      bpf_probe_read_kernel_str (e->module, sizeof e->module, name);
      bpf_ringbuf_submit (e, 0);
    }
  return -EPERM;
}

/* init_module: the image comes from user memory (LOADING_MODULE). */
SEC ("lsm/kernel_load_data")
int
BPF_PROG (sbx_lsm_load_data, enum kernel_load_data_id id, bool contents, int ret)
{
  struct task_keys k;
  struct sbx_bpf_event *e;

  if (ret != 0)
    return keep_refusal (ret);
  if (id != bpf_core_enum_value (enum kernel_load_data_id, LOADING_MODULE))
    return 0;
  current_keys (&k);
  if (k.slot == SBX_BPF_SLOT_NONE)
    return 0;
  e = event_start (&k, SBX_BPF_LSM_LOAD_DATA, SBX_BPF_DENIED, -1, -EPERM);
  if (e)
    bpf_ringbuf_submit (e, 0);
  return -EPERM;
}

/* Module autoload (socket families, netlink, `ip link add`): the request runs in the requesting task, while
   the modprobe it spawns runs in the host's namespaces; only here can the container be told apart. */
SEC ("lsm/kernel_module_request")
int
BPF_PROG (sbx_lsm_module_request, char *kmod_name, int ret)
{
  struct task_keys k;
  struct sbx_bpf_event *e;

  if (ret != 0)
    return keep_refusal (ret);
  current_keys (&k);
  if (k.slot == SBX_BPF_SLOT_NONE)
    return 0;
  e = event_start (&k, SBX_BPF_LSM_MODULE_REQUEST, SBX_BPF_DENIED, -1, -EPERM);
  if (e)
    {
      bpf_probe_read_kernel_str (e->module, sizeof e->module, kmod_name);
      bpf_ringbuf_submit (e, 0);
    }
  return -EPERM;
}

/* Host-wide record of every module that got loaded. */
SEC ("raw_tp/module_load")
int
BPF_PROG (sbx_tp_module_load, struct module *mod)
{
  struct task_keys k;
  struct sbx_bpf_event *e;

  current_keys (&k);
  e = event_start (&k, SBX_BPF_TP_MODULE_LOAD, SBX_BPF_OBSERVED, -1, 0);
  if (e)
    {
      BPF_CORE_READ_STR_INTO (&e->module, mod, name);
      bpf_ringbuf_submit (e, 0);
    }
  return 0;
}

/* Host-wide record of autoload requests, attributed to the requesting container. */
SEC ("raw_tp/module_request")
int
BPF_PROG (sbx_tp_module_request, char *name, bool wait, unsigned long ip)
{
  struct task_keys k;
  struct sbx_bpf_event *e;

  current_keys (&k);
  e = event_start (&k, SBX_BPF_TP_MODULE_REQUEST, SBX_BPF_OBSERVED, -1, 0);
  if (e)
    {
      bpf_probe_read_kernel_str (e->module, sizeof e->module, name);
      bpf_ringbuf_submit (e, 0);
    }
  return 0;
}

/* The native number of a module syscall NR, or -1 when NR is some other syscall. */
static __always_inline long
module_syscall (long nr)
{
#ifdef HAVE_COMPAT
  bool compat;

  if (nr != NR_FINIT_MODULE && nr != NR_INIT_MODULE && nr != NR_DELETE_MODULE && nr != NR32_FINIT_MODULE
      && nr != NR32_INIT_MODULE && nr != NR32_DELETE_MODULE)
    return -1;
  compat = BPF_CORE_READ ((struct task_struct *) bpf_get_current_task (), thread_info.status) & TS_COMPAT;
  if (!compat)
    return nr == NR_FINIT_MODULE || nr == NR_INIT_MODULE || nr == NR_DELETE_MODULE ? nr : -1;
  return nr == NR32_FINIT_MODULE ? NR_FINIT_MODULE
         : nr == NR32_INIT_MODULE ? NR_INIT_MODULE
         : nr == NR32_DELETE_MODULE ? NR_DELETE_MODULE
                                    : -1;
#else
  return nr == NR_FINIT_MODULE || nr == NR_INIT_MODULE || nr == NR_DELETE_MODULE ? nr : -1;
#endif
}

/* Opt-in: seccomp refuses before sys_enter fires, but sys_exit still runs with ret = -errno. */
SEC ("tp_btf/sys_exit")
int
BPF_PROG (sbx_sys_exit, struct pt_regs *regs, long ret)
{
  struct task_keys k;
  struct sbx_bpf_event *e;
  long nr = module_syscall (SYSCALL_NR (regs));

  if (nr < 0)
    return 0;
  current_keys (&k);
  if (k.slot == SBX_BPF_SLOT_NONE)
    return 0;
  e = event_start (&k, SBX_BPF_SYS_EXIT, SBX_BPF_OBSERVED, (int) nr, (int) ret);
  if (e)
    bpf_ringbuf_submit (e, 0);
  return 0;
}
