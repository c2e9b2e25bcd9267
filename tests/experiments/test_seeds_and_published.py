"""Seeds → mean ± 95 % interval in the comparison; published numbers beside runs on the same inputs only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from fsigenz.data.xlsa17 import write_res101_standin
from fsigenz.experiments.published import RESNET101_XLSA17, describe_data, published_beside, published_table
from fsigenz.experiments.report import comparison_table, interval_half_width, markdown_table, runs_by_dataset
from fsigenz.pipelines.reporting.nodes import report_comparison, report_studies
from tests.conftest import PROJECT_ROOT
from tests.experiments.conftest import fake_metrics, runs_frame

T_975_2 = 4.302652729911275  # Student t quantile, 2 degrees of freedom (3 seeds)


def seed_runs(method: str, hs, namespace: str = "synthetic", start: int = 0, features: str = "synthetic"):
    return [
        {
            "params": {"model.method": method},
            "metrics": {**fake_metrics(h, 20, namespace), f"{namespace}.ausuc": h / 2},
            "start": start + i,
            "tags": {
                "study": "seeds",
                "setting": f"{method}/seed={i}",
                "seed": str(i),
                f"{namespace}.features": features,
                f"{namespace}.semantics": "attributes",
            },
        }
        for i, h in enumerate(hs)
    ]


def test_interval_half_width_by_hand():
    # mean 42, sample sd 2 -> t(0.975, 2) * 2 / sqrt(3)
    assert interval_half_width(np.array([40.0, 42.0, 44.0])) == pytest.approx(T_975_2 * 2 / np.sqrt(3))
    assert np.isnan(interval_half_width(np.array([40.0])))


def test_comparison_summarises_the_seeds_study_and_keeps_single_runs_of_other_methods():
    runs = runs_frame(
        [
            {
                "params": {"model.method": "fsigenz"},
                "metrics": fake_metrics(10.0, 20),
                "start": 0,
            },  # superseded by the seeds
            {"params": {"model.method": "eszsl"}, "metrics": fake_metrics(36.0, 0), "start": 1},
            *seed_runs("fsigenz", [40.0, 42.0, 44.0], start=2),
            # a rerun of seed 0 replaces the first one: it counts once
            *[{**r, "start": 9, "run_id": "rerun"} for r in seed_runs("fsigenz", [40.0])],
        ]
    )
    table = comparison_table(runs_by_dataset(runs), method_order=["fsigenz", "eszsl"])
    assert table["method"].tolist() == ["fsigenz", "eszsl"] and table["n_seeds"].tolist() == [3, 1]
    fsigenz = table.iloc[0]
    assert fsigenz["h"] == pytest.approx(42.0) and fsigenz["ausuc"] == pytest.approx(21.0)
    assert fsigenz["h_ci95"] == pytest.approx(T_975_2 * 2 / np.sqrt(3))
    assert fsigenz["czsl"] == pytest.approx(47.0) and fsigenz["features"] == "synthetic"
    assert np.isnan(table.iloc[1]["h_ci95"])
    markdown = markdown_table(table, ["method", "n_seeds", "h", "ausuc"])
    assert "| fsigenz | 3 | 42.0 ± 5.0 | 21.0 ± 2.5 |" in markdown and "| eszsl | 1 | 36.0 | – |" in markdown


def test_published_entries_are_validated():
    good = {
        "method": "eszsl",
        "dataset": "cub",
        "features": RESNET101_XLSA17,
        "semantics": "attributes",
        "unseen": 12.6,
        "seen": 63.8,
        "h": 21.0,
        "source": "Xian et al. 2018",
        "verified": False,
    }
    assert published_table([good]).iloc[0]["label"] == "eszsl"
    with pytest.raises(
        ValueError, match=r"published\[0\] \(eszsl, cub\): field 'h': 30.0 is not the harmonic mean"
    ):
        published_table([{**good, "h": 30.0}])
    with pytest.raises(ValueError, match=r"missing field\(s\) \['source'\]"):
        published_table([{k: v for k, v in good.items() if k != "source"}])
    with pytest.raises(ValueError, match="more than one entry for eszsl on cub"):
        published_table([good, good])
    assert np.isnan(published_table([{**good, "unseen": None, "seen": None}]).iloc[0]["unseen"])


def test_configured_published_table_is_valid_and_covers_the_methods_of_the_issue():
    entries = yaml.safe_load((PROJECT_ROOT / "conf/base/published.yml").read_text())["published"]
    table = published_table(entries)
    assert {"eszsl", "fclswgan", "cadavae", "tfvaegan", "tcn", "free", "ce_gzsl", "fsigenz"} <= set(
        table["method"]
    )
    assert set(table["dataset"]) == {"cub", "awa2", "sun"}
    assert table["verified"].map(lambda v: v is False or (isinstance(v, str) and len(v) > 10)).all()


def test_published_numbers_sit_beside_runs_on_the_same_inputs_and_are_flagged_outside_the_interval():
    published = published_table(
        [
            {
                "method": "eszsl",
                "dataset": "cub",
                "features": RESNET101_XLSA17,
                "semantics": "attributes",
                "unseen": 12.6,
                "seen": 63.8,
                "h": 21.0,
                "source": "Xian et al. 2018",
                "verified": False,
            },
            {
                "method": "tcn",
                "dataset": "cub",
                "features": RESNET101_XLSA17,
                "semantics": "attributes",
                "unseen": 52.6,
                "seen": 52.0,
                "h": 52.3,
                "source": "Jiang et al. 2019",
                "verified": False,
            },
            {
                "method": "ce_gzsl",
                "dataset": "cub",
                "features": RESNET101_XLSA17,
                "semantics": "sentences (1024-d)",
                "unseen": 63.9,
                "seen": 66.8,
                "h": 65.3,
                "source": "Han et al. 2021",
                "verified": False,
            },
            {
                "method": "eszsl",
                "dataset": "sun",
                "features": RESNET101_XLSA17,
                "semantics": "attributes",
                "unseen": 11.0,
                "seen": 27.9,
                "h": 15.8,
                "source": "Xian et al. 2018",
                "verified": False,
            },
        ]
    )
    project = pd.DataFrame(
        {
            "dataset": ["cub", "cub", "synthetic"],
            "method": ["eszsl", "tcn", "eszsl"],
            "features": [RESNET101_XLSA17, RESNET101_XLSA17, "synthetic"],
            "semantics": ["attributes"] * 3,
            "h": [22.0, 40.0, 50.0],
            "h_ci95": [2.0, np.nan, 1.0],
        }
    )
    beside = published_beside(project, published)
    # CUB attributes only: not CE-GZSL (sentences), not SUN (no run), nothing for the synthetic run
    assert beside[["method", "dataset"]].values.tolist() == [["eszsl", "cub"], ["tcn", "cub"]]
    assert beside["outside_interval"].tolist() == [False, None]  # 21.0 in 22 ± 2; TCN ran once: no interval
    beside = published_beside(project.assign(h=[30.0, 40.0, 50.0]), published)
    assert beside["outside_interval"].tolist() == [True, None]


def test_report_node_writes_the_published_section_only_for_matching_inputs():
    runs = runs_frame(
        [
            *seed_runs("eszsl", [20.0, 22.0, 24.0], "cub", features=RESNET101_XLSA17),
            *seed_runs("fsigenz", [40.0, 41.0, 42.0], start=5),
        ]
    )
    published = yaml.safe_load((PROJECT_ROOT / "conf/base/published.yml").read_text())
    reporting = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_experiments.yml").read_text())[
        "reporting"
    ]
    table, markdown, _, beside = report_comparison(runs_by_dataset(runs), reporting, published)
    assert set(beside["dataset"]) == {"cub"} and "eszsl" in set(beside["method"])
    eszsl = beside[beside["method"] == "eszsl"].iloc[0]
    assert eszsl["project_h"] == pytest.approx(22.0) and eszsl["outside_interval"] is False
    assert "## Published numbers on the same inputs" in markdown and "22.0 ± 5.0" in markdown
    assert "synthetic: features 'synthetic', semantics 'attributes': no published numbers" in markdown
    assert "ESZSL" in markdown and "Seeds: runs per row (3)" in markdown


def test_seed_study_table_summarises_each_setting():
    runs = runs_frame(
        seed_runs("fsigenz", [40.0, 42.0, 44.0]) + seed_runs("eszsl", [30.0, 30.0, 30.0], start=5)
    )
    studies = {
        "seeds": {
            "settings": {"fsigenz": {"model.method": "fsigenz"}, "eszsl": {"model.method": "eszsl"}},
            "seeds": [0, 1, 2],
            "seed_parameters": ["fsigenz.scc.seed"],
        }
    }
    tables, markdown, figures = report_studies(runs_by_dataset(runs), studies)
    table = tables["seeds"]
    assert table["setting"].tolist() == ["fsigenz", "eszsl"] and table["n_seeds"].tolist() == [3, 3]
    assert table["h_ci95"].tolist()[1] == 0.0 and "42.0 ± 5.0" in markdown["seeds"]
    assert "seeds.png" in figures


def test_data_description_tells_real_resnet101_from_stand_ins_and_synthetic(tmp_path, small_synthetic):
    assert describe_data(small_synthetic.source, small_synthetic.metadata, 32) == {
        "features": "synthetic",
        "semantics": "synthetic",
    }
    import scipy.io

    real = tmp_path / "res101.mat"
    scipy.io.savemat(real, {"features": np.zeros((2, 3)), "labels": np.ones((3, 1))})
    assert (
        describe_data(str(tmp_path), {"features_file": str(real), "attributes": "att"}, 2048)["features"]
        == RESNET101_XLSA17
    )
    assert (
        describe_data(str(tmp_path), {"features_file": str(real), "attributes": "original_att"}, 2048)[
            "semantics"
        ]
        == "attributes (original_att)"
    )
    assert "not the 2048-d" in describe_data(str(tmp_path), {"features_file": str(real)}, 64)["features"]
    splits = tmp_path / "att_splits.mat"
    scipy.io.savemat(
        splits,
        {
            "allclasses_names": np.array([["a"], ["b"], ["c"]], dtype=object),
            "att": np.eye(3),
            "trainval_loc": np.array([[1], [2]]),
            "test_seen_loc": np.array([[3]]),
            "test_unseen_loc": np.array([[4]]),
        },
    )
    standin = write_res101_standin(splits, tmp_path / "standin" / "res101.mat", feature_dim=8)
    described = describe_data(str(tmp_path), {"features_file": str(standin), "attributes": "att"}, 2048)
    assert described["features"].startswith("simulated")
