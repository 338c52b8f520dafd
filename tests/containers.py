"""Reading the Dockerfile, docker-compose.yml and .dockerignore the way Docker does, for the tests.

No Docker engine runs here, so the tests check these files against the code instead.
The Dockerfile reader knows the instructions we use and fails on any other.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"

# The compose services that run our code, by the package their command runs.
APP_SERVICES = {"auth": "auth_service", "resource": "resource_service"}


@dataclass
class Stage:
    """What one Dockerfile build stage leaves in its image."""

    name: str
    env: dict[str, str] = field(default_factory=dict)
    expose: list[int] = field(default_factory=list)
    healthcheck: list[str] | None = None
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    user: str | None = None
    copies: list[tuple[list[str], str]] = field(default_factory=list)  # (sources, destination)


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # Docker drops comment and blank lines, inside continuations too
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        instruction, _, args = (pending + line).partition(" ")
        result.append((instruction.upper(), args.strip()))
        pending = ""
    return result


def _exec_form(args: str, instruction: str) -> list[str]:
    """A JSON-array (exec form) argument list; the shell form would put /bin/sh in front of PID 1."""
    try:
        argv = json.loads(args)
    except json.JSONDecodeError:
        raise AssertionError(f"{instruction} {args!r}: use the exec form, a JSON array") from None
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv), f"{instruction} {args!r}"
    return argv


def parse_dockerfile(path: Path = REPO / "Dockerfile") -> dict[str, Stage]:
    """The Dockerfile's stages by name; a stage built `FROM` another starts with its settings."""
    stages: dict[str, Stage] = {}
    stage: Stage | None = None
    for instruction, args in _instructions(path.read_text()):
        if instruction == "FROM":
            words = args.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else f"stage{len(stages)}"
            parent = stages.get(words[0])
            stage = copy.deepcopy(parent) if parent else Stage(name)
            stage.name = name
            stages[name] = stage
            continue
        assert stage is not None, f"{instruction} before FROM"
        if instruction == "ENV":
            for word in shlex.split(args):
                assert "=" in word, f"ENV {args!r}: write NAME=value"
                name, _, value = word.partition("=")
                stage.env[name] = value
        elif instruction == "EXPOSE":
            stage.expose += [int(port.split("/")[0]) for port in args.split()]
        elif instruction == "HEALTHCHECK":
            options, _, command = args.partition("CMD ")
            assert all(o.startswith("--") for o in options.split()), f"HEALTHCHECK {args!r}"
            stage.healthcheck = _exec_form(command, "HEALTHCHECK CMD")
        elif instruction == "ENTRYPOINT":
            stage.entrypoint = _exec_form(args, instruction)
        elif instruction == "CMD":
            stage.cmd = _exec_form(args, instruction)
        elif instruction == "USER":
            stage.user = args
        elif instruction == "COPY":
            words = [w for w in args.split() if not w.startswith("--")]
            stage.copies.append((words[:-1], words[-1]))
        elif instruction not in ("RUN", "WORKDIR"):
            raise AssertionError(f"tests/containers.py does not know the instruction {instruction}")
    return stages


def load_compose() -> dict[str, Any]:
    """docker-compose.yml as compose reads it (YAML anchors and merge keys resolved)."""
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(document, dict)
    return document


def compose_env(service: dict[str, Any]) -> dict[str, str]:
    """A compose service's `environment`, in either of its two spellings, as strings."""
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {name: "" if value is None else str(value) for name, value in environment.items()}


def service_stage(service: dict[str, Any]) -> Stage:
    """The Dockerfile stage a compose service is built from."""
    build = service["build"]
    assert build["context"] == "." and build.get("dockerfile", "Dockerfile") == "Dockerfile", build
    return parse_dockerfile()[build["target"]]


def container_env(name: str) -> dict[str, str]:
    """The environment a compose service's container starts with: its image's, then compose's."""
    service = load_compose()["services"][name]
    return {**service_stage(service).env, **compose_env(service)}


def container_command(name: str) -> list[str]:
    """The argv a compose service's container runs: entrypoint, then command."""
    service = load_compose()["services"][name]
    stage = service_stage(service)
    entrypoint = service.get("entrypoint", stage.entrypoint) or []
    return [*entrypoint, *(service.get("command") or stage.cmd or [])]


def dockerignore_excludes(relative_path: str, path: Path = REPO / ".dockerignore") -> bool:
    """Whether .dockerignore keeps `relative_path` out of the build context (last match wins).

    Handles the patterns Docker matches with filepath.Match: `*` stays within one path
    segment, a pattern that matches a directory matches all inside it, `!` re-includes.
    """
    patterns = [line.strip() for line in path.read_text().splitlines()]
    parts = relative_path.strip("/").split("/")
    excluded = False
    for pattern in patterns:
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        assert "**" not in pattern, "tests/containers.py does not match ** patterns"
        segments = pattern.split("/")
        prefix = parts[: len(segments)]
        if len(prefix) == len(segments) and all(
            fnmatch.fnmatchcase(part, segment) for part, segment in zip(prefix, segments, strict=True)
        ):
            excluded = not negated
    return excluded


PYTHON_MODULE_COMMAND = re.compile(r"\bpython3?\s+-m\s+([A-Za-z_][\w.]*)\s+([\w-]+)")


def module_commands(text: str) -> list[tuple[str, str]]:
    """Every `python -m <package> <subcommand>` in a script or a joined argv."""
    return PYTHON_MODULE_COMMAND.findall(text)
