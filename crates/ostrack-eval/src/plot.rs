//! Success / precision / normalised-precision plots (PNG and SVG) with several trackers per
//! chart and the legend score in brackets, like the plots in tracking papers.
//!
//! Text is drawn with DejaVu Sans embedded from the `dejavu` crate through plotters'
//! `ab_glyph` backend, so PNGs render the same on machines without any system font.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use crate::error::{EvalError, Result};
use crate::report::{AnalysisReport, CurveKind, ScoreUnit};
use ostrack_atomic::{Durability, PendingFile};

const SIZE: (u32, u32) = (900, 700);
const FONT: &str = "sans-serif";

/// pytracking's `get_plot_draw_styles` colours, best tracker first.
const PALETTE: [RGBColor; 17] = [
    RGBColor(255, 0, 0),
    RGBColor(0, 255, 0),
    RGBColor(0, 0, 255),
    RGBColor(0, 0, 0),
    RGBColor(255, 0, 255),
    RGBColor(0, 255, 255),
    RGBColor(128, 128, 128),
    RGBColor(136, 0, 21),
    RGBColor(255, 127, 39),
    RGBColor(0, 162, 232),
    RGBColor(0, 128, 0),
    RGBColor(255, 128, 51),
    RGBColor(26, 102, 0),
    RGBColor(153, 77, 230),
    RGBColor(102, 179, 26),
    RGBColor(51, 26, 179),
    RGBColor(179, 153, 51),
];

fn fonts_ready() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| {
        register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
            && register_font(FONT, FontStyle::Bold, dejavu::sans::bold()).is_ok()
    })
}

struct Series {
    label: String,
    points: Vec<(f64, f64)>,
}

struct PlotSpec {
    title: String,
    x_desc: &'static str,
    y_desc: String,
    x_max: f64,
    y_max: f64,
    legend: SeriesLabelPosition,
    series: Vec<Series>,
}

fn spec_for(report: &AnalysisReport, kind: CurveKind) -> Option<PlotSpec> {
    // (legend value, tracker, points)
    type Entry = (f64, String, Vec<(f64, f64)>);
    let mut entries: Vec<Entry> = report
        .trackers
        .iter()
        .filter_map(|t| {
            let c = t.curve(kind)?;
            let points = c
                .thresholds
                .iter()
                .copied()
                .zip(c.values.iter().copied())
                .collect();
            Some((c.summary, t.name.clone(), points))
        })
        .collect();
    if entries.is_empty() {
        return None;
    }
    // Best first (NaN last), as the legends of tracking papers.
    let key = |v: f64| if v.is_nan() { f64::NEG_INFINITY } else { v };
    entries.sort_by(|a, b| key(b.0).total_cmp(&key(a.0)));
    let (scale, y_suffix) = match report.unit {
        ScoreUnit::Percent => (100.0, " [%]"),
        ScoreUnit::Fraction => (1.0, ""),
    };
    let summary_text = |v: f64| match report.unit {
        ScoreUnit::Percent => format!("{v:.1}"),
        ScoreUnit::Fraction => format!("{v:.3}"),
    };
    let series = entries
        .into_iter()
        .map(|(summary, name, points)| Series {
            label: format!("{name} [{}]", summary_text(summary)),
            points,
        })
        .collect();
    let x_max = report
        .trackers
        .iter()
        .filter_map(|t| t.curve(kind))
        .flat_map(|c| c.thresholds.iter().copied())
        .fold(0.0f64, f64::max);
    let (name, x_desc, y_desc, legend) = match kind {
        CurveKind::Success => (
            "Success plot",
            "Overlap threshold",
            "Success rate",
            SeriesLabelPosition::LowerLeft,
        ),
        CurveKind::Precision => (
            "Precision plot",
            "Location error threshold [pixels]",
            "Precision",
            SeriesLabelPosition::LowerRight,
        ),
        CurveKind::NormPrecision => (
            "Normalized precision plot",
            "Normalized location error threshold",
            "Normalized precision",
            SeriesLabelPosition::LowerRight,
        ),
    };
    Some(PlotSpec {
        title: format!("{name} on {} ({})", report.dataset, report.preset),
        x_desc,
        y_desc: format!("{y_desc}{y_suffix}"),
        x_max: if x_max > 0.0 { x_max } else { 1.0 },
        y_max: scale,
        legend,
        series,
    })
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    spec: &PlotSpec,
) -> std::result::Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(&spec.title, (FONT, 26).into_font().style(FontStyle::Bold))
        .margin(20)
        .x_label_area_size(55)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..spec.x_max, 0f64..spec.y_max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(spec.x_desc)
        .y_desc(spec.y_desc.as_str())
        .label_style((FONT, 16))
        .x_label_formatter(&|v| {
            if spec.x_max > 1.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.2}")
            }
        })
        .y_label_formatter(&|v| {
            if spec.y_max > 1.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.1}")
            }
        })
        .axis_desc_style((FONT, 19))
        .bold_line_style(RGBColor(200, 200, 200))
        .light_line_style(RGBColor(238, 238, 238))
        .draw()
        .map_err(err)?;
    for (i, s) in spec.series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(
                s.points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(err)?
            .label(s.label.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(spec.legend.clone())
        .margin(12)
        .label_font((FONT, 17))
        .background_style(WHITE.mix(0.92))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

fn render_png(path: &Path, spec: &PlotSpec) -> Result<()> {
    let tmp = PendingFile::new(path)?;
    {
        let root = BitMapBackend::new(tmp.temp_path(), SIZE).into_drawing_area();
        draw(root, spec).map_err(|message| EvalError::Plot {
            path: path.to_path_buf(),
            message,
        })?;
    }
    Ok(tmp.commit(Durability::Renamed)?)
}

fn render_svg(path: &Path, spec: &PlotSpec) -> Result<()> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        draw(root, spec).map_err(|message| EvalError::Plot {
            path: path.to_path_buf(),
            message,
        })?;
    }
    Ok(ostrack_atomic::write(
        path,
        svg.as_bytes(),
        Durability::Renamed,
    )?)
}

/// Draws every curve kind of the report as `<out_dir>/<kind>_plot.png` and `.svg`
/// (`success`, `precision`, `norm_precision`); returns the files written.
pub fn render_plots(report: &AnalysisReport, out_dir: &Path) -> Result<Vec<PathBuf>> {
    if !fonts_ready() {
        return Err(EvalError::Plot {
            path: out_dir.to_path_buf(),
            message: "the embedded DejaVu Sans font could not be loaded".to_string(),
        });
    }
    std::fs::create_dir_all(out_dir).map_err(|e| EvalError::io(out_dir, e))?;
    let mut written = Vec::new();
    for kind in [
        CurveKind::Success,
        CurveKind::Precision,
        CurveKind::NormPrecision,
    ] {
        let Some(spec) = spec_for(report, kind) else {
            continue;
        };
        let png = out_dir.join(format!("{}_plot.png", kind.name()));
        render_png(&png, &spec)?;
        written.push(png);
        let svg = out_dir.join(format!("{}_plot.svg", kind.name()));
        render_svg(&svg, &spec)?;
        written.push(svg);
    }
    Ok(written)
}

/// A chart other crates draw with the same embedded font and atomic PNG + SVG output as the
/// benchmark plots (for example `ostrack track`'s per-frame confidence chart).
pub trait Chart {
    /// Canvas size in pixels (width, height).
    fn size(&self) -> (u32, u32);

    /// Draws the chart on `root`; text should use the font family `font`.
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        font: &str,
    ) -> std::result::Result<(), String>;
}

/// Writes `chart` to `png` and `svg`, each atomically (temporary file + rename).
pub fn write_chart(chart: &impl Chart, png: &Path, svg: &Path) -> Result<()> {
    let plot_error = |path: &Path, message: String| EvalError::Plot {
        path: path.to_path_buf(),
        message,
    };
    if !fonts_ready() {
        return Err(plot_error(
            png,
            "the embedded DejaVu Sans font could not be loaded".to_string(),
        ));
    }
    let tmp = PendingFile::new(png)?;
    {
        let root = BitMapBackend::new(tmp.temp_path(), chart.size()).into_drawing_area();
        chart
            .draw(&root, FONT)
            .and_then(|()| root.present().map_err(|e| e.to_string()))
            .map_err(|m| plot_error(png, m))?;
    }
    tmp.commit(Durability::Renamed)?;
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, chart.size()).into_drawing_area();
        chart
            .draw(&root, FONT)
            .and_then(|()| root.present().map_err(|e| e.to_string()))
            .map_err(|m| plot_error(svg, m))?;
    }
    Ok(ostrack_atomic::write(
        svg,
        text.as_bytes(),
        Durability::Renamed,
    )?)
}
