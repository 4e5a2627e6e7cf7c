"""Each role finishes its real work in the pages, in Debian's headless Chromium, with axe-core
(WCAG 2.1 A and AA) finding no serious or critical violation on any page on the way.

``LOTSE_SCREENSHOTS=1`` refreshes ``docs/screenshots/`` (see ``tests/web/conftest.py``).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.web.conftest import axe_check, log_in, shot

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}


def _page(browser):
    page = browser.new_page(locale="de-DE", viewport=DESKTOP)
    page.set_default_timeout(15_000)
    return page


def _describe_centre(web_app) -> None:
    from sqlalchemy import select

    from lotse.accounts import Centre, User
    from lotse.db import transaction

    with transaction(web_app.extensions["lotse"].sessions) as s:
        centre = s.get(Centre, "mbe-wetzlar")
        centre.name = "Migrationsberatung für Erwachsene Wetzlar"
        centre.address = "Bahnhofstraße 12\n35576 Wetzlar"
        s.scalar(select(User).where(User.username == "berater")).display_name = "Anna Weber"


def test_counsellor_from_intake_to_a_closed_case(server, browser, web_app):
    _describe_centre(web_app)
    page = _page(browser)
    log_in(page, server, "berater")
    page.get_by_role("link", name="Neue Erfassung").first.click()
    page.get_by_label("Pseudonyme Kennung").fill("MBE-2027-0042")
    page.get_by_role("spinbutton", name=re.compile("^Alter")).fill("31")
    page.get_by_label("Geschlecht").select_option("female")
    page.get_by_label("Deutschniveau").select_option("A1")
    page.get_by_label("Was die Person braucht").fill(
        "Deutschkurs\nPlatz in der Kita für meine Tochter"
    )
    page.get_by_label("Alter der Kinder").fill("2")
    page.get_by_label("Wohnort").fill("Wetzlar")
    axe_check(page, "intake")
    page.get_by_role("button", name="Vorschläge anzeigen").click()

    # suggestions: compact, per need, the consent and actions always at hand
    expect(
        page.get_by_role("heading", name=re.compile("^Vorschläge für MBE-2027-0042"))
    ).to_be_visible()
    expect(page.locator("dl.facts").get_by_text("Kita").first).to_be_visible()
    expect(
        page.get_by_text(re.compile(r"\d+ Angebote? pass(t|en) zu keinem genannten Bedarf"))
    ).to_be_visible()
    bar = page.locator(".sticky-bar")
    expect(bar).to_have_css("position", "sticky")
    axe_check(page, "suggestions")
    shot(page, "counsellor-suggestions", full_page=False)

    # the offer's details, and back
    first = page.locator("li.card h3 a").first
    title = first.inner_text()
    first.click()
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    for label in (
        "Adresse",
        "Zeiten",
        "Kontakt",
        "Internetseite",
        "Kosten",
        "Barrierefreiheit",
        "Freie Plätze",
        "Zuletzt aktualisiert",
    ):
        expect(page.locator("#offer-facts dt", has_text=label)).to_be_visible()
    axe_check(page, "offer detail")
    shot(page, "counsellor-offer")
    page.get_by_role("link", name="Zurück zu den Vorschläge").first.click()

    # refer to the first offer
    page.get_by_label(re.compile("^Auswählen")).first.check()
    page.get_by_label(re.compile("Einwilligung erfasst")).check()
    page.get_by_role("button", name="In die gewählten Angebote vermitteln").click()
    expect(page.get_by_text("1 Vermittlung wurde angelegt.")).to_be_visible()
    row = page.locator("#referrals-table tbody tr").first
    expect(row.get_by_role("link", name="MBE-2027-0042")).to_be_visible()  # whose it is
    axe_check(page, "referrals")
    shot(page, "counsellor-referrals")

    # the agreement from the same suggestions: the open referral is reused, not doubled
    page.get_by_role("link", name="Zurück zu den Vorschlägen").click()
    page.get_by_label(re.compile("^Auswählen")).first.check()
    page.get_by_label(re.compile("Einwilligung erfasst")).check()
    page.get_by_label("Vermittlungsschritte einer Vereinbarung fällig bis").fill("2027-03-31")
    page.get_by_role("button", name="Vereinbarung mit den gewählten Angeboten entwerfen").click()
    expect(
        page.get_by_role("heading", name="Integrationsvereinbarung mit MBE-2027-0042")
    ).to_be_visible()
    expect(page.get_by_text("an die Träger geschickt").first).to_be_visible()
    expect(page.locator("#steps-table").get_by_text("31.03.2027")).to_be_visible()
    page.locator("#target-0").fill("B1")
    page.locator("#target_by-0").fill("2027-06")
    page.get_by_role("button", name="Ziele speichern").click()
    expect(page.get_by_text("B1 bis Juni 2027").first).to_be_visible()
    axe_check(page, "agreement draft")
    for party in ("person", "counsellor"):
        page.get_by_label("Wer unterschreibt").select_option(party)
        page.get_by_role("button", name="Unterschrift erfassen").click()
        expect(page.get_by_text("Die Unterschrift wurde erfasst.")).to_be_visible()
    signatures = page.locator("#signatures")
    expect(signatures.get_by_text(re.compile(r"Unterschrieben am .*: die Person"))).to_be_visible()
    expect(signatures.get_by_text(re.compile("Anna Weber"))).to_be_visible()

    # the print view names the centre, its address and the counsellor
    with page.expect_popup() as opened:
        page.get_by_role("button", name="Vereinbarung drucken").click()
    printout = opened.value
    expect(printout.get_by_text("Migrationsberatung für Erwachsene Wetzlar").first).to_be_visible()
    expect(printout.get_by_text("35576 Wetzlar").first).to_be_visible()
    expect(printout.get_by_text("Anna Weber").first).to_be_visible()
    expect(printout.get_by_text("B1 bis Juni 2027").first).to_be_visible()
    expect(printout.get_by_text("31.03.2027").first).to_be_visible()
    shot(printout, "counsellor-print")
    printout.close()

    # the review shows the referral's status; a step is not done while it is proposed
    expect(page.get_by_text("Vermittlungsstatus jetzt:").first).to_be_visible()
    step = page.locator("select[name^='step-']").first
    step.select_option("done")
    page.get_by_role("button", name="Überprüfung speichern").click()
    expect(page.get_by_text("noch vorgeschlagen").first).to_be_visible()
    page.locator("select[name^='step-']").first.select_option("dropped")
    page.locator("select[name^='refstatus-']").first.select_option("declined")
    page.locator("select[name^='refreason-']").first.select_option("schedule_conflict")
    page.get_by_label("Erfolge").fill("Kita-Platz gefunden")
    page.get_by_role("button", name="Überprüfung speichern").click()
    expect(page.get_by_text("Die Überprüfung wurde gespeichert.")).to_be_visible()
    axe_check(page, "agreement signed, with review")
    shot(page, "counsellor-agreement")

    # close: every goal's outcome
    for select in page.locator("select[name^='outcome-']").all():
        select.select_option("partly_reached")
    page.get_by_role("button", name="Vereinbarung abschließen").click()
    expect(page.get_by_text("Die Vereinbarung wurde abgeschlossen.")).to_be_visible()

    # the case page gathers it all, and the closed agreement stays reachable
    page.get_by_role("link", name="Fälle").first.click()
    page.get_by_label("Kennung enthält").fill("2027-0042")
    page.get_by_label("Anzeigen").select_option("all")
    page.get_by_role("button", name="Suche").click()
    expect(page).to_have_url(re.compile(r"q=2027-0042.*status=all"))  # the results, loaded
    expect(page.get_by_role("link", name="MBE-2027-0042")).to_be_visible()
    axe_check(page, "case list")
    shot(page, "counsellor-cases")
    page.get_by_role("link", name="MBE-2027-0042").click()
    expect(page.get_by_role("heading", name="Fall MBE-2027-0042")).to_be_visible()
    expect(page.get_by_text(re.compile("Abgeschlossen am"))).to_be_visible()
    expect(
        page.locator("#case-referrals").get_by_text("von der Person abgesagt").first
    ).to_be_visible()
    expect(page.get_by_text("Terminkonflikt").first).to_be_visible()
    expect(page.get_by_role("heading", name="Erfassungen und Vorschlagsanfragen")).to_be_visible()
    axe_check(page, "case page")
    shot(page, "counsellor-case")
    page.get_by_role("link", name=re.compile("^Vereinbarung vom")).first.click()
    expect(page.get_by_role("heading", name="Abschluss")).to_be_visible()
    page.close()


def _referral_to_vhs(web_app) -> str:
    """A referral of MBE-2027-0007 to a VHS offer with free places; the offer's title."""
    from sqlalchemy import select

    from casework import referrals
    from casework.origin import origin_of_request
    from casework.register import note_case
    from catalog.tables import Offer
    from lotse.accounts import Centre, Principal
    from lotse.db import transaction
    from tests.casework.cases import served_request

    with transaction(web_app.extensions["lotse"].sessions) as s:
        offer = s.scalars(
            select(Offer)
            .where(Offer.agency_id == "vhs-wetzlar", Offer.status == "active")
            .order_by(Offer.title)
        ).first()
        offer.capacity_free, offer.capacity_total = 3, max(offer.capacity_total or 0, 3)
        s.get(Centre, "mbe-wetzlar").name = "Migrationsberatung Wetzlar"
        note_case(s, "mbe-wetzlar", "MBE-2027-0007")
        request_id = served_request(s, "MBE-2027-0007", [offer.id])
        counsellor = Principal(role="counsellor", centre_id="mbe-wetzlar")
        referrals.refer(s, counsellor, origin_of_request(s, request_id), offer.id, True)
        return offer.title


def test_agency_works_its_inbox_and_keeps_an_offer_current(server, browser, web_app):
    title = _referral_to_vhs(web_app)
    page = _page(browser)
    log_in(page, server, "vhs")
    page.get_by_role("link", name="Vermittlungen", exact=True).first.click()
    row = page.locator("#inbox-table tbody tr").filter(has_text=title).first
    expect(row.get_by_text("Migrationsberatung Wetzlar")).to_be_visible()
    expect(row.get_by_text("MBE-2027-0007")).to_be_visible()
    axe_check(page, "inbox")
    shot(page, "agency-inbox")
    for action, done in (
        ("Annehmen", "angenommen"),
        ("Aufnehmen", "aufgenommen"),
        ("Abgeschlossen", "abgeschlossen"),
    ):
        page.locator("#inbox-table tbody tr").filter(has_text=title).first.get_by_role(
            "link", name=re.compile(f"^{action}")
        ).click()
        expect(page.get_by_role("heading", name=re.compile(f"^{action}"))).to_be_visible()
        if action == "Annehmen":
            axe_check(page, "confirmation")
            shot(page, "agency-confirm")
        page.get_by_role("button", name=re.compile("^Bestätigen")).click()
        expect(page.get_by_role("status").filter(has_text=done)).to_be_visible()
    page.get_by_label("Status").select_option("completed")
    page.get_by_role("button", name="Anzeigen").click()
    expect(page.locator("#inbox-table tbody tr").filter(has_text=title)).to_have_count(1)

    # the offer: 2,50 €, a language chosen by name, then its history in German
    page.get_by_role("link", name="Unsere Angebote", exact=True).first.click()
    page.get_by_label("Suche").fill(title) if page.get_by_label("Suche").count() else None
    page.locator("#offers-table tbody tr").filter(has_text=title).first.get_by_role(
        "link", name=re.compile("^Bearbeiten")
    ).click()
    page.get_by_label(re.compile("^Kosten in Euro")).fill("2,50")
    page.get_by_label("Stunden pro Woche").fill("12,5")
    page.get_by_label("Unterstützungssprachen").select_option(label=["Arabisch", "Ukrainisch"])
    axe_check(page, "offer form")
    shot(page, "agency-edit")
    page.get_by_role("button", name="Speichern").click()
    expect(page.get_by_text("wurden gespeichert")).to_be_visible()
    page.locator("#offers-table tbody tr").filter(has_text=title).first.get_by_role(
        "link", name=re.compile("^Verlauf")
    ).click()
    history = page.locator("table").first
    expect(history.get_by_text("Kosten in Euro").first).to_be_visible()
    expect(history.get_by_text(re.compile(r"2,50\s?€")).first).to_be_visible()
    expect(history.get_by_text(re.compile("Arabisch, Ukrainisch")).first).to_be_visible()
    expect(history.get_by_text("geändert").first).to_be_visible()
    expect(history.get_by_text("vhs").first).to_be_visible()  # the colleague, not the agency
    axe_check(page, "history")
    shot(page, "agency-history")
    page.close()


def test_analyst_compares_and_promotes(server, browser, web_app):
    from casework.outcomes import record_simulated_referrals, workspace
    from models.lifecycle import train_version
    from models.simulation import simulate_history

    lotse = web_app.extensions["lotse"]
    simulate_history(lotse.sessions, record_simulated_referrals, people=300, seed=2)
    train_version(workspace(lotse.sessions, lotse.settings.data_dir), seed=0, actor="test")
    page = _page(browser)
    log_in(page, server, "analyst")
    page.get_by_role("link", name="Modellversionen").first.click()
    expect(page.get_by_role("heading", name="Neueste Version: v1")).to_be_visible()
    expect(page.locator("#versions-table").get_by_text("Regelbewertung").first).to_be_visible()
    axe_check(page, "models")
    shot(page, "analyst-models")
    page.locator("#gate").get_by_role("link", name=re.compile("^Freigeben")).click()
    expect(page.get_by_role("heading", name="v1 freigeben?")).to_be_visible()
    axe_check(page, "promote")
    page.get_by_label(re.compile("^Grund")).fill("besser als die Regelbewertung")
    page.get_by_label(re.compile("Ja, v1 soll")).check()
    page.get_by_role("button", name="v1 freigeben").click()
    if page.get_by_label(re.compile("Trotzdem freigeben")).count():
        page.get_by_label(re.compile("Trotzdem freigeben")).check()
        page.get_by_label(re.compile("Ja, v1 soll")).check()
        page.get_by_role("button", name="v1 freigeben").click()
    expect(page.locator("#versions-table").get_by_text(re.compile("aktiv")).first).to_be_visible()
    page.get_by_role("link", name="Monitoring").first.click()
    expect(page.get_by_role("heading", name="Monitoring-Bericht")).to_be_visible()
    axe_check(page, "monitoring")
    shot(page, "analyst-monitoring")
    page.close()


def test_admin_disables_a_user_and_revokes_a_token(server, browser, web_app):
    from lotse.accounts import create_token
    from lotse.db import transaction

    with transaction(web_app.extensions["lotse"].sessions) as s:
        create_token(s, "agency", agency_id="vhs-wetzlar", label="Kursverwaltung VHS")
    page = _page(browser)
    log_in(page, server, "admin")
    page.get_by_role("link", name="Benutzer", exact=True).first.click()
    row = page.locator("#users-table tbody tr").filter(has_text="vhs")
    row.get_by_role("button", name=re.compile("^Sperren")).click()
    expect(page.get_by_text("vhs kann sich nicht mehr anmelden")).to_be_visible()
    expect(
        page.locator("#users-table tbody tr")
        .filter(has_text="vhs")
        .get_by_text(re.compile("gesperrt seit"))
    ).to_be_visible()
    axe_check(page, "users")
    shot(page, "admin-users")
    page.get_by_role("link", name="API-Tokens").first.click()
    token = page.locator("#tokens-table tbody tr").filter(has_text="Kursverwaltung VHS")
    token.get_by_role("button", name=re.compile("^Widerrufen")).click()
    expect(page.get_by_text(re.compile(r"Token \d+ wurde widerrufen."))).to_be_visible()
    expect(
        page.locator("#tokens-table tbody tr")
        .filter(has_text="Kursverwaltung VHS")
        .get_by_text(re.compile("widerrufen am"))
    ).to_be_visible()
    axe_check(page, "tokens")
    shot(page, "admin-tokens")
    page.get_by_role("link", name="Träger und Beratungsstellen").first.click()
    expect(page.get_by_role("heading", name="Träger und Beratungsstellen")).to_be_visible()
    axe_check(page, "organisations")
    page.close()
    # the disabled user can no longer log in
    other = _page(browser)
    log_in(other, server, "vhs")
    expect(other.get_by_role("heading", name="Bei Lotse anmelden")).to_be_visible()
    other.close()


def test_unknown_page_in_the_page_language(server, browser):
    page = browser.new_page(locale="en-GB")
    resp = page.goto(f"{server}/counsel/nowhere")
    assert resp.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    axe_check(page, "404")
    page.close()
