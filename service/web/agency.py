"""Agency pages: the agency's offers (sortable, filterable), editing with field-level
messages, one-click free places, CSV import with a dry run shown row by row, history."""

from __future__ import annotations

import hashlib
import secrets
import time
from pathlib import Path
from typing import Any

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from casework import cases, lifecycle
from casework import referrals as referrals_domain
from casework.referrals import agency_referrals
from catalog import importing, reading, store, taxonomy
from catalog.schema import OFFER_FIELDS
from catalog.vocab import COMMON_LANGUAGES, DISTRICTS, GERMAN_STATES, language_names
from lotse.errors import (
    BadPayload,
    Conflict,
    Forbidden,
    InvalidInput,
    RejectedImport,
    StaleVersion,
)
from matcher.places import with_approximate_location
from service.db import request_session, state
from service.web import labels, page_errors, page_labels
from service.web.access import current_person, page_blueprint, safe_next
from service.web.forms import field_errors, offer_form_data
from service.web.i18n import current_language

bp = page_blueprint("agency", __name__, "/agency", roles=("agency",))

PER_PAGE = 25
#: Sorting loads the agency's filtered offers page by page; beyond this many, narrow the filter.
SORT_LIMIT = 2000
SORTS = {
    "title": lambda o: (o.title or "").lower(),
    "category": lambda o: labels.category_label(o.category).lower(),
    "municipality": lambda o: (o.municipality or "").lower(),
    "capacity_free": lambda o: (o.capacity_free is None, o.capacity_free or 0),
    "start_date": lambda o: (o.start_date is None, o.start_date or ""),
    "status": lambda o: o.status,
    "last_modified": lambda o: o.last_modified,
}
#: Accepted rows listed on the dry-run page at most (rows with findings are always listed).
ROWS_SHOWN = 500
#: Uploaded files wait between the dry run and the confirmation: one per user (a new dry run
#: drops the user's older file at once) and at most this long (expired files go whenever
#: anyone uploads or confirms), so a file of up to the body limit does not linger.
UPLOAD_TTL_SECONDS = 3600


def _agency_id() -> str:
    return current_person().agency_id or ""


def _int_arg(name: str, default: int, lo: int = 1, hi: int = 100_000) -> int:
    try:
        return max(lo, min(hi, int(request.args.get(name, default))))
    except ValueError:
        return default


def _category_options() -> list[tuple[str, str, list[tuple[str, str]]]]:
    return [
        (p, labels.category_label(p), [(c, labels.category_label(c)) for c in taxonomy.TAXONOMY[p]])
        for p in taxonomy.PARENTS
    ]


@bp.get("/")
def start() -> Any:
    principal = current_person()
    session_ = request_session()
    total = store.search_offers(
        session_, store.OfferQuery(agency_id=principal.agency_id, include_inactive=True, per_page=1)
    ).total
    recent = cases.agency_inbox(session_, principal)[:10]
    new = len(agency_referrals(session_, principal, "proposed"))
    return render_template("agency/start.html", total=total, referrals=recent, new_referrals=new)


def _sorted_offers(query: store.OfferQuery, key: str, descending: bool) -> tuple[list, int, bool]:
    """All offers matching ``query`` (up to ``SORT_LIMIT``), sorted by column ``key``."""
    found: list = []
    page, total = 1, 0
    while len(found) < SORT_LIMIT:
        result = store.search_offers(
            request_session(),
            store.OfferQuery(**{**query.__dict__, "page": page, "per_page": store.MAX_PER_PAGE}),
        )
        total = result.total
        found.extend(o for o, _d in result.items)
        if page * store.MAX_PER_PAGE >= total:
            break
        page += 1
    found.sort(key=SORTS[key], reverse=descending)
    return found, total, total > len(found)


@bp.get("/offers")
def offers() -> Any:
    q = (request.args.get("q") or "").strip()[:200] or None
    category = request.args.get("category") or None
    if category and not taxonomy.is_known(category):
        category = None
    sort = request.args.get("sort") if request.args.get("sort") in SORTS else None
    descending = request.args.get("dir") == "desc"
    page = _int_arg("page", 1)
    query = store.OfferQuery(
        q=q,
        category=category,
        agency_id=_agency_id(),
        include_inactive=True,
        page=page,
        per_page=PER_PAGE,
    )
    truncated = False
    if sort:
        everything, total, truncated = _sorted_offers(query, sort, descending)
        items = everything[(page - 1) * PER_PAGE : page * PER_PAGE]
    else:
        result = store.search_offers(request_session(), query)
        items, total = [o for o, _d in result.items], result.total
    pages = max(1, -(-total // PER_PAGE))
    return render_template(
        "agency/offers.html",
        items=items,
        total=total,
        page=page,
        pages=pages,
        q=q or "",
        category=category or "",
        sort=sort or "",
        descending=descending,
        truncated=truncated,
        categories=_category_options(),
        sort_limit=SORT_LIMIT,
    )


def _own_offer(offer_id: str):
    offer = store.get_offer(request_session(), offer_id)
    if not current_person().may_edit_agency(offer.agency_id):
        raise Forbidden("another agency's offer")
    return offer


def _form_values(offer) -> dict[str, Any]:
    values = {name: getattr(offer, name) for name in OFFER_FIELDS}
    if offer.location_approximate:
        # shown empty: saving again takes the municipality's centre again, or exact ones typed
        values["latitude"] = values["longitude"] = None
    return values


def _render_form(
    values: dict, errors: dict, offer=None, version: int | None = None, status: int = 200
):
    return (
        render_template(
            "agency/offer_form.html",
            values=values,
            errors=errors,
            offer=offer,
            version=version,
            categories=_category_options(),
            vocab=labels.VOCAB,
            language_names=language_names(current_language()),
            common_languages=COMMON_LANGUAGES,
            area_types=page_labels.SERVICE_AREA_TYPES,
            states=GERMAN_STATES,
            districts=DISTRICTS,
        ),
        status,
    )


@bp.route("/offers/new", methods=["GET", "POST"])
def new_offer() -> Any:
    if request.method == "GET":
        return _render_form({"status": "active", "organization": ""}, {})
    data = with_approximate_location(offer_form_data(request.form))
    session_ = request_session()
    try:
        offer = store.create_offer(session_, current_person(), _agency_id(), data)
        session_.commit()
    except InvalidInput as exc:
        session_.rollback()
        return _render_form(data, field_errors(exc.errors), status=422)
    flash(_("The offer “%(title)s” was created.", title=offer.title), "success")
    return redirect(url_for(".offers"))


@bp.route("/offers/<offer_id>/edit", methods=["GET", "POST"])
def edit_offer(offer_id: str) -> Any:
    offer = _own_offer(offer_id)
    if request.method == "GET":
        return _render_form(_form_values(offer), {}, offer, offer.version)
    data = with_approximate_location(offer_form_data(request.form))
    version = _version_field()
    session_ = request_session()
    try:
        store.replace_offer(session_, current_person(), offer_id, data, version)
        session_.commit()
    except InvalidInput as exc:
        session_.rollback()
        return _render_form(data, field_errors(exc.errors), offer, version, 422)
    except StaleVersion:
        session_.rollback()
        flash(_stale_message(), "error")
        return _render_form(data, {}, offer, version, 412)
    flash(_("Your changes to “%(title)s” were saved.", title=data.get("title")), "success")
    return redirect(safe_next(request.form.get("next")) or url_for(".offers"))


def _version_field() -> int:
    try:
        return int(request.form.get("version", ""))
    except ValueError:
        abort(400)


def _stale_message() -> str:
    return _(
        "Someone changed this offer after you opened it, so nothing was saved. "
        "Reload the page to see the current version, then make your change again."
    )


@bp.post("/offers/<offer_id>/free-places")
def free_places(offer_id: str) -> Any:
    value = request.form.get("set_to")
    if value is None:
        value = request.form.get("capacity_free", "")
    version = _version_field()
    back = safe_next(request.form.get("next")) or url_for(".offers")
    session_ = request_session()
    try:
        offer = store.patch_offer(
            session_, current_person(), offer_id, {"capacity_free": value.strip()}, version
        )
        session_.commit()
    except StaleVersion:
        session_.rollback()
        flash(_stale_message(), "error")
        return redirect(back)
    except InvalidInput as exc:
        session_.rollback()
        flash(_("Free places not changed: %(why)s", why=exc.detail), "error")
        return redirect(back)
    if offer.capacity_free is None:
        flash(_("“%(title)s”: free places now unknown.", title=offer.title), "success")
    else:
        flash(
            _("“%(title)s”: %(n)s free places now.", title=offer.title, n=offer.capacity_free),
            "success",
        )
    return redirect(back)


@bp.get("/offers/<offer_id>/history")
def history(offer_id: str) -> Any:
    changes = store.agency_offer_history(request_session(), current_person(), offer_id)
    offer = store.get_offer(request_session(), offer_id)
    return render_template("agency/history.html", offer=offer, changes=changes)


# --- referral inbox --------------------------------------------------------------------------

#: Agency actions on a referral, by the status they set.
INBOX_STATUSES = (
    "proposed",
    "accepted",
    "enrolled",
    "completed",
    "dropped",
    "rejected_by_provider",
)


@bp.get("/referrals")
def referrals() -> Any:
    offer_id = (request.args.get("offer") or "").strip()[:64] or None
    status = request.args.get("status") or None
    if status not in lifecycle.STATUSES:
        status = None
    rows = cases.agency_inbox(request_session(), current_person(), offer_id=offer_id, status=status)
    request_session().commit()
    offers = store.search_offers(
        request_session(),
        store.OfferQuery(
            agency_id=_agency_id(), include_inactive=True, per_page=store.MAX_PER_PAGE
        ),
    )
    return render_template(
        "agency/referrals.html",
        rows=rows,
        offer_id=offer_id or "",
        status=status or "",
        statuses=lifecycle.STATUSES,
        offers=sorted((o for o, _d in offers.items), key=lambda o: o.title.lower()),
    )


@bp.route("/referrals/<referral_id>/status", methods=["GET", "POST"])
def referral_status(referral_id: str) -> Any:
    """GET: confirm the change (with a reason where the lifecycle asks one); POST: make it."""
    to = request.values.get("to") or request.values.get("status") or ""
    back = safe_next(request.values.get("next")) or url_for(".referrals")
    row = cases.agency_referral(request_session(), current_person(), referral_id)
    if to not in row["next"]:
        flash(_("This change is not possible for the referral now."), "error")
        return redirect(back)
    if request.method == "GET":
        request_session().commit()
        return render_template(
            "agency/referral_confirm.html",
            r=row,
            to=to,
            reasons=lifecycle.REASONS.get(to, ()),
            back=back,
        )
    session_ = request_session()
    try:
        referrals_domain.change_status(
            session_,
            current_person(),
            referral_id,
            to,
            request.form.get("reason") or None,
            (request.form.get("note") or "").strip()[:2000] or None,
        )
        session_.commit()
    except referrals_domain.NoFreePlace:
        session_.rollback()
        flash(
            _(
                "“%(title)s” has no free place left, so the person was not enrolled. "
                "Raise the free places of the offer first, or keep the referral as it is.",
                title=row["offer"].title,
            ),
            "error",
        )
        return redirect(back)
    except (InvalidInput, Conflict) as exc:
        session_.rollback()
        flash(_("Status not changed: %(why)s", why=page_errors.why(exc)), "error")
        return redirect(back)
    flash(
        _(
            "The referral to “%(title)s” is now: %(status)s.",
            title=row["offer"].title,
            status=labels.label(labels.TABLES["referral_statuses"], to),
        ),
        "success",
    )
    return redirect(back)


# --- CSV import: upload → dry run shown row by row → confirm ------------------------------


def _upload_dir() -> Path:
    return Path(state().settings.data_dir) / "uploads"


def _uploader() -> str:
    """The file-name prefix of this user's pending upload (a digest: names nobody)."""
    person = current_person()
    return hashlib.sha256((person.name or person.actor).encode()).hexdigest()[:16]


def _clean_uploads(folder: Path, uploader: str | None = None) -> None:
    """Remove expired uploads, and every pending upload of ``uploader``."""
    cutoff = time.time() - UPLOAD_TTL_SECONDS
    for path in folder.glob("*.upload"):
        try:
            if path.stat().st_mtime < cutoff or (uploader and path.name.startswith(uploader + "-")):
                path.unlink()
        except OSError:
            pass


def _pending() -> tuple[dict, Path] | None:
    info = session.get("pending_import")
    if not isinstance(info, dict) or info.get("agency") != _agency_id():
        return None
    token = str(info.get("token", ""))
    if not token.isalnum():
        return None
    folder = _upload_dir()
    if folder.is_dir():
        _clean_uploads(folder)
    path = folder / f"{_uploader()}-{token}.upload"
    return (info, path) if path.is_file() else None


@bp.get("/import")
def upload() -> Any:
    return render_template("agency/upload.html", error=None)


@bp.post("/import")
def dry_run() -> Any:
    file = request.files.get("file")
    raw = file.read() if file else b""
    if file is None or not raw:
        return render_template("agency/upload.html", error=_("Choose a file to upload.")), 422
    name = file.filename or "upload.csv"
    fmt = reading.guess_format(raw, name=name, media_type=file.mimetype or "")
    try:
        report = importing.import_offers(
            request_session(),
            current_person(),
            _agency_id(),
            raw,
            fmt=fmt,
            dry_run=True,
            mode="atomic",
            helpers=state().settings.import_helpers,
        ).as_dict()
    except RejectedImport as exc:
        report = exc.report
    except (BadPayload, InvalidInput) as exc:
        request_session().rollback()
        return render_template("agency/upload.html", error=exc.detail), 422
    request_session().rollback()
    folder = _upload_dir()
    folder.mkdir(parents=True, exist_ok=True)
    uploader = _uploader()
    _clean_uploads(folder, uploader)
    token = secrets.token_hex(16)
    (folder / f"{uploader}-{token}.upload").write_bytes(raw)
    session["pending_import"] = {
        "token": token,
        "name": name,
        "format": fmt,
        "agency": _agency_id(),
    }
    return render_template("agency/import_report.html", **_report_view(report, raw, fmt, name))


def _report_view(report: dict, raw: bytes, fmt: str, name: str) -> dict[str, Any]:
    """The report with one line per row of the file (titles from the file itself)."""
    problems: dict[int, list[dict]] = {}
    for entry in report.get("rejected", []):
        problems.setdefault(int(entry["row"]), []).append(entry)
    lookalikes: dict[int, list[dict]] = {}
    for entry in report.get("duplicates", []):
        lookalikes.setdefault(int(entry["row"]), []).append(entry)
    try:
        rows = reading.read_rows(raw, fmt)
    except (BadPayload, InvalidInput):
        rows = []
    shown = [
        {
            "row": r.row,
            "external_id": r.data.get("external_id"),
            "title": r.data.get("title") or r.data.get("name"),
            "problems": problems.get(r.row, []),
            "duplicates": lookalikes.get(r.row, []),
        }
        for r in rows
    ]
    # A big file: every row with a finding, and the first accepted ones.
    quiet = [i for i, r in enumerate(shown) if not (r["problems"] or r["duplicates"])]
    hidden = set(quiet[ROWS_SHOWN:])
    shown = [r for i, r in enumerate(shown) if i not in hidden]
    return {
        "hidden_rows": len(hidden),
        "report": report,
        "rows": shown,
        "row_count": len(rows),
        "rejected_rows": len(problems),
        "name": name,
        "fmt": fmt,
    }


@bp.post("/import/confirm")
def confirm_import() -> Any:
    pending = _pending()
    if pending is None:
        flash(_("The uploaded file is no longer available. Please upload it again."), "error")
        return redirect(url_for(".upload"))
    info, path = pending
    if request.form.get("action") == "cancel":
        path.unlink(missing_ok=True)
        session.pop("pending_import", None)
        flash(_("Import cancelled; nothing was written."), "info")
        return redirect(url_for(".upload"))
    mode = "partial" if request.form.get("mode") == "partial" else "atomic"
    raw = path.read_bytes()
    session_ = request_session()
    try:
        report = importing.import_offers(
            session_,
            current_person(),
            _agency_id(),
            raw,
            fmt=info["format"],
            mode=mode,
            helpers=state().settings.import_helpers,
        )
        session_.commit()
    except RejectedImport as exc:
        session_.rollback()
        flash(_("Some rows were rejected, so nothing was written."), "error")
        return render_template(
            "agency/import_report.html",
            **_report_view(exc.report, raw, info["format"], info["name"]),
        ), 422
    path.unlink(missing_ok=True)
    session.pop("pending_import", None)
    flash(
        _(
            "Import finished: %(created)s created, %(updated)s updated, %(unchanged)s unchanged, "
            "%(rejected)s rows skipped.",
            created=report.created,
            updated=report.updated,
            unchanged=report.unchanged,
            rejected=report.rejected_rows,
        ),
        "success",
    )
    return redirect(url_for(".offers", sort="last_modified", dir="desc"))
