//! Counting and timing the requests a server answers, for the node's metrics.
//!
//! The server reports every call to a [`RequestObserver`] with the method's name, how long the
//! answer took and whether it succeeded. Names come from a client, so any name that is not a
//! registered method is reported as [`OTHER_METHOD`]: a client cannot grow the node's set of
//! metric labels by inventing method names.

use jsonrpsee::{
    MethodResponse,
    core::middleware::{Batch, BatchEntry, Notification, RpcServiceT},
    types::Request,
};
use std::{
    collections::HashSet,
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

/// The name reported for a call of a method the server does not have.
pub const OTHER_METHOD: &str = "other";

/// The name reported for a batch of calls, timed as a whole.
pub const BATCH: &str = "batch";

/// Receives one report per answered call.
pub trait RequestObserver: Send + Sync + 'static {
    /// A call answered alone. `method` is a registered method's name or [`OTHER_METHOD`]
    /// ([`BATCH`] for a whole batch, timed as one).
    fn observe(&self, method: &'static str, elapsed: Duration, ok: bool);

    /// A call answered inside a batch: counted by method, without its own time or outcome
    /// (the server answers a batch's calls past this middleware).
    fn batched(&self, method: &'static str) {
        let _ = method;
    }
}

/// Observes nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unobserved;

impl RequestObserver for Unobserved {
    fn observe(&self, _method: &'static str, _elapsed: Duration, _ok: bool) {}
}

/// The registered method names, and where reports go.
#[derive(Clone)]
pub(crate) struct Observation {
    names: Arc<HashSet<&'static str>>,
    observer: Arc<dyn RequestObserver>,
}

impl std::fmt::Debug for Observation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observation")
            .field("methods", &self.names.len())
            .finish_non_exhaustive()
    }
}

impl Observation {
    pub(crate) fn new(
        names: impl IntoIterator<Item = &'static str>,
        observer: Arc<dyn RequestObserver>,
    ) -> Self {
        Self {
            names: Arc::new(names.into_iter().collect()),
            observer,
        }
    }

    /// The label a call of `method` is reported under.
    pub(crate) fn label(&self, method: &str) -> &'static str {
        self.names.get(method).copied().unwrap_or(OTHER_METHOD)
    }

    pub(crate) fn report(&self, method: &str, started: Instant, ok: bool) {
        self.observer
            .observe(self.label(method), started.elapsed(), ok);
    }
}

/// The jsonrpsee middleware that reports each call.
#[derive(Clone, Debug)]
pub(crate) struct Observed<S> {
    pub(crate) service: S,
    pub(crate) observation: Observation,
}

impl<S> RpcServiceT for Observed<S>
where
    S: RpcServiceT<MethodResponse = MethodResponse, BatchResponse = MethodResponse>
        + Send
        + Sync
        + Clone
        + 'static,
{
    type MethodResponse = S::MethodResponse;
    type NotificationResponse = S::NotificationResponse;
    type BatchResponse = S::BatchResponse;

    fn call<'a>(
        &self,
        request: Request<'a>,
    ) -> impl Future<Output = Self::MethodResponse> + Send + 'a {
        let service = self.service.clone();
        let observation = self.observation.clone();
        async move {
            let method = observation.label(request.method_name());
            let started = Instant::now();
            let response = service.call(request).await;
            observation.report(method, started, response.is_success());
            response
        }
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        let service = self.service.clone();
        let observation = self.observation.clone();
        async move {
            for entry in batch.iter() {
                if let Ok(BatchEntry::Call(request)) = entry {
                    observation
                        .observer
                        .batched(observation.label(request.method_name()));
                }
            }
            let started = Instant::now();
            let response = service.batch(batch).await;
            observation
                .observer
                .observe(BATCH, started.elapsed(), response.is_success());
            response
        }
    }

    fn notification<'a>(
        &self,
        notification: Notification<'a>,
    ) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        self.service.notification(notification)
    }
}
