"""PD <-> points, one convention for every model.

points = OFFSET + FACTOR * ln(odds good:bad), FACTOR = PDO / ln 2: 600 points at odds 50:1
(PD 1.96 %), and every 20 points (PDO) double the odds. Higher points = lower risk.
"""

from __future__ import annotations

import math

import numpy as np

BASE_POINTS = 600
BASE_ODDS = 50.0
PDO = 20.0
FACTOR = PDO / math.log(2)
OFFSET = BASE_POINTS - FACTOR * math.log(BASE_ODDS)
_EPS = 1e-6


def points_from_pd(pd: float) -> int:
    pd = min(max(pd, _EPS), 1 - _EPS)
    return round(OFFSET + FACTOR * math.log((1 - pd) / pd))


def points_array(pd: np.ndarray) -> np.ndarray:
    clipped = np.clip(pd, _EPS, 1 - _EPS)
    return np.rint(OFFSET + FACTOR * np.log((1 - clipped) / clipped)).astype(int)


def pd_from_points(points: float) -> float:
    return 1.0 / (1.0 + math.exp((points - OFFSET) / FACTOR))
