//! The command line: argument types (clap) and dispatch to the library functions.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::{Args, Parser, Subcommand};

use ostrack_eval::{DatasetId, Preset};

use crate::device::{Backend, device_for};

#[derive(Debug, Parser)]
#[command(
    name = "ostrack",
    version,
    about = "OSTrack in pure Rust: train, track, evaluate"
)]
pub struct Cli {
    /// Compute backend (only those compiled in can start).
    #[arg(long, global = true, value_enum, default_value_t = Backend::Auto)]
    pub backend: Backend,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compare our network with a parity fixture produced by the official code.
    Parity(ParityArgs),
    /// Parameters, tokens per block and forward time of a config's real-size model.
    Profile(ProfileArgs),
    /// Build an initial OSTrack state from pretrained weights.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Convert weight files between PyTorch (.pth/.pth.tar) and safetensors, official keys kept.
    Convert(ConvertArgs),
    /// Score tracking results like the official toolkits; print tables and draw plots.
    Analyze(AnalyzeArgs),
    /// Pack results into a submission archive for the GOT-10k or TrackingNet server.
    Pack(PackArgs),
    /// Dataset tools.
    #[command(subcommand)]
    Data(DataCommand),
    /// Write a deterministic synthetic dataset (real JPEG frames in an official layout).
    Synth(crate::data_cmd::SynthArgs),
    /// Throughput measurements.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Track one target through a video or a folder of frames.
    Track(crate::track_cmd::TrackArgs),
    /// Run the tracker over a benchmark and write result files in the original's layout.
    Test(crate::track_cmd::TestArgs),
    /// Train OSTrack; with no arguments, the embedded demo on a synthetic dataset.
    Train(crate::train_cmd::TrainArgs),
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// The dataset doctor: every problem with file and line; non-zero exit on errors.
    Check(crate::data_cmd::CheckArgs),
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Samples per second of the full training-pair pipeline; last line `samples_per_s=<n>`.
    Data(crate::data_cmd::BenchDataArgs),
}

#[derive(Debug, Args)]
pub struct ParityArgs {
    /// Fixture (`X.safetensors` with its `X.json` sidecar).
    pub fixture: PathBuf,
    /// Weights to use when the fixture holds none (safetensors or PyTorch checkpoint).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Print one JSON object (every check, `passed`, `worst_rel`) instead of the table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ProfileArgs {
    #[arg(long)]
    pub config: PathBuf,
    /// Timed forwards (the median is reported).
    #[arg(long, default_value_t = 10)]
    pub runs: usize,
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Skip the end-to-end tracking step measurement (crop + preprocess + forward + post-process).
    #[arg(long)]
    pub model_only: bool,
    /// Frame size for the end-to-end measurement, `WIDTHxHEIGHT`.
    #[arg(long, default_value = "640x360")]
    pub frame_size: String,
    /// Time training steps instead (train-mode forward, losses, backward, clip, AdamW on
    /// synthetic batches of --batch samples; --runs timed steps after --warmup): samples/s.
    #[arg(long)]
    pub train: bool,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// MAE encoder weights (`mae_pretrain_vit_base.pth` or a safetensors conversion) → OSTrack.
    Mae(ImportMaeArgs),
}

#[derive(Debug, Args)]
pub struct ImportMaeArgs {
    #[arg(long)]
    pub input: PathBuf,
    #[arg(long)]
    pub config: PathBuf,
    /// Output file; `.safetensors` or `.pth` (official key layout either way).
    #[arg(long)]
    pub output: PathBuf,
    /// Only read keys under this prefix of the input (e.g. `mae.`), prefix removed.
    #[arg(long)]
    pub prefix: Option<String>,
    /// Seed of the head initialisation.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    #[arg(long)]
    pub input: PathBuf,
    /// `.safetensors`, or `.pth`/`.pt`/`.pth.tar` for a PyTorch zip checkpoint.
    #[arg(long)]
    pub output: PathBuf,
    #[arg(long)]
    pub prefix: Option<String>,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// got10k-val, lasot, lasot-ext, otb, uav123, nfs, tnl2k, custom.
    #[arg(long)]
    pub dataset: DatasetId,
    #[arg(long)]
    pub data_root: PathBuf,
    /// One folder per tracker (several folders of one tracker = several runs).
    #[arg(long, num_args = 1.., required = true)]
    pub results: Vec<PathBuf>,
    /// got10k, pytracking, lasot-official, trackingnet, otb (default: the dataset's own).
    #[arg(long)]
    pub preset: Option<Preset>,
    /// Folder for success/precision plots (PNG and SVG).
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Print every number as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Also print per-sequence tables.
    #[arg(long)]
    pub per_sequence: bool,
}

/// Benchmark servers that take result packs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PackServer {
    Got10k,
    Trackingnet,
}

#[derive(Debug, Args)]
pub struct PackArgs {
    /// The evaluation server the pack is for.
    #[arg(value_enum)]
    pub server: PackServer,
    #[arg(long)]
    pub results: PathBuf,
    #[arg(long)]
    pub output: PathBuf,
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Parity(a) => {
            let device = device_for(cli.backend)?;
            let report = ostrack_testkit::parity::run_model_parity_with_weights(
                &a.fixture,
                a.weights.as_deref(),
                &device,
            )?;
            if a.json {
                let mut value = serde_json::to_value(&report)?;
                value["passed"] = report.passed().into();
                value["worst_rel"] = report.worst_rel().into();
                println!("{value}");
            } else {
                println!("{report}");
            }
            Ok(if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Profile(a) if a.train => {
            let device = device_for(cli.backend)?;
            let report = crate::profile::run_train_profile(
                &a.config,
                a.batch,
                a.warmup,
                a.runs,
                format!("{device:?}"),
                &device,
            )?;
            if a.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!("{report}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Profile(a) => {
            let device = device_for(cli.backend)?;
            let opts = crate::profile::ProfileOptions {
                config: &a.config,
                runs: a.runs,
                warmup: a.warmup,
                batch: a.batch,
                backend_name: format!("{device:?}"),
                end_to_end_frame: if a.model_only {
                    None
                } else {
                    Some(parse_frame_size(&a.frame_size)?)
                },
            };
            let report = crate::profile::run_profile(&opts, &device)?;
            if a.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!("{report}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Import(ImportCommand::Mae(a)) => {
            let device = device_for(cli.backend)?;
            let s = crate::weights_cmd::import_mae(
                &a.input,
                a.prefix.as_deref(),
                &a.config,
                &a.output,
                a.seed,
                &device,
            )?;
            println!(
                "wrote {} ({} tensors)\n{}",
                a.output.display(),
                s.tensors,
                s.description
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Convert(a) => {
            let state = crate::weights_cmd::convert(&a.input, a.prefix.as_deref(), &a.output)?;
            println!("wrote {} ({} tensors)", a.output.display(), state.len());
            Ok(ExitCode::SUCCESS)
        }
        Command::Analyze(a) => crate::eval_cmd::analyze(&a),
        Command::Train(a) => crate::train_cmd::train(&a, cli.backend),
        Command::Track(a) => crate::track_cmd::track(&a, &device_for(cli.backend)?),
        Command::Test(a) => crate::track_cmd::test(&a, &device_for(cli.backend)?),
        Command::Data(DataCommand::Check(a)) => crate::data_cmd::check(&a),
        Command::Synth(a) => crate::data_cmd::synth(&a),
        Command::Bench(BenchCommand::Data(a)) => crate::data_cmd::bench_data(&a),
        Command::Pack(a) => {
            let summary = match a.server {
                PackServer::Got10k => ostrack_eval::pack_got10k(&a.results, &a.output, None)?,
                PackServer::Trackingnet => {
                    ostrack_eval::pack_trackingnet(&a.results, &a.output, None)?
                }
            };
            println!(
                "wrote {} ({} sequences, {} files)",
                summary.output.display(),
                summary.sequences.len(),
                summary.files
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn parse_frame_size(s: &str) -> Result<(usize, usize)> {
    let parsed = s
        .split_once('x')
        .and_then(|(w, h)| Some((w.trim().parse().ok()?, h.trim().parse().ok()?)));
    match parsed {
        Some((w, h)) if w > 0 && h > 0 => Ok((w, h)),
        _ => bail!("--frame-size `{s}`: expected WIDTHxHEIGHT, e.g. 640x360"),
    }
}
