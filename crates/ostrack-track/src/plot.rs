//! The chart `ostrack track` writes beside `boxes.txt`: the tracker's confidence (peak score)
//! per frame with the lost threshold and the lost frames marked, and, when the source has a
//! per-frame ground truth, the IoU per frame with the average overlap and success rate.
//! Font and atomic PNG/SVG output come from `ostrack-eval`'s [`Chart`] support.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use ostrack_eval::Chart;

use crate::overlap::{GroundTruthOverlap, SUCCESS_IOU};

const WIDTH: u32 = 1000;
const PANEL_HEIGHT: u32 = 400;
const TITLE_HEIGHT: u32 = 40;

const CONFIDENCE: RGBColor = RGBColor(0, 90, 200);
const LOST: RGBColor = RGBColor(220, 0, 0);
const IOU: RGBColor = RGBColor(0, 140, 60);
const GUIDE: RGBColor = RGBColor(120, 120, 120);

/// What one `track` run plots.
pub(crate) struct TrackChart<'a> {
    pub title: String,
    /// Score of every frame; frame 0 (the init box, score 1 by definition) is not drawn.
    pub scores: &'a [f32],
    pub lost_threshold: Option<f32>,
    pub lost_frames: &'a [usize],
    pub overlap: Option<&'a GroundTruthOverlap>,
}

type DrawResult = std::result::Result<(), String>;

impl Chart for TrackChart<'_> {
    fn size(&self) -> (u32, u32) {
        let panels = if self.overlap.is_some() { 2 } else { 1 };
        (WIDTH, TITLE_HEIGHT + panels * PANEL_HEIGHT)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, font: &str) -> DrawResult {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        root.fill(&WHITE).map_err(err)?;
        let body = root
            .titled(&self.title, (font, 22).into_font().style(FontStyle::Bold))
            .map_err(err)?;
        match self.overlap {
            Some(overlap) => {
                let panels = body.split_evenly((2, 1));
                self.draw_confidence(&panels[0], font)?;
                self.draw_overlap(&panels[1], overlap, font)
            }
            None => self.draw_confidence(&body, font),
        }
    }
}

impl TrackChart<'_> {
    /// Last frame index, at least 1 so the axis range is never empty.
    fn x_max(&self) -> f64 {
        self.scores.len().saturating_sub(1).max(1) as f64
    }

    fn draw_confidence<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        font: &str,
    ) -> DrawResult {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        // The threshold may be set outside [0, 1] (every frame lost, or none): keep it visible.
        let t = self.lost_threshold.map(f64::from);
        let y_min = t.map_or(0.0, |t| t.min(0.0));
        let y_max = t.map_or(1.0, |t| t.max(1.0)) + 0.05;
        let x_max = self.x_max();
        let mut chart = ChartBuilder::on(area)
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..x_max, y_min..y_max)
            .map_err(err)?;
        configure_mesh(&mut chart, font, x_max, "Confidence (peak score)").map_err(err)?;
        let points: Vec<(f64, f64)> = self
            .scores
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, &s)| (i as f64, f64::from(s)))
            .collect();
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                CONFIDENCE.stroke_width(2),
            ))
            .map_err(err)?
            .label("confidence")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 24, y)], CONFIDENCE.stroke_width(2)));
        if let Some(t) = t {
            chart
                .draw_series(DashedLineSeries::new(
                    [(0.0, t), (x_max, t)],
                    8,
                    5,
                    LOST.stroke_width(1),
                ))
                .map_err(err)?
                .label(format!("lost threshold {t:.2}"))
                .legend(|(x, y)| PathElement::new([(x, y), (x + 24, y)], LOST.stroke_width(1)));
            let lost = self
                .lost_frames
                .iter()
                .filter_map(|&i| i.checked_sub(1).and_then(|k| points.get(k)));
            chart
                .draw_series(lost.map(|&p| Circle::new(p, 3, LOST.filled())))
                .map_err(err)?
                .label(format!("lost ({} frames)", self.lost_frames.len()))
                .legend(|(x, y)| Circle::new((x + 12, y), 3, LOST.filled()));
        }
        let mean = points.iter().map(|p| p.1).sum::<f64>() / points.len().max(1) as f64;
        draw_legend(&mut chart, font, away_from(mean, (y_min + y_max) / 2.0)).map_err(err)
    }

    fn draw_overlap<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        overlap: &GroundTruthOverlap,
        font: &str,
    ) -> DrawResult {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        let x_max = self.x_max();
        let mut chart = ChartBuilder::on(area)
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..x_max, 0f64..1.05)
            .map_err(err)?;
        configure_mesh(&mut chart, font, x_max, "IoU with ground truth").map_err(err)?;
        // Frames without a scored IoU (absent target) break the line.
        let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
        let mut previous_scored = false;
        for (i, v) in overlap.ious.iter().enumerate() {
            if let Some(v) = *v {
                let p = (i as f64, v);
                match runs.last_mut() {
                    Some(run) if previous_scored => run.push(p),
                    _ => runs.push(vec![p]),
                }
            }
            previous_scored = v.is_some();
        }
        for (k, run) in runs.into_iter().enumerate() {
            // A lone frame would draw as nothing: give it a dot.
            let dot = if run.len() == 1 { 2 } else { 0 };
            let series = chart
                .draw_series(LineSeries::new(run, IOU.stroke_width(2)).point_size(dot))
                .map_err(err)?;
            if k == 0 {
                series
                    .label("IoU")
                    .legend(|(x, y)| PathElement::new([(x, y), (x + 24, y)], IOU.stroke_width(2)));
            }
        }
        let ao = overlap.average_overlap;
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, ao), (x_max, ao)],
                8,
                5,
                IOU.stroke_width(1),
            ))
            .map_err(err)?
            .label(format!("AO {ao:.3}"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 24, y)], IOU.stroke_width(1)));
        chart
            .draw_series(LineSeries::new(
                [(0.0, SUCCESS_IOU), (x_max, SUCCESS_IOU)],
                GUIDE.stroke_width(1),
            ))
            .map_err(err)?
            .label(format!(
                "IoU {SUCCESS_IOU}: success rate {:.3}",
                overlap.success_rate
            ))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 24, y)], GUIDE.stroke_width(1)));
        draw_legend(&mut chart, font, away_from(ao, 0.5)).map_err(err)
    }
}

type Cartesian =
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>;

fn configure_mesh<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian>,
    font: &str,
    x_max: f64,
    y_desc: &str,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .configure_mesh()
        // Whole frame numbers only: no more labels than frames.
        .x_labels((x_max as usize + 1).min(11))
        .x_desc("Frame")
        .y_desc(y_desc)
        .label_style((font, 14))
        .axis_desc_style((font, 16))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.1}"))
        .bold_line_style(RGBColor(200, 200, 200))
        .light_line_style(RGBColor(238, 238, 238))
        .draw()
}

/// A legend corner in the half of the panel the curve mostly leaves free.
fn away_from(mean: f64, middle: f64) -> SeriesLabelPosition {
    if mean >= middle {
        SeriesLabelPosition::LowerLeft
    } else {
        SeriesLabelPosition::UpperRight
    }
}

fn draw_legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian>,
    font: &str,
    position: SeriesLabelPosition,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .configure_series_labels()
        .position(position)
        .margin(10)
        .label_font((font, 14))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
}
