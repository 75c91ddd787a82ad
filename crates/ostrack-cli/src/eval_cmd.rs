//! `ostrack analyze`.

use std::process::ExitCode;

use anyhow::Result;
use ostrack_eval::{AnalyzeRequest, TrackerRuns};

use crate::cli::AnalyzeArgs;

pub fn analyze(a: &AnalyzeArgs) -> Result<ExitCode> {
    let (dataset, preset) = (a.dataset, a.preset);
    let trackers = a.results.iter().map(TrackerRuns::from_dir).collect();
    let report = ostrack_eval::analyze(&AnalyzeRequest {
        dataset,
        data_root: a.data_root.clone(),
        trackers,
        preset,
    })?;
    if a.json {
        println!("{}", ostrack_eval::report_json(&report)?);
    } else {
        print!("{}", ostrack_eval::format_table(&report));
        if a.per_sequence {
            print!("{}", ostrack_eval::format_sequence_tables(&report));
        }
    }
    if let Some(dir) = &a.plot {
        for file in ostrack_eval::render_plots(&report, dir)? {
            eprintln!("plot: {}", file.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
