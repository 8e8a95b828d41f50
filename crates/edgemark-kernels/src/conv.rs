//! Convolution geometry and the im2col row source: any 2-D convolution
//! (group 1) as a matrix product whose rows are the input windows, gathered
//! MR output pixels at a time into a small buffer instead of one full copy.

use super::gemm::{self, PackedB, Residual, Rows};
use super::{Clamp, Fork};

/// One image's convolution geometry, NHWC. Padding is implicit zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub h: usize,
    pub w: usize,
    /// Input channels.
    pub c: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub dh: usize,
    pub dw: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    pub oh: usize,
    pub ow: usize,
}

impl Geometry {
    /// Input rows `ky` reaches for output row `oy`: the `ky` range whose
    /// input row is inside the image, and the input row of `ky = 0`
    /// (possibly negative).
    #[inline(always)]
    pub(crate) fn taps(
        oy: usize,
        s: usize,
        d: usize,
        pad: usize,
        k: usize,
        h: usize,
    ) -> (isize, usize, usize) {
        let i0 = (oy * s) as isize - pad as isize;
        let d = d as isize;
        // First ky with i0 + ky*d >= 0, last with i0 + ky*d < h.
        let lo = if i0 >= 0 {
            0
        } else {
            ((-i0 + d - 1) / d) as usize
        };
        let hi = if i0 >= h as isize {
            0
        } else {
            (((h as isize - i0 + d - 1) / d) as usize).min(k)
        };
        (i0, lo.min(hi), hi)
    }

    pub fn input_len(&self) -> usize {
        self.h * self.w * self.c
    }
}

/// The windows of one NHWC image as rows `(ky, kx, c)`, one per output pixel.
pub struct Windows<'a> {
    pub x: &'a [f32],
    pub g: &'a Geometry,
}

impl Rows for Windows<'_> {
    fn m(&self) -> usize {
        self.g.oh * self.g.ow
    }
    fn k(&self) -> usize {
        self.g.kh * self.g.kw * self.g.c
    }
    fn gathers(&self) -> bool {
        true
    }
    fn rows<'a>(&'a self, m0: usize, count: usize, buf: &'a mut [f32]) -> (&'a [f32], usize) {
        let g = self.g;
        let k = self.k();
        let c = g.c;
        let (mut oy, mut ox) = (m0 / g.ow, m0 % g.ow);
        for i in 0..count {
            let dst = &mut buf[i * k..][..k];
            let (iy0, ky0, ky1) = Geometry::taps(oy, g.sh, g.dh, g.pad_top, g.kh, g.h);
            let (ix0, kx0, kx1) = Geometry::taps(ox, g.sw, g.dw, g.pad_left, g.kw, g.w);
            if ky0 == 0 && ky1 == g.kh && kx0 == 0 && kx1 == g.kw && g.dw == 1 {
                // The whole window is inside the image and each of its rows
                // is contiguous in NHWC: one copy per kernel row.
                let run = g.kw * c;
                for ky in 0..g.kh {
                    let iy = (iy0 + (ky * g.dh) as isize) as usize;
                    let at = (iy * g.w + ix0 as usize) * c;
                    dst[ky * run..][..run].copy_from_slice(&self.x[at..][..run]);
                }
            } else {
                dst.fill(0.0);
                for ky in ky0..ky1 {
                    let iy = (iy0 + (ky * g.dh) as isize) as usize;
                    for kx in kx0..kx1 {
                        let ix = (ix0 + (kx * g.dw) as isize) as usize;
                        dst[(ky * g.kw + kx) * c..][..c]
                            .copy_from_slice(&self.x[(iy * g.w + ix) * c..][..c]);
                    }
                }
            }
            ox += 1;
            if ox == g.ow {
                ox = 0;
                oy += 1;
            }
        }
        (&buf[..], k)
    }
}

/// One image through a group-1 convolution: `y[oy][ox][co]` for weights
/// packed as `[(ky, kx, c)][co]`, plus `residual` (same shape as `y`) when
/// given. `scratch` holds [`scratch_len`]`(g, fork.threads())` floats.
#[allow(clippy::too_many_arguments)]
pub fn conv_im2col(
    g: &Geometry,
    b: &PackedB,
    clamp: Clamp,
    residual: Option<&[f32]>,
    x: &[f32],
    y: &mut [f32],
    scratch: &mut [f32],
    fork: &dyn Fork,
) {
    assert_eq!(x.len(), g.input_len(), "input size");
    let rows = Windows { x, g };
    let residual = residual.map(|r| Residual { r, ld: b.n() });
    gemm::gemm(&rows, b, clamp, residual, y, b.n(), scratch, fork);
}

/// Scratch floats [`conv_im2col`] needs.
pub fn scratch_len(g: &Geometry, threads: usize) -> usize {
    threads.max(1) * gemm::MR * g.kh * g.kw * g.c
}

/// Weights in `[(ky, kx, c)][co]` order, as [`PackedB::new`] takes them,
/// from any layout: `at(co, c, ky, kx)` reads one weight.
pub fn weights_kkc_co(
    cout: usize,
    cin: usize,
    kh: usize,
    kw: usize,
    at: impl Fn(usize, usize, usize, usize) -> f32,
) -> Vec<f32> {
    let mut w = vec![0f32; kh * kw * cin * cout];
    for ky in 0..kh {
        for kx in 0..kw {
            for c in 0..cin {
                for co in 0..cout {
                    w[((ky * kw + kx) * cin + c) * cout + co] = at(co, c, ky, kx);
                }
            }
        }
    }
    w
}
