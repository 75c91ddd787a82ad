//! PyTorch's `torch.save` zip format.

mod read;
mod write;

pub use read::{STATE_DICT_KEYS, TorchCheckpoint, extract_state_dict, read_torch_file};
pub use write::write_torch_state_dict;
