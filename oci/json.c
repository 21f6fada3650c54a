/* json.c - yajl tree parsing, validation and editing (json_write.c writes trees out). */
#define _GNU_SOURCE
#include "json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>
#include <yajl/yajl_tree.h>

#include "../common/util.h"

/* The tree is built from yajl's callbacks rather than with yajl_tree_parse: each object and array is allocated
   once at its exact size (yajl_tree grows them one element at a time), nesting is bounded as it is read, and key
   collisions are refused as each object closes.  The nodes are yajl_val_s as yajl_tree makes them, so
   yajl_tree_free frees them. */
struct builder
{
  json_t **vals; /* pending values of every open container, innermost last */
  char **keys;   /* for objects: the key of each pending value (NULL in arrays) */
  size_t n, cap;
  struct
  {
    json_t *node;
    size_t start;
  } open[SBX_JSON_MAX_DEPTH + 1];
  int depth;
  char *pending_key;
  json_t *root;
  const char *what;
  sbx_err *err;
  bool failed; /* err holds the reason; yajl only says it was cancelled */
};

/* Where tree memory comes from.  Normally malloc, so yajl_tree_free can free any tree.  A one-shot process that
   gave up freeing (json_free_disable) takes it from an arena instead: no allocator overhead per node or string,
   and the smallest memory footprint, which is what a process that lives for a few milliseconds pays for. */
static bool free_disabled;

#define ARENA_CHUNK (64u << 10)

static void *
t_alloc (size_t n)
{
  static char *next;
  static size_t left;
  void *p;

  if (!free_disabled)
    return malloc (n);
  n = (n + 7) & ~(size_t) 7;
  if (n > ARENA_CHUNK / 4)
    return malloc (n);
  if (n > left)
    {
      if ((next = malloc (ARENA_CHUNK)) == NULL)
        return left = 0, NULL;
      left = ARENA_CHUNK;
    }
  p = next;
  next += n;
  left -= n;
  return p;
}

static void *
t_zalloc (size_t n)
{
  void *p = t_alloc (n);
  if (p)
    memset (p, 0, n);
  return p;
}

/* P (OLD bytes) moved to a block of NEW bytes; P stays valid when that fails. */
static void *
t_grow (void *p, size_t old, size_t new)
{
  void *np;

  if (!free_disabled)
    return realloc (p, new);
  if ((np = t_alloc (new)) != NULL && old)
    memcpy (np, p, old < new ? old : new);
  return np;
}

static void
t_free (void *p)
{
  if (!free_disabled)
    free (p);
}

static char *
copy_text (const void *s, size_t len)
{
  char *c = t_alloc (len + 1);
  if (c)
    {
      memcpy (c, s, len);
      c[len] = '\0';
    }
  return c;
}

static char *
t_strdup (const char *s)
{
  return copy_text (s, strlen (s));
}

static int
b_fail (struct builder *b, int code, const char *msg)
{
  sbx_fail (b->err, code, "%s: %s", b->what, msg);
  b->failed = true;
  return 0;
}

/* Hand V to the innermost open container (or make it the root). */
static int
b_add (struct builder *b, json_t *v)
{
  if (v == NULL)
    return b_fail (b, ENOMEM, "out of memory");
  if (b->depth == 0)
    {
      b->root = v;
      return 1;
    }
  if (b->n == b->cap)
    {
      size_t cap = b->cap ? b->cap * 2 : 256;
      json_t **vals = realloc (b->vals, cap * sizeof *vals);
      char **keys = vals ? realloc (b->keys, cap * sizeof *keys) : NULL;
      if (vals)
        b->vals = vals;
      if (keys == NULL)
        {
          json_free (v);
          return b_fail (b, ENOMEM, "out of memory");
        }
      b->keys = keys;
      b->cap = cap;
    }
  b->keys[b->n] = b->pending_key;
  b->vals[b->n++] = v;
  b->pending_key = NULL;
  return 1;
}

static json_t *
new_node (yajl_type t)
{
  json_t *v = t_zalloc (sizeof *v);
  if (v)
    v->type = t;
  return v;
}

static int
b_null (void *ctx)
{
  return b_add (ctx, new_node (yajl_t_null));
}

static int
b_bool (void *ctx, int val)
{
  return b_add (ctx, new_node (val ? yajl_t_true : yajl_t_false));
}

static int
b_number (void *ctx, const char *s, size_t len)
{
  json_t *v = new_node (yajl_t_number);
  char *end;

  if (v == NULL || (v->u.number.r = copy_text (s, len)) == NULL)
    {
      t_free (v);
      return b_add (ctx, NULL);
    }
  errno = 0;
  v->u.number.i = strtoll (v->u.number.r, &end, 10);
  if (errno == 0 && *end == '\0')
    v->u.number.flags |= YAJL_NUMBER_INT_VALID;
  errno = 0;
  v->u.number.d = strtod (v->u.number.r, &end);
  if (errno == 0 && *end == '\0')
    v->u.number.flags |= YAJL_NUMBER_DOUBLE_VALID;
  return b_add (ctx, v);
}

/* A \u0000 escape decodes to a NUL byte, which would cut the C string short here but not in the delegate. */
static int
b_nul (struct builder *b, const unsigned char *s, size_t len)
{
  if (memchr (s, '\0', len) == NULL)
    return 0;
  sbx_fail (b->err, EINVAL, "%s: a string holds a NUL character (\\u0000)", b->what);
  b->failed = true;
  return 1;
}

static int
b_string (void *ctx, const unsigned char *s, size_t len)
{
  json_t *v;

  if (b_nul (ctx, s, len))
    return 0;
  v = new_node (yajl_t_string);

  if (v == NULL || (v->u.string = copy_text (s, len)) == NULL)
    {
      t_free (v);
      return b_add (ctx, NULL);
    }
  return b_add (ctx, v);
}

static int
b_key (void *ctx, const unsigned char *s, size_t len)
{
  struct builder *b = ctx;

  if (b_nul (b, s, len))
    return 0;
  if ((b->pending_key = copy_text (s, len)) == NULL)
    return b_fail (b, ENOMEM, "out of memory");
  return 1;
}

static int
b_open (struct builder *b, yajl_type t)
{
  json_t *v;

  if (b->depth == SBX_JSON_MAX_DEPTH)
    {
      sbx_fail (b->err, EINVAL, "%s: JSON nested deeper than %d levels", b->what, SBX_JSON_MAX_DEPTH);
      b->failed = true;
      return 0;
    }
  if ((v = new_node (t)) == NULL)
    return b_fail (b, ENOMEM, "out of memory");
  b->open[b->depth].node = v;
  b->open[b->depth].start = b->n;
  /* The key under which the container goes in its parent waits on the stack with it. */
  b->open[b->depth].node->u.object.keys = (const char **) b->pending_key;
  b->pending_key = NULL;
  b->depth++;
  return 1;
}

static int
b_close (struct builder *b)
{
  json_t *v = b->open[b->depth - 1].node;
  size_t start = b->open[b->depth - 1].start, n = b->n - start;
  char *key = (char *) v->u.object.keys;
  json_t **vals = NULL;

  v->u.object.keys = NULL;
  if (n && (vals = t_alloc (n * sizeof *vals)) == NULL)
    return b_fail (b, ENOMEM, "out of memory");
  if (n)
    memcpy (vals, b->vals + start, n * sizeof *vals);
  if (v->type == yajl_t_object)
    {
      const char **keys = NULL;
      if (n && (keys = t_alloc (n * sizeof *keys)) == NULL)
        {
          t_free (vals);
          return b_fail (b, ENOMEM, "out of memory");
        }
      if (n)
        memcpy (keys, b->keys + start, n * sizeof *keys);
      v->u.object.keys = keys;
      v->u.object.values = vals;
      v->u.object.len = n;
      b->n = start;
      b->depth--;
      if (json_check_keys ((char **) keys, n, b->what, b->err) < 0)
        {
          b->failed = true;
          json_free (v);
          t_free (key);
          return 0;
        }
    }
  else
    {
      for (size_t i = start; i < b->n; i++)
        t_free (b->keys[i]);
      v->u.array.values = vals;
      v->u.array.len = n;
      b->n = start;
      b->depth--;
    }
  b->pending_key = key;
  return b_add (b, v);
}

static int
b_start_map (void *ctx)
{
  return b_open (ctx, yajl_t_object);
}

static int
b_start_array (void *ctx)
{
  return b_open (ctx, yajl_t_array);
}

static int
b_end (void *ctx)
{
  return b_close (ctx);
}

static const yajl_callbacks builder_callbacks = {
  .yajl_null = b_null,
  .yajl_boolean = b_bool,
  .yajl_number = b_number,
  .yajl_string = b_string,
  .yajl_start_map = b_start_map,
  .yajl_map_key = b_key,
  .yajl_end_map = b_end,
  .yajl_start_array = b_start_array,
  .yajl_end_array = b_end,
};

/* Whatever a failed parse left open is freed (the containers first, with what they already hold). */
static void
builder_discard (struct builder *b)
{
  for (size_t i = 0; i < b->n; i++)
    {
      t_free (b->keys[i]);
      json_free (b->vals[i]);
    }
  for (int i = 0; i < b->depth; i++)
    {
      t_free ((char *) b->open[i].node->u.object.keys);
      t_free (b->open[i].node);
    }
  t_free (b->pending_key);
  json_free (b->root);
}

int
json_parse (const char *buf, size_t len, const char *what, json_t **out, sbx_err *err)
{
  struct builder b = { .what = what, .err = err };
  yajl_handle h;
  yajl_status st;
  int rc = 0;

  if (strlen (buf) != len)
    return sbx_fail (err, EINVAL, "%s: contains a NUL byte", what);
  h = yajl_alloc (&builder_callbacks, NULL, &b);
  if (h == NULL)
    return sbx_fail (err, ENOMEM, "%s: parser", what);
  /* What yajl_tree_parse allowed before: comments, nothing after the document. */
  yajl_config (h, yajl_allow_comments, 1);
  st = yajl_parse (h, (const unsigned char *) buf, len);
  if (st == yajl_status_ok)
    st = yajl_complete_parse (h);
  if (st != yajl_status_ok)
    {
      if (!b.failed)
        {
          unsigned char *msg = yajl_get_error (h, 0, NULL, 0);
          char *nl = msg ? strchr ((char *) msg, '\n') : NULL;
          if (nl)
            *nl = '\0';
          sbx_fail (err, EINVAL, "%s: invalid JSON: %s", what, msg && *msg ? (char *) msg : "parse error");
          yajl_free_error (h, msg);
        }
      builder_discard (&b);
      rc = -1;
    }
  else if (b.root == NULL)
    rc = sbx_fail (err, EINVAL, "%s: invalid JSON: empty document", what);
  else
    *out = b.root;
  yajl_free (h);
  free (b.vals);
  free (b.keys);
  return rc;
}

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
      else if (json_key_eq (k, key))
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
  /* A key the delegate would read as KEY (Go's case folding) goes: otherwise runc could read the engine's
     "noNewPrivilegEs": false after sbx's "noNewPrivileges": true, and the last one wins there. */
  for (size_t i = 0; i < obj->u.object.len;)
    if (strcmp (obj->u.object.keys[i], key) != 0 && json_key_eq (obj->u.object.keys[i], key))
      json_del (obj, obj->u.object.keys[i]);
    else
      i++;
  for (size_t i = 0; i < obj->u.object.len; i++)
    if (strcmp (obj->u.object.keys[i], key) == 0)
      {
        json_free (obj->u.object.values[i]);
        obj->u.object.values[i] = val;
        return 0;
      }
  k = t_strdup (key);
  keys = t_grow ((void *) obj->u.object.keys, obj->u.object.len * sizeof *keys, (obj->u.object.len + 1) * sizeof *keys);
  if (keys)
    obj->u.object.keys = keys;
  vals = t_grow (obj->u.object.values, obj->u.object.len * sizeof *vals, (obj->u.object.len + 1) * sizeof *vals);
  if (vals)
    obj->u.object.values = vals;
  if (k == NULL || keys == NULL || vals == NULL)
    {
      t_free (k);
      json_free (val);
      return sbx_fail (err, ENOMEM, "set \"%s\"", key);
    }
  keys[obj->u.object.len] = k;
  vals[obj->u.object.len] = val;
  obj->u.object.len++;
  return 0;
}

json_t *
json_take (json_t *obj, const char *key)
{
  for (size_t i = 0; i < json_obj_len (obj); i++)
    if (strcmp (obj->u.object.keys[i], key) == 0)
      {
        size_t rest = obj->u.object.len - i - 1;
        json_t *v = obj->u.object.values[i];
        t_free ((char *) obj->u.object.keys[i]);
        memmove (&obj->u.object.keys[i], &obj->u.object.keys[i + 1], rest * sizeof (char *));
        memmove (&obj->u.object.values[i], &obj->u.object.values[i + 1], rest * sizeof (json_t *));
        obj->u.object.len--;
        return v;
      }
  return NULL;
}

bool
json_del (json_t *obj, const char *key)
{
  json_t *v = json_take (obj, key);

  json_free (v);
  return v != NULL;
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
  vals = t_grow (arr->u.array.values, arr->u.array.len * sizeof *vals, (arr->u.array.len + 1) * sizeof *vals);
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
  if (v && (v->u.string = t_strdup (s)) == NULL)
    {
      t_free (v);
      return NULL;
    }
  return v;
}

json_t *
json_new_str_take (char *s)
{
  json_t *v = s ? new_node (yajl_t_string) : NULL;

  if (v == NULL)
    {
      free (s);
      return NULL;
    }
  v->u.string = s;
  return v;
}

json_t *
json_new_int (long long n)
{
  json_t *v = new_node (yajl_t_number);
  char text[32];

  if (v == NULL)
    return NULL;
  snprintf (text, sizeof text, "%lld", n);
  if ((v->u.number.r = t_strdup (text)) == NULL)
    {
      t_free (v);
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
      if ((c->u.number.r = t_strdup (v->u.number.r)) == NULL)
        {
          t_free (c);
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
