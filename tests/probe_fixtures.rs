//! Probes on fake sysfs/procfs trees (`tests/fixtures/`): a Raspberry Pi 4, a
//! Jetson Orin Nano (INA3221), an x86 NUC with RAPL, and a bare box. Sensor
//! tests copy a tree to a temp dir and rewrite files between `sample_once`
//! steps, so no sleeping and no threads are needed (except the one test of the
//! thread wrapper itself).

use std::path::{Path, PathBuf};
use std::time::Duration;

use edgemark::probe::{self, EnergySource, Sampler};

fn fixture(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    assert!(p.is_dir(), "fixture tree missing: {}", p.display());
    p
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

/// A private, writable copy of a fixture tree.
struct Scratch(PathBuf);

impl Scratch {
    fn of(name: &str, tag: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("edgemark-fx-{name}-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        copy_tree(&fixture(name), &dir);
        Scratch(dir)
    }
    fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.0.join(rel), text).unwrap();
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn raspberry_pi_4_description() {
    let (s, warnings) = probe::describe(&fixture("rpi4"));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(s.hostname.as_deref(), Some("pi4-lab"));
    assert_eq!(s.board.as_deref(), Some("Raspberry Pi 4 Model B Rev 1.4"));
    assert_eq!(s.cpu_model.as_deref(), Some("Cortex-A72"));
    assert_eq!(s.cores, 4);
    assert_eq!(s.kernel.as_deref(), Some("6.6.31+rpt-rpi-v8"));
    assert_eq!(s.mem_total_bytes, Some(7_996_276 * 1024));
    assert_eq!(s.clusters.len(), 1);
    assert_eq!(s.clusters[0].cpus, vec![0, 1, 2, 3]);
    assert_eq!(s.cpufreq[2].governor.as_deref(), Some("ondemand"));
    assert_eq!(s.cpufreq[2].min_khz, Some(600_000));
    assert_eq!(s.thermal_zones.len(), 1);
    assert_eq!(s.thermal_zones[0].kind, "cpu-thermal");
    let w = s.setup_warnings();
    assert_eq!(w.len(), 1);
    assert!(
        w[0].contains("\"ondemand\"") && w[0].contains("cpu 0-3"),
        "{}",
        w[0]
    );
}

#[test]
fn raspberry_pi_4_sensors_throttle_and_frequency() {
    let fx = Scratch::of("rpi4", "sensors");
    let mut s = Sampler::new(&fx.0);
    s.sample_once(0);
    fx.write("sys/class/thermal/thermal_zone0/temp", "81234\n");
    fx.write(
        "sys/devices/system/cpu/cpu1/cpufreq/scaling_cur_freq",
        "1500000\n",
    );
    // Soft temperature limit now + since boot; arm frequency capped now.
    fx.write(
        "sys/devices/platform/soc/soc:firmware/get_throttled",
        "0x8000a\n",
    );
    s.sample_once(100_000_000);
    fx.write(
        "sys/devices/platform/soc/soc:firmware/get_throttled",
        "80008\n",
    );
    s.sample_once(200_000_000);
    let sum = s.finish();
    assert_eq!(sum.samples, 3);
    assert_eq!(sum.zones.len(), 1);
    assert_eq!(
        (sum.zones[0].min_millicelsius, sum.zones[0].max_millicelsius),
        (48_312, 81_234)
    );
    assert_eq!(sum.max_temp_millicelsius(), Some(81_234));
    let cpu1 = sum.cores.iter().find(|c| c.cpu == 1).unwrap();
    assert_eq!((cpu1.min_khz, cpu1.max_khz), (1_500_000, 1_800_000));
    let t = sum.throttle.unwrap();
    assert_eq!((t.first, t.last, t.now_seen), (0, 0x80008, 0xa));
    assert!(sum.energy.is_none());
    assert!(sum.warnings.is_empty(), "{:?}", sum.warnings);
    let w = sum.condition_warnings();
    assert!(
        w.iter()
            .any(|w| w.contains("throttled") && w.contains("soft temperature limit")),
        "{w:?}"
    );
    assert!(w.iter().any(|w| w.contains("cpu1 1500-1800 MHz")), "{w:?}");
}

#[test]
fn broken_sysfs_values_are_named_not_panics() {
    let fx = Scratch::of("rpi4", "broken");
    fx.write("sys/class/thermal/thermal_zone0/temp", "N/A\n");
    fx.write(
        "sys/devices/platform/soc/soc:firmware/get_throttled",
        "zzz\n",
    );
    fx.write(
        "sys/devices/system/cpu/cpu0/cpufreq/scaling_max_freq",
        "fast\n",
    );
    let (s, warnings) = probe::describe(&fx.0);
    assert_eq!(s.cpufreq[0].max_khz, None);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("cpu0/cpufreq/scaling_max_freq") && w.contains("\"fast\"")),
        "{warnings:?}"
    );

    let mut sampler = Sampler::new(&fx.0);
    sampler.sample_once(0);
    sampler.sample_once(1);
    let sum = sampler.finish();
    assert!(sum.zones.is_empty());
    assert!(sum.throttle.is_none());
    // One warning per broken file, however many samples.
    assert_eq!(sum.warnings.len(), 2, "{:?}", sum.warnings);
    assert!(
        sum.warnings
            .iter()
            .any(|w| w.contains("thermal_zone0/temp") && w.contains("N/A"))
    );
    assert!(
        sum.warnings
            .iter()
            .any(|w| w.contains("get_throttled") && w.contains("zzz"))
    );
}

#[test]
fn rk3588_big_little_clusters() {
    let (s, warnings) = probe::describe(&fixture("rk3588"));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(s.board.as_deref(), Some("Radxa ROCK 5B"));
    assert_eq!(s.cpu_model.as_deref(), Some("Cortex-A55 + Cortex-A76"));
    assert_eq!(s.cores, 8);
    let clusters: Vec<(u64, Vec<u32>)> = s
        .clusters
        .iter()
        .map(|c| (c.max_freq_khz, c.cpus.clone()))
        .collect();
    assert_eq!(
        clusters,
        vec![(2_400_000, vec![4, 5, 6, 7]), (1_800_000, vec![0, 1, 2, 3])]
    );
    assert_eq!(s.thermal_zones.len(), 7);
    assert_eq!(s.thermal_zones[1].kind, "bigcore0-thermal");
    let sum = {
        let mut sampler = Sampler::new(&fixture("rk3588"));
        sampler.sample_once(0);
        sampler.finish()
    };
    assert_eq!(sum.max_temp_millicelsius(), Some(46_000));
    assert!(sum.energy.is_none() && sum.throttle.is_none());
}

#[test]
fn jetson_ina3221_total_is_the_input_rail() {
    let (s, warnings) = probe::describe(&fixture("jetson-orin"));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        s.board.as_deref(),
        Some("NVIDIA Jetson Orin Nano Developer Kit")
    );
    assert_eq!(s.cpu_model.as_deref(), Some("Cortex-A78AE"));
    assert_eq!(s.cores, 6);
    assert_eq!(s.thermal_zones.len(), 2);

    let fx = Scratch::of("jetson-orin", "ina");
    let mut sampler = Sampler::new(&fx.0);
    sampler.sample_once(0);
    sampler.sample_once(1_000_000_000); // 1 s at 6.0 W in, 2.0 W CPU/GPU, 1.5 W SoC
    fx.write("sys/class/hwmon/hwmon1/curr1_input", "1600\n"); // 8.0 W in
    sampler.sample_once(2_000_000_000);
    let sum = sampler.finish();
    let e = sum.energy.as_ref().expect("INA3221 energy");
    assert_eq!(e.source, EnergySource::Ina3221);
    assert_eq!(e.span_ns, 2_000_000_000);
    // 6 J in the first second, trapezoid (6+8)/2 = 7 J in the second.
    assert_eq!(e.total_uj, Some(13_000_000));
    let rail = |l: &str| e.rails.iter().find(|r| r.label == l).unwrap();
    assert!(rail("VDD_IN").in_total);
    assert!(!rail("VDD_CPU_GPU_CV").in_total && !rail("VDD_SOC").in_total);
    assert_eq!(rail("VDD_CPU_GPU_CV").energy_uj, 4_000_000);
    assert_eq!(sum.average_watts(), Some(6.5));
}

#[test]
fn jetson_nano_iio_rails_in_milliwatts() {
    let (s, warnings) = probe::describe(&fixture("jetson-nano"));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(s.board.as_deref(), Some("NVIDIA Jetson Nano Developer Kit"));
    // armv8 kernels of that age print a generic "model name".
    assert_eq!(s.cpu_model.as_deref(), Some("ARMv8 Processor rev 1 (v8l)"));

    let fx = Scratch::of("jetson-nano", "iio");
    let mut sampler = Sampler::new(&fx.0);
    sampler.sample_once(0);
    fx.write(
        "sys/bus/i2c/drivers/ina3221x/6-0040/iio:device0/in_power0_input",
        "6000\n",
    );
    sampler.sample_once(2_000_000_000); // (4 W + 6 W) / 2 * 2 s = 10 J in
    let sum = sampler.finish();
    let e = sum.energy.as_ref().expect("iio INA3221 energy");
    assert_eq!(e.source, EnergySource::Ina3221);
    assert_eq!(e.total_uj, Some(10_000_000), "{:?}", e.rails);
    let cpu = e.rails.iter().find(|r| r.label == "POM_5V_CPU").unwrap();
    assert_eq!((cpu.energy_uj, cpu.in_total), (3_000_000, false));
    assert_eq!(sum.average_watts(), Some(5.0));
}

#[test]
fn x86_rapl_counter_wraps_around() {
    let (s, warnings) = probe::describe(&fixture("x86-rapl"));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(s.board.as_deref(), Some("Intel Corporation NUC8i5BEH"));
    assert_eq!(
        s.cpu_model.as_deref(),
        Some("Intel(R) Core(TM) i5-8259U CPU @ 2.30GHz")
    );
    assert_eq!(s.cores, 4);
    assert!(
        s.setup_warnings().is_empty(),
        "performance governor: no warning"
    );

    let fx = Scratch::of("x86-rapl", "wrap");
    let rapl = "sys/class/powercap/intel-rapl:0/energy_uj";
    let mut sampler = Sampler::new(&fx.0);
    sampler.sample_once(0); // 262_143_000_000
    fx.write(rapl, "262143300000\n");
    sampler.sample_once(1_000_000_000); // +300_000
    fx.write(rapl, "1000000\n"); // wrapped at 262_143_328_850
    sampler.sample_once(2_000_000_000); // +28_850 + 1_000_000
    let sum = sampler.finish();
    let e = sum.energy.as_ref().expect("RAPL energy");
    assert_eq!(e.source, EnergySource::Rapl);
    // The core subzone (intel-rapl:0:0) is part of the package: not a channel.
    assert_eq!(e.rails.len(), 1, "{:?}", e.rails);
    assert_eq!(e.rails[0].label, "package-0");
    assert_eq!(e.total_uj, Some(300_000 + 28_850 + 1_000_000));
    assert!(sum.warnings.is_empty(), "{:?}", sum.warnings);
    let zones: Vec<&str> = sum.zones.iter().map(|z| z.kind.as_str()).collect();
    assert_eq!(zones, vec!["acpitz", "x86_pkg_temp"]);
}

#[test]
fn bare_box_has_nothing_and_no_error() {
    let root = fixture("bare");
    let (s, warnings) = probe::describe(&root);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(s, probe::SystemInfo::default());
    let mut sampler = Sampler::new(&root);
    sampler.sample_once(0);
    sampler.sample_once(10);
    let sum = sampler.finish();
    assert!(sum.zones.is_empty() && sum.cores.is_empty());
    assert!(sum.throttle.is_none() && sum.energy.is_none());
    assert!(sum.warnings.is_empty());
    assert_eq!(sum.average_watts(), None);
    assert!(sum.condition_warnings().is_empty());
    assert_eq!(probe::read_rss(&root), probe::RssReading::default());
}

#[test]
fn sampler_thread_samples_at_start_and_stop() {
    // No timing asserted: start and stop each take one sample, whatever the period.
    let h = Sampler::start(&fixture("x86-rapl"), Duration::from_secs(3600));
    let sum = h.stop();
    assert_eq!(sum.samples, 2);
    assert_eq!(sum.period_ns, 3_600_000_000_000);
    assert_eq!(sum.zones.len(), 2);
    assert_eq!(
        sum.energy.as_ref().unwrap().total_uj,
        Some(0),
        "the fixture counter does not move"
    );
}

#[test]
fn series_follow_the_sensors_over_time() {
    use edgemark::record::{Quantity, SensorSeries, series::TOTAL_POWER};
    // A Jetson: 3 s at 6 W in, then 8 W; cpu-thermal warms from its fixture value.
    let fx = Scratch::of("jetson-orin", "series");
    let (sys, _) = probe::describe(&fx.0);
    let mut sampler = Sampler::new(&fx.0);
    for (i, (ma, temp)) in [
        (1200, 45_000),
        (1200, 45_500),
        (1200, 46_000),
        (1600, 50_000),
    ]
    .into_iter()
    .enumerate()
    {
        fx.write("sys/class/hwmon/hwmon1/curr1_input", &format!("{ma}\n"));
        fx.write("sys/class/thermal/thermal_zone0/temp", &format!("{temp}\n"));
        // Two readings a second, as the sampler's thread would take them.
        sampler.sample_once(i as u64 * 1_000_000_000);
        sampler.sample_once(i as u64 * 1_000_000_000 + 500_000_000);
    }
    let sum = sampler.finish();
    let series = SensorSeries::from_probe(&sum.series, &sys.clusters, sum.energy.as_ref())
        .expect("a series");
    assert_eq!(series.step_ns, 1_000_000_000);
    let zone0 = series
        .of(Quantity::TemperatureDeciCelsius)
        .find(|t| t.sensor == 0)
        .unwrap();
    assert_eq!(zone0.values, vec![450, 455, 460, 500]);
    let power: Vec<_> = series.of(Quantity::PowerMilliwatts).collect();
    assert_eq!(power.len(), 1, "total only, not every rail");
    assert_eq!(power[0].sensor, TOTAL_POWER);
    // VDD_IN is 5 V: 1.2 A = 6 W, 1.6 A = 8 W (the step's first half-second
    // integrates from the previous 6 W reading: 7 W, then 8 W).
    assert_eq!(power[0].values[..3], [6000, 6000, 6000]);
    assert_eq!(power[0].values[3], 7500);
    assert!(series.of(Quantity::FrequencyMhz).count() >= 1);
}
