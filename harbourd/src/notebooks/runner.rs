//! The task that drives one kernel for one notebook: it starts the kernel, makes `spark` when
//! the notebook is bound to a cluster, then takes cells off the notebook's queue one at a time,
//! sends each as an `execute_request` and writes what comes back (streams, results, displays,
//! errors, the execution count) into the cell as it arrives, saving at least every
//! [`SAVE_EVERY`] while a cell runs and when it ends. Saves are written in the background
//! ([`Notebooks::save_soon`]): the next cell does not wait for the disk.
//!
//! It stops when its generation is no longer the notebook's (restart, shutdown, cull), when
//! the daemon shuts down, or when the kernel dies (reported with its last output).

use std::sync::Arc;
use std::time::{Duration, Instant};

use harbour_shared::{ExecState, KernelState};
use jupyter_protocol::{JupyterMessage, JupyterMessageContent, ReplyStatus, Stdio};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::kernel::{Kernel, KernelMsg, Launch};
use super::nbformat::{self, TRANSIENT};
use super::{Doc, DocState, Notebooks};

/// Outputs of a running cell reach the file at least this often.
pub const SAVE_EVERY: Duration = Duration::from_millis(500);

struct Runner {
    nbs: Arc<Notebooks>,
    doc: Arc<Doc>,
    generation: u64,
}

/// What the runner is waiting for from one execute request.
struct Pending {
    msg_id: String,
    /// The cell the outputs go to; `None` for the silent Spark startup.
    cell: Option<String>,
    reply: Option<bool>,
    idle: bool,
    clear_on_next: bool,
    /// For the silent startup: the error it raised, if any.
    error: Option<String>,
}

impl Pending {
    fn done(&self) -> bool {
        self.reply.is_some() && self.idle
    }
}

enum Step {
    Continue,
    /// The kernel is gone, or this runner is no longer wanted.
    Stop,
}

pub async fn run(
    nbs: Arc<Notebooks>,
    doc: Arc<Doc>,
    generation: u64,
    launch: Launch,
    cluster: Option<String>,
    stop: CancellationToken,
) {
    let runner = Runner {
        nbs,
        doc,
        generation,
    };
    let launched = tokio::select! {
        () = stop.cancelled() => return,
        launched = Kernel::launch(&launch) => launched,
    };
    let (mut kernel, mut rx) = match launched {
        Ok(k) => k,
        Err(why) => {
            tracing::warn!("a kernel did not start: {why}");
            runner
                .update(|st| {
                    st.kernel.state = KernelState::Dead { why };
                    st.cancel_queue();
                })
                .await;
            return;
        }
    };
    let pid = kernel.pid;
    let alive = runner
        .update(|st| {
            st.kernel.pid = Some(pid);
            st.kernel.state = KernelState::Idle;
        })
        .await;
    if !alive {
        return;
    }
    tracing::info!(pid, "kernel started");
    if let Some(cluster) = cluster {
        let name = runner.doc.state.lock().await.name.clone();
        match runner.nbs.spark_snippet(&cluster, &name).await {
            Ok(code) => {
                runner
                    .update(|st| st.kernel.state = KernelState::Busy)
                    .await;
                match kernel.execute(&code, true).await {
                    Ok(msg_id) => {
                        let mut p = Pending {
                            msg_id,
                            cell: None,
                            reply: None,
                            idle: false,
                            clear_on_next: false,
                            error: None,
                        };
                        if let Step::Stop = runner.wait(&mut kernel, &mut rx, &mut p, &stop).await {
                            return;
                        }
                        let message = p.error.map(|e| {
                            format!("`spark` for cluster '{cluster}' could not be made: {e}")
                        });
                        runner.update(|st| st.kernel.message = message).await
                    }
                    Err(e) => runner.update(|st| st.kernel.message = Some(e)).await,
                };
            }
            Err(e) => {
                runner
                    .update(|st| st.kernel.message = Some(e.to_string()))
                    .await;
            }
        }
    }
    loop {
        let wake = {
            let st = runner.doc.state.lock().await;
            if st.kernel.generation != runner.generation {
                return;
            }
            st.kernel.wake.clone()
        };
        let Some(next) = runner.next_cell().await else {
            return;
        };
        let Some((cell, code)) = next else {
            // Nothing queued: idle until woken, stopped, or the kernel dies.
            tokio::select! {
                () = stop.cancelled() => { runner.save_and_wait().await; return; }
                () = wake.notified() => {}
                msg = rx.recv() => {
                    if let Step::Stop = runner.idle_message(msg).await {
                        return;
                    }
                }
            }
            continue;
        };
        let msg_id = match kernel.execute(&code, false).await {
            Ok(id) => id,
            Err(e) => {
                runner.finish(&cell, Some(e)).await;
                continue;
            }
        };
        let mut p = Pending {
            msg_id,
            cell: Some(cell.clone()),
            reply: None,
            idle: false,
            clear_on_next: false,
            error: None,
        };
        if let Step::Stop = runner.wait(&mut kernel, &mut rx, &mut p, &stop).await {
            return;
        }
        let failed = (p.reply == Some(false)).then(String::new);
        runner.finish(&cell, failed).await;
    }
}

impl Runner {
    /// Changes the document if this runner still owns its kernel; answers whether it does.
    async fn update(&self, f: impl FnOnce(&mut DocState)) -> bool {
        let mut st = self.doc.state.lock().await;
        if st.kernel.generation != self.generation || st.deleted {
            return false;
        }
        f(&mut st);
        drop(st);
        self.nbs.bump(&self.doc);
        true
    }

    /// Saves in the background.
    fn save(&self) {
        self.nbs.save_soon(&self.doc);
    }

    /// Saves and waits for it: when this runner stops.
    async fn save_and_wait(&self) {
        self.nbs.flush(&self.doc).await;
    }

    /// The next queued cell and its code: `Some(None)` when the queue is empty, `None` when
    /// this runner is stale.
    async fn next_cell(&self) -> Option<Option<(String, String)>> {
        let mut st = self.doc.state.lock().await;
        if st.kernel.generation != self.generation || st.deleted {
            return None;
        }
        while let Some(id) = st.queue.pop_front() {
            let Some(i) = st.nb.cell_index(&id) else {
                st.exec.remove(&id);
                continue;
            };
            let cell = &mut st.nb.cells[i];
            cell.outputs.clear();
            cell.execution_count = None;
            let code = cell.source.clone();
            st.exec.insert(id.clone(), ExecState::Running);
            st.kernel.state = KernelState::Busy;
            st.kernel.last_active = Instant::now();
            st.dirty = true;
            drop(st);
            self.nbs.bump(&self.doc);
            return Some(Some((id, code)));
        }
        if st.kernel.state == KernelState::Busy {
            st.kernel.state = KernelState::Idle;
            st.kernel.last_active = Instant::now();
            drop(st);
            self.nbs.bump(&self.doc);
        }
        Some(None)
    }

    /// Ends a cell: its state, and on failure the rest of the queue is cancelled (like
    /// Jupyter's stop-on-error). Saves.
    async fn finish(&self, cell: &str, failed: Option<String>) {
        self.update(|st| {
            st.kernel.last_active = Instant::now();
            let state = if let Some(why) = failed {
                if !why.is_empty()
                    && let Some(i) = st.nb.cell_index(cell)
                {
                    st.nb.cells[i].outputs.push(json!({
                        "output_type": "error", "ename": "HarbourError", "evalue": why, "traceback": [why],
                    }));
                }
                st.cancel_queue();
                ExecState::Error
            } else {
                ExecState::Done
            };
            if st.exec.contains_key(cell) {
                st.exec.insert(cell.to_owned(), state);
            }
            // Idle in the same change that ends the last cell, so a client never sees a
            // finished notebook on a busy kernel.
            if st.queue.is_empty() {
                st.kernel.state = KernelState::Idle;
            }
            st.dirty = true;
        })
        .await;
        self.save();
    }

    /// A message while no cell runs: an exit, or a display updated from a background thread.
    async fn idle_message(&self, msg: Option<KernelMsg>) -> Step {
        match msg {
            Some(KernelMsg::Exited(why)) => {
                self.died(why, None).await;
                Step::Stop
            }
            None => Step::Stop,
            Some(KernelMsg::IoPub(m)) => {
                if let JupyterMessageContent::UpdateDisplayData(u) = &m.content
                    && !self.update_display(u).await
                {
                    return Step::Stop;
                }
                Step::Continue
            }
            Some(KernelMsg::Shell(_)) => Step::Continue,
        }
    }

    /// `update_display_data`: the displays with its id get its data, whichever cell (or
    /// execution) they came from. Answers false when this runner is stale.
    async fn update_display(&self, u: &jupyter_protocol::UpdateDisplayData) -> bool {
        let Some(id) = u.transient.display_id.clone() else {
            return true;
        };
        let data = serde_json::to_value(&u.data).unwrap_or(Value::Null);
        let metadata = Value::Object(u.metadata.clone());
        self.update(|st| {
            if nbformat::update_display(&mut st.nb, &id, &data, &metadata) > 0 {
                st.dirty = true;
            }
        })
        .await
    }

    async fn died(&self, why: String, running: Option<&str>) {
        tracing::warn!("{why}");
        self.update(|st| {
            if let Some(cell) = running
                && let Some(i) = st.nb.cell_index(cell)
            {
                st.nb.cells[i].outputs.push(json!({
                    "output_type": "error",
                    "ename": "DeadKernel",
                    "evalue": "the kernel died while running this cell; restart it",
                    "traceback": [format!("DeadKernel: {why}")],
                }));
                st.exec.insert(cell.to_owned(), ExecState::Error);
                st.dirty = true;
            }
            st.cancel_queue();
            st.kernel.state = KernelState::Dead { why };
            st.kernel.pid = None;
        })
        .await;
        self.save();
    }

    /// Feeds the kernel's messages into the cell until the request is done.
    async fn wait(
        &self,
        kernel: &mut Kernel,
        rx: &mut mpsc::UnboundedReceiver<KernelMsg>,
        p: &mut Pending,
        stop: &CancellationToken,
    ) -> Step {
        let mut last_save = Instant::now();
        let mut tick = tokio::time::interval(SAVE_EVERY);
        while !p.done() {
            tokio::select! {
                () = stop.cancelled() => {
                    kernel.request_shutdown().await;
                    self.save_and_wait().await;
                    return Step::Stop;
                }
                _ = tick.tick() => {}
                msg = rx.recv() => match msg {
                    None => return Step::Stop,
                    Some(KernelMsg::Exited(why)) => {
                        self.died(why, p.cell.as_deref()).await;
                        return Step::Stop;
                    }
                    Some(KernelMsg::Shell(m)) => self.on_shell(&m, p),
                    Some(KernelMsg::IoPub(m)) => {
                        if !self.on_iopub(*m, p).await {
                            return Step::Stop;
                        }
                    }
                },
            }
            if last_save.elapsed() >= SAVE_EVERY {
                self.save();
                last_save = Instant::now();
            }
        }
        Step::Continue
    }

    fn on_shell(&self, m: &JupyterMessage, p: &mut Pending) {
        if !is_child(m, &p.msg_id) {
            return;
        }
        if let JupyterMessageContent::ExecuteReply(reply) = &m.content {
            p.reply = Some(reply.status == ReplyStatus::Ok);
            if let (None, Some(e)) = (&p.error, &reply.error) {
                p.error = Some(format!("{}: {}", e.ename, e.evalue));
            }
        }
    }

    /// Applies an iopub message; answers false when this runner is stale.
    async fn on_iopub(&self, m: JupyterMessage, p: &mut Pending) -> bool {
        // A display update may come from any execution, and changes earlier cells' outputs.
        if let JupyterMessageContent::UpdateDisplayData(u) = &m.content {
            return self.update_display(u).await;
        }
        if !is_child(&m, &p.msg_id) {
            return true;
        }
        let output = match m.content {
            JupyterMessageContent::Status(s) => {
                if s.execution_state == jupyter_protocol::ExecutionState::Idle {
                    p.idle = true;
                }
                return true;
            }
            JupyterMessageContent::ExecuteInput(input) => {
                let n = input.execution_count.value();
                let cell = p.cell.clone();
                return self
                    .update(|st| {
                        st.kernel.execution_count = u32::try_from(n).unwrap_or(u32::MAX);
                        if let Some(i) = cell.and_then(|c| st.nb.cell_index(&c)) {
                            st.nb.cells[i].execution_count = Some(n as u64);
                        }
                    })
                    .await;
            }
            JupyterMessageContent::ClearOutput(c) => {
                if c.wait {
                    p.clear_on_next = true;
                    return true;
                }
                Output::Clear
            }
            JupyterMessageContent::StreamContent(s) => Output::Stream(
                match s.name {
                    Stdio::Stdout => "stdout",
                    Stdio::Stderr => "stderr",
                },
                s.text,
            ),
            JupyterMessageContent::ExecuteResult(r) => Output::Add(with_display_id(
                json!({
                    "output_type": "execute_result",
                    "execution_count": r.execution_count.value(),
                    "data": serde_json::to_value(&r.data).unwrap_or(Value::Null),
                    "metadata": Value::Object(r.metadata),
                }),
                r.transient.and_then(|t| t.display_id),
            )),
            JupyterMessageContent::DisplayData(d) => Output::Add(with_display_id(
                json!({
                    "output_type": "display_data",
                    "data": serde_json::to_value(&d.data).unwrap_or(Value::Null),
                    "metadata": Value::Object(d.metadata),
                }),
                d.transient.and_then(|t| t.display_id),
            )),
            JupyterMessageContent::ErrorOutput(e) => {
                if p.error.is_none() {
                    p.error = Some(format!("{}: {}", e.ename, e.evalue));
                }
                Output::Add(json!({
                    "output_type": "error",
                    "ename": e.ename,
                    "evalue": e.evalue,
                    "traceback": e.traceback,
                }))
            }
            _ => return true,
        };
        let Some(cell) = p.cell.clone() else {
            return true;
        };
        let clear_first = std::mem::take(&mut p.clear_on_next);
        self.update(|st| {
            let Some(i) = st.nb.cell_index(&cell) else {
                return;
            };
            let outputs = &mut st.nb.cells[i].outputs;
            if clear_first {
                outputs.clear();
            }
            match output {
                Output::Clear => outputs.clear(),
                Output::Add(o) => outputs.push(o),
                Output::Stream(name, text) => append_stream(outputs, name, &text),
            }
            st.dirty = true;
        })
        .await
    }
}

enum Output {
    Clear,
    Add(Value),
    Stream(&'static str, String),
}

/// Keeps a display's id with it in memory, for later `update_display_data` messages.
fn with_display_id(mut output: Value, id: Option<String>) -> Value {
    if let (Some(id), Value::Object(o)) = (id, &mut output) {
        o.insert(TRANSIENT.into(), json!({ "display_id": id }));
    }
    output
}

fn is_child(m: &JupyterMessage, msg_id: &str) -> bool {
    m.parent_header.as_ref().is_some_and(|h| h.msg_id == msg_id)
}

/// Consecutive stream outputs of one name are one output, as in Jupyter.
fn append_stream(outputs: &mut Vec<Value>, name: &str, text: &str) {
    if let Some(last) = outputs.last_mut()
        && last.get("output_type").and_then(Value::as_str) == Some("stream")
        && last.get("name").and_then(Value::as_str) == Some(name)
        && let Some(Value::String(old)) = last.get_mut("text")
    {
        old.push_str(text);
        return;
    }
    outputs.push(json!({"output_type": "stream", "name": name, "text": text}));
}
