//! Burn module paths of the OSTrack model ↔ the official state-dict keys, so optimizer state,
//! gradients and fixtures can be addressed by the names the original uses.

/// `backbone.norm.gamma` → `backbone.norm.weight`, `box_head.ctr.conv1.bn.beta` →
/// `box_head.conv1_ctr.1.bias`, `box_head.size.conv5.weight` → `box_head.conv5_size.weight`.
pub fn official_key(path: &[String]) -> String {
    let mut parts: Vec<String> = path.to_vec();
    if let Some(last) = parts.last_mut() {
        match last.as_str() {
            "gamma" => *last = "weight".into(),
            "beta" => *last = "bias".into(),
            _ => {}
        }
    }
    if parts.first().map(String::as_str) == Some("box_head") && parts.len() >= 4 {
        let branch = parts[1].clone();
        let layer = parts[2].clone();
        let mut out = vec!["box_head".to_string(), format!("{layer}_{branch}")];
        match parts[3].as_str() {
            "conv" => out.push("0".into()),
            "bn" => out.push("1".into()),
            _ => {}
        }
        // conv5 is a bare Conv2d: its parameter name follows directly.
        let rest_from = if layer == "conv5" { 3 } else { 4 };
        out.extend(parts[rest_from..].iter().cloned());
        return out.join(".");
    }
    parts.join(".")
}

/// Whether a parameter belongs to the backbone group (`"backbone" in name`).
pub fn is_backbone(key: &str) -> bool {
    key.contains("backbone")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<String> {
        s.split('.').map(String::from).collect()
    }

    #[test]
    fn maps_head_and_norm_names() {
        assert_eq!(
            official_key(&p("backbone.norm.gamma")),
            "backbone.norm.weight"
        );
        assert_eq!(
            official_key(&p("backbone.blocks.3.attn.qkv.weight")),
            "backbone.blocks.3.attn.qkv.weight"
        );
        assert_eq!(
            official_key(&p("box_head.ctr.conv1.bn.beta")),
            "box_head.conv1_ctr.1.bias"
        );
        assert_eq!(
            official_key(&p("box_head.offset.conv4.conv.weight")),
            "box_head.conv4_offset.0.weight"
        );
        assert_eq!(
            official_key(&p("box_head.size.conv5.bias")),
            "box_head.conv5_size.bias"
        );
        assert_eq!(
            official_key(&p("box_head.ctr.conv2.bn.running_var")),
            "box_head.conv2_ctr.1.running_var"
        );
    }
}
