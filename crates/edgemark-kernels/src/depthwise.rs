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
        fork.threads().min(g.oh * g.ow).max(1)
    };
    let out = SharedMut(y.as_mut_ptr());
    let rows = select_rows();
    // Split by output pixels (not rows): a 7x7 output divides 25/24 where
    // rows would give 4/3.
    let task = |i: usize| {
        let (p0, p1) = split(g.oh * g.ow, tasks, i);
        // SAFETY: task i writes output pixels p0..p1 only; split() gives
        // disjoint ranges.
        unsafe { rows(g, w, bias, clamp, x, out, p0, p1) }
    };
    if tasks == 1 {
        task(0)
    } else {
        fork.run(tasks, &task)
    }
}

/// [`depthwise`] on the portable body only (what non-x86 targets run), for
/// tests on x86 hosts.
#[cfg(test)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn depthwise_portable_only(
    g: &Geometry,
    w: &[f32],
    bias: &[f32],
    clamp: Clamp,
    x: &[f32],
    y: &mut [f32],
) {
    assert_eq!(y.len(), g.oh * g.ow * g.c, "output size");
    let out = SharedMut(y.as_mut_ptr());
    unsafe { rows_portable(g, w, bias, clamp, x, out, 0, g.oh * g.ow) }
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

/// Output pixels `p0..p1` (row-major: pixel `oy * ow + ox`).
///
/// # Safety
/// `y` points to `oh * ow * c` floats of which nothing else accesses pixels
/// `p0..p1` meanwhile.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn rows_body<const FMA: bool>(
    g: &Geometry,
    w: &[f32],
    bias: &[f32],
    clamp: Clamp,
    x: &[f32],
    y: SharedMut,
    p0: usize,
    p1: usize,
) {
    if p1 <= p0 {
        return;
    }
    let c = g.c;
    let (lo, hi) = interior(g.ow, g.sw, g.dw, g.pad_left, g.kw, g.w);
    for oy in p0 / g.ow..=(p1 - 1) / g.ow {
        // This task's columns of row oy.
        let xa = if oy == p0 / g.ow { p0 % g.ow } else { 0 };
        let xb = if oy == (p1 - 1) / g.ow {
            (p1 - 1) % g.ow + 1
        } else {
            g.ow
        };
        let (iy0, ky0, ky1) = Geometry::taps(oy, g.sh, g.dh, g.pad_top, g.kh, g.h);
        // SAFETY: pixels xa..xb of row oy belong to this task (the caller's
        // contract); `yrow[i]` is column `xa + i / c`.
        let yrow = unsafe {
            std::slice::from_raw_parts_mut(y.ptr().add((oy * g.ow + xa) * c), (xb - xa) * c)
        };
        let (ia, ib) = (lo.max(xa), hi.min(xb));
        let fast = g.kh == 3 && g.kw == 3 && ky0 == 0 && ky1 == 3 && ib > ia;
        let (a, b) = if fast { (ia, ib) } else { (xb, xb) };
        for ox in (xa..a).chain(b..xb) {
            pixel::<FMA>(
                g,
                w,
                bias,
                clamp,
                x,
                iy0,
                ky0,
                ky1,
                ox,
                &mut yrow[(ox - xa) * c..][..c],
            );
        }
        if fast {
            let rows: [&[f32]; 3] = std::array::from_fn(|ky| {
                let iy = (iy0 + (ky * g.dh) as isize) as usize;
                &x[iy * g.w * c..][..g.w * c]
            });
            let ix0 = ia * g.sw - g.pad_left;
            let out = &mut yrow[(ia - xa) * c..(ib - xa) * c];
            interior_3x3::<FMA>(g, w, bias, clamp, rows, ix0, out);
        }
    }
}

/// Output columns `lo..hi` whose windows lie inside the image width.
pub(crate) fn interior(
    ow: usize,
    s: usize,
    d: usize,
    pad: usize,
    k: usize,
    w: usize,
) -> (usize, usize) {
    let lo = pad.div_ceil(s);
    let span = (k - 1) * d + 1;
    // Last ox with ox * s - pad + span <= w.
    let hi = if w + pad >= span {
        ((w + pad - span) / s + 1).min(ow)
    } else {
        0
    };
    (lo.min(hi), hi)
}

/// One output pixel, any kernel, taps outside the image skipped.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn pixel<const FMA: bool>(
    g: &Geometry,
    w: &[f32],
    bias: &[f32],
    clamp: Clamp,
    x: &[f32],
    iy0: isize,
    ky0: usize,
    ky1: usize,
    ox: usize,
    out: &mut [f32],
) {
    let c = g.c;
    let full = c - c % CB;
    let (ix0, kx0, kx1) = Geometry::taps(ox, g.sw, g.dw, g.pad_left, g.kw, g.w);
    let mut c0 = 0;
    while c0 < full {
        let mut acc: [f32; CB] = bias[c0..][..CB].try_into().expect("CB");
        for ky in ky0..ky1 {
            let iy = (iy0 + (ky * g.dh) as isize) as usize;
            for kx in kx0..kx1 {
                let ix = (ix0 + (kx * g.dw) as isize) as usize;
                let xs: &[f32; CB] = x[(iy * g.w + ix) * c + c0..][..CB].try_into().expect("CB");
                let ws: &[f32; CB] = w[(ky * g.kw + kx) * c + c0..][..CB].try_into().expect("CB");
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

#[cfg(all(test, target_arch = "x86_64"))]
thread_local! {
    /// Set by tests to run the AVX2 body on a CPU that has AVX-512.
    pub(crate) static NO_AVX512: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn avx512_allowed() -> bool {
    #[cfg(test)]
    if NO_AVX512.with(|c| c.get()) {
        return false;
    }
    std::arch::is_x86_feature_detected!("avx512f")
}

/// Lanes per channel group of the 3x3 interior path.
const V: usize = 8;
/// Output pixels computed together (independent accumulator chains).
const P: usize = 4;

/// A 3x3 kernel over output pixels whose windows are all inside the image:
/// `rows` are the three input rows, `ix0` the input column of the first
/// pixel's window, `out` the pixels' outputs. Channels are taken 8 at a
/// time with the 9 taps' weights held in registers, 4 pixels at once.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn interior_3x3<const FMA: bool>(
    g: &Geometry,
    w: &[f32],
    bias: &[f32],
    clamp: Clamp,
    rows: [&[f32]; 3],
    ix0: usize,
    out: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    if FMA && avx512_allowed() {
        // SAFETY: just checked.
        return unsafe { interior_3x3_avx512(g, w, bias, clamp, rows, ix0, out) };
    }
    #[cfg(target_arch = "x86_64")]
    if FMA && super::has_avx2_fma() {
        // SAFETY: just checked.
        return unsafe { interior_3x3_avx2(g, w, bias, clamp, rows, ix0, out) };
    }
    #[cfg(target_arch = "aarch64")]
    if FMA {
        // SAFETY: NEON is part of aarch64's baseline.
        return unsafe { interior_3x3_neon(g, w, bias, clamp, rows, ix0, out) };
    }
    let c = g.c;
    let n = out.len() / c;
    let (sx, dx) = (g.sw * c, g.dw * c);
    let groups = c / V;
    for gi in 0..groups {
        let c0 = gi * V;
        let wv: [[f32; V]; 9] =
            std::array::from_fn(|t| w[t * c + c0..][..V].try_into().expect("V"));
        let bv: [f32; V] = bias[c0..][..V].try_into().expect("V");
        let mut p = 0;
        while p < n {
            let np = P.min(n - p);
            let mut acc = [bv; P];
            for (ky, row) in rows.iter().enumerate() {
                for kx in 0..3 {
                    let wt = &wv[ky * 3 + kx];
                    for (q, a) in acc.iter_mut().enumerate().take(np) {
                        let at = (ix0 * c) + (p + q) * sx + kx * dx + c0;
                        let xs: &[f32; V] = row[at..][..V].try_into().expect("V");
                        for j in 0..V {
                            a[j] = madd::<FMA>(xs[j], wt[j], a[j]);
                        }
                    }
                }
            }
            for (q, a) in acc.iter().enumerate().take(np) {
                for (d, v) in out[(p + q) * c + c0..][..V].iter_mut().zip(a) {
                    *d = clamp.apply(*v);
                }
            }
            p += np;
        }
    }
    // Channels past the last group of 8, one at a time.
    for ch in groups * V..c {
        for p in 0..n {
            let mut acc = bias[ch];
            for (ky, row) in rows.iter().enumerate() {
                for kx in 0..3 {
                    let at = (ix0 * c) + p * sx + kx * dx + ch;
                    acc = madd::<FMA>(row[at], w[(ky * 3 + kx) * c + ch], acc);
                }
            }
            out[p * c + ch] = clamp.apply(acc);
        }
    }
}

/// [`interior_3x3`] with AVX2 intrinsics: 9 weight registers, 4
/// accumulators.
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn interior_3x3_avx2(
    g: &Geometry,
    w: &[f32],
    bias: &[f32],
    clamp: Clamp,
    rows: [&[f32]; 3],
    ix0: usize,
    out: &mut [f32],
) {
    use std::arch::x86_64::*;
    let c = g.c;
    let n = out.len() / c;
    let (sx, dx) = (g.sw * c, g.dw * c);
    let groups = c / V;
    // Every read below stays inside its row: the last pixel's window ends
    // at ix0 + (n - 1) * sw + 2 * dw < w (the interior's definition).
    assert!(n == 0 || (ix0 + (n - 1) * g.sw + 2 * g.dw + 1) * c <= rows[0].len());
    assert!(rows.iter().all(|r| r.len() == rows[0].len()) && w.len() >= 9 * c);
    unsafe {
        let lo = _mm256_set1_ps(clamp.lo);
        let hi = _mm256_set1_ps(clamp.hi);
        let cl = |v: __m256| _mm256_min_ps(hi, _mm256_max_ps(lo, v));
        let r0 = rows[0].as_ptr().add(ix0 * c);
        let r1 = rows[1].as_ptr().add(ix0 * c);
        let r2 = rows[2].as_ptr().add(ix0 * c);
        let o = out.as_mut_ptr();
        for gi in 0..groups {
            let c0 = gi * V;
            let wp = w.as_ptr().add(c0);
            let (w0, w1, w2) = (
                _mm256_loadu_ps(wp),
                _mm256_loadu_ps(wp.add(c)),
                _mm256_loadu_ps(wp.add(2 * c)),
            );
            let (w3, w4, w5) = (
                _mm256_loadu_ps(wp.add(3 * c)),
                _mm256_loadu_ps(wp.add(4 * c)),
                _mm256_loadu_ps(wp.add(5 * c)),
            );
            let (w6, w7, w8) = (
                _mm256_loadu_ps(wp.add(6 * c)),
                _mm256_loadu_ps(wp.add(7 * c)),
                _mm256_loadu_ps(wp.add(8 * c)),
            );
            let bv = _mm256_loadu_ps(bias.as_ptr().add(c0));
            // One pixel's 9 taps into `acc`, input offset `at` (floats).
            macro_rules! taps {
                ($acc:ident, $at:expr) => {{
                    let at = $at + c0;
                    $acc = _mm256_fmadd_ps(_mm256_loadu_ps(r0.add(at)), w0, $acc);
                    $acc = _mm256_fmadd_ps(_mm256_loadu_ps(r0.add(at + dx)), w1, $acc);
                    $acc = _mm256_fmadd_ps(_mm256_loadu_ps(r0.add(at + 2 * dx)), w2, $acc);
                    $acc = _mm256_fmadd_ps(_mm256_loadu_ps(r1.add(at)), w3, $acc);
                    $acc = _mm256_fmadd_ps(_mm256_loadu_ps(r1.add(at + dx)), w4, $acc);
                    $acc = _mm256_fmadd_ps(_mm256_loadu_ps(r1.add(at + 2 * dx)), w5, $acc);
                    $acc = _mm256_fmadd_ps(_mm256_loadu_ps(r2.add(at)), w6, $acc);
                    $acc = _mm256_fmadd_ps(_mm256_loadu_ps(r2.add(at + dx)), w7, $acc);
                    $acc = _mm256_fmadd_ps(_mm256_loadu_ps(r2.add(at + 2 * dx)), w8, $acc);
                }};
            }
            let mut p = 0;
            if sx == c && dx == c {
                // Stride and dilation 1: 8 neighbouring pixels share input
                // columns, so each of the 10 columns of a kernel row is
                // loaded once and feeds up to 3 accumulators (0.5 loads per
                // multiply-add instead of 1).
                let wk = [[w0, w1, w2], [w3, w4, w5], [w6, w7, w8]];
                let rs = [r0, r1, r2];
                while p + 8 <= n {
                    let mut a = [bv; 8];
                    for (r, wr) in rs.iter().zip(&wk) {
                        let base = r.add(p * c + c0);
                        for j in 0..10 {
                            let xj = _mm256_loadu_ps(base.add(j * c));
                            for (t, wt) in wr.iter().enumerate() {
                                // Column j is tap t of pixel j - t.
                                if j >= t && j - t < 8 {
                                    a[j - t] = _mm256_fmadd_ps(xj, *wt, a[j - t]);
                                }
                            }
                        }
                    }
                    for (q, v) in a.iter().enumerate() {
                        _mm256_storeu_ps(o.add((p + q) * c + c0), cl(*v));
                    }
                    p += 8;
                }
            }
            while p + P <= n {
                let (mut a0, mut a1, mut a2, mut a3) = (bv, bv, bv, bv);
                taps!(a0, p * sx);
                taps!(a1, (p + 1) * sx);
                taps!(a2, (p + 2) * sx);
                taps!(a3, (p + 3) * sx);
                _mm256_storeu_ps(o.add(p * c + c0), cl(a0));
                _mm256_storeu_ps(o.add((p + 1) * c + c0), cl(a1));
                _mm256_storeu_ps(o.add((p + 2) * c + c0), cl(a2));
                _mm256_storeu_ps(o.add((p + 3) * c + c0), cl(a3));
                p += P;
            }
            while p < n {
                let mut a0 = bv;
                taps!(a0, p * sx);
                _mm256_storeu_ps(o.add(p * c + c0), cl(a0));
                p += 1;
            }
        }
    }
    for ch in groups * V..c {
        for p in 0..n {
            let mut acc = bias[ch];
            for (ky, row) in rows.iter().enumerate() {
                for kx in 0..3 {
                    let at = (ix0 * c) + p * sx + kx * dx + ch;
                    acc = row[at].mul_add(w[(ky * 3 + kx) * c + ch], acc);
                }
            }
            out[p * c + ch] = clamp.apply(acc);
        }
    }
}

/// [`interior_3x3`] with AVX-512: [`interior_3x3_avx2`]'s loops with 16
/// channels a vector (twice the work an instruction on full-width AVX-512
/// cores). Channels past the last full 16 take one masked group (loads
/// zero the missing lanes, stores skip them), so no channel runs scalar.
///
/// # Safety
/// The CPU must have AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn interior_3x3_avx512(
    g: &Geometry,
    w: &[f32],
    bias: &[f32],
    clamp: Clamp,
    rows: [&[f32]; 3],
    ix0: usize,
    out: &mut [f32],
) {
    use std::arch::x86_64::*;
    const L: usize = 16;
    let c = g.c;
    let n = out.len() / c;
    let (sx, dx) = (g.sw * c, g.dw * c);
    // As in the AVX2 body: every read stays inside its row (masked lanes
    // past c are not read).
    assert!(n == 0 || (ix0 + (n - 1) * g.sw + 2 * g.dw + 1) * c <= rows[0].len());
    assert!(rows.iter().all(|r| r.len() == rows[0].len()) && w.len() >= 9 * c);
    assert!(bias.len() >= c && out.len() >= n * c);
    unsafe {
        let lo = _mm512_set1_ps(clamp.lo);
        let hi = _mm512_set1_ps(clamp.hi);
        let cl = |v: __m512| _mm512_min_ps(hi, _mm512_max_ps(lo, v));
        let r0 = rows[0].as_ptr().add(ix0 * c);
        let r1 = rows[1].as_ptr().add(ix0 * c);
        let r2 = rows[2].as_ptr().add(ix0 * c);
        let o = out.as_mut_ptr();
        let mut c0 = 0;
        while c0 < c {
            let lanes = (c - c0).min(L);
            let m: __mmask16 = if lanes == L {
                0xffff
            } else {
                (1u16 << lanes) - 1
            };
            // Plain loads and stores for whole groups (masked ones are
            // slower on AMD's cores), masked ones for the last partial group.
            let ld = |p: *const f32| {
                if m == 0xffff {
                    _mm512_loadu_ps(p)
                } else {
                    _mm512_maskz_loadu_ps(m, p)
                }
            };
            let st = |p: *mut f32, v: __m512| {
                if m == 0xffff {
                    _mm512_storeu_ps(p, cl(v))
                } else {
                    _mm512_mask_storeu_ps(p, m, cl(v))
                }
            };
            let wp = w.as_ptr().add(c0);
            let wk: [[__m512; 3]; 3] =
                std::array::from_fn(|ky| std::array::from_fn(|kx| ld(wp.add((ky * 3 + kx) * c))));
            let bv = ld(bias.as_ptr().add(c0));
            let rs = [r0.add(c0), r1.add(c0), r2.add(c0)];
            let mut p = 0;
            if sx == c && dx == c {
                // Stride and dilation 1: each input column feeds up to 3
                // of 8 neighbouring pixels (see the AVX2 body).
                while p + 8 <= n {
                    let mut a = [bv; 8];
                    for (r, wr) in rs.iter().zip(&wk) {
                        let base = r.add(p * c);
                        for j in 0..10 {
                            let xj = ld(base.add(j * c));
                            for (t, wt) in wr.iter().enumerate() {
                                if j >= t && j - t < 8 {
                                    a[j - t] = _mm512_fmadd_ps(xj, *wt, a[j - t]);
                                }
                            }
                        }
                    }
                    for (q, v) in a.iter().enumerate() {
                        st(o.add((p + q) * c + c0), *v);
                    }
                    p += 8;
                }
            }
            while p < n {
                let np = 4.min(n - p);
                let mut a = [bv; 4];
                for (q, acc) in a.iter_mut().enumerate().take(np) {
                    let at = (p + q) * sx;
                    for (r, wr) in rs.iter().zip(&wk) {
                        for (kx, wt) in wr.iter().enumerate() {
                            *acc = _mm512_fmadd_ps(ld(r.add(at + kx * dx)), *wt, *acc);
                        }
                    }
                }
                for (q, v) in a.iter().enumerate().take(np) {
                    st(o.add((p + q) * c + c0), *v);
                }
                p += np;
            }
            c0 += lanes;
        }
    }
}

/// [`interior_3x3`] with aarch64 NEON intrinsics: channels 4 at a time, the
/// 9 taps' weights in registers, 4 pixels' accumulators. The portable body
/// compiled for aarch64 kept its accumulators on the stack (hundreds of
/// stack loads/stores in its asm) and vectorised only part of the taps.
///
/// # Safety
/// As the portable body (reads stay inside `rows`, checked below).
#[cfg(target_arch = "aarch64")]
#[allow(clippy::too_many_arguments)]
unsafe fn interior_3x3_neon(
    g: &Geometry,
    w: &[f32],
    bias: &[f32],
    clamp: Clamp,
    rows: [&[f32]; 3],
    ix0: usize,
    out: &mut [f32],
) {
    use std::arch::aarch64::*;
    const L: usize = 4;
    let c = g.c;
    let n = out.len() / c;
    let (sx, dx) = (g.sw * c, g.dw * c);
    let groups = c / L;
    // Every read below stays inside its row: the last pixel's window ends
    // at ix0 + (n - 1) * sw + 2 * dw < w (the interior's definition).
    assert!(n == 0 || (ix0 + (n - 1) * g.sw + 2 * g.dw + 1) * c <= rows[0].len());
    assert!(rows.iter().all(|r| r.len() == rows[0].len()) && w.len() >= 9 * c);
    assert!(bias.len() >= c);
    unsafe {
        let lo = vdupq_n_f32(clamp.lo);
        let hi = vdupq_n_f32(clamp.hi);
        // max(lo, v) then min(hi, v): FMAX/FMIN return NaN for a NaN
        // operand, as tract's clamp lets it through.
        let cl = |v: float32x4_t| vminq_f32(hi, vmaxq_f32(lo, v));
        let r0 = rows[0].as_ptr().add(ix0 * c);
        let r1 = rows[1].as_ptr().add(ix0 * c);
        let r2 = rows[2].as_ptr().add(ix0 * c);
        let o = out.as_mut_ptr();
        for gi in 0..groups {
            let c0 = gi * L;
            let wp = w.as_ptr().add(c0);
            let (w0, w1, w2) = (
                vld1q_f32(wp),
                vld1q_f32(wp.add(c)),
                vld1q_f32(wp.add(2 * c)),
            );
            let (w3, w4, w5) = (
                vld1q_f32(wp.add(3 * c)),
                vld1q_f32(wp.add(4 * c)),
                vld1q_f32(wp.add(5 * c)),
            );
            let (w6, w7, w8) = (
                vld1q_f32(wp.add(6 * c)),
                vld1q_f32(wp.add(7 * c)),
                vld1q_f32(wp.add(8 * c)),
            );
            let bv = vld1q_f32(bias.as_ptr().add(c0));
            // One pixel's 9 taps into `acc`, input offset `at` (floats).
            macro_rules! taps {
                ($acc:ident, $at:expr) => {{
                    let at = $at + c0;
                    $acc = vfmaq_f32($acc, vld1q_f32(r0.add(at)), w0);
                    $acc = vfmaq_f32($acc, vld1q_f32(r0.add(at + dx)), w1);
                    $acc = vfmaq_f32($acc, vld1q_f32(r0.add(at + 2 * dx)), w2);
                    $acc = vfmaq_f32($acc, vld1q_f32(r1.add(at)), w3);
                    $acc = vfmaq_f32($acc, vld1q_f32(r1.add(at + dx)), w4);
                    $acc = vfmaq_f32($acc, vld1q_f32(r1.add(at + 2 * dx)), w5);
                    $acc = vfmaq_f32($acc, vld1q_f32(r2.add(at)), w6);
                    $acc = vfmaq_f32($acc, vld1q_f32(r2.add(at + dx)), w7);
                    $acc = vfmaq_f32($acc, vld1q_f32(r2.add(at + 2 * dx)), w8);
                }};
            }
            let mut p = 0;
            while p + P <= n {
                let (mut a0, mut a1, mut a2, mut a3) = (bv, bv, bv, bv);
                taps!(a0, p * sx);
                taps!(a1, (p + 1) * sx);
                taps!(a2, (p + 2) * sx);
                taps!(a3, (p + 3) * sx);
                vst1q_f32(o.add(p * c + c0), cl(a0));
                vst1q_f32(o.add((p + 1) * c + c0), cl(a1));
                vst1q_f32(o.add((p + 2) * c + c0), cl(a2));
                vst1q_f32(o.add((p + 3) * c + c0), cl(a3));
                p += P;
            }
            while p < n {
                let mut a0 = bv;
                taps!(a0, p * sx);
                vst1q_f32(o.add(p * c + c0), cl(a0));
                p += 1;
            }
        }
    }
    for ch in groups * L..c {
        for p in 0..n {
            let mut acc = bias[ch];
            for (ky, row) in rows.iter().enumerate() {
                for kx in 0..3 {
                    let at = (ix0 * c) + p * sx + kx * dx + ch;
                    acc = row[at].mul_add(w[(ky * 3 + kx) * c + ch], acc);
                }
            }
            out[p * c + ch] = clamp.apply(acc);
        }
    }
}
