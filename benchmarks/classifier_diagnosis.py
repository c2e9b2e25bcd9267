"""Why does the paper's SCC lose to nearest-class-mean over its own prototypes, and does the default
classifier fix it? (issue "FSIGenZ must earn its place"; docs/classifier_diagnosis.md)

Every classifier below is fed the same prototypes (MSAS + ridge, 20 per unseen class) and selected the
way ``kedro run`` selects: on the class-disjoint validation split (training length by early stopping on
validation H, the calibrated-stacking γ on validation), then refitted on trainval and scored once on
the test split. Methods:

- ``ncm``: nearest class mean over seen class means and the unseen prototypes (the baseline);
- ``linear_softmax``: a linear softmax classifier trained on real seen features + the prototypes
  (f-CLSWGAN's final classifier with FSIGenZ's P prototypes instead of N generated features);
- ``paper``: FSIGenZ as published (``preset: paper``: SCC, grouped BCE over pairs, uniform batches);
- ``fsigenz``: the project's default (``preset: anchored``);
- ``fclswgan``: the f-CLSWGAN-style baseline with the project's settings for the namespace (the
  synthetic namespace's for the synthetic sets), its classifier's length selected the same way;
- with ``--ladder``, the steps from one to the other, one change at a time:
  ``paper+softmax`` (softmax over classes against the DPSR targets), ``+balanced`` (class-balanced
  batches), ``+variation`` (prototype rows borrow seen rows' within-class offsets), and
  ``anchored-no-variation`` (the default without the variation).

Data: the synthetic default (data seed = seed), the 150-class benchmark set of
``fsigenz_vs_generative`` (data seed = seed), and stand-ins built on the real CUB / AwA2 / SUN
``att_splits.mat`` (real class attributes, split sizes and validation classes; features simulated at
``--feature-dim`` with the stand-in seed = seed). The SCC is sized for 2 CPU cores (hidden 256) in
both presets; the synthetic sets use the synthetic namespace's settings.

    python benchmarks/classifier_diagnosis.py --datasets synthetic cub awa2 sun bench --seeds 0 1 2
    python benchmarks/classifier_diagnosis.py --datasets synthetic cub --seeds 0 --ladder

Rows go to ``benchmarks/results/classifier_diagnosis.jsonl`` as they finish (a rerun appends; the
summary uses the newest row of each (dataset, seed, method)); the summary table (mean ± std over
seeds) to ``classifier_diagnosis.md``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

import harness

RESULTS_FILE = harness.RESULTS / "classifier_diagnosis.jsonl"
SUMMARY_FILE = harness.RESULTS / "classifier_diagnosis.md"
SHARED_FOLDERS = {"cub": "CUB", "awa2": "AWA2", "sun": "SUN"}
BENCH_DATASET = dict(
    n_seen_classes=100,
    n_unseen_classes=25,
    n_val_classes=25,
    attribute_dim=64,
    feature_dim=256,
    images_per_class=40,
)
STANDIN_SCC = dict(
    encoder_hidden=256, scorer_hidden=256, batch_size=128, n_steps=3000, eval_every=50, patience=8
)
SUN_BATCH = 64  # 717 classes: as the sun namespace
PROTOTYPES = {"n_prototypes": 20}
LADDER = {
    "paper+softmax": dict(preset="paper", scc={"loss": "softmax"}),
    "+balanced": dict(preset="paper", scc={"loss": "softmax", "sampling": "class_balanced"}),
    "+variation": dict(
        preset="paper", scc={"loss": "softmax", "sampling": "class_balanced", "prototype_variation": True}
    ),
    "anchored-no-variation": dict(preset="anchored", scc={"prototype_variation": False}),
}
METRICS = ("czsl_top1", "gzsl_unseen", "gzsl_seen", "gzsl_h", "gzsl_unseen_cs", "gzsl_seen_cs", "gzsl_h_cs")


def load_dataset(name: str, seed: int, feature_dim: int):
    from fsigenz.data.synthetic import make_synthetic_benchmark
    from fsigenz.data.xlsa17 import load_xlsa17, write_res101_standin

    if name == "synthetic":
        source = dict(harness.project_parameters()["synthetic"]["source"])
        source.pop("type")
        return make_synthetic_benchmark(**{**source, "seed": seed})
    if name == "bench":
        return make_synthetic_benchmark(**BENCH_DATASET, seed=seed)
    shared = harness.SHARED_DATA / SHARED_FOLDERS[name]
    if not (shared / "att_splits.mat").is_file():
        raise SystemExit(
            f"{shared / 'att_splits.mat'}: not found; the {name} stand-in needs the real split file"
        )
    folder = Path(tempfile.mkdtemp(prefix=f"standin_{name}_"))
    try:
        for file in ("att_splits.mat", "testclasses.txt", "valclasses1.txt"):
            if (shared / file).is_file():
                shutil.copyfile(shared / file, folder / file)
        write_res101_standin(
            folder / "att_splits.mat", folder / "res101.mat", feature_dim=feature_dim, seed=seed
        )
        return load_xlsa17(directory=str(folder), name=name)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def fsigenz_parameters(dataset_name: str, seed: int) -> dict:
    from fsigenz.methods.fsigenz import PRESETS

    """The fsigenz block for this data: the synthetic namespace's settings for the synthetic sets,
    CPU-sized SCC settings for the stand-ins."""
    if dataset_name in ("synthetic", "bench"):
        parameters = json.loads(json.dumps(harness.method_configuration("fsigenz", "synthetic").settings))
        for preset in PRESETS.values():  # the keys a preset sets: left to the preset each method runs
            for group, keys in preset.items():
                for key in keys:
                    parameters.get(group, {}).pop(key, None)
    else:
        parameters = {"scc": dict(STANDIN_SCC), "l2_normalize": False}
        if dataset_name == "sun":
            parameters["scc"]["batch_size"] = SUN_BATCH
    parameters["prototypes"] = {**parameters.get("prototypes", {}), **PROTOTYPES}
    parameters["scc"] = {**parameters["scc"], "seed": seed, "device": "cpu"}
    parameters.pop("preset", None)
    parameters.pop("anchor", None)
    return parameters


class LinearSoftmaxOnPrototypes:
    """Diagnostic (b): a linear softmax over all classes on centred real seen features and the
    unseen prototypes (f-CLSWGAN's final classifier, the prototypes in place of generated features),
    Adam, early-stopped through ``monitor`` like every iterative method."""

    def __init__(
        self,
        fsigenz: dict,
        learning_rate: float = 1e-2,
        batch_size: int = 64,
        n_steps: int = 3000,
        eval_every: int = 50,
        patience: int = 8,
        seed: int = 0,
    ) -> None:
        self.fsigenz, self.learning_rate, self.batch_size = fsigenz, learning_rate, batch_size
        self.n_steps, self.eval_every, self.patience, self.seed = n_steps, eval_every, patience, seed

    def fit(self, task, monitor=None):
        import torch
        import torch.nn.functional as F

        from fsigenz.methods.early_stopping import EarlyStopping
        from fsigenz.methods.fsigenz import FSIGenZClassifier

        phase = FSIGenZClassifier(**self.fsigenz)
        phase.generate_prototypes(task)
        self.centering_ = phase.centering_
        centred = self.centering_.transform(task.features)
        n_per_class = phase.prototypes_.shape[1]
        rows = torch.from_numpy(np.concatenate([centred, phase.prototypes_.reshape(-1, centred.shape[1])]))
        labels = torch.from_numpy(np.concatenate([task.labels, np.repeat(task.unseen_classes, n_per_class)]))
        generator = torch.Generator().manual_seed(self.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.classifier_ = torch.nn.Linear(rows.shape[1], task.n_classes)
        optimiser = torch.optim.Adam(self.classifier_.parameters(), lr=self.learning_rate)
        stopping = EarlyStopping(self.eval_every, self.n_steps, self.patience)
        step = 0
        while step < self.n_steps and not stopping.should_stop:
            for batch in torch.randperm(len(rows), generator=generator).split(self.batch_size):
                loss = F.cross_entropy(self.classifier_(rows[batch]), labels[batch])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                step += 1
                if monitor is not None and stopping.due(step):
                    stopping.record(step, monitor(step, self))
                if step >= self.n_steps or stopping.should_stop:
                    break
        return self

    def decision_function(self, features):
        import torch

        with torch.no_grad():
            return self.classifier_(torch.from_numpy(self.centering_.transform(features))).numpy()


def build(method: str, parameters: dict):
    from fsigenz.methods.fsigenz import FSIGenZClassifier
    from fsigenz.methods.ncm import NearestClassMeanClassifier
    from fsigenz.methods.registry import deep_merge

    if method == "ncm":
        return NearestClassMeanClassifier(
            prototypes=parameters["prototypes"],
            msas=parameters.get("msas"),
            l2_normalize=parameters.get("l2_normalize", False),
        )
    if method == "linear_softmax":
        scc = parameters["scc"]
        return LinearSoftmaxOnPrototypes(
            {k: v for k, v in parameters.items() if k != "scc"},
            n_steps=scc["n_steps"],
            eval_every=scc["eval_every"],
            patience=scc["patience"],
            seed=scc["seed"],
        )
    if method == "fclswgan":
        from fsigenz.methods.fclswgan import FeatureGeneratingGANClassifier

        return FeatureGeneratingGANClassifier(**parameters)
    if method == "paper":
        return FSIGenZClassifier(**parameters, preset="paper")
    if method == "fsigenz":
        return FSIGenZClassifier(**parameters, preset="anchored")
    return FSIGenZClassifier(**deep_merge(parameters, LADDER[method]))


def run_one(dataset, dataset_name: str, method: str, seed: int, metric: str) -> dict:
    """Select on validation (as ``kedro run``), refit on trainval for the selected length, test once."""
    from fsigenz.methods.registry import method_spec
    from fsigenz.protocol import final_protocol, select_model, set_nested, validation_protocol

    parameters = fsigenz_parameters(dataset_name, seed)
    steps_parameter = "scc.n_steps"
    if (
        method == "fclswgan"
    ):  # the project's f-CLSWGAN settings for the namespace (synthetic sets: synthetic's)
        namespace = "synthetic" if dataset_name in ("synthetic", "bench") else dataset_name
        parameters = {
            **harness.method_configuration("fclswgan", namespace).settings,
            "seed": seed,
            "device": "cpu",
        }
        steps_parameter = method_spec("fclswgan").steps_parameter
    validation = validation_protocol(dataset, 0.2, seed)
    started = time.perf_counter()
    selection = select_model(validation, lambda p: build(method, p), parameters, {}, metric)
    selection_seconds = time.perf_counter() - started
    final_parameters = parameters
    if method not in ("ncm",) and selection.best_step is not None:
        final_parameters = set_nested(parameters, steps_parameter, selection.best_step)
    started = time.perf_counter()
    model = build(method, final_parameters).fit(final_protocol(dataset).task)
    fit_seconds = time.perf_counter() - started
    test = final_protocol(dataset).evaluate(model, gamma=selection.gamma)
    return {
        "dataset": dataset_name,
        "seed": seed,
        "method": method,
        "selection_metric": metric,
        "selected_step": selection.best_step,
        "gamma": selection.gamma,
        "validation": {k: round(float(v), 3) for k, v in selection.validation_metrics.items()},
        **{k: round(float(test[k]), 3) for k in METRICS},
        "seconds_selection": round(selection_seconds, 1),
        "seconds_fit": round(fit_seconds, 1),
    }


def summarise(rows: list[dict], metric: str) -> str:
    newest = {(r["dataset"], r["seed"], r["method"]): r for r in rows if r.get("selection_metric") == metric}
    groups: dict[tuple[str, str], list[dict]] = {}
    for (dataset, _, method), row in sorted(newest.items()):
        groups.setdefault((dataset, method), []).append(row)
    lines = [
        "| dataset | method | seeds | CZSL | U | S | H | H (cal.) | best of H, H (cal.) "
        "| step | s (sel. + fit) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def cell(values: list[float]) -> str:
        return f"{np.mean(values):.1f} ± {np.std(values):.1f}" if len(values) > 1 else f"{values[0]:.1f}"

    for (dataset, method), group in groups.items():
        best = [max(r["gzsl_h"], r["gzsl_h_cs"]) for r in group]
        steps = [r["selected_step"] or 0 for r in group]
        seconds = [r["seconds_selection"] + r["seconds_fit"] for r in group]
        lines.append(
            f"| {dataset} | {method} | {len(group)} | {cell([r['czsl_top1'] for r in group])} | "
            f"{cell([r['gzsl_unseen'] for r in group])} | {cell([r['gzsl_seen'] for r in group])} | "
            f"{cell([r['gzsl_h'] for r in group])} | {cell([r['gzsl_h_cs'] for r in group])} | "
            f"{cell(best)} | "
            f"{np.mean(steps):.0f} | {np.mean(seconds):.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["synthetic", "cub", "awa2", "sun", "bench"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--methods", nargs="*", default=["ncm", "linear_softmax", "paper", "fsigenz"])
    parser.add_argument("--ladder", action="store_true", help="also the one-change-at-a-time steps")
    parser.add_argument("--feature-dim", type=int, default=128, help="stand-ins' simulated feature size")
    parser.add_argument(
        "--metric", default="gzsl_h_cs", help="selection metric on validation (as model.selection.metric)"
    )
    parser.add_argument("--summary-only", action="store_true")
    args = parser.parse_args()
    methods = [*args.methods, *(LADDER if args.ladder else [])]
    if not args.summary_only:
        for name in args.datasets:
            for seed in args.seeds:
                dataset = load_dataset(name, seed, args.feature_dim)
                for method in methods:
                    row = run_one(dataset, name, method, seed, args.metric)
                    with RESULTS_FILE.open("a") as handle:
                        handle.write(json.dumps(row) + "\n")
                    print(json.dumps(row), flush=True)
    rows = [json.loads(line) for line in RESULTS_FILE.read_text().splitlines() if line.strip()]
    SUMMARY_FILE.write_text(summarise(rows, args.metric))
    print(SUMMARY_FILE.read_text())


if __name__ == "__main__":
    main()
