"""`hydra_flyte.compose.job_runner.run_job` gives exactly what Hydra's `run_job` gives, and the internals it uses exist."""

from __future__ import annotations

import copy
import dataclasses
import enum
import hashlib
import inspect
import logging
import os
import pathlib
import pickle
import random
import textwrap
import typing
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml
from hydra import version
from hydra._internal.callbacks import Callbacks
from hydra.core import utils as hydra_utils
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobStatus, setup_globals
from hydra.types import HydraContext, RunMode
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict, read_write

from hydra_flyte.compat.hydra_private import hydra_app
from hydra_flyte.compose import job_runner as _job_runner
from hydra_flyte.compose import snapshots as _yaml_snapshots

EXAMPLES_CONF = Path(__file__).resolve().parents[3] / "examples" / "conf"

SPECIAL_YAML = textwrap.dedent(
    """\
    strings:
      null_str: 'null'
      sci: '1e-3'
      yes_str: 'yes'
      int_str: '10'
      empty: ''
      tilde: '~'
      multi: "line one\\nline two\\n\\nline four\\n"
      multi_indented: "a\\n  indented\\n"
      long: "%(long)s"
      long_word: "%(long_word)s"
      unicode: "héllo wörld 中文"
      emoji: "rocket 🚀"
      control: "tab\\there"
      quotes: "it's \\"quoted\\""
      colon: "a: b"
      hash: "a #b"
    nothing: null
    empty_dict: {}
    empty_list: []
    nested: [[1, [2, []]], {a: [{}]}, ["x", null]]
    interp: ${strings.sci}
    resolver: ${hydra:job.name}
    missing: ???
    numbers: {f: 1.5e-3, i: 7, b: true, neg: -0.0}
    "héllo": key
    "": empty key
    """
) % {"long": " ".join(["word"] * 40), "long_word": "x" * 150}


def flags(node: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """Every node's struct/readonly flags and type, so equality covers more than values."""
    out = []
    container = isinstance(node, (DictConfig, ListConfig))
    if container and (node._is_none() or node._is_missing() or node._is_interpolation()):
        out.append((path, type(node).__name__, node._value()))
    elif container:
        meta = node._metadata
        out.append(
            (path, node._get_node_flag("struct"), node._get_node_flag("readonly"))
            + (meta.object_type, meta.ref_type, meta.key, meta.optional, dict(meta.flags or {}))
        )
        items = (
            node.items_ex(resolve=False)
            if isinstance(node, DictConfig)
            else enumerate(node._iter_ex(resolve=False))
        )
        for key, _ in items:
            out.extend(flags(node._get_node(key), f"{path}.{key}"))
    else:
        out.append((path, type(node).__name__, node._value(), dict(node._metadata.flags or {})))
    return out


def metadata(node: Any) -> dict[str, Any]:
    """A container's metadata; of ${now:} resolver results only which were cached (runs differ in time)."""
    meta = node._metadata
    out = {f.name: getattr(meta, f.name) for f in dataclasses.fields(meta) if f.name != "resolver_cache"}
    out["resolver_cache"] = {name: sorted(cache) for name, cache in meta.resolver_cache.items()}
    return out


class Recorder:
    """Stands in for Hydra's Callbacks: records what run_job hands to on_job_start/on_job_end."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def on_job_start(self, *, config: DictConfig, task_function: Any) -> None:
        self.calls.append(("start", id(config), task_function, os.getcwd(), os.environ.get("JR_FOO")))

    def on_job_end(self, *, config: DictConfig, job_return: Any) -> None:
        hydra_cfg = job_return.hydra_cfg
        self.calls.append(
            (
                "end",
                id(config),
                job_return.status,
                hydra_cfg.hydra._get_parent() is hydra_cfg,
                HydraConfig.get()._get_parent() is config,
                OmegaConf.to_yaml(HydraConfig.instance().cfg),
            )
        )


def make_task(fail: bool) -> Any:
    seen: list[Any] = []

    def task(cfg: DictConfig) -> Any:
        hydra_node = HydraConfig.get()
        seen.append(
            {
                "cwd": os.getcwd(),
                "env": os.environ.get("JR_FOO"),
                "hydra_yaml": OmegaConf.to_yaml(HydraConfig.instance().cfg),
                "hydra_flags": flags(HydraConfig.instance().cfg),
                "parent_has_user_keys": set(hydra_node._get_parent().keys()) - {"hydra"} == set(cfg.keys()),
                "output_dir": hydra_node.runtime.output_dir,
                "num": hydra_node.job.num,
                "cfg_flags": flags(cfg),
            }
        )
        if fail:
            raise ValueError("task failed")
        return {"lr": OmegaConf.select(cfg, "optimizer.lr"), "n": len(seen)}

    task.seen = seen  # type: ignore[attr-defined]
    return task


def logging_state(replace: Any) -> list[tuple[Any, ...]]:
    root = logging.getLogger()
    return [root.level] + [
        (type(h).__name__, replace(getattr(h, "baseFilename", "")), h.level) for h in root.handlers
    ]


def run_both(
    tmp_path: Path,
    conf_dir: str,
    config_name: str,
    job_overrides: list[str],
    master_overrides: list[str] = (),
    *,
    fail: bool = False,
    idx: int = 3,
    user_callbacks: bool = True,
) -> None:
    """Compose one job twice (different sweep dirs), run Hydra's run_job and ours, compare everything.

    With `user_callbacks=False` the job runs with Hydra's Callbacks holding none, where ours makes
    `hydra_cfg` when it is first read (here, after the job), which must not change it either.
    """
    results = {}
    for who, runner in (("hydra", hydra_utils.run_job), ("ours", _job_runner.run_job)):
        sweep_dir = tmp_path / f"sweep_{who}"
        with hydra_app(conf_dir, job_name="job_runner_test") as hydra:
            setup_globals()
            loader = hydra.config_loader
            master = loader.load_configuration(
                config_name=config_name,
                overrides=[f"hydra.sweep.dir={sweep_dir}", *master_overrides],
                run_mode=RunMode.MULTIRUN,
            )
            HydraConfig.instance().set_config(master)
            before = HydraConfig.instance().cfg
            config = loader.load_sweep_config(master, list(job_overrides))
            with open_dict(config):
                config.hydra.job.id = idx
                config.hydra.job.num = idx
            recorder = Recorder()
            task = make_task(fail)
            cwd = os.getcwd()
            ret = runner(
                hydra_context=HydraContext(
                    config_loader=loader, callbacks=recorder if user_callbacks else Callbacks()
                ),
                task_function=task,
                config=config,
                job_dir_key="hydra.sweep.dir",
                job_subdir_key="hydra.sweep.subdir",
            )
            assert HydraConfig.instance().cfg is before
            assert os.getcwd() == cwd

            def replace(text: Any, sweep_dir: Path = sweep_dir) -> Any:
                return text.replace(str(sweep_dir), "<SWEEP>") if isinstance(text, str) else text

            out_dir = Path(config.hydra.runtime.output_dir)
            files = {
                str(p.relative_to(sweep_dir)): replace(p.read_bytes().decode("utf-8"))
                for p in sorted(sweep_dir.rglob("*"))
                if p.is_file() and p.suffix != ".log"
            }
            logs = sorted(str(p.relative_to(sweep_dir)) for p in sweep_dir.rglob("*.log"))
            calls = [
                tuple(
                    ("CONFIG" if x == id(config) else replace(x))
                    if not callable(x)
                    else ("TASK" if x is task else x)
                    for x in call
                )
                for call in recorder.calls
            ]
            results[who] = {
                "out_dir": replace(str(out_dir)),
                "files": files,
                "logs": logs,
                "config_yaml": replace(OmegaConf.to_yaml(config)),
                "config_flags": [tuple(replace(x) for x in f) for f in flags(config)],
                "cfg_yaml": OmegaConf.to_yaml(ret.cfg),
                "cfg_flags": flags(ret.cfg),
                "cfg_root": (ret.cfg._get_parent(), metadata(ret.cfg), "hydra" in ret.cfg),
                "hydra_cfg_yaml": replace(OmegaConf.to_yaml(ret.hydra_cfg)),
                "hydra_cfg_flags": [tuple(replace(x) for x in f) for f in flags(ret.hydra_cfg)],
                "hydra_cfg_parents": (
                    ret.hydra_cfg._get_parent(),
                    ret.hydra_cfg.hydra._get_parent() is ret.hydra_cfg,
                    metadata(ret.hydra_cfg),
                ),
                "overrides": ret.overrides,
                "working_dir": replace(ret.working_dir),
                "task_name": ret.task_name,
                "status": ret.status,
                "return": (
                    repr(ret._return_value) if isinstance(ret._return_value, Exception) else ret._return_value
                ),
                "seen": [
                    {k: [tuple(replace(x) for x in f) for f in v] if k.endswith("flags") else replace(v)}
                    for s in task.seen
                    for k, v in s.items()
                ],
                "calls": calls,
                "logging": logging_state(replace),
            }
            if who == "ours":
                # Nothing shared: the returned hydra_cfg is not the config HydraConfig held.
                assert ret.hydra_cfg.hydra is not config.hydra
                assert (type(ret) is not hydra_utils.JobReturn) == (not user_callbacks)
    for key in results["hydra"]:
        assert results["ours"][key] == results["hydra"][key], key
    if "hydra.output_subdir=null" not in master_overrides:
        assert results["ours"]["files"], "the comparison saw the saved configs"


SWEEP_JOBS = [
    ["optimizer.lr=0.01", "training.epochs=2"],
    ["optimizer=sgd", "+x=1"],
    ["+note='yes'", "+s='1e-3'", "+n=null"],
]


@pytest.mark.parametrize("job", SWEEP_JOBS)
def test_same_as_hydra_without_user_callbacks(tmp_path: Path, conf_dir: str, job: list[str]) -> None:
    run_both(tmp_path, conf_dir, "training", job, user_callbacks=False)


def test_hydra_cfg_made_on_read_survives_pickling_and_assignment(tmp_path: Path, conf_dir: str) -> None:
    with hydra_app(conf_dir, job_name="job_runner_test") as hydra:
        setup_globals()
        master = hydra.config_loader.load_configuration(
            config_name="training", overrides=[f"hydra.sweep.dir={tmp_path}"], run_mode=RunMode.MULTIRUN
        )
        HydraConfig.instance().set_config(master)
        config = hydra.config_loader.load_sweep_config(master, ["optimizer.lr=0.5"])
        with open_dict(config):
            config.hydra.job.id = config.hydra.job.num = 0
        ret = _job_runner.run_job(
            hydra_context=HydraContext(config_loader=hydra.config_loader, callbacks=Callbacks()),
            task_function=lambda cfg: cfg.optimizer.lr,
            config=config,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )
    assert "_hydra_cfg_source" in ret.__dict__, "not copied before it is read"
    again = pickle.loads(pickle.dumps(ret))
    assert "_hydra_cfg_source" not in ret.__dict__ and "_hydra_cfg_source" not in again.__dict__
    assert again.hydra_cfg.hydra.overrides.task == ["optimizer.lr=0.5"] and again.return_value == 0.5
    assert ret.hydra_cfg.hydra._get_parent() is ret.hydra_cfg
    ret.hydra_cfg = None
    assert ret.hydra_cfg is None


@pytest.mark.parametrize("job", SWEEP_JOBS)
def test_same_as_hydra_on_test_conf(tmp_path: Path, conf_dir: str, job: list[str]) -> None:
    run_both(tmp_path, conf_dir, "training", job)


@pytest.mark.parametrize("job", [["optimizer.lr=0.5"], ["model=vit", "+tag2=${model.name}"]])
def test_same_as_hydra_on_example_conf(tmp_path: Path, job: list[str]) -> None:
    run_both(tmp_path, str(EXAMPLES_CONF), "training", job)


@pytest.mark.parametrize(
    "master",
    [
        ["hydra.job.chdir=true"],
        ["hydra.job.chdir=false"],
        ["hydra.output_subdir=null"],
        ["+hydra.job.env_set.JR_FOO=bar"],
        ["+hydra.job.env_set.JR_FOO=${hydra:job.num}"],
        ["hydra.sweep.subdir=${hydra.job.override_dirname}"],
        ["hydra.sweep.subdir=job_${hydra:job.num}"],
        ["hydra.verbose=true"],
        ["hydra/job_logging=disabled", "hydra.job.chdir=true"],
    ],
)
def test_same_as_hydra_with_settings(tmp_path: Path, conf_dir: str, master: list[str]) -> None:
    run_both(tmp_path, conf_dir, "training", ["optimizer.lr=0.02", "+y=2"], master)


@pytest.mark.parametrize("master", [[], ["hydra.job.chdir=true"]])
def test_same_as_hydra_when_the_task_fails(tmp_path: Path, conf_dir: str, master: list[str]) -> None:
    run_both(tmp_path, conf_dir, "training", ["+z=1"], master, fail=True)


def test_same_as_hydra_on_special_values(tmp_path: Path) -> None:
    conf = tmp_path / "special_conf"
    conf.mkdir()
    (conf / "special.yaml").write_text(SPECIAL_YAML, encoding="utf-8")
    run_both(tmp_path, str(conf), "special", ["+extra='null'", "strings.sci=0.5"])


def test_same_as_hydra_with_version_base_1_1(tmp_path: Path, conf_dir: str) -> None:
    """hydra.job.chdir unset under version_base 1.1: both change directory and warn alike."""
    saved = version.getbase()
    caught = {}
    for who in ("hydra", "ours"):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            try:
                with pytest.MonkeyPatch.context() as mp:
                    mp.setattr("hydra_flyte.compat.hydra_private.VERSION_BASE", "1.1")  # hydra_app's
                    run_both(tmp_path / who, conf_dir, "training", ["+v=1"])
            finally:
                version.VersionBase.instance().version_base = saved  # may be the "unspecified" marker
        caught[who] = [(w.category, str(w.message)) for w in record if "working directory" in str(w.message)]
    assert caught["hydra"] and caught["hydra"] == caught["ours"]


def test_hydra_config_singleton_is_restored_when_output_dir_fails(tmp_path: Path, conf_dir: str) -> None:
    """An unresolvable sweep subdir raises from both, leaving HydraConfig as it was."""
    for runner in (hydra_utils.run_job, _job_runner.run_job):
        with hydra_app(conf_dir, job_name="job_runner_test") as hydra:
            setup_globals()
            master = hydra.config_loader.load_configuration(
                config_name="training",
                overrides=["hydra.sweep.subdir=${hydra:runtime.output_dir}"],
                run_mode=RunMode.MULTIRUN,
            )
            config = hydra.config_loader.load_sweep_config(master, [])
            with pytest.raises(Exception, match="output_dir"):
                runner(
                    hydra_context=HydraContext(config_loader=hydra.config_loader, callbacks=Recorder()),
                    task_function=make_task(False),
                    config=config,
                    job_dir_key="hydra.sweep.dir",
                    job_subdir_key="hydra.sweep.subdir",
                )


# -- the copies --------------------------------------------------------------------------------


def hydra_task_copy(config: DictConfig) -> DictConfig:
    task_cfg = copy.deepcopy(config)
    with read_write(task_cfg):
        with open_dict(task_cfg):
            del task_cfg["hydra"]
    return task_cfg


@pytest.mark.parametrize("readonly", [False, True])
@pytest.mark.parametrize("struct", [None, False, True])
def test_task_config_copy_matches_deepcopy_then_delete(conf_dir: str, readonly: bool, struct: Any) -> None:
    with hydra_app(conf_dir, job_name="copy_test") as hydra:
        setup_globals()
        config = hydra.config_loader.load_configuration(
            config_name="training", overrides=["+t=${hydra:job.name}"], run_mode=RunMode.MULTIRUN
        )
        OmegaConf.set_readonly(config, readonly)
        OmegaConf.set_struct(config, struct)
        HydraConfig.instance().set_config(config)
        before = (OmegaConf.to_yaml(config), flags(config), config.hydra._get_parent() is config)
        ours = _job_runner._task_config(config)
        theirs = hydra_task_copy(config)
        assert (OmegaConf.to_yaml(config), flags(config), config.hydra._get_parent() is config) == before
        assert OmegaConf.to_yaml(ours) == OmegaConf.to_yaml(theirs)
        assert OmegaConf.to_yaml(ours, resolve=True) == OmegaConf.to_yaml(theirs, resolve=True)
        assert flags(ours) == flags(theirs)
        assert ours._metadata == theirs._metadata and ours._get_parent() is None
        assert ours.__dict__["_flags_cache"] == theirs.__dict__["_flags_cache"]


def test_hydra_cfg_copy_matches_deepcopy(conf_dir: str) -> None:
    with hydra_app(conf_dir, job_name="copy_test") as hydra:
        setup_globals()
        config = hydra.config_loader.load_configuration(
            config_name="training", overrides=["+hydra.job.env_set.A=${tag}"], run_mode=RunMode.MULTIRUN
        )
        HydraConfig.instance().set_config(config)
        held = HydraConfig.instance().cfg
        ours = _job_runner._copy_hydra_cfg(held)
        theirs = copy.deepcopy(held)
        assert held.hydra._get_parent() is config, "the held copy is left as it was"
        assert OmegaConf.to_yaml(ours) == OmegaConf.to_yaml(theirs)
        assert flags(ours) == flags(theirs)
        assert ours._metadata == theirs._metadata
        assert ours.hydra._get_parent() is ours and theirs.hydra._get_parent() is theirs
        # Neither resolves the user's config through its hydra node.
        for cfg in (ours, theirs):
            with pytest.raises(Exception, match="tag"):
                cfg.hydra.job.env_set.A  # noqa: B018


def test_hydra_cfg_copy_falls_back_to_deepcopy_when_unpicklable() -> None:
    @dataclasses.dataclass
    class Local:  # not importable: pickling fails
        a: int = 1

    held = OmegaConf.create({"hydra": OmegaConf.structured(Local)})
    copied = _job_runner._copy_hydra_cfg(held)
    assert OmegaConf.to_yaml(copied) == OmegaConf.to_yaml(held)
    assert OmegaConf.get_type(copied, "hydra") is Local


def test_task_config_falls_back_to_hydras_way_when_unpicklable() -> None:
    @dataclasses.dataclass
    class Local:  # not importable: pickling fails
        a: int = 1

    for readonly in (False, True):
        config = OmegaConf.create(
            {"model": OmegaConf.structured(Local), "x": "${model.a}", "hydra": {"b": 2}}
        )
        OmegaConf.set_readonly(config, readonly)
        ours, theirs = _job_runner._task_config(config), hydra_task_copy(config)
        assert OmegaConf.to_yaml(ours) == OmegaConf.to_yaml(theirs) and "hydra" not in ours
        assert flags(ours) == flags(theirs) and ours._metadata == theirs._metadata
        assert OmegaConf.get_type(ours, "model") is Local and config.hydra.b == 2


# -- YAML --------------------------------------------------------------------------------------


class Color(enum.Enum):
    RED = 1
    BLUE = 2


@dataclasses.dataclass
class WithEnum:
    color: Color = Color.RED
    colors: list = dataclasses.field(default_factory=lambda: [Color.BLUE])
    by_color: dict = dataclasses.field(default_factory=lambda: {"RED": "r"})
    maybe: Any = None
    required: str = "???"


YAML_CONFIGS: list[Any] = [
    {"a": "null", "b": "1e-3", "c": "yes", "d": "No", "e": "0x1F", "f": "1_000", "g": ".inf", "h": "~"},
    {"multi": "one\ntwo\n", "trailing": "x\n\n", "leading": "\nx", "crlf": "a\r\nb"},
    {"long": " ".join(["word"] * 50), "longer": "a-b " * 60, "unbroken": "y" * 300},
    {"unicode": "héllo 中文 ünï", "emoji": "🚀", "nel": "a\x85b", "bom": "\ufeff", "ls": "a\u2028b"},
    {"empty_dict": {}, "empty_list": [], "none": None, "nested": [[1, [2, [3, []]]], [{}], [{"a": []}]]},
    {"interp": "${a.b}", "res": "${hydra:job.num}", "esc": "\\${x}", "missing": "???"},
    {"": 1, "k" * 127: 1, "k" * 128: 2, "é" * 64: 3, "é" * 63 + "x": 4, "x\ny": 5, "x\rz": 6},
    {"space_break": "a \nb", "break_space": "a\n b", "tab": "a\tb", "ctrl": "\x1b[0m", "nul": "\x00"},
    {1: "int key", 1.5: "float key", False: "bool key", "quote'": '"q"', ": x": "- y", "#c": "&a *b"},
    ["top", "level", ["list"], {"x": None}],
    WithEnum,
    {"bytes": b"\x00\x01", "float": 1e-3, "neg0": -0.0, "nan_str": "nan", "big": 10**30},
]


@dataclasses.dataclass
class WithUnionsAndEnumKeys:
    # typing.Union, not `X | Y`: OmegaConf 2.3 makes UnionNodes of the former only.  # noqa: UP007, UP045
    either: typing.Union[int, str] = 3  # noqa: UP007, UP045
    either_str: typing.Union[int, str] = "x"  # noqa: UP007, UP045
    either_none: typing.Optional[typing.Union[int, str]] = None  # noqa: UP007, UP045
    either_missing: typing.Union[int, str] = "???"  # noqa: UP007, UP045
    either_interp: typing.Union[int, str] = "${either}"  # noqa: UP007, UP045
    by_enum: dict[Color, int] = dataclasses.field(default_factory=lambda: {Color.RED: 1, Color.BLUE: 2})
    nested: typing.Optional[WithEnum] = None  # noqa: UP007, UP045
    inner: WithEnum = dataclasses.field(default_factory=WithEnum)
    raw: bytes = b"\x00ab"
    where: pathlib.Path = pathlib.Path("/tmp/x")
    missing_list: list[int] = "???"  # type: ignore[assignment]
    interp_dict: dict[str, int] = "${by_enum}"  # type: ignore[assignment]


def test_unresolved_container_is_omegaconfs() -> None:
    configs = [as_config(v) for v in [*YAML_CONFIGS, WithUnionsAndEnumKeys]]
    configs += [OmegaConf.create(SPECIAL_YAML), OmegaConf.create([1, "${0}", [None, "???"], {"a": "???"}])]
    for cfg in configs:
        expected = OmegaConf.to_container(cfg, resolve=False, enum_to_str=True)
        got = _yaml_snapshots.unresolved_container(cfg)
        assert got == expected and repr(got) == repr(expected)
        for key in cfg if isinstance(cfg, DictConfig) else range(len(cfg)):
            node = cfg._get_node(key)
            if isinstance(node, (DictConfig, ListConfig)):
                inner = OmegaConf.to_container(node, resolve=False, enum_to_str=True)
                assert repr(_yaml_snapshots.unresolved_container(node)) == repr(inner)


def as_config(value: Any) -> Any:
    return OmegaConf.structured(value) if inspect.isclass(value) else OmegaConf.create(value)


@pytest.mark.parametrize("value", YAML_CONFIGS, ids=range(len(YAML_CONFIGS)))
def test_to_yaml_is_omegaconfs(value: Any) -> None:
    cfg = as_config(value)
    assert _yaml_snapshots.to_yaml(cfg) == OmegaConf.to_yaml(cfg)


def test_to_yaml_on_a_composed_hydra_config(conf_dir: str) -> None:
    for directory in (conf_dir, str(EXAMPLES_CONF)):
        with hydra_app(directory, job_name="yaml_test") as hydra:
            setup_globals()
            config = hydra.config_loader.load_configuration(
                config_name="training", overrides=[], run_mode=RunMode.MULTIRUN
            )
            HydraConfig.instance().set_config(config)
            hydra_cfg = HydraConfig.instance().cfg
            for cfg in (config, hydra_cfg, config.hydra.overrides.task):
                assert _yaml_snapshots.to_yaml(cfg) == OmegaConf.to_yaml(cfg)
            # The point: these are emitted by libyaml, not by the fallback.
            container = OmegaConf.to_container(hydra_cfg, enum_to_str=True)
            assert not _yaml_snapshots._needs_python_emitter(container)


def dump(container: Any, dumper: Any) -> str:
    return yaml.dump(container, default_flow_style=False, allow_unicode=True, sort_keys=False, Dumper=dumper)


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="needs libyaml")
@pytest.mark.parametrize("value", YAML_CONFIGS, ids=range(len(YAML_CONFIGS)))
def test_libyaml_dumper_matches_omegaconfs_where_used(value: Any) -> None:
    """On every config above, the two dumpers agree, or the fallback condition holds."""
    container = OmegaConf.to_container(as_config(value), enum_to_str=True)
    python, c = dump(container, _omegaconf_dumper()), dump(container, _fast())
    if python != c:
        assert _yaml_snapshots._needs_python_emitter(container)


@pytest.mark.parametrize(
    "container",
    [
        {"k": "🚀"},  # libyaml escapes characters above U+FFFF
        {"k": "a\x85b"},  # ... and U+0085
        {"": 1},  # PyYAML: `? ''` complex key
        {"k" * 128: 1},  # PyYAML: complex key from 128 characters, libyaml from 129 bytes
        {"é" * 64: 1},  # 64 characters, 128 bytes
        {"a\rb": 1},  # libyaml: line break, so a complex key
        {"k": "tab\t" + "word " * 30},  # double-quoted: folded at different columns
        {"k": "a \n" + "word " * 30},  # space before a line break: double-quoted too
    ],
)
def test_known_emitter_differences_fall_back(container: Any) -> None:
    assert _yaml_snapshots._needs_python_emitter(container)
    assert _yaml_snapshots.to_yaml(OmegaConf.create(container)) == OmegaConf.to_yaml(
        OmegaConf.create(container)
    )


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="needs libyaml")
def test_libyaml_dumper_matches_omegaconfs_on_random_strings() -> None:
    """Random strings from YAML-significant pieces: wherever libyaml is used, its text is PyYAML's."""
    pieces = list("abc xyz01 -:#'\"\n\t\r\\{}[],&*!|>%@`?~.=$") + [
        "é", "中", "🚀", "\x85", "\u2028", "\u2029", "\ufeff", "\x7f", "\x00", "\xa0", "\u200b",
        "\ud7ff", "\ue000", "\ufffe", "null", "yes", "1e-3", "${a.b}", "???", "- ", ": ", " #",
        "word", "word", "word", " ", " ", "  ", "\n", "\n\n", " \n",
    ]  # fmt: skip
    safe_pieces = [p for p in pieces if not _yaml_snapshots._UNSAFE_CHAR.search(p)]
    rng = random.Random(1234)
    compared = 0
    for i in range(3000):
        alphabet = pieces if i % 3 == 0 else safe_pieces
        s = "".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, 3, 10, 40, 80, 81, 127, 128, 200])))
        for container in ({"k": s}, {s: 1}, [s, [s]], {"a": {"b": [s, {"c": s}]}}, {"a": {s: [s, {}]}}):
            if _yaml_snapshots._needs_python_emitter(container):
                continue
            compared += 1
            assert dump(container, _fast()) == dump(container, _omegaconf_dumper()), repr(s)
    assert compared > 3000


def test_to_yaml_reusing_entry_texts_is_omegaconfs() -> None:
    """Dumps that share entries (reused from earlier dumps) give OmegaConf's text."""
    keep = "kept\n\n"  # final line breaks: quoted and folded over lines
    shapes = [
        lambda s: {"a": {"b": s, "c": [s, {"d": s}]}, "e": s, "f": {"g": {"h": s}}},
        lambda s: {"hydra": {"job": {"num": s}, "help": {"t": "same"}}, "x": [s]},
        lambda s: {"a": {"b": keep}, "c": s},
        lambda s: {"a": s, "b": {"c": keep}},
        lambda s: {"k" * 100: {"k" * 27: s}, 1: {2: s}, "t": True, "n": None, "f": 1.5},
    ]
    rng = random.Random(99)
    pieces = ["a", "b", " ", "x y", "1", "1.0", "null", "true", "-", ": ", "#", "'", '"', "\n", "word " * 20]
    for _ in range(300):
        s = "".join(rng.choice(pieces) for _ in range(rng.choice([0, 1, 3, 12])))
        for shape in shapes:
            cfg = OmegaConf.create(shape(s))
            assert _yaml_snapshots.to_yaml(cfg) == OmegaConf.to_yaml(cfg), repr(s)
    assert _yaml_snapshots._entries._texts, "entries were kept"


def _fast() -> Any:
    dumper = _yaml_snapshots._fast_dumper()
    assert dumper is not None and issubclass(dumper, yaml.CDumper)
    return dumper


def _omegaconf_dumper() -> Any:
    from omegaconf._utils import get_omega_conf_dumper

    return get_omega_conf_dumper()


# -- the internals relied on, failing loudly when they move -------------------------------------

# Hydra's run_job, whose steps _job_runner.run_job reproduces: review it when this changes.
RUN_JOB_SOURCE_SHA256 = "398b33286c017043f1461d40578429260e9130f35fb9a30ae94be718c1c14b63"


def test_hydras_run_job_is_the_one_reproduced() -> None:
    source = inspect.getsource(hydra_utils.run_job)
    digest = hashlib.sha256(source.encode()).hexdigest()
    assert digest == RUN_JOB_SOURCE_SHA256, (
        "hydra.core.utils.run_job changed: compare it with hydra_flyte.compose.job_runner.run_job, then update the hash"
    )


def test_private_symbols_used_by_job_runner_exist() -> None:
    from hydra._internal.deprecation_warning import deprecation_warning
    from omegaconf._utils import OmegaConfDumper, get_omega_conf_dumper

    for name in ("_check_hydra_context", "_flush_loggers", "env_override", "configure_log", "JobRuntime"):
        assert callable(getattr(hydra_utils, name)), name
    with pytest.raises(TypeError):
        hydra_utils._check_hydra_context(None)
    assert callable(deprecation_warning) and callable(version.base_at_least)
    assert issubclass(get_omega_conf_dumper(), OmegaConfDumper) and issubclass(OmegaConfDumper, yaml.Dumper)
    assert str in OmegaConfDumper.yaml_representers
    cfg = OmegaConf.create({"hydra": {"a": 1}, "b": 2})
    assert set(cfg.__dict__) >= {"_content", "_parent", "_metadata", "_flags_cache"}
    assert cfg.__dict__["_content"]["hydra"].__dict__["_parent"] is cfg
    # DictConfig.__deepcopy__ copies children through the memo (what _copy_without_hydra relies on).
    hydra_node = cfg.__dict__["_content"]["hydra"]
    copied = copy.deepcopy(cfg, {id(hydra_node): hydra_node})
    assert copied.__dict__["_content"]["hydra"] is hydra_node and hydra_node._get_parent() is cfg
    assert copied.__dict__["_content"]["b"] is not cfg.__dict__["_content"]["b"]


def test_job_return_success_and_failure_fields() -> None:
    assert {f.name for f in dataclasses.fields(hydra_utils.JobReturn)} == {
        "overrides", "cfg", "hydra_cfg", "working_dir", "task_name", "status", "_return_value",
    }  # fmt: skip
    assert [s.name for s in JobStatus] == ["UNKNOWN", "COMPLETED", "FAILED"]
