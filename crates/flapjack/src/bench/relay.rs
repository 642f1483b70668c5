//! The physical-limit reference: a trivial tokio TCP relay. A client opens a connection and
//! writes a 4-byte pair number; the second connection with the same number becomes its pair.
//! From then on each side's task reads FLAP-framed bytes (6-byte header with a length) from its
//! socket and writes every whole frame to the other socket, in one write per read. Nothing is
//! decoded, looked up, queued or allocated per message.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flapjack_wire::flap::HEADER_LEN;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

use super::load::Endpoint;
use super::proto;

/// Runs the relay on `listen` (its own multi-threaded runtime, as `flapjack serve` has) for at
/// most `max_secs` seconds; the load tool normally kills it sooner.
pub fn serve(listen: SocketAddr, max_secs: u64) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(async move {
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| format!("relay cannot listen on {listen}: {e}"))?;
        let waiting: Arc<Mutex<HashMap<u32, TcpStream>>> = Arc::default();
        let accept = async {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(pair_up(stream, waiting.clone()));
            }
        };
        tokio::select! {
            () = accept => {}
            _ = tokio::time::sleep(Duration::from_secs(max_secs)) => {}
        }
        Ok(())
    })
}

async fn pair_up(mut stream: TcpStream, waiting: Arc<Mutex<HashMap<u32, TcpStream>>>) {
    let mut id = [0u8; 4];
    // A connection that closes before its pair number (the spawner's readiness probe) is
    // simply dropped.
    match tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut id)).await {
        Ok(Ok(_)) => {}
        _ => return,
    }
    let id = u32::from_be_bytes(id);
    let partner = {
        let mut w = waiting.lock().unwrap_or_else(|p| p.into_inner());
        match w.remove(&id) {
            Some(p) => p,
            None => {
                w.insert(id, stream);
                return;
            }
        }
    };
    let (ar, aw) = stream.into_split();
    let (br, bw) = partner.into_split();
    tokio::spawn(pump(ar, bw));
    tokio::spawn(pump(br, aw));
}

/// Moves whole frames from `rd` to `wr` until either side ends.
async fn pump(mut rd: OwnedReadHalf, mut wr: OwnedWriteHalf) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut have = 0;
    loop {
        let n = match rd.read(&mut buf[have..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        have += n;
        let mut end = 0;
        while have - end >= HEADER_LEN {
            let len = usize::from(u16::from_be_bytes([buf[end + 4], buf[end + 5]]));
            if have - end < HEADER_LEN + len {
                break;
            }
            end += HEADER_LEN + len;
        }
        if end > 0 {
            if wr.write_all(&buf[..end]).await.is_err() {
                return;
            }
            buf.copy_within(end..have, 0);
            have -= end;
        }
        if have == buf.len() {
            // A frame larger than the buffer (never with the load tool): make room.
            buf.resize(buf.len() * 2, 0);
        }
    }
}

/// The relay as a child process (`flapjack bench relay-serve`), killed on drop.
pub struct RelayProcess {
    /// Where it listens.
    pub addr: SocketAddr,
    child: tokio::process::Child,
}

impl RelayProcess {
    /// Spawns the relay and waits until it listens.
    pub async fn spawn() -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find the flapjack binary: {e}"))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("cannot find a free port: {e}"))?
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let child = tokio::process::Command::new(exe)
            .args(["bench", "relay-serve", "--listen", &addr.to_string()])
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot spawn the relay: {e}"))?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(addr).await.is_err() {
            if tokio::time::Instant::now() > deadline {
                return Err("the relay did not start listening".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(Self { addr, child })
    }

    /// The relay's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Kills the relay (by its process id, through the child handle).
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}

/// Opens `pairs` pairs of connections through the relay at `addr`.
pub async fn connect_pairs(addr: SocketAddr, pairs: usize) -> Result<Vec<(Endpoint, Endpoint)>, String> {
    let mut out = Vec::with_capacity(pairs);
    for i in 0..pairs {
        let mut ends = Vec::with_capacity(2);
        for side in 0..2 {
            let n = 2 * i + side;
            let mut stream = proto::connect(Some(proto::source_address(n)), addr).await?;
            stream
                .write_all(&(i as u32).to_be_bytes())
                .await
                .map_err(|e| format!("relay hello: {e}"))?;
            let (rd, wr) = stream.into_split();
            ends.push(Endpoint {
                rd,
                wr,
                leftover: Vec::new(),
                seq: 0x0100,
                request_id: 1,
                peer_name: super::target::user_name(2 * i + (1 - side)),
            });
        }
        let b = ends.pop().ok_or("pair")?;
        let a = ends.pop().ok_or("pair")?;
        out.push((a, b));
    }
    // Let the relay pair the last connections up before traffic starts.
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok(out)
}
