/* namespaces.c - namespace stage: every container gets its own pid and mount namespaces (unless an annotation
   opts out where sbx.json allows it, loudly) and a cgroup namespace added when the engine asked for none.  A
   namespace joined by path counts as the container's own only when it is not the host's. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/util.h"
#include "policy.h"

/* The OCI names, in the order of the bits of a host-ns allow set. */
static const char *const ns_names[] = { "pid", "mount", "network", "ipc", "uts", "cgroup", "user", "time" };

enum
{
  NS_PID = 1 << 0,
  NS_MOUNT = 1 << 1,
  NS_CGROUP = 1 << 5,
};

static int
ns_bit (const char *name, size_t len)
{
  /* Users write what docker and podman call them: "net", "mnt". */
  if (len == 3 && strncmp (name, "net", 3) == 0)
    return 1 << 2;
  if (len == 3 && strncmp (name, "mnt", 3) == 0)
    return NS_MOUNT;
  for (size_t i = 0; i < SBX_ARRAY_SIZE (ns_names); i++)
    if (strlen (ns_names[i]) == len && strncmp (ns_names[i], name, len) == 0)
      return 1 << i;
  return 0;
}

/* The namespaces[] entry of TYPE, or NULL. */
static int
find_ns (json_t *namespaces, const char *type, json_t **out, sbx_err *err)
{
  *out = NULL;
  for (size_t i = 0; i < json_arr_len (namespaces); i++)
    {
      json_t *ns = json_arr_at (namespaces, i), *t;

      if (!json_is (ns, JSON_OBJECT))
        return sbx_fail (err, EINVAL, "linux.namespaces[%zu] is not an object", i);
      if (json_get_typed (ns, "type", JSON_STRING, &t, err) < 0)
        return sbx_wrap (err, "linux.namespaces[%zu]", i);
      if (t && strcmp (json_str (t), type) == 0)
        *out = ns;
    }
  return 0;
}

int
sbx_ns_list_parse (const char *v, const char *what, unsigned *bits, sbx_err *err)
{
  *bits = 0;
  for (const char *p = v; *p;)
    {
      size_t len = strcspn (p, ",");
      const char *name = p;
      int bit;

      while (len > 0 && *name == ' ')
        name++, len--;
      while (len > 0 && name[len - 1] == ' ')
        len--;
      bit = len ? ns_bit (name, len) : 0;
      if (bit == 0)
        return sbx_fail (err, EINVAL, "%s=\"%.80s\": unknown namespace \"%.*s\" (expected a list of %s)", what, v,
                         (int) (len > 32 ? 32 : len), name, "pid,mount,network,ipc,uts,cgroup");
      *bits |= bit;
      p += strcspn (p, ",");
      p += *p == ',';
    }
  return 0;
}

int
sbx_allow_host_ns (const json_t *spec, unsigned *allow, sbx_err *err)
{
  const char *v = json_annotation (spec, SBX_ANN_ALLOW_HOST_NS);

  *allow = 0;
  return v ? sbx_ns_list_parse (v, "annotation " SBX_ANN_ALLOW_HOST_NS, allow, err) : 0;
}

/* /proc/PID/ns names of the OCI types. */
static const char *
proc_name (const char *type)
{
  static const char *const map[][2] = { { "pid", "pid" },       { "mount", "mnt" },   { "network", "net" },
                                        { "ipc", "ipc" },       { "uts", "uts" },     { "cgroup", "cgroup" },
                                        { "user", "user" },     { "time", "time" } };
  for (size_t i = 0; i < SBX_ARRAY_SIZE (map); i++)
    if (strcmp (map[i][0], type) == 0)
      return map[i][1];
  return NULL;
}

/* The inode numbers the kernel gives the initial namespaces of these types (include/linux/proc_ns.h); mount and
   network namespaces have none fixed. */
static unsigned long
initial_ino (const char *procname)
{
  static const struct
  {
    const char *name;
    unsigned long ino;
  } fixed[] = { { "ipc", 0xEFFFFFFFUL }, { "uts", 0xEFFFFFFEUL },    { "user", 0xEFFFFFFDUL },
                { "pid", 0xEFFFFFFCUL }, { "cgroup", 0xEFFFFFFBUL }, { "time", 0xEFFFFFFAUL } };
  for (size_t i = 0; i < SBX_ARRAY_SIZE (fixed); i++)
    if (strcmp (fixed[i].name, procname) == 0)
      return fixed[i].ino;
  return 0;
}

int
sbx_ns_is_host_refs (const char *procname, const char *path, const char *self_fmt, const char *init_fmt, bool *host,
                     sbx_err *err)
{
  char ref_path[128];
  struct stat st, self, init;

  *host = false;
  if (procname == NULL)
    return sbx_fail (err, EINVAL, "namespace path %s: unknown namespace type", path);
  if (stat (path, &st) < 0)
    return sbx_fail (err, errno, "namespace path %s", path);
  /* sbx's own namespace is no container's (sbx-runtime runs in the engine's, usually the host's). */
  snprintf (ref_path, sizeof ref_path, self_fmt, procname);
  if (stat (ref_path, &self) < 0)
    return sbx_fail (err, errno, "stat %s (to compare namespace path %s)", ref_path, path);
  if (st.st_dev == self.st_dev && st.st_ino == self.st_ino)
    *host = true;
  /* The host's own: the initial namespace where its number is fixed... */
  if (st.st_dev == self.st_dev && st.st_ino == initial_ino (procname))
    *host = true;
  /* ... and pid 1's, the outermost sbx can see when sbx-runtime runs inside an engine's namespaces.  Some hosts
     refuse to show pid 1's namespaces even to root (an LSM): then the two checks above stand. */
  snprintf (ref_path, sizeof ref_path, init_fmt, procname);
  if (stat (ref_path, &init) == 0)
    {
      if (st.st_dev == init.st_dev && st.st_ino == init.st_ino)
        *host = true;
    }
  else if (errno != EACCES && errno != EPERM)
    return sbx_fail (err, errno, "stat %s (to compare namespace path %s)", ref_path, path);
  return 0;
}

int
sbx_ns_is_host (const char *procname, const char *path, bool *host, sbx_err *err)
{
  return sbx_ns_is_host_refs (procname, path, "/proc/self/ns/%s", "/proc/1/ns/%s", host, err);
}

/* What the engine's linux.namespaces say about one type: absent, a new namespace, or joined by path (and then
   whether that path is the host's own). */
struct ns_entry
{
  json_t *obj;
  const char *path;
  bool host;
};

static int
scan_ns (json_t *namespaces, const char *type, struct ns_entry *e, struct sbx_policy_ctx *ctx, sbx_err *err)
{
  json_t *path;

  memset (e, 0, sizeof *e);
  if (find_ns (namespaces, type, &e->obj, err) < 0)
    return -1;
  if (e->obj == NULL)
    return 0;
  if (json_get_typed (e->obj, "path", JSON_STRING, &path, err) < 0)
    return sbx_wrap (err, "linux.namespaces (%s)", type);
  if (path == NULL || *json_str (path) == '\0')
    return 0;
  e->path = json_str (path);
  /* A namespace joined by path is new to the container only if it is not the host's: resolve it, and fail closed
     when that cannot be done. */
  if ((ctx->ns_is_host ?: sbx_ns_is_host) (proc_name (type), e->path, &e->host, err) < 0)
    return sbx_wrap (err, "linux.namespaces (%s): cannot tell whether %s is the host's namespace; refused", type,
                     e->path);
  return 0;
}

/* The annotation's opt-outs, each of which sbx.json must allow. */
static int
host_ns_allowed (const json_t *spec, struct sbx_policy_ctx *ctx, unsigned *allow, sbx_err *err)
{
  struct sbx_tenant_allow tenant;
  unsigned refused;

  if (sbx_allow_host_ns (spec, allow, err) < 0)
    return -1;
  if (*allow == 0)
    return 0;
  if (sbx_tenant_allowances (spec, ctx, &tenant, err) < 0)
    return -1;
  refused = *allow & ~tenant.host_ns;
  for (size_t i = 0; i < SBX_ARRAY_SIZE (ns_names); i++)
    if (refused & (1u << i))
      {
        char what[128], value[64];
        snprintf (what, sizeof what, "annotation %s naming %s (the container would share the host's)",
                  SBX_ANN_ALLOW_HOST_NS, ns_names[i]);
        snprintf (value, sizeof value, "\"%s\"", ns_names[i]);
        return sbx_tenant_refuse (err, &tenant, what, "allow_host_ns", value);
      }
  return 0;
}

static int
ensure_array (json_t *spec, json_t **namespaces, sbx_err *err)
{
  json_t *lnx;

  if (json_obj_ensure (spec, "linux", &lnx, err) < 0)
    return -1;
  if (json_get_typed (lnx, "namespaces", JSON_ARRAY, namespaces, err) < 0)
    return sbx_wrap (err, "linux");
  if (*namespaces != NULL)
    return 0;
  if ((*namespaces = json_new_arr ()) == NULL)
    return sbx_fail (err, ENOMEM, "linux.namespaces");
  return json_set (lnx, "namespaces", *namespaces, err);
}

/* A cgroup namespace hides the host's cgroup paths (and so the names of other containers); engines on cgroup v1
   hosts default to the host's.  Joining the host's by path is the same as having none: it becomes a new one. */
static int
cgroup_ns (json_t *namespaces, const struct ns_entry *e, unsigned allow, const char *id, struct sbx_policy_ctx *ctx,
           sbx_err *err)
{
  json_t *entry;

  if (e->obj != NULL && !e->host)
    return 0;
  if (allow & NS_CGROUP)
    {
      ctx->note (SBX_INFO, "container %s: shares the host's cgroup namespace: allowed by annotation %s", id,
                 SBX_ANN_ALLOW_HOST_NS);
      return 0;
    }
  if (e->obj != NULL)
    {
      ctx->note (SBX_INFO, "container %s: the cgroup namespace at %s is the host's: given a new one instead", id,
                 e->path);
      json_del (e->obj, "path");
      return 0;
    }
  if ((entry = json_new_obj ()) == NULL)
    return sbx_fail (err, ENOMEM, "linux.namespaces");
  if (json_set (entry, "type", json_new_str ("cgroup"), err) < 0)
    {
      json_free (entry);
      return -1;
    }
  return json_arr_push (namespaces, entry, err);
}

int
sbx_stage_namespaces (json_t *spec, struct sbx_policy_ctx *ctx, sbx_err *err)
{
  static const struct
  {
    const char *type;
    unsigned bit;
    const char *why;
  } required[] = {
    { "pid", NS_PID, "it would see and signal every process of the host" },
    { "mount", NS_MOUNT, "it would mount over the host's file systems" },
  };
  const char *id = ctx->container_id ? ctx->container_id : "?";
  json_t *namespaces;
  struct ns_entry e;
  unsigned allow;

  if (host_ns_allowed (spec, ctx, &allow, err) < 0 || ensure_array (spec, &namespaces, err) < 0)
    return -1;
  /* Every path is resolved, whatever its type: one that cannot be is refused. */
  for (size_t i = 0; i < SBX_ARRAY_SIZE (ns_names); i++)
    if (scan_ns (namespaces, ns_names[i], &e, ctx, err) < 0)
      return -1;

  for (size_t i = 0; i < SBX_ARRAY_SIZE (required); i++)
    {
      if (scan_ns (namespaces, required[i].type, &e, ctx, err) < 0)
        return -1;
      if (e.obj != NULL && !e.host)
        continue;
      if (!(allow & required[i].bit))
        {
          if (e.host)
            return sbx_fail (err, EPERM,
                             "container %s joins the host's %s namespace (%s): %s; refused (annotation %s=%s allows "
                             "it where sbx.json does)",
                             id, required[i].type, e.path, required[i].why, SBX_ANN_ALLOW_HOST_NS, required[i].type);
          return sbx_fail (err, EPERM,
                           "container %s has no %s namespace: %s; refused (annotation %s=%s allows it where sbx.json "
                           "does)",
                           id, required[i].type, required[i].why, SBX_ANN_ALLOW_HOST_NS, required[i].type);
        }
      ctx->note (SBX_WARN, "container %s: shares the host's %s namespace: allowed by annotation %s", id,
                 required[i].type, SBX_ANN_ALLOW_HOST_NS);
    }

  if (scan_ns (namespaces, "cgroup", &e, ctx, err) < 0)
    return -1;
  return cgroup_ns (namespaces, &e, allow, id, ctx, err);
}
