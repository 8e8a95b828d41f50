//! edgemark's own f32 convolution kernels, in NHWC: pointwise (1x1)
//! convolutions as a matrix product over pre-packed weights, depthwise
//! convolutions, and any other 2-D convolution through windows gathered a
//! few rows at a time; bias and the clamp of a following ReLU/ReLU6 are
//! applied as the results are stored (no second pass over the output).
//!
//! Pure Rust with no tract types: a crate of its own (edgemark's
//! `engine::kernels_f32`) so that test builds optimise it like the
//! dependencies and its unit tests run under qemu on ARM; edgemark's
//! `engine::tract::fp32` wraps the kernels in tract operators. Every kernel has one portable body, compiled as is for
//! any target (scalar or auto-vectorised, `a * b + c` where the target has no
//! fused multiply-add, so armv7 does not fall into a software `fmaf`), and
//! again with AVX2+FMA enabled on x86_64 behind runtime detection; the
//! matrix product's inner tile additionally has an AVX2 intrinsics version.
//! On aarch64 the matrix product's tile and the 3x3 depthwise interior are
//! NEON intrinsics (the portable bodies compiled for aarch64 were scalar
//! `fmadd` with accumulators on the stack). armv7 runs the portable bodies
//! as scalar VFPv3 code: `armv7-unknown-linux-gnueabihf` does not enable
//! NEON in its baseline and Rust's armv7 NEON intrinsics are unstable.
//!
//! Work is split into independent tasks that write disjoint parts of the
//! output; a [`Fork`] decides whether they run on one thread or several.

pub mod conv;
pub mod depthwise;
pub mod gemm;
pub mod int8;
pub mod layout;
pub mod pool;
#[cfg(test)]
mod tests;

/// Runs `n` independent tasks, possibly in parallel. The kernels never
/// create threads themselves: the caller lends its pool (tract's intra-op
/// executor) or runs everything inline.
pub trait Fork: Sync {
    /// How many tasks can usefully run at once.
    fn threads(&self) -> usize;
    /// Calls `f(i)` once for every `i` in `0..n` and returns when all are done.
    fn run(&self, n: usize, f: &(dyn Fn(usize) + Sync));
}

/// Everything on the calling thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct Serial;

impl Fork for Serial {
    fn threads(&self) -> usize {
        1
    }
    fn run(&self, n: usize, f: &(dyn Fn(usize) + Sync)) {
        (0..n).for_each(f)
    }
}

/// The clamp applied to every output value: `min(max(x, lo), hi)`; an
/// activation fused into the convolution (none: infinite bounds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clamp {
    pub lo: f32,
    pub hi: f32,
}

impl Clamp {
    pub const NONE: Clamp = Clamp {
        lo: f32::NEG_INFINITY,
        hi: f32::INFINITY,
    };

    /// Clamp applied as `x.max(lo).min(hi)`; a NaN stays NaN as in tract's
    /// own max/min (`f32::max` would return the bound).
    #[inline(always)]
    pub fn apply(self, x: f32) -> f32 {
        let x = if x < self.lo { self.lo } else { x };
        if x > self.hi { self.hi } else { x }
    }
}

/// Whether this CPU runs the AVX2+FMA versions (checked once, cached by std).
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn has_avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// `a * b + c`, fused where the target computes it in one instruction.
/// `FMA` is a compile-time choice: true only in bodies compiled with FMA
/// enabled (x86 with `fma`, aarch64 always), where `mul_add` is one
/// instruction; elsewhere `mul_add` would be a libm call.
#[inline(always)]
pub(crate) fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// Whether the portable bodies may use `mul_add` on this target without
/// runtime detection.
pub(crate) const BASELINE_FMA: bool = cfg!(any(
    target_arch = "aarch64",
    all(target_arch = "x86_64", target_feature = "fma")
));

/// A raw pointer tasks share to write disjoint parts of one output.
#[derive(Clone, Copy)]
pub(crate) struct SharedMut(pub *mut f32);
// SAFETY: every task writes a region no other task touches (each kernel's
// partition says which); the pointer outlives the fork (the caller's borrow).
unsafe impl Send for SharedMut {}
unsafe impl Sync for SharedMut {}

impl SharedMut {
    /// The pointer (a method, so closures capture the whole Send + Sync
    /// wrapper rather than its raw field).
    #[inline(always)]
    pub(crate) fn ptr(self) -> *mut f32 {
        self.0
    }
}

/// Splits `total` units into `parts` contiguous ranges as equal as possible.
/// Every kernel that splits an image by output pixels uses this one function
/// (the matrix product, depthwise, and the int8 convolutions in edgemark), so
/// the same thread computes the same pixels in consecutive operators and
/// reads what it wrote itself rather than the other core's cache lines.
pub fn split(total: usize, parts: usize, i: usize) -> (usize, usize) {
    let base = total / parts;
    let extra = total % parts;
    let start = i * base + i.min(extra);
    let len = base + usize::from(i < extra);
    (start, start + len)
}
