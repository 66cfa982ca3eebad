"""Keep the values of `hydra.launcher.run_options.env_vars` out of the files a sweep writes.

Hydra snapshots the whole config of a sweep (`multirun.yaml`, written by its sweeper) and of
every job (`.hydra/hydra.yaml`, written by our job runner), `hydra.launcher` and the command-line
Hydra overrides (`hydra.overrides.hydra`) included. Environment variables given to the runs are
often secrets, so before anything is written their values are replaced by `<redacted>` in the
config itself: the names stay, so a snapshot still says which variables the runs got. A value
that is an interpolation (`${oc.env:API_TOKEN}`) holds no secret and is kept as written.

The runs still get the real values: FlyteLauncher reads its settings (resolved) when Hydra
instantiates it, before any of this.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict, read_write

REDACTED = "<redacted>"
# In an override, quoted: Hydra parses the overrides it saved again to compose each job.
_REDACTED_OVERRIDE_VALUE = f"'{REDACTED}'"
ENV_VARS_KEY = "hydra.launcher.run_options.env_vars"
# Override keys whose value may carry env var values: the node itself or a node above it.
_CONTAINERS = ("hydra.launcher.run_options.env_vars", "hydra.launcher.run_options", "hydra.launcher")


def _is_interpolation(text: str) -> bool:
    text = text.strip().strip("'\"")
    return text.startswith("${") and text.endswith("}")


def redacted_override(override: str) -> str:
    """A Hydra override with any env var value in it replaced by `<redacted>`."""
    key, sep, value = override.partition("=")
    if not sep:
        return override
    bare = key.lstrip("+~")
    if bare.startswith(ENV_VARS_KEY + "."):
        if _is_interpolation(value) or value == _REDACTED_OVERRIDE_VALUE:
            return override
        return f"{key}={_REDACTED_OVERRIDE_VALUE}"
    if bare in _CONTAINERS and (bare == ENV_VARS_KEY or "env_vars" in value):
        return f"{key}={{}}" if bare == ENV_VARS_KEY else f"{key}={_REDACTED_OVERRIDE_VALUE}"
    return override


def redact_env_vars(config: DictConfig) -> bool:
    """Redact env var values in `config` (a Hydra config with its `hydra` node), in place.

    Returns True if anything was changed.
    """
    changed = False
    hydra = config.get("hydra") if isinstance(config, DictConfig) else None
    if hydra is None:
        return False
    env = OmegaConf.select(config, ENV_VARS_KEY, default=None, throw_on_resolution_failure=False)
    if isinstance(env, DictConfig):
        raw = OmegaConf.to_container(env, resolve=False)
        assert isinstance(raw, dict)
        secret = [
            n for n, v in raw.items() if v != REDACTED and not (isinstance(v, str) and _is_interpolation(v))
        ]
        if secret:
            with read_write(env), open_dict(env):
                for name in secret:
                    env[name] = REDACTED
            changed = True
    overrides = OmegaConf.select(config, "hydra.overrides.hydra", default=None)
    if isinstance(overrides, ListConfig):
        texts: list[Any] = list(overrides)
        redacted = [redacted_override(str(t)) for t in texts]
        if redacted != [str(t) for t in texts]:
            with read_write(overrides):
                for index, text in enumerate(redacted):
                    if text != texts[index]:
                        overrides[index] = text
            changed = True
    return changed
