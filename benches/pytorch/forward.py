"""PyTorch side of issue 7: the official OSTrack network's model-only forward on the CPU.

Runs the network of botaoye/OSTrack (a checkout outside this repository, given by --repo) with
random weights (speed does not depend on them), batch 1, f32, --threads threads, and prints the
median over --runs timed forwards after 3 warm-ups. Setup: see BENCHMARKS.md.
"""
import argparse
import importlib
import statistics
import sys
import time

import torch

parser = argparse.ArgumentParser()
parser.add_argument("--repo", required=True, help="checkout of botaoye/OSTrack")
parser.add_argument("--config", default="vitb_256_mae_ce_32x4_ep300", help="experiments/ostrack/<name>.yaml")
parser.add_argument("--runs", type=int, default=20)
parser.add_argument("--threads", type=int, default=2)
args = parser.parse_args()

sys.path.insert(0, args.repo)
torch.set_num_threads(args.threads)
config = importlib.import_module("lib.config.ostrack.config")
config.update_config_from_file(f"{args.repo}/experiments/ostrack/{args.config}.yaml")
cfg = config.cfg
cfg.MODEL.PRETRAIN_FILE = ""
net = importlib.import_module("lib.models.ostrack").build_ostrack(cfg, training=False).eval()
z = torch.randn(1, 3, cfg.TEST.TEMPLATE_SIZE, cfg.TEST.TEMPLATE_SIZE)
x = torch.randn(1, 3, cfg.TEST.SEARCH_SIZE, cfg.TEST.SEARCH_SIZE)
with torch.no_grad():
    for _ in range(3):
        net(z, x)
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        net(z, x)
        times.append(time.perf_counter() - start)
print(f"{args.config}: torch {torch.__version__}, {args.threads} threads, model-only forward "
      f"median {statistics.median(times) * 1e3:.1f} ms (min {min(times) * 1e3:.1f}, {args.runs} runs)")
