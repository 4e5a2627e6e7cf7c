"""German and English for the pages (flask-babel), German by default.

The catalogues are kept as ``.po`` files only (``service/translations/<lang>/LC_MESSAGES``)
and compiled in memory on first use in each process: no compiled ``.mo`` binary in the
repository, no build step, and an edited ``.po`` is live after a restart. ``docs/pages.md``
says how to extract new strings.

The person's choice is kept in the session; without one the page is German. Domain texts
(reasons, rule explanations) come from the matcher in the same language.
"""

from __future__ import annotations

import io
from functools import cached_property
from pathlib import Path

from babel import support
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, session
from flask_babel import Babel, Domain, get_locale

LANGUAGES: dict[str, str] = {"de": "Deutsch", "en": "English"}
DEFAULT_LANGUAGE = "de"


def current_language() -> str:
    """The language of this request's pages: the session's choice, else German."""
    lang = session.get("lang")
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


class PoDomain(Domain):
    """A flask-babel domain that reads ``.po`` catalogues and compiles them in memory."""

    def get_translations(self):  # type: ignore[override]
        locale = str(get_locale() or DEFAULT_LANGUAGE)
        key = (locale, self.domain[0])
        if key not in self.cache:
            self.cache[key] = self._load(locale)
        return self.cache[key]

    def _load(self, locale: str) -> support.NullTranslations:
        for dirname in self.translation_directories:
            path = Path(dirname) / locale / "LC_MESSAGES" / f"{self.domain[0]}.po"
            if path.is_file():
                with path.open("rb") as fh:
                    catalog = read_po(fh, locale=locale)
                buffer = io.BytesIO()
                write_mo(buffer, catalog)
                buffer.seek(0)
                return support.Translations(fp=buffer, domain=self.domain[0])
        return support.NullTranslations()


class PoBabel(Babel):
    @cached_property
    def domain_instance(self) -> Domain:  # type: ignore[override]
        return PoDomain(domain=self.domain)


def init_i18n(app: Flask) -> None:
    """Bind flask-babel to the app with the session's language as the locale."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    PoBabel(app, locale_selector=current_language)
