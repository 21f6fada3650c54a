/* test_json.c - oci/json: round-trip fidelity and refusal of hostile documents. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../oci/json.h"
#include "tap.h"

static char *
roundtrip (const char *in)
{
  json_t *v;
  char *out = NULL;
  size_t len;
  sbx_err err;

  if (json_parse (in, strlen (in), "t", &v, &err) < 0)
    return NULL;
  if (json_serialize (v, &out, &len, &err) < 0)
    out = NULL;
  json_free (v);
  return out;
}

static int
parse_fails (const char *in, const char *needle)
{
  json_t *v = NULL;
  sbx_err err = { 0 };
  int rc = json_parse (in, strlen (in), "t", &v, &err);
  json_free (v);
  return rc < 0 && strstr (err.msg, needle) != NULL;
}

/* Go's encoding/json (runc) matches a key to a field without regard to case.  Go 1.19 (Debian 12's runc) folds
   U+017F to s and U+212A (Kelvin) to k besides ASCII case; Go 1.21 and later map every rune through
   ToUpper(ToLower(r)), which also reads U+0130 and U+0131 as i.  sbx folds the union: every rune any of them
   reads as an ASCII letter, at the top level and in nested objects. */
static const struct
{
  const char *rune, *name, *key, *variant, *nested_key, *nested_variant;
} folds[] = {
  { "\xc5\xbf", "U+017F long s", "process", "proce\xc5\xbf" "s", "syscalls", "\xc5\xbf" "yscalls" },
  { "\xe2\x84\xaa", "U+212A Kelvin sign", "hooks", "hoo\xe2\x84\xaa" "s", "maskedPaths", "mas\xe2\x84\xaa" "edPaths" },
  { "\xc4\xb0", "U+0130 capital I with dot", "linux", "l\xc4\xb0" "nux", "noNewPrivileges", "noNewPr\xc4\xb0" "vileges" },
  { "\xc4\xb1", "U+0131 dotless i", "linux", "l\xc4\xb1" "nux", "capabilities", "capab\xc4\xb1" "lities" },
};

static void
fold_tests (void)
{
  for (size_t i = 0; i < sizeof folds / sizeof folds[0]; i++)
    {
      char in[512];
      json_t *v = NULL, *got = NULL, *inner;
      sbx_err err = { 0 };
      char *out = NULL;
      size_t len;

      snprintf (in, sizeof in, "{\"%s\":{},\"%s\":{}}", folds[i].key, folds[i].variant);
      tap_ok (parse_fails (in, "collide"), "%s: top-level \"%s\" beside \"%s\" is refused", folds[i].name,
              folds[i].variant, folds[i].key);
      snprintf (in, sizeof in, "{\"a\":{\"b\":[{\"%s\":1,\"%s\":2}]}}", folds[i].nested_variant, folds[i].nested_key);
      tap_ok (parse_fails (in, "collide"), "%s: nested \"%s\" beside \"%s\" is refused", folds[i].name,
              folds[i].nested_variant, folds[i].nested_key);
      /* Only the variant present: runc reads it as the field, so sbx must not look past it. */
      snprintf (in, sizeof in, "{\"%s\":{\"%s\":true}}", folds[i].variant, folds[i].nested_key);
      if (json_parse (in, strlen (in), "t", &v, &err) == 0)
        tap_ok (json_get (v, folds[i].key, &got, &err) < 0 && strstr (err.msg, "ambiguous"),
                "%s: a lone top-level \"%s\" is an ambiguous \"%s\"", folds[i].name, folds[i].variant, folds[i].key);
      else
        tap_ok (false, "%s: parse %s: %s", folds[i].name, in, err.msg);
      json_free (v);
      snprintf (in, sizeof in, "{\"o\":{\"%s\":false}}", folds[i].nested_variant);
      v = NULL;
      if (json_parse (in, strlen (in), "t", &v, &err) == 0 && (inner = json_find (v, "o")) != NULL)
        {
          tap_ok (json_get (inner, folds[i].nested_key, &got, &err) < 0 && strstr (err.msg, "ambiguous"),
                  "%s: a lone nested \"%s\" is an ambiguous \"%s\"", folds[i].name, folds[i].nested_variant,
                  folds[i].nested_key);
          /* Setting the field drops the variant, which runc would otherwise read after sbx's value. */
          json_set (inner, folds[i].nested_key, json_new_bool (true), &err);
          json_serialize (v, &out, &len, &err);
          snprintf (in, sizeof in, "{\"o\":{\"%s\":true}}", folds[i].nested_key);
          tap_is_str (out, in, "%s: setting \"%s\" drops \"%s\"", folds[i].name, folds[i].nested_key,
                      folds[i].nested_variant);
          free (out);
        }
      else
        tap_ok (false, "%s: parse %s: %s", folds[i].name, in, err.msg);
      json_free (v);
    }
  /* Runes that no Go version reads as an ASCII letter stay distinct keys: refusing them would refuse specs runc
     reads without doubt, and folding them would let sbx harden a field runc does not read. */
  tap_ok (!parse_fails ("{\"l\xc3\xaenux\":{},\"linux\":{}}", "collide")
              && !parse_fails ("{\"pro\xe2\x84\xab" "ess\":{},\"process\":{}}", "collide")
              && !parse_fails ("{\"\xe1\xba\x9e" "\":1,\"ss\":2,\"SS\\u00df\":3}", "collide"),
          "U+00EE, U+212B and U+1E9E are not folded to ASCII");
}

int
main (void)
{
  char *s;

  /* Fidelity: numbers exactly as written (big unsigned seccomp args, floats), unicode, escapes, key order,
     unknown vendor keys. */
  s = roundtrip ("{\"a\":18446744073709551615,\"b\":-0.5e3,\"c\":\"\\u00e9\\n\\\"x\",\"vendor.x/y\":{\"k\":[1,null,true,false]}}");
  tap_is_str (s, "{\"a\":18446744073709551615,\"b\":-0.5e3,\"c\":\"\xc3\xa9\\n\\\"x\",\"vendor.x/y\":{\"k\":[1,null,true,false]}}",
              "round trip keeps numbers, strings, order and unknown keys");
  free (s);
  s = roundtrip ("{\"e\":[],\"o\":{},\"z\":0}");
  tap_is_str (s, "{\"e\":[],\"o\":{},\"z\":0}", "round trip keeps empty containers");
  free (s);

  /* Escapes written back as yajl_gen wrote them: quote, backslash, the named controls, \u00XX for the rest. */
  s = roundtrip ("{\"k\\\"ey\":\"a\\\\b\\/c\\t\\n\\r\\b\\f\\u0001\\u001f\\u007f end\"}");
  tap_is_str (s, "{\"k\\\"ey\":\"a\\\\b/c\\t\\n\\r\\b\\f\\u0001\\u001F\x7f end\"}",
              "strings and keys: every byte JSON cannot hold is escaped, nothing else");
  free (s);
  /* A long string with escapes far apart: the writer's buffer grows as it meets them. */
  {
    char in[70000], *p = in;
    p += sprintf (p, "[\"");
    for (int i = 0; i < 2000; i++)
      p += sprintf (p, "%030d\\\"", i);
    sprintf (p, "\"]");
    s = roundtrip (in);
    tap_ok (s && strcmp (s, in) == 0, "a 64 KiB string with 2000 escapes round-trips");
    free (s);
  }

  /* Hostile input. */
  tap_ok (parse_fails ("{\"a\":1,\"a\":2}", "collide"), "duplicate keys are refused");
  tap_ok (parse_fails ("{\"linux\":{\"seccomp\":{},\"Seccomp\":{}}}", "collide"),
          "keys differing only in case are refused (Go would merge them)");
  tap_ok (parse_fails ("{\"\xc5\xbf" "eccomp\":1,\"seccomp\":2}", "collide"),
          "U+017F long s folds to s as in Go's decoder");
  fold_tests ();
  tap_ok (parse_fails ("{\"a\":", "invalid JSON"), "truncated JSON is refused");
  tap_ok (parse_fails ("{\"names\":[\"read\\u0000x\"]}", "NUL") && parse_fails ("{\"a\\u0000b\":1}", "NUL"),
          "a \\u0000 escape in a string or a key is refused (it would cut the name short for sbx only)");
  tap_ok (parse_fails ("{\"a\":[1,{\"b\":\"x\",\"c\":[true,", "invalid JSON"),
          "JSON truncated inside nested containers is refused (what was built is freed)");
  tap_ok (parse_fails ("{\"x\":[{\"k\":1,\"K\":2}],\"y\":3}", "collide"),
          "colliding keys in a nested object are refused where they are");
  {
    char deep[400];
    memset (deep, '[', 200);
    memset (deep + 200, ']', 199);
    deep[399] = '\0';
    tap_ok (parse_fails (deep, "nested deeper"), "deep nesting is refused before parsing");
  }
  {
    const char in[] = "{\"a\":1}\0{\"b\":2}";
    json_t *v = NULL;
    sbx_err err;
    tap_ok (json_parse (in, sizeof in - 1, "t", &v, &err) < 0 && strstr (err.msg, "NUL"), "embedded NUL refused");
    json_free (v);
  }

  /* Ambiguous look-up: only a case variant present. */
  {
    json_t *v, *got;
    sbx_err err;
    json_parse ("{\"Seccomp\":{}}", 14, "t", &v, &err);
    tap_ok (json_get (v, "seccomp", &got, &err) < 0 && strstr (err.msg, "ambiguous"),
            "json_get refuses a key the delegate would read as the field asked for");
    json_free (v);
  }

  /* A large string adopted, not copied. */
  {
    json_t *v = json_new_obj ();
    sbx_err err;
    char *out;
    size_t len;
    json_set (v, "big", json_new_str_take (strdup ("taken")), &err);
    json_serialize (v, &out, &len, &err);
    tap_is_str (out, "{\"big\":\"taken\"}", "json_new_str_take: the node holds the caller's string");
    free (out);
    json_free (v);
  }

  /* Editing. */
  {
    json_t *v, *arr;
    sbx_err err;
    char *out;
    size_t len;
    json_parse ("{\"a\":[1,2,3],\"b\":1}", 19, "t", &v, &err);
    arr = json_find (v, "a");
    json_arr_del (arr, 1);
    json_set (v, "b", json_new_str ("x"), &err);
    json_set (v, "c", json_new_bool (true), &err);
    json_del (v, "a");
    json_serialize (v, &out, &len, &err);
    tap_is_str (out, "{\"b\":\"x\",\"c\":true}", "set replaces in place, appends new keys, delete removes");
    free (out);
    json_free (v);
  }

  /* Setting a field removes every key the delegate would read as it (runc: last one wins). */
  {
    const char in[] = "{\"noNewPrivilegEs\":false,\"x\":1}";
    json_t *v;
    sbx_err err;
    char *out = NULL;
    size_t len;
    json_parse (in, sizeof in - 1, "t", &v, &err);
    json_set (v, "noNewPrivileges", json_new_bool (true), &err);
    json_serialize (v, &out, &len, &err);
    tap_is_str (out, "{\"x\":1,\"noNewPrivileges\":true}", "set drops keys that fold to the one it sets");
    free (out);
    json_free (v);
  }
  return tap_done ();
}
