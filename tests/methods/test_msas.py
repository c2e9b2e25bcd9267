import numpy as np
import pytest

from fsigenz.methods.msas import MSAS

# Entries sorted: 0.1 0.2 0.3 0.5 0.7 0.9; numpy's linear 0.75-quantile sits at position
# 0.75 · 5 = 3.75 → 0.5 + 0.75 · (0.7 − 0.5) = 0.65. Entries above it: 0.9 and 0.7.
ATTRIBUTES = np.array([[0.1, 0.5, 0.9], [0.3, 0.7, 0.2]])


def test_quantile_threshold_doubles_strong_entries_and_scales():
    msas = MSAS(threshold=0.75, threshold_mode="quantile", weight=2.0).fit(ATTRIBUTES)
    assert msas.threshold_value_ == pytest.approx(0.65)
    expected = np.array([[0.2, 1.0, 3.6], [0.6, 2.8, 0.4]])
    np.testing.assert_allclose(msas.transform(ATTRIBUTES), expected)


def test_absolute_threshold():
    adjusted = MSAS(threshold=0.4, threshold_mode="absolute").fit_transform(ATTRIBUTES)
    np.testing.assert_allclose(adjusted, [[0.1, 1.0, 1.8], [0.3, 1.4, 0.2]])


def test_disabled_is_identity():
    adjusted = MSAS(enabled=False, weight=3.0).fit_transform(ATTRIBUTES)
    np.testing.assert_array_equal(adjusted, ATTRIBUTES)


def test_new_columns_use_the_fitted_threshold():
    msas = MSAS().fit(ATTRIBUTES)
    new_class = np.array([[0.66], [0.64]])
    np.testing.assert_allclose(msas.transform(new_class), [[1.32], [0.64]])


def test_wrong_number_of_attributes_is_named():
    msas = MSAS().fit(ATTRIBUTES)
    with pytest.raises(ValueError, match=r"attributes: expected \(2, C\).*\(3, 1\)"):
        msas.transform(np.ones((3, 1)))


def test_bad_mode_rejected():
    with pytest.raises(ValueError, match="threshold_mode"):
        MSAS(threshold_mode="median").fit(ATTRIBUTES)
