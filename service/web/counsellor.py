"""Counsellor pages: intake → suggestions grouped by need → "why not?" → referral or
agreement; referrals with their status; agreements with signatures, reviews and closing; a
start page with the reviews and steps that are due.

The intake is kept on the server as a draft of the web session (``casework.intake``; never
in the cookie, gone with the session and with the person's erasure), so "why not?" and "back
to the suggestions" work without typing it again.
Suggestions are served afresh on each showing, exactly as an API client asking again would
be; each showing is logged with its own ``request_id`` and referrals name the one they came
from.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from casework import agreements as ag
from casework import cases, documents, lifecycle, referrals
from casework import intake as drafts
from casework.origin import origin_of_request
from catalog import store
from catalog.vocab import language_names
from lotse.errors import Conflict, FieldError, InvalidInput, NotFound, StaleVersion
from lotse.i18n import PERSON_LANGUAGES
from matcher.engine import explain
from matcher.profile import resolve_profile, validate_profile
from matcher.rules import RULES
from matcher.serving import replay_recommendation, serve_recommendations
from service.db import request_session
from service.printing import finish_record, sign_and_record
from service.ranking import serving_options, snapshot_cache
from service.sessions import current_session
from service.web import labels, page_errors, page_labels
from service.web.access import current_person, page_blueprint, safe_next
from service.web.forms import (
    PROFILE_INPUTS,
    field_errors,
    form_int,
    profile_form_data,
    profile_form_values,
)
from service.web.i18n import current_language

bp = page_blueprint("counsel", __name__, "/counsel", roles=("counsellor",))

SUGGESTIONS = 10
#: The due date the agreement draft proposes for its referral steps, in days from today.
REFERRAL_STEP_DAYS = 28
RULE_SENTENCES = {rule.code: rule for rule in RULES}


def _intake() -> dict[str, Any] | None:
    """This session's intake draft, or None."""
    key = current_session().key
    if key is None:
        return None
    data = drafts.load_draft(request_session(), key, current_person().centre_id or "")
    return data if isinstance(data, dict) and isinstance(data.get("profile"), dict) else None


def _keep_intake(content: dict[str, Any]) -> None:
    """Keep ``content`` as this session's intake draft (in the caller's transaction)."""
    key = current_session().key
    if key is not None:
        drafts.save_draft(request_session(), key, current_person().centre_id or "", content)


# --- start -----------------------------------------------------------------------------------


@bp.get("/")
def start() -> Any:
    listing = ag.list_agreements(request_session(), current_person(), status="open")
    request_session().commit()  # the listing's audit entries
    due = [a for a in listing.items if a["review_due"]]
    return render_template(
        "counsel/start.html", listing=listing, due=due, recent=centre_referrals(limit=8)
    )


# --- cases ---------------------------------------------------------------------------------


@bp.get("/cases")
def case_list() -> Any:
    q = (request.args.get("q") or "").strip()[:100]
    status = request.args.get("status") or "open"
    if status not in cases.CASE_FILTERS:
        status = "open"
    listing = cases.list_cases(request_session(), current_person(), q=q or None, status=status)
    request_session().commit()  # the listing's audit entries
    return render_template(
        "counsel/cases.html", listing=listing, q=q, status=status, filters=cases.CASE_FILTERS
    )


@bp.get("/cases/<person_ref>")
def case(person_ref: str) -> Any:
    found = cases.case_file(request_session(), current_person(), person_ref[:100])
    request_session().commit()  # the read's audit entry
    stored = _intake()
    current = stored and (stored["profile"].get("person_ref") or "").strip() == found["person_ref"]
    return render_template(
        "counsel/case.html",
        c=found,
        intake_is_this_person=bool(current),
        next_of=counsellor_next,
        reasons=lifecycle.REASONS,
    )


# --- intake and suggestions -------------------------------------------------------------------


def _intake_form(values: dict, errors: dict, status: int = 200, understood=None):
    return (
        render_template(
            "counsel/intake.html",
            values=values,
            errors=errors,
            vocab=labels.VOCAB,
            understood=understood,
        ),
        status,
    )


@bp.get("/intake")
def intake() -> Any:
    key = current_session().key
    if request.args.get("new") and key is not None:
        drafts.drop_draft(request_session(), key)
        request_session().commit()
    stored = _intake()
    values: dict[str, Any] = (
        profile_form_values(stored["profile"]) if stored else {"literate": True}
    )
    if not stored and request.args.get("person_ref"):
        values["person_ref"] = request.args["person_ref"].strip()[:100]
    return _intake_form(values, {})


def _serve(profile: dict[str, Any]):
    session_ = request_session()
    centre = current_person().centre_id
    rec = serve_recommendations(
        session_,
        profile,
        centre_id=centre,
        k=SUGGESTIONS,
        lang=current_language(),
        **serving_options(centre, profile.get("person_ref")),
    )
    _keep_intake(
        {
            "profile": profile,
            "request_id": rec.request_id,
            "place": {
                "name": rec.place.place,
                "lat": rec.place.latitude,
                "lon": rec.place.longitude,
            },
        }
    )
    session_.commit()
    return rec


def _suggestions_page(rec) -> str:
    groups = [
        {
            "need": need,
            "results": [s for s in rec.results if s.need == need.category],
            "waitlist": [s for s in rec.waitlist if s.need == need.category],
        }
        for need in rec.needs
    ]
    excluded = [
        (page_labels.excluded_text(code, n) or RULE_SENTENCES[code].sentence(current_language()))
        if code in RULE_SENTENCES
        else f"{n} × {code}"
        for code, n in rec.excluded.items()
        if n
    ]
    profile = _intake()["profile"]  # type: ignore[index]
    offers = store.offers_by_id(
        request_session(), [s.offer_id for s in (*rec.results, *rec.waitlist)]
    )
    return render_template(
        "counsel/suggestions.html",
        due=date.today() + timedelta(days=REFERRAL_STEP_DAYS),
        rec=rec,
        groups=groups,
        excluded=excluded,
        offers=offers,
        person_ref=(profile.get("person_ref") or "").strip(),
    )


@bp.post("/intake")
def submit_intake() -> Any:
    profile = profile_form_data(request.form)
    try:
        _serve(profile)
    except InvalidInput as exc:
        request_session().rollback()
        return _intake_form(
            profile_form_values(profile), field_errors(exc.errors, PROFILE_INPUTS), 422
        )
    # Post, then redirect: reloading the page shows the list again instead of sending the
    # form (and logging a new request) a second time.
    return redirect(url_for(".suggestions"), 303)


@bp.post("/intake/check")
def check_intake() -> Any:
    """What the intake's place and needs are understood as, before anything is searched or
    logged (a word naming a profession and a service is asked back here)."""
    profile = profile_form_data(request.form)
    try:
        understood = resolve_profile(validate_profile(profile))
    except InvalidInput as exc:
        return _intake_form(
            profile_form_values(profile), field_errors(exc.errors, PROFILE_INPUTS), 422
        )
    return _intake_form(profile_form_values(profile), {}, understood=understood)


@bp.post("/suggestions")
def ask_again() -> Any:
    """Ask again for the same intake (the catalogue or the outcomes may have changed): a new
    request, logged as such."""
    stored = _intake()
    if stored is None:
        return redirect(url_for(".intake"))
    try:
        _serve(stored["profile"])
    except InvalidInput:
        request_session().rollback()
    return redirect(url_for(".suggestions"), 303)


@bp.get("/suggestions")
def suggestions() -> Any:
    """The suggestions of the intake's last request, shown again (back button, language
    switch, return from a referral): nothing new is asked or logged."""
    stored = _intake()
    if stored is None:
        return redirect(url_for(".intake"))
    try:
        if stored.get("request_id"):
            try:
                rec = replay_recommendation(
                    request_session(),
                    stored["request_id"],
                    stored["profile"],
                    snapshots=snapshot_cache(),
                    lang=current_language(),
                )
                return _suggestions_page(rec)
            except NotFound:
                pass  # the request was erased meanwhile: ask again
        rec = _serve(stored["profile"])
    except InvalidInput as exc:
        request_session().rollback()
        return _intake_form(
            profile_form_values(stored["profile"]), field_errors(exc.errors, PROFILE_INPUTS), 422
        )
    return _suggestions_page(rec)


# --- offer details -------------------------------------------------------------------------


@bp.get("/offers/<offer_id>")
def offer(offer_id: str) -> Any:
    """One offer with everything a counsellor tells the person: where, when, whom to
    contact, cost, accessibility, languages, free places, how fresh the data is."""
    found = store.get_offer(request_session(), offer_id)
    stored = _intake()
    place = (stored or {}).get("place") or {}
    distance = None
    if place.get("lat") is not None and found.latitude is not None:
        distance = store.haversine_km(place["lat"], place["lon"], found.latitude, found.longitude)
    return render_template(
        "counsel/offer.html",
        o=found,
        distance=distance,
        has_suggestions=bool(stored and stored.get("request_id")),
        language_names=language_names(current_language()),
    )


# --- why not? ------------------------------------------------------------------------------


@bp.get("/why-not")
def why_not() -> Any:
    stored = _intake()
    if stored is None:
        flash(_("Record the person's intake first; “why not?” checks an offer against it."), "info")
        return redirect(url_for(".intake"))
    wanted = (request.args.get("offer") or "").strip()[:200]
    if not wanted:
        return render_template("counsel/why_not.html", wanted="", found=None, result=None)
    try:
        result = explain(
            request_session(),
            stored["profile"],
            wanted,
            snapshots=snapshot_cache(),
            lang=current_language(),
        )
    except NotFound:
        place = stored.get("place") or {}
        near = (place["lat"], place["lon"]) if place.get("lat") is not None else None
        found = store.search_offers(
            request_session(), store.OfferQuery(q=wanted, near=near, per_page=15)
        )
        return render_template("counsel/why_not.html", wanted=wanted, found=found, result=None)
    offer = store.get_offer(request_session(), result.offer_id)
    return render_template(
        "counsel/why_not.html", wanted=wanted, found=None, result=result, offer=offer
    )


# --- referring and agreeing --------------------------------------------------------------------


def _chosen() -> list[str]:
    return [o for o in dict.fromkeys(request.form.getlist("offer_id")) if o][:20]


@bp.post("/refer")
def refer() -> Any:
    chosen = _chosen()
    if not chosen:
        flash(_("Choose at least one offer first."), "error")
        return redirect(url_for(".suggestions"))
    consent = request.form.get("consent") == "1"
    session_ = request_session()
    try:
        origin = origin_of_request(session_, request.form.get("request_id", ""))
        made = [
            referrals.refer(session_, current_person(), origin, offer_id, consent)[1]
            for offer_id in chosen
        ]
        session_.commit()
    except (InvalidInput, Conflict) as exc:
        session_.rollback()
        flash(_("Nothing was referred: %(why)s", why=_why(exc)), "error")
        return redirect(url_for(".suggestions"))
    new, kept = made.count(True), made.count(False)
    if new:
        flash(
            ngettext("%(num)s referral was made.", "%(num)s referrals were made.", new), "success"
        )
    if kept:
        flash(
            ngettext(
                "%(num)s referral was already open for this person and offer; it is kept, no second one was made.",
                "%(num)s referrals were already open for this person and these offers; they are kept, no second ones were made.",
                kept,
            ),
            "info",
        )
    person_ref = ((_intake() or {}).get("profile") or {}).get("person_ref") or None
    return redirect(url_for(".referrals", person_ref=person_ref))


def _why(exc: Exception) -> str:
    if isinstance(exc, InvalidInput):
        return "; ".join(_field_message(e) for e in exc.errors)
    return page_errors.why(exc)


def _field_message(err: FieldError) -> str:
    if err.field.endswith("consent"):
        return _("the person's consent must be recorded (tick the box).")
    if err.field == "person_ref" or (
        err.field.endswith("request_id") and "person_ref" in err.message
    ):
        return _("the intake has no pseudonymous reference; add one and ask again.")
    return page_errors.why(InvalidInput([err]))


@bp.post("/agreements")
def create_agreement() -> Any:
    stored = _intake()
    chosen = _chosen()
    if stored is None:
        return redirect(url_for(".intake"))
    person_ref = (stored["profile"].get("person_ref") or "").strip()
    consent = request.form.get("consent") == "1"
    request_id = request.form.get("request_id", "")
    goals = [{"category": c, "priority": min(i + 1, 5)} for i, c in enumerate(_goal_codes())]
    due = _date(request.form.get("due"))
    data = {
        "person_ref": person_ref,
        "languages": _intake_languages(stored["profile"]),
        "goals": goals,
        "steps": [
            {
                "kind": "referral",
                "request_id": request_id,
                "offer_id": o,
                "consent": consent,
                "due": due,
            }
            for o in chosen
        ],
    }
    session_ = request_session()
    make = _validated(
        lambda s: ag.create_agreement(s, current_person(), ag.AgreementIn.model_validate(data))
    )
    try:
        agreement = make(session_)
        session_.commit()
    except (InvalidInput, Conflict) as exc:
        session_.rollback()
        flash(_("No agreement was made: %(why)s", why=_why(exc)), "error")
        return redirect(url_for(".suggestions"))
    flash(
        _(
            "A draft agreement was made. Its referral steps were sent to the agencies as "
            "referrals (an open referral to the same offer was reused). Word the goals, "
            "check the steps, then both sides sign."
        ),
        "success",
    )
    return redirect(url_for(".agreement", agreement_id=agreement.id))


def _intake_languages(profile: dict[str, Any]) -> list[str]:
    """The intake's languages as the profile understood them (ISO codes, in order)."""
    try:
        return list(validate_profile(profile).languages)
    except InvalidInput:
        return []


def _goal_codes() -> list[str]:
    """The needs of the suggestions page, as goal categories (one goal per need)."""
    codes = [c for c in request.form.getlist("need") if c]
    return list(dict.fromkeys(codes))[:20]


@bp.get("/agreements/<agreement_id>")
def agreement(agreement_id: str) -> Any:
    session_ = request_session()
    found = ag.get_agreement(session_, current_person(), agreement_id)
    data = ag.describe_agreement(session_, found)
    session_.commit()  # the read's audit entry
    return render_template(
        "counsel/agreement.html",
        a=data,
        person_languages={code: lang.name for code, lang in PERSON_LANGUAGES.items()},
        obstacles=ag.OBSTACLES,
        step_statuses=ag.STEP_STATUSES,
        outcomes=ag.OUTCOMES,
        responsible=ag.RESPONSIBLE,
        referral_next=counsellor_next,
        reasons=lifecycle.REASONS,
        today=date.today(),
    )


def _agreement_action(agreement_id: str, action, success: str) -> Any:
    session_ = request_session()
    try:
        action(session_)
        session_.commit()
    except (InvalidInput, Conflict, StaleVersion) as exc:
        session_.rollback()
        flash(_why(exc), "error")
    else:
        flash(success, "success")
    return redirect(url_for(".agreement", agreement_id=agreement_id))


@bp.post("/agreements/<agreement_id>/sign")
def sign(agreement_id: str) -> Any:
    party = request.form.get("party", "")
    on = _date(request.form.get("date"))
    session_ = request_session()
    try:
        _agreement, document_id = sign_and_record(
            session_, current_person(), agreement_id, party, on
        )
        session_.commit()
    except (InvalidInput, Conflict, StaleVersion) as exc:
        session_.rollback()
        flash(_why(exc), "error")
        return redirect(url_for(".agreement", agreement_id=agreement_id))
    flash(_("The signature was recorded."), "success")
    if document_id is not None:
        _flash_record(finish_record(session_, document_id))
    return redirect(url_for(".agreement", agreement_id=agreement_id))


def _flash_record(doc: Any) -> None:
    if doc.status == "stored":
        flash(
            _("The signed agreement was stored as PDF (SHA-256 %(hash)s).", hash=doc.sha256),
            "success",
        )
    else:
        flash(
            _(
                "The signatures stand, but the PDF could not be made: %(error)s. "
                "Make it again below.",
                error=doc.error or doc.status,
            ),
            "error",
        )


@bp.post("/agreements/<agreement_id>/documents/<document_id>/render")
def render_document(agreement_id: str, document_id: str) -> Any:
    session_ = request_session()
    ag.get_agreement(session_, current_person(), agreement_id)
    documents.get_document(session_, agreement_id, document_id)
    session_.commit()
    _flash_record(finish_record(session_, document_id))
    return redirect(url_for(".agreement", agreement_id=agreement_id))


@bp.post("/agreements/<agreement_id>/language")
def set_language(agreement_id: str) -> Any:
    language = request.form.get("language") or None
    version = _int(request.form.get("version"))

    def action(s):
        return ag.update_agreement(
            s,
            current_person(),
            agreement_id,
            ag.AgreementPatch(language=language),
            expected_version=version,
        )

    return _agreement_action(
        agreement_id, _validated(action), _("The person's language was saved.")
    )


@bp.post("/agreements/<agreement_id>/goals")
def goals(agreement_id: str) -> Any:
    """Word the draft's goals: a target and the month by which it is to be reached."""
    form = request.form
    goals = []
    for i, category in sorted(_numbered(form, "category-")):
        goals.append(
            {
                "category": category,
                "priority": form_int(form.get(f"priority-{i}")) or 1,
                "target": (form.get(f"target-{i}") or "").strip(),
                "target_by": _month(form.get(f"target_by-{i}")),
            }
        )
    version = _int(form.get("version"))

    def action(s):
        return ag.update_agreement(
            s,
            current_person(),
            agreement_id,
            ag.AgreementPatch(goals=goals),
            expected_version=version,
        )

    return _agreement_action(agreement_id, _validated(action), _("The goals were saved."))


def _month(value: str | None) -> date | None:
    """A month input ("2027-06") as its first day; a full date is taken as given."""
    if value and len(value) == 7:
        value += "-01"
    return _date(value)


@bp.post("/agreements/<agreement_id>/steps")
def add_step(agreement_id: str) -> Any:
    step = {
        "kind": "action",
        "text": request.form.get("text", "").strip(),
        "responsible": request.form.get("responsible") or None,
        "due": _date(request.form.get("due")),
    }
    version = _int(request.form.get("version"))

    def action(s):
        return ag.update_agreement(
            s,
            current_person(),
            agreement_id,
            ag.AgreementPatch(steps=[step]),
            expected_version=version,
        )

    return _agreement_action(agreement_id, _validated(action), _("The step was added."))


@bp.post("/agreements/<agreement_id>/reviews")
def review(agreement_id: str) -> Any:
    form = request.form
    steps = [
        {"step_id": step_id, "status": value}
        for step_id, value in _numbered(form, "step-")
        if value
    ]
    obstacles = [
        {"code": code, "text": form.get(f"obstacle-text-{code}", "")}
        for code in form.getlist("obstacle")
    ]
    moved = [
        {"step_id": step_id, "status": value, "reason": form.get(f"refreason-{step_id}") or None}
        for step_id, value in _numbered(form, "refstatus-")
        if value
    ]
    data = {
        "date": _date(form.get("date")),
        "steps": steps,
        "referrals": moved,
        "note": form.get("note", "").strip(),
        "successes": form.get("successes", "").strip(),
        "obstacles": obstacles,
        "next_review": _date(form.get("next_review")),
    }
    return _agreement_action(
        agreement_id,
        _validated(
            lambda s: ag.add_review(
                s, current_person(), agreement_id, ag.ReviewIn.model_validate(data)
            )
        ),
        _("The review was recorded."),
    )


@bp.post("/agreements/<agreement_id>/close")
def close(agreement_id: str) -> Any:
    form = request.form
    outcomes = [
        {"goal": goal, "outcome": value} for goal, value in _numbered(form, "outcome-") if value
    ]
    data = {"date": _date(form.get("date")), "outcomes": outcomes, "note": form.get("note", "")}
    return _agreement_action(
        agreement_id,
        _validated(
            lambda s: ag.close_agreement(
                s, current_person(), agreement_id, ag.CloseIn.model_validate(data)
            )
        ),
        _("The agreement was closed."),
    )


def _numbered(form: Any, prefix: str) -> list[tuple[int, str]]:
    """``(n, value)`` of each form field ``<prefix><n>``; a 400 for a field of that prefix
    whose ``n`` is not a number (no form of ours sends one)."""
    out = []
    for key, value in form.items():
        if key.startswith(prefix):
            n = form_int(key[len(prefix) :])
            if n is None:
                abort(400, f"unexpected form field {key[:40]!r}")
            out.append((n, value))
    return out


def _validated(action):
    """Turn the input models' validation errors into the domain's ``InvalidInput``."""
    from pydantic import ValidationError

    from catalog.schema import pydantic_field_errors

    def run(session_):
        try:
            return action(session_)
        except ValidationError as exc:
            raise InvalidInput(pydantic_field_errors(exc)) from None

    return run


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


# --- referrals -----------------------------------------------------------------------------------


def centre_referrals(
    person_ref: str | None = None, limit: int = 200, status: str | None = None
) -> list[dict[str, Any]]:
    """The centre's referrals with their offers and person references."""
    return cases.centre_referral_rows(
        request_session(), current_person(), person_ref=person_ref, status=status, limit=limit
    )


#: What the counselling side may set, per current status (the lifecycle decides).
counsellor_next = cases.counsellor_next


@bp.get("/referrals", endpoint="referrals")
def referrals_page() -> Any:
    person_ref = (request.args.get("person_ref") or "").strip()[:100] or None
    status = request.args.get("status") or None
    if status not in lifecycle.STATUSES:
        status = None
    rows = centre_referrals(person_ref, status=status)
    stored = _intake()
    return render_template(
        "counsel/referrals.html",
        rows=rows,
        person_ref=person_ref or "",
        status=status or "",
        statuses=lifecycle.STATUSES,
        next_of=counsellor_next,
        reasons=lifecycle.REASONS,
        has_suggestions=bool(stored and stored.get("request_id")),
    )


@bp.post("/referrals/<referral_id>/status")
def referral_status(referral_id: str) -> Any:
    session_ = request_session()
    try:
        referrals.change_status(
            session_,
            current_person(),
            referral_id,
            request.form.get("status", ""),
            request.form.get("reason") or None,
            (request.form.get("note") or "").strip() or None,
        )
        session_.commit()
    except (InvalidInput, Conflict) as exc:
        session_.rollback()
        flash(_("Status not changed: %(why)s", why=_why(exc)), "error")
    else:
        flash(_("The referral's status was changed."), "success")
    back = safe_next(request.form.get("next"))
    if back:
        return redirect(back)
    return redirect(url_for(".referrals", person_ref=request.form.get("person_ref") or None))
