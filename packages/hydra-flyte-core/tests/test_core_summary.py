"""The summary of a run or sweep (hydra_flyte.state.summary), rendered from manifest records: no runs needed."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest

from hydra_flyte.state.manifest import JobRecord
from hydra_flyte.state.output import results_on_stdout, results_stream
from hydra_flyte.state.summary import direction_of, format_value, print_summary, render_text


def record(job: int, overrides: list[str], phase: str = "SUCCEEDED", **fields: object) -> JobRecord:
    return JobRecord(job=job, overrides=overrides, phase=phase, **fields)  # type: ignore[arg-type]


def rows(text: str) -> list[list[str]]:
    """The table's body rows, as cell texts."""
    lines = text.splitlines()
    start = next(
        i for i, line in enumerate(lines) if line.startswith("│") and line.split("│")[1].strip() == "job"
    )
    body = []
    for line in lines[start + 2 :]:
        if not line.startswith("│"):
            break
        body.append([cell.strip() for cell in line.strip("│").split("│")])
    return body


def test_a_failed_job_shows_its_phase_and_the_first_line_of_its_error() -> None:
    records = [
        record(0, ["lr=0.1"], value=0.5, duration_seconds=1.25, url="http://cp/runs/a-0"),
        record(
            1,
            ["lr=0.2"],
            "FAILED",
            error="ValueError: diverged at step 3\nTraceback (most recent call last):\n  ...",
        ),
    ]
    text = render_text(records)
    assert rows(text) == [
        ["0", "lr=0.1", "SUCCEEDED", "0.5", "1.2s", "http://cp/runs/a-0"],
        ["1", "lr=0.2", "FAILED", "ValueError: diverged at step 3", "-", "-"],
    ]
    assert "Traceback" not in text
    assert "1 failed, 1 succeeded" in text
    assert "★" not in text  # one numeric value: nothing to compare


def test_a_non_numeric_value_is_shown_as_text_and_never_best() -> None:
    records = [
        record(0, ["model=a"], value="resnet:0.91"),
        record(1, ["model=b"], value=[0.25, 3]),
        record(2, ["model=c"], value=0.75),
    ]
    text = render_text(records)
    assert [r[3] for r in rows(text)] == ["resnet:0.91", "(0.25, 3)", "0.75"]
    assert "★" not in text and "best" not in text
    out = io.StringIO()
    print_summary(records, fmt="json", stream=out)
    document = json.loads(out.getvalue())
    assert [j["value"] for j in document["jobs"]] == ["resnet:0.91", [0.25, 3], 0.75]
    assert document["best_job"] is None


def test_values_are_rounded_for_reading_and_kept_whole_in_json() -> None:
    assert format_value(0.12922047078609467) == "0.12922"
    assert (
        format_value(2.0) == "2.0"
        and format_value(1e-10) == "1e-10"
        and format_value(12345678.9) == "1.23457e+07"
    )
    records = [record(0, ["a=1"], value=0.12922047078609467), record(1, ["a=2"], value=0.5)]
    text = render_text(records)
    assert "0.12922 " in text and "0.129220" not in text
    out = io.StringIO()
    print_summary(records, fmt="json-raw", stream=out)
    assert out.getvalue().count("\n") == 1  # one line
    assert json.loads(out.getvalue())["jobs"][0]["value"] == 0.12922047078609467


def test_the_best_job_follows_the_sweepers_direction_else_the_lowest() -> None:
    records = [record(n, [f"x={n}"], value=v) for n, v in enumerate([0.3, 0.1, 0.9])]
    lowest = render_text(records)
    assert rows(lowest)[1][0] == "1 ★" and "minimise assumed" in lowest
    highest = render_text(records, direction="maximize")
    assert rows(highest)[2][0] == "2 ★" and "the sweeper maximizes" in highest
    # A failed job's value never counts.
    records[2] = record(2, ["x=2"], "FAILED", value=0.0, error="boom")
    assert rows(render_text(records))[1][0] == "1 ★"


def test_direction_from_a_sweeper_config() -> None:
    assert direction_of({"direction": "maximize"}) == "maximize"
    assert direction_of({"direction": ["minimize"]}) == "minimize"
    assert direction_of({"direction": ["minimize", "maximize"]}) is None  # several objectives
    assert direction_of({"max_batch_size": None}) is None  # BasicSweeper: none


def test_a_200_job_sweep_stays_one_short_line_per_job() -> None:
    records = [
        record(
            n,
            [
                "data=imagenet",
                "trainer.devices=8",  # shared by every job: said once, in the caption
                f"optimizer.lr={0.001 * (n + 1):.4f}",
                f"model.depth={n % 7}",
                f"model.name=resnet_with_a_rather_long_name_{n}",
                f"seed={n}",
            ],
            value=1.0 / (n + 1),
            duration_seconds=60.0 + n,
            url=f"http://flyte.example/v2/domain/dev/project/p/runs/hf-1a2b3c4d-{n}",
        )  # fmt: skip
        for n in range(200)
    ]
    text = render_text(records, title="Sweep hf-1a2b3c4d")
    body = rows(text)
    assert [int(r[0].split()[0]) for r in body] == list(range(200))  # one line per job, none wrapped
    assert max(len(line) for line in text.splitlines()) <= 200
    assert all(r[1].endswith("…") and len(r[1]) <= 48 for r in body)  # long override lists are clipped
    assert not any("data=imagenet" in r[1] for r in body)
    assert text.count("every job: data=imagenet trainer.devices=8") == 1
    assert body[199][0] == "199 ★" and body[199][4] == "4m19s"
    assert all(r[5].startswith("http://flyte.example/") for r in body)  # URLs whole
    assert "200 succeeded" in text


def test_results_on_stdout_sends_prints_and_logs_to_stderr(capsys) -> None:
    logger = logging.getLogger("hydra_flyte_test_summary")
    handler = logging.StreamHandler(sys.stdout)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with results_on_stdout() as results:
            print("progress line")
            logger.warning("a log line")
            assert results_stream() is results
            with results_on_stdout() as inner:  # nested: the outermost stdout stays the results'
                assert inner is results
            print_summary([record(0, ["a=1"], value=1.5)], fmt="json-raw")
    finally:
        logger.removeHandler(handler)
    captured = capsys.readouterr()
    assert json.loads(captured.out)["jobs"][0]["value"] == 1.5  # stdout: the document alone
    assert "progress line" in captured.err and "a log line" in captured.err


# -- the SDK prints it once, at the end (real local runs) -------------------------------------------------


def test_a_local_sdk_sweep_prints_its_summary_once_on_stdout(conf_dir: str, capfd) -> None:
    from core_tasks import objective

    from hydra_flyte import hydra_sweep

    results = hydra_sweep(
        objective, config_path=conf_dir, config_name="training", mode="local", scale=1.0000001,
        overrides=["optimizer.lr=0.011,0.017"],
    )  # fmt: skip
    out, err = capfd.readouterr()
    values = [r.value for r in results]
    assert len(values) == 2
    for value in values:
        shown = format_value(value)
        assert shown != repr(value)  # rounded for reading: the check below could not pass by the repr
        assert out.count(shown) == 1, out  # once, in the table
        assert repr(value) not in out + err  # no log line with the full value
    assert [r[2] for r in rows(out)] == ["SUCCEEDED", "SUCCEEDED"]
    assert "[hydra-flyte] 2/2 jobs done" in err and "[hydra-flyte]" not in out  # progress on stderr
    assert "[HYDRA]" not in out


def test_a_local_sdk_run_with_summary_json_prints_one_document(conf_dir: str, capfd) -> None:
    from core_tasks import objective

    from hydra_flyte import hydra_run

    result = hydra_run(
        objective, config_path=conf_dir, config_name="training", mode="local", summary="json",
        overrides=["optimizer.lr=0.013"],
    )  # fmt: skip
    out, _ = capfd.readouterr()
    (job,) = json.loads(out)["jobs"]
    assert job["value"] == result.value and job["overrides"] == ["optimizer.lr=0.013"]


@pytest.mark.parametrize("mode", ["local", "remote"])
def test_a_dry_run_prints_its_plan_in_the_sdk_too(conf_dir: str, capfd, mode: str) -> None:
    """hydra_run(dry_run=True) prints the plan on stdout (as the CLI and the launcher do), not a summary row."""
    from core_tasks import objective

    from hydra_flyte import DryRunPlan, hydra_run

    plan = hydra_run(
        objective, config_path=conf_dir, config_name="training", mode=mode, dry_run=True,
        overrides=["optimizer.lr=0.013"], run_options={"name": "dry-exp"},
    )  # fmt: skip
    out, _ = capfd.readouterr()
    assert isinstance(plan, DryRunPlan)
    assert out.splitlines() == [plan.describe()]
    assert "optimizer.lr=0.013" in out and "dry-exp" in out and "SUCCEEDED" not in out


SUMMARY_KEYS = [
    "sweep_id",
    "manifest",
    "task",
    "mode",
    "project",
    "domain",
    "interrupted",
    "direction",
    "best_job",
    "jobs",
]  # fmt: skip  (README, "What a run or sweep prints")


def test_sdk_runs_and_sweeps_print_json_of_one_schema(conf_dir: str, capfd) -> None:
    from core_tasks import objective

    from hydra_flyte import hydra_run, hydra_sweep
    from hydra_flyte.state.summary import DOCUMENT_KEYS

    assert list(DOCUMENT_KEYS) == SUMMARY_KEYS
    hydra_run(objective, config_path=conf_dir, config_name="training", mode="local", summary="json")
    run_doc = json.loads(capfd.readouterr().out)
    hydra_sweep(objective, config_path=conf_dir, config_name="training", mode="local", summary="json",
                overrides=["optimizer.lr=0.1,0.2"])  # fmt: skip
    sweep_doc = json.loads(capfd.readouterr().out)
    assert list(run_doc) == list(sweep_doc) == SUMMARY_KEYS
    assert {k: run_doc[k] for k in SUMMARY_KEYS[:-1]} == {
        "sweep_id": None, "manifest": None, "task": "unit.objective", "mode": "local", "project": None,
        "domain": None, "interrupted": False, "direction": None, "best_job": None,
    }  # fmt: skip
    assert sweep_doc["task"] == "unit.objective" and sweep_doc["best_job"] == 0
    assert sweep_doc["manifest"].endswith("flyte-sweep.json") and sweep_doc["manifest"].startswith("/")
    assert sweep_doc["sweep_id"].startswith("hf-") and sweep_doc["interrupted"] is False


def test_the_json_document_refuses_keys_outside_its_schema() -> None:
    from hydra_flyte.state.summary import document

    with pytest.raises(ValueError, match="not keys of the summary's JSON schema: sweep"):
        document([], header={"sweep": "hf-1"})
