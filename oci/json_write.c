/* json_write.c - the JSON tree as text: the compact form yajl_gen writes, straight into one growing buffer. */
#define _GNU_SOURCE
#include "json.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

/* Serialization writes the compact form yajl_gen writes (same escapes), straight into one growing buffer. */
struct out
{
  char *p;
  size_t len, cap;
  bool oom;
};

static void
out_reserve (struct out *o, size_t more)
{
  char *np;
  size_t cap;

  if (o->oom || o->len + more < o->cap)
    return;
  for (cap = o->cap ? o->cap : 16384; cap <= o->len + more; cap *= 2)
    ;
  np = realloc (o->p, cap);
  if (np == NULL)
    {
      o->oom = true;
      return;
    }
  o->p = np;
  o->cap = cap;
}

static void
out_raw (struct out *o, const char *s, size_t n)
{
  out_reserve (o, n);
  if (!o->oom)
    {
      memcpy (o->p + o->len, s, n);
      o->len += n;
    }
}

/* Bytes that JSON strings cannot hold as they are (control characters, the quote and the backslash), and NUL,
   which ends a string: a table, since this test runs on every byte written. */
static const bool stops_run[256] = {
  [0 ... 0x1f] = true,
  ['"'] = true,
  ['\\'] = true,
};

static void
out_string (struct out *o, const char *s)
{
  static const char hex[] = "0123456789ABCDEF";
  const unsigned char *p = (const unsigned char *) s;
  size_t n = strlen (s);

  /* Room for the string as it is; an escape (rare) makes room for the worst case of the rest. */
  out_reserve (o, n + 2);
  if (o->oom)
    return;
  o->p[o->len++] = '"';
  while (*p)
    {
      const unsigned char *run = p;
      char *w;

      while (!stops_run[*p])
        p++;
      memcpy (o->p + o->len, run, (size_t) (p - run));
      o->len += (size_t) (p - run);
      if (*p == '\0')
        break;
      /* The escape's 6 bytes and the rest of the string as it is. */
      out_reserve (o, 6 + n - (size_t) (p - (const unsigned char *) s) + 1);
      if (o->oom)
        return;
      w = o->p + o->len;
      w[0] = '\\';
      switch (*p)
        {
        case '"': w[1] = '"'; o->len += 2; break;
        case '\\': w[1] = '\\'; o->len += 2; break;
        case '\b': w[1] = 'b'; o->len += 2; break;
        case '\f': w[1] = 'f'; o->len += 2; break;
        case '\n': w[1] = 'n'; o->len += 2; break;
        case '\r': w[1] = 'r'; o->len += 2; break;
        case '\t': w[1] = 't'; o->len += 2; break;
        default:
          memcpy (w + 1, "u00", 3);
          w[4] = hex[*p >> 4];
          w[5] = hex[*p & 15];
          o->len += 6;
        }
      p++;
    }
  o->p[o->len++] = '"';
}

static int
gen (struct out *o, const json_t *v)
{
  switch (v->type)
    {
    case yajl_t_string:
      out_string (o, v->u.string);
      return 0;
    case yajl_t_number:
      out_raw (o, v->u.number.r, strlen (v->u.number.r));
      return 0;
    case yajl_t_true:
      out_raw (o, "true", 4);
      return 0;
    case yajl_t_false:
      out_raw (o, "false", 5);
      return 0;
    case yajl_t_null:
      out_raw (o, "null", 4);
      return 0;
    case yajl_t_object:
      out_raw (o, "{", 1);
      for (size_t i = 0; i < v->u.object.len; i++)
        {
          if (i)
            out_raw (o, ",", 1);
          out_string (o, v->u.object.keys[i]);
          out_raw (o, ":", 1);
          if (gen (o, v->u.object.values[i]) < 0)
            return -1;
        }
      out_raw (o, "}", 1);
      return 0;
    case yajl_t_array:
      out_raw (o, "[", 1);
      for (size_t i = 0; i < v->u.array.len; i++)
        {
          if (i)
            out_raw (o, ",", 1);
          if (gen (o, v->u.array.values[i]) < 0)
            return -1;
        }
      out_raw (o, "]", 1);
      return 0;
    default:
      return -1;
    }
}

int
json_serialize (const json_t *v, char **out, size_t *len, sbx_err *err)
{
  struct out o = { 0 };

  if (gen (&o, v) < 0)
    {
      free (o.p);
      return sbx_fail (err, EINVAL, "serialize JSON: a value of unknown type");
    }
  out_raw (&o, "", 1);
  if (o.oom)
    {
      free (o.p);
      return sbx_fail (err, ENOMEM, "serialize JSON");
    }
  *out = o.p;
  *len = o.len - 1;
  return 0;
}
