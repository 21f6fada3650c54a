/* cache.c - compiled filters kept on disk so a container start hands crun BPF without running libseccomp. */
#define _GNU_SOURCE
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
#include <unistd.h>

#include "../common/util.h"
#include "profile.h"

#define SBX_SECCOMP_CACHE_DEFAULT "/var/cache/sbx/seccomp"
#define MAGIC "SBXBPF1"
/* Bumped when what sbx feeds libseccomp for a given JSON changes. */
#define CACHE_FORMAT "sbx-seccomp-cache/1"

struct entry_header
{
  char magic[8];
  uint32_t key_len;
  uint32_t bpf_len;
  uint64_t checksum;
};

const char *
sbx_seccomp_cache_dir (const struct sbx_config *cfg)
{
  const char *d = getenv ("SBX_SECCOMP_CACHE");
  return d ? d : sbx_config_str (cfg, "seccomp_cache", SBX_SECCOMP_CACHE_DEFAULT);
}

static uint64_t
fnv1a (uint64_t h, const void *data, size_t len)
{
  const unsigned char *p = data;

  for (size_t i = 0; i < len; i++)
    h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

/* The whole key, stored in the entry and compared on a hit: a hash collision can never hand out another filter. */
static int
key_of (const json_t *seccomp, char **key, size_t *len, sbx_err *err)
{
  cleanup_free char *json = NULL;
  const struct scmp_version *v = seccomp_version ();
  struct utsname u;
  size_t jlen;
  int n;

  if (json_serialize (seccomp, &json, &jlen, err) < 0)
    return sbx_wrap (err, "seccomp cache key");
  if (uname (&u) < 0)
    return sbx_fail (err, errno, "uname");
  /* The kernel matters: libseccomp probes which actions it supports while generating the program. */
  n = asprintf (key, "%s\n%s %s\nlibseccomp %u.%u.%u\n%s", CACHE_FORMAT, u.release, u.machine, v->major, v->minor,
                v->micro, json);
  if (n < 0)
    return sbx_fail (err, ENOMEM, "seccomp cache key");
  *len = (size_t) n;
  return 0;
}

static bool
lookup (int dirfd, const char *name, const char *key, size_t key_len, char **bpf, size_t *bpf_len)
{
  cleanup_close int fd = -1;
  cleanup_free char *buf = NULL;
  struct entry_header h;
  struct stat st;
  size_t len;
  sbx_err err;

  fd = openat (dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0 || fstat (fd, &st) < 0 || !S_ISREG (st.st_mode) || (size_t) st.st_size < sizeof h)
    return false;
  if (sbx_read_fd (fd, sizeof h + key_len + BPF_MAXINSNS * sizeof (struct sock_filter), name, &buf, &len, &err) < 0
      || len < sizeof h)
    return false;
  memcpy (&h, buf, sizeof h);
  if (memcmp (h.magic, MAGIC, sizeof h.magic) != 0 || h.key_len != key_len || h.bpf_len == 0
      || h.bpf_len % sizeof (struct sock_filter) || len != sizeof h + (size_t) h.key_len + h.bpf_len
      || h.checksum != fnv1a (0xcbf29ce484222325ULL, buf + sizeof h, len - sizeof h)
      || memcmp (buf + sizeof h, key, key_len) != 0)
    return false;
  *bpf_len = h.bpf_len;
  *bpf = malloc (h.bpf_len);
  if (*bpf == NULL)
    return false;
  memcpy (*bpf, buf + sizeof h + key_len, h.bpf_len);
  return true;
}

static int
store (int dirfd, const char *name, const char *key, size_t key_len, const void *bpf, size_t bpf_len, sbx_err *err)
{
  struct entry_header h = { .key_len = (uint32_t) key_len, .bpf_len = (uint32_t) bpf_len };
  size_t len = sizeof h + key_len + bpf_len;
  cleanup_free char *buf = malloc (len);

  if (buf == NULL)
    return sbx_fail (err, ENOMEM, "seccomp cache entry");
  memcpy (h.magic, MAGIC, sizeof h.magic);
  memcpy (buf + sizeof h, key, key_len);
  memcpy (buf + sizeof h + key_len, bpf, bpf_len);
  h.checksum = fnv1a (0xcbf29ce484222325ULL, buf + sizeof h, len - sizeof h);
  memcpy (buf, &h, sizeof h);
  /* Temporary file + rename: concurrent writers of one key each install a complete entry. */
  return sbx_write_atomic (dirfd, name, buf, len, 0600, (uid_t) -1, (gid_t) -1, err);
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

static int
open_dir (const char *dir, sbx_err *err)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd >= 0 || errno != ENOENT)
    return fd >= 0 ? fd : sbx_fail (err, errno, "open seccomp cache %s", dir);
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
  return fd >= 0 ? fd : sbx_fail (err, errno, "open seccomp cache %s", dir);
}

int
sbx_bpf_cache_b64 (const json_t *seccomp, const char *dir, char **b64, bool *hit, sbx_err *err)
{
  cleanup_free char *key = NULL, *bpf = NULL;
  cleanup_close int dirfd = -1;
  struct sbx_filter f;
  struct sbx_bpf prog;
  size_t key_len = 0, bpf_len = 0;
  char name[32];

  *b64 = NULL;
  *hit = false;
  if (key_of (seccomp, &key, &key_len, err) < 0)
    return -1;
  snprintf (name, sizeof name, "%016" PRIx64 ".bpf", fnv1a (0xcbf29ce484222325ULL, key, key_len));
  if (dir && *dir)
    {
      dirfd = open_dir (dir, err);
      if (dirfd < 0)
        return -1;
      *hit = lookup (dirfd, name, key, key_len, &bpf, &bpf_len);
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
          (void) store (dirfd, name, key, key_len, bpf, bpf_len, &ignored);
        }
    }
  *b64 = base64 ((const unsigned char *) bpf, bpf_len);
  if (*b64 == NULL)
    return sbx_fail (err, ENOMEM, "encode BPF");
  return 0;
}
