//! Python pickle support limited to what PyTorch checkpoints contain.

mod opcodes;
mod pickler;
mod unpickler;
mod value;

pub(crate) use pickler::{PickledTensor, pickle_state_dict};
pub(crate) use unpickler::unpickle;
pub use value::{OpaqueObject, PickleValue, StorageRef, TensorRef};
