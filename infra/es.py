"""Elasticsearch client factory used by all trtlens code (sync and async).

The 8.x client sends compatibility media types
(``application/vnd.elasticsearch+json; compatible-with=8``). The embedded
OpenSearch-compatible store rejects them with 406; real Elasticsearch accepts
plain ``application/json`` and ``application/x-ndjson`` just as well. So the
node classes below rewrite those two headers and change nothing else.
"""

from __future__ import annotations

from typing import Any

from elastic_transport import AiohttpHttpNode, Urllib3HttpNode

from trtlens.settings import ElasticsearchSettings

_PLAIN = {
    "application/vnd.elasticsearch+json": "application/json",
    "application/vnd.elasticsearch+x-ndjson": "application/x-ndjson",
}


def plain_media_types(headers: Any) -> Any:
    """Return headers with compatibility media types replaced by their plain forms."""
    if not headers:
        return headers
    out = headers.copy()
    for name in ("accept", "content-type"):
        value = out.get(name)
        if value:
            base = value.split(";", 1)[0].strip()
            if base in _PLAIN:
                out[name] = _PLAIN[base]
    return out


class PlainJsonUrllib3Node(Urllib3HttpNode):
    """Sync node that sends plain JSON media types."""

    def perform_request(self, method, target, body=None, headers=None, request_timeout=None):  # type: ignore[override]
        return super().perform_request(method, target, body, plain_media_types(headers), request_timeout)


class PlainJsonAiohttpNode(AiohttpHttpNode):
    """Async node that sends plain JSON media types."""

    async def perform_request(self, method, target, body=None, headers=None, request_timeout=None):  # type: ignore[override]
        return await super().perform_request(method, target, body, plain_media_types(headers), request_timeout)


def _client_kwargs(es: ElasticsearchSettings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "hosts": [u.strip() for u in es.url.split(",")],
        "request_timeout": es.request_timeout_s,
        "verify_certs": es.verify_certs,
        "max_retries": 0,  # callers own retry policy (backoff, backpressure)
        "retry_on_timeout": False,
    }
    if es.ca_certs:
        kwargs["ca_certs"] = str(es.ca_certs)
    if es.api_key:
        kwargs["api_key"] = es.api_key.get_secret_value()
    elif es.username:
        kwargs["basic_auth"] = (es.username, es.password.get_secret_value() if es.password else "")
    return kwargs


def es_client(es: ElasticsearchSettings, **overrides: Any):
    """A sync :class:`elasticsearch.Elasticsearch` for the configured cluster."""
    from elasticsearch import Elasticsearch

    return Elasticsearch(node_class=PlainJsonUrllib3Node, **{**_client_kwargs(es), **overrides})


def async_es_client(es: ElasticsearchSettings, **overrides: Any):
    """An :class:`elasticsearch.AsyncElasticsearch` for the configured cluster."""
    from elasticsearch import AsyncElasticsearch

    return AsyncElasticsearch(node_class=PlainJsonAiohttpNode, **{**_client_kwargs(es), **overrides})
