"""``/v1/reports/monitoring``: aggregates for analysts — as JSON, CSV or a PNG chart.

Only aggregates of one calendar quarter leave this endpoint (``period=2026-Q3``, default the
latest that is over), and no number about fewer than five people (``casework.monitoring``);
the format is chosen with ``format=json|csv|png``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from flask import Blueprint, Response, request
from pydantic import BaseModel, ConfigDict, Field

from casework import monitoring
from lotse.errors import FieldError, InvalidInput
from service.auth import current_principal, require
from service.db import request_session
from service.io import parse_query, respond
from service.openapi import operation

bp = Blueprint("reports", __name__, url_prefix="/v1/reports")
WINDOWS_GONE = (
    "since/until are no longer taken: reports cover one calendar quarter, "
    f"period={monitoring.PERIOD_FORMAT}"
)


class MonitoringQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: Literal["municipality", "centre", "category"] = "municipality"
    format: Literal["json", "csv", "png"] = Field(
        "json",
        description="json; csv (text/csv, one row per group and the total); "
        "png (image/png, the funnel and the goals per group)",
    )
    period: str | None = Field(
        None,
        max_length=16,
        description="a calendar quarter that is over, e.g. 2026-Q3 (default: the latest); "
        "agreements by signing date, referrals by the date they were made",
    )


class CountOut(BaseModel):
    code: str
    count: int


class ReasonCountOut(BaseModel):
    status: str
    reason: str
    count: int


class GroupOut(BaseModel):
    """One group's numbers; a number about fewer than five people is null (and named in
    ``suppressed_cells``); ``suppressed: true`` when all are. ``group`` is ``(other)`` for
    small groups and unknown places together."""

    group: str
    suppressed: bool
    people: int | None
    agreements_signed: int | None
    goals: int | None
    goals_reached: int | None
    goals_partly_reached: int | None
    goals_not_reached: int | None
    goals_open: int | None
    referrals_proposed: int | None
    referrals_accepted: int | None
    referrals_enrolled: int | None
    referrals_completed: int | None
    median_days_to_enrolment: float | None
    top_obstacles: list[CountOut] | None
    top_rejection_reasons: list[ReasonCountOut] | None
    suppressed_cells: list[str]


class MonitoringReport(BaseModel):
    """Signed agreements, goal outcomes, the referral funnel, days to enrolment, obstacles and
    rejection reasons per group, and the total."""

    by: str
    period: str
    period_start: date
    period_end: date
    generated_at: datetime
    min_group_size: int
    groups: list[GroupOut]
    total: GroupOut


@bp.get("/monitoring")
@operation(
    "Monitoring report",
    "reports",
    query=MonitoringQuery,
    responses={200: (MonitoringReport, "text/csv,image/png")},
)
@require(*monitoring.ANALYSTS)
def monitoring_report():
    if "since" in request.args or "until" in request.args:
        raise InvalidInput([FieldError("period", WINDOWS_GONE)])
    query = parse_query(MonitoringQuery)
    report = monitoring.monitoring_report(
        request_session(), current_principal(), query.by, period=query.period
    )
    if query.format == "csv":
        name = f"monitoring-{query.by}-{report['period']}.csv"
        return Response(
            monitoring.report_csv(report),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    if query.format == "png":
        return Response(monitoring.report_chart(report), mimetype="image/png")
    return respond(MonitoringReport.model_validate(report))
