//! `RedisServer`: a private `redis-server` on a free loopback port, killed on drop.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Environment variable that turns "redis-server is missing, skipping" into a failure.
pub const REQUIRE_REDIS_ENV: &str = "STRATA_REQUIRE_REDIS";

/// How long a server may take to answer PING after starting.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A `redis-server` process of this test's own: loopback only, a temporary directory, no
/// persistence. Killed (SIGKILL) when dropped; can be stopped, restarted on the same port,
/// paused and resumed to simulate faults.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    extra_args: Vec<String>,
    binary: PathBuf,
}

impl RedisServer {
    /// Starts a server on a free port.
    pub fn spawn() -> io::Result<Self> {
        Self::spawn_with_args(&[])
    }

    /// Starts a server with extra `redis-server` arguments (e.g. `["--maxmemory", "1mb"]`).
    pub fn spawn_with_args(args: &[&str]) -> io::Result<Self> {
        Self::spawn_where(args, |_| true)
    }

    /// Starts a server on a free port for which `port_ok` holds (a cluster node also needs
    /// `port + 10000` for its bus).
    pub(crate) fn spawn_where(args: &[&str], port_ok: fn(u16) -> bool) -> io::Result<Self> {
        let binary = find_redis_server().ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, "redis-server is not on PATH")
        })?;
        let mut last_err = None;
        // A port found free can be taken before the server binds it: try a few.
        for _ in 0..5 {
            let port = free_port(port_ok)?;
            let mut server = Self {
                child: None,
                port,
                dir: tempfile::Builder::new().prefix("strata-redis-").tempdir()?,
                extra_args: args.iter().map(|s| (*s).to_owned()).collect(),
                binary: binary.clone(),
            };
            match server.start() {
                Ok(()) => return Ok(server),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::other("redis-server did not start")))
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The server's working directory (its log is `redis.log` there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is running.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Starts the process (again) on the same port and waits until it answers PING.
    pub fn start(&mut self) -> io::Result<()> {
        if self.child.is_some() {
            return Ok(());
        }
        let log = self.dir.path().join("redis.log");
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(&log)
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = cmd.spawn()?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait()? {
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: String = log.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
                return Err(io::Error::other(format!(
                    "redis-server on port {} exited with {status}: {tail}",
                    self.port
                )));
            }
            match answer(self.port) {
                Answer::Server(pid) if pid == child.id() => {
                    self.child = Some(child);
                    return Ok(());
                }
                Answer::Server(other) => {
                    // Another test's server took the port first: ours cannot bind it. Using
                    // that server would mix two tests' keys.
                    let why = format!(
                        "port {} is served by another redis-server (pid {other})",
                        self.port
                    );
                    return Err(give_up(child, io::ErrorKind::AddrInUse, why));
                }
                Answer::Locked => {
                    // It needs a password, so its process id cannot be asked: it is ours if
                    // ours still runs a moment later (one that cannot bind exits at once).
                    std::thread::sleep(Duration::from_millis(100));
                    if child.try_wait()?.is_none() {
                        self.child = Some(child);
                        return Ok(());
                    }
                    continue;
                }
                Answer::Nobody => {}
            }
            if Instant::now() > deadline {
                let why = format!(
                    "redis-server on port {} did not answer within {START_TIMEOUT:?}",
                    self.port
                );
                return Err(give_up(child, io::ErrorKind::TimedOut, why));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the process (SIGKILL: no shutdown, connections drop at once).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills and starts the server again on the same port (empty: nothing is persisted).
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop();
        // The port can stay in TIME_WAIT briefly; start retries until the deadline.
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match self.start() {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Freezes the process (SIGSTOP): connections stay open but nothing is answered.
    pub fn pause(&self) -> io::Result<()> {
        self.signal("-STOP")
    }

    /// Resumes a paused process (SIGCONT).
    pub fn resume(&self) -> io::Result<()> {
        self.signal("-CONT")
    }

    fn signal(&self, sig: &str) -> io::Result<()> {
        let pid = self
            .pid()
            .ok_or_else(|| io::Error::other("redis-server is not running"))?;
        let status = Command::new("kill")
            .arg(sig)
            .arg(pid.to_string())
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "kill {sig} {pid} failed: {status}"
            )))
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // A paused process cannot die of SIGKILL until resumed on some systems; resume first.
        let _ = self.resume();
        self.stop();
    }
}

/// The `redis-server` binary on PATH, if any.
pub fn find_redis_server() -> Option<PathBuf> {
    find_binary("redis-server")
}

/// A binary on PATH.
pub(crate) fn find_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Whether `STRATA_REQUIRE_REDIS` is set to a true value.
pub fn redis_required() -> bool {
    std::env::var(REQUIRE_REDIS_ENV).is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"))
}

/// Starts a server for the test `test`, or reports the test as skipped.
///
/// Without `redis-server` on PATH this writes one line to the terminal (past the test
/// harness's capture) and returns `None`; with `STRATA_REQUIRE_REDIS=1` it panics instead.
/// A server that is present but fails to start always panics.
pub fn redis_or_skip(test: &str) -> Option<RedisServer> {
    redis_with_args_or_skip(test, &[])
}

/// [`redis_or_skip`] with extra server arguments.
pub fn redis_with_args_or_skip(test: &str, args: &[&str]) -> Option<RedisServer> {
    if !binaries_or_skip(test, &["redis-server"]) {
        return None;
    }
    match RedisServer::spawn_with_args(args) {
        Ok(server) => Some(server),
        Err(e) => panic!("{test}: redis-server is on PATH but did not start: {e}"),
    }
}

/// Whether every binary in `names` is on PATH; when one is not, reports the test as skipped
/// (or panics under `STRATA_REQUIRE_REDIS=1`).
pub(crate) fn binaries_or_skip(test: &str, names: &[&str]) -> bool {
    let Some(missing) = names.iter().find(|n| find_binary(n).is_none()) else {
        return true;
    };
    if redis_required() {
        panic!("{test}: {missing} is not on PATH and {REQUIRE_REDIS_ENV} is set");
    }
    let mut err = io::stderr();
    let _ = writeln!(
        err,
        "SKIPPED {test}: {missing} not found on PATH (set {REQUIRE_REDIS_ENV}=1 to fail instead)"
    );
    false
}

fn free_port(port_ok: fn(u16) -> bool) -> io::Result<u16> {
    for _ in 0..1000 {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        if port_ok(port) {
            return Ok(port);
        }
    }
    Err(io::Error::other("no free port satisfying the constraint"))
}

/// Kills a server that did not start as ours; the error saying why.
fn give_up(mut child: Child, kind: io::ErrorKind, why: String) -> io::Error {
    let _ = child.kill();
    let _ = child.wait();
    io::Error::new(kind, why)
}

/// Who answers on a port.
enum Answer {
    /// Nothing (yet), or something that is not a redis-server.
    Nobody,
    /// A redis-server, with its process id.
    Server(u32),
    /// A redis-server that requires a password (`-NOAUTH`).
    Locked,
}

/// Asks whatever listens on `port` for `INFO server`: the redis-server's process id.
fn answer(port: u16) -> Answer {
    let Ok(mut s) = TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    ) else {
        return Answer::Nobody;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"INFO server\r\n").is_err() {
        return Answer::Nobody;
    }
    let mut reply = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n @ 1..) = s.read(&mut chunk) {
        reply.extend_from_slice(&chunk[..n]);
        if reply.starts_with(b"-NOAUTH") {
            return Answer::Locked;
        }
        if let Some(pid) = process_id(&String::from_utf8_lossy(&reply)) {
            return Answer::Server(pid);
        }
    }
    Answer::Nobody
}

/// The `process_id` field of an `INFO` reply, once its line is complete.
fn process_id(info: &str) -> Option<u32> {
    let rest = info.split("process_id:").nth(1)?;
    rest[..rest.find("\r\n")?].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_id_is_read_once_its_line_is_complete() {
        let info = "$300\r\n# Server\r\nredis_version:7.0.15\r\nprocess_id:4242\r\nrun_id:ab\r\n";
        assert_eq!(process_id(info), Some(4242));
        assert_eq!(process_id("$300\r\n# Server\r\nprocess_id:42"), None);
        assert_eq!(process_id("-ERR unknown command\r\n"), None);
    }

    #[test]
    fn a_started_server_is_known_by_its_process_id() {
        let Some(server) = redis_or_skip("a server known by its process id") else {
            return;
        };
        match answer(server.port()) {
            Answer::Server(pid) => assert_eq!(Some(pid), server.pid()),
            _ => panic!("the server did not give its process id"),
        }
        let locked = RedisServer::spawn_with_args(&["--requirepass", "s3cret"]).unwrap();
        assert!(matches!(answer(locked.port()), Answer::Locked));
    }
}
