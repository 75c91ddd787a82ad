//! One seed, one model: the initial parameters do not depend on the device (`seeded_model`
//! draws them with Flex's host RNG). Its own test binary: Flex's RNG is process-wide, and other
//! tests drawing from it on parallel threads would interleave with the draws compared here.

use burn::prelude::*;
use ostrack_model::OSTrackConfig;
use ostrack_testkit::test_device;
use ostrack_train::seeded_model;

#[test]
fn a_seed_gives_the_same_initial_model_on_every_device() {
    let cfg = ostrack_train::demo::demo_config().unwrap();
    let model_cfg = OSTrackConfig::from_experiment(&cfg);
    let on_flex = seeded_model(&model_cfg, 7, &Device::flex())
        .unwrap()
        .to_state_dict();
    let on_test_device = seeded_model(&model_cfg, 7, &test_device().device.autodiff())
        .unwrap()
        .to_state_dict();
    assert_eq!(on_flex.len(), on_test_device.len());
    for (key, t) in on_flex.iter() {
        let other = on_test_device.get(key).unwrap();
        assert_eq!(t.to_f32(), other.to_f32(), "{key}");
    }
    let other_seed = seeded_model(&model_cfg, 8, &Device::flex())
        .unwrap()
        .to_state_dict();
    assert!(
        on_flex
            .iter()
            .any(|(k, t)| other_seed.get(k).unwrap().to_f32() != t.to_f32()),
        "another seed must give another model"
    );
}
