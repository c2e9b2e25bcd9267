"""A study as one Dagster job: each setting a step of its own, run as ``scripts/run_study.py`` runs it (one
``kedro run`` in one MLflow run tagged with the study and the setting), the steps in parallel on the
executor of the Kedro environment's jobs (a Dask cluster under conf/cluster), then the reporting pipeline.

    kedro dagster launch --env cluster --job study__ablation
    dagster job execute -m fsigenz.definitions -a defs -j study__ablation -c run.yml   # KEDRO_ENV=cluster

``run.yml`` may pick the datasets, add parameters, pick the pipeline (the runner's ``--namespaces``,
``--params`` and ``--pipeline``) and leave out the report::

    resources: {study_options: {config: {namespaces: [synthetic], params: "synthetic.source.seed=1",
                                         pipeline: training_synthetic, report: false}}}

Settings running at the same time must not share output files: each writes under a data root of its own,
``$FSIGENZ_DATA_ROOT/studies/<study>/<setting>`` (``data/`` when the variable is unset), which
conf/cluster's catalog reads; the report writes under ``$FSIGENZ_DATA_ROOT`` itself.
"""

# no `from __future__ import annotations`: Dagster reads the ops' parameter types (context, resources)
import os
import re
from pathlib import Path

import dagster as dg

from fsigenz.experiments.studies import StudySetting, study_settings
from fsigenz.pipelines.studies.runner import (
    REPORT_PIPELINE,
    default_kedro_command,
    load_project,
    run_tagged,
    setting_command,
    setting_configurations,
    setting_tags,
)

DATA_ROOT_VARIABLE = "FSIGENZ_DATA_ROOT"  # read by conf/cluster/catalog.yml
DEFAULT_DATA_ROOT = "data"
JOB_PREFIX = "study__"


class StudyOptions(dg.ConfigurableResource):
    """What a study job runs, set at launch (the study runner's options)."""

    namespaces: list[str] = []  # the datasets of every setting; empty: every dataset present
    params: str = ""  # extra kedro --params for every setting, e.g. "a.b=1,c=2"
    pipeline: str = ""  # the pipeline of every setting; empty: __default__ (training_<ns> logs the model)
    report: bool = True  # run the reporting pipeline after the settings (study table, figure, comparison)


def data_root(project_path: Path) -> Path:
    """``$FSIGENZ_DATA_ROOT`` (relative to the project), else the project's ``data/``."""
    return project_path / os.environ.get(DATA_ROOT_VARIABLE, DEFAULT_DATA_ROOT)


def step_name(setting: str) -> str:
    """A Dagster op name for a setting (letters, digits, underscores): ``fsigenz.scc.beta=0.5`` →
    ``fsigenz_scc_beta_0_5``."""
    return re.sub(r"\W", "_", setting)


def run_setting(
    project_path: Path,
    env: str,
    study: str,
    setting: StudySetting,
    options: StudyOptions,
    dagster_run_id: str,
) -> tuple[str, int]:
    """One ``kedro run`` of ``setting`` in an MLflow run of its own, under the setting's data root."""
    from mlflow import MlflowClient

    from fsigenz.pipeline_registry import available_namespaces

    parameters, experiment_id, tracking_uri = load_project(project_path, env)
    namespaces = options.namespaces or available_namespaces(project_path / "data" / "01_raw")
    setting_configurations(parameters, setting, namespaces)  # an invalid setting fails here, naming the key
    command = setting_command(
        default_kedro_command(),
        setting,
        namespaces,
        bool(options.namespaces),
        options.params,
        env,
        options.pipeline or None,
    )
    tags = {**setting_tags(study, setting, f"{study}-{dagster_run_id}"), "dagster_run_id": dagster_run_id}
    folder = data_root(project_path) / "studies" / study / step_name(setting.name)
    return run_tagged(
        command,
        MlflowClient(tracking_uri),
        experiment_id,
        f"{study}/{setting.name}",
        tags,
        project_path,
        {DATA_ROOT_VARIABLE: str(folder)},
    )


def run_report(project_path: Path, env: str, study: str, dagster_run_id: str) -> tuple[str, int]:
    """``kedro run --pipelines reporting`` in an MLflow run tagged ``study_role=report``."""
    from mlflow import MlflowClient

    _, experiment_id, tracking_uri = load_project(project_path, env)
    command = [*default_kedro_command(), "run", "--env", env, "--pipelines", REPORT_PIPELINE]
    tags = {
        "study": study,
        "study_invocation": f"{study}-{dagster_run_id}",
        "study_role": "report",
        "dagster_run_id": dagster_run_id,
    }
    return run_tagged(
        command,
        MlflowClient(tracking_uri),
        experiment_id,
        f"{study}/report",
        tags,
        project_path,
        {DATA_ROOT_VARIABLE: str(data_root(project_path))},
    )


def _setting_op(project_path: Path, env: str, study: str, setting: StudySetting) -> dg.OpDefinition:
    @dg.op(
        name=f"{study}__{step_name(setting.name)}",  # op names are unique among every job of the location
        out=dg.Out(dg.Nothing),
        tags={"study": study, "setting": setting.name},
        description=f"kedro run of setting '{setting.name}' of study '{study}': "
        f"{setting.overrides or 'defaults'}",
    )
    def setting_op(context: dg.OpExecutionContext, study_options: StudyOptions) -> None:
        run_id, returncode = run_setting(project_path, env, study, setting, study_options, context.run_id)
        if returncode:
            raise dg.Failure(
                f"study {study}, setting {setting.name}: kedro run exited {returncode} (MLflow run {run_id})",
                metadata={"mlflow_run_id": run_id},
            )
        context.log.info(f"study {study}, setting {setting.name}: MLflow run {run_id}")

    return setting_op


def _report_op(project_path: Path, env: str, study: str, settings: list[str]) -> dg.OpDefinition:
    @dg.op(
        name=f"{study}__report",
        ins={name: dg.In(dg.Nothing) for name in settings},
        out=dg.Out(dg.Nothing),
        description=f"the reporting pipeline: study table and figure of '{study}', comparison report",
    )
    def report_op(context: dg.OpExecutionContext, study_options: StudyOptions) -> None:
        if not study_options.report:
            context.log.info(f"study {study}: report left out (study_options.report is false)")
            return
        run_id, returncode = run_report(project_path, env, study, context.run_id)
        if returncode:
            raise dg.Failure(
                f"study {study}: the reporting pipeline exited {returncode} (MLflow run {run_id})"
            )

    return report_op


def study_job(
    project_path: Path, env: str, study: str, block: dict, executor_def: dg.ExecutorDefinition | None
) -> dg.JobDefinition:
    """``study__<study>``: one step ``<study>__<setting>`` per setting of ``block`` (``studies.<study>``),
    then ``<study>__report``."""
    settings = study_settings(study, block)
    ops = {f"{study}__{step_name(s.name)}": _setting_op(project_path, env, study, s) for s in settings}
    description = block.get("description", "") if isinstance(block, dict) else ""

    @dg.job(
        name=f"{JOB_PREFIX}{study}",
        description=f"Study '{study}' ({len(settings)} settings, docs/experiments.md): {description}",
        executor_def=executor_def,
        resource_defs={"study_options": StudyOptions(), "io_manager": dg.fs_io_manager},
        tags={"study": study},
    )
    def job():
        _report_op(project_path, env, study, list(ops))(**{name: op() for name, op in ops.items()})

    return job


def study_jobs(
    project_path: Path, env: str, studies: dict, executor_def: dg.ExecutorDefinition | None = None
) -> list[dg.JobDefinition]:
    """One job per study of the parameters' ``studies`` block."""
    return [
        study_job(project_path, env, name, block, executor_def) for name, block in (studies or {}).items()
    ]
