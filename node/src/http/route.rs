//! Path and method → `Route`. Matching is a plain `match` on path segments: no allocation, no regex.

use crate::error::Error;

/// Every route the node serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// `GET|POST /`: name and version.
    Hello,
    /// `/function/<name>[/<suffix>]`: invoke a function.
    Invoke {
        /// Function name.
        function: &'a str,
        /// Rest of the path after the name (empty or starting with `/`), passed to the function.
        suffix: &'a str,
    },
    /// `GET /configuration`.
    GetConfiguration,
    /// `POST /configuration`.
    SetConfiguration,
    /// `GET /configuration/scheduler`.
    GetScheduler,
    /// `POST /configuration/scheduler`.
    SetScheduler,
    /// `GET /monitoring/load`.
    Load,
    /// `GET /healthz`.
    Healthz,
    /// `GET /readyz`.
    Readyz,
    /// `GET /metrics`.
    Metrics,
    /// `GET /system/functions`.
    ListFunctions,
    /// `POST /system/functions`.
    RegisterFunction,
    /// `GET /system/functions/<name>`.
    GetFunction(&'a str),
    /// `DELETE /system/functions/<name>`.
    RemoveFunction(&'a str),
}

/// Methods a function invocation accepts (all are passed to the function).
const INVOKE_METHODS: &str = "GET, POST, PUT, PATCH, DELETE";

/// Finds the route for `method` and `path`.
pub fn route<'a>(method: &str, path: &'a str) -> Result<Route<'a>, Error> {
    if let Some(rest) = path.strip_prefix("/function/") {
        let (function, suffix) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
        if function.is_empty() {
            return Err(Error::UnknownFunction);
        }
        return match method {
            "GET" | "POST" | "PUT" | "PATCH" | "DELETE" => Ok(Route::Invoke { function, suffix }),
            _ => Err(Error::MethodNotAllowed {
                allow: INVOKE_METHODS,
            }),
        };
    }
    if let Some(name) = path.strip_prefix("/system/functions/") {
        if name.is_empty() || name.contains('/') {
            return Err(Error::NoRoute);
        }
        return match method {
            "GET" => Ok(Route::GetFunction(name)),
            "DELETE" => Ok(Route::RemoveFunction(name)),
            _ => Err(Error::MethodNotAllowed {
                allow: "GET, DELETE",
            }),
        };
    }
    let get_only = |route| {
        if method == "GET" {
            Ok(route)
        } else {
            Err(Error::MethodNotAllowed { allow: "GET" })
        }
    };
    match path {
        "/" => match method {
            "GET" | "POST" => Ok(Route::Hello),
            _ => Err(Error::MethodNotAllowed { allow: "GET, POST" }),
        },
        "/configuration" => match method {
            "GET" => Ok(Route::GetConfiguration),
            "POST" => Ok(Route::SetConfiguration),
            _ => Err(Error::MethodNotAllowed { allow: "GET, POST" }),
        },
        "/configuration/scheduler" => match method {
            "GET" => Ok(Route::GetScheduler),
            "POST" => Ok(Route::SetScheduler),
            _ => Err(Error::MethodNotAllowed { allow: "GET, POST" }),
        },
        "/system/functions" => match method {
            "GET" => Ok(Route::ListFunctions),
            "POST" => Ok(Route::RegisterFunction),
            _ => Err(Error::MethodNotAllowed { allow: "GET, POST" }),
        },
        "/monitoring/load" => get_only(Route::Load),
        "/healthz" => get_only(Route::Healthz),
        "/readyz" => get_only(Route::Readyz),
        "/metrics" => get_only(Route::Metrics),
        _ => Err(Error::NoRoute),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_routes_split_name_and_suffix() {
        assert_eq!(
            route("POST", "/function/echo").ok(),
            Some(Route::Invoke {
                function: "echo",
                suffix: ""
            })
        );
        assert_eq!(
            route("GET", "/function/img/resize/small").ok(),
            Some(Route::Invoke {
                function: "img",
                suffix: "/resize/small"
            })
        );
        assert!(matches!(
            route("POST", "/function/"),
            Err(Error::UnknownFunction)
        ));
        assert!(matches!(
            route("OPTIONS", "/function/echo"),
            Err(Error::MethodNotAllowed { .. })
        ));
    }

    #[test]
    fn fixed_routes_and_methods() {
        assert_eq!(
            route("GET", "/configuration").ok(),
            Some(Route::GetConfiguration)
        );
        assert_eq!(
            route("POST", "/configuration/scheduler").ok(),
            Some(Route::SetScheduler)
        );
        assert_eq!(route("GET", "/metrics").ok(), Some(Route::Metrics));
        assert_eq!(
            route("POST", "/system/functions").ok(),
            Some(Route::RegisterFunction)
        );
        assert_eq!(
            route("DELETE", "/system/functions/f").ok(),
            Some(Route::RemoveFunction("f"))
        );
        assert!(matches!(
            route("DELETE", "/system/functions/a/b"),
            Err(Error::NoRoute)
        ));
        assert!(matches!(
            route("POST", "/metrics"),
            Err(Error::MethodNotAllowed { allow: "GET" })
        ));
        assert!(matches!(route("GET", "/nope"), Err(Error::NoRoute)));
        assert!(matches!(
            route("DELETE", "/"),
            Err(Error::MethodNotAllowed { .. })
        ));
    }
}
