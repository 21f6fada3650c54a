/* test_memo.c - TAP tests of the hardening memo: a start it serves gets exactly what hardening from scratch gives,
   and nothing it was not computed from (capabilities, profile bytes, moved or corrupt entries, an open directory). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/util.h"
#include "../policy/notify.h"
#include "../policy/policy.h"
#include "fixture.h"
#include "seccomp_fixture.h"
#include "tap.h"

static int memo_hits;
static char last_notes[2048];

static void
count_memo (enum sbx_level level, const char *fmt, ...)
{
  char msg[2048];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  if (level == SBX_DEBUG && strstr (msg, "from the hardening memo"))
    memo_hits++;
  if (strstr (msg, "intersection refuses more"))
    snprintf (last_notes, sizeof last_notes, "%s", msg);
}

static struct sbx_config cfg_nomemo, cfg_watch, cfg_watch_nomemo;
/* The settings memo_harden uses with the memo on and off. */
static const struct sbx_config *cfg_on = &cfg, *cfg_off = &cfg_nomemo;

/* SPEC hardened for crun with its seccomp cache in DIR, the memo on (MEMO) or off (sbx.json "seccomp_memo"),
   serialized; *HIT tells whether the memo served. */
static char *
memo_harden (const char *spec_json, const char *dir, bool memo, bool *hit)
{
  json_t *spec = parse (spec_json);
  struct sbx_policy_ctx ctx
      = { .cfg = memo ? cfg_on : cfg_off, .container_id = "t", .delegate = SBX_DELEGATE_CRUN, .note = count_memo };
  char *out = NULL;
  size_t len;
  sbx_err err;
  int before = memo_hits;

  setenv ("SBX_SECCOMP_CACHE", dir, 1);
  last_notes[0] = '\0';
  fixture_namespaces (spec);
  if (sbx_policy_apply_spec (spec, &ctx, &err) < 0 || json_serialize (spec, &out, &len, &err) < 0)
    printf ("# memo_harden: %s\n", err.msg);
  json_free (spec);
  *hit = memo_hits > before;
  return out;
}

static void
write_file (const char *path, const char *text)
{
  FILE *f = fopen (path, "w");
  if (f)
    {
      fputs (text, f);
      fclose (f);
    }
}

static void
test_memo (void)
{
  char dir[] = "/tmp/sbx-test-memo.XXXXXX", profiles[] = "/tmp/sbx-test-memo-profiles.XXXXXX", path[600];
  static const char *const engine = "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"read\","
                                    "\"write\",\"exit_group\",\"personality\",\"settimeofday\"],\"action\":"
                                    "\"SCMP_ACT_ALLOW\"}],\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\"]}";
  /* A profile whose result depends on the capabilities: settimeofday only with CAP_SYS_TIME. */
  static const char *const capprof
      = "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"read\",\"write\",\"exit_group\"],"
        "\"action\":\"SCMP_ACT_ALLOW\"},{\"names\":[\"settimeofday\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":"
        "{\"caps\":[\"CAP_SYS_TIME\"]}}]}";
  const char *variants[6];
  char buf[6][4096];
  bool hit;

  if (mkdtemp (dir) == NULL || mkdtemp (profiles) == NULL)
    return;
  setenv ("SBX_PROFILES_DIR", profiles, 1);
  snprintf (path, sizeof path, "%s/captime.json", profiles);
  write_file (path, capprof);
  snprintf (buf[0], sizeof buf[0], "%s", spec_with (NULL, NULL));
  snprintf (buf[1], sizeof buf[1], "%s", spec_with (engine, NULL));
  snprintf (buf[2], sizeof buf[2], "%s", spec_with (engine, ",\"annotations\":{\"run.sbx.profile\":\"strict\"}"));
  snprintf (buf[3], sizeof buf[3], "%s", spec_with (engine, ",\"annotations\":{\"run.sbx.profile\":\"captime\"}"));
  snprintf (buf[4], sizeof buf[4], "%s", spec_with (NULL, ",\"annotations\":{\"run.sbx.profile\":\"captime\"}"));
  /* The same with CAP_SYS_TIME in the bounding set. */
  {
    char *p = strstr (buf[4], "\"CAP_CHOWN\"");
    snprintf (buf[5], sizeof buf[5], "%.*s\"CAP_SYS_TIME\",%s", (int) (p - buf[4]), buf[4], p);
  }
  for (size_t i = 0; i < SBX_ARRAY_SIZE (variants); i++)
    variants[i] = buf[i];

  for (size_t i = 0; i < SBX_ARRAY_SIZE (variants); i++)
    {
      bool hit_cold, hit_warm;
      cleanup_free char *ref = memo_harden (variants[i], dir, false, &hit);
      cleanup_free char *cold = memo_harden (variants[i], dir, true, &hit_cold);
      cleanup_free char *warm = memo_harden (variants[i], dir, true, &hit_warm);
      tap_ok (ref && cold && warm && !hit && !hit_cold && hit_warm && strcmp (ref, cold) == 0
                  && strcmp (ref, warm) == 0,
              "memo, spec variant %zu: a first start stores, the next is served, both byte-identical to no memo", i);
    }

  /* Capabilities are part of the key: the variant without CAP_SYS_TIME never gets the one with it. */
  {
    json_t *a = parse (variants[4]), *b = parse (variants[5]);
    cleanup_free char *x = memo_harden (variants[4], dir, true, &hit), *y = memo_harden (variants[5], dir, true, &hit);
    json_t *sx = parse (x), *sy = parse (y);
    json_t *ax = json_find (sx, "annotations"), *ay = json_find (sy, "annotations");
    json_t *fx = parse (json_str (json_find (ax, "run.sbx.seccomp"))), *fy = parse (json_str (json_find (ay, "run.sbx.seccomp")));
    json_t *wx = json_new_obj (), *wy = json_new_obj ();
    sbx_err err;
    json_set (wx, "linux", json_new_obj (), &err);
    json_set (json_find (wx, "linux"), "seccomp", fx, &err);
    json_set (wy, "linux", json_new_obj (), &err);
    json_set (json_find (wy, "linux"), "seccomp", fy, &err);
    tap_ok (verdict (wx, "settimeofday", 0, 0, 0) != ALLOW && verdict (wy, "settimeofday", 0, 0, 0) == ALLOW,
            "memo: the capability-conditioned rule follows each spec's own bounding set");
    json_free (a), json_free (b), json_free (sx), json_free (sy), json_free (wx), json_free (wy);
  }

  /* A profile file's bytes are part of the key: editing it takes effect at the next start. */
  {
    cleanup_free char *before = memo_harden (variants[4], dir, true, &hit), *after = NULL;
    bool hit2;
    write_file (path, "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"read\",\"write\",\"exit_group\","
                      "\"getppid\"],\"action\":\"SCMP_ACT_ALLOW\"}]}");
    after = memo_harden (variants[4], dir, true, &hit2);
    tap_ok (hit && !hit2 && before && after && strstr (after, "getppid") && !strstr (before, "getppid"),
            "memo: an edited profile file is not served from an entry of its old content");
    write_file (path, capprof);
  }

  /* What the intersection tells the engine is told again when the memo serves the start: the engine refuses
     getppid for 70 values of one argument, more cells than the merge expresses exactly, so it refuses getppid
     for every argument and says so. */
  {
    static char eng[8192];
    size_t off = (size_t) snprintf (eng, sizeof eng, "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[");
    for (int v = 1; v <= 70; v++)
      off += (size_t) snprintf (eng + off, sizeof eng - off,
                                "%s{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":5,\"args\":"
                                "[{\"index\":0,\"value\":%d,\"op\":\"SCMP_CMP_EQ\"}]}",
                                v > 1 ? "," : "", v);
    snprintf (eng + off, sizeof eng - off, "]}");
    cleanup_free char *cold = NULL, *warm = NULL;
    char first[2048], argpath[600];
    bool h1, h2;
    snprintf (argpath, sizeof argpath, "%s/argkill.json", profiles);
    write_file (argpath, "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"getppid\"],\"action\":"
                         "\"SCMP_ACT_KILL_PROCESS\",\"args\":[{\"index\":1,\"value\":7,\"op\":\"SCMP_CMP_EQ\"}]}]}");
    cold = memo_harden (spec_with (eng, ",\"annotations\":{\"run.sbx.profile\":\"argkill\"}"), dir, true, &h1);
    snprintf (first, sizeof first, "%s", last_notes);
    warm = memo_harden (spec_with (eng, ",\"annotations\":{\"run.sbx.profile\":\"argkill\"}"), dir, true, &h2);
    tap_ok (!h1 && h2 && first[0] && strcmp (first, last_notes) == 0,
            "memo: the intersection's note is repeated on a start the memo serves (\"%s\")", last_notes);
  }

  /* Entries that do not belong are misses: each entry moved under the next one's name, then each one corrupted. */
  {
    char cmd[700], files[32][600], tmp[700];
    FILE *p;
    int n = 0;
    bool all_same = true;
    snprintf (cmd, sizeof cmd, "ls %s/*.memo", dir);
    p = popen (cmd, "r");
    while (p && n < 32 && fgets (files[n], sizeof files[n], p))
      files[n][strcspn (files[n], "\n")] = '\0', n++;
    if (p)
      pclose (p);
    snprintf (tmp, sizeof tmp, "%s.tmp", files[0]);
    rename (files[0], tmp);
    for (int i = 0; i + 1 < n; i++)
      rename (files[i + 1], files[i]);
    rename (tmp, files[n - 1]);
    for (size_t i = 0; i < SBX_ARRAY_SIZE (variants); i++)
      {
        cleanup_free char *ref = memo_harden (variants[i], dir, false, &hit), *got = memo_harden (variants[i], dir, true, &hit);
        all_same = all_same && ref && got && strcmp (ref, got) == 0;
      }
    tap_ok (n >= (int) SBX_ARRAY_SIZE (variants) && all_same,
            "memo: %d entries each moved under another's name are never served to the wrong spec", n);

    /* The served starts above rewrote their own entries: corrupt every entry now. */
    p = popen (cmd, "r");
    for (n = 0; p && n < 32 && fgets (files[n], sizeof files[n], p); n++)
      {
        struct stat st;
        int fd;
        files[n][strcspn (files[n], "\n")] = '\0';
        fd = open (files[n], O_RDWR);
        if (fd >= 0 && fstat (fd, &st) == 0)
          {
            char c = 0;
            if (pread (fd, &c, 1, st.st_size - 2) == 1)
              c ^= 0x20, all_same = pwrite (fd, &c, 1, st.st_size - 2) == 1 && all_same;
          }
        if (fd >= 0)
          close (fd);
      }
    if (p)
      pclose (p);
    for (size_t i = 0; i < SBX_ARRAY_SIZE (variants); i++)
      {
        cleanup_free char *ref = memo_harden (variants[i], dir, false, &hit), *got = memo_harden (variants[i], dir, true, &hit);
        all_same = all_same && ref && got && strcmp (ref, got) == 0 && !hit;
      }
    tap_ok (all_same, "memo: %d corrupt entries are misses, and those starts are hardened from scratch", n);
  }

  /* A cache directory others can write is not trusted: no entry read from it or written to it, and crun gets
     the JSON filter (it compiles it itself). */
  {
    char open_dir_[] = "/tmp/sbx-test-memo-open.XXXXXX", cmd[700];
    cleanup_free char *a = NULL, *b = NULL;
    bool h1, h2;
    FILE *p;
    int entries = -1;
    if (mkdtemp (open_dir_) && chmod (open_dir_, 0777) == 0)
      {
        a = memo_harden (variants[1], open_dir_, true, &h1);
        b = memo_harden (variants[1], open_dir_, true, &h2);
        snprintf (cmd, sizeof cmd, "ls -A %s | wc -l", open_dir_);
        if ((p = popen (cmd, "r")) != NULL)
          {
            if (fscanf (p, "%d", &entries) != 1)
              entries = -1;
            pclose (p);
          }
        rmdir (open_dir_);
      }
    tap_ok (a && b && !h1 && !h2 && entries == 0 && !strstr (b, "run.oci.seccomp_bpf_data"),
            "memo and BPF cache: a world-writable directory is never used (%d entries)", entries);
  }

  snprintf (path, sizeof path, "rm -rf %s %s", dir, profiles);
  if (system (path) != 0)
    printf ("# could not remove %s\n", dir);
  setenv ("SBX_PROFILES_DIR", "/nonexistent/sbx-profiles", 1);
  setenv ("SBX_SECCOMP_CACHE", "", 1);
}

/* Whether the stand-in for the watcher answers. */
static bool watcher_up;

static int
fake_watcher (const struct sbx_config *c, const char *sock, sbx_err *err)
{
  (void) c;
  return watcher_up ? 0 : sbx_fail (err, ECONNREFUSED, "no watcher at %s", sock);
}

/* The monitoring plan is part of the key: a start whose watcher answers gets the notify rule, one whose watcher
   does not gets EPERM, and neither is ever served the other's filter. */
static void
test_memo_notify (void)
{
  char dir[] = "/tmp/sbx-test-memo-notify.XXXXXX", cmd[600];
  const char *spec = spec_with (NULL, NULL);
  bool h1, h2, h3, h4, h5;

  if (mkdtemp (dir) == NULL)
    return;
  cfg_on = &cfg_watch;
  cfg_off = &cfg_watch_nomemo;
  sbx_notify_ensure_watcher = fake_watcher;
  {
    cleanup_free char *ref = NULL, *cold = NULL, *warm = NULL, *eref = NULL, *e1 = NULL, *e2 = NULL, *again = NULL;
    watcher_up = true;
    ref = memo_harden (spec, dir, false, &h1);
    cold = memo_harden (spec, dir, true, &h1);
    warm = memo_harden (spec, dir, true, &h2);
    tap_ok (ref && cold && warm && !h1 && h2 && strcmp (ref, cold) == 0 && strcmp (ref, warm) == 0
                && strstr (warm, "SCMP_ACT_NOTIFY") && strstr (warm, "/tmp/sbx-test-memo-w.sock"),
            "memo, watcher answering: the notify rule and listener, served byte-identical");
    watcher_up = false;
    eref = memo_harden (spec, dir, false, &h3);
    e1 = memo_harden (spec, dir, true, &h3);
    e2 = memo_harden (spec, dir, true, &h4);
    tap_ok (eref && e1 && e2 && !h3 && h4 && strcmp (eref, e1) == 0 && strcmp (eref, e2) == 0
                && !strstr (e2, "SCMP_ACT_NOTIFY") && !strstr (e2, "listenerPath"),
            "memo, watcher down: a plain EPERM rule, never the notifying filter stored for the same spec");
    watcher_up = true;
    again = memo_harden (spec, dir, true, &h5);
    tap_ok (again && h5 && strcmp (again, ref) == 0, "memo, watcher back: the notifying filter is served again");
  }
  sbx_notify_ensure_watcher = sbx_notify_ensure_watcher_default;
  cfg_on = &cfg;
  cfg_off = &cfg_nomemo;
  snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
  if (system (cmd) != 0)
    tap_diag ("could not remove %s", dir);
}

int
main (void)
{
  static const char settings[] = "{\"watcher\":{\"enabled\":false},\"tenants\":{\"allow_profile\":true}}";
  static const char nomemo[] = "{\"watcher\":{\"enabled\":false},\"seccomp_memo\":false,\"tenants\":{\"allow_profile\":true}}";
  static const char watch[] = "{\"watcher\":{\"socket\":\"/tmp/sbx-test-memo-w.sock\"},\"tenants\":{\"allow_profile\":true}}";
  static const char watch_nomemo[] = "{\"watcher\":{\"socket\":\"/tmp/sbx-test-memo-w.sock\"},\"seccomp_memo\":false,\"tenants\":{\"allow_profile\":true}}";
  sbx_err err;

  unsetenv ("SBX_CONFIG");
  setenv ("SBX_PROFILES_DIR", "/nonexistent/sbx-profiles", 1);
  /* The filter is what is compared: no watcher turns the module block into a notification. */
  if (json_parse (settings, sizeof settings - 1, "settings", &cfg.root, &err) < 0
      || json_parse (nomemo, sizeof nomemo - 1, "settings", &cfg_nomemo.root, &err) < 0
      || json_parse (watch, sizeof watch - 1, "settings", &cfg_watch.root, &err) < 0
      || json_parse (watch_nomemo, sizeof watch_nomemo - 1, "settings", &cfg_watch_nomemo.root, &err) < 0)
    return 1;
  test_memo ();
  test_memo_notify ();
  return tap_done ();
}
