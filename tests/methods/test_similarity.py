import numpy as np
import pytest

from fsigenz.methods.similarity import build_target_tables, class_similarity


def test_hand_computed_similarity_with_an_empty_row():
    # a1 = a2 = (1, 0), a3 = (0, 1), ϕ = 1.
    # Class 1 from {a2, a3} (an identity basis): s = (I + I)⁻¹ a1 = (0.5, 0) → row (0, 1, 0).
    # Class 3 from {a1, a2}: Aᵀ a3 = 0 → s = 0, every entry clipped → uniform over others.
    attributes = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    expected = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.5, 0.5, 0.0]])
    np.testing.assert_allclose(class_similarity(attributes, phi=1.0), expected, atol=1e-12)


def test_closed_form_matches_per_class_ridge_solves():
    rng = np.random.default_rng(0)
    attributes = np.abs(rng.normal(size=(6, 9)))
    phi, clip = 0.5, 1e-3
    similarity = class_similarity(attributes, phi=phi, clip=clip)
    expected = np.zeros((9, 9))
    for p in range(9):
        others = [q for q in range(9) if q != p]
        basis = attributes[:, others]
        weights = np.linalg.solve(basis.T @ basis + phi * np.eye(8), basis.T @ attributes[:, p])
        weights[weights < clip] = 0.0
        expected[p, others] = weights / weights.sum()
    np.testing.assert_allclose(similarity, expected, atol=1e-10)
    np.testing.assert_allclose(similarity.sum(axis=1), 1.0)
    np.testing.assert_array_equal(np.diag(similarity), 0.0)
    assert similarity.min() >= 0.0


def test_rows_sum_to_one_when_classes_outnumber_attributes():
    rng = np.random.default_rng(1)
    similarity = class_similarity(rng.normal(size=(5, 40)))
    np.testing.assert_allclose(similarity.sum(axis=1), 1.0)
    np.testing.assert_array_equal(np.diag(similarity), 0.0)


# Seen {0, 1}, unseen {2, 3}.
SIMILARITY = np.array(
    [
        [0.0, 0.5, 0.3, 0.2],
        [0.4, 0.0, 0.1, 0.5],
        [0.25, 0.25, 0.0, 0.5],
        [0.1, 0.2, 0.7, 0.0],
    ]
)


def test_target_tables_match_the_spec_by_hand():
    tables = build_target_tables(SIMILARITY, np.array([0, 1]), np.array([2, 3]), dpsr_enabled=True)
    # Real rows: one-hot over seen columns; unseen part renormalised:
    # (0.3, 0.2) / 0.5 and (0.1, 0.5) / 0.6.
    np.testing.assert_allclose(tables.targets[0, 0], [1.0, 0.0, 0.6, 0.4], rtol=1e-6)
    np.testing.assert_allclose(tables.targets[0, 1], [0.0, 1.0, 1 / 6, 5 / 6], rtol=1e-6)
    # Prototype rows: 1 at the own class, S̃ elsewhere.
    np.testing.assert_allclose(tables.targets[1, 2], [0.25, 0.25, 1.0, 0.5])
    np.testing.assert_allclose(tables.targets[1, 3], [0.1, 0.2, 0.7, 1.0], rtol=1e-6)
    np.testing.assert_array_equal(tables.seen_group, [[True, True, False, False], [False] * 4])
    np.testing.assert_array_equal(tables.unseen_group, [[False, False, True, True], [True] * 4])
    np.testing.assert_array_equal(tables.valid_rows, [[True, True, False, False], [False, False, True, True]])
    assert np.isnan(tables.targets[0, 2]).all() and np.isnan(tables.targets[1, 0]).all()

    targets, seen_mask, unseen_mask = tables.gather(np.array([False, True]), np.array([1, 3]))
    np.testing.assert_allclose(targets, [[0.0, 1.0, 1 / 6, 5 / 6], [0.1, 0.2, 0.7, 1.0]], rtol=1e-6)
    np.testing.assert_array_equal(seen_mask, [[True, True, False, False], [False] * 4])
    np.testing.assert_array_equal(unseen_mask, [[False, False, True, True], [True] * 4])


def test_interleaved_class_order():
    tables = build_target_tables(SIMILARITY, np.array([3, 1]), np.array([0, 2]))
    # Real class 3: unseen columns {0, 2} carry (0.1, 0.7) / 0.8.
    np.testing.assert_allclose(tables.targets[0, 3], [0.125, 0.0, 0.875, 1.0], rtol=1e-6)
    np.testing.assert_allclose(tables.targets[1, 0], [1.0, 0.5, 0.3, 0.2])


def test_dpsr_disabled_gives_one_hot_and_a_single_group():
    tables = build_target_tables(None, np.array([0, 1]), np.array([2, 3]), dpsr_enabled=False)
    np.testing.assert_array_equal(tables.targets[0, 1], [0, 1, 0, 0])
    np.testing.assert_array_equal(tables.targets[1, 2], [0, 0, 1, 0])
    assert tables.seen_group.all() and not tables.unseen_group.any()


def test_bad_class_split_is_rejected():
    with pytest.raises(ValueError, match="seen_classes, unseen_classes"):
        build_target_tables(SIMILARITY, np.array([0, 1]), np.array([1, 3]))
    with pytest.raises(ValueError, match=r"similarity: expected a square"):
        build_target_tables(SIMILARITY[:3], np.array([0, 1]), np.array([2]))
