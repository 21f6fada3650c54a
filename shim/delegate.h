/* delegate.h - the real OCI runtime sbx hands every call to: chosen once, called in one place. */
#ifndef SBX_DELEGATE_H
#define SBX_DELEGATE_H

#include <stddef.h>

#include "../common/config.h"
#include "../policy/policy.h"

struct sbx_delegate
{
  char path[4096];
  enum sbx_delegate_kind kind;
};

/* SBX_RUNTIME (runc, crun or a path), then the config's "runtime", then crun if installed, else runc.  Never
   resolves to sbx itself (sbx-runtime may be installed under the name runc). */
int sbx_delegate_resolve (const struct sbx_config *cfg, struct sbx_delegate *d, sbx_err *err);

/* Replace this process with the delegate, with ARGV[1..] unchanged.  Returns only on failure. */
int sbx_delegate_exec (const struct sbx_delegate *d, char **argv, sbx_err *err);

/* Run the delegate with ARGV[1..] as a child and capture its stdout (at most MAX bytes); stderr passes through.
   *STATUS gets the wait status. */
int sbx_delegate_capture (const struct sbx_delegate *d, char **argv, size_t max, char **out, size_t *len,
                          int *status, sbx_err *err);

#endif
