"""A Hydra callback that records what on_job_end saw, for the launcher's callback tests."""

from __future__ import annotations

from typing import Any

from hydra.experimental.callback import Callback

SEEN: list[tuple[str, Any]] = []


class RecordingCallback(Callback):
    """Appends (status, return value) of every job it sees end."""

    def on_job_end(self, config: Any, job_return: Any, **kwargs: Any) -> None:
        SEEN.append((job_return.status.name, job_return._return_value))
