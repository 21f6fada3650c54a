/* profile.h - seccomp profiles: Docker/Moby JSON resolved for one container, intersected with the engine's
   filter, compiled with libseccomp and cached as BPF.  Only profiles/ includes libseccomp. */
#ifndef SBX_PROFILE_H
#define SBX_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../common/config.h"
#include "../oci/json.h"

/* Where the crun compile stage keeps the full linux.seccomp while crun is handed a stand-in next to the
   precompiled program; the seccomp stage puts it back when a hardened spec is hardened again. */
#define SBX_ANN_SECCOMP_SAVED "run.sbx.seccomp"

/* Ordered by the kernel's precedence: when two filters disagree the larger one wins. */
enum sbx_act_kind
{
  SBX_ACT_ALLOW,
  SBX_ACT_LOG,
  SBX_ACT_TRACE,
  SBX_ACT_NOTIFY,
  SBX_ACT_ERRNO,
  SBX_ACT_TRAP,
  SBX_ACT_KILL_THREAD,
  SBX_ACT_KILL_PROCESS,
};

struct sbx_action
{
  enum sbx_act_kind kind;
  int data; /* errno for ERRNO, message for TRACE */
};

/* Same numbering as libseccomp's enum scmp_compare. */
enum sbx_cmp_op
{
  SBX_CMP_NE = 1,
  SBX_CMP_LT,
  SBX_CMP_LE,
  SBX_CMP_EQ,
  SBX_CMP_GE,
  SBX_CMP_GT,
  SBX_CMP_MASKED_EQ,
};

struct sbx_cmp
{
  unsigned idx;
  enum sbx_cmp_op op;
  uint64_t value, value_two; /* MASKED_EQ: (arg & value) == value_two */
};

/* One syscall name with one conjunction of comparisons (at most one per argument). */
struct sbx_rule
{
  char *name;
  struct sbx_action act;
  unsigned ncmp;
  struct sbx_cmp cmp[6];
  char *comment; /* why the rule exists, from the profile; may be NULL */
};

/* A filter in OCI terms (linux.seccomp): what runc and crun read, minus listener and flags. */
struct sbx_filter
{
  struct sbx_action def;
  char **arches; /* SCMP_ARCH_* names; empty means native only */
  size_t narches;
  struct sbx_rule *rules;
  size_t nrules;
};

void sbx_filter_free (struct sbx_filter *f);
/* Parse linux.seccomp the way runc and crun read it (errnoRet defaults to EPERM, several comparisons of one
   argument in one rule mean "any of them", so they become separate rules).  WHAT names the input. */
int sbx_filter_from_oci (const json_t *seccomp, const char *what, struct sbx_filter *f, sbx_err *err);
/* Write F into SECCOMP (an object): defaultAction, defaultErrnoRet, architectures and syscalls are replaced,
   anything else (flags, listenerPath...) is kept.  COMMENTS: also write each rule's comment (for people; the
   delegates are given none). */
int sbx_filter_to_oci (const struct sbx_filter *f, json_t *seccomp, bool comments, sbx_err *err);
int sbx_action_parse (const char *s, const json_t *errno_ret, struct sbx_action *a, sbx_err *err);
/* "SCMP_ACT_ERRNO(1)"-style label for messages and listings. */
const char *sbx_action_str (const struct sbx_action *a, char *buf, size_t size);
const char *sbx_cmp_op_name (enum sbx_cmp_op op);
bool sbx_action_eq (const struct sbx_action *a, const struct sbx_action *b);

/* engine ∩ sbx: for every syscall and arguments, the more restrictive action of the two filters (the engine's
   errno when both refuse).  Where libseccomp cannot express the exact intersection the result refuses more, never
   less, and a sentence explaining it is appended to NOTES (may be NULL). */
int sbx_filter_intersect (const struct sbx_filter *engine, const struct sbx_filter *sbx, struct sbx_filter *out,
                          char *notes, size_t notes_size, sbx_err *err);

/* Where profiles come from: /etc/sbx/profiles (SBX_PROFILES_DIR, config "profiles_dir") overrides the copies
   embedded in the binary.  NAME may also be an absolute path. */
const char *sbx_profiles_dir (const struct sbx_config *cfg);
int sbx_profile_load (const struct sbx_config *cfg, const char *name, json_t **profile, char **origin,
                      sbx_err *err);
/* The same look-up without parsing: the profile's bytes and where they come from. */
struct sbx_profile_src
{
  const char *data; /* NUL-terminated at LEN */
  size_t len;
  char *origin; /* the file, or "builtin:NAME" */
  bool builtin; /* DATA is embedded in this binary */
  char *owned;
};
/* NAME as the operator gives it (sbx.json, the local user's command line): a built-in name, a file of profiles_dir or
   an absolute path.  Files are opened without following a symlink or blocking, and must be regular, owned by root
   or the calling user, not writable by group or others, at most 1 MiB (sbx_read_owned). */
int sbx_profile_source (const struct sbx_config *cfg, const char *name, struct sbx_profile_src *src, sbx_err *err);
/* NAME as a container's annotation gives it: a built-in name or a file of profiles_dir only, refused before any
   file is opened when it is anything else. */
int sbx_profile_source_tenant (const struct sbx_config *cfg, const char *name, struct sbx_profile_src *src,
                               sbx_err *err);
void sbx_profile_src_free (struct sbx_profile_src *src);
/* Names of the embedded profiles, NULL-terminated. */
extern const char *const sbx_embedded_profile_names[];
int sbx_embedded_profile (const char *name, const char **data, size_t *len);

/* What a profile's includes/excludes are evaluated against. */
struct sbx_resolve_env
{
  const char *const *caps; /* the final bounding set, after sbx's drops */
  size_t ncaps;
  struct
  {
    int major, minor;
  } kernel;
};
/* The host's kernel version into ENV. */
void sbx_resolve_env_host (struct sbx_resolve_env *env);
/* A Docker/Moby profile (archMap, includes/excludes, minKernel) turned into the filter for this host and
   container.  Validates strictly: an unknown syscall, architecture, action or operator is an error naming ORIGIN
   and the rule. */
int sbx_profile_resolve (const json_t *profile, const char *origin, const struct sbx_resolve_env *env,
                         struct sbx_filter *out, sbx_err *err);

/* Classic BPF as the kernel takes it. */
struct sbx_bpf
{
  void *insns; /* struct sock_filter[] */
  size_t len;  /* instructions */
  /* sbx_bpf_run_arch's resume point: where the last (arch, nr) first read anything but those two, with the
     machine's state there (or its answer, when it read nothing else).  Zero-initialized means empty. */
  struct
  {
    bool valid, done;
    uint32_t arch, a, x, ret;
    int nr;
    size_t pc;
  } resume;
};
void sbx_bpf_free (struct sbx_bpf *p);
/* Compile with libseccomp (binary-tree optimization).  Like crun: rules equal to the default are skipped and,
   unless STRICT, names libseccomp does not know are skipped. */
int sbx_filter_compile (const struct sbx_filter *f, bool strict, struct sbx_bpf *out, sbx_err *err);
/* Run the program on one syscall of the native architecture, as the kernel would; returns SECCOMP_RET_*. */
uint32_t sbx_bpf_run (const struct sbx_bpf *p, int nr, const uint64_t args[6]);
/* The same for another architecture (AUDIT_ARCH_* token, e.g. libseccomp's SCMP_ARCH_X86). */
uint32_t sbx_bpf_run_arch (const struct sbx_bpf *p, uint32_t arch, int nr, const uint64_t args[6]);
int sbx_bpf_run_name (const struct sbx_bpf *p, const char *name, const uint64_t args[6], uint32_t *ret);
void sbx_bpf_disasm (const struct sbx_bpf *p, FILE *out);
/* "ALLOW", "ERRNO(1)"... for a SECCOMP_RET_* value. */
const char *sbx_bpf_ret_str (uint32_t ret, char *buf, size_t size);
/* The same as runc 1.1 compiles linux.seccomp: libseccomp's defaults (no binary tree).  Unknown names skipped. */
int sbx_filter_compile_runc (const struct sbx_filter *f, struct sbx_bpf *out, sbx_err *err);
/* Either, by libseccomp's optimization level (1: runc, 2: sbx's own for crun); *BAD (may be NULL) gets the index of
   a rule libseccomp refuses. */
int sbx_filter_compile_opt (const struct sbx_filter *f, bool strict, int optimize, struct sbx_bpf *out, size_t *bad,
                            sbx_err *err);

/* What the kernel runs, for the checks of verify.c and the merge: an architecture of a filter as libseccomp's
   token, the audit arch seccomp_data carries, and whether its arguments are 32-bit. */
struct sbx_eval_arch
{
  uint32_t token, audit;
  bool is32;
  bool in_final; /* verify.c: the final filter lists it */
};
/* F's architectures (native when it names none) appended to OUT[N..MAX) without duplicates; the new count. */
size_t sbx_filter_eval_arches (const struct sbx_filter *f, struct sbx_eval_arch *out, size_t n, size_t max);
/* The kernel's number of NAME on the architecture TOKEN (i386's direct socket and IPC calls included); -1 when
   there is none (only through a multiplexer, or unknown). */
int sbx_syscall_nr_arch (uint32_t token, const char *name);
/* socketcall and ipc on i386: libseccomp derives argument-less rules for them from the calls they multiplex. */
bool sbx_is_multiplexer (uint32_t token, const char *name);
/* Whether NAME reaches the i386 multiplexer MUX ("socketcall" or "ipc") through libseccomp's derived rules, which
   keep the call's comparisons of arguments 1-5 (and drop those of argument 0, the multiplexer's call number). */
bool sbx_multiplexed_by (const char *name, const char *mux);
/* A is a stricter SECCOMP_RET_* than B in the kernel's order. */
bool sbx_ret_stricter (uint32_t a, uint32_t b);

/* A filter's rules by name (each name's rules in their order), for look-ups in time logarithmic in the rules. */
struct sbx_rule_index
{
  const struct sbx_rule **v;
  size_t n;
};
int sbx_rule_index_build (const struct sbx_filter *f, struct sbx_rule_index *ix);
/* NAME's rules: *FIRST and the count (0: none).  An empty index (F NULL) has none. */
size_t sbx_rule_index_find (const struct sbx_rule_index *ix, const char *name, const struct sbx_rule *const **first);
void sbx_rule_index_free (struct sbx_rule_index *ix);

/* The boundary-grid check of a final program against the engine's and the profile's (verify.c). */
struct sbx_verify
{
  const struct sbx_filter *engine_f, *sbx_f, *final_f; /* names, comparisons, architectures (may be NULL) */
  const struct sbx_bpf *engine, *sbx, *final;         /* NULL engine or sbx: allows everything */
  bool modules;                                        /* the module syscalls must get EPERM */
  bool notify_ok;                                      /* ... or go to the watcher */
  uint64_t seed;
};
/* 0, or -1 with *BAD the first syscall where the final program is less strict (or loses the engine's errno) and
   WHY naming the architecture, the arguments and the three answers. */
int sbx_verify_run (const struct sbx_verify *v, const char **bad, char *why, size_t why_size);
/* Compile ENGINE and SBX as runc would and check FINAL (compiled from FINAL_F, module block included) against
   them; an error names the syscall and arguments.  NOTIFY_OK: module syscalls may go to the watcher. */
int sbx_filter_verify (const struct sbx_filter *engine, const struct sbx_filter *sbx, const struct sbx_filter *final_f,
                       const struct sbx_bpf *final, bool notify_ok, sbx_err *err);
/* The program crun gets in run.oci.seccomp_bpf_data. */
int sbx_bpf_from_b64 (const char *b64, struct sbx_bpf *out, sbx_err *err);
/* libseccomp's pseudo filter code of F, for `sbx profile compile`. */
int sbx_filter_pfc (const struct sbx_filter *f, FILE *out, sbx_err *err);
int sbx_syscall_nr (const char *name);
/* libseccomp's token for "SCMP_ARCH_X86_64" (or "x86_64"); 0 when unknown. */
uint32_t sbx_arch_token (const char *name);

/* The precompiled filter crun takes in run.oci.seccomp_bpf_data (base64), from a cache in DIR keyed by the
   seccomp object's content, the kernel and the architecture.  *HIT tells whether libseccomp was spared.  A
   corrupt or foreign entry is ignored and rewritten; writers race safely (temporary file + rename).
   JSON (may be NULL) gets linux.seccomp as serialized for the key. */
int sbx_bpf_cache_b64 (const json_t *seccomp, const char *dir, char **b64, char **json, bool *hit, sbx_err *err);
const char *sbx_seccomp_cache_dir (const struct sbx_config *cfg);
/* False for an empty DIR or "off". */
bool sbx_seccomp_cache_enabled (const char *dir);

/* The hardening memo, beside the BPF entries in DIR: a value computed from exactly PREFIX and TEXT (strings, TEXT
   may be NULL) on this kernel and libseccomp.  The whole key is stored and compared, so a hash collision is a
   miss, never another container's value; a missing, foreign or corrupt entry is a miss; writers race safely.
   sbx_memo_open fails when DIR is off (get then misses and put does nothing). */
#define SBX_MEMO_VALUE_MAX (1u << 20)
/* BPF and memo entries together; past it the older half is removed. */
#define SBX_CACHE_MAX_ENTRIES 2048
struct sbx_memo
{
  const char *dir;
  char *key;
  size_t key_len;
  char name[32];
};
int sbx_memo_open (struct sbx_memo *m, const char *dir, const char *prefix, const char *text);
bool sbx_memo_get (const struct sbx_memo *m, char **val, size_t *val_len);
int sbx_memo_put (const struct sbx_memo *m, const char *val, size_t val_len, sbx_err *err);
void sbx_memo_close (struct sbx_memo *m);

/* Run the OCI bundle BUNDLE with CRUN (crun hands the listener over without running a syscall under the new
   filter first, so every syscall can be observed): syscalls outside BASE's ALLOW rules (all of them when BASE is
   NULL) go to a user-notification listener that records them and lets them through.  *OUT is the smallest
   profile that would have let the workload run (BASE's allowlist plus what was seen). */
int sbx_profile_learn (const struct sbx_config *cfg, const char *base, const char *bundle, const char *crun,
                       json_t **out, sbx_err *err);

/* Building blocks shared by the files of profiles/. */
int sbx_cmp_parse (const json_t *arg, struct sbx_cmp *c, sbx_err *err);
int sbx_filter_add_rule (struct sbx_filter *f, const char *name, const struct sbx_action *act,
                         const struct sbx_cmp *cmp, unsigned ncmp, const char *comment, sbx_err *err);
int sbx_filter_add_oci_rule (struct sbx_filter *f, const char *name, const struct sbx_action *act,
                             const struct sbx_cmp *cmp, unsigned ncmp, const char *comment, sbx_err *err);
int sbx_filter_add_arch (struct sbx_filter *f, const char *arch, sbx_err *err);
/* Drop the rules whose action equals the default: libseccomp refuses them and the delegates skip them. */
void sbx_filter_drop_default (struct sbx_filter *f);

#endif
