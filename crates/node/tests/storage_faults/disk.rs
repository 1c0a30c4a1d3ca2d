//! One validator's faulty disk: a runtime context that passes everything through to the
//! deterministic runtime's, except that, while its faults are switched on, its storage fails reads,
//! writes and syncs at configured rates, and a failed write may leave a prefix of its bytes
//! behind (a torn write). The runtime's own fault settings act on every validator at once; this
//! acts on the validators given a [`Disk`] with faults only.

use commonware_runtime::{
    Error, Handle, IoBufs, IoBufsMut, Name, ReadOptions, WriteOptions, deterministic,
    signal::Signal,
    telemetry::metrics::{Metric, Registered},
};
use rand_core::{Rng as _, SeedableRng as _};
use std::{
    convert::Infallible,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, SystemTime},
};

/// Rates in parts per million of the operations that fail while faults are on.
#[derive(Clone, Copy, Debug)]
pub struct Rates {
    pub read_ppm: u32,
    pub write_ppm: u32,
    /// Of the failed writes, those that leave a prefix of their bytes behind.
    pub torn_write_ppm: u32,
    pub sync_ppm: u32,
}

/// The faults of one disk: switched on and off by the scenario, drawn from their own seeded
/// generator so a seed replays the same faults.
#[derive(Debug)]
pub struct Faults {
    rates: Rates,
    on: AtomicBool,
    rng: Mutex<rand_chacha::ChaCha20Rng>,
    /// Operations that failed, and writes of those that left a prefix behind.
    pub injected: AtomicU64,
    pub torn: AtomicU64,
}

impl Faults {
    pub fn new(rates: Rates, seed: u64) -> Arc<Self> {
        Arc::new(Self {
            rates,
            on: AtomicBool::new(false),
            rng: Mutex::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed)),
            injected: AtomicU64::default(),
            torn: AtomicU64::default(),
        })
    }

    pub fn switch(&self, on: bool) {
        self.on.store(on, Ordering::SeqCst);
    }

    fn draw(&self, rate_ppm: u32) -> bool {
        self.on.load(Ordering::SeqCst) && self.rng.lock().unwrap().next_u32() % 1_000_000 < rate_ppm
    }

    fn fail(&self, rate_ppm: u32) -> Result<(), Error> {
        if self.draw(rate_ppm) {
            self.injected.fetch_add(1, Ordering::Relaxed);
            return Err(injected());
        }
        Ok(())
    }
}

fn injected() -> Error {
    Error::Io(std::io::Error::other("injected storage fault (one validator's disk)").into())
}

/// A deterministic runtime context whose storage has [`Faults`], or none.
pub struct Disk {
    inner: deterministic::Context,
    faults: Option<Arc<Faults>>,
}

impl Disk {
    pub fn new(inner: deterministic::Context, faults: Option<Arc<Faults>>) -> Self {
        Self { inner, faults }
    }

    fn wrap(&self, inner: deterministic::Context) -> Self {
        Self {
            inner,
            faults: self.faults.clone(),
        }
    }
}

impl commonware_runtime::Supervisor for Disk {
    fn name(&self) -> Name {
        self.inner.name()
    }

    fn child(&self, label: &'static str) -> Self {
        self.wrap(self.inner.child(label))
    }

    fn with_attribute(self, key: &'static str, value: impl std::fmt::Display) -> Self {
        let faults = self.faults;
        Self {
            inner: self.inner.with_attribute(key, value),
            faults,
        }
    }
}

impl commonware_runtime::Spawner for Disk {
    fn shared(self, blocking: bool) -> Self {
        let faults = self.faults;
        Self {
            inner: self.inner.shared(blocking),
            faults,
        }
    }

    fn dedicated(self) -> Self {
        let faults = self.faults;
        Self {
            inner: self.inner.dedicated(),
            faults,
        }
    }

    fn spawn<F, Fut, T>(self, f: F) -> commonware_runtime::Handle<T>
    where
        F: FnOnce(Self) -> Fut + Send + 'static,
        Fut: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let faults = self.faults;
        self.inner.spawn(move |inner| f(Self { inner, faults }))
    }

    fn stop(
        self,
        value: i32,
        timeout: Option<Duration>,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        self.inner.stop(value, timeout)
    }

    fn stopped(&self) -> Signal {
        self.inner.stopped()
    }
}

impl commonware_runtime::Metrics for Disk {
    fn register<N: Into<String>, H: Into<String>, M: Metric>(
        &self,
        name: N,
        help: H,
        metric: M,
    ) -> Registered<M> {
        self.inner.register(name, help, metric)
    }

    fn encode(&self) -> String {
        self.inner.encode()
    }
}

impl governor::clock::Clock for Disk {
    type Instant = SystemTime;

    fn now(&self) -> SystemTime {
        governor::clock::Clock::now(&self.inner)
    }
}

impl governor::clock::ReasonablyRealtime for Disk {}

/// glue's orchestrator asks its runtime for a network; it never uses one (the simulated p2p
/// network carries every message), so the inner context's is passed through.
impl commonware_runtime::Network for Disk {
    type Listener = <deterministic::Context as commonware_runtime::Network>::Listener;

    async fn bind(&self, socket: std::net::SocketAddr) -> Result<Self::Listener, Error> {
        self.inner.bind(socket).await
    }

    async fn dial(
        &self,
        socket: std::net::SocketAddr,
    ) -> Result<
        (
            commonware_runtime::SinkOf<Self>,
            commonware_runtime::StreamOf<Self>,
        ),
        Error,
    > {
        self.inner.dial(socket).await
    }
}

impl commonware_runtime::Clock for Disk {
    fn current(&self) -> SystemTime {
        self.inner.current()
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send + 'static + use<> {
        self.inner.sleep(duration)
    }

    fn sleep_until(
        &self,
        deadline: SystemTime,
    ) -> impl Future<Output = ()> + Send + 'static + use<> {
        self.inner.sleep_until(deadline)
    }
}

impl rand_core::TryRng for Disk {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.inner.try_next_u32()
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.inner.try_next_u64()
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Infallible> {
        self.inner.try_fill_bytes(dest)
    }
}

impl rand_core::TryCryptoRng for Disk {}

type InnerBlob = <deterministic::Context as commonware_runtime::Storage>::Blob;

impl commonware_runtime::Storage for Disk {
    type Blob = Blob;

    async fn open_versioned(
        &self,
        partition: &str,
        name: &[u8],
        versions: std::ops::RangeInclusive<commonware_runtime::BlobVersion>,
    ) -> Result<(Blob, u64, commonware_runtime::BlobVersion), Error> {
        let (inner, len, version) = self.inner.open_versioned(partition, name, versions).await?;
        let blob = Blob {
            inner,
            faults: self.faults.clone(),
        };
        Ok((blob, len, version))
    }

    async fn remove(&self, partition: &str, name: Option<&[u8]>) -> Result<(), Error> {
        self.inner.remove(partition, name).await
    }

    async fn scan(&self, partition: &str) -> Result<Vec<Vec<u8>>, Error> {
        self.inner.scan(partition).await
    }
}

/// A blob of a [`Disk`].
pub struct Blob {
    inner: InnerBlob,
    faults: Option<Arc<Faults>>,
}

impl Blob {
    fn fail(&self, rate: impl Fn(&Rates) -> u32) -> Result<(), Error> {
        match &self.faults {
            Some(faults) => faults.fail(rate(&faults.rates)),
            None => Ok(()),
        }
    }
}

impl commonware_runtime::Blob for Blob {
    async fn read_at_buf(
        &self,
        offset: u64,
        len: usize,
        bufs: impl Into<IoBufsMut> + Send,
        options: ReadOptions,
    ) -> Result<IoBufsMut, Error> {
        self.fail(|rates| rates.read_ppm)?;
        self.inner.read_at_buf(offset, len, bufs, options).await
    }

    async fn read_at(
        &self,
        offset: u64,
        len: usize,
        options: ReadOptions,
    ) -> Result<IoBufsMut, Error> {
        self.fail(|rates| rates.read_ppm)?;
        self.inner.read_at(offset, len, options).await
    }

    async fn write_at(
        &self,
        offset: u64,
        bufs: impl Into<IoBufs> + Send,
        options: WriteOptions,
    ) -> Result<(), Error> {
        let bufs: IoBufs = bufs.into();
        if let Some(faults) = &self.faults
            && faults.draw(faults.rates.write_ppm)
        {
            faults.injected.fetch_add(1, Ordering::Relaxed);
            let bytes = bufs.coalesce();
            if bytes.len() > 1 && faults.draw_always(faults.rates.torn_write_ppm) {
                // A torn write: the first half of the bytes reach the disk, then it fails.
                faults.torn.fetch_add(1, Ordering::Relaxed);
                let prefix = bytes.as_ref()[..bytes.len() / 2].to_vec();
                self.inner.write_at(offset, prefix, options).await?;
            }
            return Err(injected());
        }
        self.inner.write_at(offset, bufs, options).await
    }

    async fn resize(&self, len: u64) -> Result<(), Error> {
        self.fail(|rates| rates.write_ppm)?;
        self.inner.resize(len).await
    }

    async fn sync(&self) -> Result<(), Error> {
        self.fail(|rates| rates.sync_ppm)?;
        self.inner.sync().await
    }

    /// Passed through without faults: a failed [`Handle`] cannot be made without a runtime
    /// context, which a blob does not hold. Syncs through [`Self::sync`] fail as configured.
    async fn start_sync(&self) -> Handle<()> {
        self.inner.start_sync().await
    }
}

impl Faults {
    /// A draw that ignores whether faults are on (for a second draw about a fault already
    /// injected).
    fn draw_always(&self, rate_ppm: u32) -> bool {
        self.rng.lock().unwrap().next_u32() % 1_000_000 < rate_ppm
    }
}
