//! `C = clamp(A · B + bias)` for f32, with B (the weights) packed once at
//! load time into column panels: the matrix product behind pointwise and
//! im2col convolutions.
//!
//! Blocking: the output is computed in MR x NR tiles, each one pass over the
//! whole K dimension with the tile's accumulators held in registers (6 x 16
//! is 12 AVX2 registers, leaving room for two B vectors and an A broadcast).
//! Panels are visited in blocks small enough that their weights stay in L2
//! while every row block of A streams past them; A is read in place (its rows
//! are pixels of an NHWC tensor) or gathered MR rows at a time by a [`Rows`]
//! source (im2col windows), so no full copy of A is ever made.

use super::{Clamp, Fork, SharedMut, madd, split};

/// Rows per tile.
pub const MR: usize = 6;
/// Columns per tile (one packed panel).
pub const NR: usize = 16;
/// Bytes of packed weights one panel block may hold (kept in L2).
const PANEL_BLOCK_BYTES: usize = 128 * 1024;
/// Multiply-adds below which a product runs as one task: forking costs a few
/// microseconds, about what this much work takes.
const MIN_PARALLEL_MACS: usize = 1 << 18;

/// Weights `[k][n]` packed into panels of NR columns (`[panel][k][NR]`, the
/// last panel zero-padded), with the bias padded the same way.
#[derive(Debug, Clone, PartialEq)]
pub struct PackedB {
    k: usize,
    n: usize,
    data: Vec<f32>,
    bias: Vec<f32>,
}

impl PackedB {
    /// `w[kk * n + j]` is the weight from input `kk` to output `j`; `bias`
    /// has `n` values.
    pub fn new(k: usize, n: usize, w: &[f32], bias: &[f32]) -> PackedB {
        assert_eq!(w.len(), k * n, "weights are k x n");
        assert_eq!(bias.len(), n, "one bias per output");
        let panels = n.div_ceil(NR);
        let mut data = vec![0f32; panels * k * NR];
        for p in 0..panels {
            for kk in 0..k {
                for j in 0..NR.min(n - p * NR) {
                    data[(p * k + kk) * NR + j] = w[kk * n + p * NR + j];
                }
            }
        }
        let mut b = vec![0f32; panels * NR];
        b[..n].copy_from_slice(bias);
        PackedB {
            k,
            n,
            data,
            bias: b,
        }
    }

    pub fn k(&self) -> usize {
        self.k
    }

    pub fn n(&self) -> usize {
        self.n
    }

    pub fn panels(&self) -> usize {
        self.n.div_ceil(NR)
    }

    /// Panels `p..p + span`, contiguous: panel `p + 1` starts `k * NR`
    /// floats after panel `p`.
    fn panels_from(&self, p: usize, span: usize) -> &[f32] {
        &self.data[p * self.k * NR..][..span * self.k * NR]
    }

    fn bias(&self, p: usize, span: usize) -> &[f32] {
        &self.bias[p * NR..][..span * NR]
    }
}

/// Where the rows of A come from.
pub trait Rows: Sync {
    /// Row count (output pixels).
    fn m(&self) -> usize;
    /// Row length (the product's inner dimension).
    fn k(&self) -> usize;
    /// Whether [`Rows::rows`] writes into its buffer (then every task needs
    /// MR x k floats of scratch).
    fn gathers(&self) -> bool;
    /// Rows `m0..m0 + count` (count <= MR): a slice whose row `i` starts at
    /// `i * stride`, either borrowed from the source or gathered into `buf`.
    fn rows<'a>(&'a self, m0: usize, count: usize, buf: &'a mut [f32]) -> (&'a [f32], usize);
}

/// A plain row-major matrix: `m` rows of `k` values, `stride` apart.
pub struct Dense<'a> {
    pub a: &'a [f32],
    pub m: usize,
    pub k: usize,
    pub stride: usize,
}

impl Rows for Dense<'_> {
    fn m(&self) -> usize {
        self.m
    }
    fn k(&self) -> usize {
        self.k
    }
    fn gathers(&self) -> bool {
        false
    }
    fn rows<'a>(&'a self, m0: usize, _: usize, _: &'a mut [f32]) -> (&'a [f32], usize) {
        (&self.a[m0 * self.stride..], self.stride)
    }
}

/// Scratch floats [`gemm`] needs for `rows` with `threads` tasks.
pub fn scratch_len(rows: &dyn Rows, threads: usize) -> usize {
    if rows.gathers() {
        threads.max(1) * MR * rows.k()
    } else {
        0
    }
}

/// How the output is divided between tasks: by rows (output pixels) or by
/// panels. Rows whenever every task gets at least one full row block; panels
/// only for products with too few rows for that (a fully connected layer on
/// one image).
///
/// Why rows: they are what the depthwise and int8 kernels split by too (one
/// contiguous range of pixels per task, from the same `split`), so with two
/// threads each one mostly reads what it wrote itself in the operator
/// before. Split by panels, every task streams all of A, half of it written
/// by the other core: on this 2-vCPU EPYC a 7x7x960 depthwise reading its
/// input that way took 150-175 us against 33-39 us with pixel splits on both
/// sides (one thread: 38-60 us), and 112x112x16 -> 96 or 28x28x32 -> 192 ran
/// 1.5-2.3x SLOWER on two threads than on one.
pub(crate) fn partition(m: usize, n: usize, k: usize, threads: usize) -> (usize, bool) {
    if threads <= 1 || m * n * k < MIN_PARALLEL_MACS {
        return (1, true);
    }
    let blocks = m.div_ceil(MR);
    if blocks >= threads {
        return (threads, true);
    }
    (threads.min(n.div_ceil(NR)).max(1), false)
}

/// An element-wise addend of the output's shape, `r[i * ld + j]`, added
/// before the clamp: a residual connection fused into the product that
/// feeds it.
#[derive(Debug, Clone, Copy)]
pub struct Residual<'a> {
    pub r: &'a [f32],
    pub ld: usize,
}

/// `c[i * ldc + j] = clamp(sum_k A[i][k] * B[k][j] + bias[j] (+ r[i][j]))`
/// for every row `i < rows.m()` and column `j < b.n()`. `scratch` holds at
/// least [`scratch_len`] floats for `fork.threads()`.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    rows: &dyn Rows,
    b: &PackedB,
    clamp: Clamp,
    residual: Option<Residual>,
    c: &mut [f32],
    ldc: usize,
    scratch: &mut [f32],
    fork: &dyn Fork,
) {
    let (m, n, k) = (rows.m(), b.n(), b.k());
    assert_eq!(rows.k(), k, "A and B disagree on k");
    if m == 0 || n == 0 {
        return;
    }
    assert!(ldc >= n && c.len() >= (m - 1) * ldc + n, "output too small");
    if let Some(r) = residual {
        assert!(
            r.ld >= n && r.r.len() >= (m - 1) * r.ld + n,
            "residual too small"
        );
    }
    let (tasks, by_rows) = partition(m, n, k, fork.threads());
    let per_task = if rows.gathers() { MR * k } else { 0 };
    assert!(scratch.len() >= tasks * per_task, "gemm scratch too small");
    let out = SharedMut(c.as_mut_ptr());
    let buf = SharedMut(scratch.as_mut_ptr());
    let tile = select_tile();
    let task = |i: usize| {
        let (r, p) = if by_rows {
            (split(m, tasks, i), (0, b.panels()))
        } else {
            ((0, m), split(b.panels(), tasks, i))
        };
        // SAFETY: task i alone uses scratch[i * per_task..][..per_task], and
        // writes only the rows r and panels p of the output, disjoint from
        // every other task's (split() gives disjoint ranges).
        let scratch =
            unsafe { std::slice::from_raw_parts_mut(buf.ptr().add(i * per_task), per_task) };
        unsafe { run_block(rows, b, clamp, residual, out, ldc, scratch, r, p, tile) };
    };
    if tasks == 1 {
        task(0)
    } else {
        fork.run(tasks, &task)
    }
}

/// A tile function and how many panels (NR columns each) one call covers.
/// Wide tiles also take a narrower remainder: `cols` says how many columns
/// are real, and a call may get fewer panels than `panels` at the end of a
/// block.
#[derive(Clone, Copy)]
pub(crate) struct Tile {
    f: unsafe fn(&TileArgs),
    panels: usize,
    /// For test messages.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) name: &'static str,
}

/// One MR x (NR x panels) tile's operands (raw: the output is shared
/// between tasks).
struct TileArgs<'a> {
    k: usize,
    a: &'a [f32],
    lda: usize,
    rows: usize,
    /// The tile's panels, `k * NR` floats each, one after the other.
    b: &'a [f32],
    /// NR biases per panel.
    bias: &'a [f32],
    clamp: Clamp,
    /// The residual's tile (null: none) and its row stride.
    r: *const f32,
    ldr: usize,
    c: *mut f32,
    ldc: usize,
    cols: usize,
}

#[cfg_attr(all(target_arch = "aarch64", not(test)), allow(dead_code))]
const PORTABLE: Tile = Tile {
    f: tile_portable,
    panels: 1,
    name: "portable",
};
#[cfg(target_arch = "x86_64")]
const AVX512: Tile = Tile {
    f: tile_avx512,
    panels: 2,
    name: "avx512",
};
#[cfg(target_arch = "x86_64")]
const AVX2: Tile = Tile {
    f: tile_avx2,
    panels: 1,
    name: "avx2",
};
#[cfg(target_arch = "aarch64")]
const NEON: Tile = Tile {
    f: tile_neon,
    panels: 1,
    name: "neon",
};

/// The tiles this CPU can run, best first (the first is what [`gemm`]
/// uses; tests run each of them).
#[cfg(test)]
// The pushes depend on the target: no single `vec![]` fits them all.
#[allow(clippy::vec_init_then_push)]
pub(crate) fn tiles() -> Vec<Tile> {
    let mut t = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            t.push(AVX512);
        }
        if super::has_avx2_fma() {
            t.push(AVX2);
        }
    }
    #[cfg(target_arch = "aarch64")]
    t.push(NEON);
    t.push(PORTABLE);
    t
}

/// [`tiles`]' first, without its allocation (this runs on every product).
fn select_tile() -> Tile {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return AVX512;
        }
        if super::has_avx2_fma() {
            return AVX2;
        }
    }
    #[cfg(target_arch = "aarch64")]
    return NEON;
    #[cfg(not(target_arch = "aarch64"))]
    PORTABLE
}

/// Rows `r.0..r.1` x panels `p` of the product, in tiles of MR rows from
/// `r.0` (the last one possibly shorter).
///
/// # Safety
/// `out` must point to an output of the size [`gemm`] checked, and nothing
/// else may access rows `r` x panels `p` of it meanwhile.
#[allow(clippy::too_many_arguments)]
unsafe fn run_block(
    rows: &dyn Rows,
    b: &PackedB,
    clamp: Clamp,
    residual: Option<Residual>,
    out: SharedMut,
    ldc: usize,
    scratch: &mut [f32],
    r: (usize, usize),
    p: (usize, usize),
    tile: Tile,
) {
    let (n, k) = (b.n(), b.k());
    // Whole tiles per block, so a wide tile's panels never straddle two.
    let block = (PANEL_BLOCK_BYTES / (4 * NR * k.max(1)))
        .max(1)
        .next_multiple_of(tile.panels);
    let mut p0 = p.0;
    while p0 < p.1 {
        let p1 = (p0 + block).min(p.1);
        for m0 in (r.0..r.1).step_by(MR) {
            let count = MR.min(r.1 - m0);
            let (a, lda) = rows.rows(m0, count, scratch);
            let mut pn = p0;
            while pn < p1 {
                let span = tile.panels.min(p1 - pn);
                let n0 = pn * NR;
                let args = TileArgs {
                    k,
                    a,
                    lda,
                    rows: count,
                    b: b.panels_from(pn, span),
                    bias: b.bias(pn, span),
                    clamp,
                    // SAFETY: m0 < m and n0 < n, inside the checked residual.
                    r: residual.map_or(std::ptr::null(), |r| unsafe {
                        r.r.as_ptr().add(m0 * r.ld + n0)
                    }),
                    ldr: residual.map_or(0, |r| r.ld),
                    // SAFETY: m0 < m and n0 < n, inside the checked output.
                    c: unsafe { out.ptr().add(m0 * ldc + n0) },
                    ldc,
                    cols: (span * NR).min(n - n0),
                };
                unsafe { (tile.f)(&args) };
                pn += span;
            }
        }
        p0 = p1;
    }
}

/// Portable tile: plain arrays the compiler keeps in vector registers where
/// it can.
///
/// # Safety
/// `t.c` must be valid for `t.rows` rows of `t.cols` values, `t.ldc` apart.
#[cfg_attr(all(target_arch = "aarch64", not(test)), allow(dead_code))]
unsafe fn tile_portable(t: &TileArgs) {
    unsafe { tile_body::<{ super::BASELINE_FMA }>(t) }
}

#[inline(always)]
unsafe fn tile_body<const FMA: bool>(t: &TileArgs) {
    let bias: &[f32; NR] = t.bias[..NR].try_into().expect("NR biases");
    let mut acc = [*bias; MR];
    let off: [usize; MR] = std::array::from_fn(|i| i.min(t.rows - 1) * t.lda);
    let a = &t.a[..off[MR - 1] + t.k];
    for kk in 0..t.k {
        let bk: &[f32; NR] = t.b[kk * NR..][..NR].try_into().expect("NR values");
        for i in 0..MR {
            let av = a[off[i] + kk];
            for j in 0..NR {
                acc[i][j] = madd::<FMA>(av, bk[j], acc[i][j]);
            }
        }
    }
    for (i, row) in acc.iter().enumerate().take(t.rows) {
        for (j, &v) in row.iter().enumerate().take(t.cols) {
            // SAFETY: i < rows, j < cols (the caller's contract).
            unsafe {
                let v = if t.r.is_null() {
                    v
                } else {
                    v + *t.r.add(i * t.ldr + j)
                };
                *t.c.add(i * t.ldc + j) = t.clamp.apply(v);
            }
        }
    }
}

/// AVX2+FMA tile: 6 rows x 2 vectors of 8 accumulators.
///
/// # Safety
/// As [`tile_portable`], and the CPU must have AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn tile_avx2(t: &TileArgs) {
    use std::arch::x86_64::*;
    let off: [usize; MR] = std::array::from_fn(|i| i.min(t.rows - 1) * t.lda);
    assert!(t.a.len() >= off[MR - 1] + t.k && t.b.len() >= t.k * NR);
    let a = t.a.as_ptr();
    let b = t.b.as_ptr();
    unsafe {
        let (a0, a1, a2) = (a.add(off[0]), a.add(off[1]), a.add(off[2]));
        let (a3, a4, a5) = (a.add(off[3]), a.add(off[4]), a.add(off[5]));
        let bias0 = _mm256_loadu_ps(t.bias.as_ptr());
        let bias1 = _mm256_loadu_ps(t.bias.as_ptr().add(8));
        let (mut c00, mut c01, mut c10, mut c11) = (bias0, bias1, bias0, bias1);
        let (mut c20, mut c21, mut c30, mut c31) = (bias0, bias1, bias0, bias1);
        let (mut c40, mut c41, mut c50, mut c51) = (bias0, bias1, bias0, bias1);
        for kk in 0..t.k {
            let b0 = _mm256_loadu_ps(b.add(kk * NR));
            let b1 = _mm256_loadu_ps(b.add(kk * NR + 8));
            let x = _mm256_broadcast_ss(&*a0.add(kk));
            c00 = _mm256_fmadd_ps(x, b0, c00);
            c01 = _mm256_fmadd_ps(x, b1, c01);
            let x = _mm256_broadcast_ss(&*a1.add(kk));
            c10 = _mm256_fmadd_ps(x, b0, c10);
            c11 = _mm256_fmadd_ps(x, b1, c11);
            let x = _mm256_broadcast_ss(&*a2.add(kk));
            c20 = _mm256_fmadd_ps(x, b0, c20);
            c21 = _mm256_fmadd_ps(x, b1, c21);
            let x = _mm256_broadcast_ss(&*a3.add(kk));
            c30 = _mm256_fmadd_ps(x, b0, c30);
            c31 = _mm256_fmadd_ps(x, b1, c31);
            let x = _mm256_broadcast_ss(&*a4.add(kk));
            c40 = _mm256_fmadd_ps(x, b0, c40);
            c41 = _mm256_fmadd_ps(x, b1, c41);
            let x = _mm256_broadcast_ss(&*a5.add(kk));
            c50 = _mm256_fmadd_ps(x, b0, c50);
            c51 = _mm256_fmadd_ps(x, b1, c51);
        }
        let acc = [
            [c00, c01],
            [c10, c11],
            [c20, c21],
            [c30, c31],
            [c40, c41],
            [c50, c51],
        ];
        if t.cols == NR {
            // max(lo, v) then min(hi, v): with the value second, a NaN
            // passes through as tract's own clamp lets it.
            let lo = _mm256_set1_ps(t.clamp.lo);
            let hi = _mm256_set1_ps(t.clamp.hi);
            let cl = |v: __m256| _mm256_min_ps(hi, _mm256_max_ps(lo, v));
            for (i, r) in acc.iter().enumerate().take(t.rows) {
                let (mut v0, mut v1) = (r[0], r[1]);
                if !t.r.is_null() {
                    let rp = t.r.add(i * t.ldr);
                    v0 = _mm256_add_ps(v0, _mm256_loadu_ps(rp));
                    v1 = _mm256_add_ps(v1, _mm256_loadu_ps(rp.add(8)));
                }
                let p = t.c.add(i * t.ldc);
                _mm256_storeu_ps(p, cl(v0));
                _mm256_storeu_ps(p.add(8), cl(v1));
            }
        } else {
            let mut tmp = [0f32; NR];
            for (i, r) in acc.iter().enumerate().take(t.rows) {
                _mm256_storeu_ps(tmp.as_mut_ptr(), r[0]);
                _mm256_storeu_ps(tmp.as_mut_ptr().add(8), r[1]);
                for (j, &v) in tmp.iter().enumerate().take(t.cols) {
                    let v = if t.r.is_null() {
                        v
                    } else {
                        v + *t.r.add(i * t.ldr + j)
                    };
                    *t.c.add(i * t.ldc + j) = t.clamp.apply(v);
                }
            }
        }
    }
}

/// AVX-512 tile: 6 rows x 2 panels (32 columns) of 16-lane accumulators,
/// the AVX2 tile's shape at twice its width (12 of the 32 vector
/// registers; per step of `k` two weight loads and six broadcasts feed
/// twelve multiply-adds). On cores with full-width AVX-512 units (this
/// EPYC, Intel server cores) that is twice the AVX2 tile's work an
/// instruction. One panel (a last odd panel, or `cols <= NR`) runs the same
/// code at half width. Partial panels use masked loads and stores, so the
/// zero-padded columns are computed but never written.
///
/// # Safety
/// As [`tile_portable`] (`t.b` and `t.bias` hold every panel `t.cols`
/// reaches), and the CPU must have AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn tile_avx512(t: &TileArgs) {
    if t.cols > NR {
        unsafe { tile_avx512_span::<2>(t) }
    } else {
        unsafe { tile_avx512_span::<1>(t) }
    }
}

/// [`tile_avx512`] over `P` panels (1 or 2).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn tile_avx512_span<const P: usize>(t: &TileArgs) {
    use std::arch::x86_64::*;
    let off: [usize; MR] = std::array::from_fn(|i| i.min(t.rows - 1) * t.lda);
    assert!(t.a.len() >= off[MR - 1] + t.k && t.b.len() >= P * t.k * NR);
    assert!(t.bias.len() >= P * NR && t.cols <= P * NR);
    let a = t.a.as_ptr();
    // SAFETY: every pointer below stays inside the slices checked above
    // (rows of A up to off[MR - 1] + k, P panels of k * NR weights), and the
    // output and residual rows are the caller's contract.
    unsafe {
        let ap: [*const f32; MR] = std::array::from_fn(|i| a.add(off[i]));
        let b0 = t.b.as_ptr();
        // With one panel the second pointer aliases the first: its
        // accumulators are computed and dropped (P is a constant, so the
        // compiler removes them).
        let b1 = if P == 2 { b0.add(t.k * NR) } else { b0 };
        let bias0 = _mm512_loadu_ps(t.bias.as_ptr());
        let bias1 = if P == 2 {
            _mm512_loadu_ps(t.bias.as_ptr().add(NR))
        } else {
            bias0
        };
        let (mut c00, mut c01, mut c10, mut c11) = (bias0, bias1, bias0, bias1);
        let (mut c20, mut c21, mut c30, mut c31) = (bias0, bias1, bias0, bias1);
        let (mut c40, mut c41, mut c50, mut c51) = (bias0, bias1, bias0, bias1);
        for kk in 0..t.k {
            let w0 = _mm512_loadu_ps(b0.add(kk * NR));
            let w1 = _mm512_loadu_ps(b1.add(kk * NR));
            macro_rules! row {
                ($i:expr, $x0:ident, $x1:ident) => {
                    let x = _mm512_set1_ps(*ap[$i].add(kk));
                    $x0 = _mm512_fmadd_ps(x, w0, $x0);
                    if P == 2 {
                        $x1 = _mm512_fmadd_ps(x, w1, $x1);
                    }
                };
            }
            row!(0, c00, c01);
            row!(1, c10, c11);
            row!(2, c20, c21);
            row!(3, c30, c31);
            row!(4, c40, c41);
            row!(5, c50, c51);
        }
        let acc = [
            [c00, c01],
            [c10, c11],
            [c20, c21],
            [c30, c31],
            [c40, c41],
            [c50, c51],
        ];
        // max(lo, v) then min(hi, v) as in the AVX2 tile: a NaN passes through.
        let lo = _mm512_set1_ps(t.clamp.lo);
        let hi = _mm512_set1_ps(t.clamp.hi);
        let masks: [__mmask16; 2] = std::array::from_fn(|h| {
            let cols = t.cols.saturating_sub(h * NR).min(NR);
            if cols == NR {
                0xffff
            } else {
                (1u16 << cols) - 1
            }
        });
        for (i, row) in acc.iter().enumerate().take(t.rows) {
            for (h, &v) in row.iter().enumerate().take(P) {
                let mask = masks[h];
                let v = if t.r.is_null() {
                    v
                } else {
                    let rp = t.r.add(i * t.ldr + h * NR);
                    let r = if mask == 0xffff {
                        _mm512_loadu_ps(rp)
                    } else {
                        _mm512_maskz_loadu_ps(mask, rp)
                    };
                    _mm512_add_ps(v, r)
                };
                let v = _mm512_min_ps(hi, _mm512_max_ps(lo, v));
                let p = t.c.add(i * t.ldc + h * NR);
                // A plain store where the whole vector is real: masked
                // stores are slower on AMD's cores.
                if mask == 0xffff {
                    _mm512_storeu_ps(p, v);
                } else {
                    _mm512_mask_storeu_ps(p, mask, v);
                }
            }
        }
    }
}

/// NEON tile (aarch64; NEON is part of its baseline): 6 rows x 4 vectors
/// of 4 accumulators (24 of the 32 vector registers), each `b` vector
/// multiplied by one `a` value with `fmla` by scalar. The portable body
/// is not used there: the tile is written out with named accumulators so
/// they stay in registers across the `k` loop.
///
/// # Safety
/// As [`tile_portable`].
#[cfg(target_arch = "aarch64")]
unsafe fn tile_neon(t: &TileArgs) {
    use std::arch::aarch64::*;
    const V: usize = NR / 4;
    let off: [usize; MR] = std::array::from_fn(|i| i.min(t.rows - 1) * t.lda);
    assert!(t.a.len() >= off[MR - 1] + t.k && t.b.len() >= t.k * NR);
    let a = t.a.as_ptr();
    let b = t.b.as_ptr();
    unsafe {
        let ap: [*const f32; MR] = std::array::from_fn(|i| a.add(off[i]));
        let bias: [float32x4_t; V] = std::array::from_fn(|v| vld1q_f32(t.bias.as_ptr().add(4 * v)));
        // Named accumulators: with an indexed array LLVM stored every row
        // back to the stack on each step of `k`.
        let [b0, b1, b2, b3] = bias;
        let (mut c00, mut c01, mut c02, mut c03) = (b0, b1, b2, b3);
        let (mut c10, mut c11, mut c12, mut c13) = (b0, b1, b2, b3);
        let (mut c20, mut c21, mut c22, mut c23) = (b0, b1, b2, b3);
        let (mut c30, mut c31, mut c32, mut c33) = (b0, b1, b2, b3);
        let (mut c40, mut c41, mut c42, mut c43) = (b0, b1, b2, b3);
        let (mut c50, mut c51, mut c52, mut c53) = (b0, b1, b2, b3);
        for kk in 0..t.k {
            let bp = b.add(kk * NR);
            let (w0, w1) = (vld1q_f32(bp), vld1q_f32(bp.add(4)));
            let (w2, w3) = (vld1q_f32(bp.add(8)), vld1q_f32(bp.add(12)));
            macro_rules! row {
                ($i:expr, $x0:ident, $x1:ident, $x2:ident, $x3:ident) => {
                    let x = *ap[$i].add(kk);
                    $x0 = vfmaq_n_f32($x0, w0, x);
                    $x1 = vfmaq_n_f32($x1, w1, x);
                    $x2 = vfmaq_n_f32($x2, w2, x);
                    $x3 = vfmaq_n_f32($x3, w3, x);
                };
            }
            row!(0, c00, c01, c02, c03);
            row!(1, c10, c11, c12, c13);
            row!(2, c20, c21, c22, c23);
            row!(3, c30, c31, c32, c33);
            row!(4, c40, c41, c42, c43);
            row!(5, c50, c51, c52, c53);
        }
        let acc: [[float32x4_t; V]; MR] = [
            [c00, c01, c02, c03],
            [c10, c11, c12, c13],
            [c20, c21, c22, c23],
            [c30, c31, c32, c33],
            [c40, c41, c42, c43],
            [c50, c51, c52, c53],
        ];
        if t.cols == NR {
            // max(lo, v) then min(hi, v) as in the AVX2 tile; vmaxq/vminq
            // return NaN for a NaN operand, as tract's clamp lets it through.
            let lo = vdupq_n_f32(t.clamp.lo);
            let hi = vdupq_n_f32(t.clamp.hi);
            for (i, row) in acc.iter().enumerate().take(t.rows) {
                let p = t.c.add(i * t.ldc);
                for (v, &x) in row.iter().enumerate() {
                    let x = if t.r.is_null() {
                        x
                    } else {
                        vaddq_f32(x, vld1q_f32(t.r.add(i * t.ldr + 4 * v)))
                    };
                    vst1q_f32(p.add(4 * v), vminq_f32(hi, vmaxq_f32(lo, x)));
                }
            }
        } else {
            let mut tmp = [0f32; NR];
            for (i, row) in acc.iter().enumerate().take(t.rows) {
                for (v, &x) in row.iter().enumerate() {
                    vst1q_f32(tmp.as_mut_ptr().add(4 * v), x);
                }
                for (j, &v) in tmp.iter().enumerate().take(t.cols) {
                    let v = if t.r.is_null() {
                        v
                    } else {
                        v + *t.r.add(i * t.ldr + j)
                    };
                    *t.c.add(i * t.ldc + j) = t.clamp.apply(v);
                }
            }
        }
    }
}

/// The product with one given tile on one thread, for tests comparing
/// every tile the CPU has (see [`tiles`]) with the reference.
#[cfg(test)]
pub(crate) fn gemm_with_tile(
    tile: Tile,
    rows: &dyn Rows,
    b: &PackedB,
    clamp: Clamp,
    residual: Option<Residual>,
    c: &mut [f32],
    ldc: usize,
) {
    let mut scratch = vec![0f32; scratch_len(rows, 1)];
    let out = SharedMut(c.as_mut_ptr());
    let r = (0, rows.m());
    let p = (0, b.panels());
    unsafe { run_block(rows, b, clamp, residual, out, ldc, &mut scratch, r, p, tile) };
}
