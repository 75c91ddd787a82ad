use serde::{Deserialize, Serialize};

/// The whole experiment: `MODEL`, `TRAIN`, `DATA`, `TEST` (plus the `RS` extension section).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[derive(Default)]
pub struct ExperimentConfig {
    #[serde(rename = "MODEL")]
    pub model: ModelSection,
    #[serde(rename = "TRAIN")]
    pub train: TrainSection,
    #[serde(rename = "DATA")]
    pub data: DataSection,
    #[serde(rename = "TEST")]
    pub test: TestSection,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "SCREAMING_SNAKE_CASE")]
pub struct ModelSection {
    /// MAE encoder file (or, if the name contains "OSTrack", a full checkpoint) used to start
    /// training. Relative paths are resolved by the caller.
    pub pretrain_file: String,
    /// Ignored (as in the original).
    pub extra_merger: bool,
    /// Ignored (as in the original).
    pub return_inter: bool,
    /// Ignored (as in the original).
    pub return_stages: Vec<i64>,
    pub backbone: BackboneSection,
    pub head: HeadSection,
}

impl Default for ModelSection {
    fn default() -> Self {
        Self {
            pretrain_file: "mae_pretrain_vit_base.pth".into(),
            extra_merger: false,
            return_inter: false,
            return_stages: vec![],
            backbone: BackboneSection::default(),
            head: HeadSection::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "SCREAMING_SNAKE_CASE")]
pub struct BackboneSection {
    /// `vit_base_patch16_224` (plain ViT) or `vit_base_patch16_224_ce` (candidate elimination).
    #[serde(rename = "TYPE")]
    pub kind: BackboneType,
    /// Patch-embedding stride; must equal the patch size.
    pub stride: usize,
    /// 0-based block indices that eliminate candidates.
    pub ce_loc: Vec<usize>,
    /// Keep ratio of each CE block, in `CE_LOC` order.
    pub ce_keep_ratio: Vec<f64>,
    /// `CTR_POINT`, `CTR_REC`, `ALL` or `GT_BOX`.
    pub ce_template_range: CeTemplateRange,
    /// Ignored (as in the original).
    pub mid_pe: bool,
    /// Ignored (as in the original).
    pub sep_seg: bool,
    /// Ignored (the original always concatenates directly).
    pub cat_mode: String,
    /// Ignored (as in the original).
    pub merge_layer: i64,
    /// Ignored (the original hard-codes `add_cls_token = False`).
    pub add_cls_token: bool,
    /// Ignored (as in the original).
    pub cls_token_use_mode: String,
    /// ostrack-rs extension: token width (ViT-B: 768).
    pub embed_dim: usize,
    /// ostrack-rs extension: number of transformer blocks (ViT-B: 12).
    pub depth: usize,
    /// ostrack-rs extension: attention heads (ViT-B: 12).
    pub num_heads: usize,
    /// ostrack-rs extension: MLP hidden width / token width (ViT-B: 4.0).
    pub mlp_ratio: f64,
    /// ostrack-rs extension: patch side in pixels (ViT-B/16: 16).
    pub patch_size: usize,
    /// ostrack-rs extension: side of the pretraining position grid incl. nothing else
    /// (MAE ViT-B at 224 px: 14, i.e. 1 + 14² = 197 stored positions).
    pub pretrain_grid: usize,
}

impl Default for BackboneSection {
    fn default() -> Self {
        Self {
            kind: BackboneType::Vit,
            stride: 16,
            ce_loc: vec![],
            ce_keep_ratio: vec![],
            ce_template_range: CeTemplateRange::All,
            mid_pe: false,
            sep_seg: false,
            cat_mode: "direct".into(),
            merge_layer: 0,
            add_cls_token: false,
            cls_token_use_mode: "ignore".into(),
            embed_dim: 768,
            depth: 12,
            num_heads: 12,
            mlp_ratio: 4.0,
            patch_size: 16,
            pretrain_grid: 14,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "SCREAMING_SNAKE_CASE")]
pub struct HeadSection {
    /// Only `CENTER` is supported (the only head the official configs use).
    #[serde(rename = "TYPE")]
    pub kind: HeadType,
    pub num_channels: usize,
}

impl Default for HeadSection {
    fn default() -> Self {
        Self {
            kind: HeadType::Center,
            num_channels: 256,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "SCREAMING_SNAKE_CASE")]
pub struct TrainSection {
    pub lr: f64,
    pub weight_decay: f64,
    pub epoch: usize,
    pub lr_drop_epoch: usize,
    pub batch_size: usize,
    pub num_worker: usize,
    pub optimizer: Optimizer,
    pub backbone_multiplier: f64,
    pub giou_weight: f64,
    pub l1_weight: f64,
    /// Ignored (the original never reads it: nothing is frozen).
    pub freeze_layers: Vec<i64>,
    pub print_interval: usize,
    pub val_epoch_interval: usize,
    pub grad_clip_norm: f64,
    pub amp: bool,
    pub ce_start_epoch: usize,
    pub ce_warm_epoch: usize,
    pub drop_path_rate: f64,
    pub scheduler: SchedulerSection,
}

impl Default for TrainSection {
    fn default() -> Self {
        Self {
            lr: 1e-4,
            weight_decay: 1e-4,
            epoch: 500,
            lr_drop_epoch: 400,
            batch_size: 16,
            num_worker: 8,
            optimizer: Optimizer::AdamW,
            backbone_multiplier: 0.1,
            giou_weight: 2.0,
            l1_weight: 5.0,
            freeze_layers: vec![0],
            print_interval: 50,
            val_epoch_interval: 20,
            grad_clip_norm: 0.1,
            amp: false,
            ce_start_epoch: 20,
            ce_warm_epoch: 80,
            drop_path_rate: 0.1,
            scheduler: SchedulerSection::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "SCREAMING_SNAKE_CASE")]
pub struct SchedulerSection {
    /// `step` (StepLR, the only one the configs use).
    #[serde(rename = "TYPE")]
    pub kind: SchedulerType,
    /// Ignored: the original's StepLR always uses gamma 0.1.
    pub decay_rate: f64,
}

impl Default for SchedulerSection {
    fn default() -> Self {
        Self {
            kind: SchedulerType::Step,
            decay_rate: 0.1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "SCREAMING_SNAKE_CASE")]
pub struct DataSection {
    pub sampler_mode: SamplerMode,
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
    pub max_sample_interval: usize,
    pub train: DatasetMix,
    pub val: DatasetMix,
    pub search: CropSection,
    pub template: CropSection,
}

impl Default for DataSection {
    fn default() -> Self {
        Self {
            sampler_mode: SamplerMode::Causal,
            mean: vec![0.485, 0.456, 0.406],
            std: vec![0.229, 0.224, 0.225],
            max_sample_interval: 200,
            train: DatasetMix {
                datasets_name: vec!["LASOT".into(), "GOT10K_vottrain".into()],
                datasets_ratio: vec![1.0, 1.0],
                sample_per_epoch: 60000,
            },
            val: DatasetMix {
                datasets_name: vec!["GOT10K_votval".into()],
                datasets_ratio: vec![1.0],
                sample_per_epoch: 10000,
            },
            search: CropSection {
                number: 1,
                size: 320,
                factor: 5.0,
                center_jitter: 4.5,
                scale_jitter: 0.5,
            },
            template: CropSection {
                number: 1,
                size: 128,
                factor: 2.0,
                center_jitter: 0.0,
                scale_jitter: 0.0,
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default, rename_all = "SCREAMING_SNAKE_CASE")]
pub struct DatasetMix {
    pub datasets_name: Vec<String>,
    pub datasets_ratio: Vec<f64>,
    pub sample_per_epoch: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "SCREAMING_SNAKE_CASE")]
pub struct CropSection {
    pub number: usize,
    pub size: usize,
    pub factor: f64,
    pub center_jitter: f64,
    pub scale_jitter: f64,
}

impl Default for CropSection {
    fn default() -> Self {
        Self {
            number: 1,
            size: 128,
            factor: 2.0,
            center_jitter: 0.0,
            scale_jitter: 0.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "SCREAMING_SNAKE_CASE")]
pub struct TestSection {
    pub template_factor: f64,
    pub template_size: usize,
    pub search_factor: f64,
    pub search_size: usize,
    pub epoch: usize,
}

impl Default for TestSection {
    fn default() -> Self {
        Self {
            template_factor: 2.0,
            template_size: 128,
            search_factor: 5.0,
            search_size: 320,
            epoch: 500,
        }
    }
}

/// `MODEL.BACKBONE.TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BackboneType {
    /// `vit_base_patch16_224`: the plain ViT.
    #[serde(rename = "vit_base_patch16_224")]
    Vit,
    /// `vit_base_patch16_224_ce`: the ViT with candidate elimination.
    #[serde(rename = "vit_base_patch16_224_ce")]
    VitCe,
}

/// `MODEL.BACKBONE.CE_TEMPLATE_RANGE`: which template tokens score the search tokens in CE
/// blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CeTemplateRange {
    /// All template rows (no mask).
    All,
    /// The single token whose bottom-right corner touches the crop centre.
    CtrPoint,
    /// The 2×2 tokens around the crop centre.
    CtrRec,
    /// The target box rasterised on the template grid.
    GtBox,
}

impl CeTemplateRange {
    /// The variant for its config name (`ALL`, `CTR_POINT`, ...), by the same serde names the
    /// config files use.
    pub fn parse(s: &str) -> Option<Self> {
        use serde::de::IntoDeserializer;
        let name: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
            s.into_deserializer();
        Self::deserialize(name).ok()
    }
}

/// `MODEL.HEAD.TYPE`: only the center head exists in OSTrack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HeadType {
    #[serde(rename = "CENTER")]
    Center,
}

/// `TRAIN.OPTIMIZER`: the original builds AdamW and raises on anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Optimizer {
    #[serde(rename = "ADAMW")]
    AdamW,
}

/// `TRAIN.SCHEDULER.TYPE`: StepLR (the original's `Mstep` is not implemented here, and no
/// official config uses it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SchedulerType {
    #[serde(rename = "step")]
    Step,
}

/// `DATA.SAMPLER_MODE`: the original's causal sampler (the only mode OSTrack trains with).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SamplerMode {
    #[serde(rename = "causal")]
    Causal,
}

impl BackboneSection {
    /// Whether the backbone is the candidate-elimination variant.
    pub fn is_ce(&self) -> bool {
        self.kind == BackboneType::VitCe
    }
}
