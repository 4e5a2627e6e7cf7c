"""One translation system for every package: gettext catalogues and Babel's formatting.

Texts are written in English in the code and marked for extraction (``t.gettext``,
``t.ngettext``, ``N_`` for tables read later); ``pybabel`` collects them (``babel.cfg``,
``make translations``) into ``lotse/translations/<domain>.pot`` and each language's
``lotse/translations/<lang>/LC_MESSAGES/<domain>.po``. Two domains:

- ``messages``: everything staff read (pages, rule sentences, reasons, labels, validation
  messages, report captions), in German and English;
- ``person``: what is printed for the person — the agreement, the "my next steps" sheet, the
  reasons and labels on them — in the languages of ``PERSON_LANGUAGES``. Its German is plain
  German (Einfache Sprache); the agreement's German column stays the staff German of
  ``messages``, which is the text both sides sign.

A ``.mo`` beside its ``.po`` (``pybabel compile``, run by ``make translations``) is used when
it is at least as new as the ``.po``; otherwise the ``.po`` is compiled in memory on first use,
so an edited catalogue is live after a restart without a build step. Numbers, dates and
plurals follow the language (Babel's CLDR data), with Latin digits throughout so that dates,
phone numbers and amounts read the same in both columns of a bilingual sheet.

No Flask here: the matcher and casework translate with ``translator(lang)``; the pages bind
the same catalogues through flask-babel (``service.web.i18n``).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Literal

from babel import Locale
from babel.dates import format_date, get_day_names
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
STAFF_DOMAIN = "messages"
PERSON_DOMAIN = "person"
DOMAINS = (STAFF_DOMAIN, PERSON_DOMAIN)


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it (tables translated on use)."""
    return message


#: "a and b": the last joiner of a list ("mornings and evenings", "aged 2, 3 and 5").
AND = N_("%(first)s and %(last)s")
#: "a or b": alternatives ("SGB II or AsylbLG benefits").
OR = N_("%(first)s or %(last)s")


@dataclass(frozen=True)
class Language:
    """A language texts can be shown in: its code (the catalogue's folder), its name in
    itself, the Babel locale for numbers and dates, the script's direction, and the CLDR
    date pattern ("medium" unless the language's readers expect another)."""

    code: str
    name: str
    locale: str
    direction: str = "ltr"
    date_format: str = "medium"

    @property
    def rtl(self) -> bool:
        return self.direction == "rtl"


#: The staff pages' languages (domain ``messages``). English dates are ISO 8601: staff
#: compare them with German dates and with the API's.
STAFF_LANGUAGES: Mapping[str, Language] = {
    "de": Language("de", "Deutsch", "de", date_format="dd.MM.yyyy"),
    "en": Language("en", "English", "en", date_format="yyyy-MM-dd"),
}

#: The languages the person's printouts come in (domain ``person``). Dari and Farsi share
#: the script and almost all of the written language; one catalogue serves both, with
#: words chosen to be understood in Afghanistan and Iran.
PERSON_LANGUAGES: Mapping[str, Language] = {
    "de": Language("de", "Deutsch (einfache Sprache)", "de", date_format="dd.MM.yyyy"),
    "ar": Language("ar", "العربية", "ar", "rtl"),
    "fa": Language("fa", "دری / فارسی", "fa", "rtl"),
    "uk": Language("uk", "Українська", "uk"),
    "ru": Language("ru", "Русский", "ru"),
    "tr": Language("tr", "Türkçe", "tr"),
    "en": Language("en", "English", "en_GB"),
}

#: The language a printout falls back to when the person's is not among ours.
DEFAULT_PERSON_LANGUAGE = "de"

_LANGUAGES = {STAFF_DOMAIN: STAFF_LANGUAGES, PERSON_DOMAIN: PERSON_LANGUAGES}


@functools.lru_cache(maxsize=65536)
def _date_text(value: date, pattern: str, locale: str) -> str:
    """Babel's date formatting, remembered: suggestions name the same start dates over and
    over, and formatting one costs more than ranking an offer."""
    return format_date(value, pattern, locale=locale)


_TENTH = Decimal("0.1")


def _distance_number(value: float, locale: str) -> str:
    """``value`` with one decimal ("3,2"), or none when it is whole ("25"), exactly as Babel
    writes it in ``locale``. Rounded to the tenth first (half to even, as Babel rounds), so a
    few thousand values cover every request and Babel formats each of them once."""
    if value.is_integer():
        return _number_text(Decimal(int(value)), "0", locale)
    tenth = Decimal(repr(value)).quantize(_TENTH, rounding=ROUND_HALF_EVEN)
    return _number_text(tenth, "0.0", locale)


@functools.lru_cache(maxsize=65536)
def _number_text(value: Decimal, pattern: str, locale: str) -> str:
    return format_decimal(value, pattern, locale=locale)


def catalogue_path(lang: str, domain: str = STAFF_DOMAIN, suffix: str = ".po") -> Path:
    """Where the catalogue of ``lang`` in ``domain`` lives."""
    return TRANSLATIONS_DIR / lang / "LC_MESSAGES" / f"{domain}{suffix}"


def load_catalogue(lang: str, domain: str = STAFF_DOMAIN) -> NullTranslations:
    """The compiled catalogue of ``lang``: its ``.mo`` when that is up to date, else the
    ``.po`` compiled in memory; empty (texts as written) when there is neither."""
    po = catalogue_path(lang, domain)
    mo = catalogue_path(lang, domain, ".mo")
    if mo.is_file() and (not po.is_file() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as fh:
            return Translations(fp=fh, domain=domain)
    if not po.is_file():
        return NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=Locale.parse(lang), domain=domain)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer, domain=domain)


class Translator:
    """Texts, numbers and dates in one language.

    ``gettext``/``ngettext``/``pgettext`` look up the catalogue; ``%(name)s`` placeholders
    are filled from keyword arguments after the lookup, so translations may reorder them.
    """

    def __init__(self, language: Language, domain: str, translations: NullTranslations):
        self.language = language
        self.domain = domain
        self.translations = translations
        self.locale = Locale.parse(language.locale)
        self._locale_name = str(self.locale)  # Babel builds it anew on every str()

    @property
    def code(self) -> str:
        return self.language.code

    @property
    def direction(self) -> str:
        return self.language.direction

    def gettext(self, message: str, **values: object) -> str:
        text = self.translations.gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: object) -> str:
        text = self.translations.ngettext(singular, plural, n)
        return text % {"num": n, **values}

    def pgettext(self, context: str, message: str, **values: object) -> str:
        text = str(self.translations.pgettext(context, message))
        return text % values if values else text

    def label(self, table: Mapping[str, str], code: str | None) -> str:
        """``code`` of a vocabulary as its translated label (the code when unknown)."""
        if code is None:
            return ""
        message = table.get(code)
        return self.gettext(message) if message else code

    def decimal(self, value: float, pattern: str = "#,##0.#") -> str:
        """A number in this language's notation ("3,2" in German), Latin digits."""
        return format_decimal(value, pattern, locale=self.locale)

    def km(self, value: float) -> str:
        """A distance: "3.2 km" ("3,2 km"); whole numbers without decimals ("25 km")."""
        return self.gettext(
            "%(number)s km", number=_distance_number(float(value), self._locale_name)
        )

    def date(self, value: date) -> str:
        """A date as this language writes it (German 12.03.2027, English 2027-03-12)."""
        return _date_text(value, self.language.date_format, self._locale_name)

    def month(self, value: dt.date) -> str:
        """A month as a deadline is written: "Juni 2027", "June 2027"."""
        return format_date(value, "LLLL yyyy", locale=self.locale)

    def day_names(
        self, width: Literal["abbreviated", "narrow", "short", "wide"] = "abbreviated"
    ) -> tuple[str, ...]:
        """Monday … Sunday, "abbreviated" ("Mo", "Mon") or "wide" ("Montag")."""
        names = get_day_names(width, context="stand-alone", locale=self.locale)
        return tuple(names[i] for i in range(7))

    def list(self, items: Sequence[str]) -> str:
        """Items as this language lists them ("Mo., Di. und Mi.", Arabic with "،" and "و")."""
        return format_list(items, style="standard", locale=self.locale) if items else ""

    def join(self, items: Sequence[str], last: str | None = None) -> str:
        """Items as a list: "a, b and c" with ``last`` as the final joiner (else commas)."""
        if last is None or len(items) < 2:
            return ", ".join(items)
        return self.gettext(last, first=", ".join(items[:-1]), last=items[-1])


def languages(domain: str = STAFF_DOMAIN) -> Mapping[str, Language]:
    """The languages of ``domain``."""
    return _LANGUAGES[domain]


@functools.cache
def translator(lang: str = "en", domain: str = STAFF_DOMAIN) -> Translator:
    """The translator of ``lang`` in ``domain``; an unknown staff language is English, an
    unknown person language German (plain). Person catalogues fall back to the staff
    catalogue of the same language for a text they lack."""
    table = _LANGUAGES[domain]
    if lang not in table:
        lang = "en" if domain == STAFF_DOMAIN else DEFAULT_PERSON_LANGUAGE
    translations = load_catalogue(lang, domain)
    if domain == PERSON_DOMAIN and lang in STAFF_LANGUAGES:
        translations.add_fallback(load_catalogue(lang, STAFF_DOMAIN))
    return Translator(table[lang], domain, translations)


def person_translator(lang: str) -> Translator:
    """The translator of a person's printout (``PERSON_LANGUAGES``; German when unknown)."""
    return translator(lang, PERSON_DOMAIN)


TranslatorLike = Translator | str


def as_translator(lang: TranslatorLike) -> Translator:
    """A translator given as itself or as a staff language code ("de", "en")."""
    return lang if isinstance(lang, Translator) else translator(lang)


def preferred_person_language(codes: list[str] | tuple[str, ...]) -> str:
    """The first of a person's languages other than German (ISO 639-1, in the intake's
    order) that printouts come in; German (plain) when none does. Dari has no two-letter code: intakes record it
    as ``fa``."""
    for code in codes:
        if code in PERSON_LANGUAGES and code != "de":
            return code
    return DEFAULT_PERSON_LANGUAGE


def clear_cache() -> None:
    """Forget loaded catalogues (tests that edit a catalogue)."""
    translator.cache_clear()


# -- catalogue upkeep (``make translations``) -------------------------------------------------


def untranslated(lang: str, domain: str = STAFF_DOMAIN) -> list[str]:
    """Message ids of the domain's template (``<domain>.pot``) that the catalogue of ``lang``
    lacks or leaves empty (a fuzzy entry counts as empty: gettext ignores it)."""
    with (TRANSLATIONS_DIR / f"{domain}.pot").open("rb") as fh:
        template = read_po(fh)
    po = catalogue_path(lang, domain)
    if not po.is_file():
        return [str(m.id) for m in template if m.id]
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=Locale.parse(lang))
    missing = []
    for message in template:
        if not message.id:
            continue
        found = catalog.get(message.id, message.context)
        strings = (
            [found.string]
            if found and isinstance(found.string, str)
            else found.string
            if found
            else []
        )
        if found is None or found.fuzzy or not strings or not all(strings):
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
    return missing


def fill_english() -> int:
    """Give every empty English entry its message id (English is the source language);
    entries reworded by hand keep their wording. Returns how many were filled."""
    from babel.messages.pofile import write_po

    filled = 0
    for domain in DOMAINS:
        po = catalogue_path("en", domain)
        if not po.is_file():
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=Locale.parse("en"))
        for message in catalog:
            if not message.id:
                continue
            if isinstance(message.id, str):
                if not message.string:
                    message.string, filled = message.id, filled + 1
            elif isinstance(message.string, tuple | list) and not all(message.string):
                message.string, filled = tuple(message.id), filled + 1
            message.flags.discard("fuzzy")
        with po.open("wb") as fh:
            write_po(fh, catalog, sort_output=True, no_location=True)
    return filled


def main(argv: list[str] | None = None) -> int:
    """``python -m lotse.i18n english|missing``: fill the English catalogues, or list what
    each language still lacks (exit status 1 when anything does)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["english"]:
        print(f"{fill_english()} English entries filled")
        return 0
    if args[:1] == ["missing"]:
        gaps = 0
        for domain in DOMAINS:
            for lang in languages(domain):
                missing = untranslated(lang, domain)
                gaps += len(missing)
                print(f"{domain}/{lang}: {len(missing)} untranslated")
                for message in missing:
                    print(f"    {message!r}")
        return 1 if gaps else 0
    print(main.__doc__)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
