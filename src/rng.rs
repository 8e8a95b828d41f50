//! The random numbers LoadGen draws, reproduced bit for bit: `std::mt19937`,
//! libstdc++'s (GCC >= 11) `uniform_int_distribution` on a 32-bit engine, and
//! libstdc++'s `std::shuffle`. The loaded sample set and the SingleStream sample
//! order depend on every one of these details, so none may be "equivalent".

const N: usize = 624;
const M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

/// 32-bit Mersenne Twister with the standard (`std::mt19937`) seeding.
#[derive(Clone)]
pub struct Mt19937 {
    state: [u32; N],
    index: usize,
}

impl std::fmt::Debug for Mt19937 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mt19937")
            .field("index", &self.index)
            .finish()
    }
}

impl Mt19937 {
    /// LoadGen's seeds are u64 settings handed to a 32-bit engine, which keeps
    /// `seed mod 2^32`; the truncation is deliberate.
    pub fn new(seed: u64) -> Self {
        let mut state = [0u32; N];
        state[0] = seed as u32;
        for i in 1..N {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 { state, index: N }
    }

    fn twist(&mut self) {
        for i in 0..N {
            let y = (self.state[i] & UPPER_MASK) | (self.state[(i + 1) % N] & LOWER_MASK);
            let mut next = self.state[(i + M) % N] ^ (y >> 1);
            if y & 1 != 0 {
                next ^= MATRIX_A;
            }
            self.state[i] = next;
        }
        self.index = 0;
    }

    pub fn next_u32(&mut self) -> u32 {
        if self.index >= N {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }
}

/// `std::uniform_int_distribution<>(lo, hi)(rng)` as libstdc++ (GCC >= 11)
/// computes it for a 32-bit engine: Lemire's multiply-and-reject. Ranges wider
/// than 2^32 never occur in LoadGen's two scenarios; they are clamped by the
/// callers' types (sample counts are < 2^32).
pub fn uniform(rng: &mut Mt19937, lo: u64, hi: u64) -> u64 {
    debug_assert!(lo <= hi);
    let span = hi - lo;
    if span >= u64::from(u32::MAX) {
        // The engine's range equals the requested one: the draw is used as is.
        return lo + u64::from(rng.next_u32());
    }
    let range = span + 1;
    let mut product = u64::from(rng.next_u32()) * range;
    let mut low = product as u32;
    if u64::from(low) < range {
        let threshold = ((1u64 << 32) - range) % range;
        while u64::from(low) < threshold {
            product = u64::from(rng.next_u32()) * range;
            low = product as u32;
        }
    }
    lo + (product >> 32)
}

/// `std::shuffle(a.begin(), a.end(), rng)` as libstdc++ does it. For short
/// sequences it takes two swap positions from one draw, which changes the
/// stream of draws; both branches matter for LoadGen's sample sets.
pub fn shuffle<T>(rng: &mut Mt19937, a: &mut [T]) {
    let n = a.len() as u64;
    if n == 0 {
        return;
    }
    if u64::from(u32::MAX) / n >= n {
        let mut i: u64 = 1;
        if n.is_multiple_of(2) {
            let j = uniform(rng, 0, 1);
            a.swap(1, j as usize);
            i = 2;
        }
        while i != n {
            let b1 = i + 2;
            let v = uniform(rng, 0, (i + 1) * b1 - 1);
            a.swap(i as usize, (v / b1) as usize);
            a.swap((i + 1) as usize, (v % b1) as usize);
            i += 2;
        }
        return;
    }
    for i in 1..n {
        let j = uniform(rng, 0, i);
        a.swap(i as usize, j as usize);
    }
}

/// splitmix64 (Steele, Lea and Flood): tiny and seedable, for the random
/// inputs the SUTs make when no data is given (in-process and exec SUTs alike).
/// Not LoadGen's: nothing here needs to match another implementation.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mt19937_default_seed_10000th_output() {
        // The C++ standard fixes this: the 10000th output of a default-seeded
        // (5489) mt19937 is 4123659995.
        let mut rng = Mt19937::new(5489);
        let mut last = 0;
        for _ in 0..10_000 {
            last = rng.next_u32();
        }
        assert_eq!(last, 4_123_659_995);
    }

    #[test]
    fn mt19937_first_outputs_seed_5489() {
        let mut rng = Mt19937::new(5489);
        assert_eq!(rng.next_u32(), 3_499_211_612);
        assert_eq!(rng.next_u32(), 581_869_302);
        assert_eq!(rng.next_u32(), 3_890_346_734);
    }

    #[test]
    fn seed_is_taken_mod_2_pow_32() {
        let mut a = Mt19937::new(5489 + (7u64 << 32));
        let mut b = Mt19937::new(5489);
        for _ in 0..1000 {
            assert_eq!(a.next_u32(), b.next_u32());
        }
    }

    #[test]
    fn uniform_stays_in_range_and_hits_both_ends() {
        let mut rng = Mt19937::new(1);
        let (mut saw_lo, mut saw_hi) = (false, false);
        for _ in 0..10_000 {
            let v = uniform(&mut rng, 3, 9);
            assert!((3..=9).contains(&v));
            saw_lo |= v == 3;
            saw_hi |= v == 9;
        }
        assert!(saw_lo && saw_hi);
    }

    #[test]
    fn uniform_is_lemire_multiply_high() {
        // Without rejection the result is the high word of draw * range.
        let mut a = Mt19937::new(42);
        let mut b = Mt19937::new(42);
        let x = u64::from(b.next_u32());
        let range = 1000u64;
        let low = (x * range) as u32;
        if u64::from(low) >= range {
            assert_eq!(uniform(&mut a, 0, range - 1), (x * range) >> 32);
        }
    }

    #[test]
    fn full_range_uses_draw_unchanged() {
        let mut a = Mt19937::new(9);
        let mut b = Mt19937::new(9);
        assert_eq!(
            uniform(&mut a, 0, u64::from(u32::MAX)),
            u64::from(b.next_u32())
        );
    }

    #[test]
    fn shuffle_is_a_permutation_in_both_branches() {
        for n in [1usize, 2, 3, 64, 65, 1024, 70_000] {
            let mut rng = Mt19937::new(n as u64);
            let mut a: Vec<usize> = (0..n).collect();
            shuffle(&mut rng, &mut a);
            let mut sorted = a.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..n).collect::<Vec<_>>(), "n = {n}");
            if n > 3 {
                assert_ne!(a, sorted, "n = {n} left unshuffled");
            }
        }
    }
}
