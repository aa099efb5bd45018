"""The general grammar for an application logger's prefix (producers/trtlog/prefix.py): formats no
public log shows, read the same as the bare message, and lines that only look like a prefix left alone."""

from __future__ import annotations

import pytest

from trtlens.producers.trtlog import classify, parse_log

ERR = "2: [virtualMemoryBuffer.cpp::resizePhysical::145] Error Code 2: OutOfMemory (no further information)"


@pytest.mark.parametrize(
    ("raw", "severity", "text"),
    [
        ("[2024-05-01 10:00:00.123] [trt] [warning] msg", "warning", "msg"),  # spdlog
        ("2024-05-01 10:00:00,123 - app.trt - WARNING - msg", "warning", "msg"),  # Python logging's asctime - name - level
        (f"2024-05-01 10:00:00.123 | ERROR    | infer.engine:build:42 - {ERR}", "error", ERR),  # loguru
        ("12:34:56.789 [main] WARN  c.e.Trt - msg", "warning", "msg"),
        ("[W 2024-05-01 10:00:00.123 trt.cpp:42] msg", "warning", "msg"),
        ("E/TensorRT(1234): msg", "error", "msg"),  # Android logcat
        ("2024/05/01 10:00:00 error: msg", "error", "msg"),
        ("ERROR msg", "error", "msg"),
    ],
)  # fmt: skip
def test_application_prefixes_give_the_bare_message(raw: str, severity: str, text: str) -> None:
    line = classify(raw)
    assert (line.family, line.severity, line.text) == ("app", severity, text)


@pytest.mark.parametrize(
    ("raw", "family", "severity", "text"),
    [
        ("2024-05-01T10:00:00Z ERROR [TRT] 1: msg", "python", "error", "1: msg"),  # TensorRT's tag after the prefix
        ("2024-05-01 10:00:00 INFO [TRT] [W] msg", "python", "warning", "msg"),  # TensorRT's severity wins
        ("myapp[1234]: ERROR: [TRT] 3: msg", "deepstream", "error", "3: msg"),  # syslog program[pid]
        ("Jan 01 10:00:00 host myapp[1234]: [TRT] [E] 3: msg", "python", "error", "3: msg"),
        ("[INFO] 10:00:00 trt_logger.cpp:42 msg", "trtexec", "info", "trt_logger.cpp:42 msg"),  # a file after a known severity stays
        ("[MemUsageChange] Init CUDA: CPU +0, GPU +0", "plain", None, "[MemUsageChange] Init CUDA: CPU +0, GPU +0"),
        ("Error: something", "plain", None, "Error: something"),
        ("- 131 weights are affected", "plain", None, "- 131 weights are affected"),
        ("3: [runtime.cpp::parsePlan::314] Error Code 1: Serialization", "plain", None,
         "3: [runtime.cpp::parsePlan::314] Error Code 1: Serialization"),
    ],
)  # fmt: skip
def test_known_tags_after_a_prefix_and_lookalikes(raw: str, family: str, severity: str | None, text: str) -> None:
    line = classify(raw)
    assert (line.family, line.severity, line.text) == (family, severity, text)


def test_an_application_logged_trt_error_is_one_coded_diagnostic() -> None:
    b = parse_log([f"2024-05-01 10:00:00.123 | ERROR    | infer.engine:build:42 - {ERR}"], now_ms=1).build
    assert [(d.severity, d.code, d.source, d.category) for d in b.diagnostics] == [
        ("error", "2", "virtualMemoryBuffer.cpp:145", "OutOfMemory")
    ]
    assert b.status == "failed"


def test_round_g_families_in_forms_the_logs_do_not_show() -> None:
    b = parse_log(
        [
            "[my_node-2] [E] [TRT] 3: [executionContext.cpp::enqueueV3::2666] Error Code 3: API Usage Error (x)",  # launcher prefix
            "03/04 11:12:13 - mmengine - WARNING - a yearless stamp",
            "[libfoo WARNING C:\\src\\" + "x" * 120 + "\\io.cc:7] a long bracketed prefix",
            "Assertion failed: ctx != nullptr, file C:\\src\\infer.cpp, line 9",  # MSVC assert()
            "[TRT] [E] 4: [runtime.cpp::deserializeCudaEngine::50] Error Code 4: Internal Error (Engine deserialization failed.)",
            "app: /src/app.cpp:12: void App::init(): Assertion `engine' failed.",  # its own error, not a continuation
        ],
        now_ms=1,
    ).build
    got = sorted(((d.severity, d.code, d.source) for d in b.diagnostics), key=repr)
    want = [
            ("error", "3", "executionContext.cpp:2666"),
            ("warning", None, None),
            ("warning", None, "io.cc:7"),  # the severity's own bracket names its call site
            ("error", None, "infer.cpp:9"),
            ("error", "4", "runtime.cpp:50"),
            ("error", None, "app.cpp:12"),
    ]
    assert got == sorted(want, key=repr)


@pytest.mark.parametrize(
    ("raw", "family", "severity", "text"),
    [
        ("W20240501 10:00:00.123456 1234 model_state.cc:12] msg", "triton", "warning", "msg"),  # glog with the year
        ("root:WARNING:msg", "app", "warning", "msg"),  # Python logging's "%(name)s:%(levelname)s:%(message)s"
        ("app.trt:ERROR:msg", "app", "error", "msg"),
        ("| INFO | a table cell |", "plain", None, "| INFO | a table cell |"),  # a Markdown table row, not a message
        ("| WARNING | 3 |", "plain", None, "| WARNING | 3 |"),
    ],
)  # fmt: skip
def test_glog_year_name_first_pylog_and_table_rows(raw: str, family: str, severity: str | None, text: str) -> None:
    line = classify(raw)
    assert (line.family, line.severity, line.text) == (family, severity, text)


def test_glog_with_the_year_gives_the_stamp() -> None:
    assert classify("E20240501 10:00:00.5 7 f.cc:1] x").ts_ms == 1714557600000


@pytest.mark.parametrize(
    ("raw", "severity", "source", "text"),
    [
        ("[W shape_type_inference.cpp:1968] Warning: msg (function F)", "warning", "shape_type_inference.cpp:1968",
         "Warning: msg (function F)"),  # PyTorch's c10 logger: the severity and the call site in one bracket
        ("[W1007 14:33:11.614000000 ProcessGroupNCCL.cpp:1168] Warning: msg", "warning", "ProcessGroupNCCL.cpp:1168", "Warning: msg"),
        ("[E /src/torch/csrc/init.cpp:12] msg", "error", "init.cpp:12", "msg"),
        ("[libprotobuf ERROR google/protobuf/text_format.cc:298] msg", "error", "text_format.cc:298", "msg"),  # a library's name first
        ("[libprotobuf WARNING E:\\a\\coded_stream.cc:604] msg", "warning", "coded_stream.cc:604", "msg"),
        ("[W 2024-05-01 10:00:00.123 trt.cpp:42] msg", "warning", "trt.cpp:42", "msg"),
    ],
)  # fmt: skip
def test_severity_with_its_call_site_in_one_bracket(raw: str, severity: str, source: str, text: str) -> None:
    line = classify(raw)
    assert (line.family, line.severity, line.own_source, line.text) == ("app", severity, source, text)
    assert [(d.severity, d.source) for d in parse_log([raw], now_ms=1).build.diagnostics] == [(severity, source)]
