//! The daemon's own configuration (`/etc/edgemark/edgemark.toml`): where the spool,
//! state and results live, the cooldown gate and the schedule. Raw TOML is
//! deserialised strictly (unknown keys are errors, so typos do not silently fall
//! back to defaults) and then validated into [`DaemonConfig`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Shortest and longest schedule periods `every_hours` accepts.
const MIN_EVERY_HOURS: f64 = 1.0 / 3600.0;
const MAX_EVERY_HOURS: f64 = 87_600.0;

/// Where the packaged unit points `--config` by default.
pub const DEFAULT_CONFIG: &str = "/etc/edgemark/edgemark.toml";
/// systemd's `StateDirectory=edgemark`.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/edgemark";
/// How often a waiting cooldown gate looks at the sensors again.
pub const DEFAULT_COOLDOWN_POLL_MS: u64 = 5000;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config {path}: {why}")]
    Invalid { path: PathBuf, why: String },
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    state_dir: Option<PathBuf>,
    results_dir: Option<PathBuf>,
    root: Option<PathBuf>,
    spool_poll_ms: Option<u64>,
    /// `auto` (default), `none` or a profile name: whose cooldown applies when
    /// there is no `[cooldown]` table.
    board: Option<String>,
    cooldown: Option<RawCooldown>,
    #[serde(default)]
    schedule: Vec<RawSchedule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCooldown {
    max_temp_c: Option<f64>,
    max_loadavg1: Option<f64>,
    /// Seconds; fractions allowed.
    max_wait_s: Option<f64>,
    poll_ms: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    name: String,
    job: PathBuf,
    every_hours: Option<f64>,
    #[serde(default)]
    at_boot: bool,
}

/// Validated daemon configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct DaemonConfig {
    /// Holds `jobs/ running/ done/ failed/` and the schedule state.
    pub state_dir: PathBuf,
    pub results_dir: PathBuf,
    /// Root the sensors are read under (`/`; tests use fixture trees).
    pub root: PathBuf,
    /// How often an idle daemon looks at `jobs/`: the idle wake-up period.
    pub spool_poll: Duration,
    /// `board` as written (`auto` when absent); resolved with the root by
    /// [`DaemonConfig::apply_board`].
    pub board: String,
    /// What [`DaemonConfig::apply_board`] decided, for the log.
    pub board_note: Option<String>,
    pub cooldown: Option<CooldownConfig>,
    pub schedule: Vec<ScheduleEntry>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CooldownConfig {
    /// Hottest thermal zone must be below this (degrees C); None = not checked.
    pub max_temp_c: Option<f64>,
    /// 1-minute load average must be below this; None = not checked.
    pub max_loadavg1: Option<f64>,
    /// After this long the job runs anyway, with a warning in its record.
    pub max_wait: Duration,
    pub poll: Duration,
    /// Thermal zone `type`s to watch (a board profile's); empty = every zone.
    pub zones: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleEntry {
    /// Unique; names the persisted state and the spooled job files.
    pub name: String,
    /// Job TOML copied into the spool when due.
    pub job: PathBuf,
    pub every: Option<Duration>,
    /// Once per boot (boot detected by `proc/sys/kernel/random/boot_id`).
    pub at_boot: bool,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        let state_dir = PathBuf::from(DEFAULT_STATE_DIR);
        DaemonConfig {
            results_dir: state_dir.join("results"),
            state_dir,
            root: PathBuf::from("/"),
            spool_poll: Duration::from_secs(1),
            board: "auto".into(),
            board_note: None,
            cooldown: None,
            schedule: Vec::new(),
        }
    }
}

impl RawCooldown {
    fn validate(self, path: &Path) -> Result<CooldownConfig, ConfigError> {
        let invalid = |why: String| ConfigError::Invalid {
            path: path.to_owned(),
            why,
        };
        for (key, v) in [
            ("max_temp_c", self.max_temp_c),
            ("max_loadavg1", self.max_loadavg1),
        ] {
            if let Some(v) = v
                && !(v.is_finite() && v > 0.0)
            {
                return Err(invalid(format!("cooldown.{key} must be > 0, got {v}")));
            }
        }
        let max_wait_s = self.max_wait_s.unwrap_or(600.0);
        if !(max_wait_s.is_finite() && (0.0..=1e9).contains(&max_wait_s)) {
            return Err(invalid(format!(
                "cooldown.max_wait_s must be >= 0, got {max_wait_s}"
            )));
        }
        if self.poll_ms == Some(0) {
            return Err(invalid("cooldown.poll_ms must be > 0".into()));
        }
        Ok(CooldownConfig {
            max_temp_c: self.max_temp_c,
            max_loadavg1: self.max_loadavg1,
            max_wait: Duration::from_secs_f64(max_wait_s),
            poll: Duration::from_millis(self.poll_ms.unwrap_or(DEFAULT_COOLDOWN_POLL_MS)),
            zones: Vec::new(),
        })
    }
}

impl RawSchedule {
    /// One entry checked on its own (names used twice are the caller's
    /// check); `abs` anchors the job's path at the config's folder.
    fn validate(
        self,
        path: &Path,
        abs: &dyn Fn(PathBuf) -> PathBuf,
    ) -> Result<ScheduleEntry, ConfigError> {
        let invalid = |why: String| ConfigError::Invalid {
            path: path.to_owned(),
            why,
        };
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(invalid(format!(
                "schedule name {:?} must be non-empty [A-Za-z0-9_-]",
                self.name
            )));
        }
        let every = match self.every_hours {
            None => None,
            // Bounded so the Duration conversion cannot overflow (it
            // panics beyond u64 seconds) and a schedule cannot spin.
            Some(h) if (MIN_EVERY_HOURS..=MAX_EVERY_HOURS).contains(&h) => {
                Some(Duration::from_secs_f64(h * 3600.0))
            }
            Some(h) => {
                return Err(invalid(format!(
                    "schedule {:?}: every_hours must be between {MIN_EVERY_HOURS:.6} (1 s) and {MAX_EVERY_HOURS} (10 years), got {h}",
                    self.name
                )));
            }
        };
        if every.is_none() && !self.at_boot {
            return Err(invalid(format!(
                "schedule {:?} needs every_hours or at_boot = true",
                self.name
            )));
        }
        Ok(ScheduleEntry {
            name: self.name,
            job: abs(self.job),
            every,
            at_boot: self.at_boot,
        })
    }
}

impl DaemonConfig {
    /// Load `path`. A missing file is only tolerated for the default path, so a
    /// fresh install runs with defaults but a mistyped `--config` is an error.
    pub fn load(path: &Path, must_exist: bool) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => {
                return Ok(DaemonConfig::default());
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        Self::parse(&text, path)
    }

    /// Parse and validate config text; `path` only names the file in errors and
    /// anchors relative paths (so a config and its jobs can move together).
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let invalid = |why: String| ConfigError::Invalid {
            path: path.to_owned(),
            why,
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let abs = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };

        let defaults = DaemonConfig::default();
        let state_dir = raw.state_dir.map(abs).unwrap_or(defaults.state_dir);
        let results_dir = raw
            .results_dir
            .map(abs)
            .unwrap_or_else(|| state_dir.join("results"));
        let root = raw.root.map(abs).unwrap_or(defaults.root);
        let spool_poll = match raw.spool_poll_ms {
            None => defaults.spool_poll,
            Some(0) => return Err(invalid("spool_poll_ms must be > 0".into())),
            Some(ms) => Duration::from_millis(ms),
        };
        let cooldown = raw.cooldown.map(|c| c.validate(path)).transpose()?;
        let mut schedule = Vec::new();
        for s in raw.schedule {
            if schedule.iter().any(|e: &ScheduleEntry| e.name == s.name) {
                return Err(invalid(format!("schedule name {:?} used twice", s.name)));
            }
            schedule.push(s.validate(path, &abs)?);
        }
        let board = raw.board.unwrap_or_else(|| "auto".into());
        if board != "auto" && board != "none" {
            crate::boards::find(&board).map_err(|e| invalid(format!("board: {e}")))?;
        }
        Ok(DaemonConfig {
            state_dir,
            results_dir,
            root,
            spool_poll,
            board,
            board_note: None,
            cooldown,
            schedule,
        })
    }

    /// Without a `[cooldown]` table, the board profile's gate applies (wait
    /// until its zones are below `start_below_c`, at most `max_wait_s`), so a
    /// node benchmarks from a comparable temperature with no configuration.
    /// Call after `root` is final; `board_note` says what it decided.
    pub fn apply_board(&mut self) {
        self.board_note = self.board_gate();
    }

    fn board_gate(&mut self) -> Option<String> {
        if self.cooldown.is_some() || self.board == "none" {
            return None;
        }
        let board = match crate::boards::resolve(&self.board, &self.root) {
            Ok(Some(b)) => b,
            Ok(None) => return Some("no board profile matches this box: no cooldown gate".into()),
            Err(e) => return Some(format!("board detection failed, no cooldown gate: {e}")),
        };
        let c = &board.cooldown;
        self.cooldown = Some(CooldownConfig {
            max_temp_c: Some(c.start_below_c),
            max_loadavg1: None,
            max_wait: Duration::from_secs(c.max_wait_s),
            poll: Duration::from_millis(DEFAULT_COOLDOWN_POLL_MS),
            zones: board.thermal.zones.clone(),
        });
        Some(format!(
            "board profile {}: cooldown gate below {} C on {}, waiting at most {} s",
            board.name,
            c.start_below_c,
            if board.thermal.zones.is_empty() {
                "every thermal zone".to_string()
            } else {
                board.thermal.zones.join(", ")
            },
            c.max_wait_s
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Result<DaemonConfig, ConfigError> {
        DaemonConfig::parse(t, Path::new("/etc/edgemark/edgemark.toml"))
    }

    #[test]
    fn empty_config_gives_documented_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.state_dir, Path::new("/var/lib/edgemark"));
        assert_eq!(c.results_dir, Path::new("/var/lib/edgemark/results"));
        assert_eq!(c.root, Path::new("/"));
        assert_eq!(c.spool_poll, Duration::from_secs(1));
        assert!(c.cooldown.is_none() && c.schedule.is_empty());
    }

    #[test]
    fn full_config_and_relative_paths() {
        let c = parse(
            r#"
            state_dir = "/srv/em"
            spool_poll_ms = 250
            [cooldown]
            max_temp_c = 60
            max_loadavg1 = 0.5
            max_wait_s = 30
            [[schedule]]
            name = "nightly"
            job = "jobs/mobilenet.toml"
            every_hours = 6
            [[schedule]]
            name = "boot"
            job = "/x.toml"
            at_boot = true
            "#,
        )
        .unwrap();
        assert_eq!(c.results_dir, Path::new("/srv/em/results"));
        let cd = c.cooldown.unwrap();
        assert_eq!(cd.max_temp_c, Some(60.0));
        assert_eq!(cd.max_wait, Duration::from_secs(30));
        assert_eq!(cd.poll, Duration::from_secs(5));
        assert_eq!(
            c.schedule[0].job,
            Path::new("/etc/edgemark/jobs/mobilenet.toml")
        );
        assert_eq!(c.schedule[0].every, Some(Duration::from_secs(6 * 3600)));
        assert!(c.schedule[1].at_boot && c.schedule[1].every.is_none());
    }

    #[test]
    fn typos_and_bad_values_are_errors_naming_the_file() {
        for bad in [
            "state_dri = \"/x\"",
            "[cooldown]\nmax_temp = 50",
            "[cooldown]\nmax_temp_c = -1",
            "[cooldown]\nmax_wait_s = -5",
            "spool_poll_ms = 0",
            "[[schedule]]\nname = \"a\"\njob = \"/j\"",
            // 1e300 hours overflowed Duration::from_secs_f64 (a panic, not a
            // config error) before every_hours was bounded.
            "[[schedule]]\nname = \"a\"\njob = \"/j\"\nevery_hours = 1e300",
            "[[schedule]]\nname = \"a\"\njob = \"/j\"\nevery_hours = 1e-9",
            "[[schedule]]\nname = \"a\"\njob = \"/j\"\nevery_hours = nan",
            "[[schedule]]\nname = \"a\"\njob = \"/j\"\nevery_hours = -1",
            "[[schedule]]\nname = \"a b\"\njob = \"/j\"\nat_boot = true",
            "[[schedule]]\nname = \"a\"\njob = \"/j\"\nat_boot = true\n[[schedule]]\nname = \"a\"\njob = \"/k\"\nat_boot = true",
        ] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.contains("/etc/edgemark/edgemark.toml"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn missing_default_file_is_defaults_but_missing_explicit_file_is_an_error() {
        let p = Path::new("/nonexistent/edgemark.toml");
        assert_eq!(
            DaemonConfig::load(p, false).unwrap(),
            DaemonConfig::default()
        );
        let e = DaemonConfig::load(p, true).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/edgemark.toml"), "{e}");
    }

    #[test]
    fn shipped_example_config_is_valid() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/edgemark.toml.example");
        let c = DaemonConfig::load(&p, true).unwrap();
        assert_eq!(c.state_dir, Path::new(DEFAULT_STATE_DIR));
        assert_eq!(c.spool_poll, Duration::from_secs(1));
        assert_eq!(c.cooldown.unwrap().max_loadavg1, Some(0.5));
        assert_eq!(c.schedule.len(), 2);
    }

    use crate::boards::fixture_root as board_root;

    #[test]
    fn without_a_cooldown_table_the_detected_board_s_gate_applies() {
        let mut c = parse("").unwrap();
        c.root = board_root("rk3588-rock5b");
        c.apply_board();
        let line = c.board_note.clone().unwrap();
        assert!(line.contains("rk3588") && line.contains("50"), "{line}");
        let cd = c.cooldown.clone().unwrap();
        assert_eq!(cd.max_temp_c, Some(50.0));
        assert_eq!(cd.max_wait, Duration::from_secs(300));
        assert!(
            cd.zones.iter().any(|z| z == "soc-thermal"),
            "{:?}",
            cd.zones
        );

        // An explicit [cooldown] wins; `board = "none"` turns the default off;
        // a box no profile fits gets no gate.
        let mut c = parse("[cooldown]\nmax_temp_c = 70").unwrap();
        c.root = board_root("rk3588-rock5b");
        c.apply_board();
        assert_eq!(c.board_note, None);
        assert_eq!(c.cooldown.unwrap().max_temp_c, Some(70.0));
        let mut c = parse("board = \"none\"").unwrap();
        c.root = board_root("rk3588-rock5b");
        c.apply_board();
        assert_eq!(c.board_note, None);
        assert!(c.cooldown.is_none());
        let mut c = parse("").unwrap();
        c.root = board_root("empty");
        c.apply_board();
        assert!(c.board_note.unwrap().contains("no board profile"));
        assert!(c.cooldown.is_none());
        // A named board applies on any box.
        let mut c = parse("board = \"rpi4\"").unwrap();
        c.root = board_root("empty");
        c.apply_board();
        assert_eq!(c.cooldown.unwrap().zones, vec!["cpu-thermal".to_string()]);
    }

    #[test]
    fn an_unknown_board_is_a_config_error_naming_the_known_ones() {
        let e = parse("board = \"rpi9\"").unwrap_err().to_string();
        assert!(e.contains("rpi9") && e.contains("rk3588"), "{e}");
    }
}
