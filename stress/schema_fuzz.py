"""Schemathesis against ``/openapi.json``: generated requests to every operation of a real
``lotse serve`` on loopback, each answer checked against the document.

The installation is a temporary SQLite database (or, with ``--postgres URL``, a new database on
that server) with a demo catalogue of 200 offers, a simulated outcome history and one trained
ranker version. Requests carry a token of one of the roles the operation allows most of the
time, and sometimes another role's, another scope's, a bad one or none, so authenticated
operations are exercised beyond 401. Path parameters (and ids inside bodies) are real ids about
half the time, so requests get past 404 into the validators and the domain.

Checks on every answer: ``not_a_server_error`` (no 5xx), ``status_code_conformance`` (the
status is documented), ``content_type_conformance`` and ``response_schema_conformance`` (the
body matches the documented schema). Positive and negative (schema-violating) requests are
both generated.

    python stress/schema_fuzz.py                    # full form: at least 1,000 requests
    python stress/schema_fuzz.py --requests 300     # the CI short form

Exit status 0 when every check passed on every request and the request count was reached.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stress.common import (
    Client,
    Installation,
    Server,
    add_backend_arguments,
    chosen_postgres,
    installation,
    log,
    machine_info,
    print_summary,
)

CHECK_NAMES = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
#: Statuses gunicorn answers itself, before the app, for an oversized request line or header
#: (generated query strings reach kilobytes); counted apart, not checked against the document.
PROTOCOL_LIMITS = (414, 431)
#: The fuzzer sends bad tokens on purpose, and reads without one, all from 127.0.0.1; the
#: limits on failed tokens, anonymous reads and exports per address (tested elsewhere) would
#: otherwise lock every later request out with 429.
SERVER_ENV = {
    "LOTSE_TOKEN_MAX_FAILURES": "1000000000",
    "LOTSE_ANON_READS_PER_MINUTE": "0",
    "LOTSE_EXPORTS_PER_HOUR": "0",
}
#: Hostile values put now and then into a path parameter, a query parameter or a top-level
#: string of a JSON body (hypothesis leaves NUL out of paths and queries, for one).
HOSTILE = (
    "a\x00b",
    "\x00",
    "%",
    "../../etc/passwd",
    "' OR '1'='1",
    "<script>alert(1)</script>",
    "\u202eevil",
    "x" * 300,
    " ",
    "-1",
    "1e309",
    "null",
)
#: Path parameters, and body fields, that get real ids about half the time.
ID_FIELDS = ("offer_id", "referral_id", "agreement_id", "version", "service_id", "person_ref")
BODY_ID_FIELDS = ("offer_id", "request_id", "referral_id")

PROFILE = {
    "person_ref": "fuzz-0001",
    "age": 34,
    "gender": "female",
    "location": {"place": "Wetzlar"},
    "residence_status": "recognised_refugee",
    "german_level": "A2",
    "languages": ["ar"],
    "children_ages": [2, 5],
    "needs": ["Deutschkurs", "Kinderbetreuung", "Anerkennung"],
    "profession": "Krankenschwester",
}


@dataclass
class Tally:
    """What the run saw: requests per operation, statuses, and distinct failures."""

    requests: int = 0
    per_operation: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    failures: dict[tuple[str, str, int], str] = field(default_factory=dict)
    failure_count: int = 0
    transport_errors: int = 0
    protocol_limits: int = 0


# --- set-up ---------------------------------------------------------------------------------


def prepare(inst: Installation) -> dict[str, Any]:
    """Catalogue, history, one ranker version and tokens; the principals' scopes."""
    log("seeding 200 demo offers, a short outcome history and one ranker version")
    inst.lotse("demo", "seed", "--offers", "200", "--seed", "7")
    inst.lotse("demo", "simulate", "--people", "120", "--seed", "3")
    inst.lotse("ranker", "train", "--seed", "1")
    agencies = inst.rows(
        "SELECT agency_id, count(*) FROM offers GROUP BY agency_id ORDER BY 2 DESC, 1 LIMIT 2"
    )
    agency, other_agency = agencies[0][0], agencies[1][0]
    tokens = {
        "admin": inst.create_token("admin"),
        "agency": inst.create_token("agency", agency=agency),
        "agency_other": inst.create_token("agency", agency=other_agency),
        "counsellor": inst.create_token("counsellor", centre="fuzz-centre"),
        "counsellor_other": inst.create_token("counsellor", centre="fuzz-other"),
        "analyst": inst.create_token("analyst"),
    }
    inst.tokens = tokens
    return {"agency": agency}


def real_ids(inst: Installation, server: Server, scope: dict[str, Any]) -> dict[str, list[str]]:
    """Ids that exist: offers (the agency's first), a recommendation, referrals, an agreement,
    model versions and person references, made through the API as a counsellor would."""
    counsellor = Client(server.base_url, inst.tokens["counsellor"])
    status, _, rec = counsellor.request("POST", "/v1/recommendations", {"profile": PROFILE})
    if status != 200:
        raise RuntimeError(f"set-up recommendation failed: {status} {rec}")
    picked = [r["offer_id"] for r in rec["results"]]
    referrals = []
    for offer_id in picked[:3]:
        status, _, ref = counsellor.request(
            "POST",
            "/v1/referrals",
            {"request_id": rec["request_id"], "offer_id": offer_id, "consent": True},
        )
        if status != 201:
            raise RuntimeError(f"set-up referral failed: {status} {ref}")
        referrals.append(ref["id"])
    body = {
        "person_ref": PROFILE["person_ref"],
        "goals": [{"category": "language", "target": "B1"}],
        "steps": [
            {
                "kind": "referral",
                "request_id": rec["request_id"],
                "offer_id": picked[-1],
                "consent": True,
                "goal": 0,
            }
        ],
    }
    status, _, agreement = counsellor.request("POST", "/v1/agreements", body)
    if status != 201:
        raise RuntimeError(f"set-up agreement failed: {status} {agreement}")
    counsellor.close()
    own = [
        r[0]
        for r in inst.rows(
            "SELECT id FROM offers WHERE agency_id = :a ORDER BY id", a=scope["agency"]
        )
    ]
    others = [r[0] for r in inst.rows("SELECT id FROM offers ORDER BY id LIMIT 10")]
    offers = list(dict.fromkeys([*own, *picked, *others]))
    return {
        "offer_id": offers,
        "service_id": offers,
        "referral_id": referrals,
        "agreement_id": [agreement["id"]],
        "version": [r[0] for r in inst.rows("SELECT version FROM model_versions")],
        "person_ref": [PROFILE["person_ref"]],
        "request_id": [rec["request_id"]],
    }


def required_roles(inst: Installation) -> dict[tuple[str, str], tuple[str, ...]]:
    """``(path template, METHOD) -> roles`` from the app's own view declarations."""
    import re

    from service.app import create_app

    app = create_app({"database_url": inst.database_url, "data_dir": inst.data_dir})
    out = {}
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        roles = getattr(view, "required_roles", ())
        path = re.sub(r"<(?:[a-z_]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods or ():
            out[(path, method)] = tuple(roles)
    app.extensions["lotse"].engine.dispose()
    return out


def principal_choices(roles: tuple[str, ...], tokens: dict[str, str]) -> list[str | None]:
    """Tokens to send, weighted: an allowed role's most often, then the others, a bad token
    and none. ``None`` is no token; ``"bad"`` an unknown one."""
    if not roles:
        return [None, None, None, "admin", "counsellor", "bad"]
    choices: list[str | None] = []
    for name in tokens:
        base = name.removesuffix("_other")
        allowed = base in roles
        choices += [name] * (4 if allowed and name == base else 1)
    return [*choices, None, "bad"]


# --- the run --------------------------------------------------------------------------------


def _checks() -> list[Any]:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    return [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]


def _failure_key(exc: BaseException) -> list[tuple[str, str]]:
    failures = getattr(exc, "exceptions", None) or [exc]
    out = []
    for f in failures:
        title = getattr(f, "title", type(f).__name__)
        message = str(getattr(f, "message", "") or f).strip().splitlines()
        out.append((str(title), " | ".join(message[:4])[:400]))
    return out


def _inject(case: Any, value: str, where: int, query_names: list[str]) -> None:
    """Put ``value`` into a path parameter (``where`` 0), a query parameter (1) or a string of
    the JSON body (2), whichever the operation has, trying them in that order."""
    targets = []
    if case.path_parameters:
        targets.append("path")
    if query_names:
        targets.append("query")
    if isinstance(case.body, dict) and any(isinstance(v, str) for v in case.body.values()):
        targets.append("body")
    if not targets:
        return
    target = targets[where % len(targets)]
    if target == "path":
        name = sorted(case.path_parameters)[0]
        case.path_parameters[name] = value
    elif target == "query":
        query = dict(case.query or {})
        query[query_names[where % len(query_names)]] = value
        case.query = query
    else:
        name = sorted(k for k, v in case.body.items() if isinstance(v, str))[0]
        case.body[name] = value


def fuzz_operation(
    operation: Any,
    mode: Any,
    examples: int,
    seed: int,
    *,
    base_url: str,
    http: Any,
    tokens: dict[str, str],
    choices: list[str | None],
    ids: dict[str, list[str]],
    tally: Tally,
    deadline: float,
) -> None:
    """Up to ``examples`` generated requests to one operation in one generation mode."""
    import hypothesis
    import hypothesis.errors
    from hypothesis import strategies as st

    checks = _checks()
    label = f"{operation.method.upper()} {operation.path}"
    query_names = [p.name for p in operation.query]
    id_draws = st.fixed_dictionaries(
        {name: st.one_of(st.none(), st.sampled_from(vals)) for name, vals in ids.items() if vals}
    )

    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
        report_multiple_bugs=False,
    )
    @hypothesis.seed(seed)
    @hypothesis.given(
        case=operation.as_strategy(generation_mode=mode),
        who=st.sampled_from(choices),
        real=id_draws,
        hostile=st.one_of(st.none(), st.none(), st.none(), st.sampled_from(HOSTILE)),
        where=st.integers(0, 2),
    )
    def one(
        case: Any, who: str | None, real: dict[str, str | None], hostile: str | None, where: int
    ) -> None:
        if time.monotonic() > deadline:
            return
        for name in list(case.path_parameters or {}):
            if real.get(name) is not None:
                case.path_parameters[name] = real[name]
        if isinstance(case.body, dict):
            for name in BODY_ID_FIELDS:
                if name in case.body and real.get(name) is not None:
                    case.body[name] = real[name]
        if hostile is not None:
            _inject(case, hostile, where, query_names)
        headers = dict(case.headers or {})
        headers.pop("Authorization", None)
        if who == "bad":
            headers["Authorization"] = "Bearer not-a-token"
        elif who is not None:
            headers["Authorization"] = f"Bearer {tokens[who]}"
        case.headers = headers
        try:
            response = case.call(base_url=base_url, session=http, timeout=60)
        except Exception as exc:  # a transport failure is a failure of the server
            tally.transport_errors += 1
            tally.failures.setdefault((label, "transport", 0), repr(exc)[:400])
            return
        tally.requests += 1
        tally.per_operation[label] += 1
        tally.statuses[response.status_code] += 1
        if response.status_code in PROTOCOL_LIMITS:
            tally.protocol_limits += 1
            return
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except (Exception, BaseExceptionGroup) as exc:  # keep the first example of each kind
            tally.failure_count += 1
            for title, message in _failure_key(exc):
                key = (label, title, response.status_code)
                if key not in tally.failures:
                    body = response.text[:300] if hasattr(response, "text") else ""
                    tally.failures[key] = (
                        f"{message}\n      request: {case.method} {case.formatted_path} "
                        f"query={case.query} body={str(case.body)[:200]} as={who}\n"
                        f"      response: {body}"
                    )

    # Unsatisfiable: e.g. nothing to make negative in an operation without parameters
    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        one()


def run(
    requests: int = 1000,
    max_seconds: float = 900,
    seed: int = 0,
    postgres: str | None = None,
    keep: bool = False,
) -> dict[str, Any]:
    """Fuzz until at least ``requests`` requests were checked (or ``max_seconds`` passed);
    the figures, with ``ok`` true when nothing failed and the count was reached."""
    import requests as http_requests
    import schemathesis
    from schemathesis import GenerationMode

    started = time.monotonic()
    with installation("fuzz", postgres=postgres, keep=keep) as inst:
        inst.extra_env.update(SERVER_ENV)
        scope = prepare(inst)
        roles = required_roles(inst)
        with Server(inst, workers=2, threads=4) as server:
            ids = real_ids(inst, server, scope)
            schema = schemathesis.openapi.from_url(
                server.base_url + "/openapi.json", config=schemathesis.Config()
            )
            operations = [r.ok() for r in schema.get_all_operations()]
            log(f"{len(operations)} operations in /openapi.json; target {requests} requests")
            tally = Tally()
            http = http_requests.Session()
            deadline = started + max_seconds
            rng = random.Random(seed)
            per_round = max(2, requests // (2 * len(operations)) + 1)
            rounds = 0
            while tally.requests < requests and time.monotonic() < deadline:
                rounds += 1
                for operation in operations:
                    choices = principal_choices(
                        roles.get((operation.path, operation.method.upper()), ()), inst.tokens
                    )
                    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                        fuzz_operation(
                            operation,
                            mode,
                            per_round,
                            rng.randrange(2**32),
                            base_url=server.base_url,
                            http=http,
                            tokens=inst.tokens,
                            choices=choices,
                            ids=ids,
                            tally=tally,
                            deadline=deadline,
                        )
                log(f"round {rounds}: {tally.requests} requests, {tally.failure_count} failed")
            http.close()
            ready, _, _ = Client(server.base_url).request("GET", "/readyz")
            server_errors = server.unexpected_errors()
        info = machine_info(inst)
    labels = [f"{o.method.upper()} {o.path}" for o in operations]
    untested = [label for label in labels if not tally.per_operation.get(label)]
    five_xx = sum(n for s, n in tally.statuses.items() if s >= 500)
    figures = {
        "requests": tally.requests,
        "operations": len(operations),
        "operations_untested": untested,
        "failed_requests": tally.failure_count,
        "transport_errors": tally.transport_errors,
        "refused_before_the_app": tally.protocol_limits,
        "responses_5xx": five_xx,
        "server_tracebacks": server_errors,
        "statuses": dict(sorted(tally.statuses.items())),
        "checks": list(CHECK_NAMES),
        "ready_after": ready == 200,
        "duration_s": round(time.monotonic() - started, 1),
        "machine": info,
    }
    figures["ok"] = (
        tally.requests >= requests
        and not tally.failures
        and five_xx == 0
        and not untested
        and server_errors == 0
        and ready == 200
    )
    figures["failures"] = [
        f"{label} [{title}] status {status}: {detail}"
        for (label, title, status), detail in sorted(tally.failures.items())
    ]
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="at least this many")
    parser.add_argument("--max-seconds", type=float, default=900)
    parser.add_argument("--seed", type=int, default=0)
    add_backend_arguments(parser)
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    args = parser.parse_args(argv)
    figures = run(args.requests, args.max_seconds, args.seed, chosen_postgres(args), args.keep)
    failures = figures.pop("failures")
    print_summary("schemathesis against /openapi.json", figures)
    for line in failures:
        print("  FAIL " + line)
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
