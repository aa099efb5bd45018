import ctypes

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trtlens.kafka import murmur2, partition_for_key

# Test vectors of org.apache.kafka.common.utils.UtilsTest#testMurmur2 (signed 32-bit results)
JAVA_MURMUR2 = [
    ("21", -973932308),
    ("foobar", -790332482),
    ("a-little-bit-long-string", -985981536),
    ("a-little-bit-longer-string", -1486304829),
    ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    ("abc", 479470107),
]


@pytest.mark.parametrize(("key", "expected"), JAVA_MURMUR2)
def test_murmur2_matches_the_java_client(key, expected):
    assert ctypes.c_int32(murmur2(key.encode())).value == expected


@pytest.mark.parametrize(("key", "expected"), JAVA_MURMUR2)
@pytest.mark.parametrize("partitions", [1, 3, 12])
def test_partition_is_to_positive_modulo(key, expected, partitions):
    # Java: Utils.toPositive(murmur2(key)) % numPartitions
    assert partition_for_key(key, partitions) == (expected & 0x7FFFFFFF) % partitions
    assert partition_for_key(key.encode(), partitions) == partition_for_key(key, partitions)


def test_partition_spreads_keys_and_is_stable():
    got = [partition_for_key(f"r{i}", 7) for i in range(1000)]
    assert set(got) == set(range(7))
    assert got == [partition_for_key(f"r{i}", 7) for i in range(1000)]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_murmur2_is_kafka_pythons(data):
    from kafka.partitioner.default import murmur2 as kafka_python_murmur2

    assert murmur2(data) == kafka_python_murmur2(data)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=24), max_size=300),
       st.lists(st.sampled_from([b"", b"a", b"ab", b"abc", b"abcd", b"req-00000000"]), max_size=80))
def test_murmur2_many_is_murmur2_key_by_key(keys, repeated):
    # the repeated lengths push groups past the vector threshold; the others mostly stay scalar
    from trtlens.kafka import murmur2_many

    batch = keys + [r + bytes([i % 256]) for i, r in enumerate(repeated)] + [f"r{i:05d}".encode() for i in range(64)]
    assert murmur2_many(batch) == [murmur2(k) for k in batch]


def test_partitions_for_keys_is_partition_for_key_of_each():
    from trtlens.kafka import partitions_for_keys

    keys = [f"req-{i}" for i in range(500)] + ["é-ünicode", "", "21"]
    assert partitions_for_keys(keys, 7) == [partition_for_key(k, 7) for k in keys]
