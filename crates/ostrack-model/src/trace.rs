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
    /// Records a float tensor. It reads a copy made by an elementwise op (`x * 1`, exact), not
    /// the tensor itself: on Burn's fusion backends a direct read-back of a block output that
    /// the forward goes on using returned wrong values (wgpu on lavapipe, fixture
    /// `model_tiny_ce`: `block4.x` 0.19 relative off, while `block5.x`, computed from that very
    /// tensor, matched the official one to 7e-7; reading it twice, or a copy, gave the right
    /// values). The same class as Burn's open fusion read-back issues (tracel-ai/burn#5257).
    pub fn float<const D: usize>(&mut self, name: impl Into<String>, t: &Tensor<D>) {
        let copy = t.clone().mul_scalar(1.0);
        self.entries
            .push((name.into(), Traced::Float(copy.into_data())));
    }

    pub fn int<const D: usize>(&mut self, name: impl Into<String>, t: &Tensor<D, Int>) {
        self.entries
            .push((name.into(), Traced::Int(t.clone().into_data())));
    }

    pub fn get(&self, name: &str) -> Option<&Traced> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }
}
