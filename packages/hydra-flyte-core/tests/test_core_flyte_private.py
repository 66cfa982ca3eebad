"""Loud failures if the Flyte SDK symbols in _flyte_private.py move, and what the memo guarantees."""

from __future__ import annotations

import asyncio
import importlib
import inspect

from hydra_flyte import _flyte_private


def test_the_bundle_builder_is_where_we_patch_it_and_where_flyte_run_looks_it_up() -> None:
    module = importlib.import_module(_flyte_private.BUNDLE_MODULE)
    builder = getattr(module, _flyte_private.BUNDLE_BUILDER)
    assert inspect.iscoroutinefunction(builder)
    params = inspect.signature(builder).parameters
    assert {"from_dir", "dryrun", "copy_bundle_to", "copy_style", "skip_cache", "additional_files"} <= set(
        params
    )
    # flyte.run imports the builder from the package at call time, so replacing the attribute is seen.
    import flyte._run as run_module

    source = inspect.getsource(run_module._Runner._build_task_spec_from_template)
    assert "from ._code_bundle import build_code_bundle" in source
    assert "await build_code_bundle(" in source


def test_memo_builds_once_per_arguments_and_restores_the_builder() -> None:
    module = importlib.import_module(_flyte_private.BUNDLE_MODULE)
    original = getattr(module, _flyte_private.BUNDLE_BUILDER)
    calls: list[tuple] = []

    async def fake_build(from_dir, *ignore, **kwargs):  # stands in for the SDK's builder in this unit test
        calls.append((from_dir, kwargs.get("copy_style")))
        await asyncio.sleep(0)
        return f"bundle-of-{from_dir}"

    setattr(module, _flyte_private.BUNDLE_BUILDER, fake_build)
    try:
        with _flyte_private.code_bundle_built_once():
            build = getattr(module, _flyte_private.BUNDLE_BUILDER)

            async def many() -> list[str]:
                return await asyncio.gather(*(build("/a", copy_style="loaded_modules") for _ in range(5)),
                                            build("/b", copy_style="loaded_modules"))  # fmt: skip

            results = asyncio.run(many())
            assert results == ["bundle-of-/a"] * 5 + ["bundle-of-/b"]
            assert calls == [("/a", "loaded_modules"), ("/b", "loaded_modules")]
            assert asyncio.run(build("/a", dryrun=True)) == "bundle-of-/a" and len(calls) == 3, (
                "dry runs are not memoised"
            )
        assert getattr(module, _flyte_private.BUNDLE_BUILDER) is fake_build
    finally:
        setattr(module, _flyte_private.BUNDLE_BUILDER, original)
