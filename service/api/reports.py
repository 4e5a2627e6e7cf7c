"""``/v1/reports/monitoring``: aggregates for analysts — as JSON, CSV or a PNG chart.

Only aggregates leave this endpoint, and any group of fewer than five people is suppressed
(``casework.monitoring``); the format is chosen with ``format=json|csv|png``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from flask import Blueprint, Response
from pydantic import BaseModel, ConfigDict, Field

from casework import monitoring
from service.auth import current_principal, require
from service.db import db
from service.io import parse_query, respond
from service.openapi import operation

bp = Blueprint("reports", __name__, url_prefix="/v1/reports")


class MonitoringQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: Literal["municipality", "centre", "category"] = "municipality"
    format: Literal["json", "csv", "png"] = Field(
        "json",
        description="json; csv (text/csv, one row per group and the total); "
        "png (image/png, the funnel and the goals per group)",
    )
    since: date | None = Field(None, description="agreements signed / referrals made from")
    until: date | None = Field(None, description="… up to and including this day")


class CountOut(BaseModel):
    code: str
    count: int


class ReasonCountOut(BaseModel):
    status: str
    reason: str
    count: int


class GroupOut(BaseModel):
    """One group's numbers; all null with ``suppressed: true`` below five people."""

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


class MonitoringReport(BaseModel):
    """Signed agreements, goal outcomes, the referral funnel, days to enrolment, obstacles and
    rejection reasons per group, and the total."""

    by: str
    since: date | None
    until: date | None
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
    query = parse_query(MonitoringQuery)
    report = monitoring.monitoring_report(
        db(), current_principal(), query.by, since=query.since, until=query.until
    )
    if query.format == "csv":
        return Response(
            monitoring.report_csv(report),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="monitoring-{query.by}.csv"'},
        )
    if query.format == "png":
        return Response(monitoring.report_chart(report), mimetype="image/png")
    return respond(MonitoringReport.model_validate(report))
