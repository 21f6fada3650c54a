/* sbx_bpf_int.h - private state of the BPF loader, shared by loader.c and registry.c only. */
#ifndef SBX_BPF_INT_H
#define SBX_BPF_INT_H

#include "sbx_bpf.h"

#define SBX_BPF_NHOOKS 6

struct sbx_skel;
struct bpf_link;
struct ring_buffer;

struct sbx_bpf
{
  struct sbx_skel *maps;                   /* owns the shared maps (created or reused from pins) */
  struct sbx_skel *inst[SBX_BPF_NHOOKS];   /* one object per hook, so one refusal spares the others */
  struct bpf_link *link[SBX_BPF_NHOOKS];
  struct sbx_bpf_hook_status st[SBX_BPF_NHOOKS];
  struct ring_buffer *rb;
  char *pin_dir;
  int fd_cgroups, fd_pidns, fd_counts, fd_stats;
  /* sbx_bpf_poll's callback, valid during one poll */
  int (*cb) (void *ctx, const struct sbx_bpf_event *ev);
  void *cb_ctx;
};

#endif
