"""Progress of long work: training loops report it, observers show it or record it.

A loop reports through :func:`training_stage`; whoever runs the loop chooses who hears it, with
:func:`observed_by`. Nothing is passed through ``fit``: a method needs no new argument, nothing of
it is pickled with a model, and a loop run without an observer reports to no one, at no cost.

Hooking a training loop in (three lines; the loop's numbers are untouched, nothing draws random
numbers)::

    with training_stage("gan", total_steps=n_steps) as progress:
        for step in range(1, n_steps + 1):
            loss = train_one_step()
            progress.step(step, loss=loss)              # a float or a 0-d tensor; any names
            if evaluation_due(step):
                progress.evaluation(step, monitor(step, self))

Watching it::

    with observed_by(ProgressDisplay()):                # a bar on a terminal, else log lines
        model.fit(task)

An observer is any object with the four methods of :class:`TrainingObserver`. Losses reach it as
means over windows of :attr:`StageProgress.loss_every` steps (about :data:`LOSS_POINTS` per stage),
so a loop whose loss stays on the GPU is synchronised once per window, not once per step. Stage
names nest: inside :func:`stage_scope` (``"setting_2"``) a stage ``"scc"`` is ``"setting_2.scc"``.

:class:`ProgressDisplay` is the observer for people: a tqdm bar (step / total, elapsed, ETA, rate,
last loss, last and best validation value) when its stream is a terminal, and otherwise (CI, Dagster,
a log file) a log line every ``log_every_percent`` of the stage or every ``log_every_s`` seconds,
whichever comes first. ``FSIGENZ_PROGRESS`` (:data:`PROGRESS_VARIABLE`) chooses its mode:
``auto``, ``bar``, ``log`` or ``off``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO

from tqdm.auto import tqdm

PROGRESS_VARIABLE = "FSIGENZ_PROGRESS"
DISPLAY_MODES = ("auto", "bar", "log", "off")
LOSS_POINTS = 200  # loss reports per stage at most (window means): what a display or MLflow receives
DEFAULT_LOG_EVERY_S = 30.0
DEFAULT_LOG_EVERY_PERCENT = 10.0
MIN_SECONDS_BETWEEN_LINES = 1.0  # lines for a share of the stage come at most this often

logger = logging.getLogger("fsigenz.progress")


class TrainingObserver(Protocol):
    """What hears a training loop. ``stage`` names the loop (``"scc"``, ``"gan"``, ...); steps are
    1-based and never decrease within a stage; ``on_end`` comes once, also when the loop stops early
    or fails, with the last step run."""

    def on_start(self, stage: str, total_steps: int, initial_step: int) -> None: ...

    def on_step(self, stage: str, step: int, losses: Mapping[str, float]) -> None:
        """``losses``: the mean of each named loss since the previous report, or empty."""

    def on_evaluation(self, stage: str, step: int, value: Any) -> None:
        """``value``: what the validation monitor returned at ``step`` (higher is better; may be None)."""

    def on_end(self, stage: str, step: int) -> None: ...


class _Silent:
    """The observer of a loop nobody watches."""

    def on_start(self, stage: str, total_steps: int, initial_step: int) -> None:
        pass

    def on_step(self, stage: str, step: int, losses: Mapping[str, float]) -> None:
        pass

    def on_evaluation(self, stage: str, step: int, value: Any) -> None:
        pass

    def on_end(self, stage: str, step: int) -> None:
        pass


SILENT: TrainingObserver = _Silent()
_OBSERVER: ContextVar[TrainingObserver] = ContextVar("fsigenz_training_observer", default=SILENT)
_SCOPE: ContextVar[tuple[str, ...]] = ContextVar("fsigenz_training_scope", default=())


class ObserverGroup:
    """Several observers heard as one, in order."""

    def __init__(self, observers: Sequence[TrainingObserver]) -> None:
        self.observers = tuple(observers)

    def on_start(self, stage: str, total_steps: int, initial_step: int) -> None:
        for observer in self.observers:
            observer.on_start(stage, total_steps, initial_step)

    def on_step(self, stage: str, step: int, losses: Mapping[str, float]) -> None:
        for observer in self.observers:
            observer.on_step(stage, step, losses)

    def on_evaluation(self, stage: str, step: int, value: Any) -> None:
        for observer in self.observers:
            observer.on_evaluation(stage, step, value)

    def on_end(self, stage: str, step: int) -> None:
        for observer in self.observers:
            observer.on_end(stage, step)


@contextlib.contextmanager
def observed_by(observer: TrainingObserver | None) -> Iterator[TrainingObserver]:
    """Within the block, training loops of this thread report to ``observer`` (``None``: to no one)."""
    token = _OBSERVER.set(SILENT if observer is None else observer)
    try:
        yield _OBSERVER.get()
    finally:
        _OBSERVER.reset(token)


def current_observer() -> TrainingObserver:
    return _OBSERVER.get()


@contextlib.contextmanager
def stage_scope(label: str) -> Iterator[None]:
    """Within the block, stage names start with ``label.`` (one grid setting, one tuning trial)."""
    token = _SCOPE.set((*_SCOPE.get(), label))
    try:
        yield
    finally:
        _SCOPE.reset(token)


class StageProgress:
    """What a loop holds while it runs: :meth:`step` after each step, :meth:`evaluation` after each
    monitor call. Losses are summed without leaving their device and handed on as window means
    every :attr:`loss_every` steps (and at the stage's end)."""

    def __init__(self, observer: TrainingObserver, stage: str, total_steps: int, initial_step: int = 0):
        self.observer, self.stage, self.total_steps = observer, stage, int(total_steps)
        self.last_step = int(initial_step)
        self.loss_every = max(1, math.ceil(self.total_steps / LOSS_POINTS))
        self._watched = observer is not SILENT
        self._sums: dict[str, Any] = {}
        self._count = 0

    def step(self, step: int, **losses: Any) -> None:
        """Step ``step`` (1-based) is done; ``losses``: its losses by name (floats or 0-d tensors)."""
        self.last_step = int(step)
        if not self._watched:
            return
        for name, value in losses.items():
            value = value.detach() if hasattr(value, "detach") else float(value)
            self._sums[name] = self._sums.get(name, 0.0) + value  # a new tensor: the loop may reuse its own
        self._count += 1 if losses else 0
        due = step % self.loss_every == 0 or step >= self.total_steps
        self.observer.on_step(self.stage, int(step), self._window_means() if due else {})

    def evaluation(self, step: int, value: Any) -> None:
        """The validation monitor returned ``value`` at ``step``."""
        if self._watched:
            self.observer.on_evaluation(self.stage, int(step), value)

    def _window_means(self) -> dict[str, float]:
        means = (
            {name: float(total) / self._count for name, total in self._sums.items()} if self._count else {}
        )
        self._sums, self._count = {}, 0
        return means

    def close(self) -> None:
        if not self._watched:
            return
        if self._count:  # the last, partial window (a loop stopped early)
            self.observer.on_step(self.stage, self.last_step, self._window_means())
        self.observer.on_end(self.stage, self.last_step)


@contextlib.contextmanager
def training_stage(name: str, total_steps: int, initial_step: int = 0) -> Iterator[StageProgress]:
    """Report a loop of ``total_steps`` steps (resumed at ``initial_step``) as stage ``name`` to the
    current observer; the observer hears the end also when the block raises."""
    observer = current_observer()
    stage = ".".join((*_SCOPE.get(), name))
    progress = StageProgress(observer, stage, total_steps, initial_step)
    if observer is not SILENT:
        observer.on_start(stage, int(total_steps), int(initial_step))
    try:
        yield progress
    finally:
        progress.close()


# ---------------------------------------------------------------------------------------- display
def display_mode(value: str | None = None, variable: str = PROGRESS_VARIABLE) -> str:
    """The display mode: ``$FSIGENZ_PROGRESS`` when set, else ``value`` (``None``: ``auto``);
    ``on`` / ``off`` and the like are accepted as ``auto`` / ``off``."""
    given, source = os.environ.get(variable), f"environment variable {variable}"
    if not given:
        given, source = ("auto" if value is None else value), "progress.display"
    text = str(given).strip().lower()
    aliases = {
        "on": "auto",
        "true": "auto",
        "1": "auto",
        "yes": "auto",
        "false": "off",
        "0": "off",
        "no": "off",
    }
    text = aliases.get(text, text)
    if text not in DISPLAY_MODES:
        raise ValueError(f"{source}: expected one of {list(DISPLAY_MODES)} (or on / off), got {given!r}")
    return text


@dataclass
class _StageState:
    total: int
    initial: int
    started: float
    step: int
    losses: dict[str, float] = field(default_factory=dict)
    value: Any = None
    best: float | None = None
    best_step: int | None = None
    last_log_time: float = 0.0
    last_log_fraction: float = 0.0
    bar: Any = None


def finite_number(value: Any) -> float | None:
    """``value`` as a float, or None where it is no number or not finite (NaN, ±inf)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def format_duration(seconds: float) -> str:
    seconds = int(round(max(seconds, 0.0)))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class ProgressDisplay:
    """Shows training progress to a person (see the module docstring).

    ``mode``: ``auto`` (a bar when ``stream`` is a terminal, else log lines), ``bar``, ``log`` or
    ``off``; ``label`` starts every line (e.g. the Kedro node); ``validation_name`` names the monitored
    value (e.g. ``gzsl_h``). Log lines go to the logger
    ``fsigenz.progress`` at INFO: one at the start, one at the end, and one whenever ``log_every_s``
    seconds or ``log_every_percent`` of the stage have passed since the previous line (0: not by that
    measure; lines by share come at most every :data:`MIN_SECONDS_BETWEEN_LINES`).
    """

    def __init__(
        self,
        mode: str = "auto",
        label: str = "",
        stream: TextIO | None = None,
        log_every_s: float = DEFAULT_LOG_EVERY_S,
        log_every_percent: float = DEFAULT_LOG_EVERY_PERCENT,
        log: logging.Logger | None = None,
        clock: Callable[[], float] = time.monotonic,
        validation_name: str = "validation",
    ) -> None:
        if mode not in DISPLAY_MODES:
            raise ValueError(f"progress.display: expected one of {list(DISPLAY_MODES)}, got {mode!r}")
        for name, number in (("log_every_s", log_every_s), ("log_every_percent", log_every_percent)):
            if isinstance(number, bool) or not isinstance(number, (int, float)) or number < 0:
                raise ValueError(f"progress.{name}: expected a number >= 0, got {number!r}")
        self.stream = sys.stderr if stream is None else stream
        if mode == "auto":
            mode = "bar" if getattr(self.stream, "isatty", lambda: False)() else "log"
        self.mode, self.label = mode, label
        self.log_every_s, self.log_every_fraction = float(log_every_s), float(log_every_percent) / 100
        self.log = log or logger
        self.clock, self.validation_name = clock, validation_name
        self._stages: dict[str, _StageState] = {}

    def _name(self, stage: str) -> str:
        return f"{self.label} {stage}" if self.label else stage

    def on_start(self, stage: str, total_steps: int, initial_step: int) -> None:
        if self.mode == "off" or total_steps <= initial_step:  # nothing to wait for (a 0-step final fit)
            return
        now = self.clock()
        state = _StageState(total_steps, initial_step, now, initial_step, last_log_time=now)
        if self.mode == "bar":
            state.bar = tqdm(
                total=total_steps,
                initial=initial_step,
                desc=self._name(stage),
                unit="step",
                file=self.stream,
                leave=not self._stages,  # a nested stage (a trial of a search) clears its bar
                dynamic_ncols=True,
                mininterval=0.5,
                smoothing=0.1,
            )
        else:
            self.log.info("%s: started, %d steps", self._name(stage), total_steps)
        self._stages[stage] = state

    def on_step(self, stage: str, step: int, losses: Mapping[str, float]) -> None:
        state = self._stages.get(stage)
        if state is None:
            return
        state.step = step
        state.losses.update(losses)
        if state.bar is not None:
            if losses:
                state.bar.set_postfix_str(self._postfix(state), refresh=False)
            state.bar.update(step - state.bar.n)
        else:
            self._log_if_due(stage, state)

    def on_evaluation(self, stage: str, step: int, value: Any) -> None:
        state = self._stages.get(stage)
        if state is None:
            return
        state.value = value
        number = finite_number(value)
        if number is not None and (state.best is None or number > state.best):
            state.best, state.best_step = number, step
        if state.bar is not None:
            state.bar.set_postfix_str(self._postfix(state), refresh=False)

    def on_end(self, stage: str, step: int) -> None:
        state = self._stages.pop(stage, None)
        if state is None:
            return
        state.step = step
        if state.bar is not None:
            state.bar.set_postfix_str(self._postfix(state), refresh=False)
            state.bar.close()
            return
        elapsed = self.clock() - state.started
        best = (
            ""
            if state.best is None
            else f"; best {self.validation_name} {state.best:.4g} at step {state.best_step}"
        )
        self.log.info(
            "%s: done, %d/%d steps in %s%s",
            self._name(stage),
            step,
            state.total,
            format_duration(elapsed),
            best,
        )

    def _postfix(self, state: _StageState) -> str:
        parts = [f"{name}={value:.4g}" for name, value in state.losses.items()]
        number = finite_number(state.value)
        if number is not None:
            parts.append(f"{self.validation_name}={number:.4g}")
        if state.best is not None:
            parts.append(f"best={state.best:.4g}@{state.best_step}")
        return ", ".join(parts)

    def _log_if_due(self, stage: str, state: _StageState) -> None:
        now = self.clock()
        fraction = state.step / state.total if state.total else 1.0
        since_last = now - state.last_log_time
        by_time = self.log_every_s > 0 and since_last >= self.log_every_s
        # a stage that ends within seconds gets its start and end lines only, not ten more
        by_share = (
            self.log_every_fraction > 0
            and fraction - state.last_log_fraction >= self.log_every_fraction
            and since_last >= MIN_SECONDS_BETWEEN_LINES
        )
        if not (by_time or by_share) or state.step >= state.total:  # the end has a line of its own
            return
        state.last_log_time, state.last_log_fraction = now, fraction
        elapsed = now - state.started
        done = state.step - state.initial
        eta = elapsed / done * (state.total - state.step) if done > 0 else math.nan
        details = [f"{name} {value:.4g}" for name, value in state.losses.items()]
        number = finite_number(state.value)
        if number is not None:
            details.append(f"{self.validation_name} {number:.4g}")
        if state.best is not None:
            details.append(f"best {state.best:.4g} at step {state.best_step}")
        self.log.info(
            "%s: step %d/%d (%.0f%%), %s elapsed, ETA %s%s",
            self._name(stage),
            state.step,
            state.total,
            100 * fraction,
            format_duration(elapsed),
            format_duration(eta) if math.isfinite(eta) else "?",
            "; " + ", ".join(details) if details else "",
        )
