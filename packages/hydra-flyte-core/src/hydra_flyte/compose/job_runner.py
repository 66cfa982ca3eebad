"""`run_job`: Hydra's per-job bookkeeping (`hydra.core.utils.run_job`), with the same results for less work.

Every observable result is Hydra's: the output dir, the bytes of `.hydra/config.yaml`, `hydra.yaml`
and `overrides.yaml`, the JobReturn, the HydraConfig singleton during and after the task, the
working directory, `hydra.job.env_set`, callbacks and logging. What is cheaper (tested against
Hydra's own `run_job` in tests/test_core_job_runner.py):

- HydraConfig is set once, not twice. Hydra sets it (a masked copy of the `hydra` node) to evaluate
  the output dir, writes `hydra.runtime.output_dir` into the config and sets it again; here the
  value is written into both the config and the copy already set, which is all that differs.
- The task config copies only the non-hydra keys. Hydra deep-copies the whole config and then
  deletes `hydra`; here the config is pickled with `hydra` left out (or, if it cannot be pickled,
  deep-copied with the `hydra` node handed back through the memo and then deleted), so values,
  flags and metadata are identical.
- `JobReturn.hydra_cfg` is a pickle round trip of the HydraConfig copy instead of `copy.deepcopy`
  (same result, about twice as fast; deep copy when something in it cannot be pickled), and is
  made when first read if no callback of the user's can observe the job meanwhile. It cannot
  simply *be* that copy: in HydraConfig the `hydra` node's parent is the job's config (so the
  user config's interpolations resolve through it), in Hydra's `hydra_cfg` it is its own root (so
  they do not), and callbacks see both at once in `on_job_end`.
- The three YAML files are written by `compose.snapshots` (libyaml's emitter, byte-identical to
  OmegaConf's dumper).

The Hydra and OmegaConf internals this needs (`_check_hydra_context`, `_flush_loggers`,
`deprecation_warning`, `OmegaConfDumper`, `_is_special`, the `_content` / `_parent` internals of
DictConfig's deep copy, node methods) come from their fences, `compat.hydra_private.job_runner_hydra()`
and `compat.omegaconf_private.job_runner_omegaconf()`; tests/test_core_job_runner.py fails loudly when
they move, and without them Hydra's own `run_job` runs each job (`compose.run_job.job_runner`).
"""

from __future__ import annotations

import copy
import os
import pickle
from pathlib import Path
from textwrap import dedent
from typing import Any

from hydra import version
from hydra.conf import HydraConf
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import (
    JobReturn,
    JobRuntime,
    JobStatus,
    configure_log,
    env_override,
)
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from hydra_flyte.compat.hydra_private import job_runner_hydra
from hydra_flyte.compat.omegaconf_private import CONTENT, PARENT, job_runner_omegaconf
from hydra_flyte.compose.snapshots import save_config

# Bound once: the private names this runner uses, from their fences (checked before it is imported).
_hy = job_runner_hydra()
_oc = job_runner_omegaconf()


def run_job(
    hydra_context: HydraContext,
    task_function: TaskFunction,
    config: DictConfig,
    job_dir_key: str,
    job_subdir_key: str | None,
    configure_logging: bool = True,
    job_end_callbacks: bool = True,
    snapshots: bool = True,
) -> JobReturn:
    """Drop-in for `hydra.core.utils.run_job` (keyword arguments; same results, see the module doc).

    With `job_end_callbacks=False` the caller calls `on_job_end` itself, once the job's real
    outcome is known (FlyteLauncher does, after waiting for the job's run). With `snapshots=False`
    the job's `.hydra/` files are not written (a dry run: nothing runs, so nothing is recorded).
    """
    _hy.check_hydra_context(hydra_context)
    callbacks = hydra_context.callbacks

    old_cwd = os.getcwd()
    hydra_config = HydraConfig.instance()
    orig_hydra_cfg = hydra_config.cfg

    # init Hydra config for config evaluation
    _set_hydra_config(hydra_config, config)

    output_dir = str(OmegaConf.select(config, job_dir_key))
    if job_subdir_key is not None:
        subdir = str(OmegaConf.select(config, job_subdir_key))
        output_dir = os.path.join(output_dir, subdir)

    abs_output_dir = os.path.abspath(output_dir)
    with read_write(config.hydra.runtime):
        with open_dict(config.hydra.runtime):
            config.hydra.runtime.output_dir = abs_output_dir
    # Hydra sets HydraConfig again here; the only difference is this value, which the set config
    # already holds when it shares the job's hydra node (as `_set_hydra_config` makes it).
    set_runtime = hydra_config.cfg.hydra.runtime  # type: ignore[union-attr]
    if set_runtime is not config.hydra.runtime:
        with read_write(set_runtime):
            with open_dict(set_runtime):
                set_runtime.output_dir = abs_output_dir

    _chdir = None
    try:
        set_cfg = hydra_config.cfg
        assert isinstance(set_cfg, DictConfig)
        if only_our_callbacks(callbacks):  # nothing reads or changes the job before the copy is due
            ret: JobReturn = _JobReturnCopyingOnRead(set_cfg)
        else:
            ret = JobReturn()
            ret.hydra_cfg = _copy_hydra_cfg(set_cfg)
        task_cfg = _task_config(config)

        ret.cfg = task_cfg
        overrides = OmegaConf.to_container(config.hydra.overrides.task)
        assert isinstance(overrides, list)
        ret.overrides = overrides
        # handle output directories here
        Path(str(output_dir)).mkdir(parents=True, exist_ok=True)

        _chdir = set_cfg.hydra.job.chdir

        if _chdir is None:
            if version.base_at_least("1.2"):
                _chdir = False

        if _chdir is None:
            url = "https://hydra.cc/docs/1.2/upgrades/1.1_to_1.2/changes_to_job_working_dir/"
            _hy.deprecation_warning(
                message=dedent(
                    f"""\
                    Future Hydra versions will no longer change working directory at job runtime by default.
                    See {url} for more information."""
                ),
                stacklevel=2,
            )
            _chdir = True

        if _chdir:
            os.chdir(output_dir)
            ret.working_dir = output_dir
        else:
            ret.working_dir = os.getcwd()

        if configure_logging:
            configure_log(config.hydra.job_logging, config.hydra.verbose)

        if snapshots and config.hydra.output_subdir is not None:
            hydra_output = Path(config.hydra.runtime.output_dir) / Path(config.hydra.output_subdir)
            hydra_output.mkdir(parents=True, exist_ok=True)
            save_config(task_cfg, "config.yaml", hydra_output)
            save_config(set_cfg, "hydra.yaml", hydra_output)  # the same text as its copy's
            save_config(config.hydra.overrides.task, "overrides.yaml", hydra_output)

        with env_override(set_cfg.hydra.job.env_set):
            callbacks.on_job_start(config=config, task_function=task_function)
            try:
                ret.return_value = task_function(task_cfg)
                ret.status = JobStatus.COMPLETED
            except Exception as e:
                ret.return_value = e
                ret.status = JobStatus.FAILED

        ret.task_name = JobRuntime.instance().get("name")

        _hy.flush_loggers()

        if job_end_callbacks:
            callbacks.on_job_end(config=config, job_return=ret)

        return ret
    finally:
        hydra_config.cfg = orig_hydra_cfg
        if _chdir:
            os.chdir(old_cwd)


# -- copies ------------------------------------------------------------------------------------


def _task_config(config: DictConfig) -> DictConfig:
    """What Hydra hands the task: `copy.deepcopy(config)`, then `del ["hydra"]` under read_write/open_dict.

    Made by pickling the config with its `hydra` key left out of `_content` for the moment (so
    that subtree is neither copied nor pickled), which OmegaConf supports with the same result
    as a deep copy in about a quarter of the time; the read_write/open_dict of Hydra's deletion
    is replayed on the copy for its effect on the flags. A config that cannot be pickled (a
    structured config class defined in a function) goes Hydra's way, without copying `hydra`.
    """
    content = config.__dict__[CONTENT]
    config.__dict__[CONTENT] = {key: node for key, node in content.items() if key != "hydra"}
    try:
        blob: bytes | None = pickle.dumps(config, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        blob = None
    finally:
        config.__dict__[CONTENT] = content
    if blob is not None:
        task_cfg = pickle.loads(blob)  # noqa: S301 - our own bytes, made just now
        with read_write(task_cfg):
            with open_dict(task_cfg):
                pass
        return task_cfg  # type: ignore[no-any-return]
    task_cfg = _copy_without_hydra(config)
    with read_write(task_cfg):
        with open_dict(task_cfg):
            del task_cfg["hydra"]
    return task_cfg


def _copy_without_hydra(config: DictConfig) -> DictConfig:
    """`copy.deepcopy(config)` except that the result's `hydra` key holds the original node, uncopied.

    `DictConfig.__deepcopy__` copies each child with `copy.deepcopy(child, memo)` (detaching it from
    its parent meanwhile and restoring that after); a memo entry for the `hydra` node makes that
    child come back as itself. The caller deletes `hydra` from the copy right away, as Hydra does.
    """
    hydra_node = config.__dict__[CONTENT]["hydra"]
    parent = hydra_node.__dict__[PARENT]
    try:
        return copy.deepcopy(config, {id(hydra_node): hydra_node})
    finally:
        hydra_node.__dict__[PARENT] = parent  # already restored by __deepcopy__; make it certain


class _JobReturnCopyingOnRead(JobReturn):
    """A JobReturn whose `hydra_cfg`, Hydra's copy of the job's HydraConfig, is made when first read.

    Hydra itself never reads `hydra_cfg`; callbacks and whoever inspects the returns do. run_job
    uses this class only when no callback of the user's is set, so nothing can change the job's
    hydra node between the moment Hydra would copy it and the first read. A sweep whose returns
    are not inspected never pays for the copy (about a millisecond a job, plus the garbage).
    """

    def __init__(self, set_cfg: DictConfig) -> None:
        super().__init__()  # sets hydra_cfg to None through the property, so the source comes after
        self.__dict__["_hydra_cfg_source"] = set_cfg

    @property  # type: ignore[override]
    def hydra_cfg(self) -> DictConfig | None:
        source = self.__dict__.pop("_hydra_cfg_source", None)
        if source is not None:
            self.__dict__["_hydra_cfg"] = _copy_hydra_cfg(source)
        return self.__dict__.get("_hydra_cfg")

    @hydra_cfg.setter
    def hydra_cfg(self, value: DictConfig | None) -> None:
        self.__dict__.pop("_hydra_cfg_source", None)
        self.__dict__["_hydra_cfg"] = value

    def __getstate__(self) -> dict[str, Any]:
        _ = self.hydra_cfg  # pickles and copies carry the copy, never the live node
        return dict(self.__dict__)


def _copy_hydra_cfg(set_cfg: DictConfig) -> DictConfig:
    """What `copy.deepcopy(HydraConfig.instance().cfg)` returns, by a pickle round trip.

    The deep copy re-parents the copied `hydra` node to the copied root; the set copy's `hydra`
    node has the job's config as parent (so pickling it as is would pickle the whole config), so
    it points at its own root while pickling.
    """
    hydra_node = set_cfg.__dict__[CONTENT]["hydra"]
    parent = hydra_node.__dict__[PARENT]
    hydra_node.__dict__[PARENT] = set_cfg
    try:
        blob = pickle.dumps(set_cfg, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # e.g. a structured config class defined in a function
        blob = None
    finally:
        hydra_node.__dict__[PARENT] = parent
    if blob is None:
        return copy.deepcopy(set_cfg)
    return pickle.loads(blob)  # noqa: S301 - our own bytes, made just now


def _set_hydra_config(hydra_config: HydraConfig, config: DictConfig) -> None:
    """What `HydraConfig.set_config(config)` does, without deep-copying the hydra node.

    Hydra's version wraps a deep copy of `config.hydra` in a new root and points the copy's parent
    back at `config` (so interpolations into the user's config resolve). Here the root holds the
    job's own hydra node: the same values, flags and parent, one copy fewer. The node is read-only
    while the job runs (set here, as Hydra does), and each job has its own composed config.
    """
    from omegaconf import flag_override

    OmegaConf.set_readonly(config.hydra, True)
    hydra_node_type = OmegaConf.get_type(config, "hydra")
    assert hydra_node_type is not None and issubclass(hydra_node_type, HydraConf)
    root = DictConfig(content={})
    with flag_override(root, "no_deepcopy_set_nodes", True):
        _oc.set_item_impl(root, "hydra", _oc.get_node(config, "hydra"))
    _oc.set_parent(root.hydra, config)
    hydra_config.cfg = root  # type: ignore[assignment]


def only_our_callbacks(callbacks: Any) -> bool:
    """True if every callback set says it reads neither `hydra_cfg` nor the job's hydra node (FlyteRunCallback).

    Checked on the class itself (`reads_job_hydra_config = False` in its own body), so a subclass
    that may read them is not taken for it.
    """
    return all(
        type(c).__dict__.get("reads_job_hydra_config") is False
        for c in getattr(callbacks, "callbacks", [None])
    )
