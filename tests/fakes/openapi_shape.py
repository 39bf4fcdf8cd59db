"""Checks a JSON value against a (trimmed) OpenAPI response schema: the fakes' own answers are held to the spec.

The schemas come from ``specs/`` (``derive.py`` inlines ``$ref`` and merges
``allOf``). Stricter than OpenAPI's default on purpose: a property the schema
does not declare is an error, so the fake cannot hand the connector a field the
real service never sends (and the connector cannot come to depend on it).
"""

from __future__ import annotations

from typing import Any

JSON_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool}


def shape_errors(schema: dict[str, Any], value: Any, where: str = "$") -> list[str]:
    """Every place where ``value`` breaks ``schema`` (empty when it conforms)."""
    if value is None:
        return [] if schema.get("nullable") or "type" not in schema else [f"{where}: null is not allowed"]
    kind = schema.get("type")
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"{where}: {value!r} is not an integer"]
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return [f"{where}: {value!r} is not a number"]
    elif kind in JSON_TYPES and not isinstance(value, JSON_TYPES[kind]):
        return [f"{where}: {type(value).__name__} where the spec says {kind}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} is not one of {schema['enum']}"]
    errors: list[str] = []
    if isinstance(value, dict) and "properties" in schema:
        for name, item in value.items():
            if name not in schema["properties"]:
                errors.append(f"{where}.{name}: not in the spec")
            else:
                errors += shape_errors(schema["properties"][name], item, f"{where}.{name}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += shape_errors(schema["items"], item, f"{where}[{i}]")
    return errors
