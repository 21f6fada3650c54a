/* seccomp.c - seccomp stage: the selected sbx profile intersected with the engine's filter, module block on top. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "build_id.h"
#include "../profiles/profile.h"
#include "../profiles/seccomp_oci.h"
#include "notify.h"
#include "policy.h"

/* The bounding set is the most the container can ever hold: a capability-conditioned rule is decided on it,
   after the capabilities stage has taken out what sbx forbids. */
static int
final_caps (const json_t *spec, const char ***caps, size_t *n, sbx_err *err)
{
  json_t *process, *capabilities, *bounding;

  *caps = NULL;
  *n = 0;
  if (json_get_typed (spec, "process", JSON_OBJECT, &process, err) < 0
      || (process && json_get_typed (process, "capabilities", JSON_OBJECT, &capabilities, err) < 0))
    return -1;
  if (process == NULL || capabilities == NULL)
    return 0;
  if (json_get_typed (capabilities, "bounding", JSON_ARRAY, &bounding, err) < 0)
    return -1;
  *caps = calloc (json_arr_len (bounding) + 1, sizeof **caps);
  if (*caps == NULL)
    return sbx_fail (err, ENOMEM, "capabilities");
  for (size_t i = 0; i < json_arr_len (bounding); i++)
    if (json_str (json_arr_at (bounding, i)))
      (*caps)[(*n)++] = json_str (json_arr_at (bounding, i));
  return 0;
}

/* Whether SECCOMP is the stand-in the crun compile stage leaves in linux.seccomp: kill by default, no rules, no
   architectures (flags and listener settings may remain). */
static bool
is_standin (const json_t *seccomp)
{
  const json_t *rules = json_find (seccomp, "syscalls");

  return json_is (seccomp, JSON_OBJECT)
         && strcmp (json_str (json_find (seccomp, "defaultAction")) ?: "", "SCMP_ACT_KILL_PROCESS") == 0
         && json_is (rules, JSON_ARRAY) && json_arr_len (rules) == 0 && json_find (seccomp, "architectures") == NULL
         && json_find (seccomp, "defaultErrnoRet") == NULL;
}

/* A spec sbx hardened for crun carries a stand-in in linux.seccomp and the real filter in an annotation: put the
   real one back, so hardening it again (runc run after create, a bundle reused) starts from the same filter.
   Users can set annotations in most engines, so the saved filter is trusted only in place of the stand-in
   (HAD_BPF: the spec also carried the precompiled filter the stand-in goes with); anywhere else it would let a
   user replace the engine's filter, and it is dropped. */
static int
restore_saved (json_t *spec, json_t *annotations, bool had_bpf, struct sbx_policy_ctx *ctx, sbx_err *err)
{
  const char *saved = json_str (json_find (annotations, SBX_ANN_SECCOMP_SAVED));
  json_t *linux_, *seccomp, *current;

  if (json_find (annotations, SBX_ANN_SECCOMP_SAVED) == NULL)
    return 0;
  current = json_find (json_find (spec, "linux"), "seccomp");
  if (saved == NULL || !had_bpf || !is_standin (current))
    {
      json_del (annotations, SBX_ANN_SECCOMP_SAVED);
      ctx->note (SBX_WARN, "container %s: dropped annotation %s: it does not stand beside sbx's own stand-in filter",
                 ctx->container_id ? ctx->container_id : "?", SBX_ANN_SECCOMP_SAVED);
      return 0;
    }
  if (json_parse (saved, strlen (saved), "annotation " SBX_ANN_SECCOMP_SAVED, &seccomp, err) < 0)
    return -1;
  if (!json_is (seccomp, JSON_OBJECT))
    {
      json_free (seccomp);
      return sbx_fail (err, EINVAL, "annotation %s is not a JSON object", SBX_ANN_SECCOMP_SAVED);
    }
  if (json_obj_ensure (spec, "linux", &linux_, err) < 0 || json_set (linux_, "seccomp", seccomp, err) < 0)
    return -1;
  json_del (annotations, SBX_ANN_SECCOMP_SAVED);
  return 0;
}

/* Whether F allows every call on every architecture ENGINE lists.  Not so when F lists fewer architectures: a call
   of an ABI a filter does not list is killed (no list: the native one alone). */
static bool
allows_all_of (const struct sbx_filter *f, const struct sbx_filter *engine)
{
  if (f->def.kind != SBX_ACT_ALLOW || f->nrules != 0)
    return false;
  if (f->narches == 0)
    return engine->narches == 0;
  for (size_t i = 0; i < engine->narches; i++)
    {
      bool listed = false;
      for (size_t j = 0; j < f->narches && !listed; j++)
        listed = strcmp (engine->arches[i], f->arches[j]) == 0;
      if (!listed)
        return false;
    }
  return true;
}

/* Replace the engine's filter ENGINE_JSON by ENGINE ∩ SBX, keeping its flags and listener settings.  NOTES gets
   what the intersection had to refuse beyond either filter. */
static int
intersect_into (json_t *engine_json, struct sbx_filter *sbx, char *notes, size_t notes_size, sbx_err *err)
{
  struct sbx_filter engine, merged;
  int rc;

  if (sbx_filter_from_oci (engine_json, "the engine's linux.seccomp", &engine, err) < 0)
    return -1;
  if (allows_all_of (sbx, &engine))
    {
      /* SBX refuses nothing the engine's filter lets run: the engine's filter stays as it wrote it. */
      sbx_filter_free (&engine);
      return 0;
    }
  rc = sbx_filter_intersect (&engine, sbx, &merged, notes, notes_size, err);
  sbx_filter_free (&engine);
  if (rc < 0)
    return -1;
  sbx_filter_drop_default (&merged);
  rc = sbx_filter_to_oci (&merged, engine_json, false, err);
  sbx_filter_free (&merged);
  return rc;
}

/* SRC's profile resolved for ENV into OUT. */
static int
resolve_src (const struct sbx_profile_src *src, const struct sbx_resolve_env *env, struct sbx_filter *out,
             sbx_err *err)
{
  json_t *profile;
  int rc;

  if (json_parse (src->data, src->len, src->origin, &profile, err) < 0)
    return -1;
  rc = sbx_profile_resolve (profile, src->origin, env, out, err);
  json_free (profile);
  return rc;
}

/* The sbx side of the filter: the selected profile, intersected with a container's own on top of it (EXTRA). */
static int
sbx_side (const struct sbx_profile_sel *sel, const struct sbx_resolve_env *env, struct sbx_filter *out, char *notes,
          size_t notes_size, sbx_err *err)
{
  struct sbx_filter node, extra;
  int rc;

  if (sel->extra.data == NULL)
    return resolve_src (&sel->node, env, out, err);
  if (resolve_src (&sel->node, env, &node, err) < 0)
    return -1;
  if (resolve_src (&sel->extra, env, &extra, err) < 0)
    {
      sbx_filter_free (&node);
      return -1;
    }
  rc = sbx_filter_intersect (&node, &extra, out, notes, notes_size, err);
  sbx_filter_free (&node);
  sbx_filter_free (&extra);
  return rc;
}

/* The filter the container gets: the profile(s) of SEL resolved for CAPS on this host, intersected with the
   engine's filter in LINUX_ (or alone), module block on top; *RESOLVED gets sbx's side, for the verification.
   Pure but for the profiles' parse; NOTES as for intersect_into. */
static int
harden (json_t *linux_, const struct sbx_profile_sel *sel, const char **caps, size_t ncaps, char *notes,
        size_t notes_size, struct sbx_filter *resolved, sbx_err *err)
{
  struct sbx_resolve_env env = { .caps = caps, .ncaps = ncaps };
  json_t *seccomp;
  struct sbx_filter sbx;

  sbx_resolve_env_host (&env);
  if (sbx_side (sel, &env, &sbx, notes, notes_size, err) < 0)
    return -1;
  if (json_get_typed (linux_, "seccomp", JSON_OBJECT, &seccomp, err) < 0)
    goto fail;
  if (seccomp == NULL)
    {
      /* No engine filter: sbx's profile alone. */
      sbx_filter_drop_default (&sbx);
      if ((seccomp = json_new_obj ()) == NULL || json_set (linux_, "seccomp", seccomp, err) < 0
          || sbx_filter_to_oci (&sbx, seccomp, false, err) < 0)
        goto fail;
    }
  else if (intersect_into (seccomp, &sbx, notes, notes_size, err) < 0)
    goto fail;
  *resolved = sbx;
  return sbx_seccomp_block_modules (seccomp, err);

fail:
  sbx_filter_free (&sbx);
  return -1;
}

/* What the stage's outcome depends on, as the memo's key: this build of sbx (its code and embedded profiles), the
   profile's bytes unless embedded, the capabilities, the monitoring plan, whether crun gets BPF, then the engine's
   filter as written.  The kernel and libseccomp are added by the memo itself.  Every variable part but the last
   is length-prefixed. */
static void
memo_key_src (FILE *f, const char *label, const struct sbx_profile_src *src)
{
  fprintf (f, "%s %zu:%s\n", label, strlen (src->origin), src->origin);
  if (src->builtin)
    fprintf (f, "builtin\n");
  else
    {
      fprintf (f, "bytes %zu:", src->len);
      fwrite (src->data, 1, src->len, f);
      fputc ('\n', f);
    }
}

static int
memo_open (struct sbx_memo *m, const char *dir, const struct sbx_profile_sel *sel, const char **caps, size_t ncaps,
           const struct sbx_policy_ctx *ctx, bool compile, const json_t *engine)
{
  const struct sbx_profile_src *src = &sel->node;

  cleanup_free char *engine_text = NULL, *prefix = NULL;
  size_t prefix_len = 0, n;
  FILE *f;

  memset (m, 0, sizeof *m);
  /* The key is a string: a profile file holding a NUL (refused when parsed anyway) gets no memo. */
  if (!sbx_seccomp_cache_enabled (dir) || (!src->builtin && memchr (src->data, '\0', src->len))
      || (sel->extra.data && !sel->extra.builtin && memchr (sel->extra.data, '\0', sel->extra.len))
      || (engine && json_serialize (engine, &engine_text, &n, &(sbx_err){ 0 }) < 0))
    return -1;
  f = open_memstream (&prefix, &prefix_len);
  if (f == NULL)
    return -1;
  fprintf (f, "build %s\n", SBX_BUILD_ID);
  memo_key_src (f, "profile", src);
  if (sel->extra.data)
    memo_key_src (f, "and", &sel->extra);
  fprintf (f, "caps %zu\n", ncaps);
  for (size_t i = 0; i < ncaps; i++)
    fprintf (f, "%zu:%s\n", strlen (caps[i]), caps[i]);
  fprintf (f, "watcher %zu:%s\nnotify %d\ncompile %d\n", strlen (ctx->watcher_sock ?: ""), ctx->watcher_sock ?: "",
           ctx->notify_sock != NULL, compile);
  fprintf (f, "engine ");
  if (fclose (f) != 0)
    return -1;
  return sbx_memo_open (m, dir, prefix, engine_text ? engine_text : "none");
}

/* What the stage gives a spec, as the memo keeps it: the final linux.seccomp (JSON), for crun the two
   annotations, what to tell the engine again (the intersection's notes, a monitoring warning) and the
   monitoring the filter got.  Stored as length-prefixed fields: the large ones are strings, never parsed. */
enum
{
  F_SECCOMP,
  F_BPF,
  F_SAVED,
  F_NOTES,
  F_WARN,
  F_MONITOR,
  F_COUNT
};

struct outcome
{
  const char *f[F_COUNT];
  size_t len[F_COUNT];
};

static bool
outcome_parse (const char *value, size_t len, struct outcome *o)
{
  const char *p = value, *end = value + len;

  for (int i = 0; i < F_COUNT; i++)
    {
      char *nl;
      unsigned long n = strtoul (p, &nl, 10);
      if (nl == p || nl >= end || *nl != '\n' || n > (size_t) (end - nl - 1))
        return false;
      o->f[i] = nl + 1;
      o->len[i] = n;
      p = nl + 1 + n;
    }
  return p == end;
}

static char *
field (const struct outcome *o, int i)
{
  return strndup (o->f[i], o->len[i]);
}

static const char *
monitor_of (const struct outcome *o)
{
  return o->len[F_MONITOR] == 6 && memcmp (o->f[F_MONITOR], "notify", 6) == 0 ? "notify" : "eperm";
}

/* Put a stored outcome in SPEC; false (SPEC unchanged) when the value is not one. */
static bool
memo_apply (json_t *spec, json_t *linux_, const char *value, size_t len, char *notes, size_t notes_size,
            char *warn, size_t warn_size, const char **monitor)
{
  cleanup_free char *text = NULL;
  json_t *seccomp, *annotations;
  struct outcome o;
  sbx_err err;

  if (!outcome_parse (value, len, &o) || (text = field (&o, F_SECCOMP)) == NULL
      || json_parse (text, strlen (text), "hardening memo", &seccomp, &err) < 0)
    return false;
  if (!json_is (seccomp, JSON_OBJECT))
    {
      json_free (seccomp);
      return false;
    }
  /* The engine's filter is replaced last: until then a failure leaves it for the stage to harden from scratch
     (the crun annotations set meanwhile are rewritten by that stage's compile step). */
  if (o.len[F_BPF]
      && (json_obj_ensure (spec, "annotations", &annotations, &err) < 0
          || json_set (annotations, SBX_ANN_CRUN_BPF, json_new_str_take (field (&o, F_BPF)), &err) < 0
          || json_set (annotations, SBX_ANN_SECCOMP_SAVED, json_new_str_take (field (&o, F_SAVED)), &err) < 0))
    {
      json_free (seccomp);
      return false;
    }
  if (json_set (linux_, "seccomp", seccomp, &err) < 0)
    return false;
  snprintf (notes, notes_size, "%.*s", (int) o.len[F_NOTES], o.f[F_NOTES]);
  snprintf (warn, warn_size, "%.*s", (int) o.len[F_WARN], o.f[F_WARN]);
  *monitor = monitor_of (&o);
  return true;
}

static void
memo_store (const struct sbx_memo *m, const json_t *spec, const json_t *seccomp, const char *notes, const char *warn,
            const char *monitor)
{
  cleanup_free char *text = NULL, *value = NULL;
  const char *bpf = json_annotation (spec, SBX_ANN_CRUN_BPF), *saved = json_annotation (spec, SBX_ANN_SECCOMP_SAVED);
  size_t len;
  sbx_err err;
  FILE *f;

  if (json_serialize (seccomp, &text, &len, &err) < 0 || (f = open_memstream (&value, &len)) == NULL)
    return;
  fprintf (f, "%zu\n%s%zu\n%s%zu\n%s%zu\n%s%zu\n%s%zu\n%s", strlen (text), text, strlen (bpf ?: ""), bpf ?: "",
           strlen (saved ?: ""), saved ?: "", strlen (notes), notes, strlen (warn), warn, strlen (monitor), monitor);
  /* An unwritable cache only costs the next start the same work again. */
  if (fclose (f) == 0)
    (void) sbx_memo_put (m, value, len, &err);
}

/* Verify before use: the filter the delegate will load (crun's precompiled program, or the JSON compiled as runc
   compiles it) run beside the engine's filter ENGINE (NULL: none) and the profile SBX on the boundary grid.  A
   violation refuses the start, naming the syscall and arguments; build() then stores nothing. */
static int
verify_final (const json_t *spec, const json_t *linux_, const struct sbx_filter *engine, const struct sbx_filter *sbx,
              bool compiled, bool notify_ok, sbx_err *err)
{
  const char *saved = json_annotation (spec, SBX_ANN_SECCOMP_SAVED);
  json_t *parsed = NULL;
  const json_t *final_json = json_find (linux_, "seccomp");
  struct sbx_filter final_f;
  struct sbx_bpf prog = { 0 };
  int rc;

  if (compiled && (saved == NULL || json_parse (saved, strlen (saved), SBX_ANN_SECCOMP_SAVED, &parsed, err) < 0))
    return saved ? -1 : sbx_fail (err, EINVAL, "the precompiled filter has no saved JSON beside it");
  if (sbx_filter_from_oci (compiled ? parsed : final_json, "the final linux.seccomp", &final_f, err) < 0)
    {
      json_free (parsed);
      return -1;
    }
  json_free (parsed);
  rc = compiled ? sbx_bpf_from_b64 (json_annotation (spec, SBX_ANN_CRUN_BPF) ?: "", &prog, err)
                : sbx_filter_compile_runc (&final_f, &prog, err);
  if (rc == 0)
    rc = sbx_filter_verify (engine, sbx, &final_f, &prog, notify_ok, err);
  sbx_bpf_free (&prog);
  sbx_filter_free (&final_f);
  return rc;
}

/* The stage's work when the memo cannot serve: the filter hardened, the monitoring plan applied, and for crun
   compiled.  Stored unless crun was to get BPF and did not (the cache failed: the next start tries again). */
static int
build (json_t *spec, json_t *linux_, const struct sbx_profile_sel *sel, const char **caps, size_t ncaps,
       struct sbx_policy_ctx *ctx, const struct sbx_memo *memo, bool compile, char *notes, size_t notes_size,
       char *warn, size_t warn_size, const char **monitor, sbx_err *err)
{
  json_t *seccomp = json_find (linux_, "seccomp");
  struct sbx_filter engine = { 0 }, sbx = { 0 };
  bool compiled = false, has_engine = json_is (seccomp, JSON_OBJECT);
  int rc = -1;

  if (has_engine && sbx_filter_from_oci (seccomp, "the engine's linux.seccomp", &engine, err) < 0)
    return -1;
  if (harden (linux_, sel, caps, ncaps, notes, notes_size, &sbx, err) < 0)
    goto out;
  seccomp = json_find (linux_, "seccomp");
  if (sbx_notify_apply (seccomp, ctx, monitor, warn, warn_size, err) < 0
      || (compile && sbx_seccomp_compile_crun (spec, seccomp, ctx, &compiled, err) < 0))
    goto out;
  if (verify_final (spec, linux_, has_engine ? &engine : NULL, &sbx, compiled, strcmp (*monitor, "notify") == 0,
                    err) < 0)
    goto out;
  if (memo->key && compiled == compile)
    memo_store (memo, spec, seccomp, notes, warn, *monitor);
  rc = 0;
out:
  sbx_filter_free (&engine);
  sbx_filter_free (&sbx);
  return rc;
}

int
sbx_stage_seccomp (json_t *spec, struct sbx_policy_ctx *ctx, sbx_err *err)
{
  static char chosen[4096];
  const char *id = ctx->container_id ? ctx->container_id : "?";
  cleanup_free const char **caps = NULL;
  cleanup_free char *value = NULL;
  json_t *annotations, *linux_, *engine;
  struct sbx_profile_sel sel;
  const char *name, *memo_dir = NULL, *monitor = "eperm";
  char notes[1024] = "", warn[256] = "";
  size_t ncaps, value_len;
  struct sbx_memo memo;
  bool had_bpf, compile;
  int rc = 0;

  if (json_get_typed (spec, "annotations", JSON_OBJECT, &annotations, err) < 0)
    return -1;
  had_bpf = annotations && json_del (annotations, SBX_ANN_CRUN_BPF);
  if (had_bpf && json_find (annotations, SBX_ANN_SECCOMP_SAVED) == NULL)
    ctx->note (SBX_WARN, "container %s: dropped annotation %s: a precompiled filter would replace sbx's", id,
               SBX_ANN_CRUN_BPF);

  if (restore_saved (spec, annotations, had_bpf, ctx, err) < 0)
    return -1;
  name = json_annotation (spec, SBX_ANN_PROFILE) ?: sbx_config_str (ctx->cfg, "profile", SBX_PROFILE_DEFAULT);
  if (final_caps (spec, &caps, &ncaps, err) < 0)
    return -1;
  if (json_obj_ensure (spec, "linux", &linux_, err) < 0
      || json_get_typed (linux_, "seccomp", JSON_OBJECT, &engine, err) < 0)
    return sbx_wrap (err, "seccomp profile %s", name);
  if (sbx_notify_plan (spec, engine, ctx, err) < 0)
    return -1;
  if (sbx_profile_select (spec, ctx, &sel, err) < 0)
    {
      sbx_profile_sel_free (&sel);
      return -1;
    }
  name = sel.name;
  compile = sbx_seccomp_compile_wanted (spec, ctx);

  /* Engines hand every container the same filter and capabilities: the memo spares all but the first start the
     profile's parse, resolution and intersection, and for crun the compiled program's look-up.  Only a runtime (a
     configuration) keeps one. */
  if (ctx->cfg && sbx_config_bool (ctx->cfg, "seccomp_memo", true))
    memo_dir = sbx_seccomp_cache_dir (ctx->cfg);
  memo_open (&memo, memo_dir, &sel, caps, ncaps, ctx, compile, engine);
  if (sbx_memo_get (&memo, &value, &value_len)
      && memo_apply (spec, linux_, value, value_len, notes, sizeof notes, warn, sizeof warn, &monitor))
    ctx->note (SBX_DEBUG, "container %s: seccomp filter%s from the hardening memo in %s", id,
               compile ? " and its BPF" : "", memo_dir);
  else
    rc = build (spec, linux_, &sel, caps, ncaps, ctx, &memo, compile, notes, sizeof notes, warn, sizeof warn,
                &monitor, err);
  sbx_memo_close (&memo);
  if (rc < 0)
    {
      sbx_wrap (err, "seccomp profile %s", name);
      sbx_profile_sel_free (&sel);
      return -1;
    }
  if (notes[0])
    ctx->note (SBX_INFO, "container %s: seccomp intersection refuses more than either filter alone: %s", id, notes);
  if (warn[0])
    ctx->note (SBX_WARN, "container %s: %s", id, warn);
  ctx->monitor = monitor;
  /* NAME may point into the annotations, which the annotations stage rewrites. */
  snprintf (chosen, sizeof chosen, "%s", name);
  ctx->profile = chosen;
  sbx_profile_sel_free (&sel);
  return 0;
}
