//! One loaded program's attachment to its tracepoint, made and dropped while the program stays loaded:
//! every program is attached through it at load; the sampled `sched_wakeup` (`wake.rs`) comes and
//! goes each cycle, and the probe cost bench detaches `sched_switch` between its timed segments
//! ([`Probes::set_switch_attached`](super::Probes::set_switch_attached)). The [`Ebpf`] owns the link
//! itself: dropping an `Attachment` leaves the program attached until the `Ebpf` goes.

use aya::Ebpf;
use aya::programs::raw_trace_point::RawTracePointLinkId;
use aya::programs::tp_btf::BtfTracePointLinkId;
use aya::programs::{BtfTracePoint, RawTracePoint};
use p2pfaas_ebpf_common::{BTF_PROGRAMS, PROGRAMS};

use super::{Error, Kind};

/// A program of one [`Kind`] on one tracepoint, and its link while attached.
pub(super) struct Attachment {
    kind: Kind,
    /// The program's name in the object.
    name: &'static str,
    /// The raw tracepoint (`tp_btf` programs know theirs from their load).
    event: &'static str,
    link: Option<Link>,
}

enum Link {
    Raw(RawTracePointLinkId),
    Btf(BtfTracePointLinkId),
}

impl Attachment {
    /// The (loaded, not attached) program of `kind` for tracepoint `event`.
    pub(super) fn new(kind: Kind, event: &'static str) -> Result<Self, Error> {
        let programs = match kind {
            Kind::RawTp => PROGRAMS,
            Kind::TpBtf => BTF_PROGRAMS,
        };
        let (name, event) = programs
            .into_iter()
            .find(|&(_, e)| e == event)
            .ok_or(Error::Missing(event))?;
        Ok(Self {
            kind,
            name,
            event,
            link: None,
        })
    }

    /// Whether the program is attached now.
    pub(super) fn is_attached(&self) -> bool {
        self.link.is_some()
    }

    /// Attaches or detaches the program (nothing when it already is as asked).
    pub(super) fn set(&mut self, ebpf: &mut Ebpf, attached: bool) -> Result<(), Error> {
        let name = self.name;
        let err = |source| Error::Program { name, source };
        let program = ebpf.program_mut(name).ok_or(Error::Missing(name))?;
        match (attached, self.link.take()) {
            (true, None) => {
                self.link = Some(match self.kind {
                    Kind::RawTp => {
                        let p: &mut RawTracePoint = program.try_into().map_err(err)?;
                        Link::Raw(p.attach(self.event).map_err(err)?)
                    }
                    Kind::TpBtf => {
                        let p: &mut BtfTracePoint = program.try_into().map_err(err)?;
                        Link::Btf(p.attach().map_err(err)?)
                    }
                });
            }
            (false, Some(Link::Raw(id))) => {
                let p: &mut RawTracePoint = program.try_into().map_err(err)?;
                p.detach(id).map_err(err)?;
            }
            (false, Some(Link::Btf(id))) => {
                let p: &mut BtfTracePoint = program.try_into().map_err(err)?;
                p.detach(id).map_err(err)?;
            }
            (_, link) => self.link = link,
        }
        Ok(())
    }
}
