"""Reasons and rule explanations are read by counsellors: they speak about the person, in the
third person and without gender ("the person's level is A2", "Niveau der Person: A2"), never
to the person ("your level", "Ihr Niveau"). Only the person's printouts address the person
(``matcher.person_reasons``, domain ``person``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lotse import i18n
from matcher.engine import explain_row, rank_offers
from matcher.person_reasons import offer_reasons
from matcher.rules import RULE_CODES, RULES
from matcher.snapshot import Snapshot
from tests.matcher.catalogue import HAMBURG, SCENARIO, TODAY, offer, resolved, snapshot_of
from tests.matcher.test_rules import offers, profiles

ROOT = Path(__file__).resolve().parents[2]

#: Words that address the reader: English "you", German formal "Sie" and its possessives.
#: German "sie" / "ihr" in lower case (she, they, her, their) are not addresses.
ADDRESS = {
    "en": re.compile(r"\b(you|your|yours|yourself)\b", re.IGNORECASE),
    "de": re.compile(r"\b(Sie|Ihnen|Ihr|Ihre|Ihrem|Ihren|Ihrer|Ihres)\b"),
}

#: The modules whose texts counsellors read about a person (recommendation reasons, rule
#: sentences and why-not explanations).
STAFF_MODULES = ("matcher/reasons.py", "matcher/rules.py")


def addressing(texts, lang: str) -> list[str]:
    return sorted({t for t in texts if ADDRESS[lang].search(t)})


def rich_profile(**overrides):
    """Children (one of them one year old), availability, a regulated profession whose
    recognition is a derived need, a German level, a residence status, benefits, a radius and
    an earliest start: every explanation has something to compare."""
    base = {
        "children_ages": [1, 4],
        "needs": ["Deutschkurs", "Kinderbetreuung", "Beratung"],
        "max_distance_km": 10,
        "benefits": ["sgb2"],
        "earliest_start": "2027-01-01",
    }
    return resolved(**{**base, **overrides})


def catalogue() -> list[dict]:
    """The demo scenario plus offers that pass or fail each rule for ``rich_profile``."""
    restricted = {
        "genders": ["female"],
        "residence_statuses": ["recognised_refugee"],
        "benefits_required": ["sgb2"],
        "literacy_required": True,
        "wheelchair_accessible": True,
    }
    return [
        *SCENARIO.values(),
        offer("restricted", title="Frauenkurs", **restricted),
        offer(
            "excluded",
            title="Jugendkurs",
            min_age=18,
            max_age=25,
            genders=["male"],
            residence_statuses=["eu_citizen"],
            benefits_required=["asylblg"],
        ),
        offer("early", title="Frühkurs", start_date="2026-12-15"),
        offer("weekend", title="Wochenendkurs", days=["sat"], times=["evening"]),
        offer(
            "online-only",
            title="Online-Kurs",
            online=True,
            latitude=None,
            longitude=None,
            street=None,
        ),
        offer(
            "far",
            title="Kurs in Hamburg",
            municipality="Hamburg",
            postcode="20095",
            latitude=HAMBURG[0],
            longitude=HAMBURG[1],
        ),
        offer(
            "krippe",
            title="Krippe",
            category="daycare",
            min_age=0,
            max_age=0,
            min_german_level=None,
            max_german_level=None,
            target_german_level=None,
        ),
        offer(
            "tagespflege-klein",
            title="Kindertagespflege für Kleine",
            category="childminder",
            min_age=0,
            max_age=2,
            min_german_level=None,
            max_german_level=None,
            target_german_level=None,
            start_date=None,
            end_date=None,
        ),
        offer(
            "handwerk",
            title="Anerkennung Handwerksberufe",
            category="recognition_counselling",
            professions=["Handwerksberufe"],
            min_german_level=None,
            max_german_level=None,
            target_german_level=None,
        ),
        offer(
            "pflege",
            title="Anerkennung Pflege",
            category="recognition_counselling",
            professions=["Pflegefachkraft"],
            min_german_level=None,
            max_german_level=None,
            target_german_level=None,
        ),
    ]


def rendered(s: Snapshot, profile, lang: str) -> list[str]:
    """Every reason of every recommended and waitlisted offer, and every rule's explanation
    for every offer of the catalogue."""
    rec = rank_offers(s, profile, lang=lang, k=50)
    texts = [r.text for item in (*rec.results, *rec.waitlist) for r in item.reasons]
    for row in range(len(s.ids)):
        texts += [o.text for o in explain_row(s, row, profile, lang).rules]
    return texts + [rule.sentence(lang) for rule in RULES]


@pytest.mark.parametrize("lang", sorted(i18n.STAFF_LANGUAGES))
def test_reasons_and_explanations_speak_about_the_person(lang):
    s = snapshot_of(catalogue())
    texts = rendered(s, rich_profile(), lang)
    texts += rendered(s, rich_profile(children_ages=[4], online_ok=True, wheelchair=True), lang)
    assert not addressing(texts, lang)
    # what is said about the person still names what was compared
    expected = {
        "en": [
            "for A2 → B1; the person's level is A2",
            "needs German B2; the person's level is A2",
            "childcare for the child aged 1",
            "childcare for the children aged 1 and 4",
            "morning classes fit the person's availability",
            "related to the person's profession (nurse)",
            "for ages 16 and older; the person is 34",
            "only for ages 18–25; the person is 34",
            "for recognised refugee; the person's status fits",
            "only for EU citizen; the person's status: recognised refugee",
            "online only; the person did not accept online offers",
            "online, which the person accepts",
            "runs Sat, evenings; the person is available Mon–Fri, mornings",
            "starts 2026-12-15, before the person can begin (2027-01-01)",
            "starts 2027-01-11, not before the person's earliest start (2027-01-01)",
            "takes children aged 0; the person's children are 1, 4",
            "takes children aged 0; the person's child is 4",
            "takes children aged 0–2; fits the person's child (aged 1)",
        ],
        "de": [
            "für A2 → B1; Niveau der Person: A2",
            "verlangt Deutsch B2; Niveau der Person: A2",
            "Kinderbetreuung für das 1-jährige Kind",
            "Kinderbetreuung für die Kinder (1 und 4 Jahre)",
            "Termine vormittags passen zu den Zeiten der Person",
            "passt zum Beruf der Person (Pflegefachkraft)",
            "nur Alter 18–25; die Person ist 34",
            "findet Sa, abends statt; die Person hat Mo–Fr, vormittags Zeit",
            "beginnt am 15.12.2026, bevor die Person anfangen kann (01.01.2027)",
            "für Kinder von 0 Jahren; Alter der Kinder der Person: 1, 4",
            "für Kinder von 0 Jahren; Alter des Kindes der Person: 4",
        ],
    }[lang]
    missing = [text for text in expected if text not in texts]
    assert not missing, missing
    joined = "\n".join(texts)
    for fragment in {
        "en": ["within the person's 10 km", "beyond the person's 10 km", "the person's need"],
        "de": ["im Umkreis der Person (10 km)", "außerhalb des Umkreises der Person (10 km)"],
    }[lang]:
        assert fragment in joined
    recognition = {
        "en": "serves the recognition the person's profession (Krankenschwester) needs",
        "de": "dient der Anerkennung, die der Beruf der Person (Krankenschwester) braucht",
    }[lang]
    assert recognition in joined


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(offers(), min_size=1, max_size=6), profiles(), st.sampled_from(["de", "en"]))
def test_no_explanation_addresses_the_person_on_random_offers(items, clean, lang):
    from matcher.profile import resolve_profile

    records = [{**o, "id": f"o{i}", "external_id": f"o{i}"} for i, o in enumerate(items)]
    s = Snapshot.from_records(records, seq=1)
    p = resolve_profile(clean, today=TODAY)
    texts = rendered(s, p, lang)
    assert len(texts) >= len(RULE_CODES)
    assert not addressing(texts, lang)


def _staff_messages() -> list[tuple[str, ...]]:
    """The message ids (singular and plural) that the staff modules mark."""
    keywords = {"gettext": None, "ngettext": (1, 2), "N_": None}
    found = []
    for module in STAFF_MODULES:
        for _line, msg, _comments, _ctx in extract_from_file(
            "python", str(ROOT / module), keywords=keywords
        ):
            found.append((msg,) if isinstance(msg, str) else tuple(msg))
    return found


@pytest.mark.parametrize("lang", sorted(i18n.STAFF_LANGUAGES))
def test_no_staff_reason_or_rule_text_addresses_the_person(lang):
    """Every text of the staff modules, as written and as translated, in every branch (also
    those no rendered example reaches)."""
    messages = _staff_messages()
    assert len(messages) > 80, "nothing extracted"
    t = i18n.translator(lang)
    texts = []
    for msg in messages:
        if len(msg) == 1:
            texts.append(t.translations.gettext(msg[0]))
        else:
            texts += [t.translations.ngettext(msg[0], msg[1], n) for n in (1, 2, 5)]
    assert not addressing([m for msg in messages for m in msg], "en")
    assert not addressing(texts, lang)


def test_the_persons_printout_still_addresses_the_person():
    """The person's own sheet keeps speaking to them (domain ``person``)."""
    goal = offer_reasons({}, "language", "ar", i18n.person_translator("en"))
    assert goal[0].code == "goal" and goal[0].text.startswith("for your goal: ")
    german = offer_reasons({}, "language", "de", i18n.person_translator("de"))
    assert ADDRESS["de"].search(german[0].text)
