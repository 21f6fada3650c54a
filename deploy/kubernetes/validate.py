#!/usr/bin/python3
"""validate.py - check Kubernetes manifests offline against the Kubernetes API schema.

The models of the official Python client (Debian's python3-kubernetes) are generated from the Kubernetes OpenAPI
spec: each lists its fields with their JSON names and types, and refuses a missing required field.  This walks
every document strictly with them, as `kubectl --validate=strict` would with a server: an unknown or misspelled
field, a wrong type or a missing required field is an error.

usage: validate.py FILE.yaml...     prints "Kind/name ok" per document; exit 1 on any error
"""
import re
import sys

import kubernetes.client as k8s
import yaml

PRIMITIVES = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "datetime": (str,),
    "date": (str,),
    "object": (object,),
}
DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def model_for(api_version, kind):
    version = api_version.split("/")[-1]
    name = version[0].upper() + version[1:] + kind
    klass = getattr(k8s, name, None)
    if klass is None:
        raise ValueError("no schema for apiVersion %s kind %s" % (api_version, kind))
    return klass


def check(value, typ, path, errors):
    if typ in PRIMITIVES:
        ok = isinstance(value, PRIMITIVES[typ]) and not (typ in ("int", "float") and isinstance(value, bool))
        if not ok:
            errors.append("%s: expected %s, got %r" % (path, typ, value))
        return
    m = re.match(r"^list\[(.*)\]$", typ)
    if m:
        if not isinstance(value, list):
            errors.append("%s: expected a list" % path)
            return
        for i, item in enumerate(value):
            check(item, m.group(1), "%s[%d]" % (path, i), errors)
        return
    m = re.match(r"^dict\(([^,]*), (.*)\)$", typ)
    if m:
        if not isinstance(value, dict):
            errors.append("%s: expected a map" % path)
            return
        for key, item in value.items():
            check(item, m.group(2), "%s.%s" % (path, key), errors)
        return
    klass = getattr(k8s, typ)
    if not isinstance(value, dict):
        errors.append("%s: expected an object (%s)" % (path, typ))
        return
    by_json = {json_name: attr for attr, json_name in klass.attribute_map.items()}
    present = {}
    for key, item in value.items():
        attr = by_json.get(key)
        if attr is None:
            errors.append("%s: unknown field %r in %s" % (path, key, typ))
            continue
        present[attr] = item
        check(item, klass.openapi_types[attr], "%s.%s" % (path, key), errors)
    try:
        # The generated setters refuse None for required fields.
        klass(**present)
    except ValueError as e:
        errors.append("%s: %s: %s" % (path, typ, e))


def main(paths):
    failed = False
    for p in paths:
        with open(p) as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
        for d in docs:
            errors = []
            kind = d.get("kind", "?")
            name = (d.get("metadata") or {}).get("name", "")
            try:
                check(d, model_for(d.get("apiVersion", ""), kind).__name__, kind, errors)
            except ValueError as e:
                errors.append(str(e))
            if not DNS1123.match(name or ""):
                errors.append("%s: metadata.name %r is not a DNS-1123 name" % (kind, name))
            if errors:
                failed = True
                for e in errors:
                    print("%s: %s/%s: %s" % (p, kind, name, e))
            else:
                print("%s/%s ok" % (kind, name))
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.stderr.write(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
