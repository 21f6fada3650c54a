/* rt_state.c - `state`: the delegate's answer, plus the container's refused module-load count in its annotations. */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/util.h"
#include "../policy/notify.h"
#include "runtime.h"

int sbx_rt_state (struct sbx_rt *rt);

int
sbx_rt_state (struct sbx_rt *rt)
{
  cleanup_free char *out = NULL, *text = NULL;
  size_t len, tl;
  int status;
  json_t *state = NULL, *ann, *check = NULL;
  const char *id;
  long long n;
  sbx_err err = { 0 };
  char num[32];

  if (sbx_delegate_capture (&rt->delegate, rt->argv, 1 << 20, &out, &len, &status, &err) < 0)
    {
      fprintf (stderr, "sbx: %s\n", err.msg);
      return 1;
    }
  /* Anything but a clean state document passes through untouched, with the delegate's status; so does the
     state of a container with nothing to count (byte for byte what the delegate said). */
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0 || json_parse (out, len, "state", &state, &err) < 0
      || (id = json_str (json_find (state, "id"))) == NULL || (n = sbx_watcher_read_count (&rt->cfg, id)) <= 0)
    {
      fwrite (out, 1, len, stdout);
      json_free (state);
      return WIFEXITED (status) ? WEXITSTATUS (status) : 1;
    }
  snprintf (num, sizeof num, "%lld", n);
  text = sbx_text_add_annotation (out, SBX_ANN_VIOLATIONS, num);
  if (text && json_parse (text, strlen (text), "state", &check, &err) == 0
      && json_annotation (check, SBX_ANN_VIOLATIONS) && strcmp (json_annotation (check, SBX_ANN_VIOLATIONS), num) == 0)
    {
      fputs (text, stdout);
      json_free (check);
      json_free (state);
      return 0;
    }
  json_free (check);
  free (text);
  text = NULL;
  /* No annotations object in the text: add one and print the document again. */
  if (json_obj_ensure (state, "annotations", &ann, &err) < 0 || json_set (ann, SBX_ANN_VIOLATIONS, json_new_str (num), &err) < 0
      || json_serialize (state, &text, &tl, &err) < 0)
    fwrite (out, 1, len, stdout);
  else
    fwrite (text, 1, tl, stdout);
  json_free (state);
  return 0;
}
