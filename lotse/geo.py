"""Distances on the earth, and the boxes of degrees that hold a circle around a point.

Every package measures with these, so a search radius, an eligibility rule and a simulated
world agree on what "within 25 km" means. The earth is a sphere of the mean radius here: at
the distances that matter (a town, a district) the ellipsoid differs by well under a percent.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: Mean earth radius (IUGG), in km.
EARTH_RADIUS_KM = 6371.0088
#: Length of one degree of latitude (and of longitude at the equator) on that sphere, in km.
KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180.0
#: Boxes never reach closer to a pole than this latitude: the degrees of longitude a
#: circle spans grow without bound there, and no offer lies so far north.
_MAX_BOX_LATITUDE = 89.0


def haversine_km(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> Any:
    """Great-circle distance in km (≥ 0); works on floats and numpy arrays alike (NaN in,
    NaN out)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """``haversine_km`` for one pair of plain floats, without numpy's per-call cost."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, max(0.0, a))))


def box_degrees(latitude: float, radius_km: float) -> tuple[float, float]:
    """Half-height and half-width, in degrees, of a box centred on a point at ``latitude``
    that holds every point within ``radius_km`` of it (a superset of the circle).

    The width is taken at the circle's edge nearest the pole, where a degree of longitude is
    shortest, so the box is never too narrow.
    """
    dlat = radius_km / KM_PER_DEGREE
    coslat = math.cos(math.radians(min(abs(latitude) + dlat, _MAX_BOX_LATITUDE)))
    return dlat, radius_km / (KM_PER_DEGREE * coslat)
