"""Checks a Drive v3 / Admin Directory request against Google's discovery documents, and applies ``fields=``.

The fake Google server runs every request through :func:`check_request`
(unknown or missing parameters, a ``pageSize`` over the documented maximum,
field selections naming fields the schema does not have) and shapes every
answer with :func:`select_fields`, so a connector that forgets to ask for a
field really does not get it. The discovery documents are the subsets in
``specs/`` (derived from the ones google-api-python-client ships; see README).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

SPECS = Path(__file__).parent / "specs"
FieldTree = dict[str, "FieldTree | None"]  # None: the whole value


class SpecError(ValueError):
    """A request the real API answers with 400."""


@functools.cache
def _doc(name: str) -> dict[str, Any]:
    return json.loads((SPECS / name).read_text())


def _routes() -> list[tuple[re.Pattern, str, dict[str, Any], dict[str, Any]]]:
    routes = []
    for name, prefix in (("drive_v3_subset.json", "/drive/v3/"), ("admin_directory_v1_subset.json", "/")):
        doc = _doc(name)
        for method_id, method in doc["methods"].items():
            pattern = re.sub(r"\{[^}]+\}", "[^/]+", prefix + method["path"])
            routes.append((re.compile(pattern + "$"), method_id, method, doc))
    # Longer (more specific) paths first: files/{id}/export before files/{id}.
    return sorted(routes, key=lambda r: -len(r[0].pattern))


def method_for(http_method: str, path: str) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    for pattern, method_id, method, doc in _routes():
        if pattern.match(path) and method["httpMethod"] == http_method:
            return method_id, method, doc
    return None


def check_request(http_method: str, path: str, query: dict[str, list[str]]) -> str:
    """The discovery method id for this request; SpecError for what the real API rejects with 400."""
    found = method_for(http_method, path)
    if found is None:
        raise SpecError(f"no such method: {http_method} {path}")
    method_id, method, doc = found
    params = method["parameters"]
    for name, values in query.items():
        if name not in params and name not in doc["parameters"]:
            raise SpecError(f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query parameter.')
        spec = params.get(name) or doc["parameters"][name]
        if spec.get("type") == "integer":
            value = int(values[0])
            maximum = spec.get("maximum") or DESCRIBED_MAXIMA.get((method_id, name))
            if maximum is not None and value > int(maximum):
                raise SpecError(f"Invalid value '{value}' for {name}: at most {maximum}")
            if "minimum" in spec and value < int(spec["minimum"]):
                raise SpecError(f"Invalid value '{value}' for {name}: at least {spec['minimum']}")
        if spec.get("enum") and values[0] not in spec["enum"]:
            raise SpecError(f"Invalid value '{values[0]}' for {name}")
    for name, spec in params.items():
        if spec.get("required") and spec.get("location") == "query" and name not in query:
            raise SpecError(f"Required parameter: {name}")
    if "fields" in query:
        response = (method.get("response") or {}).get("$ref") or RESPONSES.get(method_id)
        if response:
            check_fields(parse_fields(query["fields"][0]), response, doc)
    return method_id


# Limits the discovery documents state only in a parameter's description.
DESCRIBED_MAXIMA = {("directory.members.list", "maxResults"): 200}  # "Max allowed value is 200."
# The discovery subset keeps parameters, not response refs: what each method answers with.
RESPONSES = {"drive.files.list": "FileList", "drive.files.get": "File", "drive.permissions.list": "PermissionList",
             "drive.changes.list": "ChangeList", "drive.changes.getStartPageToken": "StartPageToken",
             "directory.members.list": "Members"}
# What Drive answers when ``fields`` is absent (Drive v3 returns a small default set).
DEFAULT_FIELDS = {"drive.files.list": "kind,nextPageToken,incompleteSearch,files(kind,id,name,mimeType)",
                  "drive.files.get": "kind,id,name,mimeType",
                  "drive.permissions.list": "kind,nextPageToken,permissions(kind,id,type,role)",
                  "drive.changes.list": "kind,nextPageToken,newStartPageToken,changes(kind,changeType,time,removed,"
                                        "fileId,file(kind,id,name,mimeType))",
                  "drive.changes.getStartPageToken": "kind,startPageToken",
                  "directory.members.list": "*"}


def parse_fields(text: str) -> FieldTree:
    """Google's partial-response syntax: ``a,b(c,d(e)),f/g`` -> nested dict (``*`` selects everything)."""
    tree, pos = _parse(text.replace(" ", ""), 0)
    if pos != len(text.replace(" ", "")):
        raise SpecError(f"Invalid field selection {text}")
    return tree


def _parse(text: str, pos: int) -> tuple[FieldTree, int]:
    tree: FieldTree = {}
    while pos < len(text):
        m = re.compile(r"[A-Za-z_*][A-Za-z0-9_/]*").match(text, pos)
        if not m:
            raise SpecError(f"Invalid field selection {text}")
        path, pos = m.group(0).split("/"), m.end()
        sub: FieldTree | None = None
        if pos < len(text) and text[pos] == "(":
            sub, pos = _parse(text, pos + 1)
            if pos >= len(text) or text[pos] != ")":
                raise SpecError(f"Invalid field selection {text}")
            pos += 1
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {}) or {}
        node[path[-1]] = sub
        if pos < len(text) and text[pos] == ",":
            pos += 1
        elif pos < len(text) and text[pos] == ")":
            return tree, pos
    return tree, pos


def _schema(ref_or_schema: Any, doc: dict[str, Any]) -> dict[str, Any]:
    schema = doc["schemas"].get(ref_or_schema, {}) if isinstance(ref_or_schema, str) else ref_or_schema
    while "$ref" in schema:
        schema = doc["schemas"].get(schema["$ref"], {})
    if schema.get("type") == "array":
        return _schema(schema.get("items", {}), doc)
    return schema


def check_fields(tree: FieldTree, schema_name: Any, doc: dict[str, Any]) -> None:
    """Every selected field must exist in the response schema (Drive answers 400 ``Invalid field selection``)."""
    schema = _schema(schema_name, doc)
    properties = schema.get("properties")
    if properties is None:
        return  # a free-form object (additionalProperties): anything goes
    for name, sub in tree.items():
        if name == "*":
            continue
        if name not in properties:
            raise SpecError(f"Invalid field selection {name}")
        if sub:
            check_fields(sub, properties[name], doc)


def select_fields(value: Any, tree: FieldTree | None) -> Any:
    """Only what ``tree`` selects, as Drive's partial responses do."""
    if tree is None or "*" in tree:
        return value
    if isinstance(value, list):
        return [select_fields(v, tree) for v in value]
    if not isinstance(value, dict):
        return value
    return {k: select_fields(v, tree[k]) for k, v in value.items() if k in tree}


def shape(method_id: str, query: dict[str, list[str]], body: dict[str, Any]) -> dict[str, Any]:
    fields = query.get("fields", [DEFAULT_FIELDS.get(method_id, "*")])[0]
    return select_fields(body, parse_fields(fields))
