"""docker-compose.yml, the cluster file, the Dockerfile and .env.example, checked without a Docker engine.

The Compose files are validated against the Compose specification's JSON schema (the copy vendored by the
``check-jsonschema`` package), after YAML anchors and merge keys are resolved as Compose resolves them.
"""

from __future__ import annotations

import json
import re
import shlex
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
KURA_SERVICES = {"web": ["kura", "serve"], "slackbot": ["kura", "slack"], "reindex": ["kura", "reindex"]}
# Commands written on other branches; their check runs as soon as they are merged.
def load(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose_schema() -> dict:
    path = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict:
    return load("docker-compose.yml")


@pytest.fixture(scope="module")
def cluster() -> dict:
    return load("docker-compose.cluster.yml")


def readme_commands() -> set[tuple[str, ...]]:
    """Every `kura …` command line in the README's shell code blocks (with or without .venv/bin/)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = set()
    fence, shell_lines = None, []
    for line in text.splitlines():
        if line.startswith("```"):
            # A fence opens a block (its language after the backticks) or closes the open one.
            fence = None if fence is not None else (line[3:].strip() or "sh")
            continue
        if fence in ("sh", "bash"):
            shell_lines.append(line)
    script = re.sub(r"\\\n\s*", " ", "\n".join(shell_lines))  # join shell line continuations
    for line in script.splitlines():
        line = line.split("#", 1)[0].strip()
        if re.match(r"^(\.venv/bin/)?kura\s", line):
            words = shlex.split(line)
            commands.add(("kura", *words[1:]))
    return commands


@pytest.mark.parametrize("name", ["docker-compose.yml", "docker-compose.cluster.yml"])
def test_files_follow_the_compose_specification(compose_schema, name):
    jsonschema.validate(load(name), compose_schema)


def test_the_schema_check_is_not_toothless(compose_schema, compose):
    broken = json.loads(json.dumps(compose))
    broken["services"]["web"]["depends_on"]["qdrant"]["condition"] = "service_ready"  # not a condition
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, compose_schema)
    broken = json.loads(json.dumps(compose))
    broken["services"]["web"]["restart_policy"] = "always"  # not a service key
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, compose_schema)


def test_services_run_what_the_readme_runs_by_hand(compose):
    assert set(compose["services"]) == {"qdrant", *KURA_SERVICES}
    documented = readme_commands()
    for service, command in KURA_SERVICES.items():
        assert compose["services"][service]["command"] == command, service
        assert tuple(command) in documented, f"README does not show `{' '.join(command)}`"


@pytest.mark.parametrize("service", sorted(KURA_SERVICES))
def test_the_cli_has_the_command_the_service_runs(service):
    from typer.main import get_command

    from bots.cli.main import app

    command = KURA_SERVICES[service][1]
    names = set(get_command(app).commands)
    assert command in names, f"docker-compose runs `kura {command}`, which the CLI does not have"


def test_kura_services_share_the_image_data_volume_env_file_and_qdrant(compose):
    for service in KURA_SERVICES:
        spec = compose["services"][service]
        assert spec["build"] == "." and spec["image"] == "kura:local"
        assert spec["env_file"] == ".env"
        assert "kura-data:/data" in spec["volumes"]
        assert spec["environment"]["KURA_DATA_DIR"] == "/data"
        assert spec["environment"]["KURA_QDRANT_URL"] == "http://qdrant:6333"
        assert spec["depends_on"]["qdrant"]["condition"] == "service_healthy"
        assert spec["healthcheck"]["test"], service
    assert set(compose["volumes"]) == {"qdrant-storage", "kura-data"}


def test_qdrant_is_pinned_persistent_and_keyed(compose):
    from importlib.metadata import version

    qdrant = compose["services"]["qdrant"]
    match = re.fullmatch(r"qdrant/qdrant:v(\d+)\.(\d+)\.(\d+)", qdrant["image"])
    assert match, "pin an exact Qdrant version"
    client_major, client_minor = (int(x) for x in version("qdrant-client").split(".")[:2])
    # qdrant-client refuses (warns) when the server is more than one minor version away.
    assert int(match[1]) == client_major and abs(int(match[2]) - client_minor) <= 1
    assert "qdrant-storage:/qdrant/storage" in qdrant["volumes"]
    assert qdrant["environment"]["QDRANT__SERVICE__API_KEY"].startswith("${KURA_QDRANT_API_KEY:?")
    assert "6333" in " ".join(qdrant["healthcheck"]["test"])


def test_health_checks_hit_the_ports_the_services_listen_on(compose):
    from starlette.testclient import TestClient

    from bots.slack.server import http_app

    web, slackbot = compose["services"]["web"], compose["services"]["slackbot"]
    assert "127.0.0.1:8000/api/health" in " ".join(web["healthcheck"]["test"])
    assert web["environment"]["KURA_WEB_PORT"] == "8000" and web["ports"][0].endswith(":8000")
    url = re.search(r"http://127\.0\.0\.1:(\d+)(/\S*?)'", " ".join(slackbot["healthcheck"]["test"]))
    assert url[1] == slackbot["environment"]["KURA_SLACK_PORT"] and slackbot["ports"][0].endswith(":" + url[1])
    assert TestClient(http_app(None)).get(url[2]).status_code == 200  # the bot serves that path
    assert slackbot["profiles"] == ["slack"]


def test_reindex_runs_on_a_schedule_with_init(compose):
    reindex = compose["services"]["reindex"]
    assert reindex["entrypoint"] == ["/app/deploy/every.sh"] and reindex["init"] is True
    assert reindex["healthcheck"]["test"] == ["CMD", "/app/deploy/every.sh", "--check"]
    assert reindex["environment"]["EVERY_INTERVAL_S"] == "${REINDEX_INTERVAL_S:-3600}"


def test_cluster_has_three_replicating_nodes(compose, cluster):
    nodes = {name: spec for name, spec in cluster["services"].items() if name.startswith("qdrant")}
    assert set(nodes) == {"qdrant", "qdrant-2", "qdrant-3"}
    volumes = set()
    for name, spec in nodes.items():
        env = spec["environment"]
        assert spec["image"] == compose["services"]["qdrant"]["image"], name
        assert env["QDRANT__CLUSTER__ENABLED"] == "true"
        assert env["QDRANT__STORAGE__COLLECTION__REPLICATION_FACTOR"] == "2"
        assert env["QDRANT__SERVICE__API_KEY"].startswith("${KURA_QDRANT_API_KEY")
        assert spec["command"][spec["command"].index("--uri") + 1] == f"http://{name}:6335"
        volumes.add(spec["volumes"][0].split(":")[0])
        if name != "qdrant":
            assert spec["command"][spec["command"].index("--bootstrap") + 1] == "http://qdrant:6335"
    assert len(volumes) == 3 and volumes <= set(cluster["volumes"])


def env_example() -> dict[str, str]:
    """KEY -> value of .env.example, commented-out example lines included (they are documentation too)."""
    values = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            values[match[1]] = match[2]
    return values


def test_env_example_names_only_real_settings_and_defines_every_variable_used():
    names = env_example()
    fields = set(Settings.model_fields)
    for name in names:
        if name.startswith("KURA_"):
            assert name[len("KURA_"):].lower() in fields, f"{name} is not a Kura setting"
    for file in ("docker-compose.yml", "docker-compose.cluster.yml"):
        text = (ROOT / file).read_text(encoding="utf-8")
        for var, has_default in re.findall(r"\$\{([A-Z0-9_]+)(:-)?", text):
            assert has_default or var in names, f"{file} uses ${{{var}}} without a default or .env.example entry"
    assert "KURA_QDRANT_API_KEY" in names and "COMPOSE_PROFILES" in names


def test_dockerfile_installs_the_package_like_the_makefile():
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert dockerfile.startswith("#") and "\nFROM python:3.11-slim\n" in dockerfile
    torch = re.search(r"torch==([\d.]+)", makefile)[1]
    assert f"pip install torch=={torch} --index-url https://download.pytorch.org/whl/cpu" in dockerfile
    assert "RUN pip install .\n" in dockerfile
    packages = re.search(r'include = \[(.*?)\]', pyproject)[1]
    for package in re.findall(r'"(\w+)\*"', packages):
        assert f"COPY {package} ./{package}\n" in dockerfile, package
    assert "COPY deploy ./deploy" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".env", ".venv", "data", ".git"} <= set(ignored)  # no secrets or local index in the image
