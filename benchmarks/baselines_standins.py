"""Every baseline with its project defaults on stand-ins built on the real AwA2 / CUB / SUN split files.

    python benchmarks/baselines_standins.py --datasets awa2 --methods eszsl fclswgan cadavae tfvaegan
    python benchmarks/baselines_standins.py --datasets awa2 --methods eszsl \
        --override '{"model": {"selection": {"metrics": {"eszsl": "gzsl_h"}}}}'
    python benchmarks/baselines_standins.py --datasets synthetic --methods cadavae     # the synthetic default

For each dataset the stand-in (the real ``att_splits.mat``, class lists and split locations of
``../shared/data/<DATASET>``, features simulated by :func:`fsigenz.data.xlsa17.write_res101_standin` at
``--feature-dim``) is written to a temporary folder, and each method runs exactly as
``kedro run --namespaces=<dataset> --params=model.method=<method>`` would: the namespace's resolved
configuration (conf/base, no conf/local), selection on the class-disjoint validation split (grid,
training length, calibration γ), the final fit on trainval, test once. Each row (printed as JSON and
appended to ``--output``) has the selected setting, the parameters chosen on a grid edge, the test
metrics with and without calibrated stacking, and the seconds of selection and final fit.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import harness

SHARED_FOLDERS = {"awa2": "AWA2", "cub": "CUB", "sun": "SUN"}
COPIED_FILES = ("att_splits.mat", "testclasses.txt", "valclasses1.txt")
DEFAULT_METHODS = ("eszsl", "fclswgan", "cadavae", "tfvaegan")


def load_standin(name: str, feature_dim: int, seed: int):
    """The stand-in of ``name`` (awa2 | cub | sun) with simulated features of ``feature_dim``."""
    from fsigenz.data.xlsa17 import load_xlsa17, write_res101_standin

    shared = harness.SHARED_DATA / SHARED_FOLDERS[name]
    if not (shared / "att_splits.mat").is_file():
        raise SystemExit(
            f"{shared / 'att_splits.mat'}: not found; the {name} stand-in needs the real split file"
        )
    folder = Path(tempfile.mkdtemp(prefix=f"standin_{name}_"))
    try:
        for file in COPIED_FILES:
            if (shared / file).is_file():
                shutil.copyfile(shared / file, folder / file)
        write_res101_standin(
            folder / "att_splits.mat", folder / "res101.mat", feature_dim=feature_dim, seed=seed
        )
        return load_xlsa17(directory=str(folder), name=name)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def load_dataset(name: str, feature_dim: int, seed: int):
    if name == "synthetic":
        from fsigenz.data.sources import load_source

        return load_source(harness.project_parameters()["synthetic"]["source"])
    return load_standin(name, feature_dim, seed)


def run_method(dataset, namespace: str, method: str, extra_overrides: dict | None) -> dict:
    """Select on validation, refit on trainval with the selection, test once (as the pipelines do)."""
    from fsigenz.methods.registry import build_method, method_spec
    from fsigenz.protocol import final_protocol, select_model, set_nested, validation_protocol

    config = harness.method_configuration(method, namespace, extra_overrides)
    protocol = validation_protocol(dataset, config.selection.seen_holdout_fraction, config.selection.seed)
    selection = select_model(
        protocol,
        lambda params: build_method(method, params),
        config.settings,
        config.grid,
        config.selection.metric,
    )
    final_parameters = config.settings
    for key, value in selection.setting.items():
        final_parameters = set_nested(final_parameters, key, value)
    steps_parameter = method_spec(method).steps_parameter
    if steps_parameter and selection.best_step is not None:
        final_parameters = set_nested(final_parameters, steps_parameter, selection.best_step)
    final = final_protocol(dataset)
    started = time.perf_counter()
    estimator = build_method(method, final_parameters).fit(final.task)
    fit_seconds = time.perf_counter() - started
    test = final.evaluate(estimator, selection.gamma)
    return {
        "dataset": namespace,
        "method": method,
        "metric": config.selection.metric,
        "override": extra_overrides or {},
        "setting": selection.setting,
        "best_step": selection.best_step,
        "on_grid_edge": selection.on_grid_edge,
        "validation": {k: round(float(v), 2) for k, v in selection.validation_metrics.items()},
        **{key: round(float(test[name]), 1) for key, name in harness_metrics().items()},
        "n_synthetic_per_class": int(getattr(estimator, "n_synthetic_per_class", 0)),
        "seconds_selection": round(selection.seconds, 1),
        "seconds_fit": round(fit_seconds, 1),
    }


def harness_metrics() -> dict[str, str]:
    return {"czsl": "czsl_top1", "u": "gzsl_unseen", "s": "gzsl_seen", "h": "gzsl_h", "h_cs": "gzsl_h_cs"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["awa2"], choices=["synthetic", *SHARED_FOLDERS])
    parser.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS))
    parser.add_argument("--feature-dim", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated features")
    parser.add_argument("--override", default="{}", help="JSON blocks set for the namespace, as --params")
    parser.add_argument("--output", type=Path, default=harness.RESULTS / "baselines_standins.jsonl")
    args = parser.parse_args()
    rows = []
    for name in args.datasets:
        dataset = load_dataset(name, args.feature_dim, args.seed)
        for method in args.methods:
            row = run_method(dataset, name, method, json.loads(args.override))
            row.update(
                feature_dim=dataset.feature_dim, data_seed=args.seed, torch_threads=harness.torch_threads()
            )
            row["date"] = time.strftime("%Y-%m-%d %H:%M:%S")
            print(json.dumps(row), flush=True)
            args.output.parent.mkdir(parents=True, exist_ok=True)
            with args.output.open("a") as stream:
                stream.write(json.dumps(row) + "\n")
            rows.append(row)
    harness.print_table(
        rows,
        [
            ("dataset", "dataset"),
            ("method", "method"),
            ("metric", "criterion"),
            ("setting", "selected"),
            ("best_step", "step"),
            ("czsl", "CZSL"),
            ("u", "U"),
            ("s", "S"),
            ("h", "H"),
            ("h_cs", "H (cal.)"),
            ("on_grid_edge", "on grid edge"),
            ("seconds_selection", "s selection"),
            ("seconds_fit", "s fit"),
        ],
    )


if __name__ == "__main__":
    main()
