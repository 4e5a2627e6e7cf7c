"""The pages that let each role finish its work: the counsellor's cases and offer details,
the agency's referral inbox, readable histories (Flask test client)."""

from __future__ import annotations

import re

from tests.web.conftest import csrf_token, draft_agreement, login

INTAKE = {
    "person_ref": "MBE-CASE-1",
    "age": "34",
    "gender": "female",
    "place": "Wetzlar",
    "german_level": "A1",
    "literate": "1",
    "needs": "Deutschkurs\nKita",
    "children_ages": "3",
}


def _suggestions(web, **extra):
    form = web.get("/counsel/intake")
    page = web.post(
        "/counsel/intake",
        data={**INTAKE, **extra, "csrf_token": csrf_token(form.text)},
        follow_redirects=True,
    )
    assert page.status_code == 200, page.text[:400]
    return page


def _refer(web, page, n: int = 1):
    offers = re.findall(r'name="offer_id" value="([^"]+)"', page.text)[:n]
    request_id = re.search(r'name="request_id" value="([^"]+)"', page.text).group(1)
    return (
        web.post(
            "/counsel/refer",
            data={
                "csrf_token": csrf_token(page.text),
                "offer_id": offers,
                "request_id": request_id,
                "consent": "1",
            },
            follow_redirects=True,
        ),
        offers,
    )


def test_case_list_and_case_page_gather_the_person(web):
    login(web, "berater")
    page = _suggestions(web)
    done, _offers = _refer(web, page)
    assert done.request.path == "/counsel/referrals"
    assert "MBE-CASE-1" in done.text  # the referral names whose it is
    # referring again to the same offer keeps the open referral
    again, _ = _refer(web, web.get("/counsel/suggestions"))
    assert "no second one was made" in again.text or "keine zweite" in again.text
    assert again.text.count('href="/counsel/cases/MBE-CASE-1"') >= 1

    listing = web.get("/counsel/cases?q=case-1")
    assert listing.status_code == 200
    assert 'href="/counsel/cases/MBE-CASE-1"' in listing.text
    assert "MBE-CASE-1" not in web.get("/counsel/cases?q=nobody").text.split("<main")[1]

    case = web.get("/counsel/cases/MBE-CASE-1")
    assert case.status_code == 200
    assert 'id="case-referrals"' in case.text
    assert case.text.count("<tr>") >= 2  # header + one referral, not two
    assert "Vorschlag" in case.text or "Erfassung" in case.text
    assert web.get("/counsel/cases/NOBODY").status_code == 404


def test_case_filters_and_closed_cases_stay_reachable(web):
    login(web, "berater")
    page = _suggestions(web)
    made = draft_agreement(web, page)
    path, token = made.request.path, csrf_token(made.text)
    for party in ("person", "counsellor"):
        web.post(path + "/sign", data={"csrf_token": token, "party": party})
    agreement = web.get(path)
    goals = re.findall(r'name="outcome-(\d+)"', agreement.text)
    web.post(
        path + "/close",
        data={"csrf_token": token, **{f"outcome-{g}": "reached" for g in goals}},
    )
    # the referral is still open, so the case is open until it is settled
    assert "MBE-CASE-1" in web.get("/counsel/cases?status=open").text
    referral = re.search(r"/counsel/referrals/([0-9a-f-]+)/status", web.get(path).text)
    case = web.get("/counsel/cases/MBE-CASE-1")
    rid = re.search(r"/counsel/referrals/([0-9a-f-]+)/status", case.text).group(1)
    assert referral is None or referral.group(1) == rid
    web.post(
        f"/counsel/referrals/{rid}/status",
        data={"csrf_token": token, "status": "declined", "reason": "found_other_offer"},
    )
    closed = web.get("/counsel/cases?status=closed")
    assert 'href="/counsel/cases/MBE-CASE-1"' in closed.text
    case = web.get("/counsel/cases/MBE-CASE-1")
    assert "abgeschlossen" in case.text.lower() or "closed" in case.text.lower()
    assert path in case.text  # the closed agreement is still linked


def test_offer_detail_page(web):
    login(web, "berater")
    page = _suggestions(web)
    offer = re.search(r'href="(/counsel/offers/[^"]+)"', page.text).group(1)
    detail = web.get(offer)
    assert detail.status_code == 200
    for label in (
        "Adresse",
        "Zeiten",
        "Freie Plätze",
        "Kosten",
        "Unterstützung",
        "Zuletzt aktualisiert",
    ):
        assert label in detail.text, label
    assert web.get("/counsel/offers/no-such-offer").status_code == 404


def _referred(web, web_app):
    login(web, "berater")
    page = _suggestions(web)
    _done, offers = _refer(web, page)
    web.post("/logout", data={"csrf_token": csrf_token(web.get("/counsel/").text)})
    from catalog.tables import Offer

    with web_app.extensions["lotse"].sessions() as s:
        offer = s.get(Offer, offers[0])
        return offer.id, offer.agency_id


def test_agency_inbox_accept_enrol_complete(web, web_app):
    offer_id, agency = _referred(web, web_app)
    from lotse.accounts import create_user
    from lotse.db import transaction

    with transaction(web_app.extensions["lotse"].sessions) as s:
        create_user(s, "clerk", "inbox-password-9", "agency", agency)
    login(web, "clerk", "inbox-password-9")
    inbox = web.get("/agency/referrals")
    assert inbox.status_code == 200
    assert "MBE-CASE-1" in inbox.text  # the centre's reference, shared with consent
    assert "mbe-wetzlar" in inbox.text
    link = re.search(r'href="(/agency/referrals/[^"]+/status\?to=accepted[^"]*)"', inbox.text)
    confirm = web.get(link.group(1).replace("&amp;", "&"))
    assert confirm.status_code == 200
    rid = re.search(r"/agency/referrals/([0-9a-f-]+)/status", link.group(1)).group(1)
    token = csrf_token(confirm.text)
    done = web.post(
        f"/agency/referrals/{rid}/status",
        data={"csrf_token": token, "to": "accepted"},
        follow_redirects=True,
    )
    assert "angenommen" in done.text
    # declining needs a reason from the list
    no_reason = web.post(
        f"/agency/referrals/{rid}/status",
        data={"csrf_token": token, "to": "rejected_by_provider"},
        follow_redirects=True,
    )
    assert "Grund" in no_reason.text
    # a full offer: enrolment refused with a clear message
    from catalog.tables import Offer

    with transaction(web_app.extensions["lotse"].sessions) as s:
        s.get(Offer, offer_id).capacity_free = 0
    full = web.post(
        f"/agency/referrals/{rid}/status",
        data={"csrf_token": token, "to": "enrolled"},
        follow_redirects=True,
    )
    assert "keinen freien Platz mehr" in full.text
    with transaction(web_app.extensions["lotse"].sessions) as s:
        s.get(Offer, offer_id).capacity_free = 2
    for to in ("enrolled", "completed"):
        web.post(f"/agency/referrals/{rid}/status", data={"csrf_token": token, "to": to})
    final = web.get("/agency/referrals?status=completed")
    assert rid in final.text or "abgeschlossen" in final.text
    assert web.get(f"/agency/referrals?offer={offer_id}").status_code == 200
    # another agency sees nothing of it
    with transaction(web_app.extensions["lotse"].sessions) as s:
        create_user(s, "other", "second-agency-pw-7", "agency", "awo-essen")
    other = web_app.test_client()
    login(other, "other", "second-agency-pw-7")
    assert other.get(f"/agency/referrals/{rid}/status?to=completed").status_code == 403


def test_agreement_goals_dates_signatures_print_and_review_with_referrals(web, web_app):
    from sqlalchemy import select

    from lotse.accounts import Centre, User
    from lotse.db import transaction

    with transaction(web_app.extensions["lotse"].sessions) as s:
        centre = s.get(Centre, "mbe-wetzlar")
        centre.name = "Migrationsberatung Wetzlar"
        centre.address = "Bahnhofstraße 1\n35576 Wetzlar"
        s.scalar(select(User).where(User.username == "berater")).display_name = "Anna Weber"
    login(web, "berater")
    page = _suggestions(web)
    made = draft_agreement(web, page, due="2027-03-31")
    path, token = made.request.path, csrf_token(made.text)
    assert "an die Träger" in made.text  # the draft says its referrals went out
    assert "31.03.2027" in made.text  # the referral step's due date
    version = re.search(r'name="version" value="(\d+)"', made.text).group(1)
    goals = dict(re.findall(r'name="category-(\d+)" value="([^"]+)"', made.text))
    form = {"csrf_token": token, "version": version}
    for i, category in goals.items():
        form |= {f"category-{i}": category, f"priority-{i}": "1"}
    form |= {"target-0": "B1", "target_by-0": "2027-06"}
    worded = web.post(path + "/goals", data=form, follow_redirects=True)
    assert "B1 bis Juni 2027" in worded.text
    for party in ("person", "counsellor"):
        web.post(path + "/sign", data={"csrf_token": token, "party": party, "date": "2026-12-01"})
    signed = web.get(path)
    assert "Unterschrieben am 01.12.2026: die Person" in signed.text
    assert "Anna Weber" in signed.text
    agreement_id = path.rsplit("/", 1)[1]
    printed = web.get(f"/v1/agreements/{agreement_id}/print?lang=de")
    assert "Migrationsberatung Wetzlar" in printed.text
    assert "35576 Wetzlar" in printed.text
    assert "Anna Weber" in printed.text
    assert "B1 bis Juni 2027" in re.sub(r"<[^>]+>", "", printed.text)
    assert "31.03.2027" in printed.text
    # the referral is still proposed: its step cannot be done yet
    step = re.search(r'name="step-(\d+)"', signed.text).group(1)
    assert "Vermittlungsstatus jetzt:" in signed.text
    refused = web.post(
        path + "/reviews",
        data={"csrf_token": token, f"step-{step}": "done"},
        follow_redirects=True,
    )
    assert "noch vorgeschlagen" in refused.text or "still proposed" in refused.text
    declined = web.post(
        path + "/reviews",
        data={
            "csrf_token": token,
            f"step-{step}": "dropped",
            f"refstatus-{step}": "declined",
            f"refreason-{step}": "schedule_conflict",
        },
        follow_redirects=True,
    )
    assert "Die Überprüfung wurde gespeichert." in declined.text, declined.text[-2000:]
    case = web.get("/counsel/cases/MBE-CASE-1")
    assert "Terminkonflikt" in case.text or "zeitlich" in case.text.lower()


def _offer_form(web, web_app):
    from sqlalchemy import select

    from catalog.tables import Offer

    with web_app.extensions["lotse"].sessions() as s:
        offer = s.scalars(
            select(Offer).where(Offer.agency_id == "vhs-wetzlar").order_by(Offer.title)
        ).first()
        return offer.id


def test_offer_form_takes_german_decimals_languages_by_name_and_approximates(web, web_app):
    offer_id = _offer_form(web, web_app)
    login(web, "vhs")
    form = web.get(f"/agency/offers/{offer_id}/edit")
    assert "Arabisch" in form.text  # languages listed by name
    values = dict(
        re.findall(
            r'name="(\w+)" type="(?:text|number|date|url|email|tel)" value="([^"]*)"', form.text
        )
    )
    data = {
        **{k: v for k, v in values.items()},
        "csrf_token": csrf_token(form.text),
        "version": re.search(r'name="version" value="(\d+)"', form.text).group(1),
        "title": "Sprachcafé am Dom",
        "category": "language_cafe",
        "organization": "VHS Wetzlar",
        "municipality": "Wetzlar",
        "street": "Domplatz 1",
        "postcode": "35578",
        "latitude": "",
        "longitude": "",
        "cost_eur": "2,50",
        "hours_per_week": "12,5",
        "languages": ["ar", "Ukrainisch"],
        "status": "active",
    }
    saved = web.post(f"/agency/offers/{offer_id}/edit", data=data, follow_redirects=True)
    assert saved.status_code == 200, saved.text[-1500:]
    from catalog.tables import Offer

    with web_app.extensions["lotse"].sessions() as s:
        offer = s.get(Offer, offer_id)
        assert offer.cost_eur == 2.5 and offer.hours_per_week == 12.5
        assert offer.languages == ["ar", "uk"]
        assert offer.location_approximate and offer.latitude is not None
    again = web.get(f"/agency/offers/{offer_id}/edit")
    assert 'id="approx-note"' in again.text
    history = web.get(f"/agency/offers/{offer_id}/history")
    assert "Kosten in Euro" in history.text  # field labels, not names
    assert "2,50" in history.text and "€" in history.text
    assert "Arabisch, Ukrainisch" in history.text
    assert "geändert" in history.text
    assert "vhs" in history.text  # the user who changed it (no display name set)
    assert "cost_eur" not in history.text.split("<main")[1]
    detail_login = web_app.test_client()
    login(detail_login, "berater")
    detail = detail_login.get(f"/counsel/offers/{offer_id}")
    assert "ungefähre Lage" in detail.text
    assert "2,50" in detail.text


def test_admin_creates_disables_resets_and_revokes(web, web_app):
    from lotse.accounts import create_token
    from lotse.db import transaction

    with transaction(web_app.extensions["lotse"].sessions) as s:
        create_token(s, "analyst", label="nightly report")
    login(web, "admin")
    users = web.get("/admin/users")
    assert users.status_code == 200 and 'id="users-table"' in users.text
    token = csrf_token(users.text)
    made = web.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "username": "weber",
            "display_name": "Anna Weber",
            "password": "lange-sichere-Phrase-42",
            "role": "counsellor",
            "centre_id": "mbe-wetzlar",
        },
        follow_redirects=True,
    )
    assert "Der Benutzer wurde angelegt." in made.text and "Anna Weber" in made.text
    weak = web.post(
        "/admin/users",
        data={"csrf_token": token, "username": "kurz", "password": "kurz", "role": "analyst"},
        follow_redirects=True,
    )
    assert "Nichts wurde geändert" in weak.text and "Passwort" in weak.text
    other = web_app.test_client()
    login(other, "weber", "lange-sichere-Phrase-42")
    assert other.get("/counsel/").status_code == 200
    off = web.post("/admin/users/weber/disable", data={"csrf_token": token}, follow_redirects=True)
    assert "kann sich nicht mehr anmelden" in off.text
    assert other.get("/counsel/").status_code == 302  # logged out at once
    again = web.post(
        "/admin/users/weber/password",
        data={"csrf_token": token, "password": "noch-eine-lange-Phrase-7"},
        follow_redirects=True,
    )
    assert "neues Passwort" in again.text
    tokens = web.get("/admin/tokens")
    assert "nightly report" in tokens.text
    tid = re.search(r"/admin/tokens/(\d+)/revoke", tokens.text).group(1)
    revoked = web.post(
        f"/admin/tokens/{tid}/revoke", data={"csrf_token": token}, follow_redirects=True
    )
    assert f"Token {tid} wurde widerrufen." in revoked.text and "widerrufen am" in revoked.text
    orgs = web.get("/admin/organisations")
    assert "mbe-wetzlar" in orgs.text
    saved = web.post(
        "/admin/organisations/centre/mbe-wetzlar",
        data={
            "csrf_token": token,
            "name": "Migrationsberatung Wetzlar",
            "address": "Bahnhofstraße 1\n35576 Wetzlar",
        },
        follow_redirects=True,
    )
    assert "Migrationsberatung Wetzlar" in saved.text


def test_accept_language_unknown_pages_and_favicon(web):
    english = web.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9,de;q=0.5"})
    assert 'lang="en"' in english.text and "Log in" in english.text
    german = web.get("/login", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert 'lang="de"' in german.text
    assert 'lang="de"' in web.get("/login").text  # no header: German
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "Accept-Language": "de"}
    missing = web.get("/counsel/no/such/page", headers=browser)
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert "Seite nicht gefunden" in missing.text
    api = web.get("/v1/no-such-thing", headers=browser)
    assert api.status_code == 404 and api.mimetype == "application/problem+json"
    tool = web.get("/counsel/no/such/page")  # no Accept: problem+json as before
    assert tool.mimetype == "application/problem+json"
    assert 'rel="icon"' in german.text
    assert web.get("/static/favicon.svg").status_code == 200


def test_the_intake_shows_what_the_needs_are_understood_as_before_searching(web, web_app):
    from sqlalchemy import func, select

    from matcher.tables import RecommendationRequest

    def requests() -> int:
        with web_app.extensions["lotse"].sessions() as s:
            return s.scalar(select(func.count()).select_from(RecommendationRequest))

    login(web, "berater")
    form = web.get("/counsel/intake")
    before = requests()
    data = {
        **INTAKE,
        "needs": "Platz in der Kita für meine Tochter\nKinderarzt",
        "csrf_token": csrf_token(form.text),
    }
    checked = web.post("/counsel/intake/check", data=data)
    assert checked.status_code == 200
    box = checked.text.split('id="understood-box"')[1].split("</section>")[0]
    assert "Kita" in box and "Gesundheit" in box
    asked = web.post("/counsel/intake/check", data={**data, "needs": "Deutschkurs\nZahnarzt"})
    assert asked.status_code == 422
    assert "bezeichnet einen Beruf und ein Angebot" in asked.text
    assert "Anerkennung als Zahnarzt" in asked.text
    assert requests() == before  # nothing was searched or logged
