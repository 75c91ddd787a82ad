"""PyTorch side of issue 7: the official OSTrack network's model-only forward on the CPU.

Batch 1, f32, --threads threads; prints the median over --runs timed forwards after 3 warm-ups.
Setup: see BENCHMARKS.md.
"""
import time

import torch

import official

args = official.parse_args(__doc__)
cfg = official.load_config(args)
net = official.build_network(cfg).eval()
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
official.report(args, "model-only forward", times)
