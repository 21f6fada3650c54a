/* rt_info.c - `--version` and `features`: sbx's own entries beside the delegate's. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/util.h"
#include "../policy/policy.h"
#include "runtime.h"

int
sbx_rt_version (struct sbx_rt *rt)
{
  char *argv[] = { NULL, "--version", NULL };
  cleanup_free char *out = NULL;
  size_t len;
  int status;
  sbx_err err;

  /* Engines parse the first line ("NAME version X") and "commit:"; keep runc's shape. */
  printf ("sbx-runtime version %s\ncommit: %s\nspec: 1.0.2\npolicy: %s\n", SBX_VERSION, SBX_COMMIT,
          SBX_POLICY_VERSION);
  fflush (stdout);
  if (sbx_delegate_resolve (&rt->cfg, &rt->delegate, &err) < 0)
    {
      printf ("delegate: none (%s)\n", err.msg);
      return 0;
    }
  if (sbx_delegate_capture (&rt->delegate, argv, 1 << 16, &out, &len, &status, &err) == 0 && len > 0)
    printf ("delegate: %.*s (%s)\n", (int) strcspn (out, "\n"), out, rt->delegate.path);
  else
    printf ("delegate: %s (version unknown)\n", rt->delegate.path);
  return 0;
}

static const char *const sbx_annotations[][2] = {
  { SBX_ANN_PROFILE, "default|strict|baseline|/absolute/path.json" },
  { SBX_ANN_ON_VIOLATION, "log|freeze|kill" },
  { SBX_ANN_ALLOW_HOST_NS, "pid,mount,..." },
  { SBX_ANN_NNP, "true|false" },
  { SBX_ANN_POLICY, SBX_POLICY_VERSION },
};

int
sbx_rt_features (struct sbx_rt *rt)
{
  cleanup_free char *out = NULL, *merged = NULL;
  size_t len;
  int status;
  json_t *doc = NULL, *ann;
  sbx_err err;

  /* The delegate's own answer is the base: sbx adds, never invents what the delegate supports. */
  if (sbx_delegate_capture (&rt->delegate, rt->argv, 1 << 20, &out, &len, &status, &err) < 0)
    {
      sbx_log (SBX_ERROR, "sbx: features: %s", err.msg);
      return 1;
    }
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0 || json_parse (out, len, "features", &doc, &err) < 0
      || !json_is (doc, JSON_OBJECT))
    {
      /* Not JSON (or a delegate without `features`, like crun 1.8): pass it on unchanged. */
      fwrite (out, 1, len, stdout);
      json_free (doc);
      return WIFEXITED (status) ? WEXITSTATUS (status) : 1;
    }
  if (json_obj_ensure (doc, "annotations", &ann, &err) < 0)
    goto fail;
  for (size_t i = 0; i < sizeof sbx_annotations / sizeof sbx_annotations[0]; i++)
    if (json_set (ann, sbx_annotations[i][0], json_new_str (sbx_annotations[i][1]), &err) < 0)
      goto fail;
  if (json_set (ann, "run.sbx.version", json_new_str (SBX_VERSION), &err) < 0
      || json_serialize (doc, &merged, &len, &err) < 0)
    goto fail;
  json_free (doc);
  printf ("%s\n", merged);
  return 0;

fail:
  json_free (doc);
  sbx_log (SBX_ERROR, "sbx: features: %s", err.msg);
  return 1;
}
