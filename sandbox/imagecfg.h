/* imagecfg.h - an OCI image's run config (Entrypoint, Cmd, Env, User, WorkingDir), read as hostile input and
   applied to `sbx run` as `docker run` applies it. */
#ifndef SBX_IMAGECFG_H
#define SBX_IMAGECFG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "../common/util.h"
#include "sandbox.h"

/* Bounds on what an image may ask for (the config blob itself is at most 4 MiB). */
#define SBX_IMGCFG_LIST_MAX 4096   /* entries of Entrypoint, Cmd or Env */
#define SBX_IMGCFG_STR_MAX 65536   /* bytes of one entry */
#define SBX_IMGCFG_USER_MAX 256
#define SBX_IMGCFG_ETC_MAX (4u << 20) /* bytes of the image's /etc/passwd or /etc/group */

struct sbx_image_config
{
  char **entrypoint, **cmd, **env; /* NULL-terminated, or NULL when the image sets none */
  char *user, *workdir;            /* NULL when unset or empty */
};

/* Parse an image config blob (BUF, LEN bytes, NUL-terminated at LEN; WHAT names it): its "config" object, keys
   matched as docker's Go decoder does (case-insensitively), unknown keys ignored, every known one type-checked
   and bounded. */
int sbx_image_config_parse (const char *buf, size_t len, const char *what, struct sbx_image_config *c, sbx_err *err);
void sbx_image_config_free (struct sbx_image_config *c);

#define SBX_IMGCFG_GROUPS_MAX 256

/* The image's User ("name", "uid", "name:group", "uid:gid"...) resolved against ROOTFD's /etc/passwd and
   /etc/group, opened inside the tree (symlinks resolve in it, never out of it).  *HOME gets the passwd entry's
   home directory (allocated) or NULL; *SGIDS (allocated, *NSGIDS of them) the supplementary groups docker gives:
   with no explicit group, every group of /etc/group that lists the passwd entry's name. */
int sbx_image_user_resolve (int rootfd, const char *user, uid_t *uid, gid_t *gid, char **home, gid_t **sgids,
                            size_t *nsgids, sbx_err *err);

/* Apply C (may be NULL: no image config) to the options as docker run does: the command line's command replaces
   Cmd, --entrypoint replaces Entrypoint (and drops Cmd), --env overrides Env by key, --user and --cwd win over
   User and WorkingDir.  ROOTFS_SOURCE is the unpacked root (for User).  Fails when nothing is left to run. */
int sbx_run_apply_image (struct sbx_run_opts *o, const struct sbx_image_config *c, const char *rootfs_source,
                         sbx_err *err);

#endif
