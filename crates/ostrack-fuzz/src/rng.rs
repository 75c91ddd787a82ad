//! The fuzzer's random numbers: SplitMix64, seeded per case so that any case can be rebuilt
//! from its format and index alone.

/// SplitMix64 (Steele, Lea & Flood): tiny, fast, and good enough to pick mutations.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

/// The golden-ratio increment of SplitMix64, also used to spread case indices.
const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

impl SplitMix64 {
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The generator of case `case` of the format `name`: independent of every other case, so
    /// one case reruns on its own and a long run continues where the default run stopped.
    pub fn for_case(name: &str, case: u64) -> Self {
        let mut rng = Self(fnv1a(name.as_bytes()) ^ case.wrapping_mul(GOLDEN));
        // One step mixes the seed, so neighbouring cases do not start from similar states.
        rng.next_u64();
        rng
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`, and 0 for `n == 0` (the modulo bias is irrelevant here).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// True once in `one_in` draws on average.
    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    /// One of `items` (which must not be empty).
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// FNV-1a: turns a format's name into its stream of cases.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_are_reproducible_and_distinct() {
        let draw = |name: &str, case| SplitMix64::for_case(name, case).next_u64();
        assert_eq!(draw("png", 7), draw("png", 7));
        assert_ne!(draw("png", 7), draw("png", 8));
        assert_ne!(draw("png", 7), draw("gif", 7));
    }

    #[test]
    fn below_stays_in_range() {
        let mut rng = SplitMix64::new(1);
        assert!((0..1000).all(|_| rng.below(7) < 7));
        assert_eq!(rng.below(0), 0);
    }
}
