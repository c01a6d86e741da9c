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
    /// `POST /peer/function/<name>[/<suffix>]`: a job forwarded by a peer.
    PeerInvoke {
        /// Function name.
        function: &'a str,
        /// Rest of the path after the name.
        suffix: &'a str,
    },
    /// `POST /peer/gossip`: one membership message.
    Gossip,
    /// `POST /peer/cancel`: the origin of a forwarded job gave up on it.
    PeerCancel,
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
    /// The learner API (`/learner/…` here, the original paths on the learner port).
    Learner(LearnerRoute),
    /// The discovery API (`/discovery/…`).
    Discovery(super::discovery::DiscoveryRoute),
    /// `GET /ui[/app.js|/app.css|/events.js]`: the dashboard.
    Ui(super::ui::Asset),
    /// `GET /events`: the dashboard's Server-Sent Events stream (the connection is handed over).
    Events,
    /// `GET /events/snapshot`: this node's snapshot, once.
    Snapshot,
    /// `GET /events/cluster`: the cluster frame, once.
    ClusterFrame,
    /// `GET /events/history`: this node's last five minutes.
    History,
    /// `GET /events/cluster/history`: every node's last five minutes (the page's first paint).
    ClusterHistory,
    /// `POST /cluster/<node>/<admin path>`: an operator action relayed to a peer.
    Relay {
        /// The peer's machine id or address.
        node: &'a str,
        /// One of `relay::PATHS`.
        path: &'static str,
    },
}

/// The original learner's routes (contract §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LearnerRoute {
    /// `GET /` on the learner port.
    Hello,
    /// `GET act`: an action for the state in `X-P2pfaas-Learning-State`.
    Act,
    /// `GET|POST train`: one entry in headers.
    Train,
    /// `POST train_batch`: a JSON array of entries.
    TrainBatch,
    /// `GET parameters`.
    GetParameters,
    /// `POST parameters`.
    SetParameters,
    /// `GET stats`.
    Stats,
    /// `GET weights`.
    Weights,
    /// `GET acceptance/weights`: the double decision's agent's table, as `weights` shows the decision
    /// agent's.
    AcceptanceWeights,
    /// `POST weights`: a weight file (both agents', or a lone decision agent's) replaces the learned
    /// values.
    LoadWeights,
    /// `GET weights/file` (admin): the learned values as a weight file, what `POST weights` takes back.
    WeightFile,
    /// `GET|POST reset`.
    Reset,
}

/// A route table: the main port's [`route`] or the learner port's [`learner_port`].
pub type Router = for<'a> fn(&str, &'a str) -> Result<Route<'a>, Error>;

/// Routes of the learner port (the original's port 19020): its paths, and the `/learner/…` forms too.
pub fn learner_port<'a>(method: &str, path: &'a str) -> Result<Route<'a>, Error> {
    if path == "/" {
        return match method {
            "GET" => Ok(Route::Learner(LearnerRoute::Hello)),
            _ => Err(Error::MethodNotAllowed { allow: "GET" }),
        };
    }
    let name = path
        .strip_prefix("/learner/")
        .unwrap_or(path.trim_start_matches('/'));
    learner(method, name)
}

/// Routes of the discovery port (the original's port 19000): `/`, `/list`, `/configuration`, `/reset`.
pub fn discovery_port<'a>(method: &str, path: &'a str) -> Result<Route<'a>, Error> {
    let rest = path.strip_prefix('/').unwrap_or(path);
    super::discovery::route(method, rest).map(Route::Discovery)
}

/// `/learner/<name>` and the learner port's `/<name>`.
fn learner<'a>(method: &str, name: &str) -> Result<Route<'a>, Error> {
    use LearnerRoute as L;
    let only = |allowed: &'static str, route| {
        if allowed.split(", ").any(|m| m == method) {
            Ok(Route::Learner(route))
        } else {
            Err(Error::MethodNotAllowed { allow: allowed })
        }
    };
    match name {
        "act" => only("GET, POST", L::Act),
        "train" => only("GET, POST", L::Train),
        "train_batch" => only("POST", L::TrainBatch),
        "parameters" => match method {
            "GET" => Ok(Route::Learner(L::GetParameters)),
            "POST" => Ok(Route::Learner(L::SetParameters)),
            _ => Err(Error::MethodNotAllowed { allow: "GET, POST" }),
        },
        "stats" => only("GET", L::Stats),
        "weights" => match method {
            "GET" => Ok(Route::Learner(L::Weights)),
            "POST" => Ok(Route::Learner(L::LoadWeights)),
            _ => Err(Error::MethodNotAllowed { allow: "GET, POST" }),
        },
        "acceptance/weights" => only("GET", L::AcceptanceWeights),
        "weights/file" => only("GET", L::WeightFile),
        "reset" => only("GET, POST", L::Reset),
        _ => Err(Error::NoRoute),
    }
}

/// Methods a function invocation accepts (all are passed to the function).
const INVOKE_METHODS: &str = "GET, POST, PUT, PATCH, DELETE";

/// Splits `<name>[/<suffix>]` into the name and the suffix with its '/'. A byte search: names are a few
/// bytes long, where `str::find` costs more to set up than to scan.
fn split_name(rest: &str) -> (&str, &str) {
    rest.bytes()
        .position(|b| b == b'/')
        .and_then(|i| rest.split_at_checked(i))
        .unwrap_or((rest, ""))
}

/// Finds the route for `method` and `path`.
pub fn route<'a>(method: &str, path: &'a str) -> Result<Route<'a>, Error> {
    if let Some(rest) = path.strip_prefix("/function/") {
        let (function, suffix) = split_name(rest);
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
    if path == "/peer/cancel" {
        return match method {
            "POST" => Ok(Route::PeerCancel),
            _ => Err(Error::MethodNotAllowed { allow: "POST" }),
        };
    }
    if path == "/peer/gossip" {
        return match method {
            "POST" => Ok(Route::Gossip),
            _ => Err(Error::MethodNotAllowed { allow: "POST" }),
        };
    }
    if let Some(rest) = path.strip_prefix("/peer/function/") {
        let (function, suffix) = split_name(rest);
        if function.is_empty() {
            return Err(Error::UnknownFunction);
        }
        return match method {
            "POST" => Ok(Route::PeerInvoke { function, suffix }),
            _ => Err(Error::MethodNotAllowed { allow: "POST" }),
        };
    }
    if let Some(name) = path.strip_prefix("/learner/") {
        return learner(method, name);
    }
    if path == "/discovery" {
        return super::discovery::route(method, "").map(Route::Discovery);
    }
    if let Some(rest) = path.strip_prefix("/discovery/") {
        return super::discovery::route(method, rest).map(Route::Discovery);
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
    if let Some(rest) = path.strip_prefix("/cluster/") {
        let (node, inner) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
        let path = super::relay::PATHS
            .into_iter()
            .find(|p| *p == inner)
            .ok_or(Error::NoRoute)?;
        if node.is_empty() {
            return Err(Error::NoRoute);
        }
        return match method {
            "POST" => Ok(Route::Relay { node, path }),
            _ => Err(Error::MethodNotAllowed { allow: "POST" }),
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
        "/ui" | "/ui/" => get_only(Route::Ui(super::ui::Asset::Page)),
        "/ui/app.js" => get_only(Route::Ui(super::ui::Asset::Script)),
        "/ui/app.css" => get_only(Route::Ui(super::ui::Asset::Style)),
        "/ui/events.js" => get_only(Route::Ui(super::ui::Asset::Events)),
        "/events" => get_only(Route::Events),
        "/events/snapshot" => get_only(Route::Snapshot),
        "/events/cluster" => get_only(Route::ClusterFrame),
        "/events/history" => get_only(Route::History),
        "/events/cluster/history" => get_only(Route::ClusterHistory),
        _ => Err(Error::NoRoute),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learner_port_serves_the_original_paths() {
        use LearnerRoute as L;
        for (method, path, want) in [
            ("GET", "/", L::Hello),
            ("GET", "/act", L::Act),
            ("GET", "/train", L::Train),
            ("POST", "/train_batch", L::TrainBatch),
            ("GET", "/learner/parameters", L::GetParameters),
            ("POST", "/learner/parameters", L::SetParameters),
            ("GET", "/learner/stats", L::Stats),
            ("GET", "/learner/weights", L::Weights),
            ("POST", "/learner/weights", L::LoadWeights),
            ("GET", "/learner/acceptance/weights", L::AcceptanceWeights),
            ("GET", "/learner/weights/file", L::WeightFile),
            ("GET", "/weights/file", L::WeightFile),
            ("GET", "/learner/reset", L::Reset),
        ] {
            assert_eq!(
                learner_port(method, path).ok(),
                Some(Route::Learner(want)),
                "{method} {path}"
            );
        }
        assert!(matches!(
            learner_port("GET", "/function/echo"),
            Err(Error::NoRoute)
        ));
        assert!(matches!(
            learner_port("DELETE", "/learner/stats"),
            Err(Error::MethodNotAllowed { allow: "GET" })
        ));
    }

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
        assert_eq!(route("GET", "/events").ok(), Some(Route::Events));
        assert_eq!(route("GET", "/events/snapshot").ok(), Some(Route::Snapshot));
        assert_eq!(route("GET", "/events/history").ok(), Some(Route::History));
        assert_eq!(
            route("GET", "/events/cluster/history").ok(),
            Some(Route::ClusterHistory)
        );
        assert_eq!(
            route("GET", "/ui").ok(),
            Some(Route::Ui(crate::http::ui::Asset::Page))
        );
        assert_eq!(
            route("POST", "/cluster/node-b/configuration/scheduler").ok(),
            Some(Route::Relay {
                node: "node-b",
                path: "/configuration/scheduler"
            })
        );
        assert_eq!(
            route("POST", "/cluster/127.0.0.1:18081/learner/reset").ok(),
            Some(Route::Relay {
                node: "127.0.0.1:18081",
                path: "/learner/reset"
            })
        );
        // Only the three admin paths, only POST.
        assert!(matches!(
            route("POST", "/cluster/b/system/functions"),
            Err(Error::NoRoute)
        ));
        assert!(matches!(
            route("POST", "/cluster//configuration"),
            Err(Error::NoRoute)
        ));
        assert!(matches!(
            route("GET", "/cluster/b/configuration"),
            Err(Error::MethodNotAllowed { allow: "POST" })
        ));
        assert_eq!(
            route("POST", "/learner/train_batch").ok(),
            Some(Route::Learner(LearnerRoute::TrainBatch))
        );
        assert!(matches!(
            route("GET", "/learner/train_batch"),
            Err(Error::MethodNotAllowed { allow: "POST" })
        ));
        assert!(matches!(route("GET", "/act"), Err(Error::NoRoute)));
        assert_eq!(
            route("POST", "/peer/function/echo/x").ok(),
            Some(Route::PeerInvoke {
                function: "echo",
                suffix: "/x"
            })
        );
        assert!(matches!(
            route("GET", "/peer/function/echo"),
            Err(Error::MethodNotAllowed { allow: "POST" })
        ));
        assert!(matches!(
            route("DELETE", "/"),
            Err(Error::MethodNotAllowed { .. })
        ));
    }
}
