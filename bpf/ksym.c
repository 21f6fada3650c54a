/* ksym.c - runs the iter/ksym program once and hands back its text (the module views of `sbx doctor --host`). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ksym.skel.h"
#include "sbx_bpf.h"

int
sbx_bpf_ksym_modules (size_t max, char **out, size_t *len, sbx_err *err)
{
  struct sbx_ksym_skel *skel = sbx_ksym_skel__open_and_load ();
  struct bpf_link *link = NULL;
  char *buf = NULL;
  size_t n = 0;
  int fd = -1, ret = -1;

  if (skel == NULL)
    return sbx_fail (err, errno, "load iter/ksym (kernel 6.0 or later with BPF iterators)");
  link = bpf_program__attach_iter (skel->progs.sbx_ksym_modules, NULL);
  if (link == NULL)
    {
      sbx_fail (err, errno, "attach iter/ksym");
      goto out;
    }
  fd = bpf_iter_create (bpf_link__fd (link));
  if (fd < 0 || (buf = malloc (max + 1)) == NULL)
    {
      sbx_fail (err, fd < 0 ? errno : ENOMEM, "create the ksym iterator");
      goto out;
    }
  for (;;)
    {
      ssize_t r = read (fd, buf + n, max - n);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        {
          sbx_fail (err, errno, "read the ksym iterator");
          goto out;
        }
      if (r == 0 || (n += (size_t) r) == max)
        break;
    }
  buf[n] = '\0';
  *out = buf, buf = NULL;
  *len = n;
  ret = 0;
out:
  free (buf);
  if (fd >= 0)
    close (fd);
  bpf_link__destroy (link);
  sbx_ksym_skel__destroy (skel);
  return ret;
}
