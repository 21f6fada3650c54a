/* install_docker.c - `sbx install docker`: sbx-runtime merged into daemon.json's "runtimes", indented as Docker
   documents it, with a byte-exact backup; uninstall takes out exactly that and restores the backup when the rest
   of the file is unchanged. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "../oci/json.h"
#include "install.h"

/* ---- JSON (docker) -------------------------------------------------------------------------------------------- */

static void
put_string (FILE *f, const char *s)
{
  fputc ('"', f);
  for (const unsigned char *p = (const unsigned char *) s; *p; p++)
    switch (*p)
      {
      case '"': fputs ("\\\"", f); break;
      case '\\': fputs ("\\\\", f); break;
      case '\n': fputs ("\\n", f); break;
      case '\t': fputs ("\\t", f); break;
      case '\r': fputs ("\\r", f); break;
      case '\b': fputs ("\\b", f); break;
      case '\f': fputs ("\\f", f); break;
      default:
        if (*p < 0x20)
          fprintf (f, "\\u%04x", *p);
        else
          fputc (*p, f);
      }
  fputc ('"', f);
}

/* daemon.json is edited by people: write it indented the way Docker's documentation shows it. */
static void
put_json (FILE *f, const json_t *v, int depth)
{
  size_t n;

  switch (json_type_of (v))
    {
    case JSON_NULL: fputs ("null", f); return;
    case JSON_BOOL: fputs (json_is_true (v) ? "true" : "false", f); return;
    case JSON_NUMBER: fputs (json_num_raw (v), f); return;
    case JSON_STRING: put_string (f, json_str (v)); return;
    case JSON_OBJECT:
      n = json_obj_len (v);
      if (n == 0)
        {
          fputs ("{}", f);
          return;
        }
      fputs ("{\n", f);
      for (size_t i = 0; i < n; i++)
        {
          fprintf (f, "%*s", 2 * (depth + 1), "");
          put_string (f, json_obj_key (v, i));
          fputs (": ", f);
          put_json (f, json_obj_val (v, i), depth + 1);
          fputs (i + 1 < n ? ",\n" : "\n", f);
        }
      fprintf (f, "%*s}", 2 * depth, "");
      return;
    case JSON_ARRAY:
      n = json_arr_len (v);
      if (n == 0)
        {
          fputs ("[]", f);
          return;
        }
      fputs ("[\n", f);
      for (size_t i = 0; i < n; i++)
        {
          fprintf (f, "%*s", 2 * (depth + 1), "");
          put_json (f, json_arr_at (v, i), depth + 1);
          fputs (i + 1 < n ? ",\n" : "\n", f);
        }
      fprintf (f, "%*s]", 2 * depth, "");
      return;
    }
}

static char *
json_pretty (const json_t *v)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&buf, &len);

  if (f == NULL)
    return NULL;
  put_json (f, v, 0);
  fputc ('\n', f);
  fclose (f);
  return buf;
}

/* Parse daemon.json text; blank text is an empty object (dockerd accepts a missing or empty file). */
static int
parse_daemon_json (const char *text, size_t len, const char *path, json_t **out, sbx_err *err)
{
  if (strspn (text, " \t\r\n") == len)
    {
      *out = json_new_obj ();
      return *out ? 0 : sbx_fail (err, ENOMEM, "parse %s", path);
    }
  if (json_parse (text, len, path, out, err) < 0)
    return -1;
  if (!json_is (*out, JSON_OBJECT))
    {
      json_free (*out);
      return sbx_fail (err, 0, "%s: the top level is not a JSON object", path);
    }
  return 0;
}

static bool
json_same (const json_t *a, const json_t *b)
{
  cleanup_free char *sa = NULL, *sb = NULL;
  size_t la, lb;
  sbx_err err;

  return json_serialize (a, &sa, &la, &err) == 0 && json_serialize (b, &sb, &lb, &err) == 0 && la == lb
         && memcmp (sa, sb, la) == 0;
}

int
sbx_docker_install (const struct opts *o, sbx_err *err)
{
  cleanup_free char *text = NULL, *pretty = NULL;
  json_t *root = NULL, *runtimes, *entry, *have;
  const char *backup = NULL, *old;
  size_t len;
  bool exists;
  mode_t mode;
  int ret = -1;

  if (install_read (o->config, &text, &len, &exists, &mode, err) < 0
      || parse_daemon_json (text, len, o->config, &root, err) < 0)
    return -1;
  runtimes = json_find (root, "runtimes");
  if (runtimes != NULL && !json_is (runtimes, JSON_OBJECT) && !json_is (runtimes, JSON_NULL))
    {
      sbx_fail (err, 0, "%s: \"runtimes\" is not an object", o->config);
      goto out;
    }
  have = runtimes ? json_find (runtimes, o->name) : NULL;
  if (have != NULL)
    {
      old = json_str (json_find (have, "path"));
      if (old != NULL && strcmp (old, o->runtime) == 0)
        {
          printf ("sbx install docker: %s already has runtimes.%s = {\"path\": \"%s\"}; nothing to do\n", o->config,
                  o->name, o->runtime);
          ret = 0;
        }
      else
        sbx_fail (err, 0, "%s already defines a runtime named \"%s\" (path %s); remove it or pick --name", o->config,
                  o->name, old ? old : "?");
      goto out;
    }
  if (json_obj_ensure (root, "runtimes", &runtimes, err) < 0)
    goto out;
  entry = json_new_obj ();
  if (entry == NULL)
    {
      sbx_fail (err, ENOMEM, "edit %s", o->config);
      goto out;
    }
  /* json_set owns its value from the call on, on failure too. */
  if (json_set (runtimes, o->name, entry, err) < 0 || json_set (entry, "path", json_new_str (o->runtime), err) < 0)
    goto out;
  pretty = json_pretty (root);
  if (pretty == NULL)
    {
      sbx_fail (err, ENOMEM, "format %s", o->config);
      goto out;
    }
  printf ("sbx install docker: %s %s: runtimes.%s = {\"path\": \"%s\"}\n", o->dry_run ? "would add to" : "added to",
          o->config, o->name, o->runtime);
  if (o->dry_run)
    {
      printf ("--- %s (new content, not written: --dry-run) ---\n%s", o->config, pretty);
      ret = 0;
      goto out;
    }
  if (exists && install_backup (o->config, text, mode, &backup, err) < 0)
    goto out;
  if (install_write (o->config, pretty, mode, err) < 0)
    goto out;
  if (backup)
    printf ("  previous file saved as %s\n", backup);
  printf ("  next: restart dockerd (e.g. systemctl restart docker), then: docker run --runtime %s ...\n"
          "  undo: sbx uninstall docker%s\n",
          o->name, exists ? "" : " (removes the file again: it did not exist)");
  ret = 0;
out:
  json_free (root);
  return ret;
}

int
sbx_docker_uninstall (const struct opts *o, sbx_err *err)
{
  cleanup_free char *text = NULL, *pretty = NULL, *btext = NULL, *bpath = install_asprintf ("%s" BACKUP_SUFFIX, o->config);
  json_t *root = NULL, *broot = NULL, *runtimes;
  size_t len, blen;
  bool exists, bexists;
  mode_t mode, bmode;
  int ret = -1;

  if (bpath == NULL)
    return sbx_fail (err, ENOMEM, "uninstall docker");
  if (install_read (o->config, &text, &len, &exists, &mode, err) < 0)
    return -1;
  if (!exists)
    {
      printf ("sbx uninstall docker: %s does not exist; nothing to undo\n", o->config);
      return 0;
    }
  if (parse_daemon_json (text, len, o->config, &root, err) < 0)
    return -1;
  if (install_read (bpath, &btext, &blen, &bexists, &bmode, err) < 0
      || (bexists && parse_daemon_json (btext, blen, bpath, &broot, err) < 0))
    goto out;
  runtimes = json_find (root, "runtimes");
  if (!json_is (runtimes, JSON_OBJECT) || !json_del (runtimes, o->name))
    {
      printf ("sbx uninstall docker: %s has no runtime named \"%s\"; nothing to undo\n", o->config, o->name);
      ret = 0;
      goto out;
    }
  /* Drop the "runtimes" object install created, not one the user had. */
  if (json_obj_len (runtimes) == 0 && (broot == NULL || json_find (broot, "runtimes") == NULL))
    json_del (root, "runtimes");
  printf ("sbx uninstall docker: %s %s: runtimes.%s\n", o->dry_run ? "would remove from" : "removed from", o->config,
          o->name);
  if (o->dry_run)
    {
      ret = 0;
      goto out;
    }
  if (broot != NULL && json_same (root, broot))
    {
      /* Nothing else changed since install: put the user's bytes back, formatting and all. */
      if (install_write (o->config, btext, bmode, err) < 0 || install_remove (bpath, err) < 0)
        goto out;
      printf ("  restored %s from %s\n", o->config, bpath);
    }
  else if (broot == NULL && json_obj_len (root) == 0)
    {
      if (install_remove (o->config, err) < 0)
        goto out;
      printf ("  removed %s (install had created it)\n", o->config);
    }
  else
    {
      pretty = json_pretty (root);
      if (pretty == NULL || install_write (o->config, pretty, mode, err) < 0)
        goto out;
      if (bexists && install_remove (bpath, err) < 0)
        goto out;
      if (bexists)
        printf ("  the file changed since install; kept those changes and removed %s\n", bpath);
    }
  printf ("  next: restart dockerd\n");
  ret = 0;
out:
  json_free (root);
  json_free (broot);
  return ret;
}
