/* imagecfg.c - an OCI image's run config (Entrypoint, Cmd, Env, User, WorkingDir): parsed as hostile input (types
   checked, bounded, unknown keys ignored as docker ignores them) and applied to `sbx run` as `docker run` does. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../oci/json.h"
#include "imagecfg.h"

/* KEY of OBJ as docker's Go decoder finds it: case-insensitively (json_parse already refused two keys it would
   read as one). */
static json_t *
find_ci (const json_t *obj, const char *key)
{
  for (size_t i = 0; i < json_obj_len (obj); i++)
    if (json_key_eq (json_obj_key (obj, i), key))
      return json_obj_val (obj, i);
  return NULL;
}

static void
strv_free (char **v)
{
  for (size_t i = 0; v && v[i]; i++)
    free (v[i]);
  free (v);
}

static int
checked_str (const json_t *v, const char *what, size_t max, char **out, sbx_err *err)
{
  const char *s = json_str (v);

  if (s == NULL)
    return sbx_fail (err, EINVAL, "%s: expected a string", what);
  if (strlen (s) > max)
    return sbx_fail (err, E2BIG, "%s: longer than %zu bytes", what, max);
  if ((*out = strdup (s)) == NULL)
    return sbx_fail (err, ENOMEM, "%s", what);
  return 0;
}

/* A list of strings; for Entrypoint and Cmd also one string, as docker's strslice reads it.  Null: unset. */
static int
str_list (const json_t *v, const char *what, bool one_ok, char ***out, sbx_err *err)
{
  size_t n;
  char **list;

  *out = NULL;
  if (v == NULL || json_type_of (v) == JSON_NULL)
    return 0;
  if (one_ok && json_type_of (v) == JSON_STRING)
    n = 1;
  else if (json_type_of (v) == JSON_ARRAY)
    n = json_arr_len (v);
  else
    return sbx_fail (err, EINVAL, "%s: expected a list of strings", what);
  if (n > SBX_IMGCFG_LIST_MAX)
    return sbx_fail (err, E2BIG, "%s: more than %d entries", what, SBX_IMGCFG_LIST_MAX);
  if ((list = calloc (n + 1, sizeof *list)) == NULL)
    return sbx_fail (err, ENOMEM, "%s", what);
  for (size_t i = 0; i < n; i++)
    {
      const json_t *e = json_type_of (v) == JSON_ARRAY ? json_arr_at (v, i) : v;
      if (checked_str (e, what, SBX_IMGCFG_STR_MAX, &list[i], err) < 0)
        {
          strv_free (list);
          return sbx_wrap (err, "entry %zu", i);
        }
    }
  *out = list;
  return 0;
}

static int
opt_str (const json_t *v, const char *what, size_t max, char **out, sbx_err *err)
{
  *out = NULL;
  if (v == NULL || json_type_of (v) == JSON_NULL)
    return 0;
  if (checked_str (v, what, max, out, err) < 0)
    return -1;
  if (**out == '\0')
    {
      free (*out);
      *out = NULL;
    }
  return 0;
}

static int
parse_config (const json_t *cfg, struct sbx_image_config *c, sbx_err *err)
{
  if (str_list (find_ci (cfg, "Entrypoint"), "Entrypoint", true, &c->entrypoint, err) < 0
      || str_list (find_ci (cfg, "Cmd"), "Cmd", true, &c->cmd, err) < 0
      || str_list (find_ci (cfg, "Env"), "Env", false, &c->env, err) < 0
      || opt_str (find_ci (cfg, "User"), "User", SBX_IMGCFG_USER_MAX, &c->user, err) < 0
      || opt_str (find_ci (cfg, "WorkingDir"), "WorkingDir", 4095, &c->workdir, err) < 0)
    return -1;
  for (size_t i = 0; c->env && c->env[i]; i++)
    if (c->env[i][0] == '=' || strchr (c->env[i], '=') == NULL)
      return sbx_fail (err, EINVAL, "Env entry %zu: expected KEY=VALUE", i);
  if (c->workdir && c->workdir[0] != '/')
    return sbx_fail (err, EINVAL, "WorkingDir: not an absolute path");
  if (c->user && strchr (c->user, '\n'))
    return sbx_fail (err, EINVAL, "User: not a user name or id");
  return 0;
}

int
sbx_image_config_parse (const char *buf, size_t len, const char *what, struct sbx_image_config *c, sbx_err *err)
{
  json_t *top = NULL, *cfg;
  int rc = 0;

  memset (c, 0, sizeof *c);
  if (json_parse (buf, len, what, &top, err) < 0)
    return -1;
  if (json_type_of (top) != JSON_OBJECT)
    rc = sbx_fail (err, EINVAL, "%s: not a JSON object", what);
  else if ((cfg = find_ci (top, "config")) != NULL && json_type_of (cfg) != JSON_NULL)
    {
      if (json_type_of (cfg) != JSON_OBJECT)
        rc = sbx_fail (err, EINVAL, "%s: \"config\" is not an object", what);
      else if (parse_config (cfg, c, err) < 0)
        rc = sbx_wrap (err, "%s: config", what);
    }
  json_free (top);
  if (rc < 0)
    sbx_image_config_free (c);
  return rc;
}

void
sbx_image_config_free (struct sbx_image_config *c)
{
  strv_free (c->entrypoint);
  strv_free (c->cmd);
  strv_free (c->env);
  free (c->user);
  free (c->workdir);
  memset (c, 0, sizeof *c);
}

/* ---- User ---- */

/* NAME (/etc/passwd or /etc/group) of the tree ROOTFD: resolved inside the tree (an absolute symlink or ".." stays
   in it, as in the sandbox), no magic links, a regular file, bounded.  *BUF NULL when it does not exist. */
static int
read_etc (int rootfd, const char *name, char **buf, sbx_err *err)
{
  struct open_how how = { .flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC,
                          .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV };
  cleanup_close int fd = syscall (SYS_openat2, rootfd, name, &how, sizeof how);
  struct stat st;
  size_t len;

  *buf = NULL;
  if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
    return 0;
  if (fd < 0)
    return sbx_fail (err, errno, "the image's %s", name);
  if (fstat (fd, &st) < 0)
    return sbx_fail (err, errno, "the image's %s", name);
  if (!S_ISREG (st.st_mode))
    return sbx_fail (err, EINVAL, "the image's %s: not a regular file", name);
  return sbx_read_fd (fd, SBX_IMGCFG_ETC_MAX, name, buf, &len, err);
}

static bool
numeric (const char *s, unsigned *out)
{
  char *end;
  unsigned long v;

  if (!isdigit ((unsigned char) *s))
    return false;
  errno = 0;
  v = strtoul (s, &end, 10);
  if (errno || *end || v >= 0xffffffffUL)
    return false;
  *out = v;
  return true;
}

/* The line of FILE (colon-separated, NF fields or more) whose field 0 is KEY, or whose field 2 is KEY's number.
   Fields are split in place into F. */
static bool
find_entry (char *file, const char *key, char **f, int nf)
{
  unsigned want, id;
  bool is_num = numeric (key, &want);

  for (char *line = file, *next; line && *line; line = next)
    {
      int n = 0;
      next = strchr (line, '\n');
      if (next)
        *next++ = '\0';
      for (char *p = line; p && n < nf; n++)
        {
          f[n] = p;
          if ((p = strchr (p, ':')) != NULL)
            *p++ = '\0';
        }
      if (n < 3 || line[0] == '#')
        continue;
      if (strcmp (f[0], key) == 0 || (is_num && numeric (f[2], &id) && id == want))
        return n >= nf;
    }
  return false;
}

/* The gids of the groups of FILE whose member list names NAME (at most SBX_IMGCFG_GROUPS_MAX, no repeats). */
static int
member_of (char *file, const char *name, gid_t **out, size_t *n, sbx_err *err)
{
  gid_t *gids = calloc (SBX_IMGCFG_GROUPS_MAX, sizeof *gids);
  unsigned id;

  *n = 0;
  if (gids == NULL)
    return sbx_fail (err, ENOMEM, "groups");
  for (char *line = file, *next; line && *line; line = next)
    {
      char *f[4] = { NULL }, *m, *save = NULL;
      int nf = 0;
      bool listed = false, seen = false;

      if ((next = strchr (line, '\n')) != NULL)
        *next++ = '\0';
      for (char *p = line; p && nf < 4; nf++)
        {
          f[nf] = p;
          if ((p = strchr (p, ':')) != NULL)
            *p++ = '\0';
        }
      if (nf < 4 || line[0] == '#' || !numeric (f[2], &id))
        continue;
      for (m = strtok_r (f[3], ",", &save); m && !listed; m = strtok_r (NULL, ",", &save))
        listed = strcmp (m, name) == 0;
      for (size_t i = 0; i < *n; i++)
        seen |= gids[i] == id;
      if (!listed || seen)
        continue;
      if (*n == SBX_IMGCFG_GROUPS_MAX)
        {
          free (gids);
          return sbx_fail (err, E2BIG, "user %s: in more than %d groups of the image's /etc/group", name,
                           SBX_IMGCFG_GROUPS_MAX);
        }
      gids[(*n)++] = id;
    }
  *out = gids;
  return 0;
}

int
sbx_image_user_resolve (int rootfd, const char *user, uid_t *uid, gid_t *gid, char **home, gid_t **sgids,
                        size_t *nsgids, sbx_err *err)
{
  cleanup_free char *spec = strdup (user), *passwd = NULL, *group = NULL, *name = NULL;
  char *f[7], *g;
  unsigned id;

  *home = NULL;
  *sgids = NULL;
  *nsgids = 0;
  if (spec == NULL)
    return sbx_fail (err, ENOMEM, "User");
  if ((g = strchr (spec, ':')) != NULL)
    *g++ = '\0';
  if (*spec == '\0' || (g && *g == '\0'))
    return sbx_fail (err, EINVAL, "User \"%s\": expected NAME|UID[:GROUP|GID]", user);
  if (read_etc (rootfd, "/etc/passwd", &passwd, err) < 0)
    return -1;
  /* docker's rule: a passwd entry (by name, or by number) gives the ids and home; a number without one is used
     as it is, with group 0; a name without one is an error. */
  *gid = 0;
  if (passwd && find_entry (passwd, spec, f, 7) && numeric (f[2], &id))
    {
      *uid = id;
      if (numeric (f[3], &id))
        *gid = id;
      if ((name = strdup (f[0])) == NULL || (f[5][0] == '/' && (*home = strdup (f[5])) == NULL))
        return sbx_fail (err, ENOMEM, "User");
    }
  else if (numeric (spec, &id))
    *uid = id;
  else
    return sbx_fail (err, ENOENT, "User \"%s\": no such user in the image's /etc/passwd", spec);
  if (g == NULL && name == NULL)
    return 0;
  if (read_etc (rootfd, "/etc/group", &group, err) < 0)
    goto fail;
  if (g == NULL)
    {
      /* No explicit group: the passwd entry's groups, as docker gives them. */
      if (group && member_of (group, name, sgids, nsgids, err) < 0)
        goto fail;
      return 0;
    }
  if (group && find_entry (group, g, f, 3) && numeric (f[2], &id))
    *gid = id;
  else if (numeric (g, &id))
    *gid = id;
  else
    {
      sbx_fail (err, ENOENT, "User \"%s\": no such group \"%s\" in the image's /etc/group", user, g);
      goto fail;
    }
  return 0;
fail:
  free (*home);
  *home = NULL;
  return -1;
}

/* ---- docker run's rules ---- */

static bool
env_key_eq (const char *a, const char *b)
{
  size_t n = strcspn (a, "=");
  return strncmp (a, b, n) == 0 && (b[n] == '=' || b[n] == '\0');
}

static int
keep_dup (struct sbx_run_opts *o, const char *s, char **out, sbx_err *err)
{
  if ((*out = sbx_run_keep (o, strdup (s))) == NULL)
    return sbx_fail (err, ENOMEM, "image config");
  return 0;
}

/* argv = (--entrypoint, else Entrypoint) + (the command line's command, else Cmd unless --entrypoint was given). */
static int
apply_argv (struct sbx_run_opts *o, const struct sbx_image_config *c, sbx_err *err)
{
  char *const *entry = o->has_entrypoint ? NULL : c->entrypoint;
  char *const *tail = o->cmd[0] ? o->cmd : (o->has_entrypoint ? NULL : c->cmd);
  size_t n = 0, ne = 0, nt = 0;
  char **argv;

  while (entry && entry[ne])
    ne++;
  while (tail && tail[nt])
    nt++;
  if ((argv = (char **) sbx_run_keep (o, (char *) calloc (ne + nt + 2, sizeof *argv))) == NULL)
    return sbx_fail (err, ENOMEM, "command");
  if (o->has_entrypoint && o->entrypoint[0] && keep_dup (o, o->entrypoint, &argv[n++], err) < 0)
    return -1;
  for (size_t i = 0; i < ne; i++)
    if (keep_dup (o, entry[i], &argv[n++], err) < 0)
      return -1;
  for (size_t i = 0; i < nt; i++)
    if (keep_dup (o, tail[i], &argv[n++], err) < 0)
      return -1;
  if (n == 0)
    return sbx_fail (err, EINVAL, "no command given, and the image's config has no Entrypoint or Cmd (usage: sbx "
                                  "run [OPTIONS] [--] CMD [ARG...])");
  if (argv[0][0] == '\0')
    return sbx_fail (err, EINVAL, "empty command");
  o->cmd = argv;
  return 0;
}

/* Env: the image's, each key overridden by --env; then --env. */
static int
apply_env (struct sbx_run_opts *o, const struct sbx_image_config *c, const char *home, sbx_err *err)
{
  size_t n = 0, cap = o->nenv + 2;
  const char **env;

  for (size_t i = 0; c->env && c->env[i]; i++)
    cap++;
  if ((env = calloc (cap, sizeof *env)) == NULL)
    return sbx_fail (err, ENOMEM, "environment");
  for (size_t i = 0; c->env && c->env[i]; i++)
    {
      bool overridden = false;
      char *kept;
      for (size_t j = 0; j < o->nenv && !overridden; j++)
        overridden = env_key_eq (c->env[i], o->env[j]);
      if (overridden)
        continue;
      if (keep_dup (o, c->env[i], &kept, err) < 0)
        {
          free (env);
          return -1;
        }
      env[n++] = kept;
    }
  for (size_t i = 0; i < o->nenv; i++)
    env[n++] = o->env[i];
  if (home)
    {
      bool has_home = false;
      char *kv;
      for (size_t i = 0; i < n; i++)
        has_home |= env_key_eq ("HOME", env[i]);
      if (!has_home)
        {
          if (asprintf (&kv, "HOME=%s", home) < 0 || sbx_run_keep (o, kv) == NULL)
            {
              free (env);
              return sbx_fail (err, ENOMEM, "environment");
            }
          env[n++] = kv;
        }
    }
  free (o->env);
  o->env = env;
  o->nenv = n;
  return 0;
}

int
sbx_run_apply_image (struct sbx_run_opts *o, const struct sbx_image_config *c, const char *rootfs_source,
                     sbx_err *err)
{
  static const struct sbx_image_config none;
  cleanup_free char *home = NULL;

  if (c == NULL)
    c = &none;
  if (apply_argv (o, c, err) < 0)
    return -1;
  if (!o->has_user && c->user)
    {
      cleanup_close int rootfd = open (rootfs_source, O_PATH | O_DIRECTORY | O_CLOEXEC);
      uid_t uid;
      gid_t gid, *sgids = NULL;
      size_t nsgids = 0;

      if (rootfd < 0)
        return sbx_fail (err, errno, "%s", rootfs_source);
      if (sbx_image_user_resolve (rootfd, c->user, &uid, &gid, &home, &sgids, &nsgids, err) < 0)
        return sbx_wrap (err, "the image's config");
      if (sgids && sbx_run_keep (o, (char *) sgids) == NULL)
        return sbx_fail (err, ENOMEM, "groups");
      for (size_t i = 0; o->userns && i < nsgids; i++)
        if (sgids[i] >= SBX_RUN_USERNS_SIZE)
          return sbx_fail (err, EINVAL, "the image's User: group %u with --userns: only ids below %u are mapped",
                           (unsigned) sgids[i], SBX_RUN_USERNS_SIZE);
      o->groups = sgids;
      o->ngroups = nsgids;
      if (o->userns && (uid >= SBX_RUN_USERNS_SIZE || gid >= SBX_RUN_USERNS_SIZE))
        return sbx_fail (err, EINVAL, "the image's User %u:%u with --userns: only ids below %u are mapped", uid,
                         gid, SBX_RUN_USERNS_SIZE);
      o->has_user = true;
      o->uid = uid;
      o->gid = gid;
    }
  if (apply_env (o, c, home, err) < 0)
    return -1;
  if (!o->cwd && c->workdir && keep_dup (o, c->workdir, (char **) &o->cwd, err) < 0)
    return -1;
  return 0;
}
