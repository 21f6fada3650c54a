/* fuzz_imagecfg.c - libFuzzer target: an image's config blob on hostile bytes.  Whatever is accepted or refused,
   the promises hold: a refusal leaves nothing set; an accepted config keeps every bound (entries, bytes), every Env
   entry is KEY=VALUE and a WorkingDir is absolute; and applying it to `sbx run`'s options gives a command or a
   clear error, never a crash. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sandbox/imagecfg.h"

static size_t
count (char **v, size_t max_len)
{
  size_t n = 0;
  for (; v && v[n]; n++)
    if (strlen (v[n]) > max_len)
      abort ();
  return n;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct sbx_image_config c;
  struct sbx_run_opts o;
  char *buf = malloc (size + 1);
  char *argv[] = { "run", "--image", "/", NULL };
  sbx_err err = { 0 };

  if (buf == NULL)
    return 0;
  memcpy (buf, data, size);
  buf[size] = '\0';
  if (sbx_image_config_parse (buf, size, "fuzz", &c, &err) < 0)
    {
      if (c.entrypoint || c.cmd || c.env || c.user || c.workdir || err.msg[0] == '\0')
        abort ();
      free (buf);
      return 0;
    }
  if (count (c.entrypoint, SBX_IMGCFG_STR_MAX) > SBX_IMGCFG_LIST_MAX
      || count (c.cmd, SBX_IMGCFG_STR_MAX) > SBX_IMGCFG_LIST_MAX || count (c.env, SBX_IMGCFG_STR_MAX) > SBX_IMGCFG_LIST_MAX)
    abort ();
  for (size_t i = 0; c.env && c.env[i]; i++)
    if (c.env[i][0] == '=' || strchr (c.env[i], '=') == NULL)
      abort ();
  if (c.workdir && c.workdir[0] != '/')
    abort ();
  if (c.user && strlen (c.user) > SBX_IMGCFG_USER_MAX)
    abort ();
  /* Against the host's /etc/passwd and /etc/group, only read: a User resolves or is refused. */
  if (sbx_run_parse (3, argv, &o, &err) == 0)
    {
      if (sbx_run_apply_image (&o, &c, "/", &err) == 0 && (o.cmd == NULL || o.cmd[0] == NULL))
        abort ();
      sbx_run_opts_free (&o);
    }
  sbx_image_config_free (&c);
  free (buf);
  return 0;
}
