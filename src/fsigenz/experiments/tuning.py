"""Hyperparameter search with Optuna on the validation split (never test).

A trial draws a setting from the search space (``{dotted.parameter: spec}``, keys relative to the method's
parameter block as in ``model.selection.grids``), and is scored by :func:`fsigenz.protocol.select_model` on
the validation protocol: train classes seen, val classes playing unseen, iterative methods early-stopped
on the validation curve. The test split is never touched.

The study lives in a database (``sqlite:///optuna.db`` by default; any SQLAlchemy URL, e.g. a PostgreSQL
server, lets several machines work on one study): every worker process that opens the same study name
on the same storage draws new trials from the shared history.

The best setting is written as ``<namespace>: {<method>: {...}}`` (the namespace's own block of the
method) to a parameters file in ``conf/local``, which beats the per-dataset defaults of ``conf/base``
and loses to the command line: the next ``kedro run`` uses it (README, "Parameters").

Search-space spec, per parameter: ``{type: float, low, high, log}``, ``{type: int, low, high, step, log}``,
``{type: categorical, choices: [...]}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fsigenz.configuration import RunConfiguration
from fsigenz.data.dataset import ZeroShotDataset
from fsigenz.methods.registry import build_method, deep_merge, method_spec
from fsigenz.methods.settings import validate_settings
from fsigenz.progress import stage_scope
from fsigenz.protocol import SelectionResult, select_model, set_nested, validation_protocol

DIMENSION_TYPES = ("float", "int", "categorical")
TUNED_FILE_HEADER = (
    "# Written by the Optuna search (scripts/tune.py): best settings found on the validation split.\n"
    "# conf/local is merged softly over conf/base, so `kedro run` uses these; delete a block to undo it.\n"
)


@dataclass(frozen=True)
class SearchDimension:
    name: str  # dotted parameter, relative to the method block
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: int | None = None
    choices: tuple | None = None


def parse_search_space(
    space: Mapping[str, Mapping[str, Any]], where: str = "search space"
) -> list[SearchDimension]:
    """Validate a ``{dotted.parameter: spec}`` search space (see the module docstring)."""
    if not space:
        raise ValueError(f"{where}: empty; give at least one {{dotted.parameter: {{type, ...}}}}")
    dimensions = []
    for name, spec in space.items():
        if not isinstance(spec, Mapping) or spec.get("type") not in DIMENSION_TYPES:
            raise ValueError(
                f"{where}.{name}: expected a mapping with type one of {DIMENSION_TYPES}, got {spec!r}"
            )
        kind = spec["type"]
        if kind == "categorical":
            choices = spec.get("choices")
            if not isinstance(choices, Sequence) or isinstance(choices, str) or not choices:
                raise ValueError(
                    f"{where}.{name}: categorical needs a non-empty 'choices' list, got {choices!r}"
                )
            dimensions.append(SearchDimension(name, kind, choices=tuple(choices)))
            continue
        low, high = spec.get("low"), spec.get("high")
        if low is None or high is None or not float(low) < float(high):
            raise ValueError(f"{where}.{name}: expected numbers low < high, got low={low!r}, high={high!r}")
        log = bool(spec.get("log", False))
        if log and float(low) <= 0:
            raise ValueError(f"{where}.{name}: log scale needs low > 0, got {low!r}")
        cast = int if kind == "int" else float
        dimensions.append(SearchDimension(name, kind, cast(low), cast(high), log, spec.get("step")))
    return dimensions


def suggest_setting(trial, dimensions: Sequence[SearchDimension]) -> dict[str, Any]:
    """One setting ``{dotted.parameter: value}`` drawn by an Optuna trial."""
    setting = {}
    for d in dimensions:
        if d.kind == "categorical":
            setting[d.name] = trial.suggest_categorical(d.name, list(d.choices))
        elif d.kind == "int":
            setting[d.name] = trial.suggest_int(d.name, d.low, d.high, step=d.step or 1, log=d.log)
        else:
            setting[d.name] = trial.suggest_float(d.name, d.low, d.high, log=d.log)
    return setting


def apply_setting(parameters: Mapping[str, Any], setting: Mapping[str, Any]) -> dict:
    """Copy of a method's parameter block with each ``dotted.parameter`` of ``setting`` set."""
    out = dict(parameters)
    for key, value in setting.items():
        out = set_nested(out, key, value)
    return out


class _ReportingMethod:
    """Wraps a method so that each validation evaluation is reported to an Optuna trial (for pruning)."""

    def __init__(self, method, trial) -> None:
        self._method, self._trial = method, trial

    def fit(self, task, monitor=None, **fit_options):
        import optuna

        def reporting_monitor(step, _method):
            value = monitor(step, self._method)
            self._trial.report(float(value), int(step))
            if self._trial.should_prune():
                raise optuna.TrialPruned(f"pruned at step {step} (validation value {value:.3f})")
            return value

        self._method.fit(task, monitor=None if monitor is None else reporting_monitor, **fit_options)
        return self

    def decision_function(self, features):
        return self._method.decision_function(features)


def validation_score(
    dataset: ZeroShotDataset,
    configuration: RunConfiguration,
    setting: Mapping[str, Any] | None = None,
    trial=None,
) -> SelectionResult:
    """Model selection of the configured method, with ``setting`` (``{dotted.parameter: value}``)
    applied to its settings, on the validation protocol (early stopping, γ); never the test split.

    With ``trial``, every validation evaluation is reported to it, and a pruned trial stops early.
    """
    selection = configuration.selection
    protocol = validation_protocol(dataset, selection.seen_holdout_fraction, selection.seed)
    parameters = apply_setting(configuration.settings, setting or {})
    # a search space may reach any setting: the drawn values are checked as the configuration was
    validate_settings(method_spec(configuration.method).estimator_class, parameters, configuration.method)

    def build(params):
        built = build_method(configuration.method, params)
        return built if trial is None else _ReportingMethod(built, trial)

    return select_model(protocol, build, parameters, None, selection.metric)


def make_objective(
    dataset: ZeroShotDataset, configuration: RunConfiguration, dimensions: Sequence[SearchDimension]
):
    """The Optuna objective: a trial's setting → its validation ``selection.metric`` (to maximise)."""
    metric = configuration.selection.metric

    def objective(trial) -> float:
        setting = suggest_setting(trial, dimensions)
        with stage_scope(f"trial_{trial.number}"):  # the trial's training loops report as trial_<n>.<stage>
            result = validation_score(dataset, configuration, setting, trial)
        trial.set_user_attr("best_step", result.best_step)
        trial.set_user_attr("validation_metrics", {k: float(v) for k, v in result.validation_metrics.items()})
        return float(result.validation_metrics[metric])

    return objective


def storage_for(url: str, sqlite_timeout_s: float = 60.0):
    """An Optuna RDB storage; SQLite waits for locks instead of failing when several workers write."""
    import optuna

    engine_kwargs = {"connect_args": {"timeout": sqlite_timeout_s}} if url.startswith("sqlite") else None
    return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)


def tuned_parameters_block(namespace: str, method: str, setting: Mapping[str, Any]) -> dict:
    """``{namespace: {method: {...}}}`` from a ``{dotted.parameter: value}`` setting."""
    return {namespace: {method: apply_setting({}, setting)}}


def write_tuned_parameters(path: str | Path, block: Mapping[str, Any]) -> dict:
    """Merge ``block`` into the YAML parameters file at ``path`` (created if absent); return its content.

    Earlier blocks (other namespaces, other methods) are kept; the same keys are replaced.
    """
    path = Path(path)
    existing = {}
    if path.is_file():
        existing = yaml.safe_load(path.read_text()) or {}
        if not isinstance(existing, dict):
            raise ValueError(f"{path}: expected a mapping of parameters, got {type(existing).__name__}")
    content = deep_merge(existing, dict(block))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TUNED_FILE_HEADER + yaml.safe_dump(content, sort_keys=False))
    return content
