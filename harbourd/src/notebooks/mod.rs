//! Notebooks: `.ipynb` files the daemon owns ([`store`], [`nbformat`]), their Jupyter kernels
//! ([`kernel`] starts one, [`runner`] feeds it the queued cells and writes the outputs back),
//! and the operations the API calls ([`Notebooks`]).
//!
//! Every open notebook is a [`Doc`]: its parsed file, what it knows of the file on disk, its
//! execution queue and kernel state, behind one async lock, plus a version that clients
//! long-poll. A change from any side (an edit, an output, a kernel state) bumps the version.
//! A file changed on disk by another program is reloaded before the next operation; when
//! Harbour holds outputs it has not written yet, its copy is saved beside the file and the
//! error says where, so nothing is overwritten silently.
//!
//! Writing the file (an fsync or two) never holds the document's lock: a write takes a
//! numbered snapshot under the lock, then writes it under the document's *file* lock, which
//! orders writes and skips a snapshot older than one already written. Edits answer once their
//! snapshot is on disk; a kernel's outputs are written in the background ([`Notebooks::save_soon`]),
//! so neither the next cell nor a client reading the notebook waits for the disk. Lock order:
//! file, then state; whoever holds the state lock only ever `try_lock`s the file.

pub mod kernel;
pub mod nbformat;
pub mod runner;
pub mod store;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::{Duration, Instant};

use harbour_shared::{
    Cell, CellEdit, CellKind, Error, ExecState, KernelInfo, KernelState, Notebook as NotebookView,
    NotebookSpec, NotebookSummary, NotebookVersion, RunCells,
};
use tokio::sync::{Mutex, Notify, watch};
use tokio_util::sync::CancellationToken;

use crate::clock::now_ms;
use crate::spark::Spark;
use crate::store::Store;
use nbformat::Notebook;
use store::Stamp;

/// What the notebooks need from the daemon's config.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    /// The Python to run kernels with when there is no Spark runtime.
    pub python: PathBuf,
    /// Kernels idle this long are stopped; zero keeps them.
    pub idle_cull: Duration,
    /// `[runs.limits]` as `exec-run` arguments, which kernels start under too.
    pub limits: Vec<String>,
}

#[derive(Debug)]
pub struct Notebooks {
    dir: PathBuf,
    kernel_dir: PathBuf,
    store: Store,
    spark: Arc<Spark>,
    settings: Settings,
    open: SyncMutex<HashMap<String, Arc<Doc>>>,
    /// Serializes create, rename, import and delete, so names stay unique.
    names: Mutex<()>,
    next_version: AtomicU64,
    shutdown: CancellationToken,
}

#[derive(Debug)]
pub struct Doc {
    pub state: Arc<Mutex<DocState>>,
    pub version: watch::Sender<NotebookVersion>,
    /// Held while the file is checked or written (see the module's doc for the lock order).
    pub file: Mutex<FileState>,
    /// A background save is on its way.
    save_queued: AtomicBool,
}

impl Doc {
    fn new(st: DocState, file: FileState, version: NotebookVersion) -> Self {
        Self {
            state: Arc::new(Mutex::new(st)),
            version: watch::Sender::new(version),
            file: Mutex::new(file),
            save_queued: AtomicBool::new(false),
        }
    }
}

/// What Harbour knows of the file.
#[derive(Debug, Default)]
pub struct FileState {
    /// The file as Harbour last read or wrote it.
    pub stamp: Option<Stamp>,
    /// The snapshot the file holds.
    pub written: u64,
}

/// The document as it is to be written.
#[derive(Debug)]
struct Snapshot {
    seq: u64,
    text: String,
    row: store::Row,
}

/// Why a snapshot was not written.
enum WriteError {
    /// Another program changed the file: its text and stamp.
    Changed(String, Stamp),
    Failed(Error),
}

#[derive(Debug)]
pub struct DocState {
    pub name: String,
    pub cluster: Option<String>,
    pub nb: Notebook,
    /// Changes in memory since the last snapshot.
    pub dirty: bool,
    /// Snapshots taken so far (each write's number).
    pub snapshots: u64,
    pub created_ms: i64,
    pub modified_ms: i64,
    pub exec: HashMap<String, ExecState>,
    pub queue: VecDeque<String>,
    pub kernel: KernelSlot,
    pub deleted: bool,
}

#[derive(Debug)]
pub struct KernelSlot {
    pub state: KernelState,
    pub pid: Option<u32>,
    pub execution_count: u32,
    pub message: Option<String>,
    /// Which kernel the runner task drives; a runner whose generation is stale stops.
    pub generation: u64,
    pub stop: Option<CancellationToken>,
    pub wake: Arc<Notify>,
    pub last_active: Instant,
}

impl Default for KernelSlot {
    fn default() -> Self {
        Self {
            state: KernelState::Stopped,
            pid: None,
            execution_count: 0,
            message: None,
            generation: 0,
            stop: None,
            wake: Arc::new(Notify::new()),
            last_active: Instant::now(),
        }
    }
}

impl DocState {
    /// Marks queued cells cancelled and empties the queue.
    pub fn cancel_queue(&mut self) {
        for id in self.queue.drain(..) {
            self.exec.insert(id, ExecState::Cancelled);
        }
    }

    fn kernel_info(&self) -> KernelInfo {
        KernelInfo {
            state: self.kernel.state.clone(),
            pid: self.kernel.pid,
            execution_count: self.kernel.execution_count,
            queued: u32::try_from(self.queue.len()).unwrap_or(u32::MAX),
            cluster: self.cluster.clone(),
            message: self.kernel.message.clone(),
        }
    }

    fn view(&self, version: NotebookVersion) -> NotebookView {
        NotebookView {
            name: self.name.clone(),
            cluster: self.cluster.clone(),
            version,
            modified_ms: self.modified_ms,
            kernel: self.kernel_info(),
            cells: self
                .nb
                .cells
                .iter()
                .map(|c| Cell {
                    id: c.id.clone(),
                    kind: c.kind,
                    source: c.source.clone(),
                    execution_count: c.execution_count.and_then(|n| u32::try_from(n).ok()),
                    outputs: c.outputs.iter().map(nbformat::output_view).collect(),
                    state: self.exec.get(&c.id).copied(),
                })
                .collect(),
        }
    }

    /// What to write now; the document is clean from here on.
    fn snapshot(&mut self) -> Snapshot {
        self.snapshots += 1;
        self.dirty = false;
        self.modified_ms = now_ms();
        Snapshot {
            seq: self.snapshots,
            text: self.nb.to_ipynb(),
            row: store::Row {
                name: self.name.clone(),
                cluster: self.cluster.clone(),
                created_ms: self.created_ms,
                modified_ms: self.modified_ms,
                cells: u32::try_from(self.nb.cells.len()).unwrap_or(u32::MAX),
            },
        }
    }

    fn summary(&self, version: NotebookVersion) -> NotebookSummary {
        NotebookSummary {
            name: self.name.clone(),
            cells: u32::try_from(self.nb.cells.len()).unwrap_or(u32::MAX),
            cluster: self.cluster.clone(),
            kernel: self.kernel.state.clone(),
            modified_ms: self.modified_ms,
            version,
        }
    }
}

fn not_found(name: &str) -> Error {
    Error::not_found(
        format!("notebook '{name}'"),
        "`harbour nb list` shows the notebooks there are",
    )
}

fn io_error(what: &str, e: impl std::fmt::Display) -> Error {
    crate::api::internal(format!("{what}: {e}"))
}

/// Notebook names: like cluster names, so they are safe file names.
pub fn valid_name(field: &str, name: &str) -> Result<(), Error> {
    crate::spark::valid_name(field, name)
}

impl Notebooks {
    pub fn new(
        store: Store,
        spark: Arc<Spark>,
        settings: Settings,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        let micros = u64::try_from(now_ms()).unwrap_or(0) * 1000;
        Arc::new(Self {
            dir: settings.data_dir.join("notebooks"),
            kernel_dir: settings.data_dir.join("kernels"),
            store,
            spark,
            settings,
            open: SyncMutex::new(HashMap::new()),
            names: Mutex::new(()),
            // Versions start at the boot time in microseconds, so a client's version from an
            // earlier daemon is always older.
            next_version: AtomicU64::new(micros),
            shutdown,
        })
    }

    /// Stops idle kernels every so often, until shutdown.
    pub async fn cull_idle(self: Arc<Self>) {
        let cull = self.settings.idle_cull;
        if cull.is_zero() {
            return;
        }
        let every = (cull / 4).clamp(Duration::from_millis(200), Duration::from_secs(30));
        loop {
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
            for doc in self.open_docs() {
                let mut st = doc.state.lock().await;
                if st.kernel.state == KernelState::Idle
                    && st.queue.is_empty()
                    && st.kernel.last_active.elapsed() >= cull
                {
                    tracing::info!(notebook = %st.name, "stopping its kernel: idle for {cull:?}");
                    stop_kernel(&mut st);
                    st.kernel.message = Some(format!(
                        "kernel stopped after {}s idle; running a cell starts a new one",
                        cull.as_secs()
                    ));
                    drop(st);
                    self.bump(&doc);
                }
            }
        }
    }

    fn open_docs(&self) -> Vec<Arc<Doc>> {
        self.open
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    pub fn bump(&self, doc: &Doc) -> NotebookVersion {
        let v = self.next_version.fetch_add(1, Ordering::Relaxed) + 1;
        doc.version.send_replace(v);
        v
    }

    fn path(&self, name: &str) -> PathBuf {
        store::file_of(&self.dir, name)
    }

    fn cached(&self, name: &str) -> Option<Arc<Doc>> {
        self.open.lock().ok()?.get(name).cloned()
    }

    /// The open document, loading it from its file the first time.
    async fn doc(&self, name: &str) -> Result<Arc<Doc>, Error> {
        if let Some(doc) = self.cached(name) {
            return Ok(doc);
        }
        valid_name("name", name)?;
        let n = name.to_owned();
        let row = self
            .store
            .call(move |c| store::get(c, &n))
            .await
            .map_err(crate::api::internal)?
            .ok_or_else(|| not_found(name))?;
        let path = self.path(name);
        let read = tokio::task::spawn_blocking(move || store::read(&path))
            .await
            .map_err(crate::api::internal)?;
        let (text, stamp) = read.map_err(|e| {
            Error::unavailable(
                format!("notebook '{name}'"),
                format!("its file cannot be read ({e}); `harbour nb delete {name}` forgets it"),
            )
        })?;
        let nb = Notebook::parse(&text).map_err(|e| {
            Error::conflict(format!(
                "notebook '{name}' was changed on disk and no longer parses: {e}; fix the file \
                 or `harbour nb delete {name}`"
            ))
        })?;
        let doc = Arc::new(Doc::new(
            DocState {
                name: name.to_owned(),
                cluster: row.cluster,
                nb,
                dirty: false,
                snapshots: 0,
                created_ms: row.created_ms,
                modified_ms: row.modified_ms,
                exec: HashMap::new(),
                queue: VecDeque::new(),
                kernel: KernelSlot::default(),
                deleted: false,
            },
            FileState {
                stamp: Some(stamp),
                written: 0,
            },
            self.next_version.fetch_add(1, Ordering::Relaxed) + 1,
        ));
        let mut open = self
            .open
            .lock()
            .map_err(|_| crate::api::internal("notebook map poisoned"))?;
        Ok(open.entry(name.to_owned()).or_insert(doc).clone())
    }

    /// Locks an open document after checking its file: a change on disk is loaded.
    async fn lock(
        &self,
        name: &str,
    ) -> Result<(Arc<Doc>, tokio::sync::OwnedMutexGuard<DocState>), Error> {
        let doc = self.doc(name).await?;
        let mut guard = doc.state.clone().lock_owned().await;
        if guard.deleted {
            return Err(not_found(name));
        }
        if self.refresh(&doc, &mut guard).await? {
            self.bump(&doc);
        }
        Ok((doc, guard))
    }

    /// Loads the file if another program changed it. Answers whether it did. Skipped while
    /// Harbour writes the file (that write checks the file itself).
    async fn refresh(&self, doc: &Doc, st: &mut DocState) -> Result<bool, Error> {
        let Ok(mut file) = doc.file.try_lock() else {
            return Ok(false);
        };
        let Some(stamp) = file.stamp else {
            return Ok(false);
        };
        let path = self.path(&st.name);
        let changed = tokio::task::spawn_blocking(move || store::changed(&path, &stamp))
            .await
            .map_err(crate::api::internal)?
            .map_err(|e| io_error("reading a notebook file", e))?;
        let Some((text, new_stamp)) = changed else {
            return Ok(false);
        };
        let Some(new_stamp) = new_stamp else {
            // Removed behind our back: write it again rather than lose it.
            tracing::warn!(notebook = %st.name, "its file was removed on disk; writing it again");
            file.stamp = None;
            let snap = st.snapshot();
            match self.write(&mut file, snap).await {
                Ok(()) => return Ok(true),
                Err(WriteError::Failed(e)) => return Err(e),
                Err(WriteError::Changed(text, stamp)) => {
                    return Err(self.conflict(&mut file, st, &text, stamp).await);
                }
            }
        };
        if st.dirty {
            return Err(self.conflict(&mut file, st, &text, new_stamp).await);
        }
        self.load_text(&mut file, st, &text, new_stamp)?;
        tracing::info!(notebook = %st.name, "reloaded: its file was changed on disk");
        Ok(true)
    }

    /// The file changed on disk while Harbour had changes it had not written: Harbour's copy
    /// goes beside the file and the file's version is loaded. Answers the error that says so.
    async fn conflict(
        &self,
        file: &mut FileState,
        st: &mut DocState,
        text: &str,
        stamp: Stamp,
    ) -> Error {
        let kept = match self.keep_conflict(st).await {
            Ok(kept) => kept,
            Err(e) => return e,
        };
        // Every snapshot taken so far is older than what is loaded now.
        file.written = st.snapshots;
        st.dirty = false;
        if let Err(e) = self.load_text(file, st, text, stamp) {
            return e;
        }
        Error::conflict(format!(
            "notebook '{}' was changed on disk by another program while Harbour had changes \
             it had not written; the file's version is loaded now and Harbour's copy was saved \
             as {kept}",
            st.name
        ))
    }

    fn load_text(
        &self,
        file: &mut FileState,
        st: &mut DocState,
        text: &str,
        stamp: Stamp,
    ) -> Result<(), Error> {
        let nb = Notebook::parse(text).map_err(|e| {
            Error::conflict(format!(
                "notebook '{}' was changed on disk and no longer parses: {e}; fix the file \
                 (Harbour will load it) or `harbour nb delete {}`",
                st.name, st.name
            ))
        })?;
        st.exec.retain(|id, _| nb.cell_index(id).is_some());
        st.nb = nb;
        file.stamp = Some(stamp);
        st.modified_ms = now_ms();
        Ok(())
    }

    /// Writes Harbour's copy beside the file, for a conflict; answers its path.
    async fn keep_conflict(&self, st: &DocState) -> Result<String, Error> {
        let path = self
            .dir
            .join(format!("{}.ipynb.conflict-{}", st.name, now_ms()));
        let text = st.nb.to_ipynb();
        let p = path.clone();
        tokio::task::spawn_blocking(move || store::write_atomic(&p, &text))
            .await
            .map_err(crate::api::internal)?
            .map_err(|e| io_error("saving a conflict copy", e))?;
        Ok(path.display().to_string())
    }

    /// Writes a snapshot and its index row, unless a later snapshot is written already. A
    /// file another program changed since Harbour last saw it is not overwritten.
    async fn write(&self, file: &mut FileState, snap: Snapshot) -> Result<(), WriteError> {
        if snap.seq <= file.written {
            return Ok(());
        }
        let path = self.path(&snap.row.name);
        let expected = file.stamp;
        let text = snap.text;
        let outcome = tokio::task::spawn_blocking(move || {
            if let Some(stamp) = expected
                && let Some((disk, Some(disk_stamp))) = store::changed(&path, &stamp)?
            {
                return Ok::<_, std::io::Error>(Err((disk, disk_stamp)));
            }
            store::write_atomic(&path, &text).map(Ok)
        })
        .await
        .map_err(|e| WriteError::Failed(crate::api::internal(e)))?
        .map_err(|e| WriteError::Failed(io_error("writing a notebook file", e)))?;
        let stamp = outcome.map_err(|(disk, stamp)| WriteError::Changed(disk, stamp))?;
        file.stamp = Some(stamp);
        file.written = snap.seq;
        let row = snap.row;
        self.store
            .call(move |c| store::upsert(c, &row))
            .await
            .map_err(|e| WriteError::Failed(crate::api::internal(e)))
    }

    /// Writes what the document holds now and waits for it: for edits, which answer once
    /// they are on disk. The caller holds no lock on the document.
    async fn save_now(&self, doc: &Doc, mut snap: Snapshot) -> Result<(), Error> {
        let mut file = doc.file.lock().await;
        {
            // Renamed or deleted since the snapshot was taken?
            let st = doc.state.lock().await;
            if st.deleted {
                return Ok(());
            }
            snap.row.name.clone_from(&st.name);
        }
        match self.write(&mut file, snap).await {
            Ok(()) => Ok(()),
            Err(WriteError::Failed(e)) => Err(e),
            Err(WriteError::Changed(text, stamp)) => {
                let mut st = doc.state.lock().await;
                let e = self.conflict(&mut file, &mut st, &text, stamp).await;
                drop(st);
                self.bump(doc);
                Err(e)
            }
        }
    }

    /// Writes the document if it changed since its last snapshot, and waits for it. A
    /// failure is the kernel's message (there is no caller to tell).
    pub async fn flush(&self, doc: &Doc) {
        let mut file = doc.file.lock().await;
        // Changes from here on need another save.
        doc.save_queued.store(false, Ordering::SeqCst);
        let snap = {
            let mut st = doc.state.lock().await;
            if !st.dirty || st.deleted {
                return;
            }
            st.snapshot()
        };
        match self.write(&mut file, snap).await {
            Ok(()) => return,
            Err(WriteError::Failed(e)) => {
                let mut st = doc.state.lock().await;
                tracing::warn!(notebook = %st.name, "outputs not saved: {e}");
                st.dirty = true;
                st.kernel.message = Some(e.to_string());
            }
            Err(WriteError::Changed(text, stamp)) => {
                let mut st = doc.state.lock().await;
                let e = self.conflict(&mut file, &mut st, &text, stamp).await;
                tracing::warn!(notebook = %st.name, "{e}");
                st.kernel.message = Some(e.to_string());
            }
        }
        self.bump(doc);
    }

    /// Writes the document soon, in the background: a kernel's outputs. At most one such
    /// save waits at a time; it writes whatever the document holds when its turn comes.
    pub fn save_soon(self: &Arc<Self>, doc: &Arc<Doc>) {
        if doc.save_queued.swap(true, Ordering::SeqCst) {
            return;
        }
        let (nbs, doc) = (self.clone(), doc.clone());
        tokio::spawn(async move { nbs.flush(&doc).await });
    }

    // --- operations (the API's) ---

    pub async fn list(&self) -> Result<Vec<NotebookSummary>, Error> {
        self.adopt_files().await?;
        let rows = self
            .store
            .call(|c| store::list(c))
            .await
            .map_err(crate::api::internal)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(doc) = self.cached(&row.name) {
                let st = doc.state.lock().await;
                if !st.deleted {
                    out.push(st.summary(*doc.version.borrow()));
                }
                continue;
            }
            out.push(NotebookSummary {
                name: row.name,
                cells: row.cells,
                cluster: row.cluster,
                kernel: KernelState::Stopped,
                modified_ms: row.modified_ms,
                version: 0,
            });
        }
        Ok(out)
    }

    /// Indexes `.ipynb` files put into the notebooks directory by hand.
    async fn adopt_files(&self) -> Result<(), Error> {
        let dir = self.dir.clone();
        let names: Vec<String> = tokio::task::spawn_blocking(move || {
            std::fs::read_dir(&dir)
                .map(|entries| {
                    entries
                        .filter_map(Result::ok)
                        .filter_map(|e| {
                            let name = e.file_name().to_string_lossy().into_owned();
                            name.strip_suffix(".ipynb").map(str::to_owned)
                        })
                        .filter(|n| valid_name("name", n).is_ok())
                        .collect()
                })
                .unwrap_or_default()
        })
        .await
        .map_err(crate::api::internal)?;
        if names.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        self.store
            .call(move |c| {
                for name in names {
                    if store::get(c, &name)?.is_none() {
                        tracing::info!(notebook = %name, "indexing a notebook file found on disk");
                        store::upsert(
                            c,
                            &store::Row {
                                name,
                                cluster: None,
                                created_ms: now,
                                modified_ms: now,
                                cells: 0,
                            },
                        )?;
                    }
                }
                Ok(())
            })
            .await
            .map_err(crate::api::internal)
    }

    async fn check_cluster(&self, cluster: &Option<String>) -> Result<(), Error> {
        if let Some(c) = cluster {
            self.spark.get_cluster(c).await?;
        }
        Ok(())
    }

    /// Makes a new notebook from `nb`, refusing a name in use.
    async fn add(
        &self,
        name: String,
        cluster: Option<String>,
        nb: Notebook,
    ) -> Result<NotebookView, Error> {
        valid_name("name", &name)?;
        self.check_cluster(&cluster).await?;
        let _names = self.names.lock().await;
        let n = name.clone();
        let exists = self
            .store
            .call(move |c| store::get(c, &n))
            .await
            .map_err(crate::api::internal)?
            .is_some();
        let path = self.path(&name);
        if exists || path.exists() {
            return Err(Error::conflict(format!(
                "a notebook named '{name}' exists; pick another name or delete it first"
            )));
        }
        let now = now_ms();
        let mut st = DocState {
            name: name.clone(),
            cluster,
            nb,
            dirty: false,
            snapshots: 0,
            created_ms: now,
            modified_ms: now,
            exec: HashMap::new(),
            queue: VecDeque::new(),
            kernel: KernelSlot::default(),
            deleted: false,
        };
        let mut file = FileState::default();
        let snap = st.snapshot();
        match self.write(&mut file, snap).await {
            Ok(()) => {}
            Err(WriteError::Failed(e)) => return Err(e),
            Err(WriteError::Changed(..)) => {
                return Err(Error::conflict(format!(
                    "a file for notebook '{name}' appeared while it was made; try again"
                )));
            }
        }
        let doc = Arc::new(Doc::new(st, file, 0));
        let v = self.bump(&doc);
        let view = doc.state.lock().await.view(v);
        if let Ok(mut open) = self.open.lock() {
            open.insert(name, doc);
        }
        Ok(view)
    }

    pub async fn create(&self, spec: NotebookSpec) -> Result<NotebookView, Error> {
        self.add(spec.name, spec.cluster, Notebook::new()).await
    }

    pub async fn import(
        &self,
        name: String,
        text: &str,
        cluster: Option<String>,
    ) -> Result<NotebookView, Error> {
        let nb = Notebook::parse(text)
            .map_err(|e| Error::invalid(format!("ipynb at {}", e.at), e.why))?;
        self.add(name, cluster, nb).await
    }

    pub async fn get(&self, name: &str) -> Result<NotebookView, Error> {
        let (doc, st) = self.lock(name).await?;
        let v = *doc.version.borrow();
        Ok(st.view(v))
    }

    pub async fn export(&self, name: &str) -> Result<String, Error> {
        let (_, st) = self.lock(name).await?;
        Ok(st.nb.to_ipynb())
    }

    pub async fn watch(
        &self,
        name: &str,
        after: NotebookVersion,
        wait: Duration,
    ) -> Result<Option<NotebookView>, Error> {
        let doc = self.doc(name).await?;
        let mut rx = doc.version.subscribe();
        let changed =
            tokio::time::timeout(wait, async { rx.wait_for(|v| *v > after).await.is_ok() })
                .await
                .unwrap_or(false);
        if changed || *doc.version.borrow() > after {
            return self.get(name).await.map(Some);
        }
        // A file changed on disk counts too.
        let (doc, st) = self.lock(name).await?;
        let v = *doc.version.borrow();
        Ok((v > after).then(|| st.view(v)))
    }

    pub async fn rename(&self, name: &str, new_name: String) -> Result<NotebookSummary, Error> {
        valid_name("new_name", &new_name)?;
        let _names = self.names.lock().await;
        let doc = self.doc(name).await?;
        // No write while the file moves (lock order: file, then state).
        let _file = doc.file.lock().await;
        let mut st = doc.state.lock().await;
        if st.deleted {
            return Err(not_found(name));
        }
        let n = new_name.clone();
        let taken = self
            .store
            .call(move |c| store::get(c, &n))
            .await
            .map_err(crate::api::internal)?
            .is_some();
        let to = self.path(&new_name);
        if taken || to.exists() {
            return Err(Error::conflict(format!(
                "a notebook named '{new_name}' exists; pick another name"
            )));
        }
        let from = self.path(name);
        let t = to.clone();
        tokio::task::spawn_blocking(move || std::fs::rename(&from, &t))
            .await
            .map_err(crate::api::internal)?
            .map_err(|e| io_error("renaming a notebook file", e))?;
        let (old, new) = (name.to_owned(), new_name.clone());
        self.store
            .call(move |c| store::rename(c, &old, &new))
            .await
            .map_err(crate::api::internal)?;
        st.name = new_name.clone();
        if let Ok(mut open) = self.open.lock() {
            open.remove(name);
            open.insert(new_name, doc.clone());
        }
        let v = self.bump(&doc);
        Ok(st.summary(v))
    }

    pub async fn delete(&self, name: &str) -> Result<NotebookSummary, Error> {
        let _names = self.names.lock().await;
        let doc = self.doc(name).await;
        let summary = match doc {
            Ok(doc) => {
                // A write in progress ends first; none starts after (lock order: file, state).
                let _file = doc.file.lock().await;
                let mut st = doc.state.lock().await;
                stop_kernel(&mut st);
                st.deleted = true;
                let v = self.bump(&doc);
                st.summary(v)
            }
            // A file that no longer parses can still be deleted.
            Err(Error::Conflict(_) | Error::Unavailable { .. }) => NotebookSummary {
                name: name.to_owned(),
                cells: 0,
                cluster: None,
                kernel: KernelState::Stopped,
                modified_ms: now_ms(),
                version: 0,
            },
            Err(e) => return Err(e),
        };
        if let Ok(mut open) = self.open.lock() {
            open.remove(name);
        }
        let path = self.path(name);
        tokio::task::spawn_blocking(move || match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        })
        .await
        .map_err(crate::api::internal)?
        .map_err(|e| io_error("removing a notebook file", e))?;
        let n = name.to_owned();
        self.store
            .call(move |c| store::delete(c, &n))
            .await
            .map_err(crate::api::internal)?;
        Ok(summary)
    }

    pub async fn edit(&self, name: &str, edits: Vec<CellEdit>) -> Result<NotebookView, Error> {
        if edits.is_empty() {
            return Err(Error::invalid("edits", "give at least one edit"));
        }
        for edit in &edits {
            if let CellEdit::SetCluster { cluster } = edit {
                self.check_cluster(cluster).await?;
            }
        }
        let (doc, mut st) = self.lock(name).await?;
        // All or none: edit a copy.
        let mut nb = st.nb.clone();
        let mut cluster = st.cluster.clone();
        for (i, edit) in edits.into_iter().enumerate() {
            apply_edit(&mut nb, &mut cluster, edit).map_err(|e| match e {
                Error::Invalid { field, why } => Error::invalid(format!("edits[{i}].{field}"), why),
                other => other,
            })?;
        }
        st.nb = nb;
        st.cluster = cluster;
        let snap = st.snapshot();
        let v = self.bump(&doc);
        let view = st.view(v);
        drop(st);
        self.save_now(&doc, snap).await?;
        Ok(view)
    }

    pub async fn run(self: &Arc<Self>, name: &str, which: RunCells) -> Result<NotebookView, Error> {
        let (doc, mut st) = self.lock(name).await?;
        let code = |c: &nbformat::Cell| c.kind == CellKind::Code && !c.source.trim().is_empty();
        let position = |id: &str| {
            st.nb.cell_index(id).ok_or_else(|| {
                Error::not_found(
                    format!("cell '{id}' in notebook '{name}'"),
                    "`harbour nb show` lists the cell ids",
                )
            })
        };
        let cells = &st.nb.cells;
        let ids: Vec<String> = match &which {
            RunCells::One(id) => {
                let i = position(id)?;
                if cells[i].kind != CellKind::Code {
                    return Err(Error::invalid(
                        "cells",
                        format!("cell '{id}' is not a code cell"),
                    ));
                }
                vec![id.clone()]
            }
            RunCells::All => cells
                .iter()
                .filter(|c| code(c))
                .map(|c| c.id.clone())
                .collect(),
            RunCells::Above(id) => {
                let i = position(id)?;
                cells[..i]
                    .iter()
                    .filter(|c| code(c))
                    .map(|c| c.id.clone())
                    .collect()
            }
            RunCells::FromHere(id) => {
                let i = position(id)?;
                cells[i..]
                    .iter()
                    .filter(|c| code(c))
                    .map(|c| c.id.clone())
                    .collect()
            }
        };
        for id in ids {
            if !st.queue.contains(&id) {
                st.exec.insert(id.clone(), ExecState::Queued);
                st.queue.push_back(id);
            }
        }
        if matches!(
            st.kernel.state,
            KernelState::Stopped | KernelState::Dead { .. }
        ) {
            self.start_kernel(&doc, &mut st);
        } else {
            st.kernel.wake.notify_one();
        }
        let v = self.bump(&doc);
        Ok(st.view(v))
    }

    /// Starts a runner (and so a kernel) for the document.
    fn start_kernel(self: &Arc<Self>, doc: &Arc<Doc>, st: &mut DocState) {
        // The old kernel goes, the queue stays for the new one.
        let queue = std::mem::take(&mut st.queue);
        stop_kernel(st);
        st.queue = queue;
        st.kernel.generation += 1;
        st.kernel.state = KernelState::Starting;
        st.kernel.message = None;
        st.kernel.execution_count = 0;
        st.kernel.last_active = Instant::now();
        let stop = self.shutdown.child_token();
        st.kernel.stop = Some(stop.clone());
        let launch = self.launch();
        let snippet = st.cluster.clone();
        tokio::spawn(runner::run(
            self.clone(),
            doc.clone(),
            st.kernel.generation,
            launch,
            snippet,
            stop,
        ));
    }

    fn launch(&self) -> kernel::Launch {
        let (python, env) = match &self.spark.runtime {
            Some(rt) => (rt.python.clone(), rt.env()),
            None => (self.settings.python.clone(), Vec::new()),
        };
        kernel::Launch {
            python,
            env,
            cwd: self.dir.clone(),
            runtime_dir: self.kernel_dir.clone(),
            limits: self.settings.limits.clone(),
        }
    }

    /// The Python that makes `spark` for a cluster, run silently when its kernel starts.
    pub async fn spark_snippet(&self, cluster: &str, notebook: &str) -> Result<String, Error> {
        let c = self.spark.get_cluster(cluster).await?;
        let app = format!("harbour-notebook-{notebook}");
        let builder = match (&c.kind, &c.connect_url) {
            (harbour_shared::ClusterKind::External, Some(url)) => {
                format!("SparkSession.builder.remote({url:?})")
            }
            _ => format!(
                "SparkSession.builder.master({:?}).appName({app:?}).config(\"spark.ui.showConsoleProgress\", \"false\")",
                c.master_url
            ),
        };
        Ok(format!(
            "from pyspark.sql import SparkSession\nspark = {builder}.getOrCreate()\n"
        ))
    }

    pub async fn interrupt(&self, name: &str) -> Result<KernelInfo, Error> {
        let (doc, mut st) = self.lock(name).await?;
        let Some(pid) = st.kernel.pid else {
            return Err(Error::conflict(format!(
                "notebook '{name}' has no running kernel to interrupt"
            )));
        };
        st.cancel_queue();
        if let Ok(pid) = i32::try_from(pid) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGINT,
            );
        }
        self.bump(&doc);
        Ok(st.kernel_info())
    }

    pub async fn restart(self: &Arc<Self>, name: &str) -> Result<KernelInfo, Error> {
        let (doc, mut st) = self.lock(name).await?;
        st.cancel_queue();
        self.start_kernel(&doc, &mut st);
        self.bump(&doc);
        Ok(st.kernel_info())
    }

    pub async fn shutdown_kernel(&self, name: &str) -> Result<KernelInfo, Error> {
        let (doc, mut st) = self.lock(name).await?;
        stop_kernel(&mut st);
        self.bump(&doc);
        Ok(st.kernel_info())
    }

    /// How many cells there are in all open notebooks (for the dashboard).
    pub async fn count(&self) -> u64 {
        self.store
            .call(|c| Ok(store::list(c)?.len() as u64))
            .await
            .unwrap_or(0)
    }
}

/// Stops the document's kernel (its runner kills the process group) and cancels its work.
pub fn stop_kernel(st: &mut DocState) {
    if let Some(stop) = st.kernel.stop.take() {
        stop.cancel();
    }
    st.kernel.generation += 1;
    st.cancel_queue();
    for state in st.exec.values_mut() {
        if *state == ExecState::Running {
            *state = ExecState::Cancelled;
        }
    }
    st.kernel.pid = None;
    st.kernel.state = KernelState::Stopped;
}

fn cell_at<'a>(nb: &'a mut Notebook, id: &str) -> Result<&'a mut nbformat::Cell, Error> {
    nb.cells
        .iter_mut()
        .find(|c| c.id == id)
        .ok_or_else(|| Error::invalid("id", format!("no cell '{id}' in this notebook")))
}

fn apply_edit(
    nb: &mut Notebook,
    cluster: &mut Option<String>,
    edit: CellEdit,
) -> Result<(), Error> {
    match edit {
        CellEdit::Insert {
            index,
            kind,
            source,
        } => {
            let at = (index as usize).min(nb.cells.len());
            nb.cells.insert(
                at,
                nbformat::Cell::new(nbformat::new_cell_id(), kind, source),
            );
        }
        CellEdit::Delete { id } => {
            let i = nb
                .cell_index(&id)
                .ok_or_else(|| Error::invalid("id", format!("no cell '{id}' in this notebook")))?;
            nb.cells.remove(i);
        }
        CellEdit::Move { id, index } => {
            let i = nb
                .cell_index(&id)
                .ok_or_else(|| Error::invalid("id", format!("no cell '{id}' in this notebook")))?;
            let cell = nb.cells.remove(i);
            let to = (index as usize).min(nb.cells.len());
            nb.cells.insert(to, cell);
        }
        CellEdit::SetKind { id, kind } => {
            let cell = cell_at(nb, &id)?;
            if cell.kind != kind {
                cell.kind = kind;
                cell.outputs.clear();
                cell.execution_count = None;
            }
        }
        CellEdit::SetSource { id, source } => {
            cell_at(nb, &id)?.source = source;
        }
        CellEdit::ClearOutputs { id } => match id {
            Some(id) => {
                let cell = cell_at(nb, &id)?;
                cell.outputs.clear();
                cell.execution_count = None;
            }
            None => {
                for cell in &mut nb.cells {
                    cell.outputs.clear();
                    cell.execution_count = None;
                }
            }
        },
        CellEdit::SetCluster { cluster: c } => *cluster = c,
    }
    Ok(())
}
