"""Command line: serve."""

from __future__ import annotations

import argparse
import sys

import redis

from resource_service.config import ResourceConfig
from shared.config import ConfigError


def _serve(args: argparse.Namespace) -> int:
    from resource_service import create_app
    from shared.serve import serve

    # The app is built before gunicorn starts, so a bad setting stops us here, once.
    serve("resource_service.gunicorn_conf", lambda: create_app(ResourceConfig.from_env()))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m resource_service", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve with gunicorn in the foreground")
    serve.set_defaults(run=_serve)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    except redis.exceptions.ConnectionError:  # a cluster client must reach a node to start
        print("error: cannot reach Redis at REDIS_URL", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
