"""Dagster code location: the Kedro pipelines as Dagster jobs, translated by kedro-dagster.

Jobs and executors are configured in ``conf/<env>/dagster.yml``: one job per dataset namespace present,
each the namespace-filtered ``__default__`` pipeline (conf/base), or one job over every dataset on the
multiprocess executor (conf/parallel). Loaded by ``kedro dagster dev`` (``dg.toml`` points it here) or
``dagster dev -m fsigenz.definitions``; see docs/dagster.md.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Literal

import dagster as dg
from dagster_mlflow import end_mlflow_on_run_finished
from kedro_dagster import KedroProjectTranslator
from kedro_dagster.config import EXECUTOR_MAP
from kedro_dagster.config import DaskExecutorOptions as _DaskExecutorOptions
from kedro_dagster.config import MultiprocessExecutorOptions as _MultiprocessExecutorOptions

DEFAULT_ENV = "local"  # the Kedro environment `kedro run` uses by default (settings.CONFIG_LOADER_ARGS)


class DaskExecutorOptions(_DaskExecutorOptions):
    """The ``dask_executor`` block of dagster.yml, handed to dagster-dask with only the options set.

    kedro-dagster 0.8.1 passes every cluster type, the unset ones as null, and dagster-dask's
    ``cluster`` accepts exactly one, so any Dask configuration fails to validate.
    """

    def model_dump(self, **kwargs):
        return super().model_dump(**{**kwargs, "exclude_none": True})


class MultiprocessExecutorOptions(_MultiprocessExecutorOptions):
    """The ``multiprocess`` block of dagster.yml, with Dagster's ``start_method``, which kedro-dagster 0.8.1
    does not accept.

    ``start_method: {forkserver: {preload_modules: [...]}}`` forks each step from a server process that has
    imported those modules once, where ``spawn`` (Dagster's default) starts a new interpreter that imports
    them again: about 4 of the 7 seconds a step process took here before its node ran.
    """

    start_method: dict[Literal["spawn", "forkserver"], dict] | None = None

    def model_dump(self, **kwargs):
        return super().model_dump(**{**kwargs, "exclude_none": True})


def register_executor_options() -> None:
    """Have kedro-dagster read ``dask_executor`` and ``multiprocess`` blocks into the classes above."""
    EXECUTOR_MAP["dask_executor"] = EXECUTOR_MAP["dask_executor"]._replace(options=DaskExecutorOptions)
    EXECUTOR_MAP["multiprocess"] = EXECUTOR_MAP["multiprocess"]._replace(options=MultiprocessExecutorOptions)


class ExpectedTranslationWarnings(logging.Filter):
    """Drops kedro-dagster 0.8.1's two warnings that this project triggers by design, once per dataset
    or node and process (about a thousand lines per ``kedro dagster launch``):

    - "Dataset name `params:…` is not valid under Dagster's naming convention": every parameter input is
      a ``params:<name>`` dataset in Kedro, and the colon is replaced in its asset name (``params__fsigenz``);
    - "Node `<ns>.<node>` is not part of any pipelines": kedro-dagster names a node's asset group after
      the pipeline ``kedro.framework.project.find_pipelines()`` finds it in, but that searches the
      un-namespaced ``create_pipeline()`` of each package, never the registry's namespaced nodes
      (``synthetic.train_final_model``), so every node falls back to the group ``__none__``.

    Both change names only; every other kedro-dagster warning passes.
    """

    PATTERNS = ("Dataset name `params:", "is not part of any pipelines. Assigning '__none__'")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(pattern in message for pattern in self.PATTERNS)


def quiet_expected_translation_warnings() -> None:
    """Install :class:`ExpectedTranslationWarnings` on kedro-dagster's logger (once)."""
    translation_logger = logging.getLogger("kedro_dagster.utils")
    if not any(isinstance(f, ExpectedTranslationWarnings) for f in translation_logger.filters):
        translation_logger.addFilter(ExpectedTranslationWarnings())


def build_definitions(project_path: Path | None = None, env: str | None = None) -> dg.Definitions:
    """Translate the Kedro project at ``project_path`` (default: found from the current directory).

    ``env`` defaults to ``$KEDRO_ENV``, which ``kedro dagster <command> --env`` sets, then to ``local``.
    """
    register_executor_options()
    quiet_expected_translation_warnings()
    env = env or os.environ.get("KEDRO_ENV", DEFAULT_ENV)
    location = KedroProjectTranslator(env=env, project_path=project_path).to_dagster()
    # kedro-dagster's MLflow resource attaches every step, in whichever process it runs, to one MLflow
    # run per Dagster run, and kedro-mlflow's hooks log into it; this hook closes it after the last step.
    jobs = [job.with_hooks({end_mlflow_on_run_finished}) for job in location.named_jobs.values()]
    return dg.Definitions(
        assets=list(location.named_assets.values()),
        # every dataset of the pipelines has its own IO manager (its catalog entry); the default one
        # carries the hook ops' "Nothing" outputs, pickled so that steps in other processes see them
        resources={**location.named_resources, "io_manager": dg.fs_io_manager},
        jobs=jobs,
        schedules=list(location.named_schedules.values()),
        sensors=list(location.named_sensors.values()),
        loggers={"console": dg.colored_console_logger},
    )


@dg.definitions
def defs() -> dg.Definitions:
    """Built when Dagster loads the code location, not on import (tests build their own)."""
    return build_definitions()
