"""Where the prototypes lie: against the structure of the real unseen-class features (the paper's Figure 7).

The prototypes μ_u,k of an unseen class u (method notes, Phase 1b) claim to stand for groups of its real
images. Measured here, per unseen class u, in the centred feature space the SCC trains in (features minus
the trainval mean, L2-normalised too when the method is):

- k-means centres of u's real (test_unseen) features: the "groups";
- ``prototype_distance``: mean Euclidean distance of each prototype to its nearest centre of u;
- the same for two kinds of random points, as a chance level:
  ``random_span_distance`` — random combinations M_s α, α ~ N(0, I), of the seen class means (the span the
  prototypes are drawn from, without the attributes' guidance), rescaled to the prototypes' mean norm;
  ``random_box_distance`` — uniform points in the bounding box of u's real features;
- ``own_class_rate``: share of prototypes whose nearest centre, among the centres of every unseen class,
  is one of their own class's;
- ``feature_distance``: mean distance of u's real features to their nearest centre (the scale of a group).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fsigenz.data.dataset import ZeroShotDataset
from fsigenz.methods.preprocessing import FeatureCentering

# principal components kept before t-SNE: speeds it up, standard practice for d in the hundreds
TSNE_PCA_COMPONENTS = 50


@dataclass(frozen=True)
class UnseenClassFeatures:
    """Real unseen-class features and the seen class means, in the centred (SCC) feature space."""

    features: np.ndarray  # (n, d) test_unseen features
    labels: np.ndarray  # (n,) dataset class index
    seen_class_means: np.ndarray  # (K, d) [M_s as rows]


def centred_unseen_features(dataset: ZeroShotDataset, l2_normalize: bool = False) -> UnseenClassFeatures:
    """Centre (and optionally L2-normalise) on the trainval features, as every method does."""
    trainval = dataset.splits["trainval"]
    centering = FeatureCentering(l2_normalize=l2_normalize).fit(dataset.features[trainval])
    train_features = centering.transform(dataset.features[trainval])
    train_labels = dataset.labels[trainval]
    seen = np.unique(train_labels)
    means = np.stack([train_features[train_labels == c].mean(axis=0) for c in seen])
    unseen_rows = dataset.splits["test_unseen"]
    return UnseenClassFeatures(
        centering.transform(dataset.features[unseen_rows]), dataset.labels[unseen_rows], means
    )


def prototypes_by_class(prototype_table: pd.DataFrame) -> dict[int, np.ndarray]:
    """``{class_index: (P, d) prototypes}`` from a prototype table (columns class_index, prototype,
    vector)."""
    missing = {"class_index", "prototype", "vector"} - set(prototype_table.columns)
    if missing:
        raise ValueError(
            f"prototype_table: missing column(s) {sorted(missing)}; rerun the prototypes pipeline"
        )
    return {
        int(c): np.stack(rows.sort_values("prototype")["vector"].to_numpy()).astype(np.float64)
        for c, rows in prototype_table.groupby("class_index")
    }


def kmeans_centres(features: np.ndarray, n_clusters: int, seed: int = 0) -> np.ndarray:
    """(k, d) k-means centres, k = min(n_clusters, number of rows)."""
    from sklearn.cluster import KMeans

    k = int(min(n_clusters, len(features)))
    if k < 1:
        raise ValueError(
            f"kmeans_centres: expected at least one feature row and n_clusters >= 1, got "
            f"{len(features)} rows, n_clusters={n_clusters}"
        )
    return KMeans(n_clusters=k, n_init=4, random_state=seed).fit(features).cluster_centers_


def nearest_distances(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(n,) Euclidean distance of each point to its nearest centre."""
    squared = (points**2).sum(1)[:, None] - 2 * points @ centres.T + (centres**2).sum(1)[None, :]
    return np.sqrt(np.maximum(squared.min(axis=1), 0.0))


def random_span_points(
    seen_class_means: np.ndarray, n: int, norm: float, rng: np.random.Generator
) -> np.ndarray:
    """``n`` points M_s α, α ~ N(0, I_K), each rescaled to L2 norm ``norm``."""
    points = rng.standard_normal((n, seen_class_means.shape[0])) @ seen_class_means
    return points * (norm / np.maximum(np.linalg.norm(points, axis=1, keepdims=True), np.finfo(float).tiny))


def random_box_points(features: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points uniform in the per-dimension [min, max] box of ``features``."""
    return rng.uniform(features.min(axis=0), features.max(axis=0), size=(n, features.shape[1]))


def prototype_geometry(
    real: UnseenClassFeatures,
    prototypes: dict[int, np.ndarray],
    n_clusters: int = 5,
    n_random_per_class: int = 100,
    seed: int = 0,
) -> tuple[pd.DataFrame, dict[str, float], dict[int, np.ndarray]]:
    """Per-class distances (DataFrame), their summary, and the k-means centres of each class.

    The summary averages over all prototypes (resp. random points, features), not over classes.
    """
    rng = np.random.default_rng(seed)
    classes = [c for c in prototypes if np.any(real.labels == c)]
    if not classes:
        raise ValueError(
            "prototype_geometry: no unseen class has both prototypes and real test_unseen features"
        )
    centres = {c: kmeans_centres(real.features[real.labels == c], n_clusters, seed) for c in classes}
    all_centres = np.concatenate([centres[c] for c in classes])
    centre_class = np.concatenate([np.full(len(centres[c]), c) for c in classes])
    records, pooled = [], {"prototype": [], "span": [], "box": [], "feature": [], "own": []}
    for c in classes:
        own_features = real.features[real.labels == c]
        class_prototypes = prototypes[c]
        norm = float(np.linalg.norm(class_prototypes, axis=1).mean())
        distances = {
            "prototype": nearest_distances(class_prototypes, centres[c]),
            "span": nearest_distances(
                random_span_points(real.seen_class_means, n_random_per_class, norm, rng), centres[c]
            ),
            "box": nearest_distances(random_box_points(own_features, n_random_per_class, rng), centres[c]),
            "feature": nearest_distances(own_features, centres[c]),
        }
        nearest_any = np.argmin(
            ((class_prototypes[:, None, :] - all_centres[None, :, :]) ** 2).sum(-1), axis=1
        )
        own = centre_class[nearest_any] == c
        for key, values in distances.items():
            pooled[key].append(values)
        pooled["own"].append(own)
        records.append(
            {
                "class_index": int(c),
                "n_features": int(len(own_features)),
                "n_prototypes": int(len(class_prototypes)),
                "n_centres": int(len(centres[c])),
                "prototype_distance": float(distances["prototype"].mean()),
                "random_span_distance": float(distances["span"].mean()),
                "random_box_distance": float(distances["box"].mean()),
                "feature_distance": float(distances["feature"].mean()),
                "own_class_rate": float(own.mean()),
            }
        )
    mean = {key: float(np.concatenate(values).mean()) for key, values in pooled.items()}
    summary = {
        "prototype_distance": mean["prototype"],
        "random_span_distance": mean["span"],
        "random_box_distance": mean["box"],
        "feature_distance": mean["feature"],
        "own_class_rate": mean["own"],
        "ratio_to_random_span": mean["prototype"] / mean["span"],
        "ratio_to_random_box": mean["prototype"] / mean["box"],
        "n_classes": float(len(classes)),
        "n_clusters": float(n_clusters),
    }
    return pd.DataFrame.from_records(records), summary, centres


def visualisation_points(
    real: UnseenClassFeatures,
    prototypes: dict[int, np.ndarray],
    centres: dict[int, np.ndarray],
    max_classes: int = 10,
    max_features_per_class: int = 100,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows to embed together: (points, kinds, class labels) for the first ``max_classes`` classes."""
    rng = np.random.default_rng(seed)
    points, kinds, labels = [], [], []
    for c in sorted(centres)[:max_classes]:
        rows = np.flatnonzero(real.labels == c)
        if len(rows) > max_features_per_class:
            rows = np.sort(rng.choice(rows, max_features_per_class, replace=False))
        for kind, block in (
            ("feature", real.features[rows]),
            ("centre", centres[c]),
            ("prototype", prototypes[c]),
        ):
            points.append(np.asarray(block, dtype=np.float64))
            kinds.extend([kind] * len(block))
            labels.extend([c] * len(block))
    return np.concatenate(points), np.asarray(kinds), np.asarray(labels)


def tsne_embedding(
    points: np.ndarray, perplexity: float = 30.0, seed: int = 0, max_iter: int = 1000
) -> np.ndarray:
    """(n, 2) t-SNE of ``points`` (after PCA to at most :data:`TSNE_PCA_COMPONENTS` dimensions).

    ``max_iter`` (>= 250, the early-exaggeration phase): gradient steps in all.
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    if len(points) < 5:
        raise ValueError(f"tsne_embedding: expected at least 5 points, got {len(points)}")
    n_components = min(TSNE_PCA_COMPONENTS, points.shape[1], len(points))
    reduced = PCA(n_components=n_components, random_state=seed).fit_transform(points)
    perplexity = float(min(perplexity, (len(points) - 1) / 3))
    return TSNE(
        n_components=2, perplexity=perplexity, init="pca", random_state=seed, max_iter=max_iter
    ).fit_transform(reduced)
