"""PyTorch side of issue 7, end to end: one `track()` step of the official OSTrack tracker on
the CPU (search crop with sample_target, Preprocessor, forward, Hann window, cal_bbox, box
mapping) on a 640x360 frame, as `ostrack profile` measures ours.

The official tracker moves everything to CUDA with `.cuda()`; here `.cuda()` is made a no-op, and
a few imports that tracking never uses (jpeg4py, visdom, torch._six, gone in torch 2) are
stubbed. Setup: see BENCHMARKS.md.
"""
import argparse
import importlib
import statistics
import sys
import tempfile
import time
import types

import numpy as np
import torch

parser = argparse.ArgumentParser()
parser.add_argument("--repo", required=True, help="checkout of botaoye/OSTrack")
parser.add_argument("--config", default="vitb_256_mae_ce_32x4_ep300", help="experiments/ostrack/<name>.yaml")
parser.add_argument("--runs", type=int, default=20)
parser.add_argument("--threads", type=int, default=2)
args = parser.parse_args()

torch.nn.Module.cuda = lambda self, *a, **k: self
torch.Tensor.cuda = lambda self, *a, **k: self
six = types.ModuleType("torch._six")
six.string_classes, six.int_classes = (str, bytes), int
sys.modules["torch._six"] = six
for unused in ("jpeg4py", "visdom", "visdom.server"):
    sys.modules.setdefault(unused, types.ModuleType(unused))
sys.modules["visdom"].Visdom = object

sys.path.insert(0, args.repo)
torch.set_num_threads(args.threads)
config = importlib.import_module("lib.config.ostrack.config")
config.update_config_from_file(f"{args.repo}/experiments/ostrack/{args.config}.yaml")
cfg = config.cfg
cfg.MODEL.PRETRAIN_FILE = ""
net = importlib.import_module("lib.models.ostrack").build_ostrack(cfg, training=False)
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
print(f"{args.config}: torch {torch.__version__}, {args.threads} threads, tracker step "
      f"median {statistics.median(times) * 1e3:.1f} ms (min {min(times) * 1e3:.1f}, {args.runs} runs)")
