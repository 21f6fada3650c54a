/* cache.c - compiled filters kept on disk so a container start hands crun BPF without running libseccomp. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/filter.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "../common/util.h"
#include "profile.h"

#define SBX_SECCOMP_CACHE_DEFAULT "/var/cache/sbx/seccomp"
#define MAGIC_BPF "SBXBPF2"
#define MAGIC_MEMO "SBXMEM2"
/* Bumped when what sbx feeds libseccomp for a given JSON changes. */
#define CACHE_FORMAT "sbx-seccomp-cache/2"
#define MEMO_FORMAT "sbx-hardening-memo/1"

struct entry_header
{
  char magic[8];
  uint32_t key_len;
  uint32_t val_len;
  uint64_t checksum;
};

const char *
sbx_seccomp_cache_dir (const struct sbx_config *cfg)
{
  const char *d = getenv ("SBX_SECCOMP_CACHE");
  return d ? d : sbx_config_str (cfg, "seccomp_cache", SBX_SECCOMP_CACHE_DEFAULT);
}

bool
sbx_seccomp_cache_enabled (const char *dir)
{
  return dir && *dir && strcmp (dir, "off") != 0;
}

/* A 64-bit hash of DATA, eight bytes a step: names entries by their key and checksums their contents (not a
   defence against forgery: the cache is root's, and every entry holds its whole key). */
static uint64_t
hash64 (const void *data, size_t len)
{
  const unsigned char *p = data;
  uint64_t h = 0x9e3779b97f4a7c15ULL ^ len, w;

  for (; len >= 8; p += 8, len -= 8)
    {
      memcpy (&w, p, 8);
      h = (h ^ w) * 0xff51afd7ed558ccdULL;
      h ^= h >> 32;
    }
  w = 0;
  memcpy (&w, p, len);
  h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
  return h ^ (h >> 29);
}

/* The whole key, stored in the entry and compared on a hit: a hash collision can never hand out another filter.
   FORMAT names what the entry holds; BODY is what it was computed from. */
static int
key_of (const char *format, const char *body, const char *body2, char **key, size_t *len, sbx_err *err)
{
  const struct scmp_version *v = seccomp_version ();
  struct utsname u;
  char head[512];
  size_t hlen, blen = strlen (body), b2len = body2 ? strlen (body2) : 0;
  int n;

  if (uname (&u) < 0)
    return sbx_fail (err, errno, "uname");
  /* The kernel matters: libseccomp probes which actions it supports while generating the program. */
  n = snprintf (head, sizeof head, "%s\n%s %s\nlibseccomp %u.%u.%u\n", format, u.release, u.machine, v->major,
                v->minor, v->micro);
  if (n < 0 || (size_t) n >= sizeof head)
    return sbx_fail (err, ENAMETOOLONG, "seccomp cache key");
  hlen = (size_t) n;
  if ((*key = malloc (hlen + blen + b2len + 1)) == NULL)
    return sbx_fail (err, ENOMEM, "seccomp cache key");
  memcpy (*key, head, hlen);
  memcpy (*key + hlen, body, blen);
  memcpy (*key + hlen + blen, body2 ? body2 : "", b2len + 1);
  *len = hlen + blen + b2len;
  return 0;
}

/* An entry is MAGIC, the whole key and the value, checksummed; anything else under NAME is a miss. */
static bool
lookup (int dirfd, const char *name, const char *magic, const char *key, size_t key_len, size_t max_val, char **val,
        size_t *val_len)
{
  cleanup_close int fd = -1;
  cleanup_free char *buf = NULL;
  struct entry_header h;
  struct stat st;
  size_t len;
  sbx_err err;

  fd = openat (dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0 || fstat (fd, &st) < 0 || !S_ISREG (st.st_mode) || (size_t) st.st_size < sizeof h + key_len)
    return false;
  if (sbx_read_fd (fd, sizeof h + key_len + max_val, name, &buf, &len, &err) < 0 || len < sizeof h)
    return false;
  memcpy (&h, buf, sizeof h);
  if (memcmp (h.magic, magic, sizeof h.magic) != 0 || h.key_len != key_len || h.val_len == 0
      || len != sizeof h + (size_t) h.key_len + h.val_len
      || h.checksum != hash64 (buf + sizeof h, len - sizeof h)
      || memcmp (buf + sizeof h, key, key_len) != 0)
    return false;
  *val_len = h.val_len;
  /* The value moves to the front, so the caller frees what it gets. */
  memmove (buf, buf + sizeof h + key_len, h.val_len);
  buf[h.val_len] = '\0';
  *val = steal_pointer (&buf);
  return true;
}

struct aged
{
  char name[64];
  time_t mtime;
};

static int
older_first (const void *a, const void *b)
{
  const struct aged *x = a, *y = b;
  return (x->mtime > y->mtime) - (x->mtime < y->mtime);
}

/* The cache is bounded: whoever may choose a container's filter or capabilities (a custom profile per container)
   must not be able to fill the disk with entries.  Past SBX_CACHE_MAX_ENTRIES the older half goes (a hot entry
   is rebuilt at its next miss), and so do temporary files a crashed writer left behind.  Runs after a miss only. */
static void
prune (int dirfd)
{
  cleanup_free struct aged *all = NULL;
  size_t n = 0, cap = 0;
  time_t now = time (NULL);
  struct dirent *e;
  DIR *d;
  int fd = dup (dirfd);

  if (fd < 0 || (d = fdopendir (fd)) == NULL)
    {
      if (fd >= 0)
        close (fd);
      return;
    }
  while ((e = readdir (d)) != NULL)
    {
      struct stat st;
      size_t len = strlen (e->d_name);
      bool entry = len > 5 && len < sizeof all->name
                   && (strcmp (e->d_name + len - 4, ".bpf") == 0 || strcmp (e->d_name + len - 5, ".memo") == 0);

      if (fstatat (dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG (st.st_mode))
        continue;
      if (e->d_name[0] == '.' && strstr (e->d_name, ".sbx-") && now - st.st_mtime > 60)
        {
          unlinkat (dirfd, e->d_name, 0);
          continue;
        }
      if (!entry)
        continue;
      if (n == cap)
        {
          struct aged *na = realloc (all, (cap = cap ? cap * 2 : 256) * sizeof *all);
          if (na == NULL)
            break;
          all = na;
        }
      memcpy (all[n].name, e->d_name, len + 1);
      all[n++].mtime = st.st_mtime;
    }
  closedir (d);
  if (n <= SBX_CACHE_MAX_ENTRIES)
    return;
  qsort (all, n, sizeof *all, older_first);
  for (size_t i = 0; i < n - SBX_CACHE_MAX_ENTRIES / 2; i++)
    unlinkat (dirfd, all[i].name, 0);
}

static int
store (int dirfd, const char *name, const char *magic, const char *key, size_t key_len, const void *val,
       size_t val_len, sbx_err *err)
{
  struct entry_header h = { .key_len = (uint32_t) key_len, .val_len = (uint32_t) val_len };
  size_t len = sizeof h + key_len + val_len;
  cleanup_free char *buf = malloc (len);

  if (buf == NULL)
    return sbx_fail (err, ENOMEM, "seccomp cache entry");
  memcpy (h.magic, magic, sizeof h.magic);
  memcpy (buf + sizeof h, key, key_len);
  memcpy (buf + sizeof h + key_len, val, val_len);
  h.checksum = hash64 (buf + sizeof h, len - sizeof h);
  memcpy (buf, &h, sizeof h);
  /* Temporary file + rename: concurrent writers of one key each install a complete entry.  Not flushed: an entry
     lost in a crash is a miss, and a torn one fails its checksum. */
  if (sbx_write_replace (dirfd, name, buf, len, 0600, (uid_t) -1, (gid_t) -1, false, err) < 0)
    return -1;
  prune (dirfd);
  return 0;
}

static char *
base64 (const unsigned char *in, size_t len)
{
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char *out = malloc ((len + 2) / 3 * 4 + 1), *o = out;

  if (out == NULL)
    return NULL;
  for (size_t i = 0; i < len; i += 3)
    {
      uint32_t v = (uint32_t) in[i] << 16 | (i + 1 < len ? (uint32_t) in[i + 1] << 8 : 0)
                   | (i + 2 < len ? in[i + 2] : 0);
      *o++ = tbl[v >> 18 & 63];
      *o++ = tbl[v >> 12 & 63];
      *o++ = i + 1 < len ? tbl[v >> 6 & 63] : '=';
      *o++ = i + 2 < len ? tbl[v & 63] : '=';
    }
  *o = '\0';
  return out;
}

/* The cache hands programs to crun and filters to every container: only a directory that nobody but sbx's own
   user can write is trusted (a spoofed entry would be a spoofed filter). */
static int
trusted_dir (int fd, const char *dir, sbx_err *err)
{
  struct stat st;

  if (fstat (fd, &st) < 0)
    {
      int saved = errno;
      close (fd);
      return sbx_fail (err, saved, "seccomp cache %s", dir);
    }
  if (st.st_uid != geteuid () || (st.st_mode & 022))
    {
      close (fd);
      return sbx_fail (err, EPERM, "seccomp cache %s is not private (owner %u, mode %o): not used", dir,
                       (unsigned) st.st_uid, (unsigned) (st.st_mode & 07777));
    }
  return fd;
}

/* The cache directory, created (private) when CREATE and missing. */
static int
open_dir (const char *dir, bool create, sbx_err *err)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd >= 0)
    return trusted_dir (fd, dir, err);
  if (errno != ENOENT || !create)
    return sbx_fail (err, errno, "open seccomp cache %s", dir);
  /* Create the missing levels (e.g. /var/cache/sbx/seccomp) private to root. */
  {
    cleanup_free char *p = strdup (dir);
    if (p == NULL)
      return sbx_fail (err, ENOMEM, "seccomp cache %s", dir);
    for (char *s = strchr (p + 1, '/');; s = strchr (s + 1, '/'))
      {
        if (s)
          *s = '\0';
        if (mkdir (p, 0700) < 0 && errno != EEXIST)
          return sbx_fail (err, errno, "create seccomp cache %s", p);
        if (s == NULL)
          break;
        *s = '/';
      }
  }
  fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  return fd >= 0 ? trusted_dir (fd, dir, err) : sbx_fail (err, errno, "open seccomp cache %s", dir);
}

int
sbx_bpf_cache_b64 (const json_t *seccomp, const char *dir, char **b64, char **json, bool *hit, sbx_err *err)
{
  cleanup_free char *key = NULL, *bpf = NULL, *text = NULL;
  cleanup_close int dirfd = -1;
  struct sbx_filter f;
  struct sbx_bpf prog;
  size_t key_len = 0, bpf_len = 0, text_len;
  char name[32];

  *b64 = NULL;
  *hit = false;
  if (json_serialize (seccomp, &text, &text_len, err) < 0 || key_of (CACHE_FORMAT, text, NULL, &key, &key_len, err) < 0)
    return sbx_wrap (err, "seccomp cache key");
  snprintf (name, sizeof name, "%016" PRIx64 ".bpf", hash64 (key, key_len));
  if (sbx_seccomp_cache_enabled (dir))
    {
      dirfd = open_dir (dir, true, err);
      if (dirfd < 0)
        return -1;
      *hit = lookup (dirfd, name, MAGIC_BPF, key, key_len, BPF_MAXINSNS * sizeof (struct sock_filter), &bpf,
                     &bpf_len);
      if (*hit && bpf_len % sizeof (struct sock_filter))
        {
          *hit = false;
          free (steal_pointer (&bpf));
        }
    }
  if (!*hit)
    {
      if (sbx_filter_from_oci (seccomp, "linux.seccomp", &f, err) < 0)
        return -1;
      if (sbx_filter_compile (&f, false, &prog, err) < 0)
        {
          sbx_filter_free (&f);
          return sbx_wrap (err, "compile linux.seccomp");
        }
      sbx_filter_free (&f);
      bpf = prog.insns;
      bpf_len = prog.len * sizeof (struct sock_filter);
      /* A cache that cannot be written (read-only /var) only costs the next start a compile. */
      if (dirfd >= 0)
        {
          sbx_err ignored;
          (void) store (dirfd, name, MAGIC_BPF, key, key_len, bpf, bpf_len, &ignored);
        }
    }
  *b64 = base64 ((const unsigned char *) bpf, bpf_len);
  if (*b64 == NULL)
    return sbx_fail (err, ENOMEM, "encode BPF");
  if (json)
    *json = steal_pointer (&text);
  return 0;
}

int
sbx_memo_open (struct sbx_memo *m, const char *dir, const char *prefix, const char *text)
{
  sbx_err err;

  memset (m, 0, sizeof *m);
  if (!sbx_seccomp_cache_enabled (dir) || key_of (MEMO_FORMAT, prefix, text, &m->key, &m->key_len, &err) < 0)
    return -1;
  m->dir = dir;
  /* The file is named by the key's hash; the whole key is in the entry and compared. */
  snprintf (m->name, sizeof m->name, "%016" PRIx64 ".memo", hash64 (m->key, m->key_len));
  return 0;
}

bool
sbx_memo_get (const struct sbx_memo *m, char **val, size_t *val_len)
{
  cleanup_close int dirfd = -1;
  sbx_err err;

  if (m->key == NULL || (dirfd = open_dir (m->dir, false, &err)) < 0)
    return false;
  return lookup (dirfd, m->name, MAGIC_MEMO, m->key, m->key_len, SBX_MEMO_VALUE_MAX, val, val_len);
}

int
sbx_memo_put (const struct sbx_memo *m, const char *val, size_t val_len, sbx_err *err)
{
  cleanup_close int dirfd = -1;

  if (m->key == NULL)
    return 0;
  if (val_len == 0 || val_len > SBX_MEMO_VALUE_MAX)
    return sbx_fail (err, EINVAL, "memo value of %zu bytes", val_len);
  if ((dirfd = open_dir (m->dir, true, err)) < 0)
    return -1;
  return store (dirfd, m->name, MAGIC_MEMO, m->key, m->key_len, val, val_len, err);
}

void
sbx_memo_close (struct sbx_memo *m)
{
  free (m->key);
  memset (m, 0, sizeof *m);
}
