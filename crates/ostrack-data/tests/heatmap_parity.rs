//! Heat-map labels equal the official `generate_heatmap` bit for bit (`losses.safetensors`).

use ostrack_data::generate_heatmap;
use ostrack_testkit::Fixture;

#[test]
fn heatmaps_match_official_exactly() {
    let fx = Fixture::open("losses");
    let cases = fx.sidecar["cases"].as_object().expect("cases");
    let mut checked = 0;
    for (case, meta) in cases {
        let key = format!("{case}.heatmap");
        if !fx.has(&key) {
            continue;
        }
        let search_size = meta["search_size"].as_u64().unwrap() as usize;
        let feat = meta["feat_size"].as_u64().unwrap() as usize;
        let stride = search_size / feat;
        let gt = fx.f32(&format!("{case}.gt_xywh"));
        let boxes: Vec<[f64; 4]> = gt
            .chunks_exact(4)
            .map(|b| [b[0] as f64, b[1] as f64, b[2] as f64, b[3] as f64])
            .collect();
        let got = generate_heatmap(&boxes, search_size, stride);
        let want = fx.f32(&key);
        assert_eq!(fx.shape(&key), vec![boxes.len(), feat, feat], "{key}");
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            let (s, rest) = (i / (feat * feat), i % (feat * feat));
            assert!(
                a.to_bits() == b.to_bits(),
                "{key}: sample {s} cell ({}, {}): {a} vs {b}",
                rest / feat,
                rest % feat
            );
        }
        checked += 1;
    }
    assert!(checked > 0, "no heat maps in the fixture");
}
