"""The launch settings: one declaration each (name, type, default, help, entry points).

`LaunchSettings` below is the only place a launch setting is declared. Everything else is
derived from it:

- the Hydra config `hydra_flyte.launcher_config.FlyteLauncherConf` (`hydra.launcher.<name>`),
- the settings the engine reads (`LaunchSettings` itself, built from a config by `settings_from_config`),
- the SDK keywords of `hydra_run` / `hydra_sweep` (their signatures are written out for readers and
  type checkers; test_core_settings_schema.py checks them against this schema),
- the options of `flyte hydra run` (flyte_hydra_cli builds its click options from `cli_settings()`).

Adding a setting: one `setting(...)` field here, plus the code that acts on it.

Light on purpose (dataclasses and typing only): Hydra imports the launcher config on every app start.
"""

# No `from __future__ import annotations`: the field types are read at run time, by OmegaConf for
# the Hydra config (which needs typing generics on Python 3.10, hence the noqa: UP006/UP045).

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Dict, Optional  # noqa: UP035

from hydra_flyte.errors import ConfigurationError

#: SDK entry points: which of them take a setting as a keyword.
RUN_AND_SWEEP = ("hydra_run", "hydra_sweep")
SWEEP_ONLY = ("hydra_sweep",)

_META = "hydra_flyte"


def setting(
    default: Any = dataclasses.MISSING,
    *,
    help: str,  # noqa: A002 - the word every reader expects
    sdk: tuple[str, ...] = RUN_AND_SWEEP,
    cli: str | None = None,
    cli_help: str | None = None,
    cli_default: Any = dataclasses.MISSING,
    cli_metavar: str | None = None,
    default_factory: Any = dataclasses.MISSING,
) -> Any:
    """One launch setting: a dataclass field of LaunchSettings carrying where it is exposed.

    help: one line, for the Hydra config and the docs. Every setting is a launcher field
    (`hydra.launcher.<name>`). sdk: the SDK functions taking it as a keyword. cli: the flag of
    `flyte hydra run` (None: no flag, or flags of the CLI's own, as for mode and run_options);
    cli_help: the flag's help (default: `help`; `{default}` is replaced by the default);
    cli_default: the flag's default when not the setting's (None: "not given", core's default applies).
    """
    meta = {
        "help": help,
        "sdk": sdk,
        "cli": cli,
        "cli_help": cli_help or help,
        "cli_default": cli_default,
        "cli_metavar": cli_metavar,
    }
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata={_META: meta})
    return dataclasses.field(default=default, metadata={_META: meta})


# -- validation of single values (used by LaunchSettings and by the SDK's earlier checks) ----------


def validate_mode(mode: Any) -> str:
    """Return `mode` if it is 'local' or 'remote'; a clear error otherwise."""
    if mode not in MODES:
        raise ConfigurationError(
            f"mode must be 'local' or 'remote', got {mode!r}: use mode='local' to run on this machine "
            "or mode='remote' (the default) to submit to the Flyte endpoint in your config."
        )
    return str(mode)


def validate_max_workers(value: Any, *, name: str = "wait_max_workers") -> Optional[int]:  # noqa: UP045
    """A positive int or None (unbounded)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name} must be a positive integer or None (unbounded), got {value!r}.")
    return value


def validate_reconnect_timeout(value: Any) -> float:
    """A number of seconds, zero or more."""
    return validate_seconds(value, name="reconnect_timeout_seconds")


_SECONDS_MEANING = {
    "reconnect_timeout_seconds": "how long waiting retries an unreachable control plane",
    "capacity_timeout_seconds": "how long submissions wait for capacity while the control plane's quota is full",
}


def validate_seconds(value: Any, *, name: str) -> float:
    """A number of seconds, zero or more, for the setting `name`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ConfigurationError(
            f"{name} must be a number of seconds >= 0, got {value!r}: {_SECONDS_MEANING[name]} "
            f"(default {DEFAULTS[name]:g})."
        )
    return float(value)


MODES = ("local", "remote")

#: The summary's formats (flyte's `-of` names, plus none): see hydra_flyte.state.summary.
SUMMARY_FORMATS = ("table", "table-simple", "json", "json-raw", "none")


def validate_summary(value: Any) -> str:
    """Return `value` if it is one of SUMMARY_FORMATS; a clear error listing them otherwise."""
    if value not in SUMMARY_FORMATS:
        raise ConfigurationError(
            f"summary must be one of {', '.join(repr(f) for f in SUMMARY_FORMATS)}, got {value!r}: 'table' prints "
            "a table of the jobs when the run or sweep ends, 'json' one JSON document (the manifest's record "
            "fields), 'none' nothing."
        )
    return str(value)


@dataclass(frozen=True)
class LaunchSettings:
    """How the jobs of one launch are run: one field per launch setting (see the module docstring)."""

    mode: str = setting(
        "remote",
        help='Where runs go: "remote" (the Flyte endpoint of your config) or "local" (this machine).',
    )
    wait: bool = setting(
        True,
        help="Wait for every remote run to finish and hand its value to Hydra (false: fire and forget).",
        cli="--wait/--no-wait",
        cli_help="Wait for the remote runs to end, or return once they are submitted (default: wait, except "
        "with --detach).",
        cli_default=None,
    )
    wait_max_workers: Optional[int] = setting(  # noqa: UP045
        32,
        help="At most this many runs are waited on at once; null waits on all of them together.",
        cli="--wait-max-workers",
        cli_metavar="N",
        cli_help="How many remote runs are waited on at once.",
    )
    submit_max_workers: Optional[int] = setting(  # noqa: UP045
        16,
        help="At most this many remote submissions are in flight at once; null submits all together.",
        sdk=SWEEP_ONLY,
        cli="--submit-max-workers",
        cli_metavar="N",
        cli_help="How many remote runs are submitted at once (default {default}).",
        cli_default=None,
    )
    dry_run: bool = setting(
        False,
        help="Compose every job and print what would run (overrides, task_env, run name); submit nothing.",
        cli="--dry-run",
        cli_help="Compose every job, print its overrides, task_env and run name; run nothing.",
    )
    fail_fast: bool = setting(
        False,
        help="On the first failed run of a sweep, abort the runs still going and fail the sweep.",
        sdk=SWEEP_ONLY,
        cli="--fail-fast",
        cli_help="Remote: abort the runs still going at the first failure.",
    )
    abort_on_interrupt: bool = setting(
        False,
        help="On Ctrl-C while waiting, abort every unfinished run (default: leave them going, print how to reattach).",
        sdk=SWEEP_ONLY,
        cli="--abort-on-interrupt",
        cli_help="Remote: Ctrl-C aborts the unfinished runs (else they go on).",
    )
    resume: Optional[str] = setting(  # noqa: UP045
        None,
        help="Finish an earlier sweep from its manifest (path, sweep directory or sweep id): succeeded jobs "
        "are kept, running ones waited on, failed or never-submitted ones submitted anew. Grid sweeps only.",
        sdk=SWEEP_ONLY,
        cli="--resume",
        cli_metavar="SWEEP",
        cli_help="Remote: finish the sweep of this manifest (path, directory or sweep id); same command.",
    )
    reconnect_timeout_seconds: float = setting(
        600.0,
        help="While waiting, how long an unreachable control plane is retried (after flyte's own ~36 s of "
        "reconnects) before the unfinished jobs are recorded UNCONFIRMED (reattach with `flyte hydra status`).",
        cli="--reconnect-timeout",
        cli_metavar="SECONDS",
        cli_help="How long a control plane out of reach is retried while waiting.",
    )
    capacity_timeout_seconds: float = setting(
        86400.0,
        help="Remote: while the control plane's quota is full (RESOURCE_EXHAUSTED), how long submissions wait for "
        "capacity with none of them getting in; then the jobs still waiting stay PLANNED (not submitted) for --resume.",
        cli="--capacity-timeout",
        cli_metavar="SECONDS",
        cli_help="Remote: while the control plane's quota is full (RESOURCE_EXHAUSTED), how long submissions keep "
        "waiting for capacity with none getting in (default {default} s); then the jobs still waiting are left "
        "unsubmitted (PLANNED) and --resume submits them.",
    )
    report: bool = setting(
        False,
        help="When the sweep ends, write its HTML report (flyte-sweep-report.html) beside the manifest (needs "
        "plotly: the launcher and the CLI bring it, hydra-flyte-core alone needs its [report] extra).",
        sdk=SWEEP_ONLY,
        cli="--report",
        cli_help="Write the sweep's HTML report beside its manifest when it ends.",
    )
    summary: str = setting(
        "table",
        help="The summary printed on stdout when the run or sweep ends: table, table-simple, json (one JSON "
        "document with the manifest's record fields), json-raw (the same on one line) or none.",
    )
    detach: bool = setting(
        False,
        help="Remote sweeps: submit the whole sweep as one Flyte run whose driver task runs each job as a child "
        "action, so this machine can go away (see Durable sweeps in the README); wait=false returns once it is created.",
        sdk=SWEEP_ONLY,
        cli="--detach",
        cli_help="Remote: run the whole sweep on the cluster as one run whose driver task runs each job as a child "
        "action; returns once that run is created (add --wait to follow it here).",
    )
    max_concurrency: int = setting(
        8,
        help="Detached sweeps: at most this many jobs (child actions of the driver) run at once.",
        sdk=SWEEP_ONLY,
        cli="--max-concurrency",
        cli_metavar="N",
        cli_help="Detached sweeps: at most this many jobs run at once (default {default}).",
        cli_default=None,
    )
    run_options: Dict[str, Any] = setting(  # noqa: UP006
        help="Keywords for flyte.with_runcontext, applied to every run (name, service_account, labels, ...).",
        default_factory=dict,
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "wait", bool(self.wait))  # (frozen) wait=1 is a yes, as it always was
        validate_mode(self.mode)
        validate_summary(self.summary)
        validate_reconnect_timeout(self.reconnect_timeout_seconds)
        validate_seconds(self.capacity_timeout_seconds, name="capacity_timeout_seconds")
        validate_max_workers(self.wait_max_workers)
        validate_max_workers(self.submit_max_workers, name="submit_max_workers")
        object.__setattr__(self, "detach", bool(self.detach))
        limit = self.max_concurrency
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigurationError(
                f"max_concurrency must be a positive integer, got {limit!r}: how many jobs a detached sweep's "
                f"driver runs at once (default {DEFAULTS['max_concurrency']})."
            )
        if self.detach and self.mode != "remote":
            raise ConfigurationError(
                f"detach runs the sweep on a Flyte cluster as one run, but mode is {self.mode!r}: use mode='remote' "
                "(the default), or drop detach to run the sweep on this machine."
            )
        if not isinstance(self.run_options, Mapping):
            raise ConfigurationError(
                f"run_options must be a mapping of flyte.with_runcontext keywords, got {self.run_options!r}."
            )
        if "mode" in self.run_options:
            raise ConfigurationError(
                "run_options must not contain 'mode': pass mode='local' or mode='remote' to hydra_run/hydra_sweep."
            )


@dataclass(frozen=True)
class SettingInfo:
    """What the schema says about one setting (read from its LaunchSettings field)."""

    name: str
    type: Any
    default: Any  # the default value (a fresh one for run_options)
    help: str
    sdk: tuple[str, ...]
    cli: str | None
    cli_help: str
    cli_default: Any
    cli_metavar: str | None
    field: dataclasses.Field  # type: ignore[type-arg]


def _info(f: dataclasses.Field) -> SettingInfo:  # type: ignore[type-arg]
    meta = f.metadata[_META]
    default = f.default_factory() if f.default is dataclasses.MISSING else f.default  # type: ignore[misc]
    cli_default = default if meta["cli_default"] is dataclasses.MISSING else meta["cli_default"]
    return SettingInfo(
        name=f.name,
        type=f.type,
        default=default,
        help=meta["help"],
        sdk=meta["sdk"],
        cli=meta["cli"],
        cli_help=meta["cli_help"].replace("{default}", str(default)),
        cli_default=cli_default,
        cli_metavar=meta["cli_metavar"],
        field=f,
    )


#: Every launch setting, in declaration order.
SETTINGS: tuple[SettingInfo, ...] = tuple(_info(f) for f in dataclasses.fields(LaunchSettings))
BY_NAME: Mapping[str, SettingInfo] = {s.name: s for s in SETTINGS}
#: The default of each setting (the one place 32, 16 and 600 are written is above).
DEFAULTS: Mapping[str, Any] = {s.name: s.default for s in SETTINGS}


def sdk_settings(entry: str) -> tuple[SettingInfo, ...]:
    """The settings `entry` ("hydra_run" or "hydra_sweep") takes as keywords."""
    return tuple(s for s in SETTINGS if entry in s.sdk)


def cli_settings() -> tuple[SettingInfo, ...]:
    """The settings `flyte hydra run` has a flag for (named `cli`; its click parameter is the setting's name)."""
    return tuple(s for s in SETTINGS if s.cli is not None)


def keywords_for(entry: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The settings among `values` (e.g. a function's locals) that `entry` takes as keywords."""
    return {s.name: values[s.name] for s in sdk_settings(entry) if s.name in values}


def settings_from_config(node: Any) -> LaunchSettings:
    """LaunchSettings from a `hydra.launcher` node of the flyte launcher (or any mapping of its fields).

    A field not in `node` takes its default; booleans are read as such, an empty string for an
    optional string (resume) as null, run_options as a plain dict.
    """
    values: dict[str, Any] = {}
    for s in SETTINGS:
        value = node.get(s.name, s.default)
        if s.name == "run_options":
            value = _plain(value or {})
        elif s.type is bool:
            value = bool(value)
        elif s.type == Optional[str]:  # noqa: UP045
            value = None if value in (None, "") else str(value)
        values[s.name] = value
    return LaunchSettings(**values)


def _plain(options: Any) -> Any:
    """run_options as a plain dict (a DictConfig resolved); anything else as given, for the checks to name."""
    from omegaconf import DictConfig, OmegaConf

    if isinstance(options, DictConfig):
        return OmegaConf.to_container(options, resolve=True)
    return dict(options) if isinstance(options, Mapping) else options


def launcher_fields() -> list[str]:
    """The fields of `hydra.launcher` for the flyte launcher (every setting)."""
    return [s.name for s in SETTINGS]


def conf_fields() -> Iterable[tuple[str, Any, dataclasses.Field]]:  # type: ignore[type-arg]
    """(name, type, field) of each setting, for `dataclasses.make_dataclass` (the Hydra config)."""
    for s in SETTINGS:
        f = s.field
        if f.default is dataclasses.MISSING:
            yield s.name, s.type, dataclasses.field(default_factory=f.default_factory)  # type: ignore[misc]
        else:
            yield s.name, s.type, dataclasses.field(default=f.default)
