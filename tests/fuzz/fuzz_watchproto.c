/* fuzz_watchproto.c - libFuzzer target: what reaches the watcher's socket, as the runtime or a client sends it: the
   OCI container-process state that comes with a notify fd, and control request lines.  Parsing only: nothing is
   registered, no process is started or signalled.  On every input: an accepted state has a container id that names
   a plain file and a pid within Linux's range; a request line is one of the known requests, with its argument
   exactly when it takes one, or unknown. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../oci/json.h"
#include "../../policy/notify.h"
#include "../../watcher/watcher.h"

static void
state (const char *buf, size_t size)
{
  struct sbx_wstate st;
  sbx_err err;

  if (sbx_w_parse_state (buf, size, &st, &err) < 0)
    {
      if (st.root != NULL || strlen (err.msg) == 0)
        abort ();
      return;
    }
  if (!sbx_container_id_ok (st.id) || st.pid < 0 || st.pid > 4194304 || strchr (st.id, '/'))
    abort ();
  json_free (st.root);
}

static void
request (const char *data, size_t size)
{
  char *line = strndup (data, size);
  const char *arg = NULL;
  enum sbx_wreq r;

  if (line == NULL)
    abort ();
  r = sbx_w_parse_request (line, &arg);
  if (r < SBX_WREQ_UNKNOWN || r > SBX_WREQ_STOP || (r == SBX_WREQ_UNREGISTER) != (arg != NULL))
    abort ();
  if (strpbrk (line, "\r\n") || (arg && strpbrk (arg, "\r\n")))
    abort ();
  free (line);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *buf = malloc (size + 1);

  if (buf == NULL)
    abort ();
  memcpy (buf, data, size);
  buf[size] = '\0';
  state (buf, size);
  request ((const char *) data, size);
  free (buf);
  return 0;
}
