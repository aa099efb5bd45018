"""``trtlens health``: the probe command containers run (a real listener on a loopback port)."""

from trtlens.cli import main
from trtlens.obs import Observability
from trtlens.settings import load_settings


def test_health_and_readiness_with_the_token_from_the_settings(monkeypatch, capsys):
    monkeypatch.setenv("TRTLENS_OBS__AUTH_TOKEN", "t0ken-for-the-probe")
    obs = Observability(load_settings().obs, process_metrics=False)
    ready = {"ok": False}
    obs.set_readiness(lambda: (ready["ok"], "partitions assigned" if ready["ok"] else "recovering tables"))
    port = obs.start()
    try:
        assert main(["health", "--port", str(port)]) == 0
        assert main(["health", "--ready", "--port", str(port)]) == 1
        assert "recovering tables" in capsys.readouterr().out
        ready["ok"] = True
        assert main(["health", "--ready", "--port", str(port)]) == 0
        monkeypatch.setenv("TRTLENS_OBS__AUTH_TOKEN", "a-wrong-token-entirely")
        assert main(["health", "--port", str(port)]) == 1  # 401
    finally:
        obs.stop()
    out = capsys.readouterr()
    assert "t0ken" not in out.out + out.err


def test_health_without_a_listener_says_what_to_set(capsys):
    assert main(["health", "--port", "1"]) == 1
    assert main(["health"]) == 1
    assert "TRTLENS_OBS__PORT" in capsys.readouterr().err
