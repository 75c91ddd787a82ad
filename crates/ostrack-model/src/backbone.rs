//! The one-stream ViT backbone: joint template+search tokens through the blocks, candidate
//! elimination in the CE blocks, final LayerNorm and token recovery (spec §1.2-1.8).

use burn::module::Param;
use burn::nn::LayerNorm;
use burn::prelude::*;

use crate::ce::{self, Elimination};
use crate::config::OSTrackConfig;
use crate::trace::ForwardTrace;
use crate::vit::{AttentionMap, Block, PatchEmbed, layer_norm, vit_init};

/// Field names are the official `backbone.*` keys.
#[derive(Module, Debug)]
pub struct VisionTransformer {
    /// Unused in the forward (the original keeps it; checkpoints carry it).
    pub cls_token: Param<Tensor<3>>,
    /// The pretraining position table [1, 1 + grid², C]; unused after `pos_embed_z/x` exist.
    pub pos_embed: Param<Tensor<3>>,
    pub pos_embed_z: Param<Tensor<3>>,
    pub pos_embed_x: Param<Tensor<3>>,
    pub patch_embed: PatchEmbed,
    pub blocks: Vec<Block>,
    pub norm: LayerNorm,
    /// Own keep ratio of each block (1.0 = never eliminates).
    pub keep_ratios: Vec<f64>,
    /// Whether this is the CE variant (which returns the last attention map).
    pub candidate_elimination: bool,
}

/// What the backbone hands to the head and to the caller.
#[derive(Debug, Clone)]
pub struct BackboneOutput {
    /// [B, Lz + Lx, C]: template tokens, then all search tokens in raster order (eliminated
    /// positions exactly zero).
    pub features: Tensor<3>,
    /// Last block's attention [B, H, N, N] (CE variant only, when requested).
    pub attn: Option<Tensor<4>>,
    /// One entry per CE block: removed original search indices (`None` if it removed nothing).
    pub removed_indexes_s: Vec<Option<Tensor<2, Int>>>,
    /// Original indices of the search tokens alive after the last block, in their final order.
    pub global_index_s: Tensor<2, Int>,
    /// Search tokens alive at the output of each block.
    pub search_tokens_per_block: Vec<usize>,
}

impl VisionTransformer {
    pub fn new(cfg: &OSTrackConfig, device: &Device) -> Self {
        let c = cfg.embed_dim;
        let rates = cfg.drop_path_rates();
        let init = vit_init();
        Self {
            cls_token: init.init([1, 1, c], device),
            pos_embed: init.init([1, 1 + cfg.pretrain_grid * cfg.pretrain_grid, c], device),
            pos_embed_z: init.init([1, cfg.template_grid().pow(2), c], device),
            pos_embed_x: init.init([1, cfg.search_grid().pow(2), c], device),
            patch_embed: PatchEmbed::new(cfg.patch_size, c, device),
            blocks: (0..cfg.depth)
                .map(|i| Block::new(c, cfg.num_heads, cfg.mlp_hidden(), rates[i], device))
                .collect(),
            norm: layer_norm(c, device),
            keep_ratios: (0..cfg.depth).map(|i| cfg.block_keep_ratio(i)).collect(),
            candidate_elimination: cfg.candidate_elimination,
        }
    }

    /// Template tokens with their position embedding, [B, Lz, C]. Constant for a tracked
    /// sequence, so trackers may compute it once.
    pub fn embed_template(
        &self,
        template: Tensor<4>,
        trace: Option<&mut ForwardTrace>,
    ) -> Tensor<3> {
        let z = self.patch_embed.forward(template);
        if let Some(t) = trace {
            t.float("patch_embed_z", &z);
        }
        z + self.pos_embed_z.val()
    }

    pub fn embed_search(&self, search: Tensor<4>, trace: Option<&mut ForwardTrace>) -> Tensor<3> {
        let x = self.patch_embed.forward(search);
        if let Some(t) = trace {
            t.float("patch_embed_x", &x);
        }
        x + self.pos_embed_x.val()
    }

    /// Runs the blocks on embedded tokens. `template_mask` [B, Lz] (0/1) picks the template rows
    /// that score search tokens (`None` = all rows); `ce_keep_rate` overrides every CE block's
    /// ratio (training schedule), `None` uses the blocks' own ratios.
    pub fn forward_tokens(
        &self,
        z: Tensor<3>,
        x: Tensor<3>,
        template_mask: Option<Tensor<2>>,
        ce_keep_rate: Option<f64>,
        want_attention: bool,
        mut trace: Option<&mut ForwardTrace>,
    ) -> BackboneOutput {
        let [b, lens_z, _] = z.dims();
        let lens_x = x.dims()[1];
        let device = z.device();
        let mut tokens = Tensor::cat(vec![z, x], 1);
        if let Some(t) = trace.as_deref_mut() {
            t.float("tokens_in", &tokens);
        }
        let mut global_index_s = Tensor::<1, Int>::arange(0..lens_x as i64, &device)
            .unsqueeze::<2>()
            .repeat_dim(0, b);
        let mut removed_indexes_s = Vec::new();
        let mut search_tokens_per_block = Vec::with_capacity(self.blocks.len());
        let mut last_attn = None;
        let depth = self.blocks.len();

        for (i, block) in self.blocks.iter().enumerate() {
            let is_ce_block = self.keep_ratios[i] < 1.0;
            let keep = ce::effective_keep_ratio(self.keep_ratios[i], ce_keep_rate);
            let is_last = i + 1 == depth;
            let want_full = is_last && want_attention && self.candidate_elimination;
            let map = match (want_full, keep) {
                (true, _) => AttentionMap::Full,
                (false, Some(_)) => AttentionMap::FirstRows(lens_z),
                (false, None) => AttentionMap::None,
            };
            let (after_attn, attn) = block.attention_half(tokens, map);

            let mut removed = None;
            tokens = match (keep, attn.clone()) {
                (Some(ratio), Some(map)) => {
                    let Elimination {
                        tokens,
                        global_index_s: kept,
                        removed_index_s,
                        score,
                    } = ce::candidate_elimination(
                        map,
                        after_attn,
                        lens_z,
                        ratio,
                        global_index_s.clone(),
                        template_mask.clone(),
                    );
                    if let (Some(t), Some(score)) = (trace.as_deref_mut(), score.as_ref()) {
                        t.float(format!("block{i}.ce_score"), score);
                    }
                    global_index_s = kept;
                    removed = removed_index_s;
                    tokens
                }
                _ => after_attn,
            };
            if is_ce_block {
                if let (Some(t), Some(r)) = (trace.as_deref_mut(), removed.as_ref()) {
                    t.int(format!("block{i}.removed_index_s"), r);
                }
                removed_indexes_s.push(removed);
            }
            tokens = block.mlp_half(tokens);
            search_tokens_per_block.push(tokens.dims()[1] - lens_z);
            if let Some(t) = trace.as_deref_mut() {
                t.float(format!("block{i}.x"), &tokens);
                t.int(format!("block{i}.global_index_s"), &global_index_s);
            }
            if is_last && self.candidate_elimination && want_attention {
                last_attn = attn;
            }
        }

        let tokens = self.norm.forward(tokens);
        if let Some(t) = trace {
            t.float("norm_out", &tokens);
        }
        let z = tokens.clone().slice(s![.., 0..lens_z]);
        let s = tokens.slice(s![.., lens_z..]);
        let removed: Vec<Tensor<2, Int>> = removed_indexes_s.iter().flatten().cloned().collect();
        let s = ce::recover_tokens(s, global_index_s.clone(), &removed, lens_x);
        BackboneOutput {
            features: Tensor::cat(vec![z, s], 1),
            attn: last_attn,
            removed_indexes_s,
            global_index_s,
            search_tokens_per_block,
        }
    }
}
