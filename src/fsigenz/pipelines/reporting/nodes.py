"""Nodes of the reporting pipeline: MLflow runs → comparison and study reports (the library does the work)."""

from __future__ import annotations

import logging

import pandas as pd
from matplotlib.figure import Figure

from fsigenz.experiments.figures import efficiency_figure, study_figure
from fsigenz.experiments.published import published_beside, published_table
from fsigenz.experiments.report import (
    comparison_table,
    markdown_table,
    runs_by_dataset,
    study_table,
    summarise_seeds,
)
from fsigenz.experiments.studies import study_settings
from fsigenz.methods.registry import METHODS

logger = logging.getLogger(__name__)

COMPARISON_COLUMNS = (
    "method",
    "dataset",
    "n_seeds",
    "czsl",
    "unseen",
    "seen",
    "h",
    "h_cs",
    "ausuc",
    "n_synthetic_per_class",
    "seconds_generation",
    "seconds_fit",
    "seconds_selection",
)
STUDY_COLUMNS = (
    "setting",
    "dataset",
    "czsl",
    "unseen",
    "seen",
    "h",
    "h_cs",
    "ausuc",
    "n_synthetic_per_class",
    "seconds_fit",
)
SEED_STUDY_COLUMNS = (
    "setting",
    "dataset",
    "n_seeds",
    "czsl",
    "unseen",
    "seen",
    "h",
    "h_cs",
    "ausuc",
    "seconds_fit",
)
PUBLISHED_MARKDOWN_COLUMNS = (
    "label",
    "dataset",
    "unseen",
    "seen",
    "h",
    "project_h",
    "flag",
    "source",
    "verified",
)


def collect_runs(mlflow_runs: pd.DataFrame) -> pd.DataFrame:
    """One row per finished run and dataset namespace with test metrics and costs."""
    table_methods = [name for name, spec in METHODS.items() if spec.uses_prototypes]
    rows = runs_by_dataset(mlflow_runs, prototype_table_methods=table_methods)
    logger.info(
        "Read %d MLflow runs: %d (run, dataset) results with test metrics", len(mlflow_runs), len(rows)
    )
    return rows


def _published_markdown(table: pd.DataFrame, published: pd.DataFrame, labels: dict) -> str:
    """The published rows beside the project's, per dataset whose inputs some published entry matches."""
    beside = published_beside(table, published)
    lines = ["", "## Published numbers on the same inputs", ""]
    unmatched = table[["dataset", "features", "semantics"]].drop_duplicates()
    unmatched = unmatched[
        ~unmatched.set_index(["dataset", "features", "semantics"]).index.isin(
            beside.set_index(["dataset", "features", "semantics"]).index
        )
    ]
    if beside.empty:
        lines.append(
            "No published entry (conf/base/published.yml) has the features and semantics of these runs."
        )
    else:

        def ours(row) -> str:
            if pd.isna(row["project_h"]):
                return "–"
            if pd.isna(row["project_h_ci95"]):
                return f"{row['project_h']:.1f} (1 run)"
            return f"{row['project_h']:.1f} ± {row['project_h_ci95']:.1f}"

        shown = beside.assign(
            label=[
                labels.get(method, label) if label == method else label
                for method, label in zip(beside["method"], beside["label"], strict=True)
            ],
            project_h=[ours(r) for _, r in beside.iterrows()],
            flag=[
                "⚑ outside" if v is True else ("inside" if v is False else "–")
                for v in beside["outside_interval"]
            ],
            verified=[
                str(v) if v not in (False, "false", None) else "not verified" for v in beside["verified"]
            ],
        )
        headers = {
            "label": "Method (published)",
            "dataset": "Dataset",
            "unseen": "U",
            "seen": "S",
            "h": "H",
            "project_h": "H here (mean ± 95 %)",
            "flag": "published H vs our interval",
            "source": "Source",
            "verified": "Checked",
        }
        for (dataset, features, semantics), part in shown.groupby(
            ["dataset", "features", "semantics"], sort=False
        ):
            lines += [
                f"{dataset}: features {features}, semantics {semantics}",
                "",
                markdown_table(part, PUBLISHED_MARKDOWN_COLUMNS, headers),
            ]
    for row in unmatched.itertuples(index=False):
        lines.append(
            f"- {row.dataset}: features '{row.features}', semantics '{row.semantics}': "
            "no published numbers on these inputs."
        )
    return "\n".join(lines) + "\n"


def report_comparison(
    run_results: pd.DataFrame, reporting: dict, published: dict | None = None
) -> tuple[pd.DataFrame, str, Figure, pd.DataFrame]:
    """Each method on each dataset (mean ± 95 % interval over the seeds study's runs where there are
    some, else the latest run): CSV and Markdown tables, efficiency figure, and the published numbers
    (conf/base/published.yml) whose features and semantics match the runs'."""
    options = reporting.get("comparison", {})
    labels = reporting.get("method_labels", {})
    seed_study = options.get("seed_study", "seeds")
    table = comparison_table(
        run_results,
        include_studies=options.get("include_studies", ["baselines"]),
        include_untagged=options.get("include_untagged", True),
        method_order=reporting.get("method_order", []),
        seed_study=seed_study,
    )
    entries = published_table((published or {}).get("published", []), "conf/base/published.yml: published")
    markdown = markdown_table(table, COMPARISON_COLUMNS, labels=labels)
    if table.empty:
        markdown += "\nNo finished run with test metrics yet.\n"
    else:
        seeds = sorted({int(n) for n in table["n_seeds"]})
        markdown += (
            f"\nSeeds: runs per row ({', '.join(map(str, seeds))}); a value with ± is the mean over the "
            f"'{seed_study}' study's seeds and the half-width of its 95 % interval (Student t).\n"
        )
        markdown += _published_markdown(table, entries, labels)
    beside = published_beside(table, entries)
    logger.info("Comparison:\n%s", markdown)
    return table, markdown, efficiency_figure(table, options.get("efficiency_metric", "h"), labels), beside


def report_studies(run_results: pd.DataFrame, studies: dict) -> tuple[dict, dict, dict]:
    """For every configured study: its table (CSV and Markdown) and summary figure, keyed by study name.

    A study with seeds is summarised per setting: mean and 95 % interval over its seeds.
    """
    tables, markdown, figures = {}, {}, {}
    for name, study in studies.items():
        settings = study_settings(name, study)
        if study.get("seeds") is not None:
            table = summarise_seeds(study_table(run_results, name, settings), ["dataset", "setting_base"])
            columns = SEED_STUDY_COLUMNS
        else:
            table = study_table(run_results, name, settings)
            columns = STUDY_COLUMNS
        tables[name] = table
        markdown[name] = f"# Study: {name}\n\n{study.get('description', '')}\n\n" + markdown_table(
            table, columns
        )
        figures[f"{name}.png"] = study_figure(table, name)
    return tables, markdown, figures
