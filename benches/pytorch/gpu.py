"""PyTorch side of `scripts/gpu-check.sh`: the official OSTrack network on one device, eager f32.

Measures what the check compares with ours, in one process, and prints one JSON object:
* model-only forward at batch 1 (FPS) and at --big-batch (frames/s), inference mode;
* a training step as the original's trainer runs it: the OSTrackActor forward (CE mask and keep
  rate of the epoch after the warm-up) and losses (GIoU, L1, focal on the Gaussian heat map),
  backward, `clip_grad_norm_(0.1)` and AdamW with the backbone's LR multiplier, on N(0, 1) images
  with fixed boxes; samples/s and peak memory (`torch.cuda.max_memory_allocated`, and reserved).

The official code is imported from a botaoye/OSTrack checkout outside this repository (--repo).
"""
import argparse
import importlib
import json
import statistics
import sys
import time
import types

import torch

import official


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repo", required=True, help="checkout of botaoye/OSTrack")
    p.add_argument("--config", default="vitb_256_mae_ce_32x4_ep300")
    p.add_argument("--device", default="cuda")
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--big-batch", type=int, default=16)
    p.add_argument("--train-batch", type=int, default=32, help="0: no training measurement")
    p.add_argument("--train-steps", type=int, default=30)
    p.add_argument("--threads", type=int, default=torch.get_num_threads(), help="CPU threads")
    return p.parse_args()


def load(args):
    # Imports on the training path that the measured code never calls (gone in torch 2, or
    # dataset-only packages).
    six = types.ModuleType("torch._six")
    six.string_classes, six.int_classes = (str, bytes), int
    sys.modules.setdefault("torch._six", six)
    for unused in ("jpeg4py", "visdom", "lmdb"):
        sys.modules.setdefault(unused, types.ModuleType(unused))
    return official.load_config(args)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device, fn, warmup, runs):
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return times


def forward_rates(args, cfg, device):
    net = official.build_network(cfg).to(device).eval()
    t, s = cfg.TEST.TEMPLATE_SIZE, cfg.TEST.SEARCH_SIZE
    out = {}
    for batch in (1, args.big_batch):
        z = torch.randn(batch, 3, t, t, device=device)
        x = torch.randn(batch, 3, s, s, device=device)
        with torch.inference_mode():
            times = timed(device, lambda: net(z, x), args.warmup, args.runs)
        ms = statistics.median(times) * 1e3
        out[f"forward_b{batch}"] = {"batch": batch, "ms_median": ms, "frames_per_s": 1e3 * batch / ms}
    del net
    return out


def train_rate(args, cfg, device):
    build = importlib.import_module("lib.models.ostrack").build_ostrack
    box_ops = importlib.import_module("lib.utils.box_ops")
    focal = importlib.import_module("lib.utils.focal_loss").FocalLoss()
    heatmap = importlib.import_module("lib.utils.heapmap_utils").generate_heatmap
    ce = importlib.import_module("lib.utils.ce_utils")
    net = build(cfg, training=True).to(device).train()
    backbone = [p for n, p in net.named_parameters() if "backbone" in n and p.requires_grad]
    head = [p for n, p in net.named_parameters() if "backbone" not in n and p.requires_grad]
    optim = torch.optim.AdamW(
        [{"params": head}, {"params": backbone, "lr": cfg.TRAIN.LR * cfg.TRAIN.BACKBONE_MULTIPLIER}],
        lr=cfg.TRAIN.LR, weight_decay=cfg.TRAIN.WEIGHT_DECAY)
    b, t, s = args.train_batch, cfg.DATA.TEMPLATE.SIZE, cfg.DATA.SEARCH.SIZE
    z = torch.randn(b, 3, t, t, device=device)
    x = torch.randn(b, 3, s, s, device=device)
    template_anno = torch.tensor([[0.25, 0.25, 0.5, 0.5]] * b, device=device)
    search_anno = torch.tensor([[0.4, 0.42, 0.2, 0.18]] * b, device=device)
    epoch = cfg.TRAIN.CE_START_EPOCH + cfg.TRAIN.CE_WARM_EPOCH
    mask, keep = None, None
    if cfg.MODEL.BACKBONE.CE_LOC:
        mask = ce.generate_mask_cond(cfg, b, device, template_anno)
        keep = ce.adjust_keep_rate(epoch, warmup_epochs=cfg.TRAIN.CE_START_EPOCH,
                                   total_epochs=epoch, ITERS_PER_EPOCH=1,
                                   base_keep_rate=cfg.MODEL.BACKBONE.CE_KEEP_RATIO[0])
    gauss = heatmap(search_anno[None], s, cfg.MODEL.BACKBONE.STRIDE)[-1].unsqueeze(1)
    gt = box_ops.box_xywh_to_xyxy(search_anno).clamp(min=0.0, max=1.0)

    def step():
        out = net(template=z, search=x, ce_template_mask=mask, ce_keep_rate=keep,
                  return_last_attn=False)
        pred = box_ops.box_cxcywh_to_xyxy(out["pred_boxes"]).view(-1, 4)
        giou, _ = box_ops.giou_loss(pred, gt)
        loss = (cfg.TRAIN.GIOU_WEIGHT * giou + cfg.TRAIN.L1_WEIGHT * torch.nn.functional.l1_loss(pred, gt)
                + focal(out["score_map"], gauss))
        optim.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.TRAIN.GRAD_CLIP_NORM)
        optim.step()

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = timed(device, step, min(args.warmup, args.train_steps), args.train_steps)
    ms = statistics.median(times) * 1e3
    out = {"batch": b, "steps": len(times), "step_ms_median": ms, "samples_per_s": 1e3 * b / ms,
           "keep_rate": keep}
    if device.type == "cuda":
        out["peak_allocated_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
        out["peak_reserved_mib"] = torch.cuda.max_memory_reserved(device) / 2**20
    return out


def main():
    args = parse_args()
    device = torch.device(args.device)
    cfg = load(args)
    result = {"config": args.config, "torch": torch.__version__, "device": str(device)}
    if device.type == "cuda":
        result["gpu"] = torch.cuda.get_device_name(device)
    result.update(forward_rates(args, cfg, device))
    if device.type == "cuda":
        torch.cuda.empty_cache()
    if args.train_batch > 0:
        result["train"] = train_rate(args, cfg, device)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
