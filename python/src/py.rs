//! The Python bindings (`p2pfaas._native`). Arrays cross as `bytes` in native byte order, read by
//! NumPy without a copy (`numpy.frombuffer`): one object per call, never one per decision. The
//! Python modules in `python/p2pfaas/` wrap these in friendlier types.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::runner::{Batch, Cluster, Options};

fn value_error(e: String) -> PyErr {
    PyValueError::new_err(e)
}

/// `p2pfaas-bench simulate`'s report of a spec (TOML text), as JSON text.
#[pyfunction]
#[pyo3(signature = (spec, seed=None, arrivals=None))]
fn simulate(
    py: Python<'_>,
    spec: &str,
    seed: Option<u64>,
    arrivals: Option<u64>,
) -> PyResult<String> {
    let spec = spec.to_owned();
    py.detach(move || crate::runner::simulate(&spec, seed, arrivals))
        .map_err(value_error)
}

/// `n` simulated clusters whose chosen nodes' learning decisions are made by the caller.
#[pyclass(unsendable, module = "p2pfaas._native")]
struct VecCluster {
    batch: Batch,
    states: Vec<f32>,
    nodes: Vec<u32>,
    rewards: Vec<f32>,
    dones: Vec<u8>,
    actions: Vec<u32>,
    bytes: Vec<u8>,
}

fn to_bytes<'py, T: Copy, const N: usize>(
    py: Python<'py>,
    buf: &mut Vec<u8>,
    values: &[T],
    f: impl Fn(T) -> [u8; N],
) -> Bound<'py, PyBytes> {
    buf.clear();
    buf.extend(values.iter().flat_map(|&v| f(v)));
    PyBytes::new(py, buf)
}

#[pymethods]
impl VecCluster {
    #[new]
    #[pyo3(signature = (spec, n, nodes=None, rho=None, arrivals=None))]
    fn new(
        spec: &str,
        n: usize,
        nodes: Option<Vec<usize>>,
        rho: Option<f64>,
        arrivals: Option<u64>,
    ) -> PyResult<Self> {
        if n == 0 {
            return Err(value_error("n: at least one environment".to_owned()));
        }
        let options = Options {
            nodes: nodes.unwrap_or_default(),
            rho,
            arrivals,
        };
        let cluster = Cluster::new(spec, &options).map_err(value_error)?;
        let (dims, k) = (cluster.shape().dims, cluster.cluster_nodes());
        Ok(Self {
            batch: Batch::new(cluster, n),
            states: vec![0.0; n * dims],
            nodes: vec![0; n],
            rewards: vec![0.0; n * k],
            dones: vec![0; n],
            actions: vec![0; n],
            bytes: Vec::new(),
        })
    }

    /// State length.
    #[getter]
    fn dims(&self) -> usize {
        self.batch.cluster().shape().dims
    }

    /// Number of actions.
    #[getter]
    fn actions(&self) -> usize {
        self.batch.cluster().shape().actions
    }

    /// Nodes in each cluster.
    #[getter]
    fn cluster_nodes(&self) -> usize {
        self.batch.cluster().cluster_nodes()
    }

    /// The nodes whose decisions the caller makes.
    #[getter]
    fn nodes(&self) -> Vec<usize> {
        self.batch.cluster().nodes().to_vec()
    }

    /// Environments.
    #[getter]
    fn n(&self) -> usize {
        self.batch.len()
    }

    /// Starts every environment (episode seeds `seed, seed + 1, …`): `(states f32[n×dims], nodes u32[n])`.
    fn reset<'py>(
        &mut self,
        py: Python<'py>,
        seed: u64,
    ) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
        self.batch
            .reset(seed, &mut self.states, &mut self.nodes)
            .map_err(value_error)?;
        Ok((
            to_bytes(py, &mut self.bytes, &self.states, f32::to_ne_bytes),
            to_bytes(py, &mut self.bytes, &self.nodes, u32::to_ne_bytes),
        ))
    }

    /// Answers every pending decision (`actions`: u32[n] bytes): `(states, nodes, rewards
    /// f32[n×cluster_nodes], dones u8[n])`.
    #[allow(clippy::type_complexity, reason = "four arrays, named in the doc")]
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        actions: &[u8],
    ) -> PyResult<(
        Bound<'py, PyBytes>,
        Bound<'py, PyBytes>,
        Bound<'py, PyBytes>,
        Bound<'py, PyBytes>,
    )> {
        if actions.len() != 4 * self.actions.len() {
            return Err(value_error(format!(
                "actions: {} bytes, expected {} u32",
                actions.len(),
                self.actions.len()
            )));
        }
        for (a, b) in self.actions.iter_mut().zip(actions.chunks_exact(4)) {
            *a = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
        }
        self.batch
            .step(
                &self.actions,
                &mut self.states,
                &mut self.nodes,
                &mut self.rewards,
                &mut self.dones,
            )
            .map_err(value_error)?;
        Ok((
            to_bytes(py, &mut self.bytes, &self.states, f32::to_ne_bytes),
            to_bytes(py, &mut self.bytes, &self.nodes, u32::to_ne_bytes),
            to_bytes(py, &mut self.bytes, &self.rewards, f32::to_ne_bytes),
            PyBytes::new(py, &self.dones),
        ))
    }

    /// The pending decisions' ids (`u64[n]` bytes), after `reset` or `step`.
    fn decisions<'py>(&mut self, py: Python<'py>) -> Bound<'py, PyBytes> {
        to_bytes(
            py,
            &mut self.bytes,
            self.batch.decisions(),
            u64::to_ne_bytes,
        )
    }

    /// The last step's rewards by decision: `(offsets u32[n + 1], nodes u32[m], decisions u64[m],
    /// rewards f32[m])`, environment `i`'s at `offsets[i]..offsets[i + 1]`.
    #[allow(clippy::type_complexity, reason = "four arrays, named in the doc")]
    fn credits<'py>(
        &mut self,
        py: Python<'py>,
    ) -> (
        Bound<'py, PyBytes>,
        Bound<'py, PyBytes>,
        Bound<'py, PyBytes>,
        Bound<'py, PyBytes>,
    ) {
        let (offsets, credits) = self.batch.credits();
        let buf = &mut self.bytes;
        (
            to_bytes(py, buf, offsets, u32::to_ne_bytes),
            to_bytes(py, buf, credits, |c| c.node.to_ne_bytes()),
            to_bytes(py, buf, credits, |c| c.decision.to_ne_bytes()),
            to_bytes(py, buf, credits, |c| c.reward.to_ne_bytes()),
        )
    }

    /// The report (JSON text) of environment `i`'s last ended episode.
    fn report(&self, i: usize) -> Option<String> {
        self.batch.report(i).map(str::to_owned)
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(simulate, m)?)?;
    m.add_class::<VecCluster>()?;
    m.add("DEFAULT_SPEC", crate::runner::DEFAULT_SPEC)?;
    Ok(())
}
