/* test_writeback.c - sbx_write_replace: the file is replaced whole, no temporary stays, a killed writer's
   temporary is removed by the next write, and a live writer's is left alone. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/util.h"
#include "tap.h"

static int
count_temps (int dfd, const char *name)
{
  char cmd[512], pre[256];
  int n = 0;
  FILE *p;

  snprintf (pre, sizeof pre, ".%s.sbx-", name);
  snprintf (cmd, sizeof cmd, "ls -A /proc/self/fd/%d/ 2>/dev/null", dfd);
  p = popen (cmd, "r");
  if (p == NULL)
    return -1;
  while (fgets (cmd, sizeof cmd, p))
    n += strncmp (cmd, pre, strlen (pre)) == 0;
  pclose (p);
  return n;
}

static bool
content_is (int dfd, const char *name, const char *want)
{
  char buf[256] = "";
  int fd = openat (dfd, name, O_RDONLY);
  ssize_t n = fd < 0 ? -1 : read (fd, buf, sizeof buf - 1);

  if (fd >= 0)
    close (fd);
  return n >= 0 && (buf[n] = '\0', strcmp (buf, want) == 0);
}

int
main (void)
{
  char dir[] = "/tmp/sbx-writeback.XXXXXX";
  int dfd, live, dead;
  struct stat st;
  sbx_err err;

  if (mkdtemp (dir) == NULL || (dfd = open (dir, O_RDONLY | O_DIRECTORY)) < 0)
    return tap_skip_all ("no temporary directory");

  tap_ok (sbx_write_replace (dfd, "config.json", "old", 3, 0640, (uid_t) -1, (gid_t) -1, false, &err) == 0,
          "a first write creates the file");
  tap_ok (sbx_write_replace (dfd, "config.json", "new!", 4, 0600, (uid_t) -1, (gid_t) -1, true, &err) == 0
              && content_is (dfd, "config.json", "new!"),
          "a second write replaces it whole (synced)");
  tap_ok (fstatat (dfd, "config.json", &st, 0) == 0 && (st.st_mode & 07777) == 0600, "with the mode asked for");
  tap_ok (count_temps (dfd, "config.json") == 0, "no temporary left");

  /* A writer killed between naming its temporary and renaming it left this one (no lock holds it any more)... */
  dead = openat (dfd, ".config.json.sbx-0000000000aa", O_WRONLY | O_CREAT | O_EXCL, 0600);
  close (dead);
  /* ...and a writer still at work holds the lock on its own. */
  live = openat (dfd, ".config.json.sbx-0000000000bb", O_WRONLY | O_CREAT | O_EXCL, 0600);
  tap_ok (live >= 0 && flock (live, LOCK_EX) == 0, "a live writer's temporary, locked");
  /* A temporary of another file is not this write's business. */
  close (openat (dfd, ".other.json.sbx-0000000000cc", O_WRONLY | O_CREAT | O_EXCL, 0600));
  tap_ok (sbx_write_replace (dfd, "config.json", "third", 5, 0600, (uid_t) -1, (gid_t) -1, false, &err) == 0
              && content_is (dfd, "config.json", "third"),
          "the next write succeeds");
  tap_ok (faccessat (dfd, ".config.json.sbx-0000000000aa", F_OK, 0) != 0, "the dead writer's temporary is gone");
  tap_ok (faccessat (dfd, ".config.json.sbx-0000000000bb", F_OK, 0) == 0, "the live writer's is left alone");
  tap_ok (faccessat (dfd, ".other.json.sbx-0000000000cc", F_OK, 0) == 0, "another file's is left alone");
  close (live);

  /* A symlink or a directory planted under a temporary's name is neither followed nor removed. */
  tap_ok (symlinkat ("/etc/passwd", dfd, ".config.json.sbx-0000000000dd") == 0
              && mkdirat (dfd, ".config.json.sbx-0000000000ee", 0700) == 0
              && sbx_write_replace (dfd, "config.json", "4", 1, 0600, (uid_t) -1, (gid_t) -1, false, &err) == 0
              && fstatat (dfd, ".config.json.sbx-0000000000dd", &st, AT_SYMLINK_NOFOLLOW) == 0
              && fstatat (dfd, ".config.json.sbx-0000000000ee", &st, 0) == 0 && access ("/etc/passwd", F_OK) == 0,
          "a planted symlink and directory are left as they are");

  {
    char cmd[128];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    close (dfd);
    if (system (cmd) != 0)
      fprintf (stderr, "# cannot remove %s\n", dir);
  }
  return tap_done ();
}
