//! Element types on disk: names in PyTorch and safetensors, and the little-endian byte
//! encoding of each. Floats are widened to f32 and integers to i64 on read ([`HostTensor`]),
//! and narrowed back to the recorded dtype on write, so every supported dtype except f64
//! round-trips bit-exactly.

use half::{bf16, f16};

use crate::{DType, HostTensor, TensorValues};

impl DType {
    /// PyTorch's name (`float32`, `int64`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::F64 => "float64",
            DType::F16 => "float16",
            DType::BF16 => "bfloat16",
            DType::I64 => "int64",
            DType::I32 => "int32",
            DType::U8 => "uint8",
            DType::Bool => "bool",
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F64 | DType::I64 => 8,
            DType::F32 | DType::I32 => 4,
            DType::F16 | DType::BF16 => 2,
            DType::U8 | DType::Bool => 1,
        }
    }

    /// Bytes `numel` elements take on disk; `None` when that overflows (a corrupt size).
    pub(crate) fn checked_bytes(self, numel: usize) -> Option<usize> {
        numel.checked_mul(self.size())
    }

    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64 | DType::F16 | DType::BF16)
    }

    /// The dtype of a legacy `torch.<Name>Storage` class; `None` for types we cannot hold.
    pub(crate) fn from_torch_storage(class: &str) -> Option<DType> {
        Some(match class {
            "FloatStorage" => DType::F32,
            "DoubleStorage" => DType::F64,
            "HalfStorage" => DType::F16,
            "BFloat16Storage" => DType::BF16,
            "LongStorage" => DType::I64,
            "IntStorage" => DType::I32,
            "ByteStorage" | "UntypedStorage" => DType::U8,
            "BoolStorage" => DType::Bool,
            _ => return None,
        })
    }

    pub(crate) fn torch_storage(self) -> &'static str {
        match self {
            DType::F32 => "FloatStorage",
            DType::F64 => "DoubleStorage",
            DType::F16 => "HalfStorage",
            DType::BF16 => "BFloat16Storage",
            DType::I64 => "LongStorage",
            DType::I32 => "IntStorage",
            DType::U8 => "ByteStorage",
            DType::Bool => "BoolStorage",
        }
    }

    pub(crate) fn from_safetensors(dtype: safetensors::Dtype) -> Option<DType> {
        use safetensors::Dtype as S;
        Some(match dtype {
            S::F32 => DType::F32,
            S::F64 => DType::F64,
            S::F16 => DType::F16,
            S::BF16 => DType::BF16,
            S::I64 => DType::I64,
            S::I32 => DType::I32,
            S::U8 => DType::U8,
            S::BOOL => DType::Bool,
            _ => return None,
        })
    }

    pub(crate) fn to_safetensors(self) -> safetensors::Dtype {
        use safetensors::Dtype as S;
        match self {
            DType::F32 => S::F32,
            DType::F64 => S::F64,
            DType::F16 => S::F16,
            DType::BF16 => S::BF16,
            DType::I64 => S::I64,
            DType::I32 => S::I32,
            DType::U8 => S::U8,
            DType::Bool => S::BOOL,
        }
    }
}

/// Elements of a tensor of `shape`; `None` when the product overflows, which only a corrupt
/// or hostile file can claim.
pub(crate) fn checked_numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}

/// Checks that `len` bytes hold exactly a tensor of `shape` and `dtype` (overflow-checked);
/// the error says what was expected.
pub(crate) fn check_byte_len(dtype: DType, shape: &[usize], len: usize) -> Result<(), String> {
    match checked_numel(shape).and_then(|n| dtype.checked_bytes(n)) {
        Some(expected) if expected == len => Ok(()),
        Some(expected) => Err(format!(
            "{len} bytes for shape {shape:?} of {} (expected {expected})",
            dtype.name()
        )),
        None => Err(format!(
            "shape {shape:?} of {} needs more bytes than memory can hold ({len} present)",
            dtype.name()
        )),
    }
}

/// Decodes `bytes.len() / dtype.size()` little-endian elements (caller checks the length).
pub(crate) fn decode_values(dtype: DType, bytes: &[u8]) -> TensorValues {
    fn each<const N: usize, T>(bytes: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
        bytes
            .chunks_exact(N)
            .map(|c| f(c.try_into().expect("chunk of N bytes")))
            .collect()
    }
    match dtype {
        DType::F32 => TensorValues::F32(each(bytes, f32::from_le_bytes)),
        DType::F64 => TensorValues::F32(each(bytes, |b| f64::from_le_bytes(b) as f32)),
        DType::F16 => TensorValues::F32(each(bytes, |b| f16::from_le_bytes(b).to_f32())),
        DType::BF16 => TensorValues::F32(each(bytes, |b| bf16::from_le_bytes(b).to_f32())),
        DType::I64 => TensorValues::I64(each(bytes, i64::from_le_bytes)),
        DType::I32 => TensorValues::I64(each(bytes, |b| i32::from_le_bytes(b).into())),
        DType::U8 => TensorValues::I64(bytes.iter().map(|&b| b.into()).collect()),
        DType::Bool => TensorValues::I64(bytes.iter().map(|&b| i64::from(b != 0)).collect()),
    }
}

/// The little-endian bytes of `tensor` in its recorded dtype.
pub(crate) fn encode_values(tensor: &HostTensor) -> Vec<u8> {
    // Sized by the values actually held, not by the shape, which could disagree.
    let mut out = Vec::with_capacity(tensor.values_len().saturating_mul(tensor.dtype.size()));
    match (&tensor.values, tensor.dtype) {
        (TensorValues::F32(v), dtype) => {
            for &x in v {
                match dtype {
                    DType::F32 => out.extend(x.to_le_bytes()),
                    DType::F64 => out.extend(f64::from(x).to_le_bytes()),
                    DType::F16 => out.extend(f16::from_f32(x).to_le_bytes()),
                    DType::BF16 => out.extend(bf16::from_f32(x).to_le_bytes()),
                    DType::I64 => out.extend((x as i64).to_le_bytes()),
                    DType::I32 => out.extend((x as i32).to_le_bytes()),
                    DType::U8 => out.push(x as u8),
                    DType::Bool => out.push(u8::from(x != 0.0)),
                }
            }
        }
        (TensorValues::I64(v), dtype) => {
            for &x in v {
                match dtype {
                    DType::I64 => out.extend(x.to_le_bytes()),
                    DType::I32 => out.extend((x as i32).to_le_bytes()),
                    DType::U8 => out.push(x as u8),
                    DType::Bool => out.push(u8::from(x != 0)),
                    DType::F32 => out.extend((x as f32).to_le_bytes()),
                    DType::F64 => out.extend((x as f64).to_le_bytes()),
                    DType::F16 => out.extend(f16::from_f32(x as f32).to_le_bytes()),
                    DType::BF16 => out.extend(bf16::from_f32(x as f32).to_le_bytes()),
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_dtypes_round_trip_bit_exactly() {
        let bytes: Vec<u8> = (0u16..2000)
            .flat_map(|i| (i.wrapping_mul(37)).to_le_bytes())
            .collect();
        for dtype in [DType::F16, DType::BF16] {
            let values = decode_values(dtype, &bytes);
            let tensor = HostTensor {
                shape: vec![2000],
                dtype,
                values,
            };
            let back = encode_values(&tensor);
            // NaN payloads may be canonicalised by the f32 detour; everything else is exact.
            for (i, (a, b)) in bytes.chunks(2).zip(back.chunks(2)).enumerate() {
                let v = u16::from_le_bytes([a[0], a[1]]);
                let is_nan = match dtype {
                    DType::F16 => f16::from_bits(v).is_nan(),
                    _ => bf16::from_bits(v).is_nan(),
                };
                assert!(is_nan || a == b, "{dtype:?} element {i}: {a:?} != {b:?}");
            }
        }
        let ints: Vec<u8> = [-5i64, 0, i64::MAX, i64::MIN]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let t = HostTensor {
            shape: vec![4],
            dtype: DType::I64,
            values: decode_values(DType::I64, &ints),
        };
        assert_eq!(encode_values(&t), ints);
    }
}
