/* cmd_metrics.c - `sbx metrics [--textfile PATH]`: Prometheus text from the watcher, or from its records when it is
   not running. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/util.h"
#include "../policy/notify.h"
#include "../watcher/watcher.h"
#include "commands.h"

int
sbx_cmd_metrics (int argc, char **argv)
{
  struct sbx_config cfg = { 0 };
  const char *textfile = NULL;
  char sock[PATH_MAX];
  cleanup_free char *text = NULL;
  size_t len;
  sbx_err err = { 0 };

  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--textfile") == 0 && i + 1 < argc)
        textfile = argv[++i];
      else if (strncmp (argv[i], "--textfile=", 11) == 0)
        textfile = argv[i] + 11;
      else
        {
          fprintf (stderr, "usage: sbx metrics [--textfile PATH]\n");
          return 2;
        }
    }
  if (sbx_config_load (&cfg, &err) < 0)
    {
      fprintf (stderr, "sbx metrics: %s\n", err.msg);
      return 1;
    }
  sbx_watcher_socket (&cfg, sock, sizeof sock);
  if (sbx_watcher_call (sock, "metrics", 5000, &text, &err) < 0 || strncmp (text, "# HELP", 6) != 0)
    {
      free (text);
      text = NULL;
      if (sbx_metrics_offline (&cfg, &text, &len) < 0)
        {
          fprintf (stderr, "sbx metrics: cannot build metrics\n");
          return 1;
        }
    }
  if (textfile)
    {
      char dir[PATH_MAX], *slash;
      cleanup_close int dfd = -1;
      snprintf (dir, sizeof dir, "%s", textfile);
      slash = strrchr (dir, '/');
      if (slash)
        *slash = '\0';
      dfd = open (slash ? (dir[0] ? dir : "/") : ".", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
      if (dfd < 0 || sbx_write_atomic (dfd, slash ? slash + 1 : textfile, text, strlen (text), 0644, (uid_t) -1,
                                       (gid_t) -1, &err) < 0)
        {
          fprintf (stderr, "sbx metrics: write %s: %s\n", textfile, err.msg[0] ? err.msg : "cannot open its directory");
          return 1;
        }
      return 0;
    }
  fputs (text, stdout);
  return 0;
}
