"""The person's printouts and the record of what was signed, through the API: the agreement
German beside Arabic or Ukrainian (right-to-left for Arabic), "my next steps" in the person's
language, the PDF stored at the signature with its SHA-256, a failed PDF that leaves the
signature standing and can be made again, export and erasure of the record."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from service import printing
from tests.service.test_agreements_api import URL, catalogue, one_per_need, suggestions, tokens

__all__ = ["catalogue", "tokens"]  # fixtures used here

FAKE_PDF = b"%PDF-1.7\n% a stand-in for Chromium's output\n%%EOF\n"


def made(client, tokens, language=None, languages=None, person_ref="case-4711"):
    rec = suggestions(client, tokens, person_ref)
    picked = one_per_need(rec)
    body = {
        "person_ref": person_ref,
        "goals": [{"category": "language", "target": "B1 bis Juni"}],
        "steps": [
            {"kind": "referral", "request_id": rec["request_id"], "offer_id": picked["language"],
             "consent": True, "goal": 0, "due": "2099-02-01"},
            {"kind": "action", "text": "Zeugnisse übersetzen lassen", "responsible": "person"},
        ],
    }  # fmt: skip
    if language:
        body["language"] = language
    if languages:
        body["languages"] = languages
    resp = client.post(URL, json=body, headers=tokens["counsellor"])
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def sign_both(client, tokens, aid, parties=("person", "counsellor")):
    c = tokens["counsellor"]
    for party in parties:
        resp = client.post(f"{URL}/{aid}/sign", json={"party": party}, headers=c)
        assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


@pytest.fixture
def fake_pdf(monkeypatch):
    """Chromium replaced by a function that records what it was given."""
    given = []

    def render(html):
        given.append(html)
        return FAKE_PDF

    monkeypatch.setattr(printing, "html_to_pdf", render)
    return given


def test_the_language_comes_from_the_intake_and_can_be_changed(client, tokens, catalogue):
    a = made(client, tokens, languages=["de", "ar", "en"])
    assert a["language"] == "ar"
    c = tokens["counsellor"]
    resp = client.patch(f"{URL}/{a['id']}", json={"language": "uk"}, headers=c)
    assert resp.status_code == 200 and resp.get_json()["language"] == "uk"
    resp = client.patch(f"{URL}/{a['id']}", json={"language": "xx"}, headers=c)
    assert resp.status_code == 422 and resp.get_json()["errors"][0]["field"] == "language"


def test_arabic_agreement_is_german_beside_arabic_right_to_left(client, tokens, catalogue):
    a = made(client, tokens, language="ar")
    page = client.get(f"{URL}/{a['id']}/print", headers=tokens["counsellor"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<script" not in html.lower()
    assert '<html lang="de" dir="ltr">' in html
    assert html.count('<div lang="ar" dir="rtl">') >= 10  # paragraph by paragraph
    assert "Integrationsvereinbarung" in html and "اتفاقية الاندماج" in html
    assert "الأهداف" in html and "الخطوات المتفق عليها" in html
    # what the counsellor typed stays as written, isolated from the Arabic direction
    assert '<bdi class="written" lang="de">Zeugnisse übersetzen lassen</bdi>' in html
    # the German and the Arabic date of the same day, Latin digits in both
    assert re.search(r"01\.02\.2099", html) and re.search("01\u200f/02\u200f/2099", html)


def test_print_language_switches_per_print(client, tokens, catalogue):
    a = made(client, tokens, language="ar")
    c = tokens["counsellor"]
    uk = client.get(f"{URL}/{a['id']}/print?person=uk", headers=c).get_data(as_text=True)
    assert "Угода про інтеграцію" in uk and 'dir="rtl"' not in uk
    one = client.get(f"{URL}/{a['id']}/print?person=none", headers=c).get_data(as_text=True)
    assert "اتفاقية" not in one and 'class="pair"' not in one
    plain = client.get(f"{URL}/{a['id']}/print?person=de", headers=c).get_data(as_text=True)
    assert "Integrations-Vereinbarung" in plain and "Integrationsvereinbarung" in plain
    resp = client.get(f"{URL}/{a['id']}/print?person=fr", headers=c)
    assert resp.status_code == 422


@pytest.mark.parametrize(
    "lang, title, direction",
    [("ar", "خطواتي القادمة", "rtl"), ("fa", "قدم‌های بعدی من", "rtl"), ("uk", "Мої наступні кроки", "ltr"),
     ("tr", "Sonraki adımlarım", "ltr"), ("ru", "Мои следующие шаги", "ltr"),
     ("en", "My next steps", "ltr"), ("de", "Meine nächsten Schritte", "ltr")],
)  # fmt: skip
def test_my_next_steps_in_the_persons_language(client, tokens, catalogue, lang, title, direction):
    a = made(client, tokens, language=lang)
    page = client.get(f"{URL}/{a['id']}/next-steps", headers=tokens["counsellor"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Content-Language"] == lang
    assert f'<html lang="{lang}" dir="{direction}">' in html and title in html
    offer = a["steps"][0]["referral"]
    assert offer["offer_title"] in html and offer["organization"] in html
    assert 'data-code="goal"' in html  # why: the goal it serves, in the person's language
    assert "Zeugnisse übersetzen lassen" in html


def test_signing_stores_the_pdf_of_what_was_signed_with_its_hash(
    client, tokens, catalogue, fake_pdf
):
    a = made(client, tokens, language="ar")
    c = tokens["counsellor"]
    first = client.post(f"{URL}/{a['id']}/sign", json={"party": "person"}, headers=c)
    assert first.get_json()["documents"] == [] and not fake_pdf  # not yet complete
    signed = sign_both(client, tokens, a["id"], ("counsellor",))
    assert signed["status"] == "signed"
    (doc,) = signed["documents"]
    assert doc["status"] == "stored" and doc["language"] == "ar"
    assert doc["sha256"] == hashlib.sha256(FAKE_PDF).hexdigest()
    (html,) = fake_pdf
    assert doc["html_sha256"] == hashlib.sha256(html.encode()).hexdigest()
    assert "اتفاقية الاندماج" in html and "von beiden Seiten unterschrieben" in html
    pdf = client.get(f"{URL}/{a['id']}/documents/{doc['id']}.pdf", headers=c)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data == FAKE_PDF and pdf.headers["Digest"] == f"sha-256={doc['sha256']}"
    other = client.get(f"{URL}/{a['id']}/documents/{doc['id']}.pdf", headers=tokens["other"])
    assert other.status_code == 403


def test_a_failed_pdf_leaves_the_signature_and_can_be_made_again(
    client, tokens, catalogue, monkeypatch
):
    def broken(html):
        raise RuntimeError("Chromium made no PDF")

    monkeypatch.setattr(printing, "html_to_pdf", broken)
    a = made(client, tokens, language="uk")
    signed = sign_both(client, tokens, a["id"])
    assert signed["status"] == "signed" and signed["signed_on"]
    (doc,) = signed["documents"]
    assert doc["status"] == "failed" and "Chromium made no PDF" in doc["error"]
    assert doc["sha256"] is None and doc["html_sha256"]
    c = tokens["counsellor"]
    assert client.get(f"{URL}/{a['id']}", headers=c).get_json()["status"] == "signed"
    assert client.get(f"{URL}/{a['id']}/documents/{doc['id']}.pdf", headers=c).status_code == 404
    made_from = []
    monkeypatch.setattr(printing, "html_to_pdf", lambda html: made_from.append(html) or FAKE_PDF)
    again = client.post(f"{URL}/{a['id']}/documents/{doc['id']}/render", headers=c)
    assert again.status_code == 200
    (doc,) = again.get_json()["documents"]
    assert doc["status"] == "stored" and doc["error"] is None
    # made from the print kept with the signature, not from the agreement as it is now
    assert hashlib.sha256(made_from[0].encode()).hexdigest() == doc["html_sha256"]


def test_export_includes_the_pdf_and_erasure_removes_it(client, tokens, catalogue, fake_pdf):
    a = made(client, tokens, language="ar")
    sign_both(client, tokens, a["id"])
    c = tokens["counsellor"]
    export = client.get("/v1/persons/case-4711/export", headers=c).get_json()
    (doc,) = export["agreements"][0]["documents"]
    assert base64.b64decode(doc["pdf_base64"]) == FAKE_PDF
    assert client.delete("/v1/persons/case-4711", headers=c).status_code == 200
    from casework.tables import AgreementDocument

    with client.application.extensions["lotse"].sessions() as session:
        assert session.query(AgreementDocument).count() == 0
