/* unpack.h - tar archives from whoever supplied an image, unpacked fd-relative into one tree: nothing outside it is
   ever written, followed or removed, and nothing in it gives anyone privileges (no setuid or setgid bit, no file
   capability, no device node, FIFO or socket). */
#ifndef SBX_UNPACK_H
#define SBX_UNPACK_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/error.h"

struct sbx_unpack_limits
{
  unsigned long long total_bytes; /* the data of every regular file, over every archive of one image */
  unsigned long long file_bytes;  /* one file's size */
  unsigned long long entries;     /* entries, over every archive of one image */
  size_t name_len;                /* bytes of one entry's name (or link target) */
  size_t depth;                   /* components of one entry's name */
};

/* What unpacking left out or changed: said once per image, so that whoever runs it knows. */
struct sbx_unpack_stats
{
  unsigned long long bytes, entries;
  unsigned long long special; /* device nodes, FIFOs and sockets left out */
  unsigned long long setid;   /* setuid or setgid bits dropped */
};

struct sbx_unpack
{
  struct sbx_unpack_limits lim;
  struct sbx_unpack_stats st;
};

/* The defaults: generous for real images, small enough that an archive cannot fill the host's disk or memory. */
void sbx_unpack_init (struct sbx_unpack *u);

/* An OCI layer: its whiteouts (.wh.NAME, .wh..wh..opq) first remove what the layers below put in the tree; no
   .wh. entry is ever created. */
#define SBX_UNPACK_LAYER 1u
/* Keep no owners (the scratch copy of an OCI layout: read by sbx only). */
#define SBX_UNPACK_NO_OWNERS 2u

/* Unpack the archive read from FD (tar, plain or gzip/bzip2/xz/zstd-compressed; read from its current offset to
   the end, twice for a layer) into the directory ROOTFD. */
int sbx_unpack_tar (struct sbx_unpack *u, int fd, int rootfd, unsigned flags, sbx_err *err);

/* Whether the archive in FD holds an OCI image layout (top-level oci-layout and index.json).  FD is rewound. */
int sbx_unpack_is_layout (struct sbx_unpack *u, int fd, bool *is, sbx_err *err);

/* Remove DIRFD/NAME and, for a directory, everything below it: every step is relative to a directory opened with
   O_NOFOLLOW, so a name swapped for a symlink meanwhile is removed as the symlink, never followed; a mount point
   below is refused (EXDEV), never crossed.  A NAME that does not exist is no error. */
int sbx_tree_remove_at (int dirfd, const char *name, sbx_err *err);

/* Empty the directory DIRFD the same way. */
int sbx_tree_clear (int dirfd, sbx_err *err);

#endif
