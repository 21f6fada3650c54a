/* fuzz_image.c - libFuzzer target: image unpacking on hostile archive bytes, into a private temporary tree.  Each
   input is unpacked as a rootfs tarball, then again as an OCI layer over the result (whiteouts against what is
   there).  Whatever is accepted or refused, the promises hold: nothing appears, changes or goes outside the tree; no
   file in it is setuid or setgid, a device node, a FIFO or a socket; and the tree is removed whole after. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/log.h"
#include "../../sandbox/unpack.h"

/* BASE holds the sentinel (the host, as far as the archive can tell) and "t", whose "root" is the tree. */
static int base = -1;
static char base_path[] = "/tmp/sbx-fuzz-image.XXXXXX";

static void
cleanup (void)
{
  int tmp = open ("/tmp", O_PATH | O_DIRECTORY | O_CLOEXEC);
  sbx_err err;
  sbx_tree_remove_at (tmp, base_path + strlen ("/tmp/"), &err);
  close (tmp);
}

int LLVMFuzzerInitialize (int *argc, char ***argv);
int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  int fd;

  (void) argc;
  (void) argv;
  if (mkdtemp (base_path) == NULL || (base = open (base_path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
    abort ();
  fd = openat (base, "sentinel", O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0 || write (fd, "host", 4) != 4)
    abort ();
  close (fd);
  atexit (cleanup);
  return 0;
}

/* The base holds the sentinel, unchanged, and nothing else but T (when T). */
static void
check_outside (bool t)
{
  int fd = openat (base, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = fdopendir (fd);
  struct dirent *e;
  char buf[8];
  int n = 0, s;

  while ((e = readdir (d)) != NULL)
    {
      if (strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0)
        continue;
      if (strcmp (e->d_name, "sentinel") != 0 && !(t && strcmp (e->d_name, "t") == 0))
        abort (); /* something landed outside the tree */
      n++;
    }
  closedir (d);
  if (n != 1 + t)
    abort ();
  s = openat (base, "sentinel", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (s < 0 || read (s, buf, sizeof buf) != 4 || memcmp (buf, "host", 4) != 0)
    abort ();
  close (s);
}

/* Every file below DIRFD: no setid bit, nothing but regular files, directories and symlinks. */
static void
check_tree (int dfd, int depth)
{
  int fd = openat (dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = fdopendir (fd);
  struct dirent *e;

  if (d == NULL || depth > 64)
    abort ();
  while ((e = readdir (d)) != NULL)
    {
      struct stat st;

      if (strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0)
        continue;
      if (fstatat (dirfd (d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        abort ();
      if (st.st_mode & (S_ISUID | S_ISGID))
        abort ();
      if (!S_ISREG (st.st_mode) && !S_ISDIR (st.st_mode) && !S_ISLNK (st.st_mode))
        abort ();
      if (S_ISDIR (st.st_mode))
        {
          int sub = openat (dirfd (d), e->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          if (sub < 0)
            abort ();
          check_tree (sub, depth + 1);
          close (sub);
        }
    }
  closedir (d);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  int mem = memfd_create ("image", MFD_CLOEXEC), t, root;
  struct sbx_unpack u;
  bool layout;
  sbx_err err;

  if (mem < 0 || (size && write (mem, data, size) != (ssize_t) size) || lseek (mem, 0, SEEK_SET) < 0)
    abort ();
  if (mkdirat (base, "t", 0700) < 0 || (t = openat (base, "t", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0
      || mkdirat (t, "root", 0755) < 0 || (root = openat (t, "root", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
    abort ();
  /* Small bounds: an input cannot fill the disk, and the bounds themselves are exercised. */
  sbx_unpack_init (&u);
  u.lim.total_bytes = 1 << 20;
  u.lim.file_bytes = 256 << 10;
  u.lim.entries = 512;
  u.lim.name_len = 1024;
  u.lim.depth = 32;
  sbx_unpack_is_layout (&u, mem, &layout, &err);
  lseek (mem, 0, SEEK_SET);
  sbx_unpack_tar (&u, mem, root, 0, &err);
  lseek (mem, 0, SEEK_SET);
  sbx_unpack_tar (&u, mem, root, SBX_UNPACK_LAYER, &err);
  check_outside (true);
  check_tree (root, 0);
  close (root);
  close (t);
  close (mem);
  if (sbx_tree_remove_at (base, "t", &err) < 0)
    {
      fprintf (stderr, "remove: %s\n", err.msg);
      abort ();
    }
  check_outside (false);
  return 0;
}
