"""course_lib.widgets and course_lib.quiz: live explorer, quizzes, and their static forms.

The explorer's callbacks must move the drawn data to exactly what a fresh
:func:`course_lib.trajectories.run` gives, bad input must end in the status line (never a
traceback) with the widget still working, and the quiz panels must show what their
explanations claim (checked on the paths, for every quiz setting).
"""

from __future__ import annotations

import base64
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch.testing import assert_close  # noqa: E402

from course_lib import landscapes as ls  # noqa: E402
from course_lib.quiz import _SETTINGS, QUIZ_OPTIMIZERS, Feedback, TrajectoryQuiz  # noqa: E402
from course_lib.trajectories import compare, run  # noqa: E402
from course_lib.widgets import (  # noqa: E402
    TrajectoryExplorer,
    explorer_static,
    parse_keyword_arguments,
    short_labels,
)

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def explorer() -> TrajectoryExplorer:
    return TrajectoryExplorer("linear regression", optimizer="Adam", lr=0.05, steps=60, figsize=(6, 2.6), dpi=50)


def drawn_path(explorer: TrajectoryExplorer) -> torch.Tensor:
    return torch.tensor(np.asarray(explorer.path_artists.line.get_xydata(), dtype=float), dtype=torch.float64)


def fresh_run(explorer: TrajectoryExplorer, **kwargs):
    c = explorer.controls
    return run(explorer.optimizer_cls, explorer.landscape, steps=c["steps"].value,
               start=(c["start_x"].value, c["start_y"].value), **kwargs)


# ----------------------------------------------------------------- the explorer


def test_explorer_draws_the_run_of_its_controls(explorer):
    expected = fresh_run(explorer, lr=0.05, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    assert_close(drawn_path(explorer), expected.path)
    assert_close(torch.tensor(explorer.loss_line.get_ydata()), expected.losses)
    assert bytes(explorer.image.value).startswith(PNG)
    assert "Adam(lr=0.05" in explorer.status.value and explorer.error is None


@pytest.mark.parametrize(
    "control, value, kwargs",
    [
        ("lr", 0.2, {"lr": 0.2, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0}),
        ("beta1", 0.5, {"lr": 0.05, "betas": (0.5, 0.999), "eps": 1e-8, "weight_decay": 0.0}),
        ("beta2", 0.9, {"lr": 0.05, "betas": (0.9, 0.9), "eps": 1e-8, "weight_decay": 0.0}),
        ("eps", 0.1, {"lr": 0.05, "betas": (0.9, 0.999), "eps": 0.1, "weight_decay": 0.0}),
        ("weight_decay", 0.5, {"lr": 0.05, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.5}),
        ("steps", 25, {"lr": 0.05, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0}),
        ("start_x", 3.5, {"lr": 0.05, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0}),
    ],
)
def test_a_control_change_moves_the_lines_to_a_fresh_run(explorer, control, value, kwargs):
    line, ax_lines, figure = explorer.path_artists.line, len(explorer.ax.get_lines()), explorer.figure
    before, image = drawn_path(explorer), explorer.image.value
    explorer.controls[control].value = value
    after = drawn_path(explorer)
    assert after.shape != before.shape or not torch.allclose(after, before)
    assert_close(after, fresh_run(explorer, **kwargs).path)
    # the same artists and figure, updated in place, and a new picture
    assert explorer.path_artists.line is line and explorer.figure is figure
    assert len(explorer.ax.get_lines()) == ax_lines
    assert explorer.image.value != image


def test_blitted_update_equals_a_full_redraw(explorer):
    explorer.controls["lr"].value = 0.06  # same loss decades: drawn by blitting
    blitted = explorer.image.value
    explorer.update(full_redraw=True)
    assert explorer.image.value == blitted


def test_small_changes_blit_and_a_new_loss_range_redraws_only_the_loss_axes(explorer):
    full, loss = explorer.full_redraws, explorer.loss_redraws
    for lr in (0.04, 0.06, 0.08):
        explorer.controls["lr"].value = lr
    assert (explorer.full_redraws, explorer.loss_redraws) == (full, loss)
    explorer.controls["steps"].value = 120  # the loss axis needs a new step range
    assert (explorer.full_redraws, explorer.loss_redraws) == (full, loss + 1)
    assert explorer.loss_ax.get_xlim() == (0.0, 120.0)
    low, high = explorer.loss_ax.get_ylim()
    losses = explorer.trajectory.losses
    assert low <= float(losses.min()) and float(losses.max()) <= high
    redrawn_axes = explorer.image.value
    explorer.update(full_redraw=True)  # the contours too: the same picture
    assert explorer.image.value == redrawn_axes and explorer.full_redraws == full + 1


def test_optimizer_menu_switches_the_controls(explorer):
    c = explorer.controls
    c["optimizer"].value = "SGD"
    assert c["beta1"].disabled and c["beta2"].disabled and c["eps"].disabled and not c["momentum"].disabled
    assert explorer.hyperparameters() == {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.0}
    assert_close(drawn_path(explorer), fresh_run(explorer, lr=0.05, momentum=0.9, weight_decay=0.0).path)
    c["optimizer"].value = "RMSprop"
    assert c["beta2"].description == "alpha" and not c["beta2"].disabled and c["beta1"].disabled
    assert explorer.hyperparameters()["alpha"] == pytest.approx(0.999)
    c["optimizer"].value = "AdamW"
    assert c["momentum"].disabled and c["beta2"].description == "beta2"


def test_course_optimizers_in_the_menu():
    import course_lib.optim as optim

    menu = {"ours": optim.AdamW, "torch": torch.optim.AdamW}
    explorer = TrajectoryExplorer("quadratic", menu, lr=0.1, steps=30, weight_decay=0.1, figsize=(5, 2.5), dpi=40)
    ours = drawn_path(explorer)
    explorer.controls["optimizer"].value = "torch"
    assert_close(drawn_path(explorer), ours)


def test_landscape_menu_redraws_contours_and_start(explorer):
    explorer.controls["landscape"].value = "rosenbrock"
    rosenbrock = ls.Rosenbrock()
    assert explorer.ax.get_xlim() == rosenbrock.default_xlim
    assert (explorer.controls["start_x"].value, explorer.controls["start_y"].value) == rosenbrock.start
    assert explorer.controls["batch_size"].disabled
    assert_close(drawn_path(explorer)[0], torch.tensor(rosenbrock.start, dtype=torch.float64))
    assert explorer.ax.get_title() == "Rosenbrock"
    explorer.controls["landscape"].value = "linear regression"
    explorer.controls["batch_size"].value = 5
    expected = fresh_run(explorer, lr=0.05, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, batch_size=5)
    assert_close(drawn_path(explorer), expected.path)
    assert "batch size 5" in explorer.status.value


@pytest.mark.parametrize(
    "extra, message",
    [
        ("foo=1", "Adam has no hyperparameter &#x27;foo&#x27;"),
        ("eps=-1.0", "Invalid epsilon value: -1.0"),
        ("amsgrad=", "could not read"),
        ("betas=(0.9, 1.5)", "Invalid beta parameter at index 1"),
        ("eps=some_name", "must be a number, True/False or a tuple"),
    ],
)
def test_bad_input_shows_a_message_and_the_widget_keeps_working(explorer, extra, message):
    before = drawn_path(explorer)
    explorer.controls["extra"].value = extra  # must not raise
    assert message in explorer.status.value and explorer.error is not None
    assert "Traceback" not in explorer.status.value
    assert_close(drawn_path(explorer), before)  # the last good picture stays
    explorer.controls["extra"].value = ""
    explorer.controls["lr"].value = 0.1
    assert explorer.error is None and "Adam(lr=0.1" in explorer.status.value
    assert_close(drawn_path(explorer), fresh_run(explorer, lr=0.1, betas=(0.9, 0.999), eps=1e-8,
                                                 weight_decay=0.0).path)


def test_a_valid_extra_keyword_reaches_the_optimizer(explorer):
    explorer.controls["extra"].value = "amsgrad=True"
    expected = fresh_run(explorer, lr=0.05, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=True)
    assert_close(drawn_path(explorer), expected.path)


def test_a_diverging_run_is_marked_not_raised(explorer):
    explorer.set(optimizer="SGD", lr=3.0, momentum=0.0)
    assert "diverged at step" in explorer.status.value
    assert explorer.trajectory.diverged and explorer.path_artists.end.get_marker() == "x"
    assert torch.isfinite(drawn_path(explorer)).all()
    assert explorer.path_artists.note.get_text() == f"diverged at step {explorer.trajectory.diverged_at}"
    explorer.set(lr=0.05)
    assert not explorer.trajectory.diverged and explorer.path_artists.note.get_text() == ""


def test_set_reports_unknown_controls_and_refused_values(explorer):
    explorer.set(learning_rate=0.1)
    assert "there is no control &#x27;learning_rate&#x27;" in explorer.status.value
    explorer.set(optimizer="Nonexistent")
    assert "optimizer:" in explorer.status.value
    assert explorer.set(lr=0.07) is not None and explorer.error is None


def test_pins_stay_and_clear(explorer):
    pinned_path = drawn_path(explorer)
    explorer.pin()
    explorer.controls["lr"].value = 0.2
    assert len(explorer.pinned) == 1
    assert_close(torch.tensor(explorer.pinned[0][1].line.get_xydata()), pinned_path)
    explorer.clear_pins()
    assert explorer.pinned == [] and len(explorer.loss_ax.get_lines()) == 1


def test_parse_keyword_arguments():
    assert parse_keyword_arguments(" nesterov=True, dampening=0 ") == {"nesterov": True, "dampening": 0}
    assert parse_keyword_arguments("betas=(0.5, 0.9)") == {"betas": (0.5, 0.9)}
    assert parse_keyword_arguments("") == {}
    for bad in ("0.1", "lr", "**x", "lr=0.1,,"):
        with pytest.raises(ValueError):
            parse_keyword_arguments(bad)


def frames_of(markup: str) -> list[bytes]:
    found = re.findall(r'"data:image/png;base64,([A-Za-z0-9+/=\\\n]+)"', markup)
    return [base64.b64decode(frame) for frame in found]


def test_explorer_static_is_an_offline_jshtml_player(explorer):
    explorer.pin()
    explorer.set(lr=0.2)
    html = explorer.static(frames=12, dpi=40).data
    frames = frames_of(html)
    assert len(frames) == 12 and all(f.startswith(PNG) for f in frames)
    assert len(set(frames)) == 12  # every frame shows a further step
    assert "anim" in html and "<script" in html and 'title="Play"' in html
    assert "font-awesome" not in html and "https://" not in html  # nothing fetched from a CDN


def test_explorer_static_of_compared_and_diverged_runs():
    runs = compare(torch.optim.SGD, "quadratic", "lr", [0.5, 2.5], steps=40)
    assert runs[1].diverged
    html = explorer_static(runs[1:], "quadratic", frames=30, dpi=40).data
    assert len(frames_of(html)) == 30
    html = explorer_static(compare(torch.optim.SGD, "quadratic", "lr", [0.5, 1.0], steps=9), "quadratic",
                           frames=60, dpi=40).data
    assert len(frames_of(html)) == 10  # never more frames than steps + 1
    long = explorer_static(run(torch.optim.SGD, "quadratic", steps=200, lr=0.5), "quadratic", frames=100, dpi=30,
                          figsize=(4, 1.8))
    assert len(frames_of(long.data)) == 60
    assert len(html) < 1_500_000


def test_short_labels():
    runs = compare(torch.optim.SGD, "linear regression", "batch_size", [None, 10], steps=5, lr=0.1)
    assert short_labels(runs) == ["full batch", "batch 10"]
    mixed = [run(torch.optim.SGD, "quadratic", steps=5, lr=1.0, momentum=0.9),
             run(torch.optim.Adam, "quadratic", steps=5, lr=0.3)]
    assert short_labels(mixed) == ["SGD(lr=1, momentum=0.9)", "Adam(lr=0.3)"]


# ------------------------------------------------------------------ the quiz


def test_quiz_seed_picks_parameter_and_setting_reproducibly():
    quiz, again = TrajectoryQuiz(seed=7), TrajectoryQuiz(seed=7)
    assert (quiz.answer, quiz.values, quiz.start) == (again.answer, again.values, again.start)
    for a, b in zip(quiz.trajectories, again.trajectories):
        assert torch.equal(a.path, b.path)
    assert quiz.png() == again.png()


@pytest.mark.parametrize("optimizer", list(QUIZ_OPTIMIZERS))
def test_different_seeds_give_different_quizzes(optimizer):
    n = len(QUIZ_OPTIMIZERS[optimizer].parameters) * len(_SETTINGS)
    keys = [(q.answer, q.start, q.landscape.name, tuple(q.landscape.minimum.tolist()))
            for q in (TrajectoryQuiz(seed=s, optimizer=optimizer) for s in range(n))]
    assert len(set(keys)) == n
    assert all(a[0] != b[0] for a, b in zip(keys, keys[1:]))  # consecutive seeds vary different things


@pytest.mark.parametrize("optimizer", list(QUIZ_OPTIMIZERS))
def test_exactly_one_hyperparameter_differs_between_panels(optimizer):
    spec = QUIZ_OPTIMIZERS[optimizer]
    for parameter in spec.parameters:
        quiz = TrajectoryQuiz(seed=0, optimizer=optimizer, varied=parameter.key)
        settings = [t.hyperparameters for t in quiz.trajectories]
        if parameter.key == "steps":
            assert [len(t.losses) - 1 for t in quiz.trajectories] == list(parameter.values)
            assert all(setting == spec.base for setting in settings)
            continue
        key = "betas" if parameter.key.startswith("beta") else parameter.key
        for setting in settings:
            others = {k: v for k, v in setting.items() if k != key}
            assert others == {k: v for k, v in spec.base.items() if k != key}
        varied = [s[key][int(parameter.key[-1]) - 1] if key == "betas" else s[key] for s in settings]
        assert varied == list(parameter.values)


def path_length(path: torch.Tensor) -> float:
    return float((path[1:] - path[:-1]).norm(dim=1).sum())


def first_step(path: torch.Tensor) -> float:
    return float((path[1] - path[0]).norm())


def late_step(path: torch.Tensor) -> float:
    return float((path[-30:] - path[-31:-1]).norm(dim=1).mean())


def strictly(values, increasing=True) -> bool:
    pairs = list(zip(values, values[1:]))
    return all(a < b for a, b in pairs) if increasing else all(a > b for a, b in pairs)


# What each explanation says is visible, as a measurement on the paths (a, b, c).
GIVEAWAYS = {
    ("adamw", "lr"): lambda paths, q: strictly([first_step(p) for p in paths]),
    ("adamw", "beta1"): lambda paths, q: strictly([path_length(p) for p in paths])
    and len({round(first_step(p), 9) for p in paths}) == 1,
    ("adamw", "beta2"): lambda paths, q: strictly([late_step(p) for p in paths], increasing=False)
    and float((paths[0][:6] - paths[-1][:6]).abs().max()) < 0.2,
    # ... and the decay caps each coordinate near 1/wd, where it balances Adam's normalized step
    ("adamw", "weight_decay"): lambda paths, q: strictly([float((p[-1] - q.landscape.minimum).norm()) for p in paths])
    and strictly([float(p[-1].norm()) for p in paths], increasing=False)
    and all(float(p[-1].abs().max()) < 1.1 / wd for p, wd in zip(paths, q.values)),
    ("adamw", "eps"): lambda paths, q: strictly([first_step(p) for p in paths], increasing=False)
    and strictly([path_length(p) for p in paths], increasing=False),
    ("sgd_momentum", "lr"): lambda paths, q: strictly([first_step(p) for p in paths]),
    ("sgd_momentum", "momentum"): lambda paths, q: strictly([path_length(p) for p in paths]),
    ("gradient_descent", "lr"): lambda paths, q: strictly([first_step(p) for p in paths]),
    ("gradient_descent", "weight_decay"): lambda paths, q: strictly(
        [float((p[-1] - q.landscape.minimum).norm()) for p in paths])
    and strictly([float(p[-1].norm()) for p in paths], increasing=False),
    # one path cut ever later: shorter paths are prefixes of the longest
    ("gradient_descent", "steps"): lambda paths, q: all(
        torch.equal(p, paths[-1][: len(p)]) for p in paths)
    and strictly([float((p[-1] - q.landscape.minimum).norm()) for p in paths], increasing=False),
    ("sgd_momentum", "weight_decay"): lambda paths, q: strictly(
        [float((p[-1] - q.landscape.minimum).norm()) for p in paths])
    and strictly([float(p[-1].norm()) for p in paths], increasing=False),
}


@pytest.mark.parametrize("optimizer, varied", list(GIVEAWAYS), ids=[f"{o}-{v}" for o, v in GIVEAWAYS])
def test_every_quiz_setting_shows_its_giveaway(optimizer, varied):
    for setting in range(len(_SETTINGS)):
        quiz = TrajectoryQuiz(seed=setting, optimizer=optimizer, varied=varied)
        paths = [t.path for t in quiz.trajectories]
        assert not any(t.diverged for t in quiz.trajectories)
        assert GIVEAWAYS[optimizer, varied](paths, quiz), f"setting {setting}: the panels do not show it"
        # first and last panel visibly differ (cut paths: where they end)
        if varied == "steps":
            assert float((paths[0][-1] - paths[-1][-1]).norm()) > 0.3
        else:
            assert float((paths[0] - paths[-1]).norm(dim=1).max()) > 0.3


def test_check_right_answer_explains_and_names_the_values():
    quiz = TrajectoryQuiz(seed=1)  # seed 1 varies beta1
    assert quiz.answer == "beta1"
    for answer in ("beta1", "betas[0]", "β1", "BETA1", 1):
        feedback = quiz.check(answer)
        assert isinstance(feedback, Feedback) and feedback.correct and bool(feedback)
    text = quiz.check("beta1").explanation
    assert "(a) beta1 = 0" in text and "(c) beta1 = 0.99" in text and "overshoot" in text


def test_check_wrong_answer_says_what_it_would_look_like_without_the_answer():
    quiz = TrajectoryQuiz(seed=3)  # weight decay
    feedback = quiz.check("lr")
    assert not feedback.correct
    assert "learning rate" in feedback.explanation and "weight decay" not in feedback.explanation
    assert quiz.check("weight decay").correct and quiz.check("wd").correct
    with pytest.raises(ValueError, match="not one of the choices: lr, beta1, beta2, weight_decay, eps"):
        quiz.check("momentum_decay")
    with pytest.raises(ValueError, match="choice index"):
        quiz.check(9)
    sgd = TrajectoryQuiz(seed=1, optimizer="sgd_momentum")
    assert sgd.answer == "momentum" and [k for k, _ in sgd.choices] == ["lr", "momentum", "weight_decay"]
    assert sgd.fixed == {"lr": 0.05, "weight_decay": 0.0}
    assert TrajectoryQuiz(seed=1).fixed == {"lr": 0.1, "eps": 1e-8, "weight_decay": 0.01, "beta2": 0.999}


def test_quiz_with_forced_parts_and_a_course_optimizer():
    import course_lib.optim as optim

    ours = TrajectoryQuiz(seed=2, varied="eps", optimizer_cls=optim.AdamW)
    theirs = TrajectoryQuiz(seed=2, varied="eps")
    for a, b in zip(ours.trajectories, theirs.trajectories):
        assert_close(a.path, b.path)
    forced = TrajectoryQuiz(seed=0, landscape=ls.Quadratic(10.0), start=(-3.0, 2.0))
    assert forced.trajectories[0].path[0].tolist() == [-3.0, 2.0]
    with pytest.raises(ValueError, match="unknown quiz optimizer"):
        TrajectoryQuiz(optimizer="shampoo")


def test_quiz_figure_hides_the_titles():
    quiz = TrajectoryQuiz(seed=0)
    fig = quiz.figure(dpi=40)
    assert [ax.get_title() for ax in fig.axes] == ["(a)", "(b)", "(c)"]
    assert quiz.png().startswith(PNG)


def test_live_quiz_widget_gives_feedback():
    quiz = TrajectoryQuiz(seed=0)  # lr
    box = quiz.widget()
    live = quiz._live
    assert [value for _, value in live["choices"].options] == [k for k, _ in quiz.choices]
    live["button"].click()
    assert "Pick one" in live["feedback"].value
    live["choices"].value = "eps"
    live["button"].click()
    assert "Not this one" in live["feedback"].value
    live["choices"].value = "lr"
    live["button"].click()
    assert "Correct" in live["feedback"].value and "(c) lr = 0.4" in live["feedback"].value
    assert bytes(live["image"].value) == quiz.png() and box.children


def test_static_quiz_is_self_contained_html():
    first, second = TrajectoryQuiz(seed=2), TrajectoryQuiz(seed=2)
    html = first.static().data
    assert first.uid != second.uid and second.uid not in html
    assert html.count('<img src="data:image/png;base64,') == 1
    radios = re.findall(rf'<input type="radio" name="{first.uid}-choice" value="([^"]+)" id="([^"]+)"', html)
    assert [value for value, _ in radios] == [k for k, _ in first.choices]
    assert len({element for _, element in radios}) == len(radios)
    assert "<details><summary>Show the explanation</summary>" in html
    details = html[html.index("<details>"):html.index("</details>")]
    assert "beta2" in details and "0.9999" in details  # seed 2 varies beta2; readable without JavaScript
    assert "<script>" in html and f'document.getElementById("{first.uid}-feedback")' in html
    assert "https://" not in html


@pytest.mark.browser
@pytest.mark.slow
def test_static_forms_work_in_a_browser(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent))
    from browser import browser

    quizzes = [TrajectoryQuiz(seed=0), TrajectoryQuiz(seed=1, optimizer="sgd_momentum")]
    player = explorer_static(compare(torch.optim.SGD, "quadratic", "momentum", [0.0, 0.9], lr=0.5, steps=20),
                             "quadratic", frames=5, dpi=40)
    page = tmp_path / "page.html"
    page.write_text("<html><body>" + "".join(q.static().data for q in quizzes) + player.data + "</body></html>")
    with browser() as chromium:
        tab = chromium.new_page()
        errors = []
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.goto(page.as_uri())
        tab.click(f"#{quizzes[0].uid}-lr")
        tab.click(f"#{quizzes[1].uid}-lr")
        assert tab.inner_text(f"#{quizzes[0].uid}-feedback").startswith("Correct.")
        assert tab.inner_text(f"#{quizzes[1].uid}-feedback").startswith("Not this one.")
        assert not tab.is_visible(f"#{quizzes[0].uid} details p")
        tab.click(f"#{quizzes[0].uid} summary")
        assert tab.is_visible(f"#{quizzes[0].uid} details p")
        image = tab.locator("img[id^='_anim_img']")
        first_frame = image.get_attribute("src")
        tab.click("button[title='Next frame']")
        assert image.get_attribute("src") != first_frame
        assert errors == []
