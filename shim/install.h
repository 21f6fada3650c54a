/* install.h - what `sbx install`'s engine editors share: the parsed command line and careful file helpers. */
#ifndef SBX_INSTALL_H
#define SBX_INSTALL_H

#include <stdbool.h>
#include <sys/types.h>

#include "../common/error.h"

#define CONFIG_MAX (4 << 20)
#define BACKUP_SUFFIX ".sbx-backup"
#define DROPIN_MARK "# Added by `sbx install"
#define DROPIN_DIR_MARK "# sbx install created this directory"
#define BLOCK_BEGIN "# BEGIN sbx runtime"
#define BLOCK_END "# END sbx runtime\n"

struct opts
{
  bool uninstall;
  bool dry_run;
  const char *engine;
  char *config;        /* the engine's main configuration file, with --root applied */
  const char *runtime; /* sbx-runtime as the engine will see it (no --root prefix) */
  const char *name;    /* runtime / handler name */
};

/* Read PATH; a missing file is not an error (*EXISTS false, *OUT ""). */
int install_read (const char *path, char **out, size_t *len, bool *exists, mode_t *mode, sbx_err *err);
/* Replace PATH atomically with DATA (MODE). */
int install_write (const char *path, const char *data, mode_t mode, sbx_err *err);
/* Remove PATH; one already gone is not an error. */
int install_remove (const char *path, sbx_err *err);
char *install_asprintf (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
/* Keep the first backup of PATH (PATH.sbx-backup): after a re-install it is still the user's own file. */
int install_backup (const char *path, const char *original, mode_t mode, const char **backup, sbx_err *err);

/* docker's daemon.json: a JSON merge with a byte-exact backup, and its exact undo (install_docker.c). */
int sbx_docker_install (const struct opts *o, sbx_err *err);
int sbx_docker_uninstall (const struct opts *o, sbx_err *err);

#endif
