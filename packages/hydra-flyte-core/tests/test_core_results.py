"""RunResult: one shape for local and remote results."""

from __future__ import annotations

import pytest

from hydra_flyte import RunResult


def test_single_output_is_the_value_and_casts_to_float() -> None:
    result = RunResult((0.25,), url="http://x/runs/r1", name="r1")
    assert result.value == 0.25
    assert float(result) == 0.25
    assert list(result) == [0.25]
    assert len(result) == 1
    assert result.url == "http://x/runs/r1"


def test_several_outputs_are_a_tuple_and_iterate() -> None:
    result = RunResult(("dir", 0.5))
    assert result.value == ("dir", 0.5)
    model, loss = result
    assert (model, loss) == ("dir", 0.5)
    assert result[1] == 0.5


def test_no_output_is_none() -> None:
    assert RunResult(()).value is None


def test_float_of_a_non_number_says_what_to_return() -> None:
    with pytest.raises(TypeError, match="'a string' is not a number"):
        float(RunResult(("a string",)))
