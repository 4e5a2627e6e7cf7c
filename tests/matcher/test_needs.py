"""Need texts to category codes, and regulated professions to recognition."""

from __future__ import annotations

import pytest

from lotse.errors import InvalidInput
from matcher.needs import match_need, regulated_profession, resolve_needs, split_need_text


@pytest.mark.parametrize(
    "text, code",
    [
        ("Deutschkurs", "language"),
        ("Sprachkurs", "language"),
        ("german course", "language"),
        ("Deutschkurz", "language"),
        ("Abenddeutschkurs", "language"),
        ("Integrationskurs", "integration_course"),
        ("Deutschkurs für Frauen", "integration_course_women"),
        ("Alphabetisierung", "integration_course_literacy"),
        ("Berufssprachkurs Pflege", "job_language_course"),
        ("Kita", "daycare"),
        ("Kindergartenplatz", "daycare"),
        ("Tagesmutter", "childminder"),
        ("Kinderbetreuung", "childcare"),
        ("Kinderbetreuung während des Kurses", "childcare_during_course"),
        ("Anerkennung meines Abschlusses", "recognition"),
        ("Anerkennung als Krankenschwester", "recognition"),
        ("recognition of my degree", "recognition"),
        ("Arbeit", "work"),
        ("Jobcenter", "job_placement"),
        ("Ausbildung", "vocational_training"),
        ("Bewerbungstraining", "application_support"),
        ("Wohnung", "housing"),
        ("ich brauche eine Wohnung", "housing"),
        ("find a flat", "housing"),
        ("Schuldnerberatung", "social_counselling"),
        ("language", "language"),
        ("integration_course", "integration_course"),
    ],
)
def test_need_texts_map_to_codes(text, code):
    assert match_need(text) == code


@pytest.mark.parametrize("text", ["xyz", "Hilfe", "Kurs", "bitte"])
def test_vague_or_unknown_texts_match_nothing(text):
    assert match_need(text) is None


def test_unknown_need_gets_suggestions_by_field():
    with pytest.raises(InvalidInput) as info:
        resolve_needs(["Kita", "blabla"], field_prefix="profile.")
    (err,) = info.value.errors
    assert err.field == "profile.needs.1" and "did you mean" in err.message


def test_one_text_may_name_several_needs():
    assert split_need_text("Deutschkurs und Kita, Wohnung") == ["Deutschkurs", "Kita", "Wohnung"]
    needs = resolve_needs(["Deutschkurs und Kita"])
    assert [(n.text, n.category) for n in needs] == [
        ("Deutschkurs", "language"),
        ("Kita", "daycare"),
    ]


@pytest.mark.parametrize(
    "profession, key",
    [
        ("Krankenschwester", "nurse"),
        ("Pflegefachfrau", "nurse"),
        ("nurse", "nurse"),
        ("Kinderkrankenschwester", "nurse"),
        ("Ärztin", "doctor"),
        ("doctor", "doctor"),
        ("Zahnärztin", "dentist"),
        ("Apotheker", "pharmacist"),
        ("Hebamme", "midwife"),
        ("Lehrerin", "teacher"),
        ("Mathematiklehrer", "teacher"),
        ("Erzieherin", "educator"),
        ("Physiotherapeutin", "physiotherapist"),
        ("Bauingenieur", "engineer"),
        ("lawyer", "lawyer"),
    ],
)
def test_regulated_professions(profession, key):
    found = regulated_profession(profession)
    assert found is not None and found.key == key


@pytest.mark.parametrize("profession", ["Bäcker", "IT-Fachkraft", "Friseurin", None, ""])
def test_other_professions_are_not_regulated(profession):
    assert regulated_profession(profession) is None


def test_regulated_profession_raises_recognition_once():
    needs = resolve_needs(["Deutschkurs"], profession="Krankenschwester")
    assert [(n.category, n.derived) for n in needs] == [("language", False), ("recognition", True)]
    stated = resolve_needs(["Anerkennungsberatung"], profession="nurse")
    assert [n.category for n in stated] == ["recognition_counselling"]
    assert [n.category for n in resolve_needs(["Krankenschwester"])] == ["recognition"]


def test_duplicate_needs_collapse():
    assert [n.category for n in resolve_needs(["Kita", "Kindergarten"])] == ["daycare"]


# --- needs as people say them ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Platz in der Kita für meine Tochter", "daycare"),
        ("Kinderarzt", "health"),
        ("Frauenarzt", "health"),
        ("Kinderkrippe", "daycare"),
        ("Zahnarzt für meine Tochter", "health"),
        ("Termin: Zahnarzt", "health"),
        ("Anerkennung als Zahnarzt", "recognition"),
        ("Krankenschwester", "recognition"),
    ],
)
def test_needs_as_people_say_them(text, code):
    from matcher.needs import resolve_needs

    assert resolve_needs([text])[0].category == code


def test_a_word_naming_a_profession_and_a_service_is_asked_back():
    from lotse.errors import InvalidInput
    from matcher.needs import profession_of, resolve_needs

    with pytest.raises(InvalidInput) as info:
        resolve_needs(["Deutschkurs", "Zahnarzt"])
    message = info.value.errors[0].message
    assert info.value.errors[0].field == "needs.1"
    assert "Anerkennung als Zahnarzt" in message and "(health)" in message
    # the person's own profession settles it
    assert resolve_needs(["Zahnarzt"], profession="Zahnarzt")[0].category == "recognition"
    # a service for a relative does not make the person a dentist
    assert profession_of(None, ["Zahnarzt für meine Tochter"]) is None
    assert profession_of(None, ["Kinderarzt"]) is None
