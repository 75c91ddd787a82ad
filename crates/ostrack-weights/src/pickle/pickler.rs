//! Writes the protocol-2 pickle `torch.save(state_dict)` would write for an ordered dict of
//! tensors: `collections.OrderedDict` of `torch._utils._rebuild_tensor_v2(...)` calls whose
//! storages are persistent ids pointing at `data/<n>` archive entries.

/// One tensor entry of the pickled ordered dict.
pub struct PickledTensor<'a> {
    pub key: &'a str,
    /// Python class in module `torch`, e.g. `FloatStorage`.
    pub storage_type: &'static str,
    /// Name of the archive entry under `data/`.
    pub storage_key: String,
    pub shape: &'a [usize],
}

/// Python's pickler flushes `SETITEMS` in batches of this size; we do the same.
const BATCH: usize = 1000;

pub fn pickle_state_dict(tensors: &[PickledTensor<'_>]) -> Vec<u8> {
    let mut out = Pickler::default();
    out.bytes.extend([0x80, 2]);
    out.global("collections", "OrderedDict");
    out.bytes.extend([b')', b'R']);
    for batch in tensors.chunks(BATCH) {
        out.bytes.push(b'(');
        for t in batch {
            out.unicode(t.key);
            out.tensor(t);
        }
        out.bytes.push(b'u');
    }
    out.bytes.push(b'.');
    out.bytes
}

#[derive(Default)]
struct Pickler {
    bytes: Vec<u8>,
}

impl Pickler {
    fn global(&mut self, module: &str, name: &str) {
        self.bytes.push(b'c');
        self.bytes.extend(module.as_bytes());
        self.bytes.push(b'\n');
        self.bytes.extend(name.as_bytes());
        self.bytes.push(b'\n');
    }

    fn unicode(&mut self, s: &str) {
        self.bytes.push(b'X');
        let len = u32::try_from(s.len()).expect("state-dict key longer than 4 GiB");
        self.bytes.extend(len.to_le_bytes());
        self.bytes.extend(s.as_bytes());
    }

    /// The smallest integer opcode Python would pick.
    fn int(&mut self, v: usize) {
        if let Ok(b) = u8::try_from(v) {
            self.bytes.extend([b'K', b]);
        } else if let Ok(w) = u16::try_from(v) {
            self.bytes.push(b'M');
            self.bytes.extend(w.to_le_bytes());
        } else if let Ok(i) = i32::try_from(v) {
            self.bytes.push(b'J');
            self.bytes.extend(i.to_le_bytes());
        } else {
            // LONG1 with the minimal two's-complement width (keeping a 0 sign byte).
            let mut le = (v as u64).to_le_bytes().to_vec();
            while le.len() > 1 && le[le.len() - 1] == 0 && le[le.len() - 2] & 0x80 == 0 {
                le.pop();
            }
            if le[le.len() - 1] & 0x80 != 0 {
                le.push(0);
            }
            self.bytes.extend([0x8a, le.len() as u8]);
            self.bytes.extend(le);
        }
    }

    fn int_tuple(&mut self, values: &[usize]) {
        match values.len() {
            0 => self.bytes.push(b')'),
            1..=3 => {
                values.iter().for_each(|&v| self.int(v));
                self.bytes.push(0x84 + values.len() as u8);
            }
            _ => {
                self.bytes.push(b'(');
                values.iter().for_each(|&v| self.int(v));
                self.bytes.push(b't');
            }
        }
    }

    fn tensor(&mut self, t: &PickledTensor<'_>) {
        let numel: usize = t.shape.iter().product();
        self.global("torch._utils", "_rebuild_tensor_v2");
        self.bytes.push(b'(');
        // Persistent id ('storage', torch.<Type>Storage, key, 'cpu', numel).
        self.bytes.push(b'(');
        self.unicode("storage");
        self.global("torch", t.storage_type);
        self.unicode(&t.storage_key);
        self.unicode("cpu");
        self.int(numel);
        self.bytes.extend([b't', b'Q']);
        self.int(0); // storage offset
        self.int_tuple(t.shape);
        self.int_tuple(&contiguous_strides(t.shape));
        self.bytes.push(0x89); // requires_grad = False
        self.global("collections", "OrderedDict"); // backward hooks: empty OrderedDict
        self.bytes.extend([b')', b'R']);
        self.bytes.extend([b't', b'R']);
    }
}

/// Row-major strides in elements.
fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1];
    }
    strides
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pickle::unpickle;
    use crate::pickle::value::PickleValue;

    #[test]
    fn written_pickle_reads_back_as_ordered_tensors() {
        let shape_a = [2usize, 3, 4, 5];
        let shape_b: [usize; 0] = [];
        let tensors = [
            PickledTensor {
                key: "a.weight",
                storage_type: "FloatStorage",
                storage_key: "0".into(),
                shape: &shape_a,
            },
            PickledTensor {
                key: "b.count",
                storage_type: "LongStorage",
                storage_key: "1".into(),
                shape: &shape_b,
            },
        ];
        let value = unpickle(&pickle_state_dict(&tensors)).unwrap();
        assert_eq!(value.dict_keys().unwrap(), vec!["a.weight", "b.count"]);
        let PickleValue::Tensor(a) = value.get("a.weight").unwrap() else {
            panic!("not a tensor")
        };
        assert_eq!(
            (a.shape.as_slice(), a.stride.as_slice()),
            (&shape_a[..], &[60, 20, 5, 1][..])
        );
        assert_eq!((a.storage.numel, a.storage.key.as_str()), (120, "0"));
        let PickleValue::Tensor(b) = value.get("b.count").unwrap() else {
            panic!("not a tensor")
        };
        assert_eq!(
            (
                b.shape.len(),
                b.storage.numel,
                b.storage.storage_type.as_str()
            ),
            (0, 1, "LongStorage")
        );
    }

    #[test]
    fn integers_use_the_smallest_opcode_and_read_back() {
        for v in [
            0usize,
            255,
            256,
            65_535,
            65_536,
            i32::MAX as usize,
            1 << 31,
            1 << 40,
            u64::MAX as usize,
        ] {
            let mut p = Pickler::default();
            p.bytes.extend([0x80, 2]);
            p.int(v);
            p.bytes.push(b'.');
            let read = unpickle(&p.bytes).unwrap();
            match read {
                PickleValue::Int(i) => assert_eq!(i as u64, v as u64),
                PickleValue::BigInt(b) => assert_eq!(b.len(), 9, "only u64::MAX needs 9 bytes"),
                other => panic!("{other:?}"),
            }
        }
    }
}
