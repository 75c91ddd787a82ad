//! OSTrack training, step for step as the original trainer: the focal + GIoU + L1 objective,
//! AdamW with a backbone learning-rate multiplier, StepLR, one global-norm gradient clip, the
//! CE keep-rate warm-up, train-mode BatchNorm with PyTorch's unbiased running variance, the
//! original's checkpoint epochs plus atomic checkpoints with resume and Ctrl-C handling, and
//! the demo experiment's inputs (`configs/demo.yaml`, synthetic data; [`demo`]).
//!
//! The loop is a custom one built from Burn's parts (autodiff, `GradientsParams`,
//! `ModuleMapper`): PyTorch's AdamW rounds its scalars in a way Burn's AdamW does not, Burn
//! clips gradients per tensor, and the keep-rate schedule is per epoch.
//!
//! Entry point for the CLI: [`run_training`] with [`TrainOptions`].
//!
//! Several devices (`ostrack train --devices ...`): [`run_training`] takes a slice of devices
//! and trains data parallel with the original's DDP semantics ([`parallel`]): the batch
//! (`TRAIN.BATCH_SIZE`, the total over devices) is split evenly, each device runs its shard's
//! forward/backward pass concurrently with per-device BatchNorm statistics, gradients are
//! averaged on the first device, which clips, steps and checkpoints. Burn 0.22 has a single
//! Flex device, so on a CPU two "devices" are two concurrent workers on the same cores.

pub mod checkpoint;
pub mod demo;
mod error;
pub mod loss;
pub mod optim;
pub mod parallel;
pub mod progress;
mod run;
pub mod schedule;
pub mod step;
pub mod step_profile;

pub use checkpoint::{TrainState, latest_checkpoint, save_checkpoint};
pub use error::TrainError;
pub use loss::{LossValues, LossWeights, compute_losses};
pub use optim::{AdamWSettings, ExactAdamW, GroupLr};
pub use run::{
    ConfigSource, Experiment, ResumeMode, TrainOptions, TrainSummary, checkpoint_model_state,
    keep_rate_for_epoch, lr_for_epoch, prepare_experiment, run_training, seeded_model,
};
pub use schedule::adjust_keep_rate;
pub use step::{StepOutcome, StepSettings, TrainBatch, train_step};
pub use step_profile::{StepProfile, profile_train_steps};
