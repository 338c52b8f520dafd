"""docker-compose.yml, the Dockerfile and .dockerignore, checked against the code they run.

No Docker engine runs here: these tests check what a container would meet instead (every
variable set is one the service reads, commands exist, ports and paths agree), and
tests/e2e/test_compose_e2e.py starts the services with the containers' settings.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from flask import Flask

from auth_service import config as auth_config
from auth_service import create_app as create_auth_app
from auth_service.__main__ import main as auth_main
from auth_service.config import AuthConfig
from resource_service import config as resource_config
from resource_service import create_app as create_resource_app
from resource_service.__main__ import main as resource_main
from resource_service.config import ResourceConfig
from shared.serve import gunicorn_settings
from tests.conftest import write_private_key, write_public_key, write_refresh_key
from tests.containers import (
    APP_SERVICES,
    COMPOSE_FILE,
    REPO,
    compose_env,
    container_command,
    container_env,
    dockerignore_excludes,
    load_compose,
    module_commands,
    parse_dockerfile,
    service_stage,
)

CONFIGS: dict[str, Any] = {"auth_service": AuthConfig, "resource_service": ResourceConfig}
CONFIG_MODULES: dict[str, Any] = {"auth_service": auth_config, "resource_service": resource_config}
CLIS = {"auth_service": auth_main, "resource_service": resource_main}


class RecordingEnviron(dict[str, str]):
    """An environment that remembers every name read from it."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        self.read.add(name)
        return super().get(name, default)

    def __getitem__(self, name: str) -> str:
        self.read.add(name)
        return super().__getitem__(name)

    def __contains__(self, name: object) -> bool:
        self.read.add(str(name))
        return super().__contains__(name)


@pytest.fixture(scope="module")
def key_files(tmp_path_factory, rsa_private_key) -> tuple[Path, Path, Path]:
    directory = tmp_path_factory.mktemp("container-keys")
    return (write_private_key(rsa_private_key, directory / "private.pem"),
            write_public_key(rsa_private_key, directory / "public.pem"),
            write_refresh_key(directory / "refresh-token.key"))


def runnable_env(name: str, key_files: tuple[Path, Path, Path]) -> dict[str, str]:
    """A service's container environment, its key path pointing at a key of the tests'."""
    env = container_env(name)
    if "JWT_PRIVATE_KEY_FILE" in env:  # in the container, the entrypoint makes these files
        env["JWT_PRIVATE_KEY_FILE"] = str(key_files[0])
    if "REFRESH_TOKEN_KEY_FILE" in env:
        env["REFRESH_TOKEN_KEY_FILE"] = str(key_files[2])
    return env


def read_by_service(package: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> tuple[set[str], str, int]:
    """The variables `python -m <package> serve` reads from `env`, and the host and port it binds."""
    environ = RecordingEnviron(env)
    CONFIGS[package].from_env(environ)
    # Its gunicorn settings read the environment too (address, WEB_CONCURRENCY).
    with monkeypatch.context() as patch:
        patch.setattr(os, "environ", environ)
        module = CONFIG_MODULES[package]
        settings = gunicorn_settings(package, env_prefix=module.ADDRESS_PREFIX, default_port=module.DEFAULT_PORT)
        host, _, port = settings["bind"].rpartition(":")
    return environ.read, host, int(port)


def published(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(host address, host port, container port) of each short-syntax `ports` entry."""
    result = []
    for entry in service.get("ports", []):
        *host, container = str(entry).split(":")
        address = host[0] if len(host) == 2 else "0.0.0.0"
        result.append((address, int(host[-1]) if host else int(container), int(container.split("/")[0])))
    return result


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


def compose_tool() -> list[str]:
    """`docker compose` (the CLI plugin) or `docker-compose`; `make test` installs the latter."""
    if shutil.which("docker") and subprocess.run(
        ["docker", "compose", "version"], capture_output=True, timeout=30
    ).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("neither `docker compose` nor `docker-compose` is installed: run `make test`, which installs it")


def test_docker_compose_accepts_the_file_and_reads_it_as_we_do(compose):
    result = subprocess.run([*compose_tool(), "-f", str(COMPOSE_FILE), "config"], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    normalized = yaml.safe_load(result.stdout)
    assert set(normalized["services"]) == set(compose["services"])
    for name, service in compose["services"].items():
        assert compose_env(normalized["services"][name]) == compose_env(service), name


@pytest.mark.parametrize("name", APP_SERVICES)
def test_every_variable_a_container_sets_is_one_its_service_reads(name, key_files, monkeypatch):
    env = runnable_env(name, key_files)
    read, _, _ = read_by_service(APP_SERVICES[name], env, monkeypatch)
    unread = sorted(set(env) - read)
    assert not unread, f"{name} sets {unread}, which {APP_SERVICES[name]} never reads"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_containers_listen_on_every_interface_at_the_published_port(name, compose, key_files, monkeypatch):
    service = compose["services"][name]
    _, host, port = read_by_service(APP_SERVICES[name], runnable_env(name, key_files), monkeypatch)
    assert host == "0.0.0.0", "a service on 127.0.0.1 cannot be reached from outside its container"
    ports = published(service)
    assert ports and {container for _, _, container in ports} == {port}
    assert service_stage(service).expose == [port]


@pytest.mark.parametrize("name", APP_SERVICES)
def test_commands_the_containers_run_exist(name, compose, capsys):
    stage = service_stage(compose["services"][name])
    command = container_command(name)
    scripts = [src for sources, dest in stage.copies for src in sources
               if stage.entrypoint and Path(dest).name == stage.entrypoint[0]]
    texts = [" ".join(command)] + [(REPO / script).read_text() for script in scripts]
    for script in scripts:
        assert os.access(REPO / script, os.X_OK), f"{script} is not executable"
    found = [found for text in texts for found in module_commands(text)]
    assert (APP_SERVICES[name], "serve") in found
    for package, subcommand in found:
        with pytest.raises(SystemExit) as exit_info:
            CLIS[package]([subcommand, "--help"])
        assert exit_info.value.code == 0, f"`python -m {package} {subcommand}` does not exist"
    capsys.readouterr()


def app_for(name: str, key_files: tuple[Path, Path, Path]) -> Flask:
    """The service's app under its container settings (the resource one with a PEM key, not a fetch)."""
    env = runnable_env(name, key_files)
    if name == "resource":
        env = {k: v for k, v in env.items() if k != "JWKS_URL"} | {"JWT_PUBLIC_KEY_FILE": str(key_files[1])}
        return create_resource_app(ResourceConfig.from_env(env))
    return create_auth_app(AuthConfig.from_env(env))


@pytest.mark.parametrize("name", APP_SERVICES)
def test_healthchecks_poll_a_route_that_answers_on_the_service_port(name, compose, key_files, monkeypatch):
    stage = service_stage(compose["services"][name])
    assert stage.healthcheck and stage.healthcheck[:2] == ["python", "-c"]
    code = stage.healthcheck[2]
    assert "urllib.request.urlopen('http://127.0.0.1:' + os.environ[" in code
    port_variable = code.split("os.environ['")[1].split("']")[0]
    path = code.split("+ '")[1].split("'")[0]
    env = runnable_env(name, key_files)
    _, _, port = read_by_service(APP_SERVICES[name], env, monkeypatch)
    assert env[port_variable] == str(port)
    assert app_for(name, key_files).test_client().get(path).status_code == 200


def test_the_resource_service_gets_public_keys_from_the_auth_service(compose, key_files):
    resource, auth = compose["services"]["resource"], compose["services"]["auth"]
    env = container_env("resource")
    assert "JWT_PRIVATE_KEY_FILE" not in env and "JWT_PUBLIC_KEY_FILE" not in env
    jwks = urlparse(env["JWKS_URL"])
    assert jwks.hostname == "auth" and jwks.port == int(container_env("auth")["AUTH_PORT"])
    answer = app_for("auth", key_files).test_client().get(jwks.path)
    assert answer.status_code == 200 and answer.get_json()["keys"]
    # The signing and refresh-token keys live in a volume that the auth service alone mounts.
    key_dir = str(Path(container_env("auth")["JWT_PRIVATE_KEY_FILE"]).parent)
    assert str(Path(container_env("auth")["REFRESH_TOKEN_KEY_FILE"]).parent) == key_dir
    assert "REFRESH_TOKEN_KEY_FILE" not in env
    auth_mounts = {str(v).split(":")[0]: str(v).split(":")[1] for v in auth.get("volumes", [])}
    key_volume = next(volume for volume, target in auth_mounts.items() if target == key_dir)
    assert key_volume in compose["volumes"]
    for name, other in compose["services"].items():
        if name != "auth":
            assert not any(str(v).startswith(key_volume + ":") for v in other.get("volumes", [])), name
    assert "depends_on" in resource and "auth" in resource["depends_on"]


def test_both_services_agree_on_issuer_and_audience_and_the_issuer_is_the_published_url(compose, key_files):
    auth = AuthConfig.from_env(runnable_env("auth", key_files))
    resource = ResourceConfig.from_env(container_env("resource"))
    assert (auth.issuer, auth.audience) == (resource.issuer, resource.audience)
    issuer = urlparse(auth.issuer)
    address, host_port, _ = published(compose["services"]["auth"])[0]
    assert (issuer.hostname, issuer.port) == (address, host_port)


def test_services_wait_for_the_healthy_services_their_urls_name(compose):
    services = compose["services"]
    for name in APP_SERVICES:
        env = container_env(name)
        named = {urlparse(env[v]).hostname for v in ("REDIS_URL", "JWKS_URL") if v in env}
        depends = services[name].get("depends_on", {})
        assert named <= set(depends), f"{name} reaches {named} but waits only for {set(depends)}"
        for dependency, how in depends.items():
            assert how == {"condition": "service_healthy"}, name
            target = services[dependency]
            has_check = "healthcheck" in target or ("build" in target and service_stage(target).healthcheck)
            assert has_check, f"{dependency} has no healthcheck, so {name} would wait for ever"


def test_images_run_as_an_unprivileged_user():
    for name, stage in parse_dockerfile().items():
        if stage.cmd:
            assert stage.user and stage.user.split(":")[0] not in ("root", "0"), name


def test_the_build_context_has_what_the_image_copies_and_no_local_state_or_keys():
    for stage in parse_dockerfile().values():
        for sources, _ in stage.copies:
            for source in sources:
                assert (REPO / source).exists(), source
                assert not dockerignore_excludes(source), f".dockerignore leaves out {source}, which COPY needs"
                files = [REPO / source] if (REPO / source).is_file() else (REPO / source).rglob("*")
                for file in files:
                    if file.is_file() and "__pycache__" not in file.parts:
                        assert b"-----BEGIN" not in file.read_bytes(), f"{file} holds a key or certificate"
    for local in (".venv/bin/python", "var/jwt-key.pem", "var/redis/appendonly.aof", ".git/HEAD",
                  "tests/conftest.py", "auth_service/__pycache__/api.cpython-311.pyc"):
        assert dockerignore_excludes(local), f"{local} would go into the build context"


def test_the_mailer_runs_its_command_with_settings_it_reads_and_agrees_with_the_auth_service(compose, capsys):
    from auth_service.config import EmailConfig, HashingConfig
    from shared.config import env_redis_url

    command = container_command("mailer")
    assert module_commands(" ".join(command)) == [("auth_service", "mailer")]
    with pytest.raises(SystemExit) as exit_info:
        auth_main(["mailer", "--help"])
    assert exit_info.value.code == 0
    capsys.readouterr()

    env = container_env("mailer")
    environ = RecordingEnviron(env)
    email = EmailConfig.from_env(environ)  # what `python -m auth_service mailer` reads
    env_redis_url(environ)
    HashingConfig.from_env(environ)
    # The image's own settings are the auth service's (AUTH_PORT, ...); those compose sets are the mailer's.
    assert email is not None and not sorted(set(compose_env(compose["services"]["mailer"])) - environ.read)
    assert email == EmailConfig.from_env(container_env("auth")), "the auth service and the mailer disagree"
    assert env["REDIS_URL"] == container_env("auth")["REDIS_URL"]
    # It sends to the compose mail catcher, and holds no key.
    assert email.smtp.host in compose["services"] and "image" in compose["services"][email.smtp.host]
    assert not compose["services"]["mailer"].get("volumes")
    assert compose["services"]["mailer"]["depends_on"]["redis"] == {"condition": "service_healthy"}


def test_the_mails_link_to_the_origin_the_web_service_publishes(compose):
    from auth_service.config import EmailConfig

    address, host_port, _ = published(compose["services"]["web"])[0]
    for name in ("auth", "mailer"):
        email = EmailConfig.from_env(container_env(name))
        assert email is not None, name
        public = urlparse(email.public_url)
        # The page as the README and the browser name it: http://localhost:8000 (or 127.0.0.1).
        assert public.scheme == "http" and public.hostname in ("localhost", address), email.public_url
        assert public.port == host_port and public.path == "", email.public_url
        # A page opened from a link may call both services (CORS, and cookie mode on the auth service).
        for service in APP_SERVICES:
            assert email.public_url in container_env(service)["ALLOWED_ORIGINS"].split(","), service
