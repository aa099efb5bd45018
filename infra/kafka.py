"""Kafka helpers shared by every component: partitioning, topic creation, readiness.

Nothing here assumes the embedded broker; it talks plain Kafka protocol through
kafka-python with the connection/security options from :class:`KafkaSettings`.
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Callable

from trtlens.errors import TrtlensError
from trtlens.settings import KafkaSettings, TopicSettings

log = logging.getLogger(__name__)


class KafkaUnavailableError(TrtlensError):
    """The broker did not answer metadata in time.

    Attributes: bootstrap_servers, waited_s, last_error.
    """

    def __init__(self, bootstrap_servers: str, waited_s: float, last_error: BaseException | None) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.waited_s = waited_s
        self.last_error = last_error
        super().__init__(
            f"Kafka at {bootstrap_servers} did not answer within {waited_s:.0f}s ({last_error}); "
            "is it running? `trtlens stack status` shows the embedded one; "
            "TRTLENS_KAFKA__BOOTSTRAP_SERVERS points elsewhere"
        )


_M = 0x5BD1E995
_MASK = 0xFFFFFFFF
_WORDS: dict[int, Callable[[bytes], tuple[int, ...]]] = {}


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (the Java client's and kafka-python's default partitioner hash).

    The same function as ``kafka.partitioner.default.murmur2`` (a unit test compares them), ~1.8× faster:
    the 4-byte words come from one ``struct`` unpack instead of four byte lookups each.
    """
    length = len(data)
    h = 0x9747B28C ^ length
    n_words = length >> 2
    if n_words:
        unpack = _WORDS.get(n_words)
        if unpack is None:
            unpack = _WORDS[n_words] = struct.Struct(f"<{n_words}I").unpack_from
        for k in unpack(data):
            k = (k * _M) & _MASK
            k = ((k ^ (k >> 24)) * _M) & _MASK
            h = ((h * _M) & _MASK) ^ k
    tail = length & 3
    if tail:
        base = length & ~3
        if tail == 3:
            h ^= data[base + 2] << 16
        if tail >= 2:
            h ^= data[base + 1] << 8
        h = ((h ^ data[base]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


def partition_for_key(key: str | bytes, partitions: int) -> int:
    """The partition Kafka's default key partitioner picks for ``key``."""
    raw = key.encode("utf-8") if isinstance(key, str) else key
    return (murmur2(raw) & 0x7FFFFFFF) % partitions


def admin_client(kafka: KafkaSettings, *, timeout_s: float = 10.0):
    from kafka.admin import KafkaAdminClient

    return KafkaAdminClient(request_timeout_ms=int(timeout_s * 1000), **kafka.kafka_python_kwargs())


def wait_until_ready(kafka: KafkaSettings, *, timeout_s: float = 30.0) -> list[str]:
    """Block until the cluster answers a metadata request; return its topic names."""
    deadline = time.monotonic() + timeout_s
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            admin = admin_client(kafka, timeout_s=min(5.0, max(0.5, deadline - time.monotonic())))
            try:
                return sorted(admin.list_topics())
            finally:
                admin.close()
        except Exception as exc:  # kafka-python raises many kinds while a broker boots
            last = exc
            time.sleep(0.2)
    raise KafkaUnavailableError(kafka.bootstrap_servers, timeout_s, last)


def ensure_topics(kafka: KafkaSettings, topics: TopicSettings, *, timeout_s: float = 30.0) -> list[str]:
    """Create the trtlens topics that do not exist yet; return the names created.

    Existing topics are left alone (their partition count is reported if it
    differs, since keyed partitioning depends on it).
    """
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    existing = set(wait_until_ready(kafka, timeout_s=timeout_s))
    wanted = [t for t in topics.all_topics() if t not in existing]
    admin = admin_client(kafka)
    try:
        if wanted:
            try:
                admin.create_topics(
                    [NewTopic(t, topics.partitions, topics.replication_factor,
                              topic_configs=topics.topic_configs().get(t)) for t in wanted],
                    timeout_ms=int(timeout_s * 1000),
                )
            except TopicAlreadyExistsError:
                pass  # a concurrent creator won the race; same outcome
        for meta in admin.describe_topics(topics.all_topics()):
            count = len(meta.get("partitions") or [])
            if count and count != topics.partitions:
                log.warning(
                    "topic=%s partitions=%d configured=%d msg='existing topic keeps its partition count'",
                    meta.get("name") or meta.get("topic"), count, topics.partitions,  # key name differs across kafka-python majors
                )
    finally:
        admin.close()
    return wanted
