//! Candidate elimination (spec §1.7) and the token recovery after the last block (§1.8).

use burn::prelude::*;
use burn::tensor::IndexingUpdateOp;

/// The keep ratio a block applies, or `None` when it eliminates nothing. An override
/// (`ce_keep_rate`, used in training/validation) replaces every CE block's own ratio; the block
/// only eliminates when its own ratio is < 1 and the override (if any) is < 1.
pub fn effective_keep_ratio(block_ratio: f64, ce_keep_rate: Option<f64>) -> Option<f64> {
    if block_ratio >= 1.0 {
        return None;
    }
    match ce_keep_rate {
        None => Some(block_ratio),
        Some(r) if r < 1.0 => Some(r),
        Some(_) => None,
    }
}

/// `ceil(keep_ratio · alive)` in f64, as Python's `math.ceil` computes it
/// (0.7·180 = 125.99999999999999 → 126).
pub fn keep_count(keep_ratio: f64, alive: usize) -> usize {
    (keep_ratio * alive as f64).ceil() as usize
}

/// Result of one elimination step.
pub struct Elimination {
    /// Template tokens followed by the kept search tokens in descending score order.
    pub tokens: Tensor<3>,
    /// Original raster indices of the kept search tokens, in the new token order.
    pub global_index_s: Tensor<2, Int>,
    /// Original indices of the removed tokens (`None` if nothing was removed).
    pub removed_index_s: Option<Tensor<2, Int>>,
    /// The per-search-token score that was sorted [B, Ls] (`None` if nothing was removed).
    pub score: Option<Tensor<2>>,
}

/// Removes the search tokens least attended by the (masked) template queries.
///
/// `attn` is the block's softmaxed attention of (at least) the `lens_t` template queries,
/// [B, H, ≥lens_t, N]; `tokens` [B, N, C] has the template tokens first; `template_mask` [B, Lt]
/// selects the scoring template rows (`None`: all rows).
pub fn candidate_elimination(
    attn: Tensor<4>,
    tokens: Tensor<3>,
    lens_t: usize,
    keep_ratio: f64,
    global_index_s: Tensor<2, Int>,
    template_mask: Option<Tensor<2>>,
) -> Elimination {
    let [b, _h, _rows, n] = attn.dims();
    let lens_s = n - lens_t;
    let lens_keep = keep_count(keep_ratio, lens_s);
    if lens_keep == lens_s {
        return Elimination {
            tokens,
            global_index_s,
            removed_index_s: None,
            score: None,
        };
    }
    // Rows: template queries; columns: search keys.
    let attn_t = attn.slice(s![.., .., 0..lens_t, lens_t..]);
    let per_head = match template_mask {
        // Boolean row selection then a mean, written as a masked sum / count (static shapes).
        Some(mask) => {
            let m = mask.reshape([b, 1, lens_t, 1]);
            let count = m.clone().sum_dim(2);
            (attn_t * m).sum_dim(2) / count
        }
        None => attn_t.mean_dim(2),
    };
    let score: Tensor<2> = per_head.mean_dim(1).reshape([b, lens_s]);

    let (_, order) = score.clone().sort_descending_with_indices(1);
    let keep_pos = order.clone().slice(s![.., 0..lens_keep]);
    let removed_pos = order.slice(s![.., lens_keep..]);
    let keep_index = global_index_s.clone().gather(1, keep_pos.clone());
    let removed_index = global_index_s.gather(1, removed_pos);

    let c = tokens.dims()[2];
    let template = tokens.clone().slice(s![.., 0..lens_t]);
    let search = tokens.slice(s![.., lens_t..]);
    let kept = search.gather(1, keep_pos.unsqueeze_dim::<3>(2).expand([b, lens_keep, c]));
    Elimination {
        tokens: Tensor::cat(vec![template, kept], 1),
        global_index_s: keep_index,
        removed_index_s: Some(removed_index),
        score: Some(score),
    }
}

/// Puts the surviving search tokens back at their raster positions; eliminated positions get
/// exact zeros (the final LayerNorm ran before, so they are not LayerNorm(0)).
pub fn recover_tokens(
    kept: Tensor<3>,
    global_index_s: Tensor<2, Int>,
    removed: &[Tensor<2, Int>],
    lens_x: usize,
) -> Tensor<3> {
    let [b, lens_kept, c] = kept.dims();
    if removed.is_empty() {
        return kept;
    }
    let device = kept.device();
    let padded = Tensor::cat(
        vec![kept, Tensor::zeros([b, lens_x - lens_kept, c], &device)],
        1,
    );
    let mut all = vec![global_index_s];
    all.extend(removed.iter().cloned());
    let index_all = Tensor::cat(all, 1)
        .unsqueeze_dim::<3>(2)
        .expand([b, lens_x, c]);
    Tensor::<3>::zeros([b, lens_x, c], &device).scatter(
        1,
        index_all,
        padded,
        IndexingUpdateOp::Assign,
    )
}

/// A `[batch, tokens]` 0/1 float tensor from flattened per-sample template-token flags (as
/// `ostrack_data::ce_template_mask` produces them), the form the CE blocks take.
pub fn mask_tensor(flags: &[bool], batch: usize, device: &Device) -> Tensor<2> {
    let values: Vec<f32> = flags.iter().map(|&m| if m { 1.0 } else { 0.0 }).collect();
    let tokens = flags.len().checked_div(batch).unwrap_or(0);
    Tensor::from_data(TensorData::new(values, [batch, tokens]), device)
}
