/* fuzz_journal.c - libFuzzer target: bytes a container chooses (module name, parameters, path, comm; the engine
   annotation and the outcome too) through the watcher's one encoder into a journal line and a runtime-log line, and
   arbitrary bytes through `sbx events`' reader.  On every input: the journal line is one line of valid UTF-8 without
   control bytes that parses as JSON with every field within its cap; the runtime-log line parses as JSON too; the
   reader turns any line into a JSON object whose text is valid UTF-8 and parses again. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/log.h"
#include "../../oci/json.h"
#include "../../watcher/watcher.h"

static bool
utf8_ok (const char *s, size_t len)
{
  const unsigned char *p = (const unsigned char *) s;

  for (size_t i = 0; i < len;)
    {
      uint32_t v;
      size_t n = p[i] < 0x80 ? 1 : (p[i] & 0xe0) == 0xc0 ? 2 : (p[i] & 0xf0) == 0xe0 ? 3 : (p[i] & 0xf8) == 0xf0 ? 4 : 0;
      if (n == 0 || i + n > len)
        return false;
      v = n == 1 ? p[i] : p[i] & (0x7f >> n);
      for (size_t k = 1; k < n; k++)
        {
          if ((p[i + k] & 0xc0) != 0x80)
            return false;
          v = (v << 6) | (p[i + k] & 0x3f);
        }
      if ((n == 2 && v < 0x80) || (n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || v > 0x10ffff
          || (v >= 0xd800 && v <= 0xdfff))
        return false;
      i += n;
    }
  return true;
}

static void
check_text (const char *what, const char *s, size_t len, bool controls_ok)
{
  if (!utf8_ok (s, len))
    {
      fprintf (stderr, "%s: not valid UTF-8\n", what);
      abort ();
    }
  for (size_t i = 0; i < len && !controls_ok; i++)
    if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
      {
        fprintf (stderr, "%s: control byte 0x%02x at %zu\n", what, (unsigned char) s[i], i);
        abort ();
      }
}

static void
check_field (const json_t *o, const char *key, size_t cap)
{
  const char *s = json_str (json_find (o, key));
  if (s && strlen (s) >= cap)
    {
      fprintf (stderr, "field %s: %zu bytes, cap %zu\n", key, strlen (s), cap);
      abort ();
    }
}

/* The input cut at NUL bytes into the event's strings, each truncated to its array as the watcher reads them. */
static const char *
next_field (const char **p, const char *end, char *dst, size_t size)
{
  const char *nul = memchr (*p, '\0', (size_t) (end - *p));
  size_t n = (size_t) ((nul ? nul : end) - *p);

  n = n < size ? n : size - 1;
  memcpy (dst, *p, n);
  dst[n] = '\0';
  *p = nul ? nul + 1 : end;
  return dst;
}

static void
encode (const char *data, size_t size)
{
  struct sbx_wcontainer *c = calloc (1, sizeof *c);
  struct sbx_wevent *ev = calloc (1, sizeof *ev);
  const char *p = data, *end = data + size;
  char *line = NULL, msg[8192], log[8192];
  json_t *o = NULL;
  size_t len;
  sbx_err err;

  if (c == NULL || ev == NULL)
    abort ();
  snprintf (c->id, sizeof c->id, "fuzz");
  ev->type = size > 0 && data[0] & 1 ? "violation" : "dropped";
  ev->hook = "seccomp-notify", ev->syscall = "finit_module", ev->action = "log", ev->pid = 1;
  next_field (&p, end, ev->module, sizeof ev->module);
  next_field (&p, end, ev->params, sizeof ev->params);
  next_field (&p, end, ev->file, sizeof ev->file);
  next_field (&p, end, ev->comm, sizeof ev->comm);
  next_field (&p, end, ev->outcome, sizeof ev->outcome);
  next_field (&p, end, c->engine, sizeof c->engine);
  if (sbx_w_event_json (c, c->id, ev, 1, &line, &len, &err) < 0)
    abort ();
  check_text ("journal line", line, len, false);
  if (json_parse (line, len, "journal line", &o, &err) < 0)
    {
      fprintf (stderr, "journal line does not parse: %s\n", err.msg);
      abort ();
    }
  check_field (o, "module", 128), check_field (o, "params", 512), check_field (o, "file", 1024);
  check_field (o, "comm", 80), check_field (o, "outcome", 640), check_field (o, "engine", 128);
  json_free (o), o = NULL;
  sbx_w_log_message (c, ev, msg, sizeof msg);
  check_text ("runtime-log message", msg, strlen (msg), false);
  sbx_log_format (log, sizeof log, SBX_WARN, msg, true);
  check_text ("runtime-log line", log, strlen (log), false);
  if (json_parse (log, strlen (log), "runtime-log line", &o, &err) < 0)
    {
      fprintf (stderr, "runtime-log line does not parse: %s\n", err.msg);
      abort ();
    }
  json_free (o);
  free (line), free (ev), free (c);
}

static void
decode (const char *data, size_t size)
{
  char *buf = malloc (size + 1), *text = NULL, *again_text = NULL;
  json_t *o = NULL, *again = NULL;
  sbx_err err;

  if (buf == NULL)
    abort ();
  memcpy (buf, data, size);
  buf[size] = '\0';
  if (sbx_journal_decode (buf, size, &o, &text, &err) < 0 || !json_is (o, JSON_OBJECT))
    abort ();
  check_text ("decoded line", text, strlen (text), true);
  /* What `sbx events --json` prints reads back the same way. */
  if (sbx_journal_decode (text, strlen (text), &again, &again_text, &err) < 0 || strcmp (text, again_text) != 0)
    {
      fprintf (stderr, "decoded text does not read back as itself\n");
      abort ();
    }
  json_free (o), json_free (again);
  free (text), free (again_text), free (buf);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char out[300];
  size_t n;

  encode ((const char *) data, size);
  decode ((const char *) data, size);
  n = sbx_w_clean ((const char *) data, size, out, size > 0 ? 8 + data[0] % (sizeof out - 8) : sizeof out);
  if (n != strlen (out))
    abort ();
  check_text ("cleaned", out, n, false);
  return 0;
}
