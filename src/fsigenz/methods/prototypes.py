"""Group-level prototypes of unseen classes, method notes "Phase 1b".

For every unseen class u and every λ_k of a log-spaced grid, reconstruct its attribute vector from
the seen classes' attributes and map the reconstruction coefficients onto the seen class means:

    α_k   = argmin_α ‖a_u − A_s α‖² + λ_k ‖α‖²      (ridge)
          = A_sᵀ (A_s A_sᵀ + λ_k I)⁻¹ a_u
    μ_u,k = M_s α_k

Names: ``seen_attributes`` is A_s (m, K); ``unseen_attributes`` holds the a_u as columns (m, L);
``class_means_`` is M_sᵀ (K, d), one row per seen class, so M_s = ``class_means_.T``; the prototypes
μ_u,k are returned as (L, P, d), P = ``n_prototypes`` = the number of λ values.

Ridge is solved in closed form through one thin SVD A_s = U Σ Vᵀ, valid whether K < m or K > m:
A_sᵀ (A_s A_sᵀ + λ I)⁻¹ = V diag(σ / (σ² + λ)) Uᵀ, so every λ and every unseen class costs only
small matrix products. ``solver="lasso"`` swaps the squared penalty for an L1 one (true sparse
coding): α_k = argmin_α ‖a_u − A_s α‖² + λ_k ‖α‖₁, solved by :class:`sklearn.linear_model.Lasso`.
scikit-learn minimises (1 / (2m)) ‖y − Xw‖² + alpha ‖w‖₁, so ``alpha = λ / (2m)`` keeps λ on the
same scale as under ridge. Above λ = 2 ‖A_sᵀ a_u‖_∞ the lasso solution is α = 0, a zero prototype;
the generator warns when that happens (lower ``lambda_max``).
"""

from __future__ import annotations

import warnings

import numpy as np

SOLVERS = ("ridge", "lasso")
RESCALE_MODES = ("class_mean_norm", "feature_norm", "none")
LASSO_MAX_ITER = 10_000
LASSO_TOLERANCE = 1e-4  # coordinate-descent duality-gap tolerance (the sklearn default)
# Prototypes shorter than this are left unscaled: scaling a (near) zero vector amplifies noise.
MIN_PROTOTYPE_NORM = 1e-12


class PrototypeGenerator:
    """Ridge (or lasso) reconstruction prototypes for unseen classes.

    Parameters
    ----------
    n_prototypes:
        P, the number of λ values, hence of prototypes per unseen class (0 gives none).
    lambda_min, lambda_max:
        Ends of the log-spaced λ grid (both > 0).
    solver:
        ``"ridge"`` (closed form, default) or ``"lasso"``.
    rescale:
        ``"class_mean_norm"`` (default): every prototype is rescaled to the mean L2 norm of the seen
        class means; ``"feature_norm"``: to the mean L2 norm of the individual training features;
        ``"none"``: raw M_s α (shrinks towards 0 as λ grows).

    Fitted attributes
    -----------------
    class_means_: (K, d) float64, row k = mean feature of seen class k [M_sᵀ].
    target_norm_: the norm prototypes are rescaled to (``None`` with ``rescale="none"``).
    lambdas_: (P,) the λ grid.
    """

    def __init__(
        self,
        n_prototypes: int = 20,
        lambda_min: float = 1e-3,
        lambda_max: float = 1e1,
        solver: str = "ridge",
        rescale: str = "class_mean_norm",
    ) -> None:
        self.n_prototypes = n_prototypes
        self.lambda_min = lambda_min
        self.lambda_max = lambda_max
        self.solver = solver
        self.rescale = rescale

    def _validate_parameters(self) -> None:
        if int(self.n_prototypes) != self.n_prototypes or self.n_prototypes < 0:
            raise ValueError(f"n_prototypes: expected an integer >= 0, got {self.n_prototypes!r}")
        if not 0 < self.lambda_min <= self.lambda_max:
            raise ValueError(
                "lambda_min, lambda_max: expected 0 < lambda_min <= lambda_max, "
                f"got {self.lambda_min}, {self.lambda_max}"
            )
        if self.solver not in SOLVERS:
            raise ValueError(f"solver: expected one of {SOLVERS}, got {self.solver!r}")
        if self.rescale not in RESCALE_MODES:
            raise ValueError(f"rescale: expected one of {RESCALE_MODES}, got {self.rescale!r}")

    def fit(
        self, seen_attributes: np.ndarray, features: np.ndarray, labels: np.ndarray
    ) -> PrototypeGenerator:
        """Store A_s, compute M_s from (features, labels) and the rescaling norm.

        ``seen_attributes``: (m, K); ``features``: (N, d) of seen classes only; ``labels``: (N,)
        integers in 0..K-1 (column index into ``seen_attributes``; every class needs a sample).
        """
        self._validate_parameters()
        seen_attributes = np.asarray(seen_attributes, dtype=np.float64)
        if seen_attributes.ndim != 2 or seen_attributes.size == 0:
            raise ValueError(
                "seen_attributes: expected a non-empty (m, K) matrix, one column per seen class, "
                f"got shape {seen_attributes.shape}"
            )
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[0] == 0:
            raise ValueError(f"features: expected a non-empty (N, d) matrix, got {features.shape}")
        labels = np.asarray(labels)
        if labels.shape != (features.shape[0],):
            raise ValueError(
                f"labels: expected shape ({features.shape[0]},) to match features, got {labels.shape}"
            )
        n_seen = seen_attributes.shape[1]
        integer = np.issubdtype(labels.dtype, np.integer)
        if not integer or labels.min() < 0 or labels.max() >= n_seen:
            raise ValueError(
                f"labels: expected integers in 0..{n_seen - 1} (columns of seen_attributes), "
                f"got dtype {labels.dtype}, range [{labels.min()}, {labels.max()}]"
            )
        counts = np.bincount(labels, minlength=n_seen)
        if np.any(counts == 0):
            missing = np.flatnonzero(counts == 0)[:10].tolist()
            raise ValueError(f"labels: seen classes without any sample (first ones): {missing}")

        sums = np.zeros((n_seen, features.shape[1]))
        np.add.at(sums, labels, features)
        self.class_means_ = sums / counts[:, None]
        self.seen_attributes_ = seen_attributes
        if self.rescale == "class_mean_norm":
            self.target_norm_ = float(np.linalg.norm(self.class_means_, axis=1).mean())
        elif self.rescale == "feature_norm":
            self.target_norm_ = float(np.linalg.norm(features, axis=1).mean())
        else:
            self.target_norm_ = None
        self.lambdas_ = np.geomspace(self.lambda_min, self.lambda_max, int(self.n_prototypes))
        # One thin SVD serves every λ and every unseen class (ridge only).
        self._left, self._singular, self._right_t = np.linalg.svd(seen_attributes, full_matrices=False)
        return self

    def reconstruction_coefficients(self, unseen_attributes: np.ndarray) -> np.ndarray:
        """α for every unseen class and λ: (L, P, K); α[l, k] reconstructs column l from A_s."""
        if not hasattr(self, "class_means_"):
            raise RuntimeError("PrototypeGenerator used before fit")
        unseen_attributes = np.asarray(unseen_attributes, dtype=np.float64)
        n_attributes, n_seen = self.seen_attributes_.shape
        if unseen_attributes.ndim != 2 or unseen_attributes.shape[0] != n_attributes:
            raise ValueError(
                f"unseen_attributes: expected ({n_attributes}, L), one column per unseen class, "
                f"got shape {unseen_attributes.shape}"
            )
        if self.solver == "ridge":
            return self._ridge_coefficients(unseen_attributes)
        return self._lasso_coefficients(unseen_attributes)

    def _ridge_coefficients(self, unseen_attributes: np.ndarray) -> np.ndarray:
        # α = V diag(σ / (σ² + λ)) Uᵀ a_u, for all (u, λ) at once.
        projected = self._left.T @ unseen_attributes  # (r, L)
        sigma = self._singular
        filters = sigma[None, :] / (sigma[None, :] ** 2 + self.lambdas_[:, None])  # (P, r)
        spectral = filters[None, :, :] * projected.T[:, None, :]  # (L, P, r)
        return spectral @ self._right_t  # (L, P, K)

    def _lasso_coefficients(self, unseen_attributes: np.ndarray) -> np.ndarray:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import Lasso

        n_attributes = self.seen_attributes_.shape[0]
        n_unseen = unseen_attributes.shape[1]
        coefficients = np.zeros((n_unseen, len(self.lambdas_), self.seen_attributes_.shape[1]))
        # Largest λ first so each warm start begins from the sparser neighbouring solution.
        order = np.argsort(self.lambdas_)[::-1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for unseen in range(n_unseen):
                lasso = Lasso(
                    fit_intercept=False,
                    warm_start=True,
                    max_iter=LASSO_MAX_ITER,
                    tol=LASSO_TOLERANCE,
                )
                for k in order:
                    # sklearn scales the data term by 1 / (2m); see the module docstring.
                    lasso.set_params(alpha=float(self.lambdas_[k]) / (2 * n_attributes))
                    lasso.fit(self.seen_attributes_, unseen_attributes[:, unseen])
                    coefficients[unseen, k] = lasso.coef_
        return coefficients

    def generate(self, unseen_attributes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Prototypes μ_u,k = M_s α_k for the unseen columns (m, L).

        Returns ``(prototypes, lambdas)``: prototypes (L, P, d) float32, row [l, k] built with
        λ = lambdas[k]; lambdas (P,) float64.
        """
        coefficients = self.reconstruction_coefficients(unseen_attributes)
        all_zero = ~np.any(coefficients != 0.0, axis=2)
        if np.any(all_zero):
            warnings.warn(
                f"{int(all_zero.sum())} of {all_zero.size} prototypes have all-zero coefficients "
                f"(λ too large for solver={self.solver!r}); they sit at the origin of the feature "
                "space. Lower lambda_max.",
                stacklevel=2,
            )
        prototypes = coefficients @ self.class_means_  # (L, P, d)
        if self.target_norm_ is not None:
            norms = np.linalg.norm(prototypes, axis=2, keepdims=True)
            safe_norms = np.maximum(norms, MIN_PROTOTYPE_NORM)
            scale = np.where(norms > MIN_PROTOTYPE_NORM, self.target_norm_ / safe_norms, 1.0)
            prototypes = prototypes * scale
        return np.ascontiguousarray(prototypes, dtype=np.float32), self.lambdas_.copy()
