"""The `hydra/sweeper=optuna_async` class, light: its work is done by hydra_flyte.optuna.sweeper.

The leading underscore keeps Hydra's plugin scan from importing this module by itself; the
package's __init__ imports the class, which is how the scan registers it.
"""

from __future__ import annotations

from typing import Any

from hydra.plugins.sweeper import Sweeper


class OptunaAsyncSweeper(Sweeper):
    """Optuna through ask-and-tell: `n_jobs` trials in flight, a new one asked as each finishes."""

    def __init__(self, **settings: Any) -> None:
        self._settings = settings
        self._impl: Any = None

    def setup(self, *, hydra_context: Any, task_function: Any, config: Any) -> None:
        from hydra_flyte.optuna.sweeper import OptunaAsyncSweep

        self._impl = OptunaAsyncSweep(**self._settings)
        self._impl.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> Any:
        assert self._impl is not None, "setup() comes first"
        return self._impl.sweep(arguments)
