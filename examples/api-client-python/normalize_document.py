#!/usr/bin/env python3
"""Rewrite the boolean schemas of an OpenAPI 3.1 document as the equivalent object schemas.

    python normalize_document.py SERVED.json GENERATOR_INPUT.json

JSON Schema 2020-12 (OpenAPI 3.1) allows a schema to be the boolean ``true`` (any value, what
the Breeze document uses for free-form JSON such as an audit entry's ``details``) or ``false``
(no value). openapi-python-client 0.29.1 only accepts object schemas there and refuses the
whole document, and its configuration file has no option for it, so this step rewrites
``true`` as ``{}`` and ``false`` as ``{"not": {}}``: the same schemas, spelled as objects.
Nothing else changes (``additionalProperties: true|false`` is left alone: the generator reads it).
"""

import json
import sys

# keywords whose value is one schema, or a map or list of schemas
ONE = ("items", "not", "contains", "if", "then", "else", "propertyNames",
       "unevaluatedItems", "unevaluatedProperties", "additionalItems")
MAP = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
LIST = ("allOf", "anyOf", "oneOf", "prefixItems")


def as_object(schema):
    if schema is True:
        return {}
    if schema is False:
        return {"not": {}}
    return schema


def walk(node):
    """Rewrites, in place, every boolean subschema under NODE; returns how many."""
    count = 0
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ONE and isinstance(value, bool):
                node[key] = as_object(value)
                count += 1
            elif key in MAP and isinstance(value, dict):
                for name, sub in value.items():
                    if isinstance(sub, bool):
                        value[name] = as_object(sub)
                        count += 1
            elif key in LIST and isinstance(value, list):
                for i, sub in enumerate(value):
                    if isinstance(sub, bool):
                        value[i] = as_object(sub)
                        count += 1
            count += walk(node[key])
    elif isinstance(node, list):
        for item in node:
            count += walk(item)
    return count


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        doc = json.load(f)
    count = walk(doc)
    # a schema map of components is schemas too
    for name, sub in doc.get("components", {}).get("schemas", {}).items():
        if isinstance(sub, bool):
            doc["components"]["schemas"][name] = as_object(sub)
            count += 1
    with open(argv[2], "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
    print(f"normalized {count} boolean schema(s) into {argv[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
