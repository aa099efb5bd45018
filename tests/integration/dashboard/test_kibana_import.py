"""``trtlens kibana import`` against a local emulator of Kibana's saved objects import API.

No Kibana runs here; the emulator checks the documented request shape
(``POST /api/saved_objects/_import?overwrite=true``, header ``kbn-xsrf``, a
multipart ``file`` part holding NDJSON) and answers like Kibana does
(``{"success", "successCount", "successResults"}``), keeping the objects by
(type, id) so importing twice can be seen to change nothing.
"""

from __future__ import annotations

import base64
import json
import threading
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from trtlens.cli import main
from trtlens.dashboard.kibana import KibanaError, import_objects, shipped_ndjson


class Emulator:
    def __init__(self, *, status: int = 200, require_auth: str | None = None) -> None:
        self.objects: dict[tuple[str, str], dict] = {}
        self.requests: list[dict] = []
        emu = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                return

            def do_POST(self):
                url = urlsplit(self.path)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                emu.requests.append({"path": url.path, "query": parse_qs(url.query), "headers": {k.lower(): v for k, v in self.headers.items()}})
                if require_auth and self.headers.get("Authorization") != require_auth:
                    return self._answer(401, {"statusCode": 401, "error": "Unauthorized"})
                if status != 200:
                    return self._answer(status, {"statusCode": status, "error": "boom"})
                if url.path.removeprefix("/s/ops") != "/api/saved_objects/_import" or self.headers.get("kbn-xsrf") is None:
                    return self._answer(400, {"statusCode": 400, "message": "bad request"})
                msg = BytesParser(policy=HTTP).parsebytes(
                    b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + body)
                part = next(p for p in msg.iter_parts() if p.get_param("name", header="content-disposition") == "file")
                objs = [json.loads(line) for line in part.get_content().splitlines() if line.strip()]
                overwrite = parse_qs(url.query).get("overwrite") == ["true"]
                errors = [o["id"] for o in objs if (o["type"], o["id"]) in emu.objects and not overwrite]
                if errors:
                    return self._answer(200, {"success": False, "successCount": 0, "errors": [{"id": i, "error": {"type": "conflict"}} for i in errors]})
                for o in objs:
                    emu.objects[(o["type"], o["id"])] = o
                self._answer(200, {"success": True, "successCount": len(objs),
                                   "successResults": [{"type": o["type"], "id": o["id"]} for o in objs]})

            def _answer(self, code, obj):
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def kibana():
    emu = Emulator()
    yield emu
    emu.close()


def test_import_is_idempotent(kibana, capsys):
    assert main(["kibana", "import", "--url", kibana.url]) == 0
    first = dict(kibana.objects)
    assert main(["kibana", "import", "--url", kibana.url]) == 0
    assert kibana.objects == first and len(first) == len(shipped_ndjson().splitlines())
    assert ("dashboard", "trtlens-dashboard") in first
    req = kibana.requests[-1]
    assert req["query"]["overwrite"] == ["true"] and req["headers"]["kbn-xsrf"] == "true"
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {"success": True, "imported": len(first)}


def test_space_and_credentials(kibana):
    import_objects(kibana.url, shipped_ndjson(), space="ops", username="elastic", password="pw")
    req = kibana.requests[-1]
    assert req["path"] == "/s/ops/api/saved_objects/_import"
    assert req["headers"]["authorization"] == "Basic " + base64.b64encode(b"elastic:pw").decode()
    import_objects(kibana.url, shipped_ndjson(), api_key="k3y")
    assert kibana.requests[-1]["headers"]["authorization"] == "ApiKey k3y"


def test_failures_say_what_happened():
    emu = Emulator(require_auth="ApiKey right")
    try:
        with pytest.raises(KibanaError, match="HTTP 401") as err:
            import_objects(emu.url, shipped_ndjson(), api_key="wrong")
        assert "wrong" not in str(err.value)
    finally:
        emu.close()
    with pytest.raises(KibanaError, match="is Kibana up"):
        import_objects("http://127.0.0.1:9", shipped_ndjson(), timeout_s=2)
