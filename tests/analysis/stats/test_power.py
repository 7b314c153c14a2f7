"""Power and sample size for two means, checked against textbook values."""

from __future__ import annotations

import pytest

from analysis.stats.power import detectable_difference, power_two_means, sample_size_two_means


def test_it_gives_the_textbook_sample_size_for_half_an_sd() -> None:
    # d = 0.5, 80% power, two-sided .05: 64 per group by t, 63 by normal (2 (1.96+0.84)^2/0.25).
    assert sample_size_two_means(difference=0.5, sd=1.0) == 64
    assert sample_size_two_means(difference=0.5, sd=1.0, method="normal") == 63


def test_the_protocol_was_powered_for_about_5_points() -> None:
    # Protocol "Sample size": SD 7, 80% power, 30 per arm -> about 5 points. R 4.2.2:
    # power.t.test(n = 30, sd = 7, power = 0.8)$delta = 5.149341276 (the module docstring's 5.149).
    assert detectable_difference(sd=7.0, n_per_group=30) == pytest.approx(5.149341276, abs=1e-5)
    assert detectable_difference(sd=7.0, n_per_group=30, method="normal") == pytest.approx(5.07, abs=0.01)


def test_power_and_sample_size_are_inverse() -> None:
    n = sample_size_two_means(difference=5.0, sd=7.0)
    assert power_two_means(difference=5.0, sd=7.0, n_per_group=n) >= 0.8
    assert power_two_means(difference=5.0, sd=7.0, n_per_group=n - 1) < 0.8


def test_it_rejects_an_unknown_method() -> None:
    with pytest.raises(ValueError, match="method"):
        power_two_means(difference=1.0, sd=1.0, n_per_group=10, method="exact")  # type: ignore[arg-type]
