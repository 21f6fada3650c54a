/* sandbox.h - `sbx run`: a sandbox without an engine (options, bundle, mounts, cgroups, images, run state). */
#ifndef SBX_SANDBOX_H
#define SBX_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "../common/config.h"
#include "../oci/json.h"

/* docker run's convention: 125 when sbx itself fails, 126 when the command cannot be run, 127 when it is not
   found; anything else is the command's own status (128+N when signal N killed it). */
#define SBX_RUN_EFAIL 125
#define SBX_RUN_ENOEXEC 126
#define SBX_RUN_ENOENT 127

/* sbx.json defaults of `sbx run`. */
#define SBX_RUN_PIDS_DEFAULT 1024
#define SBX_RUN_USERNS_BASE 100000
#define SBX_RUN_USERNS_SIZE 65536

enum sbx_mount_kind
{
  SBX_MNT_BIND,
  SBX_MNT_RO_BIND,
  SBX_MNT_TMPFS,
};

struct sbx_mount_opt
{
  enum sbx_mount_kind kind;
  char *src;      /* canonical host path (bind), NULL for tmpfs */
  char *dst;      /* absolute, normalised path in the sandbox */
  char **options; /* OCI mount options, NULL-terminated */
  bool is_dir;    /* the source is a directory (tmpfs: always) */
};

struct sbx_run_opts
{
  char **cmd; /* NULL-terminated */
  const char *profile, *net, *rootfs, *image, *hostname, *cwd, *on_violation;
  const char *entrypoint; /* --entrypoint ("" resets the image's), when has_entrypoint */
  bool has_entrypoint;
  bool userns, json, bind_cwd, debug;
  struct sbx_mount_opt *mounts;
  size_t nmounts;
  const char **env;
  size_t nenv;
  const char **cap_add, **cap_drop;
  size_t ncap_add, ncap_drop;
  bool has_user;
  uid_t uid;
  gid_t gid;
  gid_t *groups;       /* supplementary groups (an image's User), in owned */
  size_t ngroups;
  long long memory;    /* bytes, 0 = none */
  long long pids;      /* 0 = sbx.json "run.pids" (default SBX_RUN_PIDS_DEFAULT), -1 = none */
  long long cpu_quota; /* microseconds per 100 ms period, 0 = none */
  char **owned;        /* strings the parser allocated, freed with the options */
  size_t nowned;
};

/* options.c: parse `run [OPTIONS] [--] CMD [ARG...]` (ARGV[0] is "run").  Every mistake is an error whose
   message names the option. */
int sbx_run_parse (int argc, char **argv, struct sbx_run_opts *o, sbx_err *err);
void sbx_run_opts_free (struct sbx_run_opts *o);
void sbx_run_usage (FILE *out);
/* Remember S (allocated) to free it with the options; returns S, or NULL (and frees S) when out of memory. */
char *sbx_run_keep (struct sbx_run_opts *o, char *s);
/* "512m", "1g", "4096", "1.5G" -> bytes (binary units, like docker). */
int sbx_parse_size (const char *s, long long *out);
/* "1.5" CPUs -> quota in microseconds per 100000 us period. */
int sbx_parse_cpus (const char *s, long long *quota);
/* Capability name as libcap and docker accept it ("NET_ADMIN", "cap_net_admin") -> "CAP_NET_ADMIN". */
int sbx_cap_canonical (const char *name, char *out, size_t size, sbx_err *err);

/* mounts.c (libmount). */
/* Check and complete a --bind/--ro-bind/--tmpfs option: sources exist, destinations are absolute, the host's
   /proc and /sys (and their kin) are never bound writable, tmpfs options are known. */
int sbx_mount_bind (enum sbx_mount_kind kind, const char *src, const char *dst, struct sbx_mount_opt *m,
                    sbx_err *err);
int sbx_mount_tmpfs (const char *spec, struct sbx_mount_opt *m, sbx_err *err);
void sbx_mount_opt_free (struct sbx_mount_opt *m);
/* Normalise an absolute path lexically ("/a/./b//c/" -> "/a/b/c"); ".." is refused. */
int sbx_path_normalise (const char *in, char **out, sbx_err *err);
/* In the calling process: a private mount namespace where nothing propagates back to the host. */
int sbx_mount_private_ns (sbx_err *err);
/* Build the sandbox's root at TARGET (in a private mount namespace): a tmpfs holding every top-level entry of
   SOURCE_ROOT bound recursively read-only, empty directories for what the runtime mounts fresh, and the mount
   points of MOUNTS created. */
int sbx_rootfs_build (const char *source_root, const char *target, const struct sbx_run_opts *o, sbx_err *err);

/* cgroups.c (libcgroup). */
/* Read sbx.json "run.cgroup.parent" (the parent group's name, default "sbx"); before any other sbx_cg_*. */
int sbx_cg_configure (const struct sbx_config *cfg, sbx_err *err);
/* The sbx parent group with the aggregate limits of sbx.json "run.cgroup" and the per-run group sbx/ID. */
int sbx_cg_prepare (const struct sbx_config *cfg, const char *id, sbx_err *err);
/* The runtime's cgroupsPath for run ID. */
void sbx_cg_path (const char *id, char *out, size_t size);
/* Peak memory of run ID in bytes, or -1 when the host does not tell. */
long long sbx_cg_peak_memory (const char *id);
/* SIGKILL whatever still runs in sbx/ID (a runtime that could not delete its container); waits up to a second. */
int sbx_cg_kill (const char *id);
/* Remove sbx/ID from every hierarchy (v1 controllers, named ones and cgroup2). */
int sbx_cg_remove (const char *id, sbx_err *err);

/* state.c: one private directory per run under STATE/run/ID, owned by a live sbx process. */
struct sbx_run_dir
{
  char *path;    /* STATE/run/ID: the bundle (config.json) */
  char *root;    /* PATH/state: the delegate's --root */
  char *rootfs;  /* PATH/rootfs */
};
int sbx_run_id (char *out, size_t size);
int sbx_run_dir_create (const char *state_dir, const char *id, struct sbx_run_dir *d, sbx_err *err);
int sbx_run_dir_remove (const char *path, sbx_err *err);
void sbx_run_dir_free (struct sbx_run_dir *d);
/* Record which delegate runs this run (the reaper deletes its container with the same one). */
int sbx_run_dir_set_delegate (const struct sbx_run_dir *d, const char *delegate, sbx_err *err);
/* Reap the runs whose owner died: delete their container with their delegate (else DELEGATE), kill what is left
   in their cgroup, remove their cgroups and their directory.
   Returns how many were reaped. */
int sbx_run_reap (const char *state_dir, const char *delegate, sbx_err *err);
/* Run DELEGATE --root ROOT ARGS... quietly and return its exit status (or -1). */
int sbx_run_delegate_quiet (const char *delegate, const char *root, const char *const *args);

/* spec.c: the OCI spec of a run. */
struct sbx_run_plan
{
  const char *id;
  const char *rootfs;       /* root.path */
  const char *cgroups_path;
  bool tty;
  long long pids_default;
  unsigned userns_base, userns_size;
};
int sbx_run_spec (const struct sbx_run_opts *o, const struct sbx_run_plan *p, json_t **out, sbx_err *err);
/* Whether CMD[0] can be run in the sandbox whose root is ROOTFS_SOURCE: 0, SBX_RUN_ENOENT or SBX_RUN_ENOEXEC. */
int sbx_run_check_cmd (const struct sbx_run_opts *o, const char *rootfs_source, char *why, size_t size);
/* Whether --cwd exists in the sandbox: 0 or SBX_RUN_EFAIL. */
int sbx_run_check_cwd (const struct sbx_run_opts *o, const char *rootfs_source, char *why, size_t size);

/* image.c: --image FILE (an OCI image layout, directory or tar, or a rootfs tarball) unpacked once into a
   content-addressed cache; *ROOTFS gets the unpacked root. */
int sbx_image_rootfs (const struct sbx_config *cfg, const char *image, char **rootfs, sbx_err *err);
/* The same, and for a layout *CONFIG gets its image's run config (imagecfg.h; zeroed for a rootfs tarball). */
struct sbx_image_config;
int sbx_image_open (const struct sbx_config *cfg, const char *image, char **rootfs, struct sbx_image_config *config,
                    sbx_err *err);
const char *sbx_image_cache_dir (const struct sbx_config *cfg);

#endif
