//! Reading the parity fixtures (`$OSTRACK_FIXTURES`, see `../shared/fixtures/README.md`): one
//! safetensors file of tensors and its JSON sidecar per fixture. Missing or malformed files
//! panic with the path: a test must not pass without its fixture.

use std::path::PathBuf;

/// `OSTRACK_FIXTURES`, else `../shared/fixtures` relative to the repository root.
pub fn fixtures_dir() -> PathBuf {
    match std::env::var_os("OSTRACK_FIXTURES") {
        Some(p) => PathBuf::from(p),
        // The testkit lives in `crates/ostrack-testkit`, two levels below the repository root.
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"),
    }
}

/// One fixture file: its tensors and its JSON sidecar.
pub struct Fixture {
    pub name: String,
    bytes: Vec<u8>,
    pub sidecar: serde_json::Value,
}

impl Fixture {
    pub fn open(stem: &str) -> Fixture {
        let dir = fixtures_dir();
        let st = dir.join(format!("{stem}.safetensors"));
        let bytes = std::fs::read(&st).unwrap_or_else(|e| panic!("{}: {e}", st.display()));
        let js = dir.join(format!("{stem}.json"));
        let text = std::fs::read_to_string(&js).unwrap_or_else(|e| panic!("{}: {e}", js.display()));
        let sidecar =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", js.display()));
        Fixture {
            name: stem.to_string(),
            bytes,
            sidecar,
        }
    }

    fn tensors(&self) -> safetensors::SafeTensors<'_> {
        safetensors::SafeTensors::deserialize(&self.bytes).expect("valid safetensors")
    }

    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .tensors()
            .names()
            .into_iter()
            .map(|s| s.to_string())
            .collect();
        v.sort();
        v
    }

    pub fn has(&self, name: &str) -> bool {
        self.tensors().tensor(name).is_ok()
    }

    pub fn shape(&self, name: &str) -> Vec<usize> {
        self.tensors()
            .tensor(name)
            .unwrap_or_else(|e| panic!("{}: {name}: {e}", self.name))
            .shape()
            .to_vec()
    }

    pub fn f32(&self, name: &str) -> Vec<f32> {
        let t = self
            .tensors()
            .tensor(name)
            .unwrap_or_else(|e| panic!("{}: {name}: {e}", self.name));
        assert_eq!(t.dtype(), safetensors::Dtype::F32, "{name}");
        t.data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }

    pub fn u8(&self, name: &str) -> Vec<u8> {
        let t = self
            .tensors()
            .tensor(name)
            .unwrap_or_else(|e| panic!("{}: {name}: {e}", self.name));
        assert_eq!(t.dtype(), safetensors::Dtype::U8, "{name}");
        t.data().to_vec()
    }
}

/// A JSON array of numbers as f64.
pub fn json_f64s(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}
