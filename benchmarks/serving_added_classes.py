"""Classes added to a trained FSIGenZ model, and labelled examples folded in (docs/serving.md).

Replays the synthetic default (the generator with ``conf/base`` settings, several seeds), trains
FSIGenZ with the settings the default run selects on validation, on trainval **without** a few of the
unseen classes (neither their images nor their attributes), then adds them back by their attribute
vectors, two ways:

- ``attributes``: the SCC scores their attribute vectors through its semantic encoder (what
  ``add_classes`` did before, without fine-tune);
- ``prototypes``: P prototypes each from the fitted generator, scored by cosine on the SCC's score
  scale (``fsigenz.methods.prototype_classes``, what ``add_classes`` does now for FSIGenZ).

Reported on the test split, with calibrated stacking (γ of the default run), predictions over all
classes (trained and added): the trained classes' S, U and H (their own test images), and the added
classes' accuracy (share of their test images predicted as their class, mean over classes).

Few-shot: for each added class and for each trained unseen class, k = 0, 1, 5 labelled test images of
the class are folded in (``ZeroShotClassifier.with_examples``) and the class's accuracy is measured on
its other images (the same images for every k; several random draws). Also a class known only by
its examples (added with no attribute vector): k = 1, 5.

    python benchmarks/serving_added_classes.py --seeds 0 1 2 --output benchmarks/results/serving_added_classes.json
    python benchmarks/serving_added_classes.py --tables benchmarks/results/serving_added_classes.json  # tables only
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import harness  # puts src/ on the path
from fsigenz.data.synthetic import make_synthetic_benchmark
from fsigenz.evaluation.metrics import harmonic_mean, per_class_accuracy
from fsigenz.methods.base import ZeroShotTask
from fsigenz.methods.fsigenz import FSIGenZClassifier
from fsigenz.model import ZeroShotClassifier

# what the synthetic default run selects on validation (data/06_models/synthetic/model_selection.json)
SELECTED = dict(
    l2_normalize=True,
    scc=dict(encoder_hidden=256, scorer_hidden=256, batch_size=64, n_steps=500, eval_every=25, device="cpu"),
)
GAMMA = 0.4716  # its calibration γ
N_HELD_OUT = 3
SHOTS = (0, 1, 5)
DRAWS = 5


def train_without(dataset, held_out: np.ndarray) -> ZeroShotClassifier:
    """FSIGenZ fitted on trainval as if the ``held_out`` classes did not exist."""
    keep = np.setdiff1d(np.arange(dataset.n_classes), held_out)
    position = np.full(dataset.n_classes, -1)
    position[keep] = np.arange(keep.size)
    rows = dataset.splits["trainval"]
    task = ZeroShotTask(
        features=dataset.features[rows],
        labels=position[dataset.labels[rows]],
        class_attributes=dataset.class_attributes[:, keep],
        seen_classes=position[dataset.seen_classes],
        unseen_classes=position[np.setdiff1d(dataset.unseen_classes, held_out)],
    )
    estimator = FSIGenZClassifier(**SELECTED).fit(task)
    return ZeroShotClassifier(
        method_name="fsigenz",
        estimator=estimator,
        class_names=tuple(np.asarray(dataset.class_names)[keep]),
        seen_classes=task.seen_classes,
        unseen_classes=task.unseen_classes,
        calibration_gamma=GAMMA,
        metadata={
            "feature_dim": dataset.feature_dim,
            "attribute_dim": dataset.attribute_dim,
            "class_attributes": task.class_attributes,
        },
    )


def predicted_names(model: ZeroShotClassifier, features: np.ndarray) -> np.ndarray:
    return np.asarray(model.class_names, dtype=object)[
        np.argmax(model.scores(features, calibrated=True), axis=1)
    ]


def class_accuracy(model, features, truth) -> float:
    """Mean over classes of the share of their rows predicted as them, in %."""
    return per_class_accuracy(truth, predicted_names(model, features)) if len(truth) else float("nan")


def trained_and_added(model, dataset, held_out) -> dict:
    names = np.asarray(dataset.class_names, dtype=object)
    test_seen, test_unseen = dataset.splits["test_seen"], dataset.splits["test_unseen"]
    is_added = np.isin(dataset.labels[test_unseen], held_out)
    seen = class_accuracy(model, dataset.features[test_seen], names[dataset.labels[test_seen]])
    trained_unseen_rows = test_unseen[~is_added]
    unseen = class_accuracy(
        model, dataset.features[trained_unseen_rows], names[dataset.labels[trained_unseen_rows]]
    )
    added_rows = test_unseen[is_added]
    added = class_accuracy(model, dataset.features[added_rows], names[dataset.labels[added_rows]])
    return {
        "trained_seen_cs": seen,
        "trained_unseen_cs": unseen,
        "trained_h_cs": harmonic_mean(seen, unseen),
        "added_accuracy_cs": added,
    }


def few_shot(model, dataset, classes, rng, shots=SHOTS, drop_attributes=False) -> dict:
    """Accuracy (%) of each class in ``classes`` after folding in k of its test images, on its other images."""
    names = np.asarray(dataset.class_names, dtype=object)
    results = {k: [] for k in shots}
    for c in classes:
        rows = dataset.splits["test_unseen"][dataset.labels[dataset.splits["test_unseen"]] == c]
        for _ in range(DRAWS):
            order = rng.permutation(rows)
            evaluated = order[max(shots) :]
            for k in shots:
                updated = model if k == 0 else model.with_examples(names[c], dataset.features[order[:k]])
                if drop_attributes and k == 0:
                    continue
                hits = predicted_names(updated, dataset.features[evaluated]) == names[c]
                results[k].append(100.0 * hits.mean())
    return {str(k): float(np.mean(v)) for k, v in results.items() if v}


def run_seed(seed: int) -> dict:
    dataset = make_synthetic_benchmark(seed=seed)
    held_out = np.asarray(dataset.unseen_classes[:N_HELD_OUT])
    started = time.perf_counter()
    model = train_without(dataset, held_out)
    seconds_training = time.perf_counter() - started
    names = [str(dataset.class_names[c]) for c in held_out]
    attributes = dataset.class_attributes[:, held_out]
    result = {"seed": seed, "held_out": names, "seconds_training": seconds_training, "arms": {}}
    for scoring in ("attributes", "prototypes"):
        started = time.perf_counter()
        extended = model.with_new_classes(names, attributes, scoring=scoring)
        seconds = time.perf_counter() - started
        result["arms"][scoring] = {
            **trained_and_added(extended, dataset, held_out),
            "seconds_adding": seconds,
        }
    extended = model.with_new_classes(names, attributes, scoring="prototypes")
    rng = np.random.default_rng(seed)
    trained_unseen = np.setdiff1d(dataset.unseen_classes, held_out)
    result["few_shot"] = {
        "added_by_attributes": few_shot(extended, dataset, held_out, rng),
        "trained_unseen": few_shot(extended, dataset, trained_unseen, rng),
        # the held-out classes known by their examples alone (no attribute vector)
        "examples_only": few_shot(model, dataset, held_out, rng, shots=(1, 5)),
    }
    return result


def tables(results: dict) -> str:
    """The Markdown tables of docs/serving.md from the results."""
    lines = [
        "| seed | added by | trained S | trained U | trained H | ΔH | added classes' accuracy |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for run in results["runs"]:
        reference = run["arms"]["attributes"]["trained_h_cs"]
        for scoring, arm in run["arms"].items():
            lines.append(
                f"| {run['seed']} | {scoring} | {arm['trained_seen_cs']:.1f} | {arm['trained_unseen_cs']:.1f} | "
                f"{arm['trained_h_cs']:.1f} | {arm['trained_h_cs'] - reference:+.1f} | {arm['added_accuracy_cs']:.1f} |"
            )
    mean = results["mean"]["arms"]
    lines.append(
        f"| mean | attributes | {mean['attributes']['trained_seen_cs']:.1f} | {mean['attributes']['trained_unseen_cs']:.1f} | "
        f"{mean['attributes']['trained_h_cs']:.1f} | | {mean['attributes']['added_accuracy_cs']:.1f} |"
    )
    lines.append(
        f"| mean | prototypes | {mean['prototypes']['trained_seen_cs']:.1f} | {mean['prototypes']['trained_unseen_cs']:.1f} | "
        f"{mean['prototypes']['trained_h_cs']:.1f} | {mean['prototypes']['trained_h_cs'] - mean['attributes']['trained_h_cs']:+.1f} | "
        f"{mean['prototypes']['added_accuracy_cs']:.1f} |"
    )
    few = results["mean"]["few_shot"]
    labels = {
        "added_by_attributes": "added by attributes (prototypes)",
        "trained_unseen": "trained unseen class",
        "examples_only": "new class known by its examples only",
    }
    lines += ["", "| class | k = 0 | k = 1 | k = 5 |", "|---|---:|---:|---:|"]
    for group, label in labels.items():
        cells = [f"{few[group][k]:.1f}" if k in few[group] else "—" for k in ("0", "1", "5")]
        lines.append(f"| {label} | {' | '.join(cells)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--output", default=None, help="write the results as JSON here")
    parser.add_argument("--tables", default=None, help="print the tables of a results JSON and stop")
    args = parser.parse_args()
    if args.tables:
        with open(args.tables) as file:
            print(tables(json.load(file)))
        return
    runs = []
    for seed in args.seeds:
        run = run_seed(seed)
        runs.append(run)
        print(json.dumps(run, indent=1), flush=True)
    summary = {
        scoring: {
            key: float(np.mean([r["arms"][scoring][key] for r in runs])) for key in runs[0]["arms"][scoring]
        }
        for scoring in runs[0]["arms"]
    }
    few = {
        group: {
            k: float(np.mean([r["few_shot"][group][k] for r in runs])) for k in runs[0]["few_shot"][group]
        }
        for group in runs[0]["few_shot"]
    }
    results = {
        "runs": runs,
        "mean": {"arms": summary, "few_shot": few},
        "gamma": GAMMA,
        "settings": SELECTED,
        "machine": harness.machine_info(),
    }
    print(tables(results))
    if args.output:
        with open(args.output, "w") as file:
            json.dump(results, file, indent=1)


if __name__ == "__main__":
    main()
