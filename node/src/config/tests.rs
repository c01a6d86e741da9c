use std::path::PathBuf;
use std::time::Duration;

use super::source::Map;
use super::*;

fn load(toml: &str, env: &[(&str, &str)], flags: &Flags) -> Result<Config, ConfigError> {
    let mut raw = Raw::from_toml(toml)?;
    raw.apply_env(&Map::from_pairs(env.iter().copied()))?;
    raw.apply_flags(flags)?;
    Config::from_raw(raw)
}

fn field_of(err: ConfigError) -> String {
    match err {
        ConfigError::Field { field, .. } => field,
        other => other.to_string(),
    }
}

#[test]
fn issue_example_shape_parses() {
    let c = load(
        r#"
[node]
listen = "127.0.0.1:18080"
data_dir = "/var/lib/p2pfaas"
[queue]
slots = 4
queue_len = 4
[scheduler]
name = "NoScheduler"
parameters = ["false"]
[functions.echo]
backend = "builtin"
builtin = "echo"
[functions.sleep]
backend = "builtin"
builtin = "sleep"
mean_ms = 100
distribution = "exponential"
"#,
        &[],
        &Flags::default(),
    )
    .map_err(|e| e.to_string());
    let c = match c {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(c.node.listen.port(), 18080);
    assert_eq!((c.queue.slots, c.queue.queue_len), (4, 4));
    assert_eq!(c.functions.len(), 2);
    assert_eq!(c.functions[0].name, "echo");
    assert_eq!(
        c.functions[1].backend,
        BackendConfig::Builtin(Builtin::Sleep {
            mean: Duration::from_millis(100),
            distribution: Distribution::Exponential
        })
    );
}

#[test]
fn precedence_is_flags_over_env_over_file() {
    let file = "[queue]\nslots = 2\nqueue_len = 1\n";
    let c = load(file, &[("P2PFAAS_SLOTS", "3")], &Flags::default()).ok();
    assert_eq!(c.map(|c| c.queue.slots), Some(3));
    let flags = Flags {
        slots: Some("5".into()),
        ..Flags::default()
    };
    let c = load(file, &[("P2PFAAS_SLOTS", "3")], &flags).ok();
    assert_eq!(c.map(|c| (c.queue.slots, c.queue.queue_len)), Some((5, 1)));
    let c = load(
        "",
        &[("MONOIO_FORCE_LEGACY_DRIVER", "1")],
        &Flags::default(),
    )
    .ok();
    assert_eq!(c.map(|c| c.node.driver), Some(DriverChoice::Epoll));
    let c = load("", &[("P2PFAAS_DATA_PATH", "/data")], &Flags::default()).ok();
    assert_eq!(c.map(|c| c.node.data_dir), Some(PathBuf::from("/data")));
}

#[test]
fn every_error_names_its_field() {
    let none = Flags::default();
    /// (file, environment, field the error must name)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case<'_>] = &[
        ("[queue]\nslots = 0\n", &[], "queue.slots"),
        ("[queue]\nqueue_len = 70000\n", &[], "queue.queue_len"),
        ("[node]\nlisten = \"localhost\"\n", &[], "node.listen"),
        ("[node]\nworkers = 0\n", &[], "node.workers"),
        ("[node]\ndriver = \"kqueue\"\n", &[], "node.driver"),
        ("[log]\nformat = \"xml\"\n", &[], "log.format"),
        (
            "[http]\nrequest_timeout_ms = 0\n",
            &[],
            "http.request_timeout_ms",
        ),
        ("[http]\nmax_head_bytes = 10\n", &[], "http.max_head_bytes"),
        (
            "[functions.\"bad name\"]\nbackend = \"builtin\"\nbuiltin = \"echo\"\n",
            &[],
            "functions.bad name",
        ),
        (
            "[functions.f]\nbuiltin = \"echo\"\n",
            &[],
            "functions.f.backend",
        ),
        (
            "[functions.f]\nbackend = \"builtin\"\n",
            &[],
            "functions.f.builtin",
        ),
        (
            "[functions.f]\nbackend = \"builtin\"\nbuiltin = \"sleep\"\nmean_ms = -1\n",
            &[],
            "functions.f.mean_ms",
        ),
        (
            "[functions.f]\nbackend = \"builtin\"\nbuiltin = \"sleep\"\nmean_ms = 5\ndistribution = \"normal\"\n",
            &[],
            "functions.f.distribution",
        ),
        (
            "[functions.f]\nbackend = \"builtin\"\nbuiltin = \"echo\"\nmax_inflight = 0\n",
            &[],
            "functions.f.max_inflight",
        ),
        ("[scheduler]\nname = \"Nope\"\n", &[], "scheduler"),
        ("", &[("P2PFAAS_WORKERS", "many")], "P2PFAAS_WORKERS"),
    ];
    for (toml, env, field) in cases {
        let err = load(toml, env, &none).err().map(field_of);
        assert_eq!(err.as_deref(), Some(*field), "{toml}");
    }
}

#[test]
fn unknown_keys_and_wrong_types_are_rejected_with_the_key() {
    let err = load("[queue]\nslotz = 4\n", &[], &Flags::default())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("slotz"), "{err}");
    let err = load("[queue]\nslots = \"four\"\n", &[], &Flags::default())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("slots"), "{err}");
}

#[test]
fn function_names_are_restricted() {
    assert!(is_valid_function_name("fn-pigo_2.v1"));
    assert!(!is_valid_function_name(""));
    assert!(!is_valid_function_name("a/b"));
    assert!(!is_valid_function_name(&"x".repeat(65)));
}

#[test]
fn learner_state_features_are_checked_by_name() {
    let parse = |text: &str| Raw::from_toml(text).and_then(Config::from_raw);
    let ok = parse("[learner]\nstate_features = [\"utilisation\", \"peers_min_load\"]\n");
    assert_eq!(ok.map(|c| c.learner.state_features.len()).ok(), Some(2));
    let err = parse("[learner]\nstate_features = [\"utilisation\", \"cpu\"]\n")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("learner.state_features[1]"), "{err}");
    assert!(
        err.contains("peers_min_load"),
        "lists the known ones: {err}"
    );
}

#[test]
fn learner_tile_coding_double_decision_and_weights_file_parse() {
    let parse = |text: &str| Raw::from_toml(text).and_then(Config::from_raw);
    let config = parse(
        "[learner]\nreward_refused = 0.25\nweights_file = \"/tmp/n0.weights\"\n\
         state_features = [\"peer_load_0\", \"deadline_slack\", \"speed\"]\n\
         [learner.parameters]\nvalue_function = \"tiles\"\ntilings = 8\n",
    )
    .expect("valid learner section");
    let l = &config.learner;
    assert_eq!(
        l.parameters.value_function,
        crate::learning::params::ValueKind::Tiles
    );
    assert_eq!(l.parameters.tilings, 8);
    assert_eq!(l.reward_refused, 0.25);
    assert_eq!(l.weights_file, Some(PathBuf::from("/tmp/n0.weights")));
    assert_eq!(l.state_features.len(), 3);
    let err = parse("[learner.parameters]\nvalue_function = \"tiles\"\ntile_table_size = 1000\n")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("tile_table_size"), "{err}");
}

#[test]
fn learner_external_agent_fields_parse_and_name_themselves_when_wrong() {
    let parse = |text: &str| Raw::from_toml(text).and_then(Config::from_raw);
    let c = parse("[learner]\nexternal = \"unix:/run/agent.sock\"\n").expect("valid");
    assert_eq!(
        c.learner.external,
        Some(super::External::Unix("/run/agent.sock".into()))
    );
    assert_eq!(
        c.learner.external_timeout,
        std::time::Duration::from_millis(2)
    );
    assert!(c.learner.external_fallback.is_none());
    let c = parse(
        "[learner]\nexternal = \"tcp:127.0.0.1:7000\"\nexternal_timeout_ms = 5\n\
         external_fallback = \"PowerOfNScheduler(2, 3, false, 1)\"\n",
    )
    .expect("valid");
    assert!(matches!(c.learner.external, Some(super::External::Tcp(a)) if a.port() == 7000));
    let fb = c.learner.external_fallback.expect("set");
    assert_eq!(fb.name, "PowerOfNScheduler");
    assert_eq!(fb.parameters, ["2", "3", "false", "1"]);
    let c = parse("[learner]\nexternal = \"http://127.0.0.1:19020\"\n").expect("valid");
    assert!(matches!(c.learner.external, Some(super::External::Http(t)) if t.port == 19020));
    for (toml, field) in [
        ("external = \"ws://x:1\"", "learner.external"),
        ("external = \"unix:\"", "learner.external"),
        ("external = \"tcp:nowhere\"", "learner.external"),
        ("external_timeout_ms = 0", "learner.external_timeout_ms"),
        (
            "external_fallback = \"Nope(1)\"",
            "learner.external_fallback",
        ),
        (
            "external_fallback = \"PowerOfNScheduler(1, 2\"",
            "learner.external_fallback",
        ),
    ] {
        let err = parse(&format!("[learner]\n{toml}\n")).expect_err(toml);
        assert_eq!(field_of(err), field, "{toml}");
    }
}

#[test]
fn learner_env_overrides_the_file_and_names_the_variable_when_wrong() {
    let file = "[learner]\nexternal = \"unix:/run/agent.sock\"\nreward_met = 2.0\n";
    let none = Flags::default();
    let c = load(
        file,
        &[
            ("P2PFAAS_LEARNER_EXTERNAL", "tcp:127.0.0.1:7000"),
            ("P2PFAAS_LEARNER_EXTERNAL_TIMEOUT_MS", "15"),
            (
                "P2PFAAS_LEARNER_EXTERNAL_FALLBACK",
                "PowerOfNScheduler(2, 3, false, 1)",
            ),
            ("P2PFAAS_LEARNER_REWARD_MET", "0.75"),
            ("P2PFAAS_LEARNER_REWARD_MISSED", "-1"),
            ("P2PFAAS_LEARNER_REWARD_REJECTED", " -0.5 "),
            ("P2PFAAS_LEARNER_REWARD_REFUSED", "0.125"),
            ("P2PFAAS_LEARNER_WEIGHTS_FILE", "/data/pi-07.weights"),
        ],
        &none,
    )
    .expect("valid");
    let l = &c.learner;
    assert!(matches!(l.external, Some(External::Tcp(a)) if a.port() == 7000));
    assert_eq!(l.external_timeout, Duration::from_millis(15));
    assert_eq!(
        l.external_fallback.as_ref().map(|d| d.parameters.clone()),
        Some(vec!["2".into(), "3".into(), "false".into(), "1".into()])
    );
    assert_eq!(
        (
            l.reward_met,
            l.reward_missed,
            l.reward_rejected,
            l.reward_refused
        ),
        (0.75, -1.0, -0.5, 0.125)
    );
    assert_eq!(
        l.weights_file.as_deref(),
        Some(std::path::Path::new("/data/pi-07.weights"))
    );
    // Empty: no external agent on this device, whatever the file says.
    let c = load(file, &[("P2PFAAS_LEARNER_EXTERNAL", "")], &none).expect("valid");
    assert_eq!(c.learner.external, None);
    assert_eq!(c.learner.reward_met, 2.0, "the file's, no variable set");
    for (var, value, field) in [
        (
            "P2PFAAS_LEARNER_EXTERNAL_TIMEOUT_MS",
            "2ms",
            "P2PFAAS_LEARNER_EXTERNAL_TIMEOUT_MS",
        ),
        (
            "P2PFAAS_LEARNER_REWARD_MET",
            "one",
            "P2PFAAS_LEARNER_REWARD_MET",
        ),
        (
            "P2PFAAS_LEARNER_REWARD_MISSED",
            "",
            "P2PFAAS_LEARNER_REWARD_MISSED",
        ),
        (
            "P2PFAAS_LEARNER_REWARD_REJECTED",
            "1/2",
            "P2PFAAS_LEARNER_REWARD_REJECTED",
        ),
        (
            "P2PFAAS_LEARNER_REWARD_REFUSED",
            "x",
            "P2PFAAS_LEARNER_REWARD_REFUSED",
        ),
        // Parsed, then refused by validation under the field's name.
        ("P2PFAAS_LEARNER_EXTERNAL", "ws://x:1", "learner.external"),
        (
            "P2PFAAS_LEARNER_EXTERNAL_TIMEOUT_MS",
            "0",
            "learner.external_timeout_ms",
        ),
        (
            "P2PFAAS_LEARNER_EXTERNAL_FALLBACK",
            "Nope(1)",
            "learner.external_fallback",
        ),
    ] {
        let err = load("", &[(var, value)], &none).expect_err(var);
        assert_eq!(field_of(err), field, "{var}={value:?}");
    }
}
