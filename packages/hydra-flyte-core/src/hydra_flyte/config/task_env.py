"""task_env: turn `cfg[task_env_key][<task short name>]` into `task.override(...)`.

The settings an entry may hold are the keyword-only parameters of the task's `override`, plus
`image` and `primary_container_name` (lowered to a pod template). When that signature tells
nothing (a lazy reference to a deployed task takes only `**kwargs`, and passes them on), they are
those of the `override` it passes them to: `flyte.remote.TaskDetails.override` for a reference,
`flyte.TaskTemplate.override` otherwise. A deployed task's image is fixed when it is deployed, so
a reference's entry cannot set `image`.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig, OmegaConf

from hydra_flyte.config.tasks import is_task_reference, task_short_name
from hydra_flyte.errors import ConfigurationError

DEFAULT_TASK_ENV_KEY = "task_env"
_IMAGE_KEYS = ("image", "primary_container_name")
_KUBERNETES_HINT = "pip install 'hydra-flyte-core[image]'  (or: pip install kubernetes)"


def _override_keywords(task: Any) -> list[str]:
    """The keywords `task.override` accepts, read from the installed Flyte (see the module docstring)."""
    override = getattr(task, "override", None)
    if not callable(override):
        raise ConfigurationError(
            f"{task!r} cannot take task_env settings: it has no override(). Pass a Flyte task (@env.task) "
            "or a reference to a deployed one (flyte.remote.Task.get(...))."
        )
    keywords = _keyword_only(override)
    if keywords or not _takes_any_keyword(override):
        return keywords
    import flyte

    if is_task_reference(task):  # a lazy reference passes its keywords on to the fetched task's override
        import flyte.remote

        return _keyword_only(flyte.remote.TaskDetails.override)
    return _keyword_only(flyte.TaskTemplate.override)


def _keyword_only(function: Any) -> list[str]:
    params = inspect.signature(function).parameters.values()
    return [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]


def _takes_any_keyword(function: Any) -> bool:
    try:
        params = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # no signature to read: it may take anything
        return True
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def task_env_entry(cfg: Any, task: Any, *, task_env_key: str = DEFAULT_TASK_ENV_KEY) -> dict[str, Any] | None:
    """The plain-dict task_env entry for `task` in `cfg`, or None when there is none."""
    if not isinstance(cfg, (DictConfig, Mapping)):
        raise ConfigurationError(
            f"apply_task_env expects the composed config (a DictConfig), got {type(cfg).__name__}: "
            "pass the `cfg` your task received."
        )
    section = cfg.get(task_env_key) if task_env_key in cfg else None
    if section is None:
        return None
    if not isinstance(section, (DictConfig, Mapping)):
        raise ConfigurationError(
            f"config key '{task_env_key}' must be a mapping of task names to task.override settings, "
            f"got {type(section).__name__} ({section!r}). Example:\n"
            f"  {task_env_key}:\n    {task_short_name(task)}:\n      resources: {{cpu: '2', memory: 4Gi}}"
        )
    name = task_short_name(task)
    if name not in section or section.get(name) is None:
        return None
    entry = section.get(name)
    if not isinstance(entry, (DictConfig, Mapping)):
        raise ConfigurationError(
            f"'{task_env_key}.{name}' must be a mapping of task.override settings "
            f"(resources, image, env_vars, ...), got {type(entry).__name__} ({entry!r})."
        )
    if isinstance(entry, DictConfig):
        return OmegaConf.to_container(entry, resolve=True)  # type: ignore[return-value]
    return dict(entry)


def _check_entry(
    entry: Mapping[str, Any], accepted: list[str], *, path: str, extra: tuple[str, ...] = _IMAGE_KEYS
) -> dict[str, Any]:
    """The rules every task_env entry follows, whatever its task: known settings, valid resources, image rules.

    `extra`: the settings task_env accepts beside `accepted` (image and primary_container_name,
    except for a reference to a deployed task).
    """
    from hydra_flyte.config.validation import closest

    unknown = sorted(k for k in entry if k not in accepted and k not in extra)
    if unknown:
        hint = closest(str(unknown[0]), [*accepted, *extra])
        plus = ", plus image and primary_container_name" if extra else ""
        raise ConfigurationError(
            f"'{path}' has unknown setting(s) {', '.join(repr(k) for k in unknown)}.{hint} "
            f"task.override accepts {', '.join(accepted)}{plus}."
        )
    kwargs = {k: v for k, v in entry.items() if k not in _IMAGE_KEYS}
    if "resources" in kwargs and kwargs["resources"] is not None:
        kwargs["resources"] = _resources(kwargs["resources"], path=f"{path}.resources")
    env_vars = kwargs.get("env_vars")
    if env_vars is not None and not isinstance(env_vars, Mapping):
        raise ConfigurationError(
            f"'{path}.env_vars' must be a mapping of names to values, e.g. {{LOG_LEVEL: debug}}; "
            f"got {type(env_vars).__name__} ({env_vars!r})."
        )
    if entry.get("primary_container_name") is not None and entry.get("image") is None:
        raise ConfigurationError(
            f"'{path}.primary_container_name' is set but '{path}.image' is not: the primary container "
            "name only says which container gets the image. Set image too, or remove primary_container_name."
        )
    if entry.get("image") is not None:
        if "pod_template" in kwargs:
            raise ConfigurationError(
                f"'{path}' sets both image and pod_template: set the image inside the pod template, or drop one."
            )
        if not isinstance(entry["image"], str) or not entry["image"].strip():
            raise ConfigurationError(
                f"'{path}.image' must be an image reference such as ghcr.io/acme/training:1.2, got {entry['image']!r}."
            )
    return kwargs


def check_task_env_section(cfg: Any, *, task_env_key: str | None = None) -> None:
    """Check every entry of a composed config's task_env section (child tasks' included) before anything runs."""
    import importlib.util

    key = task_env_key or DEFAULT_TASK_ENV_KEY
    section = cfg.get(key) if key in cfg else None
    if section is None:
        return
    if not isinstance(section, (DictConfig, Mapping)):
        raise ConfigurationError(
            f"config key '{key}' must be a mapping of task names to task.override settings, "
            f"got {type(section).__name__} ({section!r}). Example:\n"
            f"  {key}:\n    my_task:\n      resources: {{cpu: '2', memory: 4Gi}}"
        )
    accepted: list[str] | None = None
    for name in section:
        entry = section.get(name)
        path = f"{key}.{name}"
        if entry is None:
            continue
        if not isinstance(entry, (DictConfig, Mapping)):
            raise ConfigurationError(
                f"'{path}' must be a mapping of task.override settings "
                f"(resources, image, env_vars, ...), got {type(entry).__name__} ({entry!r})."
            )
        if isinstance(entry, DictConfig):
            entry = OmegaConf.to_container(entry, resolve=True)
        if accepted is None:
            import flyte

            accepted = _keyword_only(flyte.TaskTemplate.override)
        _check_entry(entry, accepted, path=path)  # type: ignore[arg-type]
        if entry.get("image") is not None and importlib.util.find_spec("kubernetes") is None:  # type: ignore[union-attr]
            raise ConfigurationError(
                f"'{path}.image' needs the kubernetes client to build a pod template, and it is not installed: "
                f"{_KUBERNETES_HINT}"
            )


def override_kwargs(task: Any, entry: Mapping[str, Any], *, path: str) -> dict[str, Any]:
    """Translate one task_env entry into keyword arguments for `task.override`."""
    reference = is_task_reference(task)
    given = [k for k in _IMAGE_KEYS if entry.get(k) is not None]
    if reference and given:
        raise ConfigurationError(
            f"'{path}.{given[0]}' cannot be applied to {task.name!r}, a reference to a deployed task: its image "
            "was fixed when it was deployed (a deployed task's override takes no pod template). Deploy it "
            f"with that image, or remove {' and '.join(given)} from '{path}'."
        )
    kwargs = _check_entry(entry, _override_keywords(task), path=path, extra=() if reference else _IMAGE_KEYS)
    if reference:
        _as_a_deployed_tasks_settings(kwargs, path=path)
    if entry.get("image") is not None:
        kwargs["pod_template"] = _pod_template_with_image(
            task,
            image=str(entry["image"]),
            primary_container_name=entry.get("primary_container_name"),
            path=path,
        )
    return kwargs


def _as_a_deployed_tasks_settings(kwargs: dict[str, Any], *, path: str) -> None:
    """What YAML gives, as a deployed task's override needs it: a retry count as a RetryStrategy, a cache
    behaviour as a Cache (a local task's override converts them itself; a deployed task's does not)."""
    import flyte

    retries = kwargs.get("retries")
    if isinstance(retries, int) and not isinstance(retries, bool):
        kwargs["retries"] = flyte.RetryStrategy(count=retries)
    cache = kwargs.get("cache")
    if isinstance(cache, str):
        try:
            kwargs["cache"] = flyte.Cache(behavior=cache)  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"'{path}.cache' is not a cache behaviour ({cache!r}): {exc}") from exc


def _resources(value: Any, *, path: str) -> Any:
    """A `flyte.Resources` from a resources mapping, with the key path in any error."""
    import flyte

    if isinstance(value, flyte.Resources):
        return value
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"'{path}' must be a mapping like {{cpu: '2', memory: 8Gi, gpu: 'A100:1'}}, got {value!r}."
        )
    allowed = list(inspect.signature(flyte.Resources).parameters)
    unknown = sorted(k for k in value if k not in allowed)
    if unknown:
        raise ConfigurationError(
            f"'{path}' has unknown resource(s) {', '.join(repr(k) for k in unknown)}: "
            f"flyte.Resources accepts {', '.join(allowed)}."
        )
    # YAML has no tuples: a [request, limit] list is the pair flyte.Resources takes.
    value = {k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}
    try:
        resources = flyte.Resources(**value)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"'{path}' is not a valid flyte.Resources ({value!r}): {exc}") from exc
    from hydra_flyte.config.validation import check_resource_quantities

    check_resource_quantities(value, path=path)
    return resources


def _pod_template_with_image(task: Any, *, image: str, primary_container_name: str | None, path: str) -> Any:
    """A pod template whose primary container runs `image`: new, or a deep copy of the task's inline one."""
    import flyte

    current = getattr(task, "pod_template", None)
    if isinstance(current, str):
        raise ConfigurationError(
            f"'{path}.image' cannot be applied: task '{task_short_name(task)}' uses the named pod template "
            f"'{current}', which lives on the cluster. Change the image in that template, or give the task an "
            "inline flyte.PodTemplate."
        )
    try:
        from kubernetes.client import V1Container, V1PodSpec
    except ImportError as exc:
        raise ConfigurationError(
            f"'{path}.image' needs the kubernetes client to build a pod template, and it is not installed: "
            f"{_KUBERNETES_HINT}"
        ) from exc

    if current is None:
        name = primary_container_name or "primary"
        spec = V1PodSpec(containers=[V1Container(name=name, image=image)])
        return flyte.PodTemplate(pod_spec=spec, primary_container_name=name)

    template = copy.deepcopy(current)
    name = primary_container_name or template.primary_container_name
    template.primary_container_name = name
    if template.pod_spec is None:
        template.pod_spec = V1PodSpec(containers=[])
    containers = template.pod_spec.containers or []
    for container in containers:
        if container.name == name:
            container.image = image
            break
    else:
        containers.append(V1Container(name=name, image=image))
    template.pod_spec.containers = containers
    return template


def apply_task_env(task: Any, cfg: Any, *, task_env_key: str = DEFAULT_TASK_ENV_KEY) -> Any:
    """Return `task` overridden with `cfg[task_env_key][<task short name>]`, or `task` itself if unset.

    Example::

        train_task = apply_task_env(train_model, cfg)
        _, val_loss = await train_task(cfg, data)
    """
    entry = task_env_entry(cfg, task, task_env_key=task_env_key)
    if not entry:
        return task
    kwargs = override_kwargs(task, entry, path=f"{task_env_key}.{task_short_name(task)}")
    import flyte.errors

    try:
        return task.override(**kwargs)  # a reference reads its deployed task first (once)
    except (TypeError, ValueError, flyte.errors.RuntimeUserError) as exc:
        raise ConfigurationError(
            f"task.override rejected '{task_env_key}.{task_short_name(task)}' ({entry!r}): {exc}"
        ) from exc


def effective_task_settings(task: Any) -> dict[str, Any]:
    """The settings task_env can change, as they stand on `task` (for dry runs): resources, image, ..."""
    if is_task_reference(task):
        return _deployed_settings(task)
    settings: dict[str, Any] = {}
    resources = getattr(task, "resources", None)
    if resources is not None:
        settings["resources"] = {k: v for k, v in vars(resources).items() if v is not None}
    template = getattr(task, "pod_template", None)
    if isinstance(template, str):
        settings["pod_template"] = template
    elif template is not None and getattr(template, "pod_spec", None) is not None:
        for container in template.pod_spec.containers or []:
            if container.name == template.primary_container_name and container.image:
                settings["image"] = container.image
    retries = getattr(getattr(task, "retries", None), "count", 0)
    if retries:
        settings["retries"] = retries
    for key in ("env_vars", "timeout", "queue", "interruptible", "service_account"):
        value = getattr(task, key, None)
        if value not in (None, {}, 0, ()):
            settings[key] = value
    return settings


def _deployed_settings(task: Any) -> dict[str, Any]:
    """A reference's settings as its deployed (and overridden) spec holds them: resources, image, env, retries."""
    from hydra_flyte.config.tasks import reference_details

    template = reference_details(task).pb2.spec.task_template
    settings: dict[str, Any] = {}
    if template.HasField("container"):
        container = template.container
        resources: dict[str, Any] = {}
        for kind, entries in (
            ("requests", container.resources.requests),
            ("limits", container.resources.limits),
        ):
            for entry in entries:
                names = entry.DESCRIPTOR.fields_by_name["name"].enum_type.values_by_number
                resources.setdefault(names[entry.name].name.lower(), {})[kind] = entry.value
        if resources:
            settings["resources"] = {
                name: pair["requests"] if set(pair) == {"requests"} else pair
                for name, pair in resources.items()
            }
        if container.image:
            settings["image"] = container.image
        env = {kv.key: kv.value for kv in container.env if not kv.key.startswith("_F_")}
        if env:
            settings["env_vars"] = env
    if template.metadata.retries.retries:
        settings["retries"] = template.metadata.retries.retries
    return settings
