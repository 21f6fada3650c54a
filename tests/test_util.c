/* test_util.c - common/util: bulk prefaulting for sbx-runtime's one-shot process. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/util.h"
#include "tap.h"

#define PAGE 4096
#define SPAN (256u << 10) /* about what a create of an engine's spec allocates */

static long
minor_faults (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_minflt;
}

/* The page faults taken while allocating and writing SPAN bytes in parser-sized pieces, in a fresh child, after
   the prefault calls or without them.  Faults the kernel takes inside madvise are counted before the span starts:
   what is measured is what the work itself pays. */
static long
work_faults (bool prefault)
{
  int p[2];
  long n = -1;
  pid_t pid;

  if (pipe (p) < 0 || (pid = fork ()) < 0)
    return -1;
  if (pid == 0)
    {
      long before;

      close (p[0]);
      if (prefault)
        {
          sbx_prefault_enable ();
          sbx_heap_expect (SPAN + (64u << 10));
        }
      before = minor_faults ();
      for (size_t done = 0; done < SPAN; done += 2000)
        memset (malloc (2000), 1, 2000);
      n = minor_faults () - before;
      _exit (write (p[1], &n, sizeof n) == sizeof n ? 0 : 1);
    }
  close (p[1]);
  if (read (p[0], &n, sizeof n) != sizeof n)
    n = -1;
  close (p[0]);
  waitpid (pid, NULL, 0);
  return n;
}

static void
test_heap_prefault (void)
{
  void *probe = mmap (NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  bool supported = probe != MAP_FAILED && madvise (probe, PAGE, MADV_POPULATE_WRITE) == 0;
  long cold, warm;

  if (probe != MAP_FAILED)
    munmap (probe, PAGE);
#ifdef __SANITIZE_ADDRESS__
  supported = false;
  errno = ENOTSUP;
#endif
  if (!supported)
    {
      tap_skip ("work after sbx_heap_expect takes no page faults", "no MADV_POPULATE_WRITE here (%s)",
                strerror (errno));
      tap_skip ("without sbx_prefault_enable the heap faults page by page", "nothing to compare with");
      return;
    }
  cold = work_faults (false);
  warm = work_faults (true);
  tap_ok (warm >= 0 && warm <= 4, "work after sbx_heap_expect takes no page faults (%ld for %u pages)", warm,
          SPAN / PAGE);
  /* The measure itself: the same work faults once a page when sbx-runtime has not asked for prefaulting. */
  tap_ok (cold >= (long) (SPAN / PAGE / 2), "without sbx_prefault_enable the heap faults page by page (%ld)", cold);
}

int
main (void)
{
  test_heap_prefault ();
  return tap_done ();
}
