"""``trtlens health``: ask a local trtlens process whether it is alive or ready (container probes).

Reads the same ``obs`` settings the process runs with (port, token from
``TRTLENS_OBS__*``), asks ``http://127.0.0.1:<port>/healthz`` (or ``/readyz``)
and exits 0 when the answer is 200, 1 otherwise, printing the process's one-line
detail. Kubernetes exec probes and compose health checks call it, so the token
never has to be written into a probe definition.
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "health",
        help="ask the local trtlens process on the obs port whether it is alive (or --ready); exit 0/1",
        description="Container probes: GET /healthz (or /readyz with --ready) on 127.0.0.1 at the obs port "
        "(TRTLENS_OBS__PORT, or the port written to TRTLENS_OBS__PORT_FILE), with the bearer token from "
        "TRTLENS_OBS__AUTH_TOKEN when set. Exit 0 on 200, 1 otherwise.",
    )
    p.add_argument("--ready", action="store_true", help="readiness (/readyz) instead of liveness (/healthz)")
    p.add_argument("--port", type=int, help="the obs port (default from the settings or their port file)")
    p.add_argument("--timeout-s", type=float, default=2.0)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from trtlens.obs import http_get
    from trtlens.settings import load_settings

    obs = load_settings(args.config).obs
    port = args.port or obs.port
    if not port and obs.port_file and obs.port_file.exists():
        port = int(obs.port_file.read_text().strip() or 0)
    if not port:
        print("health: no obs port: set TRTLENS_OBS__PORT (or --port) to the port the process listens on",
              file=sys.stderr)
        return 1
    path = "/readyz" if args.ready else "/healthz"
    token = obs.auth_token.get_secret_value() if obs.auth_token else None
    try:
        status, body = http_get(f"http://127.0.0.1:{port}{path}", token=token, timeout_s=args.timeout_s)
    except OSError as exc:
        print(f"health: {path} on port {port}: {exc}", file=sys.stderr)
        return 1
    print(f"health: {path} {status} {body.strip()[:200]}")
    return 0 if status == 200 else 1
