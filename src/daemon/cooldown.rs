//! The cooldown gate run before each job: the hottest thermal zone and the
//! 1-minute load average, read under a root directory (`/`, or a fixture tree in
//! tests), compared with the configured limits. Deciding is separate from
//! waiting so the decision is testable without a clock.

use std::path::{Path, PathBuf};

use super::config::CooldownConfig;

/// One look at the sensors. Unreadable zones are listed, not fatal: some boards
/// expose zones whose `temp` read fails (EINVAL/ENODATA) by design.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reading {
    /// Hottest readable zone (degrees C) and its path; None if no zone is readable.
    pub hottest: Option<(f64, PathBuf)>,
    pub loadavg1: Option<f64>,
    /// Sensor files that exist but could not be read or parsed, with why.
    pub problems: Vec<String>,
}

/// `zones`: the thermal zone `type`s to consider (a board profile's); empty =
/// every zone. A listed type the box does not have is simply not found.
pub fn read(root: &Path, zones: &[String]) -> Reading {
    let mut r = Reading::default();
    let thermal = root.join("sys/class/thermal");
    if let Ok(entries) = std::fs::read_dir(&thermal) {
        for e in entries.flatten() {
            if !e.file_name().to_string_lossy().starts_with("thermal_zone") {
                continue;
            }
            if !zones.is_empty() {
                let kind = std::fs::read_to_string(e.path().join("type")).unwrap_or_default();
                if !zones.iter().any(|z| z == kind.trim()) {
                    continue;
                }
            }
            let path = e.path().join("temp");
            match std::fs::read_to_string(&path) {
                Ok(t) => match t.trim().parse::<i64>() {
                    Ok(milli) => {
                        let c = milli as f64 / 1000.0;
                        if r.hottest.as_ref().is_none_or(|(h, _)| c > *h) {
                            r.hottest = Some((c, path));
                        }
                    }
                    Err(_) => r.problems.push(format!(
                        "{}: not an integer millidegree value: {:?}",
                        path.display(),
                        t.trim()
                    )),
                },
                Err(e) => r.problems.push(format!("{}: {e}", path.display())),
            }
        }
    }
    let loadavg = root.join("proc/loadavg");
    match std::fs::read_to_string(&loadavg) {
        Ok(t) => match t.split_whitespace().next().map(str::parse::<f64>) {
            Some(Ok(v)) => r.loadavg1 = Some(v),
            _ => r.problems.push(format!(
                "{}: cannot parse {:?}",
                loadavg.display(),
                t.trim()
            )),
        },
        Err(e) => r.problems.push(format!("{}: {e}", loadavg.display())),
    }
    r
}

/// Why the box is not yet quiet enough; empty = go.
pub fn blockers(cfg: &CooldownConfig, r: &Reading) -> Vec<String> {
    let mut why = Vec::new();
    if let (Some(max), Some((t, path))) = (cfg.max_temp_c, &r.hottest)
        && *t >= max
    {
        why.push(format!("{t:.1} C at {} (limit {max} C)", path.display()));
    }
    if let (Some(max), Some(l)) = (cfg.max_loadavg1, r.loadavg1)
        && l >= max
    {
        why.push(format!("load average {l:.2} (limit {max})"));
    }
    why
}

/// The `STATUS=` text while waiting, e.g. "cooling down: 71 C".
pub fn status_line(r: &Reading) -> String {
    let mut s = String::from("cooling down:");
    if let Some((t, _)) = &r.hottest {
        s.push_str(&format!(" {t:.0} C"));
    }
    if let Some(l) = r.loadavg1 {
        s.push_str(&format!(" load {l:.2}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/daemon")
            .join(name)
    }

    fn cfg(temp: Option<f64>, load: Option<f64>) -> CooldownConfig {
        CooldownConfig {
            max_temp_c: temp,
            max_loadavg1: load,
            max_wait: Duration::from_secs(1),
            poll: Duration::from_secs(1),
            zones: Vec::new(),
        }
    }

    #[test]
    fn reads_hottest_zone_and_load_from_fixture() {
        let r = read(&fixture("hot-root"), &[]);
        let (t, path) = r.hottest.clone().unwrap();
        assert_eq!(t, 71.5);
        assert!(path.ends_with("thermal_zone1/temp"), "{}", path.display());
        assert_eq!(r.loadavg1, Some(2.5));
        // thermal_zone2/temp holds garbage: reported with its path, not fatal.
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
        assert!(r.problems[0].contains("thermal_zone2/temp"));
        assert_eq!(status_line(&r), "cooling down: 72 C load 2.50");
    }

    #[test]
    fn gate_opens_only_below_both_limits() {
        let hot = read(&fixture("hot-root"), &[]);
        let cool = read(&fixture("cool-root"), &[]);
        assert!(cool.problems.is_empty(), "{:?}", cool.problems);
        assert_eq!(blockers(&cfg(Some(60.0), Some(1.0)), &hot).len(), 2);
        assert_eq!(blockers(&cfg(Some(80.0), Some(1.0)), &hot).len(), 1);
        assert!(blockers(&cfg(Some(80.0), Some(3.0)), &hot).is_empty());
        assert!(blockers(&cfg(None, None), &hot).is_empty());
        assert!(blockers(&cfg(Some(60.0), Some(1.0)), &cool).is_empty());
    }

    #[test]
    fn a_board_s_zones_narrow_what_is_watched() {
        // Only cpu-thermal (45 C): the 71.5 C gpu zone and the broken one are
        // not the board's, so neither blocks nor is reported.
        let r = read(&fixture("hot-root"), &["cpu-thermal".to_string()]);
        let (t, path) = r.hottest.clone().unwrap();
        assert_eq!(t, 45.0);
        assert!(path.ends_with("thermal_zone0/temp"), "{}", path.display());
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert!(blockers(&cfg(Some(50.0), None), &r).is_empty());
        let none = read(&fixture("hot-root"), &["soc-thermal".to_string()]);
        assert!(none.hottest.is_none());
    }

    #[test]
    fn missing_sensors_are_problems_not_panics() {
        let r = read(Path::new("/nonexistent-root"), &[]);
        assert!(r.hottest.is_none() && r.loadavg1.is_none());
        assert!(r.problems.iter().any(|p| p.contains("proc/loadavg")));
        assert!(blockers(&cfg(Some(1.0), Some(0.01)), &r).is_empty());
    }
}
