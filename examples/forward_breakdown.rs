//! Where the time of one OSTrack forward goes (batch 1, Flex): patch embedding, each block's
//! attention and MLP halves at the full token count, the final norm and the head. A profiling
//! aid for issue 7; `ostrack profile` and `cargo bench --bench forward` are the measurements.
//!
//! `cargo run --release --example forward_breakdown -- configs/vitb_256_mae_ce_32x4_ep300.yaml`

use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;
use ostrack_model::vit::AttentionMap;
use ostrack_model::{OSTrack, OSTrackConfig};

fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or("configs/vitb_256_mae_ce_32x4_ep300.yaml".into());
    let cfg = ostrack_config::load_config(std::path::Path::new(&path))?;
    let mcfg = OSTrackConfig::from_experiment(&cfg);
    let device = Device::flex();
    let model = OSTrack::new(&mcfg, &device);
    let (zs, xs) = (cfg.test.template_size, cfg.test.search_size);
    let z_img = Tensor::<4>::random([1, 3, zs, zs], Distribution::Default, &device);
    let x_img = Tensor::<4>::random([1, 3, xs, xs], Distribution::Default, &device);
    let runs = 7;
    let sync = |t: Tensor<3>| {
        let _ = t.into_data();
    };

    let bb = &model.backbone;
    let pe_z = median_ms(runs, || sync(bb.embed_template(z_img.clone(), None)));
    let pe_x = median_ms(runs, || sync(bb.embed_search(x_img.clone(), None)));
    let z = bb.embed_template(z_img.clone(), None);
    let x = bb.embed_search(x_img.clone(), None);
    let tokens = Tensor::cat(vec![z.clone(), x.clone()], 1);
    let n = tokens.dims()[1];
    let block = &bb.blocks[0];
    let attn_fused = median_ms(runs, || {
        sync(block.attention_half(tokens.clone(), AttentionMap::None).0)
    });
    let attn_map = median_ms(runs, || {
        sync(block.attention_half(tokens.clone(), AttentionMap::Full).0)
    });
    let attn_rows = median_ms(runs, || {
        sync(
            block
                .attention_half(tokens.clone(), AttentionMap::FirstRows(z.dims()[1]))
                .0,
        )
    });
    let mlp = median_ms(runs, || sync(block.mlp_half(tokens.clone())));
    let ln = median_ms(runs, || sync(block.norm1.forward(tokens.clone())));
    let qkv = median_ms(runs, || sync(block.attn.qkv.forward(tokens.clone())));
    let fc1 = median_ms(runs, || sync(block.mlp.fc1.forward(tokens.clone())));
    let hidden = block.mlp.fc1.forward(tokens.clone());
    let gelu = median_ms(runs, || {
        sync(burn::tensor::activation::gelu(hidden.clone()))
    });
    let fc2 = median_ms(runs, || sync(block.mlp.fc2.forward(hidden.clone())));
    let mlp_inner = median_ms(runs, || sync(block.mlp.forward(tokens.clone())));
    // Inside the attention half.
    let [b, n_tok, c] = tokens.dims();
    let h = block.attn.num_heads;
    let qkv_out = block.attn.qkv.forward(tokens.clone());
    let split = |t: Tensor<3>| {
        let qkv = t.reshape([b, n_tok, 3, h, c / h]).permute([2, 0, 3, 1, 4]);
        let q = qkv.clone().slice(s![0..1]).squeeze_dim::<4>(0);
        let k = qkv.clone().slice(s![1..2]).squeeze_dim::<4>(0);
        let v = qkv.slice(s![2..3]).squeeze_dim::<4>(0);
        (q, k, v)
    };
    let (q, k, v) = split(qkv_out.clone());
    let fused_strided = median_ms(runs, || {
        let o = burn::tensor::module::attention(
            q.clone(),
            k.clone(),
            v.clone(),
            None,
            None,
            Default::default(),
        );
        let _ = o.into_data();
    });
    let (qc, kc, vc) = (
        q.clone().mul_scalar(1.0),
        k.clone().mul_scalar(1.0),
        v.clone().mul_scalar(1.0),
    );
    let fused_contig = median_ms(runs, || {
        let o = burn::tensor::module::attention(
            qc.clone(),
            kc.clone(),
            vc.clone(),
            None,
            None,
            Default::default(),
        );
        let _ = o.into_data();
    });
    let o = burn::tensor::module::attention(
        qc.clone(),
        kc.clone(),
        vc.clone(),
        None,
        None,
        Default::default(),
    );
    let merge = median_ms(runs, || {
        sync(o.clone().swap_dims(1, 2).reshape([b, n_tok, c]))
    });
    let merged = o.clone().swap_dims(1, 2).reshape([b, n_tok, c]);
    let proj = median_ms(runs, || sync(block.attn.proj.forward(merged.clone())));
    let add = median_ms(runs, || sync(tokens.clone() + merged.clone()));
    let attn_module = median_ms(runs, || {
        sync(block.attn.forward(tokens.clone(), AttentionMap::None).0)
    });
    let split_sync = median_ms(runs, || {
        let (q, k, v) = split(qkv_out.clone());
        let _ = (q.into_data(), k.into_data(), v.into_data());
    });
    let normed = block.norm1.forward(tokens.clone());
    let attn_module_ln = median_ms(runs, || {
        sync(block.attn.forward(normed.clone(), AttentionMap::None).0)
    });
    let qkv_ln = median_ms(runs, || sync(block.attn.qkv.forward(normed.clone())));
    println!(
        "  Attention module {attn_module:.2} (on LayerNorm output {attn_module_ln:.2}, its qkv {qkv_ln:.2}), qkv split + read back {split_sync:.2}"
    );
    let host = |rows: usize| {
        median_ms(runs, || {
            let (o, _) = ostrack_model::host_attention::attention(qkv_out.clone(), h, rows);
            let _ = o.into_data();
        })
    };
    let (host_none, host_rows) = (host(0), host(z.dims()[1]));
    println!(
        "  host attention kernel (merged heads out) {host_none:.2}, with the template rows {host_rows:.2}"
    );
    println!(
        "  attention: fused on strided q/k/v {fused_strided:.2}, on contiguous {fused_contig:.2}, merge heads {merge:.2}, proj {proj:.2}, residual add {add:.2}"
    );
    let f = mcfg.search_grid();
    let head_in = Tensor::<4>::random([1, mcfg.embed_dim, f, f], Distribution::Default, &device);
    let head = median_ms(runs, || {
        let _ = model
            .box_head
            .forward_traced(head_in.clone(), None)
            .score_map
            .into_data();
    });
    let conv1 = median_ms(runs, || {
        let _ = model
            .box_head
            .ctr
            .conv1
            .forward(head_in.clone())
            .into_data();
    });
    let full = median_ms(runs, || {
        let out = model.forward_with(
            z_img.clone(),
            x_img.clone(),
            None,
            None,
            ostrack_model::ostrack::ForwardOptions::default(),
        );
        let _ = out.pred_boxes.into_data();
    });
    println!("{path}: {n} tokens, batch 1, median of {runs} (ms)");
    println!("patch embed template {pe_z:.2}, search {pe_x:.2}");
    println!(
        "block at {n} tokens: attention half fused {attn_fused:.2} / with template rows {attn_rows:.2} / with map {attn_map:.2}, MLP half {mlp:.2}"
    );
    println!(
        "  layer norm {ln:.2}, qkv {qkv:.2}, fc1 {fc1:.2}, gelu (one op) {gelu:.2}, fc2 {fc2:.2}, MLP {mlp_inner:.2}"
    );
    println!("head {head:.2} (ctr conv1 {conv1:.2})");
    println!("full forward {full:.2}");
    Ok(())
}
