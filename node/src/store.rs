//! Persistence of run-time configuration in the data directory, under the original's file names so an
//! operator recognises them. Writes are atomic (temporary file, fsync, rename, fsync of the directory), so
//! a crash leaves either the old or the new file, never a torn one. Callers run these on the blocking pool.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::learning::Parameters;
use crate::registry::Overlay;
use crate::scheduler::Descriptor;

/// The original learner's config file shape (`p2pfaas_learner.json`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LearnerFile {
    /// Always `SarsaQTable` (the original's only learner name), kept for operators' tools.
    pub learner_name: LearnerName,
    /// The parameters.
    pub learner_parameters: Parameters,
}

/// The learner name in [`LearnerFile`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LearnerName {
    /// Tabular Sarsa family.
    SarsaQTable,
}

/// The original's dynamic configuration (`/configuration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSettings {
    /// K.
    pub parallel_running_functions_max: usize,
    /// Q.
    pub queue_length_max: usize,
    /// Whether the queue is used.
    pub queue_enabled: bool,
}

/// The original discovery service's dynamic configuration (`p2p_faas-discovery.json`), as set through
/// `POST /discovery/configuration`: who this node is and where it first looks for peers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveryFile {
    /// The address peers reach this node at, `host:port`.
    pub machine_ip: String,
    /// This node's id.
    pub machine_id: String,
    /// Its group.
    pub machine_group_name: String,
    /// Peers to contact, `host:port` each.
    pub init_servers: Vec<String>,
}

/// File names inside the data directory.
const QUEUE_FILE: &str = "p2p_faas-scheduler.json";
const SCHEDULER_FILE: &str = "p2p_faas-scheduler-config.json";
const FUNCTIONS_FILE: &str = "p2p_faas-functions.json";
const LEARNER_FILE: &str = "p2pfaas_learner.json";
const WEIGHTS_FILE: &str = "p2pfaas_learner-qtable.bin";
const DISCOVERY_FILE: &str = "p2p_faas-discovery.json";

/// The data directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// A store rooted at `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The persisted queue settings, if any. A corrupt file is an error (named), not silently ignored.
    pub fn load_queue(&self) -> io::Result<Option<QueueSettings>> {
        self.load(QUEUE_FILE)
    }

    /// The persisted scheduler descriptor, if any.
    pub fn load_scheduler(&self) -> io::Result<Option<Descriptor>> {
        self.load(SCHEDULER_FILE)
    }

    /// The persisted function-registry overlay, if any.
    pub fn load_functions(&self) -> io::Result<Option<Overlay>> {
        self.load(FUNCTIONS_FILE)
    }

    /// Atomically replaces the function-registry overlay.
    pub fn save_functions(&self, overlay: &Overlay) -> io::Result<()> {
        self.save(FUNCTIONS_FILE, overlay)
    }

    /// Atomically replaces the queue settings file.
    pub fn save_queue(&self, settings: &QueueSettings) -> io::Result<()> {
        self.save(QUEUE_FILE, settings)
    }

    /// The persisted learner parameters, if any.
    pub fn load_learner(&self) -> io::Result<Option<Parameters>> {
        Ok(self
            .load::<LearnerFile>(LEARNER_FILE)?
            .map(|f| f.learner_parameters))
    }

    /// Atomically replaces the learner parameters file.
    pub fn save_learner(&self, parameters: &Parameters) -> io::Result<()> {
        self.save(
            LEARNER_FILE,
            &LearnerFile {
                learner_name: LearnerName::SarsaQTable,
                learner_parameters: *parameters,
            },
        )
    }

    /// Where the learner's weights are saved at shutdown and loaded at start.
    pub fn weights_path(&self) -> PathBuf {
        self.dir.join(WEIGHTS_FILE)
    }

    /// The persisted discovery configuration, if any.
    pub fn load_discovery(&self) -> io::Result<Option<DiscoveryFile>> {
        self.load(DISCOVERY_FILE)
    }

    /// Atomically replaces the discovery configuration file.
    pub fn save_discovery(&self, file: &DiscoveryFile) -> io::Result<()> {
        self.save(DISCOVERY_FILE, file)
    }

    /// The learning agents' saved weights (`p2pfaas_core::learning::weights`: both agents), if any.
    pub fn load_weights(&self) -> io::Result<Option<Vec<u8>>> {
        match fs::read(self.weights_path()) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Atomically replaces the learner's weights.
    pub fn save_weights(&self, bytes: &[u8]) -> io::Result<()> {
        write_atomic(&self.dir, WEIGHTS_FILE, bytes)
    }

    /// Atomically replaces the scheduler file.
    pub fn save_scheduler(&self, desc: &Descriptor) -> io::Result<()> {
        self.save(SCHEDULER_FILE, desc)
    }

    fn load<T: DeserializeOwned>(&self, name: &str) -> io::Result<Option<T>> {
        let path = self.dir.join(name);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
        }
    }

    fn save<T: Serialize>(&self, name: &str, value: &T) -> io::Result<()> {
        let bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
        write_atomic(&self.dir, name, &bytes)
    }
}

/// Writes `dir/name` atomically.
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, dir.join(name))?;
        fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ignored = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("p2pfaas-store-{tag}-{}", std::process::id()));
        let _ignored = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn round_trip_and_missing() {
        let dir = tempdir("rt");
        let store = Store::new(&dir);
        assert_eq!(store.load_queue().ok().flatten(), None);
        let s = QueueSettings {
            parallel_running_functions_max: 8,
            queue_length_max: 0,
            queue_enabled: false,
        };
        assert!(store.save_queue(&s).is_ok());
        assert_eq!(store.load_queue().ok().flatten(), Some(s));
        let d = Descriptor {
            name: "NoScheduler".into(),
            parameters: vec!["true".into()],
        };
        assert!(store.save_scheduler(&d).is_ok());
        assert_eq!(store.load_scheduler().ok().flatten(), Some(d));
        let f = DiscoveryFile {
            machine_ip: "192.0.2.1:18080".into(),
            machine_id: "n1".into(),
            machine_group_name: "cluster00".into(),
            init_servers: vec!["192.0.2.2:18080".into()],
        };
        assert!(store.save_discovery(&f).is_ok());
        assert_eq!(store.load_discovery().ok().flatten(), Some(f));
        // No temporary files are left behind.
        let leftovers = fs::read_dir(&dir)
            .map(|it| {
                it.filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().contains(".tmp."))
                    .count()
            })
            .unwrap_or(usize::MAX);
        assert_eq!(leftovers, 0);
        let _ignored = fs::remove_dir_all(&dir);
    }

    #[test]
    fn learner_weights_round_trip() {
        use p2pfaas_core::learning::{Agent, Parameters, dims_for};
        let dir = tempdir("weights");
        let store = Store::new(&dir);
        assert!(matches!(store.load_weights(), Ok(None)));
        let agent = |params| Agent::new(dims_for(1, 0), params).expect("valid");
        let a = agent(Parameters {
            window_size: 1,
            ..Parameters::default()
        });
        for eid in 1..=10 {
            a.learn(eid, &[0.0, 1.0, 0.0], 1, 1.0).expect("valid");
        }
        assert!(store.save_weights(&a.encode_weights()).is_ok());
        let bytes = store.load_weights().ok().flatten().unwrap_or_default();
        let b = agent(Parameters::default());
        assert!(b.decode_weights(&bytes).is_ok());
        assert_eq!(b.values(&[0.0, 1.0, 0.0]), a.values(&[0.0, 1.0, 0.0]));
        let wrong = Agent::new(5, Parameters::default()).expect("valid");
        let err = wrong.decode_weights(&bytes).err().map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("`dims`: file has 3")),
            "another shape is refused, naming the field: {err:?}"
        );
        let _ignored = fs::remove_dir_all(&dir);
    }

    #[test]
    fn corrupt_file_is_an_error_naming_the_file() {
        let dir = tempdir("bad");
        assert!(fs::create_dir_all(&dir).is_ok());
        assert!(fs::write(dir.join(QUEUE_FILE), b"{not json").is_ok());
        let err = Store::new(&dir)
            .load_queue()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(QUEUE_FILE), "{err}");
        let _ignored = fs::remove_dir_all(&dir);
    }
}
