"""Domain exceptions. Domain code raises these; ``service.errors`` maps each to an HTTP status
in one place, so no rule about HTTP lives in the domain."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One problem with one input field (``field`` is a dotted path, e.g. ``location.place``).

    ``message`` is English, for API clients. A fixed message is marked ``N_("…")`` where it
    is raised, which makes it a message id of the staff catalogue: the pages show it in their
    language (``service.web.page_errors``; a test keeps every fixed message translated)."""

    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class LotseError(Exception):
    """Base of every error Lotse reports to a user."""

    title = "Error"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title


class InvalidInput(LotseError):
    """The input is well-formed but breaks a rule; carries one entry per offending field."""

    title = "Invalid input"

    def __init__(self, errors: list[FieldError], detail: str = "") -> None:
        super().__init__(detail or "; ".join(f"{e.field}: {e.message}" for e in errors[:5]))
        self.errors = errors


class BadPayload(LotseError):
    """The request body or file cannot be read at all (encoding, syntax, empty, wrong columns)."""

    title = "Unreadable input"


class NotFound(LotseError):
    title = "Not found"


class Unauthenticated(LotseError):
    title = "Authentication required"


class Forbidden(LotseError):
    title = "Forbidden"


class Conflict(LotseError):
    """The request contradicts the current state (an illegal transition, a duplicate key)."""

    title = "Conflict"


class StaleVersion(LotseError):
    """An ``If-Match`` version no longer matches the stored one: someone else changed it."""

    title = "Version mismatch"


class RejectedImport(LotseError):
    """An atomic import had rejected rows, so nothing was written; ``report`` says why."""

    title = "Import rejected"

    def __init__(self, report: dict, detail: str = "") -> None:
        super().__init__(detail or "Some rows were rejected; nothing was written.")
        self.report = report


class PreconditionRequired(LotseError):
    """A write that must say which version it read (``If-Match``) did not."""

    title = "Precondition required"
