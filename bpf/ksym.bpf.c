/* ksym.bpf.c - an iter/ksym program (kernel 6.0+): the module name of every module symbol the kernel's kallsyms
   walk finds, one per line.  `sbx doctor --host` compares it with /proc/modules: a fourth view of the loaded
   modules that no hook on /proc files can filter. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC ("license") = "GPL";

SEC ("iter/ksym")
int
sbx_ksym_modules (struct bpf_iter__ksym *ctx)
{
  struct seq_file *seq = ctx->meta->seq;
  struct kallsym_iter *it = ctx->ksym;

  if (it == NULL || it->module_name[0] == '\0')
    return 0;
  BPF_SEQ_PRINTF (seq, "%s\n", it->module_name);
  return 0;
}
