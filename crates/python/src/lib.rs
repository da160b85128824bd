//! # vnetsim-python: the native module of the `vnetsim` Python package
//!
//! The top of the chain, beside the binary: it runs the same jobs (`vnetsim-jobs`) over the
//! same compiled fabric (`vnetsim-fabric`, `vnetsim-engine`) as the command line, and hands
//! results to Python as Arrow record batches through the Arrow C stream interface (a capsule
//! named `arrow_array_stream`, read by `pyarrow` without copying the buffers). Flow rows have
//! the columns and types of the command line's Parquet files (`vnetsim-report`).
//!
//! Every call that works (loading, compiling, walking) releases the interpreter lock, so other
//! Python threads run meanwhile. Errors become `ValueError`s carrying the command line's
//! messages (located: file, line, column) and are raised as `vnetsim.VnetsimError` by the
//! pure-Python layer. Nothing here prints.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow_array::ffi::{from_ffi, FFI_ArrowArray, FFI_ArrowSchema};
use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::{
    Array, BooleanArray, RecordBatch, RecordBatchIterator, StringArray, StructArray, UInt16Array,
    UInt32Array, UInt64Array, UInt8Array,
};
use arrow_schema::{ArrowError, DataType, Field, Schema};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;
use vnetsim_engine::replay::{build_table, AddressMap, FlowRecord, FlowTable};
use vnetsim_engine::{self as engine, AppProtocol};
use vnetsim_fabric::Fabric;
use vnetsim_jobs::{names, reach as jreach, reach_rows, shard::Shard, sweep as jsweep, Job};
use vnetsim_report::table;
use vnetsim_report::FlowRow;

mod flowlogs;

/// Topologies compiled by this process (what the Spark helper's tests count).
static COMPILES: AtomicU64 = AtomicU64::new(0);

/// Rows per record batch handed to Python: a bounded batch, whatever the job's size.
const BATCH_ROWS: usize = 64 * 1024;

fn err(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// Loads and validates a topology, or imports an import source (detected by content) with
/// the command line's default options, and compiles it.
fn load(path: &Path) -> Result<Fabric, String> {
    let v = if vnetsim_import::looks_like_import_source(path) {
        vnetsim_model::load_str(&path.display().to_string(), &imported_text(path)?)
    } else {
        vnetsim_model::load(path)
    }
    .map_err(|d| d.to_string())?;
    let f = vnetsim_fabric::compile(&v);
    COMPILES.fetch_add(1, Ordering::Relaxed);
    Ok(f)
}

/// The topology an import source maps to, with the command line's default options.
fn imported_text(path: &Path) -> Result<String, String> {
    let opts = vnetsim_import::ImportOptions::default();
    let imported = vnetsim_import::import(&[path.to_path_buf()], &opts).map_err(|e| {
        format!("{e}(to supply deploy-time values or template roots, run `vnetsim import` with --set or --template-root and use its output)\n")
    })?;
    Ok(imported.yaml)
}

/// The topology text a fabric was loaded from (what `why` re-reads and changes).
fn topology_text(path: &Path) -> Result<String, String> {
    if vnetsim_import::looks_like_import_source(path) {
        return imported_text(path);
    }
    let limits = vnetsim_model::limits::Limits::default();
    vnetsim_model::read::read_topology(path, &limits)
        .map_err(|e| format!("{}:{}: error: {}", path.display(), e.loc, e.message))
}

/// Batches as an Arrow C stream capsule.
fn stream<'py>(
    py: Python<'py>,
    schema: Arc<Schema>,
    batches: Vec<RecordBatch>,
) -> PyResult<Bound<'py, PyCapsule>> {
    let it = RecordBatchIterator::new(batches.into_iter().map(Ok::<_, ArrowError>), schema);
    let s = FFI_ArrowArrayStream::new(Box::new(it));
    PyCapsule::new_with_value(py, s, c"arrow_array_stream")
}

/// Flow rows as record batches of at most [`BATCH_ROWS`] rows.
fn row_batches(rows: &[FlowRow]) -> Result<Vec<RecordBatch>, String> {
    rows.chunks(BATCH_ROWS)
        .map(|c| vnetsim_report::arrow_batch(c).map_err(|e| e.to_string()))
        .collect()
}

fn rows_stream<'py>(py: Python<'py>, rows: &[FlowRow]) -> PyResult<Bound<'py, PyCapsule>> {
    let batches = py.detach(|| row_batches(rows)).map_err(err)?;
    stream(py, vnetsim_report::arrow_schema(), batches)
}

/// A record batch from an object with `__arrow_c_array__` (a `pyarrow.RecordBatch`).
fn import_batch(obj: &Bound<'_, PyAny>) -> PyResult<RecordBatch> {
    let (sc, ac): (Bound<'_, PyCapsule>, Bound<'_, PyCapsule>) =
        obj.call_method0("__arrow_c_array__")?.extract()?;
    let schema = sc
        .pointer_checked(Some(c"arrow_schema"))?
        .cast::<FFI_ArrowSchema>();
    let array = ac
        .pointer_checked(Some(c"arrow_array"))?
        .cast::<FFI_ArrowArray>();
    // SAFETY: the capsules hold an Arrow C schema and array (the C data interface); the array
    // is moved out (its release callback left to us), the schema only borrowed.
    let data = unsafe {
        let array = FFI_ArrowArray::from_raw(array.as_ptr());
        from_ffi(array, schema.as_ref())
    }
    .map_err(err)?;
    Ok(RecordBatch::from(StructArray::from(data)))
}

fn pool(threads: Option<usize>) -> Result<rayon::ThreadPool, String> {
    vnetsim_jobs::thread_pool(threads)
}

/// A compiled fabric. Immutable; safe to share between threads.
#[pyclass(frozen, module = "vnetsim._native", name = "Fabric")]
struct PyFabric {
    f: Arc<Fabric>,
    /// The file or import source it was loaded from.
    source: PathBuf,
}

#[pymethods]
impl PyFabric {
    /// Loads a topology (YAML or JSON) or an import source, validates and compiles it.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<PyFabric> {
        let f = py.detach(|| load(&path)).map_err(err)?;
        Ok(PyFabric {
            f: Arc::new(f),
            source: path,
        })
    }

    #[getter]
    fn name(&self) -> String {
        self.f.name.clone()
    }

    /// `vnetsim routes --json` of a subnet (`VNET/SUBNET`) or of a NIC's subnet.
    #[pyo3(signature = (subnet=None, nic=None))]
    fn routes_json(&self, subnet: Option<&str>, nic: Option<&str>) -> PyResult<String> {
        let f = &self.f;
        let s = match (subnet, nic) {
            (Some(s), None) => names::find_subnet(f, s),
            (None, Some(n)) => names::find_nic(f, n).map(|n| f.nics[n.ix()].subnet),
            _ => Err("error: give exactly one of subnet= or nic=".to_string()),
        }
        .map_err(err)?;
        Ok(vnetsim_jobs::watcher::routes_json(f, s).to_string())
    }

    /// `vnetsim rules --json` of a NIC.
    fn rules_json(&self, nic: &str) -> PyResult<String> {
        let n = names::find_nic(&self.f, nic).map_err(err)?;
        Ok(vnetsim_jobs::watcher::rules_json(&self.f, n).to_string())
    }

    /// `vnetsim trace --json`.
    #[pyo3(signature = (src, dst, protocol="Tcp", src_port=50000, dst_port=443, from_=None, fqdn=None, app_protocol=None))]
    #[allow(clippy::too_many_arguments)]
    fn trace_json(
        &self,
        py: Python<'_>,
        src: &str,
        dst: &str,
        protocol: &str,
        src_port: u16,
        dst_port: u16,
        from_: Option<&str>,
        fqdn: Option<&str>,
        app_protocol: Option<&str>,
    ) -> PyResult<String> {
        let f = &self.f;
        py.detach(|| {
            let app = app_protocol.map(names::parse_app_protocol).transpose()?;
            trace_json(
                f,
                src,
                dst,
                protocol,
                (src_port, dst_port),
                from_,
                fqdn,
                app,
            )
        })
        .map_err(err)
    }

    /// Cells in the sweep matrix of these selectors.
    fn sweep_len(&self, from_: Vec<String>, to: Vec<String>, ports: String) -> PyResult<u64> {
        let sel = jsweep::Selectors {
            from: from_,
            to,
            ports,
        };
        Ok(jsweep::matrix(&self.f, &sel).map_err(err)?.len())
    }

    /// `vnetsim sweep --out rows.parquet` as an Arrow stream: every cell, or the cells
    /// `cells` (start, end), or part `shard` ("I/N").
    #[pyo3(signature = (from_, to, ports, threads=None, cells=None, shard=None))]
    // The arguments are the method's keyword arguments in Python, which fewer would change.
    #[allow(clippy::too_many_arguments)]
    fn sweep<'py>(
        &self,
        py: Python<'py>,
        from_: Vec<String>,
        to: Vec<String>,
        ports: String,
        threads: Option<usize>,
        cells: Option<(u64, u64)>,
        shard: Option<&str>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let f = &self.f;
        let rows = py
            .detach(|| -> Result<Vec<FlowRow>, String> {
                let sel = jsweep::Selectors {
                    from: from_,
                    to,
                    ports,
                };
                let m = jsweep::matrix(f, &sel)?;
                let range = match (cells, shard) {
                    (Some((a, b)), _) => a..b,
                    (None, Some(s)) => Shard::parse(s)?.cells(m.len()),
                    (None, None) => 0..m.len(),
                };
                let pool = pool(threads)?;
                let job = Job {
                    pool: &pool,
                    progress: &|_| {},
                };
                let mut rows = Vec::new();
                let mut sink = jsweep::EachRow::new(|r| {
                    rows.push(r);
                    Ok(())
                });
                jsweep::sweep_rows(f, m, range, &job, false, &mut sink)?;
                Ok(rows)
            })
            .map_err(err)?;
        rows_stream(py, &rows)
    }

    /// `vnetsim reach --out regions.parquet` as an Arrow stream: every header from `from_` to
    /// `to` as regions, one row per line of each region, sources in order.
    #[pyo3(signature = (from_, to, protocol=None, ports=None, except_ports=None,
                        only_allowed=false, exposed=false, why=false, max_boxes=None,
                        threads=None))]
    #[allow(clippy::too_many_arguments)]
    fn reach<'py>(
        &self,
        py: Python<'py>,
        from_: Vec<String>,
        to: Vec<String>,
        protocol: Option<String>,
        ports: Option<String>,
        except_ports: Option<String>,
        only_allowed: bool,
        exposed: bool,
        why: bool,
        max_boxes: Option<usize>,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let (f, source) = (&self.f, &self.source);
        let (cols, batches) = py
            .detach(|| -> Result<_, String> {
                let mut q = jreach::Question::new(from_, to);
                (q.protocol, q.ports, q.except_ports) = (protocol, ports, except_ports);
                (q.only_allowed, q.exposed) = (only_allowed, exposed);
                q.max_boxes = max_boxes.unwrap_or(q.max_boxes);
                if why {
                    q.why = Some(jreach::WhyInput {
                        file: source.display().to_string(),
                        text: topology_text(source)?,
                    });
                }
                let plan = jreach::plan(f, &q)?;
                let pool = pool(threads)?;
                let job = Job {
                    pool: &pool,
                    progress: &|_| {},
                };
                let mut sink = reach_rows::CellSink::new(why);
                jreach::run(f, &q, &plan, &job, &mut [&mut sink])?;
                let cols = reach_rows::columns(why);
                let schema = table::arrow_schema(cols);
                let batches = sink
                    .rows
                    .chunks(BATCH_ROWS)
                    .map(|c| table::record_batch(schema.clone(), cols, c))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| e.to_string())?;
                Ok((schema, batches))
            })
            .map_err(err)?;
        stream(py, cols, batches)
    }

    /// `vnetsim diff --json` of this fabric (old) against `other` (new).
    #[pyo3(signature = (other, from_, to, ports, threads=None))]
    fn diff_json(
        &self,
        py: Python<'_>,
        other: &PyFabric,
        from_: Vec<String>,
        to: Vec<String>,
        ports: String,
        threads: Option<usize>,
    ) -> PyResult<String> {
        let (old, new) = (&self.f, &other.f);
        py.detach(|| -> Result<String, String> {
            let sel = jsweep::Selectors {
                from: from_,
                to,
                ports,
            };
            let pool = pool(threads)?;
            let job = Job {
                pool: &pool,
                progress: &|_| {},
            };
            let d = vnetsim_jobs::diff::diff(old, new, &sel, &job)?;
            let items: Vec<serde_json::Value> = d
                .changes
                .iter()
                .map(vnetsim_jobs::diff::change_json)
                .collect();
            Ok(serde_json::json!({ "flows": d.flows, "changed": items }).to_string())
        })
        .map_err(err)
    }

    /// `vnetsim replay CAPTURES --out rows.parquet` as an Arrow stream.
    #[pyo3(signature = (captures, from_=None, threads=None, shard=None))]
    fn replay<'py>(
        &self,
        py: Python<'py>,
        captures: Vec<PathBuf>,
        from_: Option<String>,
        threads: Option<usize>,
        shard: Option<&str>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let f = &self.f;
        let rows = py
            .detach(|| -> Result<Vec<FlowRow>, String> {
                let pool = pool(threads)?;
                let tables = pool.current_num_threads();
                let mut table = capture_table(f, &captures, from_.as_deref(), tables)?;
                if let Some(s) = shard {
                    let s = Shard::parse(s)?;
                    table.retain_shard(s.index, s.count);
                }
                let job = Job {
                    pool: &pool,
                    progress: &|_| {},
                };
                let paths: Vec<&Path> = captures.iter().map(|p| p.as_path()).collect();
                let (_, fates) = vnetsim_jobs::replay::walk(f, &table, &paths, true, &job);
                Ok(fates.into_iter().map(|x| x.row).collect())
            })
            .map_err(err)?;
        rows_stream(py, &rows)
    }

    /// The flow table of captures (pass one of replay), one row per flow: what a distributed
    /// replay partitions and hands to [`PyFabric::walk_flows`].
    #[pyo3(signature = (captures, from_=None))]
    fn flow_table<'py>(
        &self,
        py: Python<'py>,
        captures: Vec<PathBuf>,
        from_: Option<String>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let f = &self.f;
        let batch = py
            .detach(|| -> Result<RecordBatch, String> {
                let t = capture_table(f, &captures, from_.as_deref(), 1)?;
                flow_table_batch(f, &t.flows.iter().collect::<Vec<_>>()).map_err(|e| e.to_string())
            })
            .map_err(err)?;
        stream(py, batch.schema(), vec![batch])
    }

    /// `vnetsim replay LOGS --out rows.parquet` for flow logs (blobs, folders as stored, JSON
    /// lines, gzip): one row per logged flow.
    #[pyo3(signature = (logs, threads=None))]
    fn replay_flow_logs<'py>(
        &self,
        py: Python<'py>,
        logs: Vec<PathBuf>,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let f = &self.f;
        let out = py
            .detach(|| -> Result<RecordBatch, String> {
                let pool = pool(threads)?;
                let job = Job {
                    pool: &pool,
                    progress: &|_| {},
                };
                flowlogs::replay(f, &logs, &job)
            })
            .map_err(err)?;
        stream(py, out.schema(), vec![out])
    }

    /// Partial flows (rows of `flow_log_partials`, any split of them) merged and judged into
    /// the rows `vnetsim replay LOGS --out` writes for those flows.
    #[pyo3(signature = (batches, threads=None))]
    fn judge_flow_log_partials<'py>(
        &self,
        py: Python<'py>,
        batches: Vec<Bound<'py, PyAny>>,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let batches: Vec<RecordBatch> =
            batches.iter().map(import_batch).collect::<PyResult<_>>()?;
        let f = &self.f;
        let out = py
            .detach(|| -> Result<RecordBatch, String> {
                let pool = pool(threads)?;
                let job = Job {
                    pool: &pool,
                    progress: &|_| {},
                };
                flowlogs::judge(f, &batches, &job)
            })
            .map_err(err)?;
        stream(py, out.schema(), vec![out])
    }

    /// Walks the flows of a flow-table batch (the columns of [`PyFabric::flow_table`]) into
    /// replay's flow rows; `captures` names the capture files the `capture` column indexes.
    #[pyo3(signature = (batch, captures, threads=None))]
    fn walk_flows<'py>(
        &self,
        py: Python<'py>,
        batch: &Bound<'py, PyAny>,
        captures: Vec<PathBuf>,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let batch = import_batch(batch)?;
        let f = &self.f;
        let rows = py
            .detach(|| -> Result<Vec<FlowRow>, String> {
                let mut table = FlowTable::default();
                table.flows = flow_records(f, &batch)?.into();
                let pool = pool(threads)?;
                let job = Job {
                    pool: &pool,
                    progress: &|_| {},
                };
                let paths: Vec<&Path> = captures.iter().map(|p| p.as_path()).collect();
                let (_, fates) = vnetsim_jobs::replay::walk(f, &table, &paths, true, &job);
                Ok(fates.into_iter().map(|x| x.row).collect())
            })
            .map_err(err)?;
        rows_stream(py, &rows)
    }
}

/// Pass one over `captures`, with `tables` table threads beside the reader.
fn capture_table(
    f: &Fabric,
    captures: &[PathBuf],
    from: Option<&str>,
    tables: usize,
) -> Result<FlowTable, String> {
    let from = from.map(|e| names::parse_endpoint(f, e)).transpose()?;
    let paths: Vec<&Path> = captures.iter().map(|p| p.as_path()).collect();
    build_table(f, &paths, from, &AddressMap::default(), tables, &|_| {})
        .map_err(|e| format!("error: {e}"))
}

/// The command line's `trace`: names resolved, the ingress found, the flow walked.
#[allow(clippy::too_many_arguments)]
fn trace_json(
    f: &Fabric,
    src: &str,
    dst: &str,
    protocol: &str,
    ports: (u16, u16),
    from: Option<&str>,
    fqdn: Option<&str>,
    app: Option<AppProtocol>,
) -> Result<String, String> {
    let proto = names::parse_protocol(protocol)?;
    let (sport, dport) = if proto == engine::ICMP { (0, 0) } else { ports };
    let named = |s: &str, what: &str| {
        names::resolve_address(f, s).map_err(|e| format!("error: {what}: {e}"))
    };
    let (src, dst) = (named(src, "src")?, named(dst, "dst")?);
    let flow = engine::Flow {
        src: src.addr,
        dst: dst.addr,
        proto,
        sport,
        dport,
    };
    let ingress = match (from, src.endpoint) {
        (Some(e), _) => names::parse_endpoint(f, e)?,
        (None, Some(e)) => e,
        (None, None) => names::source_endpoint(f, flow.src)?,
    };
    let given = fqdn
        .map(str::to_string)
        .or(dst.fqdn)
        .map(|s| s.to_ascii_lowercase());
    let l7 = names::flow_l7(f, &flow, given.as_deref(), app);
    let mut scratch = engine::Scratch::new();
    let t = engine::trace(f, flow, ingress, l7, &mut scratch);
    Ok(engine::render::trace_json(f, &scratch, &t, l7).to_string())
}

/// The flow table's columns: the 5-tuple (ports as the flow is walked; ICMP 0), where the flow
/// entered, whether it was first seen mid-stream, its name hint, and what the capture saw.
fn flow_table_schema() -> Schema {
    let n = |name: &str, t: DataType, nullable: bool| Field::new(name, t, nullable);
    Schema::new(vec![
        n("src", DataType::UInt32, false),
        n("dst", DataType::UInt32, false),
        n("protocol", DataType::UInt8, false),
        n("srcPort", DataType::UInt16, false),
        n("dstPort", DataType::UInt16, false),
        n("ingress", DataType::Utf8, false),
        n("midstream", DataType::Boolean, false),
        n("fqdn", DataType::Utf8, true),
        n("appProtocol", DataType::Utf8, true),
        n("capture", DataType::UInt32, false),
        n("firstTsNs", DataType::UInt64, false),
        n("lastTsNs", DataType::UInt64, false),
        n("requestPackets", DataType::UInt64, false),
        n("requestBytes", DataType::UInt64, false),
        n("replyPackets", DataType::UInt64, false),
        n("replyBytes", DataType::UInt64, false),
    ])
}

fn app_name(p: AppProtocol) -> &'static str {
    match p {
        AppProtocol::Http => "Http",
        AppProtocol::Https => "Https",
        AppProtocol::Mssql => "Mssql",
    }
}

fn flow_table_batch(f: &Fabric, flows: &[&FlowRecord]) -> Result<RecordBatch, ArrowError> {
    let u64s = |g: fn(&FlowRecord) -> u64| -> Arc<dyn Array> {
        Arc::new(flows.iter().copied().map(g).collect::<UInt64Array>())
    };
    let cols: Vec<Arc<dyn Array>> = vec![
        Arc::new(flows.iter().map(|r| r.flow.src).collect::<UInt32Array>()),
        Arc::new(flows.iter().map(|r| r.flow.dst).collect::<UInt32Array>()),
        Arc::new(flows.iter().map(|r| r.flow.proto).collect::<UInt8Array>()),
        Arc::new(flows.iter().map(|r| r.flow.sport).collect::<UInt16Array>()),
        Arc::new(flows.iter().map(|r| r.flow.dport).collect::<UInt16Array>()),
        Arc::new(StringArray::from_iter_values(
            flows.iter().map(|r| f.endpoint_id(r.ingress)),
        )),
        Arc::new(
            flows
                .iter()
                .map(|r| Some(r.midstream))
                .collect::<BooleanArray>(),
        ),
        Arc::new(
            flows
                .iter()
                .map(|r| r.hint.as_ref().map(|h| h.0.as_str()))
                .collect::<StringArray>(),
        ),
        Arc::new(
            flows
                .iter()
                .map(|r| r.hint.as_ref().map(|h| app_name(h.1)))
                .collect::<StringArray>(),
        ),
        Arc::new(flows.iter().map(|r| r.capture).collect::<UInt32Array>()),
        u64s(|r| r.first_ts_ns),
        u64s(|r| r.last_ts_ns),
        u64s(|r| r.request_packets),
        u64s(|r| r.request_bytes),
        u64s(|r| r.reply_packets),
        u64s(|r| r.reply_bytes),
    ];
    RecordBatch::try_new(Arc::new(flow_table_schema()), cols)
}

fn column<'a, T: 'static>(b: &'a RecordBatch, name: &str) -> Result<&'a T, String> {
    let want = flow_table_schema();
    let ty = want
        .field_with_name(name)
        .map(|f| f.data_type().clone())
        .ok();
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| {
            format!("error: flow table: column '{name}' missing or not of type {ty:?} (the columns of Fabric.flow_table)")
        })
}

/// Flow records from a flow-table batch.
fn flow_records(f: &Fabric, b: &RecordBatch) -> Result<Vec<FlowRecord>, String> {
    let src = column::<UInt32Array>(b, "src")?;
    let dst = column::<UInt32Array>(b, "dst")?;
    let proto = column::<UInt8Array>(b, "protocol")?;
    let sport = column::<UInt16Array>(b, "srcPort")?;
    let dport = column::<UInt16Array>(b, "dstPort")?;
    let ingress = column::<StringArray>(b, "ingress")?;
    let mid = column::<BooleanArray>(b, "midstream")?;
    let fqdn = column::<StringArray>(b, "fqdn")?;
    let app = column::<StringArray>(b, "appProtocol")?;
    let capture = column::<UInt32Array>(b, "capture")?;
    let u = |n: &str| column::<UInt64Array>(b, n);
    let (t0, t1) = (u("firstTsNs")?, u("lastTsNs")?);
    let (qp, qb, rp, rb) = (
        u("requestPackets")?,
        u("requestBytes")?,
        u("replyPackets")?,
        u("replyBytes")?,
    );
    let mut out = Vec::with_capacity(b.num_rows());
    for i in 0..b.num_rows() {
        let flow = engine::Flow {
            src: src.value(i),
            dst: dst.value(i),
            proto: proto.value(i),
            sport: sport.value(i),
            dport: dport.value(i),
        };
        let at = |e: String| format!("flow table row {}: {e}", i + 1);
        let e = names::parse_endpoint(f, ingress.value(i)).map_err(at)?;
        let mut r = FlowRecord::new(f, flow, e, mid.value(i));
        if fqdn.is_valid(i) {
            let p = match app.is_valid(i).then(|| app.value(i)) {
                Some(s) => names::parse_app_protocol(s).map_err(at)?,
                None => AppProtocol::Https,
            };
            r.hint = Some((fqdn.value(i).to_string(), p));
        }
        r.capture = capture.value(i);
        (r.first_ts_ns, r.last_ts_ns) = (t0.value(i), t1.value(i));
        (r.request_packets, r.request_bytes) = (qp.value(i), qb.value(i));
        (r.reply_packets, r.reply_bytes) = (rp.value(i), rb.value(i));
        out.push(r);
    }
    Ok(out)
}

/// One flow-log blob's bytes folded into partial flows (`name` is its path in the rows).
#[pyfunction]
fn flow_log_partials<'py>(
    py: Python<'py>,
    name: String,
    content: Vec<u8>,
) -> PyResult<Bound<'py, PyCapsule>> {
    let batch = py
        .detach(|| flowlogs::partials(&name, &content))
        .map_err(err)?;
    stream(py, batch.schema(), vec![batch])
}

/// Topologies this process has compiled so far.
#[pyfunction]
fn compile_count() -> u64 {
    COMPILES.load(Ordering::Relaxed)
}

/// An empty stream with the flow rows' schema (the command line's Parquet columns).
#[pyfunction]
fn flow_row_schema(py: Python<'_>) -> PyResult<Bound<'_, PyCapsule>> {
    stream(py, vnetsim_report::arrow_schema(), Vec::new())
}

/// 64-bit FNV-1a shard of a flow's canonical bidirectional 5-tuple (`replay --shard`).
#[pyfunction]
fn flow_shard(src: u32, dst: u32, protocol: u8, src_port: u16, dst_port: u16, count: u32) -> u32 {
    engine::replay::flow_shard(src, dst, protocol, src_port, dst_port, count)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyFabric>()?;
    m.add_function(wrap_pyfunction!(compile_count, m)?)?;
    m.add_function(wrap_pyfunction!(flow_row_schema, m)?)?;
    m.add_function(wrap_pyfunction!(flow_shard, m)?)?;
    m.add_function(wrap_pyfunction!(flow_log_partials, m)?)?;
    Ok(())
}
