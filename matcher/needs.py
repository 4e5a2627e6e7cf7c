"""What a person needs, from how a counsellor writes it: category codes, or free text in German
or English ("Deutschkurs", "Kita", "Anerkennung meines Abschlusses", "housing").

A need text is matched against a synonym list: normalised (lowercase, umlauts folded, filler
words such as "ich brauche" or "meines" dropped) and accepted when every word of a synonym
appears in it, allowing typos (rapidfuzz ratio ≥ ``WORD_SCORE``) and German compounds
("Abenddeutschkurs" contains "deutschkurs"). The most specific synonym wins: more words first,
then the longer one, so "Kinderbetreuung während des Kurses" is childcare during a course and
not just childcare. "Deutschkurs und Kita" is two needs.

A profession that is regulated in Germany (nursing, medicine, teaching, engineering, ...) needs
recognition before the person may work in it, so it raises the recognition need even when the
counsellor did not state it; its field words ("Pflege", "Gesundheitsberufe") later make
profession-specific offers rank higher (``matcher.features``).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from catalog import taxonomy
from lotse.errors import FieldError, InvalidInput
from lotse.i18n import N_, translator

#: A word of a synonym counts as present in a text from this rapidfuzz ratio (0–100).
WORD_SCORE = 85.0
#: Words this short must match exactly ("job" is not "jmd").
EXACT_BELOW = 5
#: The recognition need a regulated profession raises.
RECOGNITION = "recognition"

#: Synonyms per code (leaf or parent). Taxonomy labels in German and English are added
#: automatically; these are what people actually write.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "language": (
        "deutschkurs", "sprachkurs", "deutsch lernen", "deutsch", "sprache", "german",
        "german course", "german class", "learn german", "language course", "language class",
        "deutschunterricht", "sprachfoerderung",
    ),
    "integration_course": ("integrationskurs", "integration course", "allgemeiner integrationskurs"),
    "integration_course_literacy": (
        "alphabetisierung", "alphabetisierungskurs", "alphakurs", "lesen und schreiben lernen",
        "literacy", "literacy course", "zweitschriftlernende",
    ),
    "integration_course_youth": ("jugendintegrationskurs", "youth integration course"),
    "integration_course_parents": (
        "elternintegrationskurs", "elternkurs", "deutschkurs fuer eltern", "parents course",
    ),
    "integration_course_women": (
        "frauenintegrationskurs", "frauenkurs", "deutschkurs fuer frauen", "women course",
        "course for women",
    ),
    "integration_course_intensive": ("intensivkurs", "intensive course", "intensive german"),
    "job_language_course": (
        "berufssprachkurs", "berufsbezogener deutschkurs", "deutsch fuer den beruf", "deufoev",
        "job language course", "german for work", "business german", "fachsprache",
    ),
    "language_cafe": (
        "sprachcafe", "sprachtreff", "language cafe", "conversation", "deutsch sprechen ueben",
    ),
    "childcare": (
        "kinderbetreuung", "betreuung kinder", "childcare", "child care", "betreuungsplatz",
    ),
    "daycare": (
        "kita", "kitaplatz", "kindergarten", "kindertagesstaette", "krippe", "kinderkrippe",
        "hort", "daycare", "day care", "nursery", "kindergarten place",
    ),
    "childminder": (
        "tagesmutter", "tagesvater", "tagespflege", "kindertagespflege", "childminder",
        "babysitter",
    ),
    "childcare_during_course": (
        "kinderbetreuung waehrend kurs", "kinderbetreuung im kurs", "kursbegleitende kinderbetreuung",
        "childcare during course", "childcare during class",
    ),
    "recognition": (
        "anerkennung", "anerkennung abschluss", "anerkennung meines abschlusses",
        "berufsanerkennung", "zeugnisanerkennung", "anerkennung zeugnis", "anerkennung diplom",
        "recognition", "recognition qualification", "recognition degree", "diploma recognition",
        "qualification recognition",
    ),
    "recognition_counselling": (
        "anerkennungsberatung", "iq beratung", "iq netzwerk", "recognition counselling",
        "recognition advice",
    ),
    "recognition_procedure": (
        "anerkennungsverfahren", "gleichwertigkeitspruefung", "gleichwertigkeitsfeststellung",
        "approbation", "berufserlaubnis", "recognition procedure",
    ),
    "adaptation_qualification": (
        "anpassungsqualifizierung", "anpassungslehrgang", "anpassungsmassnahme",
        "kenntnispruefung", "nachqualifizierung", "adaptation qualification",
        "adaptation course", "bridging course",
    ),
    "work": (
        "arbeit", "job", "jobsuche", "arbeitssuche", "arbeitsplatz", "stelle", "beschaeftigung",
        "arbeit finden", "work", "employment", "find work", "find job",
    ),
    "job_placement": (
        "arbeitsvermittlung", "jobvermittlung", "stellenvermittlung", "jobcenter",
        "arbeitsagentur", "job placement", "job centre",
    ),
    "vocational_training": (
        "ausbildung", "berufsausbildung", "ausbildungsplatz", "umschulung", "weiterbildung",
        "vocational training", "apprenticeship", "training",
    ),
    "application_support": (
        "bewerbung", "bewerbungshilfe", "bewerbungstraining", "lebenslauf", "application",
        "application support", "cv", "resume",
    ),
    "counselling": ("beratung", "counselling", "counseling", "advice"),
    "migration_counselling": (
        "migrationsberatung", "mbe", "migration counselling", "migration advice",
    ),
    "youth_migration_service": ("jugendmigrationsdienst", "jmd", "youth migration service"),
    "social_counselling": (
        "sozialberatung", "schuldnerberatung", "schulden", "social counselling", "debt advice",
    ),
    "legal_advice": (
        "rechtsberatung", "asylberatung", "aufenthaltsrecht", "asylverfahren", "legal advice",
        "legal aid", "asylum advice",
    ),
    "psychosocial_support": (
        "psychosoziale beratung", "psychologische hilfe", "psychotherapie", "trauma",
        "traumatherapie", "mental health", "psychological support", "therapy",
    ),
    "health": (
        "gesundheit", "gesundheitsversorgung", "krankenversicherung", "arztbesuch", "health",
        "health care", "medical care",
    ),
    "housing": (
        "wohnung", "wohnungssuche", "wohnen", "unterkunft", "mietwohnung", "housing",
        "apartment", "flat", "accommodation", "find flat",
    ),
    "community": ("gemeinschaft", "nachbarschaft", "community", "ehrenamt", "volunteering"),
    "mentoring": (
        "patenschaft", "pate", "patin", "mentor", "mentoring", "lotse", "begleitung", "buddy",
    ),
    "sports_leisure": (
        "sport", "sportverein", "freizeit", "fussball", "schwimmen", "leisure", "sports",
    ),
}  # fmt: skip

#: Words that carry no need on their own ("ich brauche einen ...", "help with my ...").
FILLER = frozenset(
    (
        "ich", "brauche", "suche", "moechte", "will", "wuensche", "benoetige", "hilfe", "bei",
        "beim", "fuer", "mit", "und", "oder", "der", "die", "das", "des", "dem", "den", "ein",
        "eine", "einen", "einem", "einer", "eines", "mein", "meine", "meinen", "meinem",
        "meiner", "meines", "als", "von", "vom", "zu", "zum", "zur", "im", "in", "am", "an",
        "auf", "nach", "ueber", "sowie", "bitte", "platz", "i", "need", "want", "looking",
        "for", "help", "with", "my", "a", "the", "of", "to", "on", "at", "as", "and", "or",
        "please", "some", "place",
    )
)  # fmt: skip

#: Regulated professions in Germany: key → (label as an English message id, words naming it,
#: field words an offer for it would use).
REGULATED_PROFESSIONS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "nurse": (
        N_("nurse"),
        ("krankenschwester", "krankenpfleger", "krankenpflegerin", "pflegefachfrau",
         "pflegefachmann", "pflegefachkraft", "pflegekraft", "altenpfleger", "altenpflegerin",
         "gesundheits krankenpfleger", "kinderkrankenschwester", "nurse", "nursing",
         "registered nurse"),
        ("pflege", "pflegeberufe", "krankenpflege", "altenpflege", "gesundheitsberufe",
         "gesundheits", "nursing", "health"),
    ),
    "doctor": (
        N_("doctor"),
        ("arzt", "aerztin", "mediziner", "medizinerin", "doctor", "physician", "medical doctor"),
        ("medizin", "approbation", "heilberufe", "gesundheitsberufe", "aerzte", "medical"),
    ),
    "dentist": (
        N_("dentist"),
        ("zahnarzt", "zahnaerztin", "dentist", "zahnmediziner"),
        ("zahnmedizin", "approbation", "heilberufe", "dental"),
    ),
    "pharmacist": (
        N_("pharmacist"),
        ("apotheker", "apothekerin", "pharmacist", "pharmazeut"),
        ("pharmazie", "apotheke", "approbation", "heilberufe", "pharmacy"),
    ),
    "midwife": (
        N_("midwife"),
        ("hebamme", "entbindungspfleger", "midwife"),
        ("hebammen", "geburtshilfe", "gesundheitsberufe", "midwifery"),
    ),
    "teacher": (
        N_("teacher"),
        ("lehrer", "lehrerin", "lehrkraft", "teacher", "schoolteacher"),
        ("lehramt", "schule", "lehrkraefte", "paedagogik", "teaching"),
    ),
    "educator": (
        N_("educator"),
        ("erzieher", "erzieherin", "educator", "kindergarten teacher", "early childhood educator",
         "sozialpaedagoge", "sozialpaedagogin", "sozialarbeiter", "sozialarbeiterin",
         "social worker", "kinderpfleger", "kinderpflegerin"),
        ("erziehung", "paedagogik", "kita", "sozialpaedagogik", "soziale arbeit", "education"),
    ),
    "physiotherapist": (
        N_("physiotherapist"),
        ("physiotherapeut", "physiotherapeutin", "krankengymnast", "physiotherapist"),
        ("physiotherapie", "therapie", "gesundheitsberufe", "physiotherapy"),
    ),
    "occupational_therapist": (
        N_("occupational therapist"),
        ("ergotherapeut", "ergotherapeutin", "occupational therapist"),
        ("ergotherapie", "therapie", "gesundheitsberufe"),
    ),
    "speech_therapist": (
        N_("speech therapist"),
        ("logopaede", "logopaedin", "speech therapist"),
        ("logopaedie", "therapie", "gesundheitsberufe"),
    ),
    "paramedic": (
        N_("paramedic"),
        ("notfallsanitaeter", "notfallsanitaeterin", "rettungssanitaeter", "paramedic"),
        ("rettungsdienst", "gesundheitsberufe"),
    ),
    "psychotherapist": (
        N_("psychotherapist"),
        ("psychotherapeut", "psychotherapeutin", "psychotherapist"),
        ("psychotherapie", "approbation", "heilberufe"),
    ),
    "veterinarian": (
        N_("veterinarian"),
        ("tierarzt", "tieraerztin", "veterinarian", "veterinaer", "vet"),
        ("tiermedizin", "approbation", "veterinary"),
    ),
    "engineer": (
        N_("engineer"),
        ("ingenieur", "ingenieurin", "engineer", "bauingenieur", "maschinenbauingenieur"),
        ("ingenieurwesen", "ingenieure", "technik", "engineering"),
    ),
    "architect": (
        N_("architect"),
        ("architekt", "architektin", "architect"),
        ("architektur", "bauwesen", "architecture"),
    ),
    "lawyer": (
        N_("lawyer"),
        ("rechtsanwalt", "rechtsanwaeltin", "anwalt", "anwaeltin", "jurist", "juristin",
         "lawyer", "attorney"),
        ("recht", "jura", "rechtswissenschaft", "law"),
    ),
    "tax_advisor": (
        N_("tax advisor"),
        ("steuerberater", "steuerberaterin", "tax advisor", "tax consultant"),
        ("steuern", "steuerrecht"),
    ),
}  # fmt: skip

_FOLD_PAIRS = (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss"))
_NON_WORD = re.compile(r"[^a-z0-9]+")
_SPLIT = re.compile(r"\s*(?:,|;|\+|&|/|\bund\b|\band\b|\bsowie\b)\s*", re.IGNORECASE)


def normalise(text: str) -> str:
    """Lowercase ASCII words, umlauts folded to "ue" ("Kinderbetreuung während" →
    "kinderbetreuung waehrend")."""
    text = text.lower()
    if not text.isascii():  # umlauts fold; accents go, letters stay ("café" → "cafe")
        for umlaut, folded in _FOLD_PAIRS:
            text = text.replace(umlaut, folded)
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(w for w in _NON_WORD.split(text) if w)


def _content_words(text: str) -> list[str]:
    return [w for w in normalise(text).split() if w not in FILLER]


@dataclass(frozen=True)
class Need:
    """One need as understood: the words it came from and the category code it stands for.

    ``derived`` needs were not stated but follow from the profile (a regulated profession
    raises recognition); they come after every stated need in priority."""

    text: str
    category: str
    derived: bool = False

    @property
    def leaves(self) -> tuple[str, ...]:
        return taxonomy.expand(self.category)


#: Each regulated profession as one bit, for offers that name the professions they serve.
PROFESSION_BIT: dict[str, int] = {key: 1 << i for i, key in enumerate(REGULATED_PROFESSIONS)}


@dataclass(frozen=True)
class Profession:
    """A regulated profession recognised in a profile's words."""

    key: str
    #: The profession's name: an English message id (``lotse.i18n``).
    label: str
    field_words: tuple[str, ...]


@dataclass(frozen=True)
class _Phrase:
    words: tuple[str, ...]
    code: str
    text: str


def _label_synonyms(code: str) -> tuple[str, ...]:
    """A code's label in English and in German (what counsellors see on the pages)."""
    message = taxonomy.LABELS.get(code)
    return (message, translator("de").gettext(message)) if message else ()


@functools.cache
def _phrases() -> tuple[_Phrase, ...]:
    out: dict[tuple[str, ...], _Phrase] = {}
    for code, synonyms in SYNONYMS.items():
        for text in (*synonyms, *_label_synonyms(code), code.replace("_", " ")):
            words = tuple(_content_words(text))
            if words and words not in out:
                out[words] = _Phrase(words, code, text)
    return tuple(out.values())


def _word_present(word: str, text_words: list[str]) -> float:
    """How well ``word`` appears among ``text_words`` (0–100): exact, typo, or compound."""
    best = 0.0
    for tw in text_words:
        if tw == word:
            return 100.0
        if len(word) >= EXACT_BELOW and len(tw) >= EXACT_BELOW:
            best = max(best, fuzz.ratio(word, tw))
            # German compounds: "abenddeutschkurs" is a deutschkurs.
            if len(word) >= 6 and (tw.endswith(word) or tw.startswith(word)):
                best = max(best, 95.0)
    return best


def _best_match(words: list[str], phrases: tuple[_Phrase, ...]) -> _Phrase | None:
    best: tuple[int, float, int] | None = None  # (words, score, letters)
    found = None
    for phrase in phrases:
        score = min(_word_present(w, words) for w in phrase.words)
        if score < WORD_SCORE:
            continue
        key = (len(phrase.words), score, len("".join(phrase.words)))
        if best is None or key > best:
            best, found = key, phrase
    return found


@functools.cache
def _exact_phrases() -> dict[tuple[str, ...], str]:
    return {p.words: p.code for p in _phrases()}


@functools.lru_cache(maxsize=4096)
def match_need(text: str) -> str | None:
    """The category or parent code a need text stands for, or None when nothing fits
    (memoised: the same few needs are written again and again)."""
    raw = text.strip().lower()
    if taxonomy.is_known(raw):
        return raw
    words = _content_words(text)
    if not words:
        return None
    exact = _exact_phrases().get(tuple(words))
    if exact is not None:
        return exact
    found = _best_match(words, _phrases())
    return found.code if found else None


def suggest_needs(text: str, limit: int = 3) -> list[str]:
    """Closest synonyms to a text that matched nothing, as ``"Kita (daycare)"``."""
    phrases = _phrases()
    choices = [" ".join(p.words) for p in phrases]
    hits = process.extract(normalise(text), choices, scorer=fuzz.WRatio, limit=limit * 3)
    out: list[str] = []
    for _choice, _score, i in hits:
        label = f"{phrases[i].text} ({phrases[i].code})"
        if label not in out:
            out.append(label)
    return out[:limit]


@functools.cache
def _profession_phrases() -> tuple[_Phrase, ...]:
    return tuple(
        _Phrase(tuple(_content_words(term)), key, term)
        for key, (_label, terms, _field) in REGULATED_PROFESSIONS.items()
        for term in terms
    )


@functools.lru_cache(maxsize=4096)
def regulated_profession(text: str | None) -> Profession | None:
    """The regulated profession named in ``text`` ("Krankenschwester", "nurse"), or None."""
    if not text:
        return None
    words = _content_words(text)
    if not words:
        return None
    found = _best_match(words, _profession_phrases())
    if found is None:
        return None
    label, _terms, field = REGULATED_PROFESSIONS[found.code]
    return Profession(found.code, label, field)


def split_need_text(text: str) -> list[str]:
    """One text naming several needs, split: "Deutschkurs und Kita" → ["Deutschkurs", "Kita"]."""
    return [part for part in _SPLIT.split(text) if part and part.strip()]


#: Regulated professions that also name a service a person may need: "Zahnarzt" is a
#: dentist to treat someone, or the recognition of a dentist's qualification.
SERVICE_OF_PROFESSION: dict[str, str] = {
    "doctor": "health",
    "dentist": "health",
    "midwife": "health",
    "physiotherapist": "health",
    "pharmacist": "health",
    "psychotherapist": "psychosocial_support",
    "lawyer": "legal_advice",
}
#: Words that make such a text the service: care for the person or a relative.
SERVICE_CUES = frozenset(
    {"behandlung", "termin", "untersuchung", "praxis", "sprechstunde", "vorsorge",
     "tochter", "sohn", "kind", "kinder", "baby", "schwangerschaft", "schwanger",
     "treatment", "appointment", "checkup", "daughter", "son", "child", "pregnancy"}
)  # fmt: skip
#: Words that make it the profession: its recognition, or working in it.
PROFESSION_CUES = frozenset(
    {"anerkennung", "anerkennen", "approbation", "beruf", "berufserlaubnis", "arbeiten",
     "arbeit", "abschluss", "studium", "recognition", "profession", "work", "degree"}
)  # fmt: skip
#: The shortest head of a compound that is read on its own ("Kinder|arzt").
MIN_HEAD = 4


class AmbiguousNeed(ValueError):
    """A need text names both a profession and a service."""


def _service_reading(text: str, profession: Profession, own: Profession | None) -> str | None:
    """The service category ``text`` stands for when it names ``profession`` as a service;
    None when it stands for the profession (recognition). ``AmbiguousNeed`` when the
    words leave both readings open: then the counsellor is asked, never guessed for."""
    service = SERVICE_OF_PROFESSION.get(profession.key)
    if service is None:
        return None
    words = set(normalise(text).split())
    if words & PROFESSION_CUES or (own is not None and own.key == profession.key):
        return None
    if words & SERVICE_CUES:
        return service
    raise AmbiguousNeed(service)


def _compound_head(text: str) -> tuple[str, str] | None:
    """``(head, code)`` for a single word whose head (its last part, as German compounds
    go) names a need: "Kinderarzt" → arzt, health; "Kinderkrippe" → krippe, daycare.
    A profession head counts as the service: a modifier ("Kinder-", "Frauen-") says whom
    it is for."""
    words = _content_words(text)
    if len(words) != 1:
        return None
    word = words[0]
    for start in range(1, len(word) - MIN_HEAD + 1):
        head = word[start:]
        code = _exact_phrases().get((head,))
        if code is not None:
            return head, code
        profession = regulated_profession(head)
        if profession is not None and head in _profession_words():
            service = SERVICE_OF_PROFESSION.get(profession.key)
            if service is not None:
                return head, service
    return None


@functools.cache
def _profession_words() -> frozenset[str]:
    return frozenset(w for p in _profession_phrases() if len(p.words) == 1 for w in p.words)


def understand_need(text: str, own_profession: str | None = None) -> str:
    """The code one need text stands for: a category or synonym ("Kita", "Platz in der Kita
    für meine Tochter"), a compound's head ("Kinderarzt"), or a profession (its recognition,
    or the service it names when the words say so). ``AmbiguousNeed`` for a word that names
    a profession and a service alike ("Zahnarzt"); ``LookupError`` when nothing fits."""
    own = regulated_profession(own_profession)
    profession = regulated_profession(text)
    if profession is not None and SERVICE_OF_PROFESSION.get(profession.key):
        service = _service_reading(text, profession, own)
        if service is not None:
            return service
        code = match_need(text)
        return code if code is not None and taxonomy.parent(code) == RECOGNITION else RECOGNITION
    code = match_need(text)
    if code is not None:
        return code
    if profession is not None:
        return RECOGNITION  # "Krankenschwester": practising needs recognition
    head = _compound_head(text)
    if head is not None:
        return head[1]
    raise LookupError(text)


def resolve_needs(
    texts: list[str], profession: str | None = None, field_prefix: str = ""
) -> list[Need]:
    """The needs a profile states, in its order (its priority), each mapped to a code; then
    recognition when a regulated profession needs it and no recognition need was stated.
    ``InvalidInput`` on ``needs.<i>`` with suggestions for a text that matches nothing."""
    needs: list[Need] = []
    errors: list[FieldError] = []
    for i, text in enumerate(texts):
        for part in split_need_text(text) or [text]:
            try:
                code: str | None = understand_need(part, profession)
            except AmbiguousNeed as exc:
                name = part.strip()
                errors.append(
                    FieldError(
                        f"{field_prefix}needs.{i}",
                        f"'{name}' names a profession and a service: write "
                        f"'Anerkennung als {name}' for the recognition of the profession "
                        f"(recognition), or 'Termin: {name}' or '{name} für meine Tochter' for care "
                        f"({exc.args[0]})",
                    )
                )
                continue
            except LookupError:
                code = None
            if code is None:
                hint = suggest_needs(part)
                errors.append(
                    FieldError(
                        f"{field_prefix}needs.{i}",
                        f"'{part.strip()}' matches no known need"
                        + (f"; did you mean {', '.join(hint)}?" if hint else ""),
                    )
                )
            elif all(n.category != code for n in needs):
                needs.append(Need(part.strip(), code))
    if errors:
        raise InvalidInput(errors)
    prof = profession_of(profession, texts)
    if prof is not None and all(taxonomy.parent(n.category) != RECOGNITION for n in needs):
        needs.append(Need(profession or prof.label, RECOGNITION, derived=True))
    return needs


def profession_of(profession: str | None, need_texts: Sequence[str] = ()) -> Profession | None:
    """The regulated profession of a profile: from its ``profession``, else from a need text
    ("Anerkennung als Krankenschwester")."""
    found = regulated_profession(profession)
    if found is None:
        for text in need_texts:
            found = regulated_profession(text)
            if found is not None and _names_the_profession(text, found):
                break
            found = None
    return found


def _names_the_profession(text: str, profession: Profession) -> bool:
    """Whether a need text naming ``profession`` means the person's own profession, not a
    service for them ("Zahnarzt für meine Tochter", "Kinderarzt")."""
    if SERVICE_OF_PROFESSION.get(profession.key) is None:
        return True
    words = set(normalise(text).split())
    if words & PROFESSION_CUES:
        return True
    return not (words & SERVICE_CUES or _compound_head(text) is not None)
