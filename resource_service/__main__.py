"""Command line: serve."""

from __future__ import annotations

import argparse
import sys

from resource_service.config import ResourceConfig
from shared.cli import run_command


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
    return run_command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
