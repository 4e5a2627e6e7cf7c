"""The whole authorization matrix: every endpoint × every principal, with scope.

Principals: anonymous, admin, agency A and B, counsellors of centres X and Y, analyst. The
world: an offer of agency A, a recommendation served by centre X with a referral to that
offer, and a draft agreement of centre X. Each cell says "allowed" (anything but 401/403, and
for pages no redirect to the login), 401, 403, or "login" (a page redirecting to the login).

``test_matrix_lists_every_endpoint`` fails when an endpoint appears that the matrix does not
list, so that every new endpoint gets its row. Within an endpoint the refusals run first and
the endpoints that destroy the world (archive, close, erase, log out) run last, so that a
refusal is always checked against the object as built.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from casework import referrals
from casework.origin import origin_of_request
from catalog.hsds import (
    CATEGORY_TAXONOMY,
    category_term_id,
    organization_id,
    service_at_location_id,
    taxonomy_id,
)
from catalog.store import create_offer, get_offer
from lotse.accounts import Principal, create_token, create_user, ensure_centre
from lotse.db import transaction
from tests.casework.cases import draft, served_request
from tests.factories import offer_data
from tests.matcher.catalogue import nurse_profile

A, B = "vhs-wetzlar", "awo-essen"
X, Y = "mbe-wetzlar", "mbe-hamm"
PERSON = "P-X-1"

PRINCIPALS: dict[str, Principal | None] = {
    "anonymous": None,
    "admin": Principal(role="admin", name="matrix-admin"),
    "agency_a": Principal(role="agency", agency_id=A),
    "agency_b": Principal(role="agency", agency_id=B),
    "counsellor_x": Principal(role="counsellor", centre_id=X),
    "counsellor_y": Principal(role="counsellor", centre_id=Y),
    "analyst": Principal(role="analyst", name="matrix-analyst"),
}
ALLOWED, LOGIN = "allowed", "login"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def api(*allowed: str, scope_denied: tuple[str, ...] = ()) -> dict[str, Any]:
    """An API endpoint: ``allowed`` principals pass; anonymous gets 401; the rest 403."""
    return {
        p: ALLOWED if p in allowed else 401 if p == "anonymous" else 403
        for p in PRINCIPALS
        if p not in scope_denied
    } | {p: 403 for p in scope_denied}


def page(*allowed: str, scope_denied: tuple[str, ...] = ()) -> dict[str, Any]:
    """A page: ``allowed`` principals see it; anonymous goes to the login; the rest 403."""
    return {
        p: ALLOWED if p in allowed else LOGIN if p == "anonymous" else 403
        for p in PRINCIPALS
        if p not in scope_denied
    } | {p: 403 for p in scope_denied}


PUBLIC = dict.fromkeys(PRINCIPALS, ALLOWED)
ADMIN_AGENCIES = ("admin", "agency_a", "agency_b")
CASEWORKERS = ("admin", "counsellor_x", "counsellor_y")
ANALYSTS = ("admin", "analyst")
AGENCY_PAGES = ("agency_a", "agency_b")
COUNSEL_PAGES = ("counsellor_x", "counsellor_y")


@dataclass
class World:
    offer: str
    request_id: str
    referral: str
    agreement: str
    tokens: dict[str, dict[str, str]]
    version: Callable[[], int]


@dataclass
class Cell:
    """One endpoint and method: how to call it, and what each principal should get."""

    endpoint: str
    method: str
    path: Callable[[World], str]
    expect: dict[str, Any]
    json: Callable[[World, str], Any] | None = None
    form: Callable[[World, str], dict[str, Any]] | None = None
    headers: Callable[[World], dict[str, str]] | None = None
    data: bytes | None = None
    content_type: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _offer_body(w: World, who: str) -> dict[str, Any]:
    return offer_data(external_id=f"matrix-{who}", agency_id=A)


def _if_match(w: World) -> dict[str, str]:
    return {"If-Match": str(w.version())}


def _agreement_body(w: World, who: str) -> dict[str, Any]:
    return {
        "person_ref": f"P-new-{who}",
        "centre_id": X,
        "goals": [{"category": "language", "priority": 1}],
    }


def _offer_form(w: World, who: str) -> dict[str, Any]:
    return {
        "title": "Sprachcafé",
        "category": "language_cafe",
        "organization": "VHS",
        "municipality": "Wetzlar",
        "latitude": "50.5558",
        "longitude": "8.5047",
        "status": "active",
        "version": str(w.version()),
    }


CSV = (
    b"external_id,title,category,organization,municipality,latitude,longitude\n"
    b"m-1,Sprachcafe,language_cafe,VHS,Wetzlar,50.5558,8.5047\n"
)

# The order matters: reads, then changes, then what destroys the world.
MATRIX: list[Cell] = [
    # --- meta, public reading ---------------------------------------------------------------
    Cell("meta.healthz", "GET", lambda w: "/healthz", PUBLIC),
    Cell("meta.readyz", "GET", lambda w: "/readyz", PUBLIC),
    Cell("meta.openapi_document", "GET", lambda w: "/openapi.json", PUBLIC),
    Cell("observability.metrics", "GET", lambda w: "/metrics", PUBLIC),
    Cell("static", "GET", lambda w: "/static/lotse.css", PUBLIC),
    Cell("hsds.api_info", "GET", lambda w: "/hsds/", PUBLIC),
    Cell("hsds.list_services", "GET", lambda w: "/hsds/services", PUBLIC),
    Cell("hsds.get_service", "GET", lambda w: f"/hsds/services/{w.offer}", PUBLIC),
    Cell("hsds.list_organizations", "GET", lambda w: "/hsds/organizations", PUBLIC),
    Cell(
        "hsds.get_organization",
        "GET",
        lambda w: f"/hsds/organizations/{organization_id(A, offer_data()['organization'])}",
        PUBLIC,
    ),
    Cell("hsds.list_service_at_locations", "GET", lambda w: "/hsds/service_at_locations", PUBLIC),
    Cell(
        "hsds.get_service_at_location",
        "GET",
        lambda w: f"/hsds/service_at_locations/{service_at_location_id(w.offer)}",
        PUBLIC,
    ),
    Cell("hsds.list_taxonomies", "GET", lambda w: "/hsds/taxonomies", PUBLIC),
    Cell(
        "hsds.get_taxonomy",
        "GET",
        lambda w: f"/hsds/taxonomies/{taxonomy_id(CATEGORY_TAXONOMY)}",
        PUBLIC,
    ),
    Cell("hsds.list_taxonomy_terms", "GET", lambda w: "/hsds/taxonomy_terms", PUBLIC),
    Cell(
        "hsds.get_taxonomy_term",
        "GET",
        lambda w: f"/hsds/taxonomy_terms/{category_term_id('language')}",
        PUBLIC,
    ),
    Cell("offers.list_offers", "GET", lambda w: "/v1/offers", PUBLIC),
    Cell("offers.get_offer", "GET", lambda w: f"/v1/offers/{w.offer}", PUBLIC),
    Cell("offers.offer_history", "GET", lambda w: f"/v1/offers/{w.offer}/history", PUBLIC),
    Cell("offers_io.export_offers", "GET", lambda w: "/v1/offers/export", PUBLIC),
    # --- API: offers ------------------------------------------------------------------------
    Cell(
        "offers.create_offer",
        "POST",
        lambda w: "/v1/offers",
        api("admin", "agency_a", scope_denied=("agency_b",)),
        json=_offer_body,
    ),
    Cell(
        "offers_io.import_offers",
        "POST",
        lambda w: f"/v1/offers/import?format=csv&dry_run=true&agency_id={A}",
        api("admin", "agency_a", scope_denied=("agency_b",)),
        data=CSV,
        content_type="text/csv",
    ),
    Cell(
        "offers.replace_offer",
        "PUT",
        lambda w: f"/v1/offers/{w.offer}",
        api("admin", "agency_a", scope_denied=("agency_b",)),
        json=lambda w, who: offer_data(title=f"Integrationskurs ({who})"),
        headers=_if_match,
    ),
    Cell(
        "offers.patch_offer",
        "PATCH",
        lambda w: f"/v1/offers/{w.offer}",
        api("admin", "agency_a", scope_denied=("agency_b",)),
        json=lambda w, who: {"capacity_free": 4},
        headers=_if_match,
    ),
    # --- API: recommendations, referrals ------------------------------------------------------
    Cell(
        "recommendations.recommend",
        "POST",
        lambda w: "/v1/recommendations",
        api(*CASEWORKERS),
        json=lambda w, who: {"profile": nurse_profile(person_ref="P-rec"), "k": 3},
    ),
    Cell(
        "recommendations.explain_offer",
        "POST",
        lambda w: "/v1/recommendations/explain",
        api(*CASEWORKERS),
        json=lambda w, who: {"profile": nurse_profile(), "offer_id": w.offer},
    ),
    Cell(
        "referrals.create_referral",
        "POST",
        lambda w: "/v1/referrals",
        api("admin", "counsellor_x", scope_denied=("counsellor_y",)),
        json=lambda w, who: {"request_id": w.request_id, "offer_id": w.offer, "consent": True},
    ),
    Cell(
        "referrals.get_referral",
        "GET",
        lambda w: f"/v1/referrals/{w.referral}",
        api("admin", "agency_a", "counsellor_x", scope_denied=("agency_b", "counsellor_y")),
    ),
    Cell(
        "referrals.patch_referral",
        "PATCH",
        lambda w: f"/v1/referrals/{w.referral}",
        api("admin", "agency_a", "counsellor_x", scope_denied=("agency_b", "counsellor_y")),
        json=lambda w, who: {"status": "accepted"},
    ),
    Cell(
        "referrals.agency_referrals",
        "GET",
        lambda w: "/v1/agency/referrals",
        api(*ADMIN_AGENCIES),
    ),
    # --- API: agreements, persons -------------------------------------------------------------
    Cell(
        "agreements.list_agreements",
        "GET",
        lambda w: f"/v1/agreements?centre_id={X}",
        api("admin", "counsellor_x", scope_denied=("counsellor_y",)),
    ),
    Cell(
        "agreements.create_agreement",
        "POST",
        lambda w: "/v1/agreements",
        api("admin", "counsellor_x", scope_denied=("counsellor_y",)),
        json=_agreement_body,
    ),
    Cell(
        "agreements.get_agreement",
        "GET",
        lambda w: f"/v1/agreements/{w.agreement}",
        api("admin", "counsellor_x", scope_denied=("counsellor_y",)),
    ),
    Cell(
        "agreements.print_agreement",
        "GET",
        lambda w: f"/v1/agreements/{w.agreement}/print",
        api("admin", "counsellor_x", scope_denied=("counsellor_y",)),
    ),
    Cell(
        "agreements.next_steps",
        "GET",
        lambda w: f"/v1/agreements/{w.agreement}/next-steps",
        api("admin", "counsellor_x", scope_denied=("counsellor_y",)),
    ),
    Cell(
        "agreements.document_pdf",
        "GET",
        lambda w: f"/v1/agreements/{w.agreement}/documents/none.pdf",
        api("admin", "counsellor_x", scope_denied=("counsellor_y",)),
    ),
    Cell(
        "agreements.render_document",
        "POST",
        lambda w: f"/v1/agreements/{w.agreement}/documents/none/render",
        api("admin", "counsellor_x", scope_denied=("counsellor_y",)),
    ),
    Cell(
        "agreements.patch_agreement",
        "PATCH",
        lambda w: f"/v1/agreements/{w.agreement}",
        api("admin", "counsellor_x", scope_denied=("counsellor_y",)),
        json=lambda w, who: {"municipality": "Wetzlar"},
    ),
    Cell(
        "agreements.review_agreement",
        "POST",
        lambda w: f"/v1/agreements/{w.agreement}/reviews",
        api("admin", "counsellor_x", scope_denied=("counsellor_y",)),
        json=lambda w, who: {"note": "first review"},
    ),
    Cell(
        "agreements.sign_agreement",
        "POST",
        lambda w: f"/v1/agreements/{w.agreement}/sign",
        api("admin", "counsellor_x", scope_denied=("counsellor_y",)),
        json=lambda w, who: {"party": "person"},
    ),
    Cell(
        "persons.export_person",
        "GET",
        lambda w: f"/v1/persons/{PERSON}/export?centre_id={X}",
        api("admin", "counsellor_x", scope_denied=("counsellor_y",)),
    ),
    Cell(
        "persons.export_person_by_query",
        "GET",
        lambda w: f"/v1/persons/export?person_ref={PERSON}&centre_id={X}",
        api("admin", "counsellor_x", scope_denied=("counsellor_y",)),
    ),
    # --- API: models, reports ----------------------------------------------------------------
    Cell("models.list_models", "GET", lambda w: "/v1/models", api(*ANALYSTS)),
    Cell(
        "models.promote_model",
        "POST",
        lambda w: "/v1/models/no-such-version/promote",
        api(*ANALYSTS),
        json=lambda w, who: {"reason": "matrix"},
    ),
    Cell(
        "models.train_model",
        "POST",
        lambda w: "/v1/models/train",
        api(*ANALYSTS),
        json=lambda w, who: {"negative_control": "no-such-control"},
    ),
    Cell("models.read_model_experiment", "GET", lambda w: "/v1/models/experiment", api(*ANALYSTS)),
    Cell(
        "models.start_model_experiment",
        "POST",
        lambda w: "/v1/models/experiment",
        api(*ANALYSTS),
        json=lambda w, who: {"challenger": "no-such-version", "share": 0.1},
    ),
    Cell(
        "models.stop_model_experiment",
        "DELETE",
        lambda w: "/v1/models/experiment",
        api(*ANALYSTS),
    ),
    Cell(
        "reports.monitoring_report",
        "GET",
        lambda w: "/v1/reports/monitoring?by=centre",
        api(*ANALYSTS),
    ),
    # --- pages: everyone ---------------------------------------------------------------------
    Cell("web.index", "GET", lambda w: "/", PUBLIC),
    Cell("web.login", "GET", lambda w: "/login", PUBLIC),
    # Anyone may try to log in; a wrong password is 401 for everyone alike.
    Cell(
        "web.login",
        "POST",
        lambda w: "/login",
        dict.fromkeys(PRINCIPALS, 401),
        form=lambda w, who: {"username": "nobody", "password": "wrong-password"},
    ),
    Cell("web.language", "POST", lambda w: "/language", PUBLIC, form=lambda w, who: {"lang": "de"}),
    # --- pages: agencies ---------------------------------------------------------------------
    Cell("agency.start", "GET", lambda w: "/agency/", page(*AGENCY_PAGES)),
    Cell("agency.offers", "GET", lambda w: "/agency/offers", page(*AGENCY_PAGES)),
    Cell("agency.upload", "GET", lambda w: "/agency/import", page(*AGENCY_PAGES)),
    Cell(
        "agency.dry_run",
        "POST",
        lambda w: "/agency/import",
        page(*AGENCY_PAGES),
        form=lambda w, who: {},
    ),
    Cell(
        "agency.confirm_import",
        "POST",
        lambda w: "/agency/import/confirm",
        page(*AGENCY_PAGES),
        form=lambda w, who: {"action": "cancel"},
    ),
    Cell("agency.new_offer", "GET", lambda w: "/agency/offers/new", page(*AGENCY_PAGES)),
    Cell(
        "agency.new_offer",
        "POST",
        lambda w: "/agency/offers/new",
        page(*AGENCY_PAGES),
        form=_offer_form,
    ),
    Cell(
        "agency.edit_offer",
        "GET",
        lambda w: f"/agency/offers/{w.offer}/edit",
        page("agency_a", scope_denied=("agency_b",)),
    ),
    Cell(
        "agency.edit_offer",
        "POST",
        lambda w: f"/agency/offers/{w.offer}/edit",
        page("agency_a", scope_denied=("agency_b",)),
        form=_offer_form,
    ),
    Cell(
        "agency.free_places",
        "POST",
        lambda w: f"/agency/offers/{w.offer}/free-places",
        page("agency_a", scope_denied=("agency_b",)),
        form=lambda w, who: {"set_to": "3", "version": str(w.version())},
    ),
    Cell(
        "agency.history",
        "GET",
        lambda w: f"/agency/offers/{w.offer}/history",
        page("agency_a", scope_denied=("agency_b",)),
    ),
    Cell("agency.referrals", "GET", lambda w: "/agency/referrals", page(*AGENCY_PAGES)),
    Cell(
        "agency.referral_status",
        "GET",
        lambda w: f"/agency/referrals/{w.referral}/status?to=accepted",
        page("agency_a", scope_denied=("agency_b",)),
    ),
    Cell(
        "agency.referral_status",
        "POST",
        lambda w: f"/agency/referrals/{w.referral}/status",
        page("agency_a", scope_denied=("agency_b",)),
        form=lambda w, who: {"to": "accepted"},
    ),
    # --- pages: analysts ---------------------------------------------------------------------
    Cell("analyst.start", "GET", lambda w: "/analyst/", page(*ANALYSTS)),
    Cell("analyst.models", "GET", lambda w: "/analyst/models", page(*ANALYSTS)),
    Cell(
        "analyst.promote",
        "GET",
        lambda w: "/analyst/models/no-such-version/promote",
        page(*ANALYSTS),
    ),
    Cell(
        "analyst.promote",
        "POST",
        lambda w: "/analyst/models/no-such-version/promote",
        page(*ANALYSTS),
        form=lambda w, who: {"reason": "matrix"},
    ),
    Cell(
        "analyst.report_plot",
        "GET",
        lambda w: "/analyst/models/no-such-version/report/calibration.png",
        page(*ANALYSTS),
    ),
    Cell(
        "analyst.metric_plot",
        "GET",
        lambda w: "/analyst/models/metric-by-version.png",
        page(*ANALYSTS),
    ),
    Cell("analyst.roll_back", "GET", lambda w: "/analyst/models/rollback", page(*ANALYSTS)),
    Cell(
        "analyst.start_comparison",
        "POST",
        lambda w: "/analyst/experiment",
        page(*ANALYSTS),
        form=lambda w, who: {"challenger": "no-such-version", "share": "0.1"},
    ),
    Cell(
        "analyst.stop_comparison",
        "POST",
        lambda w: "/analyst/experiment/stop",
        page(*ANALYSTS),
        form=lambda w, who: {},
    ),
    Cell("analyst.monitoring", "GET", lambda w: "/analyst/monitoring", page(*ANALYSTS)),
    Cell(
        "analyst.monitoring_chart",
        "GET",
        lambda w: "/analyst/monitoring/chart.png",
        page(*ANALYSTS),
    ),
    Cell(
        "analyst.monitoring_csv",
        "GET",
        lambda w: "/analyst/monitoring/report.csv",
        page(*ANALYSTS),
    ),
    # --- pages: admin ------------------------------------------------------------------------
    Cell("admin.start", "GET", lambda w: "/admin/", page("admin")),
    Cell("admin.users", "GET", lambda w: "/admin/users", page("admin")),
    Cell(
        "admin.create_user",
        "POST",
        lambda w: "/admin/users",
        page("admin"),
        form=lambda w, who: {"username": f"new-{who}", "password": "x", "role": "analyst"},
    ),
    Cell(
        "admin.display_name",
        "POST",
        lambda w: "/admin/users/nobody-here/name",
        page("admin"),
        form=lambda w, who: {"display_name": "Niemand"},
    ),
    Cell(
        "admin.reset_password",
        "POST",
        lambda w: "/admin/users/nobody-here/password",
        page("admin"),
        form=lambda w, who: {"password": "a-long-new-password-1"},
    ),
    Cell(
        "admin.disable_user",
        "POST",
        lambda w: "/admin/users/nobody-here/disable",
        page("admin"),
        form=lambda w, who: {},
    ),
    Cell(
        "admin.enable_user",
        "POST",
        lambda w: "/admin/users/nobody-here/enable",
        page("admin"),
        form=lambda w, who: {},
    ),
    Cell("admin.tokens", "GET", lambda w: "/admin/tokens", page("admin")),
    Cell(
        "admin.revoke_token",
        "POST",
        lambda w: "/admin/tokens/999999/revoke",
        page("admin"),
        form=lambda w, who: {},
    ),
    Cell("admin.organisations", "GET", lambda w: "/admin/organisations", page("admin")),
    Cell(
        "admin.describe_organisation",
        "POST",
        lambda w: f"/admin/organisations/centre/{Y}",
        page("admin"),
        form=lambda w, who: {"name": "MBE Hamm", "address": "Markt 1\n59065 Hamm"},
    ),
    # --- pages: counsellors ------------------------------------------------------------------
    Cell("counsel.start", "GET", lambda w: "/counsel/", page(*COUNSEL_PAGES)),
    Cell("counsel.intake", "GET", lambda w: "/counsel/intake", page(*COUNSEL_PAGES)),
    Cell(
        "counsel.submit_intake",
        "POST",
        lambda w: "/counsel/intake",
        page(*COUNSEL_PAGES),
        form=lambda w, who: {"person_ref": "P-page", "age": "34", "place": "Wetzlar"},
    ),
    Cell(
        "counsel.check_intake",
        "POST",
        lambda w: "/counsel/intake/check",
        page(*COUNSEL_PAGES),
        form=lambda w, who: {"age": "34", "place": "Wetzlar", "needs": "Kinderarzt"},
    ),
    Cell("counsel.suggestions", "GET", lambda w: "/counsel/suggestions", page(*COUNSEL_PAGES)),
    Cell(
        "counsel.ask_again",
        "POST",
        lambda w: "/counsel/suggestions",
        page(*COUNSEL_PAGES),
        form=lambda w, who: {},
    ),
    Cell("counsel.why_not", "GET", lambda w: "/counsel/why-not", page(*COUNSEL_PAGES)),
    Cell("counsel.case_list", "GET", lambda w: "/counsel/cases", page(*COUNSEL_PAGES)),
    Cell(
        "counsel.case",
        "GET",
        lambda w: f"/counsel/cases/{PERSON}",
        # another centre knows nobody by that reference: 404 is its answer (allowed here)
        page(*COUNSEL_PAGES),
    ),
    Cell("counsel.offer", "GET", lambda w: f"/counsel/offers/{w.offer}", page(*COUNSEL_PAGES)),
    Cell("counsel.referrals", "GET", lambda w: "/counsel/referrals", page(*COUNSEL_PAGES)),
    Cell(
        "counsel.refer",
        "POST",
        lambda w: "/counsel/refer",
        page("counsellor_x", scope_denied=("counsellor_y",)),
        form=lambda w, who: {"offer_id": w.offer, "request_id": w.request_id, "consent": "1"},
    ),
    Cell(
        "counsel.referral_status",
        "POST",
        lambda w: f"/counsel/referrals/{w.referral}/status",
        page("counsellor_x", scope_denied=("counsellor_y",)),
        form=lambda w, who: {"status": "enrolled"},
    ),
    Cell(
        "counsel.create_agreement",
        "POST",
        lambda w: "/counsel/agreements",
        page(*COUNSEL_PAGES),
        form=lambda w, who: {},
    ),
    Cell(
        "counsel.agreement",
        "GET",
        lambda w: f"/counsel/agreements/{w.agreement}",
        page("counsellor_x", scope_denied=("counsellor_y",)),
    ),
    Cell(
        "counsel.add_step",
        "POST",
        lambda w: f"/counsel/agreements/{w.agreement}/steps",
        page("counsellor_x", scope_denied=("counsellor_y",)),
        form=lambda w, who: {"text": "Unterlagen sammeln", "responsible": "person"},
    ),
    Cell(
        "counsel.goals",
        "POST",
        lambda w: f"/counsel/agreements/{w.agreement}/goals",
        page("counsellor_x", scope_denied=("counsellor_y",)),
        form=lambda w, who: {"category-0": "language", "target-0": "B1", "target_by-0": "2027-06"},
    ),
    Cell(
        "counsel.review",
        "POST",
        lambda w: f"/counsel/agreements/{w.agreement}/reviews",
        page("counsellor_x", scope_denied=("counsellor_y",)),
        form=lambda w, who: {"note": "page review"},
    ),
    Cell(
        "counsel.set_language",
        "POST",
        lambda w: f"/counsel/agreements/{w.agreement}/language",
        page("counsellor_x", scope_denied=("counsellor_y",)),
        form=lambda w, who: {"language": "ar"},
    ),
    Cell(
        "counsel.render_document",
        "POST",
        lambda w: f"/counsel/agreements/{w.agreement}/documents/none/render",
        page("counsellor_x", scope_denied=("counsellor_y",)),
        form=lambda w, who: {},
    ),
    Cell(
        "counsel.sign",
        "POST",
        lambda w: f"/counsel/agreements/{w.agreement}/sign",
        page("counsellor_x", scope_denied=("counsellor_y",)),
        form=lambda w, who: {"party": "counsellor"},
    ),
    # --- what destroys the world, last ---------------------------------------------------------
    Cell(
        "analyst.roll_back",
        "POST",
        lambda w: "/analyst/models/rollback",
        page(*ANALYSTS),
        form=lambda w, who: {"reason": "matrix"},
    ),
    Cell(
        "counsel.close",
        "POST",
        lambda w: f"/counsel/agreements/{w.agreement}/close",
        page("counsellor_x", scope_denied=("counsellor_y",)),
        form=lambda w, who: {"outcome-0": "reached", "note": "done"},
    ),
    Cell(
        "agreements.close_agreement",
        "POST",
        lambda w: f"/v1/agreements/{w.agreement}/close",
        api("admin", "counsellor_x", scope_denied=("counsellor_y",)),
        json=lambda w, who: {"outcomes": [{"goal": 0, "outcome": "reached"}]},
    ),
    Cell(
        "offers.archive_offer",
        "DELETE",
        lambda w: f"/v1/offers/{w.offer}",
        api("admin", "agency_a", scope_denied=("agency_b",)),
    ),
    Cell(
        "persons.erase_person_by_body",
        "POST",
        lambda w: "/v1/persons/erase",
        api("admin", "counsellor_x", scope_denied=("counsellor_y",)),
        json=lambda w, who: {"person_ref": PERSON, "centre_id": X},
    ),
    Cell(
        "persons.erase_person",
        "DELETE",
        lambda w: f"/v1/persons/{PERSON}?centre_id={X}",
        api("admin", "counsellor_x", scope_denied=("counsellor_y",)),
    ),
    Cell("web.logout", "POST", lambda w: "/logout", PUBLIC, form=lambda w, who: {}),
]


def _rows() -> set[tuple[str, str]]:
    return {(c.endpoint, c.method) for c in MATRIX}


def test_matrix_lists_every_endpoint(app):
    routed = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    missing = sorted(routed - _rows())
    assert not missing, f"endpoints without a row in the authorization matrix: {missing}"
    stale = sorted(_rows() - routed)
    assert not stale, f"matrix rows for endpoints that no longer exist: {stale}"
    assert len(_rows()) == len(MATRIX), "an endpoint is listed twice"
    for cell in MATRIX:
        assert set(cell.expect) == set(PRINCIPALS), cell.endpoint


@pytest.fixture
def world(app) -> World:
    sessions = app.extensions["lotse"].sessions
    admin = PRINCIPALS["admin"]
    with transaction(sessions) as s:
        for centre in (X, Y):
            ensure_centre(s, centre)
        offer = create_offer(s, admin, A, offer_data(external_id="matrix-a")).id
        create_offer(s, admin, B, offer_data(external_id="matrix-b", title="Kurs B"))
        request_id = served_request(s, PERSON, [offer], centre_id=X)
        referral = referrals.create_referral(
            s, PRINCIPALS["counsellor_x"], origin_of_request(s, request_id), offer, True
        ).id
        agreement = draft(s, PERSON, [offer], actor=PRINCIPALS["counsellor_x"]).id
        tokens = {}
        for name, principal in PRINCIPALS.items():
            if principal is None:
                continue
            token = create_token(s, principal.role, principal.agency_id, principal.centre_id)
            tokens[name] = {"Authorization": f"Bearer {token}"}

    def version() -> int:
        with sessions() as s:
            return get_offer(s, offer).version

    return World(offer, request_id, referral, agreement, tokens, version)


def _client(app, name: str):
    """A test client for ``name``: logged in to the pages (a web user of that principal's
    role and scope) unless anonymous, with the CSRF token of its session for forms."""
    client = app.test_client()
    principal = PRINCIPALS[name]
    if principal is not None:
        username, password = f"matrix-{name}", "matrix-password-1"
        with transaction(app.extensions["lotse"].sessions) as s:
            create_user(
                s, username, password, principal.role, principal.agency_id, principal.centre_id
            )
        token = CSRF.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
        form = {"username": username, "password": password, "csrf_token": token}
        assert client.post("/login", data=form).status_code == 302
    client.csrf = CSRF.search(client.get("/login").text).group(1)  # type: ignore[attr-defined,union-attr]
    return client


def _verdict(cell: Cell, resp) -> Any:
    """What the answer amounts to, in the matrix's terms."""
    status = resp.status_code
    if status in (401, 403):
        return status
    location = resp.headers.get("Location", "")
    if status in (301, 302, 303) and "/login" in location and not cell.endpoint.startswith("web."):
        return LOGIN
    return ALLOWED


def _call(client, cell: Cell, world: World, name: str):
    kwargs: dict[str, Any] = {"method": cell.method}
    headers = dict(cell.headers(world)) if cell.headers else {}
    is_page = cell.form is not None or not cell.path(world).startswith(("/v1/", "/hsds"))
    if not is_page and name in world.tokens:
        headers.update(world.tokens[name])
    if cell.json is not None:
        kwargs["json"] = cell.json(world, name)
    if cell.form is not None:
        kwargs["data"] = {**cell.form(world, name), "csrf_token": client.csrf}
    if cell.data is not None:
        kwargs["data"] = cell.data
        kwargs["content_type"] = cell.content_type
    resp = client.open(cell.path(world), headers=headers, **kwargs)
    resp.get_data()  # a streamed export runs to its end
    resp.close()
    return resp


def test_every_endpoint_for_every_principal(app, world):
    clients = {name: _client(app, name) for name in PRINCIPALS}
    wrong: list[str] = []
    for cell in MATRIX:
        # Refusals first: they must be checked against the object as it was built.
        order = sorted(PRINCIPALS, key=lambda p: cell.expect[p] == ALLOWED)
        for name in order:
            resp = _call(clients[name], cell, world, name)
            got = _verdict(cell, resp)
            if got != cell.expect[name]:
                body = resp.get_data(as_text=True)[:160].replace("\n", " ")
                wrong.append(
                    f"{cell.method} {cell.path(world)} as {name}: expected "
                    f"{cell.expect[name]}, got {resp.status_code} {body}"
                )
    assert not wrong, "\n".join(["authorization matrix violated:", *wrong])
