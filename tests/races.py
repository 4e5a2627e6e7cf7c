"""Races for tests: callables run in threads that a barrier releases together.

Each callable opens its own session (or makes its own request), so two really meet in the
database: a SQLite file or PostgreSQL, never a mock. A race that may not show on one try
is run for several rounds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

#: Rounds per race: enough that a race window of a few statements shows at least once.
ROUNDS = 8


def race(*actions: Callable[[], Any], timeout: float = 120) -> list[Any]:
    """Run every action in its own thread, all released by one barrier; what each returned,
    or the exception it raised, in the order given."""
    barrier = threading.Barrier(len(actions))
    outcomes: list[Any] = [None] * len(actions)

    def run(i: int, action: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            outcomes[i] = action()
        except BaseException as exc:  # handed back to the test
            outcomes[i] = exc

    threads = [
        threading.Thread(target=run, args=(i, a), daemon=True) for i, a in enumerate(actions)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a racing thread hangs"
    return outcomes


def failures(outcomes: list[Any]) -> list[BaseException]:
    return [o for o in outcomes if isinstance(o, BaseException)]


def successes(outcomes: list[Any]) -> list[Any]:
    return [o for o in outcomes if not isinstance(o, BaseException)]
