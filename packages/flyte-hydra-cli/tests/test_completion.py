"""Shell completion through click's real protocol (`_FLYTE_COMPLETE=bash_complete|zsh_complete`),
answered by Hydra's completion engine."""

from __future__ import annotations

import os
import subprocess
import sys

from cli_helpers import complete

CONF = ("hydra", "run", "--config-path", "conf", "--config-name", "main")
SCORE = (*CONF, "fixture_tasks.py", "score")


def test_script_names(project) -> None:
    assert complete((*CONF,), "fix") == ["fixture_tasks.py"]


def test_task_names_are_those_taking_a_dictconfig(project) -> None:
    assert complete((*CONF, "fixture_tasks.py")) == ["describe", "explode", "score", "steps"]


def test_override_flag_is_offered_first_after_the_task(project) -> None:
    assert complete(SCORE)[0] == "--cfg"
    assert complete((*CONF, "fixture_tasks.py", "describe"))[0] == "--config"
    assert set(complete(SCORE, "--")) >= {"--cfg", "--offset", "--hydra-override"}


def test_config_keys(project) -> None:
    assert complete((*SCORE, "--cfg"), "optimizer.") == [
        "optimizer.beta1=",
        "optimizer.lr=",
        "optimizer.name=",
    ]


def test_top_level_of_the_app_config_leaves_hydra_out(project) -> None:
    assert complete((*SCORE, "--cfg")) == ["optimizer.", "optimizer=", "training."]


def test_equals_form_of_the_flag(project) -> None:
    assert complete(SCORE, "--cfg=optimizer.") == ["optimizer.beta1=", "optimizer.lr=", "optimizer.name="]


def test_group_options_bash(project) -> None:
    # bash splits `optimizer=` at '=' (COMP_WORDBREAKS) and replaces only what follows it.
    assert complete((*SCORE, "--cfg", "optimizer", "=")) == ["adam", "sgd"]
    assert complete((*SCORE, "--cfg", "optimizer", "="), "s") == ["sgd"]


def test_group_options_zsh(project) -> None:
    assert complete((*SCORE, "--cfg"), "optimizer=", shell="zsh") == ["optimizer=adam", "optimizer=sgd"]


def test_earlier_overrides_shape_the_suggestions(project) -> None:
    keys = complete((*SCORE, "--cfg", "optimizer=sgd", "--cfg"), "optimizer.")
    assert "optimizer.momentum=" in keys and "optimizer.beta1=" not in keys


def test_hydra_override_choices_after_the_task(project) -> None:
    assert "basic" in complete((*SCORE, "--hydra-override", "hydra/launcher", "="))
    sweepers = complete((*SCORE, "--hydra-override"), "hydra/sweeper=", shell="zsh")
    assert {"hydra/sweeper=basic", "hydra/sweeper=optuna"} <= set(sweepers)


def test_hydra_override_choices_before_the_script(project) -> None:
    assert "optuna" in complete((*CONF, "--hydra-override", "hydra/sweeper", "="))
    assert complete((*CONF, "--hydra-override"), "hydra.sweep.") == [
        "hydra.sweep.dir=",
        "hydra.sweep.subdir=",
    ]


def test_hydra_override_offers_only_the_hydra_namespace(project) -> None:
    assert all(s.startswith("hydra") for s in complete((*SCORE, "--hydra-override")))


def test_structured_config_without_config_path(project) -> None:
    words = ("hydra", "run", "--config-name", "structured", "fixture_tasks.py", "steps", "--cfg")
    assert complete(words, "steps.") == ["steps.count="]


def test_config_names(project) -> None:
    assert complete(("hydra", "run", "--config-path", "conf", "--config-name"), "m") == ["main"]


def test_broken_script_gives_no_suggestions(project) -> None:
    assert complete((*CONF, "broken_script.py")) == []
    assert complete((*CONF, "broken_script.py", "score", "--cfg"), "opt") == []


def test_missing_script_or_config_gives_no_suggestions(project) -> None:
    assert complete((*CONF, "nope.py", "score", "--cfg"), "opt") == []
    words = (
        "hydra",
        "run",
        "--config-path",
        "nope",
        "--config-name",
        "main",
        "fixture_tasks.py",
        "score",
        "--cfg",
    )
    assert complete(words, "opt") == []


def test_real_flyte_executable(project) -> None:
    """The installed `flyte` script, as the shell hook calls it."""
    words = ["flyte", *SCORE, "--cfg", "optimizer."]
    env = {
        **os.environ,
        "_FLYTE_COMPLETE": "bash_complete",
        "COMP_WORDS": " ".join(words),
        "COMP_CWORD": str(len(words) - 1),
    }
    flyte_bin = os.path.join(os.path.dirname(sys.executable), "flyte")
    out = subprocess.run([flyte_bin], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "plain,optimizer.beta1=",
        "plain,optimizer.lr=",
        "plain,optimizer.name=",
    ]
    assert "Traceback" not in out.stderr


# ----------------------------------------------------------------------------------------------
# the Hydra private symbol completion uses (flyte_hydra_cli._hydra_private)
# ----------------------------------------------------------------------------------------------
def test_hydras_completion_engine_is_where_we_expect_it() -> None:
    """Fails loudly when Hydra moves or reshapes DefaultCompletionPlugin._query."""
    from flyte_hydra_cli import _hydra_private

    _hydra_private.COMPLETION_QUERY.forget()
    assert _hydra_private._completion_query() is not None
    assert _hydra_private.COMPLETION_QUERY.available()


def test_without_hydras_completion_engine_there_are_no_suggestions(monkeypatch) -> None:
    from hydra.plugins.completion_plugin import CompletionPlugin

    from flyte_hydra_cli import _hydra_private

    monkeypatch.delattr(CompletionPlugin, "_query")  # (DefaultCompletionPlugin inherits it)
    _hydra_private.COMPLETION_QUERY.forget()
    try:
        assert _hydra_private.completion_query(object(), config_name=None, line="optimizer.") == []
        assert not _hydra_private.COMPLETION_QUERY.available()
    finally:
        _hydra_private.COMPLETION_QUERY.forget()
