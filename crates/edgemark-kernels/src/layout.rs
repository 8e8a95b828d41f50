//! Layout changes at the edge of an NHWC region: `[n][a][b] -> [n][b][a]`
//! (NCHW to NHWC is a = C, b = H*W; back is a = H*W, b = C).

use super::{Fork, SharedMut, split};

/// Elements below which the transposition runs as one task.
const MIN_PARALLEL: usize = 1 << 15;

/// `dst[img][j][i] = src[img][i][j]` for `i < a`, `j < b`.
pub fn transpose(src: &[f32], n: usize, a: usize, b: usize, dst: &mut [f32], fork: &dyn Fork) {
    assert_eq!(src.len(), n * a * b, "input size");
    assert_eq!(dst.len(), n * a * b, "output size");
    let tasks = if n * a * b < MIN_PARALLEL {
        1
    } else {
        fork.threads().min(b).max(1)
    };
    let out = SharedMut(dst.as_mut_ptr());
    let task = |t: usize| {
        // Task t writes output rows j0..j1 of every image.
        let (j0, j1) = split(b, tasks, t);
        for img in 0..n {
            let s = &src[img * a * b..][..a * b];
            // SAFETY: rows j0..j1 of image img belong to this task alone.
            let d = unsafe {
                std::slice::from_raw_parts_mut(out.ptr().add(img * a * b + j0 * a), (j1 - j0) * a)
            };
            rows(s, a, b, j0, j1, d);
        }
    };
    if tasks == 1 {
        task(0)
    } else {
        fork.run(tasks, &task)
    }
}

/// Output rows `j0..j1` (each `a` long) of one image.
fn rows(s: &[f32], a: usize, b: usize, j0: usize, j1: usize, d: &mut [f32]) {
    if a == 3 {
        // An image's colour planes: three read streams, writes in order.
        let (p0, rest) = s.split_at(b);
        let (p1, p2) = rest.split_at(b);
        let planes = p0[j0..j1].iter().zip(&p1[j0..j1]).zip(&p2[j0..j1]);
        for (o, ((&x, &y), &z)) in d.chunks_exact_mut(3).zip(planes) {
            o[0] = x;
            o[1] = y;
            o[2] = z;
        }
        return;
    }
    // Tiles of T x T keep both sides' lines in cache.
    const T: usize = 16;
    for i0 in (0..a).step_by(T) {
        let i1 = (i0 + T).min(a);
        for jt in (j0..j1).step_by(T) {
            for j in jt..(jt + T).min(j1) {
                let o = &mut d[(j - j0) * a..][..a];
                for i in i0..i1 {
                    o[i] = s[i * b + j];
                }
            }
        }
    }
}
