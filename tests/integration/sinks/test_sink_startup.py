"""Start-up against a store that is not there: a clear error, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

from trtlens.stack.processes import connection_env
from trtlens.stack import free_port


def test_sink_without_a_store_waits_then_exits_with_a_clear_error(isolated):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {
        **os.environ,
        **connection_env(isolated),
        "TRTLENS_ELASTICSEARCH__URL": url,
        "TRTLENS_SINK__STARTUP_TIMEOUT_S": "2",
        "TRTLENS_SINK__BACKOFF_INITIAL_MS": "100",
    }
    res = subprocess.run([sys.executable, "-m", "trtlens", "sink"], env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert f"Elasticsearch at {url} did not answer within 2s" in res.stderr
    assert "sink=waiting_for_store" in res.stderr
    assert "Traceback" not in res.stderr and "Unclosed client session" not in res.stderr


def test_templates_installed_by_their_own_command_then_the_sink_needs_no_template_rights(isolated):
    """Issue 16: least privilege — an admin runs `trtlens templates` once; the sink runs `--no-templates`."""
    from trtlens.es import es_client

    env = {**os.environ, **connection_env(isolated)}
    res = subprocess.run([sys.executable, "-m", "trtlens", "templates", "--json"], env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    client = es_client(isolated.elasticsearch)
    try:
        for family in ("traces", "metrics", "alerts", "builds"):
            name = getattr(isolated.indices, family)
            found = client.indices.get_index_template(name=name)["index_templates"]
            assert [t["name"] for t in found] == [name]
    finally:
        client.close()
