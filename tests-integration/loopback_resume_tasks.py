"""A parent task that awaits several child tasks, for the loopback's evict-and-retry test.

Each child appends its input to a ledger file (a path in the test's temporary directory) as it
runs, so the test can tell how many times each child ran.
"""

from __future__ import annotations

import asyncio

import flyte

env = flyte.TaskEnvironment(name="loopback_resume", image="example.com/test:latest")


@env.task
async def slow_square(x: int, seconds: float, ledger: str) -> int:
    """Note x in the ledger, sleep, then return x * x."""
    with open(ledger, "a") as f:
        f.write(f"{x}\n")
    await asyncio.sleep(seconds)
    return x * x


@env.task
async def fan_out(n: int, seconds: float, ledger: str) -> int:
    """Await slow_square(0..n-1) concurrently and return the sum of the squares."""
    squares = await asyncio.gather(*(slow_square(x, seconds, ledger) for x in range(n)))
    return sum(squares)
