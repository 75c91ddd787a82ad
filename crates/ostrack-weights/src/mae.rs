//! MAE pretrain weights → OSTrack backbone (spec §1.4, §2.3): the encoder tensors are copied
//! under `backbone.`, and the template/search position embeddings are derived from the
//! 224-pixel `pos_embed` by bicubic resizing, as `BaseBackbone.finetune_track` does.

use crate::bicubic::resize_token_grid;
use crate::{HostTensor, StateDict, TensorValues, WeightsError};

/// Input geometry of the tracker the backbone is prepared for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackerGeometry {
    /// Template crop side in pixels (`DATA.TEMPLATE.SIZE`, e.g. 128).
    pub template_size: usize,
    /// Search crop side in pixels (`DATA.SEARCH.SIZE`, e.g. 256).
    pub search_size: usize,
    /// ViT patch size (16); also the backbone stride.
    pub patch_size: usize,
}

/// The backbone part of an OSTrack state dict, plus the MAE keys that OSTrack's ViT has no
/// parameter for (dropped, as the official `load_state_dict(strict=False)` does).
#[derive(Debug, Clone)]
pub struct MappedBackbone {
    pub backbone: StateDict,
    pub ignored_keys: Vec<String>,
}

const POS_EMBED: &str = "pos_embed";
const CLS_TOKEN: &str = "cls_token";
const PATCH_WEIGHT: &str = "patch_embed.proj.weight";

/// Maps an MAE encoder state dict (keys without `backbone.`, e.g. `blocks.0.attn.qkv.weight`)
/// to `backbone.*` tensors, adding `backbone.pos_embed_z` / `backbone.pos_embed_x`.
pub fn mae_to_ostrack_backbone(
    mae: &StateDict,
    geometry: &TrackerGeometry,
) -> Result<MappedBackbone, WeightsError> {
    let err = |key: &str, message: String| WeightsError::Tensor {
        key: key.to_string(),
        message,
    };
    let pos = mae.get(POS_EMBED).ok_or_else(|| {
        err(
            POS_EMBED,
            "missing from the MAE state dict (is this an encoder checkpoint's `model` dict?)"
                .into(),
        )
    })?;
    let &[1, tokens, dim] = pos.shape.as_slice() else {
        return Err(err(
            POS_EMBED,
            format!("expected shape [1, 1 + grid², dim], found {:?}", pos.shape),
        ));
    };
    let TensorValues::F32(pos_values) = &pos.values else {
        return Err(err(
            POS_EMBED,
            format!("expected a float tensor, found {}", pos.dtype.name()),
        ));
    };
    // HostTensor's fields are public, so its values may disagree with its shape; resizing
    // indexes the values by the shape.
    if tokens.checked_mul(dim) != Some(pos_values.len()) {
        return Err(err(
            POS_EMBED,
            format!(
                "holds {} values, shape {:?} needs {tokens}×{dim}",
                pos_values.len(),
                pos.shape
            ),
        ));
    }
    // Token 0 is the cls position; the rest is a square grid (14×14 for 224 / 16).
    let grid = (tokens.saturating_sub(1) as f64).sqrt().round() as usize;
    if tokens < 2 || grid.checked_mul(grid) != Some(tokens - 1) {
        return Err(err(
            POS_EMBED,
            format!("{tokens} tokens is not 1 cls token + a square grid"),
        ));
    }
    if let Some(w) = mae.get(PATCH_WEIGHT) {
        let kernel = w.shape.get(2..4);
        if kernel != Some(&[geometry.patch_size, geometry.patch_size][..]) {
            return Err(err(
                PATCH_WEIGHT,
                format!(
                    "shape {:?} does not match patch size {}",
                    w.shape, geometry.patch_size
                ),
            ));
        }
    }
    let side = |pixels: usize, what: &str| {
        let n = pixels / geometry.patch_size.max(1);
        if n == 0 {
            Err(err(
                POS_EMBED,
                format!(
                    "{what} size {pixels} is smaller than the patch size {}",
                    geometry.patch_size
                ),
            ))
        } else {
            Ok(n)
        }
    };
    let (z_side, x_side) = (
        side(geometry.template_size, "template")?,
        side(geometry.search_size, "search")?,
    );

    let patch_grid = &pos_values[dim..];
    let resized = |n: usize| {
        let values = resize_token_grid(patch_grid, dim, (grid, grid), (n, n));
        HostTensor {
            shape: vec![1, n * n, dim],
            dtype: pos.dtype,
            values: TensorValues::F32(values),
        }
    };

    let mut backbone = StateDict::new();
    let mut ignored_keys = Vec::new();
    if let Some(cls) = mae.get(CLS_TOKEN) {
        backbone.insert(format!("backbone.{CLS_TOKEN}"), cls.clone());
    }
    backbone.insert(format!("backbone.{POS_EMBED}"), pos.clone());
    backbone.insert("backbone.pos_embed_z", resized(z_side));
    backbone.insert("backbone.pos_embed_x", resized(x_side));
    for (key, tensor) in mae.iter() {
        if key == CLS_TOKEN || key == POS_EMBED {
            continue;
        }
        if is_vit_encoder_key(key) {
            backbone.insert(format!("backbone.{key}"), tensor.clone());
        } else {
            ignored_keys.push(key.to_string());
        }
    }
    Ok(MappedBackbone {
        backbone,
        ignored_keys,
    })
}

/// Parameters OSTrack's ViT owns (besides cls_token / pos_embed). MAE decoder weights,
/// `mask_token` and classification heads have no counterpart.
fn is_vit_encoder_key(key: &str) -> bool {
    ["patch_embed.", "blocks.", "norm."]
        .iter()
        .any(|p| key.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_mae(grid: usize, dim: usize) -> StateDict {
        let tokens = 1 + grid * grid;
        let mut sd = StateDict::new();
        sd.insert(CLS_TOKEN, HostTensor::f32(vec![1, 1, dim], vec![0.5; dim]));
        sd.insert(
            POS_EMBED,
            HostTensor::f32(
                vec![1, tokens, dim],
                (0..tokens * dim).map(|i| i as f32).collect(),
            ),
        );
        sd.insert(
            PATCH_WEIGHT,
            HostTensor::f32(vec![dim, 3, 16, 16], vec![0.0; dim * 3 * 256]),
        );
        sd.insert(
            "decoder_pred.weight",
            HostTensor::f32(vec![2], vec![1.0, 2.0]),
        );
        sd
    }

    #[test]
    fn keeps_grid_size_when_sizes_match_and_drops_decoder_keys() {
        let geometry = TrackerGeometry {
            template_size: 64,
            search_size: 32,
            patch_size: 16,
        };
        let mapped = mae_to_ostrack_backbone(&tiny_mae(4, 2), &geometry).unwrap();
        let keys: Vec<&str> = mapped.backbone.keys().collect();
        assert_eq!(
            keys,
            [
                "backbone.cls_token",
                "backbone.pos_embed",
                "backbone.pos_embed_z",
                "backbone.pos_embed_x",
                "backbone.patch_embed.proj.weight"
            ]
        );
        // 4×4 → 4×4 is the identity: the grid without its cls row.
        let z = mapped.backbone.get("backbone.pos_embed_z").unwrap();
        assert_eq!(z.shape, vec![1, 16, 2]);
        assert_eq!(
            z.as_f32().unwrap(),
            &(2..34).map(|i| i as f32).collect::<Vec<_>>()[..]
        );
        assert_eq!(
            mapped.backbone.get("backbone.pos_embed_x").unwrap().shape,
            vec![1, 4, 2]
        );
        assert_eq!(mapped.ignored_keys, vec!["decoder_pred.weight"]);
    }

    #[test]
    fn rejects_bad_inputs_naming_the_key() {
        let geometry = TrackerGeometry {
            template_size: 128,
            search_size: 256,
            patch_size: 16,
        };
        let mut no_pos = tiny_mae(4, 2);
        no_pos.remove(POS_EMBED);
        let e = mae_to_ostrack_backbone(&no_pos, &geometry)
            .unwrap_err()
            .to_string();
        assert!(e.contains("pos_embed") && e.contains("missing"), "{e}");

        let mut not_square = tiny_mae(4, 2);
        not_square.insert(POS_EMBED, HostTensor::f32(vec![1, 16, 2], vec![0.0; 32]));
        let e = mae_to_ostrack_backbone(&not_square, &geometry)
            .unwrap_err()
            .to_string();
        assert!(e.contains("square grid"), "{e}");

        let other_patch = TrackerGeometry {
            patch_size: 14,
            ..geometry
        };
        let e = mae_to_ostrack_backbone(&tiny_mae(4, 2), &other_patch)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("patch_embed.proj.weight") && e.contains("patch size 14"),
            "{e}"
        );
    }
}
