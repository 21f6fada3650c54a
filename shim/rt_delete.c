/* rt_delete.c - `delete`: the delegate deletes, then the watcher forgets the container (only once it is gone). */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/util.h"
#include "../policy/notify.h"
#include "runtime.h"

int sbx_rt_delete (struct sbx_rt *rt);

static const char *
container_id (struct sbx_rt *rt)
{
  for (int i = rt->a.g.cmd_index + 1; i < rt->argc; i++)
    if (rt->argv[i][0] != '-')
      return rt->argv[i];
  return NULL;
}

int
sbx_rt_delete (struct sbx_rt *rt)
{
  const char *id = container_id (rt);
  char sock[PATH_MAX], rec[PATH_MAX];
  cleanup_free char *reply = NULL;
  sbx_err err = { 0 };
  int status;
  pid_t pid;

  /* Without a record there is nothing to forget: become the delegate as for any other command. */
  if (id == NULL || sbx_watcher_record_path (&rt->cfg, id, rec, sizeof rec, &err) < 0 || access (rec, F_OK) < 0)
    {
      sbx_delegate_exec (&rt->delegate, rt->argv, &err);
      sbx_log (SBX_ERROR, "sbx: %s", err.msg);
      return 1;
    }
  pid = fork ();
  if (pid < 0)
    {
      sbx_log (SBX_ERROR, "sbx: delete %s: fork: %s", id, strerror (errno));
      return 1;
    }
  if (pid == 0)
    {
      sbx_delegate_exec (&rt->delegate, rt->argv, &err);
      _exit (127);
    }
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return 1;
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
  sbx_watcher_socket (&rt->cfg, sock, sizeof sock);
  {
    char req[PATH_MAX];
    snprintf (req, sizeof req, "unregister %s", id);
    /* With no watcher running, drop the record ourselves; the next watcher would reap it anyway. */
    if (sbx_watcher_call (sock, req, 1000, &reply, &err) < 0)
      unlink (rec);
  }
  return 0;
}
