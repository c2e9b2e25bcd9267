"""Study runner: one ``kedro run`` (one MLflow run) per setting of a study, then the reporting pipeline.

    python scripts/run_study.py ablation                       # every dataset present
    python scripts/run_study.py sensitivity --namespaces synthetic
    python scripts/run_study.py ablation --only without_dpsr   # rerun one setting
    python scripts/run_study.py seeds --only fsigenz           # every seed of one setting
    python scripts/run_study.py ablation --dry-run             # print the commands

Each setting runs as its own process (kedro-mlflow cannot share a process between runs). The runner
creates the setting's MLflow run first, tagged ``study``, ``setting`` and ``study_invocation``, and hands
it to ``kedro run`` through ``MLFLOW_RUN_ID``, which kedro-mlflow resumes; after the run the name is set
back to ``<study>/<setting>``. Last, ``kedro run --pipelines=reporting`` (its run tagged with the study and
``study_role=report``) writes data/08_reporting/studies/<study>.{csv,md,png} and the comparison report.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fsigenz.experiments.studies import (
    StudySetting,
    format_value,
    kedro_params,
    select_settings,
    study_settings,
)
from fsigenz.progress import format_duration

logger = logging.getLogger("fsigenz.studies")

REPORT_PIPELINE = "reporting"
RUN_ENVIRONMENT = {
    "KEDRO_DISABLE_TELEMETRY": "true",
    "HF_HUB_OFFLINE": "1",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}


@dataclass
class SettingOutcome:
    setting: str
    run_id: str | None
    returncode: int
    seconds: float


def default_kedro_command() -> list[str]:
    """The ``kedro`` beside the running Python (the project's virtual environment), else on PATH."""
    beside = Path(sys.executable).with_name("kedro")
    return [str(beside)] if beside.is_file() else ["kedro"]


def load_project(project_path: Path, env: str | None):
    """Parameters of the project and the MLflow experiment kedro-mlflow uses (created if missing).

    Loading the context runs kedro-mlflow's setup: tracking URI and experiment from ``mlflow.yml``.
    """
    import mlflow
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project_path)
    with KedroSession.create(project_path=project_path, env=env) as session:
        context = session.load_context()
        parameters = context.params
        experiment_name = context.mlflow.tracking.experiment.name
    experiment = mlflow.get_experiment_by_name(experiment_name)
    return parameters, experiment.experiment_id, mlflow.get_tracking_uri()


def study_from_parameters(parameters: dict, study: str) -> tuple[dict, list[StudySetting]]:
    studies = parameters.get("studies") or {}
    if study not in studies:
        raise SystemExit(
            f"unknown study '{study}': parameters 'studies' (conf/base/parameters_experiments.yml) "
            f"define {sorted(studies)}"
        )
    return studies[study], study_settings(study, studies[study])


def setting_configurations(parameters: dict, setting: StudySetting, namespaces: Sequence[str]) -> dict:
    """The :class:`~fsigenz.configuration.RunConfiguration` each namespace's run of ``setting`` will
    resolve (raises, naming the key, for a setting that is not a valid configuration)."""
    from omegaconf import OmegaConf

    from fsigenz.configuration import CONFIGURABLE_BLOCKS, resolve_run_configuration
    from fsigenz.methods.registry import deep_merge

    dotlist = [f"{key}={format_value(value)}" for key, value in sorted(setting.overrides.items())]
    command_line = OmegaConf.to_container(OmegaConf.from_dotlist(dotlist)) if dotlist else {}
    global_blocks = {
        name: deep_merge(parameters.get(name) or {}, command_line.get(name)) for name in CONFIGURABLE_BLOCKS
    }
    return {
        ns: resolve_run_configuration(ns, global_blocks, parameters.get(ns) or {}, command_line)
        for ns in namespaces
    }


def setting_command(
    kedro: Sequence[str],
    setting: StudySetting,
    namespaces: list[str],
    explicit_namespaces: bool,
    extra_params: str,
    env: str | None,
    pipeline: str | None,
) -> list[str]:
    """The ``kedro run`` command line of one setting."""
    params = ",".join(p for p in (kedro_params(setting.overrides), extra_params) if p)
    command = [*kedro, "run"]
    if env:
        command += ["--env", env]
    if pipeline:
        command += ["--pipelines", pipeline]
    if explicit_namespaces:
        command += ["--namespaces", ",".join(namespaces)]
    if params:
        command += ["--params", params]
    return command


def setting_tags(study: str, setting: StudySetting, invocation: str) -> dict[str, str]:
    """The tags of a setting's MLflow run: what the reports group and filter runs by."""
    return {
        "study": study,
        "setting": setting.name,
        "study_invocation": invocation,
        "study_role": "setting",
        **({"seed": str(setting.seed)} if setting.seed is not None else {}),
    }


def run_tagged(
    command: list[str],
    client,
    experiment_id: str,
    run_name: str,
    tags: dict[str, str],
    project_path: Path,
    environment: dict[str, str] | None = None,
) -> tuple[str, int]:
    """Create an MLflow run with ``tags``, run ``command`` inside it (``MLFLOW_RUN_ID``), restore its name.

    ``environment``: variables added to the command's (a study job's data root per setting)."""
    run = client.create_run(experiment_id, tags=tags, run_name=run_name)
    run_id = run.info.run_id
    env = {**os.environ, **RUN_ENVIRONMENT, **(environment or {}), "MLFLOW_RUN_ID": run_id}
    returncode = subprocess.run(command, cwd=project_path, env=env).returncode
    final = client.get_run(run_id)
    if final.info.status in ("RUNNING", "SCHEDULED"):  # the process died before kedro-mlflow closed the run
        client.set_terminated(run_id, "FAILED" if returncode else "FINISHED")
    client.update_run(run_id, name=run_name)  # kedro-mlflow renames the run after the pipeline
    return run_id, returncode


def run_study(
    study: str,
    project_path: Path | None = None,
    namespaces: list[str] | None = None,
    only: Sequence[str] | None = None,
    extra_params: str = "",
    env: str | None = None,
    pipeline: str | None = None,
    report: bool = True,
    dry_run: bool = False,
    kedro: Sequence[str] | None = None,
) -> list[SettingOutcome]:
    """Run every (or each ``only``) setting of ``study``, then the reporting pipeline; return the outcomes.

    ``project_path`` defaults to the current directory (at the call, not at import).
    """
    from mlflow import MlflowClient

    from fsigenz.pipeline_registry import available_namespaces

    project_path = Path(Path.cwd() if project_path is None else project_path).resolve()
    kedro = list(kedro or default_kedro_command())
    parameters, experiment_id, tracking_uri = load_project(project_path, env)
    _, settings = study_from_parameters(parameters, study)
    settings = select_settings(settings, only)
    explicit = bool(namespaces)
    namespaces = list(namespaces) if namespaces else available_namespaces(project_path / "data" / "01_raw")
    for setting in settings:  # a setting that is no valid configuration fails here, before any run
        setting_configurations(parameters, setting, namespaces)
    invocation = f"{study}-{time.strftime('%Y%m%dT%H%M%S')}"
    client = MlflowClient(tracking_uri)
    outcomes = []
    study_started = time.perf_counter()
    for index, setting in enumerate(settings, 1):
        command = setting_command(kedro, setting, namespaces, explicit, extra_params, env, pipeline)
        logger.info(
            "Study %s, setting %d/%d %s: %s", study, index, len(settings), setting.name, " ".join(command)
        )
        if dry_run:
            continue
        started = time.perf_counter()
        tags = setting_tags(study, setting, invocation)
        run_id, returncode = run_tagged(
            command, client, experiment_id, f"{study}/{setting.name}", tags, project_path
        )
        outcomes.append(SettingOutcome(setting.name, run_id, returncode, time.perf_counter() - started))
        elapsed = time.perf_counter() - study_started
        logger.info(
            "Study %s, setting %s: %s in %.0f s (MLflow run %s); %d/%d settings done, %s elapsed, ETA %s",
            study,
            setting.name,
            "finished" if returncode == 0 else f"FAILED (exit {returncode})",
            outcomes[-1].seconds,
            run_id,
            index,
            len(settings),
            format_duration(elapsed),
            format_duration(elapsed / index * (len(settings) - index)),
        )
    if report:
        command = [*kedro, "run", *(["--env", env] if env else []), "--pipelines", REPORT_PIPELINE]
        logger.info("Study %s, report: %s", study, " ".join(command))
        if not dry_run:
            tags = {"study": study, "study_invocation": invocation, "study_role": "report"}
            _, returncode = run_tagged(command, client, experiment_id, f"{study}/report", tags, project_path)
            if returncode:
                logger.error("Study %s: the reporting pipeline failed (exit %d)", study, returncode)
            else:
                folder = project_path / "data" / "08_reporting" / "studies"
                logger.info(
                    "Study %s: table %s, figure %s", study, folder / f"{study}.md", folder / f"{study}.png"
                )
                table = folder / f"{study}.md"
                if table.is_file():
                    print(table.read_text())
    return outcomes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "study", help="a study of parameters 'studies' (conf/base/parameters_experiments.yml)"
    )
    parser.add_argument("--namespaces", help="comma-separated datasets (default: every dataset present)")
    parser.add_argument("--only", nargs="+", help="run only these settings")
    parser.add_argument(
        "--params", default="", help="extra kedro --params for every setting, e.g. 'a.b=1,c=2'"
    )
    parser.add_argument("--env", help="kedro configuration environment")
    parser.add_argument("--pipeline", help="kedro pipeline per setting (default: __default__)")
    parser.add_argument("--no-report", action="store_true", help="skip the reporting pipeline at the end")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    parser.add_argument("--project-path", default=".", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    for key, value in RUN_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    outcomes = run_study(
        args.study,
        args.project_path,
        args.namespaces.split(",") if args.namespaces else None,
        args.only,
        args.params,
        args.env,
        args.pipeline,
        not args.no_report,
        args.dry_run,
    )
    failed = [o.setting for o in outcomes if o.returncode]
    if failed:
        logger.error("settings that failed: %s", failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
