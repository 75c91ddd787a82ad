//! The OSTrack inference tracker (`lib/test/tracker/ostrack.py`, spec §6): the template is
//! cropped and embedded once per sequence; every later frame is searched around the previous
//! state, the score map is multiplied by a Hann window, `cal_bbox` takes the first arg-max of
//! the windowed map, and the box is mapped back with the previous centre and clipped.

use std::time::{Duration, Instant};

use burn::prelude::*;
use ostrack_config::CeTemplateRange;
use ostrack_data::{BoxXywh, Crop, ImageView, sample_target, transform_image_to_crop};
use ostrack_model::ostrack::ForwardOptions;
use ostrack_model::trace::{ForwardTrace, Traced};
use ostrack_model::{OSTrack, OSTrackConfig, cal_bbox, ce_template_mask};

use crate::error::{Result, TrackError};
use crate::params::{LoadedModel, TrackerParams, check_sizes};
use crate::tracker_math::{
    IMAGENET_MEAN, IMAGENET_STD, clip_box, hann2d, map_box_back, normalize_image,
};

/// `clip_box` margin of the original tracker.
const CLIP_MARGIN: f64 = 10.0;

/// What `initialize` computed (the template the whole sequence is tracked with).
#[derive(Debug, Clone)]
pub struct TemplateInfo {
    pub crop: Crop,
    /// The network input `[1, 3, T, T]`, CHW, `(v/255 - mean)/std` in f32.
    pub normalized: Vec<f32>,
    /// CE template mask (`box_mask_z`, `(T/stride)²` flags); `None` without CE or for `ALL`.
    pub box_mask_z: Option<Vec<bool>>,
}

/// The tracker's answer for one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackOutput {
    /// `[x, y, w, h]` in frame pixels, f64 as the original keeps its state.
    pub bbox: BoxXywh,
    /// Peak of the raw (un-windowed) score map, in (0, 1): a confidence value the original
    /// computes but does not report.
    pub score: f32,
    /// Time spent in each stage of this frame.
    pub times: StageTimes,
}

/// Per-frame time of the tracker's stages.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimes {
    /// `sample_target` on the frame.
    pub crop: Duration,
    /// Normalisation and upload of the crop.
    pub preprocess: Duration,
    /// The network forward (measured up to a device sync only when asked for, see
    /// [`StepRequest::sync_forward`]).
    pub forward: Duration,
    /// Window, `cal_bbox`, read-back, mapping and clipping.
    pub postprocess: Duration,
}

impl StageTimes {
    pub fn total(&self) -> Duration {
        self.crop + self.preprocess + self.forward + self.postprocess
    }
}

/// What a [`Tracker::track_with`] call should return beyond the box.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepRequest {
    /// Keep the search crop and the maps ([`StepDetails`]).
    pub details: bool,
    /// Also compute the last block's attention (CE backbones only).
    pub attention: bool,
    /// Wait for the device after the forward so that `forward` time is the compute time on
    /// asynchronous backends.
    pub sync_forward: bool,
}

/// Intermediates of one tracked frame (for parity checks and visualisation).
#[derive(Debug, Clone)]
pub struct StepDetails {
    /// The state the search region was centred on.
    pub previous_state: BoxXywh,
    pub search: Crop,
    /// Side of the score map.
    pub feat_size: usize,
    /// Raw score map, `F*F` row-major.
    pub score_map: Vec<f32>,
    /// `hann2d · score_map`, the map the box is taken from.
    pub response: Vec<f32>,
    /// `cal_bbox(response, ..)`: normalised `(cx, cy, w, h)` in the search crop.
    pub pred_norm: [f32; 4],
    /// Search-token indices removed by each CE block, in the network's order.
    pub removed_indexes: Vec<Vec<i64>>,
    /// Search tokens kept after the last block, in kept order.
    pub global_index: Vec<i64>,
    /// Attention the search tokens receive in the last block, averaged over heads and template
    /// rows, by raster position (`F*F`; tokens eliminated before that block 0); with
    /// `attention` only.
    pub search_attention: Option<Vec<f32>>,
}

/// The OSTrack tracker for one sequence at a time (`initialize` starts a new one).
#[derive(Debug, Clone)]
pub struct Tracker {
    model: OSTrack,
    params: TrackerParams,
    patch_size: usize,
    candidate_elimination: bool,
    ce_range: CeTemplateRange,
    feat_size: usize,
    window: Tensor<4>,
    device: Device,
    template: Option<Tensor<3>>,
    template_mask: Option<Tensor<2>>,
    state: Option<BoxXywh>,
}

impl Tracker {
    /// A tracker around a loaded network. Fails when the `TEST` sizes do not fit the network.
    pub fn new(
        model: OSTrack,
        model_config: &OSTrackConfig,
        params: TrackerParams,
        device: &Device,
    ) -> Result<Self> {
        check_sizes(model_config, &params)?;
        let feat_size = model_config.search_grid();
        let window = Tensor::<1>::from_data(
            TensorData::new(hann2d(feat_size), [feat_size * feat_size]),
            device,
        )
        .reshape([1, 1, feat_size, feat_size]);
        Ok(Self {
            model,
            params,
            patch_size: model_config.patch_size,
            candidate_elimination: model_config.candidate_elimination
                && !model_config.ce_loc.is_empty(),
            ce_range: model_config.ce_template_range,
            feat_size,
            window,
            device: device.clone(),
            template: None,
            template_mask: None,
            state: None,
        })
    }

    pub fn from_loaded(loaded: &LoadedModel, device: &Device) -> Result<Self> {
        Self::new(
            loaded.model.clone(),
            &loaded.model_config,
            loaded.params,
            device,
        )
    }

    pub fn params(&self) -> &TrackerParams {
        &self.params
    }

    /// Side of the score map (search size / patch size).
    pub fn feat_size(&self) -> usize {
        self.feat_size
    }

    /// The current state (`None` before `initialize`).
    pub fn state(&self) -> Option<BoxXywh> {
        self.state
    }

    /// Starts a sequence: crops and embeds the template around `init_bbox` (`[x, y, w, h]`)
    /// and sets the state to it. The original reports `init_bbox` itself for this frame.
    pub fn initialize(&mut self, frame: ImageView<'_>, init_bbox: BoxXywh) -> Result<TemplateInfo> {
        check_init_box(init_bbox, frame.width(), frame.height())?;
        let size = self.params.template_size;
        let crop = sample_target(frame, init_bbox, self.params.template_factor, size)
            .map_err(|e| TrackError::Tracker(format!("template crop: {e}")))?;
        let normalized = normalize_image(&crop.pixels, size, size, IMAGENET_MEAN, IMAGENET_STD);
        let input = Tensor::<4>::from_data(
            TensorData::new(normalized.clone(), [1, 3, size, size]),
            &self.device,
        );
        let box_mask_z = self.template_box_mask(init_bbox, crop.resize_factor)?;
        self.template_mask = box_mask_z.as_ref().map(|m| {
            let row: Vec<f32> = m.iter().map(|&v| if v { 1.0 } else { 0.0 }).collect();
            let n = row.len();
            Tensor::<2>::from_data(TensorData::new(row, [1, n]), &self.device)
        });
        self.template = Some(self.model.backbone.embed_template(input, None));
        self.state = Some(init_bbox);
        Ok(TemplateInfo {
            crop,
            normalized,
            box_mask_z,
        })
    }

    /// `generate_mask_cond` with the init box in normalised template-crop coordinates (only
    /// `GT_BOX` looks at the box).
    fn template_box_mask(
        &self,
        init_bbox: BoxXywh,
        resize_factor: f64,
    ) -> Result<Option<Vec<bool>>> {
        if !self.candidate_elimination {
            return Ok(None);
        }
        let size = self.params.template_size;
        let template_box =
            transform_image_to_crop(init_bbox, init_bbox, resize_factor, size as f64, true);
        ce_template_mask(self.ce_range, size, self.patch_size, &[template_box])
            .map_err(|e| TrackError::Tracker(format!("CE template mask: {e}")))
    }

    /// Tracks one frame; the state moves to the returned box.
    pub fn track(&mut self, frame: ImageView<'_>) -> Result<TrackOutput> {
        self.track_with(frame, StepRequest::default())
            .map(|(out, _)| out)
    }

    /// [`Tracker::track`] with intermediates and timing options.
    pub fn track_with(
        &mut self,
        frame: ImageView<'_>,
        request: StepRequest,
    ) -> Result<(TrackOutput, Option<StepDetails>)> {
        let (Some(state), Some(template)) = (self.state, self.template.clone()) else {
            return Err(TrackError::Tracker(
                "track() called before initialize()".into(),
            ));
        };
        let (width, height) = (frame.width(), frame.height());
        let size = self.params.search_size;

        let start = Instant::now();
        let search = sample_target(frame, state, self.params.search_factor, size)
            .map_err(|e| TrackError::Tracker(format!("search crop around {state:?}: {e}")))?;
        let cropped = Instant::now();
        let normalized = normalize_image(&search.pixels, size, size, IMAGENET_MEAN, IMAGENET_STD);
        let input = Tensor::<4>::from_data(
            TensorData::new(normalized, [1, 3, size, size]),
            &self.device,
        );
        let prepared = Instant::now();
        // The last block's attention columns follow that block's input order, which only the
        // trace records (a CE last block reorders and drops tokens after attending).
        let mut trace = request.attention.then(ForwardTrace::default);
        let options = ForwardOptions {
            attention: request.attention,
            trace: trace.as_mut(),
        };
        let out = self.model.forward_embedded_template(
            template,
            input,
            self.template_mask.clone(),
            None,
            options,
        );
        if request.sync_forward {
            self.device.sync().map_err(|e| {
                TrackError::Tracker(format!("device sync after the forward: {e:?}"))
            })?;
        }
        let forwarded = Instant::now();

        let response = out.score_map.clone() * self.window.clone();
        let pred = cal_bbox(response.clone(), out.size_map, out.offset_map);
        // The frame's one device-to-host transfer: the box and the peak of the raw score map
        // (a max is exact, so the score is the same f32 as a host-side max).
        let box_and_score = Tensor::cat(vec![pred.reshape([-1]), out.score_map.clone().max()], 0);
        let v = read(box_and_score, "the predicted box and score")?;
        let [x0, x1, x2, x3, score] = v[..] else {
            return Err(TrackError::Tracker(format!(
                "the box and score read back as {} values, expected 5 (batch 1)",
                v.len()
            )));
        };
        let pred_norm = [x0, x1, x2, x3];
        // The original: `(pred_boxes * search_size / resize_factor).tolist()` in float32.
        let scale = size as f32;
        let rf = search.resize_factor as f32;
        let pred_px = pred_norm.map(|v| (v * scale / rf) as f64);
        let mapped = map_box_back(state, pred_px, search.resize_factor, size);
        let bbox = clip_box(mapped, height, width, CLIP_MARGIN);
        self.state = Some(bbox);
        let done = Instant::now();

        let times = StageTimes {
            crop: cropped - start,
            preprocess: prepared - cropped,
            forward: forwarded - prepared,
            postprocess: done - forwarded,
        };
        let output = TrackOutput { bbox, score, times };
        if !request.details {
            return Ok((output, None));
        }
        let mut removed_indexes = Vec::new();
        for removed in out.removed_indexes_s.iter().flatten() {
            removed_indexes.push(read_int(removed.clone(), "removed_indexes_s")?);
        }
        let global_index = read_int(out.global_index_s.clone(), "global_index_s")?;
        let search_attention = match (&out.attn, &trace) {
            (Some(attn), Some(trace)) => {
                let depth = out.search_tokens_per_block.len();
                let order = match depth
                    .checked_sub(2)
                    .map(|i| trace.get(&format!("block{i}.global_index_s")))
                {
                    None => (0..(self.feat_size * self.feat_size) as i64).collect(),
                    Some(Some(Traced::Int(data))) => data.try_to_vec_as::<i64>().map_err(|e| {
                        TrackError::Tracker(format!("reading the traced token order: {e:?}"))
                    })?,
                    Some(_) => {
                        return Err(TrackError::Tracker(
                            "the forward trace lacks the token order".into(),
                        ));
                    }
                };
                Some(self.search_attention(attn, &order)?)
            }
            _ => None,
        };
        let details = StepDetails {
            previous_state: state,
            search,
            feat_size: self.feat_size,
            score_map: read(out.score_map, "the score map")?,
            response: read(response, "the response map")?,
            pred_norm,
            removed_indexes,
            global_index,
            search_attention,
        };
        Ok((output, Some(details)))
    }

    /// Mean over heads and template query rows of the attention paid to each search token
    /// the last block saw (`order`: their raster indices, in column order), scattered to raster
    /// positions.
    fn search_attention(&self, attn: &Tensor<4>, order: &[i64]) -> Result<Vec<f32>> {
        let [_, heads, n, _] = attn.dims();
        let lz = (self.params.template_size / self.patch_size).pow(2);
        let kept = n.saturating_sub(lz);
        if kept != order.len() {
            return Err(TrackError::Tracker(format!(
                "last-block attention covers {kept} search tokens but its input had {}",
                order.len()
            )));
        }
        let per_token = attn
            .clone()
            .slice(s![.., .., 0..lz, lz..n])
            .sum_dim(2)
            .sum_dim(1)
            .div_scalar((heads * lz) as f64);
        let values = read(per_token, "the search attention")?;
        let mut map = vec![0f32; self.feat_size * self.feat_size];
        for (&g, &v) in order.iter().zip(&values) {
            if let Some(slot) = usize::try_from(g).ok().and_then(|g| map.get_mut(g)) {
                *slot = v;
            }
        }
        Ok(map)
    }
}

fn read<const D: usize>(t: Tensor<D>, what: &str) -> Result<Vec<f32>> {
    ostrack_model::read_f32(t, what).map_err(|e| TrackError::Tracker(e.to_string()))
}

fn read_int<const D: usize>(t: Tensor<D, Int>, what: &str) -> Result<Vec<i64>> {
    ostrack_model::read_i64(t, what).map_err(|e| TrackError::Tracker(e.to_string()))
}

/// The init box must have a positive size and overlap the frame.
pub(crate) fn check_init_box(b: BoxXywh, width: usize, height: usize) -> Result<()> {
    let [x, y, w, h] = b;
    if !b.iter().all(|v| v.is_finite()) {
        return Err(TrackError::flag(
            "--init",
            format!("box {b:?} has a non-finite value"),
        ));
    }
    if w <= 0.0 || h <= 0.0 {
        return Err(TrackError::flag(
            "--init",
            format!("box {x},{y},{w},{h} has zero or negative size (w and h must be > 0)"),
        ));
    }
    if x >= width as f64 || y >= height as f64 || x + w <= 0.0 || y + h <= 0.0 {
        return Err(TrackError::flag(
            "--init",
            format!("box {x},{y},{w},{h} lies outside the {width}x{height} frame"),
        ));
    }
    Ok(())
}
