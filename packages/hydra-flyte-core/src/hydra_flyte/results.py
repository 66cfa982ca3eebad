"""One result type for a finished run, local or remote, and one outcome record per sweep job."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any


class RunResult:
    """The outputs of a finished Flyte run, with the run itself.

    `value` is the task's output (a tuple for several outputs, None for none); `float(result)`
    gives a scalar objective to Hydra sweepers such as Optuna; iterating yields each output.
    """

    __slots__ = ("outputs", "run", "url", "name", "overrides")

    def __init__(
        self,
        outputs: Sequence[Any],
        *,
        run: Any = None,
        url: str | None = None,
        name: str | None = None,
        overrides: Sequence[str] = (),
    ):
        self.outputs = tuple(outputs)
        self.run = run
        self.url = url
        self.name = name
        self.overrides = tuple(overrides)  # the job's overrides, as Hydra gave them

    @property
    def value(self) -> Any:
        """The task's return value: the output itself for one output, a tuple for several."""
        if len(self.outputs) == 1:
            return self.outputs[0]
        if not self.outputs:
            return None
        return self.outputs

    def __float__(self) -> float:
        value = self.value
        try:
            return float(value)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"the run's output {value!r} is not a number, so it cannot be a sweeper's objective: "
                "return a float from the task (or a tuple whose objectives the sweeper iterates)."
            ) from exc

    def __iter__(self) -> Iterator[Any]:
        return iter(self.outputs)

    def __len__(self) -> int:
        return len(self.outputs)

    def __getitem__(self, index: int) -> Any:
        return self.outputs[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RunResult):
            return self.outputs == other.outputs and self.url == other.url
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        where = f", url={self.url!r}" if self.url else ""
        return f"RunResult(value={self.value!r}{where})"


@dataclass
class JobOutcome:
    """What became of one job of a sweep: its overrides and its result or error."""

    job_num: int
    overrides: list[str]
    result: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None
