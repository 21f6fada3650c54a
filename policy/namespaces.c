/* namespaces.c - namespace stage: every container gets its own pid and mount namespaces (unless an annotation
   opts out, loudly) and a cgroup namespace added when the engine asked for none. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

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

int
sbx_allow_host_ns (const json_t *spec, unsigned *allow, sbx_err *err)
{
  const char *v = json_annotation (spec, SBX_ANN_ALLOW_HOST_NS);

  *allow = 0;
  if (v == NULL)
    return 0;
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
        return sbx_fail (err, EINVAL, "annotation %s=\"%s\": unknown namespace \"%.*s\" (expected a list of %s)",
                         SBX_ANN_ALLOW_HOST_NS, v, (int) len, name,
                         "pid,mount,network,ipc,uts,cgroup");
      *allow |= bit;
      p += strcspn (p, ",");
      p += *p == ',';
    }
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
  json_t *lnx, *namespaces, *ns;
  unsigned allow;

  if (sbx_allow_host_ns (spec, &allow, err) < 0)
    return -1;
  if (json_obj_ensure (spec, "linux", &lnx, err) < 0)
    return -1;
  if (json_get_typed (lnx, "namespaces", JSON_ARRAY, &namespaces, err) < 0)
    return sbx_wrap (err, "linux");
  if (namespaces == NULL)
    {
      if ((namespaces = json_new_arr ()) == NULL)
        return sbx_fail (err, ENOMEM, "linux.namespaces");
      if (json_set (lnx, "namespaces", namespaces, err) < 0)
        return -1;
    }

  for (size_t i = 0; i < SBX_ARRAY_SIZE (required); i++)
    {
      if (find_ns (namespaces, required[i].type, &ns, err) < 0)
        return -1;
      if (ns != NULL)
        continue;
      if (!(allow & required[i].bit))
        return sbx_fail (err, EPERM,
                         "container %s has no %s namespace: %s; refused (annotation %s=%s allows it)", id,
                         required[i].type, required[i].why, SBX_ANN_ALLOW_HOST_NS, required[i].type);
      ctx->note (SBX_WARN, "container %s: shares the host's %s namespace: allowed by annotation %s", id,
                 required[i].type, SBX_ANN_ALLOW_HOST_NS);
    }

  /* A cgroup namespace hides the host's cgroup paths (and so the names of other containers); engines on cgroup
     v1 hosts default to the host's. */
  if (find_ns (namespaces, "cgroup", &ns, err) < 0)
    return -1;
  if (ns == NULL)
    {
      json_t *entry;

      if (allow & NS_CGROUP)
        {
          ctx->note (SBX_INFO, "container %s: shares the host's cgroup namespace: allowed by annotation %s", id,
                     SBX_ANN_ALLOW_HOST_NS);
          return 0;
        }
      if ((entry = json_new_obj ()) == NULL)
        return sbx_fail (err, ENOMEM, "linux.namespaces");
      if (json_set (entry, "type", json_new_str ("cgroup"), err) < 0)
        {
          json_free (entry);
          return -1;
        }
      if (json_arr_push (namespaces, entry, err) < 0)
        return -1;
    }
  return 0;
}
