use super::{Error, RunQueueOffsets, TaskOffsets, VMLINUX, parse_task_offsets, task_offsets};

/// Builds a BTF blob the way the kernel lays it out: header, type records, string table.
struct Blob {
    types: Vec<u8>,
    strings: Vec<u8>,
}

impl Blob {
    fn new() -> Self {
        Self {
            types: Vec::new(),
            // Offset 0 is the empty name.
            strings: vec![0],
        }
    }

    fn name(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return 0;
        }
        let off = u32::try_from(self.strings.len()).expect("small");
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        off
    }

    fn words(&mut self, words: &[u32]) {
        for w in words {
            self.types.extend_from_slice(&w.to_ne_bytes());
        }
    }

    /// A type record: name, kind, vlen, size-or-type, then its tail words.
    fn record(&mut self, name: &str, kind: u32, vlen: u32, size_or_type: u32, tail: &[u32]) {
        let name = self.name(name);
        self.words(&[name, kind << 24 | vlen, size_or_type]);
        self.words(tail);
    }

    /// A struct whose members are (name, type id, bit offset).
    fn strukt(&mut self, name: &str, size: u32, members: &[(&str, u32, u32)]) {
        let mut tail = Vec::new();
        for (n, ty, bits) in members {
            tail.extend([self.name(n), *ty, *bits]);
        }
        let vlen = u32::try_from(members.len()).expect("small");
        self.record(name, 4, vlen, size, &tail);
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let len = |v: &Vec<u8>| u32::try_from(v.len()).expect("small");
        out.extend_from_slice(&0xeb9f_u16.to_ne_bytes());
        out.extend_from_slice(&[1, 0]);
        for w in [
            24,
            0,
            len(&self.types),
            len(&self.types),
            len(&self.strings),
        ] {
            out.extend_from_slice(&u32::to_ne_bytes(w));
        }
        out.extend_from_slice(&self.types);
        out.extend_from_slice(&self.strings);
        out
    }
}

/// A 5.14+ layout: `__state` at the top, `pid` inside an anonymous struct (as a randomised layout
/// has it), and kinds with tails of every length in between.
fn modern() -> Blob {
    let mut b = Blob::new();
    b.record("int", 1, 0, 4, &[0x0100_0020]); // [1] int
    b.record("pid_t", 8, 0, 1, &[]); // [2] typedef pid_t -> int
    b.record("unsigned int", 1, 0, 4, &[32]); // [3]
    b.record("", 13, 2, 0, &[0, 1, 0, 3]); // [4] func_proto(int, unsigned int)
    b.record("e", 6, 1, 4, &[0, 7]); // [5] enum { = 7 }
    b.strukt("", 8, &[("pid", 2, 32)]); // [6] anonymous, pid at byte 4
    b.strukt(
        "task_struct",
        64,
        &[("__state", 3, 64), ("", 6, 128), ("tgid", 2, 320)],
    ); // [7]
    b
}

#[test]
fn finds_pid_and_state_through_anonymous_structs_and_typedefs() {
    let offsets = parse_task_offsets(&modern().bytes()).expect("valid BTF");
    assert_eq!(
        offsets,
        TaskOffsets {
            pid: 16 + 4,
            state: 8,
            state_size: 4,
            run_queue: None,
        }
    );
}

#[test]
fn before_5_14_the_state_is_a_volatile_long() {
    let mut b = Blob::new();
    b.record("int", 1, 0, 4, &[0x0100_0020]); // [1]
    b.record("long", 1, 0, 8, &[0x0100_0040]); // [2]
    b.record("", 9, 0, 2, &[]); // [3] volatile long
    b.record("task_struct", 7, 0, 0, &[]); // [4] a forward declaration first
    b.strukt("task_struct", 32, &[("state", 3, 0), ("pid", 1, 96)]); // [5]
    let offsets = parse_task_offsets(&b.bytes()).expect("valid BTF");
    assert_eq!((offsets.pid, offsets.state, offsets.state_size), (12, 0, 8));
}

#[test]
fn malformed_or_incomplete_btf_is_an_error_naming_what_is_missing() {
    let good = modern().bytes();
    assert!(matches!(parse_task_offsets(&[]), Err(Error::Malformed(_))));
    assert!(matches!(
        parse_task_offsets(&good[..good.len() - 40]),
        Err(Error::Malformed(_))
    ));
    let mut bad_magic = good.clone();
    bad_magic[0] ^= 0xff;
    assert!(matches!(
        parse_task_offsets(&bad_magic),
        Err(Error::Malformed(_))
    ));

    let mut unknown = Blob::new();
    unknown.record("x", 30, 0, 0, &[]);
    assert!(matches!(
        parse_task_offsets(&unknown.bytes()),
        Err(Error::UnknownKind(30))
    ));

    let mut no_pid = Blob::new();
    no_pid.record("unsigned int", 1, 0, 4, &[32]);
    no_pid.strukt("task_struct", 8, &[("__state", 1, 0)]);
    let e = parse_task_offsets(&no_pid.bytes()).expect_err("no pid");
    assert!(e.to_string().contains("task_struct.pid"), "{e}");

    // A pid of the wrong width would make the programs read garbage: refused.
    let mut wide = Blob::new();
    wide.record("long", 1, 0, 8, &[64]);
    wide.strukt("task_struct", 16, &[("__state", 1, 0), ("pid", 1, 64)]);
    assert!(matches!(
        parse_task_offsets(&wide.bytes()),
        Err(Error::Member("pid"))
    ));
}

/// A task with the members the wake-to-run delay reads: `sched_info.last_queued` (a `u64` typedef),
/// `se.cfs_rq` (a pointer to `struct cfs_rq`, declared forward before its definition, as in
/// vmlinux), `cfs_rq.rq` and `rq.clock` (`clock_bytes` wide). Without `fair_group` the `sched_entity`
/// has no `cfs_rq` (a kernel built without `CONFIG_FAIR_GROUP_SCHED`).
fn with_run_queue(clock_bytes: u32, fair_group: bool) -> Blob {
    let mut b = Blob::new();
    b.record("int", 1, 0, 4, &[0x0100_0020]); // [1]
    b.record("long long unsigned int", 1, 0, 8, &[64]); // [2]
    b.record("u64", 8, 0, 2, &[]); // [3] typedef u64
    b.record("cfs_rq", 7, 0, 0, &[]); // [4] struct cfs_rq;
    b.record("", 2, 0, 4, &[]); // [5] struct cfs_rq *
    b.record("rq", 7, 0, 0, &[]); // [6] struct rq;
    b.record("", 2, 0, 6, &[]); // [7] struct rq *
    b.strukt(
        "sched_info",
        48,
        &[("pcount", 2, 0), ("last_queued", 3, 320)],
    ); // [8]
    let mut se = vec![("exec_start", 3, 0)];
    if fair_group {
        se.push(("cfs_rq", 5, 128));
    }
    b.strukt("sched_entity", 24, &se); // [9]
    b.strukt(
        "task_struct",
        256,
        &[
            ("__state", 1, 0),
            ("pid", 1, 32),
            ("se", 9, 512),
            ("sched_info", 8, 1024),
        ],
    ); // [10]
    b.record("clock_t", 1, 0, clock_bytes, &[clock_bytes * 8]); // [11]
    b.strukt("cfs_rq", 64, &[("nr_running", 1, 0), ("rq", 7, 256)]); // [12]
    b.strukt("rq", 128, &[("nr_running", 1, 0), ("clock", 11, 512)]); // [13]
    b
}

#[test]
fn finds_the_enqueue_stamp_and_the_run_queue_clock_through_pointers() {
    let t = parse_task_offsets(&with_run_queue(8, true).bytes()).expect("valid BTF");
    assert_eq!((t.pid, t.state, t.state_size), (4, 0, 4));
    assert_eq!(
        t.run_queue,
        Some(RunQueueOffsets {
            last_queued: 128 + 40,
            cfs_rq: 64 + 16,
            rq: 32,
            clock: 64,
        })
    );
}

#[test]
fn without_the_run_queue_members_the_task_offsets_still_parse() {
    // No `se.cfs_rq` (no CONFIG_FAIR_GROUP_SCHED): the programs fall back to WAKE_TS.
    let t = parse_task_offsets(&with_run_queue(8, false).bytes()).expect("valid BTF");
    assert_eq!((t.pid, t.run_queue), (4, None));
    // A clock the program would read with the wrong width is refused the same way.
    let t = parse_task_offsets(&with_run_queue(4, true).bytes()).expect("valid BTF");
    assert_eq!(t.run_queue, None);
    // And a kernel without sched_info at all.
    let t = parse_task_offsets(&modern().bytes()).expect("valid BTF");
    assert_eq!(t.run_queue, None);
}

#[test]
fn the_running_kernels_btf_parses_when_it_has_one() {
    if !std::path::Path::new(VMLINUX).exists() {
        eprintln!("skipped: no {VMLINUX} (kernel without BTF)");
        return;
    }
    let t = task_offsets().unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(t.state_size, 4 | 8), "{t:?}");
    assert!(t.pid != t.state && t.pid < 1 << 16, "{t:?}");
    if let Some(rq) = t.run_queue {
        assert!(
            rq.last_queued < 1 << 16 && ![t.pid, t.state, rq.cfs_rq].contains(&rq.last_queued),
            "{t:?}"
        );
    }
}
