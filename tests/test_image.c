/* test_image.c - image unpacking against hostile archives and layouts (built here with libarchive's writer): no
   setuid bits, no device nodes, nothing written, linked, followed or removed outside the tree, nothing left after a
   failure, a root-only cache, and every bound. */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "../common/sha256.h"
#include "../common/util.h"
#include "../sandbox/sandbox.h"
#include "../sandbox/unpack.h"
#include "tap.h"

static char top[] = "/tmp/sbx-test-image.XXXXXX";

/* Set-up steps whose failure the checks after them show. */
#define IGNORE(x) ((void) !(x))

struct ent
{
  const char *name;
  mode_t type; /* AE_IF*; 0: regular file */
  mode_t perm;
  const char *data;   /* regular file content */
  const char *link;   /* symlink target */
  const char *hard;   /* hard link target */
  long long size;     /* declared size, when not strlen (data) */
};

/* An archive of ENTS at PATH: pax (so that long names and big sizes are expressible), gzip-compressed if GZ. */
static void
make_tar (const char *path, const struct ent *ents, size_t n, bool gz)
{
  struct archive *a = archive_write_new ();

  archive_write_set_format_pax_restricted (a);
  if (gz)
    archive_write_add_filter_gzip (a);
  if (archive_write_open_filename (a, path) != ARCHIVE_OK)
    {
      tap_bail ("write %s: %s", path, archive_error_string (a));
      exit (1);
    }
  for (size_t i = 0; i < n; i++)
    {
      struct archive_entry *e = archive_entry_new ();
      mode_t type = ents[i].type ? ents[i].type : AE_IFREG;
      long long size = ents[i].size ? ents[i].size : ents[i].data ? (long long) strlen (ents[i].data) : 0;

      archive_entry_set_pathname (e, ents[i].name);
      archive_entry_set_filetype (e, type);
      archive_entry_set_perm (e, ents[i].perm ? ents[i].perm : 0644);
      archive_entry_set_uid (e, 0);
      archive_entry_set_gid (e, 0);
      if (ents[i].link)
        archive_entry_set_symlink (e, ents[i].link);
      if (ents[i].hard)
        archive_entry_set_hardlink (e, ents[i].hard);
      if (type == AE_IFCHR || type == AE_IFBLK)
        archive_entry_set_rdev (e, makedev (1, 3));
      archive_entry_set_size (e, type == AE_IFREG && !ents[i].hard ? size : 0);
      archive_write_header (a, e);
      if (ents[i].data)
        archive_write_data (a, ents[i].data, strlen (ents[i].data));
      archive_entry_free (e);
    }
  archive_write_close (a);
  archive_write_free (a);
}

/* One ustar header block for NAME (type TYPE, SIZE bytes). */
static void
ustar_header (unsigned char *b, const char *name, char type, unsigned long long size)
{
  unsigned sum = 0;

  memset (b, 0, 512);
  snprintf ((char *) b, 100, "%s", name);
  snprintf ((char *) b + 100, 8, "%07o", 0644);
  snprintf ((char *) b + 108, 8, "%07o", 0);
  snprintf ((char *) b + 116, 8, "%07o", 0);
  snprintf ((char *) b + 124, 12, "%011llo", size);
  snprintf ((char *) b + 136, 12, "%011o", 0);
  memset (b + 148, ' ', 8);
  b[156] = type;
  memcpy (b + 257, "ustar\0" "00", 8);
  for (int i = 0; i < 512; i++)
    sum += b[i];
  snprintf ((char *) b + 148, 8, "%06o", sum);
  b[155] = ' ';
}

/* A pax archive at PATH whose one entry claims 1 TiB (in its pax header) and holds nothing: written by hand, as
   libarchive's writer would pad it with the terabyte. */
static void
make_huge_tar (const char *path)
{
  static const char rec[] = "22 size=1099511627776\n";
  unsigned char b[512 * 5] = { 0 };
  int fd = open (path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);

  ustar_header (b, "PaxHeaders/h", 'x', strlen (rec));
  memcpy (b + 512, rec, strlen (rec));
  ustar_header (b + 1024, "h", '0', 0);
  IGNORE (write (fd, b, sizeof b));
  close (fd);
}

static char *
at (const char *fmt, const char *s)
{
  static char buf[4][4096];
  static int k;
  k = (k + 1) % 4;
  snprintf (buf[k], sizeof buf[k], fmt, top, s);
  return buf[k];
}

static int
rm_cb (const char *p, const struct stat *st, int flag, struct FTW *f)
{
  (void) st;
  (void) f;
  return flag == FTW_DP ? rmdir (p) : unlink (p);
}

/* A fresh tree TOP/root and an empty TOP/outside (the host, for the archive). */
static int
fresh (void)
{
  nftw (at ("%s/root%s", ""), rm_cb, 16, FTW_DEPTH | FTW_PHYS);
  nftw (at ("%s/outside%s", ""), rm_cb, 16, FTW_DEPTH | FTW_PHYS);
  mkdir (at ("%s/root%s", ""), 0755);
  mkdir (at ("%s/outside%s", ""), 0755);
  return open (at ("%s/root%s", ""), O_PATH | O_DIRECTORY | O_CLOEXEC);
}

static int
count_dir (const char *path)
{
  DIR *d = opendir (path);
  struct dirent *e;
  int n = 0;

  if (d == NULL)
    return -1;
  while ((e = readdir (d)) != NULL)
    n += strcmp (e->d_name, ".") != 0 && strcmp (e->d_name, "..") != 0;
  closedir (d);
  return n;
}

/* Unpack ENTS (as a rootfs tarball, or as a layer with LAYER) into a fresh tree; the result of sbx_unpack_tar. */
static int
unpack (const struct ent *ents, size_t n, unsigned flags, struct sbx_unpack *u, sbx_err *err, bool keep)
{
  int rootfd = keep ? open (at ("%s/root%s", ""), O_PATH | O_DIRECTORY | O_CLOEXEC) : fresh ();
  int fd, rc;

  make_tar (at ("%s/a.tar%s", ""), ents, n, false);
  fd = open (at ("%s/a.tar%s", ""), O_RDONLY | O_CLOEXEC);
  memset (err, 0, sizeof *err);
  rc = sbx_unpack_tar (u, fd, rootfd, flags, err);
  close (fd);
  close (rootfd);
  return rc;
}

static void
test_privileges (void)
{
  struct ent ents[] = {
    { .name = "bin/su", .perm = 04755, .data = "x" },
    { .name = "bin/sg", .perm = 02755, .data = "y" },
    { .name = "sgid-dir", .type = AE_IFDIR, .perm = 02775 },
    { .name = "dev/mem", .type = AE_IFCHR, .perm = 0666 },
    { .name = "dev/sda", .type = AE_IFBLK, .perm = 0666 },
    { .name = "run/fifo", .type = AE_IFIFO, .perm = 0666 },
    { .name = "run/sock", .type = AE_IFSOCK, .perm = 0666 },
  };
  struct sbx_unpack u;
  struct stat st;
  sbx_err err;
  int rc;

  sbx_unpack_init (&u);
  rc = unpack (ents, SBX_ARRAY_SIZE (ents), 0, &u, &err, false);
  tap_ok (rc == 0, "an archive with setuid files and device nodes unpacks (%s)", err.msg);
  rc = stat (at ("%s/root/bin/su%s", ""), &st);
  tap_ok (rc == 0 && (st.st_mode & 07777) == 0755, "setuid bit dropped (mode %04o)", st.st_mode & 07777);
  rc = stat (at ("%s/root/bin/sg%s", ""), &st);
  tap_ok (rc == 0 && (st.st_mode & 07777) == 0755, "setgid bit dropped (mode %04o)", st.st_mode & 07777);
  rc = stat (at ("%s/root/sgid-dir%s", ""), &st);
  tap_ok (rc == 0 && (st.st_mode & 07777) == 0775, "setgid bit of a directory dropped (mode %04o)",
          st.st_mode & 07777);
  tap_ok (lstat (at ("%s/root/dev/mem%s", ""), &st) < 0 && lstat (at ("%s/root/dev/sda%s", ""), &st) < 0
              && lstat (at ("%s/root/run/fifo%s", ""), &st) < 0 && lstat (at ("%s/root/run/sock%s", ""), &st) < 0,
          "no device node, FIFO or socket is made");
  /* Four special entries, but no tar format holds a socket (libarchive's writer refuses it): three reach us. */
  tap_ok (u.st.special == 3 && u.st.setid == 3, "both are counted for the note (%llu left out, %llu setid)",
          u.st.special, u.st.setid);
}

static void
test_names (void)
{
  struct ent climb[] = { { .name = "a/../../escaped", .data = "x" } };
  struct ent climb2[] = { { .name = "../escaped", .data = "x" } };
  struct ent abs[] = { { .name = "/abs/file", .data = "x" }, { .name = "./dot/./file", .data = "y" } };
  struct sbx_unpack u;
  sbx_err err;
  struct stat st;
  int rc;

  sbx_unpack_init (&u);
  rc = unpack (climb, 1, 0, &u, &err, false);
  tap_ok (rc < 0 && strstr (err.msg, "\"..\" in a name is refused"), "a/../../x is refused: %s", err.msg);
  tap_ok (lstat (at ("%s/escaped%s", ""), &st) < 0 && count_dir (at ("%s/root%s", "")) == 0,
          "nothing written, inside or out");
  rc = unpack (climb2, 1, 0, &u, &err, false);
  tap_ok (rc < 0 && lstat (at ("%s/escaped%s", ""), &st) < 0, "../x is refused");
  rc = unpack (abs, 2, 0, &u, &err, false);
  tap_ok (rc == 0 && lstat (at ("%s/root/abs/file%s", ""), &st) == 0 && lstat ("/abs", &st) < 0
              && lstat (at ("%s/root/dot/file%s", ""), &st) == 0,
          "an absolute name lands inside the tree (%s)", err.msg);
}

static void
test_symlinks (void)
{
  char outside[4096];
  struct sbx_unpack u;
  sbx_err err;
  struct stat st;
  int rc;

  snprintf (outside, sizeof outside, "%s/outside", top);
  {
    /* A symlink entry, then an entry below it: never written through to the host. */
    struct ent ents[] = { { .name = "evil", .type = AE_IFLNK, .link = outside },
                          { .name = "evil/pwned", .data = "x" },
                          { .name = "up", .type = AE_IFLNK, .link = "../../../../../../.." },
                          { .name = "up/pwned-up", .data = "x" } };
    sbx_unpack_init (&u);
    rc = unpack (ents, 2, 0, &u, &err, false);
    tap_ok (count_dir (outside) == 0, "an entry below an absolute symlink writes nothing outside (%s)",
            rc < 0 ? err.msg : "unpacked inside");
    rc = unpack (ents + 2, 2, 0, &u, &err, false);
    tap_ok (rc == 0 && lstat (at ("%s/root/pwned-up%s", ""), &st) == 0 && lstat (at ("%s/pwned-up%s", ""), &st) < 0,
            "a symlink through .. resolves inside the tree, as in the sandbox (%s)", err.msg);
  }
  {
    /* A file entry over a symlink entry to a host file replaces the symlink, never writes through it. */
    char victim[4096];
    struct ent ents[] = { { .name = "f", .type = AE_IFLNK, .link = victim }, { .name = "f", .data = "pwned" } };
    int fd;

    snprintf (victim, sizeof victim, "%s/outside/victim", top);
    sbx_unpack_init (&u);
    fresh ();
    fd = open (victim, O_CREAT | O_WRONLY, 0644);
    close (fd);
    rc = unpack (ents, 2, 0, &u, &err, true);
    tap_ok (rc == 0 && stat (victim, &st) == 0 && st.st_size == 0 && lstat (at ("%s/root/f%s", ""), &st) == 0
                && S_ISREG (st.st_mode),
            "a file over a symlink replaces the symlink (%s)", err.msg);
  }
  {
    /* Hard links: never to a host file, however named. */
    char victim[4096], dir[4096];
    struct ent ents[] = { { .name = "h1", .hard = victim },
                          { .name = "h2", .hard = "../../../../../../../../etc/passwd" },
                          { .name = "lnk", .type = AE_IFLNK, .link = dir },
                          { .name = "h3", .hard = "lnk/victim" },
                          { .name = "d", .type = AE_IFDIR },
                          { .name = "h4", .hard = "d" } };
    int fd;

    snprintf (victim, sizeof victim, "%s/outside/victim", top);
    snprintf (dir, sizeof dir, "%s/outside", top);
    fresh ();
    fd = open (victim, O_CREAT | O_WRONLY, 0644);
    close (fd);
    sbx_unpack_init (&u);
    tap_ok (unpack (ents, 1, 0, &u, &err, true) < 0, "a hard link to an absolute host path is refused: %s", err.msg);
    tap_ok (unpack (ents + 1, 1, 0, &u, &err, true) < 0, "a hard link through .. is refused: %s", err.msg);
    tap_ok (unpack (ents + 2, 2, 0, &u, &err, true) < 0, "a hard link through a symlink out is refused: %s",
            err.msg);
    tap_ok (unpack (ents + 4, 2, 0, &u, &err, true) < 0, "a hard link to a directory is refused: %s", err.msg);
    tap_ok (stat (victim, &st) == 0 && st.st_nlink == 1 && stat ("/etc/passwd", &st) == 0 && st.st_nlink == 1,
            "the host's files have one link each");
  }
  {
    struct ent ents[] = { { .name = "file", .data = "data" }, { .name = "sub/link", .hard = "file" } };
    sbx_unpack_init (&u);
    rc = unpack (ents, 2, 0, &u, &err, false);
    tap_ok (rc == 0 && stat (at ("%s/root/sub/link%s", ""), &st) == 0 && st.st_nlink == 2,
            "a hard link inside the tree works (%s)", err.msg);
  }
}

static void
test_whiteouts (void)
{
  char outside[4096];
  struct ent lower[] = { { .name = "lnk", .type = AE_IFLNK, .link = outside },
                         { .name = "root-lnk", .type = AE_IFLNK, .link = "/" },
                         { .name = "keep", .data = "k" },
                         { .name = "gone", .data = "g" },
                         { .name = "opq/lower", .data = "l" } };
  struct ent upper[] = { { .name = "lnk/.wh.victim" },   { .name = "lnk/.wh..wh..opq" },
                         { .name = "root-lnk/.wh.gone" }, { .name = "opq/upper", .data = "u" },
                         { .name = "opq/.wh..wh..opq" },  { .name = ".wh.lnk" } };
  struct sbx_unpack u;
  sbx_err err;
  struct stat st;
  int fd, rc;

  snprintf (outside, sizeof outside, "%s/outside", top);
  sbx_unpack_init (&u);
  rc = unpack (lower, SBX_ARRAY_SIZE (lower), SBX_UNPACK_LAYER, &u, &err, false);
  fd = open (at ("%s/outside/victim%s", ""), O_CREAT | O_WRONLY, 0644);
  close (fd);
  rc = rc < 0 ? rc : unpack (upper, SBX_ARRAY_SIZE (upper), SBX_UNPACK_LAYER, &u, &err, true);
  tap_ok (rc == 0, "layers with whiteouts through symlinks unpack (%s)", err.msg);
  tap_ok (stat (at ("%s/outside/victim%s", ""), &st) == 0, "a whiteout below a symlink removes nothing outside");
  tap_ok (lstat (at ("%s/root/gone%s", ""), &st) < 0 && lstat (at ("%s/root/keep%s", ""), &st) == 0,
          "a whiteout through a symlink to / acts inside the tree");
  tap_ok (lstat (at ("%s/root/opq/lower%s", ""), &st) < 0 && lstat (at ("%s/root/opq/upper%s", ""), &st) == 0,
          "an opaque directory hides the lower layer only, whatever the order of entries");
  tap_ok (lstat (at ("%s/root/lnk%s", ""), &st) < 0, ".wh.NAME of a symlink removes the symlink itself");
  tap_ok (lstat (at ("%s/root/.wh.lnk%s", ""), &st) < 0 && lstat (at ("%s/root/opq/.wh..wh..opq%s", ""), &st) < 0,
          "no .wh. entry is made");
}

static void
test_bounds (void)
{
  static char longname[6000], deep[1200];
  struct ent big[] = { { .name = "a", .data = "0123456789" }, { .name = "b", .data = "0123456789" } };
  struct ent many[] = { { .name = "1" }, { .name = "2" }, { .name = "3" } };
  struct ent named[] = { { .name = longname, .data = "x" } };
  struct ent deeper[] = { { .name = deep, .data = "x" } };
  struct sbx_unpack u;
  sbx_err err;

  memset (longname, 'n', sizeof longname - 1);
  for (size_t i = 0; i + 2 < sizeof deep; i += 2)
    memcpy (deep + i, "d/", 2);
  deep[sizeof deep - 2] = 'f';
  sbx_unpack_init (&u);
  u.lim.total_bytes = 15;
  tap_ok (unpack (big, 2, 0, &u, &err, false) < 0 && strstr (err.msg, "would exceed 15 bytes"),
          "total bytes are bounded: %s", err.msg);
  sbx_unpack_init (&u);
  u.lim.file_bytes = 5;
  tap_ok (unpack (big, 1, 0, &u, &err, false) < 0 && strstr (err.msg, "more than the 5 a file may have"),
          "a file's bytes are bounded: %s", err.msg);
  sbx_unpack_init (&u);
  {
    int rootfd = fresh (), fd;
    make_huge_tar (at ("%s/huge.tar%s", ""));
    fd = open (at ("%s/huge.tar%s", ""), O_RDONLY | O_CLOEXEC);
    memset (&err, 0, sizeof err);
    tap_ok (sbx_unpack_tar (&u, fd, rootfd, 0, &err) < 0 && strstr (err.msg, "1099511627776 bytes, more than the"),
            "a 1 TiB entry (pax size) is refused by default before any byte is read: %s", err.msg);
    close (fd);
    close (rootfd);
  }
  sbx_unpack_init (&u);
  u.lim.entries = 2;
  tap_ok (unpack (many, 3, 0, &u, &err, false) < 0 && strstr (err.msg, "more than 2 entries"),
          "entries are bounded: %s", err.msg);
  sbx_unpack_init (&u);
  tap_ok (unpack (named, 1, 0, &u, &err, false) < 0 && strstr (err.msg, "more than 4095"),
          "a name's length is bounded (a pax header of 6000 bytes): %s", err.msg);
  sbx_unpack_init (&u);
  tap_ok (unpack (deeper, 1, 0, &u, &err, false) < 0 && strstr (err.msg, "deeper than 256 levels"),
          "a name's depth is bounded: %s", err.msg);
  tap_ok (count_dir (at ("%s/root%s", "")) <= 1, "what a refused deep entry made stays in the tree");
}

/* A gzip stream of N MiB of zeros at PATH: as a raw stream (FORMAT raw) or as one pax entry "big" holding them. */
static void
make_bomb (const char *path, bool raw, int mib)
{
  static char zeros[1 << 20];
  struct archive *a = archive_write_new ();
  struct archive_entry *e = archive_entry_new ();

  if (raw)
    archive_write_set_format_raw (a);
  else
    archive_write_set_format_pax_restricted (a);
  archive_write_add_filter_gzip (a);
  archive_write_open_filename (a, path);
  archive_entry_set_pathname (e, "big");
  archive_entry_set_filetype (e, AE_IFREG);
  archive_entry_set_perm (e, 0644);
  archive_entry_set_size (e, (la_int64_t) mib << 20);
  archive_write_header (a, e);
  for (int i = 0; i < mib; i++)
    archive_write_data (a, zeros, sizeof zeros);
  archive_entry_free (e);
  archive_write_close (a);
  archive_write_free (a);
}

static void
test_bombs (void)
{
  struct sbx_unpack u;
  struct timespec t0, t1;
  struct stat st;
  sbx_err err;
  int rootfd, fd, rc;

  make_bomb (at ("%s/zeros.gz%s", ""), true, 256);
  stat (at ("%s/zeros.gz%s", ""), &st);
  sbx_unpack_init (&u);
  rootfd = fresh ();
  fd = open (at ("%s/zeros.gz%s", ""), O_RDONLY | O_CLOEXEC);
  clock_gettime (CLOCK_MONOTONIC, &t0);
  memset (&err, 0, sizeof err);
  rc = sbx_unpack_tar (&u, fd, rootfd, 0, &err);
  clock_gettime (CLOCK_MONOTONIC, &t1);
  tap_ok (count_dir (at ("%s/root%s", "")) == 0 && t1.tv_sec - t0.tv_sec < 5,
          "%lld KiB of gzip inflating to 256 MiB of zeros: read up to the end-of-archive blocks only (rc %d, %ld s)",
          (long long) st.st_size >> 10, rc, (long) (t1.tv_sec - t0.tv_sec));
  close (fd);
  close (rootfd);

  {
    /* A pax header that claims 8 GiB: refused, not allocated. */
    unsigned char b[512 * 4] = { 0 };
    ustar_header (b, "PaxHeaders/x", 'x', 077777777777ull);
    memcpy (b + 512, "9 a=bbbb\n", 9);
    fd = open (at ("%s/hdr.tar%s", ""), O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0644);
    IGNORE (write (fd, b, sizeof b));
    lseek (fd, 0, SEEK_SET);
    sbx_unpack_init (&u);
    rootfd = fresh ();
    memset (&err, 0, sizeof err);
    rc = sbx_unpack_tar (&u, fd, rootfd, 0, &err);
    tap_ok (rc < 0 && count_dir (at ("%s/root%s", "")) == 0, "a pax header claiming 8 GiB is refused: %s", err.msg);
    close (fd);
    close (rootfd);
  }

  make_bomb (at ("%s/big.tar.gz%s", ""), false, 64);
  sbx_unpack_init (&u);
  u.lim.file_bytes = 1 << 20;
  rootfd = fresh ();
  fd = open (at ("%s/big.tar.gz%s", ""), O_RDONLY | O_CLOEXEC);
  memset (&err, 0, sizeof err);
  rc = sbx_unpack_tar (&u, fd, rootfd, 0, &err);
  tap_ok (rc < 0 && strstr (err.msg, "67108864 bytes, more than the 1048576") && count_dir (at ("%s/root%s", "")) == 0,
          "a gzip bomb's one big file is refused before a byte of it is inflated or written: %s", err.msg);
  close (fd);
  close (rootfd);
}

/* ---- the cache, through sbx_image_rootfs ---- */

static int
image (const char *path, char **rootfs, sbx_err *err)
{
  struct sbx_config cfg = { 0 };
  memset (err, 0, sizeof *err);
  free (*rootfs);
  *rootfs = NULL;
  return sbx_image_rootfs (&cfg, path, rootfs, err);
}

static void
test_cache (void)
{
  struct ent good[] = { { .name = "bin/su", .perm = 04755, .data = "x" } };
  /* Fails at its last entry (a hard link to nothing), half unpacked. */
  struct ent bad[] = { { .name = "bin/ok", .data = "x" }, { .name = "var/lib/x", .data = "y" }, { .name = "zz", .hard = "none" } };
  char cache[4096];
  cleanup_free char *rootfs = NULL;
  struct stat st;
  sbx_err err;
  int rc;

  snprintf (cache, sizeof cache, "%s/cache", top);
  setenv ("SBX_IMAGE_CACHE", cache, 1);
  mkdir (cache, 0755); /* as an older sbx made it */
  make_tar (at ("%s/good.tar.gz%s", ""), good, 1, true);
  rc = image (at ("%s/good.tar.gz%s", ""), &rootfs, &err);
  tap_ok (rc == 0, "a gzip rootfs tarball unpacks into the cache (%s)", err.msg);
  rc = stat (cache, &st);
  tap_ok (rc == 0 && (st.st_mode & 07777) == 0700, "a 0755 cache is narrowed to 0700 (%04o)", st.st_mode & 07777);
  {
    char entry[4200];
    snprintf (entry, sizeof entry, "%s/..", rootfs ? rootfs : "/nonexistent");
    rc = stat (entry, &st);
    tap_ok (rc == 0 && (st.st_mode & 07777) == 0700, "its entry is 0700 too (%04o)", st.st_mode & 07777);
  }
  {
    char su[4200];
    snprintf (su, sizeof su, "%s/bin/su", rootfs ? rootfs : "");
    tap_ok (stat (su, &st) == 0 && !(st.st_mode & (S_ISUID | S_ISGID)), "no setuid bit in the cache");
  }
  {
    /* An entry of an older sbx (no format file; tar kept setuid bits) is not used: it is unpacked again. */
    char planted[4200], format[4200];
    int fd;
    snprintf (planted, sizeof planted, "%s/bin/planted", rootfs ? rootfs : "/nonexistent");
    snprintf (format, sizeof format, "%s/../format", rootfs ? rootfs : "/nonexistent");
    fd = open (planted, O_CREAT | O_WRONLY | O_CLOEXEC, 04755);
    IGNORE (fchmod (fd, 04755));
    close (fd);
    unlink (format);
    rc = image (at ("%s/good.tar.gz%s", ""), &rootfs, &err);
    tap_ok (rc == 0 && lstat (planted, &st) < 0 && stat (format, &st) == 0,
            "an older sbx's entry is unpacked again (%s)", err.msg);
  }
  make_tar (at ("%s/bad.tar%s", ""), bad, 3, false);
  rc = image (at ("%s/bad.tar%s", ""), &rootfs, &err);
  tap_ok (rc < 0 && count_dir (cache) == 1, "a failed unpack leaves nothing in the cache (%d entries; %s)",
          count_dir (cache), err.msg);
  tap_ok (lstat (at ("%s/x%s", ""), &st) < 0, "and nothing outside it");

  {
    /* A .tmp-* of a killed sbx goes; one whose sbx lives (it holds the lock) stays. */
    int live;
    mkdir (at ("%s/cache/.tmp-dead%s", ""), 0700);
    mkdir (at ("%s/cache/.tmp-dead/rootfs%s", ""), 0700);
    mkdir (at ("%s/cache/.tmp-live%s", ""), 0700);
    live = open (at ("%s/cache/.tmp-live%s", ""), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    flock (live, LOCK_EX);
    rc = image (at ("%s/good.tar.gz%s", ""), &rootfs, &err);
    tap_ok (rc == 0 && lstat (at ("%s/cache/.tmp-dead%s", ""), &st) < 0, "what a killed sbx left half-unpacked goes");
    tap_ok (lstat (at ("%s/cache/.tmp-live%s", ""), &st) == 0, "what a live sbx is unpacking stays");
    close (live);
    rmdir (at ("%s/cache/.tmp-live%s", ""));
  }
  rename (cache, at ("%s/cache-real%s", ""));
  IGNORE (symlink (at ("%s/cache-real%s", ""), cache));
  rc = image (at ("%s/good.tar.gz%s", ""), &rootfs, &err);
  tap_ok (rc < 0 && strstr (err.msg, "is a symlink: refused"), "a symlinked cache is refused: %s", err.msg);
  unlink (cache);
  rename (at ("%s/cache-real%s", ""), cache);
  IGNORE (chown (cache, 1000, 1000));
  rc = image (at ("%s/good.tar.gz%s", ""), &rootfs, &err);
  tap_ok (rc < 0 && strstr (err.msg, "not root: refused"), "a cache owned by someone else is refused: %s",
          err.msg);
  IGNORE (chown (cache, 0, 0));
}

/* An OCI layout at TOP/oci whose index.json names DIGEST. */
static void
layout_with (const char *digest)
{
  char buf[512];
  int fd;

  mkdir (at ("%s/oci%s", ""), 0755);
  mkdir (at ("%s/oci/blobs%s", ""), 0755);
  mkdir (at ("%s/oci/blobs/sha256%s", ""), 0755);
  fd = open (at ("%s/oci/oci-layout%s", ""), O_CREAT | O_TRUNC | O_WRONLY, 0644);
  IGNORE (write (fd, "{}", 2));
  close (fd);
  snprintf (buf, sizeof buf, "{\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                             "\"digest\":\"%s\"}]}", digest);
  fd = open (at ("%s/oci/index.json%s", ""), O_CREAT | O_TRUNC | O_WRONLY, 0644);
  IGNORE (write (fd, buf, strlen (buf)));
  close (fd);
}

static void
test_layout (void)
{
  static const char zero[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; /* sha256("") */
  cleanup_free char *rootfs = NULL;
  char path[4096];
  sbx_err err;

  layout_with ("sha256:../../../../etc/passwd");
  tap_ok (image (at ("%s/oci%s", ""), &rootfs, &err) < 0 && strstr (err.msg, "sha256 digest"),
          "a digest with a path in it is refused: %s", err.msg);
  layout_with ("sha256:/etc/passwd/../../../../../../../../../../../../../../../../../../../../../aaaaaa");
  tap_ok (image (at ("%s/oci%s", ""), &rootfs, &err) < 0, "a digest of the right length with a path is refused");
  layout_with ("sha512:aa");
  tap_ok (image (at ("%s/oci%s", ""), &rootfs, &err) < 0, "another algorithm is refused");
  /* A blob that is a symlink to a host file whose hash it claims. */
  {
    char hex[65];
    sbx_err e2;
    sbx_sha256_file ("/etc/hostname", hex, &e2);
    snprintf (path, sizeof path, "sha256:%s", hex);
    layout_with (path);
    snprintf (path, sizeof path, "%s/oci/blobs/sha256/%s", top, hex);
    IGNORE (symlink ("/etc/hostname", path));
    tap_ok (image (at ("%s/oci%s", ""), &rootfs, &err) < 0 && strstr (err.msg, "symlink"),
            "a blob that is a symlink is never followed: %s", err.msg);
    unlink (path);
  }
  snprintf (path, sizeof path, "%s/oci/index.json", top);
  unlink (path);
  snprintf (path, sizeof path, "sha256:%s", zero);
  layout_with (path);
  snprintf (path, sizeof path, "%s/oci/index.json", top);
  {
    char fifo[4096];
    snprintf (fifo, sizeof fifo, "%s/oci/blobs/sha256/%s", top, zero);
    mkfifo (fifo, 0644);
    tap_ok (image (at ("%s/oci%s", ""), &rootfs, &err) < 0 && strstr (err.msg, "not a regular file"),
            "a FIFO blob neither hangs nor passes: %s", err.msg);
    unlink (fifo);
  }
}

/* ---- removal against a racer swapping directories for symlinks ---- */

static atomic_bool racing;

static void *
racer (void *arg)
{
  const char *root = arg;
  char d[4200], saved[4200], victim[4096];

  snprintf (victim, sizeof victim, "%s/outside", top);
  while (atomic_load (&racing))
    for (int i = 0; i < 20; i++)
      {
        snprintf (d, sizeof d, "%s/d%d", root, i);
        snprintf (saved, sizeof saved, "%s/s%d", root, i);
        if (rename (d, saved) == 0)
          {
            IGNORE (symlink (victim, d));
            usleep (50);
            unlink (d);
            rename (saved, d);
          }
      }
  return NULL;
}

static void
test_remove_race (void)
{
  char path[4200], root[4096];
  int survived = 1;

  snprintf (root, sizeof root, "%s/root", top);
  for (int round = 0; round < 5 && survived; round++)
    {
      int rootfd = fresh (), topfd = open (top, O_PATH | O_DIRECTORY | O_CLOEXEC);
      pthread_t t;
      sbx_err err;

      for (int f = 0; f < 50; f++)
        {
          snprintf (path, sizeof path, "%s/outside/f%d", top, f);
          close (open (path, O_CREAT | O_WRONLY, 0644));
        }
      for (int i = 0; i < 20; i++)
        {
          snprintf (path, sizeof path, "%s/d%d", root, i);
          mkdir (path, 0755);
          for (int f = 0; f < 50; f++)
            {
              snprintf (path, sizeof path, "%s/d%d/f%d", root, i, f);
              close (open (path, O_CREAT | O_WRONLY, 0644));
            }
        }
      atomic_store (&racing, true);
      pthread_create (&t, NULL, racer, root);
      usleep (200);
      sbx_tree_remove_at (topfd, "root", &err);
      atomic_store (&racing, false);
      pthread_join (t, NULL);
      survived = count_dir (at ("%s/outside%s", "")) == 50;
      close (rootfd);
      close (topfd);
    }
  tap_ok (survived, "removing a tree while its directories are swapped for symlinks deletes nothing outside");
  fresh ();
  {
    int topfd = open (top, O_PATH | O_DIRECTORY | O_CLOEXEC);
    sbx_err err;
    tap_ok (sbx_tree_remove_at (topfd, "root", &err) == 0 && count_dir (root) < 0, "an idle tree is removed whole");
    close (topfd);
  }
}

int
main (void)
{
  if (geteuid () != 0)
    return tap_skip_all ("needs root (owners, chown, device entries)");
  if (mkdtemp (top) == NULL)
    {
      tap_bail ("mkdtemp: %s", strerror (errno));
      return 1;
    }
  test_privileges ();
  test_names ();
  test_symlinks ();
  test_whiteouts ();
  test_bounds ();
  test_bombs ();
  test_cache ();
  test_layout ();
  test_remove_race ();
  nftw (top, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
  return tap_done ();
}
