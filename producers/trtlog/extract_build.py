"""Builder facts: fusions, removals, layer counts, phase times, versions, outcome,
enabled precisions, tactic timings. (Fallbacks: :mod:`extract_fallbacks`.)"""

from __future__ import annotations

import re
import shlex

from trtlens.producers.trtlog.classify import Line
from trtlens.producers.trtlog.state import ParseState
from trtlens.producers.trtlog.units import NUM, decode_version_tag, to_float
from trtlens.schemas.events import Fusion, TacticTiming

FUSING = re.compile(
    r"^(?:(?P<kind>[A-Za-z][\w]*)\s*:\s*)?Fusing\s+(?:(?:convolution|deconvolution|fully connected) weights from\s+)?"
    r"(?P<a>.+?)\s+with\s+(?:scale\s+)?(?P<b>.+?)\s*$"
)  # TRT 6/7 "Fusing convolution weights from conv1 with scale bn1"
FUSING_INTO = re.compile(r"^(?P<kind>[A-Za-z]\w*)\s*:\s*fusing\s+(?P<a>.+?)\s+into\s+(?P<b>.+?)\s*$")  # TRT 8 Q/DQ passes
SEED_FUSION = re.compile(r"^\[Fusion\]\s+(?P<layers>.+?)\s*(?:-+>|→|-)\s*(?P<result>[^\s,]+)\s*$")
REMOVING = re.compile(r"^(?:Removing|Eliminating (?:concatenation|slice|redundant \w+))\s+(?P<name>.+?)\s*$")
LAYER_COUNT = re.compile(r"^(?:After\b[^:]*|Original)\s*:\s*(?P<n>\d+)\s+layers?\b", re.I)
PHASES = [
    (re.compile(rf"Graph construction and optimization completed in ({NUM})\s*s", re.I), "graph_optimization", 1000.0),
    (re.compile(rf"Graph construction completed in ({NUM})\s*s", re.I), "graph_construction", 1000.0),
    (re.compile(rf"Graph optimization time:\s*({NUM})\s*s", re.I), "graph_optimization", 1000.0),
    (re.compile(rf"Formats and tactics selection completed in ({NUM})\s*s", re.I), "tactic_selection", 1000.0),
    (re.compile(rf"Engine generation completed in ({NUM})\s*s", re.I), "engine_generation", 1000.0),
    (re.compile(rf"(?:Engine built|built engine) in ({NUM})\s*s", re.I), "engine_built", 1000.0),  # jetson-voice lower-case
    (re.compile(rf"Finished engine building in ({NUM})\s*s", re.I), "engine_built", 1000.0),
    (re.compile(rf"Engine (?:deserialized|loaded) in ({NUM})\s*s", re.I), "engine_deserialize", 1000.0),
    (re.compile(rf"Engine load time:?\s*({NUM})\s*ms", re.I), "engine_deserialize", 1.0),  # TensorRT-LLM runtime
    (re.compile(rf"Deserialization required ({NUM})\s*microseconds", re.I), "engine_deserialize", 0.001),  # TRT 8.6+ verbose
    (re.compile(rf"Build TRT engine elapsed time:\s*(\d+:\d+:{NUM})"), "engine_built", None),
    (re.compile(rf"TRT INetwork construction elapsed time:\s*(\d+:\d+:{NUM})"), "graph_construction", None),
    (re.compile(r"Total time of building all(?: \d+)? engines:\s*(\d+:\d+:\d+(?:\.\d+)?)", re.I), "build_total", None),
    (re.compile(rf"Calibration completed in ({NUM})\s*s", re.I), "calibration", 1000.0),
    (re.compile(rf"Finished parsing network model\. Parse time:\s*({NUM})"), "onnx_parse", 1000.0),
]
VERSION = [
    re.compile(r"TensorRT(?:\s+library)?\s+version\s*[:=]?\s*v?(\d+\.\d+(?:\.\d+){0,2})", re.I),
    re.compile(r"Module:\s*tensorrt\s*\|\s*Version:\s*(\d+\.\d+(?:\.\d+){0,2})", re.I),
    # a tool naming the release it uses: "starting export with TensorRT 10.6.0.post1...", "TensorRT v8.6.1" (never TensorRT-LLM's)
    re.compile(r"(?<![\w-])TensorRT\s+v?(\d+\.\d+\.\d+)(?:\.\d+)?(?:\.post\d+)?(?![\w-])"),
    # an application refusing an engine from another release names the one it runs: "TensorRT model exported with a
    # different version than 10.11.0.33" (Ultralytics)
    re.compile(r"\bTensorRT\b.*?\bdifferent version than v?(\d+\.\d+(?:\.\d+){0,2})\b"),
]
# trtexec 8.0 prints the release as the library's integer, NV_TENSORRT_VERSION: "TensorRT version: 8001" (8.0.1)
VERSION_NUMBER = re.compile(r"^TensorRT version:\s*(\d{4}|\d{6})\s*$")
STATUS = re.compile(r"&&&&\s+(RUNNING|PASSED|FAILED|WAIVED)\s+\S+(?:\s+\[TensorRT v(\d+)\])?(?:\s+\[b\d+\])?(?:\s*#\s*(.*))?")
FAILED = re.compile(
    r"engine (?:building|set up|setup|creation|deserialization) failed|could not deserialize (?:the )?(?:tensorrt |cuda )?engine|"
    r"failure (?:creating|building) (?:the )?(?:tensorrt |cuda )?engine|"
    r"failed to (?:parse onnx|create (?:the )?engine|build (?:the )?(?:serialized network|engine))|parsing model failed|"
    r"unable to (?:create|build) (?:the )?engine|network validation failed",
    re.I,
)
BUILT = re.compile(
    r"Engine (?:generation completed|built in)|Finished engine building|Serialized engine|Saving engine to|"
    r"serialize cuda engine to file: .* successfully",
    re.I,
)
LOADED = re.compile(r"Loaded engine size|Engine deserialized in|=== Performance summary ===|=== Profile \(", re.I)
COMMAND = re.compile(
    r"(?:^|[#$>%\u276f\u00bb]\s+)(?P<cmd>(?:\S*/)?(?:(?:trtexec|tritonserver|trtllm-build)\s+-|"
    r"polygraphy\s+(?:run|convert|inspect|surgeon|debug|check|data)\s).*?)\s*$"
)
# a command the shell continues over lines ("trtexec \\" then ">   --onnx=./x.onnx \\", the shell's "> " prompt or an
# indent in front of each next line): read once, whole, where its last line (no backslash) ends it
COMMAND_OPEN = re.compile(
    r"(?:^|[#$>%\u276f\u00bb]\s+)(?P<cmd>(?:\S*/)?(?:trtexec|tritonserver|trtllm-build|"
    r"polygraphy\s+(?:run|convert|inspect|surgeon|debug|check|data))(?:\s.*?)?)\s*\\$"
)
# Polygraphy's last line names the command it ran: "[E] FAILED | Runtime: 464.396s | Command: /usr/bin/polygraphy run x.onnx --trt"
POLYGRAPHY_RESULT = re.compile(r"\|\s*Command:\s+(?P<cmd>(?:\S*/)?polygraphy\s+\w.*?)\s*$")
CONTINUED_PROMPT = re.compile(r"^>(?:\s+|$)")
MAX_COMMAND_LINES = 40
FACTS = [  # (needle that must be in the line, pattern, fact keys)
    ("Detected", re.compile(r"Detected (\d+) inputs? and (\d+) output network tensors"), ("network_inputs", "network_outputs")),
    ("aux streams", re.compile(r"Number of aux streams is (\d+)"), ("aux_streams",)),
    ("auxiliary", re.compile(r"engine uses (\d+) auxiliary streams"), ("aux_streams",)),
    ("expecting", re.compile(r"expecting (?:library version )?(\d+(?:\.\d+)+) ?got (-?[\d.]+)"), ("expected_trt_version", "found_trt_version")),
    ("Current Version", re.compile(r"Current Version:\s*(\d+),\s*Serialized Engine Version:\s*(\d+)"),
     ("runtime_serialization_version", "engine_serialization_version")),
    ("Selected Device", re.compile(r"Selected Device:\s*(.+?)\s*$"), ("device",)),
    ("TensorRT-LLM version", re.compile(r"TensorRT-LLM version:?\s*(v?\d+(?:\.\w+)+)"), ("trtllm_version",)),  # "0.8.0[03/22/..." glued
    ("Engine version", re.compile(r"Engine version (\S+) found in the config file"), ("trtllm_version",)),
    ("oading", re.compile(r"Loading (?:TensorRT )?engine(?: from| file)?:?\s+['\"`]?([^\s'\"`]+\.(?:engine|plan|trt))\b", re.I), ("engine_path",)),
    ("Loading", re.compile(r"^Loading (\S+\.(?:engine|plan|trt))\b"), ("engine_path",)),
    ("aving", re.compile(r"Saving engine to:?\s*(\S+)", re.I), ("engine_path",)),
    ("Config saved", re.compile(r"Config saved to (\S+?)\.?$"), ("config_path",)),
    ("expecting compute", re.compile(r"expecting compute ([\d.]+) got compute ([\d.]+)"), ("expected_compute_capability", "found_compute_capability")),
]  # fmt: skip
# any other line about an engine that names its file: "Deserialize engine failed from file: /x/yolov5.engine",
# "load engine from file: x.trt", "serialize cuda engine to file: x.engine successfully"
ENGINE_CONTEXT = re.compile(r"engine|load|sav|writ|read|serializ|open", re.I)
# the model an application loads: "Loading ONNX file from path yolov3-416.onnx...", "Could not open file ../w/x.onnx"
# (or the weights a network built with the API reads: tensorrtx's "Loading weights: ./DBNet2.wts")
# also "Input filename:   x.onnx", "Building TensorRT engine for x.onnx" (the word, not a tool's name: "./buildEngine -i x.onnx"),
# and a script's model flag on a command line, its value after a blank: "    --onnx ./x.onnx \\", or a call given the model
# file as a quoted argument (a traceback's code line: "sess = onnxruntime.InferenceSession(\"./de.onnx\")")
# or jetson-inference's network summary: "          -- model        networks/x/snapshot_iter_38600.caffemodel"
# (jetson-voice's builder configuration lists it with one dash: "  - model     /data/x/x.onnx")
MODEL_CONTEXT = re.compile(
    r"load|open|pars|from|read|input|file|\bbuild(?:ing)?\b|(?<!\S)--(?:onnx|model|uff|deploy)[ \t]|^--? model[ \t]"
    r"|\w\(\s*[\"'][^\"']+\.(?:onnx|uff)[\"']|\bcaffemodel\s*[:=]",  # ... or an argument dump's "caffemodel=./x.caffemodel;"
    re.I,
)
MODEL_FILE = re.compile(r"(?<![\w=-])((?:[A-Za-z]:)?[^\s:'\"=]*?[\w-]+\.(?:onnx|uff|caffemodel|etlt|prototxt|wts))(?![\w-])(?!\.\w)")
YOLO_WEIGHTS = re.compile(r"^Loading weights of ([\w.-]+) complete\s*$")
ENGINE_FILE = re.compile(r"(?<![\w=-])((?:[A-Za-z]:)?[^\s:'\"=]*?[\w-]+\.(?:engine|plan|trt))(?![\w-])(?!\.\w)")
TIMING_RUNNER = re.compile(r"Timing Runner:\s*(?P<layer>.+?)\s*\((?P<runner>[^()]*)\)\s*$")
TACTIC = re.compile(
    rf"^(?:Tactic Name:\s*(?P<name>\S+)\s+)?Tactic(?::\s*|\s+)(?P<tactic>-?(?:0x)?[0-9a-fA-F]+)\s*"
    rf"(?:[Tt]ime:?\s*(?P<time>{NUM})|(?P<skipped>skipped|is not a valid|scratch requested))?"
)  # TensorRT 5 has no colon: "Tactic 313790760974845026 time 8.02246", "Tactic 2 scratch requested: N, available: M"
OLD_TIMING = re.compile(r"^-{3,}\s*Timing\s+(?P<layer>\S.*?)\((?P<runner>\d+)\)\s*$"
)
FASTEST = re.compile(rf"Fastest Tactic:\s*(?P<tactic>-?(?:0x)?[0-9a-fA-F]+)\s+Time:\s*(?P<time>{NUM})")
SET_TACTIC = re.compile(r"^(?P<layer>.+?)\s+\((?P<runner>[^()]+)\)\s+Set Tactic Name:\s*(?P<name>\S+)(?:\s+Tactic:\s*(?P<tactic>\S+))?")
SKIP_TACTIC = re.compile(r"Skipping tactic\s+(?P<n>\S+)\s+due to (?P<why>.+?)(?:\s+detected for tactic\s+(?P<tactic>\S+?))?\.?$")
def _seconds(value: str, scale: float | None) -> float | None:
    if scale is not None:
        number = to_float(value)
        return None if number is None else number * scale
    parts = value.split(":")
    try:
        h, m, s = (float(p) for p in parts[-3:]) if len(parts) >= 3 else (0.0, float(parts[0]), float(parts[1]))
    except ValueError:
        return None
    return (h * 3600 + m * 60 + s) * 1000.0


def apply_command(st: ParseState, command: str) -> None:
    st.facts.setdefault("command", command[: st.limits.message_chars])
    try:
        argv = shlex.split(command)
    except ValueError:
        argv = command.split()
    for flag, nxt in zip(argv, argv[1:]):
        if flag in ("--output", "-o") and nxt.endswith((".engine", ".plan", ".trt")):
            st.facts.setdefault("engine_path", nxt)
    flags = {"--fp16": ["fp16"], "--int8": ["int8"], "--bf16": ["bf16"], "--fp8": ["fp8"], "--best": ["fp16", "int8"]}
    for arg in argv:
        key, _, value = arg.partition("=")
        for p in flags.get(key, []):
            st.add_name("precisions", st.precisions, p)
        if key in ("--saveEngine", "--loadEngine") and value:
            st.facts.setdefault("engine_path", value)
        elif key in ("--output", "-o") and value.endswith((".engine", ".plan", ".trt")):
            st.facts.setdefault("engine_path", value)  # polygraphy convert --output=x.plan
        elif not arg.startswith("-") and MODEL_FILE.fullmatch(arg):
            st.facts.setdefault("model_path", arg)  # polygraphy's positional model
        elif key in ("--onnx", "--uff", "--model", "--deploy") and value:
            st.facts.setdefault("model_path", value)
        elif key == "--useDLACore" and value:
            st.facts["dla_core"] = value
        elif key == "--stronglyTyped":
            st.facts["strongly_typed"] = True


def extract(line: Line, st: ParseState) -> bool:  # noqa: C901 - a flat dispatch over patterns
    text = line.text
    if not text:
        flush(st)  # a blank line ends a continued command its backslash left open
        return False
    if line.family == "status" and (m := STATUS.match(text)):
        st.mark({"PASSED": "passed", "FAILED": "failed", "WAIVED": "passed"}.get(m.group(1), "running"))
        if m.group(2):
            st.trt_version = st.trt_version or decode_version_tag(m.group(2))
        if m.group(3):
            apply_command(st, m.group(3).strip())
        return True
    hit = False
    if st.command_parts is not None and line.family == "plain":
        part = CONTINUED_PROMPT.sub("", text).strip()
        st.command_parts.append(part.removesuffix("\\").strip())
        if not part.endswith("\\") or len(st.command_parts) >= MAX_COMMAND_LINES:
            flush(st)
        return True
    if line.family == "plain" and (m := COMMAND_OPEN.search(text)):
        flush(st)
        st.command_parts = [m.group("cmd").strip()]
        return True
    if line.family == "plain" and (m := COMMAND.search(text)):
        apply_command(st, m.group("cmd"))
        return True
    if "Command:" in text and (m := POLYGRAPHY_RESULT.search(text)):
        apply_command(st, m.group("cmd"))
        hit = True
    if ("Fusing" in text or "fusing" in text) and (m := FUSING.match(text) or FUSING_INTO.match(text)):
        if st.cap("fusions", st.fusions, st.limits.fusions):
            a, b = m.group("a"), m.group("b")
            st.fusions.append(Fusion(kind=m.group("kind"), layers=[a, b], result=f"{a} + {b}"))
        return True
    if text.startswith("[Fusion]") and (m := SEED_FUSION.match(text)):
        layers = [p for p in re.split(r"[\s,+]+", m.group("layers")) if p]
        if st.cap("fusions", st.fusions, st.limits.fusions):
            st.fusions.append(Fusion(kind=None, layers=layers, result=m.group("result")))
        return True
    if m := REMOVING.match(text):
        name = m.group("name")
        if name not in st.removed_layers and st.cap("removed_layers", st.removed_layers, st.limits.removed_layers):
            st.removed_layers.append(name)
        return True
    if "layer" in text and (m := LAYER_COUNT.match(text)):
        st.layer_counts.append(int(m.group("n")))
        return True
    if "actic" in text or "Timing" in text:
        if _tactics(text, st):
            return True
    if " in " in text or "time" in text or "required" in text:  # "... in N seconds", "... time: N", "... required N microseconds"
        for pattern, key, scale in PHASES:
            if m := pattern.search(text):
                if (ms := _seconds(m.group(1), scale)) is not None:
                    st.phase_times_ms[key] = ms
                hit = True
                break
    if st.trt_version is None and "ersion: " in text and (m := VERSION_NUMBER.match(text)):
        st.trt_version = decode_version_tag(m.group(1))  # trtexec 8.0's "TensorRT version: 8001"
        hit = True
    if st.trt_version is None and ("ersion" in text or "TensorRT " in text):
        for pattern in VERSION:
            if m := pattern.search(text):
                st.trt_version = m.group(1)
                hit = True
    low = text.lower()
    if ("fail" in low or "unable" in low or "could not" in low) and FAILED.search(text):  # "failure" contains "fail"
        st.mark("failed_step")
        hit = True
    elif ("engine" in low or "===" in text) and BUILT.search(text):
        st.mark("built")
        hit = True
    elif ("engine" in low or "===" in text) and LOADED.search(text):
        st.mark("loaded")
        hit = True
    for needle, pattern, keys in FACTS:
        if needle in text and (m := pattern.search(text)):
            for key, value in zip(keys, m.groups()):
                st.facts.setdefault(key, int(value) if value.isdigit() else value)
            hit = True
    if "model_path" not in st.facts and (".onnx" in low or ".uff" in low or ".caffemodel" in low or ".etlt" in low or ".wts" in low):
        if MODEL_CONTEXT.search(text) and (found := [m.group(1) for m in MODEL_FILE.finditer(text)]):
            # a Caffe model is named by its weights, not its network description: "loading x.prototxt bvlc_x.caffemodel"
            st.facts["model_path"] = next((f for f in found if not f.endswith(".prototxt")), found[0])
            hit = True
    # DeepStream-Yolo names the network it builds by its config's name, not a file: "Loading weights of yolov4 complete"
    if "model_path" not in st.facts and text.startswith("Loading weights of ") and (m := YOLO_WEIGHTS.match(text)):
        st.facts["model_path"] = m.group(1)
        hit = True
    if "engine_path" not in st.facts and (".engine" in low or ".plan" in low or ".trt" in low):
        if ENGINE_CONTEXT.search(text) and (m := ENGINE_FILE.search(text)):
            st.facts["engine_path"] = m.group(1)
            hit = True
    return hit


def _tactics(text: str, st: ParseState) -> bool:
    if m := TIMING_RUNNER.search(text) or OLD_TIMING.match(text):
        st.tactic_runner = (m.group("layer"), m.group("runner"))
        return True
    layer, runner = st.tactic_runner
    timing: TacticTiming | None = None
    if m := FASTEST.search(text):
        timing = TacticTiming(layer=layer, runner=runner, tactic=m.group("tactic"), time_ms=to_float(m.group("time")), fastest=True)
    elif m := TACTIC.match(text):
        timing = TacticTiming(
            layer=layer, runner=runner, tactic=m.group("tactic"), name=m.group("name"),
            time_ms=to_float(m.group("time")), skipped=bool(m.group("skipped")),
        )  # fmt: skip
    elif m := SET_TACTIC.match(text):
        timing = TacticTiming(layer=m.group("layer"), runner=m.group("runner"), name=m.group("name"), tactic=m.group("tactic"), fastest=True)
    elif m := SKIP_TACTIC.search(text):
        timing = TacticTiming(layer=layer, runner=runner, tactic=m.group("tactic") or m.group("n"), skipped=True)
        st.facts["skipped_tactics"] = int(st.facts.get("skipped_tactics", 0)) + 1
    if timing is None:
        return False
    st.facts["tactic_timings_total"] = int(st.facts.get("tactic_timings_total", 0)) + 1
    if st.cap("tactic_timings", st.tactics, st.limits.tactic_timings):
        st.tactics.append(timing)
    return True


def flush(st: ParseState) -> None:
    """A continued command whose last line has come (or the log ended, or a blank line broke it)."""
    if st.command_parts is not None:
        parts, st.command_parts = st.command_parts, None
        apply_command(st, " ".join(p for p in parts if p))
