/* cmd_run.c - `sbx run`: build a bundle from options, harden it with the same policy as every engine container,
   run it through the delegate, forward signals, return the command's status, and leave nothing behind. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/util.h"
#include "../policy/notify.h"
#include "../policy/policy.h"
#include "../sandbox/imagecfg.h"
#include "../sandbox/sandbox.h"
#include "../watcher/watcher.h"
#include "commands.h"
#include "delegate.h"


/* The signals a user sends to "the program": each goes on to the sandbox's init through the delegate. */
static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

static bool run_debug;

/* Policy notes: warnings always (an opt-out must be seen), the rest with --debug. */
static void
note (enum sbx_level level, const char *fmt, ...)
{
  char msg[1024];
  va_list ap;

  if (level < SBX_WARN && !run_debug)
    return;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  sbx_log (level, "%s", msg);
}

static double
ms_since (const struct timespec *t0)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return (t.tv_sec - t0->tv_sec) * 1e3 + (t.tv_nsec - t0->tv_nsec) / 1e6;
}

static int
fail (const char *fmt, ...)
{
  va_list ap;

  fputs ("sbx run: ", stderr);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
  return SBX_RUN_EFAIL;
}

struct run
{
  struct sbx_run_opts o;
  struct sbx_config cfg;
  struct sbx_delegate delegate;
  struct sbx_image_config image;
  struct sbx_run_dir dir;
  char id[64];
  char cgpath[256];
  const char *source_root;
  bool tty, cgroups_made;
  pid_t child;
};

/* With --userns the runtime reaches the root's mount point as the mapped root, an unprivileged host user: every
   directory on the way must be searchable by others. */
static int
check_userns_path (const char *path, sbx_err *err)
{
  cleanup_free char *p = strdup (path);
  char *slash;
  struct stat st;

  if (p == NULL)
    return sbx_fail (err, ENOMEM, "%s", path);
  while ((slash = strrchr (p, '/')) != NULL && slash != p)
    {
      *slash = '\0';
      if (stat (p, &st) == 0 && !(st.st_mode & S_IXOTH))
        return sbx_fail (err, EACCES,
                         "--userns: %s (mode %04o) cannot be searched by the sandbox's mapped root: make it 0711 "
                         "or choose another SBX_STATE_DIR",
                         p, st.st_mode & 07777);
    }
  return 0;
}

static int
write_spec (struct run *r, sbx_err *err)
{
  struct sbx_run_plan plan = {
    .id = r->id,
    .rootfs = r->dir.rootfs,
    .cgroups_path = r->cgpath,
    .tty = r->tty,
    .pids_default = sbx_config_int (&r->cfg, "run.pids", SBX_RUN_PIDS_DEFAULT),
    .userns_base = sbx_config_int (&r->cfg, "run.userns.base", SBX_RUN_USERNS_BASE),
    .userns_size = SBX_RUN_USERNS_SIZE,
  };
  struct sbx_policy_ctx ctx = {
    .cfg = &r->cfg,
    .container_id = r->id,
    .delegate = r->delegate.kind,
    .note = note,
    /* The annotations are the local user's own options (--profile): they run their own sandbox. */
    .annotations_trusted = true,
  };
  json_t *spec = NULL;
  cleanup_free char *buf = NULL;
  cleanup_close int dfd = -1;
  size_t len;
  int rc;

  if (sbx_run_spec (&r->o, &plan, &spec, err) < 0)
    return -1;
  /* The very stages sbx-runtime applies to an engine's container: one policy, whoever starts the container. */
  rc = sbx_policy_apply_spec (spec, &ctx, err);
  if (rc == 0)
    rc = json_serialize (spec, &buf, &len, err);
  json_free (spec);
  if (rc < 0)
    return -1;
  if ((dfd = open (r->dir.path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
    return sbx_fail (err, errno, "open %s", r->dir.path);
  /* A private bundle that lives as long as the run: nothing to flush. */
  return sbx_write_replace (dfd, "config.json", buf, len, 0600, (uid_t) -1, (gid_t) -1, false, err);
}

/* In the child: a private mount namespace holding the sandbox's root, then the delegate.  Errors go back through
   ERRFD (close-on-exec: the parent reads EOF once the delegate runs). */
static void __attribute__ ((noreturn))
child (struct run *r, int errfd, const sigset_t *oldmask)
{
  char *argv[] = { r->delegate.path, "--root", r->dir.root, "run", "--bundle", r->dir.path, r->id, NULL };
  sbx_err err = { 0 };

  sigprocmask (SIG_SETMASK, oldmask, NULL);
  /* If sbx dies the delegate goes too; the next `sbx run` reaps the sandbox. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  /* Without a terminal the sandbox gets the user's signals from sbx only, once, not also from the TTY driver. */
  if (!r->tty)
    setpgid (0, 0);
  if (sbx_mount_private_ns (&err) == 0 && sbx_rootfs_build (r->source_root, r->dir.rootfs, &r->o, &err) == 0)
    {
      execv (r->delegate.path, argv);
      sbx_fail (&err, errno, "exec %s", r->delegate.path);
    }
  sbx_write_all (errfd, err.msg, strlen (err.msg));
  _exit (SBX_RUN_EFAIL);
}

static void
forward (struct run *r, int sig)
{
  char num[16];
  const char *args[] = { "kill", r->id, num, NULL };
  struct timespec pause = { 0, 25 * 1000 * 1000 };

  snprintf (num, sizeof num, "%d", sig);
  sbx_log (SBX_DEBUG, "forwarding signal %d to %s", sig, r->id);
  /* A signal that comes while the delegate is still creating the container waits for it (up to a second), rather
     than being lost. */
  for (int i = 0; i < 40; i++)
    {
      if (sbx_run_delegate_quiet (r->delegate.path, r->dir.root, args) == 0)
        return;
      siginfo_t si = { 0 };
      if (waitid (P_PID, r->child, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid != 0)
        break; /* the delegate is gone: nothing to signal any more */
      nanosleep (&pause, NULL);
    }
  sbx_log (SBX_DEBUG, "could not forward signal %d to %s (not running yet or gone)", sig, r->id);
}

/* Run the sandbox; returns the command's exit status (128+N for signal N) or SBX_RUN_EFAIL. */
static int
supervise (struct run *r, const sigset_t *blocked, const sigset_t *oldmask)
{
  sigset_t set = *blocked, old = *oldmask;
  int errpipe[2], status = 0;
  char msg[1024];
  ssize_t n;

  if (pipe2 (errpipe, O_CLOEXEC) < 0)
    return fail ("pipe: %s", strerror (errno));
  fflush (NULL);
  r->child = fork ();
  if (r->child < 0)
    return fail ("fork: %s", strerror (errno));
  if (r->child == 0)
    {
      close (errpipe[0]);
      child (r, errpipe[1], &old);
    }
  close (errpipe[1]);
  while ((n = read (errpipe[0], msg, sizeof msg - 1)) < 0 && errno == EINTR)
    ;
  close (errpipe[0]);
  if (n > 0)
    {
      msg[n] = '\0';
      waitpid (r->child, NULL, 0);
      return fail ("%s", msg);
    }
  for (;;)
    {
      siginfo_t si;
      int sig = sigwaitinfo (&set, &si);
      pid_t w;

      if (sig > 0 && sig != SIGCHLD)
        forward (r, sig);
      w = waitpid (r->child, &status, WNOHANG);
      if (w == r->child)
        break;
      if (w < 0 && errno != EINTR)
        {
          status = SBX_RUN_EFAIL << 8;
          break;
        }
    }
  if (WIFSIGNALED (status))
    return 128 + WTERMSIG (status);
  return WEXITSTATUS (status);
}

static bool
watcher_running (const struct sbx_config *cfg)
{
  char sock[PATH_MAX];
  cleanup_close int fd = sbx_watcher_connect (sbx_watcher_socket (cfg, sock, sizeof sock));

  return fd >= 0;
}

/* Violations the watcher journaled for this sandbox: the journal's lines whose "container" is its id (ids are
   random and never reused). */
static long
count_violations (const struct sbx_config *cfg, const char *id)
{
  char path[PATH_MAX];
  cleanup_fclose FILE *f = fopen (sbx_journal_path (cfg, path, sizeof path), "re");
  char quoted[80];
  char *line = NULL;
  size_t cap = 0;
  long n = 0;

  if (f == NULL)
    return 0;
  snprintf (quoted, sizeof quoted, "\"container\":\"%s\"", id);
  while (getline (&line, &cap, f) > 0)
    if (strstr (line, quoted))
      n++;
  free (line);
  return n;
}

static void
summary (struct run *r, int status, long long peak, double secs)
{
  bool watching = watcher_running (&r->cfg);
  long violations = 0;

  if (!watching)
    fprintf (stderr, "sbx run: the watcher was not running: violations were not counted\n");
  else
    {
      /* The watcher journals asynchronously: give it a moment to catch up with the sandbox's last events. */
      struct timespec ts = { 0, 100 * 1000 * 1000 };
      nanosleep (&ts, NULL);
      violations = count_violations (&r->cfg, r->id);
    }
  printf ("{\"id\":\"%s\",\"exit_status\":%d,\"signal\":", r->id, status);
  if (status > 128 && status < 128 + 65)
    printf ("%d", status - 128);
  else
    printf ("null");
  printf (",\"violations\":%ld,\"watcher\":%s,\"peak_memory_bytes\":", violations, watching ? "true" : "false");
  if (peak >= 0)
    printf ("%lld", peak);
  else
    printf ("null");
  printf (",\"runtime\":\"%s\",\"duration_ms\":%.0f}\n", r->delegate.path, secs * 1000);
  fflush (stdout);
}

static void
cleanup (struct run *r)
{
  sbx_err err = { 0 };
  char statefile[4096];

  if (r->dir.path == NULL)
    return;
  /* The delegate deletes a container that ran to its end; one it left (it was killed, or failed half-way) goes
     by force. */
  snprintf (statefile, sizeof statefile, "%s/%s", r->dir.root, r->id);
  if (access (statefile, F_OK) == 0)
    {
      const char *args[] = { "delete", "--force", r->id, NULL };
      sbx_run_delegate_quiet (r->delegate.path, r->dir.root, args);
    }
  if (r->cgroups_made && sbx_cg_remove (r->id, &err) < 0)
    sbx_log (SBX_WARN, "%s", err.msg);
  if (sbx_run_dir_remove (r->dir.path, &err) < 0)
    sbx_log (SBX_WARN, "%s", err.msg);
  sbx_run_dir_free (&r->dir);
}

int
sbx_cmd_run (int argc, char **argv)
{
  struct run r = { 0 };
  sbx_err err = { 0 };
  cleanup_free char *rootfs_real = NULL, *image_root = NULL;
  struct timespec t0, t1;
  sigset_t blocked, oldmask;
  char why[512];
  int rc, status;
  long long peak;

  clock_gettime (CLOCK_MONOTONIC, &t0);
  /* From here on the user's signals wait for the sandbox (and are forwarded to it) instead of killing sbx half-way
     through setting it up; children reset the mask. */
  sigemptyset (&blocked);
  sigaddset (&blocked, SIGCHLD);
  for (size_t i = 0; i < SBX_ARRAY_SIZE (forwarded); i++)
    sigaddset (&blocked, forwarded[i]);
  sigprocmask (SIG_BLOCK, &blocked, &oldmask);
  rc = sbx_run_parse (argc, argv, &r.o, &err);
  if (rc > 0)
    {
      sbx_run_usage (stdout);
      return 0;
    }
  if (rc < 0)
    return fail ("%s", err.msg);
  run_debug = r.o.debug;
  sbx_log_setup (NULL, false, r.o.debug);
  if (geteuid () != 0)
    return fail ("needs root (the sandbox is made with namespaces, mounts and cgroups)");
  if (sbx_config_load (&r.cfg, &err) < 0 || sbx_cg_configure (&r.cfg, &err) < 0
      || sbx_delegate_resolve (&r.cfg, &r.delegate, &err) < 0)
    return fail ("%s", err.msg);

  /* Whatever a crashed sbx left behind goes first. */
  if (sbx_run_reap (sbx_state_dir (&r.cfg), r.delegate.path, &err) < 0)
    sbx_log (SBX_WARN, "reaping dead runs: %s", err.msg);

  if (r.o.image)
    {
      if (sbx_image_open (&r.cfg, r.o.image, &image_root, &r.image, &err) < 0)
        return fail ("--image %s: %s", r.o.image, err.msg);
      r.source_root = image_root;
    }
  else if (r.o.rootfs)
    {
      if ((rootfs_real = realpath (r.o.rootfs, NULL)) == NULL)
        return fail ("--rootfs %s: %s", r.o.rootfs, strerror (errno));
      r.source_root = rootfs_real;
    }
  else
    r.source_root = "/";
  /* docker run's rules: the image's Entrypoint, Cmd, Env, User and WorkingDir, under the command line's. */
  rc = sbx_run_apply_image (&r.o, r.o.image ? &r.image : NULL, r.source_root, &err);
  sbx_image_config_free (&r.image);
  if (rc < 0)
    return r.o.image ? fail ("--image %s: %s", r.o.image, err.msg) : fail ("%s", err.msg);
  rc = sbx_run_check_cwd (&r.o, r.source_root, why, sizeof why);
  if (rc == 0)
    rc = sbx_run_check_cmd (&r.o, r.source_root, why, sizeof why);
  if (rc != 0)
    {
      fprintf (stderr, "sbx run: %s\n", why);
      return rc;
    }

  r.tty = isatty (STDIN_FILENO);
  if (sbx_run_id (r.id, sizeof r.id) < 0)
    return fail ("no randomness for a sandbox id: %s", strerror (errno));
  sbx_cg_path (r.id, r.cgpath, sizeof r.cgpath);
  if (sbx_run_dir_create (sbx_state_dir (&r.cfg), r.id, &r.dir, &err) < 0)
    return fail ("%s", err.msg);
  if (sbx_cg_prepare (&r.cfg, r.id, &err) < 0)
    {
      r.cgroups_made = true; /* the parent may exist and sbx/ID half-made */
      cleanup (&r);
      return fail ("%s", err.msg);
    }
  r.cgroups_made = true;
  if (sbx_run_dir_set_delegate (&r.dir, r.delegate.path, &err) < 0
      || (r.o.userns && check_userns_path (r.dir.rootfs, &err) < 0) || write_spec (&r, &err) < 0)
    {
      cleanup (&r);
      return fail ("%s", err.msg);
    }
  sbx_log (SBX_DEBUG, "sandbox %s: set up in %.1f ms: bundle %s, root %s, delegate %s", r.id, ms_since (&t0),
           r.dir.path, r.source_root,
           r.delegate.path);

  status = supervise (&r, &blocked, &oldmask);
  sbx_log (SBX_DEBUG, "sandbox %s: ended with status %d at %.1f ms", r.id, status, ms_since (&t0));
  peak = sbx_cg_peak_memory (r.id);
  cleanup (&r);
  sbx_log (SBX_DEBUG, "sandbox %s: cleaned up at %.1f ms", r.id, ms_since (&t0));
  clock_gettime (CLOCK_MONOTONIC, &t1);
  if (r.o.json)
    summary (&r, status, peak, (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
  sbx_run_opts_free (&r.o);
  sbx_config_free (&r.cfg);
  return status;
}
