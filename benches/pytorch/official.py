"""What both PyTorch-side scripts share: their arguments and the official experiment config.

The official code is imported from a botaoye/OSTrack checkout outside this repository (--repo).
"""
import argparse
import importlib
import statistics
import sys

import torch


def parse_args(description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--repo", required=True, help="checkout of botaoye/OSTrack")
    parser.add_argument("--config", default="vitb_256_mae_ce_32x4_ep300",
                        help="experiments/ostrack/<name>.yaml")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    return parser.parse_args()


def load_config(args):
    """The experiment's config with random weights (speed does not depend on them)."""
    sys.path.insert(0, args.repo)
    torch.set_num_threads(args.threads)
    config = importlib.import_module("lib.config.ostrack.config")
    config.update_config_from_file(f"{args.repo}/experiments/ostrack/{args.config}.yaml")
    cfg = config.cfg
    cfg.MODEL.PRETRAIN_FILE = ""
    return cfg


def build_network(cfg):
    return importlib.import_module("lib.models.ostrack").build_ostrack(cfg, training=False)


def report(args, what, times):
    print(f"{args.config}: torch {torch.__version__}, {args.threads} threads, {what} "
          f"median {statistics.median(times) * 1e3:.1f} ms (min {min(times) * 1e3:.1f}, {args.runs} runs)")
