//! Model parity against fixtures produced by the official code (`model_tiny_ce`,
//! `model_tiny_noce`, `OSTrack_ep0001.expected`, or any file in that format).
//!
//! Everything (dims, depth, heads, CE layout, sizes, batch, keep rate) comes from the file and
//! its sidecar. Dense tensors must agree within a relative error of 1e-4 (max |a-b| / max |b|);
//! index outputs are compared as sets per sample, and token-ordered tensors are aligned by
//! `global_index_s` first because near-ties inside the kept set may order tokens differently.

use std::fmt;
use std::path::Path;

use anyhow::{Context, Result, bail};
use burn::prelude::*;
use ostrack_config::parse_config_json;
use ostrack_model::ostrack::ForwardOptions;
use ostrack_model::trace::{ForwardTrace, Traced};
use ostrack_model::{OSTrack, OSTrackConfig};
use ostrack_weights::{HostTensor, StateDict};

use crate::fixture::{Fixture, FixtureData, FixtureTensor};

/// Relative tolerance for f32 network outputs (fixtures README).
pub const REL_TOL: f64 = 1e-4;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    pub name: String,
    pub max_abs: f64,
    pub rel: f64,
    pub passed: bool,
    pub note: String,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ParityReport {
    pub file: String,
    pub checks: Vec<Check>,
}

impl ParityReport {
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.passed)
    }

    pub fn failures(&self) -> Vec<&Check> {
        self.checks.iter().filter(|c| !c.passed).collect()
    }

    /// The largest relative error of the dense comparisons (0 when there are none).
    pub fn worst_rel(&self) -> f64 {
        self.checks.iter().map(|c| c.rel).fold(0.0, f64::max)
    }

    fn dense(&mut self, name: &str, ours: &[f32], theirs: &[f32]) {
        let check = if ours.len() != theirs.len() {
            Check {
                name: name.into(),
                max_abs: f64::INFINITY,
                rel: f64::INFINITY,
                passed: false,
                note: format!("length {} vs expected {}", ours.len(), theirs.len()),
            }
        } else {
            let max_abs = ours
                .iter()
                .zip(theirs)
                .map(|(a, b)| (*a as f64 - *b as f64).abs())
                .fold(0.0, f64::max);
            let scale = theirs
                .iter()
                .map(|b| (*b as f64).abs())
                .fold(0.0, f64::max)
                .max(1e-6);
            let rel = max_abs / scale;
            let finite = ours.iter().all(|v| v.is_finite());
            Check {
                name: name.into(),
                max_abs,
                rel,
                passed: finite && rel <= REL_TOL,
                note: String::new(),
            }
        };
        self.checks.push(check);
    }

    fn exact(&mut self, name: &str, passed: bool, note: String) {
        self.checks.push(Check {
            name: name.into(),
            max_abs: 0.0,
            rel: 0.0,
            passed,
            note,
        });
    }
}

impl fmt::Display for ParityReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "parity: {}", self.file)?;
        writeln!(
            f,
            "  {:<40} {:>12} {:>12}  result",
            "tensor", "max abs", "max rel"
        )?;
        for c in &self.checks {
            let status = if c.passed { "ok" } else { "FAIL" };
            writeln!(
                f,
                "  {:<40} {:>12.3e} {:>12.3e}  {status} {}",
                c.name, c.max_abs, c.rel, c.note
            )?;
        }
        let failed = self.failures().len();
        write!(
            f,
            "{} checks, {} passed, {} failed",
            self.checks.len(),
            self.checks.len() - failed,
            failed
        )
    }
}

/// Model configuration of a fixture: the sidecar's `cfg` with `tiny_dims` and the tensor shapes.
pub fn fixture_model_config(fx: &Fixture) -> Result<OSTrackConfig> {
    let cfg_json = fx
        .sidecar
        .get("cfg")
        .with_context(|| format!("{}: sidecar has no `cfg`", fx.path.display()))?;
    let exp = parse_config_json(cfg_json, &fx.path.with_extension("json"))?;
    let mut cfg = OSTrackConfig::from_experiment(&exp);
    if let Some(d) = fx.sidecar.get("tiny_dims") {
        let get = |k: &str| d.get(k).and_then(|v| v.as_f64());
        if let Some(v) = get("embed_dim") {
            cfg.embed_dim = v as usize;
        }
        if let Some(v) = get("depth") {
            cfg.depth = v as usize;
        }
        if let Some(v) = get("num_heads") {
            cfg.num_heads = v as usize;
        }
        if let Some(v) = get("mlp_ratio") {
            cfg.mlp_ratio = v;
        }
        if let Some(v) = get("patch_size") {
            cfg.patch_size = v as usize;
        }
        if let Some(v) = get("head_channels") {
            cfg.head_channels = v as usize;
        }
    }
    let param = |k: &str| fx.get(&format!("param.{k}")).or_else(|| fx.get(k));
    if let Some(pe) = param("backbone.pos_embed") {
        cfg.pretrain_grid = ((pe.shape[1] - 1) as f64).sqrt().round() as usize;
        cfg.embed_dim = pe.shape[2];
    }
    if let Some(t) = fx.get("input.template") {
        cfg.template_size = t.shape[2];
    }
    if let Some(s) = fx.get("input.search") {
        cfg.search_size = s.shape[2];
    }
    cfg.drop_path_rate = 0.0;
    Ok(cfg)
}

/// The `param.*` tensors as an official state dict.
pub fn fixture_state_dict(fx: &Fixture, prefix: &str) -> StateDict {
    let mut sd = StateDict::new();
    for name in fx.names_with_prefix(prefix) {
        let t = &fx.tensors[&format!("{prefix}{name}")];
        let host = match &t.data {
            FixtureData::I64(v) => HostTensor::i64(t.shape.clone(), v.clone()),
            _ => HostTensor::f32(t.shape.clone(), t.f32()),
        };
        sd.insert(name, host);
    }
    sd
}

fn tensor<const D: usize>(t: &FixtureTensor, device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(t.f32(), t.shape.clone()), device)
}

fn f32s(d: &TensorData) -> Vec<f32> {
    d.clone()
        .convert::<f32>()
        .try_into_vec_as::<f32>()
        .unwrap_or_default()
}

fn i64s(d: &TensorData) -> Vec<i64> {
    d.clone()
        .convert::<i64>()
        .try_into_vec_as::<i64>()
        .unwrap_or_default()
}

/// Where each original search index sits in `order` ([B, L] rows).
fn positions(order: &[i64], b: usize, l: usize) -> Option<Vec<Vec<usize>>> {
    let max = order.iter().copied().max().unwrap_or(0).max(0) as usize + 1;
    (0..b)
        .map(|s| {
            let mut pos = vec![usize::MAX; max];
            for (p, &g) in order[s * l..(s + 1) * l].iter().enumerate() {
                pos[g as usize] = p;
            }
            Some(pos)
        })
        .collect()
}

fn same_sets(ours: &[i64], theirs: &[i64], b: usize) -> bool {
    if ours.len() != theirs.len() || b == 0 {
        return false;
    }
    let l = ours.len() / b;
    (0..b).all(|s| {
        let mut a = ours[s * l..(s + 1) * l].to_vec();
        let mut t = theirs[s * l..(s + 1) * l].to_vec();
        a.sort_unstable();
        t.sort_unstable();
        a == t
    })
}

/// Reorders our [B, Lz+L, C] tokens so that search token j matches their search token j.
fn align_tokens(
    ours: &[f32],
    our_idx: &[i64],
    their_idx: &[i64],
    b: usize,
    lz: usize,
    c: usize,
) -> Vec<f32> {
    let l = our_idx.len() / b;
    let pos = positions(our_idx, b, l).unwrap_or_default();
    let n = lz + l;
    let mut out = vec![0.0; ours.len()];
    for s in 0..b {
        for i in 0..n {
            let src = if i < lz {
                i
            } else {
                lz + pos[s][their_idx[s * l + i - lz] as usize]
            };
            out[(s * n + i) * c..(s * n + i + 1) * c]
                .copy_from_slice(&ours[(s * n + src) * c..(s * n + src + 1) * c]);
        }
    }
    out
}

/// Reorders a [B, L] per-search-token row (e.g. CE scores) the same way.
fn align_rows(ours: &[f32], our_idx: &[i64], their_idx: &[i64], b: usize) -> Vec<f32> {
    align_tokens(ours, our_idx, their_idx, b, 0, 1)
}

/// Reorders our attention [B, H, N, N] rows and columns to their token order.
fn align_attention(
    ours: &[f32],
    our_idx: &[i64],
    their_idx: &[i64],
    b: usize,
    h: usize,
    lz: usize,
) -> Vec<f32> {
    let l = our_idx.len() / b;
    let n = lz + l;
    let pos = positions(our_idx, b, l).unwrap_or_default();
    let mut out = vec![0.0; ours.len()];
    for s in 0..b {
        let perm: Vec<usize> = (0..n)
            .map(|i| {
                if i < lz {
                    i
                } else {
                    lz + pos[s][their_idx[s * l + i - lz] as usize]
                }
            })
            .collect();
        for hh in 0..h {
            let base = (s * h + hh) * n * n;
            for i in 0..n {
                for j in 0..n {
                    out[base + i * n + j] = ours[base + perm[i] * n + perm[j]];
                }
            }
        }
    }
    out
}

/// Runs a model fixture through our network and compares every output and trace it holds.
pub fn run_model_parity(path: &Path, device: &Device) -> Result<ParityReport> {
    run_model_parity_with_weights(path, None, device)
}

/// As [`run_model_parity`]; `weights` (safetensors or a PyTorch checkpoint, e.g.
/// `OSTrack_ep0001.pth.tar`) supplies the model when the fixture holds no `param.*` tensors.
pub fn run_model_parity_with_weights(
    path: &Path,
    weights: Option<&Path>,
    device: &Device,
) -> Result<ParityReport> {
    let fx = Fixture::load(path)?;
    let cfg = fixture_model_config(&fx)?;
    let (sd, source) = match weights {
        Some(w) => (
            ostrack_weights::load_state_dict_any(w, None)?,
            w.display().to_string(),
        ),
        None => (
            fixture_state_dict(&fx, "param."),
            path.display().to_string(),
        ),
    };
    if sd.is_empty() {
        bail!(
            "{}: no `param.*` tensors (model weights) in this file; pass the weights file that produced it (--weights)",
            path.display()
        );
    }
    let model = OSTrack::new(&cfg, device).load_state_dict(&sd, &source)?;

    let template: Tensor<4> = tensor(fx.require("input.template")?, device);
    let search: Tensor<4> = tensor(fx.require("input.search")?, device);
    let b = template.dims()[0];
    let mask_is_none = fx
        .sidecar
        .get("ce_template_mask_is_none")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let mask = match fx.get("input.ce_template_mask") {
        Some(m) if !mask_is_none => Some(tensor::<2>(m, device)),
        _ => None,
    };
    let keep_rate = fx.sidecar.get("ce_keep_rate").and_then(|v| v.as_f64());

    let mut trace = ForwardTrace::default();
    let out = model.forward_with(
        template,
        search,
        mask,
        keep_rate,
        ForwardOptions {
            attention: true,
            trace: Some(&mut trace),
        },
    );

    let mut report = ParityReport {
        file: path.display().to_string(),
        checks: Vec::new(),
    };
    let lz = cfg.template_grid().pow(2);
    let lx = cfg.search_grid().pow(2);
    let c = cfg.embed_dim;
    let our_final_idx = i64s(&out.global_index_s.clone().into_data());

    for name in [
        "pred_boxes",
        "score_map",
        "size_map",
        "offset_map",
        "backbone_feat",
    ] {
        if let Some(expected) = fx.get(&format!("output.{name}")) {
            let ours = match name {
                "pred_boxes" => out.pred_boxes.clone().into_data(),
                "score_map" => out.score_map.clone().into_data(),
                "size_map" => out.size_map.clone().into_data(),
                "offset_map" => out.offset_map.clone().into_data(),
                _ => out.backbone_feat.clone().into_data(),
            };
            report.dense(&format!("output.{name}"), &f32s(&ours), &expected.f32());
        }
    }

    // Index outputs: sets per sample.
    let mut removed_all: Vec<Vec<i64>> = Vec::new();
    for (k, removed) in out.removed_indexes_s.iter().enumerate() {
        let name = format!("output.removed_indexes_s.{k}");
        let ours = removed
            .as_ref()
            .map(|r| i64s(&r.clone().into_data()))
            .unwrap_or_default();
        if let Some(expected) = fx.get(&name) {
            let ok = same_sets(&ours, &expected.i64(), b);
            report.exact(
                &name,
                ok,
                format!("{} per sample", expected.shape.get(1).unwrap_or(&0)),
            );
        }
        removed_all.push(ours);
    }
    for k in out.removed_indexes_s.len().. {
        let name = format!("output.removed_indexes_s.{k}");
        if fx.get(&name).is_none() {
            break;
        }
        report.exact(
            &name,
            false,
            "expected a CE layer that the model does not have".into(),
        );
    }
    let their_final_idx = fx.get("output.global_index_s").map(|t| t.i64());
    if let Some(expected) = &their_final_idx {
        report.exact(
            "output.global_index_s",
            same_sets(&our_final_idx, expected, b),
            String::new(),
        );
    }

    // Eliminated positions must be exact zeros in the recovered features.
    if removed_all.iter().any(|r| !r.is_empty()) {
        let feat = f32s(&out.backbone_feat.clone().into_data());
        let n = lz + lx;
        let mut zeros = true;
        for removed in &removed_all {
            let k = removed.len() / b.max(1);
            for s in 0..b {
                for &g in &removed[s * k..(s + 1) * k] {
                    let row = (s * n + lz + g as usize) * c;
                    zeros &= feat[row..row + c].iter().all(|&v| v == 0.0);
                }
            }
        }
        report.exact("eliminated tokens exactly zero", zeros, String::new());
    }

    if let (Some(expected), Some(attn)) = (fx.get("output.attn"), out.attn.as_ref()) {
        let ours = f32s(&attn.clone().into_data());
        let h = attn.dims()[1];
        // The map covers the tokens entering the last block: if that block eliminates, their
        // order is the one after the block before it.
        let depth = cfg.depth;
        let (our_idx, their_idx) = if depth >= 2 && cfg.block_keep_ratio(depth - 1) < 1.0 {
            let name = format!("block{}.global_index_s", depth - 2);
            let ours = match trace.get(&name) {
                Some(Traced::Int(d)) => i64s(d),
                _ => Vec::new(),
            };
            (ours, fx.get(&format!("trace.{name}")).map(|t| t.i64()))
        } else {
            (our_final_idx.clone(), their_final_idx.clone())
        };
        let aligned = match &their_idx {
            Some(theirs) if same_sets(&our_idx, theirs, b) => {
                align_attention(&ours, &our_idx, theirs, b, h, lz)
            }
            _ => ours,
        };
        report.dense("output.attn", &aligned, &expected.f32());
    } else if fx.get("output.attn").is_some() {
        report.exact(
            "output.attn",
            false,
            "model returned no attention map".into(),
        );
    }

    compare_traces(&fx, &trace, &mut report, b, lz, lx, c);
    Ok(report)
}

fn compare_traces(
    fx: &Fixture,
    trace: &ForwardTrace,
    report: &mut ParityReport,
    b: usize,
    lz: usize,
    lx: usize,
    c: usize,
) {
    let ours_f32 = |name: &str| match trace.get(name) {
        Some(Traced::Float(d)) => Some(f32s(d)),
        _ => None,
    };
    let ours_i64 = |name: &str| match trace.get(name) {
        Some(Traced::Int(d)) => Some(i64s(d)),
        _ => None,
    };
    for name in ["patch_embed_x", "patch_embed_z", "tokens_in", "head_in"] {
        if let (Some(expected), Some(ours)) = (fx.get(&format!("trace.{name}")), ours_f32(name)) {
            report.dense(&format!("trace.{name}"), &ours, &expected.f32());
        }
    }
    let arange: Vec<i64> = (0..b).flat_map(|_| 0..lx as i64).collect();
    let mut prev_ours = arange.clone();
    let mut prev_theirs = arange;
    let mut block = 0;
    loop {
        let x_name = format!("block{block}.x");
        let Some(our_idx) = ours_i64(&format!("block{block}.global_index_s")) else {
            break;
        };
        let their_idx = fx
            .get(&format!("trace.{x_name}").replace(".x", ".global_index_s"))
            .map(|t| t.i64());
        if let Some(theirs) = &their_idx {
            let ok = same_sets(&our_idx, theirs, b);
            report.exact(
                &format!("trace.block{block}.global_index_s"),
                ok,
                String::new(),
            );
        }
        let removed = format!("block{block}.removed_index_s");
        if let Some(expected) = fx.get(&format!("trace.{removed}")) {
            let ours = ours_i64(&removed).unwrap_or_default();
            report.exact(
                &format!("trace.{removed}"),
                same_sets(&ours, &expected.i64(), b),
                String::new(),
            );
        }
        let score = format!("block{block}.ce_score");
        if let (Some(expected), Some(ours)) = (fx.get(&format!("trace.{score}")), ours_f32(&score))
        {
            let aligned = if same_sets(&prev_ours, &prev_theirs, b) {
                align_rows(&ours, &prev_ours, &prev_theirs, b)
            } else {
                ours
            };
            report.dense(&format!("trace.{score}"), &aligned, &expected.f32());
        }
        if let (Some(expected), Some(ours)) =
            (fx.get(&format!("trace.{x_name}")), ours_f32(&x_name))
        {
            let theirs = their_idx.clone().unwrap_or_else(|| our_idx.clone());
            let aligned = if same_sets(&our_idx, &theirs, b) {
                align_tokens(&ours, &our_idx, &theirs, b, lz, c)
            } else {
                ours
            };
            report.dense(&format!("trace.{x_name}"), &aligned, &expected.f32());
        }
        prev_theirs = their_idx.unwrap_or_else(|| our_idx.clone());
        prev_ours = our_idx;
        block += 1;
    }
    if let (Some(expected), Some(ours)) = (fx.get("trace.norm_out"), ours_f32("norm_out")) {
        let aligned = if same_sets(&prev_ours, &prev_theirs, b) {
            align_tokens(&ours, &prev_ours, &prev_theirs, b, lz, c)
        } else {
            ours
        };
        report.dense("trace.norm_out", &aligned, &expected.f32());
    }
    for name in fx.names_with_prefix("trace.head.") {
        let key = format!("head.{name}");
        match ours_f32(&key) {
            Some(ours) => report.dense(
                &format!("trace.{key}"),
                &ours,
                &fx.tensors[&format!("trace.{key}")].f32(),
            ),
            None => report.exact(
                &format!("trace.{key}"),
                false,
                "not produced by our head".into(),
            ),
        }
    }
}
