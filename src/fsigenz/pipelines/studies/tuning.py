"""Optuna search on the validation split, from the project's configuration; best setting → conf/local.

    python scripts/tune.py --namespace synthetic --method fsigenz --n-trials 20 --workers 2
    python scripts/tune.py --namespace awa2 --method eszsl --storage postgresql://user@host/optuna

Every worker process (``--workers`` here, or the same command on other machines with one ``--storage``
server) opens the study ``--study-name`` (default ``<namespace>-<method>``) and adds trials to it;
``--n-trials`` is the number this command runs, shared among its workers. Each trial is scored by model
selection on the validation split only (``fsigenz.experiments.tuning``). At the end the study's best
setting is merged into ``tuning.output`` (``conf/local/parameters_tuned.yml``) as
``<namespace>: {<method>: {...}}``, which the next ``kedro run`` picks up (over the per-dataset defaults,
under the command line).
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import multiprocessing
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from fsigenz.experiments.tuning import (
    make_objective,
    parse_search_space,
    storage_for,
    tuned_parameters_block,
    write_tuned_parameters,
)
from fsigenz.methods.registry import deep_merge
from fsigenz.progress import ProgressDisplay, display_mode, observed_by, training_stage

logger = logging.getLogger("fsigenz.tuning")


def load_parameters(project_path: Path, env: str | None = None, runtime_params: dict | None = None) -> dict:
    """The project's merged parameters (conf/base, conf/<env> softly, then ``runtime_params``), without
    MLflow."""
    from kedro.config import OmegaConfigLoader

    from fsigenz.settings import CONFIG_LOADER_ARGS

    loader = OmegaConfigLoader(
        conf_source=str(Path(project_path) / "conf"),
        env=env,
        runtime_params=runtime_params or {},
        **CONFIG_LOADER_ARGS,
    )
    # as KedroContext.params does: --params refine the files key by key
    return deep_merge(dict(loader["parameters"]), runtime_params)


def tuning_inputs(parameters: dict, namespace: str, method: str | None):
    """(dataset source, resolved :class:`~fsigenz.configuration.RunConfiguration`) for ``namespace``,
    resolved as ``kedro run`` resolves it; ``method`` replaces ``model.method`` as a per-namespace
    command-line value would."""
    from fsigenz.configuration import CONFIGURABLE_BLOCKS, resolve_run_configuration

    if namespace not in parameters or "source" not in (parameters[namespace] or {}):
        raise SystemExit(
            f"--namespace {namespace}: no parameters '{namespace}.source' "
            "(conf/base/parameters_data_ingestion.yml)"
        )
    command_line = dict(parameters.get("command_line") or {})
    if method:
        command_line = deep_merge(command_line, {namespace: {"model": {"method": method}}})
    global_blocks = {name: parameters.get(name) or {} for name in CONFIGURABLE_BLOCKS}
    configuration = resolve_run_configuration(namespace, global_blocks, parameters[namespace], command_line)
    return parameters[namespace]["source"], configuration


def _pruner(name: str):
    import optuna

    pruners = {
        "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=5),
        "none": optuna.pruners.NopPruner,
    }
    if name not in pruners:
        raise SystemExit(f"tuning.pruner: expected one of {sorted(pruners)}, got '{name}'")
    return pruners[name]()


def worker(
    project_path: str,
    env: str | None,
    runtime_params: dict,
    namespace: str,
    method: str | None,
    study_name: str,
    storage: str,
    n_trials: int,
    seed: int | None,
    pruner: str,
    single_thread: bool = False,
    progress: str | None = None,
) -> None:
    """One worker: open the shared study and run ``n_trials`` trials.

    ``single_thread``: one BLAS/torch thread, for worker processes that share the cores (set before torch
    loads).
    ``progress``: the display mode of :mod:`fsigenz.progress` (``None``: ``FSIGENZ_PROGRESS``, else the
    parameter ``progress.display``).
    """
    if single_thread:
        for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[variable] = "1"
    import optuna

    from fsigenz.data.sources import load_source

    parameters = load_parameters(Path(project_path), env, runtime_params)
    source, configuration = tuning_inputs(parameters, namespace, method)
    method = configuration.method
    dimensions = parse_search_space(
        (parameters.get("tuning", {}).get("search_spaces") or {}).get(method) or {},
        f"tuning.search_spaces.{method}",
    )
    study = optuna.create_study(
        study_name=study_name,
        storage=storage_for(storage),
        direction="maximize",
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=_pruner(pruner),
    )
    objective = make_objective(load_source(source), configuration, dimensions)
    # a bar (or log lines) over this worker's trials, with the best value so far; each trial's training
    # nested under it as trial_<n>.<stage>
    mode = progress or display_mode((parameters.get("progress") or {}).get("display"))
    display = ProgressDisplay(mode, label=f"tuning {study_name}")
    with observed_by(display), training_stage("trials", n_trials) as trials:

        def after_trial(_study, trial) -> None:
            trials.step(trials.last_step + 1)
            if trial.value is not None:
                trials.evaluation(trials.last_step, trial.value)

        study.optimize(objective, n_trials=n_trials, callbacks=[after_trial])


def tune(
    project_path: Path | None = None,
    namespace: str = "synthetic",
    method: str | None = None,
    n_trials: int | None = None,
    workers: int = 1,
    study_name: str | None = None,
    storage: str | None = None,
    output: str | None = None,
    env: str | None = None,
    runtime_params: dict | None = None,
    write: bool = True,
) -> dict:
    """Run the search (``workers`` processes on one storage); write and return the best setting's block.

    ``project_path`` defaults to the current directory (at the call, not at import).
    """
    import optuna

    project_path = Path(Path.cwd() if project_path is None else project_path).resolve()
    runtime_params = runtime_params or {}
    parameters = load_parameters(project_path, env, runtime_params)
    options = parameters.get("tuning") or {}
    _, configuration = tuning_inputs(parameters, namespace, method)
    method, metric = configuration.method, configuration.selection.metric
    n_trials = int(n_trials or options.get("n_trials", 20))
    storage = storage or options.get("storage", "sqlite:///optuna.db")
    if storage.startswith("sqlite:///") and not storage.startswith("sqlite:////"):  # relative to the project
        storage = f"sqlite:///{project_path / storage[len('sqlite:///') :]}"
    study_name = study_name or f"{namespace}-{method}"
    seed = options.get("seed")
    pruner = options.get("pruner", "median")
    shares = [
        n_trials // workers + (1 if index < n_trials % workers else 0) for index in range(max(1, workers))
    ]
    storage_for(storage)  # create the tables once, before workers race to
    arguments = [
        (
            str(project_path),
            env,
            runtime_params,
            namespace,
            method,
            study_name,
            storage,
            share,
            None if seed is None else seed + index,
            pruner,
        )
        for index, share in enumerate(shares)
        if share > 0
    ]
    logger.info(
        "Study '%s' on %s: %d trials in %d worker(s), metric %s on the validation split",
        study_name,
        storage,
        n_trials,
        len(arguments),
        metric,
    )
    if len(arguments) == 1:
        worker(*arguments[0])
    else:
        # several workers share the terminal: log lines, not bars that overwrite each other
        mode = display_mode((parameters.get("progress") or {}).get("display"))
        mode = "log" if mode in ("auto", "bar") else mode
        context = multiprocessing.get_context("spawn")
        processes = [context.Process(target=worker, args=(*a, True, mode)) for a in arguments]
        for process in processes:
            process.start()
        for process in processes:
            process.join()
        failed = [p.exitcode for p in processes if p.exitcode]
        if failed:
            raise RuntimeError(f"{len(failed)} tuning worker(s) failed (exit codes {failed})")
    study = optuna.load_study(study_name=study_name, storage=storage_for(storage))
    best = study.best_trial
    logger.info("Best of %d trials: %s = %.3f with %s", len(study.trials), metric, best.value, best.params)
    block = tuned_parameters_block(namespace, method, best.params)
    if write:
        path = project_path / (output or options.get("output", "conf/local/parameters_tuned.yml"))
        write_tuned_parameters(path, block)
        logger.info("Wrote %s: the next kedro run uses %s", path, block)
    return block


def _parse_params(text: str) -> dict:
    """``a.b=1,c=x`` → a nested dict, parsed as ``kedro run --params`` does."""
    from omegaconf import OmegaConf

    items = [item for item in text.split(",") if item]
    return OmegaConf.to_container(OmegaConf.from_dotlist(items)) if items else {}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--namespace", default="synthetic", help="dataset namespace (default synthetic)")
    parser.add_argument("--method", help="method to tune (default: model.method of the configuration)")
    parser.add_argument("--n-trials", type=int, help="trials this command runs (default tuning.n_trials)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes sharing the study")
    parser.add_argument("--study-name", help="Optuna study name (default <namespace>-<method>)")
    parser.add_argument("--storage", help="Optuna storage URL (default tuning.storage, sqlite:///optuna.db)")
    parser.add_argument("--output", help="tuned parameters file (default tuning.output)")
    parser.add_argument("--params", default="", help="parameter overrides as for kedro run --params")
    parser.add_argument("--env", help="kedro configuration environment")
    parser.add_argument("--no-write", action="store_true", help="report the best setting, write nothing")
    parser.add_argument("--project-path", default=".", type=Path)
    args = parser.parse_args(argv)
    if importlib.util.find_spec("optuna") is None:
        raise SystemExit(
            "scripts/tune.py needs Optuna, which is not installed: "
            "pip install -c constraints.txt -e '.[tune]' (or make setup-dev); see docs/development.md"
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
    tune(
        args.project_path,
        args.namespace,
        args.method,
        args.n_trials,
        args.workers,
        args.study_name,
        args.storage,
        args.output,
        args.env,
        _parse_params(args.params),
        not args.no_write,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
