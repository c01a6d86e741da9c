//! The node's request-level error type. Each variant says where it came from (`origin`), whether the client
//! may retry, and — through `http/respond.rs`, the only place that maps errors to statuses — which HTTP
//! status and which of the original's error codes it becomes. Hot-path variants are `Copy` and carry no
//! formatted strings; only admin-route validation errors carry a message.

use crate::http::codec;
use crate::jobs::Executed;
use crate::scheduler::RejectReason;

/// Where an error came from (pingora style), for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The caller sent something wrong.
    Client,
    /// The function backend failed.
    Backend,
    /// The node itself (capacity, shutdown, I/O).
    Internal,
}

/// Why the node could not take a job right now (429 + `Retry-After`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overload {
    /// All K slots busy and the queue full (or disabled).
    Full,
    /// All K slots busy and the scheduler asked for no queueing (`NoScheduler(true)`).
    NoFreeSlot,
    /// The function's own `max_inflight` is reached.
    FunctionLimit,
    /// The job waited in the queue until its request deadline.
    QueueTimeout,
}

impl Overload {
    /// Value of `X-P2pfaas-Reject-Reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "queue_full",
            Self::NoFreeSlot => "no_free_slot",
            Self::FunctionLimit => "function_limit",
            Self::QueueTimeout => "queue_timeout",
        }
    }
}

/// Everything that can go wrong while serving one request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request bytes are not valid HTTP/1.1 (or exceed a limit); the connection is closed after the reply.
    #[error("malformed request: {0}")]
    Codec(codec::Error),
    /// The request was not received completely within the request timeout (408; connection closed).
    #[error("request not received in time")]
    RequestTimeout,
    /// No route matches the path.
    #[error("no route for this path")]
    NoRoute,
    /// The route exists but not for this method.
    #[error("method not allowed (allowed: {allow})")]
    MethodNotAllowed {
        /// Value for the `Allow` header.
        allow: &'static str,
    },
    /// `/function/<name>` names no declared function.
    #[error("function not found")]
    UnknownFunction,
    /// A request body failed validation; the message names the field.
    #[error("{0}")]
    BadInput(String),
    /// An admin route was called by a caller who may not.
    #[error("admin routes accept only loopback callers when no cluster key is configured")]
    Forbidden,
    /// An admin call from loopback that a web page on another origin made (its `Origin` does not match
    /// `Host`): a browser on this host must not let any site change the node.
    #[error(
        "admin routes refuse calls made by a web page from another origin (Origin does not match Host)"
    )]
    CrossOrigin,
    /// A peer or admin call failed the cluster-key check.
    #[error("{0}")]
    Unauthorized(crate::auth::AuthError),
    /// No capacity now.
    #[error("job cannot be scheduled: {}", .0.as_str())]
    Overloaded(Overload),
    /// The scheduler refused the job on purpose.
    #[error("job rejected by the scheduler: {}", .0.as_str())]
    Rejected(RejectReason),
    /// The function ran past its timeout.
    #[error("function timed out")]
    FunctionTimeout,
    /// The function could not be reached or started.
    #[error("function unreachable: {0}")]
    FunctionUnreachable(String),
    /// The function failed without producing a response.
    #[error("function failed: {0}")]
    FunctionFailed(String),
    /// The job was forwarded, the peer failed, and it could not run here either.
    #[error("forwarding failed and the job cannot run here: {0}")]
    PeerFailed(String),
    /// A forward got no answer (timed out, or the connection broke after the job was sent) and the
    /// peer may have run the job: it does not run again here (at most once).
    #[error("the peer did not answer and may have run the job (executed: {})", .executed.as_str())]
    ForwardTimeout {
        /// Whether the peer ran it, as far as its answer to the cancel says.
        executed: Executed,
        /// The connection broke (else it timed out).
        lost: bool,
    },
    /// A peer's job whose id this node already received: this copy never runs.
    #[error("duplicate job id: a copy already came here (executed: {})", .executed.as_str())]
    DuplicateJob {
        /// What became of the first copy.
        executed: Executed,
        /// The first copy's status, once it ended.
        status: Option<u16>,
    },
    /// The origin cancelled this peer's job before it started; it never runs.
    #[error("the job was cancelled by its origin")]
    Cancelled,
    /// A forwarded job came back to a node already on its path, or travelled too far.
    #[error("loop detected: this node is already on the job's path")]
    LoopDetected,
    /// Saving run-time configuration failed; the change was not applied.
    #[error("cannot persist configuration: {0}")]
    Persist(std::io::Error),
}

impl Error {
    /// Where the error came from.
    pub fn origin(&self) -> Origin {
        match self {
            Self::Codec(_)
            | Self::RequestTimeout
            | Self::NoRoute
            | Self::MethodNotAllowed { .. }
            | Self::UnknownFunction
            | Self::BadInput(_)
            | Self::Forbidden
            | Self::CrossOrigin
            | Self::Unauthorized(_) => Origin::Client,
            Self::FunctionTimeout | Self::FunctionUnreachable(_) | Self::FunctionFailed(_) => {
                Origin::Backend
            }
            Self::PeerFailed(_)
            | Self::LoopDetected
            | Self::ForwardTimeout { .. }
            | Self::DuplicateJob { .. }
            | Self::Cancelled => Origin::Internal,
            Self::Overloaded(_) | Self::Rejected(_) | Self::Persist(_) => Origin::Internal,
        }
    }

    /// True when sending the same request again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Overloaded(_)
                | Self::PeerFailed(_)
                | Self::FunctionTimeout
                | Self::FunctionUnreachable(_)
                | Self::Persist(_)
        )
    }
}
