"""One translation system: every text the code marks is translated in every language of its
catalogue, the catalogues are what Babel extracts today, and no hand-made pair is left."""

from __future__ import annotations

import ast
import re
from datetime import date
from functools import cache
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from hypothesis import example, given, settings
from hypothesis import strategies as st

from lotse import i18n

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "N_": None,
    "_l": None,
    "lazy_gettext": None,
    "Nn_": (1, 2),
}
CONFIG = {i18n.STAFF_DOMAIN: "babel.cfg", i18n.PERSON_DOMAIN: "babel-person.cfg"}


@cache
def extracted(domain: str) -> frozenset[str]:
    """The message ids Babel extracts for ``domain`` from the sources, as ``make translations``
    does (the same mapping file)."""
    with (ROOT / CONFIG[domain]).open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found = {
        msg if isinstance(msg, str) else msg[0]
        for _file, _line, msg, _comments, _ctx in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS
        )
    }
    return frozenset(found)


def catalogue(lang: str, domain: str):
    with i18n.catalogue_path(lang, domain).open("rb") as fh:
        return read_po(fh)


def untranslated(lang: str, domain: str) -> list[str]:
    found = catalogue(lang, domain)
    missing = []
    for msgid in sorted(extracted(domain)):
        entry = next((m for m in found if m.id == msgid or (m.id and m.id[0] == msgid)), None)
        strings = (
            [entry.string] if entry and isinstance(entry.string, str) else (entry and entry.string)
        )
        if entry is None or entry.fuzzy or not strings or not all(strings):
            missing.append(msgid)
    return missing


@pytest.mark.parametrize("lang", sorted(i18n.STAFF_LANGUAGES))
def test_every_staff_text_is_translated(lang):
    """Pages, rule sentences, reasons, labels, messages: German and English, all of them."""
    assert len(extracted(i18n.STAFF_DOMAIN)) > 500, "nothing extracted: check babel.cfg"
    missing = untranslated(lang, i18n.STAFF_DOMAIN)
    assert not missing, f"{len(missing)} untranslated in {lang}: {missing[:10]}"


@pytest.mark.parametrize("lang", sorted(i18n.PERSON_LANGUAGES))
def test_every_text_printed_for_the_person_is_translated(lang):
    """The agreement, the "my next steps" sheet and the reasons and labels on them, in each
    of the person's languages (German: plain language)."""
    assert len(extracted(i18n.PERSON_DOMAIN)) > 100, "nothing extracted: check babel-person.cfg"
    missing = untranslated(lang, i18n.PERSON_DOMAIN)
    assert not missing, f"{len(missing)} untranslated in {lang}: {missing[:10]}"


@pytest.mark.parametrize("domain", sorted(CONFIG))
def test_templates_are_current(domain):
    """``<domain>.pot`` holds what the sources mark now (run ``make translations``)."""
    with (i18n.TRANSLATIONS_DIR / f"{domain}.pot").open("rb") as fh:
        template = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh) if m.id}
    assert template == set(extracted(domain))


def test_person_catalogues_keep_placeholders():
    """A translation names the same ``%(placeholders)s`` as its message id, so filling it in
    never fails or loses a value."""
    pattern = re.compile(r"%\((\w+)\)s")
    for domain, langs in (
        (i18n.PERSON_DOMAIN, i18n.PERSON_LANGUAGES),
        (i18n.STAFF_DOMAIN, i18n.STAFF_LANGUAGES),
    ):
        for lang in langs:
            for m in catalogue(lang, domain):
                if not m.id:
                    continue
                ids = [m.id] if isinstance(m.id, str) else list(m.id)
                strings = [m.string] if isinstance(m.string, str) else list(m.string)
                wanted = set(pattern.findall(ids[-1])) | ({"num"} if len(ids) > 1 else set())
                for s in strings:
                    if s:
                        assert set(pattern.findall(s)) <= wanted | set(pattern.findall(ids[0])), (
                            lang,
                            m.id,
                            s,
                        )


SOURCES = ("lotse", "catalog", "matcher", "models", "casework", "service")


def test_no_hand_made_language_pairs_remain():
    """No ``say(lang, en, de)`` helper, no ``lang == "de"`` choice between inline texts and no
    ``(German, English)`` label tuples: every text goes through the catalogues."""
    offenders = []
    for package in SOURCES:
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for n, line in enumerate(text.splitlines(), 1):
                if re.search(r"\bsay\(|def say\b|\blabel_(de|en)\b|LABELS\[.*\]\[[01]\]", line):
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
                if re.search(r"""if (lang|language) == ["']de["'] else""", line):
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    html = ROOT / "service" / "templates"
    for path in html.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        if re.search(r"""if lang == ["']de["'] else""", text):
            offenders.append(f"{path.relative_to(ROOT)}: chooses between inline texts")
    assert not offenders, "\n".join(offenders)


def test_formatting_follows_the_language():
    de, en = i18n.translator("de"), i18n.translator("en")
    assert (de.km(3.25), en.km(3.25), de.km(25)) == ("3,2 km", "3.2 km", "25 km")
    assert de.date(date(2027, 3, 12)) == "12.03.2027" and en.date(date(2027, 3, 12)) == "2027-03-12"
    ar = i18n.person_translator("ar")
    assert ar.direction == "rtl" and i18n.person_translator("uk").direction == "ltr"
    # Latin digits everywhere: dates and numbers read alike in both columns of a sheet
    assert re.fullmatch(r"[0-9/\u200f]+", ar.date(date(2027, 3, 12)))
    assert i18n.person_translator("fa").decimal(1234.5) == "1,234.5"
    assert de.ngettext("%(num)s place free", "%(num)s places free", 1) == "1 Platz frei"
    assert de.ngettext("%(num)s place free", "%(num)s places free", 3) == "3 Plätze frei"


def test_preferred_person_language():
    assert i18n.preferred_person_language(["de", "ar"]) == "ar"
    assert i18n.preferred_person_language(["ps", "fa"]) == "fa"
    assert i18n.preferred_person_language(["so"]) == "de"
    assert i18n.preferred_person_language([]) == "de"


@given(st.floats(min_value=0, max_value=20_000, allow_nan=False, allow_infinity=False))
@example(2.45)  # half to even on the decimal, not on the binary value: 2.4, not 2.5
@example(0.05)
@example(25.0)
@example(9.96)
@settings(max_examples=300, deadline=None)
def test_distances_read_exactly_as_babel_writes_them(km):
    """``Translator.km`` remembers formatted values (rounded to the tenth first); the text
    must be what Babel itself writes for the unrounded value, in every language."""
    from babel.numbers import format_decimal

    from lotse.i18n import person_translator, translator

    for t in (translator("de"), translator("en"), person_translator("ar"), person_translator("fa")):
        pattern = "0" if km.is_integer() else "0.0"
        assert t.km(km) == t.gettext("%(number)s km", number=format_decimal(km, pattern, t.locale))


PRODUCT_PACKAGES = ("lotse", "catalog", "matcher", "models", "casework", "service")


def _field_error_messages() -> list[tuple[str, int, ast.expr]]:
    """Every message argument of a ``FieldError(field, message)`` in the product."""
    found = []
    for package in PRODUCT_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "id", getattr(node.func, "attr", None)) == "FieldError"
                    and len(node.args) >= 2
                ):
                    found.append((str(path.relative_to(ROOT)), node.lineno, node.args[1]))
    return found


def test_every_fixed_validation_message_is_a_translated_message_id():
    """A fixed message is written ``N_("…")`` where it is raised (so it is extracted) and has
    a German translation (so the pages never show it in English); a message with values in
    it is left to ``service.web.page_errors``'s shapes."""
    german = catalogue("de", "messages")
    bare, missing = [], []
    for where, line, arg in _field_error_messages():
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            bare.append(f"{where}:{line}: {arg.value}")
        elif isinstance(arg, ast.Call) and getattr(arg.func, "id", None) == "N_":
            text = arg.args[0].value  # type: ignore[attr-defined]
            entry = german.get(text)
            if entry is None or not entry.string:
                missing.append(f"{where}:{line}: {text}")
    assert not bare, "fixed messages not marked N_:\n" + "\n".join(bare)
    assert not missing, "fixed messages without German:\n" + "\n".join(missing)
    assert len(_field_error_messages()) > 80  # the scan sees the product's messages
