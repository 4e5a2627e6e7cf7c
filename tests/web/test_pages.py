"""Quick page checks with Flask's test client: logins, roles, CSRF, and each role's pages."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.web.conftest import PASSWORD, csrf_token, draft_agreement, login


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
    assert "angelegt" in page.text  # the creation, in words


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
    page = web.post(
        "/counsel/intake",
        data={**INTAKE, "csrf_token": csrf_token(form.text)},
        follow_redirects=True,
    )
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
    page = web.post(
        "/counsel/intake",
        data={**private, "csrf_token": csrf_token(form.text)},
        follow_redirects=True,
    )
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
    web.post(
        "/counsel/intake",
        data={**INTAKE, "csrf_token": csrf_token(form.text)},
        follow_redirects=True,
    )
    page = web.get(f"/counsel/why-not?offer={offer_id}")
    assert page.status_code == 200
    assert page.text.count('class="badge badge-') >= 10
    search = web.get("/counsel/why-not?offer=Integrationskurs")
    assert search.status_code == 200


def test_agreement_from_suggestions_sign_and_review(web):

    login(web, "berater")
    form = web.get("/counsel/intake")
    page = web.post(
        "/counsel/intake",
        data={**INTAKE, "csrf_token": csrf_token(form.text)},
        follow_redirects=True,
    )
    made = draft_agreement(web, page, offers=2)
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


@pytest.mark.slow
def test_analyst_sees_the_counterfactual_estimate_the_gate_and_an_online_comparison(web, web_app):
    """What a new analyst reads after training: the newest version's counterfactual
    estimate with its interval beside the naive figure, the gate's decision and why; an
    online comparison started, read and stopped from the page."""
    from casework.outcomes import record_simulated_referrals, workspace
    from models.lifecycle import train_version
    from models.simulation import simulate_history

    lotse = web_app.extensions["lotse"]
    simulate_history(lotse.sessions, record_simulated_referrals, people=500, seed=2)
    train_version(workspace(lotse.sessions, lotse.settings.data_dir), seed=0, actor="test")
    login(web, "analyst")
    page = web.get("/analyst/models").text
    assert "Neueste Version: v1" in page
    assert 'id="newest-table"' in page and "kontrafaktisch sndcg@5" in page
    assert "naiv ndcg@10 (verzerrt)" in page
    assert re.search(r"0,\d{3} <span class=\"muted\">\[0,\d{3} – 0,\d{3}\]", page)
    gate = re.search(r'id="gate">(.*?)</div>', page, re.S).group(1)
    assert "Würde" in gate and "sndcg@5" in gate  # the decision and why, with numbers
    started = web.post(
        "/analyst/experiment",
        data={"challenger": "v1", "share": "0,3", "people": "60", "csrf_token": csrf_token(page)},
        follow_redirects=True,
    )
    assert started.status_code == 200 and "bedient 30 % der Personen" in started.text
    assert "Beurteilt über die ersten 60 Personen: 0 haben bisher" in started.text
    assert 'id="experiment-table"' in started.text or "alt genug" in started.text
    read = web.get("/analyst/models?matured_days=0").text
    assert "Online-Vergleich läuft" in read and "Gruppe" in read
    # promotion on the comparison: decided on its arms, in German, and refused while they
    # are too small to tell
    online = web.get("/analyst/models/v1/promote?evidence=online&matured_days=0").text
    assert "Entschieden wird über den Online-Vergleich von v1" in online
    assert "der Online-Vergleich kann es noch nicht sagen (0 der 60 geplanten Personen" in online
    assert 'name="evidence" value="online"' in online
    refused = web.post(
        "/analyst/models/v1/promote",
        data={
            "evidence": "online",
            "matured_days": "0",
            "confirm": "1",
            "csrf_token": csrf_token(online),
        },
    )
    assert refused.status_code == 409 and "v1 nicht übernommen" in refused.text
    assert web.get("/analyst/models/v1/promote?evidence=hearsay").status_code == 422
    stopped = web.post(
        "/analyst/experiment/stop", data={"csrf_token": csrf_token(read)}, follow_redirects=True
    )
    assert "Der Online-Vergleich ist beendet" in stopped.text
    assert 'id="start-comparison"' in stopped.text
    assert 'name="design" value="interleave" checked' in stopped.text
    assert 'name="share" value="0,5"' in stopped.text  # German decimals on a German page

    def start(share: str, design: str, people: str = "100"):
        form = {"challenger": "v1", "share": share, "design": design, "people": people}
        form["csrf_token"] = csrf_token(stopped.text)
        return web.post("/analyst/experiment", data=form, follow_redirects=True)

    assert "größer als 0 und höchstens 0,5" in start("0,8", "split").text
    assert (
        "Personen, über die entschieden wird: zwischen 20 und 1000000"
        in start("1", "interleave", "5").text
    )
    mixed = start("1", "interleave")
    assert "100 % der Personen" in mixed.text and "Listen, gemischt aus v1" in mixed.text
    read = web.get("/analyst/models?matured_days=0").text
    assert "Gemischte Listen, ausgereifte Anfragen: 0 Anfragen von 0 Personen" in read


def test_monitoring_page_shows_quarters_and_no_small_group_names(web, web_app):
    from datetime import date

    from lotse.db import transaction
    from tests.casework.cases import signed, store_offers

    with transaction(web_app.extensions["lotse"].sessions) as s:
        offers = store_offers(s)
        for i in range(6):
            signed(s, f"W-{i}", [offers["ik"]], on=date(2026, 8, 10))
        for i in range(2):
            signed(s, f"H-{i}", [offers["ik-hamm"]], municipality="Hamm", on=date(2026, 8, 10))
    login(web, "analyst")
    page = web.get("/analyst/monitoring?period=2026-Q3")
    assert page.status_code == 200
    assert "Wetzlar" in page.text and "Hamm" not in page.text
    assert "Sonstige (kleine Gruppen)" in page.text and "2026-Q3" in page.text
    assert "period=2026-Q3" in page.text  # the CSV and the chart are of the same quarter
    csv_text = web.get("/analyst/monitoring/report.csv?period=2026-Q3").text
    assert "Wetzlar" in csv_text and "Hamm" not in csv_text
    assert web.get("/analyst/monitoring?period=2099-Q1").status_code == 422


# --- hostile form input: a 4xx page, never a 500 ---------------------------------------------


def _signed_agreement_page(web):

    login(web, "berater")
    form = web.get("/counsel/intake")
    page = web.post(
        "/counsel/intake",
        data={**INTAKE, "csrf_token": csrf_token(form.text)},
        follow_redirects=True,
    )
    made = draft_agreement(web, page)
    token = csrf_token(made.text)
    for party in ("person", "counsellor"):
        web.post(made.request.path + "/sign", data={"csrf_token": token, "party": party})
    return made.request.path, token


def test_odd_step_and_outcome_keys_are_400_not_500(web):
    path, token = _signed_agreement_page(web)
    for key in ("step-²", "step-١", "step-" + "9" * 5000, "step-x"):
        page = web.post(path + "/reviews", data={"csrf_token": token, key: "done"})
        assert page.status_code in (400, 422), (key, page.status_code)
        assert "text/html" in page.content_type
    for key in ("outcome-²", "outcome-" + "1" * 5000):
        page = web.post(path + "/close", data={"csrf_token": token, key: "reached"})
        assert page.status_code in (400, 422), (key, page.status_code)


def test_odd_childrens_ages_are_a_form_error(web):
    login(web, "berater")
    token = csrf_token(web.get("/counsel/intake").text)
    for ages in ("²", "3, ²", "٣", "9" * 5000, "-1"):
        page = web.post(
            "/counsel/intake", data={**INTAKE, "children_ages": ages, "csrf_token": token}
        )
        assert page.status_code == 422, (ages, page.status_code)
        assert 'id="e-children_ages"' in page.text


def test_line_breaks_in_next_are_no_header_injection(web):
    for target in (
        "/agency/\r\nSet-Cookie: evil=1",
        "/x\nLocation: https://evil.example",
        "/ok%0d%0aSet-Cookie:%20evil=1",
        "/\x00",
    ):
        page = web.get("/login", query_string={"next": target})
        assert page.status_code == 200
        form_token = csrf_token(page.text)
        resp = web.post(
            "/login",
            data={
                "username": "vhs",
                "password": PASSWORD,
                "csrf_token": form_token,
                "next": target,
            },
        )
        assert resp.status_code == 302, (target, resp.status_code)
        location = resp.headers["Location"]
        assert "\n" not in location and "\r" not in location and "\x00" not in location
        assert not any("evil" in v for k, v in resp.headers if k.lower() == "set-cookie")
        web.post("/logout", data={"csrf_token": csrf_token(web.get("/agency/").text)})
    resp = web.post(
        "/language",
        data={
            "lang": "en",
            "next": "/\r\nX-Evil: 1",
            "csrf_token": csrf_token(web.get("/login").text),
        },
    )
    assert resp.status_code == 302 and "X-Evil" not in str(resp.headers)


# --- uploads of import dry runs: one pending file per user, expired ones gone at once ------


def _dry_run(client, title: str):
    from io import BytesIO

    page = client.get("/agency/import")
    csv_text = (
        "external_id,title,category,organization,municipality,latitude,longitude\n"
        f"up-1,{title},language_cafe,VHS Wetzlar,Wetzlar,50.55,8.50\n"
    )
    return client.post(
        "/agency/import",
        data={"csrf_token": csrf_token(page.text), "file": (BytesIO(csv_text.encode()), "o.csv")},
        content_type="multipart/form-data",
    )


def test_each_user_keeps_one_pending_upload_and_expired_ones_go(web, web_app, tmp_path):
    import os
    import time

    uploads = tmp_path / "uploads"
    uploads.mkdir()
    stale = uploads / ("0" * 16 + "-" + "a" * 32 + ".upload")
    stale.write_bytes(b"x" * 1000)
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    fresh = uploads / ("1" * 16 + "-" + "b" * 32 + ".upload")  # someone else's, still pending
    fresh.write_bytes(b"y")

    first = web_app.test_client()
    login(first, "vhs")
    assert _dry_run(first, "Sprachcafé eins").status_code == 200
    assert not stale.exists() and fresh.exists()
    assert len(list(uploads.glob("*.upload"))) == 2
    # the same user again, in another session: the older pending file goes at once
    second = web_app.test_client()
    login(second, "vhs")
    report = _dry_run(second, "Sprachcafé zwei")
    mine = [p for p in uploads.glob("*.upload") if p != fresh]
    assert len(mine) == 1 and b"zwei" in mine[0].read_bytes()
    gone = first.post(
        "/agency/import/confirm",
        data={"csrf_token": csrf_token(first.get("/agency/import").text)},
        follow_redirects=True,
    )
    assert "nicht mehr verfügbar" in gone.text or "no longer available" in gone.text
    done = second.post(
        "/agency/import/confirm",
        data={"csrf_token": csrf_token(report.text)},
        follow_redirects=True,
    )
    assert done.status_code == 200
    assert [p for p in uploads.glob("*.upload")] == [fresh]


def test_showing_the_suggestions_again_logs_no_new_request(web, web_app):
    """Back, reload, a language switch or the return from a referral show the same list:
    only the intake and "ask again" are new requests (training data stays clean)."""
    from matcher.tables import RecommendationRequest

    def requests() -> int:
        with web_app.extensions["lotse"].sessions() as session:
            return len(session.scalars(select(RecommendationRequest)).all())

    login(web, "berater")
    form = web.get("/counsel/intake")
    sent = web.post("/counsel/intake", data={**INTAKE, "csrf_token": csrf_token(form.text)})
    assert sent.status_code == 303 and sent.headers["Location"].endswith("/counsel/suggestions")
    assert requests() == 1
    first = web.get("/counsel/suggestions")
    shown = re.findall(r'name="offer_id" value="([^"]+)"', first.text)
    request_id = re.search(r'name="request_id" value="([^"]+)"', first.text).group(1)
    switched = web.post(
        "/language",
        data={"lang": "en", "csrf_token": csrf_token(first.text), "next": "/counsel/suggestions"},
        follow_redirects=True,
    )
    assert switched.status_code == 200 and 'lang="en"' in switched.text
    again = web.get("/counsel/suggestions")
    assert re.findall(r'name="offer_id" value="([^"]+)"', again.text) == shown
    assert re.search(r'name="request_id" value="([^"]+)"', again.text).group(1) == request_id
    assert requests() == 1
    asked = web.post("/counsel/suggestions", data={"csrf_token": csrf_token(again.text)})
    assert asked.status_code == 303 and requests() == 2


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_interleaved_comparison_reads_as_versions_wins_and_differences(app):
    """The analyst's table of an interleaved comparison with data: one row per version with
    the requests it won and its credit per request, the differences with intervals."""
    import numpy as np
    from flask import render_template

    from models.experiments import compare_teams
    from tests.models.test_experiments import simulated_teams

    report = compare_teams(simulated_teams(np.random.default_rng(5), 300, 0.08), seed=1)
    report.update(control="v1", challenger="v2")
    with app.test_request_context("/analyst/", headers={"Accept-Language": "de"}):
        html = render_template("analyst/_arms.html", experiment=report)
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)[1:]  # after the head
    wins = report["arms"]["interleaved"]["wins"]
    assert ">v1</th>" in rows[0] and f">{wins['control']}</td>" in rows[0]
    assert ">v2</th>" in rows[1] and f">{wins['challenger']}</td>" in rows[1]
    assert f"{wins['ties']} unentschieden" in rows[2]
    assert "Gemischte Listen" in html and "[" in rows[2]  # intervals shown
