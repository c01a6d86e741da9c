//! Finds the kernel-object member offsets the `tp_btf` programs need in the kernel's BTF
//! (`/sys/kernel/btf/vmlinux`): `pid` and `__state` (or `state` before Linux 5.14) of `struct
//! task_struct`, and, for the wake-to-run delay, `sched_info.last_queued`, `se.cfs_rq`, `cfs_rq.rq` and
//! `rq.clock`. Pure parsing of the documented BTF format (linux `Documentation/bpf/btf.rst`); aya
//! parses the same file but does not expose struct members, and these few numbers are all the node
//! needs from it.

use std::path::Path;

/// The kernel's BTF, when the kernel has it.
pub const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

const MAGIC: u16 = 0xeb9f;
const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_FWD: u32 = 7;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_TYPE_TAG: u32 = 18;

/// Where the programs read a task's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskOffsets {
    /// Byte offset of `pid` (4 bytes).
    pub pid: u32,
    /// Byte offset of the scheduler state.
    pub state: u32,
    /// Its size in bytes: 4 (`unsigned int __state`) or 8 (`long state`).
    pub state_size: u32,
    /// Where the kernel's enqueue stamp and run queue clock are; `None` when the kernel lacks them
    /// (built without `CONFIG_SCHED_INFO` or `CONFIG_FAIR_GROUP_SCHED`), and the programs then time
    /// wake-ups themselves (`WAKE_TS`).
    pub run_queue: Option<RunQueueOffsets>,
}

/// Where `sched_switch` reads how long the next task waited: its `sched_info.last_queued` (the run
/// queue clock when it was queued) and that clock now, `task->se.cfs_rq->rq->clock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunQueueOffsets {
    /// Byte offset of `sched_info.last_queued` (u64) in `struct task_struct`.
    pub last_queued: u32,
    /// Byte offset of `se.cfs_rq` (a `struct cfs_rq *`) in `struct task_struct`.
    pub cfs_rq: u32,
    /// Byte offset of `rq` (a `struct rq *`) in `struct cfs_rq`.
    pub rq: u32,
    /// Byte offset of `clock` (u64) in `struct rq`.
    pub clock: u32,
}

/// Why the offsets could not be found; the loader then uses the classic programs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file is unreadable (usually: the kernel has no BTF).
    #[error("cannot read {VMLINUX}: {0}")]
    Read(#[source] std::io::Error),
    /// Not BTF, or cut short.
    #[error("{VMLINUX}: malformed BTF ({0})")]
    Malformed(&'static str),
    /// A kind this parser does not know, so it cannot step over it.
    #[error("{VMLINUX}: unknown BTF kind {0}")]
    UnknownKind(u32),
    /// `struct task_struct` or one of its members is missing or has an unexpected type.
    #[error("{VMLINUX}: no usable task_struct.{0}")]
    Member(&'static str),
}

/// Reads [`VMLINUX`] and finds the offsets.
pub fn task_offsets() -> Result<TaskOffsets, Error> {
    let data = std::fs::read(Path::new(VMLINUX)).map_err(Error::Read)?;
    parse_task_offsets(&data)
}

/// One type record: its kind, name, `size_or_type` word and, for structs and unions, its members as
/// (name offset, type id, bit offset) triples.
struct Type<'a> {
    kind: u32,
    name: u32,
    size_or_type: u32,
    kind_flag: bool,
    members: &'a [u8],
}

/// Finds [`TaskOffsets`] in a raw BTF blob (native byte order, as the kernel exports it).
pub fn parse_task_offsets(data: &[u8]) -> Result<TaskOffsets, Error> {
    let u16_at = |at: usize| -> Option<u16> {
        data.get(at..at + 2)
            .map(|b| u16::from_ne_bytes([b[0], b[1]]))
    };
    if u16_at(0) != Some(MAGIC) {
        return Err(Error::Malformed("bad magic"));
    }
    let header = |at: usize| word(data, at).ok_or(Error::Malformed("short header"));
    let hdr_len = header(4)? as usize;
    let (type_off, type_len) = (header(8)? as usize, header(12)? as usize);
    let (str_off, str_len) = (header(16)? as usize, header(20)? as usize);
    let section = |off: usize, len: usize| {
        let start = hdr_len.checked_add(off)?;
        data.get(start..start.checked_add(len)?)
    };
    let types =
        section(type_off, type_len).ok_or(Error::Malformed("type section out of bounds"))?;
    let strings =
        section(str_off, str_len).ok_or(Error::Malformed("string section out of bounds"))?;
    let types = Types {
        all: index(types)?,
        strings,
    };
    let task = types
        .struct_named(b"task_struct")
        .ok_or(Error::Member("(struct)"))?;
    let (pid, pid_type) = types.member(task, b"pid").ok_or(Error::Member("pid"))?;
    if types.int_size(pid_type) != Some(4) {
        return Err(Error::Member("pid"));
    }
    let (state, state_size) = [b"__state".as_slice(), b"state"]
        .into_iter()
        .find_map(|name| types.member(task, name))
        .and_then(|(off, ty)| Some((off, types.int_size(ty)?)))
        .filter(|(_, size)| matches!(size, 4 | 8))
        .ok_or(Error::Member("__state"))?;
    Ok(TaskOffsets {
        pid,
        state,
        state_size,
        run_queue: run_queue_offsets(&types, task),
    })
}

/// `task_struct.sched_info.last_queued`, `task_struct.se.cfs_rq`, `cfs_rq.rq` and `rq.clock`, each
/// checked for the type the program loads (u64, or a pointer to the next struct).
fn run_queue_offsets(types: &Types<'_>, task: &Type<'_>) -> Option<RunQueueOffsets> {
    let (info, info_type) = types.member(task, b"sched_info")?;
    let (queued, queued_type) = types.member(types.struct_of(info_type)?, b"last_queued")?;
    let (se, se_type) = types.member(task, b"se")?;
    let (cfs_rq, cfs_rq_type) = types.member(types.struct_of(se_type)?, b"cfs_rq")?;
    let cfs_rq_struct = types.pointee(cfs_rq_type, b"cfs_rq")?;
    let (rq, rq_type) = types.member(cfs_rq_struct, b"rq")?;
    let (clock, clock_type) = types.member(types.pointee(rq_type, b"rq")?, b"clock")?;
    let u64s = types.int_size(queued_type) == Some(8) && types.int_size(clock_type) == Some(8);
    u64s.then_some(RunQueueOffsets {
        last_queued: info.checked_add(queued)?,
        cfs_rq: se.checked_add(cfs_rq)?,
        rq,
        clock,
    })
}

/// The parsed type section and the string table its names point into.
struct Types<'a> {
    all: Vec<Type<'a>>,
    strings: &'a [u8],
}

impl<'a> Types<'a> {
    fn name(&self, off: u32) -> &'a [u8] {
        let rest = self.strings.get(off as usize..).unwrap_or_default();
        rest.split(|&b| b == 0).next().unwrap_or_default()
    }

    /// Type ids start at 1 (0 is void).
    fn by_id(&self, id: u32) -> Option<&Type<'a>> {
        id.checked_sub(1).and_then(|i| self.all.get(i as usize))
    }

    /// The type behind typedefs and qualifiers (`pid_t`, `volatile`, `u64`).
    fn strip(&self, mut id: u32) -> Option<&Type<'a>> {
        for _ in 0..16 {
            let t = self.by_id(id)?;
            match t.kind {
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                    id = t.size_or_type;
                }
                _ => return Some(t),
            }
        }
        None
    }

    /// The size of an integer type.
    fn int_size(&self, id: u32) -> Option<u32> {
        self.strip(id)
            .filter(|t| t.kind == KIND_INT)
            .map(|t| t.size_or_type)
    }

    /// The definition (not a forward declaration) of the struct with this name.
    fn struct_named(&self, name: &[u8]) -> Option<&Type<'a>> {
        self.all
            .iter()
            .find(|t| t.kind == KIND_STRUCT && !t.members.is_empty() && self.name(t.name) == name)
    }

    /// The struct definition a member's type is (through typedefs, qualifiers and forward
    /// declarations).
    fn struct_of(&self, id: u32) -> Option<&Type<'a>> {
        let t = self.strip(id)?;
        match t.kind {
            KIND_STRUCT if !t.members.is_empty() => Some(t),
            KIND_STRUCT | KIND_FWD => self.struct_named(self.name(t.name)),
            _ => None,
        }
    }

    /// The struct a pointer type points to, when it is the struct called `name`.
    fn pointee(&self, id: u32, name: &[u8]) -> Option<&Type<'a>> {
        let ptr = self.strip(id).filter(|t| t.kind == KIND_PTR)?;
        self.struct_of(ptr.size_or_type)
            .filter(|t| self.name(t.name) == name)
    }

    /// A member's byte offset and type, searching anonymous structs and unions too (randomised
    /// layouts wrap members in one), which are at most a few levels deep.
    fn member(&self, strukt: &Type<'a>, wanted: &[u8]) -> Option<(u32, u32)> {
        // (struct, its bit offset inside `strukt`, nesting depth)
        let mut stack = vec![(strukt, 0u32, 0u8)];
        while let Some((t, base, depth)) = stack.pop() {
            for m in t.members.chunks_exact(12) {
                let (m_name, m_type, m_off) = (word(m, 0)?, word(m, 4)?, word(m, 8)?);
                // With kind_flag set the top 8 bits hold a bitfield size; plain members have 0 there.
                let (bits, bitfield) = if t.kind_flag {
                    (m_off & 0x00ff_ffff, m_off >> 24)
                } else {
                    (m_off, 0)
                };
                if m_name == 0 {
                    let inner = self.by_id(m_type)?;
                    if matches!(inner.kind, KIND_STRUCT | KIND_UNION) && depth < 4 {
                        stack.push((inner, base.saturating_add(bits), depth + 1));
                    }
                } else if self.name(m_name) == wanted
                    && bitfield == 0
                    && base.saturating_add(bits) % 8 == 0
                {
                    return Some((base.saturating_add(bits) / 8, m_type));
                }
            }
        }
        None
    }
}

/// A native-endian u32 at `at`.
fn word(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

/// Splits the type section into records. Each is 12 bytes (name, info, size or type) followed by a
/// kind-specific tail whose length the kind and `vlen` determine.
fn index(types: &[u8]) -> Result<Vec<Type<'_>>, Error> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < types.len() {
        let short = Error::Malformed("type record cut short");
        let (Some(name), Some(info), Some(size_or_type)) =
            (word(types, at), word(types, at + 4), word(types, at + 8))
        else {
            return Err(short);
        };
        let kind = (info >> 24) & 0x1f;
        let vlen = (info & 0xffff) as usize;
        let tail = match kind {
            // int: one encoding word; var: linkage; decl_tag: component index
            1 | 14 | 17 => 4,
            // ptr, fwd, typedef, volatile, const, restrict, func, float, type_tag
            2 | 7 | 8 | 9 | 10 | 11 | 12 | 16 | 18 => 0,
            // array
            3 => 12,
            // struct, union, datasec, enum64: 12 bytes per entry
            4 | 5 | 15 | 19 => 12 * vlen,
            // enum, func_proto: 8 bytes per entry
            6 | 13 => 8 * vlen,
            other => return Err(Error::UnknownKind(other)),
        };
        let body = at + 12;
        let members = types.get(body..body + tail).ok_or(short)?;
        out.push(Type {
            kind,
            name,
            size_or_type,
            kind_flag: info >> 31 == 1,
            members: if matches!(kind, KIND_STRUCT | KIND_UNION) {
                members
            } else {
                &[]
            },
        });
        at = body + tail;
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
