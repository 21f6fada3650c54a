/* bundle.h - OCI documents on disk (config.json, exec's process.json) read and written back safely. */
#ifndef SBX_BUNDLE_H
#define SBX_BUNDLE_H

#include <sys/stat.h>

#include "json.h"

/* Larger than any real spec (seccomp profiles are tens of KiB) and small enough to bound a hostile one. */
#define SBX_SPEC_MAX (4u << 20)

struct sbx_doc
{
  int dirfd;        /* the directory holding the document, opened once; -1 for a document read from an fd */
  char *name;       /* file name inside dirfd */
  char *path;       /* for messages */
  struct stat st;   /* of the file as opened */
  json_t *root;
  bool sync;        /* sbx_doc_save flushes the new file to disk before the rename */
};

/* Open DIR/NAME through DIR's fd: NAME must be a regular file (not a symlink, fifo or device) of at most
   SBX_SPEC_MAX bytes holding a JSON object. */
int sbx_doc_open (const char *dir, const char *name, struct sbx_doc *doc, sbx_err *err);
/* Open a document given by path (its directory is opened the same way). */
int sbx_doc_open_path (const char *path, struct sbx_doc *doc, sbx_err *err);
/* The descriptor PATH names when it is "/dev/fd/N" or "/proc/self/fd/N" (how `runc exec -p <(...)` hands over a
   pipe), else -1.  Only these exact forms: no other symlink is followed. */
int sbx_fd_path (const char *path);
/* Read a document from FD, inherited from the caller: a pipe or a regular file (never opened by path, so nothing is
   followed), at most SBX_SPEC_MAX bytes.  sbx_doc_save then writes it to a new sealed memfd the delegate inherits,
   and sets doc->path to the "/proc/self/fd/N" that names it. */
int sbx_doc_read_fd (int fd, const char *what, struct sbx_doc *doc, sbx_err *err);
/* Write the document back atomically (see sbx_write_replace) with the original mode and owner. */
int sbx_doc_save (struct sbx_doc *doc, sbx_err *err);
void sbx_doc_close (struct sbx_doc *doc);

#endif
