"""Re-derive the trimmed spec files in this folder from the official documents (data only; see README.md).

    python tests/fakes/specs/derive.py SLACK_WEB_OPENAPI CONFLUENCE_V1 CONFLUENCE_V2

SLACK_WEB_OPENAPI is slackapi/slack-api-specs web-api/slack_web_openapi_v2_without_examples.json,
CONFLUENCE_V1 / _V2 are xvrh/atlassian_apis tool/apis/confluence.json / confluence_v2.json. The Drive v3
and Admin Directory discovery documents are read from the installed google-api-python-client.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import googleapiclient

HERE = Path(__file__).parent

SLACK_METHODS = ["auth.test", "chat.postMessage", "chat.update", "chat.postEphemeral", "conversations.info",
                 "conversations.members", "conversations.replies", "conversations.history", "conversations.list",
                 "users.info", "users.list", "views.open"]
DRIVE_METHODS = {"files": ["list", "get", "export"], "permissions": ["list"], "changes": ["list", "getStartPageToken"]}
DRIVE_SCHEMAS = ["File", "FileList", "Permission", "PermissionList", "Change", "ChangeList", "StartPageToken", "User"]
CONFLUENCE_V1 = ["/wiki/rest/api/content/search", "/wiki/rest/api/user", "/wiki/rest/api/group/by-id",
                 "/wiki/rest/api/group/{groupId}/membersByGroupId", "/wiki/rest/api/group/member",
                 "/wiki/rest/api/space", "/wiki/rest/api/space/{spaceKey}", "/wiki/rest/api/content/{id}",
                 "/wiki/rest/api/content/{id}/child/comment",
                 "/wiki/rest/api/content/{id}/restriction/byOperation/{operationKey}"]
CONFLUENCE_V2 = ["/spaces", "/spaces/{id}/permissions", "/pages/{id}", "/blogposts/{id}", "/pages/{id}/labels",
                 "/blogposts/{id}/labels", "/pages/{id}/footer-comments", "/blogposts/{id}/footer-comments",
                 "/footer-comments/{id}/children"]


def _ref(doc: dict, item: dict) -> dict:
    while "$ref" in item:
        node = doc
        for part in item["$ref"].lstrip("#/").split("/"):
            node = node[part]
        item = node
    return item


def slack(source: Path) -> dict:
    doc = json.loads(source.read_text())
    out = {}
    for method in SLACK_METHODS:
        for verb, op in doc["paths"]["/" + method].items():
            errors = (((op["responses"].get("default") or {}).get("schema") or {}).get("properties") or {})
            out[method] = {"verb": verb,
                           "parameters": [{"name": p["name"], "in": p["in"], "required": bool(p.get("required"))}
                                          for p in op.get("parameters", [])],
                           "errors": (errors.get("error") or {}).get("enum", [])}
    return {"source": "slackapi/slack-api-specs web-api/slack_web_openapi_v2_without_examples.json",
            "version": doc["info"]["version"], "methods": out}


def google(name: str, resources: dict[str, list[str]], schemas: list[str]) -> dict:
    doc = json.loads((Path(googleapiclient.__file__).parent / "discovery_cache/documents" / name).read_text())
    methods = {}
    for resource, names in resources.items():
        for method in names:
            m = doc["resources"][resource]["methods"][method]
            methods[m["id"]] = {k: m[k] for k in ("httpMethod", "path", "parameters", "description") if k in m}
    return {"source": f"google-api-python-client googleapiclient/discovery_cache/documents/{name}",
            "revision": doc.get("revision"), "parameters": doc.get("parameters", {}), "methods": methods,
            "schemas": {s: doc["schemas"][s] for s in schemas}}


SCHEMA_KEYS = ("type", "enum", "nullable", "format")


def _schema(doc: dict, item: dict, depth: int = 0) -> dict:
    """A response schema with its $refs inlined and allOf merged; only what a shape check needs (no prose)."""
    item = _ref(doc, item)
    out = {k: item[k] for k in SCHEMA_KEYS if k in item}
    for part in item.get("allOf", []):
        merged = _schema(doc, part, depth)
        out.setdefault("properties", {}).update(merged.pop("properties", {}))
        out.update({k: v for k, v in merged.items() if k not in out})
    if depth > 6:  # recursive schemas (a comment's children): deeper levels are not checked
        return out
    if "properties" in item:
        out.setdefault("properties", {}).update(
            {name: _schema(doc, sub, depth + 1) for name, sub in item["properties"].items()})
    if "items" in item:
        out["items"] = _schema(doc, item["items"], depth + 1)
    return out


def confluence(source: Path, paths: list[str], prefix: str, responses: bool = False) -> dict:
    doc = json.loads(source.read_text())
    out = {}
    for path in paths:
        op = doc["paths"][path]["get"]
        params = [_ref(doc, p) for p in op.get("parameters", [])]
        out[prefix + path] = {"deprecated": bool(op.get("deprecated")),
                              "parameters": [{"name": p["name"], "in": p["in"],
                                              "maximum": (p.get("schema") or {}).get("maximum"),
                                              "type": (p.get("schema") or {}).get("type")}
                                             for p in params if "name" in p]}
        if responses:  # v2 only: the fake checks each of its answers against the documented 200 shape
            ok = op["responses"]["200"]["content"]["application/json"]["schema"]
            out[prefix + path]["response"] = _schema(doc, ok)
    return {"source": f"xvrh/atlassian_apis tool/apis/{source.name}", "version": doc["info"].get("version"),
            "paths": out}


def main(slack_src: str, v1_src: str, v2_src: str) -> None:
    files = {
        "slack_web_methods.json": slack(Path(slack_src)),
        "drive_v3_subset.json": google("drive.v3.json", DRIVE_METHODS, DRIVE_SCHEMAS),
        "admin_directory_v1_subset.json": google("admin.directory_v1.json", {"members": ["list"]}, ["Member", "Members"]),
        "confluence_v1_subset.json": confluence(Path(v1_src), CONFLUENCE_V1, ""),
        "confluence_v2_subset.json": confluence(Path(v2_src), CONFLUENCE_V2, "/wiki/api/v2", responses=True),
    }
    for name, data in files.items():
        (HERE / name).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:4])
