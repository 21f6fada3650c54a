/* autoload-probe - guest-only helper of the kernel tier: opens sockets whose family or protocol the kernel
   autoloads, and prints "<op> <errno> <ERRNAME>" like sbx-probe (errno 0 = the socket was created). */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int
report (const char *op, int fd)
{
  int e = fd < 0 ? errno : 0;

  printf ("%s %d %s\n", op, e, e ? strerrorname_np (e) : "OK");
  fflush (stdout);
  if (fd >= 0)
    close (fd);
  return 0;
}

int
main (int argc, char **argv)
{
  for (int i = 1; i < argc; i++)
    {
      /* NETLINK_NETFILTER: the protocol nft and iptables-nft talk; container profiles allow AF_NETLINK, no
         capability is needed to open it, and the kernel asks for "net-pf-16-proto-12" (nfnetlink). Unlike
         SCTP (whose per-netns control sockets pin it), nfnetlink can be unloaded between tests. */
      if (strcmp (argv[i], "socket_nfnetlink") == 0)
        report (argv[i], socket (AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER));
      else
        {
          fprintf (stderr, "autoload-probe: unknown operation '%s' (known: socket_nfnetlink)\n", argv[i]);
          return 2;
        }
    }
  return 0;
}
