/* util.c - cleanup helpers, bounded reads and atomic writes. */
#define _GNU_SOURCE
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void
sbx_freep (void *p)
{
  free (*(void **) p);
}

void
sbx_closep (int *fd)
{
  if (*fd >= 0)
    {
      int saved = errno;
      close (*fd);
      errno = saved;
    }
}

void
sbx_fclosep (FILE **f)
{
  if (*f)
    fclose (*f);
}

int
sbx_read_fd (int fd, size_t max, const char *what, char **out, size_t *len, sbx_err *err)
{
  struct stat st;
  /* A regular file is read into a buffer of its size at once: no copies while it grows. */
  size_t cap = fstat (fd, &st) == 0 && S_ISREG (st.st_mode) && st.st_size > 0 ? (size_t) st.st_size + 1 : 8192, n = 0;
  cleanup_free char *buf = NULL;

  if (cap > max)
    cap = max;
  buf = malloc (cap + 1);

  if (buf == NULL)
    return sbx_fail (err, ENOMEM, "read %s", what);
  for (;;)
    {
      ssize_t r;

      if (n == cap)
        {
          char *nb;
          if (cap >= max)
            return sbx_fail (err, EFBIG, "read %s: larger than %zu bytes", what, max);
          cap = cap * 2 > max ? max : cap * 2;
          nb = realloc (buf, cap + 1);
          if (nb == NULL)
            return sbx_fail (err, ENOMEM, "read %s", what);
          buf = nb;
        }
      r = read (fd, buf + n, cap - n);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return sbx_fail (err, errno, "read %s", what);
      if (r == 0)
        break;
      n += r;
    }
  buf[n] = '\0';
  *len = n;
  *out = steal_pointer (&buf);
  return 0;
}

int
sbx_read_file (const char *path, size_t max, char **out, size_t *len, sbx_err *err)
{
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    return sbx_fail (err, errno, "open %s", path);
  return sbx_read_fd (fd, max, path, out, len, err);
}

int
sbx_write_all (int fd, const void *buf, size_t len)
{
  const char *p = buf;

  while (len > 0)
    {
      ssize_t w = write (fd, p, len);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0)
        return -1;
      p += w;
      len -= w;
    }
  return 0;
}

/* 48 bits for a temporary file's name.  Random when the kernel can say so without blocking, which it cannot on a
   machine that has not seeded its generator yet (a VM early in boot): containers must start there too, so then
   the pid, the clock and a counter. */
static uint64_t
temp_tag (void)
{
  static uint64_t counter;
  struct timespec ts;
  uint64_t r;

  if (getrandom (&r, sizeof r, GRND_NONBLOCK) == (ssize_t) sizeof r
      || getrandom (&r, sizeof r, GRND_INSECURE) == (ssize_t) sizeof r)
    return r;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ((uint64_t) getpid () << 32) ^ (uint64_t) ts.tv_nsec ^ ((uint64_t) ts.tv_sec << 20) ^ (++counter << 40);
}

int
sbx_write_atomic (int dirfd, const char *name, const char *data, size_t len, mode_t mode, uid_t uid, gid_t gid,
                  sbx_err *err)
{
  return sbx_write_replace (dirfd, name, data, len, mode, uid, gid, true, err);
}

/* Temporary files of sbx_write_replace are ".NAME.sbx-<48 bits>", locked (flock) by their writer from before
   they have a name until the writer exits.  A writer killed in between (SIGKILL, OOM, power) leaves one: the next
   write of NAME in that directory removes every such file whose lock is free, and leaves alone those of writers
   still at work (50 creates sharing a memo directory). */
static void
reap_stale_temps (int dirfd, const char *name)
{
  char prefix[256];
  size_t plen;
  struct dirent *de;
  DIR *d;
  int fd = openat (dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd < 0)
    return;
  d = fdopendir (fd);
  if (d == NULL)
    {
      close (fd);
      return;
    }
  plen = (size_t) snprintf (prefix, sizeof prefix, ".%s.sbx-", name);
  while ((de = readdir (d)) != NULL)
    {
      cleanup_close int t = -1;
      struct stat st;

      if (strncmp (de->d_name, prefix, plen) != 0)
        continue;
      t = openat (dirfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
      if (t < 0 || fstat (t, &st) < 0 || !S_ISREG (st.st_mode) || flock (t, LOCK_EX | LOCK_NB) < 0)
        continue;
      unlinkat (dirfd, de->d_name, 0);
    }
  closedir (d);
}

/* An unnamed file in DIRFD (O_TMPFILE): until it is linked, a crash leaves nothing at all.  -1 where the file
   system has no O_TMPFILE. */
static int
open_unnamed (int dirfd)
{
  int fd = openat (dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);

  if (fd >= 0 && flock (fd, LOCK_EX) < 0)
    {
      close (fd);
      return -1;
    }
  return fd;
}

/* Give the unnamed file FD the name TMP in DIRFD: through /proc (any user; AT_EMPTY_PATH needs
   CAP_DAC_READ_SEARCH), then AT_EMPTY_PATH where /proc is absent. */
static int
link_unnamed (int fd, int dirfd, const char *tmp)
{
  char proc[64];

  snprintf (proc, sizeof proc, "/proc/self/fd/%d", fd);
  if (linkat (AT_FDCWD, proc, dirfd, tmp, AT_SYMLINK_FOLLOW) == 0)
    return 0;
  return linkat (fd, "", dirfd, tmp, AT_EMPTY_PATH);
}

static void
temp_name (char tmp[256], const char *name)
{
  snprintf (tmp, 256, ".%s.sbx-%012" PRIx64, name, temp_tag () & (uint64_t) 0xffffffffffff);
}

/* A new temporary TMP in DIRFD, created with O_EXCL|O_NOFOLLOW (nothing planted in the directory can redirect the
   write; a taken name is replaced by another) and locked at once. */
static int
open_named (int dirfd, const char *name, char tmp[256])
{
  for (int attempt = 0;; attempt++)
    {
      int fd;

      temp_name (tmp, name);
      fd = openat (dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd >= 0 && flock (fd, LOCK_EX) < 0)
        {
          int saved = errno;
          unlinkat (dirfd, tmp, 0);
          close (fd);
          errno = saved;
          return -1;
        }
      if (fd >= 0 || errno != EEXIST || attempt == 16)
        return fd;
    }
}

/* Give the unnamed file FD a new temporary name TMP in DIRFD (O_EXCL semantics: linkat never replaces). */
static int
name_unnamed (int fd, int dirfd, const char *name, char tmp[256])
{
  for (int attempt = 0;; attempt++)
    {
      temp_name (tmp, name);
      if (link_unnamed (fd, dirfd, tmp) == 0)
        return 0;
      if (errno != EEXIST || attempt == 16)
        return -1;
    }
}

static int
fill (int fd, const char *data, size_t len, mode_t mode, uid_t uid, gid_t gid, bool sync)
{
  if (sbx_write_all (fd, data, len) < 0)
    return -1;
  if ((uid != (uid_t) -1 || gid != (gid_t) -1) && fchown (fd, uid, gid) < 0)
    return -1;
  return fchmod (fd, mode & 07777) < 0 || (sync && fdatasync (fd) < 0) ? -1 : 0;
}

int
sbx_write_replace (int dirfd, const char *name, const char *data, size_t len, mode_t mode, uid_t uid, gid_t gid,
                   bool sync, sbx_err *err)
{
  char tmp[256] = "";
  cleanup_close int fd = -1;
  bool named = false;

  reap_stale_temps (dirfd, name);
  fd = open_unnamed (dirfd);
  if (fd >= 0)
    {
      if (fill (fd, data, len, mode, uid, gid, sync) < 0)
        goto fail;
      if (name_unnamed (fd, dirfd, name, tmp) == 0)
        {
          named = true;
          goto rename;
        }
      if (errno == ENOSPC || errno == EDQUOT || errno == EIO)
        goto fail;
      /* No /proc and no CAP_DAC_READ_SEARCH to link it: a named temporary from the start instead. */
      close (fd);
    }
  fd = open_named (dirfd, name, tmp);
  if (fd < 0)
    return sbx_fail (err, errno, "create temporary file %s", tmp);
  named = true;
  if (fill (fd, data, len, mode, uid, gid, sync) < 0)
    goto fail;
rename:
  if (renameat (dirfd, tmp, dirfd, name) < 0)
    goto fail;
  return 0;

fail:
  {
    int saved = errno;
    if (named)
      unlinkat (dirfd, tmp, 0);
    return sbx_fail (err, saved, "write %s atomically", name);
  }
}

/* A page fault costs about 11 us on a virtualized host like this project's CI machines, while the kernel
   populates a range at about 1.2 us a page in one madvise.  A create touches some forty pages of heap and stack
   one by one, a tenth of everything sbx-runtime costs per start (BENCHMARKS.md).  MADV_POPULATE_WRITE is Linux
   5.14; before that the calls fail and pages fault in as usual. */
#define PAGE_MASK_ ((uintptr_t) 4095)
#define STACK_PREFAULT (32u << 10)
static bool prefault;

void
sbx_prefault_enable (void)
{
  uintptr_t sp = (uintptr_t) __builtin_frame_address (0) & ~PAGE_MASK_;

  prefault = true;
  /* The kernel maps the initial stack 128 KiB deep; below the page in use is where this process will grow. */
  madvise ((void *) (sp - STACK_PREFAULT), STACK_PREFAULT, MADV_POPULATE_WRITE);
}

void
sbx_heap_expect (size_t bytes)
{
  struct mallinfo2 mi;
  uintptr_t end, lo;
  void *reserve;

  if (!prefault)
    return;
  prefault = false; /* once: later growth is rare and small */
  /* Serve blocks this size from the heap rather than fresh mappings, never give the heap back, and grow it by
     exactly what is asked here: the pages malloc hands out are then the ones populated below. */
  mallopt (M_MMAP_THRESHOLD, bytes + (64u << 10) > (128u << 10) ? (int) (bytes + (64u << 10)) : 128 << 10);
  mallopt (M_TRIM_THRESHOLD, -1);
  mallopt (M_TOP_PAD, 0);
  reserve = malloc (bytes);
  __asm__ volatile ("" : : "r"(reserve) : "memory"); /* a compiler may drop a malloc whose block is unused */
  free (reserve);
  mallopt (M_TOP_PAD, 128 << 10);
  mi = mallinfo2 ();
  end = (uintptr_t) sbrk (0);
  lo = (end - mi.arena) & ~PAGE_MASK_;
  if (mi.arena && lo < end)
    madvise ((void *) lo, end - lo, MADV_POPULATE_WRITE);
}

int
sbx_parse_bool (const char *s, bool *out)
{
  static const char *yes[] = { "true", "1", "yes", "on" }, *no[] = { "false", "0", "no", "off" };

  for (size_t i = 0; i < SBX_ARRAY_SIZE (yes); i++)
    {
      if (strcasecmp (s, yes[i]) == 0)
        return (*out = true), 0;
      if (strcasecmp (s, no[i]) == 0)
        return (*out = false), 0;
    }
  return -1;
}
