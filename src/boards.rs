//! Board profiles: what edgemark knows about the boxes it runs on (how to
//! recognise them, their core layout and pinning, thermal and power sources,
//! cooldown thresholds). The profiles live in `boards/*.toml` and are compiled
//! into the binary, so `edgemark boards` and `--board auto` work with no files
//! around. Detection reads identity files below an overridable root (`/` on a
//! real box, a fixture tree in tests), like every other hardware probe.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Deserialize;

/// The profiles shipped inside the binary: (file name, TOML text). Detection
/// tries specific profiles in this order, then fallbacks (`any_dmi`).
const BUILTIN: &[(&str, &str)] = &[
    ("rpi4.toml", include_str!("../boards/rpi4.toml")),
    ("rpi5.toml", include_str!("../boards/rpi5.toml")),
    (
        "jetson-orin-nano.toml",
        include_str!("../boards/jetson-orin-nano.toml"),
    ),
    ("rk3588.toml", include_str!("../boards/rk3588.toml")),
    (
        "x86-64-mini-pc.toml",
        include_str!("../boards/x86-64-mini-pc.toml"),
    ),
];

/// Why a board profile or board choice was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BoardError {
    #[error("board profile {origin}: {why}")]
    Parse { origin: String, why: String },
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("unknown board {name:?}; known boards: {known}")]
    Unknown { name: String, known: String },
}

/// What is inconsistent in a profile that parsed (`BoardError::Parse` says
/// which profile).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileProblem {
    #[error("name {0:?} must be non-empty [A-Za-z0-9-]")]
    BadName(String),
    #[error("name \"auto\" is reserved for detection")]
    ReservedName,
    #[error("[match] has no rule: the board could never be detected")]
    NoMatchRule,
    #[error("a [[match.dmi]] rule names no field")]
    EmptyDmiRule,
    #[error("no [[cores]] cluster")]
    NoCores,
    #[error("power kind {0:?} needs a path")]
    PowerPath(PowerKind),
    #[error("power kind ina3221 needs current_path")]
    CurrentPath,
    /// A file name in systemd/dropins/, not a path.
    #[error("[systemd] dropins: {0:?} must be a file name [a-z0-9-].conf in systemd/dropins/")]
    Dropin(String),
    #[error("cooldown start_below_c ({start_below_c}) must be below throttle_c ({throttle_c})")]
    Cooldown { start_below_c: f64, throttle_c: f64 },
}

/// One board profile, as in `boards/NAME.toml`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Board {
    /// Short name, used by `--board NAME`.
    pub name: String,
    pub description: String,
    /// Rust target triple of the binary to ship to this board.
    pub target: String,
    pub notes: String,
    #[serde(rename = "match")]
    pub matching: MatchRules,
    /// CPU clusters, in CPU-number order.
    pub cores: Vec<CoreCluster>,
    pub pin: Pinning,
    pub thermal: Thermal,
    pub power: PowerSensor,
    pub cooldown: Cooldown,
    /// What an exec: SUT using this board's GPU/NPU needs from systemd.
    /// Appended: profiles without a `[systemd]` table parse as before.
    #[serde(default)]
    pub systemd: SystemdHints,
}

/// `[systemd]`: the drop-ins (file names in the shipped `systemd/dropins/`,
/// docs/engines.md) that open the hardened units to this board's GPU/NPU
/// engines. Only named here: edgemark does not install them (root does).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SystemdHints {
    pub dropins: Vec<String>,
}

/// How to recognise the board. Any one rule that holds is a match.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MatchRules {
    /// Substrings of `/proc/device-tree/model` (case-insensitive).
    pub model: Vec<String>,
    /// Exact entries of `/proc/device-tree/compatible`.
    pub compatible: Vec<String>,
    /// DMI rules; within one rule every given field must contain its value.
    pub dmi: Vec<DmiRule>,
    /// Fallback: any box that has DMI identity and no device tree. Tried only
    /// after every specific profile failed.
    pub any_dmi: bool,
}

/// Substrings of `/sys/class/dmi/id/{sys_vendor,product_name,board_name}`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DmiRule {
    pub sys_vendor: Option<String>,
    pub product_name: Option<String>,
    pub board_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CoreCluster {
    pub name: String,
    /// CPU list (`0-3`, `4,5`) or `all`.
    pub cpus: CpuSet,
    pub kind: CoreKind,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum CoreKind {
    Uniform,
    Big,
    Little,
}

/// Default CPU sets per scenario (the `--cpus` of a run that does not give one).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Pinning {
    pub single_stream: CpuSet,
    pub offline: CpuSet,
}

/// A CPU list such as `0-3,6`, or every online CPU.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum CpuSet {
    All,
    /// Sorted, without duplicates.
    List(Vec<u32>),
}

/// A CPU list that is not `all` or `N`/`N-M` items.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad CPU list {list:?}: {part:?} is not N or N-M")]
pub struct CpuListError {
    pub list: String,
    pub part: String,
}

impl CpuSet {
    /// Parse `all` or a Linux-style CPU list (`0-3,5`).
    pub fn parse(s: &str) -> Result<CpuSet, CpuListError> {
        let s = s.trim();
        if s == "all" {
            return Ok(CpuSet::All);
        }
        let mut cpus = Vec::new();
        for part in s.split(',') {
            let part = part.trim();
            let bad = || CpuListError {
                list: s.to_string(),
                part: part.to_string(),
            };
            match part.split_once('-') {
                Some((a, b)) => {
                    let a: u32 = a.trim().parse().map_err(|_| bad())?;
                    let b: u32 = b.trim().parse().map_err(|_| bad())?;
                    if a > b || b - a > 4095 {
                        return Err(bad());
                    }
                    cpus.extend(a..=b);
                }
                None => cpus.push(part.parse().map_err(|_| bad())?),
            }
        }
        cpus.sort_unstable();
        cpus.dedup();
        Ok(CpuSet::List(cpus))
    }
}

impl TryFrom<String> for CpuSet {
    type Error = CpuListError;
    fn try_from(s: String) -> Result<Self, CpuListError> {
        CpuSet::parse(&s)
    }
}

impl std::fmt::Display for CpuSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CpuSet::All => f.write_str("all"),
            CpuSet::List(cpus) => {
                // Print runs back as ranges, the form users type.
                let mut i = 0;
                let mut first = true;
                while i < cpus.len() {
                    let mut j = i;
                    while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
                        j += 1;
                    }
                    if !first {
                        f.write_str(",")?;
                    }
                    first = false;
                    if j > i {
                        write!(f, "{}-{}", cpus[i], cpus[j])?;
                    } else {
                        write!(f, "{}", cpus[i])?;
                    }
                    i = j + 1;
                }
                Ok(())
            }
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Thermal {
    /// `type` names of `/sys/class/thermal/thermal_zone*` to watch, hottest first.
    pub zones: Vec<String>,
    #[serde(default)]
    pub throttle: Vec<ThrottleSource>,
}

/// A file that shows whether (or how much) the CPU is being throttled.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ThrottleSource {
    pub kind: ThrottleKind,
    /// Relative to the root.
    pub path: String,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ThrottleKind {
    /// Raspberry Pi firmware bitmask (hex), non-zero low bits = throttled now.
    RpiGetThrottled,
    /// Current CPU frequency in kHz; a drop under load means throttling.
    CpufreqCur,
    /// Intel's cumulative thermal-throttle event counter.
    IntelThrottleCount,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PowerSensor {
    pub kind: PowerKind,
    /// Relative to the root; may hold one `*` (hwmon numbers vary by boot).
    pub path: Option<String>,
    /// Second file for sensors that report voltage and current separately.
    pub current_path: Option<String>,
    /// Rail name as the sensor labels it.
    pub label: Option<String>,
    /// Nominal whole-board power under CPU load, W: the estimate per-watt
    /// figures use (marked "estimated") when no sensor measured energy.
    #[serde(default)]
    pub nominal_load_w: Option<f64>,
    /// Where `nominal_load_w` comes from (kept in the record).
    #[serde(default)]
    pub nominal_load_source: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum PowerKind {
    None,
    /// INA3221 hwmon channel: `path` in mV, `current_path` in mA.
    Ina3221,
    /// RAPL energy counter in microjoules (power = delta / time).
    RaplEnergy,
    /// hwmon `power*_input` in microwatts.
    HwmonPower,
}

/// When a scenario may start, and when the box counts as throttling.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Cooldown {
    /// Wait before each scenario until the watched zones are below this.
    pub start_below_c: f64,
    /// Temperature at which the firmware/kernel starts cutting clocks.
    pub throttle_c: f64,
    /// Give up waiting (and record that) after this long.
    pub max_wait_s: u64,
}

impl Board {
    /// Parse and check one profile; `origin` (a file name) is named in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Board, BoardError> {
        let parse = |why: String| BoardError::Parse {
            origin: origin.to_string(),
            why,
        };
        let board: Board = toml::from_str(text).map_err(|e| parse(e.to_string()))?;
        board.check().map_err(|p| parse(p.to_string()))?;
        Ok(board)
    }

    fn check(&self) -> Result<(), ProfileProblem> {
        if self.name.is_empty()
            || !self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(ProfileProblem::BadName(self.name.clone()));
        }
        if self.name == "auto" {
            return Err(ProfileProblem::ReservedName);
        }
        let m = &self.matching;
        if m.model.is_empty() && m.compatible.is_empty() && m.dmi.is_empty() && !m.any_dmi {
            return Err(ProfileProblem::NoMatchRule);
        }
        if m.dmi
            .iter()
            .any(|r| r.sys_vendor.is_none() && r.product_name.is_none() && r.board_name.is_none())
        {
            return Err(ProfileProblem::EmptyDmiRule);
        }
        if self.cores.is_empty() {
            return Err(ProfileProblem::NoCores);
        }
        if self.power.kind != PowerKind::None && self.power.path.is_none() {
            return Err(ProfileProblem::PowerPath(self.power.kind));
        }
        if self.power.kind == PowerKind::Ina3221 && self.power.current_path.is_none() {
            return Err(ProfileProblem::CurrentPath);
        }
        // A file name in systemd/dropins/, not a path (tests/boards.rs checks
        // that each one is shipped).
        if let Some(bad) = self.systemd.dropins.iter().find(|d| {
            d.strip_suffix(".conf").is_none_or(|stem| {
                stem.is_empty()
                    || !stem
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            })
        }) {
            return Err(ProfileProblem::Dropin(bad.clone()));
        }
        let c = &self.cooldown;
        if !(c.start_below_c.is_finite()
            && c.throttle_c.is_finite()
            && c.start_below_c < c.throttle_c)
        {
            return Err(ProfileProblem::Cooldown {
                start_below_c: c.start_below_c,
                throttle_c: c.throttle_c,
            });
        }
        Ok(())
    }

    /// Whether this board's specific rules (not `any_dmi`) match this identity.
    fn matches_specific(&self, id: &Identity) -> bool {
        let m = &self.matching;
        if let Some(model) = &id.model {
            let model = model.to_lowercase();
            if m.model.iter().any(|s| model.contains(&s.to_lowercase())) {
                return true;
            }
        }
        if m.compatible
            .iter()
            .any(|c| id.compatible.iter().any(|e| e == c))
        {
            return true;
        }
        m.dmi.iter().any(|rule| {
            let field = |want: &Option<String>, have: &Option<String>| match (want, have) {
                (None, _) => true,
                (Some(w), Some(h)) => h.to_lowercase().contains(&w.to_lowercase()),
                (Some(_), None) => false,
            };
            field(&rule.sys_vendor, &id.sys_vendor)
                && field(&rule.product_name, &id.product_name)
                && field(&rule.board_name, &id.board_name)
        })
    }

    fn matches_fallback(&self, id: &Identity) -> bool {
        self.matching.any_dmi && id.model.is_none() && id.compatible.is_empty() && id.has_dmi()
    }
}

/// What a box says about itself, read below a root directory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Identity {
    pub model: Option<String>,
    pub compatible: Vec<String>,
    pub sys_vendor: Option<String>,
    pub product_name: Option<String>,
    pub board_name: Option<String>,
}

impl Identity {
    /// Read the identity files below `root`. Missing files are normal (x86 has no
    /// device tree, ARM boards no DMI); any other read error is reported.
    pub fn read(root: &Path) -> Result<Identity, BoardError> {
        let compatible = read_opt(&root.join("proc/device-tree/compatible"))?
            .map(|s| {
                s.split('\0')
                    .map(str::trim)
                    .filter(|e| !e.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let dmi = |f: &str| read_opt(&root.join("sys/class/dmi/id").join(f));
        Ok(Identity {
            model: read_opt(&root.join("proc/device-tree/model"))?,
            compatible,
            sys_vendor: dmi("sys_vendor")?,
            product_name: dmi("product_name")?,
            board_name: dmi("board_name")?,
        })
    }

    fn has_dmi(&self) -> bool {
        self.sys_vendor.is_some() || self.product_name.is_some() || self.board_name.is_some()
    }
}

/// Device-tree strings end in NUL, sysfs ones in a newline: both are trimmed,
/// and an empty file counts as absent.
fn read_opt(path: &Path) -> Result<Option<String>, BoardError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let s = String::from_utf8_lossy(&bytes);
            let s = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
            Ok((!s.is_empty()).then(|| s.to_string()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(BoardError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Every profile compiled into this binary, parsed once.
pub fn builtin() -> Result<&'static [Board], BoardError> {
    static BOARDS: OnceLock<Result<Vec<Board>, String>> = OnceLock::new();
    let parsed = BOARDS.get_or_init(|| {
        BUILTIN
            .iter()
            .map(|(file, text)| Board::from_toml(text, &format!("boards/{file} (built in)")))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())
    });
    match parsed {
        Ok(boards) => Ok(boards),
        Err(why) => Err(BoardError::Parse {
            origin: "built-in profiles".into(),
            why: why.clone(),
        }),
    }
}

/// Load every `*.toml` profile in a directory (sorted by file name).
pub fn load_dir(dir: &Path) -> Result<Vec<Board>, BoardError> {
    let io = |source| BoardError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    files.retain(|p| p.extension().is_some_and(|e| e == "toml"));
    files.sort();
    files
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).map_err(|source| BoardError::Io {
                path: p.clone(),
                source,
            })?;
            Board::from_toml(&text, &p.display().to_string())
        })
        .collect()
}

/// The board among `boards` that this identity belongs to: the first specific
/// match in list order, else the first fallback match.
pub fn detect_in<'a>(boards: &'a [Board], id: &Identity) -> Option<&'a Board> {
    boards
        .iter()
        .find(|b| b.matches_specific(id))
        .or_else(|| boards.iter().find(|b| b.matches_fallback(id)))
}

/// Detect the built-in profile for the box whose filesystem is at `root`.
pub fn detect(root: &Path) -> Result<Option<&'static Board>, BoardError> {
    let boards = builtin()?;
    Ok(detect_in(boards, &Identity::read(root)?))
}

/// A built-in profile by name.
pub fn find(name: &str) -> Result<&'static Board, BoardError> {
    let boards = builtin()?;
    boards
        .iter()
        .find(|b| b.name == name)
        .ok_or_else(|| BoardError::Unknown {
            name: name.to_string(),
            known: boards
                .iter()
                .map(|b| b.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// `--board`'s value: `auto` detects below `root`, anything else names a profile.
/// `Ok(None)` means auto-detection found no profile (the run goes on without
/// board defaults).
pub fn resolve(choice: &str, root: &Path) -> Result<Option<&'static Board>, BoardError> {
    match choice {
        "auto" => detect(root),
        name => find(name).map(Some),
    }
}

/// The CPUs this process may run on (what "online cores" means for us: it
/// honours cgroups, `taskset` and offline cores alike). Board pinning is checked
/// against it; the tract backend pins within it.
pub fn allowed_cpus() -> Vec<u32> {
    use nix::sched::{CpuSet, sched_getaffinity};
    match sched_getaffinity(nix::unistd::Pid::from_raw(0)) {
        Ok(set) => (0..CpuSet::count())
            .filter(|&c| set.is_set(c).unwrap_or(false))
            .map(|c| c as u32)
            .collect(),
        Err(_) => {
            let n = std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1);
            (0..n as u32).collect()
        }
    }
}

/// A board fixture tree under tests/fixtures/boards, for unit tests that detect
/// boards through a root.
#[cfg(test)]
pub(crate) fn fixture_root(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/boards")
        .join(name)
}

/// The table `edgemark boards` prints; `detected` is marked.
pub fn format_list(boards: &[Board], detected: Option<&str>) -> String {
    let width = boards.iter().map(|b| b.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for b in boards {
        let mark = if Some(b.name.as_str()) == detected {
            "*"
        } else {
            " "
        };
        out.push_str(&format!(
            "{mark} {:width$}  {:28}  {}\n",
            b.name, b.target, b.description
        ));
    }
    out.push_str(match detected {
        Some(_) => "\n(* = detected on this box)\n",
        None => "\nno profile matches this box\n",
    });
    out
}

/// The embedded TOML of one profile, as `edgemark boards NAME` prints it.
pub fn builtin_source(name: &str) -> Option<&'static str> {
    let boards = builtin().ok()?;
    let i = boards.iter().position(|b| b.name == name)?;
    BUILTIN.get(i).map(|(_, text)| *text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_profiles_parse_and_have_unique_names() {
        let boards = builtin().expect("built-in profiles parse");
        assert_eq!(boards.len(), BUILTIN.len());
        let mut names: Vec<_> = boards.iter().map(|b| &b.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), boards.len());
    }

    #[test]
    fn cpu_lists_parse_and_print_back() {
        assert_eq!(
            CpuSet::parse("0-3,5").unwrap(),
            CpuSet::List(vec![0, 1, 2, 3, 5])
        );
        assert_eq!(CpuSet::parse("all").unwrap(), CpuSet::All);
        assert_eq!(CpuSet::parse("6,4-5,4").unwrap().to_string(), "4-6");
        assert_eq!(CpuSet::parse("0,2-3,7").unwrap().to_string(), "0,2-3,7");
        assert!(CpuSet::parse("3-1").is_err());
        assert!(CpuSet::parse("a").is_err());
        assert!(CpuSet::parse("").is_err());
    }

    #[test]
    fn rk3588_pins_single_stream_to_the_big_cores() {
        let b = find("rk3588").unwrap();
        let big = b.cores.iter().find(|c| c.kind == CoreKind::Big).unwrap();
        assert_eq!(big.cpus, CpuSet::List(vec![4, 5, 6, 7]));
        assert_eq!(b.pin.single_stream, big.cpus);
    }

    #[test]
    fn builtin_source_is_the_profile_text() {
        let text = builtin_source("rpi5").unwrap();
        assert_eq!(Board::from_toml(text, "x").unwrap().name, "rpi5");
        assert!(builtin_source("nope").is_none());
    }

    #[test]
    fn unknown_board_names_the_known_ones() {
        let err = find("rpi3").unwrap_err().to_string();
        assert!(err.contains("rpi3") && err.contains("rk3588"), "{err}");
    }
}
