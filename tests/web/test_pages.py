"""Quick page checks with Flask's test client: logins, roles, CSRF, and each role's pages."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.web.conftest import PASSWORD, csrf_token, login


def test_logged_out_visitor_is_sent_to_login(web):
    for path in ("/", "/agency/offers", "/counsel/intake", "/analyst/models"):
        resp = web.get(path)
        assert resp.status_code == 302, path
        assert "/login" in resp.headers["Location"]


def test_login_page_is_german_by_default_and_switches_to_english(web):
    page = web.get("/login")
    assert page.status_code == 200
    assert 'lang="de"' in page.text
    assert "Anmelden" in page.text
    web.post(
        "/language", data={"lang": "en", "csrf_token": csrf_token(page.text), "next": "/login"}
    )
    page = web.get("/login")
    assert 'lang="en"' in page.text
    assert "Log in to Lotse" in page.text


def test_wrong_password_is_refused(web):
    resp = login(web, "vhs", "not-the-password")
    assert resp.status_code == 401
    assert web.get("/agency/offers").status_code == 302


def test_form_without_csrf_token_is_rejected(web):
    resp = web.post("/login", data={"username": "vhs", "password": PASSWORD})
    assert resp.status_code == 400
    login(web, "vhs")
    resp = web.post("/logout")
    assert resp.status_code == 400
    assert web.get("/agency/offers").status_code == 200  # still logged in


def test_login_goes_to_the_role_start_page_and_logout_ends_the_session(web):
    resp = login(web, "vhs")
    assert resp.status_code == 200
    assert resp.request.path == "/agency/"
    page = web.get("/agency/")
    web.post("/logout", data={"csrf_token": csrf_token(page.text)})
    assert web.get("/agency/").status_code == 302


def test_session_cookie_is_httponly_and_samesite_lax(web):
    login(web, "vhs")
    page = web.get("/login")
    resp = web.post(
        "/login",
        data={"username": "vhs", "password": PASSWORD, "csrf_token": csrf_token(page.text)},
    )
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_login_does_not_redirect_off_site(web):
    page = web.get("/login?next=//evil.example/")
    resp = web.post(
        "/login",
        data={
            "username": "vhs",
            "password": PASSWORD,
            "next": "//evil.example/",
            "csrf_token": csrf_token(page.text),
        },
    )
    assert resp.status_code == 302
    assert "evil" not in resp.headers["Location"]


@pytest.mark.parametrize(
    ("user", "path"),
    [
        ("vhs", "/counsel/intake"),
        ("vhs", "/analyst/models"),
        ("berater", "/agency/offers"),
        ("analyst", "/counsel/referrals"),
        ("admin", "/agency/import"),
    ],
)
def test_wrong_role_gets_a_403_page(web, user, path):
    login(web, user)
    resp = web.get(path)
    assert resp.status_code == 403
    assert resp.mimetype == "text/html"


def test_web_session_keeps_the_principal_contract(web):
    login(web, "berater")
    with web.session_transaction() as sess:
        principal = sess.principal
    assert (principal.role, principal.centre_id) == ("counsellor", "mbe-wetzlar")


# --- agency -----------------------------------------------------------------------------


def _first_offer(web_app):
    from catalog import store

    with web_app.extensions["lotse"].sessions() as session:
        page = store.search_offers(session, store.OfferQuery(agency_id="vhs-wetzlar", per_page=1))
        offer = page.items[0][0]
        return offer.id, offer.version, offer.capacity_total


def test_agency_offers_table_sorts_and_filters(web):
    login(web, "vhs")
    page = web.get("/agency/offers?sort=title")
    assert page.status_code == 200
    assert 'aria-sort="ascending"' in page.text
    assert (
        web.get("/agency/offers?sort=capacity_free&dir=desc&category=language").status_code == 200
    )


def test_edit_form_shows_field_errors(web, web_app):
    offer_id, version, _ = _first_offer(web_app)
    login(web, "vhs")
    form = web.get(f"/agency/offers/{offer_id}/edit")
    assert form.status_code == 200
    resp = web.post(
        f"/agency/offers/{offer_id}/edit",
        data={
            "csrf_token": csrf_token(form.text),
            "version": version,
            "title": "x",
            "category": "integration_course",
            "organization": "VHS",
            "municipality": "Wetzlar",
            "latitude": "50.55",
            "longitude": "8.5",
            "postcode": "123",
        },
    )
    assert resp.status_code == 422
    assert 'id="e-title"' in resp.text
    assert 'id="e-postcode"' in resp.text
    assert 'aria-invalid="true"' in resp.text


def test_free_places_with_a_stale_version_says_reload(web, web_app):
    offer_id, version, _total = _first_offer(web_app)
    login(web, "vhs")
    page = web.get("/agency/offers")
    token = csrf_token(page.text)
    ok = web.post(
        f"/agency/offers/{offer_id}/free-places",
        data={"csrf_token": token, "version": version, "capacity_free": "0"},
        follow_redirects=True,
    )
    assert ok.status_code == 200
    stale = web.post(
        f"/agency/offers/{offer_id}/free-places",
        data={"csrf_token": token, "version": version, "capacity_free": "1"},
        follow_redirects=True,
    )
    assert "Reload" in stale.text or "Laden Sie" in stale.text


def test_csv_dry_run_shows_rows_then_confirm_writes(web, web_app):
    login(web, "vhs")
    page = web.get("/agency/import")
    csv_text = (
        "external_id,title,category,organization,municipality,latitude,longitude\n"
        "web-1,Sprachcafé am Dom,language_cafe,VHS Wetzlar,Wetzlar,50.55,8.50\n"
        "web-2,x,nonsense,VHS Wetzlar,Wetzlar,50.55,8.50\n"
    )
    from io import BytesIO

    report = web.post(
        "/agency/import",
        data={"csrf_token": csrf_token(page.text), "file": (BytesIO(csv_text.encode()), "o.csv")},
        content_type="multipart/form-data",
    )
    assert report.status_code == 200
    assert "Sprachcafé am Dom" in report.text
    assert "nonsense" in report.text
    done = web.post(
        "/agency/import/confirm",
        data={"csrf_token": csrf_token(report.text), "mode": "partial"},
        follow_redirects=True,
    )
    assert done.status_code == 200
    assert "1" in done.text
    from catalog import store

    with web_app.extensions["lotse"].sessions() as session:
        found = store.search_offers(session, store.OfferQuery(q="Sprachcafé am Dom"))
        assert any(o.external_id == "web-1" for o, _ in found.items)


def test_history_page(web, web_app):
    offer_id, _, _ = _first_offer(web_app)
    login(web, "vhs")
    page = web.get(f"/agency/offers/{offer_id}/history")
    assert page.status_code == 200
    assert "create" in page.text


# --- counsellor -------------------------------------------------------------------------


INTAKE = {
    "person_ref": "MBE-TEST-1",
    "age": "34",
    "gender": "female",
    "place": "Wetzlar",
    "german_level": "A1",
    "literate": "1",
    "needs": "Deutschkurs\nKita",
    "children_ages": "3",
}


def test_intake_shows_resolution_and_suggestions_then_refers(web):
    login(web, "berater")
    form = web.get("/counsel/intake")
    page = web.post("/counsel/intake", data={**INTAKE, "csrf_token": csrf_token(form.text)})
    assert page.status_code == 200, page.text[:500]
    assert "Wetzlar" in page.text
    assert "Kita" in page.text
    import re

    offers = re.findall(r'name="offer_id" value="([^"]+)"', page.text)
    request_id = re.search(r'name="request_id" value="([^"]+)"', page.text).group(1)
    assert offers
    no_consent = web.post(
        "/counsel/refer",
        data={"csrf_token": csrf_token(page.text), "offer_id": offers[0], "request_id": request_id},
        follow_redirects=True,
    )
    assert "consent" in no_consent.text.lower() or "Einwilligung" in no_consent.text
    again = web.get("/counsel/suggestions")
    request_id = re.search(r'name="request_id" value="([^"]+)"', again.text).group(1)
    offers = re.findall(r'name="offer_id" value="([^"]+)"', again.text)
    done = web.post(
        "/counsel/refer",
        data={
            "csrf_token": csrf_token(again.text),
            "offer_id": offers[0],
            "request_id": request_id,
            "consent": "1",
        },
        follow_redirects=True,
    )
    assert done.status_code == 200
    assert done.request.path == "/counsel/referrals"
    assert 'id="referrals-table"' in done.text


def test_the_intake_never_reaches_the_cookie(web, web_app):
    """The review found the profile readable in the cookie; now it is kept on the server and
    the cookie is an opaque id, the same before and after the intake."""
    login(web, "berater")
    cookie = web.get_cookie("lotse_session").value
    form = web.get("/counsel/intake")
    private = {**INTAKE, "profession": "Zahntechnikerin", "residence_status": "tolerated",
               "benefits": "asylblg", "qualification_country": "Eritrea"}  # fmt: skip
    page = web.post("/counsel/intake", data={**private, "csrf_token": csrf_token(form.text)})
    assert page.status_code == 200
    for resp in (page, web.get("/counsel/suggestions"), web.get("/counsel/why-not")):
        for header in resp.headers.getlist("Set-Cookie"):
            value = header.split(";", 1)[0].split("=", 1)[1]
            assert re.fullmatch(r"[A-Za-z0-9_-]{0,43}", value), header
            for secret in ("Zahntechnikerin", "tolerated", "asylblg", "Eritrea", "MBE-TEST-1"):
                assert secret not in header
    assert web.get_cookie("lotse_session").value == cookie
    assert "Zahntechnikerin" in web.get("/counsel/intake").text  # the draft is still there
    with web_app.extensions["lotse"].sessions() as session:
        from lotse.accounts import WebSession

        assert all("Zahntechnikerin" not in row.data for row in session.scalars(select(WebSession)))


def test_intake_errors_are_shown_on_the_form(web):
    login(web, "berater")
    form = web.get("/counsel/intake")
    token = csrf_token(form.text)
    page = web.post("/counsel/intake", data={**INTAKE, "age": "", "csrf_token": token})
    assert page.status_code == 422
    assert 'id="e-age"' in page.text
    page = web.post("/counsel/intake", data={**INTAKE, "place": "Xqzwvbl", "csrf_token": token})
    assert page.status_code == 422
    assert 'id="e-place"' in page.text
    assert 'value="Xqzwvbl"' in page.text


def test_why_not_explains_every_rule(web, web_app):
    offer_id, _, _ = _first_offer(web_app)
    login(web, "berater")
    form = web.get("/counsel/intake")
    web.post("/counsel/intake", data={**INTAKE, "csrf_token": csrf_token(form.text)})
    page = web.get(f"/counsel/why-not?offer={offer_id}")
    assert page.status_code == 200
    assert page.text.count('class="badge badge-') >= 10
    search = web.get("/counsel/why-not?offer=Integrationskurs")
    assert search.status_code == 200


def test_agreement_from_suggestions_sign_and_review(web):
    import re

    login(web, "berater")
    form = web.get("/counsel/intake")
    page = web.post("/counsel/intake", data={**INTAKE, "csrf_token": csrf_token(form.text)})
    offers = re.findall(r'name="offer_id" value="([^"]+)"', page.text)
    needs = re.findall(r'name="need" value="([^"]+)"', page.text)
    request_id = re.search(r'name="request_id" value="([^"]+)"', page.text).group(1)
    made = web.post(
        "/counsel/agreements",
        data={
            "csrf_token": csrf_token(page.text),
            "offer_id": offers[:2],
            "need": needs,
            "request_id": request_id,
            "consent": "1",
        },
        follow_redirects=True,
    )
    assert made.status_code == 200, made.text[:400]
    assert "/counsel/agreements/" in made.request.path
    token = csrf_token(made.text)
    for party in ("person", "counsellor"):
        signed = web.post(
            made.request.path + "/sign",
            data={"csrf_token": token, "party": party},
            follow_redirects=True,
        )
        assert signed.status_code == 200
    assert 'id="review"' in signed.text
    reviewed = web.post(
        made.request.path + "/reviews",
        data={"csrf_token": token, "successes": "Kurs begonnen", "obstacle": "waiting_time"},
        follow_redirects=True,
    )
    assert "Kurs begonnen" in reviewed.text
    start = web.get("/counsel/")
    assert start.status_code == 200
    assert "MBE-TEST-1" in start.text


# --- analyst ----------------------------------------------------------------------------


def test_analyst_pages(web):
    login(web, "analyst")
    assert web.get("/analyst/").status_code == 200
    models = web.get("/analyst/models")
    assert models.status_code == 200
    monitoring = web.get("/analyst/monitoring?by=category")
    assert monitoring.status_code == 200
    chart = web.get("/analyst/monitoring/chart.png")
    assert chart.status_code == 200
    assert chart.mimetype == "image/png"
    rollback = web.get("/analyst/models/rollback", follow_redirects=True)
    assert rollback.status_code == 200


def test_every_page_text_has_a_german_translation():
    """Strings added to a template or page module must be translated before they ship."""
    from pathlib import Path

    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parents[2] / "service"
    method_map = [("web/**.py", "python"), ("templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
    found = {
        msg if isinstance(msg, str) else msg[0]
        for _file, _line, msg, _comments, _ctx in extract_from_dir(
            str(root), method_map, keywords=keywords
        )
    }
    with open(root / "translations/de/LC_MESSAGES/messages.po", "rb") as fh:
        catalog = read_po(fh)
    assert len(found) > 100, "nothing extracted: check the method map"
    missing = sorted(m for m in found if not (catalog.get(m) and catalog.get(m).string))
    assert not missing, f"untranslated: {missing[:10]}"
