//! The OSTrack network on Burn: patch embedding, ViT blocks, candidate elimination (CE) with token
//! recovery, the center-predictor head and `cal_bbox`, numerically faithful to the official
//! PyTorch code (see `shared/spec/OSTRACK.md` §1).
//!
//! Module and field names follow the official state-dict keys (`backbone.blocks.3.attn.qkv`,
//! `box_head.conv1_ctr`), so [`weights`] maps a checkpoint 1:1. The crate takes a `&Device`
//! everywhere and knows no backend; binaries choose it.

pub mod backbone;
pub mod ce;
pub mod config;
pub mod head;
mod host;
pub mod host_attention;
pub mod host_conv;
pub mod host_gelu;
mod host_math;
pub mod ostrack;
pub mod readback;
pub mod template_mask;
pub mod trace;
pub mod vit;
pub mod weights;

pub use config::OSTrackConfig;
pub use head::{CenterPredictor, cal_bbox};
pub use ostrack::{OSTrack, OSTrackOutput};
pub use readback::{ReadBackError, read_f32, read_i64};
pub use template_mask::{CeMaskError, ce_template_mask};
pub use weights::LoadError;
