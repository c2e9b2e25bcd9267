"""Figures of the reports: efficiency (accuracy against synthesis cost), study summaries, prototype t-SNE.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot (no global state, no
display needed); the caller saves it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from fsigenz.experiments.report import MARKDOWN_HEADERS

STUDY_METRICS = ("czsl", "unseen", "seen", "h")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LOG_AXIS_RATIO = 10.0  # a swept parameter spanning more than this factor is drawn on a log axis


def _message_figure(message: str) -> Figure:
    figure = Figure(figsize=(6, 2))
    figure.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    return figure


def _colours(names: Sequence[str]) -> dict[str, tuple]:
    palette = colormaps["tab10"]
    return {name: palette(i % 10) for i, name in enumerate(names)}


def efficiency_figure(
    table: pd.DataFrame, metric: str = "h", labels: Mapping[str, str] | None = None
) -> Figure:
    """``metric`` (default GZSL H) against synthetic features per unseen class and against fit seconds.

    One colour per method, one marker per dataset. Methods that synthesise nothing sit at 0 on the
    left panel's symmetric-log axis.
    """
    labels = labels or {}
    if table.empty:
        return _message_figure(
            "No runs with test metrics yet: run the pipelines, then the reporting pipeline."
        )
    methods = list(dict.fromkeys(table["method"]))
    datasets = list(dict.fromkeys(table["dataset"]))
    colours = _colours(methods)
    figure = Figure(figsize=(11, 4.2), layout="constrained")
    axes = figure.subplots(1, 2, sharey=True)
    for ax, x_column, x_label in (
        (axes[0], "n_synthetic_per_class", "synthetic features (prototypes) per unseen class"),
        (axes[1], "seconds_fit", "seconds: generation + training of the final model"),
    ):
        for row in table.itertuples(index=False):
            x, y = getattr(row, x_column), getattr(row, metric)
            if pd.isna(x) or pd.isna(y):
                continue
            marker = MARKERS[datasets.index(row.dataset) % len(MARKERS)]
            ax.scatter(
                x,
                y,
                s=70,
                color=colours[row.method],
                marker=marker,
                edgecolor="black",
                linewidth=0.5,
                zorder=3,
            )
            ax.annotate(
                labels.get(row.method, row.method),
                (x, y),
                xytext=(5, 4),
                textcoords="offset points",
                fontsize=8,
            )
        ax.set_xscale("symlog", linthresh=1.0) if x_column == "n_synthetic_per_class" else ax.set_xscale(
            "log"
        )
        ax.set_xlabel(x_label)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel(f"{MARKDOWN_HEADERS.get(metric, metric)} (%)")
    if len(datasets) > 1:
        handles = [
            axes[1].scatter([], [], marker=MARKERS[i % len(MARKERS)], color="grey", label=name)
            for i, name in enumerate(datasets)
        ]
        axes[1].legend(handles=handles, title="dataset", fontsize=8)
    figure.suptitle(f"Accuracy against synthesis cost ({', '.join(datasets)})")
    return figure


def study_figure(table: pd.DataFrame, study: str, metrics: Sequence[str] = STUDY_METRICS) -> Figure:
    """Summary of one study: bars per named setting (ablation), curves per swept parameter (sensitivity).

    One row of panels per dataset.
    """
    if table.empty:
        return _message_figure(
            f"No finished runs of study '{study}' yet: python scripts/run_study.py {study}"
        )
    datasets = list(dict.fromkeys(table["dataset"]))
    swept = [p for p in dict.fromkeys(table["swept_parameter"]) if isinstance(p, str)]
    named = table[table["swept_parameter"].isna()]
    n_columns = len(swept) + (1 if not named.empty else 0)
    figure = Figure(figsize=(4.6 * n_columns + 0.6, 3.6 * len(datasets)), layout="constrained")
    axes = np.atleast_2d(figure.subplots(len(datasets), n_columns, squeeze=False))
    colours = _colours(list(metrics))
    for r, dataset in enumerate(datasets):
        rows = table[table["dataset"] == dataset]
        column = 0
        named_rows = rows[rows["swept_parameter"].isna()]
        if not named.empty:
            ax = axes[r, column]
            positions = np.arange(len(named_rows))
            width = 0.8 / len(metrics)
            for i, metric in enumerate(metrics):
                values = named_rows[metric].to_numpy(dtype=float)
                bars = ax.bar(
                    positions + (i - (len(metrics) - 1) / 2) * width,
                    values,
                    width,
                    label=MARKDOWN_HEADERS.get(metric, metric),
                    color=colours[metric],
                )
                ax.bar_label(bars, fmt="%.0f", fontsize=6)
            ax.set_xticks(positions, named_rows["setting"].tolist(), rotation=20, ha="right")
            ax.set_ylabel(f"{dataset}: accuracy (%)")
            ax.set_ylim(0, 118)  # room for the legend above 100 %
            ax.legend(fontsize=7, ncol=len(metrics), loc="upper center")
            column += 1
        for parameter in swept:
            ax = axes[r, column]
            points = rows[rows["swept_parameter"] == parameter]
            order = np.argsort(points["value"].to_numpy(dtype=float))
            x = points["value"].to_numpy(dtype=float)[order]
            for metric in metrics:
                ax.plot(
                    x,
                    points[metric].to_numpy(dtype=float)[order],
                    marker="o",
                    label=MARKDOWN_HEADERS.get(metric, metric),
                    color=colours[metric],
                )
            ax.set_xlabel(parameter)
            if len(x) and x.min() > 0 and x.max() / x.min() > LOG_AXIS_RATIO:
                ax.set_xscale("log")
            if column == 0:
                ax.set_ylabel(f"{dataset}: accuracy (%)")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=7)
            column += 1
    figure.suptitle(f"Study: {study}")
    return figure


def prototype_tsne_figure(
    embedding: np.ndarray,
    kinds: np.ndarray,
    class_labels: np.ndarray,
    class_names: Mapping[int, str],
    summary: Mapping[str, float] | None = None,
    title: str = "Unseen classes: real features, k-means centres and FSIGenZ prototypes (t-SNE)",
) -> Figure:
    """2-D embedding of real features (dots), their k-means centres (crosses) and prototypes (triangles).

    ``kinds``: per row ``"feature"``, ``"centre"`` or ``"prototype"``; ``class_labels``: the class of each
    row; one colour per class.
    """
    embedding, kinds, class_labels = np.asarray(embedding), np.asarray(kinds), np.asarray(class_labels)
    if (
        embedding.ndim != 2
        or embedding.shape[1] != 2
        or not (len(embedding) == len(kinds) == len(class_labels))
    ):
        raise ValueError(
            f"embedding: expected (n, 2) with one kind and one class label per row, got {embedding.shape}, "
            f"{kinds.shape}, {class_labels.shape}"
        )
    classes = list(dict.fromkeys(class_labels.tolist()))
    colours = _colours(classes)
    figure = Figure(figsize=(8.5, 7), layout="constrained")
    ax = figure.subplots()
    styles = {
        "feature": dict(marker="o", s=9, alpha=0.45, linewidths=0),
        "centre": dict(marker="X", s=90, edgecolor="black", linewidths=0.8),
        "prototype": dict(marker="^", s=45, edgecolor="black", linewidths=0.5),
    }
    for c in classes:
        for kind, style in styles.items():
            rows = (class_labels == c) & (kinds == kind)
            if rows.any():
                ax.scatter(
                    embedding[rows, 0],
                    embedding[rows, 1],
                    color=colours[c],
                    **style,
                    label=class_names.get(c, str(c)) if kind == "feature" else None,
                )
    for kind, style in styles.items():  # legend entries for the marker meaning
        ax.scatter(
            [],
            [],
            color="grey",
            **{**style, "alpha": 1.0},
            label={"feature": "real feature", "centre": "k-means centre", "prototype": "FSIGenZ prototype"}[
                kind
            ],
        )
    ax.legend(fontsize=7, ncol=2, loc="best", markerscale=1.2)
    ax.set_xticks([])
    ax.set_yticks([])
    if summary:
        ax.set_title(
            "mean distance to the nearest real k-means centre: prototypes "
            f"{summary['prototype_distance']:.2f}, random points of the seen span "
            f"{summary['random_span_distance']:.2f}, random points of the class box "
            f"{summary['random_box_distance']:.2f}",
            fontsize=8,
        )
    figure.suptitle(title)
    return figure


def seen_unseen_figure(
    curve, calibration_gamma: float | None = None, title: str = "Seen-unseen accuracy curve"
) -> Figure:
    """S against U over every calibration γ (a :class:`~fsigenz.evaluation.metrics.SeenUnseenCurve`), its
    area (AUSUC) in the legend, and the operating points γ = 0 and, when given, the γ chosen on validation."""
    figure = Figure(figsize=(5.6, 5), layout="constrained")
    ax = figure.subplots()
    ax.plot(
        curve.unseen,
        curve.seen,
        color="tab:blue",
        drawstyle="default",
        label=f"all γ: AUSUC {curve.area:.1f}",
    )
    ax.fill_between(curve.unseen, curve.seen, alpha=0.12, color="tab:blue")
    marks = [(0.0, "γ = 0 (no calibration)", "o", "tab:red")]
    if calibration_gamma is not None:
        marks.append(
            (
                float(calibration_gamma),
                f"γ = {calibration_gamma:.3g} (chosen on validation)",
                "s",
                "tab:green",
            )
        )
    for gamma, label, marker, colour in marks:
        # the curve point whose γ interval holds gamma (a breakpoint itself takes the point above it)
        k = int(np.searchsorted(curve.breakpoints, gamma, side="right"))
        u, s = curve.unseen[k], curve.seen[k]
        h = 0.0 if u + s == 0 else 2 * u * s / (u + s)
        ax.scatter(
            [u],
            [s],
            marker=marker,
            s=60,
            color=colour,
            edgecolor="black",
            zorder=3,
            label=f"{label}: U {u:.1f}, S {s:.1f}, H {h:.1f}",
        )
    ax.set_xlabel("U: accuracy on unseen classes (%)")
    ax.set_ylabel("S: accuracy on seen classes (%)")
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title(title, fontsize=9)
    return figure
