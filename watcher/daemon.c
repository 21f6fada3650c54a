/* daemon.c - `sbx watch`: one process, one epoll loop over the listener socket, the containers' seccomp notify
   fds, the BPF ring buffer, signals and a tick; a restart re-execs in place and keeps every fd. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../common/log.h"
#include "../bpf/sbx_bpf.h"
#include "../common/util.h"
#include "../policy/notify.h"
#include "watcher.h"

int
sbx_w_ep_add (struct sbx_watcher *w, int kind, int fd, uint32_t events)
{
  struct epoll_event ev = { .events = events, .data.u64 = SRC (kind, fd) };
  return epoll_ctl (w->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int
sbx_w_watch_notify (struct sbx_watcher *w, int fd)
{
  return sbx_w_ep_add (w, SRC_NOTIFY, fd, EPOLLIN);
}

static struct sbx_wcontainer *
owner_of (struct sbx_watcher *w, int fd)
{
  for (struct sbx_wcontainer *c = w->containers; c; c = c->next)
    for (int i = 0; i < c->nnotify; i++)
      if (c->notify_fds[i] == fd)
        return c;
  return NULL;
}

static int
bind_socket (struct sbx_watcher *w, sbx_err *err)
{
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  mode_t old;
  int fd;

  if (strlen (w->sock) >= sizeof sun.sun_path)
    return sbx_fail (err, ENAMETOOLONG, "watcher socket %s", w->sock);
  strcpy (sun.sun_path, w->sock);
  /* We hold the lock, so a socket file left here is from a dead watcher, unless another state dir's watcher
     was configured with the same socket: never steal a live one. */
  fd = sbx_watcher_connect (w->sock);
  if (fd >= 0)
    {
      close (fd);
      return sbx_fail (err, EADDRINUSE, "another watcher (other state dir) answers on %s", w->sock);
    }
  unlink (w->sock);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return sbx_fail (err, errno, "socket");
  old = umask (0077);
  if (bind (fd, (struct sockaddr *) &sun, sizeof sun) < 0)
    {
      int saved = errno;
      umask (old);
      close (fd);
      return sbx_fail (err, saved, "bind the watcher socket %s", w->sock);
    }
  umask (old);
  if (listen (fd, 128) < 0)
    {
      close (fd);
      return sbx_fail (err, errno, "listen on %s", w->sock);
    }
  w->listen_fd = fd;
  return 0;
}

static int
mkdir_p (const char *path, mode_t mode)
{
  char tmp[PATH_MAX + 32];

  snprintf (tmp, sizeof tmp, "%.4000s", path);
  for (char *p = tmp + 1; *p; p++)
    if (*p == '/')
      {
        *p = '\0';
        if (mkdir (tmp, mode) < 0 && errno != EEXIST)
          return -1;
        *p = '/';
      }
  return mkdir (tmp, mode) < 0 && errno != EEXIST ? -1 : 0;
}

/* Re-exec this binary in place: same pid, same listener socket, same lock, same notify fds, so running
   containers never see their listener close (which would turn EPERM into ENOSYS). */
static void
reexec (struct sbx_watcher *w)
{
  char num[32], *env = NULL;
  size_t envlen = 0;
  FILE *f = open_memstream (&env, &envlen);

  sbx_log (SBX_INFO, "watcher: restarting in place (pid %d keeps the socket and %s)", (int) getpid (),
           "every container's notify fd");
  if (f == NULL)
    {
      /* Without the list the new image could not tell whose fds it holds: better keep running as we are. */
      sbx_log (SBX_ERROR, "watcher: restart refused: %s", strerror (errno));
      w->restart = false;
      return;
    }
  sbx_w_bpf_close (w); /* pinned links keep their hooks live across the exec */
  fcntl (w->listen_fd, F_SETFD, 0);
  fcntl (w->lock_fd, F_SETFD, 0);
  for (struct sbx_wcontainer *c = w->containers; c; c = c->next)
    for (int i = 0; i < c->nnotify; i++)
      {
        fcntl (c->notify_fds[i], F_SETFD, 0);
        fprintf (f, "%s%s=%d", ftell (f) ? "," : "", c->id, c->notify_fds[i]);
      }
  fclose (f);
  setenv ("SBX_WATCH_INHERIT", env, 1);
  free (env);
  snprintf (num, sizeof num, "%d", w->listen_fd);
  setenv ("SBX_WATCH_LISTEN_FD", num, 1);
  snprintf (num, sizeof num, "%d", w->lock_fd);
  setenv ("SBX_WATCH_LOCK_FD", num, 1);
  {
    /* w->argv starts at "watch": put the program name back in front. */
    size_t argc = 0;
    char **av;
    while (w->argv[argc])
      argc++;
    av = calloc (argc + 2, sizeof *av);
    if (av)
      {
        char self[PATH_MAX];
        ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);
        av[0] = "sbx";
        memcpy (av + 1, w->argv, argc * sizeof *av);
        /* An upgrade replaced the binary: restart into the new one at the same path. */
        self[n > 0 ? n : 0] = '\0';
        if (n > 10 && strcmp (self + n - 10, " (deleted)") == 0)
          self[n - 10] = '\0';
        if (n > 0 && access (self, X_OK) == 0)
          execv (self, av);
        execv ("/proc/self/exe", av);
      }
  }
  sbx_log (SBX_ERROR, "watcher: re-exec failed (%s); carrying on in the old image", strerror (errno));
  unsetenv ("SBX_WATCH_LISTEN_FD");
  unsetenv ("SBX_WATCH_LOCK_FD");
}

static int
write_procs (const char *path, const char *pid)
{
  int fd = open (path, O_WRONLY | O_CLOEXEC), rc;

  if (fd < 0)
    return -1;
  rc = write (fd, pid, strlen (pid)) < 0 ? -1 : 0;
  close (fd);
  return rc;
}

/* A watcher started on demand lands in the cgroup of whoever ran sbx-runtime (an engine's shim or monitor): an
   engine cleaning up that cgroup would kill the watcher of every container.  Move to the root cgroups. */
static void
leave_engine_cgroup (void)
{
  char pid[32], path[PATH_MAX];
  DIR *d;
  struct dirent *de;

  /* Each hierarchy's root cgroup.procs: /sys/fs/cgroup itself on a unified host, each controller dir (and
     "unified") on a hybrid or legacy one. */
  snprintf (pid, sizeof pid, "%d", (int) getpid ());
  if (write_procs ("/sys/fs/cgroup/cgroup.procs", pid) == 0)
    return;
  d = opendir ("/sys/fs/cgroup");
  while (d && (de = readdir (d)))
    {
      if (de->d_name[0] == '.')
        continue;
      snprintf (path, sizeof path, "/sys/fs/cgroup/%s/cgroup.procs", de->d_name);
      if (write_procs (path, pid) < 0 && errno != ENOENT)
        sbx_log (SBX_DEBUG, "watcher: cannot leave the engine's cgroup in %s: %s", path, strerror (errno));
    }
  if (d)
    closedir (d);
}

static int
usage (FILE *out)
{
  fprintf (out, "usage: sbx watch [-d|--daemon] [--mode default|syscalls] [--idle-exit SECONDS]\n"
                "       sbx watch --status|--stop|--restart\n"
                "       sbx watch --unpin\n"
                "Runs the module-load watcher in the foreground (--daemon: in the background).\n");
  return out == stdout ? 0 : 2;
}

static int
client (const struct sbx_config *cfg, const char *req)
{
  char sock[PATH_MAX];
  cleanup_free char *out = NULL;
  sbx_err err = { 0 };

  sbx_watcher_socket (cfg, sock, sizeof sock);
  if (sbx_watcher_call (sock, req, 5000, &out, &err) < 0)
    {
      fprintf (stderr, "sbx watch: %s\n", err.msg);
      return 1;
    }
  fputs (out, stdout);
  return strncmp (out, "ok", 2) == 0 ? 0 : 1;
}

/* The lock is held by a running watcher, or for an instant by a create checking for one (it takes it shared when
   free): only a lock still held after 100 ms means another watcher. */
static bool
take_lock (int fd)
{
  for (int i = 0; i < 20; i++)
    {
      if (flock (fd, LOCK_EX | LOCK_NB) == 0)
        return true;
      if (errno != EWOULDBLOCK)
        return false;
      usleep (5000);
    }
  return false;
}

static size_t
listeners_held (struct sbx_watcher *w)
{
  size_t n = 0;
  for (struct sbx_wcontainer *c = w->containers; c; c = c->next)
    n += c->nnotify;
  return n;
}

/* Connections are activity, and so is each create that found this watcher running without connecting: it touches
   the lock file (policy/notify.c, watcher_running). */
static time_t
last_activity (struct sbx_watcher *w)
{
  struct stat st;

  return fstat (w->lock_fd, &st) == 0 && st.st_mtime > w->idle_since ? st.st_mtime : w->idle_since;
}

/* A watcher nobody can reach, or one started on demand that has had nothing to answer for a while, leaves, as
   long as it holds no container's listener (closing one would turn that container's EPERM into ENOSYS). */
static void
check_reachable (struct sbx_watcher *w)
{
  struct stat st;
  bool gone = stat (w->sock, &st) < 0 || st.st_ino != w->sock_ino || st.st_dev != w->sock_dev;
  time_t now = time (NULL);

  if (listeners_held (w) > 0)
    {
      w->idle_since = now;
      if (gone)
        sbx_log (SBX_WARN, "watcher: socket %s is gone or replaced; staying for the containers whose listener it "
                 "holds", w->sock);
      return;
    }
  if (gone)
    {
      sbx_log (SBX_INFO, "watcher: socket %s is gone or replaced and no listener is held: exiting", w->sock);
      w->stop = true;
      w->sock_ino = 0; /* not ours to unlink any more */
    }
  else if (w->idle_exit_s > 0 && now - last_activity (w) >= w->idle_exit_s)
    {
      sbx_log (SBX_INFO, "watcher: started on demand and idle for %lld s: exiting (the next create starts one)",
               w->idle_exit_s);
      w->stop = true;
    }
}

static int
loop (struct sbx_watcher *w)
{
  while (!w->stop && !w->restart)
    {
      struct epoll_event evs[32];
      int n = epoll_wait (w->epfd, evs, 32, -1);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      for (int i = 0; i < n; i++)
        {
          int kind = evs[i].data.u64 >> 32, fd = (int) (uint32_t) evs[i].data.u64;
          struct sbx_wcontainer *c;

          switch (kind)
            {
            case SRC_LISTEN:
              sbx_w_accept (w);
              break;
            case SRC_CONN:
              sbx_w_conn_readable (w, fd);
              break;
            case SRC_NOTIFY:
              c = owner_of (w, fd);
              if (c == NULL)
                {
                  epoll_ctl (w->epfd, EPOLL_CTL_DEL, fd, NULL);
                  break;
                }
              if ((evs[i].events & EPOLLIN) && sbx_w_notify_ready (w, c, fd) < 0)
                sbx_w_drop_notify (w, c, fd); /* an fd that keeps failing would spin the loop */
              else if (evs[i].events & (EPOLLHUP | EPOLLERR))
                sbx_w_drop_notify (w, c, fd); /* every task of the filter exited */
              break;
            case SRC_BPF:
              sbx_w_bpf_drain (w);
              break;
            case SRC_SIGNAL:
              {
                struct signalfd_siginfo si;
                while (read (w->sigfd, &si, sizeof si) == sizeof si)
                  {
                    if (si.ssi_signo == SIGHUP)
                      w->restart = true;
                    else if (si.ssi_signo == SIGCHLD)
                      sbx_w_reap_children (w);
                    else
                      w->stop = true;
                  }
              }
              break;
            case SRC_TIMER:
              {
                uint64_t ticks;
                static unsigned tick;
                if (read (w->timerfd, &ticks, sizeof ticks) < 0)
                  break;
                sbx_w_expire_conns (w);
                sbx_w_flush_drops (w);
                if (++tick, w->textfile_dirty || tick % 15 == 0)
                  {
                    w->textfile_dirty = false;
                    sbx_w_write_textfile (w);
                  }
                if (tick % 60 == 0)
                  sbx_w_reap (w);
                check_reachable (w);
              }
              break;
            }
        }
    }
  return 0;
}

static int
setup_paths (struct sbx_watcher *w, sbx_err *err)
{
  const char *tf = sbx_config_str (w->cfg, "metrics.textfile", "");
  char dir[PATH_MAX + 16];

  sbx_watcher_socket (w->cfg, w->sock, sizeof w->sock);
  sbx_watcher_dir (w->cfg, w->dir, sizeof w->dir);
  sbx_journal_path (w->cfg, w->journal, sizeof w->journal);
  snprintf (w->textfile, sizeof w->textfile, "%s", tf);
  snprintf (w->pin_dir, sizeof w->pin_dir, "%s", sbx_config_str (w->cfg, "bpf.pin_dir", SBX_BPF_PIN_DIR));
  w->journal_max = sbx_config_int (w->cfg, "journal.max_bytes", 10 << 20);
  w->journal_keep = (int) sbx_config_int (w->cfg, "journal.keep", 3);
  w->rate_per_s = (double) sbx_config_int (w->cfg, "journal.rate_per_s", 100);
  w->burst = (double) sbx_config_int (w->cfg, "journal.burst", 1000);
  w->bytes_per_s = (double) sbx_config_int (w->cfg, "journal.bytes_per_s", 64 << 10);
  w->burst_bytes = (double) sbx_config_int (w->cfg, "journal.burst_bytes", 1 << 20);
  w->share_pct = sbx_config_int (w->cfg, "journal.container_share_percent", 25);
  snprintf (dir, sizeof dir, "%s/containers", w->dir);
  if (mkdir_p (dir, 0700) < 0)
    return sbx_fail (err, errno, "create %s", dir);
  snprintf (dir, sizeof dir, "%s", w->sock);
  if (strrchr (dir, '/') && strrchr (dir, '/') != dir)
    {
      *strrchr (dir, '/') = '\0';
      if (mkdir_p (dir, 0755) < 0)
        return sbx_fail (err, errno, "create %s", dir);
    }
  snprintf (dir, sizeof dir, "%s/spawn-failed", w->dir);
  unlink (dir); /* sbx-runtime may try starting a watcher again at once */
  return 0;
}

int
sbx_watch_main (int argc, char **argv)
{
  struct sbx_config cfg = { 0 };
  struct sbx_watcher w = { .cfg = &cfg, .listen_fd = -1, .lock_fd = -1, .journal_fd = -1, .argv = argv };
  const char *mode = NULL, *inherit_listen = getenv ("SBX_WATCH_LISTEN_FD");
  sbx_err err = { 0 };
  char lockpath[PATH_MAX + 16], logpath[PATH_MAX + 16];
  int ready[2] = { -1, -1 };
  sigset_t mask;
  struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };

  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--daemon") == 0 || strcmp (argv[i], "-d") == 0)
        w.daemon = true;
      else if (strcmp (argv[i], "--mode") == 0 && i + 1 < argc)
        mode = argv[++i];
      else if (strncmp (argv[i], "--mode=", 7) == 0)
        mode = argv[i] + 7;
      else if (strcmp (argv[i], "--idle-exit") == 0 && i + 1 < argc)
        w.idle_exit_s = atoll (argv[++i]);
      else if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0)
        return usage (stdout);
      else if (strcmp (argv[i], "--status") == 0 || strcmp (argv[i], "--stop") == 0
               || strcmp (argv[i], "--restart") == 0 || strcmp (argv[i], "--unpin") == 0)
        ;
      else
        return usage (stderr);
    }
  if (sbx_config_load (&cfg, &err) < 0)
    {
      fprintf (stderr, "sbx watch: %s\n", err.msg);
      return 1;
    }
  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--status") == 0)
        return client (&cfg, "ping");
      if (strcmp (argv[i], "--stop") == 0)
        return client (&cfg, "stop");
      if (strcmp (argv[i], "--restart") == 0)
        return client (&cfg, "restart");
      if (strcmp (argv[i], "--unpin") == 0)
        {
          if (sbx_w_bpf_unpin (sbx_config_str (&cfg, "bpf.pin_dir", SBX_BPF_PIN_DIR), &err) < 0)
            {
              fprintf (stderr, "sbx watch: %s\n", err.msg);
              return 1;
            }
          return 0;
        }
    }
  if (mode == NULL)
    mode = sbx_config_str (&cfg, "watcher.mode", "default");
  if (strcmp (mode, "default") != 0 && strcmp (mode, "syscalls") != 0)
    {
      fprintf (stderr, "sbx watch: --mode %s: expected default or syscalls\n", mode);
      return 2;
    }
  w.syscalls_mode = strcmp (mode, "syscalls") == 0;
  if (setup_paths (&w, &err) < 0)
    {
      fprintf (stderr, "sbx watch: %s\n", err.msg);
      return 1;
    }
  signal (SIGPIPE, SIG_IGN);

  if (inherit_listen)
    {
      w.listen_fd = atoi (inherit_listen);
      w.lock_fd = atoi (getenv ("SBX_WATCH_LOCK_FD") ? getenv ("SBX_WATCH_LOCK_FD") : "-1");
      fcntl (w.listen_fd, F_SETFD, FD_CLOEXEC);
      fcntl (w.lock_fd, F_SETFD, FD_CLOEXEC);
      unsetenv ("SBX_WATCH_LISTEN_FD");
      unsetenv ("SBX_WATCH_LOCK_FD");
    }
  else
    {
      snprintf (lockpath, sizeof lockpath, "%s/" SBX_WATCHER_LOCK, w.dir);
      w.lock_fd = open (lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (w.lock_fd < 0)
        {
          fprintf (stderr, "sbx watch: open %s: %s\n", lockpath, strerror (errno));
          return 1;
        }
      if (!take_lock (w.lock_fd))
        {
          printf ("sbx watch: a watcher is already running (socket %s)\n", w.sock);
          return 0;
        }
      if (w.daemon)
        {
          pid_t pid;
          char b;
          if (pipe2 (ready, O_CLOEXEC) < 0 || (pid = fork ()) < 0)
            {
              fprintf (stderr, "sbx watch: cannot daemonize: %s\n", strerror (errno));
              return 1;
            }
          if (pid > 0)
            {
              /* The lock belongs to the open file, which the child shares: it stays held. */
              close (ready[1]);
              return read (ready[0], &b, 1) == 1 ? 0 : 1;
            }
          close (ready[0]);
          setsid ();
        }
      if (bind_socket (&w, &err) < 0)
        {
          fprintf (stderr, "sbx watch: %s\n", err.msg);
          return 1;
        }
    }
  if (w.daemon)
    {
      int devnull = open ("/dev/null", O_RDWR | O_CLOEXEC);
      snprintf (logpath, sizeof logpath, "%s/watcher.log", w.dir);
      sbx_log_setup (sbx_config_str (&cfg, "watcher.log", logpath), false, getenv ("SBX_DEBUG") != NULL);
      if (devnull >= 0)
        dup2 (devnull, 0), dup2 (devnull, 1), dup2 (devnull, 2), close (devnull);
      if (!inherit_listen && sbx_config_bool (&cfg, "watcher.detach_cgroup", true))
        leave_engine_cgroup ();
    }
  else
    sbx_log_setup (NULL, false, getenv ("SBX_DEBUG") != NULL);
  if (ready[1] >= 0)
    {
      /* The socket accepts from here on: connections queue while BPF loads. */
      ssize_t ignored = write (ready[1], "1", 1);
      (void) ignored;
      close (ready[1]);
    }

  {
    struct stat st;
    if (stat (w.sock, &st) == 0)
      w.sock_dev = st.st_dev, w.sock_ino = st.st_ino;
    w.idle_since = time (NULL);
  }
  sigemptyset (&mask);
  sigaddset (&mask, SIGTERM), sigaddset (&mask, SIGINT), sigaddset (&mask, SIGHUP), sigaddset (&mask, SIGCHLD);
  sigprocmask (SIG_BLOCK, &mask, NULL);
  w.epfd = epoll_create1 (EPOLL_CLOEXEC);
  w.sigfd = signalfd (-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  w.timerfd = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (w.epfd < 0 || w.sigfd < 0 || w.timerfd < 0 || timerfd_settime (w.timerfd, 0, &its, NULL) < 0
      || sbx_w_ep_add (&w, SRC_LISTEN, w.listen_fd, EPOLLIN) < 0 || sbx_w_ep_add (&w, SRC_SIGNAL, w.sigfd, EPOLLIN) < 0
      || sbx_w_ep_add (&w, SRC_TIMER, w.timerfd, EPOLLIN) < 0)
    {
      sbx_log (SBX_ERROR, "watcher: event loop setup: %s", strerror (errno));
      return 1;
    }

  sbx_w_bpf_open (&w);
  if (sbx_w_bpf_fd (&w) >= 0)
    sbx_w_ep_add (&w, SRC_BPF, sbx_w_bpf_fd (&w), EPOLLIN);
  if (sbx_w_load (&w, &err) < 0)
    sbx_log (SBX_WARN, "watcher: %s", err.msg);
  unsetenv ("SBX_WATCH_INHERIT");
  sbx_w_write_textfile (&w);
  sbx_log (SBX_INFO, "watcher: listening on %s (pid %d, mode %s, journal %s; %s)", w.sock, (int) getpid (), mode,
           w.journal, w.bpf_status);

  for (;;)
    {
      loop (&w);
      if (!w.restart)
        break;
      /* The signal mask stays blocked across the exec: the new image blocks the same set, and a signal that
         arrives meanwhile waits for its signalfd instead of killing the watcher. */
      reexec (&w);
      /* Still here: the exec failed.  Keep serving with this image rather than dropping every listener. */
      w.restart = false;
      fcntl (w.listen_fd, F_SETFD, FD_CLOEXEC);
      fcntl (w.lock_fd, F_SETFD, FD_CLOEXEC);
      for (struct sbx_wcontainer *c = w.containers; c; c = c->next)
        for (int i = 0; i < c->nnotify; i++)
          fcntl (c->notify_fds[i], F_SETFD, FD_CLOEXEC);
      unsetenv ("SBX_WATCH_INHERIT");
      if (w.bpf == NULL && sbx_w_bpf_open (&w) == 0 && sbx_w_bpf_fd (&w) >= 0)
        sbx_w_ep_add (&w, SRC_BPF, sbx_w_bpf_fd (&w), EPOLLIN);
    }
  /* Closing the notify fds makes the kernel answer ENOSYS to the module syscalls of running containers: still
     refused, never executed, but no longer reported.  Say so. */
  for (struct sbx_wcontainer *c = w.containers; c; c = c->next)
    if (c->nnotify > 0)
      sbx_log (SBX_WARN, "watcher: stopping: container %s loses module-load reporting (its module syscalls now "
               "fail with ENOSYS)", c->id);
  sbx_w_write_textfile (&w);
  sbx_w_bpf_close (&w);
  {
    struct stat st;
    if (w.sock_ino && stat (w.sock, &st) == 0 && st.st_ino == w.sock_ino && st.st_dev == w.sock_dev)
      unlink (w.sock);
  }
  sbx_config_free (&cfg);
  return 0;
}
