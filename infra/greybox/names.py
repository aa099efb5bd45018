"""Layer names → the original layers they hold and the op type of each.

TensorRT names an engine layer after what it fused: ``a + b + c`` (one kernel
for three network layers), ``PWN(a, b)`` (a pointwise kernel), ``{ForeignNode[a...b]}``
(a Myelin region from ``a`` to ``b``), ``x_myl3_1`` (a Myelin kernel made from ``x``),
``Reformatting CopyNode for Input Tensor 0 to X`` (a copy TensorRT inserted).
:func:`walk` takes such a name apart (and puts it back together, which is how
redaction keeps the structure); :func:`op_type` guesses the op type of one
original layer from its name.

Op types come from a fixed vocabulary (:data:`ALIASES`), case-insensitive,
in this order: a redacted name's type tag (``h:1a2b..:Conv``), an
``(Unnamed Layer* N) [Convolution]`` bracket, the last path segment read as
ONNX ``Type_N`` / ``Type-N`` / ``p2o.Type.N``, then the last known word of the
segment (``vgg0_conv3_fwd`` → Conv, ``res_conv1_bn_1`` → BatchNormalization; words
before ``before``/``after``/``of``/``to``/``for`` win: ``reshape_before_MatMul-9`` →
Reshape). A name with no known word has no type (``prob``, ``3x3_reduce``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

ALIASES: dict[str, tuple[str, ...]] = {
    "Conv": ("conv", "conv1d", "conv2d", "conv3d", "convolution", "cudnnconvolution", "caskconvolution", "caskgemmconvolution"),
    "ConvTranspose": ("convtranspose", "deconv", "deconvolution", "conv2dtranspose", "convtranspose2d", "caskdeconvolution"),
    "BatchNormalization": ("batchnormalization", "batchnorm", "batchnorm2d", "bn", "fusedbatchnorm", "fusedbatchnormv3"),
    "Scale": ("scale",),
    "Relu": ("relu", "relu6"),
    "LeakyRelu": ("leakyrelu", "lrelu"),
    "PRelu": ("prelu",),
    "Sigmoid": ("sigmoid", "hardsigmoid"),
    "Tanh": ("tanh",),
    "Gelu": ("gelu",),
    "Silu": ("silu", "swish", "hardswish"),
    "Clip": ("clip",),
    "Activation": ("activation", "act"),
    "Softmax": ("softmax",),
    "LogSoftmax": ("logsoftmax",),
    "ArgMax": ("argmax",),
    "TopK": ("topk",),
    "Gemm": ("gemm", "linear", "dense", "fc", "innerproduct", "fullyconnected", "addmm", "cublasconvolution"),
    "MatMul": ("matmul", "bmm", "batchmatmul", "batchmatmulv2", "einsum", "matrixmultiply"),
    "Attention": ("attention", "attn", "mha", "multiheadattention", "multiheadattn", "selfattention"),
    "Add": ("add",),
    "Sub": ("sub",),
    "Mul": ("mul",),
    "Div": ("div",),
    "Pow": ("pow",),
    "Sqrt": ("sqrt",),
    "Exp": ("exp",),
    "Erf": ("erf",),
    "ElementWise": ("elementwise", "eltwise", "elt"),
    "Pointwise": ("pointwise", "pointwisev2", "pwn"),
    "Pool": ("pool", "pooling", "pool2d", "maxpool", "maxpool2d", "averagepool", "avgpool", "avgpool2d",
             "globalaveragepool", "globalavgpool", "adaptiveavgpool2d", "tiledpooling", "caskpooling"),
    "LayerNormalization": ("layernormalization", "layernorm"),
    "InstanceNormalization": ("instancenormalization", "instancenorm"),
    "GroupNormalization": ("groupnormalization", "groupnorm"),
    "Resize": ("resize", "upsample", "interpolate"),
    "Pad": ("pad", "padding"),
    "Reshape": ("reshape", "view", "flatten"),
    "Transpose": ("transpose", "permute"),
    "Shuffle": ("shuffle", "broadcast"),
    "Concat": ("concat", "concatenation", "cat"),
    "Slice": ("slice", "split"),
    "Gather": ("gather",),
    "Cast": ("cast",),
    "Constant": ("constant", "const", "bias", "weight", "weights"),
    "Squeeze": ("squeeze",),
    "Unsqueeze": ("unsqueeze",),
    "Identity": ("identity",),
    "Shape": ("shape",),
    "Assertion": ("assertion",),
    "Fill": ("fill",),
    "Reformat": ("reformat", "reformatting"),
    "NoOp": ("noop",),
    "ReduceMean": ("reducemean",),
    "ReduceSum": ("reducesum",),
    "LSTM": ("lstm",),
    "GRU": ("gru",),
    "Embedding": ("embedding",),
    "ForeignNode": ("foreignnode", "myelin"),
    "Plugin": ("plugin", "pluginv2", "pluginv3"),
}  # fmt: skip
_LOOKUP = {alias: canonical for canonical, aliases in ALIASES.items() for alias in aliases}
_LOOKUP.update({canonical.lower(): canonical for canonical in ALIASES})
# op types whose kernels carry the arithmetic: weight 4 in the runtime-share expectation
HEAVY_TYPES = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul", "Attention", "LSTM", "GRU"})

REDACTED = re.compile(r"^(?:h:[0-9a-f]+|\*\*\*)(?::(?P<t>[A-Za-z]\w*))?$")
_BRACKET = re.compile(r"^\(Unnamed Layer\* \d+\) \[(?P<t>[^\]]+)\]")
_ONNX = re.compile(r"^(?:[A-Za-z][A-Za-z0-9]*\.)?(?P<t>[A-Za-z]+)(?:[._\-]?\d+)*$")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+")
_PREPOSITIONS = frozenset({"before", "after", "of", "to", "for", "from"})
FOREIGN = re.compile(r"^\{ForeignNode\[(?P<inner>.*)\]\}$")
MYELIN_SUFFIX = re.compile(r"_myl\d+_\d+$")
REFORMAT_PREFIX = "Reformatting CopyNode for "
_WEIGHT_SUFFIX = re.compile(r"\.(?:weight|bias)$")
# a name stands as a whole word: not inside a longer name ("conv1" in "conv10", "371" in "0.371")
BOUND_BEFORE = r"(?<![\w./\-])"
BOUND_AFTER = r"(?![\w/\-]|\.\w)"


def mentions(text: str, name: str) -> bool:
    """``name`` appears in ``text`` as a whole word."""
    return name in text and re.search(BOUND_BEFORE + re.escape(name) + BOUND_AFTER, text) is not None


def canonical_type(word: str | None) -> str | None:
    """``convolution`` → ``Conv``; None when the word is not in the vocabulary."""
    if not word:
        return None
    key = re.sub(r"[^a-z0-9]", "", word.lower())
    return _LOOKUP.get(key) or _LOOKUP.get(key.rstrip("0123456789"))


def _word_type(words: list[str]) -> str | None:
    for word in reversed(words):
        if found := canonical_type(word):
            return found
        for part in reversed(_CAMEL.findall(word)):
            if found := canonical_type(part):
                return found
    return None


def op_type(name: str) -> str | None:
    """The op type of one original layer (or tensor) name, from :data:`ALIASES`; None if unknown."""
    if m := REDACTED.match(name):
        return m.group("t")
    if m := _BRACKET.match(name):
        return canonical_type(m.group("t"))
    segment = name.rstrip("/").rsplit("/", 1)[-1]
    if (m := _ONNX.match(segment)) and (found := canonical_type(m.group("t"))):
        return found
    words = _WORD.findall(segment)
    cut = next((i for i, w in enumerate(words) if w.lower() in _PREPOSITIONS), None)
    if cut is not None:
        return _word_type(words[:cut]) or _word_type(words[cut + 1 :])
    return _word_type(words)


def split_top(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside brackets; an unbalanced name is not split."""
    out, depth, start, i = [], 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            out.append(text[start:i])
            i += len(sep)
            start = i
            continue
        i += 1
    if depth != 0:
        return [text]
    out.append(text[start:])
    return out


def walk(name: str, fn: Callable[[str], str]) -> str:
    """Rebuild ``name`` with ``fn`` applied to every original layer name inside it.

    Keeps what TensorRT added (`` + ``, ``PWN(..)``, ``{ForeignNode[..]}``, ``_mylN_M``,
    ``Reformatting CopyNode for ... to``, ``.weight``); Myelin's own kernels (``__myl_*``,
    ``__mye*``) are named after op types and are kept as they are."""
    if name.startswith(REFORMAT_PREFIX) and " to " in name:
        head, _, tail = name.partition(" to ")
        return f"{head} to {walk(tail, fn)}"
    if m := FOREIGN.match(name):
        first, sep, last = m.group("inner").partition("...")
        return "{ForeignNode[" + walk(first, fn) + (sep + walk(last, fn) if sep else "") + "]}"
    if name.startswith("__my"):
        return name
    if m := MYELIN_SUFFIX.search(name):
        return walk(name[: m.start()], fn) + m.group(0)
    pieces = split_top(name, " + ")
    if len(pieces) > 1:
        return " + ".join(walk(p, fn) for p in pieces)
    if name.startswith("PWN(") and name.endswith(")"):
        return "PWN(" + ", ".join(walk(a, fn) for a in split_top(name[4:-1], ", ")) + ")"
    if m := _WEIGHT_SUFFIX.search(name):
        return walk(name[: m.start()], fn) + m.group(0)
    return fn(name) if name else name


def parts(name: str) -> list[str]:
    """The original layer names inside an engine layer name (none for a reformat copy or a Myelin kernel)."""
    if name.startswith(REFORMAT_PREFIX):
        return []
    out: list[str] = []
    walk(name, lambda p: out.append(p) or p)
    return out


def entry_kind(name: str) -> str:
    """``reformat`` | ``foreign`` (Myelin region) | ``myelin`` (Myelin kernel) | ``layer``."""
    if name.startswith(REFORMAT_PREFIX):
        return "reformat"
    if FOREIGN.match(name):
        return "foreign"
    if name.startswith("__my") or MYELIN_SUFFIX.search(name):
        return "myelin"
    return "layer"


def fusion_kind_types(kind: str | None, count: int) -> list[str] | None:
    """``ConvReluFusion`` with 2 layers → ``[Conv, Relu]``; None when the kind does not name ``count`` known types."""
    if not kind or not kind.endswith("Fusion"):
        return None
    words = _CAMEL.findall(kind[: -len("Fusion")])
    out: list[str] = []
    i = 0
    while i < len(words):
        for j in range(len(words), i, -1):  # longest run of words that is one type: Log+Softmax, Top+K
            if found := canonical_type("".join(words[i:j])):
                out.append(found)
                i = j
                break
        else:
            return None
    return out if len(out) == count else None
