"""PyTorch side of issue 7, end to end: one `track()` step of the official OSTrack tracker on
the CPU (search crop with sample_target, Preprocessor, forward, Hann window, cal_bbox, box
mapping) on a 640x360 frame, as `ostrack profile` measures ours.

The official tracker moves everything to CUDA with `.cuda()`; here `.cuda()` is made a no-op, and
a few imports that tracking never uses (jpeg4py, visdom, torch._six, gone in torch 2) are
stubbed. Setup: see BENCHMARKS.md.
"""
import importlib
import sys
import tempfile
import time
import types

import numpy as np
import torch

import official

args = official.parse_args(__doc__)
torch.nn.Module.cuda = lambda self, *a, **k: self
torch.Tensor.cuda = lambda self, *a, **k: self
six = types.ModuleType("torch._six")
six.string_classes, six.int_classes = (str, bytes), int
sys.modules["torch._six"] = six
for unused in ("jpeg4py", "visdom", "visdom.server"):
    sys.modules.setdefault(unused, types.ModuleType(unused))
sys.modules["visdom"].Visdom = object

cfg = official.load_config(args)
net = official.build_network(cfg)
checkpoint = tempfile.NamedTemporaryFile(suffix=".pth")
torch.save({"net": net.state_dict()}, checkpoint.name)
params = types.SimpleNamespace(
    cfg=cfg, template_factor=cfg.TEST.TEMPLATE_FACTOR, template_size=cfg.TEST.TEMPLATE_SIZE,
    search_factor=cfg.TEST.SEARCH_FACTOR, search_size=cfg.TEST.SEARCH_SIZE,
    checkpoint=checkpoint.name, debug=0, save_all_boxes=False)
tracker = importlib.import_module("lib.test.tracker.ostrack").OSTrack(params, "got10k")

frame = np.random.default_rng(0).integers(0, 256, (360, 640, 3), dtype=np.uint8)
box = [290.0, 150.0, 60.0, 45.0]
tracker.initialize(frame, {"init_bbox": box})
times = []
for i in range(3 + args.runs):
    tracker.state = box  # the same search region every step
    start = time.perf_counter()
    tracker.track(frame)
    if i >= 3:
        times.append(time.perf_counter() - start)
official.report(args, "tracker step", times)
