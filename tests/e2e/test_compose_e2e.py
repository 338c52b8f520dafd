"""The containers' settings, run for real on this machine: what `docker compose up` would start.

Each service runs its container's command (the auth entrypoint included) with its
container's environment; only what must differ outside Docker is replaced: the Redis
URL and ports (free ones), the host in JWKS_URL, and the key directory (a temp dir
standing in for the volume).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlparse

import redis
import requests

from tests.conftest import CHEAP_ARGON2_ENV, RedisServer, free_port
from tests.containers import container_command, container_env, load_compose, service_stage
from tests.e2e.conftest import REPO, Service

PASSWORD = "correct horse battery"


def on_this_machine(argv: list[str], name: str) -> list[str]:
    """A container argv for this machine: the entrypoint from the repo, this Python."""
    stage = service_stage(load_compose()["services"][name])
    copied = {Path(dest).name: str(REPO / sources[0]) for sources, dest in stage.copies if len(sources) == 1}
    argv = [copied.get(argv[0], argv[0]), *argv[1:]]
    return [sys.executable if word == "python" else word for word in argv]


def machine_env(name: str, **overrides: str) -> dict[str, str]:
    """A service's container environment with `overrides`; `python` on PATH is this venv's."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return {"PATH": path, **container_env(name), **CHEAP_ARGON2_ENV, **overrides}


def healthcheck(name: str, env: dict[str, str]) -> int:
    """The exit status of the image's HEALTHCHECK command, run with the container's environment."""
    stage = service_stage(load_compose()["services"][name])
    assert stage.healthcheck
    return subprocess.run(on_this_machine(stage.healthcheck, name), env=env, capture_output=True,
                          timeout=30).returncode


def start(stack: ExitStack, name: str, env: dict[str, str], log_dir: Path) -> Service:
    package = "auth_service" if name == "auth" else "resource_service"
    service = Service(package, env, log_dir / f"{name}.log", on_this_machine(container_command(name), name))
    stack.callback(service.stop)
    return service.start()


def jwks_kids(auth: Service) -> list[str]:
    return [key["kid"] for key in requests.get(f"{auth.url}/.well-known/jwks.json", timeout=5).json()["keys"]]


def test_both_services_run_with_their_container_settings(tmp_path, redis_server):
    volume = tmp_path / "keys"  # the auth-keys volume
    volume.mkdir(mode=0o700)
    key_file = volume / Path(container_env("auth")["JWT_PRIVATE_KEY_FILE"]).name
    refresh_key_file = volume / Path(container_env("auth")["REFRESH_TOKEN_KEY_FILE"]).name
    auth_env = machine_env("auth", REDIS_URL=redis_server.url, AUTH_PORT=str(free_port()),
                           JWT_PRIVATE_KEY_FILE=str(key_file), REFRESH_TOKEN_KEY_FILE=str(refresh_key_file))
    with ExitStack() as stack:
        # First start: the entrypoint makes the signing and refresh-token keys, readable by the
        # service's user alone.
        auth = start(stack, "auth", auth_env, tmp_path)
        assert key_file.stat().st_mode & 0o777 == 0o600
        assert refresh_key_file.stat().st_mode & 0o777 == 0o600
        (kid,) = jwks_kids(auth)
        assert f"(kid {kid})" in auth.log()
        assert healthcheck("auth", auth_env) == 0

        jwks = urlparse(container_env("resource")["JWKS_URL"])
        resource_env = machine_env(
            "resource", REDIS_URL=redis_server.url, RESOURCE_PORT=str(free_port()),
            JWKS_URL=jwks._replace(netloc=f"127.0.0.1:{auth.port}").geturl(),
        )
        resource = start(stack, "resource", resource_env, tmp_path)
        assert healthcheck("resource", resource_env) == 0

        # The two services' settings agree: a token from one is good at the other.
        email = f"compose-{uuid.uuid4().hex[:12]}@example.com"
        assert requests.post(f"{auth.url}/register", json={"email": email, "password": PASSWORD},
                             timeout=5).status_code == 201
        pair = requests.post(f"{auth.url}/login", json={"email": email, "password": PASSWORD}, timeout=5).json()
        bearer = {"Authorization": f"Bearer {pair['access_token']}"}
        me = requests.get(f"{resource.url}/me", headers=bearer, timeout=5)
        assert me.status_code == 200 and me.json()["email"] == email

        # A restart keeps the keys in the volume: the tokens already out stay good.
        pem, refresh_key = key_file.read_bytes(), refresh_key_file.read_bytes()
        auth.stop()
        assert healthcheck("auth", auth_env) != 0, "the healthcheck passed with the service down"
        auth.start()
        assert key_file.read_bytes() == pem and jwks_kids(auth) == [kid]
        assert refresh_key_file.read_bytes() == refresh_key
        assert requests.get(f"{auth.url}/sessions", headers=bearer, timeout=5).status_code == 200
        assert requests.post(f"{auth.url}/refresh", json={"refresh_token": pair["refresh_token"]},
                             timeout=5).status_code == 200


def test_redis_runs_with_the_compose_options(tmp_path):
    command = load_compose()["services"]["redis"]["command"]
    assert command[0] == "redis-server"
    server = RedisServer(tmp_path / "redis", *command[1:])  # the compose options come last and win
    server.start()
    try:
        client = redis.Redis.from_url(server.url)
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        client.close()
    finally:
        server.stop()


def test_the_demo_page_runs_with_its_container_settings_and_points_at_the_published_services():
    compose = load_compose()["services"]
    argv = [sys.executable if word == "python" else word.replace("/web/", f"{REPO}/web/", 1)
            for word in container_command("web")]
    port = free_port()
    env = {**machine_env("web"), "WEB_HOST": "127.0.0.1", "WEB_PORT": str(port)}
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        published = {name: int(str(compose[name]["ports"][0]).split(":")[1]) for name in ("auth", "resource", "web")}
        for host in ("localhost", "127.0.0.1"):
            config = None
            for _ in range(100):
                try:
                    config = requests.get(f"http://127.0.0.1:{port}/config.json", timeout=2,
                                          headers={"Host": f"{host}:{published['web']}"}).json()
                    break
                except requests.ConnectionError:  # still starting
                    assert process.poll() is None, "web/serve.py exited"
                    time.sleep(0.05)
            # The browser reaches the published ports, on the host name it opened the page with...
            assert config == {"auth_url": f"http://{host}:{published['auth']}",
                              "resource_url": f"http://{host}:{published['resource']}"}
            # ...and both services let that page in.
            for name in ("auth", "resource"):
                assert f"http://{host}:{published['web']}" in container_env(name)["ALLOWED_ORIGINS"].split(",")
        page = requests.get(f"http://127.0.0.1:{port}/", timeout=2)
        assert page.status_code == 200 and "<title>Teamroom</title>" in page.text
        # The mails' links (PUBLIC_URL/...) open this page at its published origin, on the same site
        # as the auth service the page then calls.
        public = urlparse(container_env("mailer")["PUBLIC_URL"])
        assert (public.scheme, public.port, public.path) == ("http", published["web"], "")
        for path in ("/reset-password", "/verify-email"):
            link = requests.get(f"http://127.0.0.1:{port}{path}?token=abc", headers={"Host": public.netloc}, timeout=2)
            assert link.status_code == 200 and "<title>Teamroom</title>" in link.text, path
        config = requests.get(f"http://127.0.0.1:{port}/config.json", headers={"Host": public.netloc}, timeout=2).json()
        assert urlparse(config["auth_url"]).hostname == public.hostname
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_mailer_sends_with_its_container_settings(tmp_path, redis_server, redis_client):
    from auth_service.accounts import AccountStore
    from auth_service.config import HashingConfig
    from auth_service.mailqueue import MailQueue
    from auth_service.passwords import PasswordHasher
    from tests.e2e.test_email_e2e import MailerProcess
    from tests.smtp import SmtpSink

    sink = SmtpSink().start()
    try:
        # The mail catcher's address becomes the local SMTP server's; all else is the container's.
        env = machine_env("mailer", REDIS_URL=redis_server.url, SMTP_URL=sink.url)
        command = on_this_machine(container_command("mailer"), "mailer")
        assert command[1:] == ["-m", "auth_service", "mailer"]
        accounts = AccountStore(redis_client, PasswordHasher(HashingConfig(8, 1, 1)))
        email = f"compose-{uuid.uuid4().hex[:12]}@example.com"
        accounts.register(email, PASSWORD)
        MailQueue(redis_client).enqueue("verify", email)
        mailer = MailerProcess(env, tmp_path / "mailer.log").start()
        try:
            mail = sink.wait_for(email, "Confirm your email address")
            assert mail.link.startswith(container_env("mailer")["PUBLIC_URL"] + "/verify-email?token=")
        finally:
            mailer.stop()
    finally:
        sink.stop()
