/* cmd_events.c - `sbx events [--follow] [--json] [ID]`: the watcher's journal, all of it or one container's. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/util.h"
#include "../watcher/watcher.h"
#include "commands.h"

struct filter
{
  const char *id;
  bool json;
  unsigned long long shown;
};

/* A field for the table, cleaned for the terminal (older journals hold raw bytes, and JSON's \u001b decodes to a
   real escape) and cut to WIDTH bytes (0: whole) between characters: one of ten rotating buffers, so one printf can
   show several. */
static const char *
field_w (const json_t *o, const char *key, size_t width)
{
  static char bufs[10][1100];
  static int next;
  const char *s = json_str (json_find (o, key));
  char *out = bufs[next++ % 10];
  bool plain = true;

  if (s == NULL || *s == '\0')
    return "-";
  /* Printable ASCII is shown as written (the journal's own \xNN escapes stay single); anything else cleaned. */
  for (const unsigned char *p = (const unsigned char *) s; *p && plain; p++)
    plain = *p >= 0x20 && *p < 0x7f;
  if (plain)
    snprintf (out, sizeof bufs[0], "%s", s);
  else
    sbx_w_clean (s, strlen (s), out, sizeof bufs[0]);
  if (width > 0 && strlen (out) > width)
    {
      while (width > 0 && ((unsigned char) out[width] & 0xc0) == 0x80)
        width--;
      out[width] = '\0';
    }
  return out;
}

#define field(o, key) field_w ((o), (key), 0)

/* Every line is shown: one with invalid UTF-8 repaired, one that is no JSON as an "unreadable" record. */
static int
show (void *ctx, const char *line, size_t len)
{
  struct filter *f = ctx;
  cleanup_free char *text = NULL;
  json_t *o = NULL;
  sbx_err err = { 0 };

  if (sbx_journal_decode (line, len, &o, &text, &err) < 0)
    {
      fprintf (stderr, "sbx events: %s\n", err.msg);
      return -1;
    }
  if (f->id && strcmp (field (o, "container"), f->id) != 0)
    {
      json_free (o);
      return 0;
    }
  if (f->json)
    printf ("%s\n", text);
  else
    {
      const char *what = field_w (o, json_str (json_find (o, "syscall")) ? "syscall" : "hook", 13);
      printf ("%-30s  %-20s  %-8s  %-12s  %-13s  %-16s  %-6s  %s\n", field_w (o, "time", 30),
              field_w (o, "container", 20), field_w (o, "engine", 8), field_w (o, "type", 12), what,
              field_w (o, "module", 16), field (o, "action"), field (o, "outcome"));
    }
  fflush (stdout);
  f->shown++;
  json_free (o);
  return 0;
}

/* Print complete lines appended to FD since *OFF. */
static void
drain (int fd, off_t *off, struct filter *f)
{
  static char *pending;
  static size_t plen;
  char buf[65536];
  ssize_t r;

  while ((r = pread (fd, buf, sizeof buf, *off)) > 0)
    {
      char *nb = realloc (pending, plen + r + 1), *start, *nl;
      if (nb == NULL)
        return;
      pending = nb;
      memcpy (pending + plen, buf, r);
      plen += r;
      pending[plen] = '\0';
      *off += r;
      start = pending;
      while ((nl = memchr (start, '\n', plen - (start - pending))))
        {
          *nl = '\0';
          show (f, start, (size_t) (nl - start));
          start = nl + 1;
        }
      plen -= start - pending;
      memmove (pending, start, plen);
    }
}

static int
follow (const char *path, struct filter *f)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  struct stat st, now;
  off_t off = 0;

  if (fd >= 0 && fstat (fd, &st) == 0)
    off = st.st_size; /* history was printed already */
  for (;;)
    {
      if (fd >= 0)
        drain (fd, &off, f);
      /* Rotation renames the journal: finish the old file, then start the new one from its beginning. */
      if (stat (path, &now) == 0 && (fd < 0 || now.st_ino != st.st_ino || now.st_dev != st.st_dev))
        {
          if (fd >= 0)
            {
              drain (fd, &off, f);
              close (fd);
            }
          fd = open (path, O_RDONLY | O_CLOEXEC);
          if (fd >= 0 && fstat (fd, &st) < 0)
            {
              close (fd);
              fd = -1;
            }
          off = 0;
          continue;
        }
      usleep (200 * 1000);
    }
  return 0;
}

int
sbx_cmd_events (int argc, char **argv)
{
  struct sbx_config cfg = { 0 };
  struct filter f = { 0 };
  bool follow_ = false;
  char path[PATH_MAX];
  sbx_err err = { 0 };

  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--follow") == 0 || strcmp (argv[i], "-f") == 0)
        follow_ = true;
      else if (strcmp (argv[i], "--json") == 0)
        f.json = true;
      else if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0)
        {
          printf ("usage: sbx events [-f|--follow] [--json] [ID]\n");
          return 0;
        }
      else if (argv[i][0] != '-' && f.id == NULL)
        f.id = argv[i];
      else
        {
          fprintf (stderr, "usage: sbx events [-f|--follow] [--json] [ID]\n");
          return 2;
        }
    }
  if (sbx_config_load (&cfg, &err) < 0)
    {
      fprintf (stderr, "sbx events: %s\n", err.msg);
      return 1;
    }
  sbx_journal_path (&cfg, path, sizeof path);
  if (!f.json)
    printf ("%-30s  %-20s  %-8s  %-12s  %-13s  %-16s  %-6s  %s\n", "TIME", "CONTAINER", "ENGINE", "TYPE",
            "SYSCALL/HOOK", "MODULE", "ACTION", "OUTCOME");
  if (sbx_journal_read (path, (int) sbx_config_int (&cfg, "journal.keep", 3), show, &f, &err) < 0)
    {
      fprintf (stderr, "sbx events: %s\n", err.msg);
      return 1;
    }
  if (follow_)
    return follow (path, &f);
  return 0;
}
