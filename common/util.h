/* util.h - cleanup attributes and small fd helpers shared by every part of sbx. */
#ifndef SBX_UTIL_H
#define SBX_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "error.h"

void sbx_freep (void *p);
void sbx_closep (int *fd);
void sbx_fclosep (FILE **f);

#define cleanup_free __attribute__ ((cleanup (sbx_freep)))
#define cleanup_close __attribute__ ((cleanup (sbx_closep)))
#define cleanup_fclose __attribute__ ((cleanup (sbx_fclosep)))

/* Hand a pointer out of a cleanup variable. */
#define steal_pointer(pp)                                                                                    \
  ({                                                                                                         \
    __typeof__ (*(pp)) _sbx_p = *(pp);                                                                       \
    *(pp) = NULL;                                                                                            \
    _sbx_p;                                                                                                  \
  })

#define SBX_ARRAY_SIZE(a) (sizeof (a) / sizeof ((a)[0]))

/* Read all of FD (at most MAX bytes; more is an error) into a NUL-terminated buffer.  WHAT names the file in
   messages. */
int sbx_read_fd (int fd, size_t max, const char *what, char **out, size_t *len, sbx_err *err);

/* Read a whole file by path, with the same bound. */
int sbx_read_file (const char *path, size_t max, char **out, size_t *len, sbx_err *err);

int sbx_write_all (int fd, const void *buf, size_t len);

/* Replace DIRFD/NAME by DATA atomically: a temporary file in the same directory, rename over NAME, so a reader
   sees the old file or the new one, never a part.  SYNC also flushes the data to disk before the rename, for a
   file that must survive a crash as it was written.  MODE, UID and GID are given to the new file (pass (uid_t)-1
   to keep the caller's). */
int sbx_write_replace (int dirfd, const char *name, const char *data, size_t len, mode_t mode, uid_t uid, gid_t gid,
                       bool sync, sbx_err *err);
/* sbx_write_replace with SYNC. */
int sbx_write_atomic (int dirfd, const char *name, const char *data, size_t len, mode_t mode, uid_t uid,
                      gid_t gid, sbx_err *err);

/* Bulk prefaulting for a process that lives a few milliseconds (sbx-runtime).  sbx_prefault_enable populates the
   stack it will use; sbx_heap_expect(BYTES) then grows the heap by about BYTES and populates it, so that what
   malloc hands out is already present.  Both are hints: nothing fails when the kernel or allocator says no. */
void sbx_prefault_enable (void);
void sbx_heap_expect (size_t bytes);

/* A string parsed as a boolean the way OCI annotations spell them: true/false/1/0/yes/no. */
int sbx_parse_bool (const char *s, bool *out);

#endif
