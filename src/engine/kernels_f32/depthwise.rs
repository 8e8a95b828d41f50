//! Depthwise convolution (one filter per channel, multiplier 1), NHWC, any
//! kernel size, stride, dilation and padding, with bias and clamp.
//!
//! Channels are contiguous in NHWC, so each output pixel is computed 16
//! channels at a time: the accumulators start at the bias, take one
//! multiply-add per tap inside the image (taps in the padding are skipped,
//! not multiplied by zero), and are clamped as they are stored.

use super::conv::Geometry;
use super::{Clamp, Fork, SharedMut, madd, split};

/// Channels per block: two AVX2 vectors, four NEON ones.
const CB: usize = 16;
/// Multiply-adds below which the image runs as one task.
const MIN_PARALLEL_MACS: usize = 1 << 17;

/// One image: `y[oy][ox][c] = clamp(bias[c] + sum x[iy][ix][c] * w[ky][kx][c])`
/// with `w` laid out `[ky][kx][c]`.
#[allow(clippy::too_many_arguments)]
pub fn depthwise(
    g: &Geometry,
    w: &[f32],
    bias: &[f32],
    clamp: Clamp,
    x: &[f32],
    y: &mut [f32],
    fork: &dyn Fork,
) {
    assert_eq!(x.len(), g.input_len(), "input size");
    assert_eq!(y.len(), g.oh * g.ow * g.c, "output size");
    assert_eq!(w.len(), g.kh * g.kw * g.c, "weights [kh][kw][c]");
    assert_eq!(bias.len(), g.c, "one bias per channel");
    let macs = g.oh * g.ow * g.c * g.kh * g.kw;
    let tasks = if macs < MIN_PARALLEL_MACS {
        1
    } else {
        fork.threads().min(g.oh).max(1)
    };
    let out = SharedMut(y.as_mut_ptr());
    let rows = select_rows();
    let task = |i: usize| {
        let (oy0, oy1) = split(g.oh, tasks, i);
        // SAFETY: task i writes output rows oy0..oy1 only; split() gives
        // disjoint ranges.
        unsafe { rows(g, w, bias, clamp, x, out, oy0, oy1) }
    };
    if tasks == 1 {
        task(0)
    } else {
        fork.run(tasks, &task)
    }
}

type RowsFn = unsafe fn(&Geometry, &[f32], &[f32], Clamp, &[f32], SharedMut, usize, usize);

fn select_rows() -> RowsFn {
    #[cfg(target_arch = "x86_64")]
    if super::has_avx2_fma() {
        return rows_avx2;
    }
    rows_portable
}

#[allow(clippy::too_many_arguments)]
unsafe fn rows_portable(
    g: &Geometry,
    w: &[f32],
    bias: &[f32],
    clamp: Clamp,
    x: &[f32],
    y: SharedMut,
    oy0: usize,
    oy1: usize,
) {
    unsafe { rows_body::<{ super::BASELINE_FMA }>(g, w, bias, clamp, x, y, oy0, oy1) }
}

/// The portable body compiled with AVX2+FMA (auto-vectorised).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn rows_avx2(
    g: &Geometry,
    w: &[f32],
    bias: &[f32],
    clamp: Clamp,
    x: &[f32],
    y: SharedMut,
    oy0: usize,
    oy1: usize,
) {
    unsafe { rows_body::<true>(g, w, bias, clamp, x, y, oy0, oy1) }
}

/// Output rows `oy0..oy1`.
///
/// # Safety
/// `y` points to `oh * ow * c` floats of which nothing else accesses rows
/// `oy0..oy1` meanwhile.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn rows_body<const FMA: bool>(
    g: &Geometry,
    w: &[f32],
    bias: &[f32],
    clamp: Clamp,
    x: &[f32],
    y: SharedMut,
    oy0: usize,
    oy1: usize,
) {
    let c = g.c;
    let full = c - c % CB;
    for oy in oy0..oy1 {
        let (iy0, ky0, ky1) = Geometry::taps(oy, g.sh, g.dh, g.pad_top, g.kh, g.h);
        // SAFETY: row oy belongs to this task (the caller's contract).
        let yrow = unsafe { std::slice::from_raw_parts_mut(y.ptr().add(oy * g.ow * c), g.ow * c) };
        for ox in 0..g.ow {
            let (ix0, kx0, kx1) = Geometry::taps(ox, g.sw, g.dw, g.pad_left, g.kw, g.w);
            let out = &mut yrow[ox * c..][..c];
            let mut c0 = 0;
            while c0 < full {
                let mut acc: [f32; CB] = bias[c0..][..CB].try_into().expect("CB");
                for ky in ky0..ky1 {
                    let iy = (iy0 + (ky * g.dh) as isize) as usize;
                    for kx in kx0..kx1 {
                        let ix = (ix0 + (kx * g.dw) as isize) as usize;
                        let xs: &[f32; CB] =
                            x[(iy * g.w + ix) * c + c0..][..CB].try_into().expect("CB");
                        let ws: &[f32; CB] =
                            w[(ky * g.kw + kx) * c + c0..][..CB].try_into().expect("CB");
                        for j in 0..CB {
                            acc[j] = madd::<FMA>(xs[j], ws[j], acc[j]);
                        }
                    }
                }
                for (d, v) in out[c0..c0 + CB].iter_mut().zip(acc) {
                    *d = clamp.apply(v);
                }
                c0 += CB;
            }
            for ch in full..c {
                let mut acc = bias[ch];
                for ky in ky0..ky1 {
                    let iy = (iy0 + (ky * g.dh) as isize) as usize;
                    for kx in kx0..kx1 {
                        let ix = (ix0 + (kx * g.dw) as isize) as usize;
                        acc = madd::<FMA>(
                            x[(iy * g.w + ix) * c + ch],
                            w[(ky * g.kw + kx) * c + ch],
                            acc,
                        );
                    }
                }
                out[ch] = clamp.apply(acc);
            }
        }
    }
}
