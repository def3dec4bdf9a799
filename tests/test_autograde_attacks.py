"""Tricks a student can play on the grader: wrong answers plus a trick must score no more than the wrong answers alone.

Every attacker answers parts 1 and 2 wrongly and the later parts rightly (all automatic
points but 4, :data:`attacks.BASELINE`), then plays one trick from :data:`attacks.TRICKS`. The
class is graded by stock nbgrader too: ``test_stock_nbgrader_falls_for_it`` shows each
attack is real (it gains points, or hurts another student, under stock nbgrader), and
``test_course_autograde_holds`` that it gains nothing under ours.
"""

from __future__ import annotations

import pytest

from attacks import BASELINE, FULL, SANDBOX_DEFENCES, STOCK_FALLS_FOR, TRICKS, probe_result, requires_bwrap, shared_class

pytestmark = pytest.mark.slow

ATTACKERS = [*TRICKS, "a_tamper_tests", "a_probe"]



@pytest.mark.parametrize("student", [pytest.param(a, marks=[requires_bwrap] if a in SANDBOX_DEFENCES else []) for a in ATTACKERS])
def test_course_autograde_holds(student):
    ours = shared_class("ours").scores
    assert ours["a_baseline_wrong"] == BASELINE
    assert ours[student] <= BASELINE, f"{student} gained points with its trick"


@pytest.mark.parametrize("student", sorted(STOCK_FALLS_FOR))
def test_stock_nbgrader_falls_for_it(student):
    stock = shared_class("stock").scores
    assert stock["a_baseline_wrong"] == BASELINE
    assert stock[student] > BASELINE


@requires_bwrap
def test_no_student_can_touch_another_students_submission():
    # a_overwrite_victim replaced z_victim's notebook with the blank release before z_victim was graded
    assert shared_class("stock").scores["z_victim"] == 0
    assert shared_class("ours").scores["z_victim"] == FULL


def test_answers_cannot_be_rewritten_after_their_test_ran():
    ours = shared_class("ours")
    assert ours.scores["a_forge_later"] == BASELINE


def test_tampered_test_cells_are_restored_and_reported():
    ours = shared_class("ours")
    assert ours.scores["a_tamper_tests"] == BASELINE
    line = next(ln for ln in ours.stdout.splitlines() if ln.startswith("a_tamper_tests"))
    assert "'test_empirical_risk' was edited" in line and "'test_ridge_risk' is missing" in line


def test_tricks_that_silence_the_tests_are_reported():
    ours = shared_class("ours")
    for student in ("a_rebind_check", "a_input_transformer", "a_ast_transformer"):
        line = next(ln for ln in ours.stdout.splitlines() if ln.startswith(student))
        assert "never reported to the judge" in line


@requires_bwrap
def test_no_network_in_the_sandbox():
    """a_network tries to send its notebook to a server listening on the grading machine's loopback."""
    ours = shared_class("ours")
    assert ours.connections == 0
    assert ours.scores["a_network"] <= BASELINE  # importing socket: the judge cannot follow it, the later parts go to a person
    assert "BLOCKED" in open(ours.root / "autograded" / "a_network" / "01_risk" / "01_risk.ipynb").read()


@requires_bwrap
def test_the_sandbox_shows_a_submission_nothing_but_its_notebook():
    seen = probe_result(shared_class("ours").root)
    assert seen["uid"] != 0
    assert not seen["solutions"] and not seen["gradebook"] and not seen["submitted"]
    assert seen["interfaces"] == ["lo"]
    assert seen["write_outside_tmp"] != True  # noqa: E712 (True, or the name of the error)
    assert seen["home"] == ["01_risk.ipynb"]
    # under stock nbgrader the same code runs as the grader's user, next to the whole course
    stock = probe_result(shared_class("stock").root)
    assert stock["solutions"] and stock["gradebook"] and stock["submitted"]
