"""Runs → tables: the method comparison and each study's summary.

Input: a DataFrame shaped like ``mlflow.search_runs`` output — one row per run, columns ``run_id``,
``status``, ``start_time``, ``metrics.<name>``, ``params.<name>``, ``tags.<name>``. A ``kedro run`` logs
the test metrics of each dataset namespace as ``metrics.<namespace>.<key>`` (``gzsl_h``, ...), the
method as ``params.model.method`` (or its per-namespace and command-line spellings), each node's wall
time as ``metrics.time.<namespace>.<node>``; the study runner adds ``tags.study`` and ``tags.setting``.

Costs, per run and dataset:

- ``n_synthetic_per_class``: prototypes (FSIGenZ, NCM), generated features (f-CLSWGAN, TF-VAEGAN) or
  latent samples (CADA-VAE) per unseen class;
- ``seconds_generation``: making them — f-CLSWGAN's / TF-VAEGAN's seen-classifier pre-training +
  generator training + synthesis; CADA-VAE's VAE training + latent sampling; FSIGenZ's prototype node
  (MSAS + ridge solves);
- ``seconds_fit``: the final fit on trainval, generation included;
- ``seconds_selection``: model selection on the validation split (grid, early stopping).

Studies with seeds (``tags.seed``; the ``seeds`` study) are summarised per setting over their seeds:
:func:`summarise_seeds` gives the mean of every accuracy and its 95 % interval (Student t over the seeds;
``<column>_ci95`` is the half-width), and :func:`comparison_table` uses that summary for each (dataset,
method) the seed study covers.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence

import numpy as np
import pandas as pd

from fsigenz.experiments.studies import StudySetting, base_setting

# table column -> key of the evaluation report (metrics.<namespace>.<key>)
ACCURACY_COLUMNS = {
    "czsl": "czsl_top1",
    "unseen": "gzsl_unseen",
    "seen": "gzsl_seen",
    "h": "gzsl_h",
    "h_cs": "gzsl_h_cs",
    "ausuc": "ausuc",
}
COST_COLUMNS = ("n_synthetic_per_class", "seconds_generation", "seconds_fit", "seconds_selection")
CONFIDENCE = 0.95
INTERVAL_SUFFIX = "_ci95"
# The generative baselines' timings_ that make the synthetic features or latent samples (f-CLSWGAN,
# TF-VAEGAN: pre-training, generator, synthesis; CADA-VAE: VAEs, latent sampling); their
# classifier_training is the classifier's.
GENERATION_TIMINGS = (
    "seen_classifier_pretraining",
    "generator_training",
    "synthesis",
    "vae_training",
    "latent_sampling",
)
PROTOTYPE_NODE = "generate_prototype_table"
RUN_COLUMNS = [
    "run_id",
    "start_time",
    "study",
    "setting",
    "seed",
    "dataset",
    "method",
    "features",
    "semantics",
    *ACCURACY_COLUMNS,
    *COST_COLUMNS,
]
MARKDOWN_HEADERS = {
    "method": "Method",
    "setting": "Setting",
    "dataset": "Dataset",
    "czsl": "CZSL",
    "unseen": "U",
    "seen": "S",
    "h": "H",
    "h_cs": "H (cal.)",
    "ausuc": "AUSUC",
    "n_seeds": "Seeds",
    "features": "Features",
    "semantics": "Semantics",
    "n_synthetic_per_class": "Synthetic / class",
    "seconds_generation": "s generation",
    "seconds_fit": "s fit",
    "seconds_selection": "s selection",
}
_TEST_METRIC = re.compile(r"^metrics\.(?P<namespace>[^.]+)\.gzsl_h$")


def _column(runs: pd.DataFrame, name: str) -> pd.Series:
    return runs[name] if name in runs.columns else pd.Series(np.nan, index=runs.index, dtype=object)


def _number(runs: pd.DataFrame, name: str) -> pd.Series:
    return pd.to_numeric(_column(runs, name), errors="coerce")


def runs_by_dataset(
    runs: pd.DataFrame,
    prototype_table_methods: Collection[str] = ("fsigenz",),
    statuses: Collection[str] = ("FINISHED",),
) -> pd.DataFrame:
    """One row per (run, dataset namespace) with test metrics; columns :data:`RUN_COLUMNS`.

    ``prototype_table_methods``: methods whose final fit reads the prototype table, so that the
    prototype node's time counts as their generation time.
    """
    if runs.empty:
        return pd.DataFrame(columns=RUN_COLUMNS)
    if "status" in runs.columns and statuses:
        runs = runs[runs["status"].isin(list(statuses))]
    namespaces = sorted({m["namespace"] for c in runs.columns if (m := _TEST_METRIC.match(c))})
    frames = []
    for ns in namespaces:
        part = runs[_number(runs, f"metrics.{ns}.gzsl_h").notna()]
        if part.empty:
            continue
        # the method a run used, in the precedence of fsigenz.configuration (highest first); the
        # "overrides" spelling is that of runs made before the per-dataset blocks lost it
        method = _column(part, f"params.command_line.{ns}.model.method")
        for key in (
            "command_line.model.method",
            f"{ns}.model.method",
            f"{ns}.overrides.model.method",
            "model.method",
        ):
            method = method.fillna(_column(part, f"params.{key}"))
        method = method.fillna("unknown").astype(str)
        uses_table = method.isin(list(prototype_table_methods))
        prototype_seconds = (
            _number(part, f"metrics.time.{ns}.{PROTOTYPE_NODE}").fillna(0.0).where(uses_table, 0.0)
        )
        generator_seconds = sum(
            (_number(part, f"metrics.{ns}.seconds_{name}").fillna(0.0) for name in GENERATION_TIMINGS),
            pd.Series(0.0, index=part.index),
        )
        frame = pd.DataFrame(
            {
                "run_id": part["run_id"],
                "start_time": pd.to_datetime(_column(part, "start_time"), utc=True, errors="coerce"),
                "study": _column(part, "tags.study"),
                "setting": _column(part, "tags.setting"),
                "seed": _number(part, "tags.seed"),
                "dataset": ns,
                "method": method,
                "features": _column(part, f"tags.{ns}.features"),
                "semantics": _column(part, f"tags.{ns}.semantics"),
                **{col: _number(part, f"metrics.{ns}.{key}") for col, key in ACCURACY_COLUMNS.items()},
                "n_synthetic_per_class": _number(part, f"metrics.{ns}.n_synthetic_per_class")
                .fillna(0)
                .astype(int),
                "seconds_generation": generator_seconds + prototype_seconds,
                "seconds_fit": _number(part, f"metrics.{ns}.seconds_training") + prototype_seconds,
                "seconds_selection": _number(part, f"metrics.{ns}.seconds_selection"),
            }
        )
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=RUN_COLUMNS)
    return pd.concat(frames, ignore_index=True)[RUN_COLUMNS]


def latest(rows: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """The most recent row of each ``keys`` group."""
    return rows.sort_values("start_time", ascending=False, kind="stable").drop_duplicates(list(keys))


def _ordered(values: pd.Series, order: Sequence[str]) -> pd.Series:
    """Sort key: position in ``order``, unknown values after, alphabetically."""
    rank = {name: i for i, name in enumerate(order)}
    return values.map(lambda v: (rank.get(v, len(rank)), str(v)))


def interval_half_width(values: np.ndarray, confidence: float = CONFIDENCE) -> float:
    """Half-width of the Student-t interval of the mean of ``values`` (NaN for fewer than two values)."""
    from scipy import stats

    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if values.size < 2:
        return float("nan")
    return float(
        stats.t.ppf(0.5 + confidence / 2, values.size - 1) * values.std(ddof=1) / np.sqrt(values.size)
    )


def summarise_seeds(rows: pd.DataFrame, keys: Sequence[str], confidence: float = CONFIDENCE) -> pd.DataFrame:
    """One row per ``keys`` group (e.g. ``dataset`` and ``method``, or ``setting_base``: the setting
    without its seed) of a study's runs with seeds.

    The latest run of each (dataset, setting) counts once (a rerun seed replaces the earlier run);
    ``n_seeds`` is how many runs the group has; each accuracy column is the mean, and
    ``<column>_ci95`` the half-width of its ``confidence`` interval; costs are means; features,
    semantics and ``start_time`` are the latest run's.
    """
    passed_on = [c for c in ("swept_parameter", "value") if c in rows.columns]  # study_table's sweep columns
    columns = [
        *RUN_COLUMNS,
        *passed_on,
        "setting_base",
        "n_seeds",
        *(f"{c}{INTERVAL_SUFFIX}" for c in ACCURACY_COLUMNS),
    ]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    runs = latest(rows, ["dataset", "setting"])
    runs = runs.loc[rows.index[rows.index.isin(runs.index)]]  # groups in the order of ``rows``
    runs = runs.assign(
        setting_base=runs["setting"].map(lambda s: base_setting(s) if isinstance(s, str) else s)
    )
    records = []
    for _, group in runs.groupby(list(keys), sort=False, dropna=False):
        newest = group.sort_values("start_time", ascending=False, kind="stable").iloc[0]
        record = {c: newest[c] for c in (*RUN_COLUMNS, *passed_on, "setting_base")}
        record.update(setting=newest["setting_base"], seed=np.nan, n_seeds=len(group))
        for column in ACCURACY_COLUMNS:
            record[column] = float(group[column].mean())
            record[f"{column}{INTERVAL_SUFFIX}"] = interval_half_width(group[column].to_numpy(), confidence)
        for column in COST_COLUMNS:
            record[column] = float(group[column].mean())
        records.append(record)
    return pd.DataFrame.from_records(records, columns=columns)


def comparison_table(
    rows: pd.DataFrame,
    include_studies: Collection[str] = ("baselines",),
    include_untagged: bool = True,
    method_order: Sequence[str] = (),
    seed_study: str | None = "seeds",
) -> pd.DataFrame:
    """One row per (dataset, method): the summary over the seeds of ``seed_study`` where it has runs of
    that method on that dataset, else the latest single run among untagged runs and runs of
    ``include_studies`` (``n_seeds`` 1, no interval).

    Ablation and sensitivity runs are left out (they are FSIGenZ variants, reported per study).
    """
    study = rows["study"]
    keep = study.isin(list(include_studies))
    if include_untagged:
        keep |= study.isna() | (study.astype(str) == "")
    single = latest(rows[keep], ["dataset", "method"]).assign(n_seeds=1)
    if seed_study:
        seeded = summarise_seeds(rows[study == seed_study], ["dataset", "method"])
        covered = set(zip(seeded["dataset"], seeded["method"], strict=True))
        uncovered = pd.Series(
            [(d, m) not in covered for d, m in zip(single["dataset"], single["method"], strict=True)],
            index=single.index,
            dtype=bool,
        )
        single = single[uncovered]
        parts = [part for part in (seeded, single) if not part.empty]
        table = pd.concat(parts, ignore_index=True) if parts else single
    else:
        table = single
    for column in ACCURACY_COLUMNS:
        name = f"{column}{INTERVAL_SUFFIX}"
        table[name] = table[name] if name in table.columns else np.nan
    table = table.assign(_order=_ordered(table["method"], method_order))
    return table.sort_values(["dataset", "_order"]).drop(columns="_order").reset_index(drop=True)


def study_table(rows: pd.DataFrame, study: str, settings: Sequence[StudySetting]) -> pd.DataFrame:
    """The latest run of each (dataset, setting) of ``study``, in the order of ``settings``.

    Adds ``swept_parameter`` and ``value`` (for sweeps) from the study's definition; runs of settings the
    study no longer lists are left out.
    """
    by_name = {s.name: s for s in settings}
    part = rows[(rows["study"] == study) & rows["setting"].isin(list(by_name))]
    table = latest(part, ["dataset", "setting"])
    table = table.assign(
        swept_parameter=table["setting"].map(lambda n: by_name[n].swept_parameter),
        value=table["setting"].map(lambda n: by_name[n].value),
        _order=table["setting"].map({s.name: i for i, s in enumerate(settings)}),
    )
    return table.sort_values(["dataset", "_order"]).drop(columns="_order").reset_index(drop=True)


def markdown_table(
    table: pd.DataFrame,
    columns: Sequence[str],
    headers: Mapping[str, str] = MARKDOWN_HEADERS,
    labels: Mapping[str, str] | None = None,
) -> str:
    """A GitHub Markdown table of ``columns``: accuracies with one decimal, seconds with one (or two below 1).

    ``labels`` renames method names (e.g. ``fclswgan`` → ``f-CLSWGAN``). An accuracy with an interval
    (``<column>_ci95`` not NaN) reads ``mean ± half-width``.
    """
    labels = labels or {}

    def cell(column: str, value, interval=None) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return "–"
        if column == "method":
            return str(labels.get(value, value))
        if column in ("n_synthetic_per_class", "n_seeds"):
            return str(int(value))
        if column.startswith("seconds"):
            return f"{value:.2f}" if value < 1 else f"{value:.1f}"
        if isinstance(value, (float, np.floating)):
            if interval is not None and not np.isnan(interval):
                return f"{value:.1f} ± {interval:.1f}"
            return f"{value:.1f}"
        return str(value)

    lines = [
        "| " + " | ".join(headers.get(c, c) for c in columns) + " |",
        "|"
        + "|".join(
            "---" if c in ("method", "setting", "dataset", "features", "semantics") else "---:"
            for c in columns
        )
        + "|",
    ]
    for _, record in table.iterrows():
        cells = []
        for c in columns:
            interval = record.get(f"{c}{INTERVAL_SUFFIX}") if c in ACCURACY_COLUMNS else None
            cells.append(cell(c, record.get(c), None if interval is None else float(interval)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
