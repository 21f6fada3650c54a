/* sbx_events.h - the event record and map layout shared by the BPF programs and their userspace loader. */
#ifndef SBX_EVENTS_H
#define SBX_EVENTS_H

/* The BPF side gets __u32 and friends from vmlinux.h; userspace from linux/types.h. */
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SBX_BPF_MAX_SLOTS 4096        /* container slots: indexes of the per-container counter array */
#define SBX_BPF_SLOT_NONE 0xffffffffu /* event from a task of no registered container */
#define SBX_BPF_MODNAME_LEN 64
#define SBX_BPF_COMM_LEN 16

/* Which hook saw the event. */
enum sbx_bpf_kind
{
  SBX_BPF_LSM_READ_FILE = 1,     /* lsm/kernel_read_file, READING_MODULE (finit_module) */
  SBX_BPF_LSM_LOAD_DATA = 2,     /* lsm/kernel_load_data, LOADING_MODULE (init_module) */
  SBX_BPF_LSM_MODULE_REQUEST = 3, /* lsm/kernel_module_request (autoload via request_module) */
  SBX_BPF_TP_MODULE_LOAD = 4,    /* tracepoint module:module_load (a module was loaded) */
  SBX_BPF_TP_MODULE_REQUEST = 5, /* tracepoint module:module_request (autoload requested) */
  SBX_BPF_SYS_EXIT = 6,          /* tp_btf/sys_exit on init_module, finit_module, delete_module */
};

enum sbx_bpf_action
{
  SBX_BPF_OBSERVED = 0, /* recorded only */
  SBX_BPF_DENIED = 1,   /* the hook refused it with -EPERM */
};

/* One ring-buffer record.  Fixed layout: no pointers, explicit padding. */
struct sbx_bpf_event
{
  __u64 time_ns;    /* bpf_ktime_get_ns (CLOCK_MONOTONIC) */
  __u64 cgroup_id;  /* cgroup v2 id of the task (inode of its cgroup2 dir) */
  __u32 pid;        /* host thread id */
  __u32 tgid;       /* host process id */
  __u32 pidns_ino;  /* inode of the task's active pid namespace */
  __u32 slot;       /* registered container slot, or SBX_BPF_SLOT_NONE */
  __u32 kind;       /* enum sbx_bpf_kind */
  __u32 action;     /* enum sbx_bpf_action */
  __s32 syscall_nr; /* SBX_BPF_SYS_EXIT: native syscall number (a 32-bit caller's is mapped to it), else -1 */
  __s32 ret;        /* syscall return (-errno) for SBX_BPF_SYS_EXIT, hook verdict for LSM, else 0 */
  char module[SBX_BPF_MODNAME_LEN]; /* module name when the hook knows it, else "" */
  char comm[SBX_BPF_COMM_LEN];
};

/* Value of the cgroup-keyed registration map (the pid-namespace map holds only the slot). */
struct sbx_bpf_reg
{
  __u32 slot;
  __u32 pidns_ino; /* 0 when the container is keyed by cgroup only */
};

/* Indexes of the stats array map. */
enum sbx_bpf_stat
{
  SBX_BPF_STAT_DROPPED = 0, /* ring buffer full: event lost (the counter still counted it) */
  SBX_BPF_STAT_MAX = 4,
};

#endif
