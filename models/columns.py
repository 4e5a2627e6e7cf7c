"""Column names shared by training frames, evaluation and the metrics (one place, one spelling).

A training frame has one row per impression: an offer shown in a served recommendation.
"""

from __future__ import annotations

#: The served recommendation an impression belongs to; metrics rank within it.
QUERY = "request_id"
#: The offer shown.
ITEM = "offer_id"
#: The salted hash of the person's pseudonymous reference (the split keeps people apart).
PERSON = "person_key"
#: When the recommendation was served (the split is out of time on this column).
TIME = "served_at"
#: 1-based rank the offer was shown at, kept so that position bias can be studied.
POSITION = "position"
#: Graded outcome label 0..3 (see ``models.training.LABELS``).
LABEL = "label"
#: The referral status the label came from (``None`` when the offer was not taken up).
STATUS = "status"
#: Whether the offer was referred at all (any status): what position bias acts on.
TAKEN_UP = "taken_up"
#: The exact probability that the serving policy showed the offer at its position.
PROPENSITY = "propensity"
#: The need the offer was shown for, as resolved (the engine's coverage groups by it).
NEED_CODE = "need"
#: The request's exploration record (``None`` when the order was not randomised).
POLICY = "policy"
#: The side of an online comparison that served the request ("control", "challenger", None).
ARM = "arm"
#: The matcher's need category (parent code) the offer was suggested for.
NEED = "need_category"
#: The ranker version that served the recommendation.
SERVED_BY = "model_version"

#: Person-level segments of the evaluation report, and the per-impression one.
PERSON_SEGMENTS: tuple[str, ...] = ("german_level", "municipality", "gender", "residence_status")
SEGMENTS: tuple[str, ...] = (*PERSON_SEGMENTS, NEED)
