"""Command line: serve, mailer, create-user, set-role, generate-key, generate-refresh-key, create-client,
revoke-client."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from auth_service.accounts import AccountStore, normalize_email
from auth_service.clients import KNOWN_SCOPES, ClientStore
from auth_service.config import AuthConfig, EmailConfig, HashingConfig
from auth_service.passwords import PasswordHasher
from shared import redis_keys
from shared.cli import run_command
from shared.config import ConfigError, env_int, env_redis_url
from shared.revocation import RevocationPublisher
from shared.store import RedisClient, connect_redis


def _serve(args: argparse.Namespace) -> int:
    from auth_service import create_app
    from shared.serve import serve

    serve("auth_service.gunicorn_conf", lambda: create_app(AuthConfig.from_env()))
    return 0


def _mailer(args: argparse.Namespace) -> int:
    import logging.config
    import signal
    import threading

    from auth_service.mailer import Mailer
    from shared.logs import logging_config

    config = EmailConfig.from_env()
    if config is None:
        raise ConfigError("EMAIL is off: the mailer sends only with EMAIL=on (and SMTP_URL, MAIL_FROM, PUBLIC_URL)")
    logging.config.dictConfig(logging_config("auth_service.mailer"))
    client = connect_redis(env_redis_url(os.environ))
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    Mailer(client, config, _accounts(client)).run(stop)
    return 0


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != password:
        raise SystemExit("error: the passwords differ")
    return password


def _accounts(client: RedisClient | None = None) -> AccountStore:
    """The account store, configured by REDIS_URL and the ARGON2_* settings alone."""
    client = client or connect_redis(env_redis_url(os.environ))
    return AccountStore(client, PasswordHasher(HashingConfig.from_env()))


def _create_user(args: argparse.Namespace) -> int:
    role = "admin" if args.admin else "user"
    accounts = _accounts()
    user = accounts.register(args.email, _read_password(args.password_stdin), args.name, role=role)
    print(json.dumps({**user, "role": role}))
    return 0


def _account(accounts: AccountStore, email: str) -> dict[str, str]:
    """The account of `email`; exits with one line when there is none."""
    account = accounts.find_by_email(normalize_email(email))
    if account is None:
        raise SystemExit(f"error: no account for {email}")
    return account


def _set_role(args: argparse.Namespace) -> int:
    accounts = _accounts()
    account = _account(accounts, args.email)
    accounts.set_role(account["id"], args.role)
    print(f"{account['email']} is now {args.role}; their tokens carry it from their next refresh")
    return 0


def _reset_password(args: argparse.Namespace) -> int:
    client = connect_redis(env_redis_url(os.environ))
    accounts = AccountStore(client, PasswordHasher(HashingConfig.from_env()))
    account = _account(accounts, args.email)
    index: list[bytes] = client.zrange(redis_keys.user_sessions_key(account["id"]), 0, -1)  # type: ignore[assignment]
    live = [sid.decode() for sid in index]
    ended = accounts.change_password(account["id"], _read_password(args.password_stdin))
    # Resource services under REVOCATION_PUSH refuse the ended sessions' access tokens at once.
    publisher = RevocationPublisher(client, token_ttl=env_int(os.environ, "ACCESS_TOKEN_TTL", 900, minimum=1))
    publisher.user_sessions_ended(account["id"], session_ids=live)
    print(f"password of {account['email']} reset; {ended} sessions ended")
    return 0


def _clients() -> ClientStore:
    """The service-client store, configured by REDIS_URL alone."""
    return ClientStore(connect_redis(env_redis_url(os.environ)))


def _create_client(args: argparse.Namespace) -> int:
    client, secret = _clients().create(args.name, args.scope)
    print(json.dumps({"client_id": client.client_id, "client_secret": secret}))
    print(f"client {client.name!r} may ask for: {client.scope}; the secret is not kept, store it now",
          file=sys.stderr)
    return 0


def _revoke_client(args: argparse.Namespace) -> int:
    if not _clients().revoke(args.client_id):
        raise SystemExit(f"error: no client {args.client_id}")
    print(f"revoked {args.client_id}; access tokens it holds live out ACCESS_TOKEN_TTL")
    return 0


def _generate_key(args: argparse.Namespace) -> int:
    from auth_service.keys import generate_key

    return _write_key(args.path, generate_key, "kid")


def _generate_refresh_key(args: argparse.Namespace) -> int:
    from auth_service.tokens import generate_refresh_key

    return _write_key(args.path, generate_refresh_key, "refresh-token key id")


def _write_key(path: str, generate: Callable[[Path], str], id_name: str) -> int:
    """Run a key generator that writes a new file, never over one; print the key's public id."""
    try:
        kid = generate(Path(path))
    except FileExistsError:
        raise SystemExit(f"error: {path} exists already; not overwriting a key") from None
    print(f"wrote {path} ({id_name} {kid})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m auth_service", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="serve with gunicorn in the foreground").set_defaults(run=_serve)
    commands.add_parser("mailer", help="send the queued mails over SMTP (EMAIL=on), in the foreground").set_defaults(
        run=_mailer
    )
    create = commands.add_parser("create-user", help="create a user (an admin with --admin)")
    create.add_argument("email")
    create.add_argument("--admin", action="store_true", help="give the user the admin role")
    create.add_argument("--name", default=None)
    create.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    create.set_defaults(run=_create_user)
    role = commands.add_parser("set-role", help="change a user's role")
    role.add_argument("email")
    role.add_argument("role", choices=["user", "admin"])
    role.set_defaults(run=_set_role)
    reset = commands.add_parser("reset-password", help="set a user's password and end all their sessions")
    reset.add_argument("email")
    reset.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    reset.set_defaults(run=_reset_password)
    keygen = commands.add_parser("generate-key", help="write a new RSA private key as PEM")
    keygen.add_argument("path")
    keygen.set_defaults(run=_generate_key)
    refresh_keygen = commands.add_parser("generate-refresh-key", help="write a new refresh-token key (256 bits)")
    refresh_keygen.add_argument("path")
    refresh_keygen.set_defaults(run=_generate_refresh_key)
    new_client = commands.add_parser("create-client", help="create a service client (client_credentials)")
    new_client.add_argument("name")
    new_client.add_argument("--scope", required=True, help=f"space-separated, of: {' '.join(KNOWN_SCOPES)}")
    new_client.set_defaults(run=_create_client)
    revoke = commands.add_parser("revoke-client", help="delete a service client; its secret stops working")
    revoke.add_argument("client_id")
    revoke.set_defaults(run=_revoke_client)
    return run_command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
