//! One Jupyter kernel process: launching `python -m ipykernel_launcher -f <connection file>`
//! in its own process group (loopback ports, an HMAC key), connecting the shell, iopub and
//! control sockets, and turning everything the kernel says into one stream of [`KernelMsg`]s.
//!
//! What to run and what to do with the answers is the manager's business, not this module's.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jupyter_protocol::connection_info::Transport;
use jupyter_protocol::{ConnectionInfo, ExecuteRequest, JupyterMessage, KernelInfoRequest};
use jupyter_zmq_client::{
    ClientIoPubConnection, DealerSendConnection, create_client_control_connection,
    create_client_iopub_connection, create_client_shell_connection_with_identity,
    peek_ports_with_listeners, peer_identity_for_session,
};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt as _, AsyncRead, BufReader};
use tokio::process::Child;
use tokio::sync::mpsc;

/// How long a kernel may take to answer its first `kernel_info_request`.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Lines of the kernel's own stdout/stderr kept to explain a death.
const TAIL_LINES: usize = 40;

/// What the kernel said, or that it is gone.
#[derive(Debug)]
pub enum KernelMsg {
    IoPub(Box<JupyterMessage>),
    Shell(Box<JupyterMessage>),
    /// The process exited; the text has its status and the end of its output.
    Exited(String),
}

/// The last lines a kernel wrote to its real stdout/stderr (not cell output: that goes over
/// iopub). Python tracebacks from a crashing launcher land here.
#[derive(Debug, Clone, Default)]
pub struct Tail(Arc<Mutex<VecDeque<String>>>);

impl Tail {
    fn push(&self, line: String) {
        if let Ok(mut lines) = self.0.lock() {
            if lines.len() == TAIL_LINES {
                lines.pop_front();
            }
            lines.push_back(line);
        }
    }

    pub fn text(&self) -> String {
        self.0
            .lock()
            .map(|l| l.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }
}

/// A running kernel. Dropping it kills the process group.
pub struct Kernel {
    pub pid: u32,
    shell: DealerSendConnection,
    control: jupyter_zmq_client::ClientControlConnection,
    conn_file: PathBuf,
    pub tail: Tail,
}

impl Drop for Kernel {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.conn_file);
    }
}

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernel").field("pid", &self.pid).finish()
    }
}

/// What a kernel needs to start.
#[derive(Debug, Clone)]
pub struct Launch {
    pub python: PathBuf,
    pub env: Vec<(String, String)>,
    /// The kernel's working directory.
    pub cwd: PathBuf,
    /// Where connection files go (mode 0600 each; they hold the key).
    pub runtime_dir: PathBuf,
    /// `[runs.limits]` as `exec-run` arguments: a kernel runs the user's code as a run does.
    pub limits: Vec<String>,
}

fn write_conn_file(dir: &Path, info: &ConnectionInfo) -> Result<PathBuf, String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
    let path = dir.join(format!("kernel-{}.json", uuid::Uuid::new_v4().simple()));
    let text = serde_json::to_string(info).map_err(|e| e.to_string())?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

fn forward_lines(stream: impl AsyncRead + Unpin + Send + 'static, tail: Tail) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::debug!(target: "harbourd::kernel", "{line}");
            tail.push(line);
        }
    });
}

impl Kernel {
    /// Starts a kernel and waits until it answers on shell and publishes on iopub. Messages
    /// (and the exit) arrive on the returned receiver.
    pub async fn launch(
        launch: &Launch,
    ) -> Result<(Self, mpsc::UnboundedReceiver<KernelMsg>), String> {
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let (ports, listeners) = peek_ports_with_listeners(ip, 5)
            .await
            .map_err(|e| format!("no free loopback ports: {e}"))?;
        let info = ConnectionInfo {
            ip: "127.0.0.1".into(),
            transport: Transport::TCP,
            shell_port: ports[0],
            iopub_port: ports[1],
            stdin_port: ports[2],
            control_port: ports[3],
            hb_port: ports[4],
            key: uuid::Uuid::new_v4().to_string(),
            signature_scheme: "hmac-sha256".into(),
            kernel_name: Some("python3".into()),
        };
        let conn_file = write_conn_file(&launch.runtime_dir, &info)?;
        let args = [
            "-m".as_ref(),
            "ipykernel_launcher".as_ref(),
            "-f".as_ref(),
            conn_file.as_os_str(),
        ];
        let mut cmd = crate::privileges::command(&launch.limits, &launch.python, args);
        cmd.current_dir(&launch.cwd)
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .env("PYTHONUNBUFFERED", "1")
            // ipykernel exits when this process does (its parent poller), so a daemon that
            // is killed leaves no kernels behind.
            .env("JPY_PARENT_PID", std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        drop(listeners);
        let mut child = cmd.spawn().map_err(|e| {
            let _ = std::fs::remove_file(&conn_file);
            format!("cannot start {}: {e}", launch.python.display())
        })?;
        let pid = child.id().unwrap_or(0);
        let tail = Tail::default();
        if let Some(out) = child.stdout.take() {
            forward_lines(out, tail.clone());
        }
        if let Some(err) = child.stderr.take() {
            forward_lines(err, tail.clone());
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let session = uuid::Uuid::new_v4().to_string();
        let connected = connect(&info, &session, tx.clone()).await;
        let (shell, control, mut iopub) = match connected {
            Ok(c) => c,
            Err(e) => {
                kill_group(pid);
                let _ = std::fs::remove_file(&conn_file);
                return Err(e);
            }
        };
        let mut kernel = Self {
            pid,
            shell,
            control,
            conn_file,
            tail: tail.clone(),
        };
        watch_exit(child, tail.clone(), tx.clone());
        let mut rx = rx;
        kernel.handshake(&mut rx, &mut iopub).await?;
        tokio::spawn(async move {
            loop {
                match iopub.read().await {
                    Ok(msg) => {
                        if tx.send(KernelMsg::IoPub(Box::new(msg))).is_err() {
                            break;
                        }
                    }
                    Err(e) => tracing::debug!("kernel {pid}: unreadable iopub message: {e}"),
                }
            }
        });
        Ok((kernel, rx))
    }

    /// Waits for a `kernel_info_reply` on shell and any message on iopub, asking again while
    /// neither has come (a subscriber that joins late misses the first messages).
    async fn handshake(
        &mut self,
        rx: &mut mpsc::UnboundedReceiver<KernelMsg>,
        iopub: &mut ClientIoPubConnection,
    ) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        let mut shell_ok = false;
        loop {
            if tokio::time::Instant::now() > deadline {
                return Err(format!(
                    "the kernel did not answer within {}s; its output:\n{}",
                    START_TIMEOUT.as_secs(),
                    self.tail.text()
                ));
            }
            self.send(JupyterMessage::new(KernelInfoRequest {}, None))
                .await?;
            let round = tokio::time::sleep(Duration::from_millis(500));
            tokio::pin!(round);
            loop {
                tokio::select! {
                    () = &mut round => break,
                    msg = rx.recv() => match msg {
                        Some(KernelMsg::Shell(_)) => shell_ok = true,
                        Some(KernelMsg::Exited(why)) => return Err(why),
                        Some(KernelMsg::IoPub(_)) | None => {}
                    },
                    read = iopub.read() => {
                        if read.is_ok() && shell_ok {
                            return Ok(());
                        }
                    }
                }
            }
        }
    }

    async fn send(&mut self, msg: JupyterMessage) -> Result<(), String> {
        self.shell
            .send(msg)
            .await
            .map_err(|e| format!("cannot send to the kernel: {e}"))
    }

    /// Sends an execute request; answers its message id (the parent id of what follows).
    pub async fn execute(&mut self, code: &str, silent: bool) -> Result<String, String> {
        let mut request = ExecuteRequest::new(code.to_owned());
        request.silent = silent;
        request.store_history = !silent;
        request.allow_stdin = false;
        request.stop_on_error = true;
        let msg = JupyterMessage::new(request, None);
        let id = msg.header.msg_id.clone();
        self.send(msg).await?;
        Ok(id)
    }

    /// SIGINT to the kernel process (ipykernel's default interrupt mode).
    pub fn interrupt(&self) {
        if let Ok(pid) = i32::try_from(self.pid) {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGINT);
        }
    }

    /// Asks the kernel to shut down on control; the caller kills it after a grace period.
    pub async fn request_shutdown(&mut self) {
        let msg = JupyterMessage::new(jupyter_protocol::ShutdownRequest { restart: false }, None);
        let _ = tokio::time::timeout(Duration::from_millis(500), self.control.send(msg)).await;
    }

    pub fn kill(&self) {
        kill_group(self.pid);
    }
}

fn kill_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid)
        && pid > 0
    {
        // The kernel leads its group, so this also takes down a local Spark JVM.
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

type Connected = (
    DealerSendConnection,
    jupyter_zmq_client::ClientControlConnection,
    ClientIoPubConnection,
);

async fn connect(
    info: &ConnectionInfo,
    session: &str,
    tx: mpsc::UnboundedSender<KernelMsg>,
) -> Result<Connected, String> {
    let fail = |what: &str, e: jupyter_zmq_client::RuntimeError| {
        format!("cannot connect to the kernel's {what} socket: {e}")
    };
    let iopub = create_client_iopub_connection(info, "", session)
        .await
        .map_err(|e| fail("iopub", e))?;
    let identity = peer_identity_for_session(session).map_err(|e| fail("shell", e))?;
    let shell = create_client_shell_connection_with_identity(info, session, identity)
        .await
        .map_err(|e| fail("shell", e))?;
    let control = create_client_control_connection(info, session)
        .await
        .map_err(|e| fail("control", e))?;
    let (send, mut recv) = shell.split();
    tokio::spawn(async move {
        loop {
            match recv.read().await {
                Ok(msg) => {
                    if tx.send(KernelMsg::Shell(Box::new(msg))).is_err() {
                        break;
                    }
                }
                Err(e) => tracing::debug!("unreadable shell message: {e}"),
            }
        }
    });
    Ok((send, control, iopub))
}

/// Reaps the child and reports its exit, with the end of its output.
fn watch_exit(mut child: Child, tail: Tail, tx: mpsc::UnboundedSender<KernelMsg>) {
    tokio::spawn(async move {
        let status = child.wait().await;
        // Let the output readers catch the last lines.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let status = match status {
            Ok(s) => s.to_string(),
            Err(e) => format!("lost ({e})"),
        };
        let text = tail.text();
        let why = if text.is_empty() {
            format!("the kernel exited ({status})")
        } else {
            format!("the kernel exited ({status}); its last output:\n{text}")
        };
        let _ = tx.send(KernelMsg::Exited(why));
    });
}
