//! Per-epoch schedules of the original trainer: the CE keep-rate warm-up (spec §4.3), StepLR
//! (§4.2) and which epochs get a checkpoint (§4.6). Epochs are 1-based as in the original.

/// `adjust_keep_rate(epoch, warmup_epochs=start, total_epochs=start+warm, ITERS_PER_EPOCH=1,
/// base_keep_rate=base)`. `None` stands for the original's integer `1` (no elimination at all).
pub fn adjust_keep_rate(
    epoch: usize,
    start_epoch: usize,
    warm_epochs: usize,
    base_keep_rate: f64,
) -> Option<f64> {
    let total_epochs = start_epoch + warm_epochs;
    if epoch < start_epoch {
        return None;
    }
    if epoch >= total_epochs {
        return Some(base_keep_rate);
    }
    let iters = (epoch - start_epoch) as f64;
    let total_iters = (total_epochs - start_epoch) as f64;
    let max_keep_rate = 1.0;
    Some(
        base_keep_rate
            + (max_keep_rate - base_keep_rate)
                * ((iters / total_iters * std::f64::consts::PI).cos() + 1.0)
                * 0.5,
    )
}

/// Learning rate of a group after `completed_epochs` StepLR steps (`step_size`, gamma), as the
/// chainable form computes it: one multiplication by gamma at every boundary.
pub fn step_lr(base_lr: f64, completed_epochs: usize, step_size: usize, gamma: f64) -> f64 {
    let drops = completed_epochs.checked_div(step_size).unwrap_or(0);
    (0..drops).fold(base_lr, |lr, _| lr * gamma)
}

/// The original's checkpoint rule for 1-based `epoch` of `total` epochs: the last epochs, every
/// 40th and 79/159/239. `every` (e.g. 1 for the demo) adds every multiple of it.
pub fn is_checkpoint_epoch(epoch: usize, total: usize, every: Option<usize>) -> bool {
    let original = epoch + 1 > total
        || epoch.is_multiple_of(40)
        || matches!(epoch, 79 | 159 | 239)
        || epoch + 5 > total;
    original || every.is_some_and(|n| n > 0 && epoch.is_multiple_of(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_epochs_match_the_spec() {
        let e300: Vec<usize> = (1..=300)
            .filter(|&e| is_checkpoint_epoch(e, 300, None))
            .collect();
        assert_eq!(
            e300,
            vec![
                40, 79, 80, 120, 159, 160, 200, 239, 240, 280, 296, 297, 298, 299, 300
            ]
        );
        let e100: Vec<usize> = (1..=100)
            .filter(|&e| is_checkpoint_epoch(e, 100, None))
            .collect();
        assert_eq!(e100, vec![40, 79, 80, 96, 97, 98, 99, 100]);
    }

    #[test]
    fn step_lr_drops_after_the_step_size() {
        assert_eq!(step_lr(4e-4, 239, 240, 0.1), 4e-4);
        assert_eq!(step_lr(4e-4, 240, 240, 0.1), 4e-4 * 0.1);
    }
}
