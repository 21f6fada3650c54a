/* caps.c - capability stage: CAP_SYS_MODULE leaves every set, however the engine spelled it. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/capability.h>

#include "policy.h"

/* Capabilities no container keeps.  Names are resolved with libcap, so "cap_sys_module", "CAP_SYS_MODULE" and
   the number "16" (all of which some runtime parsers accept) are all caught. */
static const cap_value_t forbidden[] = { CAP_SYS_MODULE };

bool
sbx_cap_is_forbidden (const char *name)
{
  cap_value_t v;

  if (cap_from_name (name, &v) < 0)
    {
      /* Without the prefix libcap still resolves "sys_module"; with an unknown name the delegate refuses or
         ignores it, so it grants nothing. */
      return false;
    }
  for (size_t i = 0; i < sizeof forbidden / sizeof forbidden[0]; i++)
    if (v == forbidden[i])
      return true;
  return false;
}

int
sbx_caps_sanitize (json_t *capabilities, sbx_err *err)
{
  static const char *const sets[] = { "bounding", "effective", "inheritable", "permitted", "ambient" };

  if (capabilities == NULL)
    return 0;
  for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++)
    {
      json_t *arr;

      if (json_get_typed (capabilities, sets[s], JSON_ARRAY, &arr, err) < 0)
        return sbx_wrap (err, "process.capabilities");
      for (size_t i = 0; arr && i < json_arr_len (arr);)
        {
          const char *name = json_str (json_arr_at (arr, i));
          if (name == NULL)
            return sbx_fail (err, EINVAL, "process.capabilities.%s[%zu] is not a string", sets[s], i);
          if (sbx_cap_is_forbidden (name))
            json_arr_del (arr, i);
          else
            i++;
        }
    }
  return 0;
}

int
sbx_stage_caps (json_t *spec, struct sbx_policy_ctx *ctx, sbx_err *err)
{
  json_t *process = NULL, *caps = NULL;

  (void) ctx;
  if (json_get_typed (spec, "process", JSON_OBJECT, &process, err) < 0
      || (process && json_get_typed (process, "capabilities", JSON_OBJECT, &caps, err) < 0))
    return -1;
  return process ? sbx_caps_sanitize (caps, err) : 0;
}
