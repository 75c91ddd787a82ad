//! The full tracker network: backbone + CENTER head (spec §1.1).

use burn::prelude::*;

use crate::backbone::{BackboneOutput, VisionTransformer};
use crate::config::OSTrackConfig;
use crate::head::CenterPredictor;
use crate::trace::ForwardTrace;

#[derive(Module, Debug)]
pub struct OSTrack {
    pub backbone: VisionTransformer,
    pub box_head: CenterPredictor,
    /// Score-map side (search size / patch size).
    pub feat_sz: usize,
}

/// Everything the original's forward returns.
#[derive(Debug, Clone)]
pub struct OSTrackOutput {
    /// (cx, cy, w, h) normalised to the search crop, [B, 1, 4].
    pub pred_boxes: Tensor<3>,
    pub score_map: Tensor<4>,
    pub size_map: Tensor<4>,
    pub offset_map: Tensor<4>,
    pub backbone_feat: Tensor<3>,
    pub attn: Option<Tensor<4>>,
    pub removed_indexes_s: Vec<Option<Tensor<2, Int>>>,
    pub global_index_s: Tensor<2, Int>,
    pub search_tokens_per_block: Vec<usize>,
}

/// Optional parts of a forward.
#[derive(Debug, Default)]
pub struct ForwardOptions<'a> {
    /// Return the last block's attention map (CE variant); costs an N×N map in that block.
    pub attention: bool,
    pub trace: Option<&'a mut ForwardTrace>,
}

impl OSTrack {
    pub fn new(cfg: &OSTrackConfig, device: &Device) -> Self {
        Self {
            backbone: VisionTransformer::new(cfg, device),
            box_head: CenterPredictor::new(cfg.embed_dim, cfg.head_channels, device),
            feat_sz: cfg.search_grid(),
        }
    }

    /// `OSTrack.forward(template, search, ce_template_mask, ce_keep_rate)` of the original,
    /// returning the last attention map too.
    pub fn forward(
        &self,
        template: Tensor<4>,
        search: Tensor<4>,
        template_mask: Option<Tensor<2>>,
        ce_keep_rate: Option<f64>,
    ) -> OSTrackOutput {
        self.forward_with(
            template,
            search,
            template_mask,
            ce_keep_rate,
            ForwardOptions {
                attention: true,
                trace: None,
            },
        )
    }

    pub fn forward_with(
        &self,
        template: Tensor<4>,
        search: Tensor<4>,
        template_mask: Option<Tensor<2>>,
        ce_keep_rate: Option<f64>,
        mut opts: ForwardOptions<'_>,
    ) -> OSTrackOutput {
        let z = self
            .backbone
            .embed_template(template, opts.trace.as_deref_mut());
        self.forward_embedded_template(z, search, template_mask, ce_keep_rate, opts)
    }

    /// Forward with an already embedded template (see [`VisionTransformer::embed_template`]).
    pub fn forward_embedded_template(
        &self,
        z: Tensor<3>,
        search: Tensor<4>,
        template_mask: Option<Tensor<2>>,
        ce_keep_rate: Option<f64>,
        mut opts: ForwardOptions<'_>,
    ) -> OSTrackOutput {
        let x = self
            .backbone
            .embed_search(search, opts.trace.as_deref_mut());
        let BackboneOutput {
            features,
            attn,
            removed_indexes_s,
            global_index_s,
            search_tokens_per_block,
        } = self.backbone.forward_tokens(
            z,
            x,
            template_mask,
            ce_keep_rate,
            opts.attention,
            opts.trace.as_deref_mut(),
        );

        let [b, n, c] = features.dims();
        let lens_x = self.feat_sz * self.feat_sz;
        let head_in = features
            .clone()
            .slice(s![.., (n - lens_x)..])
            .swap_dims(1, 2)
            .reshape([b, c, self.feat_sz, self.feat_sz]);
        let mut head_trace = opts.trace.is_some().then(Vec::new);
        if let Some(t) = opts.trace.as_deref_mut() {
            t.float("head_in", &head_in);
        }
        let head = self.box_head.forward_traced(head_in, head_trace.as_mut());
        if let (Some(t), Some(entries)) = (opts.trace, head_trace) {
            for (name, tensor) in entries {
                t.float(format!("head.{name}"), &tensor);
            }
        }
        OSTrackOutput {
            pred_boxes: head.pred_boxes,
            score_map: head.score_map,
            size_map: head.size_map,
            offset_map: head.offset_map,
            backbone_feat: features,
            attn,
            removed_indexes_s,
            global_index_s,
            search_tokens_per_block,
        }
    }
}
