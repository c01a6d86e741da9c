//! The external-agent wire format (`docs/external-agent.md`), sans-IO: frames are written into a
//! caller's buffer and read from a byte slice, never from a socket. Every frame is a little-endian
//! `u32` length (of what follows), a `u8` kind and its body.

/// Protocol version sent in the hello; an agent that does not speak it closes the connection.
pub const VERSION: u8 = 1;

/// Frame kinds.
pub mod kind {
    /// Node → agent, first frame: version, state dimension, action count, worker, node id.
    pub const HELLO: u8 = 1;
    /// Node → agent: decide one state.
    pub const DECIDE: u8 = 2;
    /// Node → agent: a batch of finished decisions with their rewards.
    pub const TRANSITIONS: u8 = 3;
    /// Agent → node: the action for one decide.
    pub const ACTION: u8 = 0x81;
}

/// Bytes of the length prefix plus the kind.
const HEAD: usize = 5;
/// Bytes of an ACTION frame's body: eid `u64`, action `u16`.
const ACTION_BODY: usize = 10;
/// The largest frame an agent may send; anything larger is a broken peer.
const MAX_FRAME: usize = 64;

/// What the hello says about this connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello<'a> {
    /// Values per state.
    pub dims: u16,
    /// Actions the agent may answer (`0..actions`).
    pub actions: u16,
    /// The worker this connection belongs to.
    pub worker: u16,
    /// The node's id (its peer address).
    pub node: &'a str,
}

/// One finished decision, as streamed in a TRANSITIONS frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transition<'a> {
    /// The decision's execution id.
    pub eid: u64,
    /// The job's task type.
    pub task_type: u16,
    /// The action taken.
    pub action: u16,
    /// The node-computed reward.
    pub reward: f32,
    /// The state the action was chosen in (`dims` values).
    pub state: &'a [f32],
}

/// An agent's answer: `action` for the decide with `eid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    /// The decide's execution id.
    pub eid: u64,
    /// The action chosen.
    pub action: u16,
}

/// Why bytes from an agent are not a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// More bytes are needed (not an error of the peer).
    #[error("incomplete frame")]
    Incomplete,
    /// The frame is not one an agent may send (unknown kind, wrong length).
    #[error("invalid frame (kind {kind}, {len} bytes)")]
    Invalid {
        /// The kind byte.
        kind: u8,
        /// The declared length.
        len: usize,
    },
}

fn begin(out: &mut Vec<u8>, kind: u8, body: usize) {
    let len = u32::try_from(body + 1).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.push(kind);
}

/// Appends the hello.
pub fn hello(out: &mut Vec<u8>, h: &Hello<'_>) {
    let node = &h.node.as_bytes()[..h.node.len().min(usize::from(u16::MAX))];
    begin(out, kind::HELLO, 9 + node.len());
    out.push(VERSION);
    out.extend_from_slice(&h.dims.to_le_bytes());
    out.extend_from_slice(&h.actions.to_le_bytes());
    out.extend_from_slice(&h.worker.to_le_bytes());
    // At most u16::MAX by the slice above.
    out.extend_from_slice(&u16::try_from(node.len()).unwrap_or(u16::MAX).to_le_bytes());
    out.extend_from_slice(node);
}

/// Appends a decide: eid `u64`, task type `u16`, then the state's `f32`s (as many as the hello's
/// dimension).
pub fn decide(out: &mut Vec<u8>, eid: u64, task_type: u16, state: &[f32]) {
    begin(out, kind::DECIDE, 10 + 4 * state.len());
    out.extend_from_slice(&eid.to_le_bytes());
    out.extend_from_slice(&task_type.to_le_bytes());
    for v in state {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// Bytes of one transition record with `dims` state values.
pub fn transition_len(dims: usize) -> usize {
    16 + 4 * dims
}

/// Appends one transition record (eid `u64`, task type `u16`, action `u16`, reward `f32`, state) to
/// a batch body being built; [`transitions`] frames the batch.
pub fn transition(out: &mut Vec<u8>, t: &Transition<'_>) {
    out.extend_from_slice(&t.eid.to_le_bytes());
    out.extend_from_slice(&t.task_type.to_le_bytes());
    out.extend_from_slice(&t.action.to_le_bytes());
    out.extend_from_slice(&t.reward.to_le_bytes());
    for v in t.state {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// Appends a TRANSITIONS frame: `u32` count, then `count` records of `records` (built with
/// [`transition`]).
pub fn transitions(out: &mut Vec<u8>, count: u32, records: &[u8]) {
    begin(out, kind::TRANSITIONS, 4 + records.len());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(records);
}

/// Reads the first frame of `buf`: the action and the bytes it took.
pub fn action(buf: &[u8]) -> Result<(Action, usize), DecodeError> {
    let Some(len) = buf.get(..4) else {
        return Err(DecodeError::Incomplete);
    };
    let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
    if len == 0 || len > MAX_FRAME {
        return Err(DecodeError::Invalid {
            kind: buf.get(4).copied().unwrap_or(0),
            len,
        });
    }
    let Some(frame) = buf.get(4..4 + len) else {
        return Err(DecodeError::Incomplete);
    };
    if frame[0] != kind::ACTION || len != 1 + ACTION_BODY {
        return Err(DecodeError::Invalid {
            kind: frame[0],
            len,
        });
    }
    let mut eid = [0; 8];
    eid.copy_from_slice(&frame[1..9]);
    let a = Action {
        eid: u64::from_le_bytes(eid),
        action: u16::from_le_bytes([frame[9], frame[10]]),
    };
    Ok((a, HEAD + ACTION_BODY))
}

/// Appends an ACTION frame (what an agent sends; for tests and stand-ins).
pub fn encode_action(out: &mut Vec<u8>, a: Action) {
    begin(out, kind::ACTION, ACTION_BODY);
    out.extend_from_slice(&a.eid.to_le_bytes());
    out.extend_from_slice(&a.action.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decide_frame_layout_is_documented_one() {
        let mut out = Vec::new();
        decide(&mut out, 0x0102_0304_0506_0708, 3, &[1.0, -2.5]);
        // len = kind + eid + type + 2 × f32.
        assert_eq!(&out[..4], &19u32.to_le_bytes());
        assert_eq!(out[4], kind::DECIDE);
        assert_eq!(&out[5..13], &0x0102_0304_0506_0708u64.to_le_bytes());
        assert_eq!(&out[13..15], &3u16.to_le_bytes());
        assert_eq!(&out[15..19], &1.0f32.to_le_bytes());
        assert_eq!(&out[19..23], &(-2.5f32).to_le_bytes());
        assert_eq!(out.len(), 23);
    }

    #[test]
    fn hello_states_version_shape_worker_and_node() {
        let mut out = Vec::new();
        hello(
            &mut out,
            &Hello {
                dims: 5,
                actions: 6,
                worker: 1,
                node: "n0",
            },
        );
        assert_eq!(out[4], kind::HELLO);
        assert_eq!(out[5], VERSION);
        assert_eq!(&out[6..8], &5u16.to_le_bytes());
        assert_eq!(&out[8..10], &6u16.to_le_bytes());
        assert_eq!(&out[10..12], &1u16.to_le_bytes());
        assert_eq!(&out[12..14], &2u16.to_le_bytes());
        assert_eq!(&out[14..], b"n0");
        assert_eq!(out.len() - 4, 1 + 9 + 2);
    }

    #[test]
    fn transitions_batch_counts_fixed_size_records() {
        let mut records = Vec::new();
        let state = [1.0, 2.0, 3.0];
        for eid in 0..3 {
            transition(
                &mut records,
                &Transition {
                    eid,
                    task_type: 1,
                    action: 2,
                    reward: 0.5,
                    state: &state,
                },
            );
        }
        assert_eq!(records.len(), 3 * transition_len(3));
        let mut out = Vec::new();
        transitions(&mut out, 3, &records);
        assert_eq!(out[4], kind::TRANSITIONS);
        assert_eq!(&out[5..9], &3u32.to_le_bytes());
        let second = &out[9 + transition_len(3)..];
        assert_eq!(&second[..8], &1u64.to_le_bytes());
        assert_eq!(&second[12..16], &0.5f32.to_le_bytes());
    }

    #[test]
    fn actions_round_trip_back_to_back_and_partial() {
        let mut buf = Vec::new();
        encode_action(&mut buf, Action { eid: 7, action: 2 });
        encode_action(
            &mut buf,
            Action {
                eid: u64::MAX,
                action: 65535,
            },
        );
        let (a, used) = action(&buf).expect("first");
        assert_eq!(a, Action { eid: 7, action: 2 });
        let (b, used2) = action(&buf[used..]).expect("second");
        assert_eq!(b.eid, u64::MAX);
        assert_eq!(used + used2, buf.len());
        for cut in 0..used {
            assert_eq!(action(&buf[..cut]), Err(DecodeError::Incomplete), "{cut}");
        }
    }

    #[test]
    fn garbage_is_invalid_not_incomplete() {
        // A huge length would make the reader wait forever for bytes that never come.
        let mut huge = u32::MAX.to_le_bytes().to_vec();
        huge.push(kind::ACTION);
        assert!(matches!(action(&huge), Err(DecodeError::Invalid { .. })));
        let mut wrong = Vec::new();
        begin(&mut wrong, kind::DECIDE, ACTION_BODY);
        wrong.extend_from_slice(&[0; ACTION_BODY]);
        assert!(matches!(
            action(&wrong),
            Err(DecodeError::Invalid {
                kind: kind::DECIDE,
                ..
            })
        ));
        assert!(matches!(
            action(&[0, 0, 0, 0, 0]),
            Err(DecodeError::Invalid { len: 0, .. })
        ));
    }
}
