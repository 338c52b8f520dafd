"""The tests' hand on the store's clock: milliseconds the Lua scripts add to Redis TIME."""

from __future__ import annotations


class StoreClock:
    """An offset the tests move (`clock.now += seconds`); the stores call it for each script."""

    def __init__(self) -> None:
        self.now = 0.0  # seconds added to the store's clock

    def __call__(self) -> int:
        return int(self.now * 1000)
