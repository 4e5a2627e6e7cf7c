"""Each role's main journey in Debian's headless Chromium, driven by Playwright.

The app runs in a real HTTP server (werkzeug, in a thread, on a free loopback port) against a
SQLite copy of a small demo catalogue with the demo users. Set ``LOTSE_SCREENSHOTS=1`` to
refresh the screenshots in ``docs/screenshots/`` (off by default, so a test run does not
change the working tree).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.web.conftest import PHONE, log_in, shot

pytestmark = pytest.mark.browser


def test_logged_out_and_wrong_role_are_turned_away(server, browser):
    page = browser.new_page(locale="de-DE")
    page.goto(f"{server}/agency/offers")
    expect(page).to_have_url(re.compile("/login"))
    expect(page.get_by_role("heading", name="Bei Lotse anmelden")).to_be_visible()
    shot(page, "login")
    log_in(page, server, "vhs")
    resp = page.goto(f"{server}/analyst/models")
    assert resp.status == 403
    expect(page.get_by_role("heading", name="Nicht erlaubt")).to_be_visible()
    page.close()


def test_agency_keeps_offers_current(server, browser, tmp_path):
    page = browser.new_page(locale="de-DE")
    log_in(page, server, "vhs")
    expect(page).to_have_url(re.compile("/agency/$"))
    page.get_by_role("link", name="Unsere Angebote", exact=True).first.click()
    # switch to English and back: the choice sticks across pages
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Our offers")).to_be_visible()
    page.get_by_role("link", name="Free places").click()  # sort by free places
    expect(page.locator('th[aria-sort="ascending"]')).to_have_count(1)
    shot(page, "agency-offers")

    row = page.locator("#offers-table tbody tr").first
    title = row.locator("td").first.inner_text()
    free = row.locator('input[name="capacity_free"]')
    free.fill("3")
    row.get_by_role("button", name=re.compile("^Save")).click()
    expect(page.get_by_role("status").filter(has_text="3 free places now")).to_be_visible()

    page.locator("#offers-table tbody tr").filter(has_text=title).get_by_role(
        "link", name=re.compile("^Edit")
    ).click()
    page.get_by_label("Postcode").fill("123")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#e-postcode")).to_be_visible()
    expect(page.get_by_label("Postcode")).to_have_attribute("aria-invalid", "true")
    shot(page, "agency-edit-errors")
    page.get_by_label("Postcode").fill("35576")
    page.get_by_label("Hours per week").fill("12")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("were saved")).to_be_visible()

    page.locator("#offers-table tbody tr").filter(has_text=title).get_by_role(
        "link", name=re.compile("^History")
    ).click()
    expect(page.get_by_text("Hours per week", exact=True).first).to_be_visible()
    shot(page, "agency-history")

    csv_file = tmp_path / "offers.csv"
    csv_file.write_text(
        "external_id,title,category,organization,municipality,latitude,longitude\n"
        "b-1,Sprachcafé Altstadt,language_cafe,VHS Wetzlar,Wetzlar,50.55,8.50\n"
        "b-2,Bewerbungstraining,application_supprt,VHS Wetzlar,Wetzlar,50.55,8.50\n",
        encoding="utf-8",
    )
    page.get_by_role("link", name="Import CSV").first.click()
    page.get_by_label("File").set_input_files(str(csv_file))
    page.get_by_role("button", name="Check file (dry run)").click()
    rows = page.locator("#import-rows tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(1).get_by_text("rejected")).to_be_visible()
    expect(rows.nth(1).get_by_text("application_support")).to_be_visible()  # did you mean
    shot(page, "agency-import-dry-run")
    page.get_by_role("button", name=re.compile("Import the 1 valid rows")).click()
    expect(page.get_by_text("Import finished: 1 created")).to_be_visible()

    page.set_viewport_size(PHONE)
    page.goto(f"{server}/agency/offers")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    shot(page, "agency-offers-phone")
    page.close()


def test_counsellor_from_intake_to_referral_and_agreement(server, browser):
    page = browser.new_page(locale="de-DE")
    log_in(page, server, "berater")
    expect(page.get_by_role("heading", name=re.compile("Willkommen"))).to_be_visible()
    page.get_by_role("link", name="Neue Erfassung").first.click()
    page.get_by_label("Pseudonyme Kennung").fill("MBE-BROWSER-1")
    page.get_by_role("spinbutton", name=re.compile("^Alter")).fill("31")
    page.get_by_label("Geschlecht").select_option("female")
    page.get_by_label("Deutschniveau").select_option("A1")
    page.get_by_label("Was die Person braucht").fill("Deutschkurs\nKita")
    page.get_by_label("Alter der Kinder").fill("2")
    page.get_by_label("Wohnort").fill("Wetzlr")
    shot(page, "counsellor-intake")
    page.get_by_role("button", name="Vorschläge anzeigen").click()

    understood = page.locator("dl.facts")
    expect(understood.get_by_text("Wetzlar")).to_be_visible()
    expect(understood.get_by_text("Kita").first).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("^Sprache"))).to_be_visible()
    expect(page.get_by_text("Warum es passt:").first).to_be_visible()
    shot(page, "counsellor-suggestions")

    page.get_by_role("link", name=re.compile("Alle Regeln für dieses Angebot")).first.click()
    expect(page.get_by_text("Das Angebot erfüllt alle Regeln.")).to_be_visible()
    shot(page, "counsellor-why-not")
    page.get_by_role("link", name="Zurück zu den Vorschlägen").click()
    expect(page.get_by_role("heading", name=re.compile("^Vorschläge"))).to_be_visible()

    page.get_by_label(re.compile("Auswählen")).first.check()
    page.get_by_label(re.compile("Einwilligung erfasst")).check()
    page.get_by_role("button", name="In die gewählten Angebote vermitteln").click()
    expect(page.get_by_text("1 Vermittlung wurde angelegt.")).to_be_visible()
    expect(page.locator("#referrals-table tbody tr")).to_have_count(1)
    shot(page, "counsellor-referrals")

    page.get_by_role("link", name="Neue Erfassung").first.click()
    page.get_by_role("button", name="Vorschläge anzeigen").click()  # the stored intake again
    boxes = page.get_by_label(re.compile("Auswählen"))
    expect(boxes.first).to_be_visible()
    for i in range(min(2, boxes.count())):
        boxes.nth(i).check()
    page.get_by_label(re.compile("Einwilligung erfasst")).check()
    page.get_by_role("button", name="Vereinbarung mit den gewählten Angeboten entwerfen").click()
    heading = page.get_by_role("heading", name="Integrationsvereinbarung mit MBE-BROWSER-1")
    expect(heading).to_be_visible()
    for party in ("person", "counsellor"):
        page.get_by_label("Wer unterschreibt").select_option(party)
        page.get_by_role("button", name="Unterschrift erfassen").click()
        expect(page.get_by_text("Die Unterschrift wurde erfasst.")).to_be_visible()
    expect(page.get_by_role("heading", name="Überprüfung")).to_be_visible()
    page.get_by_label("Erfolge").fill("Kurs begonnen")
    page.get_by_label("Wartezeit").check()
    page.get_by_role("button", name="Überprüfung speichern").click()
    expect(page.get_by_text("Die Überprüfung wurde gespeichert.")).to_be_visible()
    shot(page, "counsellor-agreement")
    page.get_by_role("link", name="Start").first.click()
    expect(page.get_by_role("link", name="MBE-BROWSER-1").first).to_be_visible()
    shot(page, "counsellor-start")
    page.close()


BIDI_CONTROLS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def used_fonts(page, selector: str) -> set[str]:
    """The fonts Chromium really drew the text of ``selector`` with (DevTools protocol)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    return {f["familyName"] for f in fonts if f["glyphCount"]}


@pytest.mark.parametrize(
    "lang, title, steps_title, script_font",
    [
        ("ar", "اتفاقية الاندماج", "خطواتي القادمة", "Arabic"),
        ("uk", "Угода про інтеграцію", "Мої наступні кроки", "Noto Sans"),
    ],
)
def test_the_persons_agreement_signed_and_stored_in_their_language(
    server, browser, lang, title, steps_title, script_font
):
    """After an intake whose language is Arabic (or Ukrainian): the agreement prints German
    beside it (right-to-left for Arabic, drawn with a font that has the script), both sides
    sign, the PDF of what was signed is stored with its hash and holds the title, and "my
    next steps" prints in the person's language."""
    import hashlib
    import shutil
    import subprocess

    covered = subprocess.run(
        ["fc-list", f":lang={lang}", "family"], capture_output=True, text=True, check=False
    ).stdout
    assert covered.strip(), f"no font covers {lang} (.ci/run installs fonts-noto-core)"
    page = browser.new_page(locale="de-DE")
    log_in(page, server, "berater")
    page.get_by_role("link", name="Neue Erfassung").first.click()
    page.get_by_label("Pseudonyme Kennung").fill(f"MBE-{lang.upper()}-1")
    page.get_by_role("spinbutton", name=re.compile("^Alter")).fill("34")
    page.get_by_label("Deutschniveau").select_option("A1")
    page.get_by_label("Gesprochene Sprachen").fill(f"{lang}; en")
    page.get_by_label("Was die Person braucht").fill("Deutschkurs")
    page.get_by_label("Wohnort").fill("Wetzlar")
    page.get_by_role("button", name="Vorschläge anzeigen").click()
    page.get_by_label(re.compile("Auswählen")).first.check()
    page.get_by_label(re.compile("Einwilligung erfasst")).check()
    page.get_by_role("button", name="Vereinbarung mit den gewählten Angeboten entwerfen").click()
    expect(page.get_by_label("Sprache der Person ändern")).to_have_value(lang)
    for party in ("person", "counsellor"):
        page.get_by_label("Wer unterschreibt").select_option(party)
        page.get_by_role("button", name="Unterschrift erfassen").click()
        expect(page.get_by_text("Die Unterschrift wurde erfasst.")).to_be_visible()
    expect(page.get_by_text("als PDF gespeichert")).to_be_visible(timeout=60_000)
    record = page.locator("#signed-record li").first
    shown_hash = record.locator("code").inner_text()
    pdf = page.request.get(server + record.get_by_role("link", name="PDF").get_attribute("href"))
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(pdf.body()).hexdigest() == shown_hash
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", "-enc", "UTF-8", "-", "-"],
            input=pdf.body(),
            capture_output=True,
            check=True,
        ).stdout.decode("utf-8")
        assert title in BIDI_CONTROLS.sub("", text) and "Integrationsvereinbarung" in text

    with page.expect_popup() as popup:
        page.get_by_role("button", name="Vereinbarung drucken").click()
    sheet = popup.value
    sheet.wait_for_load_state()
    person = sheet.locator(f'div[lang="{lang}"]')
    expect(person.first).to_contain_text(title)
    direction = "rtl" if lang == "ar" else "ltr"
    assert person.first.evaluate("e => getComputedStyle(e).direction") == direction
    german = sheet.locator('div[lang="de"]').first.bounding_box()
    assert person.first.bounding_box()["x"] > german["x"]  # German first, the person beside
    header = sheet.locator(f'div[lang="{lang}"] table th').first.bounding_box()
    value = sheet.locator(f'div[lang="{lang}"] table td').first.bounding_box()
    assert (header["x"] > value["x"]) == (lang == "ar")  # tables mirrored right-to-left
    fonts = used_fonts(sheet, f'div[lang="{lang}"] h1')
    assert fonts and all(script_font in f for f in fonts), fonts
    shot(sheet, f"person-agreement-{lang}")
    sheet.close()

    with page.expect_popup() as popup:
        page.get_by_role("button", name="„Meine nächsten Schritte“ drucken").click()
    steps = popup.value
    steps.wait_for_load_state()
    expect(steps.get_by_role("heading", name=steps_title)).to_be_visible()
    assert steps.locator("html").get_attribute("dir") == direction
    assert steps.locator("#step-1").count() == 1
    shot(steps, f"person-next-steps-{lang}")
    steps.close()
    page.close()


def test_analyst_sees_models_and_monitoring(server, browser):
    page = browser.new_page(locale="de-DE")
    log_in(page, server, "analyst")
    page.get_by_role("link", name="Modellversionen").first.click()
    expect(page.get_by_text("Regelbewertung").first).to_be_visible()
    page.wait_for_load_state("load")
    shot(page, "analyst-models")
    page.get_by_role("link", name="Monitoring").first.click()
    expect(page.locator("#monitoring-table")).to_be_visible()
    page.get_by_label("Gruppieren nach").select_option("category")
    page.get_by_role("button", name="Anzeigen").click()
    expect(page).to_have_url(re.compile("by=category"))
    # No data this quarter: a sentence instead of empty axes; with data, the chart.
    if page.locator("#no-chart").count():
        expect(page.locator("#no-chart")).to_be_visible()
    else:
        # Not wait_for_function: a string predicate is eval'd, which the CSP forbids.
        expect(page.locator("img.plot")).to_have_js_property("complete", True)
        assert page.locator("img.plot").evaluate("img => img.naturalWidth") > 0
    shot(page, "analyst-monitoring")
    page.close()
