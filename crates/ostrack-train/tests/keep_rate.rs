//! `adjust_keep_rate` for every epoch 1-300 of the official schedules (CE_WARM_EPOCH 80 and 50)
//! against the formula of spec §4.3, and the token counts it implies.

use std::path::PathBuf;

use ostrack_model::OSTrackConfig;
use ostrack_train::keep_rate_for_epoch;

fn config(name: &str) -> ostrack_config::ExperimentConfig {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../configs")
        .join(name);
    ostrack_config::load_config(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Spec §4.3: r = 0.7 + 0.3·(cos((epoch − start)/W · π) + 1)/2 inside the warm-up window.
fn spec_formula(epoch: usize, start: usize, warm: usize, base: f64) -> f64 {
    if epoch < start {
        1.0
    } else if epoch >= start + warm {
        base
    } else {
        base + (1.0 - base)
            * (((epoch - start) as f64 / warm as f64 * std::f64::consts::PI).cos() + 1.0)
            / 2.0
    }
}

#[test]
fn keep_rate_follows_the_spec_for_both_schedules() {
    for (file, warm) in [
        ("vitb_256_mae_ce_32x4_ep300.yaml", 80),
        ("vitb_256_mae_ce_32x4_got10k_ep100.yaml", 50),
    ] {
        let cfg = config(file);
        assert_eq!(cfg.train.ce_warm_epoch, warm, "{file}");
        let start = cfg.train.ce_start_epoch;
        let base = cfg.model.backbone.ce_keep_ratio[0];
        let model = OSTrackConfig::from_experiment(&cfg);
        let mut first_removal = None;
        for epoch in 1..=300 {
            let ours = keep_rate_for_epoch(&cfg, epoch);
            let expected = spec_formula(epoch, start, warm, base);
            assert!(
                (ours.unwrap_or(1.0) - expected).abs() <= 1e-15,
                "{file} epoch {epoch}: {ours:?} vs {expected}"
            );
            assert_eq!(
                ours.is_none(),
                epoch < start,
                "{file} epoch {epoch}: no elimination before CE_START_EPOCH"
            );
            let tokens = model.search_tokens_per_block(Some(ours.unwrap_or(1.0)));
            let at_ce: Vec<usize> = model.ce_loc.iter().map(|&l| tokens[l]).collect();
            // The counts implied by the spec formula, ceil in f64 block after block.
            let mut alive = model.search_grid().pow(2);
            let implied: Vec<usize> = model
                .ce_loc
                .iter()
                .map(|_| {
                    if expected < 1.0 {
                        alive = (expected * alive as f64).ceil() as usize;
                    }
                    alive
                })
                .collect();
            assert_eq!(
                at_ce, implied,
                "{file} epoch {epoch}: tokens after the CE blocks"
            );
            if first_removal.is_none() && at_ce[0] < 256 {
                first_removal = Some(epoch);
            }
            if epoch >= start + warm {
                assert_eq!(
                    at_ce,
                    vec![180, 126, 89],
                    "{file} epoch {epoch}: 256 → 180 → 126 → 89 at 0.7"
                );
            }
        }
        let expected_first = if warm == 80 { 26 } else { 24 };
        assert_eq!(
            first_removal,
            Some(expected_first),
            "{file}: first epoch that removes tokens (spec §4.3)"
        );
    }
    // Spec examples (256, W = 80).
    let cfg = config("vitb_256_mae_ce_32x4_ep300.yaml");
    let model = OSTrackConfig::from_experiment(&cfg);
    for (epoch, tokens) in [
        (30, [254, 252, 250]),
        (60, [218, 186, 159]),
        (80, [191, 143, 107]),
        (100, [180, 126, 89]),
    ] {
        let all = model.search_tokens_per_block(keep_rate_for_epoch(&cfg, epoch));
        let at_ce: Vec<usize> = model.ce_loc.iter().map(|&l| all[l]).collect();
        assert_eq!(at_ce, tokens, "epoch {epoch}");
    }
}
