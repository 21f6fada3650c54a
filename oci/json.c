/* json.c - yajl tree parsing, validation, editing and serialization. */
#define _GNU_SOURCE
#include "json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "../common/util.h"

/* The next character of S under Go's key folding (encoding/json folds ASCII case, and since Go 1.21 maps each
   rune through ToUpper(ToLower(r)), which turns U+017F, U+212A, U+0130 and U+0131 into ASCII letters).  Returns
   the folded byte and advances *S; non-ASCII runes that do not fold to ASCII are returned byte by byte. */
static int
fold_next (const unsigned char **s)
{
  const unsigned char *p = *s;

  if (p[0] >= 'a' && p[0] <= 'z')
    return (*s)++, p[0] - 'a' + 'A';
  if (p[0] == 0xc5 && p[1] == 0xbf) /* U+017F LATIN SMALL LETTER LONG S */
    return *s += 2, 'S';
  if (p[0] == 0xc4 && (p[1] == 0xb0 || p[1] == 0xb1)) /* U+0130, U+0131 dotted/dotless I */
    return *s += 2, 'I';
  if (p[0] == 0xe2 && p[1] == 0x84 && p[2] == 0xaa) /* U+212A KELVIN SIGN */
    return *s += 3, 'K';
  return (*s)++, p[0];
}

static bool
fold_eq (const char *a, const char *b)
{
  const unsigned char *x = (const unsigned char *) a, *y = (const unsigned char *) b;

  while (*x && *y)
    if (fold_next (&x) != fold_next (&y))
      return false;
  return *x == '\0' && *y == '\0';
}

static int
check_depth (const char *buf, size_t len, const char *what, sbx_err *err)
{
  int depth = 0;
  bool in_str = false;

  for (size_t i = 0; i < len; i++)
    {
      char c = buf[i];
      if (in_str)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            in_str = false;
        }
      else if (c == '"')
        in_str = true;
      else if ((c == '{' || c == '[') && ++depth > SBX_JSON_MAX_DEPTH)
        return sbx_fail (err, EINVAL, "%s: JSON nested deeper than %d levels", what, SBX_JSON_MAX_DEPTH);
      else if (c == '}' || c == ']')
        depth--;
    }
  return 0;
}

static int
check_keys (const json_t *v, const char *what, sbx_err *err)
{
  if (YAJL_IS_OBJECT (v))
    {
      for (size_t i = 0; i < v->u.object.len; i++)
        {
          for (size_t j = 0; j < i; j++)
            if (fold_eq (v->u.object.keys[i], v->u.object.keys[j]))
              return sbx_fail (err, EINVAL, "%s: keys \"%s\" and \"%s\" collide (duplicate or differing only in case)",
                               what, v->u.object.keys[j], v->u.object.keys[i]);
          if (check_keys (v->u.object.values[i], what, err) < 0)
            return -1;
        }
    }
  else if (YAJL_IS_ARRAY (v))
    for (size_t i = 0; i < v->u.array.len; i++)
      if (check_keys (v->u.array.values[i], what, err) < 0)
        return -1;
  return 0;
}

int
json_parse (const char *buf, size_t len, const char *what, json_t **out, sbx_err *err)
{
  char errbuf[256] = "";
  json_t *v;

  if (strlen (buf) != len)
    return sbx_fail (err, EINVAL, "%s: contains a NUL byte", what);
  if (check_depth (buf, len, what, err) < 0)
    return -1;
  v = yajl_tree_parse (buf, errbuf, sizeof errbuf);
  if (v == NULL)
    {
      char *nl = strchr (errbuf, '\n');
      if (nl)
        *nl = '\0';
      return sbx_fail (err, EINVAL, "%s: invalid JSON: %s", what, errbuf[0] ? errbuf : "parse error");
    }
  if (check_keys (v, what, err) < 0)
    {
      yajl_tree_free (v);
      return -1;
    }
  *out = v;
  return 0;
}

static bool free_disabled;

void
json_free_disable (void)
{
  free_disabled = true;
}

void
json_free (json_t *v)
{
  if (v && !free_disabled)
    yajl_tree_free (v);
}

static yajl_gen_status
gen (yajl_gen g, const json_t *v)
{
  yajl_gen_status s;

  switch (v->type)
    {
    case yajl_t_string:
      return yajl_gen_string (g, (const unsigned char *) v->u.string, strlen (v->u.string));
    case yajl_t_number:
      return yajl_gen_number (g, v->u.number.r, strlen (v->u.number.r));
    case yajl_t_true:
      return yajl_gen_bool (g, 1);
    case yajl_t_false:
      return yajl_gen_bool (g, 0);
    case yajl_t_null:
      return yajl_gen_null (g);
    case yajl_t_object:
      if ((s = yajl_gen_map_open (g)) != yajl_gen_status_ok)
        return s;
      for (size_t i = 0; i < v->u.object.len; i++)
        {
          const char *k = v->u.object.keys[i];
          if ((s = yajl_gen_string (g, (const unsigned char *) k, strlen (k))) != yajl_gen_status_ok
              || (s = gen (g, v->u.object.values[i])) != yajl_gen_status_ok)
            return s;
        }
      return yajl_gen_map_close (g);
    case yajl_t_array:
      if ((s = yajl_gen_array_open (g)) != yajl_gen_status_ok)
        return s;
      for (size_t i = 0; i < v->u.array.len; i++)
        if ((s = gen (g, v->u.array.values[i])) != yajl_gen_status_ok)
          return s;
      return yajl_gen_array_close (g);
    default:
      return yajl_gen_invalid_string;
    }
}

int
json_serialize (const json_t *v, char **out, size_t *len, sbx_err *err)
{
  yajl_gen g = yajl_gen_alloc (NULL);
  const unsigned char *buf;
  size_t n;
  yajl_gen_status s;

  if (g == NULL)
    return sbx_fail (err, ENOMEM, "serialize JSON");
  s = gen (g, v);
  if (s != yajl_gen_status_ok)
    {
      yajl_gen_free (g);
      return sbx_fail (err, EINVAL, "serialize JSON: yajl status %d", (int) s);
    }
  yajl_gen_get_buf (g, &buf, &n);
  *out = malloc (n + 1);
  if (*out == NULL)
    {
      yajl_gen_free (g);
      return sbx_fail (err, ENOMEM, "serialize JSON");
    }
  memcpy (*out, buf, n);
  (*out)[n] = '\0';
  *len = n;
  yajl_gen_free (g);
  return 0;
}

enum json_type
json_type_of (const json_t *v)
{
  switch (v->type)
    {
    case yajl_t_string: return JSON_STRING;
    case yajl_t_number: return JSON_NUMBER;
    case yajl_t_object: return JSON_OBJECT;
    case yajl_t_array: return JSON_ARRAY;
    case yajl_t_true:
    case yajl_t_false: return JSON_BOOL;
    default: return JSON_NULL;
    }
}

size_t
json_obj_len (const json_t *obj)
{
  return YAJL_IS_OBJECT (obj) ? obj->u.object.len : 0;
}

const char *
json_obj_key (const json_t *obj, size_t i)
{
  return obj->u.object.keys[i];
}

json_t *
json_obj_val (const json_t *obj, size_t i)
{
  return obj->u.object.values[i];
}

json_t *
json_find (const json_t *obj, const char *key)
{
  for (size_t i = 0; i < json_obj_len (obj); i++)
    if (strcmp (obj->u.object.keys[i], key) == 0)
      return obj->u.object.values[i];
  return NULL;
}

int
json_get (const json_t *obj, const char *key, json_t **out, sbx_err *err)
{
  *out = NULL;
  for (size_t i = 0; i < json_obj_len (obj); i++)
    {
      const char *k = obj->u.object.keys[i];
      if (strcmp (k, key) == 0)
        *out = obj->u.object.values[i];
      else if (fold_eq (k, key))
        return sbx_fail (err, EINVAL, "key \"%s\" would be read as \"%s\" by the delegate; refusing an ambiguous spec",
                         k, key);
    }
  return 0;
}

static const char *
type_name (enum json_type t)
{
  static const char *names[] = { "null", "a boolean", "a number", "a string", "an object", "an array" };
  return names[t];
}

int
json_get_typed (const json_t *obj, const char *key, enum json_type type, json_t **out, sbx_err *err)
{
  if (json_get (obj, key, out, err) < 0)
    return -1;
  if (*out != NULL && YAJL_IS_NULL (*out))
    *out = NULL;
  if (*out != NULL && json_type_of (*out) != type)
    return sbx_fail (err, EINVAL, "\"%s\" must be %s, not %s", key, type_name (type), type_name (json_type_of (*out)));
  return 0;
}

int
json_set (json_t *obj, const char *key, json_t *val, sbx_err *err)
{
  const char **keys;
  json_t **vals;
  char *k;

  if (!YAJL_IS_OBJECT (obj))
    {
      json_free (val);
      return sbx_fail (err, EINVAL, "set \"%s\": not an object", key);
    }
  for (size_t i = 0; i < obj->u.object.len; i++)
    if (strcmp (obj->u.object.keys[i], key) == 0)
      {
        json_free (obj->u.object.values[i]);
        obj->u.object.values[i] = val;
        return 0;
      }
  k = strdup (key);
  keys = realloc ((void *) obj->u.object.keys, (obj->u.object.len + 1) * sizeof *keys);
  if (keys)
    obj->u.object.keys = keys;
  vals = realloc (obj->u.object.values, (obj->u.object.len + 1) * sizeof *vals);
  if (vals)
    obj->u.object.values = vals;
  if (k == NULL || keys == NULL || vals == NULL)
    {
      free (k);
      json_free (val);
      return sbx_fail (err, ENOMEM, "set \"%s\"", key);
    }
  keys[obj->u.object.len] = k;
  vals[obj->u.object.len] = val;
  obj->u.object.len++;
  return 0;
}

bool
json_del (json_t *obj, const char *key)
{
  for (size_t i = 0; i < json_obj_len (obj); i++)
    if (strcmp (obj->u.object.keys[i], key) == 0)
      {
        size_t rest = obj->u.object.len - i - 1;
        free ((char *) obj->u.object.keys[i]);
        json_free (obj->u.object.values[i]);
        memmove (&obj->u.object.keys[i], &obj->u.object.keys[i + 1], rest * sizeof (char *));
        memmove (&obj->u.object.values[i], &obj->u.object.values[i + 1], rest * sizeof (json_t *));
        obj->u.object.len--;
        return true;
      }
  return false;
}

int
json_obj_ensure (json_t *obj, const char *key, json_t **out, sbx_err *err)
{
  if (json_get_typed (obj, key, JSON_OBJECT, out, err) < 0)
    return -1;
  if (*out)
    return 0;
  *out = json_new_obj ();
  if (*out == NULL)
    return sbx_fail (err, ENOMEM, "create \"%s\"", key);
  return json_set (obj, key, *out, err);
}

size_t
json_arr_len (const json_t *arr)
{
  return YAJL_IS_ARRAY (arr) ? arr->u.array.len : 0;
}

json_t *
json_arr_at (const json_t *arr, size_t i)
{
  return arr->u.array.values[i];
}

int
json_arr_push (json_t *arr, json_t *val, sbx_err *err)
{
  json_t **vals;

  if (!YAJL_IS_ARRAY (arr))
    {
      json_free (val);
      return sbx_fail (err, EINVAL, "append: not an array");
    }
  vals = realloc (arr->u.array.values, (arr->u.array.len + 1) * sizeof *vals);
  if (vals == NULL || val == NULL)
    {
      if (vals)
        arr->u.array.values = vals;
      json_free (val);
      return sbx_fail (err, ENOMEM, "append to array");
    }
  arr->u.array.values = vals;
  vals[arr->u.array.len++] = val;
  return 0;
}

void
json_arr_del (json_t *arr, size_t i)
{
  json_free (arr->u.array.values[i]);
  memmove (&arr->u.array.values[i], &arr->u.array.values[i + 1], (arr->u.array.len - i - 1) * sizeof (json_t *));
  arr->u.array.len--;
}

const char *
json_str (const json_t *v)
{
  return v && YAJL_IS_STRING (v) ? v->u.string : NULL;
}

bool
json_is_true (const json_t *v)
{
  return v && YAJL_IS_TRUE (v);
}

const char *
json_num_raw (const json_t *v)
{
  return v && YAJL_IS_NUMBER (v) ? v->u.number.r : NULL;
}

bool
json_num_int (const json_t *v, long long *out)
{
  if (!v || !YAJL_IS_INTEGER (v))
    return false;
  *out = v->u.number.i;
  return true;
}

static json_t *
new_node (yajl_type t)
{
  json_t *v = calloc (1, sizeof *v);
  if (v)
    v->type = t;
  return v;
}

json_t *
json_new_obj (void)
{
  return new_node (yajl_t_object);
}

json_t *
json_new_arr (void)
{
  return new_node (yajl_t_array);
}

json_t *
json_new_null (void)
{
  return new_node (yajl_t_null);
}

json_t *
json_new_bool (bool b)
{
  return new_node (b ? yajl_t_true : yajl_t_false);
}

json_t *
json_new_str (const char *s)
{
  json_t *v = new_node (yajl_t_string);
  if (v && (v->u.string = strdup (s)) == NULL)
    {
      free (v);
      return NULL;
    }
  return v;
}

json_t *
json_new_int (long long n)
{
  json_t *v = new_node (yajl_t_number);
  if (v == NULL)
    return NULL;
  if (asprintf (&v->u.number.r, "%lld", n) < 0)
    {
      free (v);
      return NULL;
    }
  v->u.number.i = n;
  v->u.number.d = (double) n;
  v->u.number.flags = YAJL_NUMBER_INT_VALID | YAJL_NUMBER_DOUBLE_VALID;
  return v;
}

json_t *
json_dup (const json_t *v)
{
  json_t *c;
  sbx_err err;

  switch (v->type)
    {
    case yajl_t_string:
      return json_new_str (v->u.string);
    case yajl_t_number:
      c = new_node (yajl_t_number);
      if (c == NULL)
        return NULL;
      c->u.number = v->u.number;
      if ((c->u.number.r = strdup (v->u.number.r)) == NULL)
        {
          free (c);
          return NULL;
        }
      return c;
    case yajl_t_object:
      c = json_new_obj ();
      for (size_t i = 0; c && i < v->u.object.len; i++)
        if (json_set (c, v->u.object.keys[i], json_dup (v->u.object.values[i]), &err) < 0)
          {
            json_free (c);
            return NULL;
          }
      return c;
    case yajl_t_array:
      c = json_new_arr ();
      for (size_t i = 0; c && i < v->u.array.len; i++)
        if (json_arr_push (c, json_dup (v->u.array.values[i]), &err) < 0)
          {
            json_free (c);
            return NULL;
          }
      return c;
    default:
      return new_node (v->type);
    }
}

const char *
json_annotation (const json_t *spec, const char *key)
{
  return json_str (json_find (json_find (spec, "annotations"), key));
}
