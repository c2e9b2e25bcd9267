"""One final fit of a generative baseline on a stand-in, and how its synthetic unseen features (or
latents) compare with the real ones: why a baseline is biased to the seen classes.

    python benchmarks/generative_diagnosis.py awa2 cadavae '{"epochs": 20}' --feature-dim 128
    python benchmarks/generative_diagnosis.py awa2 cadavae '{"epochs": 10, "classifier_epochs": 3}' \
        --images-per-class 100 --curve 25
    python benchmarks/generative_diagnosis.py awa2 fclswgan \
        '{"n_synthetic_per_class": 1800}' --images-per-class 60

The method is built from the namespace's project settings (conf/base, as ``kedro run`` resolves them)
with the JSON settings over them, fitted on trainval of the stand-in
(``baselines_standins.load_standin``; ``--images-per-class`` keeps a random subset of each seen class)
without model selection (the final classifier trains for its configured length), and evaluated on test
without calibration (``--curve``: also every few steps of its final classifier). For methods that
synthesise features it also prints, averaged over the unseen classes, ``mean_offset_over_spread``
(‖mean of synthetic − mean of real test features‖ / ‖per-dimension std of real‖) and ``std_ratio``
(mean per-dimension std of synthetic / of real features).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import numpy as np
from baselines_standins import SHARED_FOLDERS, load_standin

import harness

CURVE_METRICS = ("czsl_top1", "gzsl_unseen", "gzsl_seen", "gzsl_h")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=sorted(SHARED_FOLDERS))
    parser.add_argument("method")
    parser.add_argument("settings", nargs="?", default="{}", help="JSON settings over the project's")
    parser.add_argument("--feature-dim", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated features")
    parser.add_argument("--images-per-class", type=int, default=None)
    parser.add_argument(
        "--curve",
        type=int,
        default=None,
        metavar="EVERY",
        help="print the test U / S / H of the final classifier every EVERY steps (diagnosis only: "
        "nothing is selected on it)",
    )
    args = parser.parse_args()

    from fsigenz.methods.registry import build_method, deep_merge
    from fsigenz.protocol import final_protocol

    settings = json.loads(args.settings)
    resolved = harness.method_configuration(args.method, args.dataset, {args.method: settings}).settings
    protocol = final_protocol(load_standin(args.dataset, args.feature_dim, args.seed))
    task = protocol.task
    if args.images_per_class:
        rng = np.random.default_rng(0)
        keep = np.concatenate(
            [
                rng.permutation(np.flatnonzero(task.labels == label))[: args.images_per_class]
                for label in np.unique(task.labels)
            ]
        )
        task = replace(task, features=task.features[keep], labels=task.labels[keep])
    monitor = None
    if args.curve:
        resolved = deep_merge(resolved, {"eval_every": args.curve, "patience": None})

        def monitor(step, method):
            report = protocol.evaluate(method)
            print(json.dumps({"step": step, **{k: round(float(report[k]), 1) for k in CURVE_METRICS}}))
            return report["gzsl_h"]

    started = time.perf_counter()
    method = build_method(args.method, resolved).fit(task, monitor=monitor)
    seconds = time.perf_counter() - started
    report = protocol.evaluate(method)
    row = {
        "dataset": args.dataset,
        "method": args.method,
        "settings": settings,
        "feature_dim": args.feature_dim,
        "images_per_class": args.images_per_class,
        **{k: round(float(v), 1) for k, v in report.items()},
        "seconds_fit": round(seconds, 1),
    }
    if hasattr(method, "synthetic_features_"):
        real = method.preprocessing_.transform(protocol.unseen_features)
        offsets, spreads = [], []
        for label in np.unique(method.synthetic_labels_):
            real_class = real[protocol.unseen_labels == label]
            synthetic_class = method.synthetic_features_[method.synthetic_labels_ == label]
            if len(real_class) < 2:
                continue
            offsets.append(
                np.linalg.norm(synthetic_class.mean(0) - real_class.mean(0))
                / np.linalg.norm(real_class.std(0))
            )
            spreads.append(synthetic_class.std(0).mean() / real_class.std(0).mean())
        row.update(
            mean_offset_over_spread=round(float(np.mean(offsets)), 2),
            std_ratio=round(float(np.mean(spreads)), 2),
        )
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
