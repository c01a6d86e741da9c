use std::sync::Arc;
use std::time::Duration;

use super::kernel;
use super::procfs::{self, Counters, CpuTimes};
use super::*;
use crate::config::{Config, ConfigError, EbpfPrograms, LoadSourceChoice, Raw};

const STAT_T0: &str = "\
cpu  1000 0 500 8000 100 0 50 0 0 0
cpu0 600 0 300 3900 50 0 30 0 0 0
cpu1 400 0 200 4100 50 0 20 0 0 0
intr 123456 0 0
ctxt 50000
btime 1700000000
processes 4242
procs_running 3
procs_blocked 0
";

// 100 jiffies later per CPU: cpu0 fully busy (90 user + 10 system), cpu1 idle.
const STAT_T1: &str = "\
cpu  1090 0 510 8100 100 0 50 0 0 0
cpu0 690 0 310 3900 50 0 30 0 0 0
cpu1 400 0 200 4200 50 0 20 0 0 0
intr 123999 0 0
ctxt 52000
btime 1700000000
";

#[test]
fn stat_parses_aggregate_per_cpu_and_ctxt() {
    let s = procfs::parse_stat(STAT_T0).expect("valid /proc/stat");
    assert_eq!(
        s.all,
        CpuTimes {
            busy: 1550,
            total: 9650
        }
    );
    assert_eq!(s.per_cpu.len(), 2);
    assert_eq!(
        s.per_cpu[1],
        CpuTimes {
            busy: 620,
            total: 4770
        }
    );
    assert_eq!(s.ctxt, 50_000);
}

#[test]
fn stat_accepts_old_kernels_short_cpu_lines() {
    let s = procfs::parse_stat("cpu 1 2 3 4\ncpu0 1 2 3 4\nctxt 9\n").expect("4 columns suffice");
    assert_eq!(s.all, CpuTimes { busy: 6, total: 10 });
}

#[test]
fn stat_rejects_malformed_text_naming_the_file() {
    for bad in [
        "",
        "cpu 1 2 3\nctxt 1\n",
        "cpu 1 2 x 4\nctxt 1\n",
        "cpu 1 2 3 4\n",
        "cpu 1 2 3 4\nctxt\n",
    ] {
        let e = procfs::parse_stat(bad).expect_err(bad);
        assert_eq!(e.file, "/proc/stat", "{bad:?}");
    }
}

#[test]
fn psi_reads_some_total() {
    let text = "some avg10=48.13 avg60=19.71 avg300=6.56 total=1789589617\n\
                full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
    assert_eq!(procfs::parse_psi(text), Ok(1_789_589_617));
    // Kernels before 5.13 have no "full" line for cpu.
    assert_eq!(
        procfs::parse_psi("some avg10=0.00 avg60=0.00 avg300=0.00 total=7\n"),
        Ok(7)
    );
    for bad in [
        "",
        "full avg10=0.00 total=3\n",
        "some avg10=1.0\n",
        "some total=-1\n",
    ] {
        let e = procfs::parse_psi(bad).expect_err(bad);
        assert_eq!(e.file, "/proc/pressure/cpu");
    }
}

#[test]
fn loadavg_and_children_ticks_parse() {
    assert_eq!(
        procfs::parse_loadavg("1.72 1.44 1.43 5/119 22070\n"),
        Ok(1.72)
    );
    assert!(procfs::parse_loadavg("nan 1 1").is_err());
    assert!(procfs::parse_loadavg("").is_err());
    // A command name with spaces and a ')' must not shift the fields.
    let stat = "4242 (my (odd) fn) S 1 4242 4242 0 -1 4194304 102 0 0 0 \
                30 12 5 3 20 0 1 0 929947 3133440 412 0";
    assert_eq!(procfs::parse_children_ticks(stat), Ok(5 + 3));
    assert!(procfs::parse_children_ticks("4242 (x) S 1 2").is_err());
    assert!(procfs::parse_children_ticks("no name").is_err());
}

fn counters(stat: &str, psi: Option<u64>, ticks: u64) -> Counters {
    Counters {
        stat: procfs::parse_stat(stat).expect("fixture"),
        psi_some_us: psi,
        load_avg_1m: 0.5,
        children_ticks: ticks,
    }
}

#[test]
fn compute_turns_deltas_into_ratios_and_rates() {
    let prev = counters(STAT_T0, Some(1_000_000), 10);
    let cur = counters(STAT_T1, Some(1_250_000), 60);
    let s = procfs::compute(&prev, &cur, Duration::from_secs(1), 42);
    assert_eq!(s.source, Source::Psi);
    // 100 busy of 200 jiffies over both CPUs; cpu0 alone was fully busy.
    assert!((s.utilisation - 0.5).abs() < 1e-9, "{s:?}");
    assert!((s.utilisation_max_cpu - 1.0).abs() < 1e-9, "{s:?}");
    assert!((s.function_cpu_share - 0.25).abs() < 1e-9, "{s:?}");
    assert!((s.context_switches_per_sec - 2000.0).abs() < 1e-9);
    assert_eq!(s.cpu_pressure, Some(0.25));
    assert_eq!((s.cpus, s.timestamp_ms), (2, 42));
    assert_eq!(s.runq_latency_p50_us, None);

    let no_psi = procfs::compute(
        &counters(STAT_T0, None, 0),
        &counters(STAT_T1, None, 0),
        Duration::from_millis(500),
        0,
    );
    assert_eq!(no_psi.source, Source::Procfs);
    assert_eq!(no_psi.cpu_pressure, None);
    assert!((no_psi.context_switches_per_sec - 4000.0).abs() < 1e-9);
}

#[test]
fn compute_survives_counters_going_backwards() {
    // Counter resets (CPU hotplug, VM migration) must give sane values, not wrap-around garbage.
    let s = procfs::compute(
        &counters(STAT_T1, Some(9), 60),
        &counters(STAT_T0, Some(1), 10),
        Duration::from_secs(1),
        0,
    );
    for v in [
        s.utilisation,
        s.utilisation_max_cpu,
        s.function_cpu_share,
        s.cpu_pressure.unwrap_or(-1.0),
    ] {
        assert!((0.0..=1.0).contains(&v), "{s:?}");
    }
    assert_eq!(s.context_switches_per_sec, 0.0);
}

#[test]
fn reader_reads_a_fixture_tree() {
    let dir = std::env::temp_dir().join(format!("p2pfaas-load-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("pressure")).expect("mkdir");
    std::fs::create_dir_all(dir.join("self")).expect("mkdir");
    std::fs::write(dir.join("stat"), STAT_T0).expect("write");
    std::fs::write(dir.join("loadavg"), "0.25 0.1 0.0 1/2 3\n").expect("write");
    std::fs::write(
        dir.join("self/stat"),
        "1 (n) S 1 1 1 0 -1 0 0 0 0 0 7 1 2 3",
    )
    .expect("write");
    let plain = procfs::Reader::with_root(&dir, false)
        .read()
        .expect("procfs");
    assert_eq!((plain.load_avg_1m, plain.children_ticks), (0.25, 5));
    assert_eq!(plain.psi_some_us, None);
    // PSI asked for but missing: an I/O error naming the path.
    let err = procfs::Reader::with_root(&dir, true)
        .read()
        .expect_err("no pressure file");
    assert!(err.to_string().contains("pressure/cpu"), "{err}");
    std::fs::write(dir.join("pressure/cpu"), "some avg10=0 total=5\n").expect("write");
    let psi = procfs::Reader::with_root(&dir, true).read().expect("psi");
    assert_eq!(psi.psi_some_us, Some(5));
    let _ = std::fs::remove_dir_all(&dir);
}

fn sample() -> LoadSample {
    LoadSample {
        source: Source::Ebpf,
        utilisation: 0.75,
        utilisation_max_cpu: 0.9,
        runq_latency_p50_us: Some(3.5),
        runq_latency_p99_us: None,
        function_cpu_share: 0.125,
        context_switches_per_sec: 1234.0,
        cpu_pressure: Some(0.0),
        load_avg_1m: 1.5,
        cpus: 2,
        interval_ms: 100.0,
        timestamp_ms: 1_700_000_000_123,
    }
}

#[test]
fn shared_round_trips_every_field_including_none() {
    let shared = Shared::new();
    assert_eq!(shared.load(), LoadSample::EMPTY);
    shared.store(&sample());
    assert_eq!(shared.load(), sample());
}

#[test]
fn shared_readers_never_see_a_torn_sample() {
    // The writer alternates two samples whose fields all differ; a reader must only ever see one of them.
    let shared = Arc::new(Shared::new());
    let a = sample();
    let b = LoadSample {
        source: Source::Psi,
        utilisation: 0.25,
        utilisation_max_cpu: 0.5,
        runq_latency_p50_us: None,
        runq_latency_p99_us: Some(9.0),
        function_cpu_share: 0.5,
        context_switches_per_sec: 1.0,
        cpu_pressure: None,
        load_avg_1m: 0.0,
        cpus: 64,
        interval_ms: 50.0,
        timestamp_ms: 1,
    };
    shared.store(&a);
    let writer = {
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || {
            for i in 0..200_000 {
                shared.store(if i % 2 == 0 { &b } else { &a });
            }
        })
    };
    let mut reads = 0u64;
    while !writer.is_finished() || reads < 1000 {
        let s = shared.load();
        assert!(s == a || s == b, "torn read: {s:?}");
        reads += 1;
    }
    writer.join().expect("writer");
}

#[test]
fn metrics_export_source_reason_and_only_measured_gauges() {
    let mut out = String::new();
    let info = SourceInfo {
        source: Source::Psi,
        reason: "ebpf: map \"X\" failed\nEPERM".into(),
        ebpf_programs: None,
    };
    render_metrics(&mut out, &sample(), Some(&info));
    assert!(
        out.contains(
            "p2pfaas_load_source_info{source=\"psi\",reason=\"ebpf: map \\\"X\\\" failed\\nEPERM\"} 1\n"
        ),
        "{out}"
    );
    assert!(out.contains("p2pfaas_load_cpu_utilisation 0.75\n"), "{out}");
    assert!(
        out.contains("p2pfaas_load_runq_latency_p50_seconds 0.0000035\n"),
        "{out}"
    );
    assert!(
        !out.contains("p2pfaas_load_runq_latency_p99_seconds"),
        "{out}"
    );
    assert!(!out.contains("p2pfaas_ebpf_programs_info"), "{out}");
    let ebpf = SourceInfo {
        source: Source::Ebpf,
        reason: String::new(),
        ebpf_programs: Some("tp_btf"),
    };
    let mut with_kind = String::new();
    render_metrics(&mut with_kind, &sample(), Some(&ebpf));
    assert!(
        with_kind.contains("p2pfaas_ebpf_programs_info{kind=\"tp_btf\"} 1\n"),
        "{with_kind}"
    );
    let mut empty = String::new();
    render_metrics(&mut empty, &LoadSample::EMPTY, None);
    assert!(empty.contains("p2pfaas_load_source_info{source=\"none\",reason=\"\"} 1\n"));
}

fn load_config(toml: &str) -> Result<Config, ConfigError> {
    Config::from_raw(Raw::from_toml(toml)?)
}

#[test]
fn config_defaults_and_errors_name_the_field() {
    let c = load_config("").expect("defaults");
    assert_eq!(c.load.source, LoadSourceChoice::Auto);
    assert_eq!(c.load.sample_interval, Duration::from_millis(100));
    assert_eq!(c.load.pin_dir, std::path::Path::new("/sys/fs/bpf/p2pfaas"));
    assert!(c.load.runq_latency);
    assert_eq!(c.load.ebpf_programs, EbpfPrograms::Auto);
    let c =
        load_config("[load]\nrunq_latency = false\nebpf_programs = \"classic\"\n").expect("valid");
    assert!(!c.load.runq_latency);
    assert_eq!(c.load.ebpf_programs, EbpfPrograms::Classic);
    let c = load_config("[load]\nebpf_programs = \"btf\"\n").expect("valid");
    assert_eq!(c.load.ebpf_programs, EbpfPrograms::Btf);
    let c = load_config("[load]\nsource = \"procfs\"\nsample_interval_ms = 250\n").expect("valid");
    assert_eq!(c.load.source, LoadSourceChoice::Procfs);
    assert_eq!(c.load.sample_interval, Duration::from_millis(250));
    for (toml, field) in [
        ("[load]\nsource = \"bpf\"\n", "load.source"),
        (
            "[load]\nsample_interval_ms = 0\n",
            "load.sample_interval_ms",
        ),
        (
            "[load]\nsample_interval_ms = 60001\n",
            "load.sample_interval_ms",
        ),
        ("[load]\npin_dir = \"rel/dir\"\n", "load.pin_dir"),
        ("[load]\nebpf_programs = \"tp_btf\"\n", "load.ebpf_programs"),
    ] {
        match load_config(toml) {
            Err(ConfigError::Field { field: f, .. }) => assert_eq!(f, field, "{toml}"),
            other => panic!("{toml}: expected a field error, got {other:?}"),
        }
    }
    assert!(matches!(
        load_config("[load]\nsorce = \"psi\"\n"),
        Err(ConfigError::Parse { .. })
    ));
}

const SWITCH_FORMAT: &str = "name: sched_switch
ID: 316
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;
\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;
\tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;
\tfield:char next_comm[16];\toffset:40;\tsize:16;\tsigned:0;
\tfield:pid_t next_pid;\toffset:56;\tsize:4;\tsigned:1;

print fmt: \"prev_comm=%s prev_pid=%d\", REC->prev_comm, REC->prev_pid
";

#[test]
fn tracefs_format_fields_are_found_by_exact_name() {
    use super::tracefs::{Field, parse_field};
    let f = |n| parse_field(SWITCH_FORMAT, n);
    assert_eq!(
        f("prev_pid"),
        Some(Field {
            offset: 24,
            size: 4
        })
    );
    assert_eq!(
        f("prev_state"),
        Some(Field {
            offset: 32,
            size: 8
        })
    );
    assert_eq!(
        f("next_pid"),
        Some(Field {
            offset: 56,
            size: 4
        })
    );
    assert_eq!(
        f("prev_comm"),
        Some(Field {
            offset: 8,
            size: 16
        })
    );
    // Prefixes and fields that exist only in the print format do not match.
    assert_eq!(f("pid"), None);
    assert_eq!(f("next"), None);
    assert_eq!(parse_field("field:int x;\toffset:zz;\tsize:4;", "x"), None);
}

fn cpu(busy_ns: u64, last_switch_ns: u64, switches: u64, curr_busy: bool) -> kernel::CpuCounters {
    kernel::CpuCounters {
        busy_ns,
        last_switch_ns,
        switches,
        tracked_ns: busy_ns / 2,
        node_ns: busy_ns / 4,
        curr_busy,
        curr_tracked: false,
        curr_node: false,
    }
}

#[test]
fn kernel_measure_splits_function_and_node_time_including_the_open_slice() {
    use super::kernel::{CpuCounters, Snapshot, measure};
    let ms = 1_000_000u64;
    // One CPU running the same task since 1000 ms: a node thread, then a function process.
    let running = |curr_tracked, curr_node| CpuCounters {
        last_switch_ns: 1000 * ms,
        curr_busy: true,
        curr_tracked,
        curr_node,
        ..CpuCounters::default()
    };
    let at = |t: u64, c| Snapshot {
        at_ns: t * ms,
        cpus: vec![c],
        runq: [0; kernel::RUNQ_SLOTS],
    };
    let node = running(false, true);
    let m = measure(&at(1000, node), &at(1100, node));
    assert_eq!(
        (m.busy_ns, m.tracked_ns, m.node_ns),
        (100 * ms, 0, 100 * ms)
    );
    let function = running(true, false);
    let m = measure(&at(1000, function), &at(1100, function));
    assert_eq!(
        (m.busy_ns, m.tracked_ns, m.node_ns),
        (100 * ms, 100 * ms, 0)
    );
}

#[test]
fn kernel_measure_counts_the_open_slice_of_a_cpu_that_never_switched() {
    use super::kernel::{Snapshot, measure};
    let ms = 1_000_000u64;
    // CPU 0: a busy loop started at 1000 ms and has not switched since; CPU 1: idle after 60 ms of work.
    let prev = Snapshot {
        at_ns: 1000 * ms,
        cpus: vec![
            cpu(0, 1000 * ms, 10, true),
            cpu(500 * ms, 990 * ms, 20, false),
        ],
        runq: [0; kernel::RUNQ_SLOTS],
    };
    let mut runq = [0; kernel::RUNQ_SLOTS];
    runq[3] = 98; // 4..8 µs
    runq[12] = 2; // 2048..4096 µs
    let cur = Snapshot {
        at_ns: 1100 * ms,
        cpus: vec![
            cpu(0, 1000 * ms, 10, true),
            cpu(560 * ms, 1090 * ms, 30, false),
        ],
        runq,
    };
    let m = measure(&prev, &cur);
    assert_eq!(m.elapsed_ns, 100 * ms);
    assert!((m.per_cpu[0] - 1.0).abs() < 1e-9, "{m:?}");
    assert!((m.per_cpu[1] - 0.6).abs() < 1e-9, "{m:?}");
    assert_eq!(m.switches, 10);
    assert_eq!((m.tracked_ns, m.node_ns), (30 * ms, 15 * ms));
    let p50 = m.runq_p50_us.expect("p50");
    assert!((4.0..8.0).contains(&p50), "{p50}");
    let p99 = m.runq_p99_us.expect("p99");
    assert!((2048.0..4096.0).contains(&p99), "{p99}");

    let mut s = LoadSample {
        cpus: 2,
        ..LoadSample::EMPTY
    };
    m.apply(&mut s);
    assert_eq!(s.source, Source::Ebpf);
    assert!((s.utilisation - 0.8).abs() < 1e-9, "{s:?}");
    assert!((s.utilisation_max_cpu - 1.0).abs() < 1e-9);
    assert!((s.function_cpu_share - 0.15).abs() < 1e-9, "{s:?}");
    assert!((s.context_switches_per_sec - 100.0).abs() < 1e-6);
}

#[test]
fn quantiles_of_an_empty_or_single_bucket_histogram() {
    let mut h = [0u64; kernel::RUNQ_SLOTS];
    assert_eq!(kernel::quantile_us(&h, 0.5), None);
    h[0] = 10;
    assert!(kernel::quantile_us(&h, 0.99).is_some_and(|v| (0.0..=1.0).contains(&v)));
    h[0] = 0;
    h[kernel::RUNQ_SLOTS - 1] = 1;
    let top = kernel::quantile_us(&h, 0.5).expect("one value");
    assert!(top >= (1u64 << 30) as f64, "{top}");
}
