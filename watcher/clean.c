/* clean.c - the one encoder for bytes a container chose (module names, parameters, paths, comm) on their way to the
   journal, the runtime log, containerd and metrics labels; and the journal reader's repair of lines that older
   watchers wrote raw. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "watcher.h"

/* Length of the valid UTF-8 character at S (LEN bytes left), its code point in *CP; 0 when the bytes are not one
   (overlong forms, surrogates and values past U+10FFFF included). */
static size_t
utf8_char (const unsigned char *s, size_t len, uint32_t *cp)
{
  size_t n;
  uint32_t v, min;

  if (s[0] < 0x80)
    {
      *cp = s[0];
      return 1;
    }
  if (s[0] >= 0xc2 && s[0] <= 0xdf)
    n = 2, v = s[0] & 0x1f, min = 0x80;
  else if (s[0] >= 0xe0 && s[0] <= 0xef)
    n = 3, v = s[0] & 0x0f, min = 0x800;
  else if (s[0] >= 0xf0 && s[0] <= 0xf4)
    n = 4, v = s[0] & 0x07, min = 0x10000;
  else
    return 0;
  if (len < n)
    return 0;
  for (size_t i = 1; i < n; i++)
    {
      if ((s[i] & 0xc0) != 0x80)
        return 0;
      v = (v << 6) | (s[i] & 0x3f);
    }
  if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
    return 0;
  *cp = v;
  return n;
}

/* Characters that move the cursor, end a line or hide and reorder text on a terminal or in a log viewer. */
static bool
hidden (uint32_t cp)
{
  return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x061c || cp == 0x200b || cp == 0x200e
         || cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff;
}

/* The next piece of IN as it is written out: its input length in *USED, its output (at most 16 bytes) in PIECE. */
static size_t
piece (const unsigned char *in, size_t len, char piece[16], size_t *used)
{
  static const char hex[] = "0123456789abcdef";
  uint32_t cp = 0;
  size_t n = utf8_char (in, len, &cp), out = 0;

  if (n > 0 && cp == '\\')
    {
      *used = 1;
      memcpy (piece, "\\\\", 2);
      return 2;
    }
  if (n > 0 && !hidden (cp))
    {
      *used = n;
      memcpy (piece, in, n);
      return n;
    }
  /* Escape every byte of a hidden character, one byte of an invalid sequence: reversible, and the evidence kept. */
  *used = n > 0 ? n : 1;
  for (size_t i = 0; i < *used; i++)
    {
      piece[out++] = '\\', piece[out++] = 'x';
      piece[out++] = hex[in[i] >> 4], piece[out++] = hex[in[i] & 15];
    }
  return out;
}

size_t
sbx_w_clean (const char *in, size_t len, char *out, size_t size)
{
  static const char more[] = "\xe2\x80\xa6"; /* U+2026: the value went on */
  const unsigned char *s = (const unsigned char *) (in ? in : "");
  size_t total = 0, n = 0, used, limit;
  char p[16];

  if (size == 0)
    return 0;
  if (in == NULL)
    len = 0;
  for (size_t i = 0; i < len; i += used)
    total += piece (s + i, len - i, p, &used);
  /* Cut at a piece boundary, so the output stays valid UTF-8 and never ends inside an escape. */
  limit = total < size ? total : (size > sizeof more ? size - sizeof more : 0);
  for (size_t i = 0; i < len; i += used)
    {
      size_t k = piece (s + i, len - i, p, &used);
      if (n + k > limit)
        break;
      memcpy (out + n, p, k);
      n += k;
    }
  if (total >= size && n + sizeof more <= size)
    {
      memcpy (out + n, more, sizeof more - 1);
      n += sizeof more - 1;
    }
  out[n] = '\0';
  return n;
}

static void
clean_str (char *dst, size_t size, const char *s)
{
  sbx_w_clean (s, s ? strlen (s) : 0, dst, size);
}

/* The cleaned text of S in the array DST. */
#define CLEAN(dst, s) clean_str ((dst), sizeof (dst), (s))

void
sbx_w_event_clean (const struct sbx_wcontainer *c, const struct sbx_wevent *ev, struct sbx_wclean *out)
{
  CLEAN (out->module, ev->module);
  CLEAN (out->params, ev->params);
  CLEAN (out->file, ev->file);
  CLEAN (out->comm, ev->comm);
  CLEAN (out->outcome, ev->outcome);
  CLEAN (out->engine, c ? c->engine : NULL);
  CLEAN (out->type, ev->type);
  CLEAN (out->hook, ev->hook);
  CLEAN (out->syscall, ev->syscall);
  CLEAN (out->action, ev->action);
}

/* A line that is not valid UTF-8 (older watchers wrote container bytes raw) made parseable: invalid bytes and NUL
   become U+FFFD, other control bytes \u00XX (inside a JSON string, the only place a valid line has them). */
static char *
repair (const char *line, size_t len)
{
  const unsigned char *s = (const unsigned char *) line;
  char *out = malloc (len * 6 + 1);
  size_t n = 0, k;
  uint32_t cp;

  if (out == NULL)
    return NULL;
  for (size_t i = 0; i < len; i += k)
    {
      cp = 1;
      k = utf8_char (s + i, len - i, &cp);
      if (k == 0 || cp == 0)
        {
          memcpy (out + n, "\xef\xbf\xbd", 3), n += 3;
          k = 1;
        }
      else if (cp < 0x20)
        n += (size_t) snprintf (out + n, 7, "\\u%04x", (unsigned) cp);
      else
        memcpy (out + n, s + i, k), n += k;
    }
  out[n] = '\0';
  return out;
}

static int
unreadable (const char *line, size_t len, json_t **out, char **text, sbx_err *err)
{
  char raw[1024];
  json_t *o = json_new_obj ();
  size_t tl;

  sbx_w_clean (line, len, raw, sizeof raw);
  if (o == NULL || json_set (o, "type", json_new_str ("unreadable"), err) < 0
      || json_set (o, "outcome", json_new_str ("a journal line that is not a JSON object"), err) < 0
      || json_set (o, "raw", json_new_str (raw), err) < 0 || json_serialize (o, text, &tl, err) < 0)
    {
      json_free (o);
      return sbx_fail (err, ENOMEM, "journal line");
    }
  *out = o;
  return 0;
}

int
sbx_journal_decode (const char *line, size_t len, json_t **out, char **text, sbx_err *err)
{
  cleanup_free char *fixed = NULL;
  json_t *o = NULL;
  sbx_err ignored;

  *out = NULL, *text = NULL;
  if (json_parse (line, len, "journal line", &o, &ignored) == 0 && json_is (o, JSON_OBJECT))
    {
      *out = o;
      *text = strndup (line, len);
      return *text ? 0 : sbx_fail (err, ENOMEM, "journal line");
    }
  json_free (o), o = NULL;
  fixed = repair (line, len);
  if (fixed && json_parse (fixed, strlen (fixed), "journal line", &o, &ignored) == 0 && json_is (o, JSON_OBJECT))
    {
      *out = o;
      *text = steal_pointer (&fixed);
      return 0;
    }
  json_free (o);
  return unreadable (line, len, out, text, err);
}
