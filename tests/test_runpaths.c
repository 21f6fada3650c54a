/* test_runpaths.c - `sbx run`'s checks of the paths it was given: a command or --cwd below one of the sandbox's own
   fresh mounts (/proc, /sys, /dev, /tmp, /run) is refused with a message naming that mount, unless a --bind,
   --ro-bind or --tmpfs covers it. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/util.h"
#include "../sandbox/sandbox.h"
#include "tap.h"

#define IGNORE(x) ((void) !(x))

static char top[] = "/tmp/sbx-test-runpaths.XXXXXX";

static int
opts (struct sbx_run_opts *o, ...)
{
  static char *argv[32];
  int argc = 0;
  va_list ap;
  char *a;
  sbx_err err = { 0 };

  argv[argc++] = "run";
  va_start (ap, o);
  while ((a = va_arg (ap, char *)) != NULL && argc < 31)
    argv[argc++] = a;
  va_end (ap);
  argv[argc] = NULL;
  return sbx_run_parse (argc, argv, o, &err);
}

int
main (void)
{
  char prog[512], dir[512], why[1024], cmd[600];
  struct sbx_run_opts o;
  int rc, fd;

  /* A tree standing for the sandbox's root source, with a program in its tmp/ and run/. */
  if (mkdtemp (top) == NULL)
    return 1;
  snprintf (dir, sizeof dir, "%s/tmp", top);
  mkdir (dir, 0755);
  snprintf (dir, sizeof dir, "%s/tmp/x", top);
  mkdir (dir, 0755);
  snprintf (prog, sizeof prog, "%s/tmp/x/prog", top);
  fd = open (prog, O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
  close (fd);

  why[0] = '\0';
  rc = opts (&o, "--", "/tmp/x/prog", NULL) == 0 ? sbx_run_check_cmd (&o, top, why, sizeof why) : -1;
  tap_ok (rc == SBX_RUN_ENOENT && strstr (why, "/tmp/x/prog: hidden in the sandbox by its fresh /tmp")
              && strstr (why, "--ro-bind /tmp/x/prog /tmp/x/prog"),
          "a command under /tmp that the root holds: 127, naming /tmp and --ro-bind (%s)", why);
  sbx_run_opts_free (&o);

  why[0] = '\0';
  rc = opts (&o, "--", "/run/nothing/prog", NULL) == 0 ? sbx_run_check_cmd (&o, top, why, sizeof why) : -1;
  tap_ok (rc == SBX_RUN_ENOENT && strstr (why, "its /run is a fresh, empty mount"),
          "a command under /run the root lacks: 127, naming /run (%s)", why);
  sbx_run_opts_free (&o);

  why[0] = '\0';
  rc = opts (&o, "-e", "PATH=/tmp/x", "--", "prog", NULL) == 0 ? sbx_run_check_cmd (&o, top, why, sizeof why) : -1;
  tap_ok (rc == SBX_RUN_ENOENT, "a PATH directory under /tmp does not count (%s)", why);
  sbx_run_opts_free (&o);

  why[0] = '\0';
  rc = opts (&o, "--ro-bind", prog, "/tmp/x/prog", "--", "/tmp/x/prog", NULL) == 0
           ? sbx_run_check_cmd (&o, top, why, sizeof why)
           : -1;
  tap_ok (rc == 0, "a --ro-bind covering it lifts the check (%s)", why);
  sbx_run_opts_free (&o);

  why[0] = '\0';
  rc = opts (&o, "--tmpfs", "/tmp", "--", "/tmp/x/prog", NULL) == 0 ? sbx_run_check_cmd (&o, top, why, sizeof why)
                                                                    : -1;
  tap_ok (rc == 0, "so does a --tmpfs (the runtime says what is there) (%s)", why);
  sbx_run_opts_free (&o);

  why[0] = '\0';
  rc = opts (&o, "--cwd", "/tmp/x", "--", "true", NULL) == 0 ? sbx_run_check_cwd (&o, top, why, sizeof why) : -1;
  tap_ok (rc == SBX_RUN_EFAIL && strstr (why, "--cwd /tmp/x: hidden in the sandbox by its fresh /tmp")
              && strstr (why, "--bind /tmp/x /tmp/x"),
          "a --cwd under /tmp that the root holds: 125, naming /tmp and --bind (%s)", why);
  sbx_run_opts_free (&o);

  why[0] = '\0';
  rc = opts (&o, "--cwd", "/tmp/made-by-runtime", "--", "true", NULL) == 0
           ? sbx_run_check_cwd (&o, top, why, sizeof why)
           : -1;
  tap_ok (rc == 0, "a --cwd under /tmp that exists nowhere is the runtime's to make (%s)", why);
  sbx_run_opts_free (&o);

  why[0] = '\0';
  rc = opts (&o, "--cwd", "/tmp", "--", "true", NULL) == 0 ? sbx_run_check_cwd (&o, top, why, sizeof why) : -1;
  tap_ok (rc == 0, "the fresh mount itself is a working directory (%s)", why);
  sbx_run_opts_free (&o);

  snprintf (cmd, sizeof cmd, "rm -rf '%s'", top);
  IGNORE (system (cmd));
  return tap_done ();
}
