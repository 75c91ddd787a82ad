//! CE template masks (`generate_mask_cond`) against the official code on the crop fixture
//! (`crop.safetensors`, fixture E): every `cemask.<mode>.<size>` tensor it lists.

use ostrack_config::CeTemplateRange;
use ostrack_model::ce_template_mask;
use ostrack_testkit::Fixture;

#[test]
fn ce_template_masks_match_official() {
    let fx = Fixture::open("crop");
    let boxes_t = fx.f32("cemask.gt_boxes");
    let boxes: Vec<[f64; 4]> = boxes_t
        .chunks_exact(4)
        .map(|b| [b[0] as f64, b[1] as f64, b[2] as f64, b[3] as f64])
        .collect();
    let names: Vec<String> = fx
        .names()
        .into_iter()
        .filter(|n| n.starts_with("cemask.") && n != "cemask.gt_boxes")
        .collect();
    assert!(!names.is_empty());
    for name in names {
        let mut parts = name.split('.').skip(1);
        let (mode, size) = (
            parts.next().unwrap(),
            parts.next().unwrap().parse::<usize>().unwrap(),
        );
        let range = CeTemplateRange::parse(mode).unwrap_or_else(|| panic!("{name}: unknown mode"));
        let shape = fx.shape(&name);
        let grid = (shape[1] as f64).sqrt() as usize;
        assert_eq!(grid * grid, shape[1], "{name}");
        let stride = size / grid;
        let batch = &boxes[..shape[0]];
        let got = ce_template_mask(range, size, stride, batch)
            .unwrap()
            .expect("a mask");
        let got: Vec<f32> = got.iter().map(|&b| b as u8 as f32).collect();
        assert_eq!(got, fx.f32(&name), "{name}");
    }
}
