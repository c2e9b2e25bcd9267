"""Training progress in a ``kedro run``: what the node's loops report, shown and logged to MLflow live.

:class:`MlflowLiveMetrics` is a :class:`~fsigenz.progress.TrainingObserver` that writes each stage's
losses and validation values into the active MLflow run while the loop runs, as metric histories with
their steps: ``<node>.<stage>.<loss name>`` and ``<node>.<stage>.validation.<metric>``, e.g.
``cub.select_on_validation.scc.loss`` and ``cub.select_on_validation.scc.validation.gzsl_h`` (the node
name starts with the dataset namespace, so datasets never share a metric). They come in batches, at
most one write every ``flush_every_s`` seconds, and the rest when the stage ends.

:class:`ProgressSettings` is the parameter block ``progress`` (``conf/base/parameters_progress.yml``);
:meth:`ProgressSettings.observer` builds what :class:`~fsigenz.hooks.TrainingProgressHooks` installs
around each node.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException

from fsigenz.progress import (
    DEFAULT_LOG_EVERY_PERCENT,
    DEFAULT_LOG_EVERY_S,
    ObserverGroup,
    ProgressDisplay,
    TrainingObserver,
    display_mode,
    finite_number,
)

logger = logging.getLogger(__name__)

MAX_METRICS_PER_BATCH = 1000  # MLflow's limit for one log_batch call
DEFAULT_FLUSH_EVERY_S = 2.0


class MlflowLiveMetrics:
    """Log training losses and validation values to MLflow run ``run_id`` as they are computed.

    ``prefix`` starts every metric name (the node's name); ``validation_name`` names the monitored
    value (the selection metric, e.g. ``gzsl_h``: ``<stage>.validation.gzsl_h``; the default:
    ``<stage>.validation``). A failing write (the tracking store is busy or gone)
    is reported once as a warning and stops the live logging; it never stops the training.
    """

    def __init__(
        self,
        run_id: str,
        prefix: str,
        validation_name: str = "validation",
        client: MlflowClient | None = None,
        flush_every_s: float = DEFAULT_FLUSH_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.run_id, self.prefix, self.validation_name = run_id, prefix, validation_name
        self.client = client or MlflowClient()
        self.flush_every_s, self.clock = float(flush_every_s), clock
        self._pending: list[Metric] = []
        self._last_flush = clock()
        self._broken = False

    def _add(self, key: str, value: float, step: int) -> None:
        self._pending.append(Metric(f"{self.prefix}.{key}", value, int(time.time() * 1000), int(step)))
        if self.clock() - self._last_flush >= self.flush_every_s:
            self.flush()

    def on_start(self, stage: str, total_steps: int, initial_step: int) -> None:
        pass

    def on_step(self, stage: str, step: int, losses: Mapping[str, float]) -> None:
        for name, value in losses.items():
            number = finite_number(value)
            if number is not None:
                self._add(f"{stage}.{name}", number, step)

    def on_evaluation(self, stage: str, step: int, value: Any) -> None:
        number = finite_number(value)
        if number is not None:
            self._add(self._validation_key(stage), number, step)

    def _validation_key(self, stage: str) -> str:
        name = self.validation_name
        return f"{stage}.validation" if name == "validation" else f"{stage}.validation.{name}"

    def on_end(self, stage: str, step: int) -> None:
        self.flush()

    def flush(self) -> None:
        self._last_flush = self.clock()
        pending, self._pending = self._pending, []
        if self._broken or not pending:
            return
        try:
            for start in range(0, len(pending), MAX_METRICS_PER_BATCH):
                self.client.log_batch(self.run_id, metrics=pending[start : start + MAX_METRICS_PER_BATCH])
        except MlflowException as error:
            self._broken = True
            logger.warning("Live training metrics stopped: MLflow refused them (%s)", error)


@dataclass(frozen=True)
class ProgressSettings:
    """Parameters ``progress``: ``display`` (auto | bar | log | off; ``FSIGENZ_PROGRESS`` wins),
    ``log_every_s`` and ``log_every_percent`` (log lines, when not a terminal), ``mlflow`` (log the
    curves live) and ``mlflow_flush_every_s``."""

    display: str = "auto"
    log_every_s: float = DEFAULT_LOG_EVERY_S
    log_every_percent: float = DEFAULT_LOG_EVERY_PERCENT
    mlflow: bool = True
    mlflow_flush_every_s: float = DEFAULT_FLUSH_EVERY_S

    @classmethod
    def from_parameters(cls, block: Mapping[str, Any] | None) -> ProgressSettings:
        """Validate the parameter block (``None``: the defaults), naming the key that is wrong."""
        block = dict(block or {})
        allowed = [f.name for f in fields(cls)]
        unknown = sorted(set(block) - set(allowed))
        if unknown:
            raise ValueError(f"parameters 'progress': unknown key(s) {unknown}; expected some of {allowed}")
        for name in ("log_every_s", "log_every_percent", "mlflow_flush_every_s"):
            value = block.get(name, 0)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"parameters 'progress.{name}': expected a number >= 0, got {value!r}")
        if not isinstance(block.get("mlflow", True), bool):
            raise ValueError(f"parameters 'progress.mlflow': expected true or false, got {block['mlflow']!r}")
        settings = cls(**block)
        return cls(**{**block, "display": display_mode(settings.display)})

    def observer(
        self, label: str, run_id: str | None, validation_name: str = "validation"
    ) -> TrainingObserver | None:
        """What watches the loops of node ``label``: the display unless it is off, and the live MLflow
        metrics when ``run_id`` (the active run) is given and ``mlflow`` is on; ``None`` for neither."""
        observers: list[TrainingObserver] = []
        if self.display != "off":
            observers.append(
                ProgressDisplay(
                    self.display,
                    label,
                    log_every_s=self.log_every_s,
                    log_every_percent=self.log_every_percent,
                    validation_name=validation_name,
                )
            )
        if run_id is not None and self.mlflow:
            observers.append(
                MlflowLiveMetrics(run_id, label, validation_name, flush_every_s=self.mlflow_flush_every_s)
            )
        return ObserverGroup(observers) if observers else None
