"""The one geo module: distances and the boxes that hold a search circle."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lotse.geo import KM_PER_DEGREE, box_degrees, distance_km, haversine_km


def test_one_degree_of_latitude_is_km_per_degree():
    assert haversine_km(50.0, 8.0, 51.0, 8.0) == pytest.approx(KM_PER_DEGREE)
    assert haversine_km(0.0, 0.0, 0.0, 1.0) == pytest.approx(KM_PER_DEGREE)


def test_known_distance_and_zero():
    # Berlin (Brandenburger Tor) to Munich (Marienplatz): about 504 km as the crow flies.
    assert distance_km(52.5163, 13.3777, 48.1374, 11.5755) == pytest.approx(504, abs=2)
    assert distance_km(50.5558, 8.5047, 50.5558, 8.5047) == 0.0


def test_arrays_and_nan():
    d = haversine_km(50.0, 8.0, np.array([50.0, 51.0, np.nan]), np.array([8.0, 8.0, 8.0]))
    assert d[0] == 0.0
    assert d[1] == pytest.approx(KM_PER_DEGREE)
    assert math.isnan(d[2])


lats = st.floats(min_value=-80, max_value=80)
lons = st.floats(min_value=-179, max_value=179)


@given(lats, lons, lats, lons)
def test_scalar_and_vector_forms_agree(lat1, lon1, lat2, lon2):
    assert distance_km(lat1, lon1, lat2, lon2) == pytest.approx(
        float(haversine_km(lat1, lon1, lat2, lon2)), rel=1e-9, abs=1e-9
    )


@given(
    lat=st.floats(min_value=-70, max_value=70),
    lon=st.floats(min_value=-170, max_value=170),
    radius=st.floats(min_value=0.1, max_value=500),
    bearing=st.floats(min_value=0, max_value=2 * math.pi),
    share=st.floats(min_value=0, max_value=0.999),
)
def test_box_holds_every_point_of_the_circle(lat, lon, radius, bearing, share):
    # The point at ``share × radius`` in direction ``bearing`` (spherical destination formula).
    d = share * radius / 6371.0088
    p1, l1 = math.radians(lat), math.radians(lon)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(bearing))
    l2 = l1 + math.atan2(
        math.sin(bearing) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    lat2, lon2 = math.degrees(p2), math.degrees(l2)
    assert distance_km(lat, lon, lat2, lon2) <= radius
    dlat, dlon = box_degrees(lat, radius)
    assert abs(lat2 - lat) <= dlat
    assert abs(lon2 - lon) <= dlon
