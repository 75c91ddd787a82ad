//! The model's own configuration, derived from the experiment YAML.

use ostrack_config::{CeTemplateRange, ExperimentConfig};

/// Everything that shapes the network. Built from an [`ExperimentConfig`] (the official YAML
/// schema plus the ViT-size extension keys) with [`OSTrackConfig::from_experiment`].
#[derive(Debug, Clone, PartialEq)]
pub struct OSTrackConfig {
    pub embed_dim: usize,
    pub depth: usize,
    pub num_heads: usize,
    pub mlp_ratio: f64,
    pub patch_size: usize,
    /// Side of the square pretraining position grid (14 for MAE ViT-B at 224 px); the unused
    /// `pos_embed` has `1 + grid²` rows.
    pub pretrain_grid: usize,
    pub template_size: usize,
    pub search_size: usize,
    /// Whether the backbone is the CE variant (`vit_base_patch16_224_ce`).
    pub candidate_elimination: bool,
    /// 0-based CE block indices and their keep ratios.
    pub ce_loc: Vec<usize>,
    pub ce_keep_ratio: Vec<f64>,
    pub ce_template_range: CeTemplateRange,
    pub head_channels: usize,
    pub drop_path_rate: f64,
}

impl OSTrackConfig {
    pub fn from_experiment(cfg: &ExperimentConfig) -> Self {
        let bb = &cfg.model.backbone;
        let ce = bb.is_ce();
        Self {
            embed_dim: bb.embed_dim,
            depth: bb.depth,
            num_heads: bb.num_heads,
            mlp_ratio: bb.mlp_ratio,
            patch_size: bb.patch_size,
            pretrain_grid: bb.pretrain_grid,
            template_size: cfg.data.template.size,
            search_size: cfg.data.search.size,
            candidate_elimination: ce,
            ce_loc: if ce { bb.ce_loc.clone() } else { vec![] },
            ce_keep_ratio: if ce { bb.ce_keep_ratio.clone() } else { vec![] },
            ce_template_range: bb.ce_template_range,
            head_channels: cfg.model.head.num_channels,
            drop_path_rate: cfg.train.drop_path_rate,
        }
    }

    /// Template tokens per side (8 for 128 px).
    pub fn template_grid(&self) -> usize {
        self.template_size / self.patch_size
    }

    /// Search tokens per side (16 for 256 px); also the score-map side.
    pub fn search_grid(&self) -> usize {
        self.search_size / self.patch_size
    }

    pub fn mlp_hidden(&self) -> usize {
        (self.embed_dim as f64 * self.mlp_ratio) as usize
    }

    /// The keep ratio block `i` uses on its own (1.0 for non-CE blocks).
    pub fn block_keep_ratio(&self, i: usize) -> f64 {
        self.ce_loc
            .iter()
            .position(|&l| l == i)
            .map_or(1.0, |p| self.ce_keep_ratio[p])
    }

    /// Per-block stochastic-depth rates: `linspace(0, drop_path_rate, depth)`.
    pub fn drop_path_rates(&self) -> Vec<f64> {
        let n = self.depth;
        (0..n)
            .map(|i| {
                if n <= 1 {
                    0.0
                } else {
                    self.drop_path_rate * i as f64 / (n - 1) as f64
                }
            })
            .collect()
    }

    /// Search tokens alive after each block at a given override keep rate (`None` = the
    /// blocks' own ratios), as the original computes them (`ceil` in f64).
    pub fn search_tokens_per_block(&self, ce_keep_rate: Option<f64>) -> Vec<usize> {
        let mut alive = self.search_grid() * self.search_grid();
        (0..self.depth)
            .map(|i| {
                if let Some(keep) =
                    crate::ce::effective_keep_ratio(self.block_keep_ratio(i), ce_keep_rate)
                {
                    alive = crate::ce::keep_count(keep, alive);
                }
                alive
            })
            .collect()
    }
}
