"""Loud failures if the Flyte SDK symbols in _flyte_private.py move, and what the memo guarantees."""

from __future__ import annotations

import asyncio
import importlib
import inspect

from hydra_flyte.compat import flyte_private as _flyte_private


def test_flyte_run_builds_the_code_bundle_only_in_the_task_spec_builder_we_memoise() -> None:
    """The task-spec memo builds the bundle once a sweep: why the bundle builder itself is left alone."""
    import flyte._code_bundle as bundle_module
    import flyte._run as run_module

    assert inspect.iscoroutinefunction(bundle_module.build_code_bundle)
    source = inspect.getsource(run_module._Runner._build_task_spec_from_template)
    assert "from ._code_bundle import build_code_bundle" in source
    assert "await build_code_bundle(" in source
    assert "build_code_bundle" not in inspect.getsource(run_module._Runner._run_remote)


def test_the_directory_check_is_where_we_patch_it_and_resolving_once_gives_its_answers(tmp_path) -> None:
    import sys

    utils = importlib.import_module(_flyte_private.BUNDLE_UTILS_MODULE)
    original = getattr(utils, _flyte_private.IN_DIRECTORY_CHECK)
    assert list(inspect.signature(original).parameters) == ["file", "directory"]
    # The listing calls the check by its module-global name, so replacing the attribute is seen.
    assert f"{_flyte_private.IN_DIRECTORY_CHECK}(" in inspect.getsource(utils._is_user_file)

    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "m.py").write_text("")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    files = [m.__file__ for m in list(sys.modules.values()) if isinstance(getattr(m, "__file__", None), str)]
    files += [str(tmp_path / "link" / "m.py"), str(tmp_path / "real" / "m.py"), str(tmp_path / "nowhere.py")]
    directories = [*utils._build_invalid_directories(), str(tmp_path / "real"), str(tmp_path / "link")]
    with _flyte_private.builds_shared_by_submissions():
        check = getattr(utils, _flyte_private.IN_DIRECTORY_CHECK)
        assert check is not original
        ours = [check(f, d) for f in files for d in directories]
        listed = utils.list_imported_modules_as_files(str(tmp_path), list(sys.modules.values()))
        loop_file = str(tmp_path / "loop" / "x.py")
        try:
            outcome: object = check(loop_file, str(tmp_path))
        except Exception as exc:  # noqa: BLE001 - compared with what flyte's own check does below
            outcome = type(exc)
    assert getattr(utils, _flyte_private.IN_DIRECTORY_CHECK) is original, "restored"
    assert ours == [original(f, d) for f in files for d in directories]
    try:
        expected: object = original(loop_file, str(tmp_path))
    except Exception as exc:  # noqa: BLE001
        expected = type(exc)
    assert outcome == expected
    assert any(ours) and not all(ours)
    assert sorted(listed) == sorted(
        utils.list_imported_modules_as_files(str(tmp_path), list(sys.modules.values()))
    )


def test_the_task_spec_builder_is_where_we_patch_it_and_reads_only_the_listed_settings() -> None:
    import re

    run_module = importlib.import_module(_flyte_private.RUN_MODULE)
    runner = getattr(run_module, _flyte_private.RUNNER_CLASS)
    builder = getattr(runner, _flyte_private.TASK_SPEC_BUILDER)
    assert inspect.iscoroutinefunction(builder)
    assert list(inspect.signature(builder).parameters) == ["self", "obj"]
    source = inspect.getsource(builder)
    # Any new setting it reads must join the memo's key.
    assert set(re.findall(r"self\.(\w+)", source)) == set(_flyte_private.TASK_SPEC_RUNNER_FIELDS)
    assert "_ambient_image_cache()" in source and "get_init_config()" in source
    assert callable(run_module._ambient_image_cache) and callable(run_module.get_init_config)
    # flyte.run looks the builder up on the runner at call time, so replacing the attribute is seen.
    assert f"await self.{_flyte_private.TASK_SPEC_BUILDER}(obj)" in inspect.getsource(runner._run_remote)


def test_task_spec_memo_builds_once_per_task_and_settings(monkeypatch) -> None:
    run_module = importlib.import_module(_flyte_private.RUN_MODULE)
    runner_class = getattr(run_module, _flyte_private.RUNNER_CLASS)
    original = getattr(runner_class, _flyte_private.TASK_SPEC_BUILDER)
    config = object()
    monkeypatch.setattr(run_module, "get_init_config", lambda: config)
    monkeypatch.setattr(run_module, "_ambient_image_cache", lambda: None)
    calls: list[tuple] = []
    fail = {"next": False}

    async def fake_build(self, obj):  # stands in for the SDK's builder in this unit test
        calls.append((obj, self._project))
        await asyncio.sleep(0)
        if fail["next"]:
            fail["next"] = False
            raise RuntimeError("image build failed")
        return (f"spec-of-{obj}-{self._project}", None, "v1")

    class Runner:  # the settings the builder reads
        def __init__(self, project: str) -> None:
            for field in _flyte_private.TASK_SPEC_RUNNER_FIELDS:
                setattr(self, field, None)
            self._project = project

    monkeypatch.setattr(runner_class, _flyte_private.TASK_SPEC_BUILDER, fake_build)
    with _flyte_private.builds_shared_by_submissions():
        build = getattr(runner_class, _flyte_private.TASK_SPEC_BUILDER)

        async def sweep() -> list:
            return await asyncio.gather(
                *(build(Runner("p"), "task") for _ in range(4)), build(Runner("q"), "task")
            )

        results = asyncio.run(sweep())
        assert [r[0] for r in results] == ["spec-of-task-p"] * 4 + ["spec-of-task-q"]
        assert calls == [("task", "p"), ("task", "q")]

        async def failing_then_again() -> object:
            fail["next"] = True
            try:
                await build(Runner("r"), "task")
            except RuntimeError:
                pass
            return await build(Runner("r"), "task")

        assert asyncio.run(failing_then_again())[0] == "spec-of-task-r"
        assert calls[-2:] == [("task", "r"), ("task", "r")], "a failed build is not reused"
    assert getattr(runner_class, _flyte_private.TASK_SPEC_BUILDER) is fake_build
    assert original is not fake_build


def test_a_failure_while_patching_leaves_nothing_patched_and_the_depth_at_zero(monkeypatch) -> None:
    from hydra_flyte.compat import fallback as _fallback

    utils = importlib.import_module(_flyte_private.BUNDLE_UTILS_MODULE)
    check = getattr(utils, _flyte_private.IN_DIRECTORY_CHECK)

    class Refuses:  # an owner whose attribute cannot be replaced: the third patch fails
        def __init__(self) -> None:
            object.__setattr__(self, "build", lambda: None)

        def __setattr__(self, name: str, value: object) -> None:
            raise RuntimeError("read-only")

    broken = _fallback.Private(
        "test.owner.build", "flyte", lambda: (Refuses(), "build"), fallback="-", memo=False
    )
    monkeypatch.setitem(_flyte_private.SYMBOLS, "task_spec", broken)
    try:
        with _flyte_private.builds_shared_by_submissions():
            raise AssertionError("not reached")
    except RuntimeError as exc:
        assert "read-only" in str(exc)
    assert _flyte_private._depth == 0 and not _flyte_private._active
    assert getattr(utils, _flyte_private.IN_DIRECTORY_CHECK) is check, (
        "the directory check is not left wrapped"
    )
    monkeypatch.undo()
    with _flyte_private.builds_shared_by_submissions():  # and the next sweep patches as usual
        assert getattr(utils, _flyte_private.IN_DIRECTORY_CHECK) is not check
    assert getattr(utils, _flyte_private.IN_DIRECTORY_CHECK) is check


def test_a_symbol_this_flyte_lacks_is_left_to_flyte_with_one_warning(monkeypatch, capsys) -> None:
    utils = importlib.import_module(_flyte_private.BUNDLE_UTILS_MODULE)

    async def now_async(file, directory):  # a release where the check became a coroutine function
        return False

    monkeypatch.setattr(utils, _flyte_private.IN_DIRECTORY_CHECK, now_async)
    for _ in range(2):
        with _flyte_private.builds_shared_by_submissions():
            assert getattr(utils, _flyte_private.IN_DIRECTORY_CHECK) is now_async, "left as flyte has it"
    err = capsys.readouterr().err
    assert err.count("hydra-flyte: warning:") == 1, err
    assert "flyte._code_bundle._utils._file_is_in_directory has changed shape" in err and "flyte 2." in err
    from hydra_flyte.compat import fallback as _fallback

    _fallback.forget_all()


def test_nothing_private_is_looked_up_at_import_time() -> None:
    import subprocess
    import sys

    code = (
        "import hydra_flyte, hydra_flyte.compat.flyte_private, hydra_flyte.compat.hydra_private, hydra_flyte.compat.omegaconf_private, "
        "hydra_flyte.engine.launcher, hydra_flyte.sdk.api, sys; "
        "print(sorted(m for m in ('flyte._code_bundle', 'flyte._run', "
        "'hydra_flyte.compose.job_runner') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out
