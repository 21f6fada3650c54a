/* conn.c - the watcher's socket clients: delegates handing over a notify fd with the OCI state, and control
   requests (ping, unregister, metrics, restart, stop), told apart by whether an fd came with the bytes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/util.h"
#include "watcher.h"

#define CONN_MAX_BYTES (1 << 20)
#define CONN_MAX_FDS 8

/* A client connection: a delegate handing over a notify fd (done at a complete JSON document: runc and crun
   keep the socket open), or a control request (done at its newline or EOF). */
struct conn
{
  int fd;
  char *buf;
  size_t len, cap;
  int fds[CONN_MAX_FDS];
  int nfds;
  long long started_ms;
  struct conn *next;
};

static struct conn *conns;

static long long
mono_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void
conn_close (struct sbx_watcher *w, struct conn *c)
{
  struct conn **pp;

  epoll_ctl (w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close (c->fd);
  for (int i = 0; i < c->nfds; i++)
    if (c->fds[i] >= 0)
      close (c->fds[i]);
  for (pp = &conns; *pp; pp = &(*pp)->next)
    if (*pp == c)
      {
        *pp = c->next;
        break;
      }
  free (c->buf);
  free (c);
}

static void
reply (struct conn *c, const char *text)
{
  /* Replies are small and the client is waiting: a blocking write of a few KiB cannot stall the loop for long,
     and a client that vanished just gets EPIPE (SIGPIPE is ignored). */
  int flags = fcntl (c->fd, F_GETFL);
  fcntl (c->fd, F_SETFL, flags & ~O_NONBLOCK);
  sbx_write_all (c->fd, text, strlen (text));
}

static bool
is_seccomp_notify_fd (int fd)
{
  char link[64], target[64];
  ssize_t n;

  snprintf (link, sizeof link, "/proc/self/fd/%d", fd);
  n = readlink (link, target, sizeof target - 1);
  if (n < 0)
    return false;
  target[n] = '\0';
  return strcmp (target, "anon_inode:seccomp notify") == 0;
}

enum sbx_wreq
sbx_w_parse_request (char *line, const char **arg)
{
  static const struct
  {
    const char *name;
    enum sbx_wreq req;
    bool arg;
  } reqs[] = {
    { "ping", SBX_WREQ_PING, false },       { "unregister", SBX_WREQ_UNREGISTER, true },
    { "metrics", SBX_WREQ_METRICS, false }, { "restart", SBX_WREQ_RESTART, false },
    { "stop", SBX_WREQ_STOP, false },
  };
  char *sp;

  *arg = NULL;
  line[strcspn (line, "\r\n")] = '\0';
  if (*line == '\0')
    return SBX_WREQ_PROBE; /* a reachability probe: connect and close */
  sp = strchr (line, ' ');
  if (sp)
    *sp++ = '\0';
  for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++)
    if (strcmp (line, reqs[i].name) == 0 && (sp != NULL) == reqs[i].arg)
      {
        *arg = sp;
        return reqs[i].req;
      }
  return SBX_WREQ_UNKNOWN;
}

static void
control (struct sbx_watcher *w, struct conn *c)
{
  char *line = c->buf ? c->buf : "", shown[128];
  const char *arg;
  sbx_err err = { 0 };
  char out[1200];
  size_t n = 0;

  switch (sbx_w_parse_request (line, &arg))
    {
    case SBX_WREQ_PROBE:
      return;
    case SBX_WREQ_PING:
      for (struct sbx_wcontainer *k = w->containers; k; k = k->next)
        n++;
      snprintf (out, sizeof out, "ok pid=%d mode=%s containers=%zu\n", (int) getpid (),
                w->syscalls_mode ? "syscalls" : "default", n);
      break;
    case SBX_WREQ_UNREGISTER:
      if (sbx_w_unregister (w, arg, &err) < 0)
        snprintf (out, sizeof out, "error %s\n", err.msg);
      else
        snprintf (out, sizeof out, "ok\n");
      break;
    case SBX_WREQ_METRICS:
      {
        cleanup_free char *text = NULL;
        size_t len;
        if (sbx_w_metrics (w, &text, &len) == 0)
          reply (c, text);
        return;
      }
    case SBX_WREQ_RESTART:
      w->restart = true;
      snprintf (out, sizeof out, "ok\n");
      break;
    case SBX_WREQ_STOP:
      w->stop = true;
      snprintf (out, sizeof out, "ok\n");
      break;
    default:
      sbx_w_clean (line, strlen (line), shown, sizeof shown);
      snprintf (out, sizeof out, "error unknown request '%s'\n", shown);
      break;
    }
  reply (c, out);
}

static void
conn_done (struct sbx_watcher *w, struct conn *c)
{
  struct ucred cred;
  socklen_t cl = sizeof cred;
  sbx_err err = { 0 };

  /* Only root (or the watcher's own user) may hand over containers or steer the watcher. */
  if (getsockopt (c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0
      || (cred.uid != 0 && cred.uid != geteuid ()))
    {
      sbx_log (SBX_WARN, "watcher: refused a connection from uid %d", (int) cred.uid);
      conn_close (w, c);
      return;
    }
  if (c->nfds == 0)
    {
      control (w, c);
      conn_close (w, c);
      return;
    }
  if (c->nfds != 1 || !is_seccomp_notify_fd (c->fds[0]))
    sbx_log (SBX_WARN, "watcher: a connection passed %d fd(s) that are not one seccomp notify fd; ignored",
             c->nfds);
  else if (sbx_w_register (w, c->buf ? c->buf : "", c->len, c->fds[0], &err) < 0)
    sbx_log (SBX_WARN, "watcher: %s", err.msg);
  else
    c->fds[0] = -1; /* owned by the container now */
  conn_close (w, c);
}

static bool
complete_json (struct conn *c)
{
  json_t *j = NULL;
  sbx_err err;

  if (json_parse (c->buf, c->len, "state", &j, &err) < 0)
    return false;
  json_free (j);
  return true;
}

void
sbx_w_conn_readable (struct sbx_watcher *w, int fd)
{
  struct conn *c;

  for (c = conns; c && c->fd != fd; c = c->next)
    ;
  if (c == NULL)
    return;
  for (;;)
    {
      char cbuf[CMSG_SPACE (sizeof (int) * CONN_MAX_FDS)];
      struct iovec iov;
      struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
      ssize_t r;

      if (c->len + 4096 > c->cap)
        {
          char *nb;
          if (c->cap >= CONN_MAX_BYTES)
            {
              sbx_log (SBX_WARN, "watcher: a client sent more than %d bytes; dropped", CONN_MAX_BYTES);
              conn_close (w, c);
              return;
            }
          c->cap = c->cap ? c->cap * 2 : 16384;
          nb = realloc (c->buf, c->cap + 1);
          if (nb == NULL)
            {
              conn_close (w, c);
              return;
            }
          c->buf = nb;
        }
      iov.iov_base = c->buf + c->len;
      iov.iov_len = c->cap - c->len;
      r = recvmsg (fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0 && errno == EAGAIN)
        return;
      if (r < 0)
        {
          conn_close (w, c);
          return;
        }
      for (struct cmsghdr *cm = CMSG_FIRSTHDR (&msg); cm; cm = CMSG_NXTHDR (&msg, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
          {
            size_t n = (cm->cmsg_len - CMSG_LEN (0)) / sizeof (int);
            int *fds = (int *) CMSG_DATA (cm);
            for (size_t i = 0; i < n; i++)
              {
                if (c->nfds < CONN_MAX_FDS)
                  c->fds[c->nfds++] = fds[i];
                else
                  close (fds[i]);
              }
          }
      c->len += r;
      c->buf[c->len] = '\0';
      /* runc and crun keep the connection open after sending: a complete state document (or a control line) is
         the end of the message, not EOF. */
      if (r == 0 || (c->nfds == 0 && memchr (c->buf, '\n', c->len)) || (c->nfds > 0 && complete_json (c)))
        {
          conn_done (w, c);
          return;
        }
    }
}

void
sbx_w_accept (struct sbx_watcher *w)
{
  for (;;)
    {
      int fd = accept4 (w->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
      struct conn *c;

      if (fd < 0)
        return;
      c = calloc (1, sizeof *c);
      if (c == NULL)
        {
          close (fd);
          return;
        }
      c->fd = fd;
      c->started_ms = mono_ms ();
      /* sbx-runtime's reachability probe counts as activity: a watcher that answered it must still be there when
         the delegate connects a moment later (both runtimes refuse to create a container nobody listens for). */
      w->idle_since = time (NULL);
      c->next = conns;
      conns = c;
      if (sbx_w_ep_add (w, SRC_CONN, fd, EPOLLIN | EPOLLRDHUP) < 0)
        conn_close (w, c);
    }
}

void
sbx_w_expire_conns (struct sbx_watcher *w)
{
  long long now = mono_ms ();
  struct conn *c = conns, *next;

  for (; c; c = next)
    {
      next = c->next;
      /* A delegate sends its state and closes at once; a half-open client must not hold a notify fd for long. */
      if (now - c->started_ms > 5000)
        {
          if (c->nfds > 0)
            conn_done (w, c);
          else
            conn_close (w, c);
        }
    }
}

