//! A function behind an OpenFaaS gateway (`backend = "openfaas"`): the call goes to
//! `<gateway>/function/<gateway_function><suffix>?query` through the worker's keep-alive pool, with
//! HTTP basic auth from `basic_auth_file` (never a default password), and the gateway's
//! `X-Duration-Seconds` becomes the reported execution time. The credentials file is read once, off the
//! I/O thread, on first use; a failure is not cached, so fixing the file fixes the next call.

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use super::{BackendError, Call, Context, FunctionBackend, Output};
use crate::config::OpenFaasConfig;
use crate::http::client::{ClientRequest, Target};

/// Header in which the gateway (its watchdog) reports the function's own execution time.
const DURATION_HEADER: &str = "X-Duration-Seconds";

/// A function served by an OpenFaaS gateway.
#[derive(Debug, Clone)]
pub struct OpenFaas {
    config: OpenFaasConfig,
    /// `/function/<gateway function>` under the gateway's base path.
    path: String,
    /// The `Authorization` value, once the credentials file was read successfully.
    authorization: OnceLock<Vec<u8>>,
}

impl OpenFaas {
    /// A backend for `config`; nothing is read or connected until the first call.
    pub fn new(config: OpenFaasConfig) -> Self {
        let path = format!("{}/function/{}", config.gateway.base_path, config.function);
        Self {
            config,
            path,
            authorization: OnceLock::new(),
        }
    }

    /// The `Authorization` header value, or `None` when no credentials file is configured.
    async fn authorization(&self) -> Result<Option<&[u8]>, BackendError> {
        let Some(file) = &self.config.basic_auth_file else {
            return Ok(None);
        };
        if let Some(value) = self.authorization.get() {
            return Ok(Some(value));
        }
        let path = file.clone();
        let read = monoio::spawn_blocking(move || std::fs::read(&path))
            .await
            .map_err(|_| unreadable(file, "read was cancelled"))?
            .map_err(|e| unreadable(file, &e.to_string()))?;
        let value = basic_auth(&read).ok_or_else(|| unreadable(file, "expected user:password"))?;
        Ok(Some(self.authorization.get_or_init(|| value)))
    }
}

fn unreadable(file: &Path, why: &str) -> BackendError {
    BackendError::Unreachable(format!(
        "OpenFaaS credentials file {}: {why}",
        file.display()
    ))
}

impl FunctionBackend for OpenFaas {
    async fn invoke(
        &self,
        ctx: &Context<'_>,
        call: &Call<'_>,
        out: &mut Output,
    ) -> Result<(), BackendError> {
        let authorization = self.authorization().await?;
        let job = super::job_header(call);
        let req = ClientRequest {
            method: call.method,
            target: Target {
                base: &self.path,
                name: "",
                path: call.path,
                query: call.query,
            },
            headers: call.headers,
            authorization,
            content_type: call.content_type,
            body: call.body,
            extra: job.as_slice(),
        };
        ctx.pool
            .send(&self.config.gateway, &req, out, &ctx.response_limits)
            .await?;
        out.reported_duration = out.header(DURATION_HEADER).and_then(parse_duration);
        Ok(())
    }
}

/// `Basic base64(user:password)` from the file content (`user:password`, trailing newline ignored).
fn basic_auth(content: &[u8]) -> Option<Vec<u8>> {
    let creds = content.trim_ascii_end();
    if !creds.contains(&b':') || creds.iter().any(|b| matches!(b, b'\r' | b'\n')) {
        return None;
    }
    let mut value = b"Basic ".to_vec();
    base64(creds, &mut value);
    Some(value)
}

/// Standard base64 with padding (RFC 4648 §4), appended to `out`.
fn base64(input: &[u8], out: &mut Vec<u8>) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sextet = |n: u32, shift: u32| ALPHABET[((n >> shift) & 63) as usize];
    for chunk in input.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (b(0) << 16) | (b(1) << 8) | b(2);
        out.push(sextet(n, 18));
        out.push(sextet(n, 12));
        out.push(if chunk.len() > 1 { sextet(n, 6) } else { b'=' });
        out.push(if chunk.len() > 2 { sextet(n, 0) } else { b'=' });
    }
}

/// Seconds as the watchdog writes them (`0.123456`); garbage, negative or absurd values are ignored.
fn parse_duration(value: &[u8]) -> Option<Duration> {
    let secs: f64 = std::str::from_utf8(value).ok()?.trim().parse().ok()?;
    Duration::try_from_secs_f64(secs).ok()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{base64, basic_auth, parse_duration};

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            let mut out = Vec::new();
            base64(input.as_bytes(), &mut out);
            assert_eq!(out, expected.as_bytes(), "{input}");
        }
    }

    #[test]
    fn basic_auth_from_file_content() {
        assert_eq!(
            basic_auth(b"admin:s3cret\n").as_deref(),
            Some(&b"Basic YWRtaW46czNjcmV0"[..])
        );
        assert_eq!(
            basic_auth(b"user:pw\r\n").as_deref(),
            Some(&b"Basic dXNlcjpwdw=="[..])
        );
        assert_eq!(basic_auth(b"no-colon\n"), None);
        assert_eq!(basic_auth(b"a:b\nc:d"), None);
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration(b"0.123456"),
            Some(Duration::from_micros(123_456))
        );
        assert_eq!(parse_duration(b" 2 "), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration(b"-1"), None);
        assert_eq!(parse_duration(b"NaN"), None);
        assert_eq!(parse_duration(b"soon"), None);
    }
}
