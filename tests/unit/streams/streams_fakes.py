"""Fakes shared by the streams agents' unit tests: a fetched message and the state table (no Faust, no Kafka)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Msg:
    partition: int
    offset: int
    key: bytes | None
    value: bytes


class FakeTable:
    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}

    @staticmethod
    def key(partition, name):
        return b"%05d:" % partition + name

    def items_for(self, partition):
        prefix = b"%05d:" % partition
        return [(k, v) for k, v in self.data.items() if k.startswith(prefix)]

    def put(self, partition, key, value):
        self.data[key] = value

    def delete(self, partition, key):
        self.data.pop(key, None)
