import numpy as np
import pytest

from fsigenz.methods.prototypes import PrototypeGenerator

# A_s (m=2, K=3), a_u = (1, 0), λ = 1:
#   A_s A_sᵀ + I = [[3, 1], [1, 3]], inverse = [[3, −1], [−1, 3]] / 8,
#   (A_s A_sᵀ + I)⁻¹ a_u = (3, −1) / 8, α = A_sᵀ (3, −1) / 8 = (3, −1, 2) / 8.
# Class means (K=3, d=2): (1, 0), (0, 1), (2, 2)
#   → μ = 3/8 (1, 0) − 1/8 (0, 1) + 2/8 (2, 2) = (7/8, 3/8).
SEEN_ATTRIBUTES = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
CLASS_MEANS = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
UNSEEN = np.array([[1.0], [0.0]])


def _one_sample_per_class(generator):
    return generator.fit(SEEN_ATTRIBUTES, CLASS_MEANS, np.arange(3))


def test_ridge_prototype_matches_hand_computation():
    generator = _one_sample_per_class(
        PrototypeGenerator(n_prototypes=1, lambda_min=1.0, lambda_max=1.0, rescale="none")
    )
    coefficients = generator.reconstruction_coefficients(UNSEEN)
    np.testing.assert_allclose(coefficients[0, 0], [3 / 8, -1 / 8, 2 / 8])
    prototypes, lambdas = generator.generate(UNSEEN)
    assert prototypes.shape == (1, 1, 2) and prototypes.dtype == np.float32
    np.testing.assert_allclose(prototypes[0, 0], [7 / 8, 3 / 8], rtol=1e-6)
    np.testing.assert_allclose(lambdas, [1.0])


def test_class_means_averaged_per_label():
    features = np.array([[0.0, 2.0], [2.0, 0.0], [5.0, 5.0]])
    generator = PrototypeGenerator(n_prototypes=2).fit(np.eye(2), features, np.array([0, 0, 1]))
    np.testing.assert_allclose(generator.class_means_, [[1.0, 1.0], [5.0, 5.0]])


@pytest.mark.parametrize("n_attributes, n_seen", [(8, 5), (5, 12)])  # K < m and K > m (as on SUN)
def test_ridge_closed_form_equals_direct_solves(n_attributes, n_seen):
    rng = np.random.default_rng(0)
    seen_attributes = rng.normal(size=(n_attributes, n_seen))
    features = rng.normal(size=(n_seen * 2, 6))
    labels = np.repeat(np.arange(n_seen), 2)
    unseen = rng.normal(size=(n_attributes, 3))
    generator = PrototypeGenerator(n_prototypes=4, lambda_min=1e-3, lambda_max=1.0, rescale="none")
    generator.fit(seen_attributes, features, labels)
    coefficients = generator.reconstruction_coefficients(unseen)
    prototypes, lambdas = generator.generate(unseen)
    np.testing.assert_allclose(lambdas, [1e-3, 1e-2, 1e-1, 1.0])
    for k, lam in enumerate(lambdas):
        # m × m system: α = A_sᵀ (A_s A_sᵀ + λ I)⁻¹ a_u
        small = seen_attributes.T @ np.linalg.solve(
            seen_attributes @ seen_attributes.T + lam * np.eye(n_attributes), unseen
        )
        # K × K system: α = (A_sᵀ A_s + λ I)⁻¹ A_sᵀ a_u
        large = np.linalg.solve(
            seen_attributes.T @ seen_attributes + lam * np.eye(n_seen), seen_attributes.T @ unseen
        )
        np.testing.assert_allclose(coefficients[:, k].T, small, atol=1e-8)
        np.testing.assert_allclose(coefficients[:, k].T, large, atol=1e-8)
        expected_prototypes = small.T @ generator.class_means_
        np.testing.assert_allclose(prototypes[:, k], expected_prototypes, rtol=1e-4, atol=1e-5)


def test_lasso_gives_sparse_coefficients_that_solve_the_l1_problem():
    rng = np.random.default_rng(1)
    seen_attributes = rng.normal(size=(10, 30))
    unseen = seen_attributes[:, [2]] + 0.5 * seen_attributes[:, [7]]
    generator = PrototypeGenerator(n_prototypes=3, lambda_min=0.1, lambda_max=1.0, solver="lasso")
    generator.fit(seen_attributes, rng.normal(size=(30, 4)), np.arange(30))
    coefficients = generator.reconstruction_coefficients(unseen)
    assert np.all((coefficients != 0).sum(axis=2) < 10)  # most of the 30 are exactly 0
    # Optimality of ‖a_u − A_s α‖² + λ ‖α‖₁: the gradient 2 A_sᵀ (a_u − A_s α) equals λ sign(α)
    # on the support and is at most λ in magnitude off it (up to the solver's tolerance).
    for k, lam in enumerate(generator.lambdas_):
        alpha = coefficients[0, k]
        gradient = 2 * seen_attributes.T @ (unseen[:, 0] - seen_attributes @ alpha)
        support = alpha != 0
        expected = lam * np.sign(alpha[support])
        np.testing.assert_allclose(gradient[support], expected, atol=0.03 * lam)
        assert np.all(np.abs(gradient[~support]) <= 1.03 * lam)
    ridge = PrototypeGenerator(n_prototypes=3, lambda_min=0.1, lambda_max=1.0)
    ridge.fit(seen_attributes, rng.normal(size=(30, 4)), np.arange(30))
    assert np.all(ridge.reconstruction_coefficients(unseen) != 0)


def test_lasso_warns_about_zero_prototypes():
    generator = PrototypeGenerator(n_prototypes=2, lambda_min=1e3, lambda_max=1e4, solver="lasso")
    generator.fit(SEEN_ATTRIBUTES, CLASS_MEANS, np.arange(3))
    with pytest.warns(UserWarning, match="2 of 2 prototypes have all-zero coefficients"):
        generator.generate(UNSEEN)


@pytest.mark.parametrize("rescale", ["class_mean_norm", "feature_norm"])
def test_rescaling_reaches_the_target_norm(rescale):
    rng = np.random.default_rng(2)
    features = rng.normal(size=(40, 5)) + 3.0
    labels = np.repeat(np.arange(8), 5)
    generator = PrototypeGenerator(n_prototypes=5, rescale=rescale)
    generator.fit(rng.normal(size=(6, 8)), features, labels)
    expected = (
        np.linalg.norm(generator.class_means_, axis=1).mean()
        if rescale == "class_mean_norm"
        else np.linalg.norm(features, axis=1).mean()
    )
    assert generator.target_norm_ == pytest.approx(expected)
    prototypes, _ = generator.generate(rng.normal(size=(6, 3)))
    np.testing.assert_allclose(np.linalg.norm(prototypes, axis=2), expected, rtol=1e-5)


def test_zero_prototypes_gives_empty_block():
    generator = _one_sample_per_class(PrototypeGenerator(n_prototypes=0))
    prototypes, lambdas = generator.generate(UNSEEN)
    assert prototypes.shape == (1, 0, 2) and lambdas.shape == (0,)


def test_shape_errors_name_the_argument():
    generator = _one_sample_per_class(PrototypeGenerator())
    with pytest.raises(ValueError, match=r"unseen_attributes: expected \(2, L\).*\(3, 1\)"):
        generator.generate(np.ones((3, 1)))
    with pytest.raises(ValueError, match=r"labels: expected shape \(3,\)"):
        PrototypeGenerator().fit(SEEN_ATTRIBUTES, CLASS_MEANS, np.arange(2))
    with pytest.raises(ValueError, match="without any sample"):
        PrototypeGenerator().fit(SEEN_ATTRIBUTES, CLASS_MEANS, np.array([0, 0, 1]))
