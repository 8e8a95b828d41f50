//! Integer kernels of the int8 path (`engine::tract::quant`), on plain
//! slices: u8 activations (with a zero point) times i8 weights, accumulated
//! in i32, requantised to u8 with a per-channel f32 multiplier. Layout is
//! NHWC throughout, channels innermost, so a 1x1 convolution is a matrix
//! product over pixels and a depthwise kernel runs along contiguous channels.
//! No tract here (edgemark's `engine::kernels_i8`): test builds optimise this
//! crate like the dependencies, and its tests run under qemu on ARM.
//!
//! Activations are u8 everywhere inside the rewritten graph (int8 tensors are
//! offset by 128 on the way in): x86's VNNI dot product multiplies unsigned by
//! signed bytes, and one domain keeps every kernel single-typed.
//!
//! Each kernel has a portable body written so the compiler vectorises it; on
//! x86_64 the same body is also compiled with AVX2 enabled and picked at run
//! time, and the matrix product has an AVX-512 VNNI micro-kernel. On aarch64
//! CPUs with the dot-product extension the matrix product runs a 4x16 `sdot`
//! tile (inline assembly: Rust's dot-product intrinsics are unstable); armv7
//! and older aarch64 cores (Cortex-A72/A53) run the portable bodies.

use std::ops::Range;

/// Requantisation of one output channel set: `y = clamp(round_even(
/// (acc + bias[c]) * mult[c]) + zp, lo, hi)`, all in the u8 domain.
#[derive(Debug, Clone, PartialEq)]
pub struct Requant {
    /// Added to the raw accumulator (already holds the zero-point corrections
    /// the kernel needs); one per output channel.
    pub bias: Vec<i32>,
    /// `input scale * weight scale / output scale`, one per output channel.
    pub mult: Vec<f32>,
    pub zp: i32,
    pub lo: u8,
    pub hi: u8,
}

/// Largest magnitude an f32 is allowed before conversion to i32; keeps the
/// vector conversion (which saturates to i32::MIN either way) and the scalar
/// one (which saturates by sign) in agreement.
const F32_CLAMP: f32 = 1_073_741_824.0;

/// The scalar definition every kernel follows.
#[inline(always)]
pub fn requant_one(acc: i32, mult: f32, zp: i32, lo: u8, hi: u8) -> u8 {
    let v = (acc as f32 * mult).clamp(-F32_CLAMP, F32_CLAMP);
    let v = (v.round_ties_even() as i32).saturating_add(zp);
    v.clamp(lo as i32, hi as i32) as u8
}

/// Weights of a matrix product `C[m, n] = sum_k A[m, k] * B[k, n]`, packed in
/// panels of [`NR`] columns and groups of 4 along k: `data[((p * kq + q) * NR
/// + j) * 4 + t] = B[4q + t][NR p + j]`, zero beyond k and n. One 64-byte load
///   then feeds 16 output channels with 4 products each.
#[derive(Debug, Clone, PartialEq)]
pub struct PackedB {
    pub k: usize,
    pub n: usize,
    /// k rounded up to 4, divided by 4.
    pub kq: usize,
    pub panels: usize,
    pub data: Vec<i8>,
    /// `sum_k B[k, n]`, for the activation zero-point correction.
    pub col_sums: Vec<i32>,
}

pub const NR: usize = 16;

impl PackedB {
    /// `b` is row-major `[k][n]`.
    pub fn pack(k: usize, n: usize, b: &[i8]) -> PackedB {
        assert_eq!(b.len(), k * n);
        let kq = k.div_ceil(4);
        let panels = n.div_ceil(NR);
        let mut data = vec![0i8; panels * kq * NR * 4];
        for kk in 0..k {
            for nn in 0..n {
                let (p, j) = (nn / NR, nn % NR);
                let (q, t) = (kk / 4, kk % 4);
                data[((p * kq + q) * NR + j) * 4 + t] = b[kk * n + nn];
            }
        }
        let col_sums = (0..n)
            .map(|nn| (0..k).map(|kk| b[kk * n + nn] as i32).sum())
            .collect();
        PackedB {
            k,
            n,
            kq,
            panels,
            data,
            col_sums,
        }
    }

    /// Bytes of A each row must provide (k rounded up to 4; the extra bytes
    /// meet zero weights).
    pub fn row_bytes(&self) -> usize {
        self.kq * 4
    }
}

/// `C[m, n] = requant(sum_k A[m, k] * B[k, n])`, A rows `lda` bytes apart and
/// readable for `b.row_bytes()` bytes each, C rows `ldc` bytes apart.
pub fn gemm(m: usize, a: &[u8], lda: usize, b: &PackedB, rq: &Requant, c: &mut [u8], ldc: usize) {
    if m == 0 || b.n == 0 {
        return;
    }
    assert!(a.len() >= (m - 1) * lda + b.row_bytes(), "A too short");
    assert!(c.len() >= (m - 1) * ldc + b.n, "C too short");
    assert!(rq.bias.len() >= b.n && rq.mult.len() >= b.n);
    #[cfg(target_arch = "x86_64")]
    {
        if x86::has_vnni512() {
            // SAFETY: the features are present; bounds were checked above.
            unsafe { x86::gemm_vnni512(m, a, lda, b, rq, c, ldc) };
            return;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is present.
            unsafe { x86::gemm_portable_avx2(m, a, lda, b, rq, c, ldc) };
            return;
        }
    }
    #[cfg(target_arch = "aarch64")]
    if std::arch::is_aarch64_feature_detected!("dotprod") {
        // SAFETY: the dot-product instructions are present; bounds were
        // checked above.
        unsafe { arm::gemm_sdot(m, a, lda, b, rq, c, ldc) };
        return;
    }
    gemm_portable(m, a, lda, b, rq, c, ldc)
}

/// AArch64: the depthwise convolution in plain NEON (every aarch64 core), and
/// the matrix product with the dot-product extension (Cortex-A55/A76/A78 and later:
/// RK3588, Raspberry Pi 5, Jetson Orin; not the Pi 4's A72, which keeps the
/// portable body). The portable body compiled for aarch64 widens every byte
/// to 16 bits and multiplies 4 lanes at a time with the accumulators on the
/// stack, about 1.6 products an instruction; `sdot` takes 16 products an
/// instruction, and a 4-row tile reuses each weight load 4 times.
///
/// `sdot` multiplies signed by signed bytes, so activations are moved into
/// the signed domain with `a ^ 0x80` (= a - 128) and the accumulator gets
/// `128 * sum_k B[k, j]` back before the bias: the same integer sum, so the
/// results equal the portable body's exactly.
#[cfg(target_arch = "aarch64")]
mod arm {
    use super::*;
    use std::arch::aarch64::*;
    use std::arch::asm;

    /// Rows per tile.
    const MR: usize = 4;

    /// `acc += b . a[lane]`: each i32 lane of `acc` (one output column) adds
    /// the dot product of its 4 bytes of `b` with bytes 4*lane..4*lane+4 of
    /// `a` (the same 4 activations for every column).
    macro_rules! sdot {
        ($acc:expr, $b:expr, $a:expr, $lane:literal) => {
            asm!(
                concat!("sdot {acc:v}.4s, {b:v}.16b, {a:v}.4b[", $lane, "]"),
                acc = inout(vreg) $acc,
                b = in(vreg) $b,
                a = in(vreg) $a,
                options(pure, nomem, nostack)
            )
        };
    }

    /// One k-quad of the tile: the quad's 64 packed weight bytes (16 columns
    /// x 4) against lane `$lane` of every row's activations.
    macro_rules! quad {
        ($acc:ident, $bp:expr, $a:ident, $lane:literal) => {{
            let w = [
                vld1q_s8($bp),
                vld1q_s8($bp.add(16)),
                vld1q_s8($bp.add(32)),
                vld1q_s8($bp.add(48)),
            ];
            for r in 0..MR {
                for v in 0..4 {
                    sdot!($acc[r][v], w[v], $a[r], $lane);
                }
            }
        }};
    }

    /// # Safety
    /// The CPU has `dotprod`; the caller checked the bounds `gemm` checks.
    #[target_feature(enable = "dotprod")]
    pub unsafe fn gemm_sdot(
        m: usize,
        a: &[u8],
        lda: usize,
        b: &PackedB,
        rq: &Requant,
        c: &mut [u8],
        ldc: usize,
    ) {
        let flip = vdupq_n_u8(0x80);
        for row0 in (0..m).step_by(MR) {
            let rows = MR.min(m - row0);
            // Rows past the last repeat it (their results are not stored).
            let ap: [*const u8; MR] =
                std::array::from_fn(|r| a[(row0 + r.min(rows - 1)) * lda..].as_ptr());
            for p in 0..b.panels {
                // SAFETY: panel p holds kq * 64 bytes; every A row is readable
                // for kq * 4 bytes (checked by `gemm`), and 16-byte loads stay
                // below (q + 4) * 4 <= kq * 4.
                unsafe {
                    let bp = b.data.as_ptr().add(p * b.kq * NR * 4);
                    let mut acc = [[vdupq_n_s32(0); 4]; MR];
                    let mut q = 0;
                    while q + 4 <= b.kq {
                        let x: [int8x16_t; MR] = std::array::from_fn(|r| {
                            vreinterpretq_s8_u8(veorq_u8(vld1q_u8(ap[r].add(q * 4)), flip))
                        });
                        let wq = bp.add(q * NR * 4);
                        quad!(acc, wq, x, 0);
                        quad!(acc, wq.add(64), x, 1);
                        quad!(acc, wq.add(128), x, 2);
                        quad!(acc, wq.add(192), x, 3);
                        q += 4;
                    }
                    while q < b.kq {
                        let x: [int8x16_t; MR] = std::array::from_fn(|r| {
                            let v = (ap[r].add(q * 4) as *const u32).read_unaligned();
                            vreinterpretq_s8_u8(veorq_u8(
                                vreinterpretq_u8_u32(vdupq_n_u32(v)),
                                flip,
                            ))
                        });
                        quad!(acc, bp.add(q * NR * 4), x, 0);
                        q += 1;
                    }
                    store(&acc, rows, row0, p, b, rq, c, ldc);
                }
            }
        }
    }

    /// Adds the `128 * column sum` correction and the bias, requantises
    /// (vector `requant_one` for whole panels, the scalar one for the last,
    /// narrower panel) and stores the tile's `rows` rows.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "dotprod")]
    unsafe fn store(
        acc: &[[int32x4_t; 4]; MR],
        rows: usize,
        row0: usize,
        p: usize,
        b: &PackedB,
        rq: &Requant,
        c: &mut [u8],
        ldc: usize,
    ) {
        let n0 = p * NR;
        let cols = (b.n - n0).min(NR);
        for (r, acc) in acc.iter().enumerate().take(rows) {
            let out = &mut c[(row0 + r) * ldc + n0..][..cols];
            // SAFETY: a full panel reads 16 column sums, biases and
            // multipliers from n0 (n0 + 16 <= n) and stores 16 bytes.
            unsafe {
                if cols == NR {
                    let mut y = [vdupq_n_s32(0); 4];
                    for (v, y) in y.iter_mut().enumerate() {
                        let j = n0 + 4 * v;
                        let fix = vmlaq_n_s32(
                            vld1q_s32(rq.bias.as_ptr().add(j)),
                            vld1q_s32(b.col_sums.as_ptr().add(j)),
                            128,
                        );
                        *y = requant4(vaddq_s32(acc[v], fix), rq.mult.as_ptr().add(j), rq);
                    }
                    vst1q_u8(out.as_mut_ptr(), narrow16(&y));
                } else {
                    let mut raw = [0i32; NR];
                    for (v, a) in acc.iter().enumerate() {
                        vst1q_s32(raw.as_mut_ptr().add(4 * v), *a);
                    }
                    for (j, y) in out.iter_mut().enumerate() {
                        let acc = raw[j]
                            .wrapping_add(128i32.wrapping_mul(b.col_sums[n0 + j]))
                            .wrapping_add(rq.bias[n0 + j]);
                        *y = requant_one(acc, rq.mult[n0 + j], rq.zp, rq.lo, rq.hi);
                    }
                }
            }
        }
    }

    /// Depthwise convolution, 16 channels at a time with their four
    /// accumulators in registers across the taps: `(x - zp)` and the weight
    /// widened to 16 bits, one widening multiply-add per 4 channels (the
    /// portable body compiled for aarch64 kept its accumulators in memory).
    /// Channels past the last multiple of 16 are done one by one.
    ///
    /// # Safety
    /// `depthwise_pixels` checked the sizes; `zp` is within 0..=255.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn depthwise_neon(
        g: &Geometry,
        c: usize,
        zp: i32,
        x: &[u8],
        wts: &[i8],
        rq: &Requant,
        y: &mut [u8],
        px: Range<usize>,
    ) {
        let c16 = c / 16 * 16;
        // SAFETY: every load reads channels cb..cb + 16 <= c of one in-range
        // pixel or tap, and stores write 16 bytes of this pixel's output.
        unsafe {
            let zpv = vdupq_n_s16(zp as i16);
            let (xp, wp, bp, mp) = (x.as_ptr(), wts.as_ptr(), rq.bias.as_ptr(), rq.mult.as_ptr());
            let first = px.start;
            for p in px {
                let (oy, ox) = (p / g.ow, p % g.ow);
                let (ky0, ky1) = valid_taps(oy, g.sh, g.pad_top, g.kh, g.h);
                let (kx0, kx1) = valid_taps(ox, g.sw, g.pad_left, g.kw, g.w);
                let out = y.as_mut_ptr().add((p - first) * c);
                let mut cb = 0;
                while cb < c16 {
                    let mut a: [int32x4_t; 4] =
                        std::array::from_fn(|v| vld1q_s32(bp.add(cb + 4 * v)));
                    for ky in ky0..ky1 {
                        let iy = oy * g.sh + ky - g.pad_top;
                        for kx in kx0..kx1 {
                            let ix = ox * g.sw + kx - g.pad_left;
                            let xv = vld1q_u8(xp.add((iy * g.w + ix) * c + cb));
                            let wv = vld1q_s8(wp.add((ky * g.kw + kx) * c + cb));
                            let xl =
                                vsubq_s16(vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(xv))), zpv);
                            let xh = vsubq_s16(vreinterpretq_s16_u16(vmovl_high_u8(xv)), zpv);
                            let wl = vmovl_s8(vget_low_s8(wv));
                            let wh = vmovl_high_s8(wv);
                            a[0] = vmlal_s16(a[0], vget_low_s16(xl), vget_low_s16(wl));
                            a[1] = vmlal_high_s16(a[1], xl, wl);
                            a[2] = vmlal_s16(a[2], vget_low_s16(xh), vget_low_s16(wh));
                            a[3] = vmlal_high_s16(a[3], xh, wh);
                        }
                    }
                    let r: [int32x4_t; 4] =
                        std::array::from_fn(|v| requant4(a[v], mp.add(cb + 4 * v), rq));
                    vst1q_u8(out.add(cb), narrow16(&r));
                    cb += 16;
                }
                for ch in c16..c {
                    let mut acc = *bp.add(ch);
                    for ky in ky0..ky1 {
                        let iy = oy * g.sh + ky - g.pad_top;
                        for kx in kx0..kx1 {
                            let ix = ox * g.sw + kx - g.pad_left;
                            let xv = *xp.add((iy * g.w + ix) * c + ch) as i32 - zp;
                            acc += xv * *wp.add((ky * g.kw + kx) * c + ch) as i32;
                        }
                    }
                    *out.add(ch) = requant_one(acc, *mp.add(ch), rq.zp, rq.lo, rq.hi);
                }
            }
        }
    }

    /// 16 requantised values (each already within 0..=255) to bytes.
    #[inline(always)]
    unsafe fn narrow16(y: &[int32x4_t; 4]) -> uint8x16_t {
        // SAFETY: register-only NEON operations (NEON is baseline on aarch64).
        unsafe {
            let lo = vcombine_u16(
                vmovn_u32(vreinterpretq_u32_s32(y[0])),
                vmovn_u32(vreinterpretq_u32_s32(y[1])),
            );
            let hi = vcombine_u16(
                vmovn_u32(vreinterpretq_u32_s32(y[2])),
                vmovn_u32(vreinterpretq_u32_s32(y[3])),
            );
            vcombine_u8(vmovn_u16(lo), vmovn_u16(hi))
        }
    }

    /// `requant_one` on 4 lanes: the same f32 product and clamp; `fcvtns`
    /// rounds half to even as `round_ties_even`, the zero point is added
    /// with saturation, and the result clamped to [lo, hi].
    #[inline(always)]
    unsafe fn requant4(acc: int32x4_t, mult: *const f32, rq: &Requant) -> int32x4_t {
        // SAFETY: the caller passes 4 readable multipliers.
        unsafe {
            let f = vmulq_f32(vcvtq_f32_s32(acc), vld1q_f32(mult));
            let f = vminq_f32(
                vmaxq_f32(f, vdupq_n_f32(-F32_CLAMP)),
                vdupq_n_f32(F32_CLAMP),
            );
            let i = vqaddq_s32(vcvtnq_s32_f32(f), vdupq_n_s32(rq.zp));
            vminq_s32(
                vmaxq_s32(i, vdupq_n_s32(rq.lo as i32)),
                vdupq_n_s32(rq.hi as i32),
            )
        }
    }
}

/// One row at a time, one panel at a time, 16 i32 accumulators: simple enough
/// for the compiler to vectorise the inner loop on every target.
#[inline(always)]
fn gemm_portable(
    m: usize,
    a: &[u8],
    lda: usize,
    b: &PackedB,
    rq: &Requant,
    c: &mut [u8],
    ldc: usize,
) {
    for row in 0..m {
        let arow = &a[row * lda..][..b.row_bytes()];
        for p in 0..b.panels {
            let panel = &b.data[p * b.kq * NR * 4..][..b.kq * NR * 4];
            let mut acc = [0i32; NR];
            for (q, w) in panel.chunks_exact(NR * 4).enumerate() {
                let av = &arow[q * 4..q * 4 + 4];
                for (j, acc) in acc.iter_mut().enumerate() {
                    let wj = &w[j * 4..j * 4 + 4];
                    *acc += av[0] as i32 * wj[0] as i32
                        + av[1] as i32 * wj[1] as i32
                        + av[2] as i32 * wj[2] as i32
                        + av[3] as i32 * wj[3] as i32;
                }
            }
            let n0 = p * NR;
            let cols = (b.n - n0).min(NR);
            let crow = &mut c[row * ldc + n0..][..cols];
            for (j, y) in crow.iter_mut().enumerate() {
                *y = requant_one(
                    acc[j].wrapping_add(rq.bias[n0 + j]),
                    rq.mult[n0 + j],
                    rq.zp,
                    rq.lo,
                    rq.hi,
                );
            }
        }
    }
}

/// Geometry of a 2-D NHWC window operation on one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Geometry {
    pub h: usize,
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    pub oh: usize,
    pub ow: usize,
}

/// Depthwise convolution, channel multiplier 1: `x` is `[h][w][c]` u8 with zero
/// point `zp`, `wts` is `[kh][kw][c]` i8, `y` is `[oh][ow][c]`. Taps in the
/// padding contribute nothing (the real zero), so `rq.bias` is the plain bias.
pub fn depthwise(
    g: &Geometry,
    c: usize,
    zp: i32,
    x: &[u8],
    wts: &[i8],
    rq: &Requant,
    y: &mut [u8],
) {
    depthwise_pixels(g, c, zp, x, wts, rq, y, 0..g.oh * g.ow)
}

/// [`depthwise`] for the output pixels `px` (row-major over `oh x ow`) only,
/// written to `y` (`px.len() * c` bytes): the share of one task when a
/// convolution is split across threads.
#[allow(clippy::too_many_arguments)]
pub fn depthwise_pixels(
    g: &Geometry,
    c: usize,
    zp: i32,
    x: &[u8],
    wts: &[i8],
    rq: &Requant,
    y: &mut [u8],
    px: Range<usize>,
) {
    assert_eq!(x.len(), g.h * g.w * c);
    assert_eq!(wts.len(), g.kh * g.kw * c);
    assert!(px.start <= px.end && px.end <= g.oh * g.ow);
    assert_eq!(y.len(), px.len() * c);
    assert!(rq.bias.len() >= c && rq.mult.len() >= c);
    #[cfg(target_arch = "x86_64")]
    {
        if g.kh == 3 && g.kw == 3 && std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the feature is present; the sizes are checked above.
            unsafe { x86::depthwise3x3_avx512(g, c, zp, x, wts, rq, y, px) };
            return;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the feature is present; the sizes are checked above.
            unsafe { x86::depthwise_avx2(g, c, zp, x, wts, rq, y, px) };
            return;
        }
    }
    // (x - zp) is taken in 16 bits there: a u8-domain zero point always fits.
    #[cfg(target_arch = "aarch64")]
    if (0..=255).contains(&zp) {
        // SAFETY: NEON is part of aarch64; the sizes are checked above.
        unsafe { arm::depthwise_neon(g, c, zp, x, wts, rq, y, px) };
        return;
    }
    depthwise_portable(g, c, zp, x, wts, rq, y, px)
}

/// Channels a depthwise pixel accumulates at once: a fixed-size stack block
/// (no allocation per call) that the compiler vectorises whole.
const DW_BLOCK: usize = 64;

/// Taps `k0..k1` of a window whose first tap sits at `o * stride - pad`: the
/// ones inside `0..len` (the rest are padding, the real zero). The f32
/// kernels' tap range, without dilation.
#[inline(always)]
fn valid_taps(o: usize, stride: usize, pad: usize, k: usize, len: usize) -> (usize, usize) {
    let (_, k0, k1) = crate::conv::Geometry::taps(o, stride, 1, pad, k, len);
    (k0, k1)
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn depthwise_portable(
    g: &Geometry,
    c: usize,
    zp: i32,
    x: &[u8],
    wts: &[i8],
    rq: &Requant,
    y: &mut [u8],
    px: Range<usize>,
) {
    // Each pixel's valid tap ranges are computed once, so the inner loops run
    // over contiguous channels with no per-tap padding test.
    let first = px.start;
    for p in px {
        let (oy, ox) = (p / g.ow, p % g.ow);
        let (ky0, ky1) = valid_taps(oy, g.sh, g.pad_top, g.kh, g.h);
        {
            let (kx0, kx1) = valid_taps(ox, g.sw, g.pad_left, g.kw, g.w);
            let out = &mut y[(p - first) * c..][..c];
            let mut c0 = 0;
            while c0 < c {
                let n = (c - c0).min(DW_BLOCK);
                let mut acc = [0i32; DW_BLOCK];
                acc[..n].copy_from_slice(&rq.bias[c0..c0 + n]);
                for ky in ky0..ky1 {
                    let iy = oy * g.sh + ky - g.pad_top;
                    for kx in kx0..kx1 {
                        let ix = ox * g.sw + kx - g.pad_left;
                        let xs = &x[(iy * g.w + ix) * c + c0..][..n];
                        let ws = &wts[(ky * g.kw + kx) * c + c0..][..n];
                        for ((a, &xv), &wv) in acc[..n].iter_mut().zip(xs).zip(ws) {
                            *a += (xv as i32 - zp) * wv as i32;
                        }
                    }
                }
                requant_row(
                    &acc[..n],
                    &rq.mult[c0..c0 + n],
                    rq.zp,
                    rq.lo,
                    rq.hi,
                    &mut out[c0..c0 + n],
                );
                c0 += n;
            }
        }
    }
}

#[inline(always)]
fn requant_row(acc: &[i32], mult: &[f32], zp: i32, lo: u8, hi: u8, out: &mut [u8]) {
    for ((y, &a), &m) in out.iter_mut().zip(acc).zip(mult) {
        *y = requant_one(a, m, zp, lo, hi);
    }
}

/// Copies the k x k windows of `x` (`[h][w][c]`, u8) into rows of `out`, one per
/// output pixel, `row` bytes apart (>= kh*kw*c; the tail is left as is), taps
/// in the padding set to `zp` so that every row meets the same weights.
pub fn im2col(g: &Geometry, c: usize, zp: u8, x: &[u8], out: &mut [u8], row: usize) {
    im2col_pixels(g, c, zp, x, out, row, 0..g.oh * g.ow)
}

/// [`im2col`] for the output pixels `px` only, their rows from the start of `out`.
pub fn im2col_pixels(
    g: &Geometry,
    c: usize,
    zp: u8,
    x: &[u8],
    out: &mut [u8],
    row: usize,
    px: Range<usize>,
) {
    assert_eq!(x.len(), g.h * g.w * c);
    assert!(row >= g.kh * g.kw * c);
    assert!(px.end <= g.oh * g.ow && out.len() >= px.len() * row);
    // The taps of one window row that fall inside the image are neighbours in
    // memory: one copy of (kx1 - kx0) * c bytes each (with 3 input channels a
    // copy per tap moved 3 bytes at a time).
    let first = px.start;
    for p in px {
        let (oy, ox) = (p / g.ow, p % g.ow);
        let (ky0, ky1) = valid_taps(oy, g.sh, g.pad_top, g.kh, g.h);
        {
            let (kx0, kx1) = valid_taps(ox, g.sw, g.pad_left, g.kw, g.w);
            let dst = &mut out[(p - first) * row..][..g.kh * g.kw * c];
            for ky in 0..g.kh {
                let d = &mut dst[ky * g.kw * c..][..g.kw * c];
                if ky < ky0 || ky >= ky1 || kx0 == kx1 {
                    d.fill(zp);
                    continue;
                }
                let iy = oy * g.sh + ky - g.pad_top;
                let ix0 = ox * g.sw + kx0 - g.pad_left;
                d[..kx0 * c].fill(zp);
                d[kx0 * c..kx1 * c].copy_from_slice(&x[(iy * g.w + ix0) * c..][..(kx1 - kx0) * c]);
                d[kx1 * c..].fill(zp);
            }
        }
    }
}

/// `y = clamp(round_even(x / scale) + zp, 0, 255)`: ONNX QuantizeLinear to
/// u8. The division stays (x * (1 / scale) rounds differently), and the
/// rounding is done by adding and subtracting 1.5 * 2^23: for |t| <= 2^22 the
/// sum lands where one ulp is 1, so IEEE round-to-nearest-even of the sum is
/// round_ties_even(t) (the constant is even). Unlike `round_ties_even`, which
/// is a libm call on baseline x86_64, this vectorises on every target.
pub fn quantize_f32(x: &[f32], scale: f32, zp: i32, y: &mut [u8]) {
    assert_eq!(x.len(), y.len());
    #[cfg(target_arch = "x86_64")]
    if (0..=255).contains(&zp) && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present; the lengths are equal.
        unsafe { x86::quantize_f32_avx2(x, scale, zp, y) };
        return;
    }
    quantize_f32_portable(x, scale, zp, y)
}

fn quantize_f32_portable(x: &[f32], scale: f32, zp: i32, y: &mut [u8]) {
    const MAGIC: f32 = 12_582_912.0;
    for (q, &v) in y.iter_mut().zip(x) {
        // Anything beyond +-1024 clamps to 0 or 255 whatever zp is; NaN stays
        // NaN and casts to 0, as the scalar definition does.
        let t = (v / scale).clamp(-1024.0, 1024.0);
        let r = (t + MAGIC) - MAGIC;
        *q = (r as i32 + zp).clamp(0, 255) as u8;
    }
}

/// `y = clamp(round_even((a - za) * fa + (b - zb) * fb) + zy)`: the sum of two
/// quantised tensors of different scales, `fa = sa / sy`, `fb = sb / sy`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AddParams {
    pub za: i32,
    pub fa: f32,
    pub zb: i32,
    pub fb: f32,
    pub zy: i32,
    pub lo: u8,
    pub hi: u8,
}

pub fn add(p: &AddParams, a: &[u8], b: &[u8], y: &mut [u8]) {
    assert!(a.len() == y.len() && b.len() == y.len());
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the feature is present.
            unsafe { x86::add_avx2(p, a, b, y) };
            return;
        }
    }
    add_portable(p, a, b, y)
}

#[inline(always)]
fn add_portable(p: &AddParams, a: &[u8], b: &[u8], y: &mut [u8]) {
    for ((y, &a), &b) in y.iter_mut().zip(a).zip(b) {
        let v = (a as i32 - p.za) as f32 * p.fa + (b as i32 - p.zb) as f32 * p.fb;
        // Clamped like `requant_one`: an out-of-range sum saturates instead
        // of overflowing the zero-point addition.
        let v = v.clamp(-F32_CLAMP, F32_CLAMP);
        let v = (v.round_ties_even() as i32).saturating_add(p.zy);
        *y = v.clamp(p.lo as i32, p.hi as i32) as u8;
    }
}

/// Mean over the `hw` pixels of `x` (`[hw][c]`, zero point `zp`) per channel,
/// requantised with `mult = s_in / (hw * s_out)` (`rq.bias` unused).
pub fn mean(hw: usize, c: usize, zp: i32, x: &[u8], rq: &Requant, y: &mut [u8]) {
    assert_eq!(x.len(), hw * c);
    assert_eq!(y.len(), c);
    let mut acc = vec![0i32; c];
    for px in x.chunks_exact(c) {
        for (a, &v) in acc.iter_mut().zip(px) {
            *a += v as i32;
        }
    }
    let corr = zp * hw as i32;
    for a in acc.iter_mut() {
        *a -= corr;
    }
    requant_row(&acc, &rq.mult[..c], rq.zp, rq.lo, rq.hi, y);
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use std::arch::x86_64::*;

    pub fn has_vnni512() -> bool {
        std::arch::is_x86_feature_detected!("avx512vnni")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512f")
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn gemm_portable_avx2(
        m: usize,
        a: &[u8],
        lda: usize,
        b: &PackedB,
        rq: &Requant,
        c: &mut [u8],
        ldc: usize,
    ) {
        gemm_portable(m, a, lda, b, rq, c, ldc)
    }

    /// [`quantize_f32`] 8 values at a time (the compiled portable body was
    /// scalar, 1.3 ns a value: 200 us of a 4.5 ms int8 MobileNetV2 on its
    /// 224x224x3 input): the same division and clamp, NaN made 0 first (the
    /// scalar cast's result), `cvtps_epi32` rounding half to even under the
    /// default MXCSR, and the saturating packs clamping to 0..=255 exactly
    /// (|value| <= 1024 + 255 fits 16 bits).
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn quantize_f32_avx2(x: &[f32], scale: f32, zp: i32, y: &mut [u8]) {
        let n8 = x.len() / 8 * 8;
        // SAFETY: loads read x[i..i + 8] and stores write y[i..i + 8] for
        // i + 8 <= n8 <= len.
        unsafe {
            let s = _mm256_set1_ps(scale);
            let (lo, hi) = (_mm256_set1_ps(-1024.0), _mm256_set1_ps(1024.0));
            let zpv = _mm256_set1_epi32(zp);
            let mut i = 0;
            while i < n8 {
                let v = _mm256_div_ps(_mm256_loadu_ps(x.as_ptr().add(i)), s);
                let v = _mm256_and_ps(v, _mm256_cmp_ps::<_CMP_ORD_Q>(v, v));
                let v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
                let q = _mm256_add_epi32(_mm256_cvtps_epi32(v), zpv);
                let p16 = _mm256_packs_epi32(q, q);
                let p8 = _mm256_packus_epi16(p16, p16);
                // Each 128-bit lane holds its 4 results in its first 4 bytes.
                let a = _mm_cvtsi128_si32(_mm256_castsi256_si128(p8));
                let b = _mm_cvtsi128_si32(_mm256_extracti128_si256::<1>(p8));
                (y.as_mut_ptr().add(i) as *mut i32).write_unaligned(a);
                (y.as_mut_ptr().add(i + 4) as *mut i32).write_unaligned(b);
                i += 8;
            }
        }
        quantize_f32_portable(&x[n8..], scale, zp, &mut y[n8..]);
    }

    /// `requant_one` on 8 lanes: the same f32 product and clamp, and
    /// `cvtps_epi32` rounds half to even under the default MXCSR, as
    /// `round_ties_even` does.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn requant8(
        acc: __m256i,
        mult: *const f32,
        zp: __m256i,
        lo: __m256i,
        hi: __m256i,
    ) -> __m256i {
        // SAFETY: the caller passes 8 readable multipliers.
        unsafe {
            let f = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_loadu_ps(mult));
            let f = _mm256_min_ps(
                _mm256_max_ps(f, _mm256_set1_ps(-F32_CLAMP)),
                _mm256_set1_ps(F32_CLAMP),
            );
            let i = _mm256_add_epi32(_mm256_cvtps_epi32(f), zp);
            _mm256_min_epi32(_mm256_max_epi32(i, lo), hi)
        }
    }

    /// Depthwise convolution, 16 channels at a time with both accumulators in
    /// registers across the taps (the compiled portable body kept them on the
    /// stack and converted to integers one lane at a time); channels beyond
    /// the last multiple of 16 are done one by one.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn depthwise_avx2(
        g: &Geometry,
        c: usize,
        zp: i32,
        x: &[u8],
        wts: &[i8],
        rq: &Requant,
        y: &mut [u8],
        px: Range<usize>,
    ) {
        let c16 = c / 16 * 16;
        // SAFETY: `depthwise` checked x, wts, y, bias and mult against the
        // geometry; every load below reads channels cb..cb + 16 <= c of one
        // in-range pixel or tap.
        unsafe {
            let zpv = _mm256_set1_epi32(zp);
            let ozp = _mm256_set1_epi32(rq.zp);
            let lo = _mm256_set1_epi32(rq.lo as i32);
            let hi = _mm256_set1_epi32(rq.hi as i32);
            let (xp, wp, bp, mp) = (x.as_ptr(), wts.as_ptr(), rq.bias.as_ptr(), rq.mult.as_ptr());
            let first = px.start;
            for p in px {
                let (oy, ox) = (p / g.ow, p % g.ow);
                let (ky0, ky1) = valid_taps(oy, g.sh, g.pad_top, g.kh, g.h);
                {
                    let (kx0, kx1) = valid_taps(ox, g.sw, g.pad_left, g.kw, g.w);
                    let out = y.as_mut_ptr().add((p - first) * c);
                    let mut cb = 0;
                    while cb < c16 {
                        let mut a0 = _mm256_loadu_si256(bp.add(cb) as *const __m256i);
                        let mut a1 = _mm256_loadu_si256(bp.add(cb + 8) as *const __m256i);
                        for ky in ky0..ky1 {
                            let iy = oy * g.sh + ky - g.pad_top;
                            for kx in kx0..kx1 {
                                let ix = ox * g.sw + kx - g.pad_left;
                                let xv = _mm_loadu_si128(
                                    xp.add((iy * g.w + ix) * c + cb) as *const __m128i
                                );
                                let wv = _mm_loadu_si128(
                                    wp.add((ky * g.kw + kx) * c + cb) as *const __m128i
                                );
                                let x0 = _mm256_sub_epi32(_mm256_cvtepu8_epi32(xv), zpv);
                                let x1 = _mm256_sub_epi32(
                                    _mm256_cvtepu8_epi32(_mm_srli_si128::<8>(xv)),
                                    zpv,
                                );
                                let w0 = _mm256_cvtepi8_epi32(wv);
                                let w1 = _mm256_cvtepi8_epi32(_mm_srli_si128::<8>(wv));
                                a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(x0, w0));
                                a1 = _mm256_add_epi32(a1, _mm256_mullo_epi32(x1, w1));
                            }
                        }
                        let r0 = requant8(a0, mp.add(cb), ozp, lo, hi);
                        let r1 = requant8(a1, mp.add(cb + 8), ozp, lo, hi);
                        // Values are already in lo..=hi (within 0..=255), so
                        // the saturating packs are exact; the permute undoes
                        // packs' per-lane interleave.
                        let p16 = _mm256_permute4x64_epi64::<0xD8>(_mm256_packs_epi32(r0, r1));
                        let p8 = _mm256_packus_epi16(p16, p16);
                        _mm_storel_epi64(out.add(cb) as *mut __m128i, _mm256_castsi256_si128(p8));
                        _mm_storel_epi64(
                            out.add(cb + 8) as *mut __m128i,
                            _mm256_extracti128_si256::<1>(p8),
                        );
                        cb += 16;
                    }
                    for ch in c16..c {
                        let mut acc = *bp.add(ch);
                        for ky in ky0..ky1 {
                            let iy = oy * g.sh + ky - g.pad_top;
                            for kx in kx0..kx1 {
                                let ix = ox * g.sw + kx - g.pad_left;
                                let xv = *xp.add((iy * g.w + ix) * c + ch) as i32 - zp;
                                acc += xv * *wp.add((ky * g.kw + kx) * c + ch) as i32;
                            }
                        }
                        *out.add(ch) = requant_one(acc, *mp.add(ch), rq.zp, rq.lo, rq.hi);
                    }
                }
            }
        }
    }

    /// 3x3 depthwise convolution with AVX-512: output rows are cut into
    /// border pixels (some taps in the padding: [`depthwise_avx2`], one
    /// pixel at a time) and runs of interior pixels, where all nine taps are
    /// real. An interior run is swept 16 channels at a time with the nine
    /// weight vectors (widened to i32 once) and the bias held in registers
    /// across its pixels, and the input zero point folded into the bias
    /// (`sum (x - zp) w = sum x w - zp sum w`, exact in i32), so each tap is
    /// one widening load, one multiply and one add; the AVX2 body widened
    /// the weights and subtracted the zero point again for every pixel.
    /// Channels past the last 16 take one masked group.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub unsafe fn depthwise3x3_avx512(
        g: &Geometry,
        c: usize,
        zp: i32,
        x: &[u8],
        wts: &[i8],
        rq: &Requant,
        y: &mut [u8],
        px: Range<usize>,
    ) {
        debug_assert!(g.kh == 3 && g.kw == 3);
        let first = px.start;
        let mut p = px.start;
        while p < px.end {
            let oy = p / g.ow;
            let row_end = ((oy + 1) * g.ow).min(px.end);
            let (ky0, ky1) = valid_taps(oy, g.sh, g.pad_top, 3, g.h);
            // Interior columns of this row: every kx tap inside 0..w (the
            // f32 depthwise's definition, dilation 1).
            let (lo, hi) = crate::depthwise::interior(g.ow, g.sw, 1, g.pad_left, 3, g.w);
            let (a, b) = if ky0 == 0 && ky1 == 3 && lo < hi {
                (
                    (oy * g.ow + lo).clamp(p, row_end),
                    (oy * g.ow + hi).clamp(p, row_end),
                )
            } else {
                (row_end, row_end)
            };
            // Border pixels before the run, the run, border pixels after it.
            for (s, e) in [(p, a), (b, row_end)] {
                if s < e {
                    let out = &mut y[(s - first) * c..(e - first) * c];
                    // SAFETY: AVX2 comes with AVX-512F; sizes as checked by
                    // `depthwise_pixels` for the sub-range.
                    unsafe { depthwise_avx2(g, c, zp, x, wts, rq, out, s..e) };
                }
            }
            if a < b {
                let out = &mut y[(a - first) * c..(b - first) * c];
                // SAFETY: pixels a..b of row oy have all nine taps inside
                // the image (ky0 = 0, ky1 = 3, columns lo..hi).
                unsafe { interior3x3_avx512(g, c, zp, x, wts, rq, out, oy, a - oy * g.ow, b - a) };
            }
            p = row_end;
        }
    }

    /// `n` interior pixels of output row `oy` from column `ox0` (see
    /// [`depthwise3x3_avx512`]).
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    unsafe fn interior3x3_avx512(
        g: &Geometry,
        c: usize,
        zp: i32,
        x: &[u8],
        wts: &[i8],
        rq: &Requant,
        out: &mut [u8],
        oy: usize,
        ox0: usize,
        n: usize,
    ) {
        let iy0 = oy * g.sh - g.pad_top;
        let ix0 = ox0 * g.sw - g.pad_left;
        // Every read: rows iy0..iy0 + 3 < h, columns ix0..ix0 + (n - 1) * sw + 3 <= w.
        assert!(iy0 + 3 <= g.h && ix0 + (n - 1) * g.sw + 3 <= g.w);
        assert!(x.len() >= g.h * g.w * c && wts.len() >= 9 * c && out.len() >= n * c);
        assert!(rq.bias.len() >= c && rq.mult.len() >= c);
        // SAFETY: the loads and stores below stay inside the ranges asserted
        // above (masked lanes past c are neither read nor written).
        unsafe {
            let ozp = _mm512_set1_epi32(rq.zp);
            let lo = _mm512_set1_epi32(rq.lo as i32);
            let hi = _mm512_set1_epi32(rq.hi as i32);
            let (fmin, fmax) = (_mm512_set1_ps(-F32_CLAMP), _mm512_set1_ps(F32_CLAMP));
            let step = g.sw * c;
            let mut c0 = 0;
            while c0 < c {
                let lanes = (c - c0).min(16);
                let m: __mmask16 = if lanes == 16 {
                    0xffff
                } else {
                    (1u16 << lanes) - 1
                };
                let wv: [__m512i; 9] = std::array::from_fn(|t| {
                    let src = wts.as_ptr().add(t * c + c0) as *const __m128i;
                    _mm512_cvtepi8_epi32(load16_masked(m, src))
                });
                let mut wsum = _mm512_setzero_si512();
                for w in &wv {
                    wsum = _mm512_add_epi32(wsum, *w);
                }
                let bias = _mm512_maskz_loadu_epi32(m, rq.bias.as_ptr().add(c0));
                let bias = _mm512_sub_epi32(bias, _mm512_mullo_epi32(wsum, _mm512_set1_epi32(zp)));
                let mult = _mm512_maskz_loadu_ps(m, rq.mult.as_ptr().add(c0));
                let rows: [*const u8; 3] =
                    std::array::from_fn(|ky| x.as_ptr().add(((iy0 + ky) * g.w + ix0) * c + c0));
                for q in 0..n {
                    let mut acc = bias;
                    for (ky, r) in rows.iter().enumerate() {
                        let base = r.add(q * step);
                        for kx in 0..3 {
                            let xv = load16_masked(m, base.add(kx * c) as *const __m128i);
                            let xv = _mm512_cvtepu8_epi32(xv);
                            acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(xv, wv[ky * 3 + kx]));
                        }
                    }
                    let f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), mult);
                    let f = _mm512_min_ps(_mm512_max_ps(f, fmin), fmax);
                    let i = _mm512_add_epi32(
                        _mm512_cvt_roundps_epi32::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
                            f,
                        ),
                        ozp,
                    );
                    let i = _mm512_min_epi32(_mm512_max_epi32(i, lo), hi);
                    // In lo..=hi within 0..=255: the truncating narrow is exact.
                    let bytes = _mm512_cvtepi32_epi8(i);
                    let dst = out.as_mut_ptr().add(q * c + c0);
                    if m == 0xffff {
                        _mm_storeu_si128(dst as *mut __m128i, bytes);
                    } else {
                        _mm512_mask_cvtepi32_storeu_epi8(dst as *mut i8, m, i);
                    }
                }
                c0 += lanes;
            }
        }
    }

    /// 16 bytes from `p`, or only the lanes of `m` (the rest zero) without
    /// touching memory past them; AVX-512F alone (no BW) has no byte-masked
    /// load, so a partial group is copied through a stack buffer.
    #[inline(always)]
    unsafe fn load16_masked(m: __mmask16, p: *const __m128i) -> __m128i {
        // SAFETY: the caller guarantees the lanes of m are readable.
        unsafe {
            if m == 0xffff {
                _mm_loadu_si128(p)
            } else {
                let mut buf = [0u8; 16];
                let n = m.count_ones() as usize;
                std::ptr::copy_nonoverlapping(p as *const u8, buf.as_mut_ptr(), n);
                _mm_loadu_si128(buf.as_ptr() as *const __m128i)
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn add_avx2(p: &AddParams, a: &[u8], b: &[u8], y: &mut [u8]) {
        // The portable body compiled with AVX2 stayed scalar (about 1 ns an
        // element, 5 % of an int8 MobileNetV2): 8 lanes here with the same
        // operations in the same order (two products, one sum: no fused
        // multiply-add), a clamp to +-2^30 where `as i32` and `cvtps_epi32`
        // agree, ties to even under the default MXCSR.
        let n8 = y.len() / 8 * 8;
        // SAFETY: 8-byte loads and stores at i + 8 <= n8 <= len of all three.
        unsafe {
            let (za, zb, zy) = (
                _mm256_set1_epi32(p.za),
                _mm256_set1_epi32(p.zb),
                _mm256_set1_epi32(p.zy),
            );
            let (fa, fb) = (_mm256_set1_ps(p.fa), _mm256_set1_ps(p.fb));
            let (lo, hi) = (
                _mm256_set1_epi32(p.lo as i32),
                _mm256_set1_epi32(p.hi as i32),
            );
            let lim = _mm256_set1_ps(F32_CLAMP);
            let mut i = 0;
            while i < n8 {
                let load = |s: &[u8]| {
                    _mm256_cvtepu8_epi32(_mm_loadl_epi64(s.as_ptr().add(i) as *const __m128i))
                };
                let xa = _mm256_cvtepi32_ps(_mm256_sub_epi32(load(a), za));
                let xb = _mm256_cvtepi32_ps(_mm256_sub_epi32(load(b), zb));
                let v = _mm256_add_ps(_mm256_mul_ps(xa, fa), _mm256_mul_ps(xb, fb));
                // NaN (scales of inf or NaN) to 0, the scalar cast's result.
                let v = _mm256_and_ps(v, _mm256_cmp_ps::<_CMP_ORD_Q>(v, v));
                let v = _mm256_min_ps(
                    _mm256_max_ps(v, _mm256_sub_ps(_mm256_setzero_ps(), lim)),
                    lim,
                );
                let q = _mm256_add_epi32(_mm256_cvtps_epi32(v), zy);
                let q = _mm256_min_epi32(_mm256_max_epi32(q, lo), hi);
                let p16 = _mm256_packs_epi32(q, q);
                let p8 = _mm256_packus_epi16(p16, p16);
                let lo4 = _mm_cvtsi128_si32(_mm256_castsi256_si128(p8));
                let hi4 = _mm_cvtsi128_si32(_mm256_extracti128_si256::<1>(p8));
                (y.as_mut_ptr().add(i) as *mut i32).write_unaligned(lo4);
                (y.as_mut_ptr().add(i + 4) as *mut i32).write_unaligned(hi4);
                i += 8;
            }
        }
        add_portable(p, &a[n8..], &b[n8..], &mut y[n8..])
    }

    /// Rows per micro-kernel call: 8 accumulators of 16 lanes, one weight
    /// load and 8 broadcasts per 4 steps of k.
    const MR: usize = 8;

    // avx512vl too: the masked 16-byte store is a VL instruction, and without
    // the feature here it was an out-of-line call per output row.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
    pub unsafe fn gemm_vnni512(
        m: usize,
        a: &[u8],
        lda: usize,
        b: &PackedB,
        rq: &Requant,
        c: &mut [u8],
        ldc: usize,
    ) {
        // SAFETY: callers check the slice bounds (see `gemm`); the loads are unaligned.
        unsafe {
            for p in 0..b.panels {
                let n0 = p * NR;
                let cols = (b.n - n0).min(NR);
                let panel = b.data.as_ptr().add(p * b.kq * NR * 4);
                // Bias and multiplier beyond n are read from padded copies.
                let mut bias = [0i32; NR];
                let mut mult = [0f32; NR];
                bias[..cols].copy_from_slice(&rq.bias[n0..n0 + cols]);
                mult[..cols].copy_from_slice(&rq.mult[n0..n0 + cols]);
                let bias = _mm512_loadu_si512(bias.as_ptr() as *const _);
                let mult = _mm512_loadu_ps(mult.as_ptr());
                let mask: __mmask16 = if cols == NR {
                    0xffff
                } else {
                    (1u16 << cols) - 1
                };
                let mut row = 0;
                while row < m {
                    let rows = (m - row).min(MR);
                    let mut acc = [_mm512_setzero_si512(); MR];
                    let abase = a.as_ptr().add(row * lda);
                    for q in 0..b.kq {
                        let w = _mm512_loadu_si512(panel.add(q * NR * 4) as *const _);
                        // Unrolled by the constant bound; rows beyond `rows`
                        // are skipped at run time.
                        for (r, acc) in acc.iter_mut().enumerate() {
                            if r < rows {
                                let av =
                                    (abase.add(r * lda + q * 4) as *const i32).read_unaligned();
                                *acc = _mm512_dpbusd_epi32(*acc, _mm512_set1_epi32(av), w);
                            }
                        }
                    }
                    for (r, acc) in acc.iter().enumerate().take(rows) {
                        let v = _mm512_add_epi32(*acc, bias);
                        let f = _mm512_mul_ps(_mm512_cvtepi32_ps(v), mult);
                        let f = _mm512_min_ps(
                            _mm512_max_ps(f, _mm512_set1_ps(-F32_CLAMP)),
                            _mm512_set1_ps(F32_CLAMP),
                        );
                        let i = _mm512_cvt_roundps_epi32::<
                            { _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC },
                        >(f);
                        let i = _mm512_add_epi32(i, _mm512_set1_epi32(rq.zp));
                        let i = _mm512_max_epi32(i, _mm512_set1_epi32(rq.lo as i32));
                        let i = _mm512_min_epi32(i, _mm512_set1_epi32(rq.hi as i32));
                        let bytes = _mm512_cvtepi32_epi8(i);
                        _mm_mask_storeu_epi8(
                            c.as_mut_ptr().add((row + r) * ldc + n0) as *mut i8,
                            mask,
                            bytes,
                        );
                    }
                    row += rows;
                }
            }
        }
    }
}

/// Straightforward definitions the kernels are checked against (here and by
/// the tests of edgemark's int8 graph pass, so not test-only).
pub mod reference {
    use super::*;

    /// Plain convolution, NHWC, weights `[kh][kw][cin][cout]`, zero weight
    /// zero point, real-zero padding; groups == 1 or depthwise (`dw`, weights
    /// `[kh][kw][c]`).
    #[allow(clippy::too_many_arguments)]
    pub fn conv(
        g: &Geometry,
        cin: usize,
        cout: usize,
        dw: bool,
        zp: i32,
        x: &[u8],
        w: &[i8],
        bias: &[i32],
        mult: &[f32],
        zy: i32,
        lo: u8,
        hi: u8,
    ) -> Vec<u8> {
        let mut y = vec![0u8; g.oh * g.ow * cout];
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                for co in 0..cout {
                    let mut acc = bias[co] as i64;
                    for ky in 0..g.kh {
                        for kx in 0..g.kw {
                            let iy = (oy * g.sh + ky) as isize - g.pad_top as isize;
                            let ix = (ox * g.sw + kx) as isize - g.pad_left as isize;
                            if iy < 0 || ix < 0 || iy >= g.h as isize || ix >= g.w as isize {
                                continue;
                            }
                            let px = (iy as usize * g.w + ix as usize) * cin;
                            if dw {
                                let xv = x[px + co] as i64 - zp as i64;
                                acc += xv * w[(ky * g.kw + kx) * cout + co] as i64;
                            } else {
                                for ci in 0..cin {
                                    let xv = x[px + ci] as i64 - zp as i64;
                                    let wv = w[((ky * g.kw + kx) * cin + ci) * cout + co];
                                    acc += xv * wv as i64;
                                }
                            }
                        }
                    }
                    // The requantisation is defined in f32, as the
                    // engines the references come from compute it.
                    y[(oy * g.ow + ox) * cout + co] = requant_one(acc as i32, mult[co], zy, lo, hi);
                }
            }
        }
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::tests::Rng;

    fn bytes(rng: &mut Rng, n: usize) -> Vec<u8> {
        (0..n).map(|_| (rng.next() >> 24) as u8).collect()
    }

    fn geometry(h: usize, w: usize, k: usize, s: usize, pad: usize) -> Geometry {
        Geometry {
            h,
            w,
            kh: k,
            kw: k,
            sh: s,
            sw: s,
            pad_top: pad,
            pad_left: pad,
            oh: (h + 2 * pad - k) / s + 1,
            ow: (w + 2 * pad - k) / s + 1,
        }
    }

    fn close(a: &[u8], b: &[u8]) {
        assert_eq!(a, b);
    }

    #[test]
    fn gemm_matches_reference_on_odd_sizes() {
        let mut rng = Rng(7);
        for &(m, k, n) in &[
            (1, 4, 1),
            (3, 5, 17),
            (9, 24, 16),
            (17, 96, 40),
            (20, 3, 33),
            // Two 4-quad k chunks plus tails in every direction.
            (11, 41, 35),
        ] {
            let a = bytes(&mut rng, m * k);
            let w: Vec<i8> = bytes(&mut rng, k * n)
                .into_iter()
                .map(|v| v as i8)
                .collect();
            let zp = 3;
            let bias: Vec<i32> = (0..n).map(|i| i as i32 * 37 - 300).collect();
            let mult: Vec<f32> = (0..n).map(|i| 0.001 + i as f32 * 0.0003).collect();
            let g = geometry(1, m, 1, 1, 0);
            let want = reference::conv(&g, k, n, false, zp, &a, &w, &bias, &mult, 10, 5, 250);
            // A rows padded to a multiple of 4, as the conv op provides them.
            let pb = PackedB::pack(k, n, &w);
            let lda = pb.row_bytes();
            let mut ap = vec![0u8; m * lda];
            for r in 0..m {
                ap[r * lda..r * lda + k].copy_from_slice(&a[r * k..r * k + k]);
            }
            let rq = Requant {
                bias: (0..n).map(|i| bias[i] - zp * pb.col_sums[i]).collect(),
                mult: mult.clone(),
                zp: 10,
                lo: 5,
                hi: 250,
            };
            let mut got = vec![0u8; m * n];
            gemm(m, &ap, lda, &pb, &rq, &mut got, n);
            close(&got, &want);
            let mut port = vec![0u8; m * n];
            gemm_portable(m, &ap, lda, &pb, &rq, &mut port, n);
            close(&port, &want);
        }
    }

    /// The `sdot` kernel is what `gemm` runs on a dot-product CPU (qemu's
    /// default aarch64 CPU is one, so CI's qemu tests take it): say so, and
    /// in CI fail rather than pass on the portable body alone.
    #[cfg(target_arch = "aarch64")]
    #[test]
    fn gemm_runs_the_sdot_kernel_where_the_cpu_has_it() {
        let dot = std::arch::is_aarch64_feature_detected!("dotprod");
        eprintln!("aarch64 dotprod: {dot}");
        assert!(
            dot || std::env::var_os("CI").is_none(),
            "no dotprod on this CPU: the sdot kernel is untested"
        );
    }

    #[test]
    fn depthwise_and_im2col_match_reference() {
        let mut rng = Rng(11);
        for &(h, w, c, s, pad) in &[
            (5, 6, 3, 1, 1),
            (7, 7, 20, 2, 1),
            (8, 8, 33, 2, 0),
            (4, 3, 16, 1, 1),
            // More channels than one accumulator block, and not a multiple of it.
            (6, 5, 144, 1, 1),
            (9, 8, 70, 2, 1),
            // Long interior runs (AVX-512: 16-channel groups across a row).
            (12, 19, 48, 1, 1),
            (13, 17, 40, 2, 1),
        ] {
            let g = geometry(h, w, 3, s, pad);
            let x = bytes(&mut rng, h * w * c);
            let wd: Vec<i8> = bytes(&mut rng, 9 * c)
                .into_iter()
                .map(|v| v as i8)
                .collect();
            let bias: Vec<i32> = (0..c.max(5)).map(|i| 100 - i as i32 * 13).collect();
            let mult: Vec<f32> = (0..c.max(5)).map(|i| 0.002 + i as f32 * 0.0001).collect();
            let want = reference::conv(&g, c, c, true, 120, &x, &wd, &bias, &mult, 128, 0, 255);
            let rq = Requant {
                bias: bias[..c].to_vec(),
                mult: mult[..c].to_vec(),
                zp: 128,
                lo: 0,
                hi: 255,
            };
            let mut got = vec![0u8; g.oh * g.ow * c];
            depthwise(&g, c, 120, &x, &wd, &rq, &mut got);
            close(&got, &want);
            // The AVX2 body too where the CPU would take the AVX-512 one.
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                let mut avx2 = vec![0u8; g.oh * g.ow * c];
                let px = 0..g.oh * g.ow;
                unsafe { x86::depthwise_avx2(&g, c, 120, &x, &wd, &rq, &mut avx2, px) };
                close(&avx2, &want);
            }
            let mut port = vec![0u8; g.oh * g.ow * c];
            depthwise_portable(&g, c, 120, &x, &wd, &rq, &mut port, 0..g.oh * g.ow);
            close(&port, &want);

            // Full convolution through im2col + gemm, cout = 5.
            let cout = 5;
            let wf: Vec<i8> = bytes(&mut rng, 9 * c * cout)
                .into_iter()
                .map(|v| v as i8)
                .collect();
            let want = reference::conv(&g, c, cout, false, 120, &x, &wf, &bias, &mult, 7, 0, 255);
            let pb = PackedB::pack(9 * c, cout, &wf);
            let row = pb.row_bytes();
            let mut cols = vec![0u8; g.oh * g.ow * row];
            im2col(&g, c, 120, &x, &mut cols, row);
            let rq = Requant {
                bias: (0..cout).map(|i| bias[i] - 120 * pb.col_sums[i]).collect(),
                mult: mult[..cout].to_vec(),
                zp: 7,
                lo: 0,
                hi: 255,
            };
            let mut got = vec![0u8; g.oh * g.ow * cout];
            gemm(g.oh * g.ow, &cols, row, &pb, &rq, &mut got, cout);
            close(&got, &want);
        }
    }

    /// TF "SAME" padding puts the odd pixel at the bottom/right (stride 2 on
    /// an even size pads 0 before, 1 after); 5x5 windows reach two taps into
    /// the padding. The tap ranges must follow both.
    #[test]
    fn depthwise_follows_asymmetric_padding_and_wider_windows() {
        let mut rng = Rng(23);
        for &(h, w, k, s, pt, pl, oh, ow, c) in &[
            (8, 8, 3, 2, 0, 0, 4, 4, 24),
            (7, 9, 5, 1, 2, 2, 7, 9, 40),
            (6, 6, 5, 2, 1, 2, 3, 3, 8),
        ] {
            let g = Geometry {
                h,
                w,
                kh: k,
                kw: k,
                sh: s,
                sw: s,
                pad_top: pt,
                pad_left: pl,
                oh,
                ow,
            };
            let x = bytes(&mut rng, h * w * c);
            let wd: Vec<i8> = bytes(&mut rng, k * k * c)
                .into_iter()
                .map(|v| v as i8)
                .collect();
            let bias: Vec<i32> = (0..c).map(|i| 50 - i as i32 * 7).collect();
            let mult: Vec<f32> = (0..c).map(|i| 0.001 + i as f32 * 0.0002).collect();
            let want = reference::conv(&g, c, c, true, 3, &x, &wd, &bias, &mult, 100, 10, 240);
            let rq = Requant {
                bias,
                mult,
                zp: 100,
                lo: 10,
                hi: 240,
            };
            let mut got = vec![0u8; oh * ow * c];
            depthwise(&g, c, 3, &x, &wd, &rq, &mut got);
            close(&got, &want);
        }
    }

    /// Threads split a convolution by output pixels: the parts, computed
    /// apart (ranges cutting rows anywhere), must equal the whole.
    #[test]
    fn pixel_ranges_put_together_equal_the_whole() {
        let mut rng = Rng(41);
        let c = 24;
        let g = geometry(9, 7, 3, 2, 1);
        let x = bytes(&mut rng, 9 * 7 * c);
        let wd: Vec<i8> = bytes(&mut rng, 9 * c)
            .into_iter()
            .map(|v| v as i8)
            .collect();
        let rq = Requant {
            bias: (0..c as i32).map(|i| i * 31 - 300).collect(),
            mult: (0..c).map(|i| 0.003 + i as f32 * 1e-4).collect(),
            zp: 90,
            lo: 0,
            hi: 255,
        };
        let pixels = g.oh * g.ow;
        let mut whole = vec![0u8; pixels * c];
        depthwise(&g, c, 17, &x, &wd, &rq, &mut whole);
        let mut parts = vec![0u8; pixels * c];
        for r in [0..5, 5..6, 6..13, 13..pixels] {
            let (a, b) = (r.start * c, r.end * c);
            depthwise_pixels(&g, c, 17, &x, &wd, &rq, &mut parts[a..b], r);
        }
        assert_eq!(parts, whole);

        let row = 9 * c + 4;
        let mut cols = vec![0u8; pixels * row];
        im2col(&g, c, 17, &x, &mut cols, row);
        let mut cols_parts = vec![0u8; pixels * row];
        for r in [0..3, 3..pixels] {
            let (a, b) = (r.start * row, r.end * row);
            im2col_pixels(&g, c, 17, &x, &mut cols_parts[a..b], row, r);
        }
        assert_eq!(cols_parts, cols);
    }

    #[test]
    fn quantize_f32_rounds_ties_to_even_like_the_definition() {
        let scale = 0.5f32;
        let mut xs: Vec<f32> = vec![
            0.25,
            0.75,
            1.25,
            -0.25,
            -0.75,
            -1.25,
            0.0,
            -0.0,
            63.75,
            64.25,
            -64.25,
            1e9,
            -1e9,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            1e-30,
            127.0,
            127.25,
        ];
        let mut rng = Rng(3);
        xs.extend((0..1000).map(|_| ((rng.next() >> 32) as u32 as i32) as f32 / 1e7));
        for zp in [0, 3, 128, 255] {
            let mut got = vec![0u8; xs.len()];
            quantize_f32(&xs, scale, zp, &mut got);
            let mut port = vec![0u8; xs.len()];
            quantize_f32_portable(&xs, scale, zp, &mut port);
            assert_eq!(got, port, "zp {zp}: dispatched and portable bodies differ");
            for (&v, &g) in xs.iter().zip(&got) {
                let want = ((v / scale).round_ties_even() as i32)
                    .saturating_add(zp)
                    .clamp(0, 255) as u8;
                assert_eq!(g, want, "x {v} zp {zp}");
            }
        }
    }

    #[test]
    fn add_and_mean_follow_their_definitions() {
        let mut rng = Rng(5);
        let a = bytes(&mut rng, 77);
        let b = bytes(&mut rng, 77);
        let p = AddParams {
            za: 100,
            fa: 0.7,
            zb: 3,
            fb: 1.9,
            zy: 20,
            lo: 0,
            hi: 255,
        };
        let mut y = vec![0u8; 77];
        add(&p, &a, &b, &mut y);
        for i in 0..77 {
            let v = (a[i] as f64 - 100.0) * 0.7 + (b[i] as f64 - 3.0) * 1.9;
            let want = (v.round_ties_even() + 20.0).clamp(0.0, 255.0) as i32;
            assert!((y[i] as i32 - want).abs() <= 1, "{i}: {} vs {want}", y[i]);
        }
        // The dispatched body (AVX2 on x86) equals the portable one exactly,
        // ties, clamps and scales that overflow i32 included.
        let n = 1003;
        let (a, b) = (bytes(&mut rng, n), bytes(&mut rng, n));
        for p in [
            AddParams {
                za: 128,
                fa: 0.5,
                zb: 0,
                fb: 0.25,
                zy: 0,
                lo: 10,
                hi: 240,
            },
            AddParams {
                za: 7,
                fa: -1.3,
                zb: 250,
                fb: 2.7,
                zy: 131,
                lo: 0,
                hi: 255,
            },
            AddParams {
                za: 0,
                fa: 3e7,
                zb: 0,
                fb: -3e7,
                zy: 128,
                lo: 0,
                hi: 255,
            },
            AddParams {
                za: 0,
                fa: f32::INFINITY,
                zb: 9,
                fb: 1.0,
                zy: 17,
                lo: 0,
                hi: 255,
            },
        ] {
            let (mut got, mut port) = (vec![0u8; n], vec![0u8; n]);
            add(&p, &a, &b, &mut got);
            add_portable(&p, &a, &b, &mut port);
            assert_eq!(got, port, "{p:?}");
        }
        let (hw, c) = (49, 10);
        let x = bytes(&mut rng, hw * c);
        let rq = Requant {
            bias: vec![0; c],
            mult: vec![0.5 / hw as f32; c],
            zp: 9,
            lo: 0,
            hi: 255,
        };
        let mut y = vec![0u8; c];
        mean(hw, c, 60, &x, &rq, &mut y);
        for ch in 0..c {
            let s: f64 = (0..hw).map(|p| x[p * c + ch] as f64 - 60.0).sum();
            let want = ((s / hw as f64 * 0.5).round_ties_even() + 9.0).clamp(0.0, 255.0) as i32;
            assert!(
                (y[ch] as i32 - want).abs() <= 1,
                "{ch}: {} vs {want}",
                y[ch]
            );
        }
    }
}
