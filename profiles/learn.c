/* learn.c - `sbx profile learn`: run a workload with every syscall outside an allowlist sent to a seccomp user
   notification listener (and let through), then write the smallest profile that would have let it run. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/util.h"
#include "../oci/bundle.h"
#include "profile.h"
#include "seccomp_oci.h"

#define MAX_SEEN 1024

struct seen
{
  char *names[MAX_SEEN];
  size_t n;
  uint64_t families; /* socket() address families observed, bit per family below 64 */
};

static void
record (struct seen *s, uint32_t arch, int nr, uint64_t a0)
{
  char *name = seccomp_syscall_resolve_num_arch (arch, nr);

  if (name == NULL)
    return;
  if (strcmp (name, "socket") == 0 && a0 < 64)
    s->families |= 1ULL << a0;
  for (size_t i = 0; i < s->n; i++)
    if (strcmp (s->names[i], name) == 0)
      {
        free (name);
        return;
      }
  if (s->n < MAX_SEEN)
    s->names[s->n++] = name;
  else
    free (name);
}

/* The learning filter: the base profile's ALLOW rules (if any), everything else to the listener. */
static int
learning_filter (const struct sbx_config *cfg, const char *base, const char *listener, json_t **out, sbx_err *err)
{
  struct sbx_filter f = { .def = { .kind = SBX_ACT_NOTIFY } };
  json_t *j;

  if (base)
    {
      struct sbx_resolve_env env = { 0 };
      cleanup_free char *origin = NULL;
      struct sbx_filter b;
      json_t *p;
      int rc;

      if (sbx_profile_load (cfg, base, &p, &origin, err) < 0)
        return -1;
      sbx_resolve_env_host (&env);
      rc = sbx_profile_resolve (p, origin, &env, &b, err);
      json_free (p);
      if (rc < 0)
        return -1;
      for (size_t i = 0; i < b.narches; i++)
        if (sbx_filter_add_arch (&f, b.arches[i], err) < 0)
          return -1;
      for (size_t i = 0; i < b.nrules; i++)
        if (b.rules[i].act.kind == SBX_ACT_ALLOW
            && sbx_filter_add_rule (&f, b.rules[i].name, &b.rules[i].act, b.rules[i].cmp, b.rules[i].ncmp, NULL, err) < 0)
          return -1;
      sbx_filter_free (&b);
    }
  j = json_new_obj ();
  if (j == NULL || sbx_filter_to_oci (&f, j, false, err) < 0
      || json_set (j, "listenerPath", json_new_str (listener), err) < 0)
    return -1;
  sbx_filter_free (&f);
  *out = j;
  return 0;
}

static int
recv_fd (int sock)
{
  char buf[65536], cbuf[CMSG_SPACE (4 * sizeof (int))];
  struct iovec iov = { buf, sizeof buf };
  struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
  struct cmsghdr *c;
  int fd = -1;

  if (recvmsg (sock, &m, MSG_CMSG_CLOEXEC) < 0)
    return -1;
  for (c = CMSG_FIRSTHDR (&m); c; c = CMSG_NXTHDR (&m, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      memcpy (&fd, CMSG_DATA (c), sizeof fd);
  return fd;
}

/* Answer notifications until the container is gone: each is recorded and let through. */
static void
serve (int nfd, pid_t child, struct seen *s)
{
  struct seccomp_notif_sizes sz = { 0 };
  cleanup_free struct seccomp_notif *req = NULL;
  cleanup_free struct seccomp_notif_resp *resp = NULL;

  if (syscall (SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz) < 0)
    sz.seccomp_notif = sizeof *req, sz.seccomp_notif_resp = sizeof *resp;
  req = calloc (1, sz.seccomp_notif > sizeof *req ? sz.seccomp_notif : sizeof *req);
  resp = calloc (1, sz.seccomp_notif_resp > sizeof *resp ? sz.seccomp_notif_resp : sizeof *resp);
  if (req == NULL || resp == NULL)
    return;
  for (;;)
    {
      struct pollfd p = { .fd = nfd, .events = POLLIN };
      int r = poll (&p, 1, 200);

      if (r == 0)
        {
          if (waitpid (child, NULL, WNOHANG) == child)
            return;
          continue;
        }
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0 || ((p.revents & (POLLHUP | POLLERR | POLLNVAL)) && !(p.revents & POLLIN)))
        return;
      memset (req, 0, sz.seccomp_notif > sizeof *req ? sz.seccomp_notif : sizeof *req);
      if (ioctl (nfd, SECCOMP_IOCTL_NOTIF_RECV, req) < 0)
        {
          if (errno == EINTR || errno == ENOENT)
            continue;
          return;
        }
      record (s, req->data.arch, req->data.nr, req->data.args[0]);
      memset (resp, 0, sz.seccomp_notif_resp > sizeof *resp ? sz.seccomp_notif_resp : sizeof *resp);
      resp->id = req->id;
      resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
      ioctl (nfd, SECCOMP_IOCTL_NOTIF_SEND, resp); /* ENOENT: the caller died meanwhile */
    }
}

static int
by_str (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* What the OCI runtimes themselves call between loading the filter and exec'ing the workload.  Learning runs
   under crun, whose last steps are few and observed; runc's init is a Go program whose runtime calls these at
   times of its own choosing, so a run cannot be relied on to show them. */
static const char *const runtime_epilogue[] = {
  "futex", "epoll_ctl", "epoll_pwait", "epoll_wait", "fstatfs", "nanosleep", "sched_yield", "getpid", "gettid",
  "tgkill", "rt_sigprocmask", "rt_sigaction", "rt_sigreturn", "sigaltstack", "madvise", "mmap", "munmap",
  "mprotect", "clone", "fcntl", "close", "openat", "newfstatat", "fstat", "getdents64", "readlinkat", "read",
  "write", "exit", "exit_group", "execve", "set_robust_list", "prctl", "capget", "capset", "setgroups", "setuid",
  "setgid", "setresuid", "setresgid", "waitid", "wait4", "getppid", "arch_prctl", "brk", "uname", NULL,
};

/* The learned profile, in the same Docker/Moby format as the built-in ones. */
static json_t *
learned_profile (struct seen *s, const char *base, const char *bundle, sbx_err *err)
{
  json_t *p = json_new_obj (), *rules = json_new_arr (), *names = json_new_arr (), *allow = json_new_obj ();
  char comment[512];

  qsort (s->names, s->n, sizeof *s->names, by_str);
  snprintf (comment, sizeof comment,
            "Learned by sbx profile learn from %s%s%s: the syscalls the workload made, everything else refused.",
            bundle, base ? " on top of " : "", base ? base : "");
  if (p == NULL || json_set (p, "comment", json_new_str (comment), err) < 0
      || json_set (p, "defaultAction", json_new_str ("SCMP_ACT_ERRNO"), err) < 0
      || json_set (p, "defaultErrnoRet", json_new_int (EPERM), err) < 0 || json_set (p, "syscalls", rules, err) < 0
      || json_arr_push (rules, allow, err) < 0 || json_set (allow, "names", names, err) < 0
      || json_set (allow, "action", json_new_str ("SCMP_ACT_ALLOW"), err) < 0)
    return json_free (p), NULL;
  for (size_t i = 0; i < s->n; i++)
    {
      /* Never learned: the module block refuses these anyway; socket gets one rule per family seen. */
      if (strstr (s->names[i], "_module") || strcmp (s->names[i], "socket") == 0)
        continue;
      if (json_arr_push (names, json_new_str (s->names[i]), err) < 0)
        return json_free (p), NULL;
    }
  {
    json_t *r = json_new_obj (), *n = json_new_arr ();
    if (json_arr_push (rules, r, err) < 0 || json_set (r, "names", n, err) < 0
        || json_set (r, "action", json_new_str ("SCMP_ACT_ALLOW"), err) < 0
        || json_set (r, "comment", json_new_str ("The runtimes' own steps after loading the filter (runc's Go init "
                                                 "calls these when its scheduler decides)."),
                     err) < 0)
      return json_free (p), NULL;
    for (size_t i = 0; runtime_epilogue[i]; i++)
      if (json_arr_push (n, json_new_str (runtime_epilogue[i]), err) < 0)
        return json_free (p), NULL;
  }
  for (int fam = 0; fam < 64; fam++)
    if (s->families & (1ULL << fam))
      {
        json_t *r = json_new_obj (), *n = json_new_arr (), *args = json_new_arr (), *c = json_new_obj ();
        if (json_arr_push (rules, r, err) < 0 || json_set (r, "names", n, err) < 0
            || json_arr_push (n, json_new_str ("socket"), err) < 0
            || json_set (r, "action", json_new_str ("SCMP_ACT_ALLOW"), err) < 0 || json_set (r, "args", args, err) < 0
            || json_arr_push (args, c, err) < 0 || json_set (c, "index", json_new_int (0), err) < 0
            || json_set (c, "value", json_new_int (fam), err) < 0 || json_set (c, "valueTwo", json_new_int (0), err) < 0
            || json_set (c, "op", json_new_str ("SCMP_CMP_EQ"), err) < 0)
          return json_free (p), NULL;
      }
  return p;
}

int
sbx_profile_learn (const struct sbx_config *cfg, const char *base, const char *bundle, const char *crun,
                   json_t **out, sbx_err *err)
{
  char dir[] = "/tmp/sbx-learn.XXXXXX", path[4200], sock_path[4200], id[64], bundle_abs[4096];
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  struct sbx_doc doc;
  cleanup_close int ls = -1;
  json_t *filter = NULL, *linux_, *root;
  struct seen seen = { .n = 0 };
  int cfd = -1, nfd = -1, status = 0, rc = -1;
  pid_t child;

  *out = NULL;
  if (realpath (bundle, bundle_abs) == NULL)
    return sbx_fail (err, errno, "bundle %s", bundle);
  if (mkdtemp (dir) == NULL)
    return sbx_fail (err, errno, "create a temporary directory");
  snprintf (sock_path, sizeof sock_path, "%s/listener.sock", dir);
  snprintf (id, sizeof id, "sbx-learn-%d", (int) getpid ());
  if (strlen (sock_path) >= sizeof addr.sun_path)
    return sbx_fail (err, ENAMETOOLONG, "%s", sock_path);
  strcpy (addr.sun_path, sock_path);

  /* A copy of the bundle's config.json: the workload is the same, the filter is the learning one. */
  if (sbx_doc_open (bundle_abs, "config.json", &doc, err) < 0)
    goto out;
  root = json_find (doc.root, "root");
  if (json_str (json_find (root, "path")) && json_str (json_find (root, "path"))[0] != '/')
    {
      snprintf (path, sizeof path, "%s/%s", bundle_abs, json_str (json_find (root, "path")));
      json_set (root, "path", json_new_str (path), err);
    }
  json_del (json_find (doc.root, "annotations"), SBX_ANN_CRUN_BPF);
  if (learning_filter (cfg, base, sock_path, &filter, err) < 0 || json_obj_ensure (doc.root, "linux", &linux_, err) < 0
      || json_set (linux_, "seccomp", filter, err) < 0)
    goto out_doc;
  close (doc.dirfd);
  doc.dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (doc.dirfd < 0 || sbx_doc_save (&doc, err) < 0)
    goto out_doc;

  ls = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (ls < 0 || bind (ls, (struct sockaddr *) &addr, sizeof addr) < 0 || listen (ls, 1) < 0)
    {
      sbx_fail (err, errno, "listen on %s", sock_path);
      goto out_doc;
    }
  snprintf (path, sizeof path, "%s/root", dir);
  child = fork ();
  if (child < 0)
    {
      sbx_fail (err, errno, "fork");
      goto out_doc;
    }
  if (child == 0)
    {
      execlp (crun, crun, "--root", path, "run", "--bundle", dir, id, (char *) NULL);
      _exit (127);
    }
  /* The runtime connects once the filter is in place; until then the container may also fail to start. */
  for (;;)
    {
      struct pollfd p = { .fd = ls, .events = POLLIN };
      if (poll (&p, 1, 200) > 0)
        break;
      if (waitpid (child, &status, WNOHANG) == child)
        {
          sbx_fail (err, 0, "%s exited (status %d) before connecting to the listener", crun, WEXITSTATUS (status));
          goto out_doc;
        }
    }
  cfd = accept4 (ls, NULL, NULL, SOCK_CLOEXEC);
  nfd = cfd >= 0 ? recv_fd (cfd) : -1;
  if (nfd < 0)
    {
      sbx_fail (err, errno, "receive the seccomp listener from %s", crun);
      kill (child, SIGKILL);
      waitpid (child, NULL, 0);
      goto out_doc;
    }
  serve (nfd, child, &seen);
  close (nfd);
  close (cfd);
  if (waitpid (child, &status, 0) == child && WIFEXITED (status) && WEXITSTATUS (status) != 0)
    fprintf (stderr, "sbx profile learn: the workload exited with status %d\n", WEXITSTATUS (status));
  *out = learned_profile (&seen, base, bundle, err);
  rc = *out ? 0 : -1;

out_doc:
  sbx_doc_close (&doc);
out:
  for (size_t i = 0; i < seen.n; i++)
    free (seen.names[i]);
  {
    char cmd[8400];
    snprintf (cmd, sizeof cmd, "%s --root %s/root delete --force %s >/dev/null 2>&1; rm -rf %s", crun, dir, id, dir);
    if (system (cmd) != 0)
      { /* best effort */ }
  }
  return rc;
}
