//! The function table and its run-time registry. The table is an immutable snapshot (`Arc<Table>`)
//! published with a generation number: workers keep their copy and swap it only when the generation
//! changes, so the request path takes no lock. Each function is an `Arc<Function>`: a call holds it from
//! admission to reply, so replacing or removing a function never disturbs the calls already running on it.
//!
//! Changes made through `/system/functions` are kept as an overlay on the config file's functions
//! (registered or replaced tables, plus names removed) and persisted atomically in the data directory,
//! so a restart restores them while later edits to the config file still apply to untouched functions.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::config::{self, ConfigError, FunctionConfig, raw::RawFunction};
use crate::metrics::FunctionMetrics;

pub mod service_time;
use service_time::ServiceTime;

/// Where a function's definition came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The config file.
    Config,
    /// `POST /system/functions`.
    Api,
}

/// Metrics of one worker, on its own cache line so workers never write the same line.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Shard(FunctionMetrics);

/// A function, its backend and live counters.
#[derive(Debug)]
pub struct Function {
    /// Its configuration.
    pub config: FunctionConfig,
    /// The backend that runs it.
    pub backend: Backend,
    /// Where it was defined.
    pub source: Source,
    /// Calls admitted and not finished (queued + running), for `max_inflight` and draining.
    pub inflight: AtomicUsize,
    /// Calls holding a slot.
    pub running: AtomicUsize,
    /// Calls waiting for a slot.
    pub queued: AtomicUsize,
    /// Moving average of how long its calls held a slot (for `Retry-After`).
    pub service_time: ServiceTime,
    shards: Box<[Shard]>,
}

impl Function {
    /// A function with zeroed counters and one metrics shard per worker.
    pub fn new(config: FunctionConfig, source: Source, workers: usize) -> Self {
        Self {
            backend: Backend::from_config(&config.backend),
            config,
            source,
            inflight: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            queued: AtomicUsize::new(0),
            service_time: ServiceTime::default(),
            shards: (0..workers.max(1)).map(|_| Shard::default()).collect(),
        }
    }

    /// The metrics shard worker `index` writes.
    pub fn metrics(&self, index: usize) -> &FunctionMetrics {
        let shard = index % self.shards.len();
        &self.shards[shard].0
    }

    /// All shards, for scraping.
    pub fn all_metrics(&self) -> impl Iterator<Item = &FunctionMetrics> {
        self.shards.iter().map(|s| &s.0)
    }

    /// Name.
    pub fn name(&self) -> &str {
        &self.config.name
    }
}

/// An immutable set of functions, sorted by name.
#[derive(Debug, Default)]
pub struct Table {
    functions: Vec<Arc<Function>>,
}

impl Table {
    /// Looks a function up by name.
    pub fn get(&self, name: &str) -> Option<&Arc<Function>> {
        self.functions
            .binary_search_by(|f| f.name().cmp(name))
            .ok()
            .and_then(|i| self.functions.get(i))
    }

    /// All functions, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Function>> {
        self.functions.iter()
    }

    fn from_vec(mut functions: Vec<Arc<Function>>) -> Self {
        functions.sort_by(|a, b| a.name().cmp(b.name()));
        Self { functions }
    }
}

/// Run-time changes on top of the config file, as persisted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overlay {
    /// Functions registered or replaced through the API, by name.
    #[serde(default)]
    pub registered: BTreeMap<String, RawFunction>,
    /// Config-file functions removed through the API.
    #[serde(default)]
    pub removed: Vec<String>,
}

/// Why a registration was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The definition is invalid; the message names the field.
    #[error(transparent)]
    Invalid(#[from] ConfigError),
    /// No function has this name.
    #[error("function {0:?} is not registered")]
    NotFound(String),
    /// The overlay could not be saved; nothing changed.
    #[error("cannot persist the function registry: {0}")]
    Persist(std::io::Error),
}

/// The published table plus the overlay that produced it.
#[derive(Debug)]
pub struct Registry {
    generation: AtomicU64,
    table: Mutex<Arc<Table>>,
    overlay: Mutex<Overlay>,
    base: Vec<FunctionConfig>,
    workers: usize,
    max_body_bytes: usize,
}

impl Registry {
    /// Builds the table from the config file's functions and a persisted overlay (validated again: an
    /// overlay entry that no longer validates is an error naming it).
    pub fn new(
        base: Vec<FunctionConfig>,
        overlay: Overlay,
        workers: usize,
        max_body_bytes: usize,
    ) -> Result<Self, ConfigError> {
        let registry = Self {
            generation: AtomicU64::new(1),
            table: Mutex::new(Arc::new(Table::default())),
            overlay: Mutex::new(Overlay::default()),
            base,
            workers,
            max_body_bytes,
        };
        let table = registry.build(&overlay)?;
        *registry
            .table
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(table);
        *registry
            .overlay
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = overlay;
        Ok(registry)
    }

    /// Generation of the published table.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The published table and its generation.
    pub fn snapshot(&self) -> (u64, Arc<Table>) {
        let table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        (self.generation(), Arc::clone(&table))
    }

    /// The overlay in force.
    pub fn overlay(&self) -> Overlay {
        self.overlay
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Registers or replaces `name`: validates, persists via `save`, then publishes. Blocking (file I/O).
    pub fn register(
        &self,
        name: &str,
        raw: RawFunction,
        save: impl FnOnce(&Overlay) -> std::io::Result<()>,
    ) -> Result<Arc<Function>, RegistryError> {
        let config = config::function(name, &raw, self.max_body_bytes)?;
        let mut overlay = self.overlay.lock().unwrap_or_else(PoisonError::into_inner);
        let mut next = overlay.clone();
        next.registered.insert(name.to_owned(), raw);
        next.removed.retain(|n| n != name);
        save(&next).map_err(RegistryError::Persist)?;
        let function = Arc::new(Function::new(config, Source::Api, self.workers));
        self.publish(|functions| {
            functions.retain(|f| f.name() != name);
            functions.push(Arc::clone(&function));
        });
        *overlay = next;
        Ok(function)
    }

    /// Removes `name` from the table (calls in flight keep their `Arc` and finish). Returns the removed
    /// function so the caller can wait for it to drain. Blocking (file I/O).
    pub fn remove(
        &self,
        name: &str,
        save: impl FnOnce(&Overlay) -> std::io::Result<()>,
    ) -> Result<Arc<Function>, RegistryError> {
        let mut overlay = self.overlay.lock().unwrap_or_else(PoisonError::into_inner);
        let removed = self
            .snapshot()
            .1
            .get(name)
            .cloned()
            .ok_or_else(|| RegistryError::NotFound(name.to_owned()))?;
        let mut next = overlay.clone();
        next.registered.remove(name);
        if self.base.iter().any(|f| f.name == name) && !next.removed.iter().any(|n| n == name) {
            next.removed.push(name.to_owned());
        }
        save(&next).map_err(RegistryError::Persist)?;
        self.publish(|functions| functions.retain(|f| f.name() != name));
        *overlay = next;
        Ok(removed)
    }

    /// Applies `edit` to a copy of the current functions and publishes the result.
    fn publish(&self, edit: impl FnOnce(&mut Vec<Arc<Function>>)) {
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let mut functions: Vec<Arc<Function>> = table.iter().cloned().collect();
        edit(&mut functions);
        *table = Arc::new(Table::from_vec(functions));
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The table for `overlay` on top of the base functions.
    fn build(&self, overlay: &Overlay) -> Result<Table, ConfigError> {
        let mut functions: Vec<Arc<Function>> = self
            .base
            .iter()
            .filter(|f| {
                !overlay.removed.contains(&f.name) && !overlay.registered.contains_key(&f.name)
            })
            .map(|f| Arc::new(Function::new(f.clone(), Source::Config, self.workers)))
            .collect();
        for (name, raw) in &overlay.registered {
            let config = config::function(name, raw, self.max_body_bytes)?;
            functions.push(Arc::new(Function::new(config, Source::Api, self.workers)));
        }
        Ok(Table::from_vec(functions))
    }
}

#[cfg(test)]
mod tests;
