//! Each kernel against a naive reference, on random shapes, strides,
//! paddings and sizes that are not multiples of the tile or vector width.

use super::conv::{self, Geometry};
use super::depthwise::depthwise;
use super::gemm::{self, Dense, PackedB};
use super::{Clamp, Fork, Serial};

/// Small deterministic generator (xorshift), values in [-1, 1); the int8
/// tests draw their bytes from it too.
pub(crate) struct Rng(pub(crate) u64);
impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn f(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
    fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.f()).collect()
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Runs tasks on real threads, so the partitions are exercised in parallel.
struct Threads(usize);
impl Fork for Threads {
    fn threads(&self) -> usize {
        self.0
    }
    fn run(&self, n: usize, f: &(dyn Fn(usize) + Sync)) {
        std::thread::scope(|s| {
            for i in 0..n {
                s.spawn(move || f(i));
            }
        });
    }
}

fn close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
            "{what}: element {i}: got {g}, want {w}"
        );
    }
}

fn naive_conv(
    g: &Geometry,
    cout: usize,
    x: &[f32],
    w: &[f32], // [(ky,kx,c)][co]
    bias: &[f32],
    clamp: Clamp,
) -> Vec<f32> {
    let mut y = vec![0f32; g.oh * g.ow * cout];
    for oy in 0..g.oh {
        for ox in 0..g.ow {
            for co in 0..cout {
                let mut s = bias[co] as f64;
                for ky in 0..g.kh {
                    for kx in 0..g.kw {
                        let iy = (oy * g.sh + ky * g.dh) as isize - g.pad_top as isize;
                        let ix = (ox * g.sw + kx * g.dw) as isize - g.pad_left as isize;
                        if iy < 0 || ix < 0 || iy >= g.h as isize || ix >= g.w as isize {
                            continue;
                        }
                        for c in 0..g.c {
                            let xv = x[((iy as usize) * g.w + ix as usize) * g.c + c];
                            let wv = w[((ky * g.kw + kx) * g.c + c) * cout + co];
                            s += xv as f64 * wv as f64;
                        }
                    }
                }
                y[(oy * g.ow + ox) * cout + co] = clamp.apply(s as f32);
            }
        }
    }
    y
}

fn random_geometry(r: &mut Rng, c: usize, k: usize, s: usize, d: usize) -> Geometry {
    // Mostly small images (edges everywhere), some wide enough for many
    // interior pixels in a row.
    let wide = r.below(3) == 0;
    let h = 1 + r.below(13);
    let w = if wide {
        12 + r.below(30)
    } else {
        1 + r.below(13)
    };
    let pad_top = r.below(k);
    let pad_left = r.below(k);
    let pad_bottom = r.below(k);
    let pad_right = r.below(k);
    let span = (k - 1) * d + 1;
    let oh = (h + pad_top + pad_bottom).saturating_sub(span) / s + 1;
    let ow = (w + pad_left + pad_right).saturating_sub(span) / s + 1;
    Geometry {
        h,
        w,
        c,
        kh: k,
        kw: k,
        sh: s,
        sw: s,
        dh: d,
        dw: d,
        pad_top,
        pad_left,
        oh: if h + pad_top + pad_bottom >= span {
            oh
        } else {
            0
        },
        ow: if w + pad_left + pad_right >= span {
            ow
        } else {
            0
        },
    }
}

const CLAMPS: [Clamp; 3] = [
    Clamp::NONE,
    Clamp { lo: 0.0, hi: 6.0 },
    Clamp { lo: -0.1, hi: 0.2 },
];

#[test]
fn gemm_matches_naive_product_on_odd_shapes() {
    let mut r = Rng(0x9e3779b97f4a7c15);
    for case in 0..60 {
        let m = 1 + r.below(40);
        let k = 1 + r.below(70);
        let n = 1 + r.below(60);
        let ldc = n + r.below(3);
        let lda = k + r.below(3);
        let a = r.vec(m * lda);
        let w = r.vec(k * n);
        let bias = r.vec(n);
        let clamp = CLAMPS[case % 3];
        let b = PackedB::new(k, n, &w, &bias);
        let mut want = vec![7f32; m * ldc];
        for i in 0..m {
            for j in 0..n {
                let s: f64 = (0..k)
                    .map(|kk| a[i * lda + kk] as f64 * w[kk * n + j] as f64)
                    .sum::<f64>()
                    + bias[j] as f64;
                want[i * ldc + j] = clamp.apply(s as f32);
            }
        }
        let rows = Dense {
            a: &a,
            m,
            k,
            stride: lda,
        };
        let what = format!("m {m} k {k} n {n} lda {lda} ldc {ldc}");
        let mut got = vec![7f32; m * ldc];
        gemm::gemm(&rows, &b, clamp, None, &mut got, ldc, &mut [], &Serial);
        close(&got, &want, &what);
        for tile in gemm::tiles() {
            let mut got = vec![7f32; m * ldc];
            gemm::gemm_with_tile(tile, &rows, &b, clamp, None, &mut got, ldc);
            close(&got, &want, &format!("{} {what}", tile.name));
        }
    }
}

#[test]
fn gemm_splits_rows_or_panels_across_threads_with_the_same_result() {
    let mut r = Rng(42);
    // Tall (split by rows) and short-wide (split by panels) products, big
    // enough to pass the parallel threshold.
    for (m, k, n) in [(500, 40, 24), (49, 320, 1000), (7, 960, 170), (301, 33, 97)] {
        let a = r.vec(m * k);
        let w = r.vec(k * n);
        let bias = r.vec(n);
        let b = PackedB::new(k, n, &w, &bias);
        let rows = Dense {
            a: &a,
            m,
            k,
            stride: k,
        };
        let mut one = vec![0f32; m * n];
        gemm::gemm(&rows, &b, Clamp::NONE, None, &mut one, n, &mut [], &Serial);
        for t in [2, 3] {
            let mut many = vec![0f32; m * n];
            gemm::gemm(
                &rows,
                &b,
                Clamp::NONE,
                None,
                &mut many,
                n,
                &mut [],
                &Threads(t),
            );
            assert_eq!(one, many, "m {m} k {k} n {n} threads {t}");
        }
    }
}

#[test]
fn gemm_splits_by_pixels_whenever_each_thread_gets_a_row_block() {
    use gemm::partition;
    // MobileNetV2's 7x7 stage (49 rows, 9 row blocks) splits by rows like
    // the depthwise convolutions around it, not by its many panels.
    assert_eq!(partition(49, 960, 160, 2), (2, true));
    assert_eq!(partition(12544, 16, 96, 2), (2, true));
    assert_eq!(partition(196, 64, 384, 4), (4, true));
    // Too few rows for every thread: panels (a classifier on one image).
    assert_eq!(partition(1, 1000, 1280, 2), (2, false));
    assert_eq!(partition(7, 960, 170, 3), (3, false));
    // Small products and one thread stay one task.
    assert_eq!(partition(49, 8, 8, 2), (1, true));
    assert_eq!(partition(12544, 16, 96, 1), (1, true));
}

#[test]
fn im2col_convolution_matches_naive_convolution() {
    let mut r = Rng(7);
    for case in 0..40 {
        let c = 1 + r.below(9);
        let cout = 1 + r.below(40);
        let k = 1 + r.below(4);
        let s = 1 + r.below(3);
        let d = 1 + r.below(2);
        let g = random_geometry(&mut r, c, k, s, d);
        if g.oh == 0 || g.ow == 0 {
            continue;
        }
        let x = r.vec(g.input_len());
        let w = r.vec(k * k * c * cout);
        let bias = r.vec(cout);
        let clamp = CLAMPS[case % 3];
        let want = naive_conv(&g, cout, &x, &w, &bias, clamp);
        let b = PackedB::new(k * k * c, cout, &w, &bias);
        for threads in [1usize, 2] {
            let mut y = vec![0f32; g.oh * g.ow * cout];
            let mut scratch = vec![0f32; conv::scratch_len(&g, threads)];
            let fork: &dyn Fork = if threads == 1 { &Serial } else { &Threads(2) };
            conv::conv_im2col(&g, &b, clamp, None, &x, &mut y, &mut scratch, fork);
            close(&y, &want, &format!("{g:?} cout {cout} threads {threads}"));
        }
    }
}

#[test]
fn depthwise_matches_naive_convolution() {
    let mut r = Rng(99);
    for case in 0..120 {
        // Channel counts around the 16-wide blocks, and the 3x3 stride 1/2
        // MobileNet shapes among random ones.
        let c = [1, 3, 8, 15, 16, 17, 32, 33, 40][r.below(9)];
        let k = [1, 2, 3, 3, 3, 5][r.below(6)];
        let s = 1 + r.below(2);
        let d = if case % 5 == 0 { 2 } else { 1 };
        let g = random_geometry(&mut r, c, k, s, d);
        if g.oh == 0 || g.ow == 0 {
            continue;
        }
        let x = r.vec(g.input_len());
        let wd = r.vec(k * k * c);
        let bias = r.vec(c);
        let clamp = CLAMPS[case % 3];
        // The same convolution as a full one with a diagonal weight matrix.
        let mut wf = vec![0f32; k * k * c * c];
        for t in 0..k * k {
            for ch in 0..c {
                wf[(t * c + ch) * c + ch] = wd[t * c + ch];
            }
        }
        let want = naive_conv(&g, c, &x, &wf, &bias, clamp);
        let mut y = vec![0f32; g.oh * g.ow * c];
        depthwise(&g, &wd, &bias, clamp, &x, &mut y, &Serial);
        close(&y, &want, &format!("{g:?}"));
        // The AVX2 body too where the CPU would take the AVX-512 one.
        #[cfg(target_arch = "x86_64")]
        {
            super::depthwise::NO_AVX512.with(|f| f.set(true));
            let mut y = vec![0f32; g.oh * g.ow * c];
            depthwise(&g, &wd, &bias, clamp, &x, &mut y, &Serial);
            super::depthwise::NO_AVX512.with(|f| f.set(false));
            close(&y, &want, &format!("no avx512 {g:?}"));
        }
        let mut y = vec![0f32; g.oh * g.ow * c];
        super::depthwise::depthwise_portable_only(&g, &wd, &bias, clamp, &x, &mut y);
        close(&y, &want, &format!("portable {g:?}"));
    }
}

#[test]
fn depthwise_split_by_pixels_gives_identical_output() {
    // Small images split inside rows (7x7: 25 and 24 pixels).
    let mut r = Rng(6);
    for (h, c, s) in [(7, 960, 1), (14, 384, 1), (9, 40, 2), (5, 17, 1)] {
        let o = (h + 2 - 3) / s + 1;
        let g = Geometry {
            h,
            w: h,
            c,
            kh: 3,
            kw: 3,
            sh: s,
            sw: s,
            dh: 1,
            dw: 1,
            pad_top: 1,
            pad_left: 1,
            oh: o,
            ow: o,
        };
        let x = r.vec(g.input_len());
        let w = r.vec(9 * c);
        let bias = r.vec(c);
        let mut one = vec![0f32; o * o * c];
        depthwise(&g, &w, &bias, Clamp::NONE, &x, &mut one, &Serial);
        for t in [2, 3] {
            let mut many = vec![1f32; o * o * c];
            depthwise(&g, &w, &bias, Clamp::NONE, &x, &mut many, &Threads(t));
            assert_eq!(one, many, "h {h} c {c} s {s} threads {t}");
        }
    }
}

#[test]
fn depthwise_split_by_rows_gives_identical_output() {
    let mut r = Rng(5);
    let g = Geometry {
        h: 57,
        w: 56,
        c: 48,
        kh: 3,
        kw: 3,
        sh: 2,
        sw: 2,
        dh: 1,
        dw: 1,
        pad_top: 1,
        pad_left: 1,
        oh: 29,
        ow: 28,
    };
    let x = r.vec(g.input_len());
    let w = r.vec(9 * g.c);
    let bias = r.vec(g.c);
    let mut one = vec![0f32; g.oh * g.ow * g.c];
    depthwise(
        &g,
        &w,
        &bias,
        Clamp { lo: 0.0, hi: 6.0 },
        &x,
        &mut one,
        &Serial,
    );
    let mut two = vec![1f32; g.oh * g.ow * g.c];
    depthwise(
        &g,
        &w,
        &bias,
        Clamp { lo: 0.0, hi: 6.0 },
        &x,
        &mut two,
        &Threads(2),
    );
    assert_eq!(one, two);
}

#[test]
fn clamp_keeps_nan_and_bounds_values() {
    let c = Clamp { lo: 0.0, hi: 6.0 };
    assert_eq!(c.apply(-1.0), 0.0);
    assert_eq!(c.apply(7.0), 6.0);
    assert_eq!(c.apply(3.5), 3.5);
    assert!(c.apply(f32::NAN).is_nan());
    assert_eq!(Clamp::NONE.apply(-1e30), -1e30);
}

#[test]
fn split_covers_every_unit_once() {
    for total in 0..20 {
        for parts in 1..5 {
            let mut next = 0;
            for i in 0..parts {
                let (a, b) = super::split(total, parts, i);
                assert_eq!(a, next);
                assert!(b >= a);
                next = b;
            }
            assert_eq!(next, total);
        }
    }
}

#[test]
fn spin_pool_runs_every_task_once_job_after_job() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let pool = super::pool::SpinPool::new(3).unwrap();
    assert_eq!(pool.threads(), 3);
    // 32 and 33: the largest job handed out by owner, the smallest counted.
    for n in [0usize, 1, 2, 3, 7, 32, 33, 64] {
        for _ in 0..200 {
            let hits: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
            pool.run(n, &|i| {
                hits[i].fetch_add(1, Ordering::Relaxed);
            });
            assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1), "n {n}");
        }
    }
    // The kernels give the same bytes on the pool as on one thread.
    let mut r = Rng(3);
    let (m, k, n) = (300, 50, 70);
    let a = r.vec(m * k);
    let b = PackedB::new(k, n, &r.vec(k * n), &r.vec(n));
    let rows = Dense {
        a: &a,
        m,
        k,
        stride: k,
    };
    let mut one = vec![0f32; m * n];
    gemm::gemm(&rows, &b, Clamp::NONE, None, &mut one, n, &mut [], &Serial);
    let mut many = vec![0f32; m * n];
    gemm::gemm(&rows, &b, Clamp::NONE, None, &mut many, n, &mut [], &pool);
    assert_eq!(one, many);
}

#[test]
fn spin_pool_sleeping_workers_wake_for_the_next_job() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let pool = super::pool::SpinPool::new(2).unwrap();
    // Past the spin period the worker sleeps; the next job must still run
    // every task (the caller alone would also do it, so count threads too).
    std::thread::sleep(std::time::Duration::from_millis(10));
    let hits = AtomicUsize::new(0);
    pool.run(16, &|_| {
        hits.fetch_add(1, Ordering::Relaxed);
    });
    assert_eq!(hits.load(Ordering::Relaxed), 16);
}

#[test]
fn a_panicking_task_reaches_the_caller_after_all_tasks_ran() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let pool = super::pool::SpinPool::new(2).unwrap();
    let hits = AtomicUsize::new(0);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.run(8, &|i| {
            hits.fetch_add(1, Ordering::Relaxed);
            assert!(i != 5, "task 5 fails");
        })
    }));
    assert!(r.is_err());
    assert_eq!(hits.load(Ordering::Relaxed), 8);
    // The pool is still usable.
    let again = AtomicUsize::new(0);
    pool.run(4, &|_| {
        again.fetch_add(1, Ordering::Relaxed);
    });
    assert_eq!(again.load(Ordering::Relaxed), 4);
}

#[test]
fn gemm_adds_the_residual_before_the_clamp() {
    let mut r = Rng(11);
    for case in 0..30 {
        let m = 1 + r.below(20);
        let k = 1 + r.below(30);
        let n = 1 + r.below(40);
        let ld = n + r.below(2);
        let a = r.vec(m * k);
        let w = r.vec(k * n);
        let bias = r.vec(n);
        let res = r.vec(m * ld);
        let clamp = CLAMPS[case % 3];
        let b = PackedB::new(k, n, &w, &bias);
        let mut want = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let s: f64 = (0..k)
                    .map(|kk| a[i * k + kk] as f64 * w[kk * n + j] as f64)
                    .sum::<f64>()
                    + bias[j] as f64
                    + res[i * ld + j] as f64;
                want[i * n + j] = clamp.apply(s as f32);
            }
        }
        let rows = Dense {
            a: &a,
            m,
            k,
            stride: k,
        };
        let residual = Some(gemm::Residual { r: &res, ld });
        let mut got = vec![0f32; m * n];
        gemm::gemm(&rows, &b, clamp, residual, &mut got, n, &mut [], &Serial);
        close(&got, &want, &format!("m {m} k {k} n {n}"));
        for tile in gemm::tiles() {
            let mut got = vec![0f32; m * n];
            gemm::gemm_with_tile(tile, &rows, &b, clamp, residual, &mut got, n);
            close(&got, &want, &format!("{} m {m} k {k} n {n}", tile.name));
        }
    }
}

#[test]
fn transpose_matches_index_arithmetic() {
    let mut r = Rng(17);
    for (n, a, b) in [
        (1, 3, 50),
        (2, 3, 1),
        (1, 17, 33),
        (3, 5, 40000),
        (1, 40000, 5),
        (1, 1, 7),
    ] {
        let src = r.vec(n * a * b);
        let mut want = vec![0f32; n * a * b];
        for img in 0..n {
            for i in 0..a {
                for j in 0..b {
                    want[(img * b + j) * a + i] = src[(img * a + i) * b + j];
                }
            }
        }
        for fork in [&Serial as &dyn Fork, &Threads(2)] {
            let mut got = vec![0f32; n * a * b];
            super::layout::transpose(&src, n, a, b, &mut got, fork);
            assert_eq!(got, want, "n {n} a {a} b {b} threads {}", fork.threads());
        }
    }
}
