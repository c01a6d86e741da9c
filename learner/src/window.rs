//! The EID window: orders learning entries by execution id (EID) and releases
//! SARSA transitions `(s_e, a_e, r_e, s_{e+1}, a_{e+1})` for training.
//!
//! Clients answer out of order, twice, or never, so entries arrive in any
//! order, possibly duplicated, possibly missing. [`Window`] is a sans-IO state
//! machine: [`Window::push`] stores an entry, [`Window::drain`] hands every
//! ready transition to a caller-supplied closure in increasing EID order, with
//! borrowed slices. It owns no clock and no thread; "waiting" is measured in
//! entries received, so the caller decides when to drain.
//!
//! Guarantees (each fixes a fault of the original learner):
//! - the transition between two windows is learned: the last entry of a window
//!   stays buffered as the source of the next transition;
//! - a transition never crosses a gap: the entry before a skipped gap is
//!   dropped untrained (it has no successor), never paired with a wrong one;
//! - a gap is skipped once `max_wait` entries beyond it are buffered; skipping
//!   never panics and never drops an entry after the gap;
//! - duplicates and entries older than the training cursor are refused and
//!   counted, and take no slot;
//! - [`Window::push`] never blocks: when an EID does not fit the ring, the
//!   oldest pending gap is force-skipped and the entries it held back are
//!   evicted (counted);
//! - storage is allocated once in [`Window::new`]; `push` and `drain` do not
//!   allocate.
//!
//! Windows: with window size `W`, entries are released in blocks of `W` new
//! consecutive entries. With no gaps and `N` a multiple of `W`, exactly `N − 1`
//! transitions are trained. `W = 1` trains each transition as soon as both of
//! its entries are present.

#[cfg(test)]
mod tests;

/// Why a [`Window`] could not be built. Construction-time only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// `capacity` must hold at least two entries (one transition).
    #[error("window capacity {0} is below 2")]
    CapacityTooSmall(usize),
    /// A state needs at least one dimension.
    #[error("state dimension must be at least 1")]
    ZeroDims,
    /// `window_size` must be at least 1 and below `capacity`, or no window could ever fill.
    #[error("window size {window_size} must be in 1..{capacity}")]
    WindowSize {
        /// The requested window size.
        window_size: usize,
        /// The ring capacity.
        capacity: usize,
    },
    /// `max_wait` must be below `capacity`, or a gap would only ever be force-skipped.
    #[error("max_wait {max_wait} must be below capacity {capacity}")]
    MaxWait {
        /// The requested wait, in entries beyond the gap.
        max_wait: usize,
        /// The ring capacity.
        capacity: usize,
    },
    /// `capacity × dims` does not fit in memory.
    #[error("capacity × dims overflows")]
    TooLarge,
}

/// What [`Window::push`] did with an entry. No variant is an error for the
/// window: each leaves it consistent; only `Accepted` changed its contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    /// Stored; it will be trained once its window is complete.
    Accepted,
    /// An entry with this EID is already buffered; the new one was ignored.
    Duplicate,
    /// The EID is older than the training cursor (already trained or skipped).
    Stale,
    /// The state slice does not have the window's dimension.
    WrongDims,
    /// The EID is above [`MAX_EID`]; counted as stale.
    OutOfRange,
}

/// Highest EID the window accepts: leaves headroom so EID arithmetic never overflows.
pub const MAX_EID: u64 = u64::MAX / 2;

/// One transition ready for training, borrowed from the window's ring.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transition<'a> {
    /// EID of the source entry `e`; the successor is `e + 1`.
    pub eid: u64,
    /// `s_e`.
    pub state: &'a [f32],
    /// `a_e`.
    pub action: u32,
    /// `r_e`, the reward of taking `a_e` in `s_e`.
    pub reward: f32,
    /// `s_{e+1}`.
    pub next_state: &'a [f32],
    /// `a_{e+1}`.
    pub next_action: u32,
}

/// Counters of everything the window did, for `/learner/stats` and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Entries accepted by [`Window::push`].
    pub pushed: u64,
    /// Transitions handed to the trainer.
    pub trained: u64,
    /// Entries refused because their EID was already buffered.
    pub duplicates: u64,
    /// Entries refused because their EID was behind the training cursor.
    pub stale: u64,
    /// Entries refused because of a wrong state dimension.
    pub wrong_dims: u64,
    /// Gaps skipped after `max_wait` later entries (or on [`Window::flush`]).
    pub gaps_skipped: u64,
    /// Entries dropped untrained because their successor was missing
    /// (the entry just before a skipped gap).
    pub tails: u64,
    /// Times a push did not fit the ring and the cursor was forced forward.
    pub forced_skips: u64,
    /// Buffered entries dropped untrained by a forced skip.
    pub evicted: u64,
}

/// The EID window. See the module docs for its guarantees.
#[derive(Debug)]
pub struct Window {
    capacity: usize,
    dims: usize,
    window_size: usize,
    max_wait: usize,
    /// Slot `eid % capacity` holds entry `eid`; `occupied` says whether it is live.
    eids: Vec<u64>,
    occupied: Vec<bool>,
    states: Vec<f32>,
    actions: Vec<u32>,
    rewards: Vec<f32>,
    /// The oldest buffered entry not yet trained as a source. Every buffered
    /// EID lies in `cursor..cursor + capacity`. The cursor entry may be
    /// missing only when a start was declared; it is then a gap like any other.
    cursor: u64,
    /// Whether the cursor entry ends a released window (it is then the carried
    /// source of the next window's first transition and does not count as new).
    carried: bool,
    /// Once anything was trained or skipped, the cursor only moves forward;
    /// before that it follows the lowest EID seen, so the first window does
    /// not depend on which entry happened to arrive first.
    started: bool,
    /// Buffered entries.
    len: usize,
    /// Highest buffered EID (meaningful when `len > 0`).
    max_eid: u64,
    stats: Stats,
}

// === impl Window ===

impl Window {
    /// Builds a window holding up to `capacity` entries of `dims` floats each.
    ///
    /// `window_size` (W) is the number of new consecutive entries that release
    /// a block of transitions; `max_wait` is the number of buffered entries
    /// beyond a missing EID after which it is skipped (0 skips as soon as
    /// anything lies beyond it). All storage is allocated here.
    ///
    /// # Errors
    /// [`WindowError`] when a parameter is out of range.
    pub fn new(
        capacity: usize,
        dims: usize,
        window_size: usize,
        max_wait: usize,
    ) -> Result<Self, WindowError> {
        if capacity < 2 {
            return Err(WindowError::CapacityTooSmall(capacity));
        }
        if dims == 0 {
            return Err(WindowError::ZeroDims);
        }
        if window_size == 0 || window_size >= capacity {
            return Err(WindowError::WindowSize {
                window_size,
                capacity,
            });
        }
        if max_wait >= capacity {
            return Err(WindowError::MaxWait { max_wait, capacity });
        }
        let floats = capacity.checked_mul(dims).ok_or(WindowError::TooLarge)?;
        Ok(Self {
            capacity,
            dims,
            window_size,
            max_wait,
            eids: vec![0; capacity],
            occupied: vec![false; capacity],
            states: vec![0.0; floats],
            actions: vec![0; capacity],
            rewards: vec![0.0; capacity],
            cursor: 0,
            carried: false,
            started: false,
            len: 0,
            max_eid: 0,
            stats: Stats::default(),
        })
    }

    /// Declares where the EID stream begins (the node's counter starts at 1).
    /// Without it the first window starts at the lowest EID buffered when
    /// training first happens, and anything below that is stale; with it a
    /// missing first EID is an ordinary gap.
    #[must_use]
    pub fn with_start(mut self, eid: u64) -> Self {
        self.clear();
        self.cursor = eid.min(MAX_EID);
        self.started = true;
        self.carried = false;
        self
    }

    /// Changes the window size and the gap wait in place, keeping every
    /// buffered entry (the ring capacity is fixed at construction).
    ///
    /// # Errors
    /// [`WindowError`] when a value is out of range for this ring; nothing
    /// changes then.
    pub fn set_limits(&mut self, window_size: usize, max_wait: usize) -> Result<(), WindowError> {
        if window_size == 0 || window_size >= self.capacity {
            return Err(WindowError::WindowSize {
                window_size,
                capacity: self.capacity,
            });
        }
        if max_wait >= self.capacity {
            return Err(WindowError::MaxWait {
                max_wait,
                capacity: self.capacity,
            });
        }
        self.window_size = window_size;
        self.max_wait = max_wait;
        Ok(())
    }

    /// Forgets every buffered entry and the cursor (e.g. after the EID source
    /// restarted its counter). Counters are kept. Does not allocate.
    pub fn reset(&mut self) {
        self.clear();
        self.cursor = 0;
        self.started = false;
        self.carried = false;
    }

    fn clear(&mut self) {
        self.occupied.iter_mut().for_each(|o| *o = false);
        self.len = 0;
    }

    /// The counters so far.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Entries buffered and not yet consumed.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.len
    }

    /// The state dimension.
    #[must_use]
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Stores one learning entry. Never blocks and never allocates; call
    /// [`Window::drain`] afterwards to train what became ready (draining after
    /// every push keeps forced skips from evicting trainable entries).
    pub fn push(&mut self, eid: u64, state: &[f32], action: u32, reward: f32) -> Push {
        if state.len() != self.dims {
            self.stats.wrong_dims += 1;
            return Push::WrongDims;
        }
        if eid > MAX_EID {
            self.stats.stale += 1;
            return Push::OutOfRange;
        }
        if self.len == 0 && !self.started {
            self.cursor = eid;
            self.carried = false;
        } else if eid < self.cursor {
            // Before training starts the cursor follows the lowest EID, as far
            // as the ring allows.
            if self.started || self.max_eid - eid >= self.capacity_u64() {
                self.stats.stale += 1;
                return Push::Stale;
            }
            self.cursor = eid;
        } else if self.is_buffered(eid) {
            self.stats.duplicates += 1;
            return Push::Duplicate;
        } else if eid - self.cursor >= self.capacity_u64() {
            self.force_room(eid);
        }
        self.store(eid, state, action, reward);
        Push::Accepted
    }

    /// Calls `train` for every ready transition, in increasing EID order, and
    /// skips gaps that waited `max_wait` entries.
    pub fn drain(&mut self, train: impl FnMut(Transition<'_>)) {
        self.release(train, false);
    }

    /// End of stream: trains every transition whose two entries are buffered,
    /// ignoring the window size and skipping every gap. Entries after the last
    /// one stay buffered as the source of the next transition.
    pub fn flush(&mut self, train: impl FnMut(Transition<'_>)) {
        self.release(train, true);
    }

    fn release(&mut self, mut train: impl FnMut(Transition<'_>), flush: bool) {
        while self.len > 0 {
            let run = self.run_len();
            let carried = usize::from(self.carried);
            let blocks = run.saturating_sub(carried) / self.window_size;
            if blocks > 0 && run >= 2 {
                // Release whole windows; the last entry stays as the carried source.
                let upto = carried + blocks * self.window_size;
                self.train_run(upto, &mut train);
                self.carried = true;
                self.started = true;
                continue;
            }
            if run < self.len {
                // A gap follows the run; `len - run` entries wait beyond it.
                if flush || self.len - run >= self.max_wait.max(1) {
                    if run > 0 {
                        self.train_run(run, &mut train);
                        self.drop_cursor_entry();
                        self.stats.tails += 1;
                    }
                    self.stats.gaps_skipped += 1;
                    self.cursor = self.next_buffered_after(self.cursor);
                    self.carried = false;
                    self.started = true;
                    continue;
                }
            } else if flush && run >= 2 {
                self.train_run(run, &mut train);
                self.carried = true;
                self.started = true;
                continue;
            }
            break;
        }
    }

    /// Number of consecutive buffered entries starting at the cursor.
    fn run_len(&self) -> usize {
        let mut run = 0;
        while run < self.len && self.is_buffered(self.cursor + run as u64) {
            run += 1;
        }
        run
    }

    /// Trains the `count − 1` transitions within the first `count` entries of
    /// the run, frees their sources, and leaves the cursor on the last one.
    fn train_run(&mut self, count: usize, train: &mut impl FnMut(Transition<'_>)) {
        for _ in 1..count {
            let from = self.slot(self.cursor);
            let to = self.slot(self.cursor + 1);
            train(Transition {
                eid: self.cursor,
                state: &self.states[from * self.dims..(from + 1) * self.dims],
                action: self.actions[from],
                reward: self.rewards[from],
                next_state: &self.states[to * self.dims..(to + 1) * self.dims],
                next_action: self.actions[to],
            });
            self.stats.trained += 1;
            self.drop_cursor_entry();
            self.cursor += 1;
        }
    }

    /// Makes room for `eid`, which lies `capacity` or more beyond the cursor:
    /// moves the cursor to the first buffered entry that fits with it,
    /// evicting everything before that untrained.
    fn force_room(&mut self, eid: u64) {
        let floor = eid - self.capacity_u64() + 1;
        self.stats.forced_skips += 1;
        if self.len == 0 || self.max_eid < floor {
            self.stats.evicted += self.len as u64;
            self.clear();
            self.cursor = eid;
        } else {
            while self.cursor < floor {
                if self.is_buffered(self.cursor) {
                    self.drop_cursor_entry();
                    self.stats.evicted += 1;
                }
                self.cursor += 1;
            }
            // `max_eid >= floor` is buffered, so this finds an entry.
            self.cursor = self.next_buffered_from(self.cursor);
        }
        self.carried = false;
        self.started = true;
    }

    fn store(&mut self, eid: u64, state: &[f32], action: u32, reward: f32) {
        let slot = self.slot(eid);
        self.eids[slot] = eid;
        self.occupied[slot] = true;
        self.states[slot * self.dims..(slot + 1) * self.dims].copy_from_slice(state);
        self.actions[slot] = action;
        self.rewards[slot] = reward;
        self.max_eid = if self.len == 0 {
            eid
        } else {
            self.max_eid.max(eid)
        };
        self.len += 1;
        self.stats.pushed += 1;
    }

    fn drop_cursor_entry(&mut self) {
        let slot = self.slot(self.cursor);
        self.occupied[slot] = false;
        self.len -= 1;
    }

    /// First buffered EID strictly after `eid`, or `eid + 1` when none is.
    fn next_buffered_after(&self, eid: u64) -> u64 {
        self.next_buffered_from(eid + 1)
    }

    /// First buffered EID at or after `eid` (bounded by `max_eid`).
    fn next_buffered_from(&self, mut eid: u64) -> u64 {
        if self.len == 0 {
            return eid;
        }
        while eid < self.max_eid && !self.is_buffered(eid) {
            eid += 1;
        }
        eid
    }

    fn is_buffered(&self, eid: u64) -> bool {
        let slot = self.slot(eid);
        self.occupied[slot] && self.eids[slot] == eid
    }

    fn slot(&self, eid: u64) -> usize {
        // The remainder is below `capacity`, a `usize`.
        (eid % self.capacity_u64()) as usize
    }

    fn capacity_u64(&self) -> u64 {
        self.capacity as u64
    }
}
