//! Weight files without Python: a name-ordered state dict of host tensors that every reader
//! produces and every writer consumes, so the model crate only ever sees [`StateDict`].
//!
//! * PyTorch zip checkpoints (`torch.save`, `.pth` / `.pth.tar`): [`read_torch_file`],
//!   [`extract_state_dict`], [`write_torch_state_dict`]. Unknown Python classes in a
//!   checkpoint (trainer stats, settings) load as opaque objects.
//! * safetensors: [`read_safetensors`], [`write_safetensors`].
//! * Burn's burnpack (`.bpk`, our training checkpoints): [`read_burnpack`], [`write_burnpack`].
//! * Either, chosen by content / extension: [`load_state_dict_any`], [`save_state_dict`],
//!   [`describe`].
//! * Building an initial OSTrack state: [`mae_to_ostrack_backbone`] (MAE pretrain → backbone
//!   with bicubic-resized position embeddings) and [`init_center_head`].
//!
//! Weight files come from the internet, so every reader treats its input as hostile: sizes
//! are checked against the file (overflow-checked) before anything is allocated for them,
//! nesting is bounded, and any input gives `Ok` or an error naming the file, never a panic
//! or an abort. `tests/hostile_files.rs` holds crafted attacks, `tests/fuzz_parsers.rs` a
//! mutation fuzzer over all formats.

mod bicubic;
mod bounded;
mod burnpack_file;
mod describe;
mod dtype_codec;
mod head_init;
mod load;
mod mae;
pub mod pickle;
mod safetensors_file;
mod state_dict;
mod torch_file;

pub use burnpack_file::{Burnpack, read_burnpack, read_burnpack_metadata, write_burnpack};
pub use describe::describe;
pub use head_init::init_center_head;
pub use load::{
    CHECKPOINT_MODEL_PREFIX, WeightFormat, detect_format, load_state_dict_any, save_state_dict,
};
pub use mae::{MappedBackbone, TrackerGeometry, mae_to_ostrack_backbone};
pub use safetensors_file::{read_safetensors, write_safetensors};
pub use state_dict::{DType, HostTensor, StateDict, TensorValues, Values, WeightsError};
pub use torch_file::{
    STATE_DICT_KEYS, TorchCheckpoint, extract_state_dict, read_torch_file, write_torch_state_dict,
};
