"""FID / KID arithmetic against direct computations, and the FID Inception built from the shipped weights."""

import numpy as np
import pytest
import scipy.linalg
import torch

from pipelines.metrics.distances import (
    feature_statistics,
    frechet_distance,
    frechet_distance_of_features,
    kernel_distance,
    polynomial_mmd2,
)


def gaussian(
    n: int, dim: int, seed: int, shift: float = 0.0, scale: float = 1.0, draw: int = 0
) -> torch.Tensor:
    """n samples of a correlated Gaussian fixed by `seed`; `draw` picks an independent sample of it."""
    mixing = torch.randn(dim, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    generator = torch.Generator().manual_seed(1000 * draw + seed + 1)
    return (torch.randn(n, dim, generator=generator, dtype=torch.float64) @ mixing) / dim**0.5 * scale + shift


def direct_frechet(a: np.ndarray, b: np.ndarray) -> float:
    """The textbook formula with scipy's matrix square root."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


@pytest.mark.parametrize(("n", "dim"), [(300, 6), (12, 40)])  # full-rank path, then the sample-space path
def test_frechet_distance_matches_scipy_on_small_gaussians(n, dim):
    a, b = gaussian(n, dim, 0), gaussian(n + 3, dim, 1, shift=0.3, scale=1.5)
    expected = direct_frechet(a.numpy(), b.numpy())
    assert frechet_distance_of_features(a, b) == pytest.approx(expected, rel=1e-6, abs=1e-8)


def test_both_frechet_paths_agree():
    a, b = gaussian(10, 30, 2), gaussian(14, 30, 3, shift=-0.2)
    stats = frechet_distance(*feature_statistics(a), *feature_statistics(b))
    assert frechet_distance_of_features(a, b) == pytest.approx(stats, rel=1e-6)


def test_frechet_of_a_set_against_itself_is_zero_and_grows_with_noise():
    a = gaussian(200, 16, 4)
    noise = gaussian(200, 16, 5)
    values = [frechet_distance_of_features(a, a + level * noise) for level in (0.0, 0.3, 1.0, 3.0)]
    assert values[0] == pytest.approx(0.0, abs=1e-9)
    assert values == sorted(values) and values[1] > 1e-3


def test_kernel_distance_matches_direct_computation():
    a, b = gaussian(20, 5, 6).numpy(), gaussian(25, 5, 7, shift=0.5).numpy()

    def kernel(x, y):
        return (x @ y.T / x.shape[1] + 1) ** 3

    m, n = len(a), len(b)
    k_aa, k_bb = kernel(a, a), kernel(b, b)
    expected = (
        (k_aa.sum() - np.trace(k_aa)) / (m * (m - 1))
        + (k_bb.sum() - np.trace(k_bb)) / (n * (n - 1))
        - 2 * kernel(a, b).mean()
    )
    assert polynomial_mmd2(torch.from_numpy(a), torch.from_numpy(b)) == pytest.approx(expected, rel=1e-9)
    # one subset holding every sample is the plain unbiased MMD² whatever the order
    kid = kernel_distance(torch.from_numpy(a), torch.from_numpy(a[:, :]), num_subsets=1, subset_size=100)
    assert kid.subset_size == 20 and kid.std == 0.0 and kid.num_subsets == 1


def test_kid_is_near_zero_within_a_distribution_and_grows_with_noise():
    # KID's unbiased estimate assumes independent sets: compare with a fresh draw of the same Gaussian
    a, other = gaussian(200, 16, 8), gaussian(200, 16, 8, draw=1)
    noise = gaussian(200, 16, 10)
    kids = [
        kernel_distance(a, other + level * noise, num_subsets=50, subset_size=100).mean for level in (0, 1, 3)
    ]
    assert abs(kids[0]) < 0.05
    assert kids[0] < kids[1] < kids[2]
    # against the very same set the unbiased estimate is slightly negative (the diagonal is left out)
    assert kids[1] > 0.1 and kernel_distance(a, a, num_subsets=1).mean <= 0
    first = kernel_distance(a, a + noise, num_subsets=5, subset_size=30, seed=3)
    assert first == kernel_distance(a, a + noise, num_subsets=5, subset_size=30, seed=3)
