//! RPC: `hello` round trips to harbourd over its Unix socket (tarpc, length-delimited
//! bincode), beside a raw Unix-socket echo of the same frame sizes, so the reader sees what
//! the transport itself costs and what tarpc and the daemon add.

use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use harbour_shared::{HarbourRequest, HarbourResponse, Hello, PROTOCOL_VERSION};
use harbour_tests::Daemon;
use harbour_tui::client::{self, Client, Flatten as _};
use tarpc::tokio_serde::Serializer as _;
use tarpc::tokio_serde::formats::Bincode;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{UnixListener, UnixStream};

use crate::Options;
use crate::machine::{ProcSample, cpu_percent};
use crate::report::{Table, verdict};

/// The thread name of the echo server's runtime, to find its CPU time in /proc.
const ECHO_THREAD: &str = "harbour-echo";
const P50_TARGET: Duration = Duration::from_micros(100);
const THROUGHPUT_TARGET: f64 = 20_000.0;
/// Calls each connection makes before anything is timed.
const WARM_UP_CALLS: usize = 2_000;

/// Round-trip times of sequential calls on one connection.
#[derive(Debug)]
pub struct Latency {
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub p999: Duration,
    pub mean: Duration,
}

impl Latency {
    fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        let at = |q: f64| {
            samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1]
        };
        Self {
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            p999: at(0.999),
            mean: samples.iter().sum::<Duration>() / samples.len() as u32,
        }
    }
}

/// Calls per second over concurrent connections, and the server's CPU meanwhile.
#[derive(Debug)]
pub struct Throughput {
    pub clients: usize,
    pub per_sec: f64,
    /// Percent of one core the server used.
    pub server_cpu: f64,
}

#[derive(Debug)]
pub struct RpcResults {
    pub request_frame: usize,
    pub response_frame: usize,
    pub calls: usize,
    pub secs: u64,
    pub daemon_latency: Latency,
    pub echo_latency: Latency,
    pub daemon_throughput: Vec<Throughput>,
    pub echo_throughput: Vec<Throughput>,
    /// The daemon after the load, for the memory table.
    pub daemon_after: Option<ProcSample>,
}

/// One connection, to either server.
enum Conn {
    Daemon(Client),
    Echo(EchoClient),
}

impl Conn {
    async fn call(&mut self) {
        match self {
            Self::Daemon(c) => {
                c.rpc
                    .hello(client::ctx(), PROTOCOL_VERSION)
                    .await
                    .flat()
                    .expect("hello");
            }
            Self::Echo(c) => c.call().await.expect("echo round trip"),
        }
    }
}

pub async fn run(bin: &Path, opts: &Options) -> RpcResults {
    let daemon = Daemon::start_with_bin(bin, "");
    let first = daemon.client().await;
    let (request_frame, response_frame) = frame_sizes(&first.hello);
    let echo = EchoServer::start(response_frame);
    let ticks = crate::machine::clock_ticks();
    let pid = daemon.pid();

    let connect_daemon = async || Conn::Daemon(daemon.client().await);
    let connect_echo = async || Conn::Echo(EchoClient::connect(&echo.path, request_frame).await);

    let daemon_latency = latency(connect_daemon().await, opts.rpc_calls).await;
    let echo_latency = latency(connect_echo().await, opts.rpc_calls).await;

    let mut daemon_throughput = Vec::new();
    let mut echo_throughput = Vec::new();
    for clients in [1, 16] {
        let mut conns = Vec::new();
        for _ in 0..clients {
            conns.push(connect_daemon().await);
        }
        let cpu = || ProcSample::take(pid);
        daemon_throughput.push(throughput(conns, opts.rpc_secs, cpu, ticks).await);
        let mut conns = Vec::new();
        for _ in 0..clients {
            conns.push(connect_echo().await);
        }
        let cpu = || echo_cpu_sample();
        echo_throughput.push(throughput(conns, opts.rpc_secs, cpu, ticks).await);
    }
    echo.stop();
    tokio::time::sleep(Duration::from_secs(1)).await;
    RpcResults {
        request_frame,
        response_frame,
        calls: opts.rpc_calls,
        secs: opts.rpc_secs.as_secs(),
        daemon_latency,
        echo_latency,
        daemon_throughput,
        echo_throughput,
        daemon_after: ProcSample::take(pid),
    }
}

async fn latency(mut conn: Conn, calls: usize) -> Latency {
    for _ in 0..WARM_UP_CALLS {
        conn.call().await;
    }
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let start = Instant::now();
        conn.call().await;
        samples.push(start.elapsed());
    }
    Latency::of(samples)
}

/// Every connection calls in a loop, each on its own task, for `secs`.
async fn throughput(
    conns: Vec<Conn>,
    secs: Duration,
    server: impl Fn() -> Option<ProcSample>,
    ticks: u64,
) -> Throughput {
    let clients = conns.len();
    let mut warm = Vec::new();
    for mut conn in conns {
        warm.push(tokio::spawn(async move {
            for _ in 0..WARM_UP_CALLS / 10 {
                conn.call().await;
            }
            conn
        }));
    }
    let mut conns = Vec::new();
    for task in warm {
        conns.push(task.await.expect("warm-up task"));
    }
    let before = server();
    let start = Instant::now();
    let deadline = start + secs;
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut conn| {
            tokio::spawn(async move {
                let mut calls = 0u64;
                while Instant::now() < deadline {
                    conn.call().await;
                    calls += 1;
                }
                calls
            })
        })
        .collect();
    let mut calls = 0;
    for task in tasks {
        calls += task.await.expect("client task");
    }
    let elapsed = start.elapsed();
    let server_cpu = match (before, server()) {
        (Some(before), Some(after)) => cpu_percent(&before, &after, ticks),
        _ => f64::NAN,
    };
    Throughput {
        clients,
        per_sec: calls as f64 / elapsed.as_secs_f64(),
        server_cpu,
    }
}

/// The bytes of a `hello` request and its answer on the wire: tarpc's bincode encoding of
/// the messages plus the length-delimited codec's 4-byte header.
fn frame_sizes(hello: &Hello) -> (usize, usize) {
    type Request = tarpc::ClientMessage<HarbourRequest>;
    type Response = tarpc::Response<HarbourResponse>;
    let request: Request = tarpc::ClientMessage::Request(tarpc::Request {
        context: client::ctx(),
        id: 1,
        message: HarbourRequest::Hello {
            client_protocol: PROTOCOL_VERSION,
        },
    });
    let response: Response = tarpc::Response {
        request_id: 1,
        message: Ok(HarbourResponse::Hello(Ok(hello.clone()))),
    };
    let mut to_daemon = Bincode::<Response, Request>::default();
    let mut to_client = Bincode::<Request, Response>::default();
    let request = Pin::new(&mut to_daemon)
        .serialize(&request)
        .expect("encode a request")
        .len();
    let response = Pin::new(&mut to_client)
        .serialize(&response)
        .expect("encode a response")
        .len();
    (request + 4, response + 4)
}

/// A minimal length-prefixed echo over a Unix socket, on its own runtime and threads (two
/// workers, as harbourd has on this machine): it reads a request frame and answers with a
/// frame of the daemon's response size.
struct EchoServer {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    runtime: tokio::runtime::Runtime,
}

impl EchoServer {
    fn start(response_frame: usize) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("harbour-echo-")
            .tempdir()
            .expect("temp dir");
        let path = dir.path().join("echo.sock");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(std::thread::available_parallelism().map_or(2, usize::from))
            .thread_name(ECHO_THREAD)
            .enable_all()
            .build()
            .expect("echo runtime");
        let listener = {
            let _guard = runtime.enter();
            UnixListener::bind(&path).expect("bind the echo socket")
        };
        let reply: Arc<[u8]> = frame(response_frame).into();
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(echo(stream, reply.clone()));
            }
        });
        Self {
            _dir: dir,
            path,
            runtime,
        }
    }

    fn stop(self) {
        self.runtime.shutdown_background();
    }
}

async fn echo(stream: UnixStream, reply: Arc<[u8]>) {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut buf = Vec::new();
    while read_frame(&mut read, &mut buf).await.is_ok() {
        if write.write_all(&reply).await.is_err() {
            return;
        }
    }
}

/// A frame of `len` bytes on the wire: a big-endian length header and zeros.
fn frame(len: usize) -> Vec<u8> {
    let mut frame = vec![0; len];
    let body = u32::try_from(len - 4).expect("a small frame");
    frame[..4].copy_from_slice(&body.to_be_bytes());
    frame
}

async fn read_frame(read: &mut BufReader<OwnedReadHalf>, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let len = read.read_u32().await? as usize;
    buf.resize(len, 0);
    read.read_exact(buf).await?;
    Ok(())
}

struct EchoClient {
    read: BufReader<OwnedReadHalf>,
    write: OwnedWriteHalf,
    request: Vec<u8>,
    buf: Vec<u8>,
}

impl EchoClient {
    async fn connect(path: &Path, request_frame: usize) -> Self {
        let (read, write) = UnixStream::connect(path)
            .await
            .expect("connect to the echo server")
            .into_split();
        Self {
            read: BufReader::new(read),
            write,
            request: frame(request_frame),
            buf: Vec::new(),
        }
    }

    async fn call(&mut self) -> std::io::Result<()> {
        self.write.write_all(&self.request).await?;
        read_frame(&mut self.read, &mut self.buf).await
    }
}

/// CPU time of the echo server's threads (they live in this process), as a sample.
fn echo_cpu_sample() -> Option<ProcSample> {
    let at = Instant::now();
    let mut cpu_ticks = 0;
    for task in std::fs::read_dir("/proc/self/task")
        .ok()?
        .filter_map(Result::ok)
    {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if !comm.starts_with(ECHO_THREAD) {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0);
        let stime: u64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
        cpu_ticks += utime + stime;
    }
    Some(ProcSample {
        at,
        rss_kib: 0,
        hwm_kib: 0,
        threads: 0,
        cpu_ticks,
        children_ticks: 0,
        switches: 0,
    })
}

fn us(d: Duration) -> String {
    format!("{:.1} us", d.as_secs_f64() * 1e6)
}

fn ratio(a: f64, b: f64) -> String {
    format!("{:.2}x", a / b)
}

impl RpcResults {
    pub fn table(&self) -> Table {
        let mut t = Table::new(
            &format!(
                "RPC: `hello` round trips over the Unix socket (frames of about {} B out, {} B back)",
                self.request_frame, self.response_frame
            ),
            &[
                "measure",
                "harbourd (tarpc `hello`)",
                "peer: raw Unix-socket echo",
                "harbourd / peer",
                "target",
                "result",
            ],
        );
        let (d, e) = (&self.daemon_latency, &self.echo_latency);
        let lat = |name: &str, a: Duration, b: Duration, target: &str, met: String| {
            vec![
                format!("{name}, 1 client, {} sequential calls", self.calls),
                us(a),
                us(b),
                ratio(a.as_secs_f64(), b.as_secs_f64()),
                target.to_owned(),
                met,
            ]
        };
        t.row(lat(
            "latency p50",
            d.p50,
            e.p50,
            "<= 100 us",
            verdict(d.p50 <= P50_TARGET),
        ));
        t.row(lat("latency p90", d.p90, e.p90, "", String::new()));
        t.row(lat("latency p99", d.p99, e.p99, "", String::new()));
        t.row(lat("latency p99.9", d.p999, e.p999, "", String::new()));
        t.row(lat("latency mean", d.mean, e.mean, "", String::new()));
        for (d, e) in self.daemon_throughput.iter().zip(&self.echo_throughput) {
            t.row(vec![
                match d.clients {
                    1 => format!("throughput, 1 client, {} s", self.secs),
                    n => format!(
                        "throughput, {n} clients on {n} connections, {} s",
                        self.secs
                    ),
                },
                format!("{:.0} calls/s", d.per_sec),
                format!("{:.0} calls/s", e.per_sec),
                ratio(d.per_sec, e.per_sec),
                ">= 20,000 calls/s".into(),
                verdict(d.per_sec >= THROUGHPUT_TARGET),
            ]);
            t.row(vec![
                format!(
                    "server CPU meanwhile, {} client{}",
                    d.clients,
                    if d.clients == 1 { "" } else { "s" }
                ),
                format!("{:.0}% of a core", d.server_cpu),
                format!("{:.0}% of a core", e.server_cpu),
                ratio(d.server_cpu, e.server_cpu),
                String::new(),
                String::new(),
            ]);
        }
        t
    }
}
