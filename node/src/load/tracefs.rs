//! Reads tracepoint record layouts from tracefs `format` files, so the kernel programs get this
//! kernel's field offsets at load time instead of compiled-in ones (no BTF needed; Raspberry Pi OS
//! kernels ship none). Pure parsing plus the mount-point lookup.

use std::path::{Path, PathBuf};

/// Where tracefs is usually mounted, newest convention first.
pub const MOUNTS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// A field's place in a tracepoint record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Byte offset from the start of the record.
    pub offset: u32,
    /// Size in bytes.
    pub size: u32,
}

/// Finds `field:<type> <name>;\toffset:N;\tsize:N;` for `name` in a `format` file.
pub fn parse_field(format: &str, name: &str) -> Option<Field> {
    format.lines().find_map(|line| {
        let decl = line.trim().strip_prefix("field:")?;
        let (decl, rest) = decl.split_once(';')?;
        // The declaration ends in the field name, possibly with an array suffix (`char comm[16]`).
        let ident = decl.rsplit([' ', '*']).next()?;
        let ident = ident.split('[').next()?;
        if ident != name {
            return None;
        }
        let value = |key: &str| -> Option<u32> {
            rest.split(';')
                .find_map(|kv| kv.trim().strip_prefix(key))
                .and_then(|v| v.trim().parse().ok())
        };
        Some(Field {
            offset: value("offset:")?,
            size: value("size:")?,
        })
    })
}

/// The first tracefs mount that has the `sched` events.
pub fn find_root() -> Option<PathBuf> {
    MOUNTS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.join("events/sched/sched_switch/format").is_file())
}

/// Path of an event's format file.
pub fn format_path(root: &Path, category: &str, event: &str) -> PathBuf {
    root.join("events")
        .join(category)
        .join(event)
        .join("format")
}
