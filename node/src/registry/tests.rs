use std::io;

use super::*;
use crate::config::raw::RawFunction;

fn echo_raw() -> RawFunction {
    RawFunction {
        backend: Some("builtin".into()),
        builtin: Some("echo".into()),
        ..RawFunction::default()
    }
}

fn sleep_raw(ms: f64) -> RawFunction {
    RawFunction {
        backend: Some("builtin".into()),
        builtin: Some("sleep".into()),
        mean_ms: Some(ms),
        ..RawFunction::default()
    }
}

fn base() -> Vec<FunctionConfig> {
    vec![
        config::function("echo", &echo_raw(), 1024).unwrap_or_else(|e| panic!("{e}")),
        config::function("slow", &sleep_raw(100.0), 1024).unwrap_or_else(|e| panic!("{e}")),
    ]
}

fn names(r: &Registry) -> Vec<String> {
    r.snapshot().1.iter().map(|f| f.name().to_owned()).collect()
}

fn ok(_: &Overlay) -> io::Result<()> {
    Ok(())
}

#[test]
fn overlay_applies_on_top_of_the_config_file() {
    let mut overlay = Overlay::default();
    overlay.removed.push("slow".into());
    overlay.registered.insert("added".into(), sleep_raw(5.0));
    overlay.registered.insert("echo".into(), sleep_raw(7.0));
    let r = Registry::new(base(), overlay, 2, 1024).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(names(&r), ["added", "echo"]);
    let table = r.snapshot().1;
    let echo = table.get("echo").map(|f| f.source);
    assert_eq!(
        echo,
        Some(Source::Api),
        "a registered table replaces the file's"
    );
}

#[test]
fn register_replace_remove_publish_new_generations() {
    let r = Registry::new(base(), Overlay::default(), 2, 1024).unwrap_or_else(|e| panic!("{e}"));
    let g0 = r.generation();
    let old_echo = r.snapshot().1.get("echo").cloned();
    assert!(r.register("new", sleep_raw(1.0), ok).is_ok());
    assert!(r.register("echo", sleep_raw(2.0), ok).is_ok());
    assert!(r.generation() > g0);
    assert_eq!(names(&r), ["echo", "new", "slow"]);
    // The replaced function object stays valid for calls that hold it.
    assert_eq!(old_echo.map(|f| f.source), Some(Source::Config));
    assert_eq!(
        r.snapshot().1.get("echo").map(|f| f.source),
        Some(Source::Api)
    );

    assert!(r.remove("slow", ok).is_ok());
    assert!(r.remove("new", ok).is_ok());
    let overlay = r.overlay();
    assert_eq!(
        overlay.removed,
        ["slow"],
        "removing a file function leaves a tombstone"
    );
    assert!(
        !overlay.registered.contains_key("new"),
        "removing an API function forgets it"
    );
    assert!(matches!(
        r.remove("nope", ok),
        Err(RegistryError::NotFound(_))
    ));
    // Registering a removed file function again clears its tombstone.
    assert!(r.register("slow", sleep_raw(3.0), ok).is_ok());
    assert!(r.overlay().removed.is_empty());
}

#[test]
fn invalid_or_unsaved_changes_change_nothing() {
    let r = Registry::new(base(), Overlay::default(), 1, 1024).unwrap_or_else(|e| panic!("{e}"));
    let g = r.generation();
    let bad = RawFunction {
        backend: Some("builtin".into()),
        builtin: Some("sleep".into()),
        ..RawFunction::default()
    };
    let err = r
        .register("x", bad, ok)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("functions.x.mean_ms"), "{err}");
    let failing = |_: &Overlay| Err(io::Error::other("disk full"));
    assert!(matches!(
        r.register("y", echo_raw(), failing),
        Err(RegistryError::Persist(_))
    ));
    assert!(matches!(
        r.remove("echo", failing),
        Err(RegistryError::Persist(_))
    ));
    assert_eq!(r.generation(), g);
    assert_eq!(names(&r), ["echo", "slow"]);
    assert_eq!(r.overlay(), Overlay::default());
}

#[test]
fn a_persisted_overlay_that_no_longer_validates_is_an_error() {
    let mut overlay = Overlay::default();
    overlay.registered.insert(
        "big".into(),
        RawFunction {
            max_body_bytes: Some(4096),
            ..echo_raw()
        },
    );
    let err = Registry::new(base(), overlay, 1, 1024)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("functions.big.max_body_bytes"), "{err}");
}
