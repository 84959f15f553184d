"""Distances between two sets of features: the Fréchet distance (FID) and the kernel distance (KID).

Pure torch in float64, so tests can check them against a direct computation and any feature extractor
(Inception-v3 for FID/KID proper) can feed them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class KernelDistance:
    """KID: the unbiased MMD² with a cubic polynomial kernel, averaged over random subsets."""

    mean: float
    """Mean MMD² over the subsets."""
    std: float
    """Standard deviation over the subsets (0 for a single subset)."""
    subset_size: int
    """Samples drawn from each set per subset."""
    num_subsets: int


def feature_statistics(features: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and unbiased covariance of a feature set.

    Args:
        features: (N, D), N >= 2.

    Returns:
        mean (D,) and covariance (D, D), float64.
    """
    features = features.double()
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"need at least 2 feature rows of shape (N, D), got {tuple(features.shape)}")
    mean = features.mean(dim=0)
    centred = features - mean
    return mean, centred.T @ centred / (features.shape[0] - 1)


def frechet_distance(mean_a: Tensor, cov_a: Tensor, mean_b: Tensor, cov_b: Tensor) -> float:
    """Fréchet distance between the Gaussians N(mean_a, cov_a) and N(mean_b, cov_b).

    d² = |μa − μb|² + tr(Σa) + tr(Σb) − 2 tr((Σa Σb)^½). The last trace is computed as the sum of square
    roots of the eigenvalues of the symmetric matrix Σa^½ Σb Σa^½ (same spectrum as Σa Σb), which stays
    real and stable for the rank-deficient covariances of small sample sets.

    Args:
        mean_a, mean_b: (D,). cov_a, cov_b: (D, D) symmetric positive semi-definite.
    """
    mean_a, cov_a, mean_b, cov_b = (t.double() for t in (mean_a, cov_a, mean_b, cov_b))
    root_a = _psd_sqrt(cov_a)
    middle = root_a @ cov_b @ root_a
    eigenvalues = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0)
    diff = mean_a - mean_b
    value = diff @ diff + torch.trace(cov_a) + torch.trace(cov_b) - 2 * eigenvalues.sqrt().sum()
    return max(float(value), 0.0)


def frechet_distance_of_features(features_a: Tensor, features_b: Tensor) -> float:
    """FID-style distance between two feature sets (N, D) and (M, D), N, M >= 2.

    With fewer samples than dimensions (the usual case on a CPU: 2048-d Inception features) the covariances
    have rank < D and the trace term is computed in sample space: with centred features Xa, Xb,
    tr((Σa Σb)^½) is the nuclear norm of Xa Xbᵀ / √((N−1)(M−1)) (the non-zero eigenvalues of Σa Σb are the
    squared singular values of that N x M matrix), which avoids two D x D eigendecompositions.
    """
    count_a, count_b, dim = features_a.shape[0], features_b.shape[0], features_a.shape[1]
    if max(count_a, count_b) >= dim:
        return frechet_distance(*feature_statistics(features_a), *feature_statistics(features_b))
    mean_a, mean_b = (f.double().mean(dim=0) for f in (features_a, features_b))
    if min(count_a, count_b) < 2:
        raise ValueError("need at least 2 feature rows in each set")
    centred_a, centred_b = features_a.double() - mean_a, features_b.double() - mean_b
    trace_a = centred_a.square().sum() / (count_a - 1)
    trace_b = centred_b.square().sum() / (count_b - 1)
    cross = centred_a @ centred_b.T / ((count_a - 1) * (count_b - 1)) ** 0.5
    diff = mean_a - mean_b
    value = diff @ diff + trace_a + trace_b - 2 * torch.linalg.svdvals(cross).sum()
    return max(float(value), 0.0)


def polynomial_mmd2(features_a: Tensor, features_b: Tensor) -> float:
    """Unbiased MMD² between (m, D) and (n, D) features, kernel k(x, y) = (x·y / D + 1)³ (m, n >= 2)."""
    a, b = features_a.double(), features_b.double()
    dim = a.shape[1]
    k_aa = (a @ a.T / dim + 1) ** 3
    k_bb = (b @ b.T / dim + 1) ** 3
    k_ab = (a @ b.T / dim + 1) ** 3
    m, n = a.shape[0], b.shape[0]
    within_a = (k_aa.sum() - k_aa.diagonal().sum()) / (m * (m - 1))
    within_b = (k_bb.sum() - k_bb.diagonal().sum()) / (n * (n - 1))
    return float(within_a + within_b - 2 * k_ab.mean())


def kernel_distance(
    features_a: Tensor, features_b: Tensor, num_subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> KernelDistance:
    """KID between two feature sets (N, D) and (M, D).

    Each subset draws min(subset_size, N, M) rows of each set without replacement from a CPU generator
    seeded with `seed`, so the result is deterministic. When that takes both whole sets, one subset is used.
    """
    size = min(subset_size, features_a.shape[0], features_b.shape[0])
    if size < 2:
        raise ValueError("KID needs at least 2 samples in each set")
    if size == features_a.shape[0] == features_b.shape[0]:
        num_subsets = 1  # every subset would be both whole sets
    generator = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(num_subsets):
        pick_a = torch.randperm(features_a.shape[0], generator=generator)[:size]
        pick_b = torch.randperm(features_b.shape[0], generator=generator)[:size]
        values.append(
            polynomial_mmd2(
                features_a[pick_a.to(features_a.device)], features_b[pick_b.to(features_b.device)]
            )
        )
    spread = torch.tensor(values, dtype=torch.float64)
    std = float(spread.std()) if num_subsets > 1 else 0.0
    return KernelDistance(float(spread.mean()), std, size, num_subsets)


def _psd_sqrt(matrix: Tensor) -> Tensor:
    """Square root of a symmetric positive semi-definite (D, D) matrix (negative eigenvalues clipped)."""
    eigenvalues, eigenvectors = torch.linalg.eigh((matrix + matrix.T) / 2)
    return (eigenvectors * eigenvalues.clamp(min=0).sqrt()) @ eigenvectors.T
