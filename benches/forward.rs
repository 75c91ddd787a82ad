//! Real-size OSTrack forward on the CPU (Flex), batch 1, model only: the number to compare with
//! PyTorch's 242 ms (OSTrack-256 CE, 2 threads, see BENCHMARKS.md).
//!
//! `cargo bench --bench forward` (all four variants) or
//! `cargo bench --bench forward -- vitb_256_mae_ce` (one).

use std::path::Path;

use burn::prelude::*;
use burn::tensor::Distribution;
use criterion::{Criterion, criterion_group, criterion_main};
use ostrack_config::load_config;
use ostrack_model::ostrack::ForwardOptions;
use ostrack_model::{OSTrack, OSTrackConfig, ce};

const VARIANTS: [&str; 4] = [
    "vitb_256_mae_ce_32x4_ep300",
    "vitb_256_mae_32x4_ep300",
    "vitb_384_mae_ce_32x4_ep300",
    "vitb_384_mae_32x4_ep300",
];

fn forward(c: &mut Criterion) {
    let device = Device::flex();
    let mut group = c.benchmark_group("forward_b1_flex");
    group.sample_size(10);
    for name in VARIANTS {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("configs")
            .join(format!("{name}.yaml"));
        let mut cfg = OSTrackConfig::from_experiment(&load_config(&path).expect("config"));
        cfg.drop_path_rate = 0.0;
        let model = OSTrack::new(&cfg, &device);
        let (t, s) = (cfg.template_size, cfg.search_size);
        let template = Tensor::<4>::random([1, 3, t, t], Distribution::Normal(0.0, 1.0), &device);
        let search = Tensor::<4>::random([1, 3, s, s], Distribution::Normal(0.0, 1.0), &device);
        let mask = ostrack_model::ce_template_mask(
            cfg.ce_template_range,
            t,
            cfg.patch_size,
            &[[0.25, 0.25, 0.5, 0.5]],
        )
        .expect("template mask")
        .map(|m| ce::mask_tensor(&m, 1, &device));
        group.bench_function(name, |bench| {
            bench.iter(|| {
                let out = model.forward_with(
                    template.clone(),
                    search.clone(),
                    mask.clone(),
                    None,
                    ForwardOptions::default(),
                );
                out.pred_boxes.into_data()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, forward);
criterion_main!(benches);
