/* seccomp_oci.h - edits of an OCI linux.seccomp object (JSON level; what every delegate understands). */
#ifndef SBX_SECCOMP_OCI_H
#define SBX_SECCOMP_OCI_H

#include "../oci/json.h"

/* crun loads a precompiled seccomp filter from this annotation instead of linux.seccomp. */
#define SBX_ANN_CRUN_BPF "run.oci.seccomp_bpf_data"

/* The syscalls no container may use to touch kernel modules. */
extern const char *const sbx_module_syscalls[3];

/* A filter that allows everything, for the native architecture and its compat ABIs (a 32-bit int 0x80
   init_module must be caught too). */
json_t *sbx_seccomp_new_allow_all (void);

/* Make the module syscalls fail with EPERM under SECCOMP: drop them from every rule (whatever its action or
   argument filters), then add one rule refusing them, unless the default action already is EPERM. */
int sbx_seccomp_block_modules (json_t *seccomp, sbx_err *err);

/* The seccomp object of SPEC (linux.seccomp), created allow-all when the engine gave none. */
int sbx_seccomp_of_spec (json_t *spec, json_t **seccomp, sbx_err *err);

#endif
