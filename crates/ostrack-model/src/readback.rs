//! Device-to-host reads that fail loudly. On a GPU every read waits for the queue, and a read
//! can fail (a kernel or the driver reports an error); `into_data().try_into_vec()
//! .unwrap_or_default()` turned such a failure into an empty vector. These helpers read with
//! [`Tensor::try_into_data_as`] and name the tensor in the error.

use burn::prelude::*;
use burn::tensor::TensorReadError;

/// A tensor could not be read back from its device.
#[derive(Debug, thiserror::Error)]
#[error("reading {what} (shape {shape:?}) back from the device failed: {source}")]
pub struct ReadBackError {
    /// What was read (e.g. "the training step's scalars").
    pub what: String,
    pub shape: Vec<usize>,
    /// Boxed: Burn's error is large, and this one travels in `Result`s of hot paths.
    #[source]
    pub source: Box<TensorReadError>,
}

impl ReadBackError {
    fn new(what: &str, shape: Vec<usize>, source: impl Into<TensorReadError>) -> Self {
        Self {
            what: what.to_string(),
            shape,
            source: Box::new(source.into()),
        }
    }
}

/// All values of a float tensor as f32, row-major (one device-to-host transfer).
pub fn read_f32<const D: usize>(t: Tensor<D>, what: &str) -> Result<Vec<f32>, ReadBackError> {
    let shape = t.dims().to_vec();
    t.try_into_data_as::<f32>()
        .map_err(|e| ReadBackError::new(what, shape.clone(), e))?
        .try_into_vec::<f32>()
        .map_err(|e| ReadBackError::new(what, shape, e))
}

/// All values of an integer tensor as i64, row-major (one device-to-host transfer).
pub fn read_i64<const D: usize>(t: Tensor<D, Int>, what: &str) -> Result<Vec<i64>, ReadBackError> {
    let shape = t.dims().to_vec();
    t.try_into_data_as::<i64>()
        .map_err(|e| ReadBackError::new(what, shape.clone(), e))?
        .try_into_vec::<i64>()
        .map_err(|e| ReadBackError::new(what, shape, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_float_and_int_tensors() {
        let device = Device::flex();
        let t = Tensor::<2>::from_data([[1.0, 2.0], [3.0, 4.5]], &device);
        assert_eq!(read_f32(t, "t").unwrap(), vec![1.0, 2.0, 3.0, 4.5]);
        let i = Tensor::<1, Int>::from_data([3, -1, 7], &device);
        assert_eq!(read_i64(i, "i").unwrap(), vec![3, -1, 7]);
    }

    #[test]
    fn the_error_names_the_tensor() {
        let e = ReadBackError::new(
            "the score map",
            vec![1, 1, 16, 16],
            burn::tensor::TensorReadError::InvalidShape {
                expected: 1,
                actual: 2,
            },
        );
        let msg = e.to_string();
        assert!(msg.contains("the score map"), "{msg}");
        assert!(msg.contains("[1, 1, 16, 16]"), "{msg}");
    }
}
