"""``lotse serve``'s gunicorn: what two servers on one host must not share."""

from __future__ import annotations

from pathlib import Path

from lotse.settings import Settings
from service.server import run_gunicorn


def test_servers_on_one_host_open_no_shared_control_socket(tmp_path: Path, monkeypatch):
    # gunicorn 25+ opens a control socket at one path per user; two `lotse serve` on a
    # host took it from each other, and stopping one removed the other's.
    from gunicorn.app.base import BaseApplication

    started: list[dict] = []

    def run(self):
        started.append(
            {
                "bind": self.cfg.bind,
                "control_socket_disable": self.cfg.control_socket_disable,
            }
        )

    monkeypatch.setattr(BaseApplication, "run", run)
    # (run_gunicorn points it at a folder for the workers; monkeypatch restores it)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    settings = Settings.load().model_copy(update={"data_dir": tmp_path})
    for port in (18001, 18002):
        run_gunicorn(settings, "127.0.0.1", port, workers=1, threads=1, timeout=30)
    assert [s["bind"] for s in started] == [["127.0.0.1:18001"], ["127.0.0.1:18002"]]
    assert all(s["control_socket_disable"] for s in started)
