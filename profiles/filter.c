/* filter.c - linux.seccomp read into sbx_filter and written back, exactly as runc and crun interpret it. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "profile.h"

static const struct
{
  const char *name;
  enum sbx_act_kind kind;
} actions[] = {
  { "SCMP_ACT_ALLOW", SBX_ACT_ALLOW },
  { "SCMP_ACT_LOG", SBX_ACT_LOG },
  { "SCMP_ACT_TRACE", SBX_ACT_TRACE },
  { "SCMP_ACT_NOTIFY", SBX_ACT_NOTIFY },
  { "SCMP_ACT_ERRNO", SBX_ACT_ERRNO },
  { "SCMP_ACT_TRAP", SBX_ACT_TRAP },
  { "SCMP_ACT_KILL_THREAD", SBX_ACT_KILL_THREAD },
  { "SCMP_ACT_KILL", SBX_ACT_KILL_THREAD }, /* libseccomp's SCMP_ACT_KILL is KILL_THREAD */
  { "SCMP_ACT_KILL_PROCESS", SBX_ACT_KILL_PROCESS },
};

static const char *const op_names[] = {
  NULL, "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
  "SCMP_CMP_MASKED_EQ",
};

const char *
sbx_cmp_op_name (enum sbx_cmp_op op)
{
  return op >= SBX_CMP_NE && op <= SBX_CMP_MASKED_EQ ? op_names[op] : "?";
}

bool
sbx_action_eq (const struct sbx_action *a, const struct sbx_action *b)
{
  return a->kind == b->kind
         && ((a->kind != SBX_ACT_ERRNO && a->kind != SBX_ACT_TRACE) || a->data == b->data);
}

static int
get_int (const json_t *v, const char *what, long long lo, long long hi, long long *out, sbx_err *err)
{
  if (!json_num_int (v, out) || *out < lo || *out > hi)
    return sbx_fail (err, EINVAL, "%s must be an integer in [%lld, %lld]", what, lo, hi);
  return 0;
}

int
sbx_action_parse (const char *s, const json_t *errno_ret, struct sbx_action *a, sbx_err *err)
{
  long long n = EPERM;

  for (size_t i = 0; i < SBX_ARRAY_SIZE (actions); i++)
    if (strcmp (s, actions[i].name) == 0)
      {
        a->kind = actions[i].kind;
        a->data = 0;
        if (errno_ret != NULL && a->kind != SBX_ACT_ERRNO && a->kind != SBX_ACT_TRACE)
          return sbx_fail (err, EINVAL, "errnoRet given for action %s", s);
        if (a->kind == SBX_ACT_ERRNO || a->kind == SBX_ACT_TRACE)
          {
            if (a->kind == SBX_ACT_TRACE)
              n = 0;
            if (errno_ret && get_int (errno_ret, "errnoRet", 0, 0xffff, &n, err) < 0)
              return -1;
            a->data = (int) n;
          }
        return 0;
      }
  return sbx_fail (err, EINVAL, "unknown seccomp action \"%s\"", s);
}

const char *
sbx_action_str (const struct sbx_action *a, char *buf, size_t size)
{
  const char *name = "?";

  for (size_t i = 0; i < SBX_ARRAY_SIZE (actions); i++)
    if (actions[i].kind == a->kind)
      {
        name = actions[i].name;
        break;
      }
  if (a->kind == SBX_ACT_ERRNO || a->kind == SBX_ACT_TRACE)
    snprintf (buf, size, "%s(%d)", name, a->data);
  else
    snprintf (buf, size, "%s", name);
  return buf;
}

static const char *
action_name (enum sbx_act_kind k)
{
  for (size_t i = 0; i < SBX_ARRAY_SIZE (actions); i++)
    if (actions[i].kind == k)
      return actions[i].name;
  return "?";
}

void
sbx_filter_free (struct sbx_filter *f)
{
  for (size_t i = 0; i < f->narches; i++)
    free (f->arches[i]);
  free (f->arches);
  for (size_t i = 0; i < f->nrules; i++)
    {
      free (f->rules[i].name);
      free (f->rules[i].comment);
    }
  free (f->rules);
  memset (f, 0, sizeof *f);
}

static int
get_u64 (const json_t *v, const char *what, uint64_t *out, sbx_err *err)
{
  const char *raw = json_num_raw (v);
  char *end;

  if (v == NULL)
    {
      *out = 0;
      return 0;
    }
  if (raw == NULL || raw[0] == '-')
    return sbx_fail (err, EINVAL, "%s must be a non-negative integer", what);
  errno = 0;
  *out = strtoull (raw, &end, 10);
  if (errno || *end != '\0')
    return sbx_fail (err, EINVAL, "%s must be an integer below 2^64, not %s", what, raw);
  return 0;
}

int
sbx_cmp_parse (const json_t *arg, struct sbx_cmp *c, sbx_err *err)
{
  json_t *idx, *op, *val, *val2;
  long long n;

  if (!json_is (arg, JSON_OBJECT))
    return sbx_fail (err, EINVAL, "an argument comparison is not an object");
  if (json_get (arg, "index", &idx, err) < 0 || json_get_typed (arg, "op", JSON_STRING, &op, err) < 0
      || json_get (arg, "value", &val, err) < 0 || json_get (arg, "valueTwo", &val2, err) < 0)
    return -1;
  if (get_int (idx, "index", 0, 5, &n, err) < 0)
    return -1;
  c->idx = (unsigned) n;
  c->op = 0;
  for (int i = SBX_CMP_NE; op && i <= SBX_CMP_MASKED_EQ; i++)
    if (strcmp (json_str (op), op_names[i]) == 0)
      c->op = i;
  if (c->op == 0)
    return sbx_fail (err, EINVAL, "unknown comparison operator \"%s\"", op ? json_str (op) : "(none)");
  if (get_u64 (val, "value", &c->value, err) < 0 || get_u64 (val2, "valueTwo", &c->value_two, err) < 0)
    return -1;
  return 0;
}

static int
push_rule (struct sbx_filter *f, const char *name, const struct sbx_action *act, const struct sbx_cmp *cmp,
           unsigned ncmp, const char *comment, sbx_err *err)
{
  struct sbx_rule *r = realloc (f->rules, (f->nrules + 1) * sizeof *r);

  if (r == NULL)
    return sbx_fail (err, ENOMEM, "seccomp rule for %s", name);
  f->rules = r;
  r = &f->rules[f->nrules];
  memset (r, 0, sizeof *r);
  r->name = strdup (name);
  r->comment = comment ? strdup (comment) : NULL;
  if (r->name == NULL || (comment && r->comment == NULL))
    {
      free (r->name);
      free (r->comment);
      return sbx_fail (err, ENOMEM, "seccomp rule for %s", name);
    }
  r->act = *act;
  r->ncmp = ncmp;
  if (ncmp)
    memcpy (r->cmp, cmp, ncmp * sizeof *cmp);
  f->nrules++;
  return 0;
}

int
sbx_filter_add_rule (struct sbx_filter *f, const char *name, const struct sbx_action *act,
                     const struct sbx_cmp *cmp, unsigned ncmp, const char *comment, sbx_err *err)
{
  return push_rule (f, name, act, cmp, ncmp, comment, err);
}

int
sbx_filter_add_arch (struct sbx_filter *f, const char *arch, sbx_err *err)
{
  char **a;

  for (size_t i = 0; i < f->narches; i++)
    if (strcmp (f->arches[i], arch) == 0)
      return 0;
  a = realloc (f->arches, (f->narches + 1) * sizeof *a);
  if (a == NULL || (a[f->narches] = strdup (arch)) == NULL)
    {
      if (a)
        f->arches = a;
      return sbx_fail (err, ENOMEM, "architecture %s", arch);
    }
  f->arches = a;
  f->narches++;
  return 0;
}

/* Add one OCI rule's comparisons for NAME.  Several comparisons of one argument are alternatives for runc and
   crun (each becomes a rule of its own), so the same happens here. */
int
sbx_filter_add_oci_rule (struct sbx_filter *f, const char *name, const struct sbx_action *act,
                         const struct sbx_cmp *cmp, unsigned ncmp, const char *comment, sbx_err *err)
{
  unsigned count[6] = { 0 };
  bool multiple = false;

  for (unsigned k = 0; k < ncmp; k++)
    if (++count[cmp[k].idx] > 1)
      multiple = true;
  if (!multiple)
    return push_rule (f, name, act, cmp, ncmp, comment, err);
  for (unsigned k = 0; k < ncmp; k++)
    if (push_rule (f, name, act, &cmp[k], 1, comment, err) < 0)
      return -1;
  return 0;
}

int
sbx_filter_from_oci (const json_t *seccomp, const char *what, struct sbx_filter *f, sbx_err *err)
{
  json_t *def, *def_errno, *arches, *syscalls;

  memset (f, 0, sizeof *f);
  if (json_get_typed (seccomp, "defaultAction", JSON_STRING, &def, err) < 0
      || json_get (seccomp, "defaultErrnoRet", &def_errno, err) < 0
      || json_get_typed (seccomp, "architectures", JSON_ARRAY, &arches, err) < 0
      || json_get_typed (seccomp, "syscalls", JSON_ARRAY, &syscalls, err) < 0)
    return sbx_wrap (err, "%s", what);
  if (def == NULL)
    return sbx_fail (err, EINVAL, "%s: no defaultAction", what);
  if (sbx_action_parse (json_str (def), def_errno, &f->def, err) < 0)
    goto fail;
  for (size_t i = 0; i < json_arr_len (arches); i++)
    {
      const char *a = json_str (json_arr_at (arches, i));
      if (a == NULL)
        {
          sbx_fail (err, EINVAL, "architectures[%zu] is not a string", i);
          goto fail;
        }
      if (sbx_filter_add_arch (f, a, err) < 0)
        goto fail;
    }
  for (size_t i = 0; i < json_arr_len (syscalls); i++)
    {
      json_t *rule = json_arr_at (syscalls, i), *names, *action, *errno_ret, *args, *name1;
      struct sbx_cmp cmp[6];
      struct sbx_action act;
      unsigned ncmp = 0;

      if (!json_is (rule, JSON_OBJECT) || json_get_typed (rule, "names", JSON_ARRAY, &names, err) < 0
          || json_get_typed (rule, "name", JSON_STRING, &name1, err) < 0
          || json_get_typed (rule, "action", JSON_STRING, &action, err) < 0
          || json_get (rule, "errnoRet", &errno_ret, err) < 0
          || json_get_typed (rule, "args", JSON_ARRAY, &args, err) < 0)
        {
          if (!json_is (rule, JSON_OBJECT))
            sbx_fail (err, EINVAL, "not an object");
          goto fail_rule;
        }
      for (size_t j = 0; j < json_arr_len (names); j++)
        if (json_str (json_arr_at (names, j)) == NULL)
          {
            sbx_fail (err, EINVAL, "names[%zu] is not a string", j);
            goto fail_rule;
          }
      if (action == NULL)
        {
          sbx_fail (err, EINVAL, "no action");
          goto fail_rule;
        }
      if (sbx_action_parse (json_str (action), errno_ret, &act, err) < 0)
        goto fail_rule;
      if (json_arr_len (args) > 6)
        {
          sbx_fail (err, EINVAL, "more than 6 argument comparisons");
          goto fail_rule;
        }
      for (size_t k = 0; k < json_arr_len (args); k++)
        if (sbx_cmp_parse (json_arr_at (args, k), &cmp[ncmp++], err) < 0)
          goto fail_rule;
      if (name1 && sbx_filter_add_oci_rule (f, json_str (name1), &act, cmp, ncmp, NULL, err) < 0)
        goto fail_rule;
      for (size_t j = 0; j < json_arr_len (names); j++)
        {
          const char *n = json_str (json_arr_at (names, j));
          if (n == NULL)
            {
              sbx_fail (err, EINVAL, "names[%zu] is not a string", j);
              goto fail_rule;
            }
          if (sbx_filter_add_oci_rule (f, n, &act, cmp, ncmp, NULL, err) < 0)
            goto fail_rule;
        }
      continue;
    fail_rule:
      sbx_wrap (err, "%s: syscalls[%zu]", what, i);
      sbx_filter_free (f);
      return -1;
    }
  return 0;

fail:
  sbx_wrap (err, "%s", what);
  sbx_filter_free (f);
  return -1;
}

static bool
same_cmps (const struct sbx_rule *a, const struct sbx_rule *b)
{
  if (a->ncmp != b->ncmp)
    return false;
  for (unsigned k = 0; k < a->ncmp; k++)
    if (a->cmp[k].idx != b->cmp[k].idx || a->cmp[k].op != b->cmp[k].op || a->cmp[k].value != b->cmp[k].value
        || a->cmp[k].value_two != b->cmp[k].value_two)
      return false;
  return true;
}

static json_t *
new_u64 (uint64_t v)
{
  char buf[32];
  json_t *n;
  sbx_err err;

  /* json_new_int takes a signed value; arguments above 2^63 are written through a parse of their text. */
  if (v <= (uint64_t) INT64_MAX)
    return json_new_int ((long long) v);
  snprintf (buf, sizeof buf, "%" PRIu64, v);
  return json_parse (buf, strlen (buf), "number", &n, &err) < 0 ? NULL : n;
}

static json_t *
rule_json (const struct sbx_rule *r, json_t *names, bool comments)
{
  json_t *o = json_new_obj (), *args;
  sbx_err err;

  if (o == NULL || json_set (o, "names", names, &err) < 0)
    return json_free (o), NULL;
  if (json_set (o, "action", json_new_str (action_name (r->act.kind)), &err) < 0)
    return json_free (o), NULL;
  if ((r->act.kind == SBX_ACT_ERRNO || (r->act.kind == SBX_ACT_TRACE && r->act.data))
      && json_set (o, "errnoRet", json_new_int (r->act.data), &err) < 0)
    return json_free (o), NULL;
  if (r->ncmp)
    {
      if ((args = json_new_arr ()) == NULL || json_set (o, "args", args, &err) < 0)
        return json_free (o), NULL;
      for (unsigned k = 0; k < r->ncmp; k++)
        {
          json_t *c = json_new_obj ();
          if (c == NULL || json_arr_push (args, c, &err) < 0
              || json_set (c, "index", json_new_int (r->cmp[k].idx), &err) < 0
              || json_set (c, "value", new_u64 (r->cmp[k].value), &err) < 0
              || json_set (c, "valueTwo", new_u64 (r->cmp[k].value_two), &err) < 0
              || json_set (c, "op", json_new_str (op_names[r->cmp[k].op]), &err) < 0)
            return json_free (o), NULL;
        }
    }
  if (comments && r->comment && json_set (o, "comment", json_new_str (r->comment), &err) < 0)
    return json_free (o), NULL;
  return o;
}

int
sbx_filter_to_oci (const struct sbx_filter *f, json_t *seccomp, bool comments, sbx_err *err)
{
  json_t *arches = json_new_arr (), *syscalls = json_new_arr ();
  cleanup_free bool *done = calloc (f->nrules + 1, sizeof *done);

  if (json_set (seccomp, "architectures", arches, err) < 0 || json_set (seccomp, "syscalls", syscalls, err) < 0
      || done == NULL)
    return sbx_fail (err, ENOMEM, "write linux.seccomp");
  if (json_set (seccomp, "defaultAction", json_new_str (action_name (f->def.kind)), err) < 0)
    return -1;
  json_del (seccomp, "defaultErrnoRet");
  if (f->def.kind == SBX_ACT_ERRNO && json_set (seccomp, "defaultErrnoRet", json_new_int (f->def.data), err) < 0)
    return -1;
  for (size_t i = 0; i < f->narches; i++)
    if (json_arr_push (arches, json_new_str (f->arches[i]), err) < 0)
      return -1;
  /* Rules with the same action and comparisons share one entry, in order of first appearance. */
  for (size_t i = 0; i < f->nrules; i++)
    {
      json_t *names, *rule;

      if (done[i])
        continue;
      names = json_new_arr ();
      for (size_t j = i; j < f->nrules; j++)
        if (!done[j] && sbx_action_eq (&f->rules[i].act, &f->rules[j].act) && same_cmps (&f->rules[i], &f->rules[j])
            && (!comments || (f->rules[i].comment == NULL && f->rules[j].comment == NULL)
                || (f->rules[i].comment && f->rules[j].comment
                    && strcmp (f->rules[i].comment, f->rules[j].comment) == 0)))
          {
            done[j] = true;
            if (json_arr_push (names, json_new_str (f->rules[j].name), err) < 0)
              return json_free (names), -1;
          }
      rule = rule_json (&f->rules[i], names, comments);
      if (rule == NULL || json_arr_push (syscalls, rule, err) < 0)
        return sbx_fail (err, ENOMEM, "write linux.seccomp");
    }
  return 0;
}

void
sbx_filter_drop_default (struct sbx_filter *f)
{
  size_t k = 0;

  for (size_t i = 0; i < f->nrules; i++)
    if (sbx_action_eq (&f->rules[i].act, &f->def))
      {
        free (f->rules[i].name);
        free (f->rules[i].comment);
      }
    else
      f->rules[k++] = f->rules[i];
  f->nrules = k;
}
