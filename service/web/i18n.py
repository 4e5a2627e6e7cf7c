"""German and English for the pages, German by default, from the one set of catalogues.

The catalogues are ``lotse.i18n``'s (``lotse/translations``): flask-babel only binds them to
the request (``_()`` in templates, ``gettext`` in views, the ``format_*`` helpers) and takes
them from ``lotse.i18n.translator``, so pages, matcher texts and printouts read one catalogue.

The person's choice is kept in the session; without one the browser's first language the
pages speak (``Accept-Language``), else German. Domain texts
(reasons, rule explanations) come from the matcher in the same language.
"""

from __future__ import annotations

from functools import cached_property

from flask import Flask, has_request_context, request, session
from flask_babel import Babel, Domain

from lotse.i18n import STAFF_LANGUAGES, Translator, translator

LANGUAGES: dict[str, str] = {code: lang.name for code, lang in STAFF_LANGUAGES.items()}
DEFAULT_LANGUAGE = "de"


def current_language() -> str:
    """The language of this request's pages: the session's choice, else the first of the
    browser's languages (``Accept-Language``) that the pages speak, else German."""
    lang = session.get("lang")
    if lang in LANGUAGES:
        return lang
    if has_request_context():
        return request.accept_languages.best_match(LANGUAGES, DEFAULT_LANGUAGE)
    return DEFAULT_LANGUAGE


def page_translator() -> Translator:
    """The translator of this request's pages."""
    return translator(current_language())


class CatalogueDomain(Domain):
    """A flask-babel domain that reads ``lotse.i18n``'s catalogues."""

    def get_translations(self):
        return translator(current_language()).translations


class CatalogueBabel(Babel):
    @cached_property
    def domain_instance(self) -> Domain:
        return CatalogueDomain(domain=self.domain)


def init_i18n(app: Flask) -> None:
    """Bind flask-babel to the app with the session's language as the locale."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    CatalogueBabel(app, locale_selector=current_language)
