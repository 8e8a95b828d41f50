//! The synthetic SUT: service times from a spec instead of a model, for
//! calibrating the harness and for deterministic tests. It waits on the engine's
//! clock, so with a `FakeClock` it advances time instead of waiting.
//!
//! Specs (times in ms, fractions allowed): `null`, `busy:MS` (spin), `sleep:MS`,
//! `lognormal:MEDIAN_MS,SIGMA`, `exp:MEAN_MS`, `uniform:LO_MS,HI_MS`; the random
//! ones take an optional `@SEED` suffix (default 0), e.g. `exp:2@7`.

use std::sync::Arc;

use super::{Sut, SutError, SutInfo};
use crate::clock::Clock;
use crate::rng::Mt19937;

/// A parsed synthetic spec.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Service {
    /// Return at once: the harness floor.
    Null,
    /// Spin on the clock for exactly this long.
    Busy { ns: u64 },
    /// Sleep (give the CPU away) this long.
    Sleep { ns: u64 },
    /// median * exp(sigma * N(0, 1)), spun.
    LogNormal {
        median_ns: f64,
        sigma: f64,
        seed: u64,
    },
    /// Exponential with this mean, spun.
    Exp { mean_ns: f64, seed: u64 },
    /// Uniform in [lo, hi], spun.
    Uniform { lo_ns: f64, hi_ns: f64, seed: u64 },
}

fn spec_err(spec: &str, why: impl Into<String>) -> SutError {
    SutError::Spec {
        spec: spec.to_string(),
        why: why.into(),
    }
}

fn ms(spec: &str, what: &str, text: &str) -> Result<f64, SutError> {
    let v: f64 = text.trim().parse().map_err(|_| {
        spec_err(
            spec,
            format!("{what} {text:?} is not a number of milliseconds"),
        )
    })?;
    if !v.is_finite() || v < 0.0 {
        return Err(spec_err(
            spec,
            format!("{what} must be >= 0 ms, got {text}"),
        ));
    }
    Ok(v * 1e6)
}

impl Service {
    /// Parses the part after `synthetic:`.
    pub fn parse(spec: &str) -> Result<Service, SutError> {
        let (kind, args) = spec.split_once(':').unwrap_or((spec, ""));
        let (args, seed) = match args.split_once('@') {
            Some((a, s)) => {
                let seed = s.trim().parse::<u64>().map_err(|_| {
                    spec_err(spec, format!("seed {s:?} is not an unsigned integer"))
                })?;
                (a, Some(seed))
            }
            None => (args, None),
        };
        let parts: Vec<&str> = if args.is_empty() {
            Vec::new()
        } else {
            args.split(',').collect()
        };
        let s = Service::of_kind(spec, kind, &parts, seed.unwrap_or(0))?;
        if seed.is_some()
            && matches!(
                s,
                Service::Null | Service::Busy { .. } | Service::Sleep { .. }
            )
        {
            return Err(spec_err(spec, "only random service times take an @SEED"));
        }
        Ok(s)
    }

    /// The service `kind` with its comma-separated arguments `parts`.
    fn of_kind(spec: &str, kind: &str, parts: &[&str], seed: u64) -> Result<Service, SutError> {
        let want = |n: usize, usage: &str| -> Result<(), SutError> {
            if parts.len() == n {
                Ok(())
            } else {
                Err(spec_err(spec, format!("expected {usage}")))
            }
        };
        Ok(match kind {
            "null" => {
                want(0, "`null` without arguments")?;
                Service::Null
            }
            "busy" => {
                want(1, "busy:MS")?;
                Service::Busy {
                    ns: ms(spec, "MS", parts[0])?.round() as u64,
                }
            }
            "sleep" => {
                want(1, "sleep:MS")?;
                Service::Sleep {
                    ns: ms(spec, "MS", parts[0])?.round() as u64,
                }
            }
            "lognormal" => {
                want(2, "lognormal:MEDIAN_MS,SIGMA")?;
                let median_ns = ms(spec, "MEDIAN_MS", parts[0])?;
                let sigma: f64 = parts[1]
                    .trim()
                    .parse()
                    .map_err(|_| spec_err(spec, format!("SIGMA {:?} is not a number", parts[1])))?;
                if !sigma.is_finite() || sigma < 0.0 {
                    return Err(spec_err(spec, "SIGMA must be >= 0"));
                }
                Service::LogNormal {
                    median_ns,
                    sigma,
                    seed,
                }
            }
            "exp" => {
                want(1, "exp:MEAN_MS")?;
                Service::Exp {
                    mean_ns: ms(spec, "MEAN_MS", parts[0])?,
                    seed,
                }
            }
            "uniform" => {
                want(2, "uniform:LO_MS,HI_MS")?;
                let lo_ns = ms(spec, "LO_MS", parts[0])?;
                let hi_ns = ms(spec, "HI_MS", parts[1])?;
                if hi_ns < lo_ns {
                    return Err(spec_err(spec, "HI_MS must be >= LO_MS"));
                }
                Service::Uniform { lo_ns, hi_ns, seed }
            }
            other => {
                return Err(spec_err(
                    spec,
                    format!(
                        "unknown kind {other:?}; expected null, busy:MS, sleep:MS, \
                         lognormal:MEDIAN_MS,SIGMA, exp:MEAN_MS or uniform:LO_MS,HI_MS"
                    ),
                ));
            }
        })
    }

    fn seed(&self) -> u64 {
        match *self {
            Service::LogNormal { seed, .. }
            | Service::Exp { seed, .. }
            | Service::Uniform { seed, .. } => seed,
            _ => 0,
        }
    }
}

/// The synthetic SUT.
pub struct SyntheticSut {
    spec: String,
    service: Service,
    rng: Mt19937,
    clock: Arc<dyn Clock + Send>,
}

impl std::fmt::Debug for SyntheticSut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyntheticSut")
            .field("spec", &self.spec)
            .finish()
    }
}

impl SyntheticSut {
    pub fn new(spec: &str, clock: Arc<dyn Clock + Send>) -> Result<Self, SutError> {
        let service = Service::parse(spec)?;
        Ok(SyntheticSut {
            spec: spec.to_string(),
            rng: Mt19937::new(service.seed()),
            service,
            clock,
        })
    }

    /// Uniform in (0, 1], 53 bits from two draws.
    fn unit(&mut self) -> f64 {
        let a = u64::from(self.rng.next_u32() >> 5);
        let b = u64::from(self.rng.next_u32() >> 6);
        ((a << 26 | b) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// The next service time in ns (deterministic for a seed).
    pub fn next_service_ns(&mut self) -> u64 {
        match self.service {
            Service::Null => 0,
            Service::Busy { ns } | Service::Sleep { ns } => ns,
            Service::LogNormal {
                median_ns, sigma, ..
            } => {
                // Box-Muller; one normal per draw keeps the stream simple.
                let (u1, u2) = (self.unit(), self.unit());
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                (median_ns * (sigma * z).exp()).round() as u64
            }
            Service::Exp { mean_ns, .. } => (-mean_ns * self.unit().ln()).round() as u64,
            Service::Uniform { lo_ns, hi_ns, .. } => {
                (lo_ns + (hi_ns - lo_ns) * (1.0 - self.unit())).round() as u64
            }
        }
    }

    fn serve(&mut self) {
        if matches!(self.service, Service::Null) {
            return;
        }
        let d = self.next_service_ns();
        let start = self.clock.now_ns();
        match self.service {
            Service::Sleep { .. } => self.clock.sleep_until(start + d),
            _ => self.clock.spin_until(start + d),
        }
    }
}

impl Sut for SyntheticSut {
    fn info(&self) -> SutInfo {
        SutInfo {
            kind: "synthetic".into(),
            description: format!("synthetic:{}", self.spec),
            instances: 1,
            threads: 1,
            ..SutInfo::default()
        }
    }

    fn load_samples(&mut self, _indices: &[usize]) -> Result<(), SutError> {
        Ok(())
    }

    fn warm_up(&mut self, _sample: usize) -> Result<(), SutError> {
        self.serve();
        Ok(())
    }

    fn issue(&mut self, _sample: usize) -> Result<(), SutError> {
        self.serve();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FakeClock;

    #[test]
    fn parses_every_kind_with_fractions() {
        assert_eq!(Service::parse("null").unwrap(), Service::Null);
        assert_eq!(
            Service::parse("busy:1").unwrap(),
            Service::Busy { ns: 1_000_000 }
        );
        assert_eq!(
            Service::parse("sleep:0.25").unwrap(),
            Service::Sleep { ns: 250_000 }
        );
        assert_eq!(
            Service::parse("uniform:0.5,1.5@3").unwrap(),
            Service::Uniform {
                lo_ns: 500_000.0,
                hi_ns: 1_500_000.0,
                seed: 3
            }
        );
        assert!(matches!(
            Service::parse("lognormal:2,0.3").unwrap(),
            Service::LogNormal { seed: 0, .. }
        ));
        assert!(matches!(
            Service::parse("exp:1").unwrap(),
            Service::Exp { .. }
        ));
    }

    #[test]
    fn parse_errors_name_the_spec() {
        for bad in [
            "busy",
            "busy:x",
            "busy:-1",
            "uniform:2,1",
            "lognormal:1",
            "warp:3",
            "null:1",
            "busy:1@2",
            "exp:1@x",
        ] {
            let e = Service::parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{bad}: {e}");
        }
    }

    #[test]
    fn busy_advances_a_fake_clock_exactly() {
        let clock = Arc::new(FakeClock::new(0));
        let mut sut = SyntheticSut::new("busy:1.5", clock.clone()).unwrap();
        sut.issue(0).unwrap();
        assert_eq!(clock.now_ns(), 1_500_000);
        sut.issue(0).unwrap();
        assert_eq!(clock.now_ns(), 3_000_000);
    }

    #[test]
    fn seeded_distributions_repeat_and_differ_by_seed() {
        let clock: Arc<dyn Clock + Send> = Arc::new(FakeClock::new(0));
        let draws = |spec: &str| {
            let mut s = SyntheticSut::new(spec, clock.clone()).unwrap();
            (0..200).map(|_| s.next_service_ns()).collect::<Vec<_>>()
        };
        assert_eq!(draws("exp:1@5"), draws("exp:1@5"));
        assert_ne!(draws("exp:1@5"), draws("exp:1@6"));
        let u = draws("uniform:1,2");
        assert!(u.iter().all(|&d| (1_000_000..=2_000_000).contains(&d)));
        let mut ln = draws("lognormal:2,0.5");
        ln.sort_unstable();
        let median = ln[100] as f64;
        assert!((1.5e6..2.7e6).contains(&median), "median {median}");
        let e = draws("exp:1");
        let mean = e.iter().sum::<u64>() as f64 / e.len() as f64;
        assert!((0.7e6..1.3e6).contains(&mean), "mean {mean}");
    }
}
