//! Where configuration values come from besides the file: the process environment or, in tests, a map.
//! Only `config` reads through this trait, once, before the node binds anything.

use std::collections::HashMap;

/// A read-only key → value source (environment variables, or a map in tests).
pub trait Source {
    /// The value of `key`, if set.
    fn get(&self, key: &str) -> Option<String>;
}

/// The real process environment.
#[derive(Debug, Default, Clone, Copy)]
pub struct Env;

impl Source for Env {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }
}

/// A fixed map, so parsing is testable without touching the process environment.
#[derive(Debug, Default, Clone)]
pub struct Map(pub HashMap<String, String>);

impl Map {
    /// Builds a map source from `(key, value)` pairs.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        )
    }
}

impl Source for Map {
    fn get(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
}
