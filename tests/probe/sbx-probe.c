/* sbx-probe - a static test program run inside containers: performs one risky operation and prints
   "<op> <errno> <ERRNAME>" (errno 0 = the kernel allowed it), so tests can assert the exact refusal. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The errno's symbolic name, as tests assert it ("EPERM"); "OK" for success. */
static const char *
errname (int e)
{
  const char *n = e ? strerrorname_np (e) : "OK";
  return n ? n : "E?";
}

static int
report (const char *op, long rc)
{
  int e = rc < 0 ? errno : 0;
  printf ("%s %d %s\n", op, e, errname (e));
  fflush (stdout);
  return 0;
}

/* Read a whole file for init_module; a missing path gives a tiny bogus image (the kernel or the filter refuses
   it either way, and the errno tells which). */
static void *
slurp (const char *path, size_t *len)
{
  static char bogus[64] = "\177ELF-not-a-module";
  struct stat st;
  void *buf;
  int fd;

  if (path == NULL || (fd = open (path, O_RDONLY | O_CLOEXEC)) < 0)
    {
      *len = sizeof bogus;
      return bogus;
    }
  if (fstat (fd, &st) < 0 || (buf = malloc (st.st_size ? st.st_size : 1)) == NULL
      || read (fd, buf, st.st_size) != st.st_size)
    {
      close (fd);
      *len = sizeof bogus;
      return bogus;
    }
  close (fd);
  *len = st.st_size;
  return buf;
}

static int
do_op (const char *op, const char *arg)
{
  if (strcmp (op, "finit_module") == 0)
    {
      int fd = open (arg ? arg : "/proc/self/exe", O_RDONLY | O_CLOEXEC);
      return report (op, syscall (SYS_finit_module, fd, "", 0));
    }
  if (strcmp (op, "init_module") == 0)
    {
      size_t len;
      void *img = slurp (arg, &len);
      return report (op, syscall (SYS_init_module, img, len, ""));
    }
  if (strcmp (op, "delete_module") == 0)
    return report (op, syscall (SYS_delete_module, arg ? arg : "dummy", O_NONBLOCK));
  if (strcmp (op, "modules") == 0)
    return do_op ("finit_module", arg) | do_op ("init_module", NULL) | do_op ("delete_module", NULL);
  if (strcmp (op, "unshare_user") == 0)
    return report (op, unshare (CLONE_NEWUSER));
  if (strcmp (op, "unshare_ns") == 0)
    return report (op, unshare (CLONE_NEWNS));
  if (strcmp (op, "mount_tmpfs") == 0)
    return report (op, mount ("none", "/mnt", "tmpfs", 0, NULL));
  if (strcmp (op, "bpf") == 0)
    return report (op, syscall (SYS_bpf, 0, NULL, 0));
  if (strcmp (op, "perf_event_open") == 0)
    return report (op, syscall (SYS_perf_event_open, NULL, 0, -1, -1, 0));
  if (strcmp (op, "userfaultfd") == 0)
    return report (op, syscall (SYS_userfaultfd, 0));
  if (strcmp (op, "keyctl") == 0)
    return report (op, syscall (SYS_keyctl, 0, 0, 0, 0, 0));
  if (strcmp (op, "kexec_load") == 0)
    return report (op, syscall (SYS_kexec_load, 0, 0, NULL, 0));
  if (strcmp (op, "io_uring_setup") == 0)
    return report (op, syscall (SYS_io_uring_setup, 1, NULL));
  if (strcmp (op, "socket_alg") == 0)
    return report (op, socket (AF_ALG, SOCK_SEQPACKET, 0));
  if (strcmp (op, "socket_vsock") == 0)
    return report (op, socket (AF_VSOCK, SOCK_STREAM, 0));
  if (strcmp (op, "nnp") == 0)
    {
      int v = prctl (PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
      printf ("nnp %d\n", v);
      return v < 0;
    }
  if (strcmp (op, "getppid-loop") == 0)
    {
      long n = arg ? atol (arg) : 1000000;
      for (long i = 0; i < n; i++)
        syscall (SYS_getppid);
      return 0;
    }
  fprintf (stderr, "sbx-probe: unknown operation '%s'\n", op);
  return 2;
}

int
main (int argc, char **argv)
{
  int rc = 0;

  if (argc < 2)
    {
      fprintf (stderr, "usage: sbx-probe OP[=ARG]...\n"
                       "ops: finit_module init_module delete_module modules unshare_user unshare_ns mount_tmpfs\n"
                       "     bpf perf_event_open userfaultfd keyctl kexec_load io_uring_setup socket_alg\n"
                       "     socket_vsock nnp getppid-loop\n");
      return 2;
    }
  for (int i = 1; i < argc; i++)
    {
      char *op = argv[i], *eq = strchr (op, '=');
      if (eq)
        *eq++ = '\0';
      rc |= do_op (op, eq);
    }
  return rc;
}
