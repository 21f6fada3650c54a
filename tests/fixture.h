/* fixture.h - test specs: what every spec needs to pass stages a test is not about. */
#ifndef SBX_TEST_FIXTURE_H
#define SBX_TEST_FIXTURE_H

#include <string.h>

#include "../oci/json.h"

/* Give SPEC pid and mount namespaces when it names none (the namespace stage refuses a spec without them). */
static inline void
fixture_namespaces (json_t *spec)
{
  const char *ns = "[{\"type\":\"pid\"},{\"type\":\"mount\"}]";
  json_t *linux_, *arr;
  sbx_err err;

  if (!json_is (spec, JSON_OBJECT))
    return;
  linux_ = json_find (spec, "linux");
  if (linux_ == NULL && json_set (spec, "linux", json_new_obj (), &err) == 0)
    linux_ = json_find (spec, "linux");
  if (json_is (linux_, JSON_OBJECT) && json_find (linux_, "namespaces") == NULL
      && json_parse (ns, strlen (ns), "ns", &arr, &err) == 0)
    json_set (linux_, "namespaces", arr, &err);
}

#endif
