"""Progress reporting (fsigenz.progress): what a loop reports, and how the display shows it."""

from __future__ import annotations

import io
import logging

import pytest
import torch

from fsigenz.progress import (
    LOSS_POINTS,
    ProgressDisplay,
    current_observer,
    display_mode,
    observed_by,
    stage_scope,
    training_stage,
)


class RecordingObserver:
    """Keeps every call, in order: ("start", stage, total, initial), ("step", stage, step, losses), ..."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def on_start(self, stage, total_steps, initial_step):
        self.events.append(("start", stage, total_steps, initial_step))

    def on_step(self, stage, step, losses):
        self.events.append(("step", stage, step, dict(losses)))

    def on_evaluation(self, stage, step, value):
        self.events.append(("evaluation", stage, step, value))

    def on_end(self, stage, step):
        self.events.append(("end", stage, step))

    def of(self, kind: str, stage: str | None = None) -> list[tuple]:
        return [e for e in self.events if e[0] == kind and (stage is None or e[1] == stage)]

    def stages(self) -> list[str]:
        return [e[1] for e in self.of("start")]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_stage_reports_increasing_steps_and_ends_at_the_total():
    recorder = RecordingObserver()
    with observed_by(recorder), training_stage("scc", 10) as progress:
        for step in range(1, 11):
            progress.step(step, loss=float(step))
            if step % 5 == 0:
                progress.evaluation(step, step / 10)
    assert recorder.events[0] == ("start", "scc", 10, 0)
    steps = [e[2] for e in recorder.of("step")]
    assert steps == list(range(1, 11))
    assert [e[3] for e in recorder.of("step")] == [
        {"loss": float(s)} for s in range(1, 11)
    ]  # 10 <= LOSS_POINTS
    assert [(e[2], e[3]) for e in recorder.of("evaluation")] == [(5, 0.5), (10, 1.0)]
    assert recorder.events[-1] == ("end", "scc", 10)


def test_losses_arrive_as_window_means_of_tensors():
    total = LOSS_POINTS * 3  # windows of 3 steps
    recorder = RecordingObserver()
    with observed_by(recorder), training_stage("gan", total) as progress:
        assert progress.loss_every == 3
        for step in range(1, total + 1):
            progress.step(step, critic_loss=torch.tensor(float(step)), generator_loss=1.0)
    reports = [(e[2], e[3]) for e in recorder.of("step") if e[3]]
    assert len(reports) == LOSS_POINTS
    assert reports[0] == (3, {"critic_loss": 2.0, "generator_loss": 1.0})  # mean of steps 1, 2, 3
    assert reports[-1][0] == total


def test_a_loop_stopped_early_reports_its_last_window_and_ends_there():
    recorder = RecordingObserver()
    with observed_by(recorder), training_stage("scc", LOSS_POINTS * 10) as progress:
        for step in range(1, 26):
            progress.step(step, loss=1.0)
    assert recorder.of("step")[-1] == ("step", "scc", 25, {"loss": 1.0})  # steps 21..25, not a full window
    assert recorder.events[-1] == ("end", "scc", 25)


def test_the_end_is_reported_when_the_loop_fails():
    recorder = RecordingObserver()
    with pytest.raises(KeyboardInterrupt), observed_by(recorder), training_stage("scc", 100) as progress:
        progress.step(1, loss=1.0)
        raise KeyboardInterrupt
    assert recorder.events[-1] == ("end", "scc", 1)


def test_without_an_observer_nothing_is_reported_and_the_context_is_restored():
    recorder = RecordingObserver()
    with observed_by(recorder):
        with observed_by(None), training_stage("scc", 5) as progress:
            progress.step(1, loss=1.0)
        assert current_observer() is recorder
    assert recorder.events == []
    assert progress.last_step == 1


def test_stage_scopes_nest_in_the_stage_name():
    recorder = RecordingObserver()
    with observed_by(recorder), stage_scope("trial_3"), stage_scope("setting_2"):
        with training_stage("scc", 1) as progress:
            progress.step(1)
    assert recorder.stages() == ["trial_3.setting_2.scc"]


def _log_display(caplog, **options) -> tuple[ProgressDisplay, FakeClock]:
    caplog.set_level(logging.INFO, logger="fsigenz.progress")
    clock = FakeClock()
    return ProgressDisplay("log", "cub.select_on_validation", clock=clock, **options), clock


def test_log_mode_writes_a_line_every_few_percent(caplog):
    display, clock = _log_display(caplog, log_every_s=1e9, log_every_percent=25, validation_name="gzsl_h")
    with observed_by(display), training_stage("scc", 100) as progress:
        for step in range(1, 101):
            clock.now += 1.0
            progress.step(step, loss=0.5)
            if step == 40:
                progress.evaluation(step, 51.25)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "cub.select_on_validation scc: started, 100 steps"
    assert [line.split(": step ")[1].split(" ")[0] for line in lines[1:-1]] == ["25/100", "50/100", "75/100"]
    assert "0:50 elapsed, ETA 0:50" in lines[2]  # 1 s a step, 50 steps left
    assert "loss 0.5" in lines[2] and "gzsl_h 51.25" in lines[2] and "best 51.25 at step 40" in lines[2]
    assert (
        lines[-1] == "cub.select_on_validation scc: done, 100/100 steps in 1:40; best gzsl_h 51.25 at step 40"
    )


def test_log_mode_writes_a_line_every_n_seconds_on_a_slow_stage(caplog):
    display, clock = _log_display(caplog, log_every_s=30, log_every_percent=50)
    with observed_by(display), training_stage("gan", 1000) as progress:
        for step in range(1, 101):  # 10 s a step: 10 % of the stage takes 1000 s
            clock.now += 10.0
            progress.step(step)
    progress_lines = [r.getMessage() for r in caplog.records if ": step " in r.getMessage()]
    assert [line.split(": step ")[1].split(" ")[0] for line in progress_lines[:3]] == [
        "3/1000",
        "6/1000",
        "9/1000",
    ]
    assert len(progress_lines) == 33  # every 3rd step of 100, throttled to 30 s


def test_log_mode_gives_a_stage_of_a_few_seconds_its_start_and_end_lines_only(caplog):
    display, clock = _log_display(caplog)
    with observed_by(display), training_stage("seen_classifier", 200) as progress:
        for step in range(1, 201):
            clock.now += 0.004  # 250 steps a second
            progress.step(step, loss=0.5)
    assert [r.getMessage().split(": ")[1].split(",")[0] for r in caplog.records] == ["started", "done"]


def test_bar_mode_shows_step_total_loss_and_best_value():
    stream = io.StringIO()
    display = ProgressDisplay("bar", "cub.train_final_model", stream=stream, validation_name="gzsl_h")
    with observed_by(display), training_stage("scc", 50) as progress:
        for step in range(1, 51):
            progress.step(step, loss=0.25)
            if step in (10, 20):
                progress.evaluation(step, {10: 40.0, 20: 30.0}[step])
    text = stream.getvalue()
    assert "cub.train_final_model scc" in text and "50/50" in text
    assert "loss=0.25" in text and "gzsl_h=30" in text and "best=40@10" in text


def test_auto_mode_logs_when_the_stream_is_not_a_terminal():
    assert ProgressDisplay("auto", stream=io.StringIO()).mode == "log"


def test_the_environment_variable_chooses_the_mode(monkeypatch):
    monkeypatch.delenv("FSIGENZ_PROGRESS", raising=False)
    assert display_mode() == "auto" and display_mode("log") == "log"
    monkeypatch.setenv("FSIGENZ_PROGRESS", "off")
    assert display_mode("bar") == "off"
    monkeypatch.setenv("FSIGENZ_PROGRESS", "loud")
    with pytest.raises(ValueError, match="environment variable FSIGENZ_PROGRESS: expected one of"):
        display_mode()
    monkeypatch.delenv("FSIGENZ_PROGRESS")
    with pytest.raises(ValueError, match="progress.display: expected one of"):
        display_mode("sometimes")
