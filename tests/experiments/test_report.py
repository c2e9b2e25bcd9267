import numpy as np
import pandas as pd
import pytest

from fsigenz.experiments.figures import efficiency_figure, study_figure
from fsigenz.experiments.report import (
    comparison_table,
    markdown_table,
    runs_by_dataset,
    study_table,
)
from fsigenz.experiments.studies import study_settings
from tests.experiments.conftest import fake_metrics, runs_frame

ABLATION = study_settings(
    "ablation", {"settings": {"full": {}, "without_msas": {"fsigenz.msas.enabled": False}}}
)
SENSITIVITY = study_settings("sensitivity", {"sweeps": {"fsigenz.scc.beta": [0.1, 0.5, 1.0]}})


@pytest.fixture
def runs():
    return runs_frame(
        [
            {
                "params": {"model.method": "fsigenz"},
                "metrics": fake_metrics(10.0, 20),
                "start": 0,
            },  # superseded
            {
                "params": {"model.method": "fsigenz"},
                "metrics": fake_metrics(44.0, 20, seconds_training=3.0),
                "start": 5,
            },
            {
                "params": {"model.method": "fclswgan"},
                "metrics": fake_metrics(40.0, 300, seconds_training=9.0, gan_seconds=5.0),
                "start": 6,
            },
            # the method set for the namespace on the command line wins over model.method
            {
                "params": {"model.method": "fsigenz", "command_line.synthetic.model.method": "eszsl"},
                "metrics": fake_metrics(36.0, 0, seconds_training=0.01),
                "start": 7,
                "tags": {"study": "baselines", "setting": "eszsl"},
            },
            {
                "params": {"model.method": "tcn"},
                "metrics": fake_metrics(99.0, 0),
                "status": "FAILED",
                "start": 8,
            },
            {
                "params": {"model.method": "fsigenz"},
                "metrics": {},
                "start": 9,
            },  # e.g. the reporting run: no test metrics
            # two datasets in one run
            {
                "params": {"model.method": "ncm"},
                "metrics": {**fake_metrics(50.0, 20), **fake_metrics(30.0, 20, "awa2")},
                "start": 10,
            },
            *[
                {
                    "params": {"model.method": "fsigenz"},
                    "metrics": fake_metrics(h, 20),
                    "start": 11 + i,
                    "tags": {"study": "ablation", "setting": name},
                }
                for i, (name, h) in enumerate([("without_msas", 41.0), ("full", 44.0), ("old_setting", 1.0)])
            ],
            *[
                {
                    "params": {"model.method": "fsigenz"},
                    "metrics": fake_metrics(h, 20),
                    "start": 20 + i,
                    "tags": {"study": "sensitivity", "setting": f"fsigenz.scc.beta={beta}"},
                }
                for i, (beta, h) in enumerate([(1.0, 30.0), (0.1, 40.0), (0.5, 35.0)])
            ],
        ]
    )


def test_one_row_per_run_and_dataset_with_costs(runs):
    rows = runs_by_dataset(runs)
    assert len(rows) == 12  # 13 runs: the failed one and one without test metrics out, the ncm run twice
    assert set(rows["dataset"]) == {"synthetic", "awa2"}
    gan = rows[rows["method"] == "fclswgan"].iloc[0]
    # generation = pre-training + GAN + synthesis; fit = the whole final training (generation included)
    assert gan["seconds_generation"] == pytest.approx(0.5 + 5.0 + 0.1)
    assert gan["seconds_fit"] == pytest.approx(9.0) and gan["n_synthetic_per_class"] == 300
    fsigenz = rows[(rows["method"] == "fsigenz") & (rows["h"] == 44.0) & rows["study"].isna()].iloc[0]
    # FSIGenZ reads the prototype table: the prototype node's time is its generation time
    assert fsigenz["seconds_generation"] == pytest.approx(0.25)
    assert fsigenz["seconds_fit"] == pytest.approx(3.25)
    eszsl = rows[rows["method"] == "eszsl"].iloc[0]
    assert eszsl["seconds_generation"] == 0 and eszsl["seconds_fit"] == pytest.approx(0.01)
    assert (rows["czsl"] - rows["h"]).eq(5).all() and (rows["h_cs"] - rows["h"]).eq(3).all()


def test_comparison_keeps_the_latest_run_per_method_and_dataset(runs):
    table = comparison_table(runs_by_dataset(runs), method_order=["fsigenz", "ncm", "eszsl", "fclswgan"])
    assert list(zip(table["dataset"], table["method"], table["h"], strict=True)) == [
        ("awa2", "ncm", 30.0),
        ("synthetic", "fsigenz", 44.0),  # the newer run; ablation/sensitivity runs are not in the comparison
        ("synthetic", "ncm", 50.0),
        ("synthetic", "eszsl", 36.0),  # tagged with the baselines study
        ("synthetic", "fclswgan", 40.0),
    ]
    only_baselines = comparison_table(runs_by_dataset(runs), include_untagged=False)
    assert list(only_baselines["method"]) == ["eszsl"]


def test_study_tables_follow_the_study_definition(runs):
    rows = runs_by_dataset(runs)
    ablation = study_table(rows, "ablation", ABLATION)
    assert list(ablation["setting"]) == [
        "full",
        "without_msas",
    ]  # configured order; unlisted setting left out
    assert list(ablation["h"]) == [44.0, 41.0] and ablation["swept_parameter"].isna().all()
    sensitivity = study_table(rows, "sensitivity", SENSITIVITY)
    assert list(sensitivity["value"]) == [0.1, 0.5, 1.0]
    assert set(sensitivity["swept_parameter"]) == {"fsigenz.scc.beta"}
    assert study_table(rows, "nothing", ABLATION).empty


def test_markdown_table_by_hand():
    table = pd.DataFrame(
        {
            "method": ["fclswgan"],
            "dataset": ["synthetic"],
            "h": [43.21],
            "n_synthetic_per_class": [300],
            "seconds_fit": [0.123],
            "seconds_selection": [12.34],
            "czsl": [np.nan],
        }
    )
    text = markdown_table(
        table,
        ["method", "dataset", "h", "czsl", "n_synthetic_per_class", "seconds_fit", "seconds_selection"],
        labels={"fclswgan": "f-CLSWGAN"},
    )
    assert text.splitlines() == [
        "| Method | Dataset | H | CZSL | Synthetic / class | s fit | s selection |",
        "|---|---|---:|---:|---:|---:|---:|",
        "| f-CLSWGAN | synthetic | 43.2 | – | 300 | 0.12 | 12.3 |",
    ]


def test_empty_store_gives_empty_tables():
    rows = runs_by_dataset(pd.DataFrame())
    assert rows.empty and comparison_table(rows).empty and study_table(rows, "ablation", ABLATION).empty


def test_figures_are_written(runs, tmp_path):
    rows = runs_by_dataset(runs)
    figures = {
        "efficiency.png": efficiency_figure(comparison_table(rows)),
        "ablation.png": study_figure(study_table(rows, "ablation", ABLATION), "ablation"),
        "sensitivity.png": study_figure(study_table(rows, "sensitivity", SENSITIVITY), "sensitivity"),
        "empty.png": study_figure(study_table(rows, "nothing", ABLATION), "nothing"),
        "empty_efficiency.png": efficiency_figure(comparison_table(runs_by_dataset(pd.DataFrame()))),
    }
    for name, figure in figures.items():
        figure.savefig(tmp_path / name)
        assert (tmp_path / name).stat().st_size > 5_000, name
    assert len(figures["efficiency.png"].axes) == 2  # H against synthetic features and against seconds
    assert (
        len(figures["sensitivity.png"].axes) == 1
        and figures["sensitivity.png"].axes[0].get_xlabel() == "fsigenz.scc.beta"
    )
