"""Finding offers that look like the same real-world offer, to report, never to merge.

Two offers are candidates when they share a municipality and category (the block) or a
provider; within a block, titles are normalised (case, umlauts, punctuation, common
abbreviations such as "VHS", German adjective endings) and compared with rapidfuzz.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from catalog.tables import Offer

#: Similarity (0–1) from which two offers are reported as likely duplicates.
DUPLICATE_THRESHOLD = 0.85

ABBREVIATIONS = {
    "vhs": "volkshochschule",
    "kita": "kindertagesstaette",
    "kitas": "kindertagesstaette",
    "jmd": "jugendmigrationsdienst",
    "mbe": "migrationsberatung",
    "bamf": "bundesamt",
    "awo": "arbeiterwohlfahrt",
    "drk": "rotes kreuz",
    "ev": "",
    "e": "",
    "v": "",
    "ggmbh": "",
    "gmbh": "",
}
_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_NON_WORD = re.compile(r"[^a-z0-9]+")
_ENDING = re.compile(r"(er|es|en|em|e)$")


def normalise(text: str) -> str:
    """A comparison key: folded, unabbreviated, endings stripped, unique words sorted."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_FOLD)
    words = []
    for word in _NON_WORD.sub(" ", text).split():
        word = ABBREVIATIONS.get(word, word)
        for part in word.split():
            words.append(_ENDING.sub("", part) if len(part) > 5 else part)
    return " ".join(sorted({w for w in words if w}))


def similarity(a: str, b: str) -> float:
    """Similarity of two normalised keys in [0, 1] (keys are sorted, so order does not matter)."""
    return fuzz.ratio(a, b) / 100.0


def offer_key(title: str, organization: str) -> str:
    """What identifies an offer for duplicate checks: its title and its provider."""
    return normalise(f"{title} {organization}")


def similar_offers(session: Session, offer: Offer, limit: int = 5) -> list[dict[str, Any]]:
    """Existing offers (any agency) that resemble ``offer``, most similar first."""
    candidates = session.execute(
        select(Offer.id, Offer.title, Offer.organization).where(
            Offer.id != offer.id,
            Offer.archived.is_(False),
            or_(
                (Offer.municipality == offer.municipality) & (Offer.category == offer.category),
                Offer.organization == offer.organization,
            ),
        )
    ).all()
    if not candidates:
        return []
    key = offer_key(offer.title, offer.organization)
    keys = [offer_key(c.title, c.organization) for c in candidates]
    found = process.extract(
        key, keys, scorer=fuzz.ratio, limit=limit, score_cutoff=DUPLICATE_THRESHOLD * 100
    )
    return [
        {
            "offer_id": candidates[i].id,
            "title": candidates[i].title,
            "similarity": round(score / 100.0, 3),
        }
        for _k, score, i in found
    ]
