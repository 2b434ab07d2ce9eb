//! The sweep chart: daemon CPU (% of one core), RSS (MiB) and outbound pacing jitter p99
//! (ms) against concurrent calls, three stacked panels in one PNG (plotters, bitmap
//! backend). Text is drawn with ab_glyph from a TrueType font found on the system
//! (DejaVu Sans or Liberation Sans), read once and kept for the process's life.

use std::path::Path;
use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use crate::load::error::LoadError;
use crate::load::report::SweepReport;

/// Fonts tried, in order.
const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
];

/// Registers the first font found as `sans-serif`; the error says what to install.
fn ensure_font() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            let bytes = FONT_PATHS
                .iter()
                .find_map(|p| std::fs::read(p).ok())
                .ok_or_else(|| {
                    "no TrueType font found for the chart: install fonts-dejavu-core".to_string()
                })?;
            // Plotters keeps a `'static` reference to the font; one leak per process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            register_font("sans-serif", FontStyle::Normal, bytes)
                .map_err(|_| "the chart font is not a valid TrueType font".to_string())
        })
        .clone()
}

/// One panel: title, axis unit, colour and a value per step.
struct Panel {
    title: &'static str,
    unit: &'static str,
    color: RGBColor,
    points: Vec<(f64, f64)>,
}

/// Draws `sweep` into `path` (PNG, 900×960).
pub fn draw_sweep_chart(sweep: &SweepReport, path: &Path) -> Result<(), LoadError> {
    let fail = |detail: String| LoadError::Write {
        path: path.to_path_buf(),
        detail,
    };
    ensure_font().map_err(fail)?;
    let series = |f: &dyn Fn(&crate::load::LoadReport) -> Option<f64>| {
        sweep
            .steps
            .iter()
            .filter_map(|s| f(s).map(|v| (s.calls as f64, v)))
            .collect::<Vec<_>>()
    };
    let panels = [
        Panel {
            title: "vca-bridge CPU vs concurrent calls",
            unit: "% of one core",
            color: RGBColor(200, 60, 40),
            points: series(&|s| s.daemon.as_ref().map(|d| d.cpu_percent_of_core)),
        },
        Panel {
            title: "vca-bridge RSS vs concurrent calls",
            unit: "RSS MiB",
            color: RGBColor(40, 100, 200),
            points: series(&|s| s.daemon.as_ref().map(|d| d.rss_at_n_mib)),
        },
        Panel {
            title: "Outbound RTP pacing jitter p99 at the caller",
            unit: "jitter p99 ms",
            color: RGBColor(30, 150, 70),
            points: series(&|s| s.jitter.p99_ms),
        },
    ];
    let x_max = sweep.steps.iter().map(|s| s.calls).max().unwrap_or(1) as f64 * 1.08;
    let root = BitMapBackend::new(path, (900, 960)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
    for (area, panel) in root.split_evenly((3, 1)).iter().zip(panels) {
        let y_max = panel
            .points
            .iter()
            .map(|p| p.1)
            .fold(0.0f64, f64::max)
            .max(1.0)
            * 1.2;
        let mut chart = ChartBuilder::on(area)
            .caption(panel.title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
            .map_err(|e| fail(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("concurrent calls")
            .y_desc(panel.unit)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .label_style(("sans-serif", 15))
            .draw()
            .map_err(|e| fail(e.to_string()))?;
        chart
            .draw_series(LineSeries::new(
                panel.points.clone(),
                panel.color.stroke_width(2),
            ))
            .map_err(|e| fail(e.to_string()))?;
        chart
            .draw_series(
                panel
                    .points
                    .iter()
                    .map(|p| Circle::new(*p, 5, panel.color.filled())),
            )
            .map_err(|e| fail(e.to_string()))?;
    }
    root.present().map_err(|e| fail(e.to_string()))?;
    Ok(())
}
