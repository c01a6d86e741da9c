//! A function served over HTTP by an OpenFaaS-watchdog-compatible server (`backend = "http"`): the call
//! is forwarded as is (method, path suffix under the target's base path, query, end-to-end headers,
//! body) through the worker's keep-alive pool, and the function's status, headers and body come back
//! untouched. Connection handling lives in `http::client`; this module only maps a `Call` to a request.

use super::{BackendError, Call, Context, FunctionBackend, Output};
use crate::config::HttpTarget;
use crate::http::client::{ClientRequest, Target};

/// An HTTP function at a fixed `http://host:port[/base]`.
#[derive(Debug, Clone)]
pub struct Http {
    target: HttpTarget,
}

impl Http {
    /// A backend forwarding to `target`.
    pub fn new(target: HttpTarget) -> Self {
        Self { target }
    }
}

impl FunctionBackend for Http {
    async fn invoke(
        &self,
        ctx: &Context<'_>,
        call: &Call<'_>,
        out: &mut Output,
    ) -> Result<(), BackendError> {
        let job = super::job_header(call);
        let req = ClientRequest {
            method: call.method,
            target: Target {
                base: &self.target.base_path,
                name: "",
                path: call.path,
                query: call.query,
            },
            headers: call.headers,
            authorization: None,
            content_type: call.content_type,
            body: call.body,
            extra: job.as_slice(),
        };
        // Response limits: the codec defaults (16 KiB head, 4 MiB body), the same as a client request's.
        ctx.pool
            .send(&self.target, &req, out, &ctx.response_limits)
            .await
    }
}
