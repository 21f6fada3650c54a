/* json.h - the JSON document model of sbx: a yajl tree behind an opaque type, with safe editing. */
#ifndef SBX_JSON_H
#define SBX_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/error.h"

typedef struct yajl_val_s json_t;

enum json_type
{
  JSON_NULL,
  JSON_BOOL,
  JSON_NUMBER,
  JSON_STRING,
  JSON_OBJECT,
  JSON_ARRAY,
};

/* Nesting deeper than this is refused before parsing: OCI documents are shallow, and the tree code recurses. */
#define SBX_JSON_MAX_DEPTH 64

/* Parse LEN bytes of BUF (which must be NUL-terminated at LEN).  Refuses NUL bytes, excessive nesting, and
   objects holding two keys that a case-folding decoder (Go's encoding/json, used by runc) would read as one:
   otherwise sbx could harden one "seccomp" while the delegate reads another.  WHAT names the input. */
int json_parse (const char *buf, size_t len, const char *what, json_t **out, sbx_err *err);
void json_free (json_t *v);
/* Refuse N object keys that collide as Go's encoding/json reads them (duplicates, or equal under its case
   folding); WHAT names the object in the message. */
int json_check_keys (char **keys, size_t n, const char *what, sbx_err *err);
/* Whether keys A and B are one key to Go's encoding/json. */
bool json_key_eq (const char *a, const char *b);

/* From now on json_free does nothing: for a one-shot process that is about to exec (sbx-runtime), freeing
   parsed trees is half of its work and nobody sees the memory again.  Never for long-lived processes. */
void json_free_disable (void);
int json_serialize (const json_t *v, char **out, size_t *len, sbx_err *err);

enum json_type json_type_of (const json_t *v);
#define json_is(v, t) ((v) != NULL && json_type_of (v) == (t))

/* Objects. */
size_t json_obj_len (const json_t *obj);
const char *json_obj_key (const json_t *obj, size_t i);
json_t *json_obj_val (const json_t *obj, size_t i);
/* Exact look-up; NULL when absent or when OBJ is not an object. */
json_t *json_find (const json_t *obj, const char *key);
/* Look-up of a field the delegate interprets: fails when the object holds a key that differs from KEY only in
   case folding (runc would take it for KEY).  *OUT is NULL when absent. */
int json_get (const json_t *obj, const char *key, json_t **out, sbx_err *err);
/* Like json_get, and also fails when the value present is not of TYPE (JSON null counts as absent). */
int json_get_typed (const json_t *obj, const char *key, enum json_type type, json_t **out, sbx_err *err);
/* Set KEY to VAL (ownership of VAL passes to OBJ, also on failure), replacing an existing value. */
int json_set (json_t *obj, const char *key, json_t *val, sbx_err *err);
bool json_del (json_t *obj, const char *key);
/* Remove KEY from OBJ and hand its value to the caller (NULL when absent). */
json_t *json_take (json_t *obj, const char *key);
/* The object at KEY, created empty when absent or null; fails when KEY holds something else. */
int json_obj_ensure (json_t *obj, const char *key, json_t **out, sbx_err *err);

/* Arrays. */
size_t json_arr_len (const json_t *arr);
json_t *json_arr_at (const json_t *arr, size_t i);
int json_arr_push (json_t *arr, json_t *val, sbx_err *err);
void json_arr_del (json_t *arr, size_t i);

/* Scalars. */
const char *json_str (const json_t *v);        /* NULL unless a string */
bool json_is_true (const json_t *v);
const char *json_num_raw (const json_t *v);    /* the number exactly as written; NULL unless a number */
bool json_num_int (const json_t *v, long long *out);

json_t *json_new_obj (void);
json_t *json_new_arr (void);
json_t *json_new_str (const char *s);
/* A string node that takes S (from malloc) instead of copying it: for large strings. */
json_t *json_new_str_take (char *s);
json_t *json_new_bool (bool b);
json_t *json_new_int (long long n);
json_t *json_new_null (void);
json_t *json_dup (const json_t *v);

/* Annotations helpers: the string at spec.annotations[KEY], or NULL. */
const char *json_annotation (const json_t *spec, const char *key);

#endif
