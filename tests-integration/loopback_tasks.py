"""Tiny Flyte tasks the loopback control-plane tests submit."""

from __future__ import annotations

import asyncio
import os

import flyte

env = flyte.TaskEnvironment(name="loopback", image="example.com/test:latest")


@env.task
async def add(x: int, y: int) -> int:
    """Return x + y."""
    return x + y


@env.task
async def fail(message: str) -> int:
    """Raise ValueError(message)."""
    raise ValueError(message)


@env.task
async def shout(message: str, lines: int = 3) -> str:
    """Print `lines` numbered lines, then return the message upper-cased."""
    for i in range(lines):
        print(f"loopback-log-line {i}: {message}", flush=True)
    return message.upper()


@env.task
async def sleep(seconds: float) -> float:
    """Sleep, then return the seconds."""
    await asyncio.sleep(seconds)
    return seconds


@env.task
async def read_env(key: str) -> str:
    """Return an environment variable of the task process."""
    return os.environ.get(key, "")


@env.task
async def square(x: int) -> int:
    """Return x * x."""
    return x * x


@env.task
async def pipeline(x: int) -> int:
    """Await two child tasks, one with overridden resources, and sum them."""
    a, b = await asyncio.gather(
        add(x, 1),
        square.override(resources=flyte.Resources(cpu="2", memory="1Gi"))(x),
    )
    return a + b
