"""Random numbers for the generator: independent, seeded streams and the small helpers on them.

Determinism: the population depends only on ``(n, seed, today, recruitment_days, protocol)``; a
course only on ``(seed, participant, arm, today, protocol)``. Every course draws from its own
stream, keyed by ``(seed, participant.index, arm)``, so it does not change when other participants
are added or generated in a different batch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

# Independent random streams, so population and course draws never overlap.
POPULATION_STREAM: Final = 1
COURSE_STREAM: Final = 2


def population_rng(seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, POPULATION_STREAM])


class CourseDraws:
    """All random numbers of a batch of courses, one independent stream per participant.

    Each participant's numbers come from two fixed-size draws of its own generator (normals, then
    uniforms), laid out in named blocks, so a course is the same whether generated alone or in a
    batch of ten thousand; the maths on them is then vectorised across the batch.
    """

    def __init__(
        self,
        streams: Sequence[tuple[int, int]],
        *,
        seed: int,
        normal_blocks: Sequence[tuple[str, int]],
        uniform_blocks: Sequence[tuple[str, int]],
    ) -> None:
        """`streams`: (participant index, arm stream number) per row."""
        self._normal_slices = _layout(normal_blocks)
        self._uniform_slices = _layout(uniform_blocks)
        n_normal = max((s.stop for s in self._normal_slices.values()), default=0)
        n_uniform = max((s.stop for s in self._uniform_slices.values()), default=0)
        self.normals = np.empty((len(streams), n_normal))
        self.uniforms = np.empty((len(streams), n_uniform))
        for row, (index, arm_stream) in enumerate(streams):
            rng = np.random.default_rng([seed, COURSE_STREAM, index, arm_stream])
            self.normals[row] = rng.standard_normal(n_normal)
            self.uniforms[row] = rng.random(n_uniform)

    def normal(self, name: str) -> FloatArray:
        return self.normals[:, self._normal_slices[name]]

    def uniform(self, name: str) -> FloatArray:
        return self.uniforms[:, self._uniform_slices[name]]


def _layout(widths: Sequence[tuple[str, int]]) -> dict[str, slice]:
    slices: dict[str, slice] = {}
    start = 0
    for name, width in widths:
        slices[name] = slice(start, start + width)
        start += width
    return slices


def pick(options: Sequence[str], probabilities: Sequence[float], u: float) -> str:
    """The option a uniform `u` falls on, given the options' probabilities."""
    cumulative = 0.0
    for option, probability in zip(options, probabilities, strict=True):
        cumulative += probability
        if u < cumulative:
            return option
    return options[-1]


def ar1_from_zero(innovations: FloatArray, week: FloatArray, sd: float, weekly_correlation: float) -> FloatArray:
    """Continuous-time AR(1) residuals at `week`, zero at the first visit (baseline)."""
    out = np.zeros_like(innovations)
    for j in range(1, innovations.shape[1]):
        carry = weekly_correlation ** (week[j] - week[j - 1])
        out[:, j] = carry * out[:, j - 1] + sd * math.sqrt(1 - carry**2) * innovations[:, j]
    return out


def redraw_above(rng: np.random.Generator, z: FloatArray, cap: float) -> FloatArray:
    """Standard normal scores truncated at `cap`: those above it are drawn again."""
    z = z.copy()
    above = z >= cap
    while above.any():
        z[above] = rng.standard_normal(int(above.sum()))
        above = z >= cap
    return z


def lognormal_parameters(mean: float, sd: float) -> tuple[float, float]:
    """(mu, sigma) of the log-normal with this arithmetic mean and SD."""
    sigma_squared = math.log(1 + (sd / mean) ** 2)
    return math.log(mean) - sigma_squared / 2, math.sqrt(sigma_squared)
