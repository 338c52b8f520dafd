"""Bytes a refresh session costs in Redis after 0, 100, 1,000 and 2,000 rotations.

    .venv/bin/python bench/session_memory.py redis://127.0.0.1:6379/15   # a database it may flush

MEMORY USAGE (samples=0: every element counted) of each key the session owns: its hash and
the user's session index, with a browser-length user agent.
"""

from __future__ import annotations

import sys

import redis

from auth_service.sessions import SessionStore
from auth_service.tokens import RefreshTokenKeys
from shared import redis_keys

USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120"


def main(url: str) -> None:
    client = redis.Redis.from_url(url)
    client.flushdb()
    user_id = "0" * 32
    client.hset(redis_keys.user_key(user_id), mapping={"password_hash": "h", "email": "a@example.com", "role": "user"})
    store = SessionStore(client, keys=RefreshTokenKeys.from_secrets((b"k" * 32,)), idle_ttl=10**6,
                         max_age=10**8, reuse_grace=0)
    issued = store.create(user_id, "h", USER_AGENT)
    keys = [redis_keys.session_key(user_id, issued.session_id), redis_keys.user_sessions_key(user_id)]
    token, done = issued.refresh_token, 0
    for target in (0, 100, 1000, 2000):
        while done < target:
            token = store.rotate(token).refresh_token
            done += 1
        total = sum(int(client.memory_usage(key, samples=0) or 0) for key in keys)
        print(f"{target:>5} rotations: {total} bytes")


if __name__ == "__main__":
    main(sys.argv[1])
