//! A TCP proxy on 127.0.0.1 in front of a real server (`git daemon`): it forwards connections,
//! or, while stalling, accepts them and then neither reads nor writes a byte, as a remote that
//! hangs does. Bounded: it stops by itself after [`LIFETIME`], and on drop.

use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a proxy serves at most.
const LIFETIME: Duration = Duration::from_secs(120);
/// A forwarded connection idle this long is closed.
const IDLE_LIMIT: Duration = Duration::from_secs(30);

pub struct StallingProxy {
    pub port: u16,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Shared {
    stalling: AtomicBool,
    stop: AtomicBool,
    /// Connections accepted while stalling, held without a byte either way.
    held: Mutex<Vec<TcpStream>>,
    held_changed: Condvar,
}

impl StallingProxy {
    /// Forwards 127.0.0.1:`port`'s connections to 127.0.0.1:`target`.
    pub fn start(target: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        listener.set_nonblocking(true).expect("non-blocking accept");
        let shared = Arc::new(Shared::default());
        let accept = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || accept_until_stopped(&listener, target, &shared))
        };
        Self {
            port,
            shared,
            accept: Some(accept),
        }
    }

    /// The `git://` URL of repository `name` through the proxy.
    pub fn git_url(&self, name: &str) -> String {
        format!("git://127.0.0.1:{}/{name}.git", self.port)
    }

    /// From now on, new connections are held silent.
    pub fn stall(&self) {
        self.shared.stalling.store(true, Ordering::SeqCst);
    }

    /// From now on, connections are forwarded; the held ones are closed, so whoever waits on
    /// them gets an error.
    pub fn forward(&self) {
        self.shared.stalling.store(false, Ordering::SeqCst);
        if let Ok(mut held) = self.shared.held.lock() {
            for stream in held.drain(..) {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }

    /// Waits, for at most `limit`, until a connection is being held.
    pub fn wait_for_stalled(&self, limit: Duration) -> bool {
        let Ok(held) = self.shared.held.lock() else {
            return false;
        };
        self.shared
            .held_changed
            .wait_timeout_while(held, limit, |held| held.is_empty())
            .map(|(held, _)| !held.is_empty())
            .unwrap_or(false)
    }
}

impl Drop for StallingProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.forward();
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn accept_until_stopped(listener: &TcpListener, target: u16, shared: &Shared) {
    let started = Instant::now();
    while !shared.stop.load(Ordering::SeqCst) && started.elapsed() < LIFETIME {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(false);
                if shared.stalling.load(Ordering::SeqCst) {
                    if let Ok(mut held) = shared.held.lock() {
                        held.push(stream);
                        shared.held_changed.notify_all();
                    }
                } else if let Err(e) = forward_connection(stream, target) {
                    eprintln!("stalling proxy: cannot forward: {e}");
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(_) => break,
        }
    }
}

/// Copies both ways on two threads, each ending when its side closes or idles too long.
fn forward_connection(client: TcpStream, target: u16) -> io::Result<()> {
    let server = TcpStream::connect(("127.0.0.1", target))?;
    for stream in [&client, &server] {
        stream.set_read_timeout(Some(IDLE_LIMIT))?;
    }
    let pipe = |mut from: TcpStream, mut to: TcpStream| {
        std::thread::spawn(move || {
            let _ = io::copy(&mut from, &mut to);
            let _ = to.shutdown(Shutdown::Write);
        })
    };
    pipe(client.try_clone()?, server.try_clone()?);
    pipe(server, client);
    Ok(())
}
