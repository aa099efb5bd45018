"""Instrumentation for users' own inference code: contract events around engine loads, requests, inferences.

    from trtlens.producers.instrument import Instrument, StdoutSink

    inst = Instrument(StdoutSink(), model="resnet50", model_version="v3", backend="tensorrt")
    with inst.engine_load("/opt/models/resnet50.plan"):
        engine = load()
    with inst.request(request_id) as req:
        with req.inference(batch_size=8) as inf:
            out = engine.run(x)

``trtlens worker`` emits its events through this package too (one implementation). See README.md in this folder.
"""

from trtlens.producers.instrument.config import SamplingConfig
from trtlens.producers.instrument.emitter import Emitter, ModelSink, PublisherSink, Sampler, StdoutSink
from trtlens.producers.instrument.profiling import LayerTimes, LayerTiming, ProfileShare, layer_profiler
from trtlens.producers.instrument.spans import Instrument
from trtlens.producers.instrument.verbose import VerboseSwitch

__all__ = ["Emitter", "Instrument", "LayerTimes", "LayerTiming", "ModelSink", "ProfileShare", "PublisherSink",
           "Sampler", "SamplingConfig", "StdoutSink", "VerboseSwitch", "layer_profiler"]
