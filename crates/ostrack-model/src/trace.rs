//! Optional capture of intermediate tensors, named like the parity fixtures' `trace.*` keys
//! (`block3.x`, `block3.ce_score`, `head.conv1_ctr`, ...). Used by parity tests and
//! `ostrack parity`; the normal forward passes `None` and pays nothing.

use burn::prelude::*;

#[derive(Debug, Clone)]
pub enum Traced {
    Float(TensorData),
    Int(TensorData),
}

#[derive(Debug, Default, Clone)]
pub struct ForwardTrace {
    pub entries: Vec<(String, Traced)>,
}

impl ForwardTrace {
    pub fn float<const D: usize>(&mut self, name: impl Into<String>, t: &Tensor<D>) {
        self.entries
            .push((name.into(), Traced::Float(t.clone().into_data())));
    }

    pub fn int<const D: usize>(&mut self, name: impl Into<String>, t: &Tensor<D, Int>) {
        self.entries
            .push((name.into(), Traced::Int(t.clone().into_data())));
    }

    pub fn get(&self, name: &str) -> Option<&Traced> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }
}
