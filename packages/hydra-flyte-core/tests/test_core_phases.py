"""The manifest's job phases and their rules (hydra_flyte.state.phases), against flyte's own ActionPhase."""

from __future__ import annotations

import json

import pytest
from flyte.models import ActionPhase

from hydra_flyte.state import phases as ph
from hydra_flyte.state.manifest import Manifest

OURS = [ph.PLANNED, ph.SUBMITTED, ph.UNCONFIRMED, ph.SUBMIT_FAILED, ph.NOT_SUBMITTED]


@pytest.mark.parametrize("phase", list(ActionPhase))
def test_phase_name_is_the_upper_case_name_of_every_flyte_phase(phase: ActionPhase) -> None:
    assert ph.phase_name(phase) == phase.name
    assert ph.phase_name(phase.value) == phase.name  # the enum's string value
    assert ph.phase_name(f"ACTION_PHASE_{phase.name}") == phase.name  # a protobuf enum name


def test_recovered_is_a_success_recorded_as_succeeded() -> None:
    assert ph.is_success(ActionPhase.RECOVERED) and ph.is_success("SUCCEEDED")
    assert ph.recorded_phase(ActionPhase.RECOVERED) == ph.SUCCEEDED
    assert ph.is_confirmed_terminal(ActionPhase.RECOVERED)
    assert not ph.is_success(ActionPhase.FAILED) and not ph.is_success(ph.UNCONFIRMED)


def test_every_terminal_flyte_phase_is_confirmed_terminal_and_no_other_is() -> None:
    for phase in ActionPhase:
        assert ph.is_confirmed_terminal(phase) == phase.is_terminal, phase
        assert ph.needs_refresh(phase) == (not phase.is_terminal), phase


def test_the_table_of_phases() -> None:
    """PHASES.md's table, row by row: (refresh, rerun --failed, new attempt on resume)."""
    table = {
        ph.PLANNED: (True, False, False),
        ph.SUBMITTED: (True, False, False),
        ph.QUEUED: (True, False, False),
        ph.RUNNING: (True, False, False),
        ph.UNCONFIRMED: (True, False, False),
        ph.SUCCEEDED: (False, False, False),
        ph.FAILED: (False, True, True),
        ph.ABORTED: (False, True, True),
        ph.TIMED_OUT: (False, True, True),
        ph.SUBMIT_FAILED: (False, False, True),
        ph.NOT_SUBMITTED: (False, False, True),
    }
    for phase, (refresh, rerun, resume) in table.items():
        assert ph.needs_refresh(phase) is refresh, phase
        assert ph.is_rerunnable_failure(phase) is rerun, phase
        assert ph.needs_new_attempt_on_resume(phase) is resume, phase
        assert ph.is_confirmed_terminal(phase) is (
            phase in (ph.SUCCEEDED, ph.FAILED, ph.ABORTED, ph.TIMED_OUT)
        )
    assert {p for p in OURS if ph.is_never_ran(p)} == {ph.SUBMIT_FAILED, ph.NOT_SUBMITTED}


def test_our_phases_do_not_collide_with_flyte_phases() -> None:
    assert not set(OURS) & {p.name for p in ActionPhase}


def test_a_version_1_manifest_with_only_the_old_phases_loads_and_the_new_phases_round_trip(tmp_path) -> None:
    manifest = Manifest.create(tmp_path, sweep_id="hf-0000abcd")
    manifest.plan([(n, [f"x={n}"], f"hf-0000abcd-{n}") for n in range(len(OURS) + 2)])
    for n, phase in enumerate([*OURS, ph.SUCCEEDED, ph.FAILED]):
        manifest.finished(n, phase=phase)
    manifest.save()
    data = json.loads(manifest.path.read_text())
    assert data["version"] == 1
    again = Manifest.load(manifest.path)
    assert [r.phase for r in again.records()] == [*OURS, ph.SUCCEEDED, ph.FAILED]
    assert [r.job for r in again.failed()] == [len(OURS) + 1]
