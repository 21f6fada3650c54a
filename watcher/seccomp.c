/* seccomp.c - one seccomp user notification: read what the container asked for, refuse it with EPERM, report. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../common/log.h"
#include "watcher.h"

#define IMAGE_SCAN_MAX (8u << 20) /* bytes of an init_module image searched for its name */

static const struct
{
  uint32_t arch;
  int nr;
  const char *name;
} syscalls[] = {
  { AUDIT_ARCH_X86_64, 175, "init_module" },   { AUDIT_ARCH_X86_64, 176, "delete_module" },
  { AUDIT_ARCH_X86_64, 313, "finit_module" },  { AUDIT_ARCH_I386, 128, "init_module" },
  { AUDIT_ARCH_I386, 129, "delete_module" },   { AUDIT_ARCH_I386, 350, "finit_module" },
  { AUDIT_ARCH_AARCH64, 105, "init_module" },  { AUDIT_ARCH_AARCH64, 106, "delete_module" },
  { AUDIT_ARCH_AARCH64, 273, "finit_module" }, { AUDIT_ARCH_ARM, 128, "init_module" },
  { AUDIT_ARCH_ARM, 129, "delete_module" },    { AUDIT_ARCH_ARM, 379, "finit_module" },
};

const char *
sbx_w_syscall_name (uint32_t arch, int nr)
{
  /* x32 shares x86_64's numbers with bit 30 set. */
  if (arch == AUDIT_ARCH_X86_64)
    nr &= ~0x40000000;
  for (size_t i = 0; i < sizeof syscalls / sizeof syscalls[0]; i++)
    if (syscalls[i].arch == arch && syscalls[i].nr == nr)
      return syscalls[i].name;
  return NULL;
}

/* Read up to SIZE-1 bytes of a NUL-terminated string at ADDR in PID, one page at a time (a string may end just
   before an unmapped page). */
static bool
read_string (pid_t pid, uint64_t addr, char *out, size_t size)
{
  size_t n = 0;

  out[0] = '\0';
  if (addr == 0)
    return false;
  while (n + 1 < size)
    {
      size_t chunk = 4096 - ((addr + n) & 4095);
      struct iovec local, remote;
      ssize_t r;
      char *nul;

      if (chunk > size - 1 - n)
        chunk = size - 1 - n;
      local.iov_base = out + n, local.iov_len = chunk;
      remote.iov_base = (void *) (uintptr_t) (addr + n), remote.iov_len = chunk;
      r = process_vm_readv (pid, &local, 1, &remote, 1, 0);
      if (r <= 0)
        break;
      out[n + r] = '\0';
      nul = memchr (out + n, '\0', r);
      n += r;
      if (nul)
        return true;
    }
  out[n] = '\0';
  return n > 0;
}

void
sbx_w_modinfo_name (const char *img, size_t len, char *out, size_t size)
{
  /* modpost writes "name=<module>" into .modinfo, each entry NUL-terminated. */
  out[0] = '\0';
  for (size_t i = 0; i + 6 < len; i++)
    {
      const char *p = memchr (img + i, 'n', len - i);
      size_t k = 0;

      if (p == NULL)
        return;
      i = p - img;
      if (i + 5 >= len || memcmp (p, "name=", 5) != 0 || (i > 0 && img[i - 1] != '\0'))
        continue;
      p += 5;
      while (i + 5 + k < len && p[k] && k + 1 < size)
        {
          char ch = p[k];
          if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_'
                || ch == '-'))
            break;
          out[k] = ch;
          k++;
        }
      if (k > 0 && (i + 5 + k >= len || p[k] == '\0'))
        {
          out[k] = '\0';
          return;
        }
      out[0] = '\0';
    }
}

static void
image_name (pid_t pid, uint64_t addr, uint64_t len, char *out, size_t size)
{
  size_t n = len > IMAGE_SCAN_MAX ? IMAGE_SCAN_MAX : (size_t) len;
  char *buf;
  struct iovec local, remote;
  ssize_t r;

  out[0] = '\0';
  if (addr == 0 || n == 0 || (buf = malloc (n)) == NULL)
    return;
  local.iov_base = buf, local.iov_len = n;
  remote.iov_base = (void *) (uintptr_t) addr, remote.iov_len = n;
  r = process_vm_readv (pid, &local, 1, &remote, 1, 0);
  if (r > 0)
    sbx_w_modinfo_name (buf, (size_t) r, out, size);
  free (buf);
}

/* finit_module's file: the path of the fd as the watcher sees it, and a module name from its base name. */
static void
fd_file (pid_t pid, int fd, struct sbx_wevent *ev)
{
  char link[64], *base, *dot;
  ssize_t n;

  snprintf (link, sizeof link, "/proc/%d/fd/%d", (int) pid, fd);
  n = readlink (link, ev->file, sizeof ev->file - 1);
  if (n < 0)
    {
      snprintf (ev->file, sizeof ev->file, "fd %d (unreadable: %s)", fd, strerror (errno));
      return;
    }
  ev->file[n] = '\0';
  base = strrchr (ev->file, '/');
  base = base ? base + 1 : ev->file;
  dot = strstr (base, ".ko");
  if (dot && (dot[3] == '\0' || dot[3] == '.'))
    snprintf (ev->module, sizeof ev->module, "%.*s", (int) (dot - base), base);
}

static void
comm_of (pid_t pid, char *out, size_t size)
{
  char path[64];
  FILE *f;

  out[0] = '\0';
  snprintf (path, sizeof path, "/proc/%d/comm", (int) pid);
  f = fopen (path, "re");
  if (f == NULL)
    return;
  if (fgets (out, (int) size, f))
    out[strcspn (out, "\n")] = '\0';
  fclose (f);
}

/* Calls whose notification a freeze withdrew: the kernel restarts them on thaw with the same arguments. */
static struct
{
  pid_t tid;
  int nr;
  uint64_t args[6];
} restarts[32];

static void
expect_restart (const struct seccomp_notif *req)
{
  for (size_t i = 0; i < sizeof restarts / sizeof restarts[0]; i++)
    if (restarts[i].tid == 0)
      {
        restarts[i].tid = (pid_t) req->pid;
        restarts[i].nr = req->data.nr;
        memcpy (restarts[i].args, req->data.args, sizeof restarts[i].args);
        return;
      }
}

static bool
restarted_call (const struct seccomp_notif *req)
{
  for (size_t i = 0; i < sizeof restarts / sizeof restarts[0]; i++)
    if (restarts[i].tid == (pid_t) req->pid && restarts[i].nr == req->data.nr
        && memcmp (restarts[i].args, req->data.args, sizeof restarts[i].args) == 0)
      {
        restarts[i].tid = 0;
        return true;
      }
  return false;
}

/* SIGKILL the task blocked in notification REQ on FD, through a pidfd opened while the notification is pending (so
   the pidfd is that task's, not a reuse of its pid). */
static int
kill_caller (int fd, const struct seccomp_notif *req)
{
  int pidfd = (int) syscall (SYS_pidfd_open, (pid_t) req->pid, 0), rc = -1;

  if (pidfd < 0 && errno == EINVAL)
    pidfd = (int) syscall (SYS_pidfd_open, (pid_t) req->pid, O_EXCL /* PIDFD_THREAD: a thread's id */);
  if (pidfd < 0)
    return -1;
  if (ioctl (fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) == 0)
    rc = (int) syscall (SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
  close (pidfd);
  return rc;
}

static int
answer (int fd, const struct seccomp_notif *req, struct seccomp_notif_resp *resp)
{
  resp->id = req->id;
  resp->error = -EPERM;
  resp->val = 0;
  resp->flags = 0;
  return ioctl (fd, SECCOMP_IOCTL_NOTIF_SEND, resp);
}

int
sbx_w_notify_ready (struct sbx_watcher *w, struct sbx_wcontainer *c, int fd)
{
  static struct seccomp_notif_sizes sizes;
  struct seccomp_notif *req;
  struct seccomp_notif_resp *resp;
  struct sbx_wevent ev = { .type = "violation", .hook = "seccomp-notify" };
  bool killed = false;
  int rc = 0;

  if (sizes.seccomp_notif == 0 && syscall (SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0)
    {
      sbx_log (SBX_ERROR, "watcher: SECCOMP_GET_NOTIF_SIZES: %s", strerror (errno));
      return -1;
    }
  req = calloc (1, sizes.seccomp_notif > sizeof *req ? sizes.seccomp_notif : sizeof *req);
  resp = calloc (1, sizes.seccomp_notif_resp > sizeof *resp ? sizes.seccomp_notif_resp : sizeof *resp);
  if (req == NULL || resp == NULL)
    {
      free (req), free (resp);
      return -1;
    }
  if (ioctl (fd, SECCOMP_IOCTL_NOTIF_RECV, req) < 0)
    {
      /* ENOENT: the caller was interrupted or died before we read it; nothing to answer. */
      int e = errno;
      free (req), free (resp);
      if (e == ENOENT || e == EINTR)
        return 0;
      w->notify_errors++;
      sbx_log (SBX_WARN, "watcher: container %s: SECCOMP_IOCTL_NOTIF_RECV: %s; its listener is dropped", c->id,
               strerror (e));
      return -1;
    }
  w->notifications++;
  clock_gettime (CLOCK_REALTIME, &ev.time);
  ev.pid = (pid_t) req->pid;
  ev.action = c->on_violation;
  ev.syscall = sbx_w_syscall_name (req->data.arch, req->data.nr);
  comm_of (ev.pid, ev.comm, sizeof ev.comm);
  if (ev.syscall == NULL)
    ev.syscall = "unknown";
  else if (strcmp (ev.syscall, "delete_module") == 0)
    read_string (ev.pid, req->data.args[0], ev.module, sizeof ev.module);
  else if (strcmp (ev.syscall, "init_module") == 0)
    {
      image_name (ev.pid, req->data.args[0], req->data.args[1], ev.module, sizeof ev.module);
      read_string (ev.pid, req->data.args[2], ev.params, sizeof ev.params);
    }
  else if (strcmp (ev.syscall, "finit_module") == 0)
    {
      fd_file (ev.pid, (int) req->data.args[0], &ev);
      read_string (ev.pid, req->data.args[1], ev.params, sizeof ev.params);
    }
  /* What we read belongs to this request only if it is still pending (the pid could have been reused). */
  if (ioctl (fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) < 0)
    ev.module[0] = ev.params[0] = ev.file[0] = ev.comm[0] = '\0';

  if (restarted_call (req))
    {
      /* The same call, restarted after a freeze interrupted our first answer: answer, do not report twice. */
      answer (fd, req, resp);
      free (req), free (resp);
      return 0;
    }
  /* Act before answering, so the container runs no instruction past the call: kill makes the call never return;
     freeze stops every task (a freeze that interrupts the wait makes the kernel restart the call on thaw, and
     that restarted call is recognised above). */
  if (strcmp (c->on_violation, "kill") == 0)
    {
      /* The init first (the kernel then kills the whole pid namespace), so no other task of the container is
         woken by the caller's death; then the caller itself, through a pidfd checked against the pending
         notification, in case the init is out of reach. */
      killed = sbx_w_action (w, c, &ev) == 0;
      if (kill_caller (fd, req) == 0 && !killed)
        {
          killed = true;
          snprintf (ev.outcome, sizeof ev.outcome, "refused; caller killed (SIGKILL to pid %d)", (int) ev.pid);
        }
    }
  else if (strcmp (c->on_violation, "freeze") == 0)
    {
      snprintf (ev.outcome, sizeof ev.outcome, "refused EPERM");
      sbx_w_action (w, c, &ev);
    }
  if (answer (fd, req, resp) < 0)
    {
      if (errno == ENOENT && strcmp (c->on_violation, "freeze") == 0)
        expect_restart (req);
      else if (!killed)
        snprintf (ev.outcome, sizeof ev.outcome, "refused (caller gone before the answer: %s)", strerror (errno));
    }
  else if (!killed && strcmp (c->on_violation, "freeze") != 0)
    snprintf (ev.outcome, sizeof ev.outcome, "refused EPERM");
  sbx_w_report (w, c, &ev);
  free (req), free (resp);
  return rc;
}
