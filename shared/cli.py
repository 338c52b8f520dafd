"""What both services' command lines share: running a subcommand, errors as one line."""

from __future__ import annotations

import argparse
import sys

import redis

from shared.config import ConfigError
from shared.errors import OAuthError


def run_command(args: argparse.Namespace) -> int:
    """Run the parsed subcommand (`args.run`); a known failure is one line on stderr and an exit code."""
    try:
        return int(args.run(args))
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    except OAuthError as exc:
        print(f"error: {exc.description}", file=sys.stderr)
        return 1
    except redis.exceptions.ConnectionError:  # a cluster client must also reach a node to start
        print("error: cannot reach Redis at REDIS_URL", file=sys.stderr)
        return 1
