//! The head's 3×3 convolutions as one matrix product per sample, with the input columns built
//! in host memory (the Flex CPU backend).
//!
//! Flex's convolution re-lays the weight out (`[O, C, 3, 3]` → `[O, 3, 3, C]`) and the input to
//! NHWC on one thread at every call, which made the head's first convolutions (768 → 256
//! channels on a 16×16 map) run at about a third of the matrix-product rate. Here the columns
//! keep PyTorch's weight order, so the weight is used as it is stored (`[O, C·9]`, a free
//! reshape), and the three branches' first convolutions share one set of columns.

use burn::prelude::*;
use rayon::prelude::*;

/// Columns of a 3×3, stride-1, padding-1 convolution: `[B, C·9, H·W]`, row `c·9 + ky·3 + kx`
/// holding input plane `c` shifted by `(ky − 1, kx − 1)`, zero outside. `x` is f32.
pub fn columns_3x3(x: Tensor<4>) -> Tensor<3> {
    let [b, c, h, w] = x.dims();
    let device = x.device();
    let data = x.into_data();
    let src = data
        .as_slice::<f32>()
        .expect("host columns take f32 tensors");
    let plane = h * w;
    let mut cols = vec![0f32; b * c * 9 * plane];
    cols.par_chunks_mut(9 * plane)
        .zip(src.par_chunks(plane))
        .for_each(|(out, input)| {
            for ky in 0..3 {
                for kx in 0..3 {
                    let dst = &mut out[(ky * 3 + kx) * plane..][..plane];
                    // Output x range whose input column `ox + kx − 1` lies inside [0, w).
                    let (x0, x1) = (1usize.saturating_sub(kx), (w + 1 - kx).min(w));
                    for oy in 0..h {
                        let Some(iy) = (oy + ky).checked_sub(1).filter(|&iy| iy < h) else {
                            continue;
                        };
                        let row = &input[iy * w..][..w];
                        dst[oy * w + x0..oy * w + x1]
                            .copy_from_slice(&row[x0 + kx - 1..x1 + kx - 1]);
                    }
                }
            }
        });
    Tensor::from_data(TensorData::new(cols, [b, c * 9, plane]), &device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::module::conv2d;
    use burn::tensor::ops::ConvOptions;

    #[test]
    fn product_with_columns_equals_the_convolution() {
        let device = Device::flex();
        let (b, c, o, h, w) = (2, 5, 7, 6, 4);
        let normal = burn::tensor::Distribution::Normal(0.0, 1.0);
        let x = Tensor::<4>::random([b, c, h, w], normal, &device);
        let weight = Tensor::<4>::random([o, c, 3, 3], normal, &device);
        let expected = conv2d(
            x.clone(),
            weight.clone(),
            None,
            ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
        );
        let cols = columns_3x3(x);
        let ours = weight
            .reshape([1, o, c * 9])
            .matmul(cols)
            .reshape([b, o, h, w]);
        let (a, e) = (
            ours.into_data().try_to_vec::<f32>().unwrap(),
            expected.into_data().try_to_vec::<f32>().unwrap(),
        );
        let worst = a
            .iter()
            .zip(&e)
            .map(|(p, q)| (p - q).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-5, "max |Δ| = {worst}");
    }
}
