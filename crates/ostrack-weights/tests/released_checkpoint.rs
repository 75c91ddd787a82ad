//! Fixture G: a training checkpoint exactly as the official trainer writes it.

mod common;

use common::{assert_same_tensors, fixture, sidecar};
use ostrack_weights::pickle::PickleValue;
use ostrack_weights::{
    STATE_DICT_KEYS, describe, extract_state_dict, read_safetensors, read_torch_file,
};

const CHECKPOINT: &str = "OSTrack_ep0001.pth.tar";

#[test]
fn net_has_exactly_the_listed_keys_shapes_and_dtypes() {
    let keys = sidecar("OSTrack_ep0001.keys.json");
    let net = extract_state_dict(fixture(CHECKPOINT), &["net"]).unwrap();
    let listed = keys["net"].as_object().unwrap();
    assert_eq!(net.len(), listed.len());
    assert_eq!(net.len() as u64, keys["net_num_keys"].as_u64().unwrap());
    for (key, info) in listed {
        let tensor = net
            .get(key)
            .unwrap_or_else(|| panic!("`{key}` missing from net"));
        let shape: Vec<usize> = info["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(tensor.shape, shape, "{key}: shape");
        assert_eq!(
            tensor.dtype.name(),
            info["dtype"].as_str().unwrap(),
            "{key}: dtype"
        );
    }
}

#[test]
fn net_equals_the_fixture_parameters_bit_exactly() {
    let net = extract_state_dict(fixture(CHECKPOINT), &STATE_DICT_KEYS).unwrap();
    let params = read_safetensors(fixture("model_tiny_ce.safetensors"))
        .unwrap()
        .strip_prefix("param.");
    assert_same_tensors(&net, &params);
}

#[test]
fn non_tensor_entries_load_including_unknown_classes() {
    let keys = sidecar("OSTrack_ep0001.keys.json");
    let ckpt = read_torch_file(fixture(CHECKPOINT)).unwrap();
    let top: Vec<String> = keys["top_level_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    assert_eq!(ckpt.top_level_keys(), top);
    assert_eq!(
        ckpt.archive_root(),
        keys["data_pkl"]
            .as_str()
            .unwrap()
            .trim_end_matches("/data.pkl")
    );

    let root = ckpt.root();
    assert_eq!(
        root.get("epoch"),
        Some(&PickleValue::Int(keys["epoch"].as_i64().unwrap()))
    );
    for key in ["actor_type", "net_type"] {
        assert_eq!(
            root.get(key),
            Some(&PickleValue::Str(keys[key].as_str().unwrap().to_string())),
            "{key}"
        );
    }
    for key in ["net_info", "constructor"] {
        assert!(keys[key].is_null());
        assert_eq!(root.get(key), Some(&PickleValue::None), "{key}");
    }

    // Optimizer: groups with their parameter indices and hyper-parameters, and the state
    // tensors, whose shapes the sidecar lists per parameter index.
    let optimizer = root.get("optimizer").unwrap();
    let Some(PickleValue::List(groups)) = optimizer.get("param_groups") else {
        panic!("param_groups is not a list")
    };
    let expected_groups = keys["optimizer"]["param_groups"].as_array().unwrap();
    assert_eq!(groups.len(), expected_groups.len());
    for (group, expected) in groups.iter().zip(expected_groups) {
        let Some(PickleValue::List(params)) = group.get("params") else {
            panic!("params is not a list")
        };
        let expected_params: Vec<PickleValue> = expected["params"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| PickleValue::Int(p.as_i64().unwrap()))
            .collect();
        assert_eq!(params, &expected_params);
        for name in ["lr", "weight_decay", "eps", "initial_lr"] {
            assert_eq!(
                group.get(name),
                Some(&PickleValue::Float(expected[name].as_f64().unwrap())),
                "{name}"
            );
        }
    }
    let Some(PickleValue::Dict(state)) = optimizer.get("state") else {
        panic!("optimizer state is not a dict")
    };
    let expected_state = keys["optimizer"]["state"].as_object().unwrap();
    assert_eq!(state.len(), expected_state.len());
    for (index, per_param) in state {
        let PickleValue::Int(index) = index else {
            panic!("state key is not an int")
        };
        let tensors = ckpt.load_tensors(per_param).unwrap();
        let expected = expected_state[&index.to_string()].as_object().unwrap();
        assert_eq!(tensors.len(), expected.len());
        for (name, shape) in expected {
            let shape: Vec<usize> = shape
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap() as usize)
                .collect();
            assert_eq!(
                tensors.get(name).unwrap().shape,
                shape,
                "state {index}.{name}"
            );
        }
    }

    // Trainer objects stay opaque but keep their class and attributes.
    let stats = root.get("stats").unwrap();
    let train = stats.get("train").unwrap();
    for (name, expected) in keys["stats"]["train"].as_object().unwrap() {
        let Some(PickleValue::Object(meter)) = train.get(name) else {
            panic!("stats.train.{name} is not an object")
        };
        assert_eq!(meter.class, expected["type"].as_str().unwrap());
        let Some(PickleValue::List(history)) = meter.state.as_ref().and_then(|s| s.get("history"))
        else {
            panic!("stats.train.{name}.history is not a list")
        };
        let expected_history = expected["attrs"]["history"].as_array().unwrap();
        assert_eq!(
            history.len(),
            expected_history.len(),
            "stats.train.{name}.history"
        );
        for (got, want) in history.iter().zip(expected_history) {
            let PickleValue::Float(got) = got else {
                panic!("stats.train.{name}.history holds {got:?}")
            };
            // serde_json's default float parsing may be off by an ulp; the pickle holds exact bits.
            let want = want.as_f64().unwrap();
            assert!(
                (got - want).abs() <= 1e-12 * want.abs(),
                "stats.train.{name}.history: {got} vs {want}"
            );
        }
    }
    let Some(PickleValue::Object(settings)) = root.get("settings") else {
        panic!("settings is not an object")
    };
    assert_eq!(settings.class, keys["settings"]["type"].as_str().unwrap());
    let attrs = settings.state.as_ref().unwrap();
    let Some(PickleValue::Object(env)) = attrs.get("env") else {
        panic!("settings.env is not an object")
    };
    assert_eq!(env.class, keys["settings"]["env"]["type"].as_str().unwrap());
    let Some(PickleValue::Object(device)) = attrs.get("device") else {
        panic!("settings.device is not an object")
    };
    assert_eq!(device.class, "torch.device");
    assert_eq!(
        device.args,
        vec![PickleValue::Str("cuda".into()), PickleValue::Int(0)]
    );
    assert_eq!(
        attrs.get("batchsize"),
        Some(&PickleValue::Int(
            keys["settings"]["attrs"]["batchsize"].as_i64().unwrap()
        ))
    );
}

#[test]
fn describe_summarises_the_checkpoint() {
    let keys = sidecar("OSTrack_ep0001.keys.json");
    let text = describe(fixture(CHECKPOINT)).unwrap();
    println!("{text}");
    let net_len = keys["net_num_keys"].as_u64().unwrap();
    let groups = keys["optimizer"]["param_groups"].as_array().unwrap().len();
    for expected in [
        format!("epoch: {}", keys["epoch"]),
        format!("actor_type: {}", keys["actor_type"]),
        format!("net: state dict of {net_len} tensors"),
        format!("{groups} param groups"),
        "<lib.train.admin.settings.Settings object>".to_string(),
        "state dict: `net`".to_string(),
    ] {
        assert!(
            text.contains(&expected),
            "summary lacks {expected:?}:\n{text}"
        );
    }
}
