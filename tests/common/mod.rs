//! Test harness shared by the integration suites: tollgate embedded on port 0, a real
//! `redis-server` on a free loopback port, and a raw RESP client for byte-level comparisons.
#![allow(dead_code)]

pub mod diff;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tollgate::clock::Clock;
use tollgate::config::Config;
use tollgate::state::State;

/// A tollgate server running in-process on its own runtime thread.
pub struct Tollgate {
    pub addr: SocketAddr,
    pub state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The snapshot directory the harness made for it, removed on drop.
    own_dir: Option<std::path::PathBuf>,
}

impl Tollgate {
    pub fn start() -> Self {
        Self::start_with(Config::default())
    }

    pub fn start_with(config: Config) -> Self {
        Self::start_on(config, Clock::system())
    }

    /// A server on a manual clock that starts at the current time, rounded down to a whole
    /// second (so second-granular clocks such as the LRU stamp give the same answer on every
    /// run), and moves only by `advance`: time-dependent tests without sleeping.
    pub fn start_manual(config: Config) -> Self {
        let now_ms = Clock::system().now_ms();
        Self::start_on(config, Clock::manual(now_ms / 1000 * 1000))
    }

    /// Moves a manual clock forward.
    pub fn advance(&self, by: Duration) {
        assert!(self.state.clock.is_manual(), "advance needs start_manual");
        self.state.clock.advance(by);
    }

    /// With the default snapshot directory (`./data`, shared by every test), the server gets
    /// a directory of its own, removed on drop, and no save points: tests that are not about
    /// persistence neither read nor write each other's snapshots. A test about persistence
    /// sets `persist.dir` itself; then the server loads its snapshot before serving and saves
    /// at the end as the binary does.
    pub fn start_on(mut config: Config, clock: Clock) -> Self {
        let own_dir = if config.persist.dir == Config::default().persist.dir {
            let dir = temp_dir("harness");
            config.persist.dir = dir.display().to_string();
            config.persist.save = Default::default();
            Some(dir)
        } else {
            None
        };
        let state = Arc::new(State::with_clock(
            config,
            tollgate::commands::all_names(),
            clock,
        ));
        if let Err(e) = tollgate::server::snapshots::load_at_start(&state) {
            panic!("{e}");
        }
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let st = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let run_state = st.clone();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                tollgate::server::run(listener, run_state, async {
                    let _ = stop_rx.await;
                })
                .await;
            });
            let _ = tollgate::server::snapshots::save_at_exit(&st);
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("tollgate did not start");
        Tollgate {
            addr,
            state,
            stop: Some(stop_tx),
            thread: Some(thread),
            own_dir,
        }
    }

    /// Whether `tollgate::server::run` has returned (its thread ended) within `limit`, as it
    /// does after SHUTDOWN.
    pub fn stopped_within(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.thread.as_ref().is_none_or(|t| t.is_finished()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    pub fn raw(&self) -> Raw {
        Raw::connect(self.addr)
    }
}

impl Drop for Tollgate {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(d) = self.own_dir.take() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// A fresh directory under the system's temporary directory, unique in this process.
pub fn temp_dir(what: &str) -> std::path::PathBuf {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("tollgate-test-{}-{what}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A free loopback port (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real `redis-server` (Debian package), killed on drop.
pub struct RedisServer {
    pub addr: SocketAddr,
    child: Child,
    /// Its working directory, removed on drop.
    dir: std::path::PathBuf,
}

impl RedisServer {
    /// Starts redis-server with the given extra arguments. A test that needs it fails when
    /// it is not installed: a differential test that cannot compare must not report ok
    /// (`./scripts/test` installs it).
    pub fn start(extra: &[&str]) -> Self {
        // A port found free may be taken before redis-server binds it (by a tollgate another
        // test starts on port 0): then redis-server exits and the port answers for someone
        // else. Only a server reporting our child's pid counts; otherwise try another port.
        for _ in 0..5 {
            let server = Self::start_on(free_port(), extra);
            if server.is_ours() {
                return server;
            }
        }
        panic!("redis-server did not start on a port of its own in 5 tries");
    }

    fn is_ours(&self) -> bool {
        let Ok(stream) = TcpStream::connect(self.addr) else {
            return false;
        };
        let mut raw = Raw {
            stream,
            buf: Vec::new(),
        };
        let _ = raw.stream.set_read_timeout(Some(Duration::from_secs(5)));
        if raw
            .stream
            .write_all(&Raw::encode(&[b"INFO", b"server"]))
            .is_err()
        {
            return false;
        }
        let info = raw.read_reply().unwrap_or_default();
        let pid = format!("process_id:{}\r\n", self.child.id());
        String::from_utf8_lossy(&info).contains(&pid)
    }

    fn start_on(port: u16, extra: &[&str]) -> Self {
        let mut cmd = Command::new("redis-server");
        // Its own directory: a redis-server loads `dump.rdb` from its directory at start, so
        // one a test made it save (SHUTDOWN, SAVE) would fill the next test's server.
        let dir = temp_dir("redis-server");
        cmd.arg("--dir").arg(&dir);
        cmd.args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
        ]);
        cmd.args(extra);
        let child = match cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn() {
            Ok(c) => c,
            Err(e) => panic!(
                "redis-server is needed for this test: run ./scripts/test, which installs it \
                 (Debian package redis-server): {e}"
            ),
        };
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        RedisServer { addr, child, dir }
    }

    pub fn raw(&self) -> Raw {
        Raw::connect(self.addr)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A raw RESP connection: send commands or bytes, read whole replies as bytes.
pub struct Raw {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    pub fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).unwrap();
        // A guard against a hang, not a speed check: a 512 MB SETRANGE in a debug build on
        // a loaded two-core machine has taken seconds.
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Raw {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn encode(args: &[&[u8]]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    pub fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Sends one command and returns its reply's bytes.
    pub fn cmd(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send_bytes(&Self::encode(args));
        self.read_reply().expect("connection closed before a reply")
    }

    /// Like `cmd`, for string arguments split on spaces.
    pub fn cmd_str(&mut self, line: &str) -> Vec<u8> {
        let args: Vec<&[u8]> = line.split(' ').map(|s| s.as_bytes()).collect();
        self.cmd(&args)
    }

    /// Reads one complete reply (RESP2 or RESP3); None when the server closed first.
    pub fn read_reply(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(n) = reply_len(&self.buf) {
                return Some(self.buf.drain(..n).collect());
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Whether the server closed the connection (reads EOF within the timeout).
    pub fn is_closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        self.stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        // One read: a server that closes with unread input resets the connection, and a
        // second read after the reset would see a plain end of stream, or block.
        match self.stream.read(&mut b) {
            Ok(0) => true,
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
            Ok(_) => false,
        }
    }
}

/// Length of the first complete RESP2/RESP3 reply in `buf`, if complete.
pub fn reply_len(buf: &[u8]) -> Option<usize> {
    let line_end = buf.windows(2).position(|w| w == b"\r\n")?;
    let head = &buf[1..line_end];
    let after = line_end + 2;
    let num = || std::str::from_utf8(head).ok()?.parse::<i64>().ok();
    match buf.first()? {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Some(after),
        b'$' | b'=' | b'!' => {
            let n = num()?;
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (buf.len() >= end).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = num()?;
            if n < 0 {
                return Some(after);
            }
            let items = if matches!(buf[0], b'%' | b'|') {
                2 * n
            } else {
                n
            };
            let mut pos = after;
            for _ in 0..items {
                pos += reply_len(&buf[pos..])?;
            }
            Some(pos)
        }
        _ => None,
    }
}

/// Printable form of a reply for assertion messages.
pub fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).replace("\r\n", "\\r\\n")
}

/// xorshift64*: deterministic pseudo-random numbers across runs and platforms, for the
/// seeded random sequences and the stable runs of the fuzz bodies.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    pub fn chance(&mut self, in_n: usize) -> bool {
        self.below(in_n) == 0
    }
}

/// Polls `done` every 20 ms until it holds (true) or `limit` passes (false).
pub fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The tollgate binary as a child process: the test's own `TOLLGATE_*` variables removed,
/// stdin and stdout closed, stderr collected into `log`. Unless the arguments name a `--dir`,
/// it snapshots into a directory of its own (removed on drop) with no save points, not into
/// the crate's `./data`; unless they name `--metrics-port`, the HTTP endpoint is off. Killed
/// on drop.
pub struct Binary {
    pub child: Child,
    pub log: Arc<std::sync::Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
    own_dir: Option<std::path::PathBuf>,
}

impl Binary {
    pub fn spawn<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> std::io::Result<Binary> {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
        for (var, _) in std::env::vars().filter(|(k, _)| k.starts_with("TOLLGATE_")) {
            cmd.env_remove(var);
        }
        let own_dir = match args.iter().any(|a| a.as_ref() == "--dir") {
            true => None,
            false => {
                let dir = temp_dir("binary");
                cmd.arg("--dir").arg(&dir).args(["--save", ""]);
                Some(dir)
            }
        };
        // The HTTP endpoint's default port (9121) would be shared by every test binary and
        // by whatever else runs here: off unless the test asks for it.
        if !args.iter().any(|a| a.as_ref() == "--metrics-port") {
            cmd.args(["--metrics-port", "0"]);
        }
        let mut child = cmd
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let log = Arc::new(std::sync::Mutex::new(String::new()));
        let mut stderr = child
            .stderr
            .take()
            .ok_or_else(|| std::io::Error::other("no stderr"))?;
        let sink = log.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut log) = sink.lock() {
                    log.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        Ok(Binary {
            child,
            log,
            reader: Some(reader),
            own_dir,
        })
    }

    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The address it listens on, once it logged that it is ready (None after `limit`).
    pub fn ready(&self, limit: Duration) -> Option<SocketAddr> {
        let mut addr = None;
        wait_for(limit, || {
            addr = ready_addr(&self.log());
            addr.is_some()
        });
        addr
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid}");
    }

    /// The exit status within `limit`, or None (it keeps running until dropped). Once it
    /// has exited, everything it wrote is in the log.
    pub fn wait(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let mut status = None;
        wait_for(limit, || {
            status = self.child.try_wait().ok().flatten();
            status.is_some()
        });
        if status.is_some() {
            if let Some(r) = self.reader.take() {
                let _ = r.join();
            }
        }
        status
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = self.own_dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The address of the binary's "ready to accept connections" line (text or JSON logs).
pub fn ready_addr(log: &str) -> Option<SocketAddr> {
    let line = log
        .lines()
        .find(|l| l.contains("ready to accept connections"))?;
    let start = line
        .find("addr=")
        .map(|i| i + "addr=".len())
        .or_else(|| line.find(r#""addr":""#).map(|i| i + r#""addr":""#.len()))?;
    let rest = &line[start..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '"')
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}
