"""Grey-box TensorRT log parser: build logs, trtexec output, layer profiles → events.

    from trtlens.producers.trtlog import parse_log
    result = parse_log("build.log")          # or an iterable of lines
    result.build        # EngineBuild event (fusions, precisions, memory, perf, diagnostics, ...)
    result.profile      # LayerProfile events (trtexec --dumpProfile / --exportProfile)
    result.stats        # ParseStats: lines, recognised, extracted, unparsed, families
"""

from trtlens.producers.trtlog.classify import Line, classify
from trtlens.producers.trtlog.parse import ParseResult, ParseStats, TrtlogInputError, parse_log
from trtlens.producers.trtlog.state import Limits

__all__ = ["Limits", "Line", "ParseResult", "ParseStats", "TrtlogInputError", "classify", "parse_log"]
